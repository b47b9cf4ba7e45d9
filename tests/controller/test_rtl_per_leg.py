"""RTL forced on legs of the concave district's route never breaches the fence or enters the school.

The district has a school (no-fly zone) in its notch and home outside; a straight RTL
to home from the far side would cross the school, so the plan adds a rally point and
grows the fence (planner/failsafe_paths.py). Here the simulated ArduCopter flies the
first sortie and is sent home half-way along a sample of its legs: every leg whose RTL
goes to the rally point, and legs spread over the rest.
"""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path
from typing import Any

from shapely.geometry import Point, shape

from drone_patrol.controller import PatrolExecutor, Vehicle
from drone_patrol.core.geo import distance_m
from drone_patrol.core.types import GeoPoint, MavCmd
from drone_patrol.mission.areas import load_areas
from drone_patrol.planner import plan_patrol
from drone_patrol.sim.copter import SimulatedCopter
from tests.controller.conftest import SPEEDUP, make_config
from tests.controller.missions import PATROL_PACK, landed_near_home_or_rally

DISTRICT = Path(__file__).resolve().parents[2] / "flight_plans" / "concave_district_notch.geojson"


def legs_to_try(mission: Any) -> list[int]:
    nav = [s for s, w in enumerate(mission.items, start=1) if w.command == MavCmd.NAV_WAYPOINT]
    rally = mission.rally_points[1:]

    def to_rally(seq: int) -> bool:
        w = mission.items[seq - 1]
        here = GeoPoint(w.latitude_deg, w.longitude_deg)
        return any(distance_m(here, r) < min(300.0, distance_m(here, mission.home)) for r in rally)

    chosen = [s for s in nav[1:] if to_rally(s)][:3]
    chosen += [nav[i] for i in range(2, len(nav), max(1, len(nav) // 3))]
    return sorted(set(chosen))[:6]


def rtl_on_leg(
    vehicle: Vehicle,
    mission: Any,
    config: Any,
    seq: int,
    school: list,
    sim: SimulatedCopter | None = None,  # type: ignore[type-arg]
) -> None:
    """Fly ``mission`` until half-way along the leg to item ``seq``, send it home, check the way home
    (on the simulator's true positions, else on the vehicle's reported ones)."""
    if sim is not None:
        sim.set_battery_percent(100.0)
    assert vehicle.wait_for(lambda s: (s.battery_percent or 0) > 95 and not s.armed and s.home is not None, 120.0)
    truth = sim.truth if sim is not None else (lambda: vehicle.state)
    executor = PatrolExecutor(vehicle, mission, config)
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(executor.run()), daemon=True)
    thread.start()
    target = mission.items[seq - 1]
    goal = GeoPoint(target.latitude_deg, target.longitude_deg)
    legs = (MavCmd.NAV_WAYPOINT, MavCmd.NAV_TAKEOFF)
    prev = next(w for w in reversed(mission.items[: seq - 1]) if w.command in legs)
    half = max(distance_m(GeoPoint(prev.latitude_deg, prev.longitude_deg), goal) / 2.0, 2.0)
    positions: list[GeoPoint | None] = []
    deadline = time.monotonic() + 60.0
    while True:
        t = truth()
        positions.append(t.position)
        if t.position is not None and t.mission_current_seq == seq and distance_m(t.position, goal) <= half:
            break
        if not thread.is_alive() or time.monotonic() > deadline:
            thread.join(5.0)
            raise AssertionError(f"leg to item {seq} not reached: {out[0].summary() if out else 'still flying'}")
        time.sleep(0.01)
    executor.request_rtl()
    while thread.is_alive():
        positions.append(truth().position)
        time.sleep(0.01)
    report = out[0]
    assert report.outcome == "returned_early", report.summary()
    if sim is not None:
        assert sim.ap.fence_state.breach_count == 0, f"fence breached on the RTL from the leg to {seq}"
    assert not any(e.kind == "fence_breach" for e in report.events)
    for p in positions:
        if p is None:
            continue
        assert not any(z.contains(Point(p.longitude_deg, p.latitude_deg)) for z in school), (seq, p)
    landed = truth().position
    assert landed is not None and landed_near_home_or_rally(landed, mission), f"leg {seq}: landed elsewhere"
    assert math.isfinite(report.distance_flown_m)


def test_rtl_from_legs_of_the_district_stays_in_the_fence_and_out_of_the_school() -> None:
    from drone_patrol.core.config import CameraConfig, PlannerConfig

    areas = load_areas(DISTRICT)
    school = [shape(a.geometry.__geo_interface__) for a in areas.no_fly]
    result = plan_patrol(areas, PlannerConfig(), CameraConfig(), flight_time_s=420, home_altitude_m=150.0)
    mission = result.sorties[0]
    assert len(mission.rally_points) >= 2
    home = GeoPoint(mission.home.latitude_deg, mission.home.longitude_deg, 150.0)
    legs = legs_to_try(mission)
    assert len(legs) >= 3
    # short sorties keep the flights short; the pack is large so that no battery rule ends one first
    with SimulatedCopter(home=home, speedup=SPEEDUP, seed=5, params=PATROL_PACK) as sim:
        config = make_config(sim.connection_string)
        with Vehicle.connect(config.connection, config, timeout_s=10) as vehicle:
            for seq in legs:
                rtl_on_leg(vehicle, mission, config, seq, school, sim)
