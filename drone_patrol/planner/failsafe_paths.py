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
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from drone_patrol.core.errors import PlanningError
from drone_patrol.core.geo import LocalFrame
from drone_patrol.core.rtl import RALLY_LIMIT_M, blocked, outside, return_paths, rtl_targets
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

    @property
    def fan_m(self) -> BaseGeometry:
        """Everything the returns sweep (for the inclusion fence)."""
        if not len(self.paths):
            return Polygon()
        try:
            return shapely.union_all(self.paths)
        except shapely.errors.GEOSException:
            # a sliver (a return nearly along a leg) can defeat the floating-point overlay: a 1 mm grid holds
            return shapely.union_all(self.paths, grid_size=1e-3)


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


def _paths(flights: list[np.ndarray], rally: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    targets, paths, first = [], [], []
    offset = 0
    for pts in flights:
        tgt = rtl_targets(pts, rally, RALLY_LIMIT_M)
        targets.append(tgt)
        paths.append(return_paths(pts, tgt))
        first.append(offset + np.arange(max(1, len(pts) - 1)))
        offset += len(pts)
    return np.concatenate(targets), np.concatenate(paths), np.concatenate(first)


def _line_blocked(pts: np.ndarray, tgt: np.ndarray, obstacles: BaseGeometry) -> np.ndarray:
    same = np.all(np.isclose(pts, tgt), axis=1)
    out = np.zeros(len(pts), dtype=bool)
    if (~same).any():
        lines = shapely.linestrings(np.stack([pts[~same], tgt[~same]], axis=1))
        out[~same] = blocked(lines, obstacles)
    return out


def plan_returns(
    flights: Sequence[Sequence[RoutePoint]],
    rally_m: Sequence[XY],
    obstacles: BaseGeometry,
    step_m: float = _STEP_M,
    max_added: int | None = None,
) -> PlannedReturns:
    """Sample the flights, add rally points until every straight return clears ``obstacles``
    (the no-fly zones grown by the clearance), and return the result (blocked returns stay
    blocked: :func:`check_fence` refuses them)."""
    per_flight, areas = [], []
    for f in flights:
        p, a = _sample(f, step_m)
        per_flight.append(np.array(p, dtype=float).reshape(-1, 2))
        areas.extend(a)
    pts = np.concatenate(per_flight) if per_flight else np.zeros((0, 2))
    rally: list[XY] = [(float(r[0]), float(r[1])) for r in rally_m]
    added: list[XY] = []
    for _ in range(MAX_GENERATED_RALLY if max_added is None else max_added):
        bad = _line_blocked(pts, rtl_targets(pts, np.array(rally), RALLY_LIMIT_M), obstacles)
        if not bad.any():
            break
        p = pts[int(np.argmax(bad))]
        near = pts[np.linalg.norm(pts - p, axis=1) <= 0.95 * RALLY_LIMIT_M]
        near = near[~_line_blocked(np.repeat(p[None, :], len(near), axis=0), near, obstacles)]
        if len(near) == 0:
            break
        cands = near[np.linspace(0, len(near) - 1, min(_CANDIDATES, len(near))).astype(int)]
        scores = [
            _line_blocked(pts, rtl_targets(pts, np.array([*rally, c]), RALLY_LIMIT_M), obstacles).sum() for c in cands
        ]
        best = int(np.argmin(scores))
        # no candidate lowers the count: put one on the blocked point itself, which at least clears it
        chosen = cands[best] if scores[best] < bad.sum() else p
        c = (round(float(chosen[0]), 2), round(float(chosen[1]), 2))
        rally.append(c)
        added.append(c)
    targets, paths, first = _paths(per_flight, np.array(rally))
    return PlannedReturns(pts, tuple(areas), tuple(rally), tuple(added), targets, paths, first)


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
    bad_zone = blocked(returns.paths, obstacles)
    bad_fence = outside(returns.paths, inclusion)
    for k in np.flatnonzero(bad_zone | bad_fence):
        i = int(returns.pair_of[k])
        area = returns.areas[i]
        target = returns.targets_m[i]
        where = "home" if np.allclose(target, 0.0) else f"the rally point at {_where(frame, target)}"
        lead = f"area {area!r}" if area else "transit"
        if bad_zone[k]:
            zone = next(n for n, g in grown if g.intersects(returns.paths[k]))
            raise PlanningError(
                f"{lead}: an RTL from {_where(frame, returns.points_m[i])} to {where} would pass within "
                f"{clearance_m:g} m of no-fly zone {zone!r}; add a rally point (role rally) it can reach in the clear"
            )
        raise PlanningError(
            f"{lead}: an RTL from {_where(frame, returns.points_m[i])} to {where} would leave the inclusion fence"
        )
