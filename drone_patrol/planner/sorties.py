"""Split a route into sorties that each fit the endurance with its reserve and return home, at least total flight."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from drone_patrol.core.errors import PlanningError
from drone_patrol.planner.build import RoutePoint
from drone_patrol.planner.endurance import PathPoint, estimate, usable_fraction

XY = tuple[float, float]
PathFn = Callable[[XY, XY], list[XY]]


def _pp(p: RoutePoint) -> PathPoint:
    return PathPoint(p.x, p.y, p.altitude_m, p.speed_m_s)


def transit_points(path: PathFn, a: RoutePoint, b: RoutePoint, speed_m_s: float, area: str | None) -> list[RoutePoint]:
    """The intermediate points of the no-fly-avoiding path from ``a`` to ``b`` (ends excluded)."""
    inner = path((a.x, a.y), (b.x, b.y))[1:-1]
    return [RoutePoint(x, y, b.altitude_m, speed_m_s, area=area, transit=True) for x, y in inner]


def with_home(home: RoutePoint, body: Sequence[RoutePoint], path: PathFn, speed_m_s: float) -> list[RoutePoint]:
    """``body`` with transit from home at the start and back to home at the end."""
    if not body:
        return [home, home]
    first, last = body[0], body[-1]
    start = RoutePoint(home.x, home.y, first.altitude_m, speed_m_s)
    back = RoutePoint(home.x, home.y, last.altitude_m, speed_m_s)
    return [
        home,
        *transit_points(path, start, first, speed_m_s, None),
        *body,
        *transit_points(path, last, back, speed_m_s, None),
        back,
    ]


def _memo(path: PathFn) -> PathFn:
    """``path`` remembering its answers (a path back is the path out reversed)."""
    known: dict[tuple[XY, XY], list[XY]] = {}

    def cached(a: XY, b: XY) -> list[XY]:
        if (a, b) not in known:
            back = known.get((b, a))
            known[(a, b)] = back[::-1] if back is not None else path(a, b)
        return known[(a, b)]

    return cached


class _Costs:
    """Battery use of the pieces a sortie home -> body[i..k] -> home is made of.

    Every figure comes from :func:`estimate` on the model itself, so the split works
    with whatever endurance model (or learned vehicle profile behind it) is given:
    ``head[i]`` is the take-off, the transit from home and the turn at ``body[i]``;
    ``leg[m]`` the leg ``body[m] -> body[m + 1]``; ``turn[m]`` the turn at
    ``body[m]``; ``foot[k]`` the transit home from ``body[k]`` and the landing. For a
    model that is a sum over legs and turns (the built-in one) their sum is exact;
    the split still checks every sortie with the full estimate.
    """

    def __init__(
        self, home: RoutePoint, body: Sequence[RoutePoint], path: PathFn, model: Any, speed_m_s: float
    ) -> None:
        n = len(body)
        pp = [_pp(p) for p in body]

        def air(pts: Sequence[RoutePoint | PathPoint]) -> float:
            flat = [p if isinstance(p, PathPoint) else _pp(p) for p in pts]
            return estimate(flat, model, airborne=True).battery_fraction

        def full(pts: Sequence[RoutePoint]) -> float:
            return estimate([_pp(p) for p in pts], model).battery_fraction

        self.leg = np.array([air(pp[m : m + 2]) for m in range(n - 1)] + [0.0])
        self.turn = np.zeros(n)
        for m in range(1, n - 1):
            self.turn[m] = air(pp[m - 1 : m + 2]) - self.leg[m - 1] - self.leg[m]
        self.head = np.zeros(n)
        self.foot = np.zeros(n)
        for m in range(n - 1):
            flight = with_home(home, body[m : m + 2], path, speed_m_s)
            back = transit_points(path, body[m + 1], flight[-1], speed_m_s, None)
            out = flight[: len(flight) - len(back) - 1]  # home .. body[m], body[m + 1]
            self.head[m] = air(out) - self.leg[m]
            self.foot[m + 1] = full(flight) - self.head[m] - self.leg[m]
        self.cum_leg = np.concatenate([[0.0], np.cumsum(self.leg)])
        self.cum_turn = np.concatenate([[0.0], np.cumsum(self.turn)])

    def from_starts(self, k: int) -> np.ndarray:
        """Battery use of the sorties home -> body[i..k] -> home for every i < k."""
        i = np.arange(k)
        inner_turns = self.cum_turn[k] - self.cum_turn[np.minimum(i + 1, k)]
        return self.head[i] + (self.cum_leg[k] - self.cum_leg[i]) + inner_turns + self.foot[k]


def split(
    home: RoutePoint, body: Sequence[RoutePoint], path: PathFn, model: Any, speed_m_s: float
) -> list[list[RoutePoint]]:
    """Split ``body`` (the route without home) into flights home -> part -> home that fit ``model``.

    The cut points are chosen by dynamic programming to minimise the battery used by
    all sorties together (transits to and from home, take-offs and landings
    included), not greedily: a sortie may end early where home is near so that the
    next one does not fly far for little. Each sortie ends at a point of the route
    and the next resumes there, so no leg is skipped. ``model`` is the endurance
    model :func:`estimate` and :func:`usable_fraction` take.
    """
    budget = usable_fraction(model)
    path = _memo(path)

    def fuel(part: Sequence[RoutePoint]) -> float:
        return estimate([_pp(p) for p in with_home(home, part, path, speed_m_s)], model).battery_fraction

    if len(body) < 2 or fuel(body) <= budget:
        return [with_home(home, body, path, speed_m_s)]
    costs = _Costs(home, body, path, model, speed_m_s)
    limit = budget
    for _ in range(6):
        cuts = _best_cuts(costs, len(body), limit)
        if cuts is None:
            k = int(np.argmax(costs.head[:-1] + costs.leg[:-1] + costs.foot[1:]))
            p = body[k + 1]
            area = f"area {p.area!r}: " if p.area else ""
            raise PlanningError(
                f"{area}the flight to ({p.x:.0f}, {p.y:.0f}) m east/north of home and back does not fit the endurance "
                f"({getattr(model, 'flight_time_s', 0):g} s with a {getattr(model, 'reserve_fraction', 0):.0%} reserve)"
            )
        parts = [body[a : b + 1] for a, b in itertools.pairwise(cuts)]
        over = max(fuel(part) - budget for part in parts)
        if over <= 1e-9:
            return [with_home(home, part, path, speed_m_s) for part in parts]
        limit -= over + 1e-6  # the model is not a plain sum of its pieces: ask for a little less
    raise PlanningError("the route could not be split into sorties that fit the endurance model")


def _best_cuts(costs: _Costs, n: int, limit: float) -> list[int] | None:
    """Indices 0 = c0 < c1 < ... < cm = n - 1 minimising the summed battery, each sortie within ``limit``."""
    best = np.full(n, np.inf)
    prev = np.zeros(n, dtype=np.int64)
    best[0] = 0.0
    for k in range(1, n):
        c = costs.from_starts(k)
        total = np.where(c <= limit, best[:k] + c, np.inf)
        i = int(np.argmin(total))
        best[k], prev[k] = total[i], i
    if not np.isfinite(best[n - 1]):
        return None
    cuts = [n - 1]
    while cuts[-1] != 0:
        cuts.append(int(prev[cuts[-1]]))
    return cuts[::-1]


def path_length(points: Sequence[RoutePoint]) -> float:
    """Horizontal length of a point sequence."""
    return sum(math.dist((a.x, a.y), (b.x, b.y)) for a, b in itertools.pairwise(points))
