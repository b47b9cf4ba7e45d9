"""Geofence breach checks as ArduCopter's AC_Fence makes them (pure geometry, local metres).

Fence types are FENCE_TYPE bits: 1 maximum altitude, 2 circle of FENCE_RADIUS around
home, 4 the uploaded polygons and circles, 8 minimum altitude. A breach of the
altitude or home-circle fence is reported again only when the vehicle goes a
further 20 m beyond it (ArduPilot's backup fence); a polygon breach is reported once
until the vehicle is back inside. Uploaded zones: inside every inclusion zone and
outside every exclusion zone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from drone_patrol.core.types import MavCmd

ALT_MAX = 1
CIRCLE = 2
POLYGON = 4
ALT_MIN = 8
BACKUP_DISTANCE_M = 20.0
GIVE_UP_DISTANCE_M = 100.0


@dataclass(frozen=True, slots=True)
class Zone:
    """An uploaded zone in local north/east metres."""

    inclusion: bool
    polygon: tuple[tuple[float, float], ...] = ()
    center: tuple[float, float] = (0.0, 0.0)
    radius_m: float = 0.0

    def contains(self, north_m: float, east_m: float) -> bool:
        """True when the point lies inside the zone."""
        if not self.polygon:
            return math.hypot(north_m - self.center[0], east_m - self.center[1]) <= self.radius_m
        inside = False
        pts = self.polygon
        j = len(pts) - 1
        for i in range(len(pts)):
            ni, ei = pts[i]
            nj, ej = pts[j]
            if (ei > east_m) != (ej > east_m):
                n_cross = ni + (east_m - ei) * (nj - ni) / (ej - ei)
                if north_m < n_cross:
                    inside = not inside
            j = i
        return inside


def zones_from_items(items: list, to_ne) -> tuple[list[Zone], tuple[float, float] | None]:  # type: ignore[type-arg]
    """Build zones from stored fence items; ``to_ne(lat, lon)`` gives local (north, east)."""
    zones: list[Zone] = []
    return_point: tuple[float, float] | None = None
    i = 0
    while i < len(items):
        it = items[i]
        if it.command in (MavCmd.NAV_FENCE_POLYGON_VERTEX_INCLUSION, MavCmd.NAV_FENCE_POLYGON_VERTEX_EXCLUSION):
            count = max(1, int(it.param1))
            run = items[i : i + count]
            zones.append(
                Zone(
                    inclusion=it.command == MavCmd.NAV_FENCE_POLYGON_VERTEX_INCLUSION,
                    polygon=tuple(to_ne(v.latitude_deg, v.longitude_deg) for v in run),
                )
            )
            i += count
            continue
        if it.command in (MavCmd.NAV_FENCE_CIRCLE_INCLUSION, MavCmd.NAV_FENCE_CIRCLE_EXCLUSION):
            zones.append(
                Zone(
                    inclusion=it.command == MavCmd.NAV_FENCE_CIRCLE_INCLUSION,
                    center=to_ne(it.latitude_deg, it.longitude_deg),
                    radius_m=float(it.param1),
                )
            )
        elif it.command == MavCmd.NAV_FENCE_RETURN_POINT:
            return_point = to_ne(it.latitude_deg, it.longitude_deg)
        i += 1
    return zones, return_point


@dataclass
class FenceState:
    """Breach bookkeeping across checks."""

    breaches: int = 0
    breach_count: int = 0
    breach_time_s: float = 0.0
    circle_backup_m: float = 0.0
    alt_max_backup_m: float = 0.0
    breach_distance_m: dict[int, float] = field(default_factory=dict)


def zones_breached(zones: list[Zone], north_m: float, east_m: float) -> bool:
    """True when the point is outside an inclusion zone or inside an exclusion zone."""
    return any(z.contains(north_m, east_m) != z.inclusion for z in zones)


def check(
    state: FenceState,
    enabled_types: int,
    zones: list[Zone],
    north_m: float,
    east_m: float,
    up_m: float,
    alt_max_m: float,
    alt_min_m: float,
    radius_m: float,
) -> int:
    """Update ``state`` for the vehicle at (north, east, up) from home; return the new breaches."""
    new = 0
    if enabled_types & ALT_MAX:
        if up_m >= alt_max_m:
            state.breach_distance_m[ALT_MAX] = up_m - alt_max_m
            if not state.breaches & ALT_MAX or (state.alt_max_backup_m and up_m >= state.alt_max_backup_m):
                state.breaches |= ALT_MAX
                state.alt_max_backup_m = up_m + BACKUP_DISTANCE_M
                new |= ALT_MAX
        elif state.breaches & ALT_MAX:
            state.breaches &= ~ALT_MAX
            state.alt_max_backup_m = 0.0
    if enabled_types & CIRCLE:
        dist = math.hypot(north_m, east_m)
        if dist >= radius_m:
            state.breach_distance_m[CIRCLE] = dist - radius_m
            if not state.breaches & CIRCLE or (state.circle_backup_m and dist >= state.circle_backup_m):
                state.breaches |= CIRCLE
                state.circle_backup_m = dist + BACKUP_DISTANCE_M
                new |= CIRCLE
        elif state.breaches & CIRCLE:
            state.breaches &= ~CIRCLE
            state.circle_backup_m = 0.0
    if enabled_types & POLYGON and zones:
        if zones_breached(zones, north_m, east_m):
            state.breach_distance_m[POLYGON] = 0.0
            if not state.breaches & POLYGON:
                state.breaches |= POLYGON
                new |= POLYGON
        elif state.breaches & POLYGON:
            state.breaches &= ~POLYGON
    if enabled_types & ALT_MIN:
        if up_m <= alt_min_m:
            if not state.breaches & ALT_MIN:
                state.breaches |= ALT_MIN
                new |= ALT_MIN
        elif state.breaches & ALT_MIN:
            state.breaches &= ~ALT_MIN
    state.breaches &= enabled_types
    return new


def breach_names(breaches: int) -> str:
    """ArduPilot's words for a breach bitmask, e.g. 'Polygon'."""
    names = [
        n
        for bit, n in ((ALT_MAX, "Max Alt"), (CIRCLE, "Circle"), (POLYGON, "Polygon"), (ALT_MIN, "Min Alt"))
        if breaches & bit
    ]
    return ", ".join(names)
