"""The controller through the faulty-link proxy: loss, duplicates, jitter, total loss, a cut mid-mission."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from drone_patrol.controller import PatrolExecutor, Vehicle, VehicleEvent
from drone_patrol.core.errors import LinkError, MissionTransferError
from drone_patrol.sim.copter import SimulatedCopter
from drone_patrol.sim.link import FaultyLink
from tests.controller.conftest import make_config
from tests.controller.missions import HOME, landed_near_home_or_rally, small_mission

# A lossy link's delays are wall-clock while the vehicle's re-request (1 s) and upload
# timeout (8 s) run on its clock, so the lossy-transfer test runs the vehicle at 5x.
SLOW_SPEEDUP = 5.0


@pytest.fixture
def slow_sim() -> Iterator[SimulatedCopter]:
    copter = SimulatedCopter(home=HOME, speedup=SLOW_SPEEDUP, seed=2)
    copter.start()
    try:
        yield copter
    finally:
        copter.stop()


def _proxy(port: int, **faults: Any) -> FaultyLink:
    return FaultyLink(target=("127.0.0.1", port), listen_host="127.0.0.1", listen_port=0, **faults).start()


def test_upload_through_20_percent_loss_each_way(slow_sim: SimulatedCopter) -> None:
    link = _proxy(slow_sim.port, drop=0.2, dup=0.02, delay_ms=30, jitter_ms=20, seed=7)
    try:
        # waits of 0.3 s: well above this link's 100 ms worst round trip
        config = make_config(f"tcp:127.0.0.1:{link.port}", speedup=SLOW_SPEEDUP, min_wall_timeout_s=0.3)
        with Vehicle.connect(config.connection, config, timeout_s=10) as vehicle:
            mission = small_mission(legs=6)
            started = time.monotonic()
            vehicle.mission.upload(mission)  # mission, fence, rally; then every list read back
            elapsed = time.monotonic() - started
            got = vehicle.mission.download()
            assert got.items == mission.items and got.fence == mission.fence
            assert got.rally_points == mission.rally_points
            assert vehicle.health.lost > 0  # the controller saw the loss in sequence gaps
        stats = link.stats
        assert stats.up.dropped > 0 and stats.down.dropped > 0 and stats.up.duplicated + stats.down.duplicated > 0
        assert elapsed < config.transfer_deadline_s
    finally:
        link.stop()


def test_total_loss_fails_with_a_transfer_error_inside_the_deadline(sim: SimulatedCopter) -> None:
    link = _proxy(sim.port)
    try:
        config = make_config(f"tcp:127.0.0.1:{link.port}", transfer_deadline_s=2.0)
        with Vehicle.connect(config.connection, config, timeout_s=10) as vehicle:
            link.cut()
            started = time.monotonic()
            with pytest.raises(MissionTransferError) as caught:
                vehicle.mission.upload(small_mission())
            elapsed = time.monotonic() - started
        assert elapsed < 2.5
        error = caught.value
        assert error.result == -1 and error.result_name == "TIMEOUT" and error.operation == "upload"
        assert str(error).startswith("mission upload failed: TIMEOUT (mission:")
    finally:
        link.stop()


def test_link_cut_mid_mission_vehicle_failsafe_reconnect_and_monitoring(sim: SimulatedCopter) -> None:
    link = _proxy(sim.port)
    try:
        config = make_config(f"tcp:127.0.0.1:{link.port}")
        events: list[VehicleEvent] = []
        with Vehicle.connect(config.connection, config, timeout_s=10) as vehicle:
            mission = small_mission(legs=8)
            executor = PatrolExecutor(vehicle, mission, config, on_event=events.append)
            out: list[Any] = []
            thread = threading.Thread(target=lambda: out.append(executor.run()), daemon=True)
            thread.start()
            assert vehicle.wait_for(lambda s: s.mission_reached_seq >= 4, 30.0) is not None
            # 2 wall seconds = 80 vehicle seconds: past FS_GCS_TIMEOUT (30 s), so the vehicle acts alone
            link.cut(duration_s=2.0)
            thread.join(60.0)
            report = out[0]
        kinds = [e.kind for e in events]
        assert "link_lost" in kinds and "link_restored" in kinds
        assert kinds.index("link_lost") < kinds.index("link_restored")
        assert any(e.kind == "mission_state" and "monitoring again" in e.message for e in events)
        # the vehicle's own GCS failsafe switched it to RTL while the controller could not talk to it
        assert any(e.kind == "mode_changed" and e.data.get("mode") == "RTL" for e in events)
        assert report.link_losses == 1 and report.outcome == "returned_early", report.summary()
        truth = sim.truth()
        assert truth.position is not None and not truth.armed
        assert landed_near_home_or_rally(truth.position, mission)
    finally:
        link.stop()


def test_closing_the_vehicle_ends_a_command_waiting_for_its_ack_at_once(
    sim: SimulatedCopter, caplog: pytest.LogCaptureFixture
) -> None:
    config = make_config(sim.connection_string, command_timeout_s=5.0, retries=2)
    vehicle = Vehicle.connect(config.connection, config, timeout_s=10)
    sim.stop()  # the vehicle goes silent: no COMMAND_ACK will come (up to 15 s of tries)
    outcome: dict[str, Any] = {}

    def ask() -> None:
        started = time.monotonic()
        try:
            vehicle.commander.request_message(242)  # HOME_POSITION
        except Exception as exc:  # what the caller gets is the point of the test
            outcome["error"], outcome["s"] = exc, time.monotonic() - started

    asking = threading.Thread(target=ask)
    asking.start()
    time.sleep(0.3)
    with caplog.at_level(logging.INFO, logger="drone_patrol.controller"):
        vehicle.close()
        asking.join(3.0)
        time.sleep(0.5)  # the connection's own setup thread also stops, and says nothing of it
    assert isinstance(outcome.get("error"), LinkError), outcome
    assert "closed" in str(outcome["error"]) and outcome["s"] < 1.5
    assert not [r for r in caplog.records if "home position not requested" in r.getMessage()]
