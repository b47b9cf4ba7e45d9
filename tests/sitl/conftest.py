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
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from drone_patrol.core.config import ControllerConfig
from drone_patrol.core.types import GeoPoint
from drone_patrol.service.sitl import SitlProcess
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


class Sitl(SitlProcess):
    """A running SITL, with what the controller tests need to talk to it."""

    @property
    def connection(self) -> str:
        return self.connection_string

    def config(self, **overrides: object) -> ControllerConfig:
        """A controller config for this SITL (its speedup; failsafe timeouts that survive the speedup)."""
        base = ControllerConfig(connection=self.connection, speedup=self.speedup, telemetry_hz=2.0)
        data = base.model_dump()
        data.update(overrides)
        return ControllerConfig.model_validate(data)


def start_sitl(home: GeoPoint = HOME, heading_deg: float = 0.0, speedup: float = SPEEDUP) -> Sitl:
    """Start arducopter (``--model + -w``) in a fresh directory; the caller must ``stop()`` it."""
    sitl = Sitl(SITL_BIN, home, heading_deg=heading_deg, speedup=speedup, defaults=SITL_DEFAULTS or None)
    try:
        sitl.start(timeout_s=20.0)
    except Exception as exc:
        raise RuntimeError(f"{exc}\n{sitl.log_tail()}") from exc
    return sitl


@pytest.fixture
def sitl() -> Iterator[Sitl]:
    """A fresh SITL per test, stopped afterwards (its directory is removed)."""
    instance = start_sitl()
    try:
        yield instance
    finally:
        instance.stop()
        shutil.rmtree(instance.workdir, ignore_errors=True)
