"""Transit legs that keep out of no-fly zones: shortest paths over a visibility graph.

The forbidden region is the union of the no-fly zones grown by the safety margin.
Graph nodes are the vertices of that region grown a little further (a coarse round
buffer whose chords clear the margin), so edges along it stay outside; a query adds
its two end points, joins them to the nodes they can see, and runs Dijkstra (A*).
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Sequence

import numpy as np
import shapely
from shapely.geometry import LineString, MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry

from drone_patrol.core.errors import PlanningError

XY = tuple[float, float]

_TOLERANCE_M = 0.05


def _polygons(geom: BaseGeometry) -> list[Polygon]:
    if geom.is_empty:
        return []
    if isinstance(geom, Polygon):
        return [geom]
    if isinstance(geom, MultiPolygon):
        return list(geom.geoms)
    return [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon)]


def shortest_path(
    pts: Sequence[XY], links: Sequence[Sequence[tuple[int, float]]], start: int, goal: int
) -> list[int] | None:
    """Indices of the shortest way from ``start`` to ``goal`` over ``links`` (A* towards ``goal``); None if none."""
    target = pts[goal]
    dist = {start: 0.0}
    prev: dict[int, int] = {}
    heap = [(math.dist(pts[start], target), 0.0, start)]
    done: set[int] = set()
    while heap:
        _, d, i = heapq.heappop(heap)
        if i in done:
            continue
        done.add(i)
        if i == goal:
            out = [goal]
            while out[-1] != start:
                out.append(prev[out[-1]])
            return out[::-1]
        for j, w in links[i]:
            nd = d + w
            if nd < dist.get(j, math.inf):
                dist[j] = nd
                prev[j] = i
                heapq.heappush(heap, (nd + math.dist(pts[j], target), nd, j))
    return None


class NoFlyMap:
    """The no-fly zones of a plan (in local metres) and shortest paths around them."""

    def __init__(self, zones: Sequence[BaseGeometry], margin_m: float, min_spacing_m: float = 0.0) -> None:
        self.margin_m = margin_m
        self.min_spacing_m = min_spacing_m
        self.zones = shapely.union_all(list(zones)) if zones else Polygon()
        self.forbidden = self.zones.buffer(margin_m) if margin_m > 0 and not self.zones.is_empty else self.zones
        inner = self.forbidden.buffer(-_TOLERANCE_M) if not self.forbidden.is_empty else self.forbidden
        self._inner = inner
        self._hard = self.zones
        shapely.prepare(self._inner)
        shapely.prepare(self._hard)
        self.nodes: list[XY] = []
        # a round buffer with k segments per quarter circle, grown so that its chords (the graph's
        # edges along it) stay 0.5 m outside the margin: radius / cos(45 deg / k); k = 2 unless its
        # chords would be shorter than the minimum waypoint spacing (then 1: one chord per quarter).
        # Simplified by t, grown t more first, so that round no-fly zones give few nodes.
        quarter = 2
        chord = 2 * (margin_m + 0.5) * math.tan(math.pi / 8)
        if chord < min_spacing_m:
            quarter = 1
        grown_m = (margin_m + 0.5) / math.cos(math.pi / (4 * quarter))
        t = max(1.0, min_spacing_m / 8.0)
        grown = self.zones.buffer(grown_m + t, quad_segs=quarter).simplify(t) if zones else Polygon()
        for poly in _polygons(grown):
            for ring in (poly.exterior, *poly.interiors):
                self.nodes.extend((float(x), float(y)) for x, y in list(ring.coords)[:-1])
        if self.nodes and not self._inner.is_empty:
            # a coarse ring can put a vertex inside the margin (a concave zone): a leg from such a
            # node would only be checked against the zone itself, so it is no node
            outside = ~shapely.intersects(self._inner, shapely.points(np.asarray(self.nodes)))
            self.nodes = [n for n, ok in zip(self.nodes, outside, strict=True) if ok]
        self._edges: list[list[tuple[int, float]]] = [[] for _ in self.nodes]
        if self.nodes:
            seen = self.clear_matrix(self.nodes, self.nodes)
            for i, a in enumerate(self.nodes):
                for j in range(i + 1, len(self.nodes)):
                    if seen[i, j]:
                        d = math.dist(a, self.nodes[j])
                        self._edges[i].append((j, d))
                        self._edges[j].append((i, d))
        self._cache: dict[tuple[XY, XY], list[XY]] = {}
        self._apsp: np.ndarray | None = None

    @property
    def inner(self) -> BaseGeometry:
        """The forbidden region less a small tolerance (prepared): what a point on the margin lies just outside."""
        return self._inner

    @property
    def edges(self) -> list[list[tuple[int, float]]]:
        """The visibility graph: for each node, the nodes it sees and how far they are."""
        return self._edges

    @property
    def empty(self) -> bool:
        """True when there are no no-fly zones."""
        return self.zones.is_empty

    def inside_forbidden(self, p: XY) -> bool:
        """True when ``p`` lies inside a no-fly zone grown by the margin."""
        return not self.empty and self._inner.intersects(Point(p))

    def clear(self, a: XY, b: XY) -> bool:
        """True when the straight leg a-b keeps out of the margin (or, for an end inside the
        margin, at least out of the no-fly zones themselves)."""
        if self.empty:
            return True
        seg = LineString([a, b]) if a != b else Point(a)
        if self.inside_forbidden(a) or self.inside_forbidden(b):
            return not self._hard.intersects(seg)
        return not self._inner.intersects(seg)

    def path(self, a: XY, b: XY) -> list[XY]:
        """Shortest polyline from ``a`` to ``b`` outside the forbidden region (ends included)."""
        if self.clear(a, b):
            return [a, b]
        key = (a, b)
        if key in self._cache:
            return self._cache[key]
        n = len(self.nodes)
        pts = [*self.nodes, a, b]
        # which nodes see the two ends, each in one vectorised test
        links: list[list[tuple[int, float]]] = [list(e) for e in self._edges] + [[], []]
        for j in np.flatnonzero(self.clear_matrix([a], self.nodes)[0]):
            links[n].append((int(j), math.dist(a, self.nodes[j])))
        for j in np.flatnonzero(self.clear_matrix(self.nodes, [b])[:, 0]):
            links[int(j)].append((n + 1, math.dist(self.nodes[j], b)))
        route = shortest_path(pts, links, n, n + 1)
        if route is None:
            raise PlanningError(
                f"no path around the no-fly zones from ({a[0]:.0f}, {a[1]:.0f}) to ({b[0]:.0f}, {b[1]:.0f}) m "
                f"with a {self.margin_m:g} m margin"
            )
        out = [pts[i] for i in route]
        self._cache[key] = out
        return out

    def _all_pairs(self) -> np.ndarray:
        """Shortest node-to-node distances over the visibility graph (Floyd-Warshall)."""
        if self._apsp is None:
            n = len(self.nodes)
            d = np.full((n, n), np.inf)
            np.fill_diagonal(d, 0.0)
            for i, edges in enumerate(self._edges):
                for j, w in edges:
                    d[i, j] = w
            for k in range(n):
                d = np.minimum(d, d[:, k, None] + d[None, k, :])
            self._apsp = d
        return self._apsp

    def clear_matrix(self, sources: Sequence[XY] | np.ndarray, targets: Sequence[XY] | np.ndarray) -> np.ndarray:
        """:meth:`clear` for every source/target pair at once (vectorised)."""
        src = np.asarray(sources, dtype=float).reshape(-1, 2)
        dst = np.asarray(targets, dtype=float).reshape(-1, 2)
        if self.empty:
            return np.ones((len(src), len(dst)), dtype=bool)
        n, m = len(src), len(dst)
        coords = np.empty((n, m, 2, 2))
        coords[:, :, 0, :] = src[:, None, :]
        coords[:, :, 1, :] = dst[None, :, :]
        lines = shapely.linestrings(coords.reshape(n * m, 2, 2))
        inside_src = shapely.intersects(shapely.points(src), self._inner)
        inside_dst = shapely.intersects(shapely.points(dst), self._inner)
        soft = (inside_src[:, None] | inside_dst[None, :]).reshape(-1)
        hit = np.zeros(n * m, dtype=bool)
        # the prepared geometry goes first so that GEOS uses its index
        if (~soft).any():
            hit[~soft] = shapely.intersects(self._inner, lines[~soft])
        if soft.any():
            hit[soft] = shapely.intersects(self._hard, lines[soft])
        return ~hit.reshape(n, m)

    def _visible(self, pts: Sequence[XY]) -> np.ndarray:
        nodes = np.asarray(self.nodes, dtype=float).reshape(-1, 2)
        p = np.asarray(pts, dtype=float).reshape(-1, 2)
        dist = np.hypot(p[:, None, 0] - nodes[None, :, 0], p[:, None, 1] - nodes[None, :, 1])
        return np.where(self.clear_matrix(pts, self.nodes), dist, np.inf)

    def distance_matrix(self, sources: Sequence[XY], targets: Sequence[XY]) -> list[list[float]]:
        """Length of the shortest no-fly-avoiding path from every source to every target."""
        src = np.asarray(sources, dtype=float).reshape(-1, 2)
        dst = np.asarray(targets, dtype=float).reshape(-1, 2)
        direct = np.hypot(src[:, None, 0] - dst[None, :, 0], src[:, None, 1] - dst[None, :, 1])
        if self.empty or not self.nodes:
            return direct.tolist()
        blocked = np.argwhere(~self.clear_matrix(sources, targets))
        if blocked.size == 0:
            return direct.tolist()
        d = self._all_pairs()
        via_src = np.min(self._visible(sources)[:, :, None] + d[None, :, :], axis=1)
        vis_dst = self._visible(targets)
        for i, j in blocked:
            direct[i, j] = float(np.min(via_src[i] + vis_dst[j]))
        return direct.tolist()

    def pair_matrix(self, pts: np.ndarray) -> np.ndarray:
        """Shortest no-fly-avoiding distance between every two of ``pts`` (symmetric).

        Only legs whose bounding box meets the forbidden region's are tested, so a
        set of points far from every zone costs one numpy expression.
        """
        p = np.asarray(pts, dtype=float).reshape(-1, 2)
        direct = np.hypot(p[:, None, 0] - p[None, :, 0], p[:, None, 1] - p[None, :, 1])
        if self.empty or not self.nodes or len(p) < 2:
            return direct
        fx0, fy0, fx1, fy1 = self.forbidden.bounds
        lo_x = np.minimum(p[:, None, 0], p[None, :, 0])
        hi_x = np.maximum(p[:, None, 0], p[None, :, 0])
        lo_y = np.minimum(p[:, None, 1], p[None, :, 1])
        hi_y = np.maximum(p[:, None, 1], p[None, :, 1])
        near = (lo_x <= fx1) & (hi_x >= fx0) & (lo_y <= fy1) & (hi_y >= fy0)
        near = np.triu(near, 1)
        ii, jj = np.nonzero(near)
        if ii.size == 0:
            return direct
        coords = np.stack([p[ii], p[jj]], axis=1)
        lines = shapely.linestrings(coords)
        inside = shapely.intersects(self._inner, shapely.points(p))
        soft = inside[ii] | inside[jj]
        hit = np.zeros(ii.size, dtype=bool)
        if (~soft).any():
            hit[~soft] = shapely.intersects(self._inner, lines[~soft])
        if soft.any():
            hit[soft] = shapely.intersects(self._hard, lines[soft])
        if not hit.any():
            return direct
        bi, bj = ii[hit], jj[hit]
        used = np.unique(np.concatenate([bi, bj]))
        vis = np.full((len(p), len(self.nodes)), np.inf)
        vis[used] = self._visible(p[used])
        via = np.full((len(p), len(self.nodes)), np.inf)
        via[used] = np.min(vis[used][:, :, None] + self._all_pairs()[None, :, :], axis=1)
        around = np.min(via[bi] + vis[bj], axis=1)
        direct[bi, bj] = around
        direct[bj, bi] = around
        return direct

    def path_length_m(self, a: XY, b: XY) -> float:
        """Length of :meth:`path`."""
        p = self.path(a, b)
        return sum(math.dist(p[i], p[i + 1]) for i in range(len(p) - 1))

    def clip_run(self, points: Sequence[XY], bridge: bool = False) -> list[list[XY]]:
        """Split a polyline into the runs that lie outside the forbidden region.

        With ``bridge``, a leg between two points outside the region stays in its run
        even where it crosses the region (the caller flies it round with :meth:`path`
        from its real ends rather than from where it meets the margin).
        """
        if self.empty or len(points) < 2:
            return [list(points)] if points else []
        runs: list[list[XY]] = []
        current: list[XY] = []
        for a, b in itertools.pairwise(points):
            seg = LineString([a, b])
            bridged = bridge and not self.inside_forbidden(a) and not self.inside_forbidden(b)
            if a == b or bridged or not self._inner.intersects(seg):
                if not current:
                    current = [a]
                current.append(b)
                continue
            outside = seg.difference(self.forbidden)
            pieces = [g for g in getattr(outside, "geoms", [outside]) if isinstance(g, LineString) and g.length > 0]
            pieces.sort(key=lambda g: seg.project(Point(g.coords[0])))
            for piece in pieces:
                c0, c1 = piece.coords[0], piece.coords[-1]
                p0, p1 = (float(c0[0]), float(c0[1])), (float(c1[0]), float(c1[1]))
                if current and math.dist(current[-1], p0) < 1e-6:
                    current.append(p1)
                else:
                    if len(current) > 1:
                        runs.append(current)
                    current = [p0, p1]
            if not pieces or math.dist(current[-1], b) > 1e-6:
                if len(current) > 1:
                    runs.append(current)
                current = []
        if len(current) > 1:
            runs.append(current)
        return runs
