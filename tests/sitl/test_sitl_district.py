"""The concave district on real ArduPilot SITL with its default parameters and default battery.

Skipped unless ``ARDUPILOT_SITL`` names an ``arducopter`` binary (see conftest.py). The
service starts SITL itself and restarts it (without ``-w``) for every battery swap; the
first flight teaches the vehicle's profile, the district planned on it is patrolled to
the end (see tests/service/test_district_sorties.py for what each sortie must show), and
RTL is forced half-way along the legs whose return goes to the plan's rally point.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from shapely.geometry import shape

from drone_patrol.controller import Vehicle
from drone_patrol.core.config import CameraConfig, PlannerConfig
from drone_patrol.core.types import GeoPoint
from drone_patrol.mission.areas import load_areas
from drone_patrol.planner import plan_patrol
from drone_patrol.service.session import VehicleSource
from tests.controller.test_rtl_per_leg import DISTRICT, legs_to_try, rtl_on_leg
from tests.service.test_district_sorties import patrol_district
from tests.sitl.conftest import start_sitl

pytestmark = pytest.mark.sitl


def _source() -> VehicleSource:
    defaults = os.environ.get("ARDUPILOT_SITL_DEFAULTS") or None
    return VehicleSource(
        sitl_binary=Path(os.environ["ARDUPILOT_SITL"]), sitl_defaults=Path(defaults) if defaults else None
    )


def test_district_on_sitl_to_the_end_in_several_sorties(tmp_path: Path) -> None:
    profile = patrol_district(tmp_path, _source())
    print("SITL profile:", profile.describe())
    assert 5.0 < profile.percent_per_min("cruise") < 40.0


def test_rtl_forced_on_district_legs_on_sitl() -> None:
    areas = load_areas(DISTRICT)
    school = [shape(a.geometry.__geo_interface__) for a in areas.no_fly]
    result = plan_patrol(areas, PlannerConfig(), CameraConfig(), flight_time_s=420, home_altitude_m=150.0)
    mission = result.sorties[0]
    home = GeoPoint(mission.home.latitude_deg, mission.home.longitude_deg, 150.0)
    sitl = start_sitl(home=home)
    try:
        config = sitl.config()
        with Vehicle.connect(config.connection, config, timeout_s=120) as vehicle:
            for seq in legs_to_try(mission)[:2]:
                rtl_on_leg(vehicle, mission, config, seq, school)
                sitl.restart()  # a fresh battery: SITL's own can not be set
    finally:
        sitl.stop()
