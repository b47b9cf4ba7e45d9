"""Fixtures: a simulated copter on a free port and a pymavlink ground station connected to it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from drone_patrol.core.types import GeoPoint
from drone_patrol.sim.copter import SimulatedCopter
from tests.sim.gcs import Gcs

HOME = GeoPoint(-35.363261, 149.165230, 584.0)


@pytest.fixture
def make_sim() -> Iterator[Callable[..., SimulatedCopter]]:
    sims: list[SimulatedCopter] = []

    def make(**kwargs: object) -> SimulatedCopter:
        kwargs.setdefault("home", HOME)
        kwargs.setdefault("speedup", 10.0)
        sim = SimulatedCopter(**kwargs).start()  # type: ignore[arg-type]
        sims.append(sim)
        return sim

    yield make
    for sim in sims:
        sim.stop()


@pytest.fixture
def make_gcs() -> Iterator[Callable[..., Gcs]]:
    clients: list[Gcs] = []

    def make(sim_or_port: SimulatedCopter | int, streams_hz: int = 4, **kwargs: object) -> Gcs:
        port = sim_or_port if isinstance(sim_or_port, int) else sim_or_port.port
        g = Gcs(f"tcp:127.0.0.1:{port}", **kwargs)  # type: ignore[arg-type]
        clients.append(g)
        assert g.recv("HEARTBEAT", 5.0) is not None
        if streams_hz:
            g.request_streams(streams_hz)
        return g

    yield make
    for g in clients:
        g.close()


def wait_until(cond: Callable[[], bool], timeout: float = 10.0, step: float = 0.01) -> bool:
    """Poll ``cond`` until true or ``timeout`` wall seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    return cond()


def wait_sim_time(sim: SimulatedCopter, t_s: float, timeout: float = 20.0) -> None:
    assert wait_until(lambda: sim.sim_time_s >= t_s, timeout), f"sim time stuck at {sim.sim_time_s}"
