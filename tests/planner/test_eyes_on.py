"""The "eyes on" excursion planner: refusals with their codes, legs around the no-fly zones, the battery sum."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString

from drone_patrol.core.config.planner import PlannerConfig
from drone_patrol.core.geo import destination
from drone_patrol.core.types import FencePolygon, Geofence, GeoPoint
from drone_patrol.mission.areas import area_footprint_m, load_areas
from drone_patrol.planner.eyes_on import Excursion, ExcursionPlanner, Refusal

AREAS = load_areas(Path(__file__).resolve().parents[2] / "flight_plans" / "guilin_dongxi_xiang.geojson")
HOME = AREAS.home_point
CFG = PlannerConfig()
WEST_OF_HELIPAD = GeoPoint(25.28333, 110.29660, HOME.altitude_m + 40.0)
EAST_OF_HELIPAD = GeoPoint(25.28333, 110.29830)


NO_FENCE = Geofence()


def planner(fence: Geofence = NO_FENCE, radius_m: float = 10.0) -> ExcursionPlanner:
    return ExcursionPlanner(AREAS, fence, CFG, radius_m)


def square_fence(half_m: float) -> Geofence:
    corners = [destination(HOME, b, half_m * math.sqrt(2)) for b in (45, 135, 225, 315)]
    return Geofence(polygons=(FencePolygon(True, tuple(corners)),))


def test_the_way_there_goes_round_the_no_fly_zone_and_enters_the_orbit_facing_the_point() -> None:
    p = planner()
    exc = p.plan(EAST_OF_HELIPAD, 60.0, None, WEST_OF_HELIPAD, 95.0)
    assert isinstance(exc, Excursion), exc
    assert exc.orbit_radius_m == 10.0 and exc.relative_altitude_m == CFG.altitude_m
    frame = AREAS.local_frame()
    zone = area_footprint_m(AREAS.no_fly[0], frame).buffer(CFG.nofly_margin_m - 0.1)
    pts = [frame.point_to_enu(GeoPoint(q.latitude_deg, q.longitude_deg, HOME.altitude_m))[:2]
           for q in (WEST_OF_HELIPAD, *exc.legs_out)]  # fmt: skip
    assert len(pts) >= 4  # round the zone, not through it
    assert not LineString(pts).intersects(zone)
    t = frame.point_to_enu(GeoPoint(EAST_OF_HELIPAD.latitude_deg, EAST_OF_HELIPAD.longitude_deg, HOME.altitude_m))
    assert exc.out_length_m > math.dist(pts[0], pts[-1]) + 5.0  # the detour is longer than the straight line
    assert math.dist(pts[-1], t[:2]) == pytest.approx(10.0, abs=0.01)  # the entry stands one radius from the point
    assert 0 < exc.battery_needed_fraction < exc.battery_available_fraction == pytest.approx(0.95 - 0.25)


@pytest.mark.parametrize(
    ("target", "duration_s", "altitude_m", "battery", "code", "needle"),
    [
        (GeoPoint(25.28333, 110.29734), 60.0, None, 90.0, "in_no_fly", "no-fly zone 'hospital-helipad'"),
        (GeoPoint(25.28306, 110.29734), 60.0, None, 90.0, "in_no_fly", "within its 10 m margin"),
        (GeoPoint(25.2900, 110.3000), 60.0, None, 90.0, "outside_fence", "is outside the geofence"),
        (EAST_OF_HELIPAD, 60.0, 10.0, 90.0, "altitude", "altitude 10 m is outside 15-120 m"),
        (EAST_OF_HELIPAD, 60.0, None, 30.0, "battery", "30% left with a 25% reserve allows 5%"),
        (EAST_OF_HELIPAD, 1200.0, None, 100.0, "battery", "watching 1200 s"),
        (EAST_OF_HELIPAD, 60.0, None, None, "battery", "the battery level is unknown"),
    ],
)
def test_refusals_name_their_reason(
    target: GeoPoint, duration_s: float, altitude_m: float | None, battery: float | None, code: str, needle: str
) -> None:
    fence = square_fence(400.0)
    verdict = planner(fence).plan(target, duration_s, altitude_m, WEST_OF_HELIPAD, battery)
    assert isinstance(verdict, Refusal) and verdict.code == code and needle in verdict.text, verdict


def test_near_a_margin_or_the_fence_it_hovers_over_the_point_instead_of_circling() -> None:
    near_zone = GeoPoint(25.28300, 110.29734)  # 16 m south of the helipad: outside the margin, the orbit is not
    exc = planner().plan(near_zone, 60.0, None, WEST_OF_HELIPAD, 95.0)
    assert isinstance(exc, Excursion) and exc.orbit_radius_m == 0.0
    assert (exc.entry.latitude_deg, exc.entry.longitude_deg) == pytest.approx((25.28300, 110.29734), abs=1e-7)
    near_fence = destination(HOME, 90.0, 392.0)
    exc = planner(square_fence(400.0)).plan(near_fence, 60.0, None, WEST_OF_HELIPAD, 95.0)
    assert isinstance(exc, Excursion) and exc.orbit_radius_m == 0.0


@pytest.mark.parametrize(("radius_m", "orbit_m"), [(0.0, 0.0), (1.5, 0.0), (2.0, 2.0), (10.0, 10.0)])
def test_a_circle_radius_under_two_metres_hovers_over_the_point(radius_m: float, orbit_m: float) -> None:
    exc = planner(radius_m=radius_m).plan(EAST_OF_HELIPAD, 60.0, None, WEST_OF_HELIPAD, 95.0)
    assert isinstance(exc, Excursion) and exc.orbit_radius_m == orbit_m
    if orbit_m == 0.0:
        assert (exc.entry.latitude_deg, exc.entry.longitude_deg) == pytest.approx(
            (EAST_OF_HELIPAD.latitude_deg, EAST_OF_HELIPAD.longitude_deg), abs=1e-7
        )


@settings(max_examples=40, deadline=None)
@given(bearing=st.floats(0, 360), distance=st.floats(0, 350), start=st.floats(0, 360))
def test_legs_never_cross_a_no_fly_zone(bearing: float, distance: float, start: float) -> None:
    p = planner()
    frame = AREAS.local_frame()
    hard = area_footprint_m(AREAS.no_fly[0], frame)
    target = destination(HOME, bearing, distance)
    here = destination(HOME, start, 150.0)
    verdict = p.plan(target, 30.0, None, GeoPoint(here.latitude_deg, here.longitude_deg, HOME.altitude_m + 40), 99.0)
    if isinstance(verdict, Refusal):
        assert verdict.code in ("in_no_fly", "no_path"), verdict
        return
    pts = [frame.point_to_enu(GeoPoint(q.latitude_deg, q.longitude_deg, HOME.altitude_m))[:2]
           for q in (here, *verdict.legs_out)]  # fmt: skip
    if len(pts) > 1:
        assert not LineString(pts).intersects(hard)
    back = p.path_back(verdict.entry, here)
    assert back[-1].latitude_deg == pytest.approx(here.latitude_deg, abs=1e-7)


def test_the_way_round_stays_inside_the_fence() -> None:
    # the fence runs 10 m north of the helipad: with the 10 m margins only the south side is open
    corners = [GeoPoint(25.2815, 110.2955), GeoPoint(25.2815, 110.2995), GeoPoint(25.28360, 110.2995),
               GeoPoint(25.28360, 110.2955)]  # fmt: skip
    fence = Geofence(polygons=(FencePolygon(True, tuple(corners)),))
    exc = planner(fence).plan(EAST_OF_HELIPAD, 60.0, None, WEST_OF_HELIPAD, 95.0)
    assert isinstance(exc, Excursion), exc
    assert len(exc.legs_out) >= 3
    assert all(p.latitude_deg < 25.28315 for p in exc.legs_out[:-1])  # south of the helipad, not north
    # with no side open there is no way: refused, not flown through the zone or out of the fence
    closed = [GeoPoint(25.28300, 110.2955), GeoPoint(25.28300, 110.2995), GeoPoint(25.28360, 110.2995),
              GeoPoint(25.28360, 110.2955)]  # fmt: skip
    verdict = planner(Geofence(polygons=(FencePolygon(True, tuple(closed)),))).plan(
        EAST_OF_HELIPAD, 60.0, None, WEST_OF_HELIPAD, 95.0
    )
    assert isinstance(verdict, Refusal) and verdict.code == "no_path", verdict
