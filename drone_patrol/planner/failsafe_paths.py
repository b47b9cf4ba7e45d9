"""Failsafe paths inside the fence: rally points and an inclusion fence that RTL can always use.

A battery, link or fence failsafe (or the controller ending a sortie early) sends the
vehicle home by RTL: a straight line at RTL_ALT to the closest rally point or home
(``core/rtl.py``). On a concave district with home outside it, or a no-fly zone between
the route and home, that line leaves an inclusion fence drawn round the route alone,
or crosses the no-fly zone. The plan makes the straight return safe instead of relying
on ArduPilot's path planner (OA_TYPE 2, Dijkstra's): that planner needs a reboot after
OA_TYPE is set ("Dijkstra OA requires reboot"), replans every Auto leg of the patrol
too, and gives up silently when the fence leaves it no path; a straight line the
planner has checked is a path the operator can see on the map before take-off.

1. The flown route of every sortie (loop-back included) is sampled every few metres.
2. Each sample gets the return target ArduPilot would pick (home and the rally points).
3. Where a return path comes nearer a no-fly zone than the clearance, a rally point is
   added on the route: of the route points that sample reaches in the clear, the one
   that leaves the fewest blocked returns (greedy), up to ``MAX_GENERATED_RALLY``.
   RTL lands at a rally point, so each one is named in the plan's warnings.
4. The inclusion fence is grown to hold every return path (``PlannedReturns.fan_m``).
5. The drawn fence is checked again (:func:`check_fence`). A return that cannot be made
   clear refuses the plan in one line naming the area and the point.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from drone_patrol.core.errors import PlanningError
from drone_patrol.core.geo import LocalFrame
from drone_patrol.core.rtl import (
    RALLY_LIMIT_M,
    blocked,
    outside,
    return_paths,
    rtl_targets,
    swept_paths,
    target_changes,
)
from drone_patrol.planner.build import RoutePoint

XY = tuple[float, float]

#: rally points the planner may add (ArduPilot stores RALLY_TOTAL points; keep the list short)
MAX_GENERATED_RALLY = 8
_STEP_M = 10.0
_CANDIDATES = 40


@dataclass(frozen=True)
class PlannedReturns:
    """The route's samples, their return targets and paths, and the rally points added."""

    points_m: np.ndarray
    areas: tuple[str | None, ...]
    rally_m: tuple[XY, ...]
    added_m: tuple[XY, ...]
    targets_m: np.ndarray
    paths: np.ndarray
    pair_of: np.ndarray  # index of the first sample of each path
    flight_of: np.ndarray  # index of the flight of each sample
    # every return from each stretch between two samples, the targets nearest only in between
    # included (core.rtl.return_paths with the rally points): what must miss the no-fly zones
    # themselves and stay inside the fence
    swept: np.ndarray

    @property
    def fan_m(self) -> BaseGeometry:
        """Everything the returns sweep (for the inclusion fence)."""
        if not len(self.paths):
            return Polygon()
        pieces = _merged_fans(self.points_m, self.targets_m, self.pair_of, self.swept, self.flight_of)
        try:
            return shapely.union_all(pieces)
        except shapely.errors.GEOSException:
            # a sliver (a return nearly along a leg) can defeat the floating-point overlay: a 1 mm grid holds
            return shapely.union_all(pieces, grid_size=1e-3)


def _merged_fans(
    points: np.ndarray, targets: np.ndarray, pair_of: np.ndarray, paths: np.ndarray, flight_of: np.ndarray
) -> list:
    """The return paths with each run of triangles along one straight leg to one target made one triangle.

    Samples along a leg are collinear and in order, so the triangles (p_i, p_i+1, T) of a run
    tile (p_first, p_last, T) exactly; the overlay then unions a few hundred shapes, not thousands.
    ``flight_of`` (the flight of each sample) bounds the runs: a path is a triangle only when
    p_i+1 is a sample of the same flight (a flight of one sample has a line to its target), so
    no run spans two flights.
    """
    pts, tgt, first, flight = np.asarray(points), np.asarray(targets), np.asarray(pair_of), np.asarray(flight_of)
    n = len(paths)
    if n < 2 or len(first) != n or len(flight) != len(pts):
        return list(paths)
    a = first
    b = np.minimum(first + 1, len(pts) - 1)
    # path j is the triangle (p_a, p_b, T) of one target, both samples of one flight
    same = (first + 1 < len(pts)) & (flight[a] == flight[b]) & np.all(np.isclose(tgt[a], tgt[b]), axis=1)
    # a pair cut where another target is nearest in between (return_paths) is more than one triangle
    same &= np.asarray(shapely.get_num_coordinates(paths), dtype=int) <= 4
    # path j+1 goes on from path j: the next pair, the same target, straight on along the leg
    u, v = pts[b[:-1]] - pts[a[:-1]], pts[b[1:]] - pts[a[1:]]
    cross = np.abs(u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0])
    straight = (cross <= 1e-9 * np.hypot(*u.T) * np.hypot(*v.T)) & (np.einsum("ij,ij->i", u, v) > 0)
    cont = same[:-1] & same[1:] & (a[1:] == b[:-1]) & np.all(np.isclose(tgt[a[1:]], tgt[a[:-1]]), axis=1) & straight
    out: list = []
    j = 0
    while j < n:
        k = j
        while k < n - 1 and cont[k]:
            k += 1
        if k == j:
            out.append(paths[j])
        else:
            out.append(shapely.convex_hull(shapely.multipoints([pts[a[j]], pts[b[k]], tgt[a[j]]])))
        j = k + 1
    return out


def _sample(flight: Sequence[RoutePoint], step_m: float) -> tuple[list[XY], list[str | None]]:
    pts: list[XY] = []
    areas: list[str | None] = []
    for a, b in itertools.pairwise(flight):
        d = float(np.hypot(b.x - a.x, b.y - a.y))
        n = max(1, int(np.ceil(d / step_m)))
        for k in range(n):
            t = k / n
            pts.append((a.x + t * (b.x - a.x), a.y + t * (b.y - a.y)))
            areas.append(b.area or a.area)
    if flight:
        pts.append((flight[-1].x, flight[-1].y))
        areas.append(flight[-1].area)
    return pts, areas


def _paths(
    flights: list[np.ndarray], rally: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Targets and return paths of every flight's samples, the first sample of each path, each
    sample's flight, and the swept paths (the targets changing between samples too)."""
    targets, paths, first, flight_of, swept = [], [], [], [], []
    offset = 0
    for k, pts in enumerate(flights):
        tgt = rtl_targets(pts, rally, RALLY_LIMIT_M)
        targets.append(tgt)
        paths.append(return_paths(pts, tgt))
        swept.append(swept_paths(pts, tgt, paths[-1], rally, RALLY_LIMIT_M))
        first.append(offset + np.arange(max(1, len(pts) - 1)))
        flight_of.append(np.full(len(pts), k))
        offset += len(pts)
    cat = np.concatenate
    return cat(targets), cat(paths), cat(first), cat(flight_of), cat(swept)


def _line_blocked(pts: np.ndarray, tgt: np.ndarray, obstacles: BaseGeometry) -> np.ndarray:
    same = np.all(np.isclose(pts, tgt), axis=1)
    out = np.zeros(len(pts), dtype=bool)
    if (~same).any():
        lines = shapely.linestrings(np.stack([pts[~same], tgt[~same]], axis=1))
        out[~same] = blocked(lines, obstacles)
    return out


def _blocked_with_each(
    pts: np.ndarray, rally: np.ndarray, bad: np.ndarray, cands: np.ndarray, obstacles: BaseGeometry
) -> list[int]:
    """How many returns stay blocked with each candidate rally point added to ``rally``.

    Adding ``c`` changes the target of exactly the points for which it becomes the closest
    rally point and RTL would take it (within RALLY_LIMIT_M, closer than home; a tie keeps
    the older point, as ``rtl_targets``' argmin does); every other point keeps its target and
    its verdict in ``bad``, so only the switched returns are tested again.
    """
    ral = rally.reshape(-1, 2)
    d_old = np.linalg.norm(pts[:, None, :] - ral[None, :, :], axis=2).min(axis=1) if len(ral) else np.inf
    d_home = np.linalg.norm(pts, axis=1)
    scores = []
    for c in cands:
        d = np.linalg.norm(pts - c, axis=1)
        switch = (d < d_old) & (d < d_home)
        if RALLY_LIMIT_M > 0:
            switch &= d <= RALLY_LIMIT_M
        n = int((bad & ~switch).sum())
        if switch.any():
            n += int(_line_blocked(pts[switch], np.repeat(c[None, :], int(switch.sum()), axis=0), obstacles).sum())
        scores.append(n)
    return scores


def plan_returns(
    flights: Sequence[Sequence[RoutePoint]],
    rally_m: Sequence[XY],
    obstacles: BaseGeometry,
    step_m: float = _STEP_M,
    max_added: int | None = None,
    zones: BaseGeometry | None = None,
) -> PlannedReturns:
    """Sample the flights, add rally points until every straight return clears ``obstacles``
    (the no-fly zones grown by the clearance) and every return from between two samples clears
    ``zones`` (the no-fly zones themselves), and return the result (blocked returns stay
    blocked: :func:`check_fence` refuses them)."""
    per_flight, areas = [], []
    for f in flights:
        p, a = _sample(f, step_m)
        per_flight.append(np.array(p, dtype=float).reshape(-1, 2))
        areas.extend(a)
    pts = np.concatenate(per_flight) if per_flight else np.zeros((0, 2))
    rally: list[XY] = [(float(r[0]), float(r[1])) for r in rally_m]
    added: list[XY] = []
    samples = pts
    bare = zones if zones is not None else obstacles
    for _ in range(MAX_GENERATED_RALLY if max_added is None else max_added):
        ral = np.array(rally)
        # the samples, and a point of every stretch between two where another target is nearest
        between, between_targets = _between(per_flight, ral)
        pts = np.concatenate([samples, between])
        bad = np.concatenate([
            _line_blocked(samples, rtl_targets(samples, ral, RALLY_LIMIT_M), obstacles),
            _line_blocked(between, between_targets, bare),
        ])  # fmt: skip
        if not bad.any():
            break
        p = pts[int(np.argmax(bad))]
        near = pts[np.linalg.norm(pts - p, axis=1) <= 0.95 * RALLY_LIMIT_M]
        near = near[~_line_blocked(np.repeat(p[None, :], len(near), axis=0), near, obstacles)]
        if len(near) == 0:
            break
        cands = near[np.linspace(0, len(near) - 1, min(_CANDIDATES, len(near))).astype(int)]
        scores = _blocked_with_each(pts, ral, bad, cands, obstacles)
        best = int(np.argmin(scores))
        # no candidate lowers the count: put one on the blocked point itself, which at least clears it
        chosen = cands[best] if scores[best] < bad.sum() else p
        c = (round(float(chosen[0]), 2), round(float(chosen[1]), 2))
        if any(math.dist(c, r) < 1.0 for r in rally):
            break  # it is there already and did not help: another copy would only take a slot
        rally.append(c)
        added.append(c)
    targets, paths, first, flight_of, swept = _paths(per_flight, np.array(rally))
    return PlannedReturns(samples, tuple(areas), tuple(rally), tuple(added), targets, paths, first, flight_of, swept)


def _between(per_flight: list[np.ndarray], rally: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where a stretch between two consecutive samples of a flight is cut because the return
    target changes inside it (core.rtl.target_changes): both ends of every piece, each with
    the piece's target (the lines that bound what its returns sweep); (points, targets)."""
    starts, stops, mids = [np.zeros((0, 2))], [np.zeros((0, 2))], [np.zeros((0, 2))]
    for pts in per_flight:
        for k, ts in target_changes(pts[:-1], pts[1:], rally, RALLY_LIMIT_M).items():
            ends = pts[k] + np.array([0.0, *ts, 1.0])[:, None] * (pts[k + 1] - pts[k])
            starts.append(ends[:-1])
            stops.append(ends[1:])
            mids.append((ends[:-1] + ends[1:]) / 2.0)
    targets = rtl_targets(np.concatenate(mids), rally, RALLY_LIMIT_M)
    return np.concatenate([*starts, *stops]), np.concatenate([targets, targets])


def return_obstacles(zones: BaseGeometry, clearance_m: float, exempt: BaseGeometry | None = None) -> BaseGeometry:
    """What a return path must not touch: the no-fly zones, and their ``clearance_m`` except
    within ``exempt`` (the legs the route itself flies from home or a rally point: a return
    along them is no closer than the route)."""
    if zones.is_empty:
        return zones
    # a path exactly ``clearance_m`` away is clear: grow by a centimetre less
    grown = zones.buffer(clearance_m - 0.01) if clearance_m > 0.01 else zones
    if exempt is not None and not exempt.is_empty:
        grown = grown.difference(exempt)
    return shapely.union_all([grown, zones])


def legs_from_targets(flights: Sequence[Sequence[RoutePoint]], targets_m: Sequence[XY]) -> BaseGeometry:
    """The flown legs that start or end at a return target, 1 m wide."""
    ends = np.array(targets_m, dtype=float).reshape(-1, 2)
    legs = []
    for f in flights:
        for a, b in itertools.pairwise(f):
            at = [np.min(np.linalg.norm(ends - np.array(p), axis=1)) < 0.5 for p in ((a.x, a.y), (b.x, b.y))]
            if any(at) and (a.x, a.y) != (b.x, b.y):
                legs.append(shapely.LineString([(a.x, a.y), (b.x, b.y)]).buffer(1.0))
    return shapely.union_all(legs) if legs else Polygon()


def _where(frame: LocalFrame, xy: np.ndarray) -> str:
    lon, lat = frame.en_to_lonlat([(float(xy[0]), float(xy[1]))])[0]
    return f"({float(lat):.6f}, {float(lon):.6f})"


def check_returns(
    returns: PlannedReturns,
    inclusion: BaseGeometry,
    zones: Sequence[tuple[str, BaseGeometry]],
    clearance_m: float,
    frame: LocalFrame,
    exempt: BaseGeometry | None = None,
) -> None:
    """Refuse (PlanningError, one line) when a return path leaves ``inclusion`` or comes within
    ``clearance_m`` of a no-fly zone, naming the area, the point and the zone."""
    grown = [(name, return_obstacles(z, clearance_m, exempt)) for name, z in zones]
    obstacles = shapely.union_all([g for _, g in grown]) if grown else Polygon()
    bare = shapely.union_all([z for _, z in zones]) if zones else Polygon()
    # the samples' returns keep the clearance; every return in between must miss the zones themselves
    near_zone = blocked(returns.paths, obstacles)
    in_zone = blocked(returns.swept, bare)
    bad_zone = near_zone | in_zone
    bad_fence = outside(returns.swept, inclusion)
    for k in (int(x) for x in np.flatnonzero(bad_zone | bad_fence)):
        i = int(returns.pair_of[k])
        area = returns.areas[i]
        what = obstacles if near_zone[k] else bare if in_zone[k] else None  # what the named return touches
        start, target = _blocked_return(returns, k, what, inclusion)
        where = "home" if np.allclose(target, 0.0) else f"the rally point at {_where(frame, target)}"
        lead = f"area {area!r}" if area else "transit"
        if bad_zone[k]:
            line = shapely.LineString([start, target]) if not np.allclose(start, target) else returns.paths[k]
            zone = next((n for n, g in grown if g.intersects(line)), None)
            zone = zone or next(n for n, g in grown if g.intersects(returns.paths[k]))
            raise PlanningError(
                f"{lead}: an RTL from {_where(frame, start)} to {where} would pass within "
                f"{clearance_m:g} m of no-fly zone {zone!r}; add a rally point (role rally) it can reach in the clear"
            )
        raise PlanningError(f"{lead}: an RTL from {_where(frame, start)} to {where} would leave the inclusion fence")


def _blocked_return(
    returns: PlannedReturns, k: int, obstacles: BaseGeometry | None, inclusion: BaseGeometry
) -> tuple[np.ndarray, np.ndarray]:
    """A point of path ``k``'s stretch of route and its return target whose straight line is the
    blocked one (touches ``obstacles``, or, without them, leaves ``inclusion``): the message names it."""
    i = int(returns.pair_of[k])
    j = i + 1 if i + 1 < len(returns.points_m) and returns.flight_of[i + 1] == returns.flight_of[i] else i
    a, b = returns.points_m[i], returns.points_m[j]
    along = a + np.linspace(0.0, 1.0, 41)[:, None] * (b - a)
    targets = rtl_targets(along, np.array(returns.rally_m), RALLY_LIMIT_M)
    for p, t in zip(along, targets, strict=True):
        if np.allclose(p, t):
            continue
        line = shapely.LineString([p, t])
        if (obstacles is not None and line.intersects(obstacles)) or (
            obstacles is None and not inclusion.is_empty and not inclusion.covers(line)
        ):
            return p, t
    return a, returns.targets_m[i]
