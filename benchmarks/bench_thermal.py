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
  fastest frame is the closest to an idle machine's time). Twice: as deployed (the
  detector's default configuration, each class at its operating threshold), the row with the
  target <= 40 ms; and keeping every box down to 0.001 as the AP figures need (thousands of
  candidate peaks through NMS), which only evaluation runs.
- ``crowd count``: on the val images holding a group (>= 5 people), the people counted at
  the person operating threshold against the annotated head count: mean absolute and
  relative error, and the mean signed error (over- or under-counting).
"""

from __future__ import annotations

import os
import statistics
from pathlib import Path
from typing import Any

from drone_patrol.vision.evaluation import ImageDetections, count_errors, evaluate_detections
from drone_patrol.vision.onnx import OnnxDetector, OnnxDetectorConfig
from drone_patrol.vision.onnx.annotations import load_coco_annotations, normalise_class
from drone_patrol.vision.onnx.commands import detect_folder

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
    """Every box down to 0.001 on each image (for AP), the time of each, and the model's operating points."""
    config = OnnxDetectorConfig(model=model, confidence_threshold=0.001, intra_op_threads=2)  # type: ignore[arg-type]
    det = OnnxDetector(config)
    found: dict[str, ImageDetections] = {}
    times_ms: list[float] = []
    for name, d, took_s in detect_folder(det, folder, names):
        found[name] = d
        times_ms.append(took_s * 1000.0)
    own = det.model.score_thresholds
    operating = {normalise_class(n): own.get(n.lower(), SCORE) for n in det.class_names}
    return found, times_ms, operating


def _deployed_times_ms(model: str, folder: Path, names: list[str]) -> list[float]:
    """``detect_image`` times of the detector as the service runs it (its default configuration:
    the model's operating thresholds), on the same frames."""
    det = OnnxDetector(OnnxDetectorConfig(model=model, intra_op_threads=2))  # type: ignore[arg-type]
    return [took_s * 1000.0 for _, _, took_s in detect_folder(det, folder, names)]


def _latency_row(model: str, case: str, times_ms: list[float], target: bool) -> dict[str, Any]:
    ms = sorted(times_ms[1:])  # the first frame warms the session up
    median = statistics.median(ms)
    return {
        "row": "latency", "model": model, "class": case, "value": round(median, 1),
        "precision": "", "recall": f"p90 {ms[int(0.9 * (len(ms) - 1))]:.1f}, min {ms[0]:.1f}", "truth": len(ms),
        "target": f"<= {TARGET_MS:g}" if target else "", "ok": median <= TARGET_MS if target else "",
    }  # fmt: skip


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
        rows.append(
            _latency_row(
                model,
                "ms/frame (median), as deployed",
                _deployed_times_ms(model, root / "val", names),
                model == "thermal",
            )
        )
        rows.append(_latency_row(model, "ms/frame (median), every box >= 0.001", times_ms, False))
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
