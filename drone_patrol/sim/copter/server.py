"""Ground-station connections of the simulated vehicle: TCP clients and an optional UDP peer.

Each connection has its own pymavlink ``MAVLink`` object (system 1, component 1)
for parsing and sequence numbers, its own stream rates and an output buffer. A
connection whose packets arrive as MAVLink 1 is answered in MAVLink 1 (as a
SERIALn_PROTOCOL 1 port would be); everyone else gets MAVLink 2.
"""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from drone_patrol.sim.copter.telemetry import Streams

# A reader that falls behind loses telemetry first, as a full UART does on ArduPilot
# (streamed messages wait for payload space and are skipped); replies are kept longer.
STREAM_BACKLOG_BYTES = 16 * 1024
MAX_OUTPUT_BYTES = 4 * 1024 * 1024


@dataclass
class ParseCounters:
    """Input problems seen on all connections."""

    messages: int = 0
    bad_data: int = 0
    unknown: int = 0
    not_for_us: int = 0
    handler_errors: int = 0
    step_errors: int = 0


class Connection:
    """One ground-station link."""

    def __init__(self, conn_id: int, sock: socket.socket | None, peer: Any) -> None:
        self.conn_id = conn_id
        self.sock = sock
        self.peer = peer
        self.mav = mavlink2.MAVLink(None, srcSystem=1, srcComponent=1)
        self.mav.robust_parsing = True
        self.out = bytearray()
        self.texts: list[Any] = []
        self.skipped = 0
        self.streams = Streams()
        self.v1 = False
        self.closed = False
        self.sent_packets = 0

    @property
    def sending_mavlink1(self) -> bool:
        """True when this peer speaks MAVLink 1."""
        return self.v1

    def parse(self, data: bytes, counters: ParseCounters) -> list[Any]:
        """Decode incoming bytes; bad or unknown packets are counted and dropped."""
        try:
            msgs = self.mav.parse_buffer(data) or []
        except Exception:  # pymavlink raises on some malformed frames even in robust mode
            counters.bad_data += 1
            self.mav.buf = bytearray()
            self.mav.buf_index = 0
            return []
        good = []
        for msg in msgs:
            name = msg.get_type()
            if name == "BAD_DATA":
                reason = str(getattr(msg, "reason", ""))
                if "unknown MAVLink message ID" in reason or "unknown message" in reason.lower():
                    counters.unknown += 1
                else:
                    counters.bad_data += 1
                continue
            if name.startswith("UNKNOWN"):
                counters.unknown += 1
                continue
            counters.messages += 1
            buf = msg.get_msgbuf()
            self.v1 = bool(buf) and buf[0] == 0xFE
            good.append(msg)
        return good

    def send(self, msg: Any, stream: bool = False) -> None:
        """Queue one message (messages that do not fit MAVLink 1 are skipped on a v1 link).

        ``stream`` marks telemetry, skipped while the reader is behind.
        """
        if self.closed or msg is None:
            return
        if stream and len(self.out) > STREAM_BACKLOG_BYTES:
            self.skipped += 1
            return
        if self.v1 and msg.get_msgId() > 255:
            return
        try:
            buf = msg.pack(self.mav, force_mavlink1=self.v1)
        except Exception:
            return
        self.mav.seq = (self.mav.seq + 1) % 256
        self.sent_packets += 1
        if self.sock is not None and self.sock.type == socket.SOCK_DGRAM:
            # One datagram per packet, as MAVLink over UDP expects; a full socket drops it.
            with contextlib.suppress(OSError):
                self.sock.sendto(buf, self.peer)
            return
        if len(self.out) + len(buf) > MAX_OUTPUT_BYTES:
            self.skipped += 1  # a reader this far behind loses messages, not the connection
            return
        self.out += buf

    def send_text(self, severity: int, text: str) -> None:
        """STATUSTEXT to this connection only, after the replies being made now."""
        self.texts.append(self.mav.statustext_encode(severity, text.encode("ascii", "replace")[:50]))

    def flush_texts(self) -> None:
        """Queue the texts held by :meth:`send_text`."""
        texts, self.texts = self.texts, []
        for msg in texts:
            self.send(msg)

    def flush(self) -> None:
        """Write as much of the output buffer as the socket takes."""
        if self.closed or not self.out or self.sock is None:
            return
        try:
            n = self.sock.send(self.out)
            del self.out[:n]
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.closed = True

    def close(self) -> None:
        """Close the socket (TCP) and mark the connection dead."""
        self.closed = True
        if self.sock is not None and self.sock.type == socket.SOCK_STREAM:
            with contextlib.suppress(OSError):
                self.sock.close()
