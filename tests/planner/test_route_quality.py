"""Route quality: swath order, angle search, corridors, perimeters, priority on the way, sorties, spacing."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest
from shapely import affinity
from shapely.geometry import LineString, Point, Polygon, box

from drone_patrol.core.config import CameraConfig, EnduranceConfig, PlannerConfig
from drone_patrol.core.types import MavCmd
from drone_patrol.mission.areas import load_areas, parse_areas
from drone_patrol.planner import plan_patrol
from drone_patrol.planner.build import RoutePoint
from drone_patrol.planner.coverage import build_sweep
from drone_patrol.planner.endurance import PathPoint, estimate, usable_fraction
from drone_patrol.planner.footprint import footprint, line_spacing_m
from drone_patrol.planner.patterns import corridor_offsets
from drone_patrol.planner.sorties import split, with_home
from drone_patrol.planner.spacing import SpacedTransits, short_legs
from drone_patrol.planner.swaths import order_swaths, tour_length
from drone_patrol.planner.sweep_angle import best_sweep
from drone_patrol.planner.transit import NoFlyMap
from tests.mission.builders import collection, line, lonlat, point, polygon, rect
from tests.planner.checks import assert_respects_no_fly, route_points, short_legs_along_margins

PLANS = Path(__file__).resolve().parents[2] / "flight_plans"
CFG, CAM = PlannerConfig(), CameraConfig()
FP = footprint(CAM, CFG.altitude_m)
SPACING = line_spacing_m(FP, CFG.side_overlap)


def test_parallel_pieces_are_flown_as_a_lawnmower() -> None:
    pieces = [((0.0, 30.0 * k), (200.0, 30.0 * k)) for k in range(8)]
    plan = order_swaths(pieces, (0.0, -30.0), (0.0, -30.0))
    # up one way, down the other: every line change is one spacing, plus the way out and back
    assert tour_length(pieces, plan, (0.0, -30.0), (0.0, -30.0)) == pytest.approx(8 * 200 + 7 * 30 + 30 + 240)
    assert order_swaths(pieces, (0.0, -30.0), (0.0, -30.0)) == plan  # deterministic


def test_piece_order_is_optimal_on_small_cases() -> None:
    pieces = [((0.0, 0.0), (100.0, 0.0)), ((300.0, 30.0), (120.0, 30.0)), ((0.0, 60.0), (90.0, 60.0))]
    pieces += [((200.0, 60.0), (300.0, 60.0)), ((10.0, 90.0), (290.0, 90.0))]
    home = (-50.0, -20.0)
    best = math.inf
    for perm in itertools.permutations(range(len(pieces))):
        for flips in itertools.product((False, True), repeat=len(pieces)):
            best = min(best, tour_length(pieces, list(zip(perm, flips, strict=True)), home, home))
    got = tour_length(pieces, order_swaths(pieces, home, home), home, home)
    assert got == pytest.approx(best, rel=1e-9)


@pytest.mark.parametrize("turn", [0.0, 17.0, 64.0])
def test_angle_search_is_no_worse_than_any_angle_of_its_grid(turn: float) -> None:
    shape = affinity.rotate(box(0, 0, 420, 160).difference(box(150, 60, 270, 160)), turn, origin=(0, 0))
    args = (SPACING, FP.across_m, FP.along_m, 5.0, 2.0)
    found = best_sweep(shape, *args, step_deg=15.0)
    grid = [build_sweep(shape, float(a), *args, all_entries=False).time_s for a in range(0, 180, 15)]
    assert found.time_s <= min(grid) + 1e-6


def test_corridor_pass_count_and_spread() -> None:
    assert corridor_offsets(30.0, FP.across_m, SPACING) == [0.0]
    two = corridor_offsets(40.0, FP.across_m, SPACING)
    assert two == pytest.approx([-10.0, 10.0])  # each down the middle of its half of the street
    three = corridor_offsets(90.0, FP.across_m, SPACING)
    assert len(three) == 3 and three[1] == pytest.approx(0.0) and three[2] - three[1] <= SPACING + 1e-9
    assert three[2] + FP.across_m / 2 >= 45.0  # the outer footprints reach the kerbs


def test_a_street_one_footprint_wide_is_one_pass() -> None:
    data = collection(point("post", (0, 0), role="home"), line("lane", [(20, 0), (20, 300)], width_m=FP.across_m - 1))
    result = plan_patrol(parse_areas(data["features"]), CFG, CAM)
    assert len(route_points(result, result.sorties[0])) == 2 and result.areas[0].coverage >= 0.99


def test_perimeter_sees_the_band_inside_every_part() -> None:
    two = {
        "type": "MultiPolygon",
        "coordinates": [
            [lonlat([*rect(40, 0, 240, 120), (40, 0)])],
            [lonlat([(300, 0), (420, 10), (380, 150), (300, 0)])],
        ],
    }
    data = collection(
        point("post", (0, 0), role="home"),
        {"type": "Feature", "properties": {"name": "lots", "pattern": "perimeter"}, "geometry": two},
    )
    result = plan_patrol(parse_areas(data["features"]), CFG, CAM)
    area = result.areas[0]
    assert area.coverage >= 0.99
    # the target is the footprint-wide band of both parts, not the whole lot
    assert area.target_m.area < 0.9 * (200 * 120 + 0.5 * 120 * 150)
    flown = result.routes_m[0]
    assert flown.distance(Point(140, 60)) > FP.across_m / 4  # the middle of the first lot is not swept
    assert flown.intersects(Polygon(rect(300, 0, 420, 150)))  # the second part is flown too


def _areas(*features):  # type: ignore[no-untyped-def]
    return parse_areas(collection(point("post", (0, 0), role="home"), *features)["features"])


def test_a_low_priority_area_on_the_way_is_flown_on_the_way() -> None:
    areas = _areas(
        polygon("market", [rect(480, -20, 520, 20)], priority=1),
        polygon("station", [rect(480, 380, 520, 420)], priority=1),
        polygon("plaza", [rect(485, 185, 515, 215)], priority=3),
    )
    lax = plan_patrol(areas, CFG, CAM, flight_time_s=1e6)
    strict = plan_patrol(areas, CFG, CAM, flight_time_s=1e6, on_the_way_delay_s=0)
    by = {a.name: a for a in lax.areas}
    assert by["plaza"].order == 2 and "on the way from 'market' to 'station'" in by["plaza"].order_reason
    assert {a.name: a.order for a in strict.areas}["plaza"] == 3
    assert lax.stats[0].length_m < strict.stats[0].length_m
    assert lax.summary()["areas"][0]["order_reason"] == "priority 1"
    delay = int(by["plaza"].order_reason.split("reached ")[1].split(" s")[0])
    assert 0 <= delay <= CFG.on_the_way_delay_s


def _body(n: int) -> list[RoutePoint]:
    # a long back-and-forth far from home: 100 m legs stepping away 40 m at a time
    pts = []
    for k in range(n):
        y = 300.0 + 40.0 * (k // 2)
        pts.append(RoutePoint(0.0 if k % 4 in (0, 3) else 100.0, y, 40.0, 5.0, "a"))
    return pts


def test_sortie_split_is_the_least_total_flight() -> None:
    model = EnduranceConfig(flight_time_s=600.0)
    home = RoutePoint(0.0, 0.0, 0.0, 5.0)
    body = _body(24)
    straight = lambda a, b: [a, b]  # noqa: E731
    flights = split(home, body, straight, model, 5.0)

    def fuel(part: list[RoutePoint]) -> float:
        pts = with_home(home, part, straight, 5.0)  # home, the part, home
        return estimate([PathPoint(p.x, p.y, p.altitude_m, p.speed_m_s) for p in pts], model).battery_fraction

    budget = usable_fraction(model)
    assert len(flights) >= 2
    assert all(fuel(f[1:-1]) <= budget + 1e-9 for f in flights)
    got = sum(fuel(f[1:-1]) for f in flights)
    # every way to cut it into two or three sorties that fit
    best = math.inf
    n = len(body)
    for cuts in itertools.chain(itertools.combinations(range(1, n - 1), 1), itertools.combinations(range(1, n - 1), 2)):
        bounds = [0, *cuts, n - 1]
        parts = [body[a : b + 1] for a, b in itertools.pairwise(bounds)]
        costs = [fuel(p) for p in parts]
        if max(costs) <= budget:
            best = min(best, sum(costs))
    assert got == pytest.approx(best, rel=1e-9)
    # and every leg is flown: each sortie resumes where the last one ended
    parts = [f[1:-1] for f in flights]
    assert all(b[0] == a[-1] for a, b in itertools.pairwise(parts))
    assert [p for k, part in enumerate(parts) for p in (part if k == 0 else part[1:])] == body


def test_no_waypoint_clusters_along_a_no_fly_margin() -> None:
    areas = load_areas(PLANS / "nofly_across_the_way.geojson")
    result = plan_patrol(areas, CFG, CAM)
    assert_respects_no_fly(result, CFG.nofly_margin_m)
    near = result.nofly_m.buffer(CFG.nofly_margin_m + CFG.min_waypoint_spacing_m)
    for route in result.routes_m:
        for a, b in itertools.pairwise(route.coords):
            if near.intersects(LineString([a, b])):
                assert math.dist(a, b) >= CFG.min_waypoint_spacing_m or math.dist(a, b) < 0.01
    dense = plan_patrol(areas, CFG, CAM, min_waypoint_spacing_m=0)
    assert sum(len(r.coords) for r in dense.routes_m) > sum(len(r.coords) for r in result.routes_m)
    assert all(w.command != MavCmd.NAV_LAND for m in result.sorties for w in m.items)


def test_a_transit_round_a_margin_corner_turns_once_a_spacing_away() -> None:
    """A sweep line ends on a zone's margin 30 m before its corner and the next starts on the rounded
    corner: the way through the graph's ring turns twice, the last leg 9.5 m; the spaced way turns once."""
    zone = box(369, -263, 439, -193)
    nofly = NoFlyMap([zone], 10.0, 20.0)
    a = (359.0, -233.1)
    b = (369 - 10 * math.sin(math.radians(27)), -263 - 10 * math.cos(math.radians(27)))
    ring = nofly.path(a, b)
    assert short_legs(ring, 20.0) == 1
    way = SpacedTransits(nofly).path(a, b)
    assert way[0] == a and way[-1] == b and short_legs(way, 20.0) == 0
    assert LineString(way).distance(zone) >= 10.0 - 0.05
    assert LineString(way).length <= LineString(ring).length


def test_no_waypoint_clusters_on_the_benchmark_fields_with_a_no_fly_zone() -> None:
    from benchmarks.bench_planner import random_fields

    fields = [(name, areas) for name, areas in random_fields() if name.endswith("-nofly")]
    assert len(fields) == 9
    for name, areas in fields:
        result = plan_patrol(areas, CFG, CAM)
        assert_respects_no_fly(result, CFG.nofly_margin_m)
        assert result.areas[0].coverage >= 0.999, name
        assert not short_legs_along_margins(result, CFG.min_waypoint_spacing_m, CFG.nofly_margin_m), name
