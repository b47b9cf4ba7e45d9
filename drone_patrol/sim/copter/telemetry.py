"""Telemetry messages built from the autopilot's state, and per-connection stream rates.

HEARTBEAT goes out at 1 Hz. Everything else follows the SR0_* stream groups as in
ArduCopter: SYS_STATUS, MISSION_CURRENT, GPS_RAW_INT, BATTERY_STATUS, EKF_STATUS_REPORT and
NAV_CONTROLLER_OUTPUT at SR0_EXT_STAT; ATTITUDE at SR0_EXTRA1; VFR_HUD at SR0_EXTRA2;
GLOBAL_POSITION_INT at SR0_POSITION; SYSTEM_TIME, HOME_POSITION and EXTENDED_SYS_STATE at
SR0_EXTRA3. Copter's defaults for these are 0, so, as on SITL, a ground station that
asks for nothing gets heartbeats and texts only. REQUEST_DATA_STREAM sets a group's
rate on one connection (as MAVProxy and QGroundControl ask); SET_MESSAGE_INTERVAL
sets one message on one connection (-1 stops it, 0 restores the group's rate).
Rates are in simulated time.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from drone_patrol.sim.copter.modes import GUIDED_FLAG_MODES

if TYPE_CHECKING:
    from drone_patrol.sim.copter.autopilot import Autopilot

HEARTBEAT = mavlink2.MAVLINK_MSG_ID_HEARTBEAT
SYS_STATUS = mavlink2.MAVLINK_MSG_ID_SYS_STATUS
SYSTEM_TIME = mavlink2.MAVLINK_MSG_ID_SYSTEM_TIME
GPS_RAW_INT = mavlink2.MAVLINK_MSG_ID_GPS_RAW_INT
ATTITUDE = mavlink2.MAVLINK_MSG_ID_ATTITUDE
GLOBAL_POSITION_INT = mavlink2.MAVLINK_MSG_ID_GLOBAL_POSITION_INT
MISSION_CURRENT = mavlink2.MAVLINK_MSG_ID_MISSION_CURRENT
NAV_CONTROLLER_OUTPUT = mavlink2.MAVLINK_MSG_ID_NAV_CONTROLLER_OUTPUT
VFR_HUD = mavlink2.MAVLINK_MSG_ID_VFR_HUD
BATTERY_STATUS = mavlink2.MAVLINK_MSG_ID_BATTERY_STATUS
EKF_STATUS_REPORT = mavlink2.MAVLINK_MSG_ID_EKF_STATUS_REPORT
HOME_POSITION = mavlink2.MAVLINK_MSG_ID_HOME_POSITION
EXTENDED_SYS_STATE = mavlink2.MAVLINK_MSG_ID_EXTENDED_SYS_STATE
AUTOPILOT_VERSION = mavlink2.MAVLINK_MSG_ID_AUTOPILOT_VERSION
GPS_GLOBAL_ORIGIN = mavlink2.MAVLINK_MSG_ID_GPS_GLOBAL_ORIGIN

LOCAL_POSITION_NED = mavlink2.MAVLINK_MSG_ID_LOCAL_POSITION_NED
SERVO_OUTPUT_RAW = mavlink2.MAVLINK_MSG_ID_SERVO_OUTPUT_RAW
RC_CHANNELS = mavlink2.MAVLINK_MSG_ID_RC_CHANNELS
POWER_STATUS = mavlink2.MAVLINK_MSG_ID_POWER_STATUS
MEMINFO = mavlink2.MAVLINK_MSG_ID_MEMINFO
WIND = mavlink2.MAVLINK_MSG_ID_WIND
VIBRATION = mavlink2.MAVLINK_MSG_ID_VIBRATION
FENCE_STATUS = mavlink2.MAVLINK_MSG_ID_FENCE_STATUS
TIMESYNC = mavlink2.MAVLINK_MSG_ID_TIMESYNC

# Message -> the SR0_* parameter whose rate (Hz) it follows (GCS_MAVLink_Parameters.cpp's groups).
STREAM_GROUP = {
    SYS_STATUS: "SR0_EXT_STAT",
    POWER_STATUS: "SR0_EXT_STAT",
    MEMINFO: "SR0_EXT_STAT",
    MISSION_CURRENT: "SR0_EXT_STAT",
    GPS_RAW_INT: "SR0_EXT_STAT",
    NAV_CONTROLLER_OUTPUT: "SR0_EXT_STAT",
    FENCE_STATUS: "SR0_EXT_STAT",
    GLOBAL_POSITION_INT: "SR0_POSITION",
    LOCAL_POSITION_NED: "SR0_POSITION",
    SERVO_OUTPUT_RAW: "SR0_RC_CHAN",
    RC_CHANNELS: "SR0_RC_CHAN",
    ATTITUDE: "SR0_EXTRA1",
    VFR_HUD: "SR0_EXTRA2",
    WIND: "SR0_EXTRA3",
    SYSTEM_TIME: "SR0_EXTRA3",
    BATTERY_STATUS: "SR0_EXTRA3",
    EKF_STATUS_REPORT: "SR0_EXTRA3",
    VIBRATION: "SR0_EXTRA3",
}
# REQUEST_DATA_STREAM ids -> groups.
DATA_STREAMS = {
    mavlink2.MAV_DATA_STREAM_RAW_SENSORS: "SR0_RAW_SENS",
    mavlink2.MAV_DATA_STREAM_EXTENDED_STATUS: "SR0_EXT_STAT",
    mavlink2.MAV_DATA_STREAM_RC_CHANNELS: "SR0_RC_CHAN",
    mavlink2.MAV_DATA_STREAM_POSITION: "SR0_POSITION",
    mavlink2.MAV_DATA_STREAM_EXTRA1: "SR0_EXTRA1",
    mavlink2.MAV_DATA_STREAM_EXTRA2: "SR0_EXTRA2",
    mavlink2.MAV_DATA_STREAM_EXTRA3: "SR0_EXTRA3",
}
TIMESYNC_PERIOD_S = 10.0
BOOT_S = 1.0

EKF_READY_FLAGS = 0x01 | 0x02 | 0x04 | 0x08 | 0x10 | 0x20 | 0x100 | 0x200
EKF_INIT_FLAGS = 0x01 | 0x80 | 0x400
# SYS_STATUS sensor bits: gyro, accel, mag, baro, GPS, motor outputs, AHRS, battery, prearm.
_SENSORS = 0x1 | 0x2 | 0x4 | 0x8 | 0x20 | 0x8000 | 0x200000 | 0x2000000 | 0x10000000
_FENCE_BIT = 0x100000
FLIGHT_SW_VERSION = (4 << 24) | (6 << 16) | (0 << 8) | 255


class Streams:
    """Intervals for one connection: message id -> period in simulated seconds (None: off)."""

    def __init__(self) -> None:
        self.custom: dict[int, float | None] = {}
        self.group_hz: dict[str, float] = {}
        self.next_due: dict[int, float] = {}

    def period_s(self, msg_id: int, ap: Autopilot) -> float | None:
        """Current period of ``msg_id``."""
        if msg_id == HEARTBEAT:
            return 1.0
        if msg_id in self.custom:
            return self.custom[msg_id]
        group = STREAM_GROUP.get(msg_id)
        if group is None:
            return None
        hz = self.group_hz.get(group, ap.params.get(group))
        return 1.0 / hz if hz > 0 else None

    def set_interval(self, msg_id: int, interval_us: float) -> None:
        """SET_MESSAGE_INTERVAL semantics."""
        if interval_us == 0:
            self.custom.pop(msg_id, None)
        elif interval_us < 0:
            self.custom[msg_id] = None
        else:
            self.custom[msg_id] = max(interval_us / 1e6, 0.002)
        self.next_due.pop(msg_id, None)

    def due(self, now_s: float, ap: Autopilot) -> list[int]:
        """Message ids whose period has elapsed; schedules the next time."""
        out = []
        for msg_id in (HEARTBEAT, *STREAM_GROUP, *[m for m in self.custom if m not in STREAM_GROUP]):
            period = self.period_s(msg_id, ap)
            if period is None:
                continue
            due = self.next_due.get(msg_id)
            if due is None or now_s >= due:
                out.append(msg_id)
                base = now_s if due is None or now_s - due > period else due
                self.next_due[msg_id] = base + period
        return out


def system_status(ap: Autopilot) -> int:
    """HEARTBEAT.system_status as GCS_MAVLINK_Copter::vehicle_system_status gives it."""
    if ap.failsafes.any:
        return int(mavlink2.MAV_STATE_CRITICAL)
    if ap.time_s < BOOT_S:
        return int(mavlink2.MAV_STATE_BOOT)  # the landing detector has not run yet
    if ap.landed:
        return int(mavlink2.MAV_STATE_STANDBY)
    return int(mavlink2.MAV_STATE_ACTIVE)


def build(mav: Any, msg_id: int, ap: Autopilot, boot_unix_s: float) -> Any | None:
    """One telemetry message, or None when the vehicle has nothing to say (e.g. home unknown)."""
    b = ap.body
    t_ms = int(ap.time_s * 1000) & 0xFFFFFFFF
    lat, lon = ap.frame.to_latlon(b.north_m, b.east_m)
    alt_amsl = ap.home.altitude_m + b.up_m
    fix, sats = ap.gps
    if msg_id == HEARTBEAT:
        base = mavlink2.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED | mavlink2.MAV_MODE_FLAG_STABILIZE_ENABLED
        base |= mavlink2.MAV_MODE_FLAG_MANUAL_INPUT_ENABLED
        if ap.mode in GUIDED_FLAG_MODES or ap.time_s < BOOT_S:
            # Set while the horizontal position controller runs (pos_control->is_active_NE()).
            base |= mavlink2.MAV_MODE_FLAG_GUIDED_ENABLED
        if ap.armed:
            base |= mavlink2.MAV_MODE_FLAG_SAFETY_ARMED
        if ap.failsafes.any:
            status = mavlink2.MAV_STATE_CRITICAL
        elif ap.landed:
            status = mavlink2.MAV_STATE_STANDBY
        else:
            status = mavlink2.MAV_STATE_ACTIVE
        return mav.heartbeat_encode(
            mavlink2.MAV_TYPE_QUADROTOR, mavlink2.MAV_AUTOPILOT_ARDUPILOTMEGA, base, int(ap.mode), status
        )
    if msg_id == GLOBAL_POSITION_INT:
        hdg = int(ap.heading_deg() * 100) % 36000
        return mav.global_position_int_encode(
            t_ms,
            round(lat * 1e7),
            round(lon * 1e7),
            round(alt_amsl * 1000),
            round(b.up_m * 1000),
            round(b.vn * 100),
            round(b.ve * 100),
            round(-b.vu * 100),
            hdg,
        )
    if msg_id == ATTITUDE:
        roll, pitch = b.attitude_deg()
        yaw = math.radians(((b.yaw_deg + 180.0) % 360.0) - 180.0)
        return mav.attitude_encode(
            t_ms, math.radians(roll), math.radians(pitch), yaw, 0.0, 0.0, math.radians(b.yaw_rate_deg_s)
        )
    if msg_id == VFR_HUD:
        throttle = 0 if not ap.flying else int(min(100, 38 + 2 * b.airspeed_m_s + 8 * max(0.0, b.vu)))
        return mav.vfr_hud_encode(
            b.airspeed_m_s, b.ground_speed_m_s, int(ap.heading_deg()) % 360, throttle, alt_amsl, b.vu
        )
    if msg_id == SYS_STATUS:
        sensors = _SENSORS | (_FENCE_BIT if ap.fence_enabled else 0)
        health = sensors if ap.position_ok else sensors & ~0x20 & ~0x200000
        if ap.fence_enabled and ap.fence_state.breaches:
            health &= ~_FENCE_BIT
        bat = ap.battery
        return mav.sys_status_encode(
            sensors,
            sensors,
            health,
            200,
            round(bat.voltage_v * 1000),
            round(bat.current_a * 100),
            round(bat.remaining_fraction * 100),
            0,
            0,
            0,
            0,
            0,
            0,
        )
    if msg_id == BATTERY_STATUS:
        bat = ap.battery
        cells = [min(65534, round(bat.voltage_v * 1000))] + [65535] * 9
        if ap.failsafes.battery_level == 2:
            charge = mavlink2.MAV_BATTERY_CHARGE_STATE_CRITICAL
        elif ap.failsafes.battery_level == 1:
            charge = mavlink2.MAV_BATTERY_CHARGE_STATE_LOW
        else:
            charge = mavlink2.MAV_BATTERY_CHARGE_STATE_OK
        return mav.battery_status_encode(
            0,
            mavlink2.MAV_BATTERY_FUNCTION_UNKNOWN,
            mavlink2.MAV_BATTERY_TYPE_LIPO,
            32767,
            cells,
            round(bat.current_a * 100),
            round(bat.consumed_mah),
            round(bat.energy_wh * 36),
            round(bat.remaining_fraction * 100),
            0,
            charge,
        )
    if msg_id == GPS_RAW_INT:
        vel = round(b.ground_speed_m_s * 100)
        cog = round((math.degrees(math.atan2(b.ve, b.vn)) % 360.0) * 100) if vel > 10 else 0
        ok = fix >= 3
        return mav.gps_raw_int_encode(
            int(ap.time_s * 1e6),
            fix,
            round(lat * 1e7) if ok else 0,
            round(lon * 1e7) if ok else 0,
            round(alt_amsl * 1000) if ok else 0,
            121 if ok else 65535,
            200 if ok else 65535,
            vel,
            cog,
            sats,
        )
    if msg_id == EKF_STATUS_REPORT:
        flags = EKF_READY_FLAGS if ap.position_ok else EKF_INIT_FLAGS
        var = 0.02 if ap.position_ok else 1.0
        return mav.ekf_status_report_encode(flags, var, var, var, 0.01, 0.0)
    if msg_id == MISSION_CURRENT:
        items = ap.store.lists[0]
        total = max(0, len(items) - 1)
        state = mavlink2.MISSION_STATE_NO_MISSION if total == 0 else ap.mission.state
        mission_mode = 1 if int(ap.mode) == 3 else 0
        return mav.mission_current_encode(ap.mission.nav_index, total, state, mission_mode)
    if msg_id == NAV_CONTROLLER_OUTPUT:
        target = ap.nav_target()
        if target is None:
            return mav.nav_controller_output_encode(0.0, 0.0, 0, 0, 0, 0.0, 0.0, 0.0)
        dn, de = target[0] - b.north_m, target[1] - b.east_m
        bearing = int(math.degrees(math.atan2(de, dn))) % 360
        dist = int(min(65535, math.hypot(dn, de)))
        roll, pitch = b.attitude_deg()
        return mav.nav_controller_output_encode(roll, pitch, bearing, bearing, dist, target[2] - b.up_m, 0.0, 0.0)
    if msg_id == SYSTEM_TIME:
        return mav.system_time_encode(int((boot_unix_s + ap.time_s) * 1e6), t_ms)
    if msg_id == HOME_POSITION:
        if not ap.home_set:
            return None
        h = ap.home
        q = [1.0, 0.0, 0.0, 0.0]
        return mav.home_position_encode(
            round(h.latitude_deg * 1e7),
            round(h.longitude_deg * 1e7),
            round(h.altitude_m * 1000),
            0.0,
            0.0,
            0.0,
            q,
            0.0,
            0.0,
            0.0,
            int(ap.time_s * 1e6),
        )
    if msg_id == GPS_GLOBAL_ORIGIN:
        if not ap.home_set:
            return None
        h = ap.home
        return mav.gps_global_origin_encode(
            round(h.latitude_deg * 1e7), round(h.longitude_deg * 1e7), round(h.altitude_m * 1000)
        )
    if msg_id == EXTENDED_SYS_STATE:
        landed = mavlink2.MAV_LANDED_STATE_ON_GROUND if ap.landed else mavlink2.MAV_LANDED_STATE_IN_AIR
        return mav.extended_sys_state_encode(mavlink2.MAV_VTOL_STATE_UNDEFINED, landed)
    if msg_id == LOCAL_POSITION_NED:
        return mav.local_position_ned_encode(t_ms, b.north_m, b.east_m, -b.up_m, b.vn, b.ve, -b.vu)
    if msg_id == SERVO_OUTPUT_RAW:
        pwm = 1000 if not ap.armed else (1100 if ap.landed else 1500)
        return mav.servo_output_raw_encode(int(ap.time_s * 1e6) & 0xFFFFFFFF, 0, pwm, pwm, pwm, pwm, 0, 0, 0, 0)
    if msg_id == RC_CHANNELS:
        ch = [1500, 1500, ap.throttle_pwm, 1500, 1800, 1000, 1000, 1800] + [0] * 10
        return mav.rc_channels_encode(t_ms, 16, *ch, 255)
    if msg_id == POWER_STATUS:
        return mav.power_status_encode(5000, 0, 0)
    if msg_id == MEMINFO:
        return mav.meminfo_encode(65535, 65535)
    if msg_id == WIND:
        wn, we = b.wind_n, b.wind_e
        speed = math.hypot(wn, we)
        # WIND.direction is where the wind comes from.
        direction = (math.degrees(math.atan2(-we, -wn)) % 360.0) if speed > 0 else 0.0
        return mav.wind_encode(direction, speed, 0.0)
    if msg_id == VIBRATION:
        return mav.vibration_encode(int(ap.time_s * 1e6), 0.01, 0.01, 0.01, 0, 0, 0)
    if msg_id == FENCE_STATUS:
        if not ap.fence_enabled:
            return None
        st = ap.fence_state
        # as GCS_MAVLINK::send_fence_status: a boundary (circle, polygon) over max altitude over min
        # altitude; AC_FENCE_TYPE bits ALT_MAX 1, CIRCLE 2, POLYGON 4, ALT_MIN 8
        breach_type = 3 if st.breaches & 6 else 2 if st.breaches & 1 else 1 if st.breaches & 8 else 0
        return mav.fence_status_encode(
            1 if st.breaches else 0, st.breach_count, breach_type, int(st.breach_time_s * 1000)
        )
    if msg_id == TIMESYNC:
        return mav.timesync_encode(0, int(ap.time_s * 1e9))
    if msg_id == AUTOPILOT_VERSION:
        caps = (
            mavlink2.MAV_PROTOCOL_CAPABILITY_MISSION_FLOAT
            | mavlink2.MAV_PROTOCOL_CAPABILITY_PARAM_FLOAT
            | mavlink2.MAV_PROTOCOL_CAPABILITY_MISSION_INT
            | mavlink2.MAV_PROTOCOL_CAPABILITY_COMMAND_INT
            | mavlink2.MAV_PROTOCOL_CAPABILITY_SET_POSITION_TARGET_GLOBAL_INT
            | mavlink2.MAV_PROTOCOL_CAPABILITY_MAVLINK2
            | mavlink2.MAV_PROTOCOL_CAPABILITY_MISSION_FENCE
            | mavlink2.MAV_PROTOCOL_CAPABILITY_MISSION_RALLY
        )
        return mav.autopilot_version_encode(
            caps, FLIGHT_SW_VERSION, 0, 0, 0, [0] * 8, [0] * 8, [0] * 8, 0x1209, 0x5740, 1
        )
    return None
