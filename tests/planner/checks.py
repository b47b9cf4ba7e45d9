"""Geometric checks of a plan shared by the planner tests."""

from __future__ import annotations

import itertools

import shapely
from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry

from drone_patrol.core.config import CameraConfig
from drone_patrol.core.types import MavCmd, MavFrame, Mission
from drone_patrol.planner.build import RoutePoint
from drone_patrol.planner.footprint import leg_footprints
from drone_patrol.planner.plan import PlanResult


def local(result: PlanResult, lat: float, lon: float) -> Point:
    e, n = result.frame.lonlat_to_en([(lon, lat)])[0]
    return Point(float(e), float(n))


def nav_points(result: PlanResult, mission: Mission) -> list[Point]:
    return [local(result, w.latitude_deg, w.longitude_deg) for w in mission.items if w.command == MavCmd.NAV_WAYPOINT]


def route_points(result: PlanResult, mission: Mission) -> list[Point]:
    """The waypoints before the one over home that closes every sortie (checked here)."""
    points = nav_points(result, mission)
    assert points and points[-1].distance(Point(0.0, 0.0)) < 0.5, "the sortie does not end over home"
    return points[:-1]


def assert_respects_no_fly(result: PlanResult, margin_m: float) -> None:
    """No waypoint inside a no-fly zone, no leg through one, and legs away from home keep the margin."""
    zones = result.nofly_m
    if zones.is_empty:
        return
    for mission, route in zip(result.sorties, result.routes_m, strict=True):
        for p in nav_points(result, mission):
            assert not zones.intersects(p), f"waypoint {p} inside a no-fly zone"
        coords = list(route.coords)
        for a, b in itertools.pairwise(coords):
            leg = LineString([a, b]) if a != b else Point(a)
            assert not zones.intersects(leg), f"leg {a} -> {b} crosses a no-fly zone"
            touches_home = Point(a).distance(Point(0, 0)) < 1e-6 or Point(b).distance(Point(0, 0)) < 1e-6
            if not touches_home:
                assert leg.distance(zones) >= margin_m - 0.1, f"leg {a} -> {b} within the margin"


def short_legs_along_margins(result: PlanResult, spacing_m: float, margin_m: float) -> list[tuple[int, int]]:
    """(route, leg) of the legs shorter than ``spacing_m`` (and not a repeat of one point) whose ends both
    lie within ``margin_m + spacing_m`` of a no-fly zone: the waypoint clusters the planner removes."""
    if result.nofly_m.is_empty:
        return []
    near = result.nofly_m.buffer(margin_m + spacing_m)
    out = []
    for r, route in enumerate(result.routes_m):
        for k, (a, b) in enumerate(itertools.pairwise(route.coords)):
            pa, pb = Point(a), Point(b)
            if 0.01 < pa.distance(pb) < spacing_m and near.intersects(pa) and near.intersects(pb):
                out.append((r, k))
    return out


def seen_m2(coords: list[tuple[float, float]], target: BaseGeometry, camera: CameraConfig, altitude_m: float) -> float:
    """How much of ``target`` the camera footprint sees along the legs through ``coords``."""
    pts = [RoutePoint(x, y, altitude_m, 5.0) for x, y in coords]
    return float(shapely.union_all(leg_footprints(pts, camera)).intersection(target).area)


def removable_clusters(
    result: PlanResult, spacing_m: float, margin_m: float, camera: CameraConfig, budget: float = 0.0005
) -> list[str]:
    """The short legs along no-fly margins that could go for free: flying straight on without one of
    their points would keep the margin and leave no more than ``budget`` of an area's target unseen.
    A short leg that stays must be the only safe view of part of an area (a swath piece shorter than
    the spacing, or the step between two sweep lines closer together than it, in a field little wider
    than a footprint)."""
    out = []
    zones = result.nofly_m
    for r, k in short_legs_along_margins(result, spacing_m, margin_m):
        coords = [(float(x), float(y)) for x, y, *_ in result.routes_m[r].coords]
        safe = [
            drop
            for drop in (k, k + 1)
            if 0 < drop < len(coords) - 1
            and LineString([coords[drop - 1], coords[drop + 1]]).distance(zones) >= margin_m - 0.1
            and not 0.01 < Point(coords[drop - 1]).distance(Point(coords[drop + 1])) < spacing_m
        ]
        for area in result.areas:
            target = area.target_m
            if target.area <= 0:
                continue
            full = seen_m2(coords, target, camera, area.altitude_m)
            for drop in safe:
                rest = coords[:drop] + coords[drop + 1 :]
                if full - seen_m2(rest, target, camera, area.altitude_m) <= budget * target.area:
                    out.append(f"route {r} leg {k} {coords[k]} -> {coords[k + 1]}: dropping point {drop} is free")
    return out


def assert_ardupilot_shape(mission: Mission) -> None:
    """NAV_TAKEOFF first, RTL last, positioned items in GLOBAL_RELATIVE_ALT_INT, DO items in MISSION."""
    assert mission.items[0].command == MavCmd.NAV_TAKEOFF and mission.items[0].altitude_m > 0
    assert mission.items[-1].command == MavCmd.NAV_RETURN_TO_LAUNCH
    for w in mission.items:
        if w.command in (MavCmd.NAV_WAYPOINT, MavCmd.NAV_TAKEOFF, MavCmd.DO_SET_ROI_LOCATION):
            assert w.frame == MavFrame.GLOBAL_RELATIVE_ALT_INT
        else:
            assert w.frame == MavFrame.MISSION
    for span in mission.area_spans:
        assert 1 <= span.first_seq <= span.last_seq <= len(mission.items)
    # each rally point once: the vehicle's rally list is short (RALLY_TOTAL)
    spots = [(round(r.latitude_deg, 6), round(r.longitude_deg, 6)) for r in mission.rally_points]
    assert len(spots) == len(set(spots)), spots
