"""The simulated ArduCopter on a real TCP socket, fast through its speedup."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from drone_patrol.controller import Vehicle
from drone_patrol.core.config import ControllerConfig
from tests.controller.missions import HOME, PATROL_PACK

SPEEDUP = 40.0


def make_config(connection: str, **overrides: Any) -> ControllerConfig:
    """Controller settings for the simulator at ``SPEEDUP``.

    FS_GCS_TIMEOUT runs on the vehicle's clock: 5 s would be an eighth of a wall second at 40x,
    less than a busy CI machine may stall a thread, so tests give it 30 vehicle seconds.
    """
    data: dict[str, Any] = {
        "connection": connection,
        "speedup": SPEEDUP,
        "telemetry_hz": 1.0,
        "failsafe": {"fs_gcs_timeout_s": 30.0},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return ControllerConfig.model_validate(data)


@pytest.fixture
def sim() -> Iterator[Any]:
    from drone_patrol.sim.copter import SimulatedCopter

    copter = SimulatedCopter(home=HOME, speedup=SPEEDUP, seed=1, params=PATROL_PACK)
    copter.start()
    try:
        yield copter
    finally:
        copter.stop()


@pytest.fixture
def config(sim: Any) -> ControllerConfig:
    return make_config(sim.connection_string)


@pytest.fixture
def vehicle(sim: Any, config: ControllerConfig) -> Iterator[Vehicle]:
    v = Vehicle.connect(config.connection, config, timeout_s=10)
    try:
        yield v
    finally:
        v.close()
