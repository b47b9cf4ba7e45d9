"""``drone-patrol detect-objects`` (alias ``detect-people``) and ``drone-patrol evaluate``.

``detect-objects`` runs the learned detector (the shipped thermal model by default) on
image files or folders and prints one JSON line per image with every box; ``evaluate``
measures a model on a folder of images against COCO-style annotations (per-class AP50,
precision, recall), so a user can check it on their own footage.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import cv2
import numpy as np
from pydantic import ValidationError

from drone_patrol.core.config.onnx_detector import DEFAULT_CONFIDENCE, SHIPPED_MODELS, OnnxDetectorConfig
from drone_patrol.core.errors import InputError
from drone_patrol.vision.detections import Detections
from drone_patrol.vision.evaluation import ImageDetections, evaluate_detections
from drone_patrol.vision.onnx.annotations import load_coco_annotations, normalise_class
from drone_patrol.vision.onnx.detector import OnnxDetector

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp")


def _read_image(path: Path) -> np.ndarray:
    if not path.is_file():
        raise InputError(f"{path}: image file not found")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"{path}: not an image OpenCV can read (expected PNG, JPEG, TIFF, BMP ...)")
    return image


def image_files(paths: tuple[Path, ...]) -> list[Path]:
    """The image files named, and those in the folders named (in name order); one-line error for a missing path."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
            if not found:
                raise InputError(f"{path}: no images in this folder (expected {', '.join(IMAGE_SUFFIXES)})")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise InputError(f"{path}: no such image file or folder")
    return files


def make_detector(
    model: str, confidence: float | None, threads: int, input_size: tuple[int, int] | None, tiling: bool
) -> OnnxDetector:
    """The detector of ``--model`` (``thermal``, ``coco`` or a path to a YOLOv8-layout .onnx)."""
    named = model in SHIPPED_MODELS
    try:
        config = OnnxDetectorConfig(
            model="thermal" if not named else model,  # type: ignore[arg-type]
            model_path=None if named else Path(model),
            tiling=tiling,
            confidence_threshold=confidence,
            intra_op_threads=threads,
            input_size=(input_size[0], input_size[1]) if input_size else None,
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ()))
        msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        raise InputError(f"--{where.replace('_', '-')}: {msg}" if where else f"detect-objects: {msg}") from None
    return OnnxDetector(config)


def detections_record(detector: OnnxDetector, dets: Detections) -> list[dict[str, object]]:
    """Each box of ``dets`` as ``{"box": [x1, y1, x2, y2], "class": name, "score": s}`` (model class names)."""
    model_class = dets.data.get("model_class", np.full(len(dets), -1))
    return [
        {
            "box": [round(float(v), 1) for v in box],
            "class": detector.class_name(int(k)),
            "score": round(float(c), 4),
        }
        for box, c, k in zip(dets.xyxy, dets.confidence, model_class, strict=True)
    ]


def _annotate(image: np.ndarray, records: list[dict[str, object]]) -> np.ndarray:
    out = image.copy()
    for rec in records:
        x0, y0, x1, y1 = (round(v) for v in rec["box"])  # type: ignore[attr-defined]
        cv2.rectangle(out, (x0, y0), (x1, y1), (0, 0, 255), 1)
        label = f"{rec['class']} {rec['score']:.2f}"
        cv2.putText(out, label, (x0, max(10, y0 - 3)), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 255), 1)
    return out


_MODEL_HELP = "thermal (default: drone thermal video), coco (colour photographs) or a YOLOv8-layout .onnx file"
# the options both commands take
_model_option = click.option("--model", default="thermal", show_default=True, help=_MODEL_HELP)
_threads_option = click.option(
    "--threads", type=click.IntRange(1, 64), default=2, show_default=True, help="onnxruntime threads."
)


def _confidence_option(help_text: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    return click.option(
        "--confidence",
        type=click.FloatRange(0.001, 1),
        default=None,
        help=help_text + " Default: the model's per-class operating thresholds (its metadata), else 0.25.",
    )


@click.command("detect-objects")
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@_model_option
@click.option("--tiling/--no-tiling", default=False, show_default=True, help="Sliced inference (large frames).")
@_confidence_option("Lowest score reported (0.001 to compute AP).")
@_threads_option
@click.option("--input-size", nargs=2, type=int, default=None, help="Network input HEIGHT WIDTH (multiples of 32).")
@click.option("--out-dir", type=click.Path(path_type=Path), help="Write each image with its boxes drawn here.")
def detect_objects(
    images: tuple[Path, ...],
    model: str,
    tiling: bool,
    confidence: float | None,
    threads: int,
    input_size: tuple[int, int] | None,
    out_dir: Path | None,
) -> None:
    """Find people and vehicles in IMAGES (files or folders); print one JSON line per image.

    Each line: {"file", "width_px", "height_px", "people", "detections": [{"box": [x1, y1,
    x2, y2] in pixels, "class", "score"}]}.
    """
    files = image_files(images)  # refuse a wrong path before loading the model
    detector = make_detector(model, confidence, threads, input_size, tiling)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    for path in files:
        image = _read_image(path)
        dets = detector.detect_image(image, channel_order="bgr")
        records = detections_record(detector, dets)
        line: dict[str, object] = {
            "file": str(path),
            "width_px": int(image.shape[1]),
            "height_px": int(image.shape[0]),
            "people": sum(1 for r in records if r["class"] == "person"),
            "detections": records,
        }
        if out_dir is not None:
            target = out_dir / f"{path.stem}_detections.jpg"
            cv2.imwrite(str(target), _annotate(image, records))
            line["annotated"] = str(target)
        click.echo(json.dumps(line))


#: the old name of ``detect-objects``, kept working
detect_people = click.Command(
    "detect-people",
    callback=detect_objects.callback,
    params=detect_objects.params,
    help="Same as detect-objects (its former name).",
)


def detect_folder(
    detector: OnnxDetector, folder: Path, names: list[str]
) -> Iterator[tuple[str, ImageDetections, float]]:
    """Run ``detector`` on each named image of ``folder``: the name, its detections with
    normalised class names (as :func:`~drone_patrol.vision.evaluation.evaluate_detections`
    takes them) and the seconds ``detect_image`` took (the image's reading not counted)."""
    for name in names:
        image = _read_image(folder / name)
        started = time.perf_counter()
        dets = detector.detect_image(image, channel_order="bgr")
        took_s = time.perf_counter() - started
        model_class = dets.data.get("model_class", np.full(len(dets), -1))
        classes = tuple(normalise_class(detector.class_name(int(k))) for k in model_class)
        yield name, ImageDetections(dets.xyxy, classes, dets.confidence), took_s


@click.command("evaluate")
@click.argument("images", type=click.Path(path_type=Path))
@click.option(
    "--annotations",
    required=True,
    type=click.Path(path_type=Path),
    help="COCO-style JSON (images, annotations, categories); HIT-UAV's variant is read too.",
)
@_model_option
@click.option("--iou", "iou_threshold", type=click.FloatRange(0.05, 0.95), default=0.5, show_default=True)
@_confidence_option("Score at which precision and recall are given (AP uses every box down to 0.001).")
@_threads_option
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
def evaluate(
    images: Path,
    annotations: Path,
    model: str,
    iou_threshold: float,
    confidence: float | None,
    threads: int,
    as_json: bool,
) -> None:
    """Measure the detector on the IMAGES folder against ANNOTATIONS: AP50, precision and recall per class."""
    if not images.is_dir():
        raise InputError(f"{images}: not a folder of images")
    truth = load_coco_annotations(annotations)
    missing = [name for name in truth.images if not (images / name).is_file()]
    if missing:
        raise InputError(f"{images}: {len(missing)} annotated images are not in this folder (first: {missing[0]})")
    detector = make_detector(model, 0.001, threads, None, False)
    found = {name: d for name, d, _ in detect_folder(detector, images, list(truth.images))}
    model_classes = {normalise_class(n) for n in detector.class_names}
    classes = [c for c in truth.class_names if c in model_classes]
    if not classes:
        raise InputError(
            f"{annotations}: none of its categories ({', '.join(truth.class_names)}) is a class of the model "
            f"({', '.join(detector.class_names[:12])})"
        )
    own = detector.model.score_thresholds  # the model's operating points (the detector itself keeps 0.001)
    operating = {normalise_class(n): own.get(n.lower(), DEFAULT_CONFIDENCE) for n in detector.class_names}
    at: float | dict[str, float] = confidence if confidence is not None else operating
    results = evaluate_detections(truth.images, found, classes, iou_threshold, at)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "images": len(truth.images),
                    "iou": iou_threshold,
                    "score_thresholds": {c: (at if isinstance(at, float) else at.get(c, 0.25)) for c in classes},
                    "classes": [r.as_dict() for r in results],
                }
            )
        )
        return
    where = f"score {confidence:g}" if confidence is not None else "the model's operating thresholds"
    click.echo(f"{len(truth.images)} images, IoU {iou_threshold:g}, precision and recall at {where}")
    ap_name = f"AP{round(100 * iou_threshold)}"
    click.echo(f"{'class':<16}{ap_name:>8}{'precision':>11}{'recall':>8}{'truth':>8}{'found':>8}")
    for r in results:
        click.echo(
            f"{r.name:<16}{r.ap:>8.3f}{r.precision:>11.3f}{r.recall:>8.3f}{r.ground_truth:>8d}{r.detections:>8d}"
        )
    aps = [r.ap for r in results if np.isfinite(r.ap)]
    if aps:
        click.echo(f"{'mean':<16}{float(np.mean(aps)):>8.3f}")
