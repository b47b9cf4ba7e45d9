"""Thermal detector on real drone thermal video: HIT-UAV val AP50 per class, latency, crowd counts.

The shipped thermal model (``models/thermal_centernet_hituav.onnx``) and, as the reference
measured in the same run, the COCO YOLOv8n (``models/yolov8n_coco.onnx``, whole frame),
both through ``OnnxDetector`` and ``drone-patrol evaluate``'s code, on the 290 images of
HIT-UAV's val split (640x512 automatic-gain video frames, 60-130 m, day and night). The
split is read from ``$HIT_UAV_DIR`` or ``../shared/datasets/hit-uav`` (not shipped: CC BY
4.0, see models/README.md); without it the benchmark says so and measures nothing.

Rows:
- ``ap``: AP50 (COCO 101-point, IoU 0.5, DontCare regions ignored) per class, with precision
  and recall at the model's operating threshold of that class (its ``score_thresholds``
  metadata, chosen on val by ``training/calibrate_thermal.py``; 0.25 for a model without);
  targets person >= 0.90 and car >= 0.95 (thermal model).
- ``latency``: ``detect_image`` on a full 640x512 frame on two onnxruntime threads (network,
  decoding, NMS), median, p90 and fastest over the val frames (on a shared machine the
  fastest frame is the closest to an idle machine's time); target <= 40 ms.
- ``crowd count``: on the val images holding a group (>= 5 people), the people counted at
  the person operating threshold against the annotated head count: mean absolute and
  relative error, and the mean signed error (over- or under-counting).
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from typing import Any

import cv2

from drone_patrol.vision.evaluation import ImageDetections, count_errors, evaluate_detections
from drone_patrol.vision.onnx import OnnxDetector, OnnxDetectorConfig
from drone_patrol.vision.onnx.annotations import load_coco_annotations, normalise_class

TITLE = "Thermal detector on HIT-UAV val (real drone thermal video): AP50, latency, crowd counts"

TARGET_AP = {"person": 0.90, "car": 0.95}
TARGET_MS = 40.0
GROUP_MIN_PEOPLE = 5
SCORE = 0.25  # for a model without operating thresholds in its metadata


def dataset_dir() -> Path | None:
    """HIT-UAV's folder: ``$HIT_UAV_DIR``, else ``../shared/datasets/hit-uav`` beside the repository."""
    env = os.environ.get("HIT_UAV_DIR")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[2] / "shared" / "datasets" / "hit-uav")
    return next((p for p in candidates if (p / "annotations" / "val.json").is_file()), None)


def _run_model(
    model: str, folder: Path, names: list[str]
) -> tuple[dict[str, ImageDetections], list[float], dict[str, float]]:
    config = OnnxDetectorConfig(model=model, confidence_threshold=0.001, intra_op_threads=2)  # type: ignore[arg-type]
    det = OnnxDetector(config)
    found: dict[str, ImageDetections] = {}
    times_ms: list[float] = []
    for name in names:
        image = cv2.imread(str(folder / name), cv2.IMREAD_COLOR)
        start = time.perf_counter()
        d = det.detect_image(image, channel_order="bgr")
        times_ms.append((time.perf_counter() - start) * 1000.0)
        cls = tuple(normalise_class(det.class_name(int(k))) for k in d.data["model_class"])
        found[name] = ImageDetections(d.xyxy, cls, d.confidence)
    own = det.model.score_thresholds
    operating = {normalise_class(n): own.get(n.lower(), SCORE) for n in det.class_names}
    return found, times_ms, operating


def run() -> list[dict[str, Any]]:
    root = dataset_dir()
    if root is None:
        return [{"row": "skipped", "why": "HIT-UAV val split not found ($HIT_UAV_DIR or ../shared/datasets/hit-uav)"}]
    truth = load_coco_annotations(root / "annotations" / "val.json")
    names = list(truth.images)
    rows: list[dict[str, Any]] = []
    for model in ("thermal", "coco"):
        found, times_ms, operating = _run_model(model, root / "val", names)
        classes = truth.class_names if model == "thermal" else ["person", "car", "bicycle"]
        for r in evaluate_detections(truth.images, found, classes, 0.5, operating):
            target = TARGET_AP.get(r.name) if model == "thermal" else None
            rows.append(
                {
                    "row": "ap", "model": model, "class": r.name, "value": round(r.ap, 4),
                    "precision": round(r.precision, 3), "recall": round(r.recall, 3), "truth": r.ground_truth,
                    "target": f">= {target}" if target else "", "ok": (r.ap >= target) if target else "",
                }
            )  # fmt: skip
        ms = sorted(times_ms[1:])
        rows.append(
            {
                "row": "latency", "model": model, "class": "ms/frame (median)",
                "value": round(statistics.median(ms), 1),
                "precision": "", "recall": f"p90 {ms[int(0.9 * (len(ms) - 1))]:.1f}, min {ms[0]:.1f}", "truth": len(ms),
                "target": f"<= {TARGET_MS:g}" if model == "thermal" else "",
                "ok": statistics.median(ms) <= TARGET_MS if model == "thermal" else "",
            }
        )  # fmt: skip
        crowd = count_errors(truth.images, found, operating.get("person", SCORE), "person", GROUP_MIN_PEOPLE)
        if crowd.images:
            rows.append(
                {
                    "row": "crowd count", "model": model,
                    "class": f"{crowd.images} images >= {GROUP_MIN_PEOPLE} people",
                    "value": round(crowd.mean_absolute_error, 2), "precision": "",
                    "recall": f"{100 * crowd.mean_relative_error:.0f}% mean relative, mean {crowd.mean_error:+.2f}",
                    "truth": crowd.images,
                    "target": "", "ok": "",
                }
            )  # fmt: skip
    return rows
