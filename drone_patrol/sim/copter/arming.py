"""Arming: ArduCopter's pre-arm and arm checks, the landing detector and auto-disarm.

Texts are AP_Arming_Copter's, in the order ArduCopter SITL gives them while it boots
("Arm: System not initialised", "Arm: EKF attitude is bad", "Arm: AHRS: waiting for home",
"Arm: Need Position Estimate", ...): "Arm:" answers an arm request, "PreArm:" is the
report repeated every 30 s while disarmed. The landing detector declares touchdown after one
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
BOOT_S = 1.0
ATTITUDE_READY_S = 2.0
PREARM_REPORT_S = 30.0


def first_failure(ap: Autopilot) -> str | None:
    """The first pre-arm/arm check that fails, in ArduCopter's words (without prefix), or None.

    The order follows what SITL reports while it boots: not initialised, attitude,
    home, position estimate (for modes that need one or with a fence), then battery,
    fence and mode checks.
    """
    checks = int(ap.params.get("ARMING_CHECK")) != 0
    needs_position = ap.mode in GPS_MODES or ap.fence_enabled
    if ap.time_s < BOOT_S:
        return "System not initialised"
    if checks and ap.time_s < ATTITUDE_READY_S:
        return "EKF attitude is bad"
    if checks and needs_position:
        fix, _sats = ap.gps
        if not ap.home_set:
            return "AHRS: waiting for home"
        if fix < 3:
            return "GPS 1: Bad fix"
    if checks and ap.failsafes.battery_level > 0:
        return "Battery 1 low voltage failsafe"
    arm_volt = ap.params.get("BATT_ARM_VOLT")
    if checks and arm_volt > 0 and ap.battery.voltage_v < arm_volt:
        return f"Battery 1 below minimum arming voltage {arm_volt:.1f}V"
    if checks and ap.fence_enabled and ap.fence_state.breaches:
        return f"Vehicle breaching {fence_mod.breach_names(ap.fence_state.breaches)} fence"
    if needs_position and not ap.position_ok:
        return "Need Position Estimate"
    auto_ok = ap.mode == CopterMode.AUTO and int(ap.params.get("AUTO_OPTIONS")) & 1
    if ap.mode in NOT_ARMABLE or (ap.mode == CopterMode.AUTO and not auto_ok):
        return f"{mode_name(ap.mode).title()} mode not armable"
    return None


def checks_pass(ap: Autopilot, force: bool) -> bool:
    """Arming checks for an arm request; a refusal says why as "Arm: ..." (21196 skips them)."""
    if force:
        return True
    problem = first_failure(ap)
    if problem is None:
        return True
    ap.say(mavlink2.MAV_SEVERITY_CRITICAL, f"Arm: {problem}")
    return False


def prearm_report(ap: Autopilot) -> None:
    """Every 30 s while disarmed, ArduCopter repeats the first failing check as "PreArm: ..."."""
    if ap.armed or ap.time_s - ap.prearm_reported_s < PREARM_REPORT_S:
        return
    ap.prearm_reported_s = ap.time_s
    problem = first_failure(ap)
    if problem is not None and not problem.endswith("mode not armable"):
        ap.say(mavlink2.MAV_SEVERITY_CRITICAL, f"PreArm: {problem}")


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
