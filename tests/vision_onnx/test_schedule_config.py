"""EveryNthFrame scheduling and OnnxDetectorConfig validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from drone_patrol.core.errors import ModelError
from drone_patrol.vision.detections import CLASS_PERSON, Detections
from drone_patrol.vision.frames import Detector, ThermalFrame
from drone_patrol.vision.onnx import EveryNthFrame, OnnxDetectorConfig


class CountingDetector:
    """Returns one box whose x position is the number of calls so far."""

    def __init__(self) -> None:
        self.calls = 0

    def detect(self, frame: ThermalFrame) -> Detections:
        self.calls += 1
        return Detections.create([[self.calls, 0, self.calls + 1, 1]], [1.0], [CLASS_PERSON])


def _frames(n: int) -> list[ThermalFrame]:
    return [ThermalFrame(celsius=np.zeros((4, 4), np.float32), time_s=i * 0.1, index=i) for i in range(n)]


def test_every_third_frame_holds_the_last_result() -> None:
    inner = CountingDetector()
    sched = EveryNthFrame(inner, 3)
    assert isinstance(sched, Detector)
    xs = [float(sched.detect(f).xyxy[0, 0]) for f in _frames(7)]
    assert xs == [1, 1, 1, 2, 2, 2, 3]
    assert inner.calls == 3 and sched.runs == 3


def test_empty_on_skipped_frames_and_reset() -> None:
    inner = CountingDetector()
    sched = EveryNthFrame(inner, 2, on_skip="empty")
    sizes = [len(sched.detect(f)) for f in _frames(4)]
    assert sizes == [1, 0, 1, 0]
    sched.reset()
    assert len(sched.detect(_frames(1)[0])) == 1 and inner.calls == 3


def test_k_one_runs_every_frame_and_bad_k_is_refused() -> None:
    inner = CountingDetector()
    sched = EveryNthFrame(inner, 1)
    for f in _frames(5):
        sched.detect(f)
    assert inner.calls == 5
    with pytest.raises(ValueError, match="k must be at least 1"):
        EveryNthFrame(inner, 0)


def test_config_defaults_and_validation() -> None:
    cfg = OnnxDetectorConfig()
    assert cfg.classes is None and cfg.class_map["person"] == CLASS_PERSON  # every class the model has and maps
    assert cfg.resolved_model_path().name == "thermal_centernet_hituav.onnx"
    assert OnnxDetectorConfig(model="coco").resolved_model_path().name == "yolov8n_coco.onnx"
    assert OnnxDetectorConfig.model_validate({"input_size": [320, 320]}).input_size == (320, 320)
    with pytest.raises(ValidationError, match="multiples of 32"):
        OnnxDetectorConfig(input_size=(500, 640))
    with pytest.raises(ValidationError, match="no entry in class_map"):
        OnnxDetectorConfig(classes=("dog",))
    with pytest.raises(ValidationError, match="thermal_percentiles"):
        OnnxDetectorConfig(thermal_percentiles=(99, 1))
    with pytest.raises(ValidationError, match="extra"):
        OnnxDetectorConfig.model_validate({"treshold": 0.3})
    with pytest.raises(ValidationError):
        OnnxDetectorConfig(intra_op_threads=0)


def test_make_onnx_detector_wraps_when_asked(tmp_path: Path) -> None:
    from drone_patrol.vision.onnx import OnnxDetector, make_onnx_detector

    plain = make_onnx_detector(OnnxDetectorConfig(intra_op_threads=1))
    assert isinstance(plain, OnnxDetector)
    wrapped = make_onnx_detector(OnnxDetectorConfig(intra_op_threads=1, every_nth_frame=3))
    assert isinstance(wrapped, EveryNthFrame) and wrapped.k == 3 and isinstance(wrapped.detector, OnnxDetector)
    with pytest.raises(ModelError, match="model file not found"):
        make_onnx_detector(OnnxDetectorConfig(model_path=tmp_path / "gone.onnx"))
