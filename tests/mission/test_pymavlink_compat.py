"""Our QGC WPL 110 files read by pymavlink's own loader (what MAVProxy uses), and its files read by us."""

from __future__ import annotations

from pathlib import Path

import pytest

from drone_patrol.core.config import CameraConfig, PlannerConfig
from drone_patrol.mission import load_areas, read_waypoints, write_waypoints
from drone_patrol.mission.items import file_frame
from drone_patrol.planner import plan_patrol

mavwp = pytest.importorskip("pymavlink.mavwp")

SAMPLE = Path(__file__).resolve().parents[2] / "flight_plans" / "guilin_dongxi_xiang.geojson"


def _mission():  # type: ignore[no-untyped-def]
    areas = load_areas(SAMPLE)
    return plan_patrol(areas, PlannerConfig(), CameraConfig(), loop_count=1).sorties[0]


def test_pymavlink_reads_our_file_item_by_item(tmp_path: Path) -> None:
    mission = _mission()
    path = write_waypoints(mission, tmp_path / "m.waypoints")
    loader = mavwp.MAVWPLoader()
    assert loader.load(str(path)) == len(mission.items) + 1
    home = loader.wp(0)
    assert (home.x, home.y) == pytest.approx((mission.home.latitude_deg, mission.home.longitude_deg), abs=1e-9)
    for seq, ours in enumerate(mission.items, start=1):
        theirs = loader.wp(seq)
        assert theirs.seq == seq and theirs.command == ours.command and theirs.frame == file_frame(ours.frame)
        assert (theirs.param1, theirs.param2, theirs.param3, theirs.param4) == pytest.approx(
            (ours.param1, ours.param2, ours.param3, ours.param4)
        )
        assert (theirs.x, theirs.y, theirs.z) == pytest.approx((ours.latitude_deg, ours.longitude_deg, ours.altitude_m))


def test_we_read_a_file_pymavlink_wrote(tmp_path: Path) -> None:
    mission = _mission()
    loader = mavwp.MAVWPLoader()
    loader.load(str(write_waypoints(mission, tmp_path / "a.waypoints")))
    loader.save(str(tmp_path / "b.waypoints"))  # pymavlink keeps float32 MISSION_ITEMs: ~0.1 m

    back = read_waypoints(tmp_path / "b.waypoints")
    assert len(back.items) == len(mission.items)
    for a, b in zip(mission.items, back.items, strict=True):
        assert (a.command, a.frame, a.autocontinue) == (b.command, b.frame, b.autocontinue)
        assert (a.latitude_deg, a.longitude_deg, a.altitude_m) == pytest.approx(
            (b.latitude_deg, b.longitude_deg, b.altitude_m), abs=1e-6
        )
