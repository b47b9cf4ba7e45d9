"""The shipped YOLOv8n model on real photographs of people, scaled into a 640x512 aerial-like frame.

Measured on this frame (three photographs, each pasted 160, 96, 64, 48, 32 and 24 px tall,
a match is IoU >= 0.5 with the person's box): without tiling the model finds 11 of the 18
people, all three at 96 px and up and the smallest at 48 px; with tiling (9 tiles of
256x320 enlarged to 512x640, plus the whole frame) it finds 15, the smallest at 24 px
(the cameraman), and 32 px for Grace Hopper.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import pytest
from numpy.typing import NDArray

from drone_patrol.vision.detections import CLASS_PERSON, Detections
from drone_patrol.vision.frames import Detector, ThermalFrame
from drone_patrol.vision.onnx import OnnxDetector, OnnxDetectorConfig, default_model_path
from drone_patrol.vision.onnx.decode import iou
from tests.vision_onnx.conftest import aerial_scene

MATCH_IOU = 0.5


@dataclass(frozen=True)
class Score:
    found: list[tuple[str, int]]
    false_positives: int

    def heights(self, name: str) -> list[int]:
        return sorted(h for n, h in self.found if n == name)

    @property
    def smallest(self) -> int:
        return min(h for _, h in self.found)


def score(dets: Detections, truth: list[tuple[str, int, NDArray[np.float64]]]) -> Score:
    """Which pasted people a detection matches (each detection used once), and the unmatched detections."""
    used: set[int] = set()
    found: list[tuple[str, int]] = []
    for name, height, box in truth:
        if not len(dets):
            break
        overlaps = iou(box, dets.xyxy)
        overlaps[list(used)] = 0
        best = int(np.argmax(overlaps))
        if overlaps[best] >= MATCH_IOU:
            used.add(best)
            found.append((name, height))
    return Score(found, len(dets) - len(used))


@cache
def _detector(tiling: bool) -> OnnxDetector:
    if tiling:  # share the session of the detector without tiling
        return OnnxDetector(
            OnnxDetectorConfig(model="coco", classes=("person",), tiling=True), model=_detector(False).model
        )
    return OnnxDetector(OnnxDetectorConfig(model="coco", classes=("person",), intra_op_threads=1))


@cache
def _scene() -> tuple[NDArray[np.uint8], list[tuple[str, int, NDArray[np.float64]]]]:
    return aerial_scene()


@pytest.fixture(scope="module")
def scene() -> tuple[NDArray[np.uint8], list[tuple[str, int, NDArray[np.float64]]]]:
    return _scene()


@cache
def _result(tiling: bool) -> Detections:
    frame, _ = _scene()
    return _detector(tiling).detect_image(frame)


def test_shipped_model_is_there_and_reads_its_metadata() -> None:
    path = default_model_path("coco")
    assert path.is_file(), f"{path} is missing: the model ships in models/"
    det = _detector(False)
    assert det.input_hw == (512, 640)
    assert det.class_names[0] == "person" and len(det.class_names) == 80
    assert det.model.dynamic_hw and det.model.dynamic_batch
    assert isinstance(det, Detector)


def test_finds_people_without_tiling(scene: tuple[NDArray[np.uint8], list]) -> None:
    _, truth = scene
    dets = _result(False)
    assert (dets.class_id == CLASS_PERSON).all()
    result = score(dets, truth)
    for name in ("astronaut", "camera", "grace_hopper"):
        assert {160, 96} <= set(result.heights(name)), (name, result.found)
    assert len(result.found) >= 10, result.found
    assert result.smallest <= 48, result.found
    assert result.false_positives <= 3


def test_tiling_finds_more_and_smaller_people(scene: tuple[NDArray[np.uint8], list]) -> None:
    _, truth = scene
    whole = score(_result(False), truth)
    tiled = score(_result(True), truth)
    assert len(tiled.found) > len(whole.found), (tiled.found, whole.found)
    assert len(tiled.found) >= 14, tiled.found
    assert tiled.smallest <= 32 < whole.smallest, (tiled.found, whole.found)
    assert set(whole.found) <= set(tiled.found)
    assert tiled.false_positives <= 4
    # No person is counted twice by overlapping tiles.
    dets = _result(True)
    for i in range(len(dets)):
        others = np.delete(dets.xyxy, i, axis=0)
        assert not len(others) or iou(dets.xyxy[i], others).max() < 0.6


def test_bgr_order_matches_rgb(scene: tuple[NDArray[np.uint8], list]) -> None:
    frame, _ = scene
    bgr = np.ascontiguousarray(frame[:, :, ::-1])
    again = _detector(False).detect_image(bgr, channel_order="bgr")
    assert np.allclose(again.xyxy, _result(False).xyxy)


def test_thermal_frame_is_normalised_and_detected(scene: tuple[NDArray[np.uint8], list]) -> None:
    frame, truth = scene
    # A Celsius frame whose contrast follows the photographs' brightness (12 C to 34 C).
    celsius = (12.0 + frame.mean(axis=2) / 255.0 * 22.0).astype(np.float32)
    thermal = ThermalFrame(celsius=celsius, time_s=0.0, index=7)
    dets = _detector(False).detect(thermal)
    result = score(dets, truth)
    assert {("astronaut", 160), ("camera", 160), ("grace_hopper", 160)} <= set(result.found), result.found
    # Temperatures are read from the Celsius frame inside each box.
    assert np.isfinite(dets.peak_c).all() and (dets.peak_c >= dets.mean_c).all()
    assert (dets.peak_c <= 34.0 + 1e-3).all() and (dets.mean_c >= 12.0).all()


def test_rgb_of_a_thermal_frame_is_used_and_scaled_to_thermal_pixels(scene: tuple[NDArray[np.uint8], list]) -> None:
    frame, truth = scene
    # The thermal sensor sees the scene at half the colour camera's resolution.
    celsius = np.full((256, 320), 15.0, np.float32)
    thermal = ThermalFrame(celsius=celsius, time_s=0.0, rgb=frame)
    dets = _detector(False).detect(thermal)
    half = [(n, h, b / 2) for n, h, b in truth]
    assert len(score(dets, half).found) >= 10
    assert dets.xyxy[:, [0, 2]].max() <= 320 and dets.xyxy[:, [1, 3]].max() <= 256
    # With source="thermal" the flat Celsius image holds nobody.
    thermal_only = OnnxDetector(
        OnnxDetectorConfig(model="coco", classes=("person",), source="thermal"), model=_detector(False).model
    )
    assert len(thermal_only.detect(thermal)) == 0
