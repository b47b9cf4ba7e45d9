"""Which aircraft is on the link: the flight controller's unique id, for per-vehicle records.

ArduPilot answers MAV_CMD_REQUEST_MESSAGE(AUTOPILOT_VERSION) with the board's unique id
in ``uid2`` (and 0 in ``uid``; SITL uses the host's machine id). The id is combined with
the operator's name for the drone (``site.drone_id``), so two drones never share a
record and a swapped flight controller starts a new one. Without an answer the MAVLink
system id stands in.
"""

from __future__ import annotations

import logging

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from drone_patrol.controller.vehicle import Vehicle
from drone_patrol.core.errors import DronePatrolError

log = logging.getLogger(__name__)


def vehicle_identity(vehicle: Vehicle, name: str, timeout_s: float = 3.0) -> str:
    """``NAME-UID`` (12 hex digits of the board id), or ``NAME-sysN`` when the vehicle gives none."""
    with vehicle.link.listen(["AUTOPILOT_VERSION"]) as replies:
        try:
            vehicle.commander.request_message(mavlink.MAVLINK_MSG_ID_AUTOPILOT_VERSION)
        except DronePatrolError as exc:
            log.info("AUTOPILOT_VERSION not sent (%s): naming the vehicle by its system id", exc)
        msg = replies.get(timeout_s)
    raw = bytes(msg.uid2) if msg is not None else b""  # pymavlink gives the uint8 array as a list
    uid = raw.rstrip(b"\0").hex() or (f"{msg.uid:x}" if msg is not None and msg.uid else "")
    if uid:
        return f"{name}-{uid[:12]}"
    return f"{name}-sys{vehicle.link.target_system}"
