"""Where ArduCopter's RTL flies from a point, and whether that straight path is clear.

ArduCopter's RTL (ArduCopter/mode_rtl.cpp, libraries/AP_Rally/AP_Rally.cpp) climbs to
RTL_ALT where it is, then flies a straight line to its return target and lands there:
the closest rally point, unless home is closer (RALLY_INCL_HOME 1, the Copter default)
or every rally point is farther than RALLY_LIMIT_KM (0.3 km on Copter; 0 is no limit),
and home when there are no rally points. A failsafe (battery, ground-station link,
fence) or the controller can start an RTL anywhere on the route, so every such line
must stay inside the inclusion fence and outside every no-fly zone.

Points are local metres with home at (0, 0); arrays are ``(n, 2)``.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

#: RALLY_LIMIT_KM on Copter, in metres
RALLY_LIMIT_M = 300.0


def rtl_targets(
    points: np.ndarray, rally: np.ndarray, limit_m: float = RALLY_LIMIT_M, include_home: bool = True
) -> np.ndarray:
    """The return target of each point (AP_Rally::calc_best_rally_or_home_location)."""
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    out = np.zeros_like(pts)
    ral = np.asarray(rally, dtype=float).reshape(-1, 2)
    if len(ral) == 0 or len(pts) == 0:
        return out
    d = np.linalg.norm(pts[:, None, :] - ral[None, :, :], axis=2)
    nearest = d.argmin(axis=1)
    d_min = d[np.arange(len(pts)), nearest]
    use = np.ones(len(pts), dtype=bool)
    if limit_m > 0:
        use &= d_min <= limit_m
    if include_home:
        use &= d_min < np.linalg.norm(pts, axis=1)
    out[use] = ral[nearest[use]]
    return out


def return_paths(points: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """What RTL sweeps between consecutive points of a flown line: the triangle to a shared
    target (every line from the segment in between lies in it), or both lines when the
    target changes between them; one geometry per point pair."""
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    tgt = np.asarray(targets, dtype=float).reshape(-1, 2)
    if len(pts) == 1:
        if np.allclose(pts[0], tgt[0]):
            return np.array([shapely.points(pts[0])], dtype=object)
        return np.array([shapely.linestrings([pts[0], tgt[0]])], dtype=object)
    out = np.empty(max(0, len(pts) - 1), dtype=object)
    if len(out) == 0:
        return out
    # made for all pairs at once (shapely's vectorised constructors): this runs on every sortie
    same = np.all(np.isclose(tgt[:-1], tgt[1:]), axis=1)
    if same.any():
        corners = np.stack([pts[:-1][same], pts[1:][same], tgt[:-1][same]], axis=1)  # (k, 3, 2)
        out[same] = shapely.convex_hull(shapely.multipoints(corners))
    if not same.all():
        pair = np.nonzero(~same)[0]
        first = np.stack([pts[:-1][pair], tgt[:-1][pair]], axis=1)  # (m, 2, 2): the line from a
        second = np.stack([pts[1:][pair], tgt[1:][pair]], axis=1)  # and the line from b
        lines = shapely.linestrings(np.stack([first, second], axis=1).reshape(-1, 2, 2))
        out[~same] = shapely.multilinestrings(lines, indices=np.repeat(np.arange(len(pair)), 2))
    return out


def blocked(paths: np.ndarray, obstacles: BaseGeometry) -> np.ndarray:
    """Which return paths touch ``obstacles`` (the no-fly zones with their clearance)."""
    if obstacles.is_empty or len(paths) == 0:
        return np.zeros(len(paths), dtype=bool)
    shapely.prepare(obstacles)
    return np.asarray(shapely.intersects(obstacles, paths), dtype=bool)


def outside(paths: np.ndarray, inclusion: BaseGeometry) -> np.ndarray:
    """Which return paths leave the inclusion fence."""
    if inclusion.is_empty or len(paths) == 0:
        return np.zeros(len(paths), dtype=bool)
    shapely.prepare(inclusion)
    return ~np.asarray(shapely.covers(inclusion, paths), dtype=bool)
