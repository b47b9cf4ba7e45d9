"""Choose the thermal model's per-class operating thresholds on HIT-UAV val and write them into the ONNX file.

    .venv/bin/python -m training.calibrate_thermal [--model models/thermal_centernet_hituav.onnx]

Runs after ``export_thermal.py``, in the project's own environment (onnxruntime and the
runtime's decoding and NMS, so the thresholds fit what the service runs; ``onnx`` from the
``dev`` extra writes the metadata). A CenterNet's heat-map scores are not calibrated
probabilities (the shipped model's people reach 0.4-0.5 where a YOLO's reach 0.8), so one
score for every class keeps either too many false cars or too few people. For each class the
score of highest F1 on val (IoU 0.5) becomes its operating point, stored as the model's
``score_thresholds`` metadata; a class whose best F1 stays under ``--min-f1`` (the model
cannot tell it: other vehicles, 0.5 % of HIT-UAV's boxes) gets 1.0, which no score passes,
rather than a threshold that would flood the alerts with false ones; ``OnnxDetector`` applies it unless the config or
``--confidence`` names one score. Val is the split the project tunes on; the test split is
never used.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import onnx

from drone_patrol.vision.evaluation import best_f1_thresholds, count_errors, evaluate_detections
from drone_patrol.vision.onnx import OnnxDetector, OnnxDetectorConfig
from drone_patrol.vision.onnx.annotations import load_coco_annotations
from drone_patrol.vision.onnx.commands import detect_folder

GROUP_MIN_PEOPLE = 5  # the crowd-count figure: val images holding at least this many people


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/thermal_centernet_hituav.onnx"))
    parser.add_argument("--dataset", type=Path, default=Path("../shared/datasets/hit-uav"))
    parser.add_argument("--lowest", type=float, default=0.05, help="no operating point below this score")
    parser.add_argument("--min-f1", type=float, default=0.2, help="a class whose best F1 is lower is switched off")
    args = parser.parse_args(argv)
    truth = load_coco_annotations(args.dataset / "annotations" / "val.json")
    detector = OnnxDetector(OnnxDetectorConfig(model_path=args.model, confidence_threshold=0.001))
    found = {name: d for name, d, _ in detect_folder(detector, args.dataset / "val", list(truth.images))}
    points = best_f1_thresholds(truth.images, found, truth.class_names, 0.5, args.lowest)
    # a class never found, or found no better than min_f1, is switched off (1.0: no score passes)
    chosen = {c: (points[c][0] if c in points and points[c][1] >= args.min_f1 else 1.0) for c in truth.class_names}
    for r in evaluate_detections(truth.images, found, truth.class_names, 0.5, chosen):
        f1 = points[r.name][1] if r.name in points else 0.0
        print(
            f"{r.name:<14} AP50 {r.ap:.3f}  best F1 {f1:.3f}  threshold {chosen[r.name]:.3f}  "
            f"precision {r.precision:.3f}  recall {r.recall:.3f}"
        )
    if chosen.get("person", 1.0) < 1.0:
        crowd = count_errors(truth.images, found, chosen["person"], "person", GROUP_MIN_PEOPLE)
        if crowd.images:
            print(
                f"people counted on {crowd.images} val images of >= {GROUP_MIN_PEOPLE}: mean error "
                f"{crowd.mean_error:+.2f}, mean absolute error {crowd.mean_absolute_error:.2f}"
            )
    model = onnx.load(str(args.model))
    rounded = {name: round(score, 4) for name, score in chosen.items()}
    props = [p for p in model.metadata_props if p.key != "score_thresholds"]
    del model.metadata_props[:]
    model.metadata_props.extend(props)
    prop = model.metadata_props.add()
    prop.key, prop.value = "score_thresholds", json.dumps(rounded)
    onnx.save(model, str(args.model))
    digest = hashlib.sha256(args.model.read_bytes()).hexdigest()
    print(f"{args.model}: score_thresholds {json.dumps(rounded)}; {args.model.stat().st_size:,} bytes, sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
