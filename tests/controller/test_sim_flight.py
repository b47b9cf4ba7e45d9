"""Whole sorties against the simulated ArduCopter: patrol, battery failsafe, refused arm, pause and resume."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from drone_patrol.controller import ParameterError, PatrolExecutor, Phase, Vehicle, VehicleEvent
from drone_patrol.controller.params import Params
from drone_patrol.core.errors import CommandRejectedError, InputError, OperationTimeoutError, PreflightError
from drone_patrol.core.geo import distance_m
from drone_patrol.core.types import Mission
from tests.controller.missions import HOME, landed_near_home_or_rally, patrol_mission, small_mission

_PATROL: list[Mission] = []


def patrol() -> Mission:
    """The planner's first sortie of the sample areas (planned once per test session)."""
    if not _PATROL:
        _PATROL.append(patrol_mission())
    return _PATROL[0]


def _run_in_thread(executor: PatrolExecutor) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(executor.run()), daemon=True)
    thread.start()
    return thread, out


def test_full_patrol_flight_lands_at_home(sim: Any, vehicle: Vehicle, config: Any) -> None:
    mission = patrol()
    events: list[VehicleEvent] = []
    report = PatrolExecutor(vehicle, mission, config, on_event=events.append).run()
    assert report.outcome == "completed", report.summary()
    assert report.error is None
    truth = sim.truth()
    assert not truth.armed and truth.landed
    assert distance_m(truth.position, HOME) < 2.0
    assert report.landed_distance_from_home_m is not None and report.landed_distance_from_home_m < 2.0
    # every navigation item was reached, every key area entered and left in order
    assert len(report.reached_seqs) == report.waypoints_total
    assert set(report.areas_visited) == {span.area_name for span in mission.area_spans}
    kinds = [e.kind for e in events]
    assert kinds.count("area_entered") == kinds.count("area_left") >= len(report.areas_visited)
    phases = [p for _, p in report.phases]
    assert phases == [
        "preflight",
        "upload",
        "verify",
        "arm",
        "takeoff",
        "mission",
        "returning",
        "landed",
        "disarmed",
        "done",
    ]
    assert report.distance_flown_m > 1000.0 and report.max_relative_altitude_m == pytest.approx(40.0, abs=2.0)
    # preflight set the vehicle's own failsafes and read them back
    assert vehicle.params.get("FS_GCS_ENABLE") == 1
    assert vehicle.params.get("RTL_ALT") == 3000
    assert vehicle.params.get("FS_GCS_TIMEOUT") == 30
    assert "resume" not in report.summary()


def test_battery_failsafe_brings_it_home(sim: Any, vehicle: Vehicle, config: Any) -> None:
    events: list[VehicleEvent] = []
    mission = small_mission(legs=6)
    executor = PatrolExecutor(vehicle, mission, config, on_event=events.append)
    thread, out = _run_in_thread(executor)
    assert vehicle.wait_for(lambda s: s.mission_reached_seq >= 4, 30.0) is not None
    sim.set_battery_percent(22.0)
    thread.join(60.0)
    report = out[0]
    assert report.outcome == "returned_early", report.summary()
    assert "battery" in report.failsafes[0]
    low = [e for e in events if e.kind == "battery_low"]
    assert low and low[0].severity == "critical" and "22%" in low[0].message
    failsafe = [e for e in events if e.kind == "failsafe"]
    assert failsafe and failsafe[0].data["action"] == "rtl"
    assert not sim.truth().armed and landed_near_home_or_rally(sim.truth().position, mission)
    # the interrupted sortie can be resumed where it stopped
    assert report.resume_seq is not None and report.resume_seq >= 5


def test_resume_from_the_last_reached_item(sim: Any, vehicle: Vehicle, config: Any) -> None:
    mission = small_mission(legs=6)
    report = PatrolExecutor(vehicle, mission, config, resume_from_seq=6).run()
    assert report.outcome == "completed", report.summary()
    assert min(report.reached_seqs) >= 6  # items 1..5 were flown by the earlier sortie
    assert landed_near_home_or_rally(sim.truth().position, mission)


def test_refused_arm_is_reported_with_the_vehicle_reason(sim: Any, vehicle: Vehicle) -> None:
    assert vehicle.wait_for(lambda s: s.ekf_ok and s.gps_fix_type >= 3, 5.0) is not None
    # with the fence on (as preflight sets it) ArduCopter needs a 3D fix to arm
    vehicle.params.set("FENCE_ENABLE", 1)
    sim.set_gps(1, 3)
    assert vehicle.wait_for(lambda s: s.gps_fix_type == 1, 5.0) is not None
    with pytest.raises(CommandRejectedError) as caught:
        vehicle.action.arm()
    error = caught.value
    assert error.command == 400 and error.command_name == "MAV_CMD_COMPONENT_ARM_DISARM"
    assert error.result_name in ("MAV_RESULT_FAILED", "MAV_RESULT_DENIED", "MAV_RESULT_TEMPORARILY_REJECTED")
    assert "GPS 1: Bad fix" in str(error), str(error)  # "PreArm: ..." or "Arm: ..." from the vehicle
    assert not vehicle.state.armed


def test_preflight_refuses_without_gps_and_with_a_low_battery(sim: Any, vehicle: Vehicle, config: Any) -> None:
    config = config.model_copy(update={"gps_wait_s": 20.0})
    sim.set_gps(1, 3)
    report = PatrolExecutor(vehicle, small_mission(), config).run()
    assert report.outcome == "failed" and isinstance(report.error, PreflightError)
    assert "gps" in str(report.error) and "fix type 1" in str(report.error)
    sim.set_gps(3, 12)
    sim.set_battery_percent(30.0)
    assert vehicle.wait_for(lambda s: s.battery_percent is not None and s.battery_percent < 35, 5.0)
    report = PatrolExecutor(vehicle, patrol(), config).run()
    assert isinstance(report.error, PreflightError) and "battery: 30%" in str(report.error)
    assert not sim.truth().armed


def test_pause_resume_and_operator_rtl(sim: Any, vehicle: Vehicle, config: Any) -> None:
    mission = small_mission(legs=8)
    executor = PatrolExecutor(vehicle, mission, config)
    thread, out = _run_in_thread(executor)
    assert vehicle.wait_for(lambda s: s.mission_reached_seq >= 3, 30.0) is not None
    executor.pause()
    assert vehicle.wait_for(lambda s: s.mode == "BRAKE", 5.0) is not None
    assert vehicle.wait_for(lambda s: s.ground_speed_m_s < 0.3, 5.0) is not None
    held, seq = sim.truth().position, vehicle.state.mission_current_seq
    time.sleep(0.5)  # 20 vehicle seconds
    assert distance_m(sim.truth().position, held) < 25.0  # holding, give or take the sim's brake drift
    assert executor.phase == Phase.PAUSED and vehicle.state.mission_current_seq == seq
    executor.resume()
    assert vehicle.wait_for(lambda s: s.mode == "AUTO" and s.mission_reached_seq > seq, 10.0) is not None
    executor.request_rtl()
    thread.join(60.0)
    report = out[0]
    assert report.outcome == "returned_early" and "operator" in report.reason
    assert landed_near_home_or_rally(sim.truth().position, mission) and not sim.truth().armed


def test_parameters_are_read_back(vehicle: Vehicle) -> None:
    assert vehicle.params.set("RTL_ALT", 2500) == 2500
    assert vehicle.params.get("RTL_ALT") == 2500
    with pytest.raises(ParameterError, match="SIM_SPEEDUP"):
        vehicle.params.set("SIM_SPEEDUP", 1)  # read-only: the vehicle keeps its value
    quick = Params(vehicle.link, timeout_s=0.1, retries=1)
    with pytest.raises(OperationTimeoutError, match="NO_SUCH_PARAM"):
        quick.get("NO_SUCH_PARAM")
    with pytest.raises(InputError):
        vehicle.params.get("A_NAME_LONGER_THAN_16")
    with pytest.raises(InputError, match="not an ArduCopter mode"):
        vehicle.action.set_mode("HOVER")


def test_gps_loss_in_flight_lands_where_it_is(sim: Any, vehicle: Vehicle, config: Any) -> None:
    events: list[VehicleEvent] = []
    executor = PatrolExecutor(vehicle, small_mission(legs=6), config, on_event=events.append)
    thread, out = _run_in_thread(executor)
    assert vehicle.wait_for(lambda s: s.mission_reached_seq >= 3, 30.0) is not None
    sim.set_gps(1, 2)
    thread.join(60.0)
    report = out[0]
    assert report.outcome == "returned_early" and report.failsafes[0] == "gps", report.summary()
    assert any(e.kind == "gps_lost" and e.severity == "critical" for e in events)
    assert any(e.kind == "mode_changed" and e.data.get("mode") == "LAND" for e in events)
    assert not sim.truth().armed and sim.truth().landed


def test_abort_in_flight_returns_home_and_set_speed(sim: Any, vehicle: Vehicle, config: Any) -> None:
    mission = small_mission(legs=8)
    executor = PatrolExecutor(vehicle, mission, config)
    thread, out = _run_in_thread(executor)
    assert vehicle.wait_for(lambda s: s.mission_reached_seq >= 3 and s.mode == "AUTO", 30.0) is not None
    vehicle.action.set_speed(3.0)
    assert vehicle.wait_for(lambda s: 2.0 < s.ground_speed_m_s < 4.0, 5.0) is not None
    executor.abort()
    thread.join(60.0)
    report = out[0]
    assert report.outcome == "aborted" and report.reason == "aborted by the operator"
    assert any(p == "returning" for _, p in report.phases)
    assert not sim.truth().armed and landed_near_home_or_rally(sim.truth().position, mission)


def test_abort_before_take_off_flies_nothing(sim: Any, vehicle: Vehicle, config: Any) -> None:
    executor = PatrolExecutor(vehicle, small_mission(), config)
    executor.abort()
    report = executor.run()
    assert report.outcome == "aborted" and not sim.truth().armed


def test_return_requested_during_take_off_comes_straight_back(sim: Any, vehicle: Vehicle, config: Any) -> None:
    mission = small_mission(legs=8)
    executor = PatrolExecutor(vehicle, mission, config)
    thread, out = _run_in_thread(executor)
    assert vehicle.wait_for(lambda s: s.armed and s.relative_altitude_m > 2.0, 30.0) is not None
    executor.request_rtl()  # still climbing in GUIDED: the mission must not be started
    thread.join(60.0)
    report = out[0]
    assert report.outcome == "aborted" and "take-off" in report.reason
    assert not report.reached_seqs or max(report.reached_seqs) <= 1
    assert not any(p == "mission" for _, p in report.phases)
    assert not sim.truth().armed and landed_near_home_or_rally(sim.truth().position, mission)
