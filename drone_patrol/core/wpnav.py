"""How long ArduCopter takes to fly a chain of waypoints: its S-curve legs and blended corners.

ArduCopter (4.1 and later, ``AC_WPNav`` with ``SCurve``) flies every waypoint leg as a
jerk-limited move from rest to rest: speed rises with jerk ``WPNAV_JERK`` (1 m/s^3) up
to acceleration ``WPNAV_ACCEL`` (2.5 m/s^2) and speed ``WPNAV_SPEED`` (the mission's
DO_CHANGE_SPEED), and falls the same way before the next waypoint. A short leg never
reaches the cruise speed: 10 m between two orbit points peaks at about 2.9 m/s, not 6.

At a waypoint followed by another, the next leg starts while this one is braking
(``SCurve::advance_target_along_track``): as soon as the time this leg still needs is
no more than the next leg's acceleration phase, and the point half-way through that
overlap lies within ``WPNAV_RADIUS`` (2 m) of the corner, at less than the legs' speed
and with less than the corner acceleration (``WPNAV_ACCEL_C``, 0: twice ``WPNAV_ACCEL``).
The two moves then run superposed, so a straight or shallow corner costs nothing and
a sharp one costs part of a stop. The flight time of the chain is the sum of the legs'
rest-to-rest times less those overlaps.

The model keeps ArduPilot's structure but not its snap limit (the 0.15 s raised-cosine
ramps of jerk, from ``ATC_INPUT_TC``): jerk switches at once, which makes every leg a
few per cent quicker than the vehicle's.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WpnavLimits:
    """ArduCopter's waypoint navigation limits (defaults: its parameters' defaults), SI units."""

    accel_m_s2: float = 2.5  # WPNAV_ACCEL 250 cm/s/s
    jerk_m_s3: float = 1.0  # WPNAV_JERK
    radius_m: float = 2.0  # WPNAV_RADIUS 200 cm
    corner_accel_m_s2: float = 0.0  # WPNAV_ACCEL_C, 0: twice accel_m_s2

    @property
    def corner_m_s2(self) -> float:
        """The corner acceleration ArduCopter allows."""
        return self.corner_accel_m_s2 if self.corner_accel_m_s2 > 0 else 2.0 * self.accel_m_s2


@dataclass(frozen=True, slots=True)
class Leg:
    """One rest-to-rest move: jerk time ``tj``, constant-acceleration time ``ta``, peak
    acceleration and speed, and the whole time."""

    length_m: float
    speed_m_s: float  # the leg's speed limit (what ArduPilot compares corner speeds with)
    tj: float
    ta: float
    peak_accel_m_s2: float
    peak_speed_m_s: float
    time_s: float

    @property
    def accel_time_s(self) -> float:
        """Time from rest to the peak speed (and from it back to rest)."""
        return 2.0 * self.tj + self.ta

    def start(self, t: float) -> tuple[float, float, float]:
        """(distance, speed, acceleration) ``t`` seconds after the start (within the acceleration
        phase); by symmetry also distance to the end, speed and deceleration ``t`` seconds before it."""
        t = min(max(t, 0.0), self.accel_time_s)
        j, a_pk, tj = self.peak_accel_m_s2 / self.tj if self.tj > 0 else 0.0, self.peak_accel_m_s2, self.tj
        if t <= tj:
            return j * t**3 / 6.0, j * t * t / 2.0, j * t
        s1, v1 = j * tj**3 / 6.0, j * tj * tj / 2.0
        if t <= tj + self.ta:
            u = t - tj
            return s1 + v1 * u + a_pk * u * u / 2.0, v1 + a_pk * u, a_pk
        u = t - tj - self.ta
        s2, v2 = s1 + v1 * self.ta + a_pk * self.ta**2 / 2.0, v1 + a_pk * self.ta
        return s2 + v2 * u + a_pk * u * u / 2.0 - j * u**3 / 6.0, v2 + a_pk * u - j * u * u / 2.0, a_pk - j * u


def _accel_phase(speed_m_s: float, limits: WpnavLimits) -> tuple[float, float, float]:
    """(tj, ta, peak acceleration) of a jerk-limited rise from rest to ``speed_m_s``."""
    j, a = limits.jerk_m_s3, limits.accel_m_s2
    if speed_m_s * j >= a * a:
        return a / j, speed_m_s / a - a / j, a
    tj = math.sqrt(speed_m_s / j)
    return tj, 0.0, j * tj


@functools.lru_cache(maxsize=4096)  # a route repeats its leg lengths (sweep spacing, turns): planning asks often
def leg(length_m: float, speed_m_s: float, limits: WpnavLimits) -> Leg:
    """The rest-to-rest move over ``length_m`` at up to ``speed_m_s``."""
    if length_m <= 0.0 or speed_m_s <= 0.0:
        return Leg(max(length_m, 0.0), speed_m_s, 0.0, 0.0, 0.0, 0.0, 0.0)

    def rise_m(v: float) -> float:  # the S is point-symmetric: it covers v/2 times its time
        tj, ta, _ = _accel_phase(v, limits)
        return v * (2.0 * tj + ta) / 2.0

    peak = speed_m_s
    if 2.0 * rise_m(peak) > length_m:  # too short to reach the speed: the peak that just fits
        lo, hi = 0.0, speed_m_s
        for _ in range(40):
            mid = (lo + hi) / 2.0
            lo, hi = (mid, hi) if 2.0 * rise_m(mid) <= length_m else (lo, mid)
        peak = lo
    tj, ta, a_pk = _accel_phase(peak, limits)
    cruise_s = (length_m - 2.0 * rise_m(peak)) / peak if peak > 0 else 0.0
    return Leg(length_m, speed_m_s, tj, ta, a_pk, peak, 2.0 * (2.0 * tj + ta) + max(cruise_s, 0.0))


def corner_overlap_s(a: Leg, b: Leg, heading_change_deg: float, limits: WpnavLimits) -> float:
    """Seconds the leg ``b`` starts before ``a`` ends at a corner turning ``heading_change_deg``."""
    r_max = min(a.accel_time_s, b.accel_time_s)
    if r_max <= 0.0:
        return 0.0
    th = math.radians(heading_change_deg)
    c, s = math.cos(th), math.sin(th)
    v_lim = min(a.speed_m_s, b.speed_m_s)

    def fits(r: float) -> bool:
        # at the turn's mid point: leg a is r/2 before its end, leg b r/2 after its start;
        # leg a runs along x, leg b along (cos th, sin th)
        da, va, aa = a.start(r / 2.0)
        db, vb, ab = b.start(r / 2.0)
        pos = math.hypot(-da + db * c, db * s)
        vel = math.hypot(va + vb * c, vb * s)
        acc = math.hypot(-aa + ab * c, ab * s)
        return pos < limits.radius_m and vel < v_lim and acc < limits.corner_m_s2

    if fits(r_max):
        return r_max
    lo, hi = 0.0, r_max  # the largest overlap that fits: ArduPilot starts the next leg at the first one
    for _ in range(20):  # to r_max / 2**20: microseconds
        mid = (lo + hi) / 2.0
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo


def chain_time_s(
    points: Sequence[tuple[float, float]], speeds_m_s: Sequence[float], limits: WpnavLimits
) -> tuple[float, list[float]]:
    """Seconds to fly through ``points`` (local metres) from rest at the first to rest at the last,
    ``speeds_m_s[i]`` the speed of the leg ending at ``points[i]``; and each leg's share (its
    rest-to-rest time less half of each corner overlap at its ends)."""
    legs: list[Leg] = []
    headings: list[float] = []
    for i in range(1, len(points)):
        (x0, y0), (x1, y1) = points[i - 1], points[i]
        legs.append(leg(math.hypot(x1 - x0, y1 - y0), speeds_m_s[i], limits))
        headings.append(math.atan2(y1 - y0, x1 - x0))
    shares = [lg.time_s for lg in legs]
    for i in range(1, len(legs)):
        change = abs(math.degrees(headings[i] - headings[i - 1])) % 360.0
        change = 360.0 - change if change > 180.0 else change
        r = corner_overlap_s(legs[i - 1], legs[i], change, limits)
        shares[i - 1] -= r / 2.0
        shares[i] -= r / 2.0
    return sum(shares), shares


#: ArduCopter's landing: WPNAV_SPEED_DN (or LAND_SPEED_HIGH) down to LAND_ALT_LOW, then LAND_SPEED
LAND_ALT_LOW_M = 10.0  # LAND_ALT_LOW 1000 cm
LAND_SPEED_M_S = 0.5  # LAND_SPEED 50 cm/s
#: RTL_LOIT_TIME 5000 ms: RTL holds over home this long before it descends
RTL_LOITER_S = 5.0


def landing_s(altitude_m: float, descent_rate_m_s: float) -> float:
    """Seconds from ``altitude_m`` to the ground as ArduCopter lands (fast to 10 m, then 0.5 m/s)."""
    alt = max(altitude_m, 0.0)
    return max(alt - LAND_ALT_LOW_M, 0.0) / descent_rate_m_s + min(alt, LAND_ALT_LOW_M) / LAND_SPEED_M_S


def local_xy(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """(east, north) metres of (latitude, longitude) points around the first (equirectangular:
    good to a fraction of a per cent over a district)."""
    if not points:
        return []
    lat0, lon0 = points[0]
    k_lon = 111_320.0 * math.cos(math.radians(lat0))
    return [((lon - lon0) * k_lon, (lat - lat0) * 110_574.0) for lat, lon in points]


def stop_cost_s(speed_m_s: float, limits: WpnavLimits) -> float:
    """Seconds a full stop and restart costs against flying on at ``speed_m_s`` (a 180-degree turn)."""
    lg = leg(1e6, speed_m_s, limits)
    rise_s = lg.accel_time_s
    return 2.0 * (rise_s - lg.start(rise_s)[0] / speed_m_s) if speed_m_s > 0 else 0.0
