"""``drone-patrol detect-people``: run the ONNX person detector on image files."""

from __future__ import annotations

import json
from pathlib import Path

import click
import cv2
import numpy as np
from pydantic import ValidationError

from drone_patrol.core.config.onnx_detector import OnnxDetectorConfig
from drone_patrol.core.errors import InputError
from drone_patrol.vision.detections import CLASS_NAMES, Detections
from drone_patrol.vision.onnx.detector import OnnxDetector


def _read_image(path: Path) -> np.ndarray:
    if not path.is_file():
        raise InputError(f"{path}: image file not found")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"{path}: not an image OpenCV can read (expected PNG, JPEG, TIFF, BMP ...)")
    return image


def _annotate(image: np.ndarray, dets: Detections) -> np.ndarray:
    out = image.copy()
    for box, conf, cls in zip(dets.xyxy.round().astype(int), dets.confidence, dets.class_id, strict=True):
        cv2.rectangle(out, (int(box[0]), int(box[1])), (int(box[2]), int(box[3])), (0, 0, 255), 2)
        label = f"{CLASS_NAMES.get(int(cls), str(cls))} {conf:.2f}"
        cv2.putText(out, label, (int(box[0]), max(10, int(box[1]) - 3)), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 255), 1)
    return out


@click.command("detect-people")
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--model", "model_path", type=click.Path(path_type=Path), help="YOLOv8-layout .onnx (default: shipped)")
@click.option("--tiling/--no-tiling", default=False, show_default=True, help="Sliced inference for small people.")
@click.option("--confidence", type=click.FloatRange(0, 1, min_open=True), default=0.25, show_default=True)
@click.option("--threads", type=click.IntRange(1, 64), default=2, show_default=True, help="onnxruntime threads.")
@click.option("--input-size", nargs=2, type=int, default=None, help="Network input HEIGHT WIDTH (multiples of 32).")
@click.option("--out-dir", type=click.Path(path_type=Path), help="Write each image with its boxes drawn here.")
def detect_people(
    images: tuple[Path, ...],
    model_path: Path | None,
    tiling: bool,
    confidence: float,
    threads: int,
    input_size: tuple[int, int] | None,
    out_dir: Path | None,
) -> None:
    """Find people in IMAGES with the ONNX model; print one JSON line per image (boxes in pixels)."""
    try:
        config = OnnxDetectorConfig(
            model_path=model_path,
            tiling=tiling,
            confidence_threshold=confidence,
            intra_op_threads=threads,
            input_size=(input_size[0], input_size[1]) if input_size else None,
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ()))
        msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        raise InputError(f"detect-people: {where + ': ' if where else ''}{msg}") from None
    for path in images:  # refuse a wrong path before loading the model
        if not path.is_file():
            raise InputError(f"{path}: image file not found")
    detector = OnnxDetector(config)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    for path in images:
        image = _read_image(path)
        dets = detector.detect_image(image, channel_order="bgr")
        record = {
            "image": str(path),
            "width_px": int(image.shape[1]),
            "height_px": int(image.shape[0]),
            "people": len(dets),
            "detections": [
                {
                    "xyxy": [round(float(v), 1) for v in box],
                    "confidence": round(float(c), 3),
                    "class": CLASS_NAMES[int(k)],
                }
                for box, c, k in zip(dets.xyxy, dets.confidence, dets.class_id, strict=True)
            ],
        }
        if out_dir is not None:
            target = out_dir / f"{path.stem}_people.jpg"
            cv2.imwrite(str(target), _annotate(image, dets))
            record["annotated"] = str(target)
        click.echo(json.dumps(record))
