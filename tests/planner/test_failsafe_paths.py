"""Failsafe paths: every straight RTL from the route stays inside the fence and out of no-fly zones."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, Polygon

from drone_patrol.core.config import CameraConfig, PlannerConfig
from drone_patrol.core.errors import PlanningError
from drone_patrol.core.types import MavCmd
from drone_patrol.mission.areas import load_areas
from drone_patrol.planner import failsafe_paths, plan_patrol
from drone_patrol.planner.build import RoutePoint
from tests.planner.checks import local

DISTRICT = Path(__file__).resolve().parents[2] / "flight_plans" / "concave_district_notch.geojson"
CFG, CAM = PlannerConfig(), CameraConfig()


def _ardupilot_target(p: np.ndarray, rally: list[np.ndarray]) -> np.ndarray:
    """AP_Rally on Copter: the closest rally point within RALLY_LIMIT_KM 0.3 if nearer than home."""
    if not rally:
        return np.zeros(2)
    best = min(rally, key=lambda r: float(np.linalg.norm(p - r)))
    d = float(np.linalg.norm(p - best))
    return best if d <= 300.0 and d < float(np.linalg.norm(p)) else np.zeros(2)


def _returns_checked(result, step_m: float = 2.0) -> int:  # type: ignore[no-untyped-def]
    mission = result.sorties[0]
    poly = lambda vs: Polygon([local(result, v.latitude_deg, v.longitude_deg).coords[0] for v in vs])  # noqa: E731
    inclusion = poly(next(p for p in mission.fence.polygons if p.inclusion).vertices)
    exclusions = [poly(p.vertices) for p in mission.fence.polygons if not p.inclusion]
    rally = [np.array(local(result, r.latitude_deg, r.longitude_deg).coords[0]) for r in mission.rally_points]
    n = 0
    for route in result.routes_m:
        for a, b in itertools.pairwise(route.coords):
            a, b = np.array(a), np.array(b)
            steps = max(1, int(np.linalg.norm(b - a) / step_m))
            for t in np.linspace(0.0, 1.0, steps + 1):
                p = a + t * (b - a)
                target = _ardupilot_target(p, rally)
                line = LineString([p, target]) if np.linalg.norm(p - target) > 0.01 else Point(p)
                assert inclusion.covers(line), f"RTL from {p} to {target} leaves the inclusion fence"
                for zone in exclusions:
                    assert not zone.intersects(line), f"RTL from {p} to {target} enters a no-fly zone"
                n += 1
    return n


def test_concave_district_with_home_outside_returns_inside_the_fence() -> None:
    areas = load_areas(DISTRICT)
    result = plan_patrol(areas, CFG, CAM, flight_time_s=420)
    assert len(result.sorties) >= 2
    added = [w for w in result.warnings if w.startswith("rally point added")]
    assert added, "the school in the notch lies between the far side of the district and home"
    assert len(result.sorties[0].rally_points) == 1 + len(added)
    assert all(m.rally_points == result.sorties[0].rally_points for m in result.sorties)
    assert _returns_checked(result) > 500


def test_sample_district_needs_no_rally_point() -> None:
    areas = load_areas(DISTRICT.parent / "guilin_dongxi_xiang.geojson")
    result = plan_patrol(areas, CFG, CAM)
    assert len(result.sorties[0].rally_points) == 1
    assert _returns_checked(result, step_m=5.0) > 100


def test_unsafe_return_is_refused_naming_area_and_point(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(failsafe_paths, "MAX_GENERATED_RALLY", 0)
    with pytest.raises(PlanningError) as err:
        plan_patrol(load_areas(DISTRICT), CFG, CAM, flight_time_s=420)
    msg = str(err.value)
    assert "\n" not in msg and "'school'" in msg and "RTL from (25.2" in msg and "to home" in msg
    assert msg.startswith("area 'horseshoe-lanes'") or msg.startswith("transit")


@pytest.mark.parametrize("flight_time_s", [420.0, 900.0])
def test_every_sortie_ends_over_home_so_its_rtl_lands_at_home(flight_time_s: float) -> None:
    # The mission's closing NAV_RETURN_TO_LAUNCH goes, like any RTL, to the closest rally
    # point unless home is closer: started from the last transit point it landed at the
    # rally point the school needs, about 250 m from home, instead of at home.
    result = plan_patrol(load_areas(DISTRICT), CFG, CAM, flight_time_s=flight_time_s)
    assert any(w.startswith("rally point added") for w in result.warnings)
    for mission in result.sorties:
        rally = [np.array(local(result, r.latitude_deg, r.longitude_deg).coords[0]) for r in mission.rally_points]
        assert mission.items[-1].command == MavCmd.NAV_RETURN_TO_LAUNCH, mission.name
        last = next(it for it in reversed(mission.items) if it.command == MavCmd.NAV_WAYPOINT)
        at = np.array(local(result, last.latitude_deg, last.longitude_deg).coords[0])
        assert np.linalg.norm(at) < 0.5, (mission.name, at)
        # within WPNAV_RADIUS (2 m) of that waypoint, home is still the RTL's target
        for dx, dy in itertools.product((-2.0, 0.0, 2.0), repeat=2):
            p = at + np.array([dx, dy])
            assert np.linalg.norm(_ardupilot_target(p, rally)) < 0.5, (mission.name, p)


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 4), min_size=2, max_size=6),
    offset_m=st.floats(20.0, 200.0),
    heading_deg=st.floats(0.0, 360.0),
)
def test_return_fans_never_join_samples_of_different_flights(
    sizes: list[int], offset_m: float, heading_deg: float
) -> None:
    # Flights laid end to end on one straight line past home, each a few route points 10 m
    # apart (a flight of one point is one sample): the merged fans may join the triangles
    # of one flight's leg, never the samples of two flights, so the fence grows by no more
    # than the return paths themselves sweep.
    d = np.array([np.cos(np.radians(heading_deg)), np.sin(np.radians(heading_deg))])
    normal = np.array([-d[1], d[0]]) * offset_m
    flights, k = [], 0
    for n in sizes:
        pts = [normal + d * 10.0 * (k + i) for i in range(n)]
        flights.append([RoutePoint(float(p[0]), float(p[1]), 50.0, 10.0) for p in pts])
        k += n + 1  # a gap of one step between flights, along the same line
    returns = failsafe_paths.plan_returns(flights, [], Polygon(), step_m=10.0)
    pieces = failsafe_paths._merged_fans(
        returns.points_m, returns.targets_m, returns.pair_of, returns.paths, returns.flight_of
    )
    for piece in pieces:
        on = {int(returns.flight_of[i]) for i, p in enumerate(returns.points_m) if piece.distance(Point(p)) < 1e-6}
        assert len(on) == 1, f"a fan holds samples of flights {sorted(on)}"
    fans, paths = returns.fan_m, shapely.union_all(list(returns.paths))
    assert abs(fans.area - paths.area) <= 1e-6 * max(1.0, paths.area)
    assert fans.buffer(1e-6).covers(paths) and paths.buffer(1e-6).covers(fans)


def test_a_return_target_nearest_only_between_two_samples_is_checked() -> None:
    from drone_patrol.core.rtl import blocked, return_paths, rtl_targets

    rally = np.array([[-100.0, 200.0], [100.0, 200.0], [0.0, 230.0]])
    pts = np.array([[-60.0, 200.0], [60.0, 200.0]])  # nearest R1 at one end, R2 at the other, R3 in between
    targets = rtl_targets(pts, rally)
    assert np.allclose(targets, rally[:2])
    box = Polygon([(-3, 210), (3, 210), (3, 220), (-3, 220)])  # between the middle of the leg and R3
    assert not blocked(return_paths(pts, targets), box)[0]  # the two end lines alone miss it
    assert blocked(return_paths(pts, targets, rally), box)[0]


_M = st.integers(-40_000, 40_000).map(lambda cm: cm / 100.0)  # local metres to the centimetre


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_M, _M), min_size=1, max_size=5), st.tuples(_M, _M), st.tuples(_M, _M))
def test_return_paths_hold_every_return_from_the_segment(rally_xy, a, b) -> None:
    from drone_patrol.core.rtl import return_paths, rtl_targets

    rally = np.array(rally_xy)
    pts = np.array([a, b])
    path = return_paths(pts, rtl_targets(pts, rally), rally)[0]
    along = pts[0] + np.linspace(0, 1, 101)[:, None] * (pts[1] - pts[0])
    sites = np.vstack([np.zeros((1, 2)), rally])
    for p, t in zip(along, rtl_targets(along, rally), strict=True):
        d = np.sort(np.linalg.norm(sites - p, axis=1))
        if (len(d) > 1 and d[1] - d[0] <= 1e-9 * max(1.0, d[1])) or abs(np.linalg.norm(p - t) - 300.0) <= 1e-9:
            continue  # exactly as near two targets (or on the rally limit): the vehicle's choice is its rounding's
        line = p + np.linspace(0, 1, 11)[:, None] * (t - p)  # every point of the return lies in the swept shape
        assert max(path.distance(Point(q)) for q in line) <= 1e-6
