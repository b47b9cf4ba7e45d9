"""MAVLink controller: link, mission transfer, commands, telemetry, failsafes, patrol executor.

Public surface (MAVSDK style)::

    vehicle = Vehicle.connect("tcp:127.0.0.1:5760", config)
    vehicle.mission.upload(mission)            # mission, fence and rally, verified
    vehicle.action.arm(); vehicle.params.set("RTL_ALT", 3000)
    report = PatrolExecutor(vehicle, mission, config, on_event=print).run()
"""

from drone_patrol.controller.events import VehicleEvent
from drone_patrol.controller.executor import PatrolExecutor, Phase
from drone_patrol.controller.failsafe import FailsafeAction, FailsafeDecision, FailsafeLimits
from drone_patrol.controller.params import ParameterError
from drone_patrol.controller.report import PatrolProgress, PatrolReport
from drone_patrol.controller.vehicle import Vehicle

__all__ = [
    "FailsafeAction",
    "FailsafeDecision",
    "FailsafeLimits",
    "ParameterError",
    "PatrolExecutor",
    "PatrolProgress",
    "PatrolReport",
    "Phase",
    "Vehicle",
    "VehicleEvent",
]
