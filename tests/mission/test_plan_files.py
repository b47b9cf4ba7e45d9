"""QGC WPL 110, QGC .plan and route GeoJSON: format details, item-by-item round trips, bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drone_patrol.core.errors import MissionFileError
from drone_patrol.core.types import (
    AreaSpan,
    FenceCircle,
    FencePolygon,
    Geofence,
    GeoPoint,
    MavCmd,
    MavFrame,
    Mission,
    Waypoint,
)
from drone_patrol.mission import (
    load_mission,
    read_plan,
    read_waypoints,
    save_mission,
    write_plan,
    write_route_geojson,
    write_waypoints,
)
from drone_patrol.mission.wpl import parse_waypoints

finite = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False)
lat = st.floats(-89.9, 89.9, allow_nan=False)
lon = st.floats(-179.9, 179.9, allow_nan=False)


@st.composite
def waypoints(draw: st.DrawFn) -> Waypoint:
    positioned = draw(st.booleans())
    if positioned:
        return Waypoint(
            command=draw(st.sampled_from([16, 17, 18, 19, 21, 22, 195])),
            frame=draw(st.sampled_from([6, 5, 11])),
            param1=draw(finite),
            param2=draw(finite),
            param3=draw(finite),
            param4=draw(finite),
            latitude_deg=draw(lat),
            longitude_deg=draw(lon),
            altitude_m=draw(st.floats(-100, 5000)),
            autocontinue=draw(st.booleans()),
        )
    return Waypoint(
        command=draw(st.sampled_from([20, 178, 197])),
        frame=MavFrame.MISSION,
        param1=draw(finite),
        param2=draw(finite),
        param3=draw(finite),
    )


@st.composite
def missions(draw: st.DrawFn) -> Mission:
    items = draw(st.lists(waypoints(), min_size=1, max_size=12))
    polys = tuple(
        FencePolygon(draw(st.booleans()), tuple(GeoPoint(draw(lat), draw(lon)) for _ in range(draw(st.integers(3, 6)))))
        for _ in range(draw(st.integers(0, 2)))
    )
    circles = tuple(
        FenceCircle(draw(st.booleans()), GeoPoint(draw(lat), draw(lon)), draw(st.floats(1, 1e4)))
        for _ in range(draw(st.integers(0, 2)))
    )
    rally = tuple(GeoPoint(draw(lat), draw(lon), draw(st.floats(0, 200))) for _ in range(draw(st.integers(0, 3))))
    return Mission(
        home=GeoPoint(draw(lat), draw(lon), draw(st.floats(-50, 3000))),
        items=tuple(items),
        fence=Geofence(polys, circles),
        rally_points=rally,
        cruise_speed_m_s=draw(st.floats(0.5, 20)),
        hover_speed_m_s=draw(st.floats(0.5, 20)),
        name="m",
        area_spans=(AreaSpan("a", 1, len(items)),),
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(m=missions())
def test_waypoints_round_trip_item_by_item(tmp_path: Path, m: Mission) -> None:
    back = read_waypoints(write_waypoints(m, tmp_path / "m.waypoints"))
    assert back.home == m.home
    assert len(back.items) == len(m.items)
    for a, b in zip(m.items, back.items, strict=True):
        assert a == b


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(m=missions())
def test_plan_round_trip_item_by_item_with_fence_and_rally(tmp_path: Path, m: Mission) -> None:
    back = read_plan(write_plan(m, tmp_path / "m.plan"))
    for a, b in zip(m.items, back.items, strict=True):
        assert a == b
    assert (back.home, back.fence, back.rally_points, back.area_spans) == (
        m.home,
        m.fence,
        m.rally_points,
        m.area_spans,
    )
    assert back.cruise_speed_m_s == m.cruise_speed_m_s


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(m=missions())
def test_route_geojson_round_trip(tmp_path: Path, m: Mission) -> None:
    path = write_route_geojson([m], tmp_path / "m.route.geojson")
    back = load_mission(path)
    assert back.items == m.items and back.home == m.home and back.area_spans == m.area_spans


def _sample() -> Mission:
    return Mission(
        home=GeoPoint(25.28, 110.29, 150.0),
        items=(
            Waypoint(MavCmd.NAV_TAKEOFF, altitude_m=40, latitude_deg=25.28, longitude_deg=110.29),
            Waypoint(MavCmd.DO_CHANGE_SPEED, MavFrame.MISSION, 1, 6, -1),
            Waypoint(MavCmd.NAV_WAYPOINT, latitude_deg=25.2812345, longitude_deg=110.2912345, altitude_m=40),
            Waypoint(MavCmd.DO_JUMP, MavFrame.MISSION, 3, 2),
            Waypoint(MavCmd.NAV_RETURN_TO_LAUNCH, MavFrame.MISSION),
        ),
    )


def test_waypoints_file_layout(tmp_path: Path) -> None:
    text = write_waypoints(_sample(), tmp_path / "a.waypoints").read_text()
    lines = text.splitlines()
    assert lines[0] == "QGC WPL 110"
    assert all(len(ln.split("\t")) == 12 for ln in lines[1:])
    assert lines[1].split("\t")[:4] == ["0", "1", "0", "16"] and lines[1].split("\t")[10] == "150.0"
    assert lines[2].split("\t")[:4] == ["1", "0", "3", "22"]  # GLOBAL_RELATIVE_ALT in the file
    assert lines[4].split("\t")[8:11] == ["25.2812345", "110.2912345", "40.0"]


def test_waypoints_file_with_blank_lines_before_and_between(tmp_path: Path) -> None:
    text = write_waypoints(_sample(), tmp_path / "a.waypoints").read_text()
    lines = text.splitlines()
    edited = "\n" + "\n\n".join(lines) + "\n"  # as a text editor may leave it
    assert parse_waypoints(edited).items == parse_waypoints(text).items


def test_plan_file_layout(tmp_path: Path) -> None:
    data = json.loads(write_plan(_sample(), tmp_path / "a.plan").read_text())
    assert data["fileType"] == "Plan" and data["mission"]["firmwareType"] == 3
    assert data["mission"]["plannedHomePosition"] == [25.28, 110.29, 150.0]
    items = data["mission"]["items"]
    assert [i["doJumpId"] for i in items] == [1, 2, 3, 4, 5]
    assert items[2]["frame"] == 3 and items[2]["params"][4:] == [25.2812345, 110.2912345, 40]
    assert items[3]["command"] == 177 and items[3]["params"][0] == 3


QGC_PLAN = {
    "fileType": "Plan",
    "version": 1,
    "groundStation": "QGroundControl",
    "geoFence": {
        "circles": [{"circle": {"center": [25.28, 110.29], "radius": 300}, "inclusion": True, "version": 1}],
        "polygons": [],
        "version": 2,
    },
    "mission": {
        "cruiseSpeed": 15,
        "firmwareType": 3,
        "hoverSpeed": 5,
        "globalPlanAltitudeMode": 1,
        "version": 2,
        "plannedHomePosition": [25.28, 110.29, 150],
        "vehicleType": 2,
        "items": [
            {
                "autoContinue": True,
                "command": 22,
                "doJumpId": 1,
                "frame": 3,
                "type": "SimpleItem",
                "params": [0, 0, 0, None, 25.28, 110.29, 30],
                "AltitudeMode": 1,
                "Altitude": 30,
            },
            {
                "type": "ComplexItem",
                "complexItemType": "survey",
                "version": 5,
                "TransectStyleComplexItem": {
                    "Items": [
                        {
                            "autoContinue": True,
                            "command": 16,
                            "doJumpId": 2,
                            "frame": 3,
                            "type": "SimpleItem",
                            "params": [0, 0, 0, None, 25.281, 110.291, 30],
                        },
                        {
                            "autoContinue": True,
                            "command": 16,
                            "doJumpId": 3,
                            "frame": 3,
                            "type": "SimpleItem",
                            "params": [0, 0, 0, None, 25.282, 110.291, 30],
                        },
                    ]
                },
            },
            {
                "autoContinue": True,
                "command": 20,
                "doJumpId": 4,
                "frame": 2,
                "type": "SimpleItem",
                "params": [0, 0, 0, 0, 0, 0, 0],
            },
        ],
    },
    "rallyPoints": {"points": [[25.2805, 110.2905, 30]], "version": 2},
}


def test_reads_a_qgc_plan_with_a_survey(tmp_path: Path) -> None:
    path = tmp_path / "qgc.plan"
    path.write_text(json.dumps(QGC_PLAN))
    m = load_mission(path)
    assert [w.command for w in m.items] == [22, 16, 16, 20]
    assert m.items[1].frame == MavFrame.GLOBAL_RELATIVE_ALT_INT and m.items[1].latitude_deg == 25.281
    assert m.fence.circles[0].inclusion and m.fence.circles[0].radius_m == 300
    assert m.rally_points == (GeoPoint(25.2805, 110.2905, 30),)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("a.waypoints", "hello\n", "not a QGC WPL file"),
        ("b.waypoints", "QGC WPL 110\n0\t1\t0\t16\t0\t0\t0\t0\t1\t2\n", "line 2: 10 columns, expected 12"),
        (
            "c.waypoints",
            "QGC WPL 110\n0\t1\t0\t16\t0\t0\t0\t0\t1\t2\t3\t1\n2\t0\t3\t16\t0\t0\t0\t0\t1\t2\t3\t1\n",
            "line 3: index 2, expected 1",
        ),
        ("d.waypoints", "QGC WPL 110\n0\t1\t0\t16\t0\t0\t0\t0\tx\t2\t3\t1\n", "column LAT is not a number"),
        ("e.waypoints", "QGC WPL 110\n0\t1\t0\t16\t0\t0\t0\t0\t95\t2\t3\t1\n", "out of range"),
        ("f.plan", "{", "not valid JSON"),
        ("g.plan", '{"fileType": "Mission"}', "not a QGC plan file"),
        ("h.plan", '{"fileType": "Plan", "mission": {"items": []}}', "mission: missing key 'plannedHomePosition'"),
        ("i.mission.json", '{"type": "FeatureCollection", "features": []}', "no planned route"),
        ("j.kmz", "", "unknown mission file type"),
    ],
)
def test_bad_mission_files(tmp_path: Path, name: str, text: str, expected: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(MissionFileError) as info:
        load_mission(path)
    assert expected in str(info.value) and "\n" not in str(info.value) and str(path) in str(info.value)


def test_bad_jump_target_in_plan(tmp_path: Path) -> None:
    data = json.loads(json.dumps(QGC_PLAN))
    data["mission"]["items"][-1] = {
        "autoContinue": True,
        "command": 177,
        "doJumpId": 4,
        "frame": 2,
        "type": "SimpleItem",
        "params": [9, 1, 0, 0, 0, 0, 0],
    }
    path = tmp_path / "j.plan"
    path.write_text(json.dumps(data))
    with pytest.raises(MissionFileError, match="DO_JUMP target 9"):
        read_plan(path)


def test_save_mission_by_suffix(tmp_path: Path) -> None:
    m = _sample()
    assert load_mission(save_mission(m, tmp_path / "x.plan")).items == m.items
    assert load_mission(save_mission(m, tmp_path / "x.waypoints")).items == m.items
    with pytest.raises(MissionFileError, match=r"use \.waypoints or \.plan"):
        save_mission(m, tmp_path / "x.csv")
