"""ArduCopter's waypoint legs and corners (AC_WPNav / SCurve) as the endurance model times them."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drone_patrol.core.wpnav import WpnavLimits, chain_time_s, corner_overlap_s, landing_s, leg, stop_cost_s

DEFAULTS = WpnavLimits()  # WPNAV_ACCEL 2.5 m/s/s, WPNAV_JERK 1 m/s/s/s, WPNAV_RADIUS 2 m


def _polygon(radius_m: float, sides: int, laps: int = 1) -> list[tuple[float, float]]:
    return [
        (radius_m * math.cos(2 * math.pi * k / sides), radius_m * math.sin(2 * math.pi * k / sides))
        for k in range(sides * laps + 1)
    ]


def test_a_long_leg_takes_its_length_at_speed_plus_one_rise() -> None:
    # 0 -> 6 m/s at 1 m/s^3 never reaches 2.5 m/s^2: 2 * sqrt(6 / 1) s, covering half that at 6 m/s
    lg = leg(166.0, 6.0, DEFAULTS)
    assert lg.peak_speed_m_s == 6.0 and lg.accel_time_s == pytest.approx(2 * math.sqrt(6.0))
    assert lg.time_s == pytest.approx(166.0 / 6.0 + 2 * math.sqrt(6.0))
    # 12 m/s does reach the acceleration limit: 2.5 s of jerk, 2.3 s at 2.5 m/s^2, 2.5 s of jerk
    fast = leg(1000.0, 12.0, DEFAULTS)
    assert (fast.tj, fast.ta) == pytest.approx((2.5, 12.0 / 2.5 - 2.5))
    assert fast.start(fast.accel_time_s)[1] == pytest.approx(12.0)


def test_a_short_leg_never_reaches_the_speed() -> None:
    # rest to rest under jerk only: L = 2 J tau^3, peak speed J tau^2
    tau = (10.0 / 2.0) ** (1 / 3)
    lg = leg(10.0, 6.0, DEFAULTS)
    assert lg.peak_speed_m_s == pytest.approx(tau * tau, rel=1e-6)
    assert lg.time_s == pytest.approx(4 * tau, rel=1e-6)
    assert lg.start(lg.accel_time_s)[0] == pytest.approx(5.0, rel=1e-6)


def test_an_orbit_of_short_legs_is_flown_at_a_fraction_of_the_speed() -> None:
    # 16 points on a 25 m circle (9.8 m legs): SITL flew such an orbit at 2.7 m/s, 3.6 s a leg
    pts = _polygon(25.0, 16, laps=2)
    _, shares = chain_time_s(pts, [6.0] * len(pts), DEFAULTS)
    inner = shares[4:-4]
    assert all(3.2 < s < 3.6 for s in inner)
    assert math.dist(pts[0], pts[1]) / inner[0] < 3.1


def test_straight_on_costs_nothing_and_sharper_corners_cost_more() -> None:
    one, _ = chain_time_s([(0, 0), (300, 0)], [6.0, 6.0], DEFAULTS)
    three, _ = chain_time_s([(0, 0), (100, 0), (200, 0), (300, 0)], [6.0] * 4, DEFAULTS)
    assert three == pytest.approx(one, abs=0.05)
    a = leg(150.0, 6.0, DEFAULTS)
    overlaps = [corner_overlap_s(a, a, angle, DEFAULTS) for angle in (0.0, 22.5, 90.0, 180.0)]
    assert overlaps[0] == overlaps[1] == pytest.approx(a.accel_time_s)
    assert overlaps[1] > overlaps[2] > overlaps[3] > 0.0
    # at 90 degrees the turn's mid point must come within WPNAV_RADIUS: jerk-only braking,
    # sqrt(2) * J (r/2)^3 / 6 = 2 m
    assert overlaps[2] == pytest.approx(2 * (6 * 2.0 / math.sqrt(2)) ** (1 / 3), rel=1e-3)
    # braking and speeding up again take 2 sqrt(6) s each and cover what 6 m/s covers in half that
    assert stop_cost_s(6.0, DEFAULTS) == pytest.approx(2 * math.sqrt(6.0), rel=1e-6)


def test_landing_is_fast_to_10_m_then_half_a_metre_a_second() -> None:
    assert landing_s(40.0, 1.5) == pytest.approx(20.0 + 20.0)
    assert landing_s(4.0, 1.5) == pytest.approx(8.0)


@given(
    st.lists(st.tuples(st.floats(-500, 500), st.floats(-500, 500)), min_size=2, max_size=12),
    st.floats(1.0, 15.0),
)
def test_a_chain_takes_at_least_its_length_at_speed(points: list[tuple[float, float]], speed: float) -> None:
    flown = [p for i, p in enumerate(points) if i == 0 or math.dist(p, points[i - 1]) > 0.01]
    total, shares = chain_time_s(flown, [speed] * len(flown), DEFAULTS)
    length = sum(math.dist(a, b) for a, b in itertools.pairwise(flown))
    assert total == pytest.approx(sum(shares))
    assert total >= length / speed - 1e-6
    assert all(s >= -1e-9 for s in shares)
