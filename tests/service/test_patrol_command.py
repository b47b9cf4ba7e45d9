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

from tests.controller.missions import PATROL_PACK
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
        wait_for(lambda r: "-> mission" in r["message"], 90)
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


def test_leave_flying_exits_and_the_vehicles_own_gcs_failsafe_takes_over(tmp_path: Path) -> None:
    from drone_patrol.core.config import load_config
    from drone_patrol.mission.areas import load_areas
    from drone_patrol.service.session import site_home
    from drone_patrol.sim.copter import SimulatedCopter

    cfg_path = write_config(tmp_path)
    cfg = yaml.safe_load(cfg_path.read_text())
    settings = load_config(cfg_path, environ={})
    home = site_home(settings, load_areas(settings.site.areas_file))
    with SimulatedCopter(home=home, port=0, speedup=10, seed=2, params=PATROL_PACK) as sim:
        cfg["controller"]["connection"] = sim.connection_string
        cfg["controller"]["speedup"] = 10
        cfg_path.write_text(yaml.safe_dump(cfg))
        cmd = [sys.executable, "-m", "drone_patrol", "patrol", "--config", str(cfg_path), "--leave-flying"]
        log_file = (tmp_path / "patrol.log").open("w")
        proc = subprocess.Popen(cmd, cwd=ROOT, stderr=log_file, stdout=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 90
            while not (sim.truth().mode == "AUTO" and sim.truth().relative_altitude_m > 20):
                assert time.monotonic() < deadline, "never flew its mission"
                time.sleep(0.1)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
            log_file.close()
            assert "sortie 1: left flying" in (tmp_path / "patrol.log").read_text()
            assert sim.truth().armed and sim.truth().relative_altitude_m > 5  # still in the air, not landed
            deadline = time.monotonic() + 30  # FS_GCS_TIMEOUT 10 s of vehicle time at x10, then RTL
            while sim.truth().mode != "RTL":
                assert time.monotonic() < deadline, f"GCS failsafe did not act (mode {sim.truth().mode})"
                time.sleep(0.1)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
