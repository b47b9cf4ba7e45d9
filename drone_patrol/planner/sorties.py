"""Split a route into sorties that each fit the endurance with its reserve and return home."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

from drone_patrol.core.config.planner import EnduranceConfig
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


def split(
    home: RoutePoint, body: Sequence[RoutePoint], path: PathFn, model: EnduranceConfig, speed_m_s: float
) -> list[list[RoutePoint]]:
    """Greedy split of ``body`` (the route without home) into flights home -> part -> home that fit."""
    budget = usable_fraction(model)
    out: list[list[RoutePoint]] = []
    i = 0

    def fits(j: int) -> bool:
        pts = with_home(home, body[i:j], path, speed_m_s)
        return estimate([_pp(p) for p in pts], model).battery_fraction <= budget

    while True:
        if fits(len(body)):
            out.append(with_home(home, body[i:], path, speed_m_s))
            return out
        # binary search the longest prefix body[i:j] that fits (battery use grows with j)
        good, left, right = i, i + 1, len(body) - 1
        while left <= right:
            mid = (left + right) // 2
            if fits(mid):
                good, left = mid, mid + 1
            else:
                right = mid - 1
        if good < i + 2:
            p = body[min(i + 1, len(body) - 1)]
            area = f"area {p.area!r}: " if p.area else ""
            raise PlanningError(
                f"{area}the flight to ({p.x:.0f}, {p.y:.0f}) m east/north of home and back does not fit the endurance "
                f"({model.flight_time_s:g} s with a {model.reserve_fraction:.0%} reserve)"
            )
        out.append(with_home(home, body[i:good], path, speed_m_s))
        # the next sortie resumes at the last point reached, so no leg is skipped
        i = good - 1


def path_length(points: Sequence[RoutePoint]) -> float:
    """Horizontal length of a point sequence."""
    return sum(math.dist((a.x, a.y), (b.x, b.y)) for a, b in itertools.pairwise(points))
