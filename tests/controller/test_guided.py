"""GUIDED go-to, ROI and orbit targets on the simulated ArduCopter, as the "eyes on" excursion uses them."""

from __future__ import annotations

from typing import Any

import pytest

from drone_patrol.controller import Vehicle
from drone_patrol.controller.guided import DO_REPOSITION, GuidedControl, OrbitSettings, facing
from drone_patrol.core.errors import CommandRejectedError
from drone_patrol.core.geo import destination, distance_m
from tests.alerts.helpers import wait_until
from tests.controller.missions import HOME


def _airborne(vehicle: Vehicle, altitude_m: float = 30.0) -> None:
    assert vehicle.wait_for(lambda s: s.ekf_ok and s.gps_fix_type >= 3, 10.0) is not None
    vehicle.action.set_mode("GUIDED")
    vehicle.action.arm()
    vehicle.action.takeoff(altitude_m)
    assert vehicle.wait_for(lambda s: s.relative_altitude_m > altitude_m - 1.0, 20.0) is not None


def test_goto_point_at_and_an_orbit_target_reach_the_vehicle_as_sent(sim: Any, vehicle: Vehicle) -> None:
    _airborne(vehicle)
    g = GuidedControl(vehicle)
    target = destination(HOME, 30.0, 120.0)  # bearing 30 deg, 120 m
    settings = g.orbit_settings()
    # ArduCopter's defaults: CIRCLE_RADIUS 1000 cm, CIRCLE_RATE 20 deg/s, WPNAV_SPEED 1000 cm/s, WPNAV_ACCEL 250
    assert settings == OrbitSettings(radius_m=10.0, rate_deg_s=20.0, max_speed_m_s=10.0, accel_m_s2=2.5)
    assert g.circle_radius_m() == pytest.approx(10.0)
    entry = destination(target, 210.0, settings.radius_m)  # on the way in, `radius` short of the point
    g.go_to(entry.latitude_deg, entry.longitude_deg, 35.0)
    assert vehicle.wait_for(lambda s: s.position is not None and distance_m(s.position, entry) < 1.0
                            and s.ground_speed_m_s < 0.3, 20.0) is not None  # fmt: skip
    assert vehicle.state.relative_altitude_m == pytest.approx(35.0, abs=1.0)
    g.point_at(target.latitude_deg, target.longitude_deg)
    assert vehicle.wait_for(lambda s: facing(s, target.latitude_deg, target.longitude_deg, 2.0), 10.0) is not None
    # one position + velocity target with a heading and turn rate: GUIDED's PosVelAccel sub-mode
    ap = sim.ap
    g.track(entry.latitude_deg, entry.longitude_deg, 36.0, 1.5, -0.5, 123.0, 10.0)
    assert wait_until(lambda: ap.guided_motion is not None, 5.0)
    with sim.lock:
        motion, goal = ap.guided_motion, ap.guided_target
        n, _e = ap.frame.to_ne(entry.latitude_deg, entry.longitude_deg)
        since_s = ap.time_s - motion.updated_s
    assert motion.velocity == pytest.approx((1.5, -0.5, 0.0))
    assert motion.yaw_rate_deg_s == pytest.approx(10.0)
    assert ap.roi is None  # the commanded heading replaces the ROI's yaw
    if since_s < 3.0:  # before GUID_TIMEOUT the target moves on with its velocity
        assert goal[0] == pytest.approx(n + 1.5 * since_s, abs=0.2) and goal[2] == pytest.approx(36.0, abs=0.01)
    assert vehicle.state.mode == "GUIDED"


def test_a_new_goto_drops_the_roi_and_reposition_needs_guided_or_its_flag(sim: Any, vehicle: Vehicle) -> None:
    _airborne(vehicle, 20.0)
    g = GuidedControl(vehicle)
    east = destination(HOME, 90.0, 60.0)
    g.point_at(east.latitude_deg, east.longitude_deg)
    assert vehicle.wait_for(lambda s: facing(s, east.latitude_deg, east.longitude_deg, 2.0), 10.0) is not None
    north = destination(HOME, 0.0, 60.0)
    g.go_to(north.latitude_deg, north.longitude_deg, 20.0)  # WP_YAW_BEHAVIOR 2: the nose turns to the next point
    assert vehicle.wait_for(lambda s: abs(s.heading_deg % 360.0) < 5.0 or s.heading_deg > 355.0, 10.0) is not None
    vehicle.action.set_mode("BRAKE")
    with pytest.raises(CommandRejectedError) as caught:
        vehicle.commander.command_int(DO_REPOSITION, 3, (-1.0, 0.0), north.latitude_deg, north.longitude_deg, 20.0)
    assert caught.value.result_name == "MAV_RESULT_DENIED"
