"""Simulated copter and faulty link: how fast they run on this machine."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from drone_patrol.core.types import GeoPoint
from drone_patrol.sim.copter import SimulatedCopter
from drone_patrol.sim.copter.vehicle import STEP_S
from drone_patrol.sim.link import FaultyLink

TITLE = "Simulated ArduCopter and faulty link"
HOME = GeoPoint(-35.363261, 149.165230, 584.0)


class _Client:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.settimeout(2.0)
        self.mav = mavlink2.MAVLink(None, srcSystem=255, srcComponent=190)
        self.mav.robust_parsing = True
        self.pending: list[Any] = []
        self.count = 0

    def send(self, msg: Any) -> None:
        self.sock.sendall(msg.pack(self.mav))

    def recv_any(self, names: tuple[str, ...]) -> Any:
        while True:
            while self.pending:
                msg = self.pending.pop(0)
                self.count += 1
                if msg.get_type() in names:
                    return msg
            self.pending.extend(self.mav.parse_buffer(self.sock.recv(65536)) or [])


def _step_cost() -> dict[str, Any]:
    sim = SimulatedCopter(home=HOME)
    n = 4000
    t0 = time.perf_counter()
    for _ in range(n):
        sim._step_once()
    dt = time.perf_counter() - t0
    max_speedup = n * STEP_S / dt
    return {
        "case": "physics + timers, one step (no client)",
        "value": dt / n * 1e6,
        "unit": "us/step",
        "target": ">= 50x speedup",
        "ok": max_speedup >= 50,
        "note": f"max speedup {max_speedup:.0f}x",
    }


def _achieved_speedup() -> dict[str, Any]:
    with SimulatedCopter(home=HOME, speedup=50.0) as sim:
        client = _Client(sim.port)
        client.send(client.mav.request_data_stream_encode(1, 1, mavlink2.MAV_DATA_STREAM_ALL, 4, 1))
        stop = threading.Event()

        def drain() -> None:
            while not stop.is_set():
                try:
                    client.recv_any(("NOTHING",))
                except (OSError, TimeoutError):
                    return

        t = threading.Thread(target=drain, daemon=True)
        t.start()
        w0, s0 = time.monotonic(), sim.sim_time_s
        time.sleep(2.0)
        ratio = (sim.sim_time_s - s0) / (time.monotonic() - w0)
        stop.set()
        client.sock.close()
        t.join(3.0)
    return {
        "case": "achieved speedup at --speedup 50, one client, all streams at 4 Hz",
        "value": ratio,
        "unit": "x",
        "target": ">= 40",
        "ok": ratio >= 40,
        "note": f"{client.count} messages read",
    }


def _upload_700() -> dict[str, Any]:
    with SimulatedCopter(home=HOME, speedup=5.0) as sim:
        c = _Client(sim.port)
        n = 701
        lon = round(HOME.longitude_deg * 1e7)
        t0 = time.perf_counter()
        c.send(c.mav.mission_count_encode(1, 1, n, 0))
        while True:
            msg = c.recv_any(("MISSION_REQUEST", "MISSION_ACK"))
            if msg.get_type() == "MISSION_ACK":
                break
            lat = round((HOME.latitude_deg + 1e-5 * msg.seq) * 1e7)
            c.send(c.mav.mission_item_int_encode(1, 1, msg.seq, 6, 16, 0, 1, 0, 0, 0, 0, lat, lon, 20.0, 0))
        dt = time.perf_counter() - t0
        c.sock.close()
    ok = dt < 3.0 and msg.type == 0
    note = f"{n / dt:.0f} items/s, ack {msg.type}"
    return {
        "case": "upload of 700 items (+home) over TCP",
        "value": dt,
        "unit": "s",
        "target": "< 3 s",
        "ok": ok,
        "note": note,
    }


def _link_throughput() -> dict[str, Any]:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    n = 20000
    mav = mavlink2.MAVLink(None, srcSystem=255, srcComponent=190)
    pkt = mav.heartbeat_encode(6, 8, 0, 0, 0).pack(mav)
    got = {"bytes": 0}

    def sink() -> None:
        conn, _ = server.accept()
        while got["bytes"] < n * len(pkt):
            data = conn.recv(65536)
            if not data:
                break
            got["bytes"] += len(data)
        conn.close()

    t = threading.Thread(target=sink, daemon=True)
    t.start()
    with FaultyLink(target=("127.0.0.1", port), drop=0.0) as link:
        client = socket.create_connection(("127.0.0.1", link.port))
        t0 = time.perf_counter()
        client.sendall(pkt * n)
        t.join(30.0)
        dt = time.perf_counter() - t0
        client.close()
    server.close()
    rate = n / dt
    return {
        "case": "faulty link, no faults, 20000 heartbeats",
        "value": rate,
        "unit": "packets/s",
        "target": ">= 5000",
        "ok": rate >= 5000,
        "note": f"{dt:.2f} s",
    }


def run() -> list[dict[str, Any]]:
    """Rows: step cost, achieved speedup, 700-item upload, link throughput."""
    return [_step_cost(), _achieved_speedup(), _upload_700(), _link_throughput()]
