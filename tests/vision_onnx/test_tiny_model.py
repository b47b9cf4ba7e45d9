"""OnnxDetector end to end on tiny ONNX graphs that emit a known YOLOv8-layout tensor, and bad model files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from drone_patrol.core.errors import ModelError
from drone_patrol.vision.detections import CLASS_PERSON, CLASS_VEHICLE
from drone_patrol.vision.onnx import OnnxDetector, OnnxDetectorConfig, default_model_path, load_model
from tests.vision_onnx.conftest import TinyModel, build_reshape_model, yolo_head

NAMES = ["person", "car", "dog"]


def _head() -> np.ndarray:
    # Anchors in network-input pixels (cx, cy, w, h) with scores for person, car, dog.
    return yolo_head(
        [(32, 16, 20, 10), (33, 16, 20, 10), (60, 40, 8, 8), (80, 50, 6, 6), (10, 50, 4, 4)],
        [[0.9, 0.1, 0.0], [0.8, 0.0, 0.0], [0.0, 0.7, 0.2], [0.0, 0.0, 0.95], [0.2, 0.0, 0.0]],
        anchors=12,
    )


def test_decodes_letterboxes_filters_and_maps_classes(tiny_model: TinyModel) -> None:
    path = tiny_model(_head(), names=NAMES, imgsz=(64, 96))
    det = OnnxDetector(OnnxDetectorConfig(classes=("person", "car")), model_path=path)
    assert det.input_hw == (64, 96) and det.class_names == NAMES
    # A 128x192 image is halved into the 64x96 input without padding: boxes come back doubled.
    dets = det.detect_image(np.zeros((128, 192, 3), np.uint8))
    assert len(dets) == 2  # the second person box is suppressed by NMS, the dog is filtered, 0.2 < threshold
    assert np.allclose(dets.xyxy[0], [44, 22, 84, 42]) and dets.class_id[0] == CLASS_PERSON
    assert np.allclose(dets.xyxy[1], [112, 72, 128, 88]) and dets.class_id[1] == CLASS_VEHICLE
    assert np.allclose(dets.confidence, [0.9, 0.7])
    assert np.allclose(dets.area_px, [800, 256]) and np.isnan(dets.peak_c).all()


def test_padding_is_undone(tiny_model: TinyModel) -> None:
    path = tiny_model(_head(), names=NAMES, imgsz=(64, 96))
    det = OnnxDetector(OnnxDetectorConfig(), model_path=path)
    # 64x64 image into 64x96: no scaling, 16 px of padding left and right.
    dets = det.detect_image(np.zeros((64, 64), np.uint8))
    assert np.allclose(dets.xyxy[0], [22 - 16, 11, 42 - 16, 21])


def test_channels_last_layout_and_fixed_input(tiny_model: TinyModel) -> None:
    head = np.transpose(_head(), (0, 2, 1))
    path = tiny_model(head, names=NAMES, input_shape=[1, 3, 64, 96])
    det = OnnxDetector(OnnxDetectorConfig(classes=("person",)), model_path=path)
    assert det.input_hw == (64, 96) and not det.model.dynamic_hw and det.model.layout == "channels_last"
    dets = det.detect_image(np.zeros((64, 96, 3), np.uint8))
    assert len(dets) == 1 and np.allclose(dets.xyxy[0], [22, 11, 42, 21])
    # Tiling on a batch-1 model runs the tiles one by one.
    tiled = OnnxDetector(OnnxDetectorConfig(classes=("person",), tiling=True, tile_size_px=(32, 48)), model=det.model)
    assert len(tiled.tiles_for((64, 96))) == 9
    assert len(tiled.detect_image(np.zeros((64, 96, 3), np.uint8))) >= 1


def test_model_without_metadata_takes_names_from_the_output(tiny_model: TinyModel) -> None:
    path = tiny_model(_head(), output_shape=["batch", 7, "anchors"])
    det = OnnxDetector(
        OnnxDetectorConfig(classes=("class0",), class_map={"class0": CLASS_PERSON}, input_size=(64, 96)),
        model_path=path,
    )
    assert det.class_names == ["class0", "class1", "class2"]
    assert len(det.detect_image(np.zeros((64, 96, 3), np.uint8))) == 1


def test_symbolic_output_is_checked_on_first_run(tiny_model: TinyModel) -> None:
    path = tiny_model(_head(), output_shape=["batch", "channels", "anchors"])
    det = OnnxDetector(OnnxDetectorConfig(classes=("class0",), class_map={"class0": 1}), model_path=path)
    assert det.input_hw == (640, 640)  # no metadata, dynamic input: the YOLOv8 default
    assert len(det.detect_image(np.zeros((32, 32, 3), np.uint8))) == 1
    assert det.class_names == ["class0", "class1", "class2"]


def test_unknown_class_is_refused(tiny_model: TinyModel) -> None:
    path = tiny_model(_head(), names=NAMES, imgsz=(64, 96))
    with pytest.raises(ModelError, match=r"tiny\d\.onnx: the model has no class 'truck'"):
        OnnxDetector(OnnxDetectorConfig(classes=("truck",)), model_path=path)


def test_fixed_input_size_conflict(tiny_model: TinyModel) -> None:
    path = tiny_model(_head(), names=NAMES, input_shape=[1, 3, 64, 96])
    with pytest.raises(ModelError, match=r"fixed at 64x96"):
        load_model(path, input_size=(320, 320))
    shared = load_model(path)
    with pytest.raises(ModelError, match=r"fixed at \(64, 96\), not \(320, 320\)"):
        OnnxDetector(OnnxDetectorConfig(input_size=(320, 320)), model=shared)


def test_input_size_per_detector_on_a_shared_dynamic_model(tiny_model: TinyModel) -> None:
    model = load_model(tiny_model(_head(), names=NAMES, imgsz=(64, 96)))
    small = OnnxDetector(OnnxDetectorConfig(input_size=(32, 32)), model=model)
    assert small.input_hw == (32, 32) and model.input_hw == (64, 96)
    # A 64x64 image halved into 32x32: the person box (x 22..42 in the input) comes back doubled
    # and clipped to the image.
    dets = small.detect_image(np.zeros((64, 64, 3), np.uint8))
    assert np.allclose(dets.xyxy[0], [44, 22, 64, 42])


# --- files that are not usable models ---------------------------------------------------


def _one_line(exc: pytest.ExceptionInfo[ModelError]) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as exc:
        load_model(tmp_path / "nope.onnx")
    assert _one_line(exc).startswith(f"{tmp_path / 'nope.onnx'}: model file not found; expected a YOLOv8-layout")


def test_empty_and_non_onnx_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(ModelError, match=r"empty\.onnx: empty file"):
        load_model(empty)
    text = tmp_path / "notes.onnx"
    text.write_text("this is not a model\n")
    with pytest.raises(ModelError) as exc:
        load_model(text)
    assert "notes.onnx: not an ONNX file" in _one_line(exc)
    with pytest.raises(ModelError, match="not a file"):
        load_model(tmp_path)


def test_truncated_file(tmp_path: Path) -> None:
    full = default_model_path().read_bytes()
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(full[: len(full) // 3])
    with pytest.raises(ModelError) as exc:
        load_model(cut)
    assert "cut.onnx: truncated or corrupt ONNX file" in _one_line(exc)


def test_truncated_tiny_file(tiny_model: TinyModel, tmp_path: Path) -> None:
    data = tiny_model(_head(), names=NAMES, imgsz=(64, 96)).read_bytes()
    cut = tmp_path / "tiny_cut.onnx"
    cut.write_bytes(data[: len(data) - 40])
    with pytest.raises(ModelError, match=r"tiny_cut\.onnx: truncated or corrupt"):
        load_model(cut)


def test_undecodable_output_layouts(tiny_model: TinyModel) -> None:
    # An end-to-end export with NMS inside: [1, 300, 6].
    nms_inside = tiny_model(np.zeros((1, 300, 6), np.float32), names=NAMES)
    with pytest.raises(ModelError) as exc:
        load_model(nms_inside)
    msg = _one_line(exc)
    assert "output 'output0' has shape [" in msg and "expected [N, 4 + 3, anchors]" in msg
    # The metadata names 3 classes but the head carries 5.
    wrong_count = tiny_model(np.zeros((1, 9, 20), np.float32), names=NAMES)
    with pytest.raises(ModelError, match=r"expected \[N, 4 \+ 3, anchors\]"):
        load_model(wrong_count)


def test_undecodable_output_found_at_run_time(tmp_path: Path) -> None:
    path = build_reshape_model(tmp_path / "reshape.onnx", 6, NAMES)
    det = OnnxDetector(OnnxDetectorConfig(input_size=(64, 64)), model_path=path)
    with pytest.raises(
        ModelError, match=r"reshape.onnx: output 'output0' has shape \[1, 2048, 6\], expected \[1, 4 \+ 3"
    ):
        det.detect_image(np.zeros((64, 64, 3), np.uint8))


def test_wrong_input_layout(tiny_model: TinyModel) -> None:
    path = tiny_model(_head(), names=NAMES, input_shape=[1, 64, 96, 3])
    with pytest.raises(ModelError, match=r"input 'images' is tensor\(float\) \[1, 64, 96, 3\]; expected a float"):
        load_model(path)
