"""The controller against real ArduCopter SITL: transfers, a refused arm, a whole patrol flight."""

from __future__ import annotations

import threading
import time

import pytest

from drone_patrol.controller import PatrolExecutor, Vehicle, VehicleEvent
from drone_patrol.controller.items import list_differences, mission_to_wire
from drone_patrol.core.errors import CommandRejectedError, MissionTransferError
from drone_patrol.core.geo import distance_m
from drone_patrol.core.types import MissionType
from tests.controller.missions import big_mission, landed_near_home_or_rally, small_mission
from tests.sitl.conftest import Sitl

pytestmark = pytest.mark.sitl

BOOT_TIMEOUT_S = 60.0


def _patrol_mission(sitl: Sitl):  # type: ignore[no-untyped-def]
    try:
        from tests.controller.missions import patrol_mission

        return patrol_mission()
    except ImportError:
        return small_mission(sitl.home)


def test_refused_arm_carries_the_prearm_reason(sitl: Sitl) -> None:
    with Vehicle.connect(sitl.connection, sitl.config(), timeout_s=BOOT_TIMEOUT_S) as vehicle:
        # seconds after boot the EKF has no GPS position yet; ArduCopter refuses and says why
        with pytest.raises(CommandRejectedError) as caught:
            vehicle.action.arm()
        error = caught.value
        assert error.command == 400 and error.result_name.startswith("MAV_RESULT_")
        assert "Arm" in str(error), str(error)  # "PreArm: ..." or "Arm: ..." from the vehicle
        assert not vehicle.state.armed


def test_mission_fence_rally_and_700_items_round_trip(sitl: Sitl) -> None:
    with Vehicle.connect(sitl.connection, sitl.config(), timeout_s=BOOT_TIMEOUT_S) as vehicle:
        mission = small_mission(sitl.home)
        vehicle.mission.upload(mission)  # verifies by reading back
        got = vehicle.mission.download()
        assert len(got.items) == len(mission.items)
        assert [p.vertices for p in got.fence.polygons] == [p.vertices for p in mission.fence.polygons]
        assert got.fence.circles[0].radius_m == pytest.approx(mission.fence.circles[0].radius_m)
        assert got.rally_points == pytest.approx(mission.rally_points) or len(got.rally_points) == 2

        # ArduCopter SITL keeps 650 items with home ("Only 650 items are supported"):
        # 700 is refused cleanly with NO_SPACE, and the largest list round-trips
        with pytest.raises(MissionTransferError) as caught:
            vehicle.mission.upload_items(big_mission(700, sitl.home))
        assert caught.value.result_name == "MAV_MISSION_NO_SPACE" and "count of 701" in str(caught.value)
        big = big_mission(649, sitl.home)
        started = time.monotonic()
        vehicle.mission.upload_items(big)
        upload_s = time.monotonic() - started
        items = vehicle.mission.transfer.download(MissionType.MISSION)
        assert list_differences(mission_to_wire(big), items, skip_home=True) == []
        print(f"SITL: 649 items uploaded in {upload_s:.2f} s")

        vehicle.mission.clear()
        assert len(vehicle.mission.transfer.download(MissionType.MISSION)) <= 1  # home may stay


def test_upload_to_sitl_through_a_lossy_link(sitl: Sitl) -> None:
    link_mod = pytest.importorskip("drone_patrol.sim.link")
    # SITL boots on its first client; let the proxy be that client
    proxy = link_mod.FaultyLink(
        target=("127.0.0.1", sitl.port),
        listen_host="127.0.0.1",
        listen_port=0,
        drop=0.2,
        dup=0.02,
        delay_ms=30,
        jitter_ms=20,
        seed=3,
    )
    proxy.start()
    try:
        config = sitl.config(connection=f"tcp:127.0.0.1:{proxy.port}")
        with Vehicle.connect(config.connection, config, timeout_s=BOOT_TIMEOUT_S) as vehicle:
            mission = small_mission(sitl.home, legs=20)
            vehicle.mission.upload(mission)
            assert vehicle.health.lost > 0
            # ArduPilot kept exactly the items sent ahead of its requests (twice each once the link shows loss)
            items = vehicle.mission.transfer.download(MissionType.MISSION)
            assert list_differences(mission_to_wire(mission), items, skip_home=True) == []
    finally:
        proxy.stop()


def test_transfer_to_a_silent_vehicle_fails_cleanly(sitl: Sitl) -> None:
    link_mod = pytest.importorskip("drone_patrol.sim.link")
    proxy = link_mod.FaultyLink(target=("127.0.0.1", sitl.port), listen_port=0, seed=4)
    proxy.start()
    try:
        config = sitl.config(connection=f"tcp:127.0.0.1:{proxy.port}", transfer_deadline_s=6.0)
        with Vehicle.connect(config.connection, config, timeout_s=BOOT_TIMEOUT_S) as vehicle:
            proxy.cut()
            started = time.monotonic()
            with pytest.raises(MissionTransferError) as caught:
                vehicle.mission.upload_items(small_mission(sitl.home))
            assert time.monotonic() - started < 6.5
            assert caught.value.result_name == "TIMEOUT" and caught.value.operation == "upload"
    finally:
        proxy.stop()


def test_patrol_flight_lands_at_home(sitl: Sitl) -> None:
    mission = _patrol_mission(sitl)
    events: list[VehicleEvent] = []
    # FS_GCS_TIMEOUT is vehicle time: at speedup 10, 5 s is half a wall second; give it room
    config = sitl.config(failsafe={"fs_gcs_timeout_s": 30.0, "fence_alt_max_m": 120.0})
    with Vehicle.connect(sitl.connection, config, timeout_s=BOOT_TIMEOUT_S) as vehicle:
        report = PatrolExecutor(vehicle, mission, config, on_event=events.append).run()
        assert vehicle.params.get("FS_GCS_ENABLE") == config.failsafe.fs_gcs_enable
        assert int(vehicle.params.get("FS_OPTIONS")) & 16 == 0  # ArduCopter's default 16, cleared by preflight
        final = vehicle.state
    print(report.summary())
    for e in events:
        if e.kind not in ("waypoint_reached",):
            print(f"  {e.time_s - report.started_s:7.2f} {e.kind}: {e.message}")
    assert report.outcome == "completed", report.summary()
    assert not final.armed and final.landed
    assert report.landed_at is not None
    assert distance_m(report.landed_at, sitl.home) < 5.0
    kinds = {e.kind for e in events}
    assert {"mission_state", "waypoint_reached", "armed", "took_off", "landed", "disarmed"} <= kinds
    assert report.last_reached_seq >= len(mission.items) - 1
    if mission.area_spans:
        assert "area_entered" in kinds and report.areas_visited


def test_link_cut_mid_mission_sitl_gcs_failsafe_and_reconnect(sitl: Sitl) -> None:
    link_mod = pytest.importorskip("drone_patrol.sim.link")
    proxy = link_mod.FaultyLink(target=("127.0.0.1", sitl.port), listen_port=0, seed=5)
    proxy.start()
    try:
        # FS_GCS_TIMEOUT 30 vehicle seconds = 3 wall seconds at 10x; the cut lasts 6
        config = sitl.config(connection=f"tcp:127.0.0.1:{proxy.port}", failsafe={"fs_gcs_timeout_s": 30.0})
        mission = small_mission(sitl.home, legs=8)
        events: list[VehicleEvent] = []
        with Vehicle.connect(config.connection, config, timeout_s=BOOT_TIMEOUT_S) as vehicle:
            executor = PatrolExecutor(vehicle, mission, config, on_event=events.append)
            out: list[object] = []
            thread = threading.Thread(target=lambda: out.append(executor.run()), daemon=True)
            thread.start()
            assert vehicle.wait_for(lambda s: s.mission_reached_seq >= 4, 120.0) is not None
            proxy.cut(duration_s=6.0)
            thread.join(180.0)
            final = vehicle.state
        report = out[0]
        kinds = [e.kind for e in events]
        assert "link_lost" in kinds and "link_restored" in kinds, kinds
        assert any(e.kind == "statustext" and "GCS Failsafe" in e.message for e in events)
        assert any(e.kind == "mission_state" and "monitoring again" in e.message for e in events)
        assert not final.armed and final.position is not None
        assert landed_near_home_or_rally(final.position, mission, tolerance_m=5.0), report
    finally:
        proxy.stop()


def test_battery_failsafe_set_by_preflight_brings_sitl_home(sitl: Sitl) -> None:
    """Preflight sets BATT_FS_LOW_ACT=2 (RTL); a sagging simulated battery trips it mid-mission."""
    config = sitl.config(failsafe={"fs_gcs_timeout_s": 30.0})
    mission = small_mission(sitl.home, legs=8)
    events: list[VehicleEvent] = []
    with Vehicle.connect(sitl.connection, config, timeout_s=BOOT_TIMEOUT_S) as vehicle:
        executor = PatrolExecutor(vehicle, mission, config, on_event=events.append)
        out: list[object] = []
        thread = threading.Thread(target=lambda: out.append(executor.run()), daemon=True)
        thread.start()
        assert vehicle.wait_for(lambda s: s.mission_reached_seq >= 4, 120.0) is not None
        assert vehicle.params.get("BATT_FS_LOW_ACT") == 2
        vehicle.params.set("SIM_BATT_VOLTAGE", 10.0)  # below BATT_LOW_VOLT (10.5 V) for BATT_LOW_TIMER
        thread.join(180.0)
        final = vehicle.state
    report = out[0]
    assert any(e.kind == "statustext" and "Battery 1 is low" in e.message for e in events), report
    assert any(e.kind == "mode_changed" and e.data.get("mode") in ("RTL", "SMART_RTL") for e in events)
    assert not final.armed and final.position is not None
    assert landed_near_home_or_rally(final.position, mission, tolerance_m=5.0)
