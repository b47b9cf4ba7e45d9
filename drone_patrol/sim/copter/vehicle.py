"""``SimulatedCopter``: the simulated ArduCopter as a TCP server with its simulation thread."""

from __future__ import annotations

import contextlib
import logging
import math
import random
import selectors
import socket
import threading
import time
from collections.abc import Mapping
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from drone_patrol.core.types import GeoPoint, VehicleState
from drone_patrol.sim.copter import telemetry as tm
from drone_patrol.sim.copter.autopilot import Autopilot
from drone_patrol.sim.copter.handlers import Handlers
from drone_patrol.sim.copter.modes import mode_name
from drone_patrol.sim.copter.params import ParamStore
from drone_patrol.sim.copter.server import Connection, ParseCounters
from drone_patrol.sim.copter.transfer import ListProtocol
from drone_patrol.sim.net import listen_tcp

log = logging.getLogger(__name__)

STEP_S = 0.05  # simulated seconds per physics step
# Steps between two looks at the sockets: input is never left waiting more than 0.2 s of
# simulated time, or a starved process would time its own clients out.
MAX_STEPS_PER_LOOP = 4
# When the simulation lags wall time by more than this (CPU starved), time slips instead.
MAX_LAG_S = 0.5
BOOT_TEXTS = (
    "ArduCopter V4.6.0-dev (drone-patrol sim)",
    "Frame: QUAD/X",
    "GPS 1: detected u-blox",
)


class SimulatedCopter:
    """A simulated ArduCopter speaking MAVLink 2 on TCP, like SITL's serial0.

    ``speedup`` scales simulated time against wall time; ``seed`` fixes the random
    parts (sensor noise). ``params`` overrides parameter defaults by name.
    ``udp_out`` ("host:port" or a tuple) also sends to a UDP ground station.
    """

    def __init__(
        self,
        home: GeoPoint,
        heading_deg: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        speedup: float = 10.0,
        seed: int = 1,
        udp_out: str | tuple[str, int] | None = None,
        params: Mapping[str, float] | None = None,
        gps_ready_s: float = 3.0,
        ekf_ready_s: float = 6.0,
    ) -> None:
        if not speedup > 0 or not math.isfinite(speedup):
            raise ValueError(f"speedup must be a finite number > 0, got {speedup}")
        if not all(math.isfinite(v) for v in (home.latitude_deg, home.longitude_deg, home.altitude_m, heading_deg)):
            raise ValueError(f"home {home} and heading {heading_deg} must be finite numbers")
        self.home = home
        self.host = host
        self._requested_port = port
        self.speedup = float(speedup)
        self.seed = seed
        self.random = random.Random(seed)
        self.udp_out = _parse_hostport(udp_out) if udp_out is not None else None
        overrides = dict(params or {})
        overrides.setdefault("SIM_SPEEDUP", self.speedup)
        store = ParamStore(overrides)
        self.lock = threading.RLock()
        self.mav = mavlink2.MAVLink(None, srcSystem=1, srcComponent=1)
        self.ap = Autopilot(home, heading_deg, store, self._say, self._item_reached, gps_ready_s, ekf_ready_s)
        self.ap.mission_changed(0)
        self.protocols = {
            t: ListProtocol(
                t,
                self.ap.store,
                lambda: self.ap.time_s,
                self.mav,
                self._say,
                self.ap.home_item,
                lambda: self.ap.mission.nav_index,
                self.ap.can_clear_mission,
                self.ap.mission_changed,
            )
            for t in (0, 1, 2)
        }
        self.handlers = Handlers(self)
        self.counters = ParseCounters()
        self.connections: list[Connection] = []
        self.boot_unix_s = time.time()
        self._next_conn_id = 1
        self._listen: socket.socket | None = None
        self._udp: Connection | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._selector: selectors.BaseSelector | None = None
        self.port = 0
        self._booted = False
        self.lag_events = 0
        self._home_announced = False
        self._texts: list[Any] = []
        self._last_timesync_s = 0.0

    # ------------------------------------------------------------------ API
    @property
    def connection_string(self) -> str:
        """pymavlink connection string of the listening socket."""
        return f"tcp:{self.host}:{self.port}"

    @property
    def sim_time_s(self) -> float:
        """Simulated seconds since start."""
        return self.ap.time_s

    def start(self) -> SimulatedCopter:
        """Open the listening socket and start the simulation thread."""
        if self._thread is not None:
            return self
        sock = listen_tcp(self.host, self._requested_port)
        self._listen = sock
        self.port = sock.getsockname()[1]
        self._selector = selectors.DefaultSelector()
        self._selector.register(sock, selectors.EVENT_READ, "listen")
        if self.udp_out is not None:
            usock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            usock.setblocking(False)
            usock.bind((self.host, 0))
            self._udp = Connection(0, usock, self.udp_out)
            self.connections.append(self._udp)
            self._selector.register(usock, selectors.EVENT_READ, self._udp)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"sim-copter-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread and close every socket."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        with self.lock:
            for conn in self.connections:
                conn.close()
                if conn.sock is not None and conn.sock.type == socket.SOCK_DGRAM:
                    conn.sock.close()
            self.connections.clear()
            if self._listen is not None:
                self._listen.close()
                self._listen = None
            if self._selector is not None:
                self._selector.close()
                self._selector = None

    def __enter__(self) -> SimulatedCopter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def truth(self) -> VehicleState:
        """The vehicle's true state (not what telemetry says after a lossy link)."""
        with self.lock:
            ap = self.ap
            b = ap.body
            lat, lon = ap.frame.to_latlon(b.north_m, b.east_m)
            roll, pitch = b.attitude_deg()
            fix, sats = ap.gps
            return VehicleState(
                time_s=time.time(),
                position=GeoPoint(lat, lon, ap.home.altitude_m + b.up_m),
                relative_altitude_m=b.up_m,
                roll_deg=roll,
                pitch_deg=pitch,
                yaw_deg=b.yaw_deg,
                ground_speed_m_s=b.ground_speed_m_s,
                climb_rate_m_s=b.vu,
                heading_deg=ap.heading_deg(),
                velocity_north_m_s=b.vn,
                velocity_east_m_s=b.ve,
                velocity_down_m_s=-b.vu,
                battery_percent=ap.battery.remaining_fraction * 100.0,
                battery_voltage_v=ap.battery.voltage_v,
                mode=mode_name(ap.mode),
                armed=ap.armed,
                landed=ap.landed,
                gps_fix_type=fix,
                satellites_visible=sats,
                ekf_ok=ap.position_ok,
                mission_current_seq=ap.mission.nav_index,
                mission_reached_seq=ap.reached_seq,
                home=ap.home if ap.home_set else None,
                system_status=tm.system_status(ap),
            )

    def set_battery_percent(self, percent: float) -> None:
        """Fault injection: jump the battery to ``percent`` remaining."""
        with self.lock:
            self.ap.battery.set_remaining_percent(percent)

    def set_gps(self, fix_type: int, satellites: int) -> None:
        """Fault injection: force the GPS fix type and satellite count."""
        with self.lock:
            self.ap.gps_override = (int(fix_type), int(satellites))

    def set_wind(self, speed_m_s: float, direction_deg: float) -> None:
        """Fault injection: steady wind of ``speed_m_s`` from ``direction_deg``."""
        with self.lock:
            self.ap.params.set("SIM_WIND_SPD", float(speed_m_s))
            self.ap.params.set("SIM_WIND_DIR", float(direction_deg) % 360.0)

    # ------------------------------------------------------------- internals
    def broadcast(self, msg: Any) -> None:
        """Send one message to every connection."""
        if msg is None:
            return
        for conn in self.connections:
            conn.send(msg)

    def _say(self, severity: int, text: str) -> None:
        # Queued like ArduPilot's STATUSTEXT queue: it goes out after the replies being made now.
        self._texts.append(self.mav.statustext_encode(severity, text.encode("ascii", "replace")[:50]))

    def _item_reached(self, seq: int) -> None:
        self.ap.pending_reached = seq

    def send_requested(self, conn: Connection, msg_id: int) -> None:
        """REQUEST_MESSAGE: one message now."""
        conn.send(tm.build(conn.mav, msg_id, self.ap, self.boot_unix_s))

    def _telemetry(self) -> None:
        now = self.ap.time_s
        if self.ap.home_set and not self._home_announced:
            # AP_AHRS sends HOME_POSITION (and the EKF origin) to everyone when home is set.
            self._home_announced = True
            self.broadcast(tm.build(self.mav, tm.HOME_POSITION, self.ap, self.boot_unix_s))
            self.broadcast(tm.build(self.mav, tm.GPS_GLOBAL_ORIGIN, self.ap, self.boot_unix_s))
        if now - self._last_timesync_s >= tm.TIMESYNC_PERIOD_S:
            self._last_timesync_s = now
            self.broadcast(tm.build(self.mav, tm.TIMESYNC, self.ap, self.boot_unix_s))
        if self.ap.pending_reached is not None:
            # Deferred like MSG_MISSION_ITEM_REACHED: two completions in one step send the last.
            self.broadcast(self.mav.mission_item_reached_encode(self.ap.pending_reached))
            self.ap.pending_reached = None
        for conn in self.connections:
            for msg_id in conn.streams.due(now, self.ap):
                conn.send(tm.build(conn.mav, msg_id, self.ap, self.boot_unix_s), stream=msg_id != tm.HEARTBEAT)

    def _step_once(self) -> None:
        try:
            self.ap.step(STEP_S)
            for prot in self.protocols.values():
                prot.update()
            self._telemetry()
        except Exception:  # a bug in the flight logic must not silence the vehicle: log, count, go on
            self.counters.step_errors += 1
            if self.counters.step_errors <= 3:
                log.exception("simulated copter: step failed at t=%.2f s", self.ap.time_s)

    def _run(self) -> None:
        sel = self._selector
        assert sel is not None
        wall0 = time.monotonic()
        sim0 = self.ap.time_s
        while not self._stop.is_set():
            with self.lock:
                target = sim0 + (time.monotonic() - wall0) * self.speedup
                steps = 0
                if target - self.ap.time_s > MAX_LAG_S:
                    # Falling behind: let simulated time slip rather than race through it unheard.
                    wall0, sim0 = time.monotonic(), self.ap.time_s
                    target = sim0
                    self.lag_events += 1
                while self.ap.time_s + STEP_S <= target and steps < MAX_STEPS_PER_LOOP:
                    self._step_once()
                    steps += 1
                self._flush_all()
            wait = max(0.0, (self.ap.time_s + STEP_S - target) / self.speedup)
            try:
                events = sel.select(timeout=min(wait, 0.05))
            except (OSError, ValueError):
                if self._stop.is_set():
                    break
                raise
            with self.lock:
                for key, mask in events:
                    self._on_event(key, mask)
                self._flush_all()

    def _on_event(self, key: selectors.SelectorKey, mask: int) -> None:
        if key.data == "listen":
            self._accept()
            return
        conn: Connection = key.data
        if mask & selectors.EVENT_READ:
            self._read(conn)
        if mask & selectors.EVENT_WRITE:
            conn.flush()

    def _accept(self) -> None:
        assert self._listen is not None and self._selector is not None
        try:
            sock, _addr = self._listen.accept()
        except (BlockingIOError, InterruptedError):
            return
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # A modest kernel buffer keeps a slow reader's telemetry fresh rather than minutes old.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32 * 1024)
        conn = Connection(self._next_conn_id, sock, None)
        self._next_conn_id += 1
        self.connections.append(conn)
        self._selector.register(sock, selectors.EVENT_READ, conn)
        if not self._booted:
            self._booted = True
            for text in BOOT_TEXTS:
                self._say(mavlink2.MAV_SEVERITY_INFO, text)

    def _read(self, conn: Connection) -> None:
        assert conn.sock is not None
        try:
            if conn.sock.type == socket.SOCK_DGRAM:
                data, addr = conn.sock.recvfrom(65536)
                conn.peer = addr
            else:
                data = conn.sock.recv(65536)
                if not data:
                    self._drop(conn)
                    return
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._drop(conn)
            return
        for msg in conn.parse(data, self.counters):
            if msg.get_srcSystem() == 1 and msg.get_srcComponent() == 1:
                continue  # our own packets echoed back
            try:
                if not self.handlers.dispatch(conn, msg):
                    self.counters.not_for_us += 1
            except Exception:  # a message the handlers cannot digest must never stop the vehicle
                self.counters.handler_errors += 1
                if self.counters.handler_errors <= 3:
                    log.exception("simulated copter: %s could not be handled", msg.get_type())

    def _drop(self, conn: Connection) -> None:
        if self._selector is not None and conn.sock is not None:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(conn.sock)
        conn.close()
        if conn in self.connections:
            self.connections.remove(conn)
        for prot in self.protocols.values():
            if prot.link is conn:
                prot._end_upload()

    def _flush_all(self) -> None:
        for conn in self.connections:
            conn.flush_texts()
        texts, self._texts = self._texts, []
        for msg in texts:
            self.broadcast(msg)
        sel = self._selector
        for conn in list(self.connections):
            conn.flush()
            if conn.closed:
                self._drop(conn)
                continue
            if sel is not None and conn.sock is not None and conn.sock.type == socket.SOCK_STREAM:
                want = selectors.EVENT_READ | (selectors.EVENT_WRITE if conn.out else 0)
                with contextlib.suppress(KeyError, ValueError):
                    if sel.get_key(conn.sock).events != want:
                        sel.modify(conn.sock, want, conn)


def _parse_hostport(value: str | tuple[str, int]) -> tuple[str, int]:
    if isinstance(value, tuple):
        return value
    text = value.removeprefix("udp:").removeprefix("udpout:")
    host, _, port = text.rpartition(":")
    try:
        return (host or "127.0.0.1", int(port))
    except ValueError:
        raise ValueError(f"udp_out {value!r}: expected HOST:PORT") from None
