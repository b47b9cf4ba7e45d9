"""The "eyes on" orbit's geometry: targets on the circle, moving along it, facing the point, never running away."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drone_patrol.planner.orbit import (
    FEED_FORWARD_FRACTION,
    Orbit,
    OrbitTracker,
    bearing_from_centre_deg,
    orbit_speed_m_s,
)


def test_the_speed_is_limited_as_ac_circle_limits_it() -> None:
    # CIRCLE_RATE 20 deg/s round 10 m would be 3.49 m/s; sqrt(0.5 * 2.5 * 10) = 3.54 m/s allows it
    assert orbit_speed_m_s(10.0, 20.0, 10.0, 2.5) == pytest.approx(math.radians(20.0) * 10.0)
    assert orbit_speed_m_s(10.0, 90.0, 10.0, 2.5) == pytest.approx(math.sqrt(12.5))  # the acceleration limit
    assert orbit_speed_m_s(200.0, 20.0, 5.0, 2.5) == pytest.approx(5.0)  # WPNAV_SPEED
    assert orbit_speed_m_s(10.0, -20.0, 10.0, 2.5) == orbit_speed_m_s(10.0, 20.0, 10.0, 2.5)  # anticlockwise
    assert orbit_speed_m_s(0.0, 20.0, 10.0, 2.5) == 0.0


def test_a_clockwise_target_north_of_the_point_moves_east_and_faces_south() -> None:
    sp = Orbit(10.0, 3.0).setpoint(0.0, 3.0)
    assert (sp.east_m, sp.north_m) == pytest.approx((0.0, 10.0))
    assert (sp.velocity_east_m_s, sp.velocity_north_m_s) == pytest.approx((3.0, 0.0))
    assert sp.yaw_deg == pytest.approx(180.0)
    assert sp.yaw_rate_deg_s == pytest.approx(math.degrees(0.3))
    anti = Orbit(10.0, 3.0, clockwise=False).setpoint(90.0, 3.0)  # east of the point, anticlockwise: north
    assert (anti.velocity_east_m_s, anti.velocity_north_m_s) == pytest.approx((0.0, 3.0), abs=1e-9)
    assert anti.yaw_deg == pytest.approx(270.0) and anti.yaw_rate_deg_s < 0


@settings(max_examples=200, deadline=None)
@given(
    radius=st.floats(2.0, 200.0),
    speed=st.floats(0.5, 10.0),
    clockwise=st.booleans(),
    start=st.floats(0.0, 360.0, exclude_max=True),
    steps=st.lists(st.tuples(st.floats(0.0, 5.0), st.floats(-40.0, 40.0), st.floats(-0.5, 0.5)), max_size=40),
)
def test_every_target_is_on_the_circle_moving_along_it_facing_the_point_and_near_the_vehicle(
    radius: float, speed: float, clockwise: bool, start: float, steps: list[tuple[float, float, float]]
) -> None:
    tracker = OrbitTracker(Orbit(radius, speed, clockwise))
    t = 100.0
    bearing = start
    for dt, turn_deg, off in [(0.0, 0.0, 0.0), *steps]:
        t += dt
        bearing = (bearing + turn_deg) % 360.0  # wherever the vehicle got to, a little off the circle
        b = math.radians(bearing)
        e, n = radius * (1 + off) * math.sin(b), radius * (1 + off) * math.cos(b)
        sp = tracker.setpoint(t, e, n)
        assert math.hypot(sp.east_m, sp.north_m) == pytest.approx(radius, rel=1e-9)
        v = math.hypot(sp.velocity_east_m_s, sp.velocity_north_m_s)
        assert v == pytest.approx(tracker.speed_m_s * FEED_FORWARD_FRACTION) and tracker.speed_m_s <= speed + 1e-9
        # along the circle: velocity at right angles to the radius, in the orbit's sense
        assert sp.east_m * sp.velocity_east_m_s + sp.north_m * sp.velocity_north_m_s == pytest.approx(0.0, abs=1e-6)
        cross = sp.north_m * sp.velocity_east_m_s - sp.east_m * sp.velocity_north_m_s
        assert cross >= -1e-9 if clockwise else cross <= 1e-9
        # the nose toward the point from where the vehicle is
        to_centre = math.degrees(math.atan2(-e, -n)) % 360.0
        assert abs((sp.yaw_deg - to_centre + 180.0) % 360.0 - 180.0) < 1e-6
        # a little ahead of the vehicle, never behind it, never more than the lead limit
        lead = ((bearing_from_centre_deg(sp.east_m, sp.north_m) - bearing + 180.0) % 360.0 - 180.0) * (
            1 if clockwise else -1
        )
        assert -1e-6 <= lead <= tracker.max_lead_deg + 1e-6


def test_the_target_ramps_up_then_runs_at_full_speed_on_the_vehicle_clock() -> None:
    orbit = Orbit(10.0, 3.5, accel_m_s2=2.5)
    tracker = OrbitTracker(orbit)
    bearing = 0.0
    speeds = []
    for i in range(40):  # the vehicle keeps up with its target: 10 s at 4 targets a second
        b = math.radians(bearing)
        sp = tracker.setpoint(i * 0.25, 10.0 * math.sin(b), 10.0 * math.cos(b))
        speeds.append(tracker.speed_m_s)
        bearing = bearing_from_centre_deg(sp.east_m, sp.north_m)
    assert speeds[0] == 0.0 and speeds[1] == pytest.approx(0.625) and speeds[-1] == pytest.approx(3.5)
    assert speeds == sorted(speeds)
