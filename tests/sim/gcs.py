"""A minimal ground station over plain pymavlink, used by the simulator's conformance tests.

Kept deliberately independent of drone_patrol.controller: these tests check the
simulator against the MAVLink protocol (and can be pointed at ArduPilot SITL).
"""

from __future__ import annotations

import select
import socket
import time
from dataclasses import dataclass
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink2


@dataclass
class UploadResult:
    ack: int | None
    requests: list[tuple[str, int]]


class TcpLink:
    """A TCP socket with a pymavlink MAVLink 2 codec (what mavutil does, without its global dialect)."""

    def __init__(self, connection_string: str, sysid: int, compid: int) -> None:
        _, host, port = connection_string.split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=5.0)
        self.sock.setblocking(False)
        self.mav = mavlink2.MAVLink(self, srcSystem=sysid, srcComponent=compid)
        self.mav.robust_parsing = True
        self.pending: list[Any] = []

    def write(self, data: bytes) -> None:
        self.sock.setblocking(True)
        try:
            self.sock.sendall(data)
        finally:
            self.sock.setblocking(False)

    def recv_match(self, blocking: bool = True, timeout: float = 0.2) -> Any:
        if self.pending:
            return self.pending.pop(0)
        ready, _, _ = select.select([self.sock], [], [], timeout)
        if not ready:
            return None
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return None
        if not data:
            raise ConnectionError("vehicle closed the connection")
        self.pending.extend(self.mav.parse_buffer(data) or [])
        return self.pending.pop(0) if self.pending else None

    def close(self) -> None:
        self.sock.close()


class Gcs:
    """One pymavlink connection with helpers that record what came back."""

    def __init__(self, connection_string: str, sysid: int = 255, compid: int = 190, mavlink1: bool = False) -> None:
        self.conn = TcpLink(connection_string, sysid, compid)
        self._force_v1 = mavlink1
        self.mav = self.conn.mav
        self.texts: list[str] = []
        # What the vehicle said, with the last position report before it in the stream
        # (its own clock and altitude at that moment, whatever the test thread's delays).
        self.text_log: list[tuple[str, Any]] = []
        self.last: dict[str, Any] = {}
        self.max_relative_alt_m = 0.0

    def close(self) -> None:
        self.conn.close()

    def send(self, msg: Any) -> None:
        self.conn.mav.send(msg, force_mavlink1=self._force_v1)

    def recv(self, types: list[str] | str | None = None, timeout: float = 3.0, cond: Any = None) -> Any:
        """Next message of ``types`` (recording STATUSTEXTs on the way), or None on timeout."""
        if isinstance(types, str):
            types = [types]
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            msg = self.conn.recv_match(blocking=True, timeout=min(left, 0.2))
            if msg is None:
                continue
            name = msg.get_type()
            self.last[name] = msg
            if name == "STATUSTEXT":
                self.texts.append(msg.text)
                self.text_log.append((msg.text, self.last.get("GLOBAL_POSITION_INT")))
            elif name == "GLOBAL_POSITION_INT":
                self.max_relative_alt_m = max(self.max_relative_alt_m, msg.relative_alt / 1000.0)
            if name == "BAD_DATA":
                continue
            if (types is None or name in types) and (cond is None or cond(msg)):
                return msg

    def wait_text(self, fragment: str, timeout: float = 5.0) -> str | None:
        """Wait for a STATUSTEXT containing ``fragment`` (also looks at texts already seen)."""
        for t in self.texts:
            if fragment in t:
                return t
        msg = self.recv("STATUSTEXT", timeout, cond=lambda m: fragment in m.text)
        return None if msg is None else msg.text

    def request_streams(self, rate_hz: int = 4) -> None:
        """REQUEST_DATA_STREAM for all groups, as MAVProxy does on connect."""
        self.send(self.mav.request_data_stream_encode(1, 1, mavlink2.MAV_DATA_STREAM_ALL, rate_hz, 1))

    def context_of(self, fragment: str) -> Any:
        """The GLOBAL_POSITION_INT last received before the first text containing ``fragment``."""
        for text, gpi in self.text_log:
            if fragment in text:
                return gpi
        return None

    def heartbeat(self) -> None:
        self.send(self.mav.heartbeat_encode(mavlink2.MAV_TYPE_GCS, mavlink2.MAV_AUTOPILOT_INVALID, 0, 0, 0))

    def command(self, command: int, *params: float, timeout: float = 3.0) -> int | None:
        """COMMAND_LONG and the result of its COMMAND_ACK (None: no ACK)."""
        p = [float(x) for x in params] + [0.0] * (7 - len(params))
        self.send(self.mav.command_long_encode(1, 1, command, 0, *p))
        ack = self.recv("COMMAND_ACK", timeout, cond=lambda m: m.command == command)
        return None if ack is None else ack.result

    def set_mode(self, mode: int) -> int | None:
        return self.command(mavlink2.MAV_CMD_DO_SET_MODE, 1, mode)

    def set_param(self, name: str, value: float, timeout: float = 3.0) -> Any:
        self.send(self.mav.param_set_encode(1, 1, name.encode(), value, mavlink2.MAV_PARAM_TYPE_REAL32))
        return self.recv("PARAM_VALUE", timeout, cond=lambda m: m.param_id == name)

    def upload(
        self,
        items: list[tuple],  # type: ignore[type-arg]
        mission_type: int = 0,
        legacy: bool = False,
        timeout: float = 10.0,
        reply_timeout: float = 2.0,
    ) -> UploadResult:
        """Upload (command, frame, p1..p4, lat, lon, alt) tuples; answers whatever seq is asked."""
        requests: list[tuple[str, int]] = []
        self.send(self.mav.mission_count_encode(1, 1, len(items), mission_type))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self.recv(["MISSION_REQUEST", "MISSION_REQUEST_INT", "MISSION_ACK"], timeout=reply_timeout)
            if msg is None:
                return UploadResult(None, requests)
            if msg.get_type() == "MISSION_ACK":
                # INVALID_SEQUENCE answers a duplicate (after a re-request): the upload goes on.
                if msg.mission_type == mission_type and msg.type != mavlink2.MAV_MISSION_INVALID_SEQUENCE:
                    return UploadResult(msg.type, requests)
                continue
            requests.append((msg.get_type(), msg.seq))
            self.send_item(items, msg.seq, mission_type, legacy)
        return UploadResult(None, requests)

    def send_item(self, items: list[tuple], seq: int, mission_type: int = 0, legacy: bool = False) -> None:  # type: ignore[type-arg]
        cmd, frame, p1, p2, p3, p4, lat, lon, alt = items[seq]
        if legacy:
            self.send(
                self.mav.mission_item_encode(1, 1, seq, frame, cmd, 0, 1, p1, p2, p3, p4, lat, lon, alt, mission_type)
            )
        else:
            self.send(
                self.mav.mission_item_int_encode(
                    1, 1, seq, frame, cmd, 0, 1, p1, p2, p3, p4, round(lat * 1e7), round(lon * 1e7), alt, mission_type
                )
            )

    def goto(self, lat: float, lon: float, relative_alt_m: float) -> None:
        """SET_POSITION_TARGET_GLOBAL_INT with only the position (GUIDED)."""
        mask = 0b110111111000
        frame = mavlink2.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT
        lat_i, lon_i = round(lat * 1e7), round(lon * 1e7)
        self.send(
            self.mav.set_position_target_global_int_encode(
                0, 1, 1, frame, mask, lat_i, lon_i, relative_alt_m, 0, 0, 0, 0, 0, 0, 0, 0
            )
        )

    def download(self, mission_type: int = 0, timeout: float = 10.0) -> list[Any] | None:
        """MISSION_REQUEST_LIST then MISSION_REQUEST_INT for each item, then ACK."""
        self.send(self.mav.mission_request_list_encode(1, 1, mission_type))
        count = self.recv("MISSION_COUNT", 3.0, cond=lambda m: m.mission_type == mission_type)
        if count is None:
            return None
        out = []
        for seq in range(count.count):
            for _attempt in range(5):
                self.send(self.mav.mission_request_int_encode(1, 1, seq, mission_type))
                item = self.recv("MISSION_ITEM_INT", 1.0, cond=lambda m, s=seq: m.seq == s)
                if item is not None:
                    out.append(item)
                    break
            else:
                return None
        self.send(self.mav.mission_ack_encode(1, 1, mavlink2.MAV_MISSION_ACCEPTED, mission_type))
        return out


def waypoints(home_lat: float, home_lon: float, n: int, alt: float = 20.0) -> list[tuple]:  # type: ignore[type-arg]
    """Home placeholder, a takeoff, then ``n - 1`` waypoints on a small grid (``n`` items after home)."""
    items: list[tuple] = [(16, 0, 0, 0, 0, 0, home_lat, home_lon, 0.0)]  # type: ignore[type-arg]
    items.append((22, 3, 0, 0, 0, 0, 0.0, 0.0, alt))
    for i in range(n - 1):
        items.append((16, 6, 0, 0, 0, 0, home_lat + 0.0001 * (i % 10), home_lon + 0.0001 * (i // 10), alt))
    return items
