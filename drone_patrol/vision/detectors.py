"""Radiometric detectors: hot spots and warm bodies, by temperature, size and shape.

Both implement the :class:`~drone_patrol.vision.frames.Detector` protocol and return
pixel-space :class:`Detections`; georeferencing comes after. Sizes are given in square
metres and turned into pixels with the frame's ground sample distance, supplied by a
callable (the pipeline derives it from the pose); without one a 40 m nadir view of the
default camera is assumed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import cv2
import numpy as np
from numpy.typing import NDArray

from drone_patrol.core.config.vision import VisionConfig
from drone_patrol.vision.detections import CLASS_HOTSPOT, CLASS_PERSON, Detections
from drone_patrol.vision.frames import ThermalFrame

#: metres per pixel of a 640 px, 50 degree camera looking straight down from 40 m
DEFAULT_GSD_M = 2 * 40.0 * math.tan(math.radians(25.0)) / 640
_MAD_TO_SIGMA = 1.4826

GsdFn = Callable[[ThermalFrame], float | None]


_STATS_CACHE: dict[int, tuple[NDArray[np.float32], float, float, float]] = {}


def scene_statistics(celsius: NDArray[np.float32], step: int = 8) -> tuple[float, float]:
    """Robust scene level and spread: the median and the MAD-sigma of every ``step``-th pixel.

    The last frame's figures are cached, so several detectors on one frame pay once.
    """
    # a few pixels as a fingerprint, in case a source refills one buffer in place
    mark = float(celsius[::97, ::89].sum()) if celsius.ndim == 2 else 0.0
    hit = _STATS_CACHE.get(step)
    if hit is not None and hit[0] is celsius and hit[3] == mark:
        return hit[1], hit[2]
    med, mad = _scene_statistics(celsius, step)
    _STATS_CACHE[step] = (celsius, med, mad, mark)
    return med, mad


def _scene_statistics(celsius: NDArray[np.float32], step: int) -> tuple[float, float]:
    sub = celsius[::step, ::step]
    sub = sub[np.isfinite(sub)]
    if sub.size == 0:
        return float("nan"), float("nan")
    med = float(np.median(sub))
    mad = float(np.median(np.abs(sub - med))) * _MAD_TO_SIGMA
    return med, mad


def components(mask: NDArray[np.uint8]) -> list[tuple[int, int, int, int, NDArray[np.bool_]]]:
    """The 8-connected blobs of a sparse binary mask as (x, y, w, h, inside) with ``inside`` over the box.

    Outer contours find the blobs (much cheaper than labelling a whole, mostly empty
    frame); each box is then labelled alone and the blob under its contour kept.
    """
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    out = []
    for cnt in contours:
        x, y, w, h = cv2.boundingRect(cnt)
        sub = mask[y : y + h, x : x + w]
        px, py = int(cnt[0, 0, 0]) - x, int(cnt[0, 0, 1]) - y
        if sub.all():
            out.append((x, y, w, h, np.ones((h, w), dtype=bool)))
            continue
        _, lab = cv2.connectedComponents(sub, connectivity=8)
        out.append((x, y, w, h, lab == lab[py, px]))
    return out


def _gsd(fn: GsdFn | None, frame: ThermalFrame) -> float:
    g = fn(frame) if fn is not None else None
    return g if g is not None and math.isfinite(g) and g > 0 else DEFAULT_GSD_M


class HotspotDetector:
    """Blobs hotter than ``min(absolute, median + k * MAD-sigma + margin)``.

    The absolute threshold (default 80 C) finds fires whatever the scene; the relative one
    segments anything clearly above the street, so a blob's whole extent is found and warm
    engines are seen (incident rules decide which blobs matter). Blobs outside the
    configured area range (square metres) are dropped.
    """

    def __init__(
        self, config: VisionConfig, ground_sample_m: GsdFn | None = None, nearest_sample_m: GsdFn | None = None
    ) -> None:
        self.config = config
        self.ground_sample_m = ground_sample_m
        self.nearest_sample_m = nearest_sample_m  # the finest metres per pixel in view (the area cap's)
        self.last_threshold_c = float("nan")

    def threshold_c(self, celsius: NDArray[np.float32]) -> float:
        """The segmentation threshold for a frame."""
        c = self.config
        med, mad = scene_statistics(celsius)
        rel = med + c.hotspot_mad_k * mad + c.hotspot_margin_c
        return min(c.hotspot_threshold_c, rel) if math.isfinite(rel) else c.hotspot_threshold_c

    def detect(self, frame: ThermalFrame) -> Detections:
        """Hot blobs of ``frame`` with peak and mean temperature and a heat-weighted centroid.

        An automatic-gain video frame has no temperatures: nothing (see ``SaturationDetector``).
        """
        if frame.agc:
            return Detections.empty()
        t = frame.celsius
        thr = self.threshold_c(t)
        self.last_threshold_c = thr
        mask = (t >= thr).view(np.uint8)
        min_px, max_px = blob_size_limits_px(self.config, frame, self.ground_sample_m, self.nearest_sample_m)
        return _blobs(t, mask, thr, CLASS_HOTSPOT, min_px, max_px, conf_scale_c=50.0)


def blob_size_limits_px(
    config: VisionConfig, frame: ThermalFrame, centre: GsdFn | None, nearest: GsdFn | None
) -> tuple[int, float]:
    """(fewest, most) pixels of a heat blob: the configured area at the image centre's ground
    sample, at least 2 pixels (one hot pixel is a stuck or dead one, not a fire); the most at the
    finest sample in view, so that a large fire near the bottom of an oblique view is kept (the
    pipeline checks each blob's own area in square metres afterwards)."""
    gsd = _gsd(centre, frame)
    finest = min(gsd, _gsd(nearest, frame)) if nearest is not None else gsd
    min_px = max(2, math.ceil(config.hotspot_min_area_m2 / (gsd * gsd)))
    return min_px, config.hotspot_max_area_m2 / (finest * finest)


class WarmBodyDetector:
    """People by temperature: the skin-and-clothing band against the cooler night street.

    Pixels between ``max(body_min_c, median + body_min_delta_c)`` and ``body_max_c`` that are
    not within ``body_halo_m`` of anything hotter (the halo of a grill or an engine) form blobs; a blob is one
    person when it has one warm head peak (or none) and a person's size, and is split into
    one detection per head peak when people stand shoulder to shoulder. Blobs larger than
    ``body_max_blob_m2`` (a warm roof) are dropped.
    """

    def __init__(self, config: VisionConfig, ground_sample_m: GsdFn | None = None) -> None:
        self.config = config
        self.ground_sample_m = ground_sample_m
        self._kernels: dict[int, NDArray[np.uint8]] = {}

    def _kernel(self, size: int) -> NDArray[np.uint8]:
        if size not in self._kernels:
            self._kernels[size] = np.asarray(cv2.getStructuringElement(cv2.MORPH_RECT, (size, size)), dtype=np.uint8)
        return self._kernels[size]

    def _without_halos(
        self, t: NDArray[np.float32], band: NDArray[np.uint8], hi: float, gsd: float, min_px: int
    ) -> Iterator[tuple[int, int, int, int, NDArray[np.bool_]]]:
        """Warm blobs with the pixels within ``body_halo_m`` of anything hotter removed (done per blob, locally)."""
        r = math.ceil(self.config.body_halo_m / gsd)
        height, width = t.shape
        for x, y, w, h, inside in components(band):
            if w * h < min_px:
                continue
            x0, y0 = max(0, x - r), max(0, y - r)
            around = t[y0 : min(height, y + h + r), x0 : min(width, x + w + r)]
            if r == 0 or float(around.max()) <= hi:
                yield x, y, w, h, inside
                continue
            hot = (around > hi).view(np.uint8)
            near = cv2.dilate(hot, self._kernel(2 * r + 1))[y - y0 : y - y0 + h, x - x0 : x - x0 + w]
            keep = (inside & (near == 0)).view(np.uint8)
            for sx, sy, sw, sh, sub in components(np.ascontiguousarray(keep)):
                yield x + sx, y + sy, sw, sh, sub

    def detect(self, frame: ThermalFrame) -> Detections:
        """One detection per person found in ``frame`` (none in automatic-gain video: no temperatures)."""
        if frame.agc:
            return Detections.empty()
        c = self.config
        t = frame.celsius
        med, _ = scene_statistics(t)
        lo = max(c.body_min_c, med + c.body_min_delta_c) if math.isfinite(med) else c.body_min_c
        hi = c.body_max_c
        gsd = _gsd(self.ground_sample_m, frame)
        px_m2 = gsd * gsd
        band = np.asarray(cv2.inRange(t, lo, hi), dtype=np.uint8)
        min_px = max(2, math.ceil(c.body_min_area_m2 / px_m2))
        single_px = c.body_max_area_m2 / px_m2
        split_px = 1.5 * c.body_typical_area_m2 / px_m2
        blob_px = c.body_max_blob_m2 / px_m2
        spacing_px = max(2.0, c.body_head_spacing_m / gsd)
        box_half = max(1.5, 0.25 / gsd)
        rows: list[tuple[float, float, float, float, float, float, float, float, float, float, float]] = []
        for x, y, w, h, inside in self._without_halos(t, band, hi, gsd, min_px):
            area = int(inside.sum())
            if area < min_px or area > blob_px:
                continue
            roi = t[y : y + h, x : x + w]
            vals = roi[inside]
            peaks = (
                _head_peaks(roi, inside, float(np.median(vals)) + c.body_head_contrast_c, spacing_px)
                if area > split_px
                else []
            )
            if area <= single_px and len(peaks) <= 1:
                if w > 4 * h + 2 or h > 4 * w + 2 or area < 0.2 * w * h:
                    continue  # a kerb or a pipe, not a person
                yy, xx = np.nonzero(inside)
                wts = vals - lo + 0.1
                cx = float((xx * wts).sum() / wts.sum()) + x
                cy = float((yy * wts).sum() / wts.sum()) + y
                conf = min(0.95, 0.5 + (float(vals.max()) - lo) / 20.0)
                rows.append((x, y, x + w, y + h, conf, float(vals.max()), float(vals.mean()), cx, cy, area, 1.0))
                continue
            cap = max(1, math.ceil(area / min_px))
            for px, py, pv in peaks[:cap]:
                gx, gy = px + x, py + y
                conf = min(0.9, 0.45 + (pv - lo) / 20.0)
                rows.append(
                    (gx - box_half, gy - box_half, gx + box_half, gy + box_half, conf, pv, float(vals.mean()),
                     gx, gy, area / len(peaks), float(len(peaks)))
                )  # fmt: skip
        if not rows:
            return Detections.empty()
        a = np.array(rows, dtype=np.float64)
        return Detections.create(
            a[:, 0:4], a[:, 4], np.full(len(a), CLASS_PERSON), peak_c=a[:, 5], mean_c=a[:, 6],
            centroid_px=a[:, 7:9], area_px=a[:, 9],
        )  # fmt: skip


def _head_peaks(
    roi: NDArray[np.float32], inside: NDArray[np.bool_], min_value_c: float, spacing_px: float
) -> list[tuple[float, float, float]]:
    """Local maxima (x, y, value) of a lightly smoothed blob at least ``spacing_px`` apart, warmest first."""
    if roi.shape[0] < 2 or roi.shape[1] < 2:
        return []
    sm = cv2.GaussianBlur(roi, (3, 3), 0.8)
    k = max(3, int(spacing_px) | 1)
    dil = cv2.dilate(sm, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    cand = (sm >= dil - 1e-4) & inside & (sm >= min_value_c)
    ys, xs = np.nonzero(cand)
    if xs.size == 0:
        return []
    vals = sm[ys, xs]
    order = np.argsort(-vals)
    kept: list[tuple[float, float, float]] = []
    for j in order:
        px, py = float(xs[j]), float(ys[j])
        if all((px - qx) ** 2 + (py - qy) ** 2 >= spacing_px**2 for qx, qy, _ in kept):
            kept.append((px, py, float(roi[ys[j], xs[j]])))
    return kept


def _blobs(
    t: NDArray[np.float32],
    mask: NDArray[np.uint8],
    thr: float,
    class_id: int,
    min_px: int,
    max_px: float,
    conf_scale_c: float,
) -> Detections:
    rows = []
    for x, y, w, h, inside in components(mask):
        if w * h < min_px:
            continue
        area = int(inside.sum())
        if area < min_px or area > max_px:
            continue
        roi = t[y : y + h, x : x + w]
        vals = roi[inside]
        yy, xx = np.nonzero(inside)
        wts = vals - thr + 0.5
        cx = float((xx * wts).sum() / wts.sum()) + x
        cy = float((yy * wts).sum() / wts.sum()) + y
        peak = float(vals.max())
        conf = float(np.clip(0.3 + (peak - thr) / conf_scale_c, 0.3, 1.0))
        rows.append((x, y, x + w, y + h, conf, peak, float(vals.mean()), cx, cy, area))
    if not rows:
        return Detections.empty()
    a = np.array(rows, dtype=np.float64)
    return Detections.create(
        a[:, 0:4], a[:, 4], np.full(len(a), class_id), peak_c=a[:, 5], mean_c=a[:, 6],
        centroid_px=a[:, 7:9], area_px=a[:, 9],
    )  # fmt: skip
