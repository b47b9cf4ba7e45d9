"""COCO-style annotation files for ``drone-patrol evaluate``, with one-line errors.

Read: ``images`` (``file_name``, or HIT-UAV's ``filename``), ``annotations`` (or HIT-UAV's
``annotation``) with ``image_id``, ``category_id`` and ``bbox`` ``[x, y, w, h]`` in pixels,
and ``categories`` (``id``, ``name``). Category names are compared with the model's class
names in a normal form (``OtherVehicle``, ``other vehicle`` and ``other_vehicle`` are the
same class). Boxes marked ``iscrowd``, and boxes of a category named ``DontCare`` or
``ignore``, are regions to ignore rather than objects to find.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from drone_patrol.core.errors import InputError
from drone_patrol.core.files import read_user_json
from drone_patrol.vision.evaluation import ImageTruth

_IGNORE_NAMES = {"dontcare", "dont_care", "ignore", "ignored"}


def normalise_class(name: str) -> str:
    """``OtherVehicle`` -> ``other_vehicle``, ``Person`` -> ``person``, ``other vehicle`` -> ``other_vehicle``."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip())
    return re.sub(r"[^a-z0-9]+", "_", snake.lower()).strip("_")


@dataclass(frozen=True)
class Annotations:
    """Ground truth by image file name, and the (normalised) class names that have boxes."""

    images: dict[str, ImageTruth]
    class_names: list[str]


def _field(obj: Any, key: str, path: Path, where: str) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise InputError(f"{path}: {where}: missing '{key}'")
    return obj[key]


def load_coco_annotations(path: Path) -> Annotations:
    """The ground truth of a COCO-style file; :class:`InputError` naming the file and the entry otherwise."""
    doc = read_user_json(path, "annotation file", InputError)
    if not isinstance(doc, dict):
        raise InputError(f"{path}: expected a JSON object with images, annotations and categories")
    images = _field(doc, "images", path, "top level")
    anns = doc.get("annotations", doc.get("annotation"))
    if anns is None:
        raise InputError(f"{path}: top level: missing 'annotations'")
    cats = _field(doc, "categories", path, "top level")
    if not all(isinstance(x, list) for x in (images, anns, cats)):
        raise InputError(f"{path}: images, annotations and categories must be lists")
    names: dict[int, str] = {}
    for i, cat in enumerate(cats):
        cid, name = _field(cat, "id", path, f"categories[{i}]"), _field(cat, "name", path, f"categories[{i}]")
        if not isinstance(cid, int) or not isinstance(name, str):
            raise InputError(f"{path}: categories[{i}]: expected an integer id and a name")
        names[cid] = normalise_class(name)
    files: dict[int, str] = {}
    for i, img in enumerate(images):
        iid = _field(img, "id", path, f"images[{i}]")
        name = img.get("file_name", img.get("filename")) if isinstance(img, dict) else None
        if not isinstance(iid, int) or not isinstance(name, str) or not name:
            raise InputError(f"{path}: images[{i}]: expected an integer id and a file_name")
        files[iid] = name
    boxes: dict[int, list[tuple[float, float, float, float, str, bool]]] = {iid: [] for iid in files}
    for i, ann in enumerate(anns):
        where = f"annotations[{i}]"
        iid, cid = _field(ann, "image_id", path, where), _field(ann, "category_id", path, where)
        bbox = _field(ann, "bbox", path, where)
        if iid not in files:
            raise InputError(f"{path}: {where}: image_id {iid!r} is not in images")
        if cid not in names:
            raise InputError(f"{path}: {where}: category_id {cid!r} is not in categories")
        if (
            not isinstance(bbox, list)
            or len(bbox) != 4
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in bbox)
            or bbox[2] < 0
            or bbox[3] < 0
        ):
            raise InputError(f"{path}: {where}: bbox must be [x, y, width, height] in pixels, got {str(bbox)[:60]}")
        x, y, w, h = (float(v) for v in bbox)
        ignore = bool(ann.get("iscrowd", 0)) or names[cid] in _IGNORE_NAMES
        boxes[iid].append((x, y, x + w, y + h, names[cid], ignore))
    truths = {}
    for iid, name in files.items():
        rows = boxes[iid]
        truths[name] = ImageTruth(
            xyxy=np.asarray([r[:4] for r in rows], dtype=np.float64).reshape(-1, 4),
            classes=tuple(r[4] for r in rows),
            ignore=np.asarray([r[5] for r in rows], dtype=bool),
        )
    used = sorted({r[4] for rows in boxes.values() for r in rows if not r[5]}, key=lambda n: min(
        k for k, v in names.items() if v == n
    ))  # fmt: skip
    return Annotations(truths, used)
