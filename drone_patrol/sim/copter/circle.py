"""CIRCLE mode as ArduCopter flies it (ModeCircle with AC_Circle).

On entry the centre is ``CIRCLE_RADIUS`` (cm) ahead of the stopping point along the
heading, or the stopping point itself with ``CIRCLE_OPTIONS`` bit 2 ("start at
centre"); the vehicle starts on the perimeter at the angle behind its heading. The
angular rate ``CIRCLE_RATE`` (deg/s, positive clockwise) is limited so that the
speed stays under WPNAV_SPEED and under sqrt(0.5 * WPNAV_ACCEL * radius), and ramps
up at max(WPNAV_ACCEL / radius, 2 deg/s/s). The nose points at the centre (bit 1:
along the direction of travel); with a radius of 0 the vehicle turns on the spot
(a panorama). The climb rate is the pilot's throttle stick (ModeCircle::run ->
get_pilot_desired_climb_rate, ``pilot.py``): held with the stick centred, but with no
transmitter the stick rests low and the vehicle sinks at PILOT_SPEED_DN (PILOT_SPEED_UP
when 0, 2.5 m/s by default) until it lands, as ArduCopter SITL does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from drone_patrol.sim.copter.pilot import follow_stick

if TYPE_CHECKING:
    from drone_patrol.sim.copter.autopilot import Autopilot

_FACE_TRAVEL = 2
_INIT_AT_CENTER = 4
_ANGULAR_ACCEL_MIN_DEG_S2 = 2.0


@dataclass
class Circle:
    """The circle controller's state between entry and exit."""

    center_n: float = 0.0
    center_e: float = 0.0
    up_m: float = 0.0
    radius_m: float = 0.0
    angle_rad: float = 0.0
    rate_rad_s: float = 0.0
    max_rate_rad_s: float = 0.0
    accel_rad_s2: float = 0.0
    face_travel: bool = False

    def begin(self, ap: Autopilot) -> None:
        """AC_Circle::init: centre from the stopping point and the heading."""
        p, b = ap.params, ap.body
        self.radius_m = max(0.0, p.get("CIRCLE_RADIUS") / 100.0)
        rate_deg_s = p.get("CIRCLE_RATE")
        options = int(p.get("CIRCLE_OPTIONS"))
        self.face_travel = bool(options & _FACE_TRAVEL)
        accel = p.get("WPNAV_ACCEL") / 100.0
        speed = math.hypot(b.vn, b.ve)
        stop = speed * speed / (2.0 * accel) if speed > 0.01 else 0.0
        sn = b.north_m + (b.vn / speed * stop if speed > 0.01 else 0.0)
        se = b.east_m + (b.ve / speed * stop if speed > 0.01 else 0.0)
        yaw = math.radians(b.yaw_deg)
        ahead = 0.0 if options & _INIT_AT_CENTER else self.radius_m
        self.center_n, self.center_e = sn + ahead * math.cos(yaw), se + ahead * math.sin(yaw)
        self.up_m = b.up_m
        if self.radius_m <= 0:
            self.max_rate_rad_s = math.radians(rate_deg_s)
            self.accel_rad_s2 = max(abs(self.max_rate_rad_s), math.radians(_ANGULAR_ACCEL_MIN_DEG_S2))
            self.angle_rad = yaw
        else:
            v_max = min(p.get("WPNAV_SPEED") / 100.0, math.sqrt(0.5 * accel * self.radius_m))
            limit = v_max / self.radius_m
            self.max_rate_rad_s = max(-limit, min(limit, math.radians(rate_deg_s)))
            self.accel_rad_s2 = max(accel / self.radius_m, math.radians(_ANGULAR_ACCEL_MIN_DEG_S2))
            self.angle_rad = yaw - math.pi
        self.rate_rad_s = 0.0

    def update(self, ap: Autopilot, dt: float) -> None:
        """AC_Circle::update_cms: advance the target round the circle and fly to it."""
        if self.rate_rad_s < self.max_rate_rad_s:
            self.rate_rad_s = min(self.max_rate_rad_s, self.rate_rad_s + self.accel_rad_s2 * dt)
        elif self.rate_rad_s > self.max_rate_rad_s:
            self.rate_rad_s = max(self.max_rate_rad_s, self.rate_rad_s - self.accel_rad_s2 * dt)
        self.angle_rad = math.remainder(self.angle_rad + self.rate_rad_s * dt, 2.0 * math.pi)
        b = ap.body
        self.up_m = follow_stick(self.up_m, b.up_m, ap.pilot_climb_rate_m_s(), dt)
        up, down, accel = ap.pilot_z_limits()
        if self.radius_m <= 0:
            yaw = math.degrees(self.angle_rad)
            ap.fly_to(dt, (self.center_n, self.center_e, self.up_m), stop=True, yaw_deg=yaw, speed_up=up,
                      speed_down=down, accel_z=accel)  # fmt: skip
            return
        tn = self.center_n + self.radius_m * math.cos(self.angle_rad)
        te = self.center_e + self.radius_m * math.sin(self.angle_rad)
        yaw = math.degrees(math.atan2(self.center_e - b.east_m, self.center_n - b.north_m))
        if self.face_travel:
            yaw += -90.0 if self.rate_rad_s >= 0 else 90.0
        speed = max(abs(self.max_rate_rad_s) * self.radius_m * 1.2, 0.5)
        ap.fly_to(dt, (tn, te, self.up_m), stop=False, speed=speed, yaw_deg=yaw % 360.0, speed_up=up,
                  speed_down=down, accel_z=accel)  # fmt: skip
