"""Dashboard operations: a dispatch step from one dashboard to another through Mosquitto, and the shift report.

The step row takes 200 notes on one incident in dashboard A (``POST .../step``: archive,
publish with PUBACK) and times each until dashboard B has archived it and tells its
pages (both in this process, one clock). Target: p99 under a second. The report rows
time ``Archive.incidents`` and the figures with the HTML and CSV report over a night of
2,000 incidents of five steps each. Target: under two seconds. The tile rows read 5,000
random tiles of a 32,400-tile zoom-14 block from a PMTiles file (root and eight leaf
directories) and the same tiles from an MBTiles file. Target: p99 under 5 ms a tile.
"""

from __future__ import annotations

import json
import random
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from benchmarks import percentile
from drone_patrol.dashboard.app import Dashboard, DashboardOptions
from drone_patrol.dashboard.archive import Archive
from drone_patrol.dashboard.model import Ack, AlertMessage
from drone_patrol.dashboard.report import summarize, to_csv, to_html
from drone_patrol.dashboard.workflow import WorkflowStep

TITLE = "Dashboard: dispatch step A -> B through Mosquitto, shift report over a night"
STEPS = 200
NIGHT = 2000


def _step_row(work: Path) -> dict[str, Any]:
    from tests.brokers import mosquitto_broker
    from tests.dashboard.helpers import MqttTestClient, make_alert

    with mosquitto_broker(work / "mq") as broker:
        rooms = []
        for name in ("a", "b"):
            opts = DashboardOptions(
                broker_url=broker.url, site="dongxi", archive_path=work / f"{name}.sqlite", port=0,
                client_id=f"bench-{name}-{uuid.uuid4().hex[:6]}",
            )  # fmt: skip
            room = Dashboard(opts)
            room.start()
            room.bridge.wait_connected(5)
            rooms.append(room)
        a, b = rooms
        seen: dict[str, float] = {}
        cv = threading.Condition()
        sub = b.hub.subscribe()

        def listen() -> None:
            while True:
                event = sub.get(0.5)
                if event is None:
                    if stop.is_set():
                        return
                    continue
                history = event.data.get("history") or []
                if event.name == "alert" and history and history[-1]["step"] == "note":
                    with cv:
                        seen.setdefault(history[-1]["note"], time.perf_counter())
                        cv.notify_all()

        stop = threading.Event()
        threading.Thread(target=listen, daemon=True).start()
        drone = MqttTestClient(broker.url).start()
        alert = make_alert()
        drone.publish_alert(alert)
        deadline = time.monotonic() + 5
        while b.archive.incident(alert.incident_id) is None or a.archive.incident(alert.incident_id) is None:
            if time.monotonic() > deadline:
                raise RuntimeError("the alert did not reach both dashboards")
            time.sleep(0.01)
        latency_ms: list[float] = []
        post_ms: list[float] = []
        for i in range(STEPS):
            note = f"note {i}"
            body = json.dumps({"step": "note", "note": note, "by": "bench"}).encode()
            req = urllib.request.Request(
                a.url + f"api/alerts/{alert.incident_id}/step", body, {"Content-Type": "application/json"}
            )
            t0 = time.perf_counter()
            with urllib.request.urlopen(req, timeout=5) as resp:
                resp.read()
            post_ms.append((time.perf_counter() - t0) * 1e3)
            with cv:
                cv.wait_for(lambda n=note: n in seen, timeout=5)
            latency_ms.append((seen[note] - t0) * 1e3)
        stop.set()
        drone.stop()
        for room in rooms:
            room.stop()
    p99 = percentile(latency_ms, 99)
    return {
        "case": f"step A->B ({STEPS} notes)",
        "n": len(latency_ms),
        "post_p50_ms": percentile(post_ms, 50),
        "p50_ms": percentile(latency_ms, 50),
        "p99_ms": p99,
        "target": "p99 < 1000 ms",
        "ok": p99 < 1000.0,
    }


def _report_rows(work: Path) -> list[dict[str, Any]]:
    from tests.dashboard.helpers import make_alert

    archive = Archive(work / "night.sqlite")
    t0 = time.time() - 12 * 3600
    for i in range(NIGHT):
        start = t0 + i * 20
        msg = AlertMessage.from_alert(make_alert(time_s=start, thumbnail=False))
        archive.add_message(msg, start)
        archive.add_ack(Ack(str(uuid.uuid4()), msg.id, "bench", start + 30, "dongxi", "drone-1"), start + 30)
        for step, at_s in (("dispatched", 60), ("on_scene", 60 + i % 400), ("resolved", 900), ("note", 950)):
            archive.add_workflow_step(
                WorkflowStep(
                    str(uuid.uuid4()), msg.incident_id, step, "bench", start + at_s, "dongxi", "drone-1",
                    unit="unit 1" if step == "dispatched" else "", note="done" if step == "note" else "",
                ),
                start + at_s,
            )  # fmt: skip
    t = time.perf_counter()
    rows = archive.incidents(t0 - 1)
    fold_s = time.perf_counter() - t
    t = time.perf_counter()
    report = summarize(rows, t0 - 1, time.time())
    html = to_html(report, "zh-CN", "dongxi")
    csv_text = to_csv(report, "zh-CN")
    report_s = time.perf_counter() - t
    archive.close()
    total = fold_s + report_s
    return [
        {
            "case": f"report over {NIGHT} incidents",
            "n": report["incidents"],
            "archive_fold_ms": fold_s * 1e3,
            "figures_html_csv_ms": report_s * 1e3,
            "html_kib": len(html.encode()) / 1024,
            "csv_kib": len(csv_text.encode()) / 1024,
            "target": "< 2000 ms",
            "ok": total < 2.0,
        }
    ]


def _tile_rows(work: Path) -> list[dict[str, Any]]:
    import sqlite3

    from drone_patrol.dashboard.tiles import open_tiles
    from tests.dashboard.helpers import make_pmtiles

    side, z, x0, y0 = 180, 14, 13_200, 7_000
    tiles = [(z, x, y, b"\x89PNG" + (x * side + y).to_bytes(4, "big") * 64) for x in range(x0, x0 + side)
             for y in range(y0, y0 + side)]  # fmt: skip
    make_pmtiles(work / "city.pmtiles", tiles, leaf_size=4096)
    db = sqlite3.connect(work / "city.mbtiles")
    db.executescript(
        "CREATE TABLE metadata (name TEXT, value TEXT); INSERT INTO metadata VALUES ('format', 'png');"
        "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB);"
        "CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row);"
    )
    db.executemany("INSERT INTO tiles VALUES (?,?,?,?)", [(z, x, 2**z - 1 - y, d) for z, x, y, d in tiles])
    db.commit()
    db.close()
    rnd = random.Random(7)
    picks = [rnd.choice(tiles) for _ in range(5000)]
    rows = []
    for name in ("city.pmtiles", "city.mbtiles"):
        t = time.perf_counter()
        source = open_tiles(work / name)
        open_ms = (time.perf_counter() - t) * 1e3
        times_ms = []
        for z, x, y, data in picks:
            t = time.perf_counter()
            got = source.tile(z, x, y)
            times_ms.append((time.perf_counter() - t) * 1e3)
            assert got == data
        p99 = percentile(times_ms, 99)
        rows.append(
            {
                "case": f"{len(picks)} random tiles of {len(tiles)} from {name}",
                "n": len(picks),
                "file_kib": (work / name).stat().st_size / 1024,
                "open_ms": open_ms,
                "p50_ms": percentile(times_ms, 50),
                "p99_ms": p99,
                "target": "p99 < 5 ms",
                "ok": p99 < 5.0,
            }
        )
    return rows


def run() -> list[dict[str, Any]]:
    """The step round trip row, the report row and the offline tile rows."""
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp:
        work = Path(tmp)
        return [_step_row(work), *_report_rows(work), *_tile_rows(work)]
