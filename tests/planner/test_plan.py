"""plan_patrol on the samples and on small built cases: patterns, route, no-fly, endurance, loops, fence."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest
from shapely.geometry import Polygon

from drone_patrol.core.config import CameraConfig, PlannerConfig
from drone_patrol.core.errors import PlanningError
from drone_patrol.core.types import MavCmd
from drone_patrol.mission.areas import load_areas, parse_areas, to_local
from drone_patrol.planner import plan_patrol
from drone_patrol.planner.footprint import fields_of_view_deg, footprint, line_spacing_m
from tests.mission.builders import basic, collection, line, point, polygon, rect
from tests.planner.checks import assert_ardupilot_shape, assert_respects_no_fly, local, nav_points, route_points

PLANS = Path(__file__).resolve().parents[2] / "flight_plans"
CFG, CAM = PlannerConfig(), CameraConfig()


@pytest.fixture(scope="module")
def sample():  # type: ignore[no-untyped-def]
    areas = load_areas(PLANS / "guilin_dongxi_xiang.geojson")
    return areas, plan_patrol(areas, CFG, CAM)


def test_footprint_from_fields_of_view() -> None:
    hfov, vfov = fields_of_view_deg(CAM)
    assert hfov == 50.0 and vfov == pytest.approx(math.degrees(2 * math.atan(math.tan(math.radians(25)) * 512 / 640)))
    fp = footprint(CAM, 40.0)
    assert fp.across_m == pytest.approx(2 * 40 * math.tan(math.radians(25)))
    assert line_spacing_m(fp, 0.2) == pytest.approx(fp.across_m * 0.8)
    fx = CameraConfig(fx_px=640 / (2 * math.tan(math.radians(30))))
    assert fields_of_view_deg(fx)[0] == pytest.approx(60.0)


def test_sample_mission_shape_coverage_and_no_fly(sample) -> None:  # type: ignore[no-untyped-def]
    areas, result = sample
    assert len(result.sorties) == 1
    mission = result.sorties[0]
    assert_ardupilot_shape(mission)
    assert mission.items[1].command == MavCmd.DO_CHANGE_SPEED and mission.items[1].param2 == CFG.speed_m_s
    assert all(a.coverage >= 0.99 for a in result.areas)
    assert_respects_no_fly(result, CFG.nofly_margin_m)
    assert mission.home == areas.home_point
    stats = result.stats[0]
    assert stats.waypoints == len(mission.items) and 0 < stats.duration_s < CFG.endurance.flight_time_s
    assert stats.length_m == pytest.approx(result.routes_m[0].length, rel=1e-6)


def test_priority_one_is_visited_first(sample) -> None:  # type: ignore[no-untyped-def]
    _, result = sample
    assert result.sorties[0].area_spans[0].area_name == "dongxi-grid-3"
    assert {s.area_name for s in result.sorties[0].area_spans} == {f"dongxi-grid-{i}" for i in range(1, 6)}


def test_area_spans_match_the_geometry(sample) -> None:  # type: ignore[no-untyped-def]
    areas, result = sample
    mission = result.sorties[0]
    for seq, w in enumerate(mission.items, start=1):
        name = mission.area_at(seq)
        if name is not None and w.command == MavCmd.NAV_WAYPOINT:
            shape = to_local(areas.by_name(name).geometry, result.frame)
            assert shape.buffer(1.0).covers(local(result, w.latitude_deg, w.longitude_deg))


def test_geofence_and_rally(sample) -> None:  # type: ignore[no-untyped-def]
    areas, result = sample
    fence = result.sorties[0].fence
    inclusion = [p for p in fence.polygons if p.inclusion]
    exclusion = [p for p in fence.polygons if not p.inclusion]
    assert len(inclusion) == 1 and len(exclusion) == 1 and not fence.circles
    shell = Polygon([(local(result, v.latitude_deg, v.longitude_deg).coords[0]) for v in inclusion[0].vertices])
    assert shell.is_valid and len(inclusion[0].vertices) <= 60
    for p in nav_points(result, result.sorties[0]):
        assert shell.contains(p.buffer(CFG.fence_margin_m / 2))
    home = areas.home_point
    first = result.sorties[0].rally_points[0]
    assert (first.latitude_deg, first.longitude_deg) == (home.latitude_deg, home.longitude_deg)


def test_transit_goes_around_a_no_fly_zone_across_the_way() -> None:
    areas = load_areas(PLANS / "nofly_across_the_way.geojson")
    result = plan_patrol(areas, CFG, CAM)
    assert_respects_no_fly(result, CFG.nofly_margin_m)
    assert any("'dock-lane' overlaps no-fly zone 'power-station'" in w for w in result.warnings)
    dock = next(a for a in result.areas if a.name == "dock-lane")
    assert dock.clipped_by == ("power-station",) and dock.coverage >= 0.99
    circles = result.sorties[0].fence.circles
    assert len(circles) == 1 and not circles[0].inclusion and circles[0].radius_m == 15


def test_wider_margin_still_avoids() -> None:
    areas = load_areas(PLANS / "nofly_across_the_way.geojson")
    result = plan_patrol(areas, CFG, CAM, nofly_margin_m=25)
    assert_respects_no_fly(result, 25)


def test_orbit_points_the_camera_and_circles_the_centre() -> None:
    areas = parse_areas(
        collection(
            point("post", (0, 0), role="home"), point("square", (200, 50), radius_m=30, dwell_s=120, altitude_m=50)
        )["features"]
    )
    result = plan_patrol(areas, CFG, CAM)
    items = result.sorties[0].items
    cmds = [w.command for w in items]
    roi = cmds.index(MavCmd.DO_SET_ROI_LOCATION)
    assert MavCmd.DO_SET_ROI_NONE in cmds[roi:]
    centre = local(result, items[roi].latitude_deg, items[roi].longitude_deg)
    assert centre.distance(to_local(areas.patrol[0].geometry, result.frame)) < 0.05
    end = cmds.index(MavCmd.DO_SET_ROI_NONE)
    orbit = [w for w in items[roi:end] if w.command == MavCmd.NAV_WAYPOINT]
    loops = 120 * CFG.speed_m_s / (2 * math.pi * 30)
    assert len(orbit) >= math.ceil(loops * CFG.orbit_points_per_loop)
    for w in orbit:
        assert local(result, w.latitude_deg, w.longitude_deg).distance(centre) == pytest.approx(30, abs=0.05)
        assert w.altitude_m == 50
    assert result.areas[0].coverage == pytest.approx(1.0, abs=1e-3)


def test_corridor_passes_cover_the_street_width() -> None:
    areas = parse_areas(
        collection(point("post", (0, 0), role="home"), line("street", [(20, 0), (20, 300), (200, 400)], width_m=60))[
            "features"
        ]
    )
    result = plan_patrol(areas, CFG, CAM)
    fp = footprint(CAM, CFG.altitude_m)
    assert result.areas[0].coverage >= 0.99 and result.areas[0].line_spacing_m == pytest.approx(
        line_spacing_m(fp, CFG.side_overlap)
    )
    narrow = parse_areas(
        collection(point("post", (0, 0), role="home"), line("lane", [(20, 0), (20, 300)], width_m=10))["features"]
    )
    one = plan_patrol(narrow, CFG, CAM)
    assert len(route_points(one, one.sorties[0])) == 2


def test_perimeter_is_an_inset_ring_in_the_chosen_direction() -> None:
    data = basic()
    data["features"][1]["properties"]["pattern"] = "perimeter"
    areas = parse_areas(data["features"])
    fp = footprint(CAM, CFG.altitude_m)
    for clockwise in (True, False):
        result = plan_patrol(areas, CFG, CAM, perimeter_clockwise=clockwise)
        ring = [p.coords[0] for p in route_points(result, result.sorties[0])]
        shape = to_local(areas.patrol[0].geometry, result.frame)
        assert len(ring) >= 5 and ring[0] == ring[-1]
        inset = Polygon(ring)
        assert inset.is_valid and shape.contains(inset)
        assert inset.exterior.distance(shape.exterior) == pytest.approx(fp.across_m / 2, abs=0.5)
        signed = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in itertools.pairwise(ring))
        assert (signed < 0) == clockwise


def test_endurance_splits_into_sorties_that_each_fit() -> None:
    areas = load_areas(PLANS / "guilin_dongxi_xiang.geojson")
    result = plan_patrol(areas, CFG, CAM, flight_time_s=400)
    assert len(result.sorties) >= 2
    assert any("split into" in w for w in result.warnings)
    for mission, st in zip(result.sorties, result.stats, strict=True):
        assert_ardupilot_shape(mission)
        assert st.battery_fraction <= 1 - CFG.endurance.reserve_fraction + 1e-9
    assert all(a.coverage >= 0.99 for a in result.areas)
    assert_respects_no_fly(result, CFG.nofly_margin_m)


def test_loop_adds_a_do_jump_to_the_first_patrol_item() -> None:
    areas = load_areas(PLANS / "guilin_dongxi_xiang.geojson")
    result = plan_patrol(areas, CFG, CAM, loop_count=2)
    items = result.sorties[0].items
    jumps = [(i, w) for i, w in enumerate(items, start=1) if w.command == MavCmd.DO_JUMP]
    assert len(jumps) == 1 and jumps[0][1].param2 == 2 and result.loop_count == 2
    target = int(jumps[0][1].param1)
    assert 2 <= target < jumps[0][0]
    # the camera's point of interest and the speed are restated at the jump target, whatever a lap left
    assert items[target - 1].command in (MavCmd.DO_SET_ROI_NONE, MavCmd.DO_SET_ROI_LOCATION)
    assert items[target].command == MavCmd.DO_CHANGE_SPEED
    one = plan_patrol(areas, CFG, CAM).stats[0]
    assert result.stats[0].duration_s > 2.5 * (one.duration_s - 60)
    forever = plan_patrol(areas, CFG, CAM, loop_count=-1)
    assert any("DO_JUMP -1" in w for w in forever.warnings)


def test_loop_reduced_to_fit_the_battery() -> None:
    areas = load_areas(PLANS / "guilin_dongxi_xiang.geojson")
    result = plan_patrol(areas, CFG, CAM, loop_count=50)
    assert 0 < result.loop_count < 50 and any("reduced" in w for w in result.warnings)
    assert result.stats[0].battery_fraction <= 1 - CFG.endurance.reserve_fraction + 1e-9


def test_per_area_altitude_and_speed() -> None:
    data = basic(polygon("north", [rect(40, 100, 140, 160)], altitude_m=60, speed_m_s=3))
    result = plan_patrol(parse_areas(data["features"]), CFG, CAM)
    items = result.sorties[0].items
    north = [w for i, w in enumerate(items, start=1) if result.sorties[0].area_at(i) == "north"]
    assert {w.altitude_m for w in north if w.command == MavCmd.NAV_WAYPOINT} == {60}
    speeds = [w.param2 for w in items if w.command == MavCmd.DO_CHANGE_SPEED]
    assert 3 in speeds and CFG.speed_m_s in speeds


def test_sweep_angle_follows_a_rotated_block() -> None:
    block = Polygon(rect(0, 0, 400, 100))
    from shapely import affinity

    turned = affinity.rotate(block, 30, origin=(0, 0)).exterior.coords[:-1]
    areas = parse_areas(collection(point("post", (-50, -50), role="home"), polygon("long", [list(turned)]))["features"])
    result = plan_patrol(areas, CFG, CAM)
    assert result.areas[0].sweep_angle_deg == pytest.approx(30, abs=3)
    fixed = plan_patrol(areas, CFG, CAM, sweep_angle_deg=0)
    assert fixed.areas[0].sweep_angle_deg == 0
    assert sum(s.length_m for s in result.stats) < sum(s.length_m for s in fixed.stats)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"altitude_m": 130}, "altitude 130 m above the ceiling of 120 m"),
        ({"altitude_m": 10}, "below the floor of 15 m"),
        ({"side_overlap": 1.5}, "planner option side_overlap"),
        ({"warp": 9}, "unknown planner option 'warp'"),
    ],
)
def test_bad_options(overrides: dict[str, float], message: str) -> None:
    areas = parse_areas(basic()["features"])
    with pytest.raises(PlanningError, match=message):
        plan_patrol(areas, CFG, CAM, **overrides)


def test_area_above_the_ceiling_is_refused() -> None:
    data = basic()
    data["features"][1]["properties"]["altitude_m"] = 100
    with pytest.raises(PlanningError, match="area 'block': altitude 100 m above the ceiling of 80 m"):
        plan_patrol(parse_areas(data["features"]), CFG, CAM, ceiling_m=80)


def test_area_lost_in_the_margin_is_an_error() -> None:
    data = basic(polygon("wall", [rect(30, -50, 150, 45)], role="no_fly"))
    data["features"][1]["geometry"]["coordinates"] = polygon("b", [rect(40, 40, 140, 50)])["geometry"]["coordinates"]
    with pytest.raises(PlanningError, match="nothing left to patrol"):
        plan_patrol(parse_areas(data["features"]), CFG, CAM)


def test_home_within_the_margin_can_still_leave() -> None:
    data = basic(polygon("yard", [rect(-20, 5, 20, 60)], role="no_fly"))
    result = plan_patrol(parse_areas(data["features"]), CFG, CAM)
    assert_respects_no_fly(result, CFG.nofly_margin_m)


def test_street_and_orbit_crossing_no_fly_zones_are_flown_around() -> None:
    data = collection(
        point("post", (0, 0), role="home"),
        line("street", [(20, 0), (20, 400)], width_m=60),
        polygon("barracks", [rect(-20, 150, 80, 200)], role="no_fly"),
        point("square", (150, 300), radius_m=40),
        polygon("mast", [rect(170, 280, 230, 320)], role="no_fly"),
    )
    result = plan_patrol(parse_areas(data["features"]), CFG, CAM)
    assert_respects_no_fly(result, CFG.nofly_margin_m)
    assert any("'street' overlaps no-fly zone 'barracks'" in w for w in result.warnings)
    assert any("'square' overlaps no-fly zone 'mast'" in w for w in result.warnings)
    street, square = result.areas
    assert street.coverage >= 0.99 and 0.5 < square.coverage < 0.9


def test_home_altitude_fills_in_when_the_file_has_none() -> None:
    areas = load_areas(PLANS / "guilin_dongxi_xiang.geojson")
    assert plan_patrol(areas, CFG, CAM, home_altitude_m=150.0).sorties[0].home.altitude_m == 150.0
    assert plan_patrol(areas, CFG, CAM).sorties[0].home.altitude_m == 0.0


def test_multipolygon_areas_and_no_fly_zones() -> None:
    from tests.mission.builders import lonlat

    two = {
        "type": "MultiPolygon",
        "coordinates": [[lonlat([*rect(40, 0, 120, 60), (40, 0)])], [lonlat([*rect(200, 0, 260, 80), (200, 0)])]],
    }
    walls = {
        "type": "MultiPolygon",
        "coordinates": [
            [lonlat([*rect(150, -50, 170, 120), (150, -50)])],
            [lonlat([*rect(150, 150, 170, 200), (150, 150)])],
        ],
    }
    data = collection(
        point("post", (0, 0), role="home"),
        {"type": "Feature", "properties": {"name": "blocks"}, "geometry": two},
        {"type": "Feature", "properties": {"name": "walls", "role": "no_fly"}, "geometry": walls},
    )
    result = plan_patrol(parse_areas(data["features"]), CFG, CAM)
    assert result.areas[0].coverage >= 0.99
    assert_respects_no_fly(result, CFG.nofly_margin_m)
    assert sum(1 for p in result.sorties[0].fence.polygons if not p.inclusion) == 2


def test_an_area_under_a_square_metre_is_refused_in_one_line() -> None:
    home = {"type": "Feature", "properties": {"name": "post", "role": "home"},
            "geometry": {"type": "Point", "coordinates": [110.29, 25.27]}}  # fmt: skip
    d = 0.3 / 111_000.0  # a 0.3 m square: a click, not an area
    ring = [[110.2905, 25.2705], [110.2905 + d, 25.2705], [110.2905 + d, 25.2705 + d], [110.2905, 25.2705 + d]]
    ring.append(ring[0])
    yard = {"type": "Feature", "properties": {"name": "yard"}, "geometry": {"type": "Polygon", "coordinates": [ring]}}
    with pytest.raises(PlanningError, match="area 'yard': under 1 m2 to patrol"):
        plan_patrol(parse_areas([home, yard], "a.geojson"), CFG, CAM)


def test_a_detailed_no_fly_zone_is_fenced_with_few_enough_corners_to_upload() -> None:
    from drone_patrol.planner.build import FENCE_ITEMS_BUDGET

    ring = [
        (200 + 40 * math.cos(2 * math.pi * k / 400), 150 + 40 * math.sin(2 * math.pi * k / 400)) for k in range(400)
    ]
    areas = parse_areas(basic(polygon("pond", [ring], role="no_fly"))["features"])
    result = plan_patrol(areas, CFG, CAM)
    fence = result.sorties[0].fence
    assert sum(len(p.vertices) for p in fence.polygons) + len(fence.circles) <= FENCE_ITEMS_BUDGET
    exclusion = next(p for p in fence.polygons if not p.inclusion)
    fenced = Polygon(
        [(pt.x, pt.y) for pt in (local(result, v.latitude_deg, v.longitude_deg) for v in exclusion.vertices)]
    )
    zone = Polygon(ring)
    assert fenced.buffer(0.05).covers(zone)  # still the whole zone
    assert fenced.difference(zone.buffer(CFG.nofly_margin_m / 2.0 + 0.05)).is_empty  # grown by half the margin at most
    assert_respects_no_fly(result, CFG.nofly_margin_m)
