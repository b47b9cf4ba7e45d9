"""A SITL vehicle's identity (AUTOPILOT_VERSION's board id) across power cycles, runs and vehicles.

SITL's board id is the host's /etc/machine-id with the ``-I`` instance added to its first
byte, so the project keys a SITL vehicle by its instance and picks its ports apart from it.
"""

from __future__ import annotations

import shutil

import pytest

from drone_patrol.controller import Vehicle
from drone_patrol.controller.identity import vehicle_identity
from tests.controller.missions import HOME
from tests.sitl.conftest import SITL_BIN, SITL_DEFAULTS, SPEEDUP, Sitl

pytestmark = pytest.mark.sitl


def _identity(sitl: Sitl) -> str:
    config = sitl.config()
    with Vehicle.connect(config.connection, config, timeout_s=120) as vehicle:
        return vehicle_identity(vehicle, "drone-1", timeout_s=10.0)


def test_a_sitl_vehicle_keeps_its_id_across_restarts_and_two_vehicles_differ() -> None:
    first = Sitl(SITL_BIN, HOME, speedup=SPEEDUP, defaults=SITL_DEFAULTS or None, instance=3)
    other = Sitl(SITL_BIN, HOME, speedup=SPEEDUP, defaults=SITL_DEFAULTS or None, instance=4)
    again = Sitl(SITL_BIN, HOME, speedup=SPEEDUP, defaults=SITL_DEFAULTS or None, instance=3)
    try:
        first.start(timeout_s=20.0)
        booted = _identity(first)
        first.restart(timeout_s=20.0)  # a battery swap: the same process directory, no -w
        assert _identity(first) == booted
        first.stop()
        again.start(timeout_s=20.0)  # another run of the same vehicle: a fresh directory, -w, other ports
        assert _identity(again) == booted
        other.start(timeout_s=20.0)
        assert _identity(other) != booted
        # the whole board id (SITL's: the machine id's first 17 ASCII characters), not a prefix of it
        assert booted.startswith("drone-1-") and len(booted) > len("drone-1-") + 12, booted
    finally:
        for sitl in (first, other, again):
            sitl.stop()
            shutil.rmtree(sitl.workdir, ignore_errors=True)
