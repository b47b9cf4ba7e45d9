"""Local east/north/up frames around a reference point, and small geodesy helpers.

``LocalFrame`` converts WGS84 (latitude, longitude, ellipsoidal height) to a
topocentric East-North-Up Cartesian frame tangent to the ellipsoid at the
reference point, through PROJ's ``cart`` and ``topocentric`` operations. The
conversion is exact (no flat-earth approximation), so a round trip is good to
well under a millimetre and distances in the frame are straight-line distances.
Planner and georeferencing code work in this frame and convert only at their ends.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pyproj import Geod, Transformer

from drone_patrol.core.types import GeoPoint

_GEOD = Geod(ellps="WGS84")


class LocalFrame:
    """An ENU frame in metres with its origin at ``origin``.

    Heights are those of :class:`GeoPoint` (``altitude_m``); the frame's up axis
    is zero at the origin's altitude. Inputs may be scalars or numpy arrays.
    """

    def __init__(self, origin: GeoPoint) -> None:
        self.origin = origin
        pipeline = (
            "+proj=pipeline +step +proj=cart +ellps=WGS84 "
            f"+step +proj=topocentric +ellps=WGS84 +lat_0={origin.latitude_deg!r} "
            f"+lon_0={origin.longitude_deg!r} +h_0={origin.altitude_m!r}"
        )
        self._transformer = Transformer.from_pipeline(pipeline)

    def to_enu(
        self, latitude_deg: ArrayLike, longitude_deg: ArrayLike, altitude_m: ArrayLike = 0.0
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Return (east_m, north_m, up_m) for WGS84 positions."""
        lon = np.asarray(longitude_deg, dtype=np.float64)
        lat = np.asarray(latitude_deg, dtype=np.float64)
        alt = np.broadcast_to(np.asarray(altitude_m, dtype=np.float64), np.broadcast(lat, lon).shape)
        e, n, u = self._transformer.transform(lon, lat, alt)
        return np.asarray(e), np.asarray(n), np.asarray(u)

    def to_geodetic(
        self, east_m: ArrayLike, north_m: ArrayLike, up_m: ArrayLike = 0.0
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Return (latitude_deg, longitude_deg, altitude_m) for ENU coordinates."""
        e = np.asarray(east_m, dtype=np.float64)
        n = np.asarray(north_m, dtype=np.float64)
        u = np.broadcast_to(np.asarray(up_m, dtype=np.float64), np.broadcast(e, n).shape)
        lon, lat, alt = self._transformer.transform(e, n, u, direction="INVERSE")
        return np.asarray(lat), np.asarray(lon), np.asarray(alt)

    def point_to_enu(self, point: GeoPoint) -> tuple[float, float, float]:
        """Convert one :class:`GeoPoint` to (east_m, north_m, up_m)."""
        e, n, u = self.to_enu(point.latitude_deg, point.longitude_deg, point.altitude_m)
        return float(e), float(n), float(u)

    def enu_to_point(self, east_m: float, north_m: float, up_m: float = 0.0) -> GeoPoint:
        """Convert one ENU position to a :class:`GeoPoint`."""
        lat, lon, alt = self.to_geodetic(east_m, north_m, up_m)
        return GeoPoint(float(lat), float(lon), float(alt))

    def lonlat_to_en(self, coords: Iterable[tuple[float, float]]) -> NDArray[np.float64]:
        """Convert GeoJSON-ordered (lon, lat) pairs at the origin's height to an (N, 2) east/north array."""
        arr = np.asarray(list(coords), dtype=np.float64).reshape(-1, 2)
        e, n, _ = self.to_enu(arr[:, 1], arr[:, 0], self.origin.altitude_m)
        return np.column_stack([e, n])

    def en_to_lonlat(self, en: ArrayLike) -> NDArray[np.float64]:
        """Convert an (N, 2) east/north array at the origin's height to (lon, lat) pairs."""
        arr = np.asarray(en, dtype=np.float64).reshape(-1, 2)
        lat, lon, _ = self.to_geodetic(arr[:, 0], arr[:, 1], 0.0)
        return np.column_stack([lon, lat])


def distance_m(a: GeoPoint, b: GeoPoint) -> float:
    """Geodesic distance along the WGS84 ellipsoid between two points, ignoring altitude."""
    _, _, dist = _GEOD.inv(a.longitude_deg, a.latitude_deg, b.longitude_deg, b.latitude_deg)
    return float(dist)


def bearing_deg(a: GeoPoint, b: GeoPoint) -> float:
    """Initial geodesic bearing from ``a`` to ``b`` in degrees clockwise from north, in [0, 360)."""
    az, _, _ = _GEOD.inv(a.longitude_deg, a.latitude_deg, b.longitude_deg, b.latitude_deg)
    return float(az) % 360.0


def destination(origin: GeoPoint, bearing: float, distance: float) -> GeoPoint:
    """The point ``distance`` metres from ``origin`` along geodesic bearing ``bearing`` degrees."""
    lon, lat, _ = _GEOD.fwd(origin.longitude_deg, origin.latitude_deg, bearing, distance)
    return GeoPoint(float(lat), float(lon), origin.altitude_m)
