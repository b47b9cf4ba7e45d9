"""``OnnxDetectorConfig``: the settings of the learned ONNX detector (``drone_patrol.vision.onnx``).

It lives in core so that the ``vision`` section can nest it (core may not import vision);
``drone_patrol.vision.onnx`` re-exports it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from drone_patrol.core.config._base import Section
from drone_patrol.core.resources import shipped_file

#: The models shipped in the repository's ``models/`` folder, by the name ``model`` takes.
SHIPPED_MODELS = {
    "thermal": "thermal_centernet_hituav.onnx",  # person, car, bicycle, other vehicle on drone thermal video
    "coco": "yolov8n_coco.onnx",  # COCO YOLOv8n (AGPL-3.0): colour photographs, person and vehicles
}
#: The score kept when neither the config nor the model names one.
DEFAULT_CONFIDENCE = 0.25
#: The default model: the thermal detector.
DEFAULT_MODEL_NAME = SHIPPED_MODELS["thermal"]


def default_model_path(model: str = "thermal") -> Path:
    """A shipped model (``models/<file>`` of the checkout or of the installed package), else
    ``models/`` of the working directory; ``model`` is ``thermal`` (default) or ``coco``."""
    name = SHIPPED_MODELS[model]
    return shipped_file(f"models/{name}") or Path("models") / name


class OnnxDetectorConfig(Section):
    """A YOLOv8-layout ONNX detector run with onnxruntime on the CPU.

    - ``model_path``: the .onnx file; ``None`` for the shipped model named by ``model``:
      ``thermal`` (default: person, car, bicycle, other vehicle, trained on real drone thermal
      video) or ``coco`` (YOLOv8n trained on colour photographs).
    - ``intra_op_threads`` / ``inter_op_threads``: onnxruntime session threads;
      ``thread_spinning`` lets idle ones busy-wait (off: the CPU is shared with the pipeline).
    - ``input_size``: network input (height, width), multiples of 32; ``None`` takes the
      model's ``imgsz`` metadata, else its fixed input shape, else 640x640.
    - ``confidence_threshold``: one score for every class; ``None`` (default) takes the model's
      own per-class operating thresholds (``score_thresholds`` metadata, chosen on validation
      data), else ``DEFAULT_CONFIDENCE``. ``iou_threshold`` (NMS), ``max_detections`` per frame.
    - ``classes``: model class names to keep (case-insensitive), ``None`` for every class
      that ``class_map`` maps; ``class_map`` maps a model class name to a drone-patrol class
      id (1 person, 2 vehicle, 3 bicycle).
    - ``source``: what a ``ThermalFrame`` is detected on: ``thermal`` (its automatic-gain
      video image, or the Celsius frame normalised to grey), ``rgb`` (its co-registered
      colour image), ``auto`` (RGB when present). ``thermal_*`` set the normalisation: a fixed
      ``thermal_range_c``, or the
      frame's ``thermal_percentiles`` with the top capped at ``thermal_max_c`` (hotter
      things, fires and grills, saturate white rather than hide people in the dark end).
    - ``tiling``: sliced inference for small people; ``tile_size_px`` (height, width),
      ``tile_overlap`` (fraction of a tile side), ``tile_input_size`` (network input for a
      tile, default ``input_size``: a tile is enlarged to it), ``tile_full_frame`` (also run the whole
      frame, for people larger than a tile), ``merge_ios_threshold`` (a box cut by a tile
      edge is dropped or joined when this much of it lies in another box).
    - ``every_nth_frame``: run the network on every k-th frame only (``EveryNthFrame``).
    """

    model_path: Path | None = None
    model: Literal["thermal", "coco"] = "thermal"
    intra_op_threads: int = Field(default=2, ge=1, le=64)
    inter_op_threads: int = Field(default=1, ge=1, le=64)
    thread_spinning: bool = False
    input_size: tuple[int, int] | None = None
    confidence_threshold: float | None = Field(default=None, gt=0, le=1)
    iou_threshold: float = Field(default=0.45, gt=0, le=1)
    max_detections: int = Field(default=300, ge=1)
    classes: tuple[str, ...] | None = None
    class_map: dict[str, int] = Field(
        default_factory=lambda: {
            "person": 1, "car": 2, "truck": 2, "bus": 2, "motorcycle": 2, "other_vehicle": 2, "bicycle": 3,
        }
    )  # fmt: skip
    source: Literal["auto", "thermal", "rgb"] = "auto"
    thermal_percentiles: tuple[float, float] = (1.0, 99.5)
    thermal_range_c: tuple[float, float] | None = None
    thermal_min_span_c: float = Field(default=8.0, gt=0)
    thermal_max_c: float | None = 45.0
    thermal_polarity: Literal["white_hot", "black_hot"] = "white_hot"
    tiling: bool = False
    tile_size_px: tuple[int, int] = (256, 320)
    tile_overlap: float = Field(default=0.2, ge=0, lt=1)
    tile_input_size: tuple[int, int] | None = None
    tile_full_frame: bool = True
    merge_ios_threshold: float = Field(default=0.6, gt=0, le=1)
    every_nth_frame: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _check(self) -> OnnxDetectorConfig:
        if self.input_size is not None and any(v < 32 or v % 32 for v in self.input_size):
            raise ValueError(f"input_size must be (height, width) multiples of 32, got {self.input_size}")
        if self.tile_input_size is not None and any(v < 32 or v % 32 for v in self.tile_input_size):
            raise ValueError(f"tile_input_size must be (height, width) multiples of 32, got {self.tile_input_size}")
        if any(v < 16 for v in self.tile_size_px):
            raise ValueError(f"tile_size_px must be at least 16 px per side, got {self.tile_size_px}")
        lo, hi = self.thermal_percentiles
        if not 0 <= lo < hi <= 100:
            raise ValueError(f"thermal_percentiles must satisfy 0 <= low < high <= 100, got {self.thermal_percentiles}")
        if self.thermal_range_c is not None and not self.thermal_range_c[0] < self.thermal_range_c[1]:
            raise ValueError(f"thermal_range_c must be (low, high) with low < high, got {self.thermal_range_c}")
        if self.classes is not None and not self.classes:
            raise ValueError("classes must name at least one model class")
        unmapped = [c for c in self.classes or () if c.lower() not in {k.lower() for k in self.class_map}]
        if unmapped:
            raise ValueError(f"classes {unmapped} have no entry in class_map")
        return self

    def resolved_model_path(self) -> Path:
        """``model_path`` or the shipped model named by ``model``."""
        return self.model_path if self.model_path is not None else default_model_path(self.model)
