"""Planner quality and speed: route length, coverage, no-fly respect, waypoints, sorties, planning time.

Cases: the samples in flight_plans/, a 1 km2 concave polygon with three holes,
rotated 30 degrees, next to a no-fly zone, a district of 20 blocks and 5 no-fly
zones, and a seeded set of random fields (convex, concave and holed, 20 to 200
vertices, with and without a no-fly zone across the border).

Per case: the route home to home (as planned, and as one sortie, so that the
battery split does not blur it), the least coverage of an area (the planner's own
figure, and one recomputed from the written .plan files on a 3 m grid), waypoints,
sorties, no-fly hits (waypoints or legs inside a zone), waypoint clusters (legs
shorter than the minimum spacing near a no-fly zone) and the planning time (CPU
time of this single-threaded process, best of 3, so that other load on a shared
machine counts less; wall time beside it).

Targets: coverage >= 99.9 % (a perimeter: >= 99 % of the footprint-wide band inside
its boundary), 0 no-fly hits, 0 clusters; the 1 km2 field no longer
than Fields2Cover 2.1.0's route planner (34,164 m home to home, the target row
from issue 18) and planned in under 0.3 s; the district in under 0.5 s; every other
case in under 1 s.
"""

from __future__ import annotations

import itertools
import math
import time
from pathlib import Path
from typing import Any

from shapely import affinity
from shapely.geometry import LineString, Point, Polygon, box

from drone_patrol.core.config import CameraConfig, PlannerConfig
from drone_patrol.core.geo import LocalFrame
from drone_patrol.core.types import GeoPoint, MavCmd
from drone_patrol.mission.areas import AreaSet, load_areas, parse_areas
from drone_patrol.planner.plan import PlanResult, plan_patrol

TITLE = "Mission planner: coverage, no-fly respect, sweep angle, planning time"
ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ["guilin_dongxi_xiang", "concave_block_with_courtyard", "nofly_across_the_way", "zhongshan_street_corridor"]


def concave_km2() -> AreaSet:
    """A 1.0x1.2 km E-shaped block (about 1 km2) with three holes, turned 30 degrees, and a no-fly zone beside it."""
    origin = GeoPoint(25.2600, 110.2800)
    frame = LocalFrame(origin)
    shape = box(0, 0, 1000, 1200).difference(box(400, 250, 1000, 450)).difference(box(400, 750, 1000, 950))
    for hole in (box(100, 100, 250, 200), box(150, 550, 300, 700), box(500, 1000, 700, 1100)):
        shape = shape.difference(hole)
    shape = affinity.rotate(shape, 30, origin=(0, 0))
    nofly = affinity.rotate(box(1050, 500, 1250, 700), 30, origin=(0, 0))

    def ring(coords: Any) -> list[list[float]]:
        return [[float(a), float(b)] for a, b in frame.en_to_lonlat(list(coords))]

    assert isinstance(shape, Polygon)
    feats = [
        {
            "type": "Feature",
            "properties": {"name": "home", "role": "home"},
            "geometry": {"type": "Point", "coordinates": ring([(-60, -60)])[0]},
        },
        {
            "type": "Feature",
            "properties": {"name": "km2-block", "role": "patrol"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [ring(shape.exterior.coords), *(ring(h.coords) for h in shape.interiors)],
            },
        },
        {
            "type": "Feature",
            "properties": {"name": "substation", "role": "no_fly"},
            "geometry": {"type": "Polygon", "coordinates": [ring(nofly.exterior.coords)]},
        },
    ]
    return parse_areas(feats, "km2-concave-three-holes")


def district_20() -> AreaSet:
    """Twenty blocks of three priorities and five no-fly zones over 1.3 x 1.3 km (random, seeded)."""
    import random

    rnd = random.Random(3)
    frame = LocalFrame(GeoPoint(25.2600, 110.2800))

    def ring(x: float, y: float, w: float, h: float) -> list[list[float]]:
        pts = [(x, y), (x + w, y), (x + w, y + h), (x, y + h), (x, y)]
        return [[float(a), float(b)] for a, b in frame.en_to_lonlat(pts)]

    feats: list[dict[str, Any]] = [
        {
            "type": "Feature",
            "properties": {"name": "home", "role": "home"},
            "geometry": {"type": "Point", "coordinates": [110.28, 25.26]},
        }
    ]
    for i in range(20):
        x, y = rnd.uniform(-600, 600), rnd.uniform(-600, 600)
        geom = {"type": "Polygon", "coordinates": [ring(x, y, rnd.uniform(40, 120), rnd.uniform(40, 120))]}
        feats.append(
            {"type": "Feature", "properties": {"name": f"block-{i}", "priority": rnd.randint(1, 3)}, "geometry": geom}
        )
    for i in range(5):
        x, y = rnd.uniform(-600, 600), rnd.uniform(-600, 600)
        feats.append(
            {
                "type": "Feature",
                "properties": {"name": f"no-fly-{i}", "role": "no_fly"},
                "geometry": {"type": "Polygon", "coordinates": [ring(x, y, 80, 60)]},
            }
        )
    return parse_areas(feats, "district-20-areas-5-no-fly")


def nofly_violations(result: PlanResult) -> int:
    """Waypoints and legs (the flown lines, home to home) that touch a no-fly zone."""
    zones = result.nofly_m
    if zones.is_empty:
        return 0
    bad = 0
    for mission, route in zip(result.sorties, result.routes_m, strict=True):
        for w in mission.items:
            if w.command == MavCmd.NAV_WAYPOINT:
                e, n = result.frame.lonlat_to_en([(w.longitude_deg, w.latitude_deg)])[0]
                bad += int(zones.intersects(Point(e, n)))
        coords = list(route.coords)
        bad += sum(int(zones.intersects(LineString([a, b]))) for a, b in itertools.pairwise(coords))
    return bad


def file_coverage(result: PlanResult, grid_m: float = 3.0) -> float:
    """Least coverage of a coverage/corridor area, recomputed from the written .plan files alone.

    Each sortie is read back, flown as takeoff over home -> NAV_WAYPOINTs -> home, with a
    nadir footprint (from the configured camera and each waypoint's altitude) swept along
    every leg; coverage is the share of grid points (``grid_m`` apart) of the area inside
    some swept footprint. An independent check of the planner's own figure.
    """
    import tempfile

    import numpy as np
    from shapely import contains_xy

    from drone_patrol.mission.qgc_plan import read_plan, write_plan
    from drone_patrol.planner.footprint import footprint

    frame = result.frame
    legs: list[tuple[float, float, float, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, mission in enumerate(result.sorties):
            back = read_plan(write_plan(mission, Path(tmp) / f"s{k}.plan"))
            pts = [(0.0, 0.0, 0.0)]
            for w in back.items:
                if w.command == MavCmd.NAV_WAYPOINT:
                    e, n = frame.lonlat_to_en([(w.longitude_deg, w.latitude_deg)])[0]
                    pts.append((float(e), float(n), w.altitude_m))
            pts.append((0.0, 0.0, pts[-1][2]))
            legs += [(a[0], a[1], b[0], b[1], b[2]) for a, b in itertools.pairwise(pts)]
    worst = 1.0
    for area in result.areas:
        if area.pattern.value not in ("coverage", "corridor"):
            continue
        minx, miny, maxx, maxy = area.target_m.bounds
        gx, gy = np.meshgrid(np.arange(minx, maxx, grid_m) + grid_m / 2, np.arange(miny, maxy, grid_m) + grid_m / 2)
        inside = contains_xy(area.target_m, gx.ravel(), gy.ravel())
        px, py = gx.ravel()[inside], gy.ravel()[inside]
        seen = np.zeros(px.shape, dtype=bool)
        for x0, y0, x1, y1, alt in legs:
            length = math.hypot(x1 - x0, y1 - y0)
            if length < 0.01 or alt <= 0:
                continue
            fp = footprint(CameraConfig(), alt)
            ux, uy = (x1 - x0) / length, (y1 - y0) / length
            s = (px - x0) * ux + (py - y0) * uy
            t = -(px - x0) * uy + (py - y0) * ux
            seen |= (s >= -fp.along_m / 2) & (s <= length + fp.along_m / 2) & (np.abs(t) <= fp.across_m / 2)
        worst = min(worst, float(seen.mean()) if seen.size else 1.0)
    return worst


def clusters(result: PlanResult, spacing_m: float, margin_m: float) -> int:
    """Legs shorter than ``spacing_m`` with both ends within ``margin_m + spacing_m`` of a no-fly zone."""
    if result.nofly_m.is_empty:
        return 0
    near = result.nofly_m.buffer(margin_m + spacing_m)
    bad = 0
    for route in result.routes_m:
        for a, b in itertools.pairwise(route.coords):
            if 0.01 < math.dist(a, b) < spacing_m and near.intersects(Point(a)) and near.intersects(Point(b)):
                bad += 1
    return bad


def random_fields(seed: int = 18) -> list[tuple[str, AreaSet]]:
    """Seeded random fields: convex, concave (star) and holed, 20-200 vertices, with and without a no-fly zone."""
    import random

    rnd = random.Random(seed)
    frame = LocalFrame(GeoPoint(25.2600, 110.2800))

    def ring(coords: Any) -> list[list[float]]:
        pts = list(coords)
        return [[float(a), float(b)] for a, b in frame.en_to_lonlat([*pts, pts[0]])]

    out = []
    for k, (kind, vertices, nofly) in enumerate(
        itertools.product(("convex", "concave", "holed"), (20, 60, 200), (False, True))
    ):
        if not nofly and vertices == 60:
            continue
        cx, cy = rnd.uniform(150, 400), rnd.uniform(-200, 200)
        rx, ry = rnd.uniform(120, 300), rnd.uniform(100, 250)
        turn = rnd.uniform(0, math.pi)
        angles = sorted(rnd.uniform(0, 2 * math.pi) for _ in range(vertices))
        jitter = (lambda: 1.0) if kind == "convex" else (lambda: rnd.uniform(0.55, 1.0))
        pts = []
        for a in angles:
            r = jitter()
            x, y = rx * r * math.cos(a), ry * r * math.sin(a)
            pts.append((cx + x * math.cos(turn) - y * math.sin(turn), cy + x * math.sin(turn) + y * math.cos(turn)))
        shell = Polygon(pts)
        if not shell.is_valid:
            shell = shell.buffer(0)
        holes = []
        if kind == "holed":
            inner = shell.buffer(-40)
            for _ in range(rnd.randint(1, 3)):
                c = inner.representative_point() if not holes else None
                if c is None:
                    minx, miny, maxx, maxy = inner.bounds
                    c = Point(rnd.uniform(minx, maxx), rnd.uniform(miny, maxy))
                w, h = rnd.uniform(20, 70), rnd.uniform(20, 70)
                hole = box(c.x - w / 2, c.y - h / 2, c.x + w / 2, c.y + h / 2)
                if inner.contains(hole) and all(not hole.buffer(10).intersects(o) for o in holes):
                    holes.append(hole)
        feats: list[dict[str, Any]] = [
            {
                "type": "Feature",
                "properties": {"name": "home", "role": "home"},
                "geometry": {"type": "Point", "coordinates": ring([(0.0, 0.0)])[0]},
            },
            {
                "type": "Feature",
                "properties": {"name": f"field-{k}", "role": "patrol"},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [ring(shell.exterior.coords[:-1]), *(ring(h.exterior.coords[:-1]) for h in holes)],
                },
            },
        ]
        if nofly:
            # a zone across the border: centred on a boundary point, half in and half out
            edge = shell.exterior.interpolate(rnd.uniform(0, shell.exterior.length))
            zone = box(edge.x - 35, edge.y - 35, edge.x + 35, edge.y + 35)
            feats.append(
                {
                    "type": "Feature",
                    "properties": {"name": "zone", "role": "no_fly"},
                    "geometry": {"type": "Polygon", "coordinates": [ring(zone.exterior.coords[:-1])]},
                }
            )
        name = f"random-{kind}-{vertices}v{'-nofly' if nofly else ''}"
        out.append((name, parse_areas(feats, name)))
    return out


def _timed(areas: AreaSet, **kw: Any) -> tuple[PlanResult, float, float]:
    """The plan, and the best of 3 CPU times (this process, one core) and wall times."""
    cpu = wall = math.inf
    result = None
    for _ in range(3):
        t, c = time.perf_counter(), time.process_time()
        result = plan_patrol(areas, PlannerConfig(), CameraConfig(), **kw)
        cpu = min(cpu, time.process_time() - c)
        wall = min(wall, time.perf_counter() - t)
    assert result is not None
    return result, cpu, wall


#: Fields2Cover 2.1.0's route planner on the 1 km2 field, as measured in issue 18 (same swath width and path model)
F2C_KM2_ROUTE_M = 34164.0


def _row(name: str, areas: AreaSet, time_target_s: float, length_target_m: float | None = None) -> dict[str, Any]:
    cfg = PlannerConfig()
    result, seconds, wall = _timed(areas)
    length = sum(s.length_m for s in result.stats)
    swept = [a for a in result.areas if a.pattern.value in ("coverage", "corridor")]
    min_cov = min((a.coverage for a in swept), default=1.0)
    bands = [a.coverage for a in result.areas if a.pattern.value == "perimeter"]
    one = plan_patrol(areas, cfg, CameraConfig(), flight_time_s=1e7)
    one_sortie = sum(s.length_m for s in one.stats)
    bad = nofly_violations(result)
    from_files = file_coverage(result)
    cl = clusters(result, cfg.min_waypoint_spacing_m, cfg.nofly_margin_m)
    short_enough = length_target_m is None or one_sortie <= length_target_m
    ok = min_cov >= 0.999 and min(bands, default=1.0) >= 0.99 and from_files >= 0.99
    ok = ok and bad == 0 and cl == 0 and seconds < time_target_s and short_enough
    target = f"cov>=0.999, band>=0.99, 0 hits, 0 clusters, <{time_target_s:g}s"
    if length_target_m is not None:
        target += f", one sortie <={length_target_m:.0f} m"
    return {
        "case": name,
        "areas": len(result.areas),
        "route_m": round(length, 1),
        "one_sortie_m": round(one_sortie, 1),
        "sorties": len(result.sorties),
        "waypoints": sum(s.nav_waypoints for s in result.stats),
        "min_coverage": round(min_cov, 4),
        "file_coverage": round(from_files, 4),
        "perimeter_band": round(min(bands), 4) if bands else "",
        "nofly_hits": bad,
        "clusters": cl,
        "angles_deg": ",".join(f"{a.sweep_angle_deg:g}" for a in result.areas if a.sweep_angle_deg is not None)[:40],
        "plan_cpu_s": round(seconds, 3),
        "plan_wall_s": round(wall, 3),
        "target": target,
        "ok": ok,
    }


def run() -> list[dict[str, Any]]:
    """One row per case, and the Fields2Cover target row."""
    rows = [_row(name, load_areas(ROOT / "flight_plans" / f"{name}.geojson"), 1.0) for name in SAMPLES]
    rows.append(_row("km2-concave-three-holes", concave_km2(), 0.3, F2C_KM2_ROUTE_M))
    rows.append(
        {
            "case": "km2 target: Fields2Cover 2.1.0 route planner (issue 18)",
            "one_sortie_m": F2C_KM2_ROUTE_M,
            "min_coverage": "0.95-0.998 (32 fields)",
            "nofly_hits": "39 (32 fields)",
        }
    )
    rows.append(_row("district-20-areas-5-no-fly", district_20(), 0.5))
    rows.extend(_row(name, areas, 1.0) for name, areas in random_fields())
    return rows
