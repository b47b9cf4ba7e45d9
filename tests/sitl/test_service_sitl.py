"""The patrol service's demo flight with real ArduPilot SITL as the vehicle.

Skipped unless ``ARDUPILOT_SITL`` names an ``arducopter`` binary (see conftest.py); the
service starts SITL itself through ``drone_patrol.service.sitl`` exactly as
``drone-patrol demo --sitl PATH`` does.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from drone_patrol.service.demo import run_demo
from drone_patrol.service.session import VehicleSource
from tests.service.test_patrol_e2e import in_patrolled_cells, result_position, settings_for

pytestmark = pytest.mark.sitl


def test_demo_flight_on_sitl_alerts_fires_and_lands_home(tmp_path: Path) -> None:
    binary = Path(os.environ["ARDUPILOT_SITL"])
    defaults = os.environ.get("ARDUPILOT_SITL_DEFAULTS") or None
    settings = settings_for(tmp_path, "fires_in_alleys.geojson")
    source = VehicleSource(sitl_binary=binary, sitl_defaults=Path(defaults) if defaults else None)
    result = run_demo(settings, source, out_dir=tmp_path / "out", echo=print, learn_scenario=None)

    assert result.disarmed, "SITL still armed after the patrol"
    assert result.landed_home_m is not None and result.landed_home_m < 5.0
    expected = [m for m in result.matches if in_patrolled_cells(settings, result_position(result, m.name))]
    assert expected
    for m in expected:
        assert m.alert_incident_id is not None, f"{m.name} not alerted"
        assert m.error_m is not None and m.error_m < 5.0
    assert result.summary["alerts lost"] == 0
