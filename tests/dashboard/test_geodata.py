"""Areas and planned routes as the page gets them (read with the mission package's readers)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drone_patrol.core.errors import AreaFileError, MissionFileError
from drone_patrol.core.types import GeoPoint, MavCmd, Mission, Waypoint
from drone_patrol.dashboard.geodata import load_area_features, route_features
from drone_patrol.mission.route_geojson import write_route_geojson
from drone_patrol.mission.wpl import write_waypoints
from tests.dashboard.conftest import AREAS

HOME = GeoPoint(25.2812, 110.2978, 150.0)


def mission(n: int, name: str = "") -> Mission:
    items = [
        Waypoint(MavCmd.NAV_TAKEOFF, latitude_deg=HOME.latitude_deg, longitude_deg=HOME.longitude_deg, altitude_m=40)
    ]
    items += [
        Waypoint(MavCmd.NAV_WAYPOINT, latitude_deg=25.2815 + i * 1e-4, longitude_deg=110.2980, altitude_m=40)
        for i in range(n)
    ]
    return Mission(home=HOME, items=tuple(items), name=name)


def test_every_feature_of_the_shared_area_file() -> None:
    doc = load_area_features(AREAS)
    raw = json.loads(AREAS.read_text())
    assert len(doc["features"]) == len(raw["features"])
    by_name = {f["properties"]["name"]: f for f in doc["features"]}
    assert by_name["grill-stall-1"]["properties"]["radius_m"] == 2.0
    assert by_name["dongxi-grid-3"]["properties"]["priority"] == 1
    assert by_name["dongxi-grid-3"]["geometry"]["type"] == "Polygon"


def test_bad_area_file_is_one_line_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "areas.geojson"
    bad.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature"}]}')
    with pytest.raises(AreaFileError) as info:
        load_area_features(bad)
    assert str(bad) in str(info.value) and "\n" not in str(info.value)


def test_routes_from_waypoints_and_every_sortie_of_a_route_geojson(tmp_path: Path) -> None:
    wpl = write_waypoints(mission(3), tmp_path / "a.waypoints")
    geo = write_route_geojson([mission(2, "north"), mission(4, "south")], tmp_path / "night.route.geojson")
    doc = route_features([wpl, geo])
    routes = [f for f in doc["features"] if f["properties"]["kind"] == "route"]
    assert [(r["properties"]["file"], r["properties"]["sortie"]) for r in routes] == [
        ("a.waypoints", 1),
        ("night.route.geojson", 1),
        ("night.route.geojson", 2),
    ]
    items = [f for f in doc["features"] if f["properties"]["kind"] == "mission_item"]
    assert len(items) == 4 + 3 + 5
    # home, the takeoff point, the waypoints, home again
    assert len(routes[2]["geometry"]["coordinates"]) == 1 + 5 + 1


def test_missing_route_file_is_a_mission_file_error(tmp_path: Path) -> None:
    with pytest.raises(MissionFileError, match="not found"):
        route_features([tmp_path / "nope.route.geojson"])
    with pytest.raises(MissionFileError):
        route_features([tmp_path / "x.kmz"])
