"""The MAVLink link: one connection, one reader thread, dispatch by message type.

:class:`MavLink` owns a pymavlink connection opened from a MAVProxy-style connection
string (``tcp:HOST:PORT``, ``udpin:HOST:PORT``, ``udpout:HOST:PORT``,
``/dev/ttyACM0,57600``). A single reader thread receives every message and hands it
to the subscribers of its type, so no two callers ever compete for ``recv_match``.
A second thread sends the controller's own GCS HEARTBEAT (ArduPilot's GCS failsafe
counts only those from ``SYSID_MYGCS``), watches the vehicle's heartbeat age and
reopens a dropped TCP connection. Everything is MAVLink 2; outgoing messages are
signed when a signing key is configured.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

from drone_patrol.controller.connection import ConnectionSpec, parse_connection, signing_key_from_secret
from drone_patrol.core.errors import LinkError

os.environ.setdefault("MAVLINK20", "1")

from pymavlink import mavutil
from pymavlink.dialects.v20 import ardupilotmega as mavlink

log = logging.getLogger(__name__)

__all__ = [
    "ANY",
    "ConnectionSpec",
    "LinkHealth",
    "MavLink",
    "MessageQueue",
    "parse_connection",
    "signing_key_from_secret",
]

Message = Any  # a pymavlink MAVLink_message
Callback = Callable[[Message], None]

#: every message type, for subscribers that want all of them
ANY = "*"


class _Dropped(Exception):
    """The stream connection was closed by the peer."""


class _TcpConnection(mavutil.mavtcp):  # type: ignore[misc]
    """pymavlink's TCP client, but a closed socket is reported instead of retried in place."""

    def handle_disconnect(self) -> None:
        raise _Dropped("connection reset by peer")

    def handle_eof(self) -> None:
        raise _Dropped("connection closed by peer")

    def do_connect(self) -> None:
        self.port = socket.create_connection(self.destination_addr, timeout=self.connect_timeout_s)
        self.port.setblocking(False)
        self.port.setsockopt(socket.SOL_TCP, socket.TCP_NODELAY, 1)

    connect_timeout_s = 2.0


def _check_serial_device(spec: ConnectionSpec) -> None:
    """A one-line :class:`LinkError` for a serial device that is missing or may not be opened."""
    device = spec.address
    if not os.path.exists(device) and not device.upper().startswith("COM"):
        raise LinkError(
            f"serial device {device} not found: is the flight controller or telemetry radio plugged in? "
            "(ls /dev/serial/by-id lists the connected ones)"
        )
    if os.path.isdir(device):
        raise LinkError(f"serial device {device} is a directory, expected a serial port such as /dev/ttyACM0")
    if os.path.exists(device) and not os.access(device, os.R_OK | os.W_OK):
        raise LinkError(
            f"serial device {device}: permission denied (add the user to the group that owns it, "
            "usually dialout, and log in again)"
        )


@dataclass(frozen=True, slots=True)
class LinkHealth:
    """How the link is doing, as a ground station's link indicator shows it."""

    connected: bool
    heartbeat_age_s: float | None
    received: int
    lost: int
    bad_data: int
    reconnects: int

    @property
    def loss_fraction(self) -> float:
        """Fraction of the vehicle's packets missing from sequence-number gaps."""
        total = self.received + self.lost
        return self.lost / total if total else 0.0


class MessageQueue:
    """Messages of chosen types queued by the reader thread for one waiting caller."""

    def __init__(self, types: frozenset[str]) -> None:
        self.types = types
        self._queue: queue.Queue[Message] = queue.Queue()
        self._closed: str | None = None  # why no message will come any more

    def put(self, msg: Message) -> None:
        self._queue.put(msg)

    def close(self, reason: str) -> None:
        """No more messages will come (the link was closed): :meth:`get` raises :class:`LinkError` saying ``reason``."""
        self._closed = reason
        self._queue.put(_CLOSED)  # wakes a get() blocked on the queue

    def get(self, timeout_s: float) -> Message | None:
        """The next message, or ``None`` after ``timeout_s`` seconds without one.

        Raises :class:`LinkError` once the link is closed: no answer can come any more."""
        if self._closed is None:
            try:
                msg = self._queue.get(timeout=max(timeout_s, 0.0))
            except queue.Empty:
                return None
            if msg is not _CLOSED:
                return msg
        raise LinkError(self._closed or "link closed")

    def drain(self) -> list[Message]:
        """Every message queued so far."""
        out: list[Message] = []
        while True:
            try:
                msg = self._queue.get_nowait()
            except queue.Empty:
                return out
            if msg is not _CLOSED:
                out.append(msg)


#: Put in a queue when its link closes (never a vehicle's message).
_CLOSED: Any = object()


class MavLink:
    """One MAVLink connection to one vehicle.

    ``heartbeat_interval_s`` is wall-clock; callers running a vehicle faster than real
    time (SITL ``--speedup``) pass a proportionally shorter interval, since the
    vehicle's GCS-failsafe timer runs on its own clock. ``link_timeout_s`` is how long
    without a vehicle heartbeat the link counts as lost.
    """

    def __init__(
        self,
        connection: str,
        *,
        source_system: int = 255,
        source_component: int = 190,
        heartbeat_interval_s: float = 1.0,
        link_timeout_s: float = 3.0,
        signing_key: bytes | None = None,
        reconnect: bool = True,
        reconnect_interval_s: float = 0.5,
    ) -> None:
        self.spec = parse_connection(connection)
        self.connection_string = connection
        self.source_system = source_system
        self.source_component = source_component
        self.heartbeat_interval_s = heartbeat_interval_s
        self.link_timeout_s = link_timeout_s
        self.signing_key = signing_key
        self.reconnect = reconnect
        self.reconnect_interval_s = reconnect_interval_s
        self.target_system = 0
        self.target_component = 0
        self.autopilot = mavlink.MAV_AUTOPILOT_INVALID  # MAV_AUTOPILOT of the vehicle's heartbeat
        self._conn: Any = None
        self._send_lock = threading.Lock()
        self._sub_lock = threading.Lock()
        self._subscribers: dict[str, list[Callback]] = {}
        self._queues: list[MessageQueue] = []
        self._health_callbacks: list[Callable[[bool], None]] = []
        self._stop = threading.Event()
        self._discovered = threading.Event()
        self._last_heartbeat_mono: float | None = None
        self._connected = False
        self._alive = False  # heartbeat seen within link_timeout_s
        self._last_seq: dict[tuple[int, int], int] = {}
        self._received = 0
        self._lost = 0
        self._bad_data = 0
        self._reconnects = 0
        self._broadcast_sender = False
        self._threads: list[threading.Thread] = []

    # -- lifecycle -------------------------------------------------------------

    def open(self) -> None:
        """Open the connection and start the reader and heartbeat threads."""
        if self.spec.kind == "serial":
            _check_serial_device(self.spec)
        try:
            self._conn = self._open_connection()
        except (OSError, ValueError) as exc:
            raise LinkError(f"connection {self.connection_string!r}: cannot open ({exc})") from None
        self._connected = True
        for name, target in (("mavlink-reader", self._reader), ("mavlink-heartbeat", self._heartbeat_loop)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def close(self) -> None:
        """Stop the threads and close the connection; a caller waiting for a message gets a
        :class:`LinkError` at once instead of waiting out its timeout."""
        self._stop.set()
        with self._sub_lock:
            for q in self._queues:
                q.close(f"link {self.connection_string} closed")
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=2.0)
        self._close_connection()

    def __enter__(self) -> MavLink:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def wait_for_vehicle(self, timeout_s: float) -> tuple[int, int]:
        """Block until the first autopilot heartbeat names the target; return (system, component)."""
        if not self._discovered.wait(timeout_s):
            hint = " (MAVLink 2 signing is on: the vehicle must sign with the same key)" if self.signing_key else ""
            if self.spec.kind == "serial":
                hint += self._serial_hint()
            if self._broadcast_sender:
                hint += "; messages from system id 0 (the broadcast id) were ignored: set SYSID_THISMAV to 1..255"
            raise LinkError(
                f"connection {self.connection_string!r}: no autopilot heartbeat within {timeout_s:.1f} s{hint}"
            )
        return self.target_system, self.target_component

    def _serial_hint(self) -> str:
        """Why a serial port may be silent: at the wrong baud rate the bytes never frame as MAVLink."""
        baud = self.spec.baud
        if self._bad_data or self._bytes_seen():
            return (
                f"; {self._bad_data} unreadable packets arrived at {baud} baud: the baud rate is probably wrong "
                f"(it must match the autopilot's SERIALn_BAUD; try ,57600 or ,115200)"
            )
        return f"; nothing arrived at {baud} baud: is the autopilot powered and this its MAVLink port?"

    def _bytes_seen(self) -> bool:
        conn = self._conn
        return bool(conn is not None and getattr(conn.mav, "total_receive_errors", 0))

    # -- subscriptions ---------------------------------------------------------

    def subscribe(self, msg_type: str, callback: Callback) -> Callable[[], None]:
        """Call ``callback(msg)`` in the reader thread for every message of ``msg_type`` (or ``ANY``).

        Only messages from the discovered vehicle are dispatched. Returns an unsubscribe function.
        """
        with self._sub_lock:
            self._subscribers.setdefault(msg_type, []).append(callback)

        def unsubscribe() -> None:
            with self._sub_lock:
                callbacks = self._subscribers.get(msg_type, [])
                if callback in callbacks:
                    callbacks.remove(callback)

        return unsubscribe

    def on_health_change(self, callback: Callable[[bool], None]) -> None:
        """Call ``callback(alive)`` whenever the link is lost (False) or restored (True)."""
        self._health_callbacks.append(callback)

    @contextmanager
    def listen(self, types: Iterable[str]) -> Iterator[MessageQueue]:
        """Queue the vehicle's messages of ``types`` for the duration of the ``with`` block."""
        q = MessageQueue(frozenset(types))
        with self._sub_lock:
            self._queues.append(q)
            if self.closed:
                q.close(f"link {self.connection_string} closed")
        try:
            yield q
        finally:
            with self._sub_lock:
                self._queues.remove(q)

    # -- sending ---------------------------------------------------------------

    def send(self, msg: Message) -> None:
        """Send one message (thread-safe). A send on a dropped link is silently lost, as on radio."""
        with self._send_lock:
            conn = self._conn
            if conn is None:
                return
            try:
                conn.mav.send(msg)
            except (_Dropped, OSError) as exc:
                log.debug("send failed: %s", exc)

    # -- health ----------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called: nothing more will be sent or received."""
        return self._stop.is_set()

    @property
    def alive(self) -> bool:
        """True while vehicle heartbeats arrive within ``link_timeout_s``."""
        return self._alive

    def health(self) -> LinkHealth:
        """A snapshot of link health."""
        age = None if self._last_heartbeat_mono is None else time.monotonic() - self._last_heartbeat_mono
        return LinkHealth(self._connected, age, self._received, self._lost, self._bad_data, self._reconnects)

    # -- internals -------------------------------------------------------------

    def _open_connection(self) -> Any:
        spec = self.spec
        if spec.kind == "tcp":
            conn = _TcpConnection(
                spec.address, source_system=self.source_system, source_component=self.source_component
            )
        elif spec.kind == "serial":
            conn = mavutil.mavlink_connection(
                spec.address,
                baud=spec.baud,
                source_system=self.source_system,
                source_component=self.source_component,
                autoreconnect=True,
            )
        else:
            conn = mavutil.mavlink_connection(
                f"{spec.kind}:{spec.address}",
                source_system=self.source_system,
                source_component=self.source_component,
            )
        conn.WIRE_PROTOCOL_VERSION = "2.0"
        if self.signing_key is not None:
            conn.setup_signing(self.signing_key, sign_outgoing=True, link_id=0)
        return conn

    def _close_connection(self) -> None:
        with self._send_lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            with suppress(OSError):
                conn.close()
        self._connected = False

    def _reader(self) -> None:
        while not self._stop.is_set():
            conn = self._conn
            if conn is None:
                if not self._try_reconnect():
                    return
                continue
            try:
                if not conn.select(0.1):
                    continue
                while not self._stop.is_set():
                    msg = conn.recv_msg()
                    if msg is None:
                        break
                    self._handle(msg)
            except (_Dropped, OSError) as exc:
                log.warning("link %s dropped: %s", self.connection_string, exc)
                self._close_connection()
                self._set_alive(False)
            except Exception:  # a subscriber bug must not kill the only reader
                log.exception("error while handling a MAVLink message")

    def _try_reconnect(self) -> bool:
        if not (self.reconnect and self.spec.reopenable):
            self._stop.wait(0.1)
            return not self._stop.is_set()
        while not self._stop.is_set():
            try:
                conn = self._open_connection()
            except OSError:
                self._stop.wait(self.reconnect_interval_s)
                continue
            with self._send_lock:
                self._conn = conn
            self._connected = True
            self._reconnects += 1
            self._last_seq.clear()
            log.info("link %s reopened", self.connection_string)
            return True
        return False

    def _handle(self, msg: Message) -> None:
        mtype = msg.get_type()
        if mtype == "BAD_DATA":
            self._bad_data += 1
            return
        src = (msg.get_srcSystem(), msg.get_srcComponent())
        if src[0] == 0:
            # System id 0 is MAVLink's broadcast address, never a vehicle's own (SYSID_THISMAV is 1..255).
            self._broadcast_sender = True
            return
        if mtype == "HEARTBEAT" and not self._discovered.is_set() and self._is_autopilot(msg):
            self.target_system, self.target_component = src
            self.autopilot = int(msg.autopilot)
            self._discovered.set()
        if not self._discovered.is_set() or src[0] != self.target_system:
            return
        self._count_sequence(src, msg.get_seq())
        if mtype == "HEARTBEAT" and src[1] == self.target_component:
            self._last_heartbeat_mono = time.monotonic()
            self._set_alive(True)
        with self._sub_lock:
            callbacks = [*self._subscribers.get(mtype, ()), *self._subscribers.get(ANY, ())]
            queues = [q for q in self._queues if mtype in q.types]
        for q in queues:
            q.put(msg)
        for callback in callbacks:
            try:
                callback(msg)
            except Exception:
                log.exception("subscriber of %s failed", mtype)

    @staticmethod
    def _is_autopilot(msg: Message) -> bool:
        return bool(
            msg.autopilot != mavlink.MAV_AUTOPILOT_INVALID
            and msg.type
            not in (
                mavlink.MAV_TYPE_GCS,
                mavlink.MAV_TYPE_GIMBAL,
                mavlink.MAV_TYPE_ADSB,
                mavlink.MAV_TYPE_ONBOARD_CONTROLLER,
            )
        )

    def _count_sequence(self, src: tuple[int, int], seq: int) -> None:
        self._received += 1
        last = self._last_seq.get(src)
        self._last_seq[src] = seq
        if last is None:
            return
        gap = (seq - last - 1) % 256
        # A small backwards step is a duplicate or reordering, not 250 lost packets.
        if gap < 128:
            self._lost += gap

    def _set_alive(self, alive: bool) -> None:
        if alive == self._alive:
            return
        self._alive = alive
        for callback in list(self._health_callbacks):
            try:
                callback(alive)
            except Exception:
                log.exception("link health subscriber failed")

    def _heartbeat_loop(self) -> None:
        msg = mavlink.MAVLink_heartbeat_message(
            mavlink.MAV_TYPE_GCS, mavlink.MAV_AUTOPILOT_INVALID, 0, 0, mavlink.MAV_STATE_ACTIVE, 3
        )
        next_beat = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= next_beat:
                self.send(msg)
                next_beat = now + self.heartbeat_interval_s
            last = self._last_heartbeat_mono
            if self._alive and last is not None and now - last > self.link_timeout_s:
                log.warning("link %s: no heartbeat for %.1f s", self.connection_string, now - last)
                self._set_alive(False)
            self._stop.wait(min(self.heartbeat_interval_s, 0.05))
