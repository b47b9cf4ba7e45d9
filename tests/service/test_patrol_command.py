"""``drone-patrol patrol`` as a process: JSON logs, metrics and health while flying, SIGTERM -> RTL -> landed."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import yaml

from tests.service.test_patrol_e2e import ROOT, SCENARIOS, two_cell_areas


def write_config(tmp_path: Path) -> Path:
    cfg = {
        "site": {"areas_file": str(two_cell_areas(tmp_path)), "data_dir": str(tmp_path / "var")},
        "sim": {"scenario": str(SCENARIOS / "fires_in_alleys.geojson"), "speedup": 10},
        "alerts": {"embedded_broker": True, "outbox_path": str(tmp_path / "var" / "outbox.sqlite")},
        "controller": {"failsafe": {"fs_gcs_timeout_s": 10}},
        "service": {"log_format": "json", "metrics_port": 0, "report_dir": str(tmp_path / "out")},
    }
    path = tmp_path / "patrol.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_sigterm_returns_home_lands_and_exits_cleanly(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "drone_patrol", "patrol", "--config", str(write_config(tmp_path)), "--sim"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stderr or []], daemon=True).start()
    records: list[dict] = []

    def wait_for(pred, timeout_s: float) -> dict:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                raw = lines.get(timeout=0.5)
            except queue.Empty:
                continue
            try:
                rec = json.loads(raw)
            except json.JSONDecodeError:
                raise AssertionError(f"not a JSON log line: {raw!r}") from None
            records.append(rec)
            if pred(rec):
                return rec
        raise AssertionError(f"timed out; last lines: {[r['message'] for r in records[-8:]]}")

    try:
        rec = wait_for(lambda r: "metrics and health on" in r["message"], 60)
        port = int(re.search(r"127\.0\.0\.1:(\d+)/metrics", rec["message"]).group(1))  # type: ignore[union-attr]
        wait_for(lambda r: "took_off" in r["message"] or "-> monitor" in r["message"], 90)
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        assert "dronepatrol_outbox_depth" in body and "dronepatrol_link_heartbeat_age_seconds" in body
        health = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).read())
        assert health["ok"] is True
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 0
        time.sleep(0.5)
        while not lines.empty():
            records.append(json.loads(lines.get()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    messages = " | ".join(r["message"] for r in records)
    assert "SIGTERM: stopping, returning home" in messages
    assert "-> RTL" in messages and "landed" in messages
    assert "sortie 1: returned_early" in messages
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
