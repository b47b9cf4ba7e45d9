"""Fixtures of the alerts tests: a real broker per test, Mosquitto or the embedded amqtt."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.brokers import amqtt_broker, mosquitto_broker


@pytest.fixture(params=["mosquitto", "amqtt"])
def any_broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    """A running broker; ``.url``, ``.port``, ``.stop()``, ``.start()``. The param names which."""
    if request.param == "mosquitto":
        with mosquitto_broker(tmp_path / "mosquitto") as broker:
            yield broker
    else:
        with amqtt_broker() as broker:
            yield broker
