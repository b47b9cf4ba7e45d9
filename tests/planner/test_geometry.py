"""Pieces of the planner on their own: transit around no-fly zones, coverage sweeps, ordering, endurance."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import affinity
from shapely.geometry import LineString, Point, Polygon, box

from drone_patrol.core.config import EnduranceConfig
from drone_patrol.core.errors import PlanningError
from drone_patrol.core.wpnav import WpnavLimits, chain_time_s, stop_cost_s
from drone_patrol.planner.coverage import build_sweep
from drone_patrol.planner.endurance import PathPoint, estimate
from drone_patrol.planner.ordering import Variant, order_units, route_length
from drone_patrol.planner.sweep_angle import best_sweep
from drone_patrol.planner.transit import NoFlyMap

WALL = box(40, -100, 60, 100)


def test_clear_leg_is_straight() -> None:
    m = NoFlyMap([WALL], 10)
    assert m.path((0, 150), (100, 150)) == [(0, 150), (100, 150)]


def test_path_goes_around_with_the_margin() -> None:
    m = NoFlyMap([WALL], 10)
    path = m.path((0, 0), (100, 0))
    line = LineString(path)
    assert path[0] == (0, 0) and path[-1] == (100, 0) and len(path) > 2
    assert line.distance(WALL) >= 10 - 0.05
    # the true shortest way: tangent to the 10 m arc round a wall end, over the top, and down again
    d = math.hypot(40, 100)
    tangent = math.sqrt(d * d - 100)
    arc = 10 * math.radians(math.degrees(math.atan2(100, 40)) + math.degrees(math.asin(10 / d)))
    best = 2 * (tangent + arc) + 20
    assert best <= line.length <= 1.02 * best
    assert m.path_length_m((0, 0), (100, 0)) == pytest.approx(line.length)


def test_distance_matrix_matches_paths() -> None:
    m = NoFlyMap([WALL, box(150, -30, 170, 30)], 10)
    src = [(0.0, 0.0), (0.0, 150.0), (200.0, 0.0)]
    dst = [(100.0, 0.0), (120.0, -150.0), (250.0, 10.0)]
    mat = m.distance_matrix(src, dst)
    for i, a in enumerate(src):
        for j, b in enumerate(dst):
            assert mat[i][j] == pytest.approx(m.path_length_m(a, b), rel=1e-9)


def test_enclosed_point_has_no_path() -> None:
    ring = box(-100, -100, 100, 100).difference(box(-60, -60, 60, 60))
    with pytest.raises(PlanningError, match="no path around the no-fly zones"):
        NoFlyMap([ring], 5).path((0, 0), (200, 0))


@settings(max_examples=25, deadline=None)
@given(
    cx=st.floats(-50, 50),
    cy=st.floats(-50, 50),
    w=st.floats(5, 60),
    h=st.floats(5, 60),
    angle=st.floats(0, 90),
    margin=st.floats(0, 15),
)
def test_random_paths_keep_out(cx: float, cy: float, w: float, h: float, angle: float, margin: float) -> None:
    zone = affinity.rotate(box(cx - w, cy - h, cx + w, cy + h), angle)
    a, b = (-150.0, 3.0), (150.0, -4.0)
    path = NoFlyMap([zone], margin).path(a, b)
    assert LineString(path).distance(zone) >= margin - 0.06
    assert LineString(path).length >= math.dist(a, b) - 1e-9


def test_clip_run_splits_at_the_zone() -> None:
    m = NoFlyMap([WALL], 0)
    runs = m.clip_run([(0, 0), (100, 0), (100, 50)])
    assert len(runs) == 2
    assert runs[0][0] == (0, 0) and runs[0][-1][0] == pytest.approx(40)
    assert runs[1][0][0] == pytest.approx(60) and runs[1][-1] == (100, 50)


def test_sweep_angle_search_beats_axis_angles_on_a_turned_block() -> None:
    poly = affinity.rotate(box(0, 0, 500, 120), 37, origin=(0, 0))
    best = best_sweep(poly, 29.8, 37.3, 30.0, 5.0, 2.0)
    assert best.angle_deg == pytest.approx(37, abs=2)
    for axis in (0.0, 90.0):
        assert best.time_s < build_sweep(poly, axis, 29.8, 37.3, 30.0, 5.0, 2.0).time_s


def test_sweep_pieces_split_at_a_hole() -> None:
    poly = box(0, 0, 300, 200).difference(box(100, 60, 200, 140))
    sweep = build_sweep(poly, 0.0, 29.8, 37.3, 30.0, 5.0, 2.0)
    assert sweep.pieces > sweep.lines  # the lines across the hole are flown as two pieces each
    for v in sweep.variants:
        assert Polygon(box(-20, -20, 320, 220)).contains(LineString(v.points))


def test_ordering_chooses_entries_and_respects_priority() -> None:
    def unit(x: float) -> list[Variant]:
        a, b = (x, 0.0), (x, 100.0)
        return [Variant((a, b), 100.0), Variant((b, a), 100.0)]

    units = [unit(300), unit(100), unit(200)]
    plan = order_units((0, 0), (0, 0), units, [3, 3, 3])
    assert [u for u, _ in plan] in ([1, 2, 0], [0, 2, 1])
    assert route_length((0, 0), (0, 0), units, plan) < 1000
    first = order_units((0, 0), (0, 0), units, [3, 3, 1])
    assert first[0][0] == 2


def test_endurance_model_adds_climb_turns_and_descent() -> None:
    model = EnduranceConfig(climb_rate_m_s=2, descent_rate_m_s=1, turn_time_s=4, flight_time_s=1000)
    path = [PathPoint(0, 0, 40, 5), PathPoint(100, 0, 40, 5), PathPoint(100, 100, 40, 5), PathPoint(0, 100, 40, 5)]
    est = estimate(path, model)
    assert est.length_m == 300 and est.turns == 2
    legs_s, _ = chain_time_s([(0, 0), (100, 0), (100, 100), (0, 100)], [5] * 4, WpnavLimits())
    # the legs as ArduCopter flies them: slower than 300 m at 5 m/s (a stop at each end, two corners)
    assert 300 / 5 < legs_s < 300 / 5 + 4 * stop_cost_s(5, WpnavLimits())
    # climb 40 m at 2 m/s, RTL's 5 s over home, 30 m down at 1 m/s and the last 10 at 0.5, the turns
    assert est.duration_s == pytest.approx(legs_s + 40 / 2 + 5 + 30 / 1 + 10 / 0.5 + 2 * 4 * 0.5)
    assert est.battery_fraction == pytest.approx(est.duration_s / 1000)
    assert estimate(path, model, airborne=True).duration_s == pytest.approx(legs_s + 4)
    assert Point(0, 0).distance(Point(0, 0)) == 0


def test_font_masks() -> None:
    from drone_patrol.planner.font import glyph, text_mask

    assert glyph("a").shape == (5, 3) and glyph("A").tolist() == glyph("a").tolist()
    assert not glyph("~").any()
    assert text_mask("AB", scale=2).shape == (10, 14)


def test_paths_around_a_concave_zone_keep_the_margin_with_coarse_rings() -> None:
    import itertools

    from shapely import wkt
    from shapely.geometry import LineString

    from drone_patrol.planner.transit import NoFlyMap

    zone = wkt.loads(
        "POLYGON ((-4.06 -118.94, -77.23 -74.57, -103.10 -98.54, -64.13 -197.80, -63.92 -228.37,"
        " -51.93 -179.77, -41.04 -193.80, -4.06 -118.94))"
    )
    for spacing_m in (0.0, 20.0):  # 20 m: the default waypoint spacing, one chord per quarter circle
        no_fly = NoFlyMap([zone], 10.0, spacing_m)
        path = no_fly.path((-285.11, -616.21), (0.0, 0.0))
        assert path is not None
        closest = min(zone.distance(LineString([p, q])) for p, q in itertools.pairwise(path))
        assert closest >= 10.0 - 0.05, (spacing_m, closest)
