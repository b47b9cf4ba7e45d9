"""A mission is checked against the vehicle and the site before anything is sent, dry run or not."""

from __future__ import annotations

import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from drone_patrol.controller.mission_check import mission_problems
from drone_patrol.core.config import ControllerConfig
from drone_patrol.core.geo import destination
from drone_patrol.core.types import GeoPoint, MavCmd, MavFrame, Mission, Waypoint
from drone_patrol.mission import write_plan
from drone_patrol.mission.wpl import write_waypoints
from tests.controller.conftest import SPEEDUP
from tests.controller.missions import HOME, patrol_mission, small_mission


def _with_item(mission: Mission, index: int, item: Waypoint) -> Mission:
    items = list(mission.items)
    items[index] = item
    return replace(mission, items=tuple(items))


def _wp(point: GeoPoint, altitude_m: float, frame: int = MavFrame.GLOBAL_RELATIVE_ALT_INT) -> Waypoint:
    return Waypoint(MavCmd.NAV_WAYPOINT, frame=frame, latitude_deg=point.latitude_deg,
                    longitude_deg=point.longitude_deg, altitude_m=altitude_m)  # fmt: skip


CONFIG = ControllerConfig()
FAR = GeoPoint(48.8584, 2.2945)  # Paris, about 9,400 km from Guilin


def test_good_missions_pass() -> None:
    assert mission_problems(small_mission(), CONFIG, vehicle_home=HOME) == []
    assert mission_problems(patrol_mission(), CONFIG) == []
    assert mission_problems(small_mission(), CONFIG, resume_from_seq=3) == []


@pytest.mark.parametrize(
    ("mission", "kwargs", "reason"),
    [
        (replace(small_mission(), items=()), {}, "the mission has no items"),
        (_with_item(small_mission(), 2, _wp(destination(HOME, 0, 60), 10_000.0)), {},
         "item 3 (NAV_WAYPOINT): altitude 10000 m above home is over the 120 m ceiling"),
        (_with_item(small_mission(), 2, _wp(destination(HOME, 0, 60), -30.0)), {},
         "item 3 (NAV_WAYPOINT): altitude -30 m is below home"),
        (_with_item(small_mission(), 2, _wp(destination(HOME, 0, 60), 10_150.0, MavFrame.GLOBAL_INT)), {},
         "altitude 10000 m above home is over the 120 m ceiling"),
        (_with_item(small_mission(), 2, _wp(FAR, 30.0)), {},
         "item 3 (NAV_WAYPOINT): 9"),
        (_with_item(small_mission(), 2, _wp(destination(HOME, 0, 500), 30.0)), {},
         "item 3 (NAV_WAYPOINT): outside inclusion fence polygon 1"),
        (_with_item(small_mission(), 2, _wp(destination(HOME, 30, 300), 30.0)), {},
         "item 3 (NAV_WAYPOINT): inside exclusion fence circle 1"),
        (small_mission(), {"resume_from_seq": 999}, "resume from item 999: the mission has items 1..7"),
        (small_mission(), {"vehicle_home": FAR}, "planned home (25.282159, 110.296202) is 9"),
    ],
)  # fmt: skip
def test_each_unsafe_mission_is_refused_with_its_reason(mission: Mission, kwargs: dict[str, Any], reason: str) -> None:
    problems = mission_problems(mission, CONFIG, **kwargs)
    assert any(reason in p for p in problems), problems


def test_home_circle_applies_without_uploaded_zones() -> None:
    mission = replace(small_mission(), fence=replace(small_mission().fence, polygons=(), circles=()))
    far = _with_item(mission, 2, _wp(destination(HOME, 90, 450), 30.0))
    assert mission_problems(far, CONFIG) == ["item 3 (NAV_WAYPOINT): 450 m from home, outside the 300 m fence circle"]
    no_fence = ControllerConfig.model_validate({"failsafe": {"fence_enable": 0}})
    assert mission_problems(far, no_fence) == []


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "drone_patrol", *args], capture_output=True, text=True, timeout=120, check=False
    )


def _config(tmp_path: Path) -> str:
    path = tmp_path / "c.yaml"
    path.write_text("controller:\n  telemetry_hz: 1.0\n  failsafe:\n    fs_gcs_timeout_s: 30\n")
    return str(path)


def test_dry_run_and_upload_refuse_an_unsafe_mission(sim: Any, tmp_path: Path) -> None:
    bad = _with_item(small_mission(), 2, _wp(destination(HOME, 0, 60), 10_000.0))
    bad = _with_item(bad, 3, _wp(FAR, 30.0))
    plan = write_plan(bad, tmp_path / "bad.plan")
    common = ("--connect", sim.connection_string, "--speedup", str(SPEEDUP), "--config", _config(tmp_path))
    out = run("fly", str(plan), "--dry-run", *common)
    assert out.returncode == 1, out.stdout
    error = out.stderr.strip().splitlines()[-1]
    assert error.startswith("drone-patrol: error: mission check small: ")
    assert "over the 120 m ceiling" in error and "km from home" in error
    resumed = run("fly", str(plan), "--dry-run", "--resume-from", "999", *common)
    assert resumed.returncode == 1 and "resume from item 999" in resumed.stderr.strip().splitlines()[-1]
    upload = run("mission", "upload", str(write_waypoints(bad, tmp_path / "bad.waypoints")), *common)
    assert upload.returncode == 1 and "over the 120 m ceiling" in upload.stderr
    assert "uploaded" not in upload.stdout
    assert not sim.truth().armed
    # nothing reached the vehicle: its mission is still empty
    assert sim.ap.store.count(0) <= 1


def test_a_vehicle_refusal_is_explained_with_the_item(vehicle: Any) -> None:
    from drone_patrol.core.errors import MissionTransferError

    unsupported = Waypoint(31999, frame=MavFrame.MISSION)  # no ArduCopter command has this number
    mission = replace(small_mission(), items=(*small_mission().items[:3], unsupported))
    with pytest.raises(MissionTransferError) as info:
        vehicle.mission.upload(mission, verify=False)
    assert info.value.result == 3
    assert str(info.value) == (
        "mission upload failed: MAV_MISSION_UNSUPPORTED: the vehicle does not support this command "
        "(mission: vehicle answered at item 4 (command 31999, frame 2))"
    )


def test_items_that_cannot_go_on_the_wire_are_named() -> None:
    nan_lat = Waypoint(MavCmd.NAV_WAYPOINT, latitude_deg=math.nan, longitude_deg=110.29, altitude_m=30.0)
    problems = mission_problems(_with_item(small_mission(), 2, nan_lat), CONFIG)
    assert problems == ["item 3 (NAV_WAYPOINT): latitude is nan, expected a finite number"]
