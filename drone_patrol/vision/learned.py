"""The learned detector on automatic-gain video, loaded when the first such frame arrives.

An 8-bit automatic-gain frame has no temperatures, so the warm-body detector cannot find
people in it: the shipped thermal model (``models/thermal_centernet_hituav.onnx``, trained
on real drone thermal video) does, and finds vehicles too. :class:`VideoOnly` runs it on
those frames only, loading onnxruntime and the model on first use, so a radiometric
patrol pays nothing for it.
"""

from __future__ import annotations

import logging

from drone_patrol.core.config.onnx_detector import OnnxDetectorConfig
from drone_patrol.core.errors import DronePatrolError
from drone_patrol.vision.detections import Detections
from drone_patrol.vision.frames import Detector, ThermalFrame

log = logging.getLogger(__name__)


class VideoOnly:
    """A learned detector (``config``, default: the shipped thermal model) run on automatic-gain frames only.

    If the model cannot be loaded the error is logged once and kept in ``error``, and the
    detector finds nothing (hot spots from saturation still work).
    """

    def __init__(self, config: OnnxDetectorConfig | None = None) -> None:
        self.config = config or OnnxDetectorConfig()
        self._detector: Detector | None = None
        self.error: str | None = None

    def detect(self, frame: ThermalFrame) -> Detections:
        """People and vehicles of an automatic-gain frame; nothing for other frames."""
        if not frame.agc or self.error is not None:
            return Detections.empty()
        if self._detector is None:
            from drone_patrol.vision.onnx import make_onnx_detector  # onnxruntime only when video arrives

            try:
                self._detector = make_onnx_detector(self.config)
            except DronePatrolError as exc:
                self.error = str(exc)
                log.error("vision: no learned detector for automatic-gain video: %s", exc)
                return Detections.empty()
        return self._detector.detect(frame)
