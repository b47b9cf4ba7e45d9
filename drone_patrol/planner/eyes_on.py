"""Planning an "eyes on" excursion: may the drone go and look at a point, and by which way?

Pure decision code (no I/O): :meth:`ExcursionPlanner.plan` takes the request and the
vehicle's position and battery and returns an :class:`Excursion` (the legs there
around the no-fly zones, where to stand, the way back to the patrol, the battery it
takes) or a :class:`Refusal` with a stable code:

- ``outside_fence``: the point (or the orbit around it) is outside the inclusion fence;
- ``in_no_fly``: the point lies in a no-fly zone or its safety margin (the planner's
  ``nofly_margin_m``);
- ``altitude``: the requested altitude is outside the planner's floor and ceiling;
- ``no_path``: no way round the no-fly zones, inside the fence, reaches it (the transit
  graph keeps the safety margin from the zones and from the fence alike);
- ``battery``: going there, watching for the requested time and flying home from there
  would eat into the reserve (the endurance model of the planner).

The watch is an orbit of ``orbit_radius_m`` round the point, entered standing that far
from it on the way in (flown in GUIDED, see :mod:`drone_patrol.planner.orbit`); where the
orbit would cross a no-fly margin or the fence, or the radius is under
``MIN_ORBIT_RADIUS_M``, the drone hovers over the point instead (radius 0).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import shapely
from shapely.geometry import LineString, Point, Polygon, box
from shapely.geometry.base import BaseGeometry

from drone_patrol.core.config.planner import PlannerConfig
from drone_patrol.core.errors import PlanningError
from drone_patrol.core.geo import LocalFrame
from drone_patrol.core.types import Geofence, GeoPoint
from drone_patrol.mission.areas import AreaSet, area_footprint_m
from drone_patrol.planner.endurance import PathPoint, estimate
from drone_patrol.planner.orbit import MIN_ORBIT_RADIUS_M
from drone_patrol.planner.transit import XY, NoFlyMap

_FENCE_CLEARANCE_M = 2.0  # ArduPilot's FENCE_MARGIN default


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request is refused: a stable ``code`` and a sentence naming the figures."""

    code: str
    text: str


@dataclass(frozen=True, slots=True)
class Excursion:
    """How to go and look: ``legs_out`` end at ``entry`` (the orbit's entry point, or the target when hovering)."""

    target: GeoPoint
    entry: GeoPoint
    legs_out: tuple[GeoPoint, ...]
    relative_altitude_m: float
    orbit_radius_m: float
    battery_needed_fraction: float
    battery_available_fraction: float
    out_length_m: float
    home_length_m: float


class ExcursionPlanner:
    """The site's fence, no-fly zones and endurance model, ready to judge requests."""

    def __init__(self, areas: AreaSet, fence: Geofence, config: PlannerConfig, orbit_radius_m: float) -> None:
        self.config = config
        self.orbit_radius_m = orbit_radius_m
        self.frame: LocalFrame = areas.local_frame()
        self.home = areas.home_point
        self._zones: list[tuple[str, BaseGeometry]] = [(a.name, area_footprint_m(a, self.frame)) for a in areas.no_fly]
        self._inclusion: list[BaseGeometry] = []
        for poly in fence.polygons:
            shape = Polygon(self._xy_all(poly.vertices))
            if poly.inclusion:
                self._inclusion.append(shape)
            else:
                self._zones.append(("fence exclusion", shape))
        for circle in fence.circles:
            shape = Point(self._xy(circle.center)).buffer(circle.radius_m, quad_segs=16)
            if circle.inclusion:
                self._inclusion.append(shape)
            else:
                self._zones.append(("fence exclusion", shape))
        # the transit graph keeps out of the zones and, with the same margin, out of the land beyond the fence
        blocked = [z for _, z in self._zones]
        if self._inclusion:
            inside = shapely.intersection_all(self._inclusion)
            blocked.append(box(*inside.bounds).buffer(1000.0, join_style="mitre").difference(inside))
        self.nofly = NoFlyMap(blocked, config.nofly_margin_m)

    def _xy(self, p: GeoPoint) -> XY:
        e, n, _ = self.frame.point_to_enu(GeoPoint(p.latitude_deg, p.longitude_deg, self.home.altitude_m))
        return (e, n)

    def _xy_all(self, pts: Sequence[GeoPoint]) -> list[XY]:
        return [self._xy(p) for p in pts]

    def _geo(self, xy: XY) -> GeoPoint:
        p = self.frame.enu_to_point(xy[0], xy[1], 0.0)
        return GeoPoint(p.latitude_deg, p.longitude_deg, 0.0)

    def _inside_fence(self, shape: BaseGeometry) -> bool:
        return all(f.buffer(-_FENCE_CLEARANCE_M).contains(shape) for f in self._inclusion)

    def _in_zone(self, xy: XY) -> str | None:
        here = Point(xy)
        for name, zone in self._zones:
            if zone.distance(here) <= self.config.nofly_margin_m:
                inside = zone.contains(here)
                return f"{name!r}" + ("" if inside else f" (within its {self.config.nofly_margin_m:g} m margin)")
        return None

    def plan(
        self,
        target: GeoPoint,
        duration_s: float,
        altitude_m: float | None,
        position: GeoPoint,
        battery_percent: float | None,
    ) -> Excursion | Refusal:
        """Judge a request to watch ``target`` for ``duration_s`` (vehicle at ``position``, altitude above home
        ``altitude_m`` or the patrol altitude)."""
        cfg = self.config
        where = f"({target.latitude_deg:.6f}, {target.longitude_deg:.6f})"
        alt = cfg.altitude_m if altitude_m is None else altitude_m
        if not cfg.floor_m <= alt <= cfg.ceiling_m:
            return Refusal("altitude", f"altitude {alt:g} m is outside {cfg.floor_m:g}-{cfg.ceiling_m:g} m")
        txy = self._xy(target)
        zone = self._in_zone(txy)
        if zone is not None:
            return Refusal("in_no_fly", f"the point {where} lies in no-fly zone {zone}")
        if not self._inside_fence(Point(txy)):
            return Refusal("outside_fence", f"the point {where} is outside the geofence")
        here = self._xy(position)
        radius = self.orbit_radius_m if self.orbit_radius_m >= MIN_ORBIT_RADIUS_M else 0.0
        ring = Point(txy).buffer(radius, quad_segs=16) if radius > 0 else Point(txy)
        if radius > 0 and (not self._inside_fence(ring) or any(z.distance(ring) <= cfg.nofly_margin_m
                                                               for _, z in self._zones)):  # fmt: skip
            radius = 0.0  # too close to a zone or the fence to circle: hover over the point
        try:
            if radius > 0:
                # enter the orbit on the near side of the way in, standing `radius` from the point
                before = self.nofly.path(here, txy)[-2]
                d = math.dist(before, txy) or 1.0
                entry = (txy[0] + (before[0] - txy[0]) / d * radius, txy[1] + (before[1] - txy[1]) / d * radius)
            else:
                entry = txy
            out = self.nofly.path(here, entry)
            home = self.nofly.path(txy, (0.0, 0.0))
        except PlanningError as exc:
            return Refusal("no_path", str(exc))
        if not all(f.covers(LineString(out)) for f in self._inclusion):
            return Refusal("no_path", f"every way round the no-fly zones to {where} leaves the geofence")
        speed = cfg.speed_m_s
        rel_now = max(0.0, position.altitude_m - self.home.altitude_m)
        path = [PathPoint(here[0], here[1], rel_now, speed)]
        path += [PathPoint(x, y, alt, speed) for x, y in out[1:]]
        path += [PathPoint(x, y, alt, speed) for x, y in home[1:]]
        e = cfg.endurance
        legs = estimate(path, e, airborne=True)
        watch = duration_s * e.hover_power_factor / e.flight_time_s
        landing = alt / e.descent_rate_m_s * e.hover_power_factor / e.flight_time_s
        needed = legs.battery_fraction + watch + landing
        if battery_percent is None:
            return Refusal("battery", "the battery level is unknown")
        available = battery_percent / 100.0 - e.reserve_fraction
        if needed > available:
            return Refusal(
                "battery",
                f"going there, watching {duration_s:g} s and flying home takes {needed:.0%} of the battery; "
                f"{battery_percent:.0f}% left with a {e.reserve_fraction:.0%} reserve allows {max(0.0, available):.0%}",
            )
        out_len = sum(math.dist(a, b) for a, b in itertools.pairwise(out))
        home_len = sum(math.dist(a, b) for a, b in itertools.pairwise(home))
        return Excursion(
            target=target, entry=self._geo(entry), legs_out=tuple(self._geo(p) for p in out[1:]),
            relative_altitude_m=alt, orbit_radius_m=radius, battery_needed_fraction=needed,
            battery_available_fraction=available, out_length_m=out_len, home_length_m=home_len,
        )  # fmt: skip

    def path_back(self, start: GeoPoint, end: GeoPoint) -> list[GeoPoint]:
        """The legs from ``start`` to ``end`` around the no-fly zones (``end`` included, ``start`` not)."""
        pts = self.nofly.path(self._xy(start), self._xy(end))
        return [self._geo(p) for p in pts[1:]]
