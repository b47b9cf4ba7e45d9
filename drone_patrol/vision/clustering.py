"""Density clustering of people in metres: DBSCAN, and the groups a crowd rule counts."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree


def dbscan(points: NDArray[np.float64], eps_m: float, min_samples: int) -> NDArray[np.int64]:
    """DBSCAN cluster labels (-1 for noise) of 2D points in metres."""
    n = len(points)
    labels = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return labels
    neigh = cKDTree(points).query_ball_point(points, eps_m)
    core = np.array([len(nb) >= min_samples for nb in neigh])
    cluster = 0
    for i in range(n):
        if labels[i] != -1 or not core[i]:
            continue
        labels[i] = cluster
        stack = [i]
        while stack:
            j = stack.pop()
            if not core[j]:
                continue
            for k in neigh[j]:
                if labels[k] == -1:
                    labels[k] = cluster
                    stack.append(k)
        cluster += 1
    return labels


def gather_groups(
    points: NDArray[np.float64], eps_m: float, min_samples: int, radius_m: float
) -> list[NDArray[np.int64]]:
    """Groups of people around each DBSCAN cluster, biggest first, each person in one group.

    A cluster's group is everyone within ``min(radius_m, extent + eps_m)`` of its centre
    (computed twice, so the centre settles), which takes in the loose edge of a crowd that
    DBSCAN leaves as noise or as a small cluster of its own.
    """
    labels = dbscan(points, eps_m, min_samples)
    groups = []
    for lab in set(labels.tolist()) - {-1}:
        idx = np.nonzero(labels == lab)[0]
        centre = points[idx].mean(axis=0)
        for _ in range(2):
            extent = float(np.hypot(*(points[idx] - centre).T).max())
            reach = min(radius_m, extent + eps_m)
            idx = np.nonzero(np.hypot(*(points - centre).T) <= reach)[0]
            centre = points[idx].mean(axis=0)
        groups.append(idx)
    groups.sort(key=len, reverse=True)
    taken: set[int] = set()
    out = []
    for g in groups:
        rest = np.array([k for k in g.tolist() if k not in taken], dtype=np.int64)
        if len(rest):
            out.append(rest)
            taken.update(rest.tolist())
    return out
