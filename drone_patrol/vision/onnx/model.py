"""Loading a YOLOv8-layout ONNX model with onnxruntime, with one-line errors for bad files."""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from drone_patrol.core.errors import ModelError
from drone_patrol.vision.onnx.decode import Layout, output_layout

#: What a usable model looks like, for error messages.
EXPECTED = "a YOLOv8-layout ONNX model (one float input [N, 3, H, W], output [N, 4 + classes, anchors], no NMS)"

# An ONNX file is a serialized ModelProto; its first field written is ir_version (field 1, varint): tag 0x08.
_ONNX_FIRST_BYTE = 0x08


def _parse_literal(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None


def parse_class_names(text: str | None) -> list[str] | None:
    """Class names from metadata: ultralytics' ``{0: 'person', ...}`` dict, or a JSON list or dict."""
    if not text:
        return None
    value = _parse_literal(text)
    if isinstance(value, dict) and value:
        try:
            keys = sorted(int(k) for k in value)
        except (TypeError, ValueError):
            return None
        if keys != list(range(len(keys))):
            return None
        by_key = {int(k): str(v) for k, v in value.items()}
        return [by_key[k] for k in keys]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def parse_score_thresholds(text: str | None, class_names: list[str]) -> dict[str, float]:
    """Per-class operating thresholds from metadata ``score_thresholds`` (``{"person": 0.4, ...}``).

    The thresholds a model's trainer chose on validation data (the shipped thermal model:
    the score of best F1 per class on HIT-UAV val). Entries naming no class of the model, or
    outside (0, 1], are ignored: the file is the trainer's, a bad entry only loses its advice.
    """
    value = _parse_literal(text) if text else None
    if not isinstance(value, dict):
        return {}
    known = {n.lower() for n in class_names}
    out: dict[str, float] = {}
    for name, score in value.items():
        if isinstance(name, str) and name.lower() in known and isinstance(score, (int, float)) and 0 < score <= 1:
            out[name.lower()] = float(score)
    return out


def parse_input_size(text: str | None) -> tuple[int, int] | None:
    """(height, width) from metadata ``imgsz``: ``[512, 640]`` or a single ``640``."""
    if not text:
        return None
    value = _parse_literal(text)
    if isinstance(value, int) and value > 0:
        return value, value
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, int) and v > 0 for v in value):
        return int(value[0]), int(value[1])
    return None


def _check_file(path: Path) -> None:
    if not path.exists():
        raise ModelError(f"{path}: model file not found; expected {EXPECTED}")
    if not path.is_file():
        raise ModelError(f"{path}: not a file; expected {EXPECTED}")
    try:
        with path.open("rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise ModelError(f"{path}: cannot read model file ({exc.strerror})") from None
    if not head:
        raise ModelError(f"{path}: empty file; expected {EXPECTED}")
    if head[0] != _ONNX_FIRST_BYTE:
        raise ModelError(f"{path}: not an ONNX file (no ModelProto header); expected {EXPECTED}")


@dataclass(frozen=True, eq=False)
class YoloModel:
    """An onnxruntime session over a checked YOLOv8-layout model.

    ``input_hw`` is the default input size (height, width); ``dynamic_hw`` tells whether
    the model accepts other sizes, ``dynamic_batch`` whether it takes several images per run.
    """

    path: Path
    session: ort.InferenceSession
    input_name: str
    output_name: str
    class_names: list[str]
    layout: Layout | None
    input_hw: tuple[int, int]
    dynamic_hw: bool
    dynamic_batch: bool
    score_thresholds: dict[str, float] = field(default_factory=dict)

    def run(self, batch: NDArray[np.float32]) -> NDArray[np.float32]:
        """Run the network on an NCHW float32 batch; check and return its raw output."""
        try:
            (out,) = self.session.run([self.output_name], {self.input_name: batch})
        except Exception as exc:  # onnxruntime raises its own untyped errors
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"{self.path}: inference failed on input {list(batch.shape)}: {first}") from None
        arr = np.asarray(out)
        shape = tuple(int(d) for d in arr.shape)
        found = output_layout(shape, len(self.class_names) or None)
        expected_layout = (self.layout, len(self.class_names)) if self.layout else None
        if found is None or (expected_layout is not None and found != expected_layout) or shape[0] != batch.shape[0]:
            raise ModelError(
                f"{self.path}: output '{self.output_name}' has shape {list(shape)}, expected "
                f"[{batch.shape[0]}, 4 + {len(self.class_names) or 'classes'}, anchors] (YOLOv8 layout, no NMS)"
            )
        if self.layout is None:  # first run of a model whose output shape was symbolic
            object.__setattr__(self, "layout", found[0])
            if not self.class_names:
                object.__setattr__(self, "class_names", [f"class{i}" for i in range(found[1])])
        return arr


def _dim(value: object) -> int | None:
    return value if isinstance(value, int) and value > 0 else None


def load_model(
    path: str | Path,
    intra_op_threads: int = 1,
    inter_op_threads: int = 1,
    input_size: tuple[int, int] | None = None,
    spinning: bool = False,
) -> YoloModel:
    """Open ``path`` as a YOLOv8-layout model; class names and input size come from its metadata when present.

    ``spinning`` lets idle onnxruntime threads busy-wait for the next run (lower latency on
    a dedicated CPU, wasted cycles on a shared one).

    Raises :class:`ModelError` with one line naming the file and what was expected when the
    file is missing, truncated, not ONNX, or of an input/output layout that cannot be decoded.
    """
    p = Path(path)
    _check_file(p)
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = inter_op_threads
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    # Idle worker threads spinning between runs take CPU from the rest of the pipeline on a small board.
    flag = "1" if spinning else "0"
    options.add_session_config_entry("session.intra_op.allow_spinning", flag)
    options.add_session_config_entry("session.inter_op.allow_spinning", flag)
    try:
        session = ort.InferenceSession(str(p), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors
        text = str(exc).strip()
        if "protobuf" in text.lower() or "parse" in text.lower():
            raise ModelError(f"{p}: truncated or corrupt ONNX file (cannot be parsed); expected {EXPECTED}") from None
        first = text.splitlines()[0] if text else type(exc).__name__
        raise ModelError(f"{p}: onnxruntime cannot load the model ({first}); expected {EXPECTED}") from None

    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1:
        raise ModelError(f"{p}: the model has {len(inputs)} inputs; expected {EXPECTED}")
    inp = inputs[0]
    shape = list(inp.shape)
    if inp.type != "tensor(float)" or len(shape) != 4 or _dim(shape[1]) not in (3, None):
        raise ModelError(f"{p}: input '{inp.name}' is {inp.type} {shape}; expected a float [N, 3, H, W] input")
    if not outputs:
        raise ModelError(f"{p}: the model has no outputs; expected {EXPECTED}")
    out = outputs[0]

    meta = session.get_modelmeta().custom_metadata_map
    names = parse_class_names(meta.get("names"))
    out_shape = tuple(out.shape)
    layout_found = output_layout(out_shape, len(names) if names else None)
    # With a symbolic axis the layout may still turn out right: it is then checked on the first run.
    all_static = all(_dim(d) is not None for d in out_shape[1:])
    if len(out_shape) != 3 or (layout_found is None and all_static):
        classes = f"4 + {len(names)}" if names else "4 + classes"
        raise ModelError(
            f"{p}: output '{out.name}' has shape {list(out_shape)}; expected [N, {classes}, anchors] "
            "(YOLOv8 layout, no NMS)"
        )
    if names is None and layout_found is not None:
        names = [f"class{i}" for i in range(layout_found[1])]

    fixed_hw = (_dim(shape[2]), _dim(shape[3]))
    dynamic_hw = fixed_hw[0] is None or fixed_hw[1] is None
    if input_size is not None:
        if not dynamic_hw and tuple(input_size) != fixed_hw:
            raise ModelError(f"{p}: the model's input is fixed at {fixed_hw[0]}x{fixed_hw[1]}, not {input_size}")
        input_hw = (int(input_size[0]), int(input_size[1]))
    elif not dynamic_hw:
        input_hw = (int(fixed_hw[0] or 0), int(fixed_hw[1] or 0))
    else:
        input_hw = parse_input_size(meta.get("imgsz")) or (640, 640)
    return YoloModel(
        path=p,
        session=session,
        input_name=inp.name,
        output_name=out.name,
        class_names=names or [],
        layout=layout_found[0] if layout_found else None,
        input_hw=input_hw,
        dynamic_hw=dynamic_hw,
        dynamic_batch=_dim(shape[0]) is None,
        score_thresholds=parse_score_thresholds(meta.get("score_thresholds"), names or []),
    )
