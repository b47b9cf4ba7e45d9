"""GUIDED go-to, ROI and CIRCLE on the simulated ArduCopter, as the "eyes on" excursion uses them."""

from __future__ import annotations

import time
from typing import Any

import pytest

from drone_patrol.controller import Vehicle
from drone_patrol.controller.guided import DO_REPOSITION, GuidedControl, facing
from drone_patrol.core.errors import CommandRejectedError
from drone_patrol.core.geo import destination, distance_m
from drone_patrol.core.types import GeoPoint
from tests.controller.missions import HOME


def _airborne(vehicle: Vehicle, altitude_m: float = 30.0) -> None:
    assert vehicle.wait_for(lambda s: s.ekf_ok and s.gps_fix_type >= 3, 10.0) is not None
    vehicle.action.set_mode("GUIDED")
    vehicle.action.arm()
    vehicle.action.takeoff(altitude_m)
    assert vehicle.wait_for(lambda s: s.relative_altitude_m > altitude_m - 1.0, 20.0) is not None


def _track(sim: Any, wall_s: float) -> list[GeoPoint]:
    out = []
    deadline = time.monotonic() + wall_s
    while time.monotonic() < deadline:
        p = sim.truth().position
        assert p is not None
        out.append(p)
        time.sleep(0.01)
    return out


def test_goto_point_at_and_circle_round_the_point(sim: Any, vehicle: Vehicle) -> None:
    _airborne(vehicle)
    g = GuidedControl(vehicle)
    target = destination(HOME, 30.0, 120.0)  # bearing 30 deg, 120 m
    radius = g.circle_radius_m()
    assert radius == pytest.approx(10.0)  # ArduCopter's CIRCLE_RADIUS default, 1000 cm
    entry = destination(target, 210.0, radius)  # on the way in, `radius` short of the point
    g.go_to(entry.latitude_deg, entry.longitude_deg, 35.0)
    assert vehicle.wait_for(lambda s: s.position is not None and distance_m(s.position, entry) < 1.0
                            and s.ground_speed_m_s < 0.3, 20.0) is not None  # fmt: skip
    assert vehicle.state.relative_altitude_m == pytest.approx(35.0, abs=1.0)
    g.point_at(target.latitude_deg, target.longitude_deg)
    assert vehicle.wait_for(lambda s: facing(s, target.latitude_deg, target.longitude_deg, 2.0), 10.0) is not None
    g.circle()
    assert vehicle.state.mode == "CIRCLE"
    # one loop at the rate CIRCLE_RATE 20 deg/s (limited to sqrt(0.5 * 2.5 * 10) = 3.5 m/s) takes 18 s: 0.45 s at 40x
    track = _track(sim, 1.2)
    dists = [distance_m(p, target) for p in track[len(track) // 4 :]]
    assert max(dists) < radius + 2.0 and min(dists) > radius - 2.0, (min(dists), max(dists))
    lat = sum(p.latitude_deg for p in track) / len(track)
    lon = sum(p.longitude_deg for p in track) / len(track)
    assert distance_m(GeoPoint(lat, lon), target) < 5.0
    truth = sim.truth()
    assert truth.position is not None
    assert facing(truth.__class__(position=truth.position, heading_deg=truth.heading_deg), target.latitude_deg,
                  target.longitude_deg, 15.0)  # fmt: skip
    assert truth.relative_altitude_m == pytest.approx(35.0, abs=1.0)


def test_a_new_goto_drops_the_roi_and_reposition_needs_guided_or_its_flag(sim: Any, vehicle: Vehicle) -> None:
    _airborne(vehicle, 20.0)
    g = GuidedControl(vehicle)
    east = destination(HOME, 90.0, 60.0)
    g.point_at(east.latitude_deg, east.longitude_deg)
    assert vehicle.wait_for(lambda s: facing(s, east.latitude_deg, east.longitude_deg, 2.0), 10.0) is not None
    north = destination(HOME, 0.0, 60.0)
    g.go_to(north.latitude_deg, north.longitude_deg, 20.0)  # WP_YAW_BEHAVIOR 2: the nose turns to the next point
    assert vehicle.wait_for(lambda s: abs(s.heading_deg % 360.0) < 5.0 or s.heading_deg > 355.0, 10.0) is not None
    vehicle.action.set_mode("BRAKE")
    with pytest.raises(CommandRejectedError) as caught:
        vehicle.commander.command_int(DO_REPOSITION, 3, (-1.0, 0.0), north.latitude_deg, north.longitude_deg, 20.0)
    assert caught.value.result_name == "MAV_RESULT_DENIED"
