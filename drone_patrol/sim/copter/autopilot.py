"""The simulated ArduCopter's flight logic: modes, arming, navigation and failsafes.

No sockets here: the MAVLink side (``vehicle.py``) calls these methods and is told
what to say through ``say``, ``item_reached`` and the flags it reads back. All
times are simulated seconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from drone_patrol.core.types import GeoPoint, MavCmd
from drone_patrol.sim.copter import arming, pilot
from drone_patrol.sim.copter import fence as fence_mod
from drone_patrol.sim.copter import guided as guided_mod
from drone_patrol.sim.copter.battery import Battery
from drone_patrol.sim.copter.circle import Circle
from drone_patrol.sim.copter.failsafes import Failsafes
from drone_patrol.sim.copter.kinematics import Body, Limits, LocalTangent, wrap_180
from drone_patrol.sim.copter.missions import Item, ItemStore
from drone_patrol.sim.copter.modes import (
    GPS_MODES,
    PILOT_THROTTLE_MODES,
    SUPPORTED_MODES,
    USER_TAKEOFF_MODES,
    CopterMode,
    mode_name,
)
from drone_patrol.sim.copter.navigator import COMPLETE, RUNNING, MissionRunner
from drone_patrol.sim.copter.params import ParamStore
from drone_patrol.sim.copter.rtl import Rtl

FORCE_ARM_MAGIC = 21196
LAND_PAUSE_S = 4.0


class Autopilot:
    """Everything the vehicle knows and decides, stepped in fixed simulated time."""

    def __init__(
        self,
        home: GeoPoint,
        heading_deg: float,
        params: ParamStore,
        say: Callable[[int, str], None],
        item_reached: Callable[[int], None],
        gps_ready_s: float = 3.0,
        ekf_ready_s: float = 6.0,
    ) -> None:
        self.home = home
        self.frame = LocalTangent(home.latitude_deg, home.longitude_deg)
        self.params = params
        self.say = say
        self._item_reached = item_reached
        self.store = ItemStore()
        self.body = Body(heading_deg)
        self.battery = Battery(
            params.get("BATT_CAPACITY"), params.get("SIM_BATT_VOLTAGE"), params.get("SIM_BATT_CAP_AH")
        )
        self.limits = Limits()
        self.time_s = 0.0
        self.mode = CopterMode.STABILIZE
        self.armed = False
        self.landed = True
        self.auto_armed = False
        self.throttle_pwm = 1000  # RC3 with no transmitter, as on SITL
        self.gps_ready_s = gps_ready_s
        self.ekf_ready_s = ekf_ready_s
        self.gps_override: tuple[int, int] | None = None
        self.ekf_announced = False
        self.ready_announced = False
        self.mission = MissionRunner()
        self.rtl = Rtl()
        self.circle = Circle()
        self.failsafes = Failsafes()
        self.fence_state = fence_mod.FenceState()
        self.fence_zones: list[fence_mod.Zone] = []
        self.fence_enabled = params.get("FENCE_ENABLE") >= 1
        self.guided_target: tuple[float, float, float] | None = None
        self.guided_motion: guided_mod.GuidedMotion | None = None  # a moving target or commanded heading
        self.hold_target: tuple[float, float, float] | None = None
        self.land_at: tuple[float, float] | None = None
        self.land_pause_until_s = 0.0
        self.land_contact_s: float | None = None
        self.roi: tuple[float, float, float] | None = None
        self.fixed_yaw_deg: float | None = None  # CONDITION_YAW
        self.paused = False  # DO_PAUSE_CONTINUE in AUTO or GUIDED
        self.speed_override_m_s: float | None = None
        self.disarm_timer_s = 0.0
        self.home_set = False
        self.reached_seq = -1
        self.pending_reached: int | None = None
        self.prearm_reported_s = -15.0  # the first report comes 15 s after boot, then every 30 s

    # ---------------------------------------------------------------- sensors
    @property
    def gps(self) -> tuple[int, int]:
        """(fix_type, satellites) the GPS reports."""
        if self.gps_override is not None:
            return self.gps_override
        if self.params.get("SIM_GPS_DISABLE") >= 1:
            return (0, 0)
        if self.time_s < self.gps_ready_s:
            return (1, 0)
        return (3, int(self.params.get("SIM_GPS_NUMSATS")))

    @property
    def position_ok(self) -> bool:
        """True once the EKF has a GPS position (copter.position_ok())."""
        fix, sats = self.gps
        return fix >= 3 and sats >= 6 and self.time_s >= self.ekf_ready_s

    @property
    def flying(self) -> bool:
        """Armed and off the ground."""
        return self.armed and not self.landed

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

    def heading_deg(self) -> float:
        """Current heading in [0, 360)."""
        return wrap_180(self.body.yaw_deg) % 360.0
