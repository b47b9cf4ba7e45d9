"""The sweep angle search: every angle of a grid scored at once, the best few built in full.

As Fields2Cover's swath generator does, by brute force: every angle of a grid over
[0, 180) is scored by an estimate of the flight time (swath length, one line change
per piece, turns), computed for all angles at once with numpy; the best few are
refined at a fifth of the step and built in full (pieces ordered, home to home)
with the directions of the polygon's longest edges, and the fastest route wins.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from drone_patrol.planner.coverage import XY, Sweep, build_sweep, parts_of, ring_edges
from drone_patrol.planner.swaths import PairMetric


def quick_costs(
    edges: np.ndarray,
    angles_deg: np.ndarray,
    spacing: float,
    across: float,
    along: float,
    speed: float,
    turn_s: float,
) -> np.ndarray:
    """Estimated time (s) of a sweep at each of ``angles_deg``, all at once (numpy).

    ``edges`` is the polygon's :func:`ring_edges` array. Per angle: the sweep lines'
    segments (even-odd rule, as :func:`_segments`), each shortened by the footprint
    length the camera sees beyond its ends, one line change (``spacing``) per
    segment, and two turns per segment.
    """
    a = np.radians(-np.asarray(angles_deg, dtype=float))[:, None]
    c, s = np.cos(a), np.sin(a)
    x0 = edges[None, :, 0] * c - edges[None, :, 1] * s
    y0 = edges[None, :, 0] * s + edges[None, :, 1] * c
    x1 = edges[None, :, 2] * c - edges[None, :, 3] * s
    y1 = edges[None, :, 2] * s + edges[None, :, 3] * c
    ymin = np.minimum(y0, y1).min(axis=1)
    ymax = np.maximum(y0, y1).max(axis=1)
    height = ymax - ymin
    lines = np.where(height <= across, 1, np.ceil((height - across) / spacing - 1e-9) + 1).astype(int)
    most = int(lines.max())
    k = np.arange(most)[None, :]
    step = np.where(lines > 1, (height - across) / np.maximum(lines - 1, 1), 0.0)[:, None]
    first = np.where(lines > 1, ymin + across / 2.0, (ymin + ymax) / 2.0)[:, None]
    ys = first + k * step  # (angles, lines)
    valid = k < lines[:, None]

    def crossings(offset: float) -> np.ndarray:
        """Sorted x where each line (moved by ``offset``) crosses an edge; inf where it does not."""
        y = (ys + offset)[:, :, None]
        ya, yb = y0[:, None, :], y1[:, None, :]
        crosses = ((ya <= y) != (yb <= y)) & valid[:, :, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            x = x0[:, None, :] + (y - ya) * (x1 - x0)[:, None, :] / (yb - ya)
        x = np.sort(np.where(crosses, x, np.inf), axis=2)
        if x.shape[2] % 2:
            x = np.concatenate([x, np.full((*x.shape[:2], 1), np.inf)], axis=2)
        return x

    x = crossings(0.0)
    left, right = x[:, :, 0::2], x[:, :, 1::2]
    with np.errstate(invalid="ignore"):
        seg = np.where(np.isfinite(right), right - left, 0.0)
    real = seg > 1e-6
    count = real.sum(axis=2)
    # a line's pieces reach as far as the area does within its footprint strip (sloping edges)
    first = np.where(count > 0, x[:, :, 0], np.inf)
    end = np.take_along_axis(right, np.maximum(count - 1, 0)[:, :, None], axis=2)[:, :, 0]
    last = np.where(count > 0, end, -np.inf)
    lo, hi = first, last
    for off in (-across / 2.0 + 1e-6, across / 2.0 - 1e-6):
        xs = crossings(off)
        finite = np.isfinite(xs)
        lo = np.minimum(lo, np.where(finite, xs, np.inf).min(axis=2))
        hi = np.maximum(hi, np.where(finite, xs, -np.inf).max(axis=2))
    gaps = np.where(count > 0, (last - first) - seg.sum(axis=2), 0.0)
    span = np.where(count > 0, hi - lo - gaps - count * along, 0.0)
    length = np.maximum(span, 0.0).sum(axis=1)
    count = count.sum(axis=1)
    return (length + count * spacing) / speed + 2 * count * turn_s


def edge_angles(poly: BaseGeometry, count: int = 3) -> list[float]:
    """Directions (degrees, [0, 180)) of the longest edges of the polygon's exterior."""
    edges: list[tuple[float, float]] = []
    for part in parts_of(poly):
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
    metric: PairMetric | None = None,
    home: XY = (0.0, 0.0),
) -> Sweep:
    """The fastest coverage route of ``poly`` over the searched sweep angles (or at ``fixed_angle_deg``).

    Every angle of the ``step_deg`` grid over [0, 180) is scored by :func:`quick_costs`
    (swath length, one line change per piece, turns), so the best-scoring angle is
    never more than ``step_deg / 2`` from a scored one; the best few grid angles are
    refined at a fifth of the step, and they and the directions of the polygon's
    longest edges are built in full (pieces ordered, home to home): the fastest wins.
    """
    args = (spacing, across, along, speed, turn_s, forbidden)
    if fixed_angle_deg is not None:
        return build_sweep(poly, fixed_angle_deg, *args, metric=metric, home=home)
    parts = [p for p in parts_of(poly) if isinstance(p, Polygon)]
    main = max(parts, key=lambda p: p.area)
    edges = [ring_edges(p) for p in parts]

    def costs(angles: np.ndarray) -> np.ndarray:
        out = np.zeros(len(angles))
        for e in edges:
            out += quick_costs(e, angles, spacing, across, along, speed, turn_s)
        return out

    grid = np.arange(0.0, 180.0, step_deg)
    coarse = costs(grid)
    top = grid[np.argsort(coarse)[:3]]
    fine = (top[:, None] + np.linspace(-step_deg / 2, step_deg / 2, 5)[None, :]).ravel() % 180.0
    fine_cost = costs(fine).reshape(len(top), 5)
    candidates: dict[float, float] = {}
    for row, cost_row in zip(fine.reshape(len(top), 5), fine_cost, strict=True):
        k = int(np.argmin(cost_row))
        candidates[round(float(row[k]), 3) % 180.0] = float(cost_row[k])
    extra = [a for a in edge_angles(main) if a not in candidates]
    for a, c in zip(extra, costs(np.array(extra)) if extra else [], strict=True):
        candidates[a] = float(c)
    # build in full the candidates whose estimate is within 3 % of the best one
    floor = min(candidates.values())
    chosen = sorted(a for a, c in candidates.items() if c <= 1.03 * floor)
    memo: dict[float, tuple[list[tuple[XY, XY]], int]] = {}
    sweeps = [build_sweep(poly, a, *args, all_entries=False, metric=metric, home=home, _memo=memo) for a in chosen]
    best = min(sweeps, key=lambda s: s.time_s)
    return build_sweep(poly, best.angle_deg, *args, metric=metric, home=home, _memo=memo)
