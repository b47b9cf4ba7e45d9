"""The simulated ArduCopter's flight logic: modes, arming, missions and the step.

No sockets here: the MAVLink side (``vehicle.py``) calls these methods and is told
what to say through ``say``, ``item_reached`` and the flags it reads back. All
times are simulated seconds. The state lives in ``autopilot_state.py``, the motion
primitives the modes fly with (``fly_to``, holding, landing, the pilot's throttle)
in ``steering.py``.
"""

from __future__ import annotations

import math

from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from drone_patrol.core.types import MavCmd
from drone_patrol.sim.copter import arming
from drone_patrol.sim.copter import fence as fence_mod
from drone_patrol.sim.copter import guided as guided_mod
from drone_patrol.sim.copter.missions import Item
from drone_patrol.sim.copter.modes import (
    GPS_MODES,
    PILOT_THROTTLE_MODES,
    SUPPORTED_MODES,
    USER_TAKEOFF_MODES,
    CopterMode,
    mode_name,
)
from drone_patrol.sim.copter.navigator import COMPLETE, RUNNING
from drone_patrol.sim.copter.steering import Steering

FORCE_ARM_MAGIC = 21196


class Autopilot(Steering):
    """Everything the vehicle knows and decides, stepped in fixed simulated time."""

    # ------------------------------------------------------------------ modes
    def set_mode(self, number: int, reason: str = "GCS", force: bool = False) -> bool:
        """Change flight mode as Copter::set_mode does; False (with a STATUSTEXT) when refused.

        ``force`` skips the mode's own checks (failsafes landing without a position).
        """
        if number == self.mode:
            return True
        if number not in SUPPORTED_MODES:
            self.say(mavlink2.MAV_SEVERITY_WARNING, f"No such mode {number}")
            return False
        mode = CopterMode(number)
        # Disarmed, any mode may be chosen: the arming checks catch what it lacks (Copter::set_mode).
        ignore_checks = not self.armed or force
        if mode in GPS_MODES and not self.position_ok and not ignore_checks:
            self.say(mavlink2.MAV_SEVERITY_WARNING, f"Mode change to {mode_name(mode)} failed: requires position")
            return False
        if mode == CopterMode.AUTO:
            if len(self.store.lists[0]) <= 1 and not ignore_checks:
                self.say(mavlink2.MAV_SEVERITY_WARNING, "Mode change to AUTO failed: init failed")
                return False
            if self.armed and self.landed and not self._starts_with_takeoff():
                self.say(mavlink2.MAV_SEVERITY_CRITICAL, "Auto: Missing Takeoff Cmd")
                self.say(mavlink2.MAV_SEVERITY_WARNING, "Mode change to AUTO failed: init failed")
                return False
        if self.mode == CopterMode.AUTO:
            self.mission.stop()
        self.mode = mode
        self._enter(mode)
        return True

    def _starts_with_takeoff(self) -> bool:
        items = self.store.lists[0]
        start = self.mission.nav_index if self.mission.nav_index > 0 and self.mission.state != COMPLETE else 1
        for it in items[start:]:
            if it.command == MavCmd.NAV_TAKEOFF:
                return True
            if it.command in (16, 17, 18, 19, 20, 21, 82, 93):
                return False
        return False

    def _enter(self, mode: CopterMode) -> None:
        b = self.body
        here = (b.north_m, b.east_m, b.up_m)
        self.hold_target = here
        self.guided_target = None
        self.guided_motion = None
        if mode == CopterMode.AUTO:
            self.mission.auto_rtl = False
            if self.auto_armed or not self.landed:
                self.mission.start(self, restart=self.params.get("MIS_RESTART") >= 1)
        elif mode in (CopterMode.RTL, CopterMode.SMART_RTL):
            self.rtl.begin(self)
        elif mode == CopterMode.LAND:
            self.land_begin()
        elif mode == CopterMode.CIRCLE:
            self.circle.begin(self)
        if mode != CopterMode.AUTO:
            self.roi = None
        self.fixed_yaw_deg = None
        self.paused = False

    # ---------------------------------------------------------- GCS commands
    def takeoff_started(self) -> None:
        """The motors lift off: the vehicle is no longer landed."""
        self.landed = False
        self.auto_armed = True
        self.land_contact_s = None

    def user_takeoff(self, altitude_m: float) -> bool:
        """MAV_CMD_NAV_TAKEOFF outside AUTO (Mode::do_user_takeoff)."""
        if not self.armed or not self.landed or self.mode not in USER_TAKEOFF_MODES:
            return False
        if altitude_m <= self.body.up_m:
            return False
        b = self.body
        self.guided_target = (b.north_m, b.east_m, altitude_m)
        self.hold_target = self.guided_target
        self.takeoff_started()
        return True

    def pause(self, stop: bool) -> bool:
        """DO_PAUSE_CONTINUE: brake and hold in AUTO or GUIDED, or go on."""
        if self.mode not in (CopterMode.AUTO, CopterMode.GUIDED) or not self.flying:
            return False
        if stop and not self.paused:
            b = self.body
            self.hold_target = (b.north_m, b.east_m, b.up_m)
        if not stop and not self.paused:
            return False
        self.paused = stop
        return True

    def guided_goto(self, north_m: float, east_m: float, up_m: float) -> bool:
        """A GUIDED position target (SET_POSITION_TARGET_GLOBAL_INT, DO_REPOSITION).

        As ModeGuided::set_destination without a yaw: the yaw goes back to its default
        (WP_YAW_BEHAVIOR), so an ROI or CONDITION_YAW set before is dropped.
        """
        if self.mode != CopterMode.GUIDED or not self.armed or self.landed:
            return False
        self.guided_target = (north_m, east_m, up_m)
        self.guided_motion = None
        self.roi = None
        self.fixed_yaw_deg = None
        return True

    # ------------------------------------------------------------------ arming
    def arm(self, force: bool) -> bool:
        """Arm as AP_Arming_Copter does; refusal reasons go out as "PreArm:"/"Arm:" texts."""
        if self.armed:
            return True
        if not arming.checks_pass(self, force):
            return False
        self.armed = True
        self.auto_armed = False
        self.disarm_timer_s = 0.0
        self.home_set = True
        self.say(mavlink2.MAV_SEVERITY_INFO, "Arming motors")
        return True

    def disarm(self, force: bool = False, from_gcs: bool = False) -> bool:
        """Disarm; a ground station may not disarm a flying copter unless forced."""
        if not self.armed:
            return True
        if from_gcs and not force and not self.landed:
            return False
        self.armed = False
        self.auto_armed = False
        if self.mode == CopterMode.AUTO:
            self.mission.stop()
        self.say(mavlink2.MAV_SEVERITY_INFO, "Disarming motors")
        return True

    # --------------------------------------------------------------- missions
    def item_reached(self, seq: int) -> None:
        """A navigation command finished."""
        self.reached_seq = seq
        self._item_reached(seq)

    def mission_complete(self) -> None:
        """ModeAuto::exit_mission: loiter in AUTO when flying, disarm when landed."""
        b = self.body
        self.hold_target = (b.north_m, b.east_m, b.up_m)
        if self.landed and self.armed:
            self.disarm()

    def mission_changed(self, mission_type: int) -> None:
        """A list changed (upload, clear): refresh counters and the fence zones."""
        s = self.store
        self.params.set_internal("MIS_TOTAL", max(0, s.count(0) - 1))
        self.params.set_internal("FENCE_TOTAL", s.count(1))
        self.params.set_internal("RALLY_TOTAL", s.count(2))
        if mission_type == 1:
            self.fence_zones, _ = fence_mod.zones_from_items(s.lists[1], self.frame.to_ne)
        if mission_type == 0:
            self.mission.mission_changed(self)

    def can_clear_mission(self) -> bool:
        """AP_Mission::clear refuses while the mission runs."""
        return not (self.mode == CopterMode.AUTO and self.mission.state == RUNNING and self.armed)

    def home_item(self) -> Item:
        """What a download returns at seq 0: home, absolute altitude."""
        return Item(
            MavCmd.NAV_WAYPOINT,
            mavlink2.MAV_FRAME_GLOBAL,
            x=round(self.home.latitude_deg * 1e7),
            y=round(self.home.longitude_deg * 1e7),
            z=round(self.home.altitude_m * 100.0) / 100.0,
        )

    def change_speed(self, speed_type: int, speed_m_s: float) -> bool:
        """DO_CHANGE_SPEED: type 0/1 horizontal, 2 climb, 3 descent (Copter keeps it until mode change)."""
        if speed_m_s <= 0:
            return speed_m_s == -2 or speed_m_s == -1
        if speed_type in (0, 1):
            self.speed_override_m_s = speed_m_s
        elif speed_type == 2:
            self.params.set_internal("WPNAV_SPEED_UP", speed_m_s * 100.0)
        elif speed_type == 3:
            self.params.set_internal("WPNAV_SPEED_DN", speed_m_s * 100.0)
        return True

    def fence_enable(self, value: int) -> None:
        """DO_FENCE_ENABLE: 0 off, 1 on, 2 floor only (treated as on)."""
        self.fence_enabled = value != 0
        self.params.set_internal("FENCE_ENABLE", 1 if self.fence_enabled else 0)

    # ------------------------------------------------------------------- step
    def step(self, dt: float) -> None:
        """Advance the whole vehicle by ``dt`` simulated seconds."""
        self.time_s += dt
        if not self.home_set and self.gps[0] >= 3:
            self.home_set = True  # the EKF origin and home come with the first 3D fix
            self.say(mavlink2.MAV_SEVERITY_INFO, "EKF3 IMU0 origin set")
            self.say(mavlink2.MAV_SEVERITY_INFO, f"Field Elevation Set: {self.home.altitude_m:.0f}m")
        if not self.ready_announced and self.time_s >= arming.BOOT_S:
            self.ready_announced = True
            self.say(mavlink2.MAV_SEVERITY_INFO, "ArduPilot Ready")
        arming.prearm_report(self)
        if not self.ekf_announced and self.position_ok:
            self.ekf_announced = True
            self.say(mavlink2.MAV_SEVERITY_INFO, "EKF3 IMU0 is using GPS")
        self.fence_enabled = self.params.get("FENCE_ENABLE") >= 1
        self.body.wind_n, self.body.wind_e = self._wind()
        self._fly(dt)
        arming.land_detector(self)
        p = self.params
        self.battery.configure(p.get("BATT_CAPACITY"), p.get("SIM_BATT_VOLTAGE"), p.get("SIM_BATT_CAP_AH"))
        b = self.body
        self.battery.step(dt, self.armed, self.flying, b.airspeed_m_s, b.vu, self.home.altitude_m + b.up_m)
        self.failsafes.update(self, dt)
        arming.auto_disarm(self, dt)

    def _wind(self) -> tuple[float, float]:
        speed = self.params.get("SIM_WIND_SPD")
        # SIM_WIND_DIR is where the wind comes from.
        to = math.radians(self.params.get("SIM_WIND_DIR") + 180.0)
        return speed * math.cos(to), speed * math.sin(to)

    def _fly(self, dt: float) -> None:
        b = self.body
        if not self.armed or (self.landed and not self.lifting()):
            b.rest_on_ground() if self.landed else None
            if not self.armed and not self.landed:
                # Motors stopped in the air: fall.
                b.vu = max(b.vu - 9.8 * dt, -20.0)
                b.up_m = max(0.0, b.up_m + b.vu * dt)
            return
        mode = self.mode
        if self.paused and mode in (CopterMode.AUTO, CopterMode.GUIDED):
            self.hold_position(dt)
        elif mode == CopterMode.AUTO:
            if self.auto_armed or not self.landed:
                if self.mission.state not in (RUNNING, COMPLETE) and not self.landed:
                    self.mission.start(self, restart=False)
                self.mission.update(self, dt)
        elif mode == CopterMode.GUIDED:
            guided_mod.update(self, dt)
        elif mode in (CopterMode.RTL, CopterMode.SMART_RTL):
            self.rtl.update(self, dt)
        elif mode == CopterMode.LAND:
            self.land_update(dt)
        elif mode == CopterMode.CIRCLE:
            self.circle.update(self, dt)
        elif mode == CopterMode.BRAKE:
            self.hold_position(dt)
        elif mode in PILOT_THROTTLE_MODES:
            self._pilot_throttle(dt)

    def lifting(self) -> bool:
        # On the ground, only a takeoff (user or mission) lifts the vehicle.
        if self.mode == CopterMode.AUTO:
            return self.auto_armed and self.mission.state == RUNNING
        return False

    def nav_target(self) -> tuple[float, float, float] | None:
        """Where the vehicle is heading (NAV_CONTROLLER_OUTPUT), or None when idle."""
        if not self.flying:
            return None
        if self.mode == CopterMode.AUTO and self.mission.state == RUNNING:
            return self.mission.nav.target or self.hold_target
        if self.mode in (CopterMode.RTL, CopterMode.SMART_RTL):
            return (self.rtl.target_n, self.rtl.target_e, self.rtl.alt_m)
        if self.mode == CopterMode.GUIDED and self.guided_target is not None:
            return self.guided_target
        return self.hold_target
