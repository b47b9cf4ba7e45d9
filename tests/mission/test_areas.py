"""Area files: the sample, KML, and every kind of bad input as one clear AreaFileError."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drone_patrol.core.errors import AreaFileError
from drone_patrol.core.types import AreaRole, PatternKind
from drone_patrol.mission.areas import load_areas, parse_areas
from tests.mission.builders import basic, collection, line, point, polygon, rect, write

SAMPLE = Path(__file__).resolve().parents[2] / "flight_plans" / "guilin_dongxi_xiang.geojson"


def test_sample_groups_features_by_role() -> None:
    areas = load_areas(SAMPLE)
    assert areas.home.name == "dongxi-police-post"
    assert [a.name for a in areas.patrol] == [f"dongxi-grid-{i}" for i in range(1, 6)]
    assert [a.name for a in areas.no_fly] == ["hospital-helipad"]
    assert len(areas.heat_sources) == 5 and all(h.radius_m == 2.0 for h in areas.heat_sources)
    assert all(a.pattern is PatternKind.COVERAGE for a in areas.patrol)
    assert areas.by_name("dongxi-grid-3").priority == 1
    assert len(areas.all) == 12
    assert abs(areas.home_point.latitude_deg - 25.2821593) < 1e-9


def test_patrol_area_at_finds_the_cell() -> None:
    areas = load_areas(SAMPLE)
    found = areas.patrol_area_at(25.2823, 110.2972)
    assert found is not None and found.name == "dongxi-grid-2"
    assert areas.patrol_area_at(25.2900, 110.2900) is None


def test_patterns_default_by_geometry_and_explicit() -> None:
    areas = parse_areas(
        basic(
            line("street", [(0, 60), (200, 60)], width_m=20),
            point("square", (50, -100), radius_m=20),
            polygon("ring", [rect(200, 0, 260, 60)], pattern="perimeter", altitude_m=50, speed_m_s=4),
            point("stall", (90, 0), role="heat_source", radius_m=2),
            point("school", (-50, 0), role="rally"),
        )["features"]
    )
    kinds = {a.name: a.pattern for a in areas.patrol}
    assert kinds == {
        "block": PatternKind.COVERAGE,
        "street": PatternKind.CORRIDOR,
        "square": PatternKind.ORBIT,
        "ring": PatternKind.PERIMETER,
    }
    assert areas.by_name("ring").altitude_m == 50 and areas.by_name("ring").speed_m_s == 4
    assert areas.rally[0].role is AreaRole.RALLY


KML = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><Folder>
<Placemark><name>post</name><ExtendedData><Data name="role"><value>home</value></Data></ExtendedData>
  <Point><coordinates>110.2900,25.2800,150</coordinates></Point></Placemark>
<Placemark><name>yard</name><ExtendedData><Data name="priority"><value>1</value></Data>
  <Data name="altitude_m"><value>45</value></Data></ExtendedData>
  <Polygon><outerBoundaryIs><LinearRing><coordinates>
  110.2905,25.2795 110.2915,25.2795 110.2915,25.2805 110.2905,25.2805 110.2905,25.2795
  </coordinates></LinearRing></outerBoundaryIs>
  <innerBoundaryIs><LinearRing><coordinates>
  110.2908,25.2798 110.2910,25.2798 110.2910,25.2800 110.2908,25.2800 110.2908,25.2798
  </coordinates></LinearRing></innerBoundaryIs></Polygon></Placemark>
<Placemark><name>helipad</name><ExtendedData><SchemaData><SimpleData name="role">no_fly</SimpleData>
  </SchemaData></ExtendedData>
  <Polygon><outerBoundaryIs><LinearRing><coordinates>
  110.2920,25.2790 110.2925,25.2790 110.2925,25.2795 110.2920,25.2790
  </coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark>
</Folder></Document></kml>
"""


def test_kml_polygons_with_holes_and_extended_data(tmp_path: Path) -> None:
    areas = load_areas(write(tmp_path / "areas.kml", KML))
    assert areas.home.name == "post" and areas.home_point.altitude_m == 150
    yard = areas.by_name("yard")
    assert yard.priority == 1 and yard.altitude_m == 45 and len(yard.geometry.interiors) == 1
    assert areas.no_fly[0].name == "helipad"


def test_kml_errors(tmp_path: Path) -> None:
    with pytest.raises(AreaFileError, match="not valid KML"):
        load_areas(write(tmp_path / "bad.kml", "<kml><Placemark>"))
    with pytest.raises(AreaFileError, match="no <Placemark>"):
        load_areas(write(tmp_path / "empty.kml", "<kml xmlns='http://www.opengis.net/kml/2.2'></kml>"))


def _bad(data: object) -> str:
    with pytest.raises(AreaFileError) as info:
        parse_areas(data["features"] if isinstance(data, dict) else data, "areas.geojson")  # type: ignore[index]
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith("areas.geojson")
    return msg


def test_not_geojson(tmp_path: Path) -> None:
    with pytest.raises(AreaFileError, match=r"cannot read area file: not valid JSON \(line 1"):
        load_areas(write(tmp_path / "a.geojson", "hello"))
    with pytest.raises(AreaFileError, match="expected a FeatureCollection, got 'Point'"):
        load_areas(write(tmp_path / "b.geojson", {"type": "Point", "coordinates": [0, 0]}))
    with pytest.raises(AreaFileError, match="area file not found"):
        load_areas(tmp_path / "missing.geojson")


def test_ring_with_fewer_than_four_positions() -> None:
    data = basic()
    data["features"][1]["geometry"]["coordinates"][0] = data["features"][1]["geometry"]["coordinates"][0][:3]
    assert "feature 'block': exterior ring has 3 positions; a closed ring needs at least 4" in _bad(data)


def test_unclosed_ring() -> None:
    data = basic()
    ring = data["features"][1]["geometry"]["coordinates"][0]
    data["features"][1]["geometry"]["coordinates"][0] = [*ring[:-1], ring[1]]
    assert "not closed" in _bad(data)


def test_self_intersection_says_where_and_make_valid_repairs() -> None:
    bowtie = polygon("bowtie", [[(40, -40), (140, 40), (140, -40), (40, 40)]])
    data = collection(point("post", (0, 0), role="home"), bowtie)
    msg = _bad(data)
    assert "feature 'bowtie': invalid polygon: Self-intersection[" in msg and "--make-valid" in msg
    fixed = parse_areas(data["features"], "x", make_valid=True)
    assert fixed.patrol[0].geometry.is_valid and "repaired" in fixed.warnings[0]


def test_lat_lon_order_detected_out_of_range() -> None:
    data = basic()
    ring = data["features"][1]["geometry"]["coordinates"][0]
    data["features"][1]["geometry"]["coordinates"][0] = [[lat, lon] for lon, lat in ring]
    assert "looks like [lat, lon] order" in _bad(data)


def test_lat_lon_order_detected_by_position() -> None:
    # near lon 10, lat 50 both orders are in range: the swapped feature lies far from the others
    swapped = {
        "type": "Feature",
        "properties": {"name": "swapped"},
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[50.0, 10.0], [50.001, 10.0], [50.001, 10.001], [50.0, 10.0]]],
        },
    }
    data = collection(
        {
            "type": "Feature",
            "properties": {"name": "post", "role": "home"},
            "geometry": {"type": "Point", "coordinates": [10.0, 50.0]},
        },
        {
            "type": "Feature",
            "properties": {"name": "a"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[10.0, 50.0], [10.001, 50.0], [10.001, 50.001], [10.0, 50.0]]],
            },
        },
        swapped,
    )
    assert "feature 'swapped': positions look like [lat, lon] order" in _bad(data)


def test_out_of_range() -> None:
    data = basic(point("far", (0, 0)))
    data["features"][-1]["geometry"]["coordinates"] = [200.0, 95.0]
    assert "out of range" in _bad(data)


def test_duplicate_names() -> None:
    assert "duplicate name 'block'" in _bad(basic(polygon("block", [rect(0, 100, 50, 150)])))


def test_home_inside_no_fly() -> None:
    assert "home lies inside no-fly zone 'base'" in _bad(
        basic(polygon("base", [rect(-10, -10, 10, 10)], role="no_fly"))
    )


def test_home_inside_no_fly_circle() -> None:
    assert "no-fly zone 'mast'" in _bad(basic(point("mast", (5, 5), role="no_fly", radius_m=20)))


def test_area_entirely_inside_no_fly() -> None:
    msg = _bad(basic(polygon("prison", [rect(30, -50, 150, 50)], role="no_fly")))
    assert "feature 'block': lies entirely inside no-fly zone 'prison'" in msg


def test_altitude_above_ceiling_and_below_floor() -> None:
    data = basic()
    data["features"][1]["properties"]["altitude_m"] = 150
    with pytest.raises(AreaFileError, match="altitude_m 150 above the ceiling of 120 m"):
        parse_areas(data["features"], "a", ceiling_m=120)
    low = copy.deepcopy(data)
    low["features"][1]["properties"]["altitude_m"] = 5
    with pytest.raises(AreaFileError, match="below the floor of 15 m"):
        parse_areas(low["features"], "a", ceiling_m=120, floor_m=15)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"role": "castle"}, "role 'castle' unknown"),
        ({"pattern": "zigzag"}, "pattern 'zigzag' unknown"),
        ({"pattern": "corridor"}, "pattern corridor needs a LineString geometry"),
        ({"priority": 9}, "priority must be an integer 1 (highest) to 5"),
        ({"altitude_m": -3}, "altitude_m must be a positive number"),
        ({"name": ""}, "properties.name is required"),
    ],
)
def test_bad_properties(change: dict[str, object], expected: str) -> None:
    data = basic()
    data["features"][1]["properties"].update(change)
    assert expected in _bad(data)


def test_corridor_and_orbit_need_their_sizes() -> None:
    assert "a corridor needs width_m" in _bad(basic(line("street", [(0, 60), (100, 60)])))
    assert "an orbit needs radius_m" in _bad(basic(point("square", (0, 100))))


def test_home_required_and_unique() -> None:
    assert "no feature with role 'home'" in _bad(collection(polygon("block", [rect(0, 0, 10, 10)])))
    assert "2 home features" in _bad(basic(point("post2", (5, 5), role="home")))


@settings(max_examples=40, deadline=None)
@given(lon=st.floats(-179, 179), lat=st.floats(-89, 89))
def test_any_valid_position_loads_and_swapped_is_caught(lon: float, lat: float) -> None:
    feats = [
        {
            "type": "Feature",
            "properties": {"name": "post", "role": "home"},
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
        }
    ]
    areas = parse_areas(feats, "p")
    assert areas.home_point.longitude_deg == lon
    if abs(lon) > 90:
        feats[0]["geometry"]["coordinates"] = [lat, lon]  # type: ignore[index]
        with pytest.raises(AreaFileError, match=r"\[lat, lon\] order"):
            parse_areas(feats, "p")


def test_areas_at_finds_heat_sources_within_a_margin() -> None:
    areas = load_areas(SAMPLE)
    stall = areas.by_name("grill-stall-1").geometry
    found = areas.areas_at(stall.y, stall.x, (AreaRole.HEAT_SOURCE,), margin_m=1.0)
    assert [a.name for a in found] == ["grill-stall-1"]
    assert {a.name for a in areas.areas_at(stall.y, stall.x)} == {"grill-stall-1", "dongxi-grid-1"}


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.geojson"
    path.write_bytes(b"\xef\xbb\xbf" + SAMPLE.read_bytes())
    assert load_areas(path).home.name == "dongxi-police-post"


@settings(max_examples=30, deadline=None)
@given(
    ring=st.lists(st.tuples(st.floats(110.28, 110.30), st.floats(25.27, 25.29)), min_size=3, max_size=8),
    priority=st.integers(1, 5),
)
def test_kml_and_geojson_give_the_same_areas(ring: list[tuple[float, float]], priority: int) -> None:
    from shapely.geometry import Polygon as ShapelyPolygon

    hull = ShapelyPolygon(ring).convex_hull
    if not isinstance(hull, ShapelyPolygon) or hull.area < 1e-9:
        return
    coords = [[float(x), float(y)] for x, y in hull.exterior.coords]
    text = " ".join(f"{x!r},{y!r}" for x, y in coords)
    kml = (
        "<kml xmlns='http://www.opengis.net/kml/2.2'><Document>"
        "<Placemark><name>post</name><ExtendedData><Data name='role'><value>home</value></Data></ExtendedData>"
        "<Point><coordinates>110.29,25.28</coordinates></Point></Placemark>"
        f"<Placemark><name>area</name><ExtendedData><Data name='priority'><value>{priority}</value></Data>"
        f"</ExtendedData><Polygon><outerBoundaryIs><LinearRing><coordinates>{text}</coordinates></LinearRing>"
        "</outerBoundaryIs></Polygon></Placemark></Document></kml>"
    )
    from drone_patrol.mission.kml import kml_features

    from_kml = parse_areas(kml_features(Path("a.kml"), kml), "a.kml")
    from_json = parse_areas(
        [
            {
                "type": "Feature",
                "properties": {"name": "post", "role": "home"},
                "geometry": {"type": "Point", "coordinates": [110.29, 25.28]},
            },
            {
                "type": "Feature",
                "properties": {"name": "area", "priority": priority},
                "geometry": {"type": "Polygon", "coordinates": [coords]},
            },
        ],
        "a.geojson",
    )
    assert from_kml.patrol[0].geometry.equals_exact(from_json.patrol[0].geometry, 0.0)
    assert from_kml.patrol[0].priority == priority


def test_multipolygon_ring_errors_name_the_part() -> None:
    from tests.mission.builders import lonlat

    geom = {
        "type": "MultiPolygon",
        "coordinates": [[lonlat([*rect(0, 0, 10, 10), (0, 0)])], [lonlat([(20, 0), (30, 0), (20, 0)])]],
    }
    data = collection(
        point("post", (-5, -5), role="home"), {"type": "Feature", "properties": {"name": "m"}, "geometry": geom}
    )
    assert "feature 'm': polygon 1 exterior ring has 3 positions" in _bad(data)
    assert "needs a LineString geometry, got MultiPolygon" in _bad(
        collection(
            point("post", (-5, -5), role="home"),
            {
                "type": "Feature",
                "properties": {"name": "m", "pattern": "corridor"},
                "geometry": {"type": "MultiPolygon", "coordinates": [geom["coordinates"][0]]},
            },
        )
    )


def test_kml_multigeometry_of_polygons(tmp_path: Path) -> None:
    ring = "110.2905,25.2795 110.2907,25.2795 110.2907,25.2797 110.2905,25.2795"
    ring2 = "110.2910,25.2795 110.2912,25.2795 110.2912,25.2797 110.2910,25.2795"
    poly = (
        "<Polygon><outerBoundaryIs><LinearRing><coordinates>{}</coordinates></LinearRing></outerBoundaryIs></Polygon>"
    )
    kml = (
        "<kml xmlns='http://www.opengis.net/kml/2.2'><Document>"
        "<Placemark><name>post</name><ExtendedData><Data name='role'><value>home</value></Data></ExtendedData>"
        "<Point><coordinates>110.2900,25.2800</coordinates></Point></Placemark>"
        f"<Placemark><name>pair</name><MultiGeometry>{poly.format(ring)}{poly.format(ring2)}</MultiGeometry>"
        "</Placemark></Document></kml>"
    )
    areas = load_areas(write(tmp_path / "m.kml", kml))
    assert areas.by_name("pair").geometry.geom_type == "MultiPolygon"
    assert len(areas.by_name("pair").geometry.geoms) == 2


def test_positions_of_one_geometry_have_one_form() -> None:
    """Found by the reader fuzzer: shapely cannot build a line of 2-D and 3-D positions."""
    data = basic()
    data["features"][1]["geometry"] = {"type": "LineString", "coordinates": [[110.29, 25.28], [110.291, 25.28, 150.0]]}
    data["features"][1]["properties"].update(pattern="corridor", width_m=20)
    assert _bad(data).endswith("positions mix [lon, lat] and [lon, lat, alt]; use one form")


def test_kml_true_and_false_are_booleans(tmp_path: Path) -> None:
    kml = (
        '<kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
        '<Placemark><name>home</name><ExtendedData><Data name="role"><value>home</value></Data></ExtendedData>'
        "<Point><coordinates>110.29,25.27,150</coordinates></Point></Placemark>"
        '<Placemark><name>block</name><ExtendedData><Data name="pattern"><value>perimeter</value></Data>'
        '<Data name="clockwise"><value>False</value></Data></ExtendedData><Polygon><outerBoundaryIs><LinearRing>'
        "<coordinates>110.291,25.271 110.293,25.271 110.293,25.272 110.291,25.272 110.291,25.271</coordinates>"
        "</LinearRing></outerBoundaryIs></Polygon></Placemark></Document></kml>"
    )
    assert load_areas(write(tmp_path / "a.kml", kml)).by_name("block").properties["clockwise"] is False


def test_a_line_with_a_position_repeated_in_a_row() -> None:
    areas = parse_areas(basic(line("lane", [(0, 60), (0, 60), (80, 60)], width_m=10))["features"], "a.geojson")
    assert len(areas.by_name("lane").geometry.coords) == 2  # the double click goes
    assert "a line needs two different positions" in _bad(basic(line("lane", [(0, 60), (0, 60)], width_m=10)))
