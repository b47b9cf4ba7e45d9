"""Arbitrary input never escapes as anything but the typed one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drone_patrol.core.errors import AreaFileError, MissionFileError
from drone_patrol.mission import load_mission
from drone_patrol.mission.areas import parse_areas
from drone_patrol.mission.kml import kml_features
from tests.mission.builders import basic

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=20,
)
keys = st.sampled_from(
    ["name", "role", "pattern", "priority", "altitude_m", "radius_m", "width_m", "dwell_s", "clockwise", "speed_m_s"]
)


@st.composite
def mutated(draw: st.DrawFn) -> list[object]:
    data = basic()
    feats: list[object] = list(data["features"])
    i = draw(st.integers(0, len(feats) - 1))
    feat = json.loads(json.dumps(feats[i]))
    what = draw(st.integers(0, 4))
    if what == 0:
        feat["properties"][draw(keys)] = draw(json_values)
    elif what == 1:
        feat["geometry"] = draw(json_values)
    elif what == 2:
        feat["geometry"]["coordinates"] = draw(json_values)
    elif what == 3:
        feat = draw(json_values)
    else:
        feat["geometry"]["type"] = draw(st.sampled_from(["Point", "LineString", "Polygon", "MultiPolygon", "x"]))
    feats[i] = feat
    return feats


@settings(max_examples=100, deadline=None)
@given(feats=mutated())
def test_area_parser_only_raises_area_file_errors(feats: list[object]) -> None:
    try:
        parse_areas(feats, "fuzz.geojson")
    except AreaFileError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("fuzz.geojson")


@settings(max_examples=40, deadline=None)
@given(text=st.text(max_size=200))
def test_kml_parser_only_raises_area_file_errors(text: str) -> None:
    try:
        kml_features(Path("f.kml"), "<kml>" + text + "</kml>")
    except AreaFileError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("f.kml")


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=json_values, suffix=st.sampled_from([".plan", ".geojson"]))
def test_mission_readers_only_raise_mission_file_errors(tmp_path: Path, body: object, suffix: str) -> None:
    path = tmp_path / f"m{suffix}"
    if isinstance(body, dict) and suffix == ".plan":
        body = {"fileType": "Plan", **body}
    path.write_text(json.dumps(body))
    try:
        load_mission(path)
    except MissionFileError as exc:
        assert "\n" not in str(exc) and str(exc).startswith(str(path))


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lines=st.lists(
        st.lists(st.sampled_from(["0", "1", "3", "16", "x", "1e400", "nan", "-5", "200"]), min_size=10, max_size=13),
        max_size=4,
    )
)
def test_waypoints_reader_only_raises_mission_file_errors(tmp_path: Path, lines: list[list[str]]) -> None:
    path = tmp_path / "m.waypoints"
    path.write_text("QGC WPL 110\n" + "\n".join("\t".join(cols) for cols in lines) + "\n")
    try:
        mission = load_mission(path)
    except MissionFileError as exc:
        assert "\n" not in str(exc) and str(exc).startswith(str(path))
    else:
        assert len(mission.items) == max(0, len(lines) - 1)
