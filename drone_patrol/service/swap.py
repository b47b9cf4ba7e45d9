"""Battery swap = power cycle: between sorties the service waits for the crew to swap the battery.

On most aircraft a battery swap reboots the flight controller: the link drops, the
vehicle comes back with a full battery and sets home again at its next GPS fix. The
service says so on MQTT (retained status ``waiting for battery swap``, which the
dashboard shows), waits until the vehicle is back with a full battery, on the ground
and disarmed, then the next sortie re-runs preflight, re-uploads the mission and
resumes where the last one ended. A vehicle kept powered through the swap is taken
back as soon as it reads full.

The service power-cycles the vehicles it runs itself: the simulator is stopped and
started again on the same port with the parameters it had; ArduPilot SITL is restarted
in its working directory without ``-w``, so its stored parameters (eeprom.bin) stay.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from drone_patrol.alerts.publisher import AlertPublisher
from drone_patrol.controller import Vehicle
from drone_patrol.core.errors import OperationTimeoutError
from drone_patrol.core.types import VehicleState
from drone_patrol.sim.copter import SimulatedCopter
from drone_patrol.sim.copter.params import PARAM_SPECS

log = logging.getLogger(__name__)

#: a battery reading at least this is a fresh one
FULL_PERCENT = 95.0
WAITING = "waiting for battery swap"


def swapped(state: VehicleState) -> bool:
    """The vehicle reads a full battery, on the ground and disarmed, with a home set."""
    return (
        (state.battery_percent or 0.0) >= FULL_PERCENT and state.landed and not state.armed and state.home is not None
    )


def wait_for_swap(
    vehicle: Vehicle,
    publisher: AlertPublisher | None,
    timeout_s: float,
    power_cycle: Callable[[], None] | None = None,
    stopping: Callable[[], bool] = lambda: False,
) -> None:
    """Publish ``waiting for battery swap``, power-cycle a vehicle the service runs, and wait
    (up to ``timeout_s`` wall seconds) until the vehicle is back with a full battery."""
    if publisher is not None:
        publisher.publish_status("online", mission_state=WAITING)
    log.info("%s (up to %.0f s)", WAITING, timeout_s)
    if power_cycle is not None:
        power_cycle()
    deadline = time.monotonic() + timeout_s
    asked = 0.0
    while not stopping():
        if vehicle.link_alive and swapped(vehicle.state):
            break
        if power_cycle is not None and vehicle.link_alive and time.monotonic() - asked > 5.0:
            # a rebooted vehicle sends its default streams: ask for ours again (the link may have
            # reconnected before it ever counted as lost, so nobody else does)
            vehicle.request_telemetry_in_background()
            asked = time.monotonic()
        if time.monotonic() > deadline:
            raise OperationTimeoutError("battery swap", timeout_s, f"battery at {vehicle.state.battery_percent}%")
        time.sleep(0.1)
    if publisher is not None:
        publisher.publish_status(
            "online", mission_state="battery swapped", battery_percent=vehicle.state.battery_percent
        )
    log.info("battery swapped: %s%%", vehicle.state.battery_percent)


def restart_sim(sim: SimulatedCopter) -> SimulatedCopter:
    """Power-cycle the simulator: the same port and home, the parameters it had, a full battery."""
    kept = {
        name: sim.ap.params.get(name)
        for name, spec in PARAM_SPECS.items()
        if not spec.read_only and sim.ap.params.get(name) != spec.default
    }
    port = sim.port
    sim.stop()
    return SimulatedCopter(
        home=sim.home, heading_deg=sim.ap.heading_deg(), port=port, speedup=sim.speedup, seed=sim.seed, params=kept
    ).start()
