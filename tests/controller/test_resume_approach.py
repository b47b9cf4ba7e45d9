"""Resumed sorties: the way from take-off to the resumed item keeps to the fence and out of no-fly zones."""

from __future__ import annotations

import itertools
from pathlib import Path

from shapely.geometry import LineString, Point, Polygon

from drone_patrol.controller.report import PatrolReport
from drone_patrol.controller.resume import approach_points, resume_mission
from drone_patrol.core.config import CameraConfig, PlannerConfig
from drone_patrol.core.geo import LocalFrame
from drone_patrol.core.types import MavCmd
from drone_patrol.mission.areas import load_areas
from drone_patrol.planner import plan_patrol

DISTRICT = Path(__file__).resolve().parents[2] / "flight_plans" / "concave_district_notch.geojson"


def test_every_resume_point_is_reached_inside_the_fence_and_clear_of_the_school() -> None:
    result = plan_patrol(load_areas(DISTRICT), PlannerConfig(), CameraConfig(), flight_time_s=420)
    mission = max(result.sorties, key=lambda m: len(m.items))
    frame = LocalFrame(mission.home)

    def xy(lat: float, lon: float) -> tuple[float, float]:
        e, n = frame.lonlat_to_en([(lon, lat)])[0]
        return float(e), float(n)

    inclusion = Polygon([xy(v.latitude_deg, v.longitude_deg) for p in mission.fence.polygons if p.inclusion
                         for v in p.vertices])  # fmt: skip
    school = [Polygon([xy(v.latitude_deg, v.longitude_deg) for v in p.vertices])
              for p in mission.fence.polygons if not p.inclusion]  # fmt: skip
    detours = 0
    for seq, w in enumerate(mission.items, start=1):
        if w.command != MavCmd.NAV_WAYPOINT or seq < 3:
            continue
        resumed = resume_mission(mission, seq)
        path = [(0.0, 0.0), *(xy(*p) for p in approach_points(resumed)), xy(w.latitude_deg, w.longitude_deg)]
        for a, b in itertools.pairwise(path):
            leg = LineString([a, b]) if a != b else Point(a)
            assert inclusion.covers(leg), f"resume at {seq}: leg {a} -> {b} leaves the fence"
            assert all(leg.distance(z) >= 4.9 for z in school), f"resume at {seq}: leg {a} -> {b} nears the school"
        detours += len(path) > 2
        # the resumed part is the planned one, and the numbers map back
        items = resumed.mission.items
        assert items[0].command == MavCmd.NAV_TAKEOFF
        assert items[resumed.first_uploaded - 1 :] == mission.items[seq - 1 :] or any(
            x.command == MavCmd.DO_JUMP for x in mission.items
        )
        assert resumed.original(resumed.first_uploaded) == seq and resumed.original(1) is None
    assert detours > 0, "some items of the far side are out of straight reach from home"


def test_report_in_planned_numbers(tmp_path: Path) -> None:
    result = plan_patrol(load_areas(DISTRICT), PlannerConfig(), CameraConfig(), flight_time_s=420)
    mission = result.sorties[0]
    nav = [s for s, w in enumerate(mission.items, start=1) if w.command == MavCmd.NAV_WAYPOINT]
    resumed = resume_mission(mission, nav[3])
    first = resumed.first_uploaded
    base = PatrolReport(
        "m", "returned_early", "", 0.0, 1.0, 0, (2, first, first + 2), first + 2, first + 3, (), 0.0, 0.0,
        None, None, None, (), 0, (),
    )  # fmt: skip
    mapped = resumed.report(base)
    assert mapped.reached_seqs == (nav[3], nav[3] + 2) and mapped.resume_seq == nav[3] + 3
    nothing = resumed.report(base.__class__(**{**base.__dict__, "reached_seqs": (2,), "resume_seq": 3}))
    assert nothing.resume_seq == nav[3]  # reached none of the planned items: resume where it started again


def test_the_report_says_what_the_battery_figure_was_expected_by() -> None:
    base = PatrolReport(
        "m", "completed", "", 0.0, 1.0, 0, (), 0, 0, (), 0.0, 0.0, None, None, None, (), 0, (),
        battery_used_percent=72.0, predicted_percent=19.0,
    )  # fmt: skip
    assert "battery used 72% (expected 19% by the config's endurance, no profile yet)" in base.summary()
    learned = base.__class__(**{**base.__dict__, "predicted_by_profile": True})
    assert "battery used 72% (expected 19% by the vehicle's profile)" in learned.summary()
