"""Geometric checks of a plan shared by the planner tests."""

from __future__ import annotations

import itertools

from shapely.geometry import LineString, Point

from drone_patrol.core.types import MavCmd, MavFrame, Mission
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
