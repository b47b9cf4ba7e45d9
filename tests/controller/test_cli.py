"""``drone-patrol fly``, ``mission`` and ``status`` as a user runs them, against the simulator."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from drone_patrol.mission import read_waypoints, write_plan
from tests.controller.conftest import SPEEDUP
from tests.controller.missions import AREAS, small_mission

CONFIG = """
controller:
  telemetry_hz: 1
  failsafe:
    fs_gcs_timeout_s: 30
"""


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "drone_patrol", *args], capture_output=True, text=True, timeout=timeout
    )


def _config(tmp_path: Path) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG + f"site:\n  data_dir: {tmp_path / 'var'}\n")
    return str(path)


def test_fly_a_plan_file(sim: Any, tmp_path: Path) -> None:
    plan = write_plan(small_mission(), tmp_path / "small.plan")
    out = run(
        "fly", str(plan), "--connect", sim.connection_string, "--speedup", str(SPEEDUP), "--config", _config(tmp_path)
    )
    assert out.returncode == 0, out.stderr
    assert "patrol small: completed" in out.stdout
    assert "items reached 6/6" in out.stdout and "landed" in out.stdout
    assert "mission -> returning" in out.stderr  # the event log on stderr
    assert not sim.truth().armed
    # the vehicle was unknown: judged by the config, and its profile learned from this flight
    assert "no consumption profile of drone-1-1 yet" in out.stderr
    assert "by the config's endurance, no profile yet)" in out.stdout
    assert "profile learned: vehicle drone-1-1 (1 flight" in out.stderr and "battery used" in out.stdout
    assert (tmp_path / "var" / "vehicles" / "drone-1-1.json").is_file()


def test_fly_dry_run_uploads_and_verifies_only(sim: Any, tmp_path: Path) -> None:
    plan = write_plan(small_mission(), tmp_path / "small.plan")
    out = run(
        "fly",
        str(plan),
        "--dry-run",
        "--connect",
        sim.connection_string,
        "--speedup",
        str(SPEEDUP),
        "--config",
        _config(tmp_path),
    )
    assert out.returncode == 0, out.stderr
    assert "uploaded" in out.stdout and not sim.truth().armed


def test_fly_an_area_file_says_to_plan_it_first(tmp_path: Path) -> None:
    out = run("fly", str(AREAS), "--connect", "tcp:127.0.0.1:9")
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "plan it first" in out.stderr


def test_fly_with_no_vehicle_is_one_line(tmp_path: Path) -> None:
    plan = write_plan(small_mission(), tmp_path / "small.plan")
    out = run("fly", str(plan), "--connect", "tcp:127.0.0.1:9")
    assert out.returncode == 1 and out.stderr.count("\n") == 1
    assert "drone-patrol: error: connection 'tcp:127.0.0.1:9': cannot open" in out.stderr


def test_mission_upload_download_clear_and_status(sim: Any, tmp_path: Path) -> None:
    conn = ["--connect", sim.connection_string, "--speedup", str(SPEEDUP), "--config", _config(tmp_path)]
    plan = write_plan(small_mission(), tmp_path / "small.plan")
    up = run("mission", "upload", str(plan), *conn)
    assert up.returncode == 0, up.stderr
    assert "uploaded 7 items, 6 fence items, 2 rally points" in up.stdout and "(verified)" in up.stdout
    down = run("mission", "download", str(tmp_path / "got.waypoints"), *conn)
    assert down.returncode == 0, down.stderr
    assert read_waypoints(tmp_path / "got.waypoints").items == small_mission().items
    status = run("status", *conn)
    assert status.returncode == 0, status.stderr
    assert "mode      STABILIZE (disarmed, landed)" in status.stdout and "fix 3" in status.stdout
    clear = run("mission", "clear", *conn)
    assert clear.returncode == 0 and "cleared" in clear.stdout
