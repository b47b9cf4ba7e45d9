"""Battery, ground-station and fence failsafes as ArduCopter's events.cpp and fence.cpp take them.

- Battery: below BATT_LOW_VOLT for BATT_LOW_TIMER seconds (or under BATT_LOW_MAH
  remaining) while armed: "Battery 1 is low ..." then BATT_FS_LOW_ACT; the critical
  level likewise with BATT_CRT_VOLT / BATT_CRT_MAH and BATT_FS_CRT_ACT. Latched.
- GCS: with FS_GCS_ENABLE set, once a HEARTBEAT from SYSID_MYGCS has been seen,
  FS_GCS_TIMEOUT seconds without one trigger FS_GCS_ENABLE's action; a heartbeat
  clears it ("GCS Failsafe Cleared"). Disarmed: announced only. Landed: disarm.
- Fence: a new breach while armed: "Fence Breached", then FENCE_ACTION (RTL or
  land; land when more than 100 m outside; disarm when landed).
- EKF (ekf_check.cpp, simplified): without a usable GPS the EKF dead-reckons for
  EKF_DEAD_RECKON_S, then "EKF variance" and "EKF Failsafe"; FS_EKF_ACTION 1 or 3 lands
  (2: ALT_HOLD) unless the mode needs no position or the vehicle is already landing;
  "EKF Failsafe Cleared" once GPS is back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from drone_patrol.sim.copter import fence as fence_mod
from drone_patrol.sim.copter.modes import AUTOPILOT_MODES, GPS_MODES, CopterMode, mode_name

if TYPE_CHECKING:
    from drone_patrol.sim.copter.autopilot import Autopilot

# FailsafeAction numbers shared by BATT_FS_*_ACT (and mapped from FS_GCS_ENABLE).
NONE, LAND, RTL, SMARTRTL, SMARTRTL_LAND, TERMINATE, AUTO_DO_LAND_START, BRAKE_LAND = range(8)
_GCS_TO_ACTION = {1: RTL, 2: RTL, 3: SMARTRTL, 4: SMARTRTL_LAND, 5: LAND, 6: AUTO_DO_LAND_START, 7: BRAKE_LAND}
_OPTION_CONTINUE_IF_AUTO = 1 << 1
_OPTION_CONTINUE_IF_LANDING = 1 << 3
_OPTION_GCS_CONTINUE_IF_PILOT_CONTROL = 1 << 4
_WARN = mavlink2.MAV_SEVERITY_WARNING
EKF_DEAD_RECKON_S = 2.0


class Failsafes:
    """Failsafe state; ``update`` is called every simulation step."""

    def __init__(self) -> None:
        self.battery_level = 0  # 0 none, 1 low, 2 critical
        self.low_volt_since_s: float | None = None
        self.crit_volt_since_s: float | None = None
        self.gcs = False
        self.gcs_last_seen_s: float | None = None
        self.radio = False
        self.ekf = False
        self.gps_bad_since_s: float | None = None

    @property
    def any(self) -> bool:
        """True while any failsafe is active (HEARTBEAT system_status CRITICAL)."""
        return self.gcs or self.battery_level > 0 or self.ekf

    def gcs_heartbeat(self, time_s: float) -> None:
        """A HEARTBEAT from SYSID_MYGCS arrived."""
        self.gcs_last_seen_s = time_s

    def update(self, ap: Autopilot, dt: float) -> None:
        """Run the three checks."""
        self._battery(ap)
        self._gcs(ap)
        self._fence(ap)
        self._ekf(ap)

    # ----------------------------------------------------------------- battery
    def _battery(self, ap: Autopilot) -> None:
        if not ap.armed:
            self.low_volt_since_s = self.crit_volt_since_s = None
            return
        p = ap.params
        bat = ap.battery
        now = ap.time_s
        timer = p.get("BATT_LOW_TIMER")
        remaining_mah = bat.capacity_mah - bat.consumed_mah
        crit_v, low_v = p.get("BATT_CRT_VOLT"), p.get("BATT_LOW_VOLT")
        level = 0
        if crit_v > 0 and bat.voltage_v < crit_v:
            self.crit_volt_since_s = now if self.crit_volt_since_s is None else self.crit_volt_since_s
            if timer > 0 and now - self.crit_volt_since_s > timer:
                level = 2
        else:
            self.crit_volt_since_s = None
        if p.get("BATT_CRT_MAH") > 0 and remaining_mah < p.get("BATT_CRT_MAH"):
            level = 2
        if level == 0:
            if low_v > 0 and bat.voltage_v < low_v:
                self.low_volt_since_s = now if self.low_volt_since_s is None else self.low_volt_since_s
                if timer > 0 and now - self.low_volt_since_s > timer:
                    level = 1
            else:
                self.low_volt_since_s = None
            if p.get("BATT_LOW_MAH") > 0 and remaining_mah < p.get("BATT_LOW_MAH"):
                level = 1
        if level <= self.battery_level:
            return
        self.battery_level = level
        kind = "critical" if level == 2 else "low"
        used = bat.consumed_mah
        ap.say(_WARN, f"Battery 1 is {kind} {bat.voltage_v:.2f}V used {used:.0f} mAh")
        action = int(p.get("BATT_FS_CRT_ACT" if level == 2 else "BATT_FS_LOW_ACT"))
        if self._should_disarm(ap):
            ap.disarm()
            ap.say(_WARN, "Battery Failsafe - Disarming")
            return
        if ap.mode in (CopterMode.LAND,) and int(p.get("FS_OPTIONS")) & _OPTION_CONTINUE_IF_LANDING and action:
            ap.say(_WARN, "Battery Failsafe - Continuing Landing")
            return
        ap.say(_WARN, "Battery Failsafe")
        do_action(ap, action)

    # --------------------------------------------------------------------- GCS
    def _gcs(self, ap: Autopilot) -> None:
        enable = int(ap.params.get("FS_GCS_ENABLE"))
        if enable == 0 or self.gcs_last_seen_s is None:
            return
        silent = ap.time_s - self.gcs_last_seen_s
        timeout = ap.params.get("FS_GCS_TIMEOUT")
        if silent < timeout:
            if self.gcs:
                self.gcs = False
                ap.say(_WARN, "GCS Failsafe Cleared")
            return
        if self.gcs:
            return
        self.gcs = True
        action = _GCS_TO_ACTION.get(enable, RTL)
        options = int(ap.params.get("FS_OPTIONS"))
        if not ap.armed:
            ap.say(_WARN, "GCS Failsafe")
            return
        if self._should_disarm(ap):
            ap.disarm()
            ap.say(_WARN, "GCS Failsafe - Disarming")
            return
        if ap.mode == CopterMode.LAND and self.battery_level > 0:
            ap.say(_WARN, "GCS + Battery Failsafe - Continuing Landing")
            action = LAND
        elif ap.mode == CopterMode.LAND and options & _OPTION_CONTINUE_IF_LANDING:
            ap.say(_WARN, "GCS Failsafe - Continuing Landing")
            action = LAND
        elif (ap.mode == CopterMode.AUTO and options & _OPTION_CONTINUE_IF_AUTO) or enable == 2:
            ap.say(_WARN, "GCS Failsafe - Continuing Auto Mode")
            action = NONE if ap.mode == CopterMode.AUTO else action
        elif options & _OPTION_GCS_CONTINUE_IF_PILOT_CONTROL and ap.mode not in AUTOPILOT_MODES:
            ap.say(_WARN, "GCS Failsafe - Continuing Pilot Control")
            action = NONE
        else:
            ap.say(_WARN, "GCS Failsafe")
        do_action(ap, action)

    # ------------------------------------------------------------------- fence
    def _fence(self, ap: Autopilot) -> None:
        p = ap.params
        types = int(p.get("FENCE_TYPE")) if ap.fence_enabled else 0
        b = ap.body
        new = fence_mod.check(
            ap.fence_state,
            types,
            ap.fence_zones,
            b.north_m,
            b.east_m,
            b.up_m,
            p.get("FENCE_ALT_MAX"),
            p.get("FENCE_ALT_MIN"),
            p.get("FENCE_RADIUS"),
        )
        if new:
            ap.fence_state.breach_count += 1
            ap.fence_state.breach_time_s = ap.time_s
        if not ap.armed or not new:
            return
        if not ap.landed:
            ap.say(mavlink2.MAV_SEVERITY_NOTICE, "Fence Breached")
        action = int(p.get("FENCE_ACTION"))
        if action == 0:
            return
        if ap.landed:
            ap.disarm()
            return
        distance = max(ap.fence_state.breach_distance_m.get(bit, 0.0) for bit in (1, 2, 4, 8))
        if distance > fence_mod.GIVE_UP_DISTANCE_M or action == 2:
            ap.set_mode(CopterMode.LAND, "fence")
        elif action == 4:
            if not ap.set_mode(CopterMode.BRAKE, "fence"):
                ap.set_mode(CopterMode.LAND, "fence")
        elif not ap.set_mode(CopterMode.RTL, "fence"):
            ap.set_mode(CopterMode.LAND, "fence")

    # --------------------------------------------------------------------- EKF
    def _ekf(self, ap: Autopilot) -> None:
        fix, sats = ap.gps
        if not ap.ekf_announced:
            return  # the EKF has never used GPS: nothing to lose yet
        if fix >= 3 and sats >= 6:
            self.gps_bad_since_s = None
            if self.ekf:
                self.ekf = False
                ap.say(mavlink2.MAV_SEVERITY_CRITICAL, "EKF Failsafe Cleared")
            return
        if self.gps_bad_since_s is None:
            self.gps_bad_since_s = ap.time_s
        if self.ekf or ap.time_s - self.gps_bad_since_s < EKF_DEAD_RECKON_S:
            return
        self.ekf = True
        ap.say(mavlink2.MAV_SEVERITY_CRITICAL, "EKF variance")
        if not ap.armed:
            return
        action = int(ap.params.get("FS_EKF_ACTION"))
        no_action = ap.mode not in GPS_MODES and action != 3
        if action == 0 or ap.mode == CopterMode.LAND or no_action:
            ap.say(mavlink2.MAV_SEVERITY_CRITICAL, "EKF Failsafe")
            return
        if action == 2 and ap.set_mode(CopterMode.ALT_HOLD, "ekf"):
            pass
        else:
            ap.set_mode(CopterMode.LAND, "ekf", force=True)
            ap.land_begin(pause=True)
        ap.say(mavlink2.MAV_SEVERITY_CRITICAL, f"EKF Failsafe: changed to {mode_name(ap.mode)} Mode")

    @staticmethod
    def _should_disarm(ap: Autopilot) -> bool:
        """Copter::should_disarm_on_failsafe."""
        if ap.mode == CopterMode.AUTO:
            return not ap.auto_armed and ap.landed
        return ap.landed


def do_action(ap: Autopilot, action: int) -> None:
    """Copter::do_failsafe_action (SmartRTL falls back to RTL or LAND: no path is recorded)."""
    if action == NONE:
        return
    if action == TERMINATE:
        ap.disarm(force=True)
        return
    if action in (RTL, SMARTRTL, AUTO_DO_LAND_START):
        if action == SMARTRTL:
            ap.say(_WARN, "SmartRTL Unavailable, Trying RTL Mode")
        if ap.set_mode(CopterMode.RTL, "failsafe"):
            return
        ap.say(_WARN, "Trying Land Mode")
    elif action == SMARTRTL_LAND:
        ap.say(_WARN, "SmartRTL Unavailable, Using Land Mode")
    elif action == BRAKE_LAND and ap.set_mode(CopterMode.BRAKE, "failsafe"):
        return
    if ap.set_mode(CopterMode.LAND, "failsafe"):
        ap.land_begin(pause=True)
