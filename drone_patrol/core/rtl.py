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


def return_paths(
    points: np.ndarray, targets: np.ndarray, rally: np.ndarray | None = None, limit_m: float = RALLY_LIMIT_M
) -> np.ndarray:
    """What RTL sweeps between consecutive points of a flown line, one geometry per point pair.

    Without ``rally``: the triangle to a shared target (every line from the segment in between
    lies in it), or both lines when the target changes between them. With ``rally`` (the rally
    points ``targets`` came from): every return from the segment, exactly: where the target may
    change inside a segment (another rally point nearest there, or the rally limit crossed) the
    segment is cut where it changes and each piece sweeps its triangle to its own target.
    """
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    tgt = np.asarray(targets, dtype=float).reshape(-1, 2)
    if rally is not None and len(pts) > 1:
        return swept_paths(pts, tgt, return_paths(pts, tgt), rally, limit_m)
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


def swept_paths(
    points: np.ndarray, targets: np.ndarray, paths: np.ndarray, rally: np.ndarray, limit_m: float = RALLY_LIMIT_M
) -> np.ndarray:
    """``paths`` (:func:`return_paths` without rally points) with every pair along which the
    target changes cut where it does, each piece swept to its own target (a copy)."""
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    tgt = np.asarray(targets, dtype=float).reshape(-1, 2)
    ral = np.asarray(rally, dtype=float).reshape(-1, 2)
    out = np.array(paths, dtype=object, copy=True)
    if len(pts) < 2:
        return out
    cuts = target_changes(pts[:-1], pts[1:], ral, limit_m)
    for changed in np.flatnonzero(~np.all(np.isclose(tgt[:-1], tgt[1:]), axis=1)):
        cuts.setdefault(int(changed), [])  # the ends' targets differ: a change at an end, on a tie
    for k, ts in cuts.items():
        a, d = pts[k], pts[k + 1] - pts[k]
        ends = np.array([0.0, *ts, 1.0])
        starts, stops = a + ends[:-1, None] * d, a + ends[1:, None] * d
        # each piece to the target of its inside (a cut point, a tie, is in both neighbours'
        # triangles), and the segment's two ends to their own targets (a tie at an end)
        corners = np.stack([starts, stops, rtl_targets((starts + stops) / 2.0, ral, limit_m)], axis=1)
        pieces = list(shapely.convex_hull(shapely.multipoints(corners)))
        pieces += [shapely.LineString([pts[j], tgt[j]]) for j in (k, k + 1) if not np.allclose(pts[j], tgt[j])]
        # kept as pieces: an overlay can drop a sliver (a return nearly along the leg)
        out[k] = shapely.geometrycollections(pieces)
    return out


def target_changes(a: np.ndarray, b: np.ndarray, rally: np.ndarray, limit_m: float) -> dict[int, list[float]]:
    """For each segment ``a[k]``-``b[k]`` along which the return target may change, the fractions
    (0, 1) where it may: where the nearest two candidate targets (home, the rally points) are
    equally near, and where the nearest rally point's distance crosses ``limit_m``. Segments
    with none are left out."""
    if len(rally) == 0 or len(a) == 0:
        return {}
    sites = np.vstack([np.zeros((1, 2)), rally])
    i, j = np.triu_indices(len(sites), k=1)
    s1, s2 = sites[i], sites[j]
    # |p - s1|^2 - |p - s2|^2 is linear in p, so along a segment it changes sign at most once
    w, c = 2.0 * (s2 - s1), (s1 * s1).sum(axis=1) - (s2 * s2).sum(axis=1)
    fa, fb = a @ w.T + c, b @ w.T + c  # (segments, site pairs)
    seg, pair = np.nonzero(fa * fb < 0)
    t = fa[seg, pair] / (fa[seg, pair] - fb[seg, pair])
    # a crossing matters only where its two sites are the nearest (a bisector of two far rally
    # points changes nothing)
    pos = a[seg] + t[:, None] * (b[seg] - a[seg])
    near = np.linalg.norm(pos[:, None, :] - sites[None, :, :], axis=2).min(axis=1)
    keep = np.linalg.norm(pos - s1[pair], axis=1) <= near + 1e-6 * (1.0 + near)
    found = [(seg[keep], t[keep])]
    if limit_m > 0:
        d = b - a
        qa = (d * d).sum(axis=1)[:, None]
        rel = a[:, None, :] - rally[None, :, :]
        qb = 2.0 * (rel * d[:, None, :]).sum(axis=2)
        qc = (rel * rel).sum(axis=2) - limit_m**2
        disc = qb * qb - 4.0 * qa * qc
        seg, r = np.nonzero(disc > 0)
        root = np.sqrt(disc[seg, r])
        for sign in (-1.0, 1.0):
            t = (-qb[seg, r] + sign * root) / (2.0 * qa[seg, 0])
            pos = a[seg] + t[:, None] * (b[seg] - a[seg])
            # only the nearest rally point's limit changes the target
            nearest = np.linalg.norm(pos[:, None, :] - rally[None, :, :], axis=2).min(axis=1)
            found.append(
                (seg[nearest >= limit_m - 1e-6 * (1.0 + limit_m)], t[nearest >= limit_m - 1e-6 * (1.0 + limit_m)])
            )
    segs = np.concatenate([f[0] for f in found])
    ts = np.concatenate([f[1] for f in found])
    inside = (ts > 1e-9) & (ts < 1.0 - 1e-9)
    out: dict[int, list[float]] = {}
    for k, tk in zip(segs[inside].tolist(), ts[inside].tolist(), strict=True):
        out.setdefault(int(k), []).append(round(float(tk), 12))
    return {k: sorted(set(v)) for k, v in out.items()}


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
