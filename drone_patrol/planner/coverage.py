"""Boustrophedon coverage of a polygon with holes: swath pieces ordered one by one, at the best sweep angle.

For a sweep angle the polygon is rotated so that sweep lines run along x; lines are
laid ``spacing`` apart, the outer ones half a footprint inside the extremes. Each
line's intersection with the polygon gives segments; a segment reaches as far as
the polygon does within the line's footprint strip (sloping edges), less the half
footprint the camera sees beyond its ends. Every such swath piece is then ordered
individually, entry end included, over the graph of piece ends and transits
(:mod:`drone_patrol.planner.swaths`), rather than flying fixed cells as lawnmowers.

The sweep angle is searched in :mod:`drone_patrol.planner.sweep_angle`."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from shapely import affinity
from shapely.geometry import LineString, MultiPolygon, Polygon, box
from shapely.geometry.base import BaseGeometry

from drone_patrol.planner.ordering import Variant
from drone_patrol.planner.swaths import PairMetric, order_swaths, tour_length

XY = tuple[float, float]


@dataclass(frozen=True)
class Sweep:
    """One built coverage route over a polygon: variants of the full path (entry/exit choices)."""

    angle_deg: float
    variants: tuple[Variant, ...]
    lines: int
    pieces: int
    time_s: float


def parts_of(geom: BaseGeometry) -> list[BaseGeometry]:
    """The parts of a (multi)geometry, none when empty."""
    if geom.is_empty:
        return []
    return list(getattr(geom, "geoms", [geom]))


def _line_offsets(ymin: float, ymax: float, spacing: float, across: float) -> np.ndarray:
    height = ymax - ymin
    if height <= across:
        return np.array([(ymin + ymax) / 2.0])
    n = math.ceil((height - across) / spacing - 1e-9) + 1
    return np.linspace(ymin + across / 2.0, ymax - across / 2.0, n)


def ring_edges(geom: BaseGeometry) -> np.ndarray:
    """All ring edges of a polygon (or multipolygon) as an (N, 4) array x0, y0, x1, y1."""
    out = []
    for part in parts_of(geom):
        for ring in (part.exterior, *part.interiors):
            c = np.asarray(ring.coords, dtype=np.float64)[:, :2]
            out.append(np.column_stack([c[:-1], c[1:]]))
    return np.vstack(out) if out else np.zeros((0, 4))


def _segments(rot: BaseGeometry | np.ndarray, ys: np.ndarray) -> list[list[tuple[float, float]]]:
    """Per line, the sorted (x0, x1) intervals where the line y = const crosses the rotated polygon.

    Even-odd rule over every ring edge (half-open in y, so a line through a vertex
    counts it once), which handles holes and concave shapes alike. ``rot`` is the
    polygon or its :func:`ring_edges` array.
    """
    e = rot if isinstance(rot, np.ndarray) else ring_edges(rot)
    y = ys[:, None]
    y0, y1 = e[None, :, 1], e[None, :, 3]
    crosses = (y0 <= y) != (y1 <= y)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = e[None, :, 0] + (y - y0) * (e[None, :, 2] - e[None, :, 0]) / (y1 - y0)
    out: list[list[tuple[float, float]]] = []
    for k in range(len(ys)):
        xs = np.sort(x[k][crosses[k]])
        segs = [(float(xs[i]), float(xs[i + 1])) for i in range(0, len(xs) - 1, 2) if xs[i + 1] - xs[i] > 1e-6]
        out.append(segs)
    return out


def _strip(rot: BaseGeometry, y: float, across: float) -> list[BaseGeometry]:
    """The pieces of the polygon within the footprint strip of the sweep line at ``y``."""
    minx, _, maxx, _ = rot.bounds
    return parts_of(box(minx - 1.0, y - across / 2.0, maxx + 1.0, y + across / 2.0).intersection(rot))


def _extend(
    rot: BaseGeometry,
    near: BaseGeometry,
    y: float,
    seg: tuple[float, float],
    across: float,
    along: float,
    strip: list[BaseGeometry] | None = None,
) -> tuple[float, float]:
    """Lengthen a segment to reach the polygon's extent within the line's footprint strip.

    The extension keeps within ``near`` (the polygon grown by half a footprint), so it
    never crosses a hole wider than the footprint or runs far outside along an edge.
    ``strip`` is :func:`_strip` of the line, when already known.
    """
    x0, x1 = seg
    minx, _, maxx, _ = rot.bounds
    look = maxx - minx
    pieces = strip if strip is not None else _strip(rot, y, across)
    comp = next((c for c in pieces if c.intersects(LineString([(x0, y), (x1, y)]))), None)
    if comp is None:
        return seg
    cminx, _, cmaxx, _ = comp.bounds
    # the camera sees half a footprint beyond each end: end there (shorter where the edge is square)
    left = max(cminx + along / 2.0, x0 - look)
    right = min(cmaxx - along / 2.0, x1 + look)
    if right > x1:
        reach = LineString([(x1, y), (right, y)]).intersection(near)
        right = max(
            (
                max(c[0] for c in g.coords)
                for g in parts_of(reach)
                if isinstance(g, LineString) and min(c[0] for c in g.coords) <= x1 + 1e-6
            ),
            default=x1,
        )
    if left < x0:
        reach = LineString([(left, y), (x0, y)]).intersection(near)
        left = min(
            (
                min(c[0] for c in g.coords)
                for g in parts_of(reach)
                if isinstance(g, LineString) and max(c[0] for c in g.coords) >= x0 - 1e-6
            ),
            default=x0,
        )
    mid = (x0 + x1) / 2.0
    return (min(left, mid), max(right, mid))


def _trim(
    seg: tuple[float, float], orig: tuple[float, float], y: float, forbidden: BaseGeometry | None
) -> tuple[float, float]:
    """Undo the parts of an extension that enter the forbidden region."""
    if forbidden is None or forbidden.is_empty:
        return seg
    left, right = seg
    if left < orig[0]:
        ext = LineString([(orig[0], y), (left, y)])
        if ext.intersects(forbidden):
            hit = ext.intersection(forbidden)
            left = max(c[0] for g in parts_of(hit) for c in getattr(g, "coords", [(orig[0], y)])) + 0.5
            left = min(left, orig[0])
    if right > orig[1]:
        ext = LineString([(orig[1], y), (right, y)])
        if ext.intersects(forbidden):
            hit = ext.intersection(forbidden)
            right = min(c[0] for g in parts_of(hit) for c in getattr(g, "coords", [(orig[1], y)])) - 0.5
            right = max(right, orig[1])
    return (left, right)


def _merge(line: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Join the segments of one line that overlap once lengthened."""
    out: list[tuple[float, float]] = []
    for x0, x1 in sorted(line):
        if out and x0 <= out[-1][1] + 1e-6:
            out[-1] = (out[-1][0], max(out[-1][1], x1))
        else:
            out.append((x0, x1))
    return out


def _patches(
    part: BaseGeometry,
    ext: list[list[tuple[float, float]]],
    ys: np.ndarray,
    spacing: float,
    across: float,
    along: float,
) -> list[tuple[XY, XY]]:
    """Extra passes over what the sweep's footprints miss (e.g. beyond a no-fly notch at the last line)."""
    seen = [
        box(x0 - along / 2.0, float(ys[k]) - across / 2.0, x1 + along / 2.0, float(ys[k]) + across / 2.0)
        for k, line in enumerate(ext)
        for x0, x1 in line
    ]
    missed = part.difference(shapely.union_all(seen)) if seen else part
    floor = max(5.0, 0.0002 * part.area)
    out: list[tuple[XY, XY]] = []
    for piece in parts_of(missed):
        if not isinstance(piece, Polygon) or piece.area < floor:
            continue
        _, pmin, _, pmax = piece.bounds
        pys = _line_offsets(pmin, pmax, spacing, across)
        for y, line in zip(pys, _segments(piece, pys), strict=True):
            if not line:
                c = piece.representative_point()
                line, y = [(c.x, c.x)], c.y
            for x0, x1 in line:
                out.append(((float(x0), float(y)), (float(x1), float(y))))
    return out


def _path_length(pts: list[XY]) -> float:
    return sum(math.dist(pts[i], pts[i + 1]) for i in range(len(pts) - 1))


def sweep_pieces(
    rot: BaseGeometry,
    spacing: float,
    across: float,
    along: float,
    rot_forbidden: BaseGeometry | None = None,
) -> tuple[list[tuple[XY, XY]], int]:
    """The swath pieces of a polygon already turned so that sweep lines run along x, and the line count."""
    pieces: list[tuple[XY, XY]] = []
    lines = 0
    for part in parts_of(rot):
        _, ymin, _, ymax = part.bounds
        ys = _line_offsets(ymin, ymax, spacing, across)
        segs = _segments(part, ys)
        if not any(segs):
            c = part.representative_point()
            ys, segs = np.array([c.y]), [[(c.x, c.x)]]
        lines += len(ys)
        near = part.buffer(across / 2.0)
        ext = []
        for k, line in enumerate(segs):
            y = float(ys[k])
            strip = _strip(part, y, across) if line else []
            ext.append([_trim(_extend(part, near, y, s, across, along, strip), s, y, rot_forbidden) for s in line])
        ext = [_merge(line) for line in ext]
        pieces.extend(((x0, float(ys[k])), (x1, float(ys[k]))) for k, line in enumerate(ext) for x0, x1 in line)
        pieces.extend(_patches(part, ext, ys, spacing, across, along))
    return pieces, lines


def _flown(pieces: list[tuple[XY, XY]], plan: list[tuple[int, bool]]) -> list[XY]:
    pts: list[XY] = []
    for i, rev in plan:
        a, b = pieces[i]
        pts.extend((b, a) if rev else (a, b))
    return pts


def build_sweep(
    poly: Polygon | MultiPolygon,
    angle_deg: float,
    spacing: float,
    across: float,
    along: float,
    speed: float,
    turn_s: float,
    forbidden: BaseGeometry | None = None,
    all_entries: bool = True,
    metric: PairMetric | None = None,
    home: XY = (0.0, 0.0),
    _memo: dict[float, tuple[list[tuple[XY, XY]], int]] | None = None,
) -> Sweep:
    """The complete coverage route of ``poly`` at ``angle_deg`` with its entry variants.

    The swath pieces are ordered one by one (:func:`order_swaths`) as a tour from
    ``home`` and back; with ``all_entries`` that cycle is also cut at its longest
    transits and at points spread along it, so that a route over several areas can
    enter the area elsewhere; each route is offered in both directions. ``metric``
    measures transits (e.g. around no-fly zones) in the unturned frame.
    """
    origin = (0.0, 0.0)
    rot = affinity.rotate(poly, -angle_deg, origin=origin)
    if _memo is not None and angle_deg in _memo:
        pieces, lines = _memo[angle_deg]
    else:
        rot_forbidden = affinity.rotate(forbidden, -angle_deg, origin=origin) if forbidden is not None else None
        pieces, lines = sweep_pieces(rot, spacing, across, along, rot_forbidden)
        if _memo is not None:
            _memo[angle_deg] = (pieces, lines)
    rot_metric = None
    if metric is not None:
        a = math.radians(angle_deg)
        turn = np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]])
        rot_metric = lambda pts: metric(pts @ turn)  # noqa: E731
    h = _unrotate([home], -angle_deg)[0]
    plan = order_swaths(pieces, h, h, rot_metric, perturbations=3 if all_entries else 0)
    tour = tour_length(pieces, plan, h, h)
    plans = [plan]
    if all_entries and len(plan) > 2:
        # the tour is a cycle through home: cut it elsewhere to enter the area at other places
        # (at its longest transits, and at points spread along it) for routes over several areas
        flown = _flown(pieces, plan)
        gaps = [math.dist(flown[2 * k + 1], flown[2 * k + 2]) for k in range(len(plan) - 1)]
        longest = sorted(range(len(gaps)), key=lambda k: -gaps[k])[:1]
        spread = [round(len(plan) * f) - 1 for f in (1 / 3, 2 / 3)]
        for k in sorted({*longest, *spread} - {-1, len(plan) - 1}):
            plans.append(plan[k + 1 :] + plan[: k + 1])
    variants: list[Variant] = []
    seen: set[tuple[XY, XY]] = set()
    for plan in plans:
        pts = _flown(pieces, plan)
        for cand in (pts, pts[::-1]):
            key = (cand[0], cand[-1])
            if key in seen:
                continue
            seen.add(key)
            back = _unrotate(cand, angle_deg)
            variants.append(Variant(tuple(back), _path_length(back)))
    return Sweep(angle_deg, tuple(variants), lines, len(pieces), tour / speed + 2 * len(pieces) * turn_s)


def _corners(geom: BaseGeometry) -> list[XY]:
    minx, miny, maxx, maxy = geom.bounds
    return [(minx, miny), (maxx, miny), (maxx, maxy), (minx, maxy)]


def _unrotate(pts: list[XY], angle_deg: float) -> list[XY]:
    a = math.radians(angle_deg)
    c, s = math.cos(a), math.sin(a)
    return [(x * c - y * s, x * s + y * c) for x, y in pts]
