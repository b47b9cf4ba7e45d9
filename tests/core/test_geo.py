"""LocalFrame against independent ECEF/ENU maths and geodesic distances."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from drone_patrol.core.geo import LocalFrame, bearing_deg, destination, distance_m
from drone_patrol.core.types import GeoPoint

A = 6378137.0
F = 1 / 298.257223563
E2 = F * (2 - F)


def ecef(lat: float, lon: float, h: float) -> np.ndarray:
    la, lo = math.radians(lat), math.radians(lon)
    n = A / math.sqrt(1 - E2 * math.sin(la) ** 2)
    return np.array(
        [
            (n + h) * math.cos(la) * math.cos(lo),
            (n + h) * math.cos(la) * math.sin(lo),
            (n * (1 - E2) + h) * math.sin(la),
        ]
    )


def enu_reference(origin: GeoPoint, lat: float, lon: float, h: float) -> np.ndarray:
    """ENU by the textbook rotation of the ECEF difference (independent of PROJ)."""
    la, lo = math.radians(origin.latitude_deg), math.radians(origin.longitude_deg)
    d = ecef(lat, lon, h) - ecef(origin.latitude_deg, origin.longitude_deg, origin.altitude_m)
    r = np.array(
        [
            [-math.sin(lo), math.cos(lo), 0],
            [-math.sin(la) * math.cos(lo), -math.sin(la) * math.sin(lo), math.cos(la)],
            [math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la)],
        ]
    )
    return r @ d


HOME = GeoPoint(25.2821593, 110.296202, 150.0)


def test_origin_maps_to_zero() -> None:
    frame = LocalFrame(HOME)
    e, n, u = frame.point_to_enu(HOME)
    assert abs(e) < 1e-6 and abs(n) < 1e-6 and abs(u) < 1e-6


def test_known_offsets_at_sitl_home() -> None:
    origin = GeoPoint(-35.363261, 149.165230, 0.0)
    frame = LocalFrame(origin)
    # 0.001 degree of latitude north of -35.363261 on the ellipsoid: 110.9472 m of meridian arc
    _, n, _ = frame.to_enu(origin.latitude_deg + 0.001, origin.longitude_deg, 0.0)
    assert abs(float(n) - 110.9472) < 0.001
    # the same at 584 m above the ellipsoid is longer by (M + h) / M
    high = LocalFrame(GeoPoint(origin.latitude_deg, origin.longitude_deg, 584.0))
    _, n, _ = high.to_enu(origin.latitude_deg + 0.001, origin.longitude_deg, 584.0)
    assert abs(float(n) - 110.9472 * (1 + 584.0 / 6_356_800)) < 0.001
    p = destination(origin, 90.0, 1000.0)
    e, n, _ = frame.point_to_enu(p)
    assert abs(math.hypot(float(e), float(n)) - 1000.0) < 0.01


@settings(max_examples=200, deadline=None)
@given(
    lat0=st.floats(-80, 80),
    lon0=st.floats(-179, 179),
    h0=st.floats(-100, 3000),
    de=st.floats(-20000, 20000),
    dn=st.floats(-20000, 20000),
    du=st.floats(-500, 500),
)
def test_round_trip_and_reference_within_1cm_over_20km(lat0, lon0, h0, de, dn, du) -> None:
    origin = GeoPoint(lat0, lon0, h0)
    frame = LocalFrame(origin)
    lat, lon, alt = frame.to_geodetic(de, dn, du)
    ref = enu_reference(origin, float(lat), float(lon), float(alt))
    assert np.allclose(ref, [de, dn, du], atol=0.01)
    e, n, u = frame.to_enu(lat, lon, alt)
    assert np.allclose([e, n, u], [de, dn, du], atol=0.001)


@settings(max_examples=100, deadline=None)
@given(bearing=st.floats(0, 359.9), dist=st.floats(1, 20000))
def test_destination_distance_and_bearing_agree(bearing, dist) -> None:
    p = destination(HOME, bearing, dist)
    assert abs(distance_m(HOME, p) - dist) < 0.01
    diff = (bearing_deg(HOME, p) - bearing + 180) % 360 - 180
    assert abs(diff) < 1e-6


def test_vectorised_lonlat_round_trip() -> None:
    frame = LocalFrame(HOME)
    en = np.array([[0.0, 0.0], [100.0, -50.0], [-2500.0, 3000.0]])
    back = frame.lonlat_to_en(frame.en_to_lonlat(en))
    assert np.allclose(back, en, atol=1e-6)
