"""Hot spots in automatic-gain video: saturated blobs, the only heat an 8-bit AGC frame can show.

Automatic-gain video maps each frame's own range to grey, so a grey level is no
temperature and a warm engine can be as white as a fire. What it does show is a blob so
much hotter than the scene that it clips at full white while the gain is set for the rest
of the frame. :class:`SaturationDetector` reports such blobs as hot spots with no
temperature (``peak_c`` NaN) and a low confidence; the incident rules alert on them as
possible heat, at a lower severity than a measured fire.
"""

from __future__ import annotations

import numpy as np

from drone_patrol.core.config.vision import VisionConfig
from drone_patrol.vision.detections import CLASS_HOTSPOT, Detections
from drone_patrol.vision.detectors import GsdFn, blob_size_limits_px, components
from drone_patrol.vision.frames import ThermalFrame

#: confidence of a saturated blob: it is heat, but how hot is unknown
SATURATION_CONFIDENCE = 0.35


class SaturationDetector:
    """Blobs at or above ``vision.agc_saturation_level`` grey in automatic-gain frames.

    Blobs are kept within the hot-spot area range (square metres, from the frame's ground
    sample distance) and when they are at most ``agc_saturation_max_fraction`` of the frame
    (a frame mostly white is a gain glitch, not a fire). Radiometric frames give nothing:
    their hot spots come from temperatures.
    """

    def __init__(
        self, config: VisionConfig, ground_sample_m: GsdFn | None = None, nearest_sample_m: GsdFn | None = None
    ) -> None:
        self.config = config
        self.ground_sample_m = ground_sample_m
        self.nearest_sample_m = nearest_sample_m

    def detect(self, frame: ThermalFrame) -> Detections:
        """Saturated blobs of an automatic-gain frame (empty for any other frame)."""
        if not frame.agc or frame.video is None:
            return Detections.empty()
        c = self.config
        grey = frame.video
        mask = (grey >= c.agc_saturation_level).view(np.uint8)
        if float(mask[::4, ::4].mean()) > c.agc_saturation_max_fraction:
            return Detections.empty()
        min_px, max_px = blob_size_limits_px(c, frame, self.ground_sample_m, self.nearest_sample_m)
        rows = []
        for x, y, w, h, inside in components(np.ascontiguousarray(mask)):
            area = int(inside.sum())
            if area < min_px or area > max_px:
                continue
            yy, xx = np.nonzero(inside)
            rows.append((x, y, x + w, y + h, float(xx.mean()) + x, float(yy.mean()) + y, area))
        if not rows:
            return Detections.empty()
        a = np.asarray(rows, dtype=np.float64)
        return Detections.create(
            a[:, 0:4], np.full(len(a), SATURATION_CONFIDENCE), np.full(len(a), CLASS_HOTSPOT),
            centroid_px=a[:, 4:6], area_px=a[:, 6],
        )  # fmt: skip
