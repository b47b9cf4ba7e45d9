"""Failsafe rules: pure functions of (VehicleState, Mission, limits) -> action.

No I/O here; the executor applies the decision and reports it. The battery rules use
the vehicle's endurance (from its learned profile, else the config): a full battery
gives ``flight_time_s`` of cruise at the mission's speed; climbing, descending and
landing burn ``hover_power_factor`` times as much per second. A mission's legs are
timed as ArduCopter flies them (``core/wpnav.py``: S-curves, short legs slower,
corners blended); landing follows ArduCopter's defaults: RTL_LOIT_TIME 5 s over home,
WPNAV_SPEED_DN 1.5 m/s down to LAND_ALT_LOW 10 m, then LAND_SPEED 0.5 m/s.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from shapely.geometry import Point, Polygon

from drone_patrol.core.geo import distance_m
from drone_patrol.core.types import Geofence, GeoPoint, MavCmd, Mission, VehicleState
from drone_patrol.core.wpnav import RTL_LOITER_S, WpnavLimits, chain_time_s, landing_s, local_xy


class FailsafeAction(enum.StrEnum):
    """What to do about the vehicle's condition, mildest first."""

    CONTINUE = "continue"
    HOLD = "hold"
    RTL = "rtl"
    LAND = "land"


@dataclass(frozen=True, slots=True)
class FailsafeLimits:
    """Thresholds of the rules (from ControllerConfig)."""

    flight_time_s: float = 1500.0
    reserve_fraction: float = 0.25
    critical_percent: float = 10.0
    climb_rate_m_s: float = 2.5
    descent_rate_m_s: float = 1.5
    min_gps_fix: int = 3
    fence_alt_max_m: float | None = None
    hover_power_factor: float = 1.0
    wpnav: WpnavLimits = field(default_factory=WpnavLimits)  # the vehicle's WPNAV_ACCEL, _JERK, _RADIUS

    @property
    def cruise_percent_per_s(self) -> float:
        """Battery percent a second of cruise takes."""
        return 100.0 / self.flight_time_s


@dataclass(frozen=True, slots=True)
class FailsafeDecision:
    """A rule's verdict: the action, which rule (``battery``, ``battery_critical``, ``gps``,
    ``fence``, ``link`` or ``none``) and why, in words for the operator."""

    action: FailsafeAction
    rule: str
    reason: str

    @property
    def triggered(self) -> bool:
        return self.action is not FailsafeAction.CONTINUE


CONTINUE = FailsafeDecision(FailsafeAction.CONTINUE, "none", "all rules satisfied")


def _airborne(state: VehicleState) -> bool:
    return state.armed and not state.landed


def _path_points(mission: Mission) -> list[GeoPoint]:
    points = [mission.home]
    for wp in mission.items:
        if wp.has_position and (wp.latitude_deg or wp.longitude_deg) and wp.command < 5000:
            points.append(GeoPoint(wp.latitude_deg, wp.longitude_deg, wp.altitude_m))
    points.append(mission.home)
    return points


def _mission_seconds(mission: Mission, limits: FailsafeLimits) -> tuple[float, float]:
    """(cruise, hover) seconds of ``mission``: the horizontal path; climb, landing and holds."""
    altitudes = [wp.altitude_m for wp in mission.items if wp.has_position and wp.command < 5000]
    top_m = max(altitudes, default=0.0)
    speed = max(mission.cruise_speed_m_s, 0.5)
    hold_s = sum(
        wp.param1
        for wp in mission.items
        if wp.command in (MavCmd.NAV_WAYPOINT, MavCmd.NAV_LOITER_TIME) and wp.param1 > 0
    )
    hover_s = top_m / limits.climb_rate_m_s + landing_s(top_m, limits.descent_rate_m_s) + hold_s
    if mission.items and mission.items[-1].command == MavCmd.NAV_RETURN_TO_LAUNCH:
        hover_s += RTL_LOITER_S
    return path_seconds(_path_points(mission), speed, limits.wpnav), hover_s


def path_seconds(points: Sequence[GeoPoint], speed_m_s: float, wpnav: WpnavLimits) -> float:
    """Seconds to fly through ``points`` from rest to rest as ArduCopter flies its legs
    (S-curves, short legs slower, corners blended: ``core/wpnav.py``)."""
    xy = local_xy([(p.latitude_deg, p.longitude_deg) for p in points])
    flown = [q for i, q in enumerate(xy) if i == 0 or math.dist(q, xy[i - 1]) > 0.01]
    return chain_time_s(flown, [speed_m_s] * len(flown), wpnav)[0]


def mission_duration_s(mission: Mission, limits: FailsafeLimits) -> float:
    """Estimated flight time of ``mission``: horizontal path, climb, landing, hold times."""
    return sum(_mission_seconds(mission, limits))


def mission_battery_percent(mission: Mission, limits: FailsafeLimits) -> float:
    """Battery percent the mission uses, without the reserve."""
    cruise_s, hover_s = _mission_seconds(mission, limits)
    return limits.cruise_percent_per_s * (cruise_s + hover_s * limits.hover_power_factor)


def required_takeoff_percent(mission: Mission, limits: FailsafeLimits) -> float:
    """Battery percent needed to take off: the mission's need plus the reserve."""
    return mission_battery_percent(mission, limits) + 100.0 * limits.reserve_fraction


def home_battery_percent(state: VehicleState, mission: Mission, limits: FailsafeLimits) -> float:
    """Battery percent needed to fly from where the vehicle is back home and land."""
    home = state.home or mission.home
    if state.position is None:
        return 0.0
    speed = max(mission.cruise_speed_m_s, 0.5)
    land = landing_s(state.relative_altitude_m, limits.descent_rate_m_s) * limits.hover_power_factor
    return limits.cruise_percent_per_s * (distance_m(state.position, home) / speed + land)


def _remaining_points(state: VehicleState, mission: Mission) -> list[tuple[int, GeoPoint]]:
    """(seq, position) of the positioned navigation items from the current one on."""
    out = []
    for seq, wp in enumerate(mission.items, start=1):
        if seq < max(state.mission_current_seq, 1) or wp.command >= 100 or wp.command == MavCmd.NAV_TAKEOFF:
            continue
        if wp.has_position and (wp.latitude_deg or wp.longitude_deg):
            out.append((seq, GeoPoint(wp.latitude_deg, wp.longitude_deg, wp.altitude_m)))
    return out


def check_endurance(
    state: VehicleState, mission: Mission, limits: FailsafeLimits, measured_percent_per_s: float | None = None
) -> FailsafeDecision:
    """End the sortie at the best point: RTL once flying on to the next item and home from
    there would eat into the reserve, at the faster of the expected and the measured rate
    (so the rest of the sortie is not flown when it will not fit, and the next sortie
    resumes at the item the vehicle was heading for)."""
    if state.battery_percent is None or state.position is None or not _airborne(state) or state.mode != "AUTO":
        return CONTINUE
    ahead = _remaining_points(state, mission)
    if not ahead:
        return CONTINUE
    rate = max(limits.cruise_percent_per_s, measured_percent_per_s or 0.0)
    speed = max(mission.cruise_speed_m_s, 0.5)
    home = state.home or mission.home
    land_pct = landing_s(state.relative_altitude_m, limits.descent_rate_m_s) * limits.hover_power_factor * rate
    seq, nxt = ahead[0]
    via_next = path_seconds([state.position, nxt, home], speed, limits.wpnav) * rate + land_pct
    reserve = 100.0 * limits.reserve_fraction
    if state.battery_percent - via_next >= reserve:
        return CONTINUE
    rest = path_seconds([state.position, *(p for _, p in ahead), home], speed, limits.wpnav) * rate + land_pct
    return FailsafeDecision(
        FailsafeAction.RTL,
        "endurance",
        f"battery {state.battery_percent:.0f}% at {60 * rate:.1f} %/min: the rest of the sortie needs "
        f"{rest:.0f}% and item {seq} and home {via_next:.0f}% with the {reserve:.0f}% reserve; "
        f"ending the sortie here, the next one resumes at item {seq}",
    )


def check_battery(state: VehicleState, mission: Mission, limits: FailsafeLimits) -> FailsafeDecision:
    """LAND below the critical level; RTL below what getting home needs plus the reserve."""
    if state.battery_percent is None or not _airborne(state):
        return CONTINUE
    battery = state.battery_percent
    if battery <= limits.critical_percent:
        return FailsafeDecision(
            FailsafeAction.LAND,
            "battery_critical",
            f"battery {battery:.0f}% at or below the critical {limits.critical_percent:.0f}%: landing here",
        )
    home_pct = home_battery_percent(state, mission, limits)
    needed = home_pct + 100.0 * limits.reserve_fraction
    if battery < needed:
        return FailsafeDecision(
            FailsafeAction.RTL,
            "battery",
            f"battery {battery:.0f}% below the {needed:.0f}% needed to get home ({home_pct:.0f}%) "
            f"with the {100 * limits.reserve_fraction:.0f}% reserve",
        )
    return CONTINUE


def check_gps(state: VehicleState, limits: FailsafeLimits) -> FailsafeDecision:
    """In the air without a usable fix, land (there is no position to hold or return by)."""
    if _airborne(state) and state.gps_fix_type < limits.min_gps_fix:
        return FailsafeDecision(
            FailsafeAction.LAND,
            "gps",
            f"GPS fix type {state.gps_fix_type} below {limits.min_gps_fix} "
            f"({state.satellites_visible} satellites): landing",
        )
    return CONTINUE


def outside_fence(position: GeoPoint, fence: Geofence) -> str | None:
    """Why ``position`` breaches ``fence``, else None: outside any inclusion zone or inside an
    exclusion one. As AC_PolyFence_loader::breached with FENCE_OPTIONS' default (the inclusion
    zones intersect; a vehicle must be inside every one)."""
    point = Point(position.longitude_deg, position.latitude_deg)
    for poly in fence.polygons:
        shape = Polygon([(v.longitude_deg, v.latitude_deg) for v in poly.vertices])
        inside = shape.covers(point)
        if poly.inclusion and not inside:
            return "outside an inclusion polygon"
        if not poly.inclusion and inside:
            return "inside an exclusion polygon"
    for circle in fence.circles:
        inside = distance_m(position, circle.center) <= circle.radius_m
        if circle.inclusion and not inside:
            return "outside an inclusion circle"
        if not circle.inclusion and inside:
            return "inside an exclusion circle"
    return None


def check_fence(
    state: VehicleState, mission: Mission, limits: FailsafeLimits, vehicle_breach: bool = False
) -> FailsafeDecision:
    """RTL when the vehicle reports a breach or its position breaks the mission's fence or ceiling."""
    if not _airborne(state):
        return CONTINUE
    if vehicle_breach:
        return FailsafeDecision(FailsafeAction.RTL, "fence", "the vehicle reports a geofence breach")
    if limits.fence_alt_max_m is not None and state.relative_altitude_m > limits.fence_alt_max_m:
        return FailsafeDecision(
            FailsafeAction.RTL,
            "fence",
            f"altitude {state.relative_altitude_m:.0f} m above the fence ceiling {limits.fence_alt_max_m:.0f} m",
        )
    if state.position is not None and not mission.fence.is_empty:
        why = outside_fence(state.position, mission.fence)
        if why:
            return FailsafeDecision(FailsafeAction.RTL, "fence", f"position {why}")
    return CONTINUE


def check_link(link_alive: bool, state: VehicleState) -> FailsafeDecision:
    """A lost link in the air: the vehicle's own GCS failsafe brings it home (the controller cannot)."""
    if link_alive or not _airborne(state):
        return CONTINUE
    return FailsafeDecision(FailsafeAction.RTL, "link", "link lost: the vehicle's GCS failsafe takes over")


def evaluate(
    state: VehicleState,
    mission: Mission,
    limits: FailsafeLimits,
    *,
    link_alive: bool = True,
    fence_breached: bool = False,
    measured_percent_per_s: float | None = None,
) -> FailsafeDecision:
    """The most severe verdict of all rules (LAND before RTL; critical battery first)."""
    decisions = [
        check_battery(state, mission, limits),
        check_endurance(state, mission, limits, measured_percent_per_s),
        check_gps(state, limits),
        check_fence(state, mission, limits, fence_breached),
        check_link(link_alive, state),
    ]
    order = {FailsafeAction.LAND: 0, FailsafeAction.RTL: 1, FailsafeAction.HOLD: 2, FailsafeAction.CONTINUE: 3}
    return min(decisions, key=lambda d: order[d.action])
