"""Flight time and battery use of a route, from the simple model of ``EnduranceConfig``.

time = take-off climb / climb rate + sum(leg length / leg speed) + altitude changes
(climb or descent rate) + turns (``turn_time_s`` per 180 degrees of heading change)
+ final descent / descent rate. Climbing, descending and turning cost
``hover_power_factor`` times the battery of cruise; the battery fraction is the
weighted time over ``flight_time_s``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from drone_patrol.core.config.planner import EnduranceConfig


@dataclass(frozen=True, slots=True)
class PathPoint:
    """A point of a flown path: local metres, altitude above home and the speed to reach it."""

    x: float
    y: float
    altitude_m: float
    speed_m_s: float


@dataclass(frozen=True, slots=True)
class FlightEstimate:
    """Length, time and battery use of a flight from take-off to landing."""

    length_m: float
    duration_s: float
    battery_fraction: float
    turns: int


def _heading_change_deg(a: PathPoint, b: PathPoint, c: PathPoint) -> float:
    h1 = math.atan2(b.y - a.y, b.x - a.x)
    h2 = math.atan2(c.y - b.y, c.x - b.x)
    d = abs(math.degrees(h2 - h1)) % 360.0
    return 360.0 - d if d > 180.0 else d


def estimate(path: Sequence[PathPoint], model: EnduranceConfig, airborne: bool = False) -> FlightEstimate:
    """Estimate a flight that takes off at ``path[0]`` (on the ground) and lands at ``path[-1]``;
    with ``airborne`` the path is a piece flown in the air (no take-off or landing)."""
    if not path:
        return FlightEstimate(0.0, 0.0, 0.0, 0)
    cruise_s = 0.0
    hover_s = 0.0
    if not airborne:
        hover_s = path[0].altitude_m / model.climb_rate_m_s + path[-1].altitude_m / model.descent_rate_m_s
    length = 0.0
    turns = 0
    horizontal = [
        p for i, p in enumerate(path) if i == 0 or math.dist((p.x, p.y), (path[i - 1].x, path[i - 1].y)) > 0.01
    ]
    for a, b in itertools.pairwise(path):
        d = math.dist((a.x, a.y), (b.x, b.y))
        length += d
        cruise_s += d / b.speed_m_s
        dz = b.altitude_m - a.altitude_m
        hover_s += dz / model.climb_rate_m_s if dz > 0 else -dz / model.descent_rate_m_s
    for a, b, c in zip(horizontal[:-2], horizontal[1:-1], horizontal[2:], strict=True):
        change = _heading_change_deg(a, b, c)
        if change > 10.0:
            turns += 1
            hover_s += model.turn_time_s * change / 180.0
    duration = cruise_s + hover_s
    battery = (cruise_s + hover_s * model.hover_power_factor) / model.flight_time_s
    return FlightEstimate(length, duration, battery, turns)


def usable_fraction(model: EnduranceConfig) -> float:
    """The battery fraction a sortie may use (the rest is the reserve)."""
    return 1.0 - model.reserve_fraction
