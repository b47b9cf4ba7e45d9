"""``OnnxDetector``: a YOLOv8-layout ONNX person detector behind the vision ``Detector`` protocol."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from drone_patrol.core.errors import ModelError, VisionError
from drone_patrol.vision.detections import Detections
from drone_patrol.vision.frames import ThermalFrame
from drone_patrol.vision.onnx.config import DEFAULT_CONFIDENCE, OnnxDetectorConfig
from drone_patrol.vision.onnx.decode import RawBoxes, decode_yolov8, merge_tiles, nms
from drone_patrol.vision.onnx.model import YoloModel, load_model
from drone_patrol.vision.onnx.preprocess import Letterbox, Tile, as_rgb, letterbox, thermal_to_rgb, tile_grid, to_tensor

# A box within this many pixels of an inner tile edge is taken as cut by that edge.
_EDGE_PX = 3.0
# Largest number of images sent to the network in one run (bounds memory with dynamic batch models).
_MAX_BATCH = 8


class OnnxDetector:
    """Detect people (and other mapped classes) with a YOLOv8-layout ONNX model.

    ``detect(frame)`` takes a :class:`ThermalFrame` (its Celsius image normalised to grey,
    or its co-registered RGB image, per ``config.source``); ``detect_image(image)`` an
    8-bit RGB or BGR image. Both return pixel-space :class:`Detections` with drone-patrol
    class ids (``CLASS_PERSON`` for people), confidence, box area in ``area_px``, and
    NaN temperatures (the network does not measure them).
    """

    def __init__(
        self,
        config: OnnxDetectorConfig | None = None,
        *,
        model_path: str | Path | None = None,
        model: YoloModel | None = None,
    ) -> None:
        """Load the model of ``config`` (or ``model_path``), or share an already loaded ``model``.

        Raises :class:`ModelError` when the file cannot be used or lacks a class of ``config.classes``.
        """
        self.config = config or OnnxDetectorConfig()
        if model is None:
            path = Path(model_path) if model_path is not None else self.config.resolved_model_path()
            model = load_model(
                path,
                intra_op_threads=self.config.intra_op_threads,
                inter_op_threads=self.config.inter_op_threads,
                input_size=self.config.input_size,
                spinning=self.config.thread_spinning,
            )
        self.model: YoloModel = model
        size = self.config.input_size
        if size is not None and tuple(size) != model.input_hw and not model.dynamic_hw:
            raise ModelError(f"{model.path}: the model's input is fixed at {model.input_hw}, not {tuple(size)}")
        self._input_hw = (int(size[0]), int(size[1])) if size is not None else model.input_hw
        self._bind_classes()

    def _bind_classes(self) -> None:
        names = [n.lower() for n in self.model.class_names]
        cmap = {k.lower(): v for k, v in self.config.class_map.items()}
        if self.config.classes is None:  # every class of the model that has a drone-patrol class
            wanted = [n for n in names if n in cmap]
            if names and not wanted:
                raise ModelError(
                    f"{self.model.path}: none of the model's classes ({', '.join(self.model.class_names[:12])}) "
                    "is in class_map"
                )
        else:
            wanted = [c.lower() for c in self.config.classes]
        if names:
            missing = [c for c in wanted if c not in names]
            if missing:
                raise ModelError(
                    f"{self.model.path}: the model has no class {missing[0]!r}; its classes are "
                    f"{', '.join(self.model.class_names[:12])}{' ...' if len(names) > 12 else ''}"
                )
            self._class_indices: NDArray[np.int64] | None = np.asarray([names.index(c) for c in wanted])
        else:  # names known only after the first run
            self._class_indices = None
        self._class_ids = {i: cmap[n] for i, n in enumerate(names) if n in cmap}
        # Scores kept: the config's one threshold, or the model's per-class operating points.
        per_class = self.model.score_thresholds if self.config.confidence_threshold is None else {}
        self._class_floor = np.asarray([per_class.get(n, 0.0) for n in names], dtype=np.float64)
        floor = self.config.confidence_threshold
        self._score_floor = floor if floor is not None else min(per_class.values(), default=DEFAULT_CONFIDENCE)

    def _per_class(self, raw: RawBoxes) -> RawBoxes:
        """Drop boxes under their class's operating threshold (model metadata), when in use."""
        if not len(raw) or not self._class_floor.any():
            return raw
        return raw.take(raw.score >= self._class_floor[raw.class_index])

    @property
    def score_thresholds(self) -> dict[str, float]:
        """The score each model class must reach to be kept (the config's, or the model's own)."""
        floor = self._score_floor
        return {n: max(floor, float(f)) for n, f in zip(self.model.class_names, self._class_floor, strict=True)}

    @property
    def input_hw(self) -> tuple[int, int]:
        """Network input (height, width) for a whole image: ``config.input_size`` or the model's default."""
        return self._input_hw

    @property
    def tile_input_hw(self) -> tuple[int, int]:
        """Network input (height, width) of one tile in sliced inference."""
        size = self.config.tile_input_size
        if size is None or not self.model.dynamic_hw:
            return self._input_hw
        return (int(size[0]), int(size[1]))

    @property
    def class_names(self) -> list[str]:
        """The model's class names (from its metadata)."""
        return list(self.model.class_names)

    # --- public detection entry points -------------------------------------------------

    def detect(self, frame: ThermalFrame) -> Detections:
        """Detect in a thermal frame; boxes in the Celsius image's pixel coordinates.

        ``peak_c`` and ``mean_c`` of each detection are read from the Celsius image inside its box.
        """
        source = self.config.source
        if frame.video is not None and source != "rgb":  # the camera's own 8-bit video: what the model learnt on
            dets = self.detect_image(frame.video)
            # automatic-gain video carries no temperatures (its Celsius image is all NaN): nothing to read
            return dets if frame.agc else _with_temperatures(dets, frame.celsius)
        if frame.rgb is not None and source in ("auto", "rgb"):
            image = as_rgb(frame.rgb)
            dets = self.detect_image(image)
            h, w = frame.shape
            if image.shape[:2] != (h, w) and len(dets):  # co-registered but of another resolution
                sx, sy = w / image.shape[1], h / image.shape[0]
                dets = _rescaled(dets, sx, sy)
            return _with_temperatures(dets, frame.celsius)
        if source == "rgb":
            raise VisionError(f"OnnxDetector: source is 'rgb' but frame {frame.index} carries no RGB image")
        image = thermal_to_rgb(
            frame.celsius,
            percentiles=self.config.thermal_percentiles,
            range_c=self.config.thermal_range_c,
            min_span_c=self.config.thermal_min_span_c,
            polarity=self.config.thermal_polarity,
            max_c=self.config.thermal_max_c,
        )
        return _with_temperatures(self.detect_image(image), frame.celsius)

    def detect_image(self, image: NDArray[np.generic], channel_order: Literal["rgb", "bgr"] = "rgb") -> Detections:
        """Detect in an 8-bit image (H, W) grey or (H, W, 3|4) RGB/BGR; boxes in its pixel coordinates."""
        rgb = as_rgb(image, channel_order)
        if self.config.tiling:
            raw = self._detect_tiled(rgb)
        else:
            raw = self._detect_whole(rgb)
        return self._to_detections(raw)

    # --- internals ---------------------------------------------------------------------

    def _infer(self, images: list[NDArray[np.uint8]], input_hw: tuple[int, int]) -> list[RawBoxes]:
        """Letterbox each image to ``input_hw``, run the network, decode and map back to image pixels."""
        boxed: list[NDArray[np.uint8]] = []
        maps: list[Letterbox] = []
        for img in images:
            canvas, lb = letterbox(img, input_hw)
            boxed.append(canvas)
            maps.append(lb)
        batch_size = _MAX_BATCH if self.model.dynamic_batch else 1
        results: list[RawBoxes] = []
        for start in range(0, len(boxed), batch_size):
            out = self.model.run(to_tensor(boxed[start : start + batch_size]))
            if self._class_indices is None and self.model.class_names:
                self._bind_classes()  # class count learnt from the first output
            layout = self.model.layout or "channels_first"
            decoded = decode_yolov8(out, layout, self._score_floor, self._class_indices)
            results.extend(self._per_class(raw) for raw in decoded)
        mapped: list[RawBoxes] = []
        for raw, lb, img in zip(results, maps, images, strict=True):
            xyxy = lb.to_original(raw.xyxy)
            h, w = img.shape[:2]
            xyxy[:, [0, 2]] = np.clip(xyxy[:, [0, 2]], 0, w)
            xyxy[:, [1, 3]] = np.clip(xyxy[:, [1, 3]], 0, h)
            mapped.append(RawBoxes(xyxy, raw.score, raw.class_index))
        return mapped

    def _suppress(self, raw: RawBoxes) -> RawBoxes:
        if not len(raw):
            return raw
        return raw.take(nms(raw, self.config.iou_threshold, self.config.max_detections))

    def _detect_whole(self, rgb: NDArray[np.uint8]) -> RawBoxes:
        (raw,) = self._infer([rgb], self._input_hw)
        return self._suppress(raw)

    def tiles_for(self, frame_hw: tuple[int, int]) -> list[Tile]:
        """The tiles sliced inference uses on a frame of ``frame_hw``."""
        return tile_grid(frame_hw, self.config.tile_size_px, self.config.tile_overlap)

    def _detect_tiled(self, rgb: NDArray[np.uint8]) -> RawBoxes:
        frame_hw = (int(rgb.shape[0]), int(rgb.shape[1]))
        tiles = self.tiles_for(frame_hw)
        crops = [rgb[t.y0 : t.y0 + t.height, t.x0 : t.x0 + t.width] for t in tiles]
        parts: list[RawBoxes] = []
        cut_masks: list[NDArray[np.bool_]] = []
        tile_ids: list[NDArray[np.int64]] = []
        for number, (tile, raw) in enumerate(zip(tiles, self._infer(crops, self.tile_input_hw), strict=True)):
            raw = self._suppress(raw)
            xyxy = raw.xyxy.copy()
            left, top, right, bottom = tile.inner_edges(frame_hw)
            cut = np.zeros(len(raw), dtype=bool)
            if left:
                cut |= xyxy[:, 0] <= _EDGE_PX
            if top:
                cut |= xyxy[:, 1] <= _EDGE_PX
            if right:
                cut |= xyxy[:, 2] >= tile.width - _EDGE_PX
            if bottom:
                cut |= xyxy[:, 3] >= tile.height - _EDGE_PX
            xyxy[:, [0, 2]] += tile.x0
            xyxy[:, [1, 3]] += tile.y0
            parts.append(RawBoxes(xyxy, raw.score, raw.class_index))
            cut_masks.append(cut)
            tile_ids.append(np.full(len(raw), number, dtype=np.int64))
        if self.config.tile_full_frame and len(tiles) > 1:
            whole = self._detect_whole(rgb)
            parts.append(whole)
            cut_masks.append(np.zeros(len(whole), dtype=bool))
            tile_ids.append(np.full(len(whole), -1, dtype=np.int64))
        allboxes = RawBoxes.concat(parts)
        if not len(allboxes):
            return allboxes
        return merge_tiles(
            allboxes,
            np.concatenate(cut_masks),
            np.concatenate(tile_ids),
            self.config.merge_ios_threshold,
            self.config.iou_threshold,
            self.config.max_detections,
        )

    def _to_detections(self, raw: RawBoxes) -> Detections:
        if not len(raw):
            return Detections.empty()
        class_id = np.asarray([self._class_ids.get(int(c), -1) for c in raw.class_index], dtype=np.int64)
        keep = class_id >= 0
        boxes = raw.xyxy[keep]
        # the model's own class index, for callers that report its class names (car, other_vehicle ...)
        return Detections.create(
            boxes, raw.score[keep], class_id[keep], data={"model_class": raw.class_index[keep].astype(np.int64)}
        )

    def class_name(self, model_class: int) -> str:
        """The model's name of one of its class indices."""
        names = self.model.class_names
        return names[model_class] if 0 <= model_class < len(names) else f"class{model_class}"


def _rescaled(dets: Detections, sx: float, sy: float) -> Detections:
    xyxy = dets.xyxy * np.array([sx, sy, sx, sy])
    return Detections.create(xyxy, dets.confidence, dets.class_id)


def _with_temperatures(dets: Detections, celsius: NDArray[np.floating]) -> Detections:
    """Fill ``peak_c`` / ``mean_c`` from the Celsius pixels inside each box (NaN for an empty box)."""
    if not len(dets):
        return dets
    h, w = celsius.shape[:2]
    peak = np.full(len(dets), np.nan)
    mean = np.full(len(dets), np.nan)
    for i, (x0, y0, x1, y1) in enumerate(dets.xyxy):
        c0, r0 = max(0, int(np.floor(x0))), max(0, int(np.floor(y0)))
        c1, r1 = min(w, int(np.ceil(x1))), min(h, int(np.ceil(y1)))
        patch = celsius[r0:r1, c0:c1]
        patch = patch[np.isfinite(patch)]
        if patch.size:
            peak[i], mean[i] = float(patch.max()), float(patch.mean())
    return dets.with_fields(peak_c=peak, mean_c=mean)
