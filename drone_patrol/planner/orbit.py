"""The "eyes on" orbit as a stream of GUIDED position targets: pure geometry, no I/O.

Why not ArduCopter's CIRCLE mode: CIRCLE takes its climb rate from the pilot's throttle
stick (ModeCircle::run -> get_pilot_desired_climb_rate). A vehicle flown by a ground
station alone has the stick at rest, low (RC3 about 1000 us, as in SITL without a
transmitter), which CIRCLE reads as "descend at PILOT_SPEED_DN": measured on SITL, the
copter sank at 2.5 m/s from 40 m and touched down 17 s into the orbit. GUIDED ignores the
stick, so the orbit is flown in GUIDED: each target is a point of the circle a little
ahead of the vehicle with a velocity along it (SET_POSITION_TARGET_GLOBAL_INT, position +
velocity: ArduCopter's PosVelAccel sub-mode, which moves the target on with that velocity
until the next one) and the heading toward the centre with the orbit's turn rate (so the
nose, and a camera fixed to it, stays on the point).

The orbit copies what a CIRCLE user expects: radius ``CIRCLE_RADIUS``, angular rate
``CIRCLE_RATE`` (deg/s, positive clockwise seen from above), the speed limited as
AC_Circle limits it (``WPNAV_SPEED`` and sqrt(0.5 * ``WPNAV_ACCEL`` * radius), so the
centripetal acceleration stays within half the horizontal limit), and a ramp up to that
rate at ``WPNAV_ACCEL``.

Positions are local metres, east and north of the centre; bearings are degrees clockwise
from north, measured at the centre.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: orbits tighter than this are flown as a hover over the point: below the position hold's
#: own accuracy (GPS, wind) a circle would be noise, and the camera looks almost straight down
MIN_ORBIT_RADIUS_M = 2.0
#: how far the target may run ahead of the vehicle round the circle before it waits for it
MAX_LEAD_DEG = 30.0
#: the share of the orbit speed sent as the target's velocity. ArduCopter moves a position +
#: velocity target on in a straight line until the next one, for up to GUID_TIMEOUT (3 s):
#: with the full speed, a ground station that stalls for those 3 s would send the vehicle 10 m
#: off along the tangent (measured on SITL at 10x speedup: 17 m from the point on a 10 m
#: orbit). With half, the run-off is half, and the position controller makes up the rest of
#: the speed from the target standing a little ahead of the vehicle.
FEED_FORWARD_FRACTION = 0.5


def orbit_speed_m_s(radius_m: float, rate_deg_s: float, max_speed_m_s: float, accel_m_s2: float) -> float:
    """The speed round a circle of ``radius_m`` at ``rate_deg_s`` within AC_Circle's limits."""
    if radius_m <= 0:
        return 0.0
    limit = min(max_speed_m_s, math.sqrt(0.5 * max(accel_m_s2, 0.0) * radius_m))
    return min(abs(math.radians(rate_deg_s)) * radius_m, limit)


@dataclass(frozen=True, slots=True)
class OrbitSetpoint:
    """One target: where to be (east/north of the centre), how fast, which way to face."""

    east_m: float
    north_m: float
    velocity_east_m_s: float
    velocity_north_m_s: float
    yaw_deg: float  # toward the centre, [0, 360)
    yaw_rate_deg_s: float  # positive clockwise, as MAVLink's NED yaw rate


@dataclass(frozen=True, slots=True)
class Orbit:
    """A circle round the point: ``radius_m``, ``speed_m_s`` at full rate, the sense, the ramp's acceleration."""

    radius_m: float
    speed_m_s: float
    clockwise: bool = True
    accel_m_s2: float = 2.5

    @property
    def sign(self) -> float:
        """+1 clockwise (bearing grows), -1 anticlockwise."""
        return 1.0 if self.clockwise else -1.0

    def setpoint(self, bearing_deg: float, speed_m_s: float) -> OrbitSetpoint:
        """The target at ``bearing_deg`` from the centre, moving round at ``speed_m_s``."""
        b = math.radians(bearing_deg)
        r = self.radius_m
        v = speed_m_s * self.sign
        rate = math.degrees(speed_m_s / r) * self.sign if r > 0 else 0.0
        return OrbitSetpoint(
            east_m=r * math.sin(b),
            north_m=r * math.cos(b),
            velocity_east_m_s=v * math.cos(b),
            velocity_north_m_s=-v * math.sin(b),
            yaw_deg=(bearing_deg + 180.0) % 360.0,
            yaw_rate_deg_s=rate,
        )


def bearing_from_centre_deg(east_m: float, north_m: float) -> float:
    """Bearing of a point seen from the centre, degrees clockwise from north in [0, 360)."""
    return math.degrees(math.atan2(east_m, north_m)) % 360.0


def _wrap_180(angle_deg: float) -> float:
    return (angle_deg + 180.0) % 360.0 - 180.0


class OrbitTracker:
    """Turns the vehicle's clock and position into the next target round ``orbit``.

    The target's bearing runs on the vehicle's own clock, ramping up to full speed, so the
    speed does not depend on how often targets are sent nor on the link's delay. It never
    runs more than ``max_lead_deg`` ahead of the vehicle (after a stall in sending, or while
    the vehicle accelerates), and it never stays behind the vehicle, so a target is always a
    little ahead on the circle. Its velocity is ``feed_forward`` of the speed along the
    circle; its heading is toward the point from where the vehicle is, turning at the
    orbit's rate.
    """

    def __init__(
        self, orbit: Orbit, max_lead_deg: float = MAX_LEAD_DEG, feed_forward: float = FEED_FORWARD_FRACTION
    ) -> None:
        self.orbit = orbit
        self.max_lead_deg = max_lead_deg
        self.feed_forward = feed_forward
        self._bearing_deg: float | None = None
        self._time_s = 0.0
        self._speed_m_s = 0.0

    @property
    def speed_m_s(self) -> float:
        """The speed round the circle of the last target (its velocity is ``feed_forward`` of it)."""
        return self._speed_m_s

    @property
    def bearing_deg(self) -> float:
        """The bearing from the centre of the last target (nan before the first)."""
        return math.nan if self._bearing_deg is None else self._bearing_deg

    def setpoint(self, time_s: float, east_m: float, north_m: float) -> OrbitSetpoint:
        """The target for the vehicle seen at (``east_m``, ``north_m``) at ``time_s`` of its clock."""
        orbit = self.orbit
        here = bearing_from_centre_deg(east_m, north_m)
        if self._bearing_deg is None:
            self._bearing_deg, self._time_s = here, time_s
        dt = max(0.0, time_s - self._time_s)
        self._time_s = max(self._time_s, time_s)
        self._speed_m_s = min(orbit.speed_m_s, self._speed_m_s + orbit.accel_m_s2 * dt)
        if orbit.radius_m > 0:
            self._bearing_deg += math.degrees(self._speed_m_s * dt / orbit.radius_m) * orbit.sign
        lead = _wrap_180(self._bearing_deg - here) * orbit.sign
        if lead > self.max_lead_deg:
            self._bearing_deg = here + self.max_lead_deg * orbit.sign
        elif lead < 0.0:
            self._bearing_deg = here
        self._bearing_deg %= 360.0
        sp = orbit.setpoint(self._bearing_deg, self._speed_m_s)
        k = self.feed_forward
        return OrbitSetpoint(
            east_m=sp.east_m,
            north_m=sp.north_m,
            velocity_east_m_s=sp.velocity_east_m_s * k,
            velocity_north_m_s=sp.velocity_north_m_s * k,
            yaw_deg=(here + 180.0) % 360.0,
            yaw_rate_deg_s=sp.yaw_rate_deg_s,
        )
