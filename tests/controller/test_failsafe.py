"""Failsafe rules and preflight decisions (pure functions)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from drone_patrol.controller.failsafe import (
    FailsafeAction,
    FailsafeLimits,
    check_battery,
    evaluate,
    home_battery_percent,
    mission_battery_percent,
    outside_fence,
    required_takeoff_percent,
)
from drone_patrol.controller.preflight import failsafe_parameters, readiness_problems
from drone_patrol.core.config import ControllerConfig
from drone_patrol.core.geo import destination
from drone_patrol.core.types import (
    FenceCircle,
    FencePolygon,
    Geofence,
    GeoPoint,
    MavCmd,
    Mission,
    VehicleState,
    Waypoint,
)
from drone_patrol.core.wpnav import WpnavLimits

HOME = GeoPoint(25.2823, 110.2972, 150.0)
LIMITS = FailsafeLimits(flight_time_s=1000.0, reserve_fraction=0.2, critical_percent=10.0)


def _square_fence(size_m: float) -> Geofence:
    corners = [destination(HOME, b, size_m) for b in (45, 135, 225, 315)]
    return Geofence(polygons=(FencePolygon(True, tuple(corners)),))


def _mission(distance_m: float = 500.0) -> Mission:
    far = destination(HOME, 90.0, distance_m)
    return Mission(
        home=HOME,
        items=(
            Waypoint(MavCmd.NAV_TAKEOFF, altitude_m=30.0),
            Waypoint(
                MavCmd.NAV_WAYPOINT, latitude_deg=far.latitude_deg, longitude_deg=far.longitude_deg, altitude_m=30
            ),
            Waypoint(MavCmd.NAV_RETURN_TO_LAUNCH),
        ),
        fence=_square_fence(3000.0),
        cruise_speed_m_s=5.0,
    )


def _flying(position: GeoPoint, battery: float = 80.0, **kw: object) -> VehicleState:
    base = VehicleState(
        position=position,
        relative_altitude_m=30.0,
        battery_percent=battery,
        mode="AUTO",
        armed=True,
        landed=False,
        gps_fix_type=3,
        satellites_visible=10,
        ekf_ok=True,
        home=HOME,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def test_healthy_flight_continues() -> None:
    assert evaluate(_flying(HOME), _mission(), LIMITS).action is FailsafeAction.CONTINUE


def test_battery_rtl_when_below_home_need_plus_reserve() -> None:
    far = destination(HOME, 90.0, 1500.0)
    state = _flying(far, battery=40.0)
    need = home_battery_percent(state, _mission(), LIMITS)
    # 1500 m at 5 m/s, 20 m down at 1.5 m/s and the last 10 m at LAND_SPEED 0.5 m/s: 333 s of 1000 s
    assert 33 < need < 34
    decision = evaluate(state, _mission(), LIMITS)
    assert decision.action is FailsafeAction.RTL and decision.rule == "battery"
    assert "40%" in decision.reason
    assert evaluate(replace(state, battery_percent=60.0), _mission(), LIMITS).action is FailsafeAction.CONTINUE


def test_critical_battery_lands_and_outranks_everything() -> None:
    state = _flying(destination(HOME, 0, 5000.0), battery=8.0, gps_fix_type=3)
    decision = evaluate(state, _mission(), LIMITS, link_alive=False)
    assert decision.action is FailsafeAction.LAND and decision.rule == "battery_critical"


def test_gps_loss_in_air_lands_but_not_on_the_ground() -> None:
    state = _flying(HOME, gps_fix_type=1)
    assert evaluate(state, _mission(), LIMITS).rule == "gps"
    assert evaluate(replace(state, armed=False, landed=True), _mission(), LIMITS).triggered is False


def test_fence_breach_by_position_by_vehicle_and_by_ceiling() -> None:
    mission = _mission()
    outside = _flying(destination(HOME, 0, 2500.0), battery=100.0)
    assert evaluate(outside, mission, LIMITS).rule == "fence"
    assert evaluate(_flying(HOME), mission, LIMITS, fence_breached=True).rule == "fence"
    ceiling = replace(LIMITS, fence_alt_max_m=25.0)
    assert evaluate(_flying(HOME), mission, ceiling).rule == "fence"


def test_link_loss_in_air_is_the_vehicle_rtl() -> None:
    decision = evaluate(_flying(HOME), _mission(), LIMITS, link_alive=False)
    assert decision.action is FailsafeAction.RTL and decision.rule == "link"
    grounded = replace(_flying(HOME), armed=False, landed=True)
    assert not evaluate(grounded, _mission(), LIMITS, link_alive=False).triggered


def test_fence_shapes() -> None:
    fence = Geofence(
        polygons=_square_fence(500.0).polygons,
        circles=(FenceCircle(False, destination(HOME, 90, 100.0), 20.0),),
    )
    assert outside_fence(HOME, fence) is None
    assert outside_fence(destination(HOME, 90, 100.0), fence) == "inside an exclusion circle"
    assert outside_fence(destination(HOME, 0, 1000.0), fence) == "outside an inclusion polygon"
    assert outside_fence(HOME, Geofence()) is None
    # two inclusion zones: ArduPilot's fence is where they overlap (FENCE_OPTIONS' default)
    both = replace(fence, circles=(FenceCircle(True, destination(HOME, 0, 300.0), 250.0),))
    assert outside_fence(destination(HOME, 0, 300.0), both) is None
    assert outside_fence(HOME, both) == "outside an inclusion circle"  # inside the square only


@given(st.floats(min_value=0, max_value=5000), st.floats(min_value=0, max_value=100))
def test_battery_rule_is_monotonic(distance: float, battery: float) -> None:
    """More battery never turns CONTINUE into RTL; farther from home never turns RTL into CONTINUE.

    The home-battery rule alone: the endurance rule judges the way on to the next item, which
    is not monotonic in the distance from home (tests/controller/test_endurance_rule.py).
    """
    mission = replace(_mission(), fence=Geofence())
    here = _flying(destination(HOME, 45.0, distance), battery=battery)
    verdict = check_battery(here, mission, LIMITS).action
    richer = check_battery(replace(here, battery_percent=min(battery + 10, 100.0)), mission, LIMITS).action
    farther = check_battery(_flying(destination(HOME, 45.0, distance + 500), battery=battery), mission, LIMITS).action
    order = [FailsafeAction.CONTINUE, FailsafeAction.RTL, FailsafeAction.LAND]
    assert order.index(richer) <= order.index(verdict) <= order.index(farther)


def test_mission_battery_need() -> None:
    mission = _mission(1000.0)
    pct = mission_battery_percent(mission, LIMITS)
    # 2 km at 5 m/s (400 s) + the S-curves' rise and stop and the U-turn (about 5 s) + 30 m up at
    # 2.5 (12 s) + RTL's 5 s over home + 20 m down at 1.5 and 10 m at 0.5 (33 s) = about 455 s of 1000
    assert 45 < pct < 46
    assert required_takeoff_percent(mission, LIMITS) == pct + 20.0
    # a vehicle with a stiffer WPNAV_JERK (5 m/s^3) speeds up and brakes sooner: a little less
    brisk = mission_battery_percent(mission, replace(LIMITS, wpnav=WpnavLimits(jerk_m_s3=5.0)))
    assert pct - 1.0 < brisk < pct


def test_preflight_parameters_and_readiness() -> None:
    config = ControllerConfig()
    params = failsafe_parameters(config)
    assert params["RTL_ALT"] == 3000 and params["FS_GCS_ENABLE"] == 1 and params["FENCE_ALT_MAX"] == 120.0
    assert params["FENCE_TYPE"] == 1 | 2  # no mission: ceiling and the circle around home
    assert failsafe_parameters(config, _mission())["FENCE_TYPE"] == 1 | 4  # ceiling and the uploaded polygon
    ready = VehicleState(battery_percent=100.0, gps_fix_type=3, satellites_visible=10, ekf_ok=True, home=HOME)
    assert readiness_problems(ready, _mission(), config) == []
    problems = readiness_problems(
        replace(ready, battery_percent=30.0, gps_fix_type=1, home=destination(HOME, 0, 500.0)), _mission(), config
    )
    assert [p.split(":")[0] for p in problems] == ["gps", "battery", "home"]
    assert "30%" in problems[1] and "500 m" in problems[2]
