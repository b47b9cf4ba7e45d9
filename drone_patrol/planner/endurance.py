"""Flight time and battery use of a route, from the simple model of ``EnduranceConfig``.

time = take-off climb / climb rate + the horizontal legs as ArduCopter flies them
(``core/wpnav.py``: jerk-limited S-curves from rest to rest, short legs never at full
speed, corners blended within WPNAV_RADIUS) + altitude changes (climb or descent rate)
+ ``turn_time_s`` per 180 degrees of heading change (0 by default: the S-curves hold
the corners) + RTL's hold over home (RTL_LOIT_TIME) + the landing (WPNAV_SPEED_DN to
LAND_ALT_LOW, then LAND_SPEED). Climbing, descending, holding and landing cost
``hover_power_factor`` times the battery of cruise; the battery fraction is the
weighted time over ``flight_time_s``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from drone_patrol.core.config import Settings
from drone_patrol.core.config.planner import EnduranceConfig
from drone_patrol.core.errors import InputError
from drone_patrol.core.profile import VehicleProfile, find_profile, latest_profile, profile_path
from drone_patrol.core.wpnav import WpnavLimits, chain_time_s, landing_s


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


def wpnav_limits(model: EnduranceConfig) -> WpnavLimits:
    """The waypoint navigation limits the model times legs with."""
    return WpnavLimits(model.accel_m_s2, model.jerk_m_s3, model.waypoint_radius_m)


def estimate(path: Sequence[PathPoint], model: EnduranceConfig, airborne: bool = False) -> FlightEstimate:
    """Estimate a flight that takes off at ``path[0]`` (on the ground) and lands at ``path[-1]``;
    with ``airborne`` the path is a piece flown in the air (no take-off or landing)."""
    if not path:
        return FlightEstimate(0.0, 0.0, 0.0, 0)
    hover_s = 0.0
    if not airborne:
        hover_s = (
            path[0].altitude_m / model.climb_rate_m_s
            + model.rtl_loiter_s
            + landing_s(path[-1].altitude_m, model.descent_rate_m_s)
        )
    length = 0.0
    turns = 0
    horizontal = [
        p for i, p in enumerate(path) if i == 0 or math.dist((p.x, p.y), (path[i - 1].x, path[i - 1].y)) > 0.01
    ]
    limits = wpnav_limits(model)
    cruise_s, _ = chain_time_s([(p.x, p.y) for p in horizontal], [p.speed_m_s for p in horizontal], limits)
    for a, b in itertools.pairwise(path):
        length += math.dist((a.x, a.y), (b.x, b.y))
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


#: an unknown vehicle's first flight is planned on this share of the config's flight time: a
#: vehicle with a quarter of the endurance the config assumes (ArduPilot SITL's default quad
#: lasts 7 minutes on its 3300 mAh pack, the config says 25) still lands with its reserve
FIRST_FLIGHT_FACTOR = 0.25


def endurance_for(
    base: EnduranceConfig, profile: VehicleProfile | None, first_flight: bool = False
) -> tuple[EnduranceConfig, str]:
    """The model to plan with and a line saying where it comes from: the vehicle's learned
    profile, else the config's figures (cut to ``FIRST_FLIGHT_FACTOR`` with ``first_flight``:
    the service about to fly a vehicle it has no profile of)."""
    if profile is not None:
        model = profile.endurance(base)
        return model, (
            f"endurance from the learned profile of {profile.describe()}: "
            f"{model.flight_time_s / 60:.1f} min of cruise on a full battery"
        )
    if not first_flight:
        return base, (
            f"endurance from the config's figures (no profile of this vehicle yet): {base.flight_time_s / 60:.1f} min "
            "of cruise on a full battery"
        )
    model = base.model_copy(update={"flight_time_s": base.flight_time_s * FIRST_FLIGHT_FACTOR})
    return model, (
        f"endurance from the config's figures (no profile of this vehicle yet): {base.flight_time_s / 60:.1f} min, "
        f"planned on {FIRST_FLIGHT_FACTOR:.0%} of it for a first flight; the vehicle's own profile is learned from it"
    )


def endurance_options(
    settings: Settings, vehicle_id: str | None, flight_time_s: float | None, first_flight: bool = False
) -> dict[str, Any]:
    """Planner overrides for the vehicle's endurance: a given flight time, else its learned
    profile (``vehicle_id``'s, or the newest of ``site.drone_id``), else the config's figures
    (for a ``first_flight``: cut to ``FIRST_FLIGHT_FACTOR``)."""
    if flight_time_s is not None:
        return {"endurance_note": f"endurance from the given flight time: {flight_time_s / 60:.1f} min"}
    data_dir = settings.site.data_dir
    if vehicle_id is not None:
        profile = find_profile(data_dir, vehicle_id)
        if profile is None:
            raise InputError(f"vehicle {vehicle_id!r}: no profile in {profile_path(data_dir, vehicle_id)}")
    else:
        profile = latest_profile(data_dir, settings.site.drone_id)
    model, note = endurance_for(settings.planner.endurance, profile, first_flight)
    return {
        "flight_time_s": model.flight_time_s,
        "hover_power_factor": model.hover_power_factor,
        "endurance_note": note,
    }
