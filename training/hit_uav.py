"""Reading HIT-UAV's train and val splits (COCO-like annotations with HIT-UAV's quirks).

``../shared/datasets/hit-uav/annotations/{train,val}.json`` keep their boxes under the key
``annotation`` (singular) and file names under ``filename``; ``bbox`` is ``[x, y, w, h]``
in pixels; category ids are 0 Person, 1 Car, 2 Bicycle, 3 OtherVehicle, 4 DontCare.
The test split is held out by the project: never fetch it or use it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

CLASS_NAMES = ("person", "car", "bicycle", "other_vehicle")
DONT_CARE = 4


@dataclass
class Sample:
    """One image: grey pixels, boxes (N, 4) xyxy with class ids (N,), and DontCare boxes (M, 4)."""

    name: str
    grey: np.ndarray
    xyxy: np.ndarray
    cls: np.ndarray
    dont_care: np.ndarray


def load_split(dataset: Path, split: str, fill_dont_care: bool = False) -> list[Sample]:
    """All images of ``split`` with their boxes; ``fill_dont_care`` greys out DontCare regions."""
    doc = json.loads((dataset / "annotations" / f"{split}.json").read_text(encoding="utf-8"))
    by_image: dict[int, list[dict]] = {}
    for ann in doc.get("annotation", doc.get("annotations", [])):
        by_image.setdefault(int(ann["image_id"]), []).append(ann)
    samples = []
    for img in sorted(doc["images"], key=lambda i: int(i["id"])):
        name = img.get("filename") or img["file_name"]
        grey = cv2.imread(str(dataset / split / name), cv2.IMREAD_GRAYSCALE)
        if grey is None:
            raise FileNotFoundError(dataset / split / name)
        h, w = grey.shape
        boxes, classes, dc = [], [], []
        for ann in by_image.get(int(img["id"]), []):
            x, y, bw, bh = (float(v) for v in ann["bbox"])
            x0, y0, x1, y1 = max(0.0, x), max(0.0, y), min(float(w), x + bw), min(float(h), y + bh)
            if x1 - x0 < 1 or y1 - y0 < 1:
                continue
            if int(ann["category_id"]) == DONT_CARE:
                dc.append((x0, y0, x1, y1))
            else:
                boxes.append((x0, y0, x1, y1))
                classes.append(int(ann["category_id"]))
        dont_care = np.asarray(dc, dtype=np.float32).reshape(-1, 4)
        if fill_dont_care and len(dont_care):
            grey = grey.copy()
            fill = int(np.median(grey))
            for x0, y0, x1, y1 in dont_care:
                grey[int(y0) : int(np.ceil(y1)), int(x0) : int(np.ceil(x1))] = fill
        samples.append(
            Sample(
                name=name,
                grey=grey,
                xyxy=np.asarray(boxes, dtype=np.float32).reshape(-1, 4),
                cls=np.asarray(classes, dtype=np.int64),
                dont_care=dont_care,
            )
        )
    return samples
