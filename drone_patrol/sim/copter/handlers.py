"""What the simulated vehicle does with each incoming MAVLink message.

COMMAND_LONG and COMMAND_INT share one command table and are answered with
COMMAND_ACK to the sender; a command the simulator does not know gets
MAV_RESULT_UNSUPPORTED. Messages addressed to another system or component are
ignored (counted), as ArduPilot routes them elsewhere.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from drone_patrol.core.types import MavCmd
from drone_patrol.sim.copter import guided
from drone_patrol.sim.copter import missions as m
from drone_patrol.sim.copter import telemetry as tm
from drone_patrol.sim.copter.autopilot import FORCE_ARM_MAGIC
from drone_patrol.sim.copter.modes import CopterMode
from drone_patrol.sim.copter.navigator import RUNNING

if TYPE_CHECKING:
    from drone_patrol.sim.copter.server import Connection
    from drone_patrol.sim.copter.vehicle import SimulatedCopter

ACCEPTED = mavlink2.MAV_RESULT_ACCEPTED
DENIED = mavlink2.MAV_RESULT_DENIED
FAILED = mavlink2.MAV_RESULT_FAILED
UNSUPPORTED = mavlink2.MAV_RESULT_UNSUPPORTED

# Messages a ground station may ask for with SET_MESSAGE_INTERVAL / REQUEST_MESSAGE.
STREAMABLE = frozenset({*tm.STREAM_GROUP, tm.HEARTBEAT, tm.GPS_GLOBAL_ORIGIN, tm.HOME_POSITION, tm.EXTENDED_SYS_STATE})
REQUESTABLE = STREAMABLE | {tm.AUTOPILOT_VERSION}


class Handlers:
    """Message dispatch for one vehicle; called with the vehicle's lock held."""

    def __init__(self, vehicle: SimulatedCopter) -> None:
        self.v = vehicle
        self.ap = vehicle.ap
        self._deferred: list[int] = []
        self._table: dict[str, Callable[[Connection, Any], None]] = {
            "HEARTBEAT": self.heartbeat,
            "COMMAND_LONG": self.command_long,
            "COMMAND_INT": self.command_int,
            "SET_MODE": self.set_mode,
            "PARAM_REQUEST_LIST": self.param_request_list,
            "PARAM_REQUEST_READ": self.param_request_read,
            "PARAM_SET": self.param_set,
            "MISSION_COUNT": self.mission_count,
            "MISSION_ITEM_INT": self.mission_item_int,
            "MISSION_ITEM": self.mission_item,
            "MISSION_REQUEST_LIST": self.mission_request_list,
            "MISSION_REQUEST_INT": self.mission_request_int,
            "MISSION_REQUEST": self.mission_request,
            "MISSION_CLEAR_ALL": self.mission_clear_all,
            "MISSION_SET_CURRENT": self.mission_set_current,
            "REQUEST_DATA_STREAM": self.request_data_stream,
            "SET_POSITION_TARGET_GLOBAL_INT": self.set_position_target_global_int,
            "RC_CHANNELS_OVERRIDE": self.rc_override,
            "TIMESYNC": self.timesync,
        }

    def dispatch(self, conn: Connection, msg: Any) -> bool:
        """Handle one message; False when it was addressed to someone else."""
        target_sys = getattr(msg, "target_system", 0)
        target_comp = getattr(msg, "target_component", 0)
        if target_sys not in (0, 1) or target_comp not in (0, 1):
            return False
        handler = self._table.get(msg.get_type())
        if handler is not None:
            handler(conn, msg)
        return True

    # -------------------------------------------------------------- basics
    def heartbeat(self, conn: Connection, msg: Any) -> None:
        if msg.get_srcSystem() == int(self.ap.params.get("SYSID_MYGCS")):
            self.ap.failsafes.gcs_heartbeat(self.ap.time_s)

    def timesync(self, conn: Connection, msg: Any) -> None:
        if msg.tc1 == 0:
            conn.send(conn.mav.timesync_encode(int(self.ap.time_s * 1e9), msg.ts1))

    def rc_override(self, conn: Connection, msg: Any) -> None:
        if msg.get_srcSystem() != int(self.ap.params.get("SYSID_MYGCS")):
            return
        if 800 <= msg.chan3_raw <= 2200:
            self.ap.throttle_pwm = msg.chan3_raw

    def request_data_stream(self, conn: Connection, msg: Any) -> None:
        groups = list(tm.DATA_STREAMS.values()) if msg.req_stream_id == 0 else [tm.DATA_STREAMS.get(msg.req_stream_id)]
        for group in groups:
            if group is not None:
                conn.streams.group_hz[group] = float(msg.req_message_rate) if msg.start_stop else 0.0
                for msg_id, g in tm.STREAM_GROUP.items():
                    if g == group:
                        conn.streams.custom.pop(msg_id, None)

    def set_position_target_global_int(self, conn: Connection, msg: Any) -> None:
        guided.set_position_target(self.ap, msg, self._local)  # GUIDED only, no answer (guided.py)

    def set_mode(self, conn: Connection, msg: Any) -> None:
        ok = bool(msg.base_mode & mavlink2.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED) and self.ap.set_mode(msg.custom_mode)
        conn.send(conn.mav.command_ack_encode(mavlink2.MAVLINK_MSG_ID_SET_MODE, ACCEPTED if ok else FAILED))

    # -------------------------------------------------------------- params
    def _param_value(self, conn: Connection | None, name: str) -> None:
        store = self.ap.params
        encode = (conn or self.v).mav.param_value_encode
        msg = encode(name.encode(), store.get(name), store.param_type(name), len(store), store.index_of(name))
        if conn is None:
            self.v.broadcast(msg)
        else:
            conn.send(msg)

    def param_request_list(self, conn: Connection, msg: Any) -> None:
        for name in self.ap.params:
            self._param_value(conn, name)

    def param_request_read(self, conn: Connection, msg: Any) -> None:
        store = self.ap.params
        name = store.name_at(msg.param_index) if msg.param_index >= 0 else _param_name(msg.param_id)
        if name is not None and name in store:
            self._param_value(conn, name)

    def param_set(self, conn: Connection, msg: Any) -> None:
        name = _param_name(msg.param_id)
        store = self.ap.params
        value = float(msg.param_value)
        if name not in store or math.isnan(value) or math.isinf(value):
            return  # ArduPilot ignores these (no PARAM_VALUE comes back)
        if not store.set(name, value):
            self.v._say(mavlink2.MAV_SEVERITY_WARNING, f"Param write denied ({name})")
        self._param_value(None, name)

    # ------------------------------------------------------------- mission
    def _protocol(self, conn: Connection, msg: Any) -> Any:
        mission_type = getattr(msg, "mission_type", 0)
        prot = self.v.protocols.get(mission_type)
        if prot is None:
            conn.send(
                conn.mav.mission_ack_encode(msg.get_srcSystem(), msg.get_srcComponent(), m.UNSUPPORTED, mission_type)
            )
        return prot

    def mission_count(self, conn: Connection, msg: Any) -> None:
        prot = self._protocol(conn, msg)
        if prot is not None:
            prot.handle_count(conn, msg)

    def _item(self, conn: Connection, msg: Any, item: m.Item, legacy: bool) -> None:
        if getattr(msg, "mission_type", 0) == m.MISSION and msg.current in (2, 3):
            self._guided_item(conn, msg, item)
            return
        prot = self._protocol(conn, msg)
        if prot is not None:
            prot.handle_item(conn, msg, item, msg.seq, legacy)

    def mission_item_int(self, conn: Connection, msg: Any) -> None:
        item = m.Item(
            msg.command,
            msg.frame,
            msg.param1,
            msg.param2,
            msg.param3,
            msg.param4,
            msg.x,
            msg.y,
            msg.z,
            msg.autocontinue,
        )
        self._item(conn, msg, item, legacy=False)

    def mission_item(self, conn: Connection, msg: Any) -> None:
        frame = msg.frame
        # AP_Mission::convert_MISSION_ITEM_to_MISSION_ITEM_INT: degrees become degE7.
        x, y = round(msg.x * 1e7), round(msg.y * 1e7)
        item = m.Item(msg.command, frame, msg.param1, msg.param2, msg.param3, msg.param4, x, y, msg.z, msg.autocontinue)
        self._item(conn, msg, item, legacy=True)

    def _guided_item(self, conn: Connection, msg: Any, item: m.Item) -> None:
        # current = 2: a GUIDED "fly to here" (Mission Planner style); 3: altitude change only.
        ap = self.ap
        up = item.z - ap.home.altitude_m if item.frame in (0, 5) else item.z
        if msg.current == 3:
            b = ap.body
            ok = ap.guided_goto(b.north_m, b.east_m, up)
        else:
            n, e = ap.frame.to_ne(item.latitude_deg, item.longitude_deg)
            ok = ap.guided_goto(n, e, up)
        conn.send(
            conn.mav.mission_ack_encode(msg.get_srcSystem(), msg.get_srcComponent(), m.ACCEPTED if ok else m.ERROR, 0)
        )

    def mission_request_list(self, conn: Connection, msg: Any) -> None:
        prot = self._protocol(conn, msg)
        if prot is not None:
            prot.handle_request_list(conn, msg)

    def mission_request_int(self, conn: Connection, msg: Any) -> None:
        prot = self._protocol(conn, msg)
        if prot is not None:
            prot.handle_request(conn, msg, msg.seq, legacy=False)

    def mission_request(self, conn: Connection, msg: Any) -> None:
        prot = self._protocol(conn, msg)
        if prot is not None:
            prot.handle_request(conn, msg, msg.seq, legacy=True)

    def mission_clear_all(self, conn: Connection, msg: Any) -> None:
        prot = self._protocol(conn, msg)
        if prot is not None:
            prot.handle_clear_all(conn, msg)

    def mission_set_current(self, conn: Connection, msg: Any) -> None:
        self.ap.mission.set_current(self.ap, msg.seq)
        self.v.broadcast(tm.build(conn.mav, tm.MISSION_CURRENT, self.ap, self.v.boot_unix_s))

    # ------------------------------------------------------------ commands
    def command_long(self, conn: Connection, msg: Any) -> None:
        p = (msg.param1, msg.param2, msg.param3, msg.param4, msg.param5, msg.param6, msg.param7)
        self._command(conn, msg, msg.command, p, mavlink2.MAV_FRAME_GLOBAL_RELATIVE_ALT, False)

    def command_int(self, conn: Connection, msg: Any) -> None:
        p = (msg.param1, msg.param2, msg.param3, msg.param4, msg.x / 1e7, msg.y / 1e7, msg.z)
        self._command(conn, msg, msg.command, p, msg.frame, True)

    def _command(self, conn: Connection, msg: Any, command: int, p: tuple, frame: int, is_int: bool) -> None:  # type: ignore[type-arg]
        self._deferred = []
        try:
            result = self._run_command(conn, command, p, frame, is_int)
        except (ValueError, OverflowError):
            result = FAILED
        conn.send(conn.mav.command_ack_encode(command, result, 0, 0, msg.get_srcSystem(), msg.get_srcComponent()))
        # Requested messages go out after the ACK, as ArduPilot queues them.
        for msg_id in self._deferred:
            self.v.send_requested(conn, msg_id)

    def _local(self, lat: float, lon: float, alt: float, frame: int) -> tuple[float, float, float]:
        ap = self.ap
        n, e = ap.frame.to_ne(lat, lon) if (lat or lon) else (ap.body.north_m, ap.body.east_m)
        up = alt - ap.home.altitude_m if frame in (0, 5) else alt
        return n, e, up

    def _run_command(self, conn: Connection, command: int, p: tuple, frame: int, is_int: bool) -> int:  # type: ignore[type-arg]
        ap = self.ap
        if command == MavCmd.COMPONENT_ARM_DISARM:
            force = int(p[1]) == FORCE_ARM_MAGIC
            if p[0] == 1:
                return ACCEPTED if ap.arm(force) else FAILED
            if p[0] == 0:
                return ACCEPTED if ap.disarm(force=force, from_gcs=True) else FAILED
            return UNSUPPORTED
        if command == MavCmd.DO_SET_MODE:
            if not int(p[0]) & mavlink2.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED:
                return UNSUPPORTED
            return ACCEPTED if ap.set_mode(int(p[1])) else FAILED
        if command == MavCmd.NAV_TAKEOFF:
            if is_int and frame != mavlink2.MAV_FRAME_GLOBAL_RELATIVE_ALT:
                return DENIED
            return ACCEPTED if ap.user_takeoff(float(p[6])) else FAILED
        if command == MavCmd.NAV_LOITER_UNLIM:
            return ACCEPTED if ap.set_mode(CopterMode.LOITER) else FAILED
        if command == 193:  # DO_PAUSE_CONTINUE: 0 pause, 1 continue
            if int(p[0]) not in (0, 1):
                return DENIED
            if ap.pause(int(p[0]) == 0):
                return ACCEPTED
            conn.send_text(mavlink2.MAV_SEVERITY_INFO, "Failed to pause" if int(p[0]) == 0 else "Failed to resume")
            return FAILED
        if command == MavCmd.MISSION_START:
            if p[0] != 0 or p[1] != 0:
                return DENIED
            if not ap.set_mode(CopterMode.AUTO):
                return FAILED
            ap.auto_armed = True
            if ap.mission.state != RUNNING:
                ap.mission.start(ap, restart=ap.params.get("MIS_RESTART") >= 1)
            return ACCEPTED
        if command == MavCmd.DO_SET_MISSION_CURRENT:
            seq = int(p[0])
            if not 0 <= seq < ap.store.count(0):
                return DENIED
            if not ap.mission.set_current(ap, seq):
                return FAILED
            if int(p[1]) == 1:
                ap.mission.jumps.clear()
            self.v.broadcast(tm.build(conn.mav, tm.MISSION_CURRENT, ap, self.v.boot_unix_s))
            return ACCEPTED
        if command == MavCmd.DO_CHANGE_SPEED:
            return ACCEPTED if ap.change_speed(int(p[0]), float(p[1])) else FAILED
        if command in (MavCmd.DO_SET_ROI_LOCATION, 201):
            if p[4] == 0 and p[5] == 0:
                ap.roi = None
            else:
                ap.roi = self._local(p[4], p[5], p[6], frame)
            return ACCEPTED
        if command == 115:  # CONDITION_YAW: angle, rate (unused), direction, relative
            if not 0.0 <= p[0] <= 360.0 or p[3] not in (0.0, 1.0):
                return FAILED
            base = ap.body.yaw_deg if p[3] == 1.0 else 0.0
            sign = -1.0 if p[2] < 0 and p[3] == 1.0 else 1.0
            ap.fixed_yaw_deg = (base + sign * p[0]) % 360.0
            ap.roi = None
            return ACCEPTED
        if command == MavCmd.DO_SET_ROI_NONE:
            ap.roi = None
            return ACCEPTED
        if command == MavCmd.NAV_RETURN_TO_LAUNCH:
            return ACCEPTED if ap.set_mode(CopterMode.RTL) else FAILED
        if command == MavCmd.NAV_LAND:
            return ACCEPTED if ap.set_mode(CopterMode.LAND) else FAILED
        if command == 192:  # DO_REPOSITION (param2 bit 0: change to GUIDED; without it only in GUIDED)
            if ap.mode != CopterMode.GUIDED and not int(p[1]) & 1:
                return DENIED
            if ap.mode != CopterMode.GUIDED and not ap.set_mode(CopterMode.GUIDED):
                return FAILED
            n, e, up = self._local(p[4], p[5], p[6] if p[6] == p[6] else ap.body.up_m, frame)
            return ACCEPTED if ap.guided_goto(n, e, up) else FAILED
        if command == MavCmd.DO_FENCE_ENABLE:
            ap.fence_enable(int(p[0]))
            return ACCEPTED
        if command == MavCmd.SET_MESSAGE_INTERVAL:
            msg_id, interval = int(p[0]), int(p[1])
            if p[2] != 0 or msg_id not in STREAMABLE or interval < -1:
                if msg_id not in STREAMABLE:
                    conn.send_text(mavlink2.MAV_SEVERITY_INFO, f"No ap_message for mavlink id ({msg_id})")
                return DENIED
            conn.streams.set_interval(msg_id, interval)
            return ACCEPTED
        if command == MavCmd.REQUEST_MESSAGE:
            msg_id = int(p[0])
            if msg_id not in REQUESTABLE:
                return FAILED
            self._deferred.append(msg_id)
            return ACCEPTED
        if command == 520:  # REQUEST_AUTOPILOT_CAPABILITIES
            self._deferred.append(tm.AUTOPILOT_VERSION)
            return ACCEPTED
        return UNSUPPORTED


def _param_name(raw: Any) -> str:
    if isinstance(raw, bytes):
        raw = raw.decode("ascii", "replace")
    return str(raw).split("\x00", 1)[0].strip().upper()
