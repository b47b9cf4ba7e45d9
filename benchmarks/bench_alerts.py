"""Alerts: latency from ``publish_alert`` to the command room's callback through Mosquitto on loopback,
and outbox throughput.

Publisher and subscriber share one process (one clock). Paced rows send 1,000
alerts at a steady rate, so each latency is one alert's trip (outbox commit, pump,
broker, dedup, callback); the burst row sends 1,000 as fast as possible and reports
the end-to-end rate. The outbox rows time bare commits. Target: an alert reaches
the command room within a second (p99 < 1000 ms).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks import percentile
from drone_patrol.alerts.outbox import Outbox
from drone_patrol.alerts.publisher import AlertPublisher
from drone_patrol.alerts.subscriber import AlertSubscriber
from drone_patrol.core.config import AlertsConfig
from drone_patrol.core.types import AlertKind

TITLE = "Alerts: publish -> command room latency (Mosquitto, loopback) and outbox throughput"
N = 1000
TARGET_P99_MS = 1000.0


def _latency_run(url: str, work: Path, synchronous: str, rate_hz: float | None) -> dict[str, Any]:
    from tests.alerts.helpers import make_alert  # the test factory: valid alerts of every kind

    sent: dict[str, float] = {}
    latency_ms: list[float] = []
    done = threading.Event()
    lock = threading.Lock()

    def on_alert(envelope: dict[str, Any]) -> None:
        now = time.perf_counter()
        with lock:
            start = sent.get(envelope["id"])
            if start is not None:
                latency_ms.append((now - start) * 1e3)
            if len(latency_ms) >= N:
                done.set()

    tag = f"{synchronous}-{rate_hz or 'burst'}"
    sub = AlertSubscriber(url, on_alert=on_alert, client_id=f"bench-{tag}", persistent=False).start(wait_s=5)
    cfg = AlertsConfig(broker_url=url, outbox_path=work / f"outbox-{tag}.sqlite", outbox_synchronous=synchronous)
    pub = AlertPublisher(cfg, "bench", "drone-1").start()
    kinds = list(AlertKind)
    alerts = [make_alert(kinds[i % 3], i) for i in range(N)]
    try:
        deadline = time.monotonic() + 5
        while not pub.connected and time.monotonic() < deadline:
            time.sleep(0.01)
        started = time.perf_counter()
        for i, alert in enumerate(alerts):
            if rate_hz:
                pause = started + i / rate_hz - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
            with lock:
                sent[alert.alert_id] = time.perf_counter()
            pub.publish_alert(alert)
        done.wait(60)
        elapsed = time.perf_counter() - started
    finally:
        pub.stop()
        sub.stop()
    p99 = percentile(latency_ms, 99) if latency_ms else float("nan")
    return {
        "case": f"{'paced ' + format(rate_hz, 'g') + '/s' if rate_hz else 'burst'}, outbox {synchronous}",
        "alerts": len(latency_ms),
        "p50_ms": percentile(latency_ms, 50) if latency_ms else float("nan"),
        "p99_ms": p99,
        "max_ms": max(latency_ms) if latency_ms else float("nan"),
        "alerts_per_s": len(latency_ms) / elapsed if elapsed > 0 else 0.0,
        "target": f"p99 < {TARGET_P99_MS:g} ms",
        "ok": len(latency_ms) == N and p99 < TARGET_P99_MS,
    }


def _outbox_run(work: Path, synchronous: str) -> dict[str, Any]:
    payload = b"x" * 900  # about the size of an alert envelope without a thumbnail
    ob = Outbox(work / f"throughput-{synchronous}.sqlite", synchronous=synchronous)  # type: ignore[arg-type]
    started = time.perf_counter()
    seqs = [ob.put_alert(f"id-{i}", "dronepatrol/bench/d/alerts/vehicle", payload, "warning") for i in range(N)]
    put_s = time.perf_counter() - started
    started = time.perf_counter()
    for i in range(0, N, 20):  # as the pump does: one delete per batch of PUBACKs
        ob.delete(s for s in seqs[i : i + 20] if s is not None)
    delete_s = time.perf_counter() - started
    ob.close()
    per_s = N / put_s
    return {
        "case": f"outbox commit (mean), {synchronous}",
        "alerts": N,
        "p50_ms": put_s / N * 1e3,  # the mean commit time
        "p99_ms": "",
        "max_ms": "",
        "alerts_per_s": per_s,
        "target": "> 100 alerts/s",
        "ok": per_s > 100 and delete_s < put_s * 2,
    }


def run() -> list[dict[str, Any]]:
    """Rows: paced and burst latency through Mosquitto, then bare outbox commit rates."""
    root = Path(__file__).resolve().parents[1]
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from tests.brokers import mosquitto_broker

    rows: list[dict[str, Any]] = []
    work = Path(tempfile.mkdtemp(prefix="bench-alerts-"))
    try:
        if shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists():
            with mosquitto_broker(work / "mosquitto", persistence=False) as broker:
                rows.append(_latency_run(broker.url, work, "FULL", 200.0))
                rows.append(_latency_run(broker.url, work, "NORMAL", 200.0))
                rows.append(_latency_run(broker.url, work, "FULL", None))
        else:
            rows.append({"case": "latency through Mosquitto", "ok": False, "target": "needs apt mosquitto"})
        rows.append(_outbox_run(work, "FULL"))
        rows.append(_outbox_run(work, "NORMAL"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows
