"""Property tests: the link's MAVLink framer, the local frame, fence geometry and item storage."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st
from pymavlink.dialects.v20 import ardupilotmega as mavlink2
from shapely.geometry import Point, Polygon

from drone_patrol.core.geo import LocalFrame
from drone_patrol.core.types import GeoPoint
from drone_patrol.sim.copter.fence import Zone
from drone_patrol.sim.copter.kinematics import LocalTangent
from drone_patrol.sim.copter.missions import Item, convert_mission_item
from drone_patrol.sim.link import _Framer

_MAV = mavlink2.MAVLink(None, srcSystem=255, srcComponent=190)


def _packet(kind: int, n: int, v1: bool) -> bytes:
    if kind == 0:
        msg = _MAV.heartbeat_encode(6, 8, 0, n, 0)
    elif kind == 1:
        msg = _MAV.statustext_encode(4, b"x" * (n % 50))
    else:
        msg = _MAV.mission_item_int_encode(1, 1, n, 6, 16, 0, 1, 0, 0, 0, 0, n, -n, 10.0, 0)
    return msg.pack(_MAV, force_mavlink1=v1)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 2), st.integers(0, 60000), st.booleans()), min_size=1, max_size=30),
    st.lists(st.integers(1, 64), min_size=1, max_size=50),
)
def test_framer_reassembles_any_split(specs: list[tuple[int, int, bool]], cuts: list[int]) -> None:
    packets = [_packet(k, n, v1) for k, n, v1 in specs]
    stream = b"".join(packets)
    framer = _Framer()
    frames: list[bytes] = []
    pos, i = 0, 0
    while pos < len(stream):
        step = cuts[i % len(cuts)]
        got, junk = framer.feed(stream[pos : pos + step])
        assert junk == 0
        frames.extend(got)
        pos += step
        i += 1
    assert frames == packets


@settings(max_examples=100, deadline=None)
@given(st.floats(-1500, 1500), st.floats(-1500, 1500), st.floats(-60, 60), st.floats(-170, 170))
def test_local_tangent_round_trip_and_agrees_with_local_frame(n: float, e: float, lat0: float, lon0: float) -> None:
    lt = LocalTangent(lat0, lon0)
    lat, lon = lt.to_latlon(n, e)
    n2, e2 = lt.to_ne(lat, lon)
    assert abs(n2 - n) < 1e-6 and abs(e2 - e) < 1e-6
    east, north, _ = LocalFrame(GeoPoint(lat0, lon0, 0.0)).point_to_enu(GeoPoint(lat, lon, 0.0))
    # A tangent plane scaled by cos(latitude) drifts from true east/north by about n * e * tan(lat) / R
    # (east) and e**2 * tan(lat) / (2 R) (north); both are under (n**2 + e**2) * tan(lat) / (2 R).
    tol_m = 0.5 + (n * n + e * e) * abs(math.tan(math.radians(lat0))) / (2 * 6_371_000.0)
    assert abs(north - n) < tol_m and abs(east - e) < tol_m  # half a metre at 1.5 km, and the drift


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.floats(-100, 100), st.floats(-100, 100)), min_size=3, max_size=8),
    st.lists(st.tuples(st.floats(-120, 120), st.floats(-120, 120)), min_size=1, max_size=20),
)
def test_polygon_zone_matches_shapely(vertices: list[tuple[float, float]], points: list[tuple[float, float]]) -> None:
    poly = Polygon(vertices)
    if not poly.is_valid or poly.area < 1.0:
        return
    zone = Zone(inclusion=True, polygon=tuple(vertices))
    for p in points:
        if poly.exterior.distance(Point(p)) < 1e-6:
            continue  # on the boundary either answer is right
        assert zone.contains(*p) == poly.contains(Point(p))


@given(st.integers(0, 20), st.integers(-900_000_000, 900_000_000), st.floats(-100, 500))
def test_stored_frames_are_the_non_int_ones(frame: int, x: int, z: float) -> None:
    result, stored = convert_mission_item(Item(16, frame, 3.6, 1, 1, 1, x, 1_490_000_000, z))
    if frame in (0, 2, 3, 5, 6, 10, 11):
        assert result == mavlink2.MAV_MISSION_ACCEPTED and stored is not None
        assert stored.frame in (0, 3, 10)
        assert stored.param1 == 3.0 and stored.param2 == stored.param3 == stored.param4 == 0.0
        assert abs(stored.z - z) <= 0.005 + 1e-9
    else:
        assert result == mavlink2.MAV_MISSION_UNSUPPORTED_FRAME and stored is None
