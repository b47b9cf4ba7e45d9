"""Sorties that real operators produce and the sample missions do not: a second sortie on the
same connection, a DO item before the take-off, a take-off written above sea level, a rally
point at a fractional height, and the ground-station failsafe in the modes the service pauses in."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from drone_patrol.controller import PatrolExecutor, Vehicle
from drone_patrol.controller.preflight import set_failsafes
from drone_patrol.core.types import GeoPoint, MavCmd, MavFrame, Waypoint
from tests.controller.missions import HOME, small_mission


def test_a_second_sortie_on_the_same_vehicle_starts_with_no_item_reached(vehicle: Vehicle, config: Any) -> None:
    first = PatrolExecutor(vehicle, small_mission(legs=2), config).run()
    assert first.outcome == "completed" and vehicle.state.mission_reached_seq > 0
    # The next sortie must not take the last one's items as its own (it would think itself
    # home at once, and no failsafe would judge it).
    PatrolExecutor(vehicle, small_mission(legs=2), config, dry_run=True).run()
    assert vehicle.state.mission_reached_seq == -1


def test_a_mission_that_begins_with_a_do_item_is_flown(vehicle: Vehicle, config: Any) -> None:
    mission = small_mission(legs=2)
    items = list(mission.items)
    assert items[1].command == MavCmd.DO_CHANGE_SPEED
    items[0], items[1] = items[1], items[0]  # ArduPilot shows the take-off (seq 2) as current
    report = PatrolExecutor(vehicle, replace(mission, items=tuple(items)), config).run()
    assert report.outcome == "completed", report.summary()


def test_a_take_off_written_above_sea_level_climbs_to_its_height_above_home(
    sim: Any, vehicle: Vehicle, config: Any
) -> None:
    mission = small_mission(legs=2)
    items = list(mission.items)
    items[0] = Waypoint(MavCmd.NAV_TAKEOFF, frame=MavFrame.GLOBAL_INT, altitude_m=HOME.altitude_m + 20.0)
    highest = [0.0]
    unsubscribe = vehicle.subscribe_state(lambda s: highest.__setitem__(0, max(highest[0], s.relative_altitude_m)))
    try:
        report = PatrolExecutor(vehicle, replace(mission, items=tuple(items)), config).run()
    finally:
        unsubscribe()
    assert report.outcome == "completed", report.summary()
    cruise_m = max(w.altitude_m for w in mission.items if w.has_position and w.frame != MavFrame.GLOBAL_INT)
    assert highest[0] < max(cruise_m, config.failsafe.rtl_alt_m) + 3.0  # not 150 m AMSL + 20 above home


def test_a_rally_point_at_a_fractional_height_uploads_and_verifies(vehicle: Vehicle) -> None:
    mission = small_mission(legs=2)
    r = mission.rally_points[0]
    mission = replace(mission, rally_points=(GeoPoint(r.latitude_deg, r.longitude_deg, 25.5),))
    vehicle.mission.upload(mission, verify=True)  # ArduPilot keeps whole metres


def test_preflight_clears_only_the_continue_in_pilot_modes_bit_of_fs_options(vehicle: Vehicle, config: Any) -> None:
    assert vehicle.params.get("FS_OPTIONS") == 16  # ArduCopter's default
    vehicle.params.set("FS_OPTIONS", 16 | 8)  # and a site's own choice: continue landing
    changed = set_failsafes(vehicle, config, small_mission(legs=2))
    assert "FS_OPTIONS" in changed and vehicle.params.get("FS_OPTIONS") == 8
    failsafe = config.failsafe.model_copy(update={"gcs_failsafe_in_pilot_modes": False})
    kept = config.model_copy(update={"failsafe": failsafe})
    vehicle.params.set("FS_OPTIONS", 16)
    assert "FS_OPTIONS" not in set_failsafes(vehicle, kept) and vehicle.params.get("FS_OPTIONS") == 16
