"""Perimeter, corridor and orbit patterns, as entry/exit variants in local metres."""

from __future__ import annotations

import math

import shapely
from shapely.geometry import LineString, MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry

from drone_patrol.planner.ordering import Variant, order_units

XY = tuple[float, float]


def _length(pts: list[XY]) -> float:
    return sum(math.dist(pts[i], pts[i + 1]) for i in range(len(pts) - 1))


def _largest(geom: BaseGeometry) -> Polygon | None:
    parts = [g for g in getattr(geom, "geoms", [geom]) if isinstance(g, Polygon) and not g.is_empty]
    return max(parts, key=lambda p: p.area) if parts else None


def _parts(geom: BaseGeometry) -> list[Polygon]:
    return [g for g in getattr(geom, "geoms", [geom]) if isinstance(g, Polygon) and g.area > 1.0]


def perimeter_band(poly: BaseGeometry, across_m: float) -> BaseGeometry:
    """What a perimeter patrol must see: the band one footprint wide inside the outer boundary of every part."""
    bands = []
    for part in _parts(poly):
        outer = Polygon(part.exterior)
        bands.append(part.difference(outer.buffer(-across_m, join_style="mitre")))
    return shapely.union_all(bands) if bands else Polygon()


def _spurs(coords: list[XY], outer: Polygon, inset: float, along_m: float) -> list[XY]:
    """``coords`` with a short out-and-back leg towards each corner sharper than a right angle.

    A ring inset by half the footprint sees a right-angled corner whole; at a sharper
    corner the inset vertex lies further from the corner than the footprint reaches,
    so the route flies towards the corner until the footprint, which sees
    ``along_m / 2`` ahead, takes in its tip, and comes back.
    """
    corners = [(float(x), float(y)) for x, y in outer.exterior.coords][:-1]
    reach = inset * math.sqrt(2.0) + 1.0
    out: list[XY] = []
    for v in coords:
        out.append(v)
        c = min(corners, key=lambda q: math.dist(q, v))
        d = math.dist(c, v)
        if inset > 0 and d > reach and d > along_m / 2.0:
            t = (d - along_m / 2.0) / d
            out.extend([(v[0] + (c[0] - v[0]) * t, v[1] + (c[1] - v[1]) * t), v])
    return out


def _ring(part: Polygon, across_m: float, along_m: float, clockwise: bool) -> list[XY]:
    """The closed ring of one part inset by half the footprint (a smaller inset where the part is narrow)."""
    for inset in (across_m / 2.0, across_m / 4.0, 0.0):
        outer = Polygon(part.exterior)
        shrunk = _largest(outer.buffer(-inset, join_style="mitre")) if inset else outer
        if shrunk is not None and shrunk.area > 1.0:
            ring = shrunk.exterior
            coords = [(float(x), float(y)) for x, y in ring.coords][:-1]
            if ring.is_ccw == clockwise:
                coords.reverse()
            return _spurs(coords, outer, inset, along_m)
    c = part.representative_point()
    return [(float(c.x), float(c.y))]


def _ring_entries(coords: list[XY], entries: int) -> list[Variant]:
    n = len(coords)
    if n == 1:
        return [Variant((coords[0],), 0.0)]
    picks = sorted({round(i * n / min(entries, n)) % n for i in range(min(entries, n))})
    out = []
    for k in picks:
        pts = coords[k:] + coords[:k] + [coords[k]]
        out.append(Variant(tuple(pts), _length(pts)))
    return out


def perimeter_variants(
    poly: Polygon | MultiPolygon, across_m: float, clockwise: bool, entries: int = 8, along_m: float | None = None
) -> list[Variant]:
    """Closed rings inset by half the footprint from the outer boundary of every part, flown in one direction.

    A ring's footprint covers the band one footprint wide inside the boundary
    (:func:`perimeter_band`). Each ring is entered at one of up to ``entries``
    vertices spread along it; an area narrower than the footprint is flown along a
    smaller inset (or its boundary). With several parts, the rings are chained in
    the shortest order found from each corner of the area (one variant per corner).
    """
    parts = _parts(poly)
    if not parts:
        return []
    along = across_m if along_m is None else along_m
    rings = [_ring_entries(_ring(p, across_m, along, clockwise), entries) for p in parts]
    if len(rings) == 1:
        return rings[0]
    minx, miny, maxx, maxy = poly.bounds
    out: list[Variant] = []
    for corner in ((minx, miny), (maxx, miny), (maxx, maxy), (minx, maxy)):
        plan = order_units(corner, corner, rings, [0] * len(rings), return_to_end=False)
        pts = [p for u, v in plan for p in rings[u][v].points]
        out.append(Variant(tuple(pts), _length(pts)))
    return out


def corridor_offsets(width_m: float, across_m: float, spacing_m: float) -> list[float]:
    """Offsets (m, left positive) of the fewest passes whose footprints cover a street ``width_m`` wide.

    One pass down the middle when one footprint (``across_m``) covers the width;
    otherwise the fewest passes ``n`` whose footprints reach both kerbs with
    neighbours at most ``spacing_m`` apart (the sweep's side overlap), spread evenly:
    each down the middle of one of ``n`` equal strips of the street (closer
    together only where the overlap asks for it), symmetric about the centre line.
    """
    if width_m <= across_m + 1e-9:
        return [0.0]
    n = math.ceil((width_m - across_m) / spacing_m - 1e-9) + 1
    gap = min(width_m / n, spacing_m)
    return [float((k - (n - 1) / 2.0) * gap) for k in range(n)]


def corridor_variants(line: LineString, width_m: float, across_m: float, spacing_m: float) -> list[Variant]:
    """Parallel passes along a street so that their footprints cover ``width_m``; boustrophedon between them."""
    offsets = corridor_offsets(width_m, across_m, spacing_m)
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
