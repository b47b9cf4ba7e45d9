"""Arming: ArduCopter's pre-arm and arm checks, the landing detector and auto-disarm.

Texts are AP_Arming_Copter's ("PreArm: GPS 1: Bad fix", "Arm: Need Position Estimate",
"Arm: Auto mode not armable", ...). The landing detector declares touchdown after one
second on the ground (LAND_DETECTOR_TRIGGER_SEC); LAND and RTL then disarm at once,
and Copter::auto_disarm_check disarms after DISARM_DELAY seconds landed with the
throttle low.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from drone_patrol.sim.copter import fence as fence_mod
from drone_patrol.sim.copter.modes import GPS_MODES, NOT_ARMABLE, CopterMode, mode_name

if TYPE_CHECKING:
    from drone_patrol.sim.copter.autopilot import Autopilot

LAND_DETECT_S = 1.0


def checks_pass(ap: Autopilot, force: bool) -> bool:
    """AP_Arming_Copter's pre-arm and arm checks; each refusal says why ("PreArm: ..." / "Arm: ...")."""
    checks = int(ap.params.get("ARMING_CHECK")) != 0 and not force
    if not force and ap.time_s < ap.gps_ready_s:
        ap.say(mavlink2.MAV_SEVERITY_CRITICAL, "PreArm: AHRS: EKF3 not started")
        return False
    if checks:
        fix, _sats = ap.gps
        if ap.mode in GPS_MODES or ap.fence_enabled:
            if fix < 3:
                ap.say(mavlink2.MAV_SEVERITY_CRITICAL, "PreArm: GPS 1: Bad fix")
                return False
            if not ap.home_set:
                ap.say(mavlink2.MAV_SEVERITY_CRITICAL, "PreArm: AHRS: waiting for home")
                return False
        if ap.failsafes.battery_level > 0:
            ap.say(mavlink2.MAV_SEVERITY_CRITICAL, "PreArm: Battery 1 low voltage failsafe")
            return False
        arm_volt = ap.params.get("BATT_ARM_VOLT")
        if arm_volt > 0 and ap.battery.voltage_v < arm_volt:
            ap.say(mavlink2.MAV_SEVERITY_CRITICAL, f"PreArm: Battery 1 below minimum arming voltage {arm_volt:.1f}V")
            return False
        if ap.fence_enabled and ap.fence_state.breaches:
            names = fence_mod.breach_names(ap.fence_state.breaches)
            ap.say(mavlink2.MAV_SEVERITY_CRITICAL, f"PreArm: Vehicle breaching {names} fence")
            return False
    if not force:
        if (ap.mode in GPS_MODES or ap.fence_enabled) and not ap.position_ok:
            ap.say(mavlink2.MAV_SEVERITY_CRITICAL, "Arm: Need Position Estimate")
            return False
        auto_ok = ap.mode == CopterMode.AUTO and int(ap.params.get("AUTO_OPTIONS")) & 1
        if ap.mode in NOT_ARMABLE or (ap.mode == CopterMode.AUTO and not auto_ok):
            ap.say(mavlink2.MAV_SEVERITY_CRITICAL, f"Arm: {mode_name(ap.mode).title()} mode not armable")
            return False
    return True


def land_detector(ap: Autopilot) -> None:
    """Declare touchdown after LAND_DETECT_S on the ground; LAND and RTL disarm then."""
    b = ap.body
    if not ap.armed:
        if b.up_m <= 0.0:
            ap.landed = True
        return
    if ap.landed:
        return
    if b.up_m <= 0.05 and b.vu <= 0.05:
        if ap.land_contact_s is None:
            ap.land_contact_s = ap.time_s
        elif ap.time_s - ap.land_contact_s >= LAND_DETECT_S:
            ap.landed = True
            b.rest_on_ground()
            ap.hold_target = None
            if ap.mode in (CopterMode.LAND, CopterMode.RTL, CopterMode.SMART_RTL):
                ap.disarm()
    else:
        ap.land_contact_s = None


def auto_disarm(ap: Autopilot, dt: float) -> None:
    """Copter::auto_disarm_check: DISARM_DELAY seconds landed with the throttle low."""
    delay = ap.params.get("DISARM_DELAY")
    if not ap.armed or delay <= 0 or not ap.landed or ap.throttle_pwm > 1100 or ap.lifting():
        ap.disarm_timer_s = 0.0
        return
    ap.disarm_timer_s += dt
    if ap.disarm_timer_s >= delay:
        ap.disarm()
        ap.disarm_timer_s = 0.0
