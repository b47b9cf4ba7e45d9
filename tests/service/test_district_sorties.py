"""A whole district on the vehicle's own endurance: a concave district with a school (no-fly
zone) in its notch and home outside it, flown on the simulated quad with the battery of ArduPilot
SITL's default (3300 mAh at about 28 A: 7 minutes), a power cycle between sorties.

The first flight of the unknown vehicle is planned conservatively and teaches its profile; the
district planned on that profile is then patrolled to the end in several sorties, each reaching
every item, never breaching the fence, never inside the school (on the vehicle's own reported
positions), landing at home, and using what the plan said within 10 points of battery.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from shapely.geometry import LineString, Point

from drone_patrol.core.config import Settings, load_config, override
from drone_patrol.core.profile import VehicleProfile, find_profile
from drone_patrol.mission.areas import load_areas
from drone_patrol.service.session import PatrolSession, VehicleSource
from drone_patrol.service.swap import WAITING

ROOT = Path(__file__).resolve().parents[2]
DISTRICT = ROOT / "flight_plans" / "concave_district_notch.geojson"


def district_settings(tmp_path: Path) -> Settings:
    base = load_config(ROOT / "configs" / "demo.yaml", environ={})
    return override(
        base,
        {
            "site": {"areas_file": str(DISTRICT), "data_dir": str(tmp_path / "var")},
            # ArduPilot's default pack: SITL's default quad lasts about 7 minutes on it
            "sim": {"scenario": str(ROOT / "flight_plans/scenarios/quiet_night.geojson"), "speedup": 12,
                    "params": {"BATT_CAPACITY": 3300}},
            "alerts": {"outbox_path": str(tmp_path / "var" / "outbox.sqlite")},
            "service": {"report_dir": str(tmp_path / "out"), "camera_fps": 0.5, "video_fps": 0},
        },
    )  # fmt: skip


def _school(settings: Settings):  # type: ignore[no-untyped-def]
    areas = load_areas(settings.site.areas_file)
    from shapely.geometry import shape

    return [shape(a.geometry.__geo_interface__) for a in areas.no_fly]


def patrol_district(tmp_path: Path, source: VehicleSource | None = None) -> VehicleProfile:
    """Learn the vehicle on its first flight, then patrol the district to the end on its profile."""
    settings = district_settings(tmp_path)
    statuses: list[str] = []
    # the unknown vehicle's first flight: planned on a quarter of the config's endurance
    with PatrolSession(settings, source, out_dir=tmp_path / "out") as first:
        plan, missions, _ = first.plan()
        assert plan is not None and "no profile of this vehicle yet" in plan.endurance_note
        first.start_broker()
        first.start_publisher()
        first.start_vehicle()
        first.start_camera()
        learning = first.fly(missions[0]).report
        assert learning is not None
        print(f"learning flight: used {learning.battery_used_percent}% ({learning.consumption})")
        assert learning.outcome == "completed", learning.summary()
        assert learning.landed_distance_from_home_m is not None and learning.landed_distance_from_home_m < 2.0
        vehicle_id = first.vehicle_id
    profile = find_profile(settings.site.data_dir, vehicle_id)
    assert profile is not None and profile.flights == 1

    zones = _school(settings)
    with PatrolSession(settings, source, out_dir=tmp_path / "out2") as session:
        plan, missions, _ = session.plan()
        assert plan is not None and "learned profile" in plan.endurance_note
        assert len(missions) >= 2, "the district needs several batteries"
        session.start_broker()
        publisher = session.start_publisher()
        original = publisher.publish_status

        def spy(state: str, **fields):  # type: ignore[no-untyped-def]
            statuses.append(str(fields.get("mission_state", state)))
            original(state, **fields)

        publisher.publish_status = spy  # type: ignore[method-assign]
        session.start_vehicle()
        # the same aircraft in a new session (SITL: a new process of the same instance) has its profile
        assert session.vehicle_id == vehicle_id and session.profile is not None
        session.start_camera()
        for k, mission in enumerate(missions):
            outcome = session.fly(mission)
            report = outcome.report
            assert report is not None and report.outcome == "completed", report.summary()
            assert len(report.reached_seqs) == report.waypoints_total, report.summary()
            assert report.landed_distance_from_home_m is not None and report.landed_distance_from_home_m < 2.0
            assert "fence" not in report.failsafes
            assert not any(e.kind == "fence_breach" for e in report.events)
            if session.sim is not None:
                assert session.sim.ap.fence_state.breach_count == 0
            # the vehicle's own reported positions (one a second of its clock) and the lines between them
            track = [(p.longitude_deg, p.latitude_deg) for p in outcome.track]
            assert len(track) > 30
            for a, b in itertools.pairwise(track):
                step = LineString([a, b]) if a != b else Point(a)
                assert not any(z.intersects(step) for z in zones), (a, b)
            predicted = 100.0 * plan.stats[k].battery_fraction
            assert report.battery_used_percent is not None
            print(f"sortie {k + 1}: predicted {predicted:.1f}% in {plan.stats[k].duration_s:.0f} s, "
                  f"used {report.battery_used_percent:.1f}% ({report.consumption})")  # fmt: skip
            assert abs(report.battery_used_percent - predicted) <= 10.0, (k, report.battery_used_percent, predicted)
            assert report.min_battery_percent is not None and report.min_battery_percent >= 20.0
            assert session.vehicle_id == vehicle_id  # a battery swap keeps the board id
        learned = session.profile
    assert statuses.count(WAITING) == len(missions) - 1
    assert learned is not None
    return learned


def test_district_patrolled_to_the_end_on_the_learned_profile(tmp_path: Path) -> None:
    profile = patrol_district(tmp_path)
    # SITL's default quad: about 28.8 A in cruise at 5 m/s, 14.5 % of 3300 mAh a minute
    assert 12.0 < profile.percent_per_min("cruise") < 17.0, profile.describe()
