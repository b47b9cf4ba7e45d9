"""Alerts: latency from ``publish_alert`` to the command room's callback through Mosquitto on loopback,
beside a bare paho QoS 1 publisher measured in the same run, and durable throughput.

The command room is a bare paho subscriber in its own process (the same monotonic
clock). Paced rows send 1,000 alerts at 200/s, so each latency is one alert's trip
(outbox, pump, broker, subscriber); the ``raw paho`` row sends the same CloudEvents
with a bare paho client at QoS 1 to the same kind of subscriber: the floor the
network, the broker and the machine set, measured in the same run. The ``minimum`` row is a
second reference: what any Python implementation of the same promise must do per alert (build the
event, paho QoS 1, an SQLite commit and a WAL sync), without the outbox's bookkeeping. Burst rows send 1,000
alerts as fast as possible from 1 and from 8 threads and report how many durable
alerts per second ``publish_alert`` accepted (each call returns once its alert is
committed) and the end-to-end rate; the ``publish_alerts`` row sends them from one thread, 10 a
call (one commit and one sync a call, as a frame's alerts go); the raw paho burst row is their floor,
measured in the same run: prebuilt events from 8 threads through a bare paho client, nothing durable.
The outbox rows time bare commits.

Targets (issue 17): paced at the default durability (``FULL``) p50 < 1 ms and p99 <
6 ms; at least 2,000 durable alerts/s. With ``FULL`` every call waits for a disk sync
(after its alert is on the wire), so one thread is bound by the disk's sync time;
concurrent callers share transactions and syncs (``drone_patrol/alerts/groupcommit.py``),
so the 8-thread row is bound by the sync time and the publisher's CPU per call; a batch
shares one call's work among its alerts. The machine's
load matters as much as the code: read a row beside the floor of the same run.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from benchmarks import percentile
from drone_patrol.alerts.models import CONTENT_TYPE
from drone_patrol.alerts.outbox import Outbox
from drone_patrol.alerts.props import PublishProperties
from drone_patrol.alerts.publisher import AlertPublisher
from drone_patrol.alerts.schema import alert_message
from drone_patrol.core.config import AlertsConfig
from drone_patrol.core.types import Alert, AlertKind

TITLE = "Alerts: publish -> command room latency (Mosquitto, loopback) beside a raw paho floor, and throughput"
N = 1000
RATE_HZ = 200.0
TARGET_P50_MS = 1.0
TARGET_P99_MS = 6.0
TARGET_DURABLE_PER_S = 2000.0
BATCH = 10  # alerts per publish_alerts call in the batched burst row
SOURCE = {"site": "bench", "drone": "drone-1", "prefix": "dronepatrol"}


# The command room: a bare paho subscriber in its own process (no shared GIL), printing
# one "event-id arrival-time" line per first arrival; time.perf_counter is the system's
# monotonic clock, the same in both processes on Linux.
_RECEIVER = """
import json, sys, time
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
port, tag, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
seen = {}
def on_message(_c, _u, msg):
    now = time.perf_counter()
    eid = json.loads(msg.payload)["id"]
    if eid not in seen:
        seen[eid] = now
def on_subscribe(*_a):
    print("ready", flush=True)
c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-rx-" + tag, protocol=mqtt.MQTTv5)
c.on_message, c.on_subscribe = on_message, on_subscribe
c.on_connect = lambda cl, *_a: cl.subscribe("dronepatrol/bench/+/alerts/#", qos=1)
c.connect("127.0.0.1", port)
c.loop_start()
deadline = time.monotonic() + 120
while len(seen) < n and time.monotonic() < deadline:
    time.sleep(0.01)
c.disconnect()
c.loop_stop()
for eid, t in seen.items():
    print(eid, repr(t))
"""


class _Receiver:
    """Times each alert from its publish call to its first arrival at the command room's process."""

    def __init__(self, port: int, tag: str) -> None:
        self.sent: dict[str, float] = {}
        self.latency_ms: list[float] = []
        self.last_arrival = 0.0
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _RECEIVER, str(port), tag, str(N)], stdout=subprocess.PIPE, text=True
        )
        assert self._proc.stdout is not None
        if self._proc.stdout.readline().strip() != "ready":
            raise RuntimeError("the receiving process did not subscribe")

    def mark(self, event_id: str) -> None:
        self.sent[event_id] = time.perf_counter()

    def finish(self) -> None:
        """Wait for the receiver (every alert arrived, or 120 s) and compute the latencies."""
        out, _ = self._proc.communicate(timeout=150)
        for line in out.splitlines():
            event_id, _, at = line.partition(" ")
            start = self.sent.get(event_id)
            if start is not None:
                self.latency_ms.append((float(at) - start) * 1e3)
                self.last_arrival = max(self.last_arrival, float(at))


def _alerts(tag: str) -> list[Alert]:
    from tests.alerts.helpers import make_alert  # the test factory: valid alerts of every kind

    kinds = list(AlertKind)
    return [make_alert(kinds[i % 3], i, alert_id=f"{tag}-{i:05d}") for i in range(N)]


def _paced(send: Callable[[int], None]) -> float:
    started = time.perf_counter()
    for i in range(N):
        pause = started + i / RATE_HZ - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        send(i)
    return started


def _row(case: str, rx: _Receiver, started: float, calls_per_s: float | str, target: str, ok: bool) -> dict[str, Any]:
    lat = rx.latency_ms
    elapsed_s = rx.last_arrival - started
    return {
        "case": case,
        "alerts": len(lat),
        "p50_ms": percentile(lat, 50) if lat else float("nan"),
        "p99_ms": percentile(lat, 99) if lat else float("nan"),
        "max_ms": max(lat) if lat else float("nan"),
        "durable_per_s": calls_per_s,
        "arrived_per_s": len(lat) / elapsed_s if elapsed_s > 0 else 0.0,
        "target": target,
        "ok": ok and len(lat) == N,
    }


@contextmanager
def _bare_publisher(port: int, client_id: str) -> Iterator[mqtt.Client]:
    """A bare paho MQTT 5 client on its own network thread, connected to the bench broker."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(20)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        yield client
    finally:
        client.disconnect()
        client.loop_stop()


def _prebuilt(tag: str) -> list[tuple[str, str, bytes]]:
    """(topic, event id, message) of the bench's alerts, built ahead for the bare paho rows."""
    return [
        (f"dronepatrol/bench/drone-1/alerts/{a.kind.value}", a.alert_id, alert_message(a, **SOURCE).payload)
        for a in _alerts(tag)
    ]


def _raw_paho_run(port: int) -> dict[str, Any]:
    """The floor: the same events from a bare paho client at QoS 1, no outbox."""
    rx = _Receiver(port, "raw")
    payloads = _prebuilt("raw")
    with _bare_publisher(port, "bench-raw-paho") as client:

        def send(i: int) -> None:
            topic, event_id, payload = payloads[i]
            rx.mark(event_id)
            client.publish(topic, payload, qos=1)

        started = _paced(send)
        rx.finish()
    return _row(f"raw paho QoS 1 (floor), paced {RATE_HZ:g}/s", rx, started, "", "", True)


def _in_threads(worker: Callable[[int], None], threads: int) -> tuple[float, float]:
    """Run ``worker(0)`` ... ``worker(threads - 1)`` at once; (the start time, seconds until all returned)."""
    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    started = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return started, time.perf_counter() - started


def _raw_paho_burst_run(port: int, threads: int) -> dict[str, Any]:
    """The throughput floor: the same events from a bare paho client at QoS 1 as fast as ``threads``
    threads can hand them over (prebuilt, no outbox), timed to the last arrival. What the network,
    the broker and paho in this interpreter let through; the burst rows' arrivals compare with it."""
    rx = _Receiver(port, f"raw-burst-{threads}")
    payloads = _prebuilt(f"raw-burst-{threads}")
    with _bare_publisher(port, f"bench-raw-burst-{threads}") as client:

        def worker(k: int) -> None:
            for topic, event_id, payload in payloads[k::threads]:
                rx.mark(event_id)
                client.publish(topic, payload, qos=1)

        started, _ = _in_threads(worker, threads)
        rx.finish()
    return _row(f"raw paho QoS 1 (throughput floor), burst, {threads} thread(s)", rx, started, "", "", True)


def _minimum_run(port: int, work: Path) -> dict[str, Any]:
    """A second reference: the least any Python implementation of ``publish_alert``'s promise does
    per alert, with none of the outbox's bookkeeping: build the CloudEvent from the alert, hand it to
    paho at QoS 1 with the same MQTT 5 properties, INSERT and COMMIT it in SQLite (WAL) and wait for an
    ``fdatasync`` of the WAL. The distance from the floor to this row is what the promise costs in
    Python on this machine; the distance from this row to ``publish_alert`` is the outbox's own."""
    rx = _Receiver(port, "minimum")
    alerts = _alerts("minimum")
    db = sqlite3.connect(work / "minimum.sqlite", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE outbox (seq INTEGER PRIMARY KEY, event_id TEXT UNIQUE, topic TEXT, payload BLOB)")
    wal = os.open(work / "minimum.sqlite-wal", os.O_RDWR)
    expiry_s = AlertsConfig().message_expiry_s
    try:
        with _bare_publisher(port, "bench-minimum") as client:

            def send(i: int) -> None:
                alert = alerts[i]
                rx.mark(alert.alert_id)
                payload = alert_message(alert, **SOURCE).payload
                topic = f"dronepatrol/bench/drone-1/alerts/{alert.kind.value}"
                props = PublishProperties(CONTENT_TYPE, expiry_s, alert.alert_id)
                client.publish(topic, payload, qos=1, properties=props)
                db.execute("BEGIN IMMEDIATE")
                db.execute(
                    "INSERT INTO outbox (event_id, topic, payload) VALUES (?, ?, ?)", (alert.alert_id, topic, payload)
                )
                db.execute("COMMIT")
                os.fdatasync(wal)

            started = _paced(send)
            rx.finish()
    finally:
        os.close(wal)
        db.close()
    return _row(f"minimum of the promise in Python (reference), paced {RATE_HZ:g}/s", rx, started, "", "", True)


@contextmanager
def _session(
    url: str, work: Path, synchronous: str, tag: str
) -> Iterator[tuple[_Receiver, AlertPublisher, list[Alert]]]:
    """A command room, a connected publisher with its own outbox, and the alerts to send."""
    rx = _Receiver(int(url.rsplit(":", 1)[1]), tag)
    cfg = AlertsConfig(broker_url=url, outbox_path=work / f"outbox-{tag}.sqlite", outbox_synchronous=synchronous)
    pub = AlertPublisher(cfg, "bench", "drone-1").start()
    try:
        deadline = time.monotonic() + 5
        while not pub.connected and time.monotonic() < deadline:
            time.sleep(0.01)
        yield rx, pub, _alerts(tag)
    finally:
        pub.stop()


def _paced_run(url: str, work: Path, synchronous: str) -> dict[str, Any]:
    with _session(url, work, synchronous, f"paced-{synchronous}") as (rx, pub, alerts):

        def send(i: int) -> None:
            rx.mark(alerts[i].alert_id)
            pub.publish_alert(alerts[i])

        started = _paced(send)
        rx.finish()
    lat = rx.latency_ms
    target = f"p50 < {TARGET_P50_MS:g} ms, p99 < {TARGET_P99_MS:g} ms" if synchronous == "FULL" else ""
    # Without a target (NORMAL) the row only has to arrive whole, as the other reference rows.
    ok = not target or (bool(lat) and percentile(lat, 50) < TARGET_P50_MS and percentile(lat, 99) < TARGET_P99_MS)
    return _row(f"publish_alert, paced {RATE_HZ:g}/s, outbox {synchronous}", rx, started, "", target, ok)


def _burst_run(url: str, work: Path, synchronous: str, threads: int) -> dict[str, Any]:
    with _session(url, work, synchronous, f"burst-{synchronous}-{threads}") as (rx, pub, alerts):

        def worker(k: int) -> None:
            for alert in alerts[k::threads]:
                rx.mark(alert.alert_id)
                pub.publish_alert(alert)

        started, calls_s = _in_threads(worker, threads)
        rx.finish()
    per_s = N / calls_s
    target = f">= {TARGET_DURABLE_PER_S:g} durable/s" if threads > 1 and synchronous == "FULL" else ""
    ok = per_s >= TARGET_DURABLE_PER_S if target else True
    return _row(f"burst, {threads} thread(s), outbox {synchronous}", rx, started, per_s, target, ok)


def _batch_run(url: str, work: Path, batch: int) -> dict[str, Any]:
    """``publish_alerts`` from one thread, ``batch`` alerts a call (a frame's worth, or a backlog):
    one commit and one sync a call; each call returns once its alerts are durable."""
    with _session(url, work, "FULL", f"batch-{batch}") as (rx, pub, alerts):

        def worker(_k: int) -> None:
            for i in range(0, len(alerts), batch):
                chunk = alerts[i : i + batch]
                for alert in chunk:
                    rx.mark(alert.alert_id)
                pub.publish_alerts(chunk)

        started, calls_s = _in_threads(worker, 1)
        rx.finish()
    per_s = N / calls_s
    target = f">= {TARGET_DURABLE_PER_S:g} durable/s"
    return _row(
        f"publish_alerts, {batch} a call, 1 thread, outbox FULL",
        rx,
        started,
        per_s,
        target,
        per_s >= TARGET_DURABLE_PER_S,
    )


def _outbox_run(work: Path, synchronous: str) -> dict[str, Any]:
    payload = b"x" * 900  # about the size of an alert envelope without a thumbnail
    ob = Outbox(work / f"throughput-{synchronous}.sqlite", synchronous=synchronous)  # type: ignore[arg-type]
    started = time.perf_counter()
    seqs = [ob.put_alert(f"id-{i}", "dronepatrol/bench/d/alerts/vehicle", payload, "warning") for i in range(N)]
    put_s = time.perf_counter() - started
    started = time.perf_counter()
    for i in range(0, N, 20):  # a delete per batch of 20 PUBACKs
        ob.delete(s for s in seqs[i : i + 20] if s is not None)
    delete_s = time.perf_counter() - started
    ob.close()
    return {
        "case": f"bare outbox commit, {synchronous} (p50: mean; deletes {delete_s * 1e3:.1f} ms)",
        "alerts": N,
        "p50_ms": put_s / N * 1e3,
        "p99_ms": "",
        "max_ms": "",
        "durable_per_s": N / put_s,
        "arrived_per_s": "",
        "target": "",
        "ok": True,
    }


def run() -> list[dict[str, Any]]:
    """Rows: the raw paho floor, paced latency, bursts, then bare outbox commits."""
    root = Path(__file__).resolve().parents[1]
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from tests.brokers import mosquitto_broker

    rows: list[dict[str, Any]] = []
    work = Path(tempfile.mkdtemp(prefix="bench-alerts-", dir=root / "benchmarks"))  # the project's disk, not tmpfs
    try:
        if shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists():
            with mosquitto_broker(work / "mosquitto", persistence=False) as broker:
                rows.append(_raw_paho_run(broker.port))
                rows.append(_minimum_run(broker.port, work))
                rows.append(_paced_run(broker.url, work, "FULL"))
                rows.append(_paced_run(broker.url, work, "NORMAL"))
                rows.append(_burst_run(broker.url, work, "FULL", 1))
                rows.append(_burst_run(broker.url, work, "FULL", 8))
                rows.append(_batch_run(broker.url, work, BATCH))
                rows.append(_raw_paho_burst_run(broker.port, 8))
                rows.append(_burst_run(broker.url, work, "NORMAL", 1))
        else:
            rows.append({"case": "latency through Mosquitto", "ok": False, "target": "needs apt mosquitto"})
        rows.append(_outbox_run(work, "FULL"))
        rows.append(_outbox_run(work, "NORMAL"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows
