"""``plan_patrol``: key areas -> pattern variants -> ordered route -> sorties -> Missions.

Everything between the two ends works in the home-centred ``LocalFrame`` (metres);
WGS84 appears only when the area file is read and when mission items are written.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import replace
from typing import Any

import shapely
from pydantic import ValidationError
from shapely.geometry import LineString, MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry

from drone_patrol.core.config.camera import CameraConfig
from drone_patrol.core.config.planner import EnduranceConfig, PlannerConfig
from drone_patrol.core.errors import PlanningError
from drone_patrol.core.files import excerpt
from drone_patrol.core.types import Geofence, GeoPoint, KeyArea, MavCmd, Mission, PatternKind
from drone_patrol.core.wpnav import stop_cost_s
from drone_patrol.mission.areas import AreaSet, area_footprint_m, to_local
from drone_patrol.planner.build import ItemWriter, RoutePoint, fit_exclusions, geofence, inclusion_polygon
from drone_patrol.planner.endurance import PathPoint, estimate, usable_fraction, wpnav_limits
from drone_patrol.planner.failsafe_paths import (
    PlannedReturns,
    check_returns,
    legs_from_targets,
    plan_returns,
    return_obstacles,
)
from drone_patrol.planner.footprint import Footprint, footprint, leg_footprints, line_spacing_m
from drone_patrol.planner.ordering import Variant, order_units
from drone_patrol.planner.patterns import corridor_variants, orbit_variants, perimeter_band, perimeter_variants
from drone_patrol.planner.priority import on_the_way
from drone_patrol.planner.result import AreaPlan, PlanResult, SortieStats
from drone_patrol.planner.sorties import path_length, split, transit_points
from drone_patrol.planner.spacing import SpacedTransits, spread_clusters
from drone_patrol.planner.sweep_angle import best_sweep
from drone_patrol.planner.transit import NoFlyMap

__all__ = ["AreaPlan", "PlanResult", "SortieStats", "plan_patrol"]

_ENDURANCE_KEYS = set(EnduranceConfig.model_fields)


def _config(planner: PlannerConfig, overrides: dict[str, Any]) -> PlannerConfig:
    data = planner.model_dump()
    for key, value in overrides.items():
        if value is None:
            continue
        if key in _ENDURANCE_KEYS:
            data["endurance"][key] = value
        elif key in PlannerConfig.model_fields:
            data[key] = value
        else:
            raise PlanningError(f"unknown planner option {key!r}")
    try:
        return PlannerConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        option = str(err["loc"][-1]) if err["loc"] else None
        raise PlanningError(f"planner option {key}: {err['msg']} (got {excerpt(err.get('input'))})", option) from None


def _polys(geom: BaseGeometry) -> Polygon | MultiPolygon:
    parts = [g for g in getattr(geom, "geoms", [geom]) if isinstance(g, Polygon) and g.area > 1.0]
    return MultiPolygon(parts) if len(parts) != 1 else parts[0]


class _Planner:
    def __init__(self, areas: AreaSet, cfg: PlannerConfig, camera: CameraConfig, sweep_angle_deg: float | None):
        self.areas, self.cfg, self.camera, self.fixed_angle = areas, cfg, camera, sweep_angle_deg
        self.home_altitude_m: float | None = None
        self.frame = areas.local_frame()
        self.warnings: list[str] = list(areas.warnings)
        if camera.mount_pitch_deg > -85.0:
            self.warnings.append(
                f"camera mount pitch {camera.mount_pitch_deg:g} deg: line spacing and coverage assume a camera "
                "looking straight down (-90)"
            )
        self.nofly_polys: list[tuple[str, Polygon]] = []
        self.nofly_circles: list[tuple[Point, float]] = []
        self.fence_polys: list[Polygon] = []
        for nf in areas.no_fly:
            shape = area_footprint_m(nf, self.frame)
            self.nofly_polys.append((nf.name, shape))
            centre = to_local(nf.geometry, self.frame)
            if isinstance(centre, Point):
                self.nofly_circles.append((centre, float(nf.radius_m or 0.0)))
            else:
                self.fence_polys.extend(g for g in getattr(shape, "geoms", [shape]) if isinstance(g, Polygon))
        self.nofly = NoFlyMap([s for _, s in self.nofly_polys], cfg.nofly_margin_m, cfg.min_waypoint_spacing_m)
        self.transits = SpacedTransits(self.nofly)

    def altitude(self, area: KeyArea) -> float:
        alt = area.altitude_m if area.altitude_m is not None else self.cfg.altitude_m
        if alt > self.cfg.ceiling_m:
            raise PlanningError(f"area {area.name!r}: altitude {alt:g} m above the ceiling of {self.cfg.ceiling_m:g} m")
        if alt < self.cfg.floor_m:
            raise PlanningError(f"area {area.name!r}: altitude {alt:g} m below the floor of {self.cfg.floor_m:g} m")
        return alt

    def clip(self, area: KeyArea, shape: BaseGeometry) -> tuple[BaseGeometry, tuple[str, ...]]:
        hit = tuple(name for name, nf in self.nofly_polys if nf.buffer(self.cfg.nofly_margin_m).intersects(shape))
        if not hit:
            return shape, ()
        clipped = shape.difference(self.nofly.forbidden)
        lost = 1.0 - clipped.area / shape.area if shape.area > 0 else 0.0
        names = ", ".join(repr(n) for n in hit)
        self.warnings.append(
            f"area {area.name!r} overlaps no-fly zone {names} (with the {self.cfg.nofly_margin_m:g} m margin): "
            f"clipped, {lost:.0%} of it left out"
        )
        if clipped.is_empty or (shape.area > 0 and clipped.area < 1.0):
            raise PlanningError(
                f"area {area.name!r}: nothing left to patrol outside no-fly zone {names} and its "
                f"{self.cfg.nofly_margin_m:g} m margin"
            )
        return clipped, hit

    def area_variants(self, area: KeyArea) -> tuple[list[Variant], AreaPlan]:
        alt = self.altitude(area)
        speed = area.speed_m_s or self.cfg.speed_m_s
        fp: Footprint = footprint(self.camera, alt)
        spacing = line_spacing_m(fp, self.cfg.side_overlap)
        geom = to_local(area.geometry, self.frame)
        pattern = area.pattern or PatternKind.COVERAGE
        clockwise = bool(area.properties.get("clockwise", self.cfg.perimeter_clockwise))
        if area.dwell_s and pattern is not PatternKind.ORBIT:
            self.warnings.append(
                f"area {area.name!r}: dwell_s applies to orbit areas only; ignored for {pattern.value}"
            )
        angle = None
        if pattern in (PatternKind.COVERAGE, PatternKind.PERIMETER):
            target, hit = self.clip(area, geom)
            target = _polys(target)
            if target.is_empty:  # slivers under a square metre each: nothing a camera could sweep
                raise PlanningError(f"area {area.name!r}: under 1 m2 to patrol (is it drawn in the right place?)")
            if pattern is PatternKind.COVERAGE:
                sweep = best_sweep(
                    target,
                    spacing,
                    fp.across_m,
                    fp.along_m,
                    speed,
                    # what a U-turn of the sweep costs: ArduCopter stops and starts again
                    self.cfg.endurance.turn_time_s + stop_cost_s(speed, wpnav_limits(self.cfg.endurance)),
                    self.cfg.sweep_angle_step_deg,
                    self.nofly.forbidden,
                    self.fixed_angle,
                    metric=None if self.nofly.empty else self.nofly.pair_matrix,
                )
                variants, angle = list(sweep.variants), round(sweep.angle_deg, 2) % 180.0
            else:
                variants = perimeter_variants(target, fp.across_m, clockwise, along_m=fp.along_m)
                target = _polys(perimeter_band(target, fp.across_m))
        elif pattern is PatternKind.CORRIDOR:
            assert isinstance(geom, LineString)
            width = float(area.width_m or fp.across_m)
            full = geom.buffer(width / 2.0, cap_style="flat")
            target, hit = self.clip(area, full)
            variants = corridor_variants(geom, width, fp.across_m, spacing)
        else:
            assert isinstance(geom, Point)
            radius = float(area.radius_m or 0.0)
            loops = self.cfg.orbit_loops
            if area.dwell_s:
                loops = max(loops, area.dwell_s * speed / (2 * math.pi * radius)) if radius > 0 else loops
            variants = orbit_variants(geom, radius, loops, self.cfg.orbit_points_per_loop, clockwise)
            ring = geom.buffer(radius).exterior
            target, hit = self.clip(area, ring.buffer(0.5))
            target = LineString(ring.coords)
        plan = AreaPlan(
            area.name,
            pattern,
            area.priority,
            alt,
            speed,
            0.0,
            angle,
            spacing if pattern in (PatternKind.COVERAGE, PatternKind.CORRIDOR) else None,
            hit,
            target,
        )
        return variants, plan

    def route_body(
        self, units: list[list[Variant]], plans: list[AreaPlan], order: list[tuple[int, int]]
    ) -> list[RoutePoint]:
        body: list[RoutePoint] = []
        here = RoutePoint(0.0, 0.0, 0.0, self.cfg.speed_m_s)
        for ui, vi in order:
            ap = plans[ui]
            area = self.areas.patrol[ui]
            roi = None
            if ap.pattern is PatternKind.ORBIT:
                c = to_local(area.geometry, self.frame)
                roi = (float(c.x), float(c.y))
            # a sweep's pieces lie outside the margin: a leg across it is a transit between two pieces,
            # flown round from its ends; other patterns are cut where they meet the margin
            runs = self.nofly.clip_run(list(units[ui][vi].points), bridge=ap.pattern is PatternKind.COVERAGE)
            for r, run in enumerate(runs):
                pts = [RoutePoint(x, y, ap.altitude_m, ap.speed_m_s, area.name, roi) for x, y in run]
                inside = area.name if r > 0 else None
                speed = ap.speed_m_s if r > 0 else self.cfg.speed_m_s
                body.extend(transit_points(self.transits.path, here, pts[0], speed, inside))
                body.append(pts[0])
                for a, b in itertools.pairwise(pts):
                    # a transit between swath pieces across the margin goes round it
                    body.extend(transit_points(self.transits.path, a, b, ap.speed_m_s, area.name))
                    body.append(b)
                here = pts[-1]
        targets = {ap.name: ap.target_m for ap in plans}
        return spread_clusters(body, self.transits, self.camera, targets, RoutePoint(0.0, 0.0, 0.0, self.cfg.speed_m_s))

    def run(self, loop_count: int) -> PlanResult:
        cfg = self.cfg
        if not self.areas.patrol:
            raise PlanningError(f"{self.areas.source}: no patrol areas to plan")
        units, plans = [], []
        for area in self.areas.patrol:
            variants, ap = self.area_variants(area)
            if not variants:
                raise PlanningError(f"area {area.name!r}: no route could be laid out")
            units.append(variants)
            plans.append(ap)
        metric = None if self.nofly.empty else self.nofly.distance_matrix
        priorities = [a.priority for a in self.areas.patrol]
        order = order_units((0.0, 0.0), (0.0, 0.0), units, priorities, metric=metric)
        order, placed = on_the_way(
            (0.0, 0.0),
            (0.0, 0.0),
            units,
            priorities,
            [a.name for a in self.areas.patrol],
            order,
            cfg.on_the_way_delay_s * cfg.speed_m_s,
            cfg.speed_m_s,
        )
        plans = [replace(ap, order=placed[i].position, order_reason=placed[i].reason) for i, ap in enumerate(plans)]
        body = self.route_body(units, plans, order)
        home = RoutePoint(0.0, 0.0, 0.0, cfg.speed_m_s)
        flights = split(home, body, self.transits.path, cfg.endurance, cfg.speed_m_s)
        loops = loop_count
        loopback: list[RoutePoint] = []
        if len(flights) > 1:
            self.warnings.append(
                f"route does not fit one battery ({cfg.endurance.flight_time_s:g} s, "
                f"{cfg.endurance.reserve_fraction:.0%} reserve): split into {len(flights)} sorties, each returning home"
            )
            if loops:
                self.warnings.append("patrol loop ignored: the route needs more than one sortie")
                loops = 0
        elif loops and body:
            first = next(p for p in body if not p.transit)
            last = body[-1]
            loopback = transit_points(self.transits.path, last, first, cfg.speed_m_s, None)
            if loops > 0:
                loops = self._fit_loops(flights[0], body, loopback, loops)
            else:
                self.warnings.append("patrol loops until the battery failsafe or the operator ends it (DO_JUMP -1)")
        routes = [LineString([(p.x, p.y) for p in f]) for f in flights]
        if loopback or loops:
            routes.append(
                LineString([(p.x, p.y) for p in [body[-1], *loopback, next(q for q in body if not q.transit)]])
            )
        rally = self._rally_points()
        laps = [[body[-1], *loopback, next(q for q in body if not q.transit)]] if (loopback or loops) else []
        returns, exempt = self._returns([*flights, *laps], rally)
        incl = inclusion_polygon(
            routes, [*(area_footprint_m(a, self.frame) for a in self.areas.patrol), returns.fan_m], cfg.fence_margin_m
        )
        check_returns(returns, incl, self.nofly_polys, cfg.nofly_margin_m / 2.0, self.frame, exempt)
        exclusions, too_big = fit_exclusions(incl, self.fence_polys, len(self.nofly_circles), cfg.nofly_margin_m / 2.0)
        if too_big:
            self.warnings.append(too_big)
        fence = geofence(self.frame, incl, exclusions, self.nofly_circles)
        rally += [self._geo(x, y, cfg.altitude_m) for x, y in returns.added_m]
        missions, stats, flown_all = [], [], []
        for k, flight in enumerate(flights):
            mission, st, flown = self._mission(k, len(flights), flight, loops, loopback, fence, rally)
            missions.append(mission)
            stats.append(st)
            flown_all.append(flown)
        covered = shapely.union_all([g for f in flown_all for g in leg_footprints(f, self.camera)])
        flown_lines = shapely.union_all([LineString([(p.x, p.y) for p in f]) for f in flown_all])
        final = []
        for ap in plans:
            target = ap.target_m
            if ap.pattern is PatternKind.ORBIT:
                tol = 0.5 + 0.05 * float(self.areas.by_name(ap.name).radius_m or 0.0)
                near = flown_lines.intersection(target.buffer(tol + 1.0).envelope)
                cov = (
                    target.intersection(near.buffer(tol, quad_segs=2)).length / target.length if target.length else 0.0
                )
            else:
                cov = covered.intersection(target).area / target.area if target.area else 0.0
            final.append(replace(ap, coverage=min(1.0, cov)))
        return PlanResult(
            tuple(missions),
            tuple(stats),
            tuple(final),
            tuple(self.warnings),
            tuple(LineString([(p.x, p.y) for p in f]) for f in flown_all),
            self.frame,
            self.areas,
            self.nofly.zones,
            self.nofly.forbidden,
            loops,
        )

    def _geo(self, x: float, y: float, altitude_m: float) -> GeoPoint:
        lon, lat = self.frame.en_to_lonlat([(x, y)])[0]
        return GeoPoint(round(float(lat), 7), round(float(lon), 7), altitude_m)

    def _rally_points(self) -> list[GeoPoint]:
        """Home (as ArduCopter's RTL target of last resort), the area file's and the config's rally points."""
        home = self.areas.home_point
        rally = [GeoPoint(home.latitude_deg, home.longitude_deg, self.cfg.altitude_m)]
        for r in self.areas.rally:
            rally.append(GeoPoint(float(r.geometry.y), float(r.geometry.x), r.altitude_m or self.cfg.altitude_m))
        for i, (la, lo) in enumerate(self.cfg.rally_points):
            try:
                rally.append(GeoPoint(la, lo, self.cfg.altitude_m))
            except ValueError as exc:
                raise PlanningError(f"planner.rally_points[{i}]: {exc} (expected [lat, lon])") from None
        return rally

    def _returns(self, flights: list[list[RoutePoint]], rally: list[GeoPoint]) -> tuple[PlannedReturns, BaseGeometry]:
        """Where RTL goes from every point of the flights; rally points added where its line is not clear."""
        xy = [
            (float(e), float(n)) for e, n in self.frame.lonlat_to_en([(r.longitude_deg, r.latitude_deg) for r in rally])
        ]
        clearance = self.cfg.nofly_margin_m / 2.0
        exempt = legs_from_targets(flights, xy)
        returns = plan_returns(
            flights, xy, return_obstacles(self.nofly.zones, clearance, exempt), zones=self.nofly.zones
        )
        exempt = legs_from_targets(flights, [*xy, *returns.added_m])
        for x, y in returns.added_m:
            where = self._geo(x, y, 0.0)
            self.warnings.append(
                f"rally point added at ({where.latitude_deg:.6f}, {where.longitude_deg:.6f}): a straight RTL to home "
                "would cross a no-fly zone from part of the route, so RTL from there lands at this point"
            )
        return returns, exempt

    def _fit_loops(
        self, flight: list[RoutePoint], body: list[RoutePoint], loopback: list[RoutePoint], loops: int
    ) -> int:
        model = self.cfg.endurance
        pp = lambda pts: [PathPoint(p.x, p.y, p.altitude_m, p.speed_m_s) for p in pts]  # noqa: E731
        base = estimate(pp(flight), model).battery_fraction
        first = next(i for i, p in enumerate(body) if not p.transit)
        lap = estimate(pp([body[-1], *loopback, *body[first:]]), model, airborne=True).battery_fraction
        fit = max(0, math.floor((usable_fraction(model) - base) / lap)) if lap > 0 else loops
        if fit < loops:
            self.warnings.append(f"patrol loop reduced from {loops} to {fit} repeats to fit the endurance with reserve")
            return fit
        return loops

    def _mission(
        self,
        k: int,
        total: int,
        flight: list[RoutePoint],
        loops: int,
        loopback: list[RoutePoint],
        fence: Geofence,
        rally: list[GeoPoint],
    ) -> tuple[Mission, SortieStats, list[RoutePoint]]:
        w = ItemWriter(self.frame)
        inner = flight[1:-1]
        w.takeoff(inner[0].altitude_m if inner else self.cfg.altitude_m)
        pattern = [i for i, p in enumerate(inner) if not p.transit]
        first, last = (pattern[0], pattern[-1]) if pattern else (0, len(inner) - 1)
        jump_target = 0
        for i, p in enumerate(inner):
            if loops and i == first:
                jump_target = len(w.items) + 1  # seq of the next item (home is seq 0)
            w.waypoint(p, force_state=bool(loops) and i == first)
            if loops and i == last:
                for q in loopback:
                    w.waypoint(q)
                w.jump(jump_target, loops)
        if inner:
            # The flight ends over home before its RTL: ArduCopter's RTL, the mission's own
            # included, goes to the closest rally point unless home is closer (core/rtl.py),
            # so an RTL started at the last transit point may land at a rally point instead.
            w.waypoint(flight[-1])
        w.rtl()
        flown = once = list(flight)
        if loops:
            lap = [*loopback, *inner[first : last + 1]]
            flown = [*flight[: last + 2], *(lap * max(1, loops)), *flight[last + 2 :]]
            once = [*flight[: last + 2], *lap, *flight[last + 2 :]]
        home = self.areas.home_point
        if self.home_altitude_m is not None and not self.areas.home.geometry.has_z:
            home = GeoPoint(home.latitude_deg, home.longitude_deg, self.home_altitude_m)
        name = self.areas.home.name if total == 1 else f"{self.areas.home.name} sortie {k + 1}/{total}"
        mission = Mission(
            home=home,
            items=tuple(w.items),
            fence=fence,
            rally_points=tuple(rally),
            cruise_speed_m_s=self.cfg.speed_m_s,
            hover_speed_m_s=self.cfg.speed_m_s,
            name=name,
            area_spans=w.spans(),
        )
        est = estimate([PathPoint(p.x, p.y, p.altitude_m, p.speed_m_s) for p in flown], self.cfg.endurance)
        nav = sum(1 for it in w.items if it.command == MavCmd.NAV_WAYPOINT)
        st = SortieStats(len(w.items), nav, path_length(flown), est.duration_s, est.battery_fraction)
        return mission, st, once


def plan_patrol(areas: AreaSet, planner: PlannerConfig, camera: CameraConfig, **overrides: Any) -> PlanResult:
    """Plan the patrol of every patrol area of ``areas``.

    ``overrides`` replace :class:`PlannerConfig` fields (``altitude_m``, ``speed_m_s``,
    ``side_overlap``, ``nofly_margin_m``, ``ceiling_m``, ``floor_m``, ``loop_count``,
    ...) or :class:`EnduranceConfig` fields (``flight_time_s``, ``reserve_fraction``,
    ...); ``sweep_angle_deg`` fixes the coverage sweep angle instead of searching it.
    ``home_altitude_m`` is the AMSL altitude written as the planned home when the area
    file's home point has none (e.g. the site's ground altitude); ``endurance_note`` says
    where the endurance figures come from (see ``planner.endurance.endurance_for``).
    ``None`` values are ignored. Raises :class:`PlanningError` when the constraints
    cannot be met.
    """
    fixed = overrides.pop("sweep_angle_deg", None)
    note = overrides.pop("endurance_note", "")
    home_altitude = overrides.pop("home_altitude_m", None)
    cfg = _config(planner, overrides)
    if cfg.altitude_m > cfg.ceiling_m:
        raise PlanningError(f"altitude {cfg.altitude_m:g} m above the ceiling of {cfg.ceiling_m:g} m")
    if cfg.altitude_m < cfg.floor_m:
        raise PlanningError(f"altitude {cfg.altitude_m:g} m below the floor of {cfg.floor_m:g} m")
    planner_run = _Planner(areas, cfg, camera, fixed)
    planner_run.home_altitude_m = home_altitude
    result = planner_run.run(cfg.loop_count)
    return replace(result, endurance_note=note) if note else result
