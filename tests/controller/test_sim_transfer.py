"""Mission, fence and rally transfer against the simulated ArduCopter over TCP."""

from __future__ import annotations

import time
from typing import Any

import pytest

from drone_patrol.controller import Vehicle
from drone_patrol.controller.items import list_differences, mission_to_wire
from drone_patrol.core.errors import MissionTransferError
from drone_patrol.core.types import MissionType
from tests.controller.conftest import make_config
from tests.controller.missions import HOME, big_mission, small_mission


def test_connect_discovers_the_autopilot_and_streams_telemetry(vehicle: Vehicle) -> None:
    assert (vehicle.link.target_system, vehicle.link.target_component) == (1, 1)
    state = vehicle.wait_for(lambda s: s.position is not None and s.home is not None and s.ekf_ok, 5.0)
    assert state is not None
    assert state.mode == "STABILIZE" and not state.armed and state.landed
    assert state.battery_percent == pytest.approx(100.0, abs=1.0)
    assert abs(state.position.latitude_deg - HOME.latitude_deg) < 1e-5  # type: ignore[union-attr]
    assert vehicle.health.received > 10 and vehicle.health.loss_fraction == 0.0


def test_mission_fence_and_rally_upload_and_read_back(vehicle: Vehicle) -> None:
    mission = small_mission()
    done: list[tuple[int, int]] = []
    vehicle.mission.upload(mission, progress=lambda n, total: done.append((n, total)))
    assert done[-1][0] == done[-1][1] == len(mission.items) + 1 + 4 + 1 + 1 + 2
    got = vehicle.mission.download()
    assert got.items == mission.items
    assert got.fence == mission.fence
    assert got.rally_points == mission.rally_points
    vehicle.mission.clear()
    assert vehicle.mission.transfer.download(MissionType.FENCE) == []
    assert vehicle.mission.transfer.download(MissionType.RALLY) == []
    assert len(vehicle.mission.transfer.download(MissionType.MISSION)) <= 1


def test_upload_of_700_items(vehicle: Vehicle) -> None:
    big = big_mission(700)
    vehicle.mission.upload_items(big)
    items = vehicle.mission.transfer.download(MissionType.MISSION)
    assert len(items) == 701
    assert list_differences(mission_to_wire(big), items, skip_home=True) == []


def test_verify_reports_a_mismatch(vehicle: Vehicle) -> None:
    mission = small_mission()
    vehicle.mission.upload(mission)
    other = small_mission(altitude_m=35.0)
    with pytest.raises(MissionTransferError) as caught:
        vehicle.mission.verify(other)
    assert caught.value.operation == "verify" and "seq 1: altitude 35.00 != 20.00" in str(caught.value)


def test_silent_vehicle_fails_with_timeout_inside_the_deadline(sim: Any) -> None:
    config = make_config(sim.connection_string, transfer_deadline_s=1.5, item_timeout_s=10.0)
    with Vehicle.connect(config.connection, config, timeout_s=10) as vehicle:
        sim.stop()  # the vehicle goes silent: every MISSION_COUNT is lost
        started = time.monotonic()
        with pytest.raises(MissionTransferError) as caught:
            vehicle.mission.upload_items(small_mission())
        elapsed = time.monotonic() - started
    assert elapsed < 2.0
    assert caught.value.result == -1 and caught.value.result_name == "TIMEOUT"
    assert caught.value.operation == "upload" and "mission" in str(caught.value)
