"""Tracking in ground coordinates: one physical thing is one track across frames and passes.

Per frame: the detections are first registered to the map of recent tracks (the offset
most detection-track differences vote for, which removes the frame-wide error of a noisy
pose), then
associated with the tracks of their class by a gated optimal assignment (gate: the
configured distance plus, for people, their walking reach since the last sighting, and
for hot spots twice the detection's pose uncertainty). A track is confirmed after
``k`` hits within its last ``n`` frames *in which it was in view*; it ends after
``track_max_misses`` consecutive in-view misses, or two spanning ``track_max_miss_s``
(the thing is gone) or when not seen for
``track_lifetime_s`` (out of sight too long). Tracks out of view are neither hit nor
missed, so a fire seen on one pass is the same track on the next.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree

from drone_patrol.core.config.vision import VisionConfig
from drone_patrol.vision.detections import CLASS_PERSON, Detections

_BIG = 1e9
_PREDICT_MAX_S = 3.0


@dataclass
class Track:
    """A tracked object in the site's local frame."""

    track_id: int
    class_id: int
    en_m: NDArray[np.float64]
    sigma_m: float
    first_seen_s: float
    last_seen_s: float
    peak_c: float
    last_peak_c: float
    mean_c: float
    area_m2: float
    velocity_m_s: NDArray[np.float64] = field(default_factory=lambda: np.zeros(2))
    hits: int = 1
    #: sightings not cut by the image border (a trustworthy centroid)
    clean_hits: int = 0
    misses: int = 0
    confirmed: bool = False
    history: deque[bool] = field(default_factory=deque)
    #: the first sighting's peak (for heat that keeps rising); NaN in automatic-gain video
    first_peak_c: float = float("nan")
    #: sightings that lay on a detected vehicle
    vehicle_hits: int = 0
    last_pixel: tuple[float, float] = (float("nan"), float("nan"))
    _w_sum: float = 0.0
    _wen_sum: NDArray[np.float64] = field(default_factory=lambda: np.zeros(2))

    def predicted(self, time_s: float) -> NDArray[np.float64]:
        """Position predicted for ``time_s``."""
        # people stop, turn and wait: a velocity is trusted for a few seconds only
        return self.en_m + self.velocity_m_s * min(max(0.0, time_s - self.last_seen_s), _PREDICT_MAX_S)


InViewFn = Callable[[NDArray[np.float64]], NDArray[np.bool_]]


class GroundTracker:
    """Multi-class tracker over georeferenced ``Detections``."""

    def __init__(self, config: VisionConfig) -> None:
        self.config = config
        self.tracks: dict[int, Track] = {}
        self.ended: list[Track] = []
        self._ids = itertools.count(1)
        self.last_offset_m = np.zeros(2)

    def update(self, dets: Detections, time_s: float, in_view: InViewFn | None = None) -> Detections:
        """Associate one frame's detections; returns them with ``tracker_id`` set and positions registered.

        ``in_view`` tells which ground points the frame covered (for hit/miss bookkeeping);
        without it every track counts as in view.
        """
        ok = np.all(np.isfinite(dets.ground_en_m), axis=1) if len(dets) else np.zeros(0, bool)
        dets = dets[ok]
        en = self._register(dets, time_s)
        # hot spots average raw positions (independent pose errors cancel); people keep registered
        # ones, so the geometry of a group survives a noisy pose
        upd = np.where((dets.class_id == CLASS_PERSON)[:, None], en, dets.ground_en_m) if len(dets) else en
        ids = np.full(len(dets), -1, dtype=np.int64)
        matched: set[int] = set()
        for cls in np.unique(dets.class_id) if len(dets) else []:
            sel = np.nonzero(dets.class_id == cls)[0]
            tracks = [t for t in self.tracks.values() if t.class_id == cls]
            if tracks:
                pred = np.array([t.predicted(time_s) for t in tracks])
                dist = np.hypot(en[sel, None, 0] - pred[None, :, 0], en[sel, None, 1] - pred[None, :, 1])
                gate = np.array([self._gate(t, time_s) for t in tracks])[None, :]
                if cls != CLASS_PERSON:
                    gate = gate + 2.0 * dets.error_radius_m[sel, None]
                cost = np.where(dist <= gate, dist, _BIG)
                rows, cols = linear_sum_assignment(cost)
                for r, col in zip(rows, cols, strict=True):
                    if cost[r, col] >= _BIG:
                        continue
                    t = tracks[col]
                    self._hit(t, dets, sel[r], upd[sel[r]], time_s)
                    ids[sel[r]] = t.track_id
                    matched.add(t.track_id)
            for k in sel:
                if ids[k] == -1:
                    t = self._new(dets, int(k), upd[k], time_s)
                    ids[k] = t.track_id
                    matched.add(t.track_id)
        self._age(time_s, matched, in_view)
        return dets.with_fields(tracker_id=ids, ground_en_m=upd)

    def _gate(self, t: Track, time_s: float) -> float:
        c = self.config
        if t.class_id == CLASS_PERSON:
            return c.track_gate_m * 0.5 + c.person_max_speed_m_s * min(max(0.0, time_s - t.last_seen_s), _PREDICT_MAX_S)
        return c.track_gate_m

    def _register(self, dets: Detections, time_s: float) -> NDArray[np.float64]:
        """Shift the frame's ground points by their common offset to the map of static tracks.

        Only confirmed, recently seen tracks slower than 1 m/s (hot spots, people standing or
        milling about; not walkers) take part; the offset is the one most (detection, track)
        differences agree on to within half a metre, at least three of them.
        The shifted points serve association (and people's tracks); hot-spot tracks average
        the raw positions, so no frame's pose error is frozen into them.
        """
        en = dets.ground_en_m.copy()
        self.last_offset_m = np.zeros(2)
        recent = [
            t
            for t in self.tracks.values()
            if t.confirmed and time_s - t.last_seen_s <= 3.0 and float(np.hypot(*t.velocity_m_s)) < 1.0
        ]
        if len(dets) < 3 or len(recent) < 3:
            return en
        pred = np.array([t.en_m for t in recent])
        cls = np.array([t.class_id for t in recent])
        reach = float(np.median(dets.error_radius_m)) * 3.0 + 1.0
        # vote: every same-class (detection - track) difference within reach; the true offset
        # is where most of them agree (nearest neighbours pair wrongly in a tight crowd)
        diff = (en[:, None, :] - pred[None, :, :]).reshape(-1, 2)
        same = (dets.class_id[:, None] == cls[None, :]).reshape(-1)
        diff = diff[same & (np.hypot(diff[:, 0], diff[:, 1]) <= reach)]
        if len(diff) < 3:
            return en
        votes = np.array([len(v) for v in cKDTree(diff).query_ball_point(diff, 0.5)])
        best = diff[int(np.argmax(votes))]
        near = diff[np.hypot(*(diff - best).T) <= 0.5]
        if len(near) < 3:
            return en
        offset = near.mean(axis=0)
        if float(np.hypot(*offset)) < 0.5 / np.sqrt(len(near)) + 0.05:
            return en
        self.last_offset_m = offset
        return en - offset

    def _new(self, dets: Detections, k: int, en: NDArray[np.float64], time_s: float) -> Track:
        t = Track(
            track_id=next(self._ids),
            class_id=int(dets.class_id[k]),
            en_m=en.copy(),
            sigma_m=float(dets.error_radius_m[k]),
            first_seen_s=time_s,
            last_seen_s=time_s,
            peak_c=float(dets.peak_c[k]),
            last_peak_c=float(dets.peak_c[k]),
            mean_c=float(dets.mean_c[k]),
            area_m2=float(dets.data["area_m2"][k]) if "area_m2" in dets.data else float("nan"),
            history=deque([True], maxlen=self.config.track_confirm_window),
            last_pixel=(float(dets.centroid_px[k, 0]), float(dets.centroid_px[k, 1])),
            first_peak_c=float(dets.peak_c[k]),
            vehicle_hits=int(_on_vehicle(dets, k)),
        )
        w = 1.0 / max(t.sigma_m, 0.05) ** 2
        t._w_sum, t._wen_sum = w, en * w
        t.clean_hits = 0 if _clipped(dets, k) else 1
        t.confirmed = self.config.track_confirm_hits <= 1
        self.tracks[t.track_id] = t
        return t

    def _hit(self, t: Track, dets: Detections, k: int, en: NDArray[np.float64], time_s: float) -> None:
        c = self.config
        dt = time_s - t.last_seen_s
        sigma = float(dets.error_radius_m[k])
        if t.class_id == CLASS_PERSON:
            pred = t.predicted(time_s)
            resid = en - pred
            t.en_m = pred + 0.6 * resid
            if dt > 1e-3:
                v = 0.8 * (t.velocity_m_s + 0.3 * resid / dt)
                speed = float(np.hypot(*v))
                t.velocity_m_s = v if speed <= c.person_max_speed_m_s else v * (c.person_max_speed_m_s / speed)
        else:
            # static things: the uncertainty-weighted mean of every sighting
            w = 1.0 / max(sigma, 0.05) ** 2
            t._w_sum += w
            t._wen_sum = t._wen_sum + en * w
            t.en_m = t._wen_sum / t._w_sum
        t.sigma_m = min(t.sigma_m, sigma)
        t.last_seen_s = time_s
        t.hits += 1
        t.clean_hits += 0 if _clipped(dets, k) else 1
        t.misses = 0
        t.history.append(True)
        t.peak_c = float(np.fmax(t.peak_c, float(dets.peak_c[k])))  # NaN (no temperature) never wins
        t.vehicle_hits += int(_on_vehicle(dets, k))
        t.last_peak_c = float(dets.peak_c[k])
        t.mean_c = float(dets.mean_c[k])
        if "area_m2" in dets.data:
            t.area_m2 = float(dets.data["area_m2"][k])
        t.last_pixel = (float(dets.centroid_px[k, 0]), float(dets.centroid_px[k, 1]))
        if sum(t.history) >= c.track_confirm_hits:
            t.confirmed = True

    def _age(self, time_s: float, matched: set[int], in_view: InViewFn | None) -> None:
        c = self.config
        others = [t for t in self.tracks.values() if t.track_id not in matched]
        if others:
            pos = np.array([t.predicted(time_s) for t in others])
            seen = in_view(pos) if in_view is not None else np.ones(len(others), bool)
            for t, vis in zip(others, seen, strict=True):
                if vis:
                    t.misses += 1
                    t.history.append(False)
        for t in list(self.tracks.values()):
            gone = t.misses >= c.track_max_misses or (t.misses >= 2 and time_s - t.last_seen_s >= c.track_max_miss_s)
            if gone or time_s - t.last_seen_s > c.track_lifetime_s:
                del self.tracks[t.track_id]
                self.ended.append(t)

    def pop_ended(self) -> list[Track]:
        """Tracks ended since the last call."""
        out, self.ended = self.ended, []
        return out

    def confirmed(self, class_id: int | None = None) -> list[Track]:
        """Live confirmed tracks (of one class)."""
        return [t for t in self.tracks.values() if t.confirmed and (class_id is None or t.class_id == class_id)]


def _on_vehicle(dets: Detections, k: int) -> bool:
    on = dets.data.get("on_vehicle")
    return bool(on[k]) if on is not None else False


def _clipped(dets: Detections, k: int) -> bool:
    clipped = dets.data.get("clipped")
    return bool(clipped[k]) if clipped is not None else False
