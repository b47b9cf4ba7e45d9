"""Telemetry: one :class:`VehicleState` snapshot kept up to date from the vehicle's streams.

The reader thread feeds messages in; :meth:`Telemetry.state` returns the latest
immutable snapshot; subscribers hear of every change, and state transitions
(mode, arming, landing, GPS, fence, waypoints, STATUSTEXT) become :class:`VehicleEvent` values.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from drone_patrol.controller.events import CRITICAL, INFO, WARNING, EventBus, VehicleEvent, mode_name
from drone_patrol.controller.link import MavLink, Message, mavlink
from drone_patrol.core.types import GeoPoint, VehicleState

log = logging.getLogger(__name__)

StateCallback = Callable[[VehicleState], None]

#: messages whose rate the controller sets explicitly (id -> rate multiplier of telemetry_hz)
STREAMED_MESSAGES: dict[int, float] = {
    mavlink.MAVLINK_MSG_ID_SYS_STATUS: 1.0,
    mavlink.MAVLINK_MSG_ID_GPS_RAW_INT: 1.0,
    mavlink.MAVLINK_MSG_ID_ATTITUDE: 1.0,
    mavlink.MAVLINK_MSG_ID_GLOBAL_POSITION_INT: 1.0,
    mavlink.MAVLINK_MSG_ID_MISSION_CURRENT: 1.0,
    mavlink.MAVLINK_MSG_ID_VFR_HUD: 1.0,
    mavlink.MAVLINK_MSG_ID_EXTENDED_SYS_STATE: 1.0,
    mavlink.MAVLINK_MSG_ID_EKF_STATUS_REPORT: 0.5,
    mavlink.MAVLINK_MSG_ID_BATTERY_STATUS: 0.5,
    mavlink.MAVLINK_MSG_ID_FENCE_STATUS: 0.5,
    mavlink.MAVLINK_MSG_ID_HOME_POSITION: 0.1,
}

# EKF_STATUS_FLAGS an EKF needs for position control (as ArduPilot's ekf_position_ok)
_EKF_NEEDED = mavlink.EKF_ATTITUDE | mavlink.EKF_VELOCITY_HORIZ | mavlink.EKF_POS_HORIZ_ABS | mavlink.EKF_POS_VERT_ABS
_EKF_BAD = mavlink.EKF_CONST_POS_MODE | mavlink.EKF_UNINITIALIZED
_SEVERITY = {0: CRITICAL, 1: CRITICAL, 2: CRITICAL, 3: CRITICAL, 4: WARNING}


@dataclass(frozen=True, slots=True)
class StatusText:
    """One STATUSTEXT as received."""

    time_s: float
    severity: int
    text: str


#: FENCE_BREACH in words (MAVLink common.xml)
_BREACH_WORDS = {1: "minimum altitude", 2: "maximum altitude", 3: "boundary"}


class Telemetry:
    """Assembles :class:`VehicleState` from the link and emits state-change events."""

    def __init__(self, link: MavLink, events: EventBus) -> None:
        self.link = link
        self.events = events
        self._lock = threading.Condition()
        self._state = VehicleState()
        self._subscribers: list[StateCallback] = []
        self._statustexts: deque[StatusText] = deque(maxlen=200)
        self._have_ekf_report = False
        self._have_landed_state = False
        self._fence_breached = False
        self._last_reached = -1
        self._pending_events: list[VehicleEvent] = []
        self._handlers: dict[str, Callable[[Message, VehicleState], VehicleState]] = {
            "HEARTBEAT": self._on_heartbeat,
            "GLOBAL_POSITION_INT": self._on_global_position,
            "ATTITUDE": self._on_attitude,
            "VFR_HUD": self._on_vfr_hud,
            "SYS_STATUS": self._on_sys_status,
            "BATTERY_STATUS": self._on_battery_status,
            "GPS_RAW_INT": self._on_gps,
            "EKF_STATUS_REPORT": self._on_ekf,
            "EXTENDED_SYS_STATE": self._on_extended_sys_state,
            "MISSION_CURRENT": self._on_mission_current,
            "MISSION_ITEM_REACHED": self._on_item_reached,
            "HOME_POSITION": self._on_home,
            "FENCE_STATUS": self._on_fence_status,
        }
        self._unsubscribe = [link.subscribe(name, self._dispatch) for name in self._handlers]
        self._unsubscribe.append(link.subscribe("STATUSTEXT", self._on_statustext))

    # -- public ----------------------------------------------------------------

    @property
    def state(self) -> VehicleState:
        """The latest snapshot."""
        with self._lock:
            return self._state

    def subscribe(self, callback: StateCallback) -> Callable[[], None]:
        """Call ``callback(state)`` on every change (in the reader thread; keep it short)."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def wait_for(self, predicate: Callable[[VehicleState], bool], timeout_s: float) -> VehicleState | None:
        """Block until ``predicate(state)`` holds; the state, or ``None`` after ``timeout_s`` (wall clock)."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while not predicate(self._state):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._lock.wait(min(remaining, 0.25))
            return self._state

    def reset_mission_progress(self) -> None:
        """Forget the items reached so far (a new mission was uploaded): ``mission_reached_seq`` -1."""
        with self._lock:
            self._last_reached = -1
            self._state = replace(self._state, mission_reached_seq=-1)

    def statustexts_since(self, time_s: float) -> list[StatusText]:
        """STATUSTEXT messages received at or after UNIX time ``time_s``."""
        with self._lock:
            return [s for s in self._statustexts if s.time_s >= time_s]

    def request_streams(self, send_interval: Callable[[int, float], None], rate_hz: float) -> None:
        """Ask for every streamed message at ``rate_hz`` (vehicle clock) through ``send_interval(id, us)``."""
        for msg_id, factor in STREAMED_MESSAGES.items():
            send_interval(msg_id, 1e6 / (rate_hz * factor))

    def close(self) -> None:
        """Stop listening to the link."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()

    # -- dispatch --------------------------------------------------------------

    def _dispatch(self, msg: Message) -> None:
        handler = self._handlers[msg.get_type()]
        events: list[VehicleEvent] = []
        with self._lock:
            old = self._state
            self._pending_events = events
            new = handler(msg, old)
            if new is not old:
                new = replace(new, time_s=time.time())
                self._state = new
                self._lock.notify_all()
            subscribers = list(self._subscribers) if new is not old else []
        for callback in subscribers:
            try:
                callback(new)
            except Exception:
                log.exception("state subscriber failed")
        for event in events:
            self.events.emit(event)

    def _event(self, kind: str, severity: str, message: str, **data: Any) -> None:
        self._pending_events.append(VehicleEvent.now(kind, severity, message, **data))

    # -- handlers (called under the lock; return the new state) ------------------

    def _on_heartbeat(self, msg: Message, s: VehicleState) -> VehicleState:
        if msg.get_srcComponent() != self.link.target_component:
            return s
        armed = bool(msg.base_mode & mavlink.MAV_MODE_FLAG_SAFETY_ARMED)
        mode = mode_name(int(msg.custom_mode))
        if mode != s.mode and s.mode != "UNKNOWN":
            self._event("mode_changed", INFO, f"mode {s.mode} -> {mode}", old=s.mode, mode=mode)
        if armed != s.armed and s.mode != "UNKNOWN":
            self._event("armed" if armed else "disarmed", INFO, "armed" if armed else "disarmed")
        landed = s.landed
        if not armed:
            # a disarmed copter is on the ground; this also settles a landing that happened
            # while the link was down, before EXTENDED_SYS_STATE says so
            if not landed and s.mode != "UNKNOWN":
                self._landing_events(False, True)
            landed = True
        new = replace(s, armed=armed, mode=mode, system_status=int(msg.system_status), landed=landed)
        return new if new != s else s

    def _on_global_position(self, msg: Message, s: VehicleState) -> VehicleState:
        heading = s.heading_deg if msg.hdg == 65535 else msg.hdg / 100.0
        rel = msg.relative_alt / 1000.0
        new = replace(
            s,
            position=GeoPoint(msg.lat / 1e7, msg.lon / 1e7, msg.alt / 1000.0),
            vehicle_time_s=msg.time_boot_ms / 1000.0,
            relative_altitude_m=rel,
            velocity_north_m_s=msg.vx / 100.0,
            velocity_east_m_s=msg.vy / 100.0,
            velocity_down_m_s=msg.vz / 100.0,
            heading_deg=heading,
        )
        if not self._have_landed_state and s.armed:
            speed = math.hypot(msg.vx, msg.vy) / 100.0
            new = replace(new, landed=rel < 0.5 and abs(msg.vz) < 30 and speed < 0.5)
            self._landing_events(s.landed, new.landed)
        return new

    def _on_attitude(self, msg: Message, s: VehicleState) -> VehicleState:
        return replace(
            s, roll_deg=math.degrees(msg.roll), pitch_deg=math.degrees(msg.pitch), yaw_deg=math.degrees(msg.yaw)
        )

    def _on_vfr_hud(self, msg: Message, s: VehicleState) -> VehicleState:
        return replace(s, ground_speed_m_s=float(msg.groundspeed), climb_rate_m_s=float(msg.climb))

    def _on_sys_status(self, msg: Message, s: VehicleState) -> VehicleState:
        percent = None if msg.battery_remaining < 0 else float(msg.battery_remaining)
        voltage = None if msg.voltage_battery in (0, 65535) else msg.voltage_battery / 1000.0
        current = None if msg.current_battery < 0 else msg.current_battery / 100.0
        new = replace(s, battery_percent=percent, battery_voltage_v=voltage, battery_current_a=current)
        if not self._have_ekf_report:
            ahrs = mavlink.MAV_SYS_STATUS_AHRS
            healthy = bool(msg.onboard_control_sensors_health & ahrs) or not (
                msg.onboard_control_sensors_present & ahrs
            )
            new = replace(new, ekf_ok=healthy and s.gps_fix_type >= 3)
        return new if new != s else s

    def _on_battery_status(self, msg: Message, s: VehicleState) -> VehicleState:
        if msg.id != 0 or msg.battery_remaining < 0:
            return s
        consumed = None if msg.current_consumed < 0 else float(msg.current_consumed)
        return replace(s, battery_percent=float(msg.battery_remaining), battery_consumed_mah=consumed)

    def _on_gps(self, msg: Message, s: VehicleState) -> VehicleState:
        sats = 0 if msg.satellites_visible == 255 else int(msg.satellites_visible)
        fix = int(msg.fix_type)
        if s.gps_fix_type >= 3 > fix:
            self._event("gps_lost", CRITICAL, f"GPS fix lost (fix type {fix}, {sats} satellites)", fix_type=fix)
        elif fix >= 3 > s.gps_fix_type and s.time_s > 0:
            self._event("gps_restored", INFO, f"GPS fix {fix} with {sats} satellites", fix_type=fix)
        new = replace(s, gps_fix_type=fix, satellites_visible=sats)
        return new if new != s else s

    def _on_ekf(self, msg: Message, s: VehicleState) -> VehicleState:
        self._have_ekf_report = True
        flags = int(msg.flags)
        ok = (flags & _EKF_NEEDED) == _EKF_NEEDED and not flags & _EKF_BAD
        return s if ok == s.ekf_ok else replace(s, ekf_ok=ok)

    def _on_extended_sys_state(self, msg: Message, s: VehicleState) -> VehicleState:
        state = int(msg.landed_state)
        if state == mavlink.MAV_LANDED_STATE_UNDEFINED:
            return s
        self._have_landed_state = True
        landed = state == mavlink.MAV_LANDED_STATE_ON_GROUND
        self._landing_events(s.landed, landed)
        return s if landed == s.landed else replace(s, landed=landed)

    def _landing_events(self, was_landed: bool, landed: bool) -> None:
        if was_landed and not landed:
            self._event("took_off", INFO, "took off")
        elif landed and not was_landed:
            self._event("landed", INFO, "landed")

    def _on_mission_current(self, msg: Message, s: VehicleState) -> VehicleState:
        seq = int(msg.seq)
        return s if seq == s.mission_current_seq else replace(s, mission_current_seq=seq)

    def _on_item_reached(self, msg: Message, s: VehicleState) -> VehicleState:
        seq = int(msg.seq)
        if seq == self._last_reached:
            return s  # a repeated report of the same item
        self._last_reached = seq
        self._event("waypoint_reached", INFO, f"reached mission item {seq}", seq=seq)
        return replace(s, mission_reached_seq=seq)

    def _on_home(self, msg: Message, s: VehicleState) -> VehicleState:
        home = GeoPoint(msg.latitude / 1e7, msg.longitude / 1e7, msg.altitude / 1000.0)
        return s if home == s.home else replace(s, home=home)

    def _on_fence_status(self, msg: Message, s: VehicleState) -> VehicleState:
        breached = bool(msg.breach_status)
        if breached and not self._fence_breached:
            self._event(
                "fence_breach",
                CRITICAL,
                f"geofence breached ({_BREACH_WORDS.get(int(msg.breach_type), f'type {int(msg.breach_type)}')},"
                f" {int(msg.breach_count)} breaches)",
                breach_type=int(msg.breach_type),
            )
        self._fence_breached = breached
        return s

    def _on_statustext(self, msg: Message) -> None:
        text = msg.text if isinstance(msg.text, str) else bytes(msg.text).decode("utf-8", "replace")
        text = text.rstrip("\x00").strip()
        severity = int(msg.severity)
        with self._lock:
            self._statustexts.append(StatusText(time.time(), severity, text))
        self.events.emit(VehicleEvent.now("statustext", _SEVERITY.get(severity, INFO), text, mav_severity=severity))

    @property
    def fence_breached(self) -> bool:
        """True while the vehicle reports a geofence breach."""
        return self._fence_breached
