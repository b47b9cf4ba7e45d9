"""ArduPilot SITL for the controller's real-autopilot tests.

Skipped unless ``ARDUPILOT_SITL`` names an ``arducopter`` binary. ``ARDUPILOT_SITL_DEFAULTS``
may name the frame defaults (ArduPilot's ``Tools/autotest/default_params/copter.parm``);
without them SITL never becomes armable. ``ARDUPILOT_SITL_SPEEDUP`` sets the speedup (10).

The fixture starts SITL in its own temporary directory with a free instance number,
hands out its connection string, and stops it afterwards. SITL boots only once a
client connects to TCP 5760 + 10 * N, so the first ``Vehicle.connect`` waits for the boot.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from drone_patrol.core.config import ControllerConfig
from drone_patrol.core.types import GeoPoint
from tests.controller.missions import HOME

SITL_BIN = os.environ.get("ARDUPILOT_SITL", "")
SITL_DEFAULTS = os.environ.get("ARDUPILOT_SITL_DEFAULTS", "")
SPEEDUP = float(os.environ.get("ARDUPILOT_SITL_SPEEDUP", "10"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if SITL_BIN and Path(SITL_BIN).is_file() and os.access(SITL_BIN, os.X_OK):
        return
    skip = pytest.mark.skip(reason="ARDUPILOT_SITL does not name an arducopter binary")
    for item in items:
        if "sitl" in item.keywords:
            item.add_marker(skip)


def _ports_free(instance: int) -> bool:
    for port in range(5760 + 10 * instance, 5764 + 10 * instance):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def _port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def free_instance() -> int:
    """An instance number whose SITL ports (5760 + 10 N .. 5763 + 10 N) are all free."""
    candidates = list(range(20, 60))
    random.shuffle(candidates)
    for n in candidates:
        if _ports_free(n):
            return n
    raise RuntimeError("no free SITL instance number in 20..59")


@dataclass
class Sitl:
    """A running SITL process."""

    process: subprocess.Popen[bytes]
    instance: int
    workdir: Path
    speedup: float
    home: GeoPoint

    @property
    def connection(self) -> str:
        return f"tcp:127.0.0.1:{5760 + 10 * self.instance}"

    def config(self, **overrides: object) -> ControllerConfig:
        """A controller config for this SITL (its speedup; failsafe timeouts that survive the speedup)."""
        base = ControllerConfig(connection=self.connection, speedup=self.speedup, telemetry_hz=2.0)
        data = base.model_dump()
        data.update(overrides)
        return ControllerConfig.model_validate(data)

    def log_tail(self, lines: int = 30) -> str:
        path = self.workdir / "sitl.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_sitl(home: GeoPoint = HOME, heading_deg: float = 0.0, speedup: float = SPEEDUP) -> Sitl:
    """Start arducopter (``--model + -w``) in a fresh directory; the caller must ``stop()`` it."""
    instance = free_instance()
    workdir = Path(tempfile.mkdtemp(prefix=f"sitl-{instance}-", dir="/tmp"))
    cmd = [
        SITL_BIN,
        "--model",
        "+",
        "--speedup",
        f"{speedup:g}",
        "--home",
        f"{home.latitude_deg},{home.longitude_deg},{home.altitude_m},{heading_deg}",
        "-I",
        str(instance),
        "-w",
    ]
    if SITL_DEFAULTS:
        cmd[3:3] = ["--defaults", SITL_DEFAULTS]
    log = (workdir / "sitl.log").open("wb")
    process = subprocess.Popen(cmd, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
    sitl = Sitl(process, instance, workdir, speedup, home)
    # wait until it listens on its first TCP port (seen as the port being taken, without
    # connecting: the first client to connect starts the boot and should be the controller)
    deadline = time.monotonic() + 20.0
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"SITL exited with {process.returncode}:\n{sitl.log_tail()}")
        if _port_taken(5760 + 10 * instance):
            return sitl
        time.sleep(0.1)
    sitl.stop()
    raise RuntimeError(f"SITL did not listen on TCP {5760 + 10 * instance}:\n{sitl.log_tail()}")


@pytest.fixture
def sitl() -> Iterator[Sitl]:
    """A fresh SITL per test, stopped afterwards (its directory is removed when the test passed)."""
    instance = start_sitl()
    try:
        yield instance
    finally:
        instance.stop()
        shutil.rmtree(instance.workdir, ignore_errors=True)
