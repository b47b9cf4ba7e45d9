"""Perimeter, corridor and orbit patterns, as entry/exit variants in local metres."""

from __future__ import annotations

import math

import numpy as np
from shapely.geometry import LineString, MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry

from drone_patrol.planner.ordering import Variant

XY = tuple[float, float]


def _length(pts: list[XY]) -> float:
    return sum(math.dist(pts[i], pts[i + 1]) for i in range(len(pts) - 1))


def _largest(geom: BaseGeometry) -> Polygon | None:
    parts = [g for g in getattr(geom, "geoms", [geom]) if isinstance(g, Polygon) and not g.is_empty]
    return max(parts, key=lambda p: p.area) if parts else None


def perimeter_variants(
    poly: Polygon | MultiPolygon, across_m: float, clockwise: bool, entries: int = 8
) -> list[Variant]:
    """A closed ring inset by half the footprint from the outer boundary, flown in one direction.

    The ring is entered at one of up to ``entries`` vertices spread along it; an area
    narrower than the footprint is flown along a smaller inset (or its boundary).
    """
    base = _largest(poly)
    if base is None:
        return []
    ring = None
    for inset in (across_m / 2.0, across_m / 4.0, 0.0):
        shrunk = (
            _largest(Polygon(base.exterior).buffer(-inset, join_style="mitre")) if inset else Polygon(base.exterior)
        )
        if shrunk is not None and shrunk.area > 1.0:
            ring = shrunk.exterior
            break
    if ring is None:
        c = base.representative_point()
        return [Variant(((c.x, c.y),), 0.0)]
    coords = [(float(x), float(y)) for x, y in ring.coords][:-1]
    if ring.is_ccw == clockwise:
        coords.reverse()
    n = len(coords)
    picks = sorted({round(i * n / min(entries, n)) % n for i in range(min(entries, n))})
    out = []
    for k in picks:
        pts = coords[k:] + coords[:k] + [coords[k]]
        out.append(Variant(tuple(pts), _length(pts)))
    return out


def corridor_variants(line: LineString, width_m: float, across_m: float, spacing_m: float) -> list[Variant]:
    """Parallel passes along a street so that their footprints cover ``width_m``; boustrophedon between them."""
    usable = width_m - across_m
    n = 1 if usable <= 0 else math.ceil(usable / spacing_m - 1e-9) + 1
    offsets = [0.0] if n == 1 else list(np.linspace(-usable / 2.0, usable / 2.0, n))
    passes: list[list[XY]] = []
    for off in offsets:
        curve = line if abs(off) < 1e-9 else line.offset_curve(float(off), join_style="mitre", mitre_limit=3.0)
        parts = [g for g in getattr(curve, "geoms", [curve]) if isinstance(g, LineString) and g.length > 0]
        # a pass split at a tight bend comes back in pieces: join them in the street's direction
        parts.sort(key=lambda g: line.project(Point(g.coords[0])))
        joined = [(float(x), float(y)) for g in parts for x, y in g.coords]
        if len(joined) >= 2:
            passes.append(joined)
    out = []
    for order in (passes, passes[::-1]):
        for flip in (False, True):
            pts: list[XY] = []
            for i, p in enumerate(order):
                forward = (i % 2 == 0) != flip
                pts.extend(p if forward else p[::-1])
            out.append(Variant(tuple(pts), _length(pts)))
    return out


def orbit_variants(
    centre: Point, radius_m: float, loops: float, points_per_loop: int, clockwise: bool = True, entries: int = 8
) -> list[Variant]:
    """``loops`` turns of a circle of ``radius_m`` around ``centre`` (waypoints every 360/points_per_loop degrees)."""
    steps = max(2, math.ceil(loops * points_per_loop - 1e-9))
    sign = -1.0 if clockwise else 1.0
    out = []
    for e in range(entries):
        a0 = 2 * math.pi * e / entries
        pts = [
            (
                centre.x + radius_m * math.cos(a0 + sign * 2 * math.pi * loops * i / steps),
                centre.y + radius_m * math.sin(a0 + sign * 2 * math.pi * loops * i / steps),
            )
            for i in range(steps + 1)
        ]
        out.append(Variant(tuple(pts), _length(pts)))
    return out
