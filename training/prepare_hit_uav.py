"""Turn HIT-UAV's COCO-like annotations into the YOLO layout that Ultralytics trains on.

HIT-UAV (``../shared/datasets/hit-uav/``) keeps its boxes under the key ``annotation``
(singular) and its file names under ``filename``; boxes are ``[x, y, w, h]`` in pixels;
category ids are 0 Person, 1 Car, 2 Bicycle, 3 OtherVehicle, 4 DontCare. This script
writes, for each split, ``images/<split>/`` (symbolic links to the original JPEGs, so
nothing is copied) and ``labels/<split>/*.txt`` (``class cx cy w h``, normalised), plus
``data.yaml``. DontCare boxes are not labels: their pixels are greyed out in a copy of
the image instead, so the detector is neither rewarded nor punished for what lies there.

Only the train and val splits are used; the test split is held out by the project and
must never be fetched or used for training, tuning or model selection.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

#: Our class order (the detector's output order) and HIT-UAV's category id for each.
CLASS_NAMES = ("person", "car", "bicycle", "other_vehicle")
HIT_UAV_CATEGORY = {0: 0, 1: 1, 2: 2, 3: 3}
DONT_CARE = 4


def load_split(annotation_path: Path) -> tuple[dict[int, dict], dict[int, list[dict]]]:
    """Images by id and their annotations, from one HIT-UAV annotation file."""
    doc = json.loads(annotation_path.read_text(encoding="utf-8"))
    images = {int(img["id"]): img for img in doc["images"]}
    by_image: dict[int, list[dict]] = {image_id: [] for image_id in images}
    for ann in doc.get("annotation", doc.get("annotations", [])):
        by_image.setdefault(int(ann["image_id"]), []).append(ann)
    return images, by_image


def write_split(dataset: Path, out: Path, split: str) -> tuple[int, int]:
    """Write one split's images and labels; returns (images, boxes)."""
    images, by_image = load_split(dataset / "annotations" / f"{split}.json")
    image_dir = out / "images" / split
    label_dir = out / "labels" / split
    image_dir.mkdir(parents=True, exist_ok=True)
    label_dir.mkdir(parents=True, exist_ok=True)
    n_boxes = 0
    for image_id, img in sorted(images.items()):
        name = img.get("filename") or img["file_name"]
        src = dataset / split / name
        width, height = int(img["width"]), int(img["height"])
        lines = []
        dont_care = []
        for ann in by_image.get(image_id, []):
            x, y, w, h = (float(v) for v in ann["bbox"])
            if w <= 0 or h <= 0:
                continue
            category = int(ann["category_id"])
            if category == DONT_CARE:
                dont_care.append((x, y, w, h))
                continue
            cls = HIT_UAV_CATEGORY[category]
            x0, y0 = max(0.0, x), max(0.0, y)
            x1, y1 = min(float(width), x + w), min(float(height), y + h)
            if x1 - x0 < 1 or y1 - y0 < 1:
                continue
            cx, cy = (x0 + x1) / 2 / width, (y0 + y1) / 2 / height
            lines.append(f"{cls} {cx:.6f} {cy:.6f} {(x1 - x0) / width:.6f} {(y1 - y0) / height:.6f}")
        dst = image_dir / name
        if dst.exists() or dst.is_symlink():
            dst.unlink()
        if dont_care:
            pixels = cv2.imread(str(src), cv2.IMREAD_GRAYSCALE)
            fill = int(np.median(pixels))
            for x, y, w, h in dont_care:
                pixels[int(y) : int(np.ceil(y + h)), int(x) : int(np.ceil(x + w))] = fill
            cv2.imwrite(str(dst), pixels, [cv2.IMWRITE_JPEG_QUALITY, 95])
        else:
            dst.symlink_to(src.resolve())
        (label_dir / (Path(name).stem + ".txt")).write_text("\n".join(lines) + ("\n" if lines else ""))
        n_boxes += len(lines)
    return len(images), n_boxes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=Path("../shared/datasets/hit-uav"))
    parser.add_argument("--out", type=Path, default=Path("var/hit-uav-yolo"))
    args = parser.parse_args(argv)
    for split in ("train", "val"):
        n_images, n_boxes = write_split(args.dataset, args.out, split)
        print(f"{split}: {n_images} images, {n_boxes} boxes -> {args.out / 'labels' / split}")
    names = "\n".join(f"  {i}: {name}" for i, name in enumerate(CLASS_NAMES))
    (args.out / "data.yaml").write_text(
        f"path: {args.out.resolve()}\ntrain: images/train\nval: images/val\nnames:\n{names}\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
