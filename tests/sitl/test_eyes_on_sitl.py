""" "Eyes on" with real ArduPilot SITL as the vehicle: the same flow as on the simulator.

The patrol service starts SITL itself (copter.parm defaults, no transmitter: RC3 rests low);
the command room's client sends the command over a real Mosquitto with the shipped ACL; the
drone flies GUIDED (DO_REPOSITION) legs, sets the ROI on the point (DO_SET_ROI_LOCATION),
orbits it in GUIDED with streamed SET_POSITION_TARGET_GLOBAL_INT targets, and resumes the
patrol in AUTO at the item it left. ``fly_eyes_on`` checks, throughout the watch, the mode
(GUIDED), the distance from the point (within 5 m of CIRCLE_RADIUS) and the altitude (within
3 m of the one asked: CIRCLE would sink at 2.5 m/s with the stick low). Skipped unless
``ARDUPILOT_SITL`` names an ``arducopter`` binary.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from drone_patrol.service.session import VehicleSource
from tests.service.test_eyes_on import fly_eyes_on

pytestmark = pytest.mark.sitl


def test_eyes_on_on_sitl_orbits_the_point_and_the_patrol_completes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    defaults = os.environ.get("ARDUPILOT_SITL_DEFAULTS") or None
    source = VehicleSource(
        sitl_binary=Path(os.environ["ARDUPILOT_SITL"]), sitl_defaults=Path(defaults) if defaults else None
    )
    fly_eyes_on(tmp_path, monkeypatch, source)
