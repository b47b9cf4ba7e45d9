"""Fixtures: a real Mosquitto per module and a dashboard on a free port per test."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from drone_patrol.dashboard.app import Dashboard, DashboardOptions
from tests.brokers import MosquittoBroker, mosquitto_broker

AREAS = Path(__file__).resolve().parents[2] / "flight_plans" / "guilin_dongxi_xiang.geojson"


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoBroker]:
    with mosquitto_broker(tmp_path_factory.mktemp("mosquitto")) as b:
        yield b


@contextlib.contextmanager
def dashboards(broker_url: str, tmp_path: Path, **fixed: Any) -> Iterator[Callable[..., Dashboard]]:
    """Build and start dashboards on port 0 with a fresh archive (``fixed`` options on every one); all stopped."""
    started: list[Dashboard] = []

    def make(**overrides: Any) -> Dashboard:
        values: dict[str, Any] = {
            "broker_url": broker_url,
            "site": "dongxi",
            "archive_path": tmp_path / "dashboard.sqlite",
            "port": 0,
            "areas_file": AREAS,
            "client_id": f"dash-test-{uuid.uuid4().hex[:8]}",
            "offline_after_s": 5.0,
        }
        values.update(overrides)
        dash = Dashboard(DashboardOptions(**values, **fixed))
        dash.start()
        started.append(dash)
        assert dash.bridge.wait_connected(5), "dashboard did not connect to the broker"
        return dash

    try:
        yield make
    finally:
        for d in started:
            d.stop()


@pytest.fixture
def make_dashboard(broker: MosquittoBroker, tmp_path: Path) -> Iterator[Callable[..., Dashboard]]:
    """Build and start dashboards on port 0 with a fresh archive; all stopped at the end."""
    with dashboards(broker.url, tmp_path) as make:
        yield make
