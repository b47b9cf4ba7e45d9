"""Simple camera flights: poses along a route of waypoints, and lawnmower passes over a polygon.

These stand in for the simulated vehicle when only the camera matters (tests, the
``sim-camera`` command, the vision benchmark): the vehicle flies straight legs at a
constant speed and height, yawed along its track, level.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray
from shapely.geometry import LineString, Polygon

from drone_patrol.core.geo import LocalFrame
from drone_patrol.core.types import GeoPoint, VehicleState


def lawnmower_en(polygon_en: ArrayLike, spacing_m: float, heading_deg: float = 0.0) -> NDArray[np.float64]:
    """Waypoints (K, 2) of back-and-forth passes ``spacing_m`` apart covering a polygon, legs along ``heading_deg``."""
    poly = Polygon(np.asarray(polygon_en, dtype=np.float64))
    h = math.radians(heading_deg)
    along = np.array([math.sin(h), math.cos(h)])
    across = np.array([math.cos(h), -math.sin(h)])
    pts = np.asarray(poly.exterior.coords)
    a = pts @ along
    c = pts @ across
    out: list[NDArray[np.float64]] = []
    offsets = np.arange(c.min() + spacing_m / 2, c.max(), spacing_m)
    if offsets.size == 0:
        offsets = np.array([(c.min() + c.max()) / 2])
    for k, off in enumerate(offsets):
        line = LineString([off * across + (a.min() - 1) * along, off * across + (a.max() + 1) * along])
        seg = line.intersection(poly)
        if seg.is_empty:
            continue
        coords = np.asarray(seg.coords if seg.geom_type == "LineString" else seg.geoms[0].coords)
        ends = coords[[0, -1]]
        out.extend(ends if k % 2 == 0 else ends[::-1])
    return np.array(out).reshape(-1, 2)


def fly_route(
    route_en: ArrayLike,
    frame: LocalFrame,
    altitude_m: float,
    speed_m_s: float,
    rate_hz: float,
    start_time_s: float = 0.0,
    home: GeoPoint | None = None,
) -> Iterator[VehicleState]:
    """Vehicle states every ``1 / rate_hz`` seconds flying straight legs through ``route_en`` at ``altitude_m``.

    Heights are above ``home`` (default: the frame origin); states carry the home so that
    ``relative_altitude_m`` is used for height.
    """
    pts = np.asarray(route_en, dtype=np.float64).reshape(-1, 2)
    home = home or frame.origin
    seg = np.diff(pts, axis=0)
    lengths = np.hypot(seg[:, 0], seg[:, 1])
    cum = np.concatenate([[0.0], np.cumsum(lengths)])
    total = float(cum[-1])
    n = int(total / speed_m_s * rate_hz) + 1
    for i in range(n):
        d = i * speed_m_s / rate_hz
        k = min(int(np.searchsorted(cum, d, side="right")) - 1, len(lengths) - 1)
        frac = (d - cum[k]) / lengths[k] if lengths[k] > 0 else 0.0
        p = pts[k] + frac * seg[k]
        yaw = math.degrees(math.atan2(seg[k, 0], seg[k, 1])) % 360.0
        yield state_at(frame, p[0], p[1], altitude_m, yaw, start_time_s + i / rate_hz, home, speed_m_s)


def state_at(
    frame: LocalFrame,
    east_m: float,
    north_m: float,
    altitude_m: float,
    yaw_deg: float,
    time_s: float,
    home: GeoPoint | None = None,
    speed_m_s: float = 0.0,
    roll_deg: float = 0.0,
    pitch_deg: float = 0.0,
) -> VehicleState:
    """A flying ``VehicleState`` at a local position, ``altitude_m`` above home."""
    home = home or frame.origin
    pos = frame.enu_to_point(east_m, north_m, altitude_m + home.altitude_m - frame.origin.altitude_m)
    yr = math.radians(yaw_deg)
    return VehicleState(
        time_s=time_s,
        position=pos,
        relative_altitude_m=altitude_m,
        roll_deg=roll_deg,
        pitch_deg=pitch_deg,
        yaw_deg=yaw_deg,
        heading_deg=yaw_deg,
        ground_speed_m_s=speed_m_s,
        velocity_north_m_s=speed_m_s * math.cos(yr),
        velocity_east_m_s=speed_m_s * math.sin(yr),
        mode="AUTO",
        armed=True,
        landed=False,
        gps_fix_type=3,
        ekf_ok=True,
        home=home,
    )


def route_from_points(points: Sequence[GeoPoint], frame: LocalFrame) -> NDArray[np.float64]:
    """East/north (K, 2) of a list of positions."""
    return frame.lonlat_to_en([(p.longitude_deg, p.latitude_deg) for p in points])
