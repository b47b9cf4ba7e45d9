"""Fixtures: a real Mosquitto per module and a dashboard on a free port per test."""

from __future__ import annotations

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


@pytest.fixture
def make_dashboard(broker: MosquittoBroker, tmp_path: Path) -> Iterator[Callable[..., Dashboard]]:
    """Build and start dashboards on port 0 with a fresh archive; all stopped at the end."""
    started: list[Dashboard] = []

    def make(**overrides: Any) -> Dashboard:
        values: dict[str, Any] = {
            "broker_url": broker.url,
            "site": "dongxi",
            "archive_path": tmp_path / "dashboard.sqlite",
            "port": 0,
            "areas_file": AREAS,
            "client_id": f"dash-test-{uuid.uuid4().hex[:8]}",
            "offline_after_s": 5.0,
        }
        values.update(overrides)
        dash = Dashboard(DashboardOptions(**values))
        dash.start()
        started.append(dash)
        assert dash.bridge.wait_connected(5), "dashboard did not connect to the broker"
        return dash

    yield make
    for d in started:
        d.stop()
