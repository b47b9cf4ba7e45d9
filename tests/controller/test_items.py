"""Mission, fence and rally lists as MISSION_ITEM_INT, and read-back comparison."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from drone_patrol.controller.items import (
    fence_to_wire,
    item_differences,
    list_differences,
    mission_to_wire,
    rally_to_wire,
    wire_to_fence,
    wire_to_mission,
    wire_to_rally,
)
from drone_patrol.core.types import (
    FenceCircle,
    FencePolygon,
    Geofence,
    GeoPoint,
    MavCmd,
    MavFrame,
    Mission,
    MissionType,
    Waypoint,
)

HOME = GeoPoint(25.2823, 110.2972, 150.0)

lat = st.floats(min_value=-80, max_value=80, allow_nan=False)
lon = st.floats(min_value=-179, max_value=179, allow_nan=False)
alt = st.floats(min_value=0, max_value=500, allow_nan=False).map(lambda a: round(a, 2))
waypoints = st.builds(
    lambda la, lo, al, delay: Waypoint(
        command=MavCmd.NAV_WAYPOINT, param1=delay, latitude_deg=round(la, 7), longitude_deg=round(lo, 7), altitude_m=al
    ),
    lat,
    lon,
    alt,
    st.integers(min_value=0, max_value=30).map(float),
)


@settings(max_examples=40)
@given(st.lists(waypoints, max_size=30))
def test_mission_round_trip(items: list[Waypoint]) -> None:
    mission = Mission(home=HOME, items=(Waypoint(MavCmd.NAV_TAKEOFF, altitude_m=30.0), *items))
    wire = mission_to_wire(mission)
    assert [w.seq for w in wire] == list(range(len(items) + 2))
    assert wire[0].frame == MavFrame.GLOBAL and wire[0].z == HOME.altitude_m
    back = wire_to_mission(wire)
    assert back.items == mission.items
    assert list_differences(wire, wire, skip_home=True) == []


@settings(max_examples=40)
@given(st.lists(st.tuples(lat, lon), min_size=3, max_size=8), st.floats(min_value=5, max_value=500))
def test_fence_round_trip(vertices: list[tuple[float, float]], radius: float) -> None:
    poly = FencePolygon(True, tuple(GeoPoint(round(a, 7), round(b, 7)) for a, b in vertices))
    hole = FencePolygon(False, poly.vertices[:3])
    circle = FenceCircle(False, GeoPoint(10.0, 20.0), radius)
    fence = Geofence((poly, hole), (circle,), return_point=GeoPoint(1.0, 2.0))
    wire = fence_to_wire(fence)
    assert all(w.mission_type == MissionType.FENCE for w in wire)
    assert wire[0].param1 == len(vertices)
    back = wire_to_fence(wire)
    assert back.polygons[0].vertices == poly.vertices
    assert back.polygons[1] == hole
    assert back.circles[0].radius_m == radius
    assert back.return_point == GeoPoint(1.0, 2.0)


def test_rally_round_trip() -> None:
    points = (GeoPoint(25.1, 110.1, 30.0), GeoPoint(25.2, 110.2, 40.0))
    wire = rally_to_wire(points)
    assert [w.command for w in wire] == [MavCmd.NAV_RALLY_POINT] * 2
    assert wire_to_rally(wire) == points


def test_differences_within_vehicle_precision() -> None:
    sent = mission_to_wire(
        Mission(
            home=HOME, items=(Waypoint(MavCmd.NAV_WAYPOINT, latitude_deg=25.0, longitude_deg=110.0, altitude_m=40),)
        )
    )[1]
    # ArduPilot returns the float frame, centimetre altitudes and drops unused params
    got = replace(sent, frame=MavFrame.GLOBAL_RELATIVE_ALT, z=40.004, param2=0.0, x=sent.x + 1)
    assert item_differences(replace(sent, param2=2.0), got) == []
    assert item_differences(sent, replace(got, z=41.0)) == ["altitude 40.00 != 41.00"]
    assert "position" in item_differences(sent, replace(got, x=sent.x + 50))[0]
    assert item_differences(sent, replace(got, command=MavCmd.NAV_LAND)) == ["command 16 != 21"]
    assert item_differences(sent, replace(got, frame=MavFrame.GLOBAL)) == ["frame 6 != 0"]
    assert list_differences([sent], [], skip_home=False) == ["count 1 != 0"]


def test_takeoff_without_position_ignores_position_and_speed_param_is_checked() -> None:
    takeoff = mission_to_wire(Mission(home=HOME, items=(Waypoint(MavCmd.NAV_TAKEOFF, altitude_m=30.0),)))[1]
    assert item_differences(takeoff, replace(takeoff, x=123, y=456)) == []
    speed = mission_to_wire(
        Mission(home=HOME, items=(Waypoint(MavCmd.DO_CHANGE_SPEED, frame=MavFrame.MISSION, param1=1, param2=6.0),))
    )[1]
    assert item_differences(speed, replace(speed, param1=0, frame=0)) == []
    assert item_differences(speed, replace(speed, param2=5.0)) == ["param2 6 != 5"]
