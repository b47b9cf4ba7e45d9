""" "Eyes on" with real ArduPilot SITL as the vehicle: the same flow as on the simulator.

The patrol service starts SITL itself; the command room's client sends the command over a
real Mosquitto with the shipped ACL; the drone flies GUIDED (DO_REPOSITION) legs, turns to
the point (DO_SET_ROI_LOCATION), orbits it in CIRCLE and resumes the patrol in AUTO at the
item it left. Skipped unless ``ARDUPILOT_SITL`` names an ``arducopter`` binary.
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
