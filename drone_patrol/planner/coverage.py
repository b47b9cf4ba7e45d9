"""Boustrophedon (lawnmower) coverage of a polygon with holes, at the best sweep angle.

For a sweep angle the polygon is rotated so that sweep lines run along x; lines are
laid ``spacing`` apart, the outer ones half a footprint inside the extremes. Each
line's intersection with the polygon gives segments; a segment is lengthened where
the polygon reaches further within the line's footprint strip (sloping edges), less
the half footprint the camera sees beyond its end. Segments of neighbouring lines
that overlap one-to-one form a cell (boustrophedon cell decomposition: a cell ends
where the polygon splits or merges, at holes and concavities); each cell is flown as
a lawnmower and the cells are ordered like the areas of a route.

The angle is searched by brute force (as Fields2Cover's swath generator does): a
coarse pass over [0, 180) scores every angle by flight time (length at cruise speed
plus turns), the best few and the polygon's long-edge directions are refined and
built in full, and the fastest complete route wins.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import shapely
from shapely import affinity
from shapely.geometry import LineString, MultiPolygon, Polygon, box
from shapely.geometry.base import BaseGeometry

from drone_patrol.planner.ordering import Variant, order_units

XY = tuple[float, float]


@dataclass(frozen=True)
class Sweep:
    """One built coverage route over a polygon: variants of the full path (entry/exit choices)."""

    angle_deg: float
    variants: tuple[Variant, ...]
    lines: int
    cells: int
    time_s: float


def _pieces(geom: BaseGeometry) -> list[BaseGeometry]:
    if geom.is_empty:
        return []
    return list(getattr(geom, "geoms", [geom]))


def _line_offsets(ymin: float, ymax: float, spacing: float, across: float) -> np.ndarray:
    height = ymax - ymin
    if height <= across:
        return np.array([(ymin + ymax) / 2.0])
    n = math.ceil((height - across) / spacing - 1e-9) + 1
    return np.linspace(ymin + across / 2.0, ymax - across / 2.0, n)


def _edges(geom: BaseGeometry) -> np.ndarray:
    """All ring edges of a polygon (or multipolygon) as an (N, 4) array x0, y0, x1, y1."""
    out = []
    for part in _pieces(geom):
        for ring in (part.exterior, *part.interiors):
            c = np.asarray(ring.coords, dtype=np.float64)[:, :2]
            out.append(np.column_stack([c[:-1], c[1:]]))
    return np.vstack(out) if out else np.zeros((0, 4))


def _segments(rot: BaseGeometry | np.ndarray, ys: np.ndarray) -> list[list[tuple[float, float]]]:
    """Per line, the sorted (x0, x1) intervals where the line y = const crosses the rotated polygon.

    Even-odd rule over every ring edge (half-open in y, so a line through a vertex
    counts it once), which handles holes and concave shapes alike. ``rot`` is the
    polygon or its :func:`_edges` array.
    """
    e = rot if isinstance(rot, np.ndarray) else _edges(rot)
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


def _rotate_edges(edges: np.ndarray, angle_deg: float) -> np.ndarray:
    """Edges turned by ``-angle_deg`` about the origin (as affinity.rotate(geom, -angle) would)."""
    a = math.radians(-angle_deg)
    c, s = math.cos(a), math.sin(a)
    out = np.empty_like(edges)
    out[:, 0] = edges[:, 0] * c - edges[:, 1] * s
    out[:, 1] = edges[:, 0] * s + edges[:, 1] * c
    out[:, 2] = edges[:, 2] * c - edges[:, 3] * s
    out[:, 3] = edges[:, 2] * s + edges[:, 3] * c
    return out


def quick_cost(
    poly: Polygon | np.ndarray, angle_deg: float, spacing: float, across: float, speed: float, turn_s: float
) -> float:
    """Estimated time (s) of a sweep at ``angle_deg``: segment length, line changes, turns.

    ``poly`` may be given as its :func:`_edges` array (faster when many angles are tried).
    """
    e = _rotate_edges(poly if isinstance(poly, np.ndarray) else _edges(poly), angle_deg)
    ys_all = e[:, [1, 3]]
    ymin, ymax = float(ys_all.min()), float(ys_all.max())
    ys = _line_offsets(ymin, ymax, spacing, across)
    segs = _segments(e, ys)
    length = sum(x1 - x0 for line in segs for x0, x1 in line)
    count = sum(len(line) for line in segs)
    return (length + count * spacing) / speed + 2 * count * turn_s


def _extend(
    rot: BaseGeometry, near: BaseGeometry, y: float, seg: tuple[float, float], across: float, along: float
) -> tuple[float, float]:
    """Lengthen a segment to reach the polygon's extent within the line's footprint strip.

    The extension keeps within ``near`` (the polygon grown by half a footprint), so it
    never crosses a hole wider than the footprint or runs far outside along an edge.
    """
    x0, x1 = seg
    minx, _, maxx, _ = rot.bounds
    look = maxx - minx
    strip = box(x0 - look, y - across / 2.0, x1 + look, y + across / 2.0).intersection(rot)
    comp = next((c for c in _pieces(strip) if c.intersects(LineString([(x0, y), (x1, y)]))), None)
    if comp is None:
        return seg
    cminx, _, cmaxx, _ = comp.bounds
    left = min(x0, max(cminx + along / 2.0, x0 - look))
    right = max(x1, min(cmaxx - along / 2.0, x1 + look))
    if right > x1:
        reach = LineString([(x1, y), (right, y)]).intersection(near)
        right = max(
            (
                max(c[0] for c in g.coords)
                for g in _pieces(reach)
                if isinstance(g, LineString) and min(c[0] for c in g.coords) <= x1 + 1e-6
            ),
            default=x1,
        )
    if left < x0:
        reach = LineString([(left, y), (x0, y)]).intersection(near)
        left = min(
            (
                min(c[0] for c in g.coords)
                for g in _pieces(reach)
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
            left = max(c[0] for g in _pieces(hit) for c in getattr(g, "coords", [(orig[0], y)])) + 0.5
            left = min(left, orig[0])
    if right > orig[1]:
        ext = LineString([(orig[1], y), (right, y)])
        if ext.intersects(forbidden):
            hit = ext.intersection(forbidden)
            right = min(c[0] for g in _pieces(hit) for c in getattr(g, "coords", [(orig[1], y)])) - 0.5
            right = max(right, orig[1])
    return (left, right)


def _cells(segs: list[list[tuple[float, float]]]) -> list[list[tuple[int, tuple[float, float]]]]:
    """Chain segments of consecutive lines that overlap one-to-one into cells."""
    cells: list[list[tuple[int, tuple[float, float]]]] = []
    open_cells: list[int] = []
    for k, line in enumerate(segs):
        new_open: list[int] = []
        prev = [(ci, cells[ci][-1][1]) for ci in open_cells]
        for s in line:
            over = [ci for ci, p in prev if p[0] < s[1] and s[0] < p[1]]
            if len(over) == 1:
                p = cells[over[0]][-1][1]
                partners = [t for t in line if p[0] < t[1] and t[0] < p[1]]
                if len(partners) == 1:
                    cells[over[0]].append((k, s))
                    new_open.append(over[0])
                    continue
            cells.append([(k, s)])
            new_open.append(len(cells) - 1)
        open_cells = new_open
    return cells


def _cell_paths(cell: list[tuple[int, tuple[float, float]]], ys: np.ndarray) -> list[list[XY]]:
    """The 4 lawnmower paths of a cell (start at first or last line, from the left or right)."""
    out = []
    for order in (cell, cell[::-1]):
        for flip in (False, True):
            pts: list[XY] = []
            for i, (k, (x0, x1)) in enumerate(order):
                y = float(ys[k])
                forward = (i % 2 == 0) != flip
                pts.extend([(x0, y), (x1, y)] if forward else [(x1, y), (x0, y)])
            out.append(pts)
    return out


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
) -> list[list[list[XY]]]:
    """Extra passes over what the sweep's footprints miss (e.g. beyond a no-fly notch at the last line)."""
    seen = [
        box(x0 - along / 2.0, float(ys[k]) - across / 2.0, x1 + along / 2.0, float(ys[k]) + across / 2.0)
        for k, line in enumerate(ext)
        for x0, x1 in line
    ]
    missed = part.difference(shapely.union_all(seen)) if seen else part
    floor = max(20.0, 0.001 * part.area)
    out: list[list[list[XY]]] = []
    for piece in _pieces(missed):
        if not isinstance(piece, Polygon) or piece.area < floor:
            continue
        _, pmin, _, pmax = piece.bounds
        pys = _line_offsets(pmin, pmax, spacing, across)
        for y, line in zip(pys, _segments(piece, pys), strict=True):
            if not line:
                c = piece.representative_point()
                line, y = [(c.x, c.x)], c.y
            for x0, x1 in line:
                a, b = (float(x0), float(y)), (float(x1), float(y))
                out.append([[a, b], [b, a]])
    return out


def _path_length(pts: list[XY]) -> float:
    return sum(math.dist(pts[i], pts[i + 1]) for i in range(len(pts) - 1))


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
) -> Sweep:
    """The complete coverage route of ``poly`` at ``angle_deg`` with its entry variants."""
    origin = (0.0, 0.0)
    rot = affinity.rotate(poly, -angle_deg, origin=origin)
    rot_forbidden = affinity.rotate(forbidden, -angle_deg, origin=origin) if forbidden is not None else None
    cell_paths: list[list[list[XY]]] = []
    lines = 0
    for part in _pieces(rot):
        _, ymin, _, ymax = part.bounds
        ys = _line_offsets(ymin, ymax, spacing, across)
        segs = _segments(part, ys)
        if not any(segs):
            c = part.representative_point()
            ys, segs = np.array([c.y]), [[(c.x, c.x)]]
        lines += len(ys)
        near = part.buffer(across / 2.0)
        ext = [
            [_trim(_extend(part, near, float(ys[k]), s, across, along), s, float(ys[k]), rot_forbidden) for s in line]
            for k, line in enumerate(segs)
        ]
        ext = [_merge(line) for line in ext]
        cell_paths.extend(_cell_paths(cell, ys) for cell in _cells(ext))
        cell_paths.extend(_patches(part, ext, ys, spacing, across, along))
    units = [[Variant(tuple(p), _path_length(p)) for p in paths] for paths in cell_paths]
    corners = _corners(rot) if all_entries else _corners(rot)[:1]
    variants: list[Variant] = []
    seen: set[tuple[XY, XY]] = set()
    for k, start in enumerate(corners):
        # full 2-opt/or-opt from the first corner; the other entries get a lighter search
        passes = (4 if k == 0 else 1) if all_entries else 1
        chosen = order_units(start, start, units, [0] * len(units), return_to_end=False, max_passes=passes)
        pts: list[XY] = []
        for ui, vi in chosen:
            pts.extend(units[ui][vi].points)
        for cand in (pts, pts[::-1]):
            key = (cand[0], cand[-1])
            if key in seen:
                continue
            seen.add(key)
            back = _unrotate(cand, angle_deg)
            variants.append(Variant(tuple(back), _path_length(back)))
    best = min(v.length_m for v in variants)
    count = sum(len(p[0]) // 2 for p in cell_paths)
    return Sweep(angle_deg, tuple(variants), lines, len(cell_paths), best / speed + 2 * count * turn_s)


def _corners(geom: BaseGeometry) -> list[XY]:
    minx, miny, maxx, maxy = geom.bounds
    return [(minx, miny), (maxx, miny), (maxx, maxy), (minx, maxy)]


def _unrotate(pts: list[XY], angle_deg: float) -> list[XY]:
    a = math.radians(angle_deg)
    c, s = math.cos(a), math.sin(a)
    return [(x * c - y * s, x * s + y * c) for x, y in pts]


def edge_angles(poly: BaseGeometry, count: int = 3) -> list[float]:
    """Directions (degrees, [0, 180)) of the longest edges of the polygon's exterior."""
    edges: list[tuple[float, float]] = []
    for part in _pieces(poly):
        coords = list(part.exterior.coords)
        for (x0, y0), (x1, y1) in itertools.pairwise(coords):
            edges.append((math.hypot(x1 - x0, y1 - y0), math.degrees(math.atan2(y1 - y0, x1 - x0)) % 180.0))
    edges.sort(reverse=True)
    return [round(a, 3) % 180.0 for _, a in edges[:count]]


def best_sweep(
    poly: Polygon | MultiPolygon,
    spacing: float,
    across: float,
    along: float,
    speed: float,
    turn_s: float,
    step_deg: float = 5.0,
    forbidden: BaseGeometry | None = None,
    fixed_angle_deg: float | None = None,
) -> Sweep:
    """The fastest coverage route of ``poly`` over the searched sweep angles (or at ``fixed_angle_deg``)."""
    if fixed_angle_deg is not None:
        return build_sweep(poly, fixed_angle_deg, spacing, across, along, speed, turn_s, forbidden)
    parts = [p for p in _pieces(poly) if isinstance(p, Polygon)]
    main = max(parts, key=lambda p: p.area)

    edges = [_edges(p) for p in parts]

    def cost(angle: float) -> float:
        return sum(quick_cost(e, angle, spacing, across, speed, turn_s) for e in edges)

    coarse = sorted((cost(float(a)), float(a)) for a in np.arange(0.0, 180.0, step_deg))
    candidates: set[float] = set()
    for _, a in coarse[:3]:
        fine = [(cost(a + float(d)), (a + float(d)) % 180.0) for d in np.linspace(-step_deg / 2, step_deg / 2, 5)]
        candidates.add(float(round(min(fine)[1], 3) % 180.0))
    candidates.update(edge_angles(main))
    sweeps = [build_sweep(poly, a, spacing, across, along, speed, turn_s, forbidden, False) for a in sorted(candidates)]
    best = min(sweeps, key=lambda s: s.time_s)
    return build_sweep(poly, best.angle_deg, spacing, across, along, speed, turn_s, forbidden)
