"""Pseudo-colour views of thermal frames with annotations, as small JPEGs (live view, alert thumbnails)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

from drone_patrol.vision.detections import CLASS_HOTSPOT, Detections

_COLOURS = {CLASS_HOTSPOT: (40, 40, 255), 1: (80, 255, 80), 2: (255, 200, 60)}  # BGR


def pseudo_colour(
    celsius: NDArray[np.float32], low_c: float | None = None, high_c: float | None = None
) -> NDArray[np.uint8]:
    """A BGR 'inferno' image of a Celsius array; the span defaults to the scene median -5 .. +25 C."""
    if low_c is None or high_c is None:
        sub = celsius[::8, ::8]
        sub = sub[np.isfinite(sub)]
        med = float(np.median(sub)) if sub.size else 0.0
        low_c = med - 5.0 if low_c is None else low_c
        high_c = med + 25.0 if high_c is None else high_c
    scale = 255.0 / max(high_c - low_c, 1e-3)
    img = np.nan_to_num((celsius - low_c) * scale, nan=0.0)
    grey = np.clip(img, 0, 255).astype(np.uint8)
    return cv2.applyColorMap(grey, cv2.COLORMAP_INFERNO)


def annotate(image: NDArray[np.uint8], dets: Detections, scale: float = 1.0) -> NDArray[np.uint8]:
    """Draw boxes and track ids of ``dets`` (pixel coordinates times ``scale``) on a BGR image."""
    for k in range(len(dets)):
        x0, y0, x1, y1 = (dets.xyxy[k] * scale).tolist()
        colour = _COLOURS.get(int(dets.class_id[k]), (255, 255, 255))
        cv2.rectangle(image, (int(x0) - 1, int(y0) - 1), (math.ceil(x1) + 1, math.ceil(y1) + 1), colour, 1)
        if dets.tracker_id[k] >= 0 and dets.class_id[k] == CLASS_HOTSPOT and np.isfinite(dets.peak_c[k]):
            label = f"{dets.peak_c[k]:.0f}C"
            cv2.putText(image, label, (int(x0), max(8, int(y0) - 3)), cv2.FONT_HERSHEY_PLAIN, 0.8, colour, 1)
    return image


def encode_jpeg(image: NDArray[np.uint8], max_width_px: int, quality: int = 80) -> bytes:
    """JPEG bytes of ``image`` shrunk to at most ``max_width_px`` wide."""
    h, w = image.shape[:2]
    if w > max_width_px:
        f = max_width_px / w
        image = np.asarray(
            cv2.resize(image, (max_width_px, max(1, round(h * f))), interpolation=cv2.INTER_AREA), dtype=np.uint8
        )
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return buf.tobytes() if ok else b""


def frame_jpeg(
    celsius: NDArray[np.float32],
    dets: Detections,
    max_width_px: int = 320,
    outlines: Sequence[NDArray[np.float64]] = (),
    span: tuple[float, float] | None = None,
) -> bytes:
    """The whole frame in pseudo-colour with its detections and pixel outlines (known heat sources) in cyan.

    ``span`` fixes the colour scale's low and high values (for grey video, 0 and 255).
    """
    img = annotate(pseudo_colour(celsius, *(span or (None, None))), dets)
    for uv in outlines:
        cv2.polylines(img, [np.round(uv).astype(np.int32).reshape(-1, 1, 2)], True, (255, 255, 0), 1)
    return encode_jpeg(img, max_width_px)


def thumbnail_jpeg(
    celsius: NDArray[np.float32],
    centre_px: tuple[float, float],
    dets: Detections,
    half_size_px: int = 64,
    max_width_px: int = 160,
    marker: str = "",
    span: tuple[float, float] | None = None,
) -> bytes:
    """A crop around ``centre_px`` in pseudo-colour with detections and an optional caption (``span`` as for
    :func:`frame_jpeg`)."""
    h, w = celsius.shape
    cx, cy = round(centre_px[0]), round(centre_px[1])
    x0, x1 = max(0, cx - half_size_px), min(w, cx + half_size_px)
    y0, y1 = max(0, cy - half_size_px), min(h, cy + half_size_px)
    if x1 <= x0 or y1 <= y0:
        x0, y0, x1, y1 = 0, 0, w, h
    img = pseudo_colour(celsius, *(span or (None, None)))[y0:y1, x0:x1].copy()
    shifted = dets.with_fields(xyxy=dets.xyxy - np.array([x0, y0, x0, y0], dtype=np.float64))
    annotate(img, shifted)
    if marker:
        cv2.putText(img, marker, (2, img.shape[0] - 4), cv2.FONT_HERSHEY_PLAIN, 0.8, (255, 255, 255), 1)
    return encode_jpeg(img, max_width_px)
