"""Fixtures of the ONNX detector tests: tiny YOLOv8-layout graphs and the real photographs."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

TinyModel = Callable[..., Path]


def _onnx() -> tuple[Any, Any, Any, Any]:
    onnx = pytest.importorskip("onnx", reason="the onnx package (a dev dependency) builds the tiny test graphs")
    return onnx, onnx.TensorProto, onnx.helper, onnx.numpy_helper


def build_tiny_model(
    path: Path,
    head: NDArray[np.float32],
    *,
    names: list[str] | None = None,
    imgsz: tuple[int, int] | None = None,
    input_shape: list[int | str] | None = None,
    output_shape: list[int | str] | None = None,
) -> Path:
    """Write an ONNX graph whose output is ``head`` (1, a, b) repeated over the batch, whatever the image.

    The output is ``head + 0 * mean(images)`` so it depends on the input as a real network
    does; ``names`` and ``imgsz`` are written as ultralytics writes its metadata.
    """
    onnx, TensorProto, helper, numpy_helper = _onnx()
    head = np.asarray(head, dtype=np.float32)
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["mean4"], axes=[1, 2, 3], keepdims=1),
        helper.make_node("Squeeze", ["mean4", "sq_axes"], ["mean1"]),
        helper.make_node("Reshape", ["mean1", "shape3"], ["mean3"]),
        helper.make_node("Mul", ["mean3", "zero"], ["zeroed"]),
        helper.make_node("Add", ["zeroed", "head"], ["output0"]),
    ]
    inits = [
        numpy_helper.from_array(head, "head"),
        numpy_helper.from_array(np.zeros((1, 1, 1), np.float32), "zero"),
        numpy_helper.from_array(np.array([2, 3], np.int64), "sq_axes"),
        numpy_helper.from_array(np.array([-1, 1, 1], np.int64), "shape3"),
    ]
    in_shape = input_shape if input_shape is not None else ["batch", 3, "height", "width"]
    out_shape = output_shape if output_shape is not None else ["batch", int(head.shape[1]), int(head.shape[2])]
    graph = helper.make_graph(
        nodes,
        "tiny_yolo",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, out_shape)],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="drone-patrol-tests")
    model.ir_version = 8
    if names is not None:
        helper.set_model_props(
            model, {"names": str(dict(enumerate(names))), **({"imgsz": json.dumps(list(imgsz))} if imgsz else {})}
        )
    elif imgsz is not None:
        helper.set_model_props(model, {"imgsz": json.dumps(list(imgsz))})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def build_reshape_model(path: Path, last_dim: int, names: list[str]) -> Path:
    """A graph that reshapes the image to [N, -1, last_dim]: an output shape known only at run time."""
    onnx, TensorProto, helper, numpy_helper = _onnx()
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["images", "shape"], ["output0"])],
        "reshape_only",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 3, "height", "width"])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(np.array([0, -1, last_dim], np.int64), "shape")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, {"names": str(dict(enumerate(names)))})
    onnx.save(model, str(path))
    return path


def yolo_head(
    boxes_cxcywh: list[tuple[float, float, float, float]], scores: list[list[float]], anchors: int
) -> NDArray[np.float32]:
    """A (1, 4 + C, anchors) YOLOv8 head with the given boxes first and zero scores elsewhere."""
    classes = len(scores[0])
    head = np.zeros((1, 4 + classes, anchors), np.float32)
    head[0, :4, :] = np.array([10, 10, 4, 4], np.float32)[:, None]
    for i, (box, sc) in enumerate(zip(boxes_cxcywh, scores, strict=True)):
        head[0, :4, i] = box
        head[0, 4:, i] = sc
    return head


#: Where the person is in each photograph (x0, y0, x1, y1 in the original pixels), read off the images.
PERSON_IN_PHOTO: dict[str, tuple[int, int, int, int]] = {
    "astronaut": (13, 10, 366, 512),  # Eileen Collins, head and torso, 512x512
    "camera": (2, 62, 297, 511),  # the cameraman, 512x512 grey
    "grace_hopper": (7, 13, 512, 600),  # Grace Hopper, head and torso, 512x600 (w x h)
}
#: Heights in pixels at which each photograph is pasted into the aerial-like frame.
SCENE_HEIGHTS_PX = (160, 96, 64, 48, 32, 24)


def package_file(package: str, relative: str) -> Path:
    """A data file inside an installed package, found without importing it; skips the test when absent."""
    reason = f"{package} (a dev dependency) is not installed; it ships {relative}"
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(reason)
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        pytest.skip(f"{path} is missing from the installed {package}")
    return path


def _read_rgb(path: Path) -> NDArray[np.uint8]:
    import cv2

    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert bgr is not None, f"{path}: cannot be read"
    return np.ascontiguousarray(bgr[:, :, ::-1])


def load_photos() -> dict[str, NDArray[np.uint8]]:
    """The three photographs of people that ship in scikit-image and matplotlib, as RGB uint8."""
    return {
        "astronaut": _read_rgb(package_file("skimage", "data/astronaut.png")),
        "camera": _read_rgb(package_file("skimage", "data/camera.png")),
        "grace_hopper": _read_rgb(package_file("matplotlib", "mpl-data/sample_data/grace_hopper.jpg")),
    }


def aerial_scene() -> tuple[NDArray[np.uint8], list[tuple[str, int, NDArray[np.float64]]]]:
    """A 640x512 frame: gravel ground with each photograph pasted at every height of ``SCENE_HEIGHTS_PX``.

    Returns the RGB frame and, per pasted copy, (photo name, height px, person box xyxy).
    """
    import cv2

    gravel = _read_rgb(package_file("skimage", "data/gravel.png"))
    frame = cv2.resize(gravel, (640, 512), interpolation=cv2.INTER_LINEAR)
    truth: list[tuple[str, int, NDArray[np.float64]]] = []
    gap, y = 12, 4
    for name, photo in load_photos().items():
        x = 4
        for height in SCENE_HEIGHTS_PX:
            k = height / photo.shape[0]
            width = round(photo.shape[1] * k)
            frame[y : y + height, x : x + width] = cv2.resize(photo, (width, height), interpolation=cv2.INTER_AREA)
            px0, py0, px1, py1 = PERSON_IN_PHOTO[name]
            truth.append((name, height, np.array([x + px0 * k, y + py0 * k, x + px1 * k, y + py1 * k])))
            x += width + gap
        y += max(SCENE_HEIGHTS_PX) + gap
    return frame, truth


@pytest.fixture
def tiny_model(tmp_path: Path) -> TinyModel:
    """A factory: ``tiny_model(head, names=..., imgsz=...)`` writes a tiny graph and returns its path."""
    counter = iter(range(1000))

    def make(head: NDArray[np.float32], **kwargs: object) -> Path:
        return build_tiny_model(tmp_path / f"tiny{next(counter)}.onnx", head, **kwargs)  # type: ignore[arg-type]

    return make
