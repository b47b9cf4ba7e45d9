"""Which aircraft is on the link: the flight controller's unique id, for per-vehicle records.

ArduPilot answers MAV_CMD_REQUEST_MESSAGE(AUTOPILOT_VERSION) with the board's own id in
``uid2`` and 0 in ``uid`` (``GCS_MAVLINK::send_autopilot_version`` fills ``uid2`` from
``hal.util->get_system_id_unformatted``):

- on STM32 boards (ChibiOS) it is the 12 bytes of the MCU's 96-bit unique device id,
  read from ``UDID_START`` (``AP_HAL_ChibiOS/Util.cpp``): burnt in at the factory, so it
  survives every reboot and battery swap and differs between two boards. Its first
  bytes are the die's wafer coordinates and wafer number and only the last ones the lot
  (ST reference manuals, "Unique device ID register (96 bits)"), so two boards may share
  a prefix: the whole id is kept, never a prefix of it;
- on ESP32 boards the 6-byte factory MAC (``AP_HAL_ESP32/Util.cpp``);
- on Linux boards and SITL the host's ``/etc/machine-id`` as ASCII (``AP_HAL_Linux``,
  ``AP_HAL_SITL/Util.cpp``); SITL adds its ``-I`` instance number to the first byte, so
  one SITL vehicle is one instance (see ``drone_patrol.service.sitl``).

Neither ``flight_custom_version`` (the firmware's git hash, new with every update) nor
MAV_SYSID (a parameter, 1 on every aircraft by default) names an aircraft, so neither is
part of the key. The id is combined with the operator's name for the drone
(``site.drone_id``), so two drones never share a record and a swapped flight controller
starts a new one. Only a vehicle that gives no id at all (``uid2`` and ``uid`` zero) is
named by its MAVLink system id, and says so in the log.
"""

from __future__ import annotations

import logging

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from drone_patrol.controller.vehicle import Vehicle
from drone_patrol.core.errors import DronePatrolError

log = logging.getLogger(__name__)


def board_id(uid2: bytes | list[int] | None, uid: int = 0) -> str:
    """The hex board id of an AUTOPILOT_VERSION: all of ``uid2`` (its zero padding dropped),
    else ``uid``, else ``""``."""
    raw = bytes(uid2 or b"").rstrip(b"\0")  # pymavlink gives the uint8 array as a list
    if raw:
        return raw.hex()
    return f"{uid:x}" if uid else ""


def vehicle_identity(vehicle: Vehicle, name: str, timeout_s: float = 3.0) -> str:
    """``NAME-BOARDID`` (the board's whole unique id in hex), or ``NAME-sysN`` when the vehicle gives none."""
    with vehicle.link.listen(["AUTOPILOT_VERSION"]) as replies:
        try:
            vehicle.commander.request_message(mavlink.MAVLINK_MSG_ID_AUTOPILOT_VERSION)
        except DronePatrolError as exc:
            log.info("AUTOPILOT_VERSION not sent (%s): naming the vehicle by its system id", exc)
        msg = replies.get(timeout_s)
    uid = board_id(msg.uid2, msg.uid) if msg is not None else ""
    if uid:
        return f"{name}-{uid}"
    log.warning(
        "vehicle gives no board id: its records are kept under MAVLink system id %d "
        "(give every aircraft its own MAV_SYSID)", vehicle.link.target_system,
    )  # fmt: skip
    return f"{name}-sys{vehicle.link.target_system}"
