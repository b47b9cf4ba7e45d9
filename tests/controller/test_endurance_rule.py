"""The consumption meter and the in-flight endurance rule (pure functions over states)."""

from __future__ import annotations

from dataclasses import replace

from drone_patrol.controller.consumption import ConsumptionMeter, phase_of
from drone_patrol.controller.failsafe import FailsafeAction, FailsafeLimits, check_endurance, evaluate, landing_s
from drone_patrol.core.geo import destination
from drone_patrol.core.types import GeoPoint, MavCmd, Mission, VehicleState, Waypoint

HOME = GeoPoint(25.2823, 110.2972, 150.0)
LIMITS = FailsafeLimits(flight_time_s=420.0, reserve_fraction=0.25, critical_percent=10.0)


def _wp(p: GeoPoint) -> Waypoint:
    return Waypoint(MavCmd.NAV_WAYPOINT, latitude_deg=p.latitude_deg, longitude_deg=p.longitude_deg, altitude_m=40)


def _line_mission() -> Mission:
    """Out 200 m east in four 50 m steps, 200 m north in four, then home."""
    pts = [destination(HOME, 90.0, 50.0 * k) for k in range(1, 5)]
    pts += [destination(pts[-1], 0.0, 50.0 * k) for k in range(1, 5)]
    items = (
        Waypoint(MavCmd.NAV_TAKEOFF, altitude_m=40.0),
        *(_wp(p) for p in pts),
        Waypoint(MavCmd.NAV_RETURN_TO_LAUNCH),
    )
    return Mission(home=HOME, items=items, cruise_speed_m_s=5.0)


def _state(position: GeoPoint, battery: float, seq: int, **kw: object) -> VehicleState:
    base = VehicleState(
        position=position, relative_altitude_m=40.0, battery_percent=battery, mode="AUTO", armed=True,
        landed=False, gps_fix_type=3, satellites_visible=10, ekf_ok=True, home=HOME, mission_current_seq=seq,
    )  # fmt: skip
    return replace(base, **kw)  # type: ignore[arg-type]


def test_landing_follows_ardupilot_speeds() -> None:
    assert landing_s(40.0, 1.5) == 30.0 / 1.5 + 10.0 / 0.5
    assert landing_s(5.0, 1.5) == 10.0


def test_rest_that_fits_continues_and_the_sortie_ends_before_the_item_that_would_not() -> None:
    mission = _line_mission()
    corner = destination(HOME, 90.0, 200.0)
    assert check_endurance(_state(corner, 90.0, 6), mission, LIMITS).action is FailsafeAction.CONTINUE
    # on to item 7 (100 m) and home from it (224 m) at 5 m/s, then 40 s of landing, at 100/420 %/s: 25 %
    low = check_endurance(_state(corner, 45.0, 7), mission, LIMITS)
    assert low.action is FailsafeAction.RTL and low.rule == "endurance"
    assert "next one resumes at item 7" in low.reason and "14.3 %/min" in low.reason
    # a measured rate faster than the profile's brings the end sooner
    ok = check_endurance(_state(corner, 55.0, 7), mission, LIMITS)
    assert ok.action is FailsafeAction.CONTINUE
    faster = check_endurance(_state(corner, 55.0, 7), mission, LIMITS, measured_percent_per_s=2 * 100 / 420)
    assert faster.action is FailsafeAction.RTL and "28.6 %/min" in faster.reason
    # only in AUTO, in the air
    assert check_endurance(_state(corner, 45.0, 7, mode="RTL"), mission, LIMITS).triggered is False
    assert evaluate(_state(corner, 45.0, 7), mission, LIMITS).rule == "endurance"


def test_meter_splits_the_flight_by_phase_in_vehicle_time() -> None:
    meter = ConsumptionMeter(3300.0, speedup=10.0)
    t = 1000.0
    ground = VehicleState(time_s=t, armed=True, landed=True, battery_percent=100.0, battery_current_a=1.0)
    meter.sample(ground)
    phases = [("takeoff", 0.0, 2.5, 1.6), ("cruise", 5.0, 0.0, 12.0), ("hover", 0.0, 0.0, 3.0)]
    for name, speed, climb, wall_s in phases:
        for _ in range(int(wall_s / 0.1)):
            t += 0.1
            meter.sample(
                VehicleState(
                    time_s=t, armed=True, landed=False, battery_percent=90.0, battery_current_a=30.0,
                    ground_speed_m_s=speed, climb_rate_m_s=climb,
                )
            )  # fmt: skip
        assert phase_of(meter._last) == name  # type: ignore[arg-type]
    profile = meter.profile("drone-1-x")
    assert abs(profile.cruise.seconds - 120.0) < 1.5 and abs(profile.takeoff.seconds - 16.0) < 1.5
    assert abs(profile.cruise.mah_per_min - 500.0) < 1.0  # 30 A is 500 mAh a minute
    assert abs(profile.cruise_speed_m_s - 5.0) < 0.01
    rate = meter.percent_per_s()
    assert rate is not None and abs(rate * 60 - 100 * 500 / 3300) < 0.2
