"""No clusters of waypoints along no-fly margins: legs there at least the minimum spacing long.

The visibility graph of :class:`~drone_patrol.planner.transit.NoFlyMap` has its
nodes on a coarse ring outside the margin, so a route point that lies on the margin
itself (where a sweep line meets it) is often a few metres from the node the
shortest path turns at: a cluster of waypoints. :meth:`SpacedTransits.path` looks
for the shortest path whose every leg is at least ``min_spacing_m`` long instead,
over the ring's nodes and, for an end on (or near) the margin, points along the
margin's tangent there at one to two spacings from it (from a point on a convex
margin a leg along the tangent keeps out of it, so the path leaves the margin the
way it runs), and among the paths that turn once, one spacing from either end. Where
no such path exists it keeps the shortest one.

:func:`spread_clusters` then removes the short legs the pattern itself leaves along
a margin (a stub of a swath piece, a piece ending on the margin next to a transit
point) by dropping or merging a point where the areas lose (almost) nothing from
sight, and lays the way round the margin anew. What it cannot remove is the only
safe view of part of an area: a swath piece shorter than the spacing, or the step
between two sweep lines closer together than it (a field little wider than one
footprint).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import shapely
from shapely.geometry import LinearRing, Point
from shapely.geometry.base import BaseGeometry

from drone_patrol.core.config.camera import CameraConfig
from drone_patrol.planner.build import RoutePoint
from drone_patrol.planner.footprint import leg_footprints
from drone_patrol.planner.transit import NoFlyMap, shortest_path

XY = tuple[float, float]

#: distances of the tangent points from the end, in minimum spacings
_TANGENT_STEPS = (1.0, 1.25, 1.5, 2.0)
#: points round each end, a spacing away, tried as the one turn of a short transit
_CIRCLE_POINTS = 24
#: how much longer than the spacing a leg to a made point is, so that writing the mission items
#: (positions in 1e-7 degrees, about 1 cm) cannot bring it under the spacing
_SLACK_M = 0.02


class SpacedTransits:
    """Shortest transits round the no-fly zones of ``nofly`` with legs of at least its minimum spacing."""

    def __init__(self, nofly: NoFlyMap) -> None:
        self.nofly = nofly
        self.spacing_m = nofly.min_spacing_m
        self._rings: list[LinearRing] = []
        if not nofly.empty:
            for poly in getattr(nofly.forbidden, "geoms", [nofly.forbidden]):
                self._rings.extend([poly.exterior, *poly.interiors])
        self._cache: dict[tuple[XY, XY], list[XY]] = {}
        # the ring's own edges that are long enough (both directions)
        self._edges: list[list[tuple[int, float]]] = [
            [(j, d) for j, d in edges if d >= self.spacing_m] for edges in nofly.edges
        ]

    def tangent_points(self, p: XY) -> list[XY]:
        """Points along the margin's tangent at the margin point nearest ``p`` (when ``p`` is within a spacing of it).

        They lie one to two spacings from ``p`` both ways, so that a leg to one of
        them is long enough and, on a convex stretch of margin, clear of it.
        """
        s = self.spacing_m
        here = Point(p)
        near = [r for r in self._rings if r.distance(here) < s]
        if not near:
            return []
        ring = min(near, key=lambda r: r.distance(here))
        at = ring.project(here)
        # the boundary's direction around its nearest point; interpolate wraps negative distances
        a, b = ring.interpolate(at - 1.0), ring.interpolate(min(at + 1.0, ring.length))
        dx, dy = b.x - a.x, b.y - a.y
        norm = math.hypot(dx, dy)
        if norm < 1e-9:
            return []
        ux, uy = dx / norm, dy / norm
        d = [k * s + _SLACK_M for k in _TANGENT_STEPS]
        return [(p[0] + sign * k * ux, p[1] + sign * k * uy) for sign in (1.0, -1.0) for k in d]

    def path(self, a: XY, b: XY) -> list[XY]:
        """The path from ``a`` to ``b`` round the no-fly zones (ends included): spaced where possible."""
        raw = self.nofly.path(a, b)
        s = self.spacing_m
        if s <= 0 or len(raw) <= 2 or min(math.dist(p, q) for p, q in itertools.pairwise(raw)) >= s:
            return raw
        key = (a, b)
        if key not in self._cache:
            found = [p for p in (self._spaced(a, b), self._one_turn(a, b)) if p is not None]
            self._cache[key] = min(found, key=_length) if found else raw
        return self._cache[key]

    def _one_turn(self, a: XY, b: XY) -> list[XY] | None:
        """The shortest a -> X -> b with X a spacing from ``a`` or from ``b`` (both legs long enough and clear).

        Where the two ends lie close together on either side of a corner of the
        margin, the shortest spaced way turns once, one spacing from one end.
        """
        s = self.spacing_m + _SLACK_M
        turns = np.linspace(0.0, 2.0 * math.pi, _CIRCLE_POINTS, endpoint=False)
        ring = np.column_stack([np.cos(turns), np.sin(turns)]) * s
        cand = np.vstack([np.asarray(a) + ring, np.asarray(b) + ring])
        to_a = np.hypot(cand[:, 0] - a[0], cand[:, 1] - a[1])
        to_b = np.hypot(cand[:, 0] - b[0], cand[:, 1] - b[1])
        fits = (to_a >= self.spacing_m) & (to_b >= self.spacing_m)
        fits &= ~shapely.intersects(self.nofly.inner, shapely.points(cand))
        if not fits.any():
            return None
        cand, total = cand[fits], (to_a + to_b)[fits]
        ok = self.nofly.clear_matrix([a], cand)[0] & self.nofly.clear_matrix(cand, [b])[:, 0]
        if not ok.any():
            return None
        k = int(np.argmin(np.where(ok, total, np.inf)))
        return [a, (float(cand[k, 0]), float(cand[k, 1])), b]

    def _spaced(self, a: XY, b: XY) -> list[XY] | None:
        """The shortest path from ``a`` to ``b`` over the graph's nodes and the ends' tangent points whose
        every leg is at least the minimum spacing long; None when there is none."""
        s = self.spacing_m
        nodes = self.nofly.nodes
        n = len(nodes)
        # free points: the ends' tangent points that keep out of the margin, then a and b
        extra = [p for p in (*self.tangent_points(a), *self.tangent_points(b)) if not self.nofly.inside_forbidden(p)]
        free = [*extra, a, b]
        pts = [*nodes, *free]
        start, goal = n + len(extra), n + len(extra) + 1
        sight = self.nofly.clear_matrix(free, pts)
        f = np.asarray(free, dtype=float)
        p = np.asarray(pts, dtype=float)
        length = np.hypot(f[:, None, 0] - p[None, :, 0], f[:, None, 1] - p[None, :, 1])
        usable = sight & (length >= s)
        links: list[list[tuple[int, float]]] = [list(e) for e in self._edges] + [[] for _ in free]
        for i, j in zip(*np.nonzero(usable), strict=True):
            u, v, d = n + int(i), int(j), float(length[i, j])
            if u == v:
                continue
            links[u].append((v, d))
            if v < n:
                links[v].append((u, d))  # a node's way to a free point (free-free pairs appear both ways)
        route = shortest_path(pts, links, start, goal)
        if route is None:
            return None
        return [pts[i] for i in route]


def _length(pts: Sequence[XY]) -> float:
    return sum(math.dist(p, q) for p, q in itertools.pairwise(pts))


def short_legs(points: Sequence[XY], spacing_m: float) -> int:
    """Legs between distinct points shorter than ``spacing_m``."""
    return sum(1 for p, q in itertools.pairwise(points) if 0.01 < math.dist(p, q) < spacing_m)


#: the share of an area's target that removing clusters may leave unseen, all removals together
LOSS_BUDGET = 0.0005


def _xy(p: RoutePoint) -> XY:
    return (p.x, p.y)


class _Spreader:
    """Removes the short legs along no-fly margins from a route body (see :func:`spread_clusters`)."""

    def __init__(
        self, transits: SpacedTransits, camera: CameraConfig, targets: dict[str, BaseGeometry], home: RoutePoint
    ) -> None:
        self.home = home
        self.transits = transits
        self.camera = camera
        self.targets = targets
        self.budget = {name: LOSS_BUDGET * t.area for name, t in targets.items()}
        self.near = transits.nofly.forbidden.buffer(transits.spacing_m, quad_segs=2)
        shapely.prepare(self.near)

    def short(self, a: RoutePoint, b: RoutePoint) -> bool:
        """A leg shorter than the spacing with both ends along a margin."""
        d = math.dist(_xy(a), _xy(b))
        return 0.01 < d < self.transits.spacing_m and bool(
            shapely.intersects(self.near, shapely.points([_xy(a), _xy(b)])).all()
        )

    def replace(
        self, body: list[RoutePoint], lo: int, hi: int, mids: list[RoutePoint]
    ) -> tuple[int, int, list[RoutePoint]] | None:
        """Take out ``body[lo..hi]`` (with the transit points round it) for ``mids``, joined by spaced ways.

        Returns (i, m, inner): ``body[i + 1 : m]`` becomes ``inner``, where ``i`` and ``m``
        are the pattern points either side (-1 and ``len(body)`` past the ends); None
        when a way still has a short leg or nothing would be left.
        """
        i = lo - 1
        while i >= 0 and body[i].transit:
            i -= 1
        m = hi + 1
        while m < len(body) and body[m].transit:
            m += 1
        stops = ([body[i]] if i >= 0 else []) + mids + ([body[m]] if m < len(body) else [])
        if not stops:
            return None
        inner: list[RoutePoint] = [stops[0]]
        for a, b in itertools.pairwise(stops):
            way = self.transits.path(_xy(a), _xy(b))
            if short_legs(way, self.transits.spacing_m):
                return None
            area = b.area if a.area == b.area else None
            inner.extend(RoutePoint(x, y, b.altitude_m, b.speed_m_s, area=area, transit=True) for x, y in way[1:-1])
            inner.append(b)
        return i, m, inner[(1 if i >= 0 else 0) : (-1 if m < len(body) else None)]

    def loss(self, body: list[RoutePoint], i: int, m: int, inner: list[RoutePoint]) -> dict[str, float] | None:
        """What each area's target loses from sight when ``body[i + 1 : m]`` becomes ``inner``
        (counting what the rest of the route sees); None when a point of an orbit would go."""
        gone = {id(p) for p in body[i + 1 : m]} - {id(p) for p in inner}
        for p in body[i + 1 : m]:
            if id(p) in gone and not p.transit and p.area is not None and self.targets[p.area].area <= 0:
                return None
        lo, hi = max(i, 0), min(m, len(body) - 1)
        old = leg_footprints(self.from_home(body[lo : hi + 1], i < 0, m >= len(body)), self.camera)
        new_window = self.from_home(body[lo : i + 1] + inner + body[m : hi + 1], i < 0, m >= len(body))
        new = leg_footprints(new_window, self.camera)
        lost = shapely.union_all(old).difference(shapely.union_all(new)) if old else None
        if lost is None or lost.area < 1e-6:
            return {}
        # the rest of the route as flown, the ways from and back to home included (when outside the window)
        before = self.from_home(body[: lo + 1], True, False) if i >= 0 else []
        after = self.from_home(body[hi:], False, True) if m < len(body) else []
        rest = leg_footprints(before, self.camera) + leg_footprints(after, self.camera)
        seen = [g for g in rest if g.intersects(lost)]
        if seen:
            lost = lost.difference(shapely.union_all(seen))
        return {name: float(lost.intersection(t).area) for name, t in self.targets.items() if t.area > 0}

    def from_home(self, seq: list[RoutePoint], start: bool, end: bool) -> list[RoutePoint]:
        """``seq`` with the way from home before it (``start``) and back after it (``end``), as flown."""
        if not seq:
            return seq
        out = list(seq)
        if start:
            way = self.transits.path(_xy(self.home), _xy(seq[0]))
            out[:0] = [RoutePoint(x, y, seq[0].altitude_m, seq[0].speed_m_s) for x, y in way[:-1]]
        if end:
            way = self.transits.path(_xy(seq[-1]), _xy(self.home))
            out.extend(RoutePoint(x, y, seq[-1].altitude_m, seq[-1].speed_m_s) for x, y in way[1:])
        return out

    def candidates(self, body: list[RoutePoint], k: int) -> list[tuple[int, int, list[RoutePoint]]]:
        """Ways to remove the short leg ``body[k] -> body[k + 1]``: drop either end (joining its neighbours
        straight, or laying the way between the pattern points round it anew), or fly one point half way
        between them (a stub of a swath piece flown as a point: the footprint still sees it)."""
        a, b = body[k], body[k + 1]
        mid = RoutePoint((a.x + b.x) / 2.0, (a.y + b.y) / 2.0, b.altitude_m, b.speed_m_s, b.area, b.roi, b.transit)
        out: list[tuple[int, int, list[RoutePoint]]] = []
        for drop in (k, k + 1):
            # the point alone, its neighbours joined straight (transit points round it kept)
            if 0 < drop < len(body) - 1:
                a, b = body[drop - 1], body[drop + 1]
                if not self.short(a, b) and self.transits.nofly.clear(_xy(a), _xy(b)):
                    out.append((drop - 1, drop + 1, []))
        for lo, hi, mids in ((k, k, []), (k + 1, k + 1, []), (k, k + 1, [mid])):
            found = self.replace(body, lo, hi, mids)
            if found is not None:
                out.append(found)
        return out

    def spread(self, body: list[RoutePoint]) -> list[RoutePoint]:
        out = list(body)
        k = 0
        while k < len(out) - 1:
            if not self.short(out[k], out[k + 1]):
                k += 1
                continue
            best: tuple[tuple[float, float], int, int, list[RoutePoint], dict[str, float]] | None = None
            for i, m, inner in self.candidates(out, k):
                lost = self.loss(out, i, m, inner)
                if lost is None or any(v > self.budget[n] for n, v in lost.items()):
                    continue
                ends = i < 0, m >= len(out)
                lo, hi = max(i, 0), min(m, len(out) - 1)
                before = self.from_home(out[lo : hi + 1], *ends)
                after = self.from_home(out[lo : i + 1] + inner + out[m : hi + 1], *ends)
                key = (sum(lost.values()), _length([_xy(p) for p in after]) - _length([_xy(p) for p in before]))
                if best is None or key < best[0]:
                    best = (key, i, m, inner, lost)
            if best is None:
                k += 1
                continue
            _, i, m, inner, lost = best
            for name, v in lost.items():
                self.budget[name] -= v
            out[i + 1 : m] = inner
            k = max(i - 1, 0)
        return out


def spread_clusters(
    body: Sequence[RoutePoint],
    transits: SpacedTransits,
    camera: CameraConfig,
    targets: dict[str, BaseGeometry],
    home: RoutePoint,
) -> list[RoutePoint]:
    """``body`` without legs shorter than the minimum spacing along no-fly margins, where that costs little
    (and without repeated points).

    A point at either end of such a leg (where a sweep line meets the margin, or a
    stub of a swath piece there) goes, and the way from the pattern point before it
    to the pattern point after it is laid anew by :meth:`SpacedTransits.path`, when
    that way has no short leg and the areas together lose no more than
    :data:`LOSS_BUDGET` of their targets from the camera's sight (counting what the
    rest of the route sees). A point of an orbit never goes. Legs that no such
    change removes stay (see :func:`short_legs`).
    """
    once = _once(body)
    if transits.spacing_m <= 0 or transits.nofly.empty or len(once) < 3:
        return once
    return _Spreader(transits, camera, targets, home).spread(once)


def _once(body: Sequence[RoutePoint]) -> list[RoutePoint]:
    """``body`` with a point that repeats the one before it (within 1 cm) left out: a swath piece
    of one point next to another, or a transit ending where a piece starts, is one waypoint."""
    out: list[RoutePoint] = []
    for p in body:
        if out and math.dist(_xy(out[-1]), _xy(p)) < 0.01:
            if out[-1].transit and not p.transit:
                out[-1] = p
            continue
        out.append(p)
    return out
