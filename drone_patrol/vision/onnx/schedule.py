"""``EveryNthFrame``: run a costly detector on every k-th frame only, to hold the pipeline's frame rate."""

from __future__ import annotations

from typing import Literal

from drone_patrol.core.config.onnx_detector import OnnxDetectorConfig
from drone_patrol.vision.detections import Detections
from drone_patrol.vision.frames import Detector, ThermalFrame
from drone_patrol.vision.onnx.detector import OnnxDetector


class EveryNthFrame:
    """A ``Detector`` that calls ``detector`` on the 1st, (k+1)-th, (2k+1)-th ... frame it is given.

    On the frames in between it returns the last result (``on_skip="hold"``, so a head
    count does not drop to zero between runs; the boxes are then up to k-1 frames old) or
    no detections (``on_skip="empty"``, for trackers that prefer to coast). The average
    cost per frame is the wrapped detector's divided by k.
    """

    def __init__(self, detector: Detector, k: int, on_skip: Literal["hold", "empty"] = "hold") -> None:
        """Wrap ``detector``; ``k`` >= 1 (1 runs it on every frame)."""
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        if on_skip not in ("hold", "empty"):
            raise ValueError(f"on_skip must be 'hold' or 'empty', got {on_skip!r}")
        self.detector = detector
        self.k = k
        self.on_skip = on_skip
        self._count = 0
        self._last = Detections.empty()
        self.runs = 0

    def detect(self, frame: ThermalFrame) -> Detections:
        """Detections of ``frame`` (fresh on every k-th call, else held or empty)."""
        due = self._count % self.k == 0
        self._count += 1
        if due:
            self._last = self.detector.detect(frame)
            self.runs += 1
            return self._last
        return self._last if self.on_skip == "hold" else Detections.empty()

    def reset(self) -> None:
        """Forget the held result; the next frame runs the detector."""
        self._count = 0
        self._last = Detections.empty()


def make_onnx_detector(config: OnnxDetectorConfig) -> Detector:
    """The detector a pipeline should add for ``config``: an ``OnnxDetector``, wrapped in
    ``EveryNthFrame`` when ``config.every_nth_frame`` > 1. Raises ``ModelError`` for an unusable model."""
    detector = OnnxDetector(config)
    if config.every_nth_frame > 1:
        return EveryNthFrame(detector, config.every_nth_frame)
    return detector
