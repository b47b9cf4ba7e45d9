"""How the simulated ArduCopter moves its body: toward a target, holding, landing, under the pilot's throttle.

The navigation limits come from the WPNAV_*, PILOT_* and LAND_* parameters each step, as
AC_WPNav and the pilot's vertical controller read them; the heading from the ROI,
CONDITION_YAW or WP_YAW_BEHAVIOR. The modes (``autopilot.py``, ``navigator.py``,
``rtl.py``, ``circle.py``, ``guided.py``) choose the target; these methods fly it.
"""

from __future__ import annotations

import math

from drone_patrol.sim.copter import pilot
from drone_patrol.sim.copter.autopilot_state import AutopilotState
from drone_patrol.sim.copter.modes import CopterMode

LAND_PAUSE_S = 4.0


class Steering(AutopilotState):
    """The motion primitives every mode flies with."""

    # ---------------------------------------------------------------- landing
    def land_begin(self, at: tuple[float, float] | None = None, pause: bool = False) -> None:
        """Start a descent at the current (or given) horizontal position."""
        self.land_at = at or (self.body.north_m, self.body.east_m)
        self.land_pause_until_s = self.time_s + LAND_PAUSE_S if pause else 0.0
        self.land_contact_s = None

    def land_update(self, dt: float) -> None:
        """Descend at LAND_SPEED_HIGH (or WPNAV_SPEED_DN) then LAND_SPEED below LAND_ALT_LOW."""
        if self.land_at is None:
            self.land_begin()
        assert self.land_at is not None
        if self.landed:
            self.body.rest_on_ground()
            return
        if self.time_s < self.land_pause_until_s:
            self.fly_to(dt, (self.land_at[0], self.land_at[1], self.body.up_m), stop=True, hold_yaw=True)
            return
        p = self.params
        high = (p.get("LAND_SPEED_HIGH") or p.get("WPNAV_SPEED_DN")) / 100.0
        rate = high if self.body.up_m > p.get("LAND_ALT_LOW") / 100.0 else p.get("LAND_SPEED") / 100.0
        self.fly_to(dt, (self.land_at[0], self.land_at[1], -1.0), stop=True, speed_down=rate, hold_yaw=True)

    # ------------------------------------------------------------- navigation
    def fly_to(
        self,
        dt: float,
        target: tuple[float, float, float],
        stop: bool = True,
        speed: float | None = None,
        speed_up: float | None = None,
        speed_down: float | None = None,
        hold_yaw: bool = False,
        yaw_deg: float | None = None,
        feed_forward: tuple[float, float] | None = None,
        accel_z: float | None = None,
    ) -> None:
        """Drive the body toward ``target`` (north, east, up) with the navigation limits
        (``yaw_deg``: the heading a mode commands itself, before ROI and WP_YAW_BEHAVIOR;
        ``feed_forward``: the target's own north/east velocity, for a moving target)."""
        p = self.params
        lim = self.limits
        lim.speed_m_s = speed or self.speed_override_m_s or p.get("WPNAV_SPEED") / 100.0
        lim.accel_m_s2 = p.get("WPNAV_ACCEL") / 100.0
        lim.climb_m_s = speed_up or p.get("WPNAV_SPEED_UP") / 100.0
        lim.descent_m_s = speed_down or p.get("WPNAV_SPEED_DN") / 100.0
        lim.accel_z_m_s2 = accel_z or p.get("WPNAV_ACCEL_Z") / 100.0
        lim.yaw_rate_deg_s = p.get("ATC_SLEW_YAW") / 100.0
        b = self.body
        yaw: float | None = yaw_deg
        if yaw is None and self.roi is not None:
            yaw = math.degrees(math.atan2(self.roi[1] - b.east_m, self.roi[0] - b.north_m))
        elif yaw is None and self.fixed_yaw_deg is not None:
            yaw = self.fixed_yaw_deg
        elif yaw is None and not hold_yaw and int(p.get("WP_YAW_BEHAVIOR")) != 0:
            dn, de = target[0] - b.north_m, target[1] - b.east_m
            if math.hypot(dn, de) > 2.0:
                yaw = math.degrees(math.atan2(de, dn))
        b.step_towards(
            dt, target[0], target[1], target[2], lim, stop_at_target=stop, yaw_target_deg=yaw, feed_forward=feed_forward
        )

    def hold_position(self, dt: float) -> None:
        """Brake and hold where the vehicle is (or was told to hold)."""
        if self.hold_target is None:
            b = self.body
            self.hold_target = (b.north_m, b.east_m, b.up_m)
        self.fly_to(dt, self.hold_target, stop=True, hold_yaw=True)

    # ------------------------------------------------------- pilot throttle
    def _pilot_throttle(self, dt: float) -> None:
        """ALT_HOLD, LOITER, POSHOLD and STABILIZE with the throttle stick at ``throttle_pwm`` (``pilot.py``)."""
        b = self.body
        if self.hold_target is None:
            self.hold_target = (b.north_m, b.east_m, b.up_m)
        n, e, up = self.hold_target
        rate = self.pilot_climb_rate_m_s()
        if self.mode == CopterMode.STABILIZE and self.throttle_pwm <= 1100:
            rate = -3.0  # throttle at zero: the copter drops
        up = pilot.follow_stick(up, b.up_m, rate, dt)
        self.hold_target = (n, e, up)
        z_up, z_down, z_accel = self.pilot_z_limits()
        self.fly_to(dt, (n, e, up), stop=True, hold_yaw=True, speed_up=z_up, speed_down=z_down, accel_z=z_accel)

    def pilot_climb_rate_m_s(self) -> float:
        """The climb rate the throttle stick asks for (positive up)."""
        return pilot.pilot_climb_rate_m_s(self.params, self.throttle_pwm)

    def pilot_z_limits(self) -> tuple[float, float, float]:
        """The vertical limits of a mode under the pilot's throttle: PILOT_SPEED_UP, _DN, PILOT_ACCEL_Z (SI)."""
        p = self.params
        up = max(p.get("PILOT_SPEED_UP") / 100.0, 0.1)
        return up, max(pilot.pilot_speed_dn_m_s(p), 0.1), max(p.get("PILOT_ACCEL_Z") / 100.0, 0.1)
