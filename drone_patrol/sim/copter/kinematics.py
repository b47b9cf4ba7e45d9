"""Point-mass flight model and the local frame of the simulated copter (the battery is in ``battery.py``).

The body is a point in local north/east/up metres from home (flat ground at home's
altitude). A position controller drives it toward a target with limits on
horizontal speed and acceleration, climb and descent rates, vertical acceleration
and yaw rate; it brakes so it stops at a target when told to. Wind is a steady
air-mass velocity: the controller holds ground track, so wind only costs airspeed
(and battery) and caps the achievable ground speed at ``MAX_AIRSPEED_M_S``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

GRAVITY_M_S2 = 9.80665
MAX_AIRSPEED_M_S = 20.0
_POS_P = 1.0  # PSC_POSXY_P: m/s of velocity per metre of position error
_WGS84_A = 6378137.0
_WGS84_E2 = 6.69437999014e-3


class LocalTangent:
    """WGS84 <-> local north/east metres around an origin (ellipsoid radii of curvature).

    Good to centimetres within a few kilometres, which is all a patrol needs; it is
    evaluated at every telemetry message, so it avoids PROJ's per-call overhead.
    """

    def __init__(self, latitude_deg: float, longitude_deg: float) -> None:
        self.lat0 = latitude_deg
        self.lon0 = longitude_deg
        phi = math.radians(latitude_deg)
        s = math.sin(phi)
        w = math.sqrt(1.0 - _WGS84_E2 * s * s)
        self._m_per_rad_n = _WGS84_A * (1.0 - _WGS84_E2) / (w * w * w)
        self._m_per_rad_e = _WGS84_A / w * math.cos(phi)

    def to_ne(self, latitude_deg: float, longitude_deg: float) -> tuple[float, float]:
        """(north_m, east_m) of a position."""
        return (
            math.radians(latitude_deg - self.lat0) * self._m_per_rad_n,
            math.radians(longitude_deg - self.lon0) * self._m_per_rad_e,
        )

    def to_latlon(self, north_m: float, east_m: float) -> tuple[float, float]:
        """(latitude_deg, longitude_deg) of a local position."""
        return (
            self.lat0 + math.degrees(north_m / self._m_per_rad_n),
            self.lon0 + math.degrees(east_m / self._m_per_rad_e),
        )


def wrap_180(angle_deg: float) -> float:
    """Angle in [-180, 180)."""
    return (angle_deg + 180.0) % 360.0 - 180.0


@dataclass
class Limits:
    """Controller limits, in SI units (converted from the ArduCopter parameters)."""

    speed_m_s: float = 10.0
    accel_m_s2: float = 2.5
    climb_m_s: float = 2.5
    descent_m_s: float = 1.5
    accel_z_m_s2: float = 1.0
    yaw_rate_deg_s: float = 60.0


class Body:
    """The copter as a point mass with a heading."""

    def __init__(self, heading_deg: float = 0.0) -> None:
        self.north_m = 0.0
        self.east_m = 0.0
        self.up_m = 0.0
        self.vn = 0.0
        self.ve = 0.0
        self.vu = 0.0
        self.yaw_deg = heading_deg % 360.0
        self.yaw_rate_deg_s = 0.0
        self.an = 0.0
        self.ae = 0.0
        self.wind_n = 0.0
        self.wind_e = 0.0

    @property
    def ground_speed_m_s(self) -> float:
        """Horizontal speed over ground."""
        return math.hypot(self.vn, self.ve)

    @property
    def airspeed_m_s(self) -> float:
        """Horizontal speed through the air mass."""
        return math.hypot(self.vn - self.wind_n, self.ve - self.wind_e)

    def attitude_deg(self) -> tuple[float, float]:
        """(roll, pitch) that would produce the current acceleration against drag."""
        drag = 0.012  # tilt per (m/s)^2 of airspeed, about 5 degrees at 6 m/s
        fn = self.an + drag * (self.vn - self.wind_n) * abs(self.vn - self.wind_n) * GRAVITY_M_S2 / 1.0
        fe = self.ae + drag * (self.ve - self.wind_e) * abs(self.ve - self.wind_e) * GRAVITY_M_S2 / 1.0
        yaw = math.radians(self.yaw_deg)
        forward = fn * math.cos(yaw) + fe * math.sin(yaw)
        right = -fn * math.sin(yaw) + fe * math.cos(yaw)
        pitch = -math.degrees(math.atan2(forward, GRAVITY_M_S2))
        roll = math.degrees(math.atan2(right, GRAVITY_M_S2))
        return roll, pitch

    def step_towards(
        self,
        dt: float,
        target_n: float,
        target_e: float,
        target_u: float,
        limits: Limits,
        stop_at_target: bool = True,
        yaw_target_deg: float | None = None,
        feed_forward: tuple[float, float] | None = None,
    ) -> None:
        """Advance ``dt`` seconds flying a straight line toward the target.

        With ``feed_forward`` (a moving target's north/east velocity) the horizontal
        velocity wanted is that velocity plus the position error times ArduCopter's
        PSC_POSXY_P (1.0), the correction limited to the speed limit.
        """
        dn = target_n - self.north_m
        de = target_e - self.east_m
        du = target_u - self.up_m
        dist_h = math.hypot(dn, de)
        v_h_max = limits.speed_m_s
        v_z_max = limits.climb_m_s if du > 0 else limits.descent_m_s
        # Scale the two speeds so horizontal and vertical arrive together (a straight 3D line).
        if dist_h > 0.01 and abs(du) > 0.01:
            t_h = dist_h / v_h_max
            t_z = abs(du) / v_z_max
            if t_h > t_z:
                v_z_max = abs(du) / t_h
            else:
                v_h_max = dist_h / t_z
        # Horizontal: desired velocity along the line, braking to stop when asked.
        speed = v_h_max
        if stop_at_target:
            speed = min(speed, math.sqrt(2.0 * limits.accel_m_s2 * 0.8 * dist_h))
        speed = min(speed, dist_h / dt) if dist_h > 0 else 0.0
        want_n = dn / dist_h * speed if dist_h > 1e-6 else 0.0
        want_e = de / dist_h * speed if dist_h > 1e-6 else 0.0
        if feed_forward is not None:
            correction = min(_POS_P * dist_h, limits.speed_m_s)
            want_n = feed_forward[0] + (dn / dist_h * correction if dist_h > 1e-6 else 0.0)
            want_e = feed_forward[1] + (de / dist_h * correction if dist_h > 1e-6 else 0.0)
        # Wind caps the ground speed reachable at MAX_AIRSPEED.
        air_n, air_e = want_n - self.wind_n, want_e - self.wind_e
        air = math.hypot(air_n, air_e)
        if air > MAX_AIRSPEED_M_S:
            k = MAX_AIRSPEED_M_S / air
            want_n, want_e = self.wind_n + air_n * k, self.wind_e + air_e * k
        dvn, dve = want_n - self.vn, want_e - self.ve
        dv = math.hypot(dvn, dve)
        max_dv = limits.accel_m_s2 * dt
        if dv > max_dv:
            dvn, dve = dvn / dv * max_dv, dve / dv * max_dv
        self.an, self.ae = dvn / dt, dve / dt
        self.vn += dvn
        self.ve += dve
        # Vertical.
        speed_z = min(v_z_max, math.sqrt(2.0 * limits.accel_z_m_s2 * abs(du)), abs(du) / dt)
        want_u = math.copysign(speed_z, du) if abs(du) > 1e-6 else 0.0
        dvu = want_u - self.vu
        max_dvu = limits.accel_z_m_s2 * dt * 2.0
        self.vu += max(-max_dvu, min(max_dvu, dvu))
        self.north_m += self.vn * dt
        self.east_m += self.ve * dt
        self.up_m += self.vu * dt
        if self.up_m < 0.0:
            self.up_m = 0.0
            self.vu = max(self.vu, 0.0)
        self._turn(dt, yaw_target_deg, limits)

    def _turn(self, dt: float, yaw_target_deg: float | None, limits: Limits) -> None:
        if yaw_target_deg is None:
            self.yaw_rate_deg_s = 0.0
            return
        err = wrap_180(yaw_target_deg - self.yaw_deg)
        step = max(-limits.yaw_rate_deg_s * dt, min(limits.yaw_rate_deg_s * dt, err))
        self.yaw_deg = (self.yaw_deg + step) % 360.0
        self.yaw_rate_deg_s = step / dt

    def rest_on_ground(self) -> None:
        """Stop dead on the ground (landed)."""
        self.vn = self.ve = self.vu = 0.0
        self.an = self.ae = 0.0
        self.up_m = 0.0
        self.yaw_rate_deg_s = 0.0
