"""Detector evaluation against COCO-style annotations: per-class AP50, precision, recall, crowd counts.

Pure numpy; the ``evaluate`` command and the benchmarks read files and call
:func:`evaluate_detections`. AP is COCO's: detections of a class over all images are
sorted by score, each is matched greedily to the unmatched ground-truth box of the same
class and image with the highest IoU (at least ``iou_threshold``), and the precision
envelope is averaged at 101 recall points. Ground truth marked ``ignore`` (COCO's
``iscrowd``, HIT-UAV's DontCare boxes) neither counts as missed nor makes a detection on
it false: a detection matching no real box but lying mostly inside an ignored region is
dropped, as COCO does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

_RECALL_POINTS = np.linspace(0.0, 1.0, 101)


@dataclass(frozen=True)
class ImageTruth:
    """The annotated boxes of one image: ``xyxy`` (N, 4) pixels, class names, ignore flags."""

    xyxy: NDArray[np.float64]
    classes: tuple[str, ...]
    ignore: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def __post_init__(self) -> None:
        if len(self.ignore) != len(self.classes):
            object.__setattr__(self, "ignore", np.zeros(len(self.classes), dtype=bool))


@dataclass(frozen=True)
class ImageDetections:
    """A detector's output on one image: ``xyxy`` (N, 4) pixels, class names, scores."""

    xyxy: NDArray[np.float64]
    classes: tuple[str, ...]
    scores: NDArray[np.float64]


@dataclass(frozen=True)
class ClassResult:
    """One class's figures: AP at the IoU threshold, and precision/recall at ``score_threshold``."""

    name: str
    ap: float
    precision: float
    recall: float
    ground_truth: int
    detections: int
    true_positives: int

    def as_dict(self) -> dict[str, float | int | str]:
        """JSON-friendly."""
        return {
            "class": self.name,
            "ap50": round(self.ap, 4),
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "ground_truth": self.ground_truth,
            "detections": self.detections,
            "true_positives": self.true_positives,
        }


def _intersections(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """Intersection area of every box of ``a`` (N, 4) with every box of ``b`` (M, 4), xyxy."""
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    return np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)


def iou_matrix(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """IoU of every box of ``a`` (N, 4) with every box of ``b`` (M, 4), xyxy."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    inter = _intersections(a, b)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def _inside_fraction(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """Fraction of each box of ``a`` that lies inside each box of ``b``."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    inter = _intersections(a, b)
    area_a = np.maximum((a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]), 1e-9)
    return inter / area_a[:, None]


def average_precision(tp: NDArray[np.bool_], scores: NDArray[np.float64], n_truth: int) -> float:
    """COCO's 101-point interpolated AP of detections flagged true/false positive."""
    if n_truth == 0:
        return float("nan")
    if len(tp) == 0:
        return 0.0
    order = np.argsort(-scores, kind="mergesort")
    hits = tp[order].astype(np.float64)
    tp_cum = np.cumsum(hits)
    fp_cum = np.cumsum(1.0 - hits)
    recall = tp_cum / n_truth
    precision = tp_cum / np.maximum(tp_cum + fp_cum, 1e-12)
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    idx = np.searchsorted(recall, _RECALL_POINTS, side="left")
    sampled = np.where(idx < len(envelope), envelope[np.minimum(idx, len(envelope) - 1)], 0.0)
    return float(sampled.mean())


def _match_image(
    truth: ImageTruth, dets: ImageDetections, name: str, iou_threshold: float
) -> tuple[NDArray[np.bool_], NDArray[np.float64], int]:
    """(true-positive flags, scores) of one image's detections of class ``name``, and its real box count."""
    t_sel = np.asarray([c == name for c in truth.classes], dtype=bool)
    d_sel = np.asarray([c == name for c in dets.classes], dtype=bool)
    gt = truth.xyxy[t_sel] if len(truth.classes) else np.zeros((0, 4))
    ign = truth.ignore[t_sel] if len(truth.classes) else np.zeros(0, dtype=bool)
    boxes = dets.xyxy[d_sel] if len(dets.classes) else np.zeros((0, 4))
    scores = dets.scores[d_sel] if len(dets.classes) else np.zeros(0)
    order = np.argsort(-scores, kind="mergesort")
    boxes, scores = boxes[order], scores[order]
    real = gt[~ign]
    ious = iou_matrix(boxes, real)
    taken = np.zeros(len(real), dtype=bool)
    tp = np.zeros(len(boxes), dtype=bool)
    keep = np.ones(len(boxes), dtype=bool)
    # ignored regions: the image's ignored boxes of any class (DontCare is class-less)
    ignored = truth.xyxy[truth.ignore] if len(truth.classes) else np.zeros((0, 4))
    inside = _inside_fraction(boxes, ignored)
    for i in range(len(boxes)):
        if len(real):
            cand = np.where(taken, -1.0, ious[i])
            j = int(np.argmax(cand))
            if cand[j] >= iou_threshold:
                taken[j] = True
                tp[i] = True
                continue
        if len(ignored) and float(inside[i].max()) >= 0.5:
            keep[i] = False
    return tp[keep], scores[keep], len(real)


def _matched(
    truths: Mapping[str, ImageTruth], detections: Mapping[str, ImageDetections], name: str, iou_threshold: float
) -> tuple[NDArray[np.bool_], NDArray[np.float64], int]:
    """Every detection of class ``name`` over all images: true positive or not, its score; and the truth count."""
    empty = ImageDetections(np.zeros((0, 4)), (), np.zeros(0))
    tps, scores, n_truth = [], [], 0
    for image, truth in truths.items():
        tp, sc, n = _match_image(truth, detections.get(image, empty), name, iou_threshold)
        tps.append(tp)
        scores.append(sc)
        n_truth += n
    tp_all = np.concatenate(tps) if tps else np.zeros(0, dtype=bool)
    sc_all = np.concatenate(scores) if scores else np.zeros(0)
    return tp_all, sc_all, n_truth


def evaluate_detections(
    truths: Mapping[str, ImageTruth],
    detections: Mapping[str, ImageDetections],
    class_names: Sequence[str],
    iou_threshold: float = 0.5,
    score_threshold: float | Mapping[str, float] = 0.25,
) -> list[ClassResult]:
    """Per-class AP at ``iou_threshold``, and precision/recall of the detections scoring >= ``score_threshold``.

    ``score_threshold`` is one score, or one per class name (0.25 for a class it does not name).
    Images in ``truths`` without an entry in ``detections`` count as images where nothing was found.
    """
    results = []
    for name in class_names:
        tp_all, sc_all, n_truth = _matched(truths, detections, name, iou_threshold)
        limit = score_threshold if isinstance(score_threshold, (int, float)) else score_threshold.get(name, 0.25)
        above = sc_all >= limit
        n_det = int(above.sum())
        n_tp = int(tp_all[above].sum())
        results.append(
            ClassResult(
                name=name,
                ap=average_precision(tp_all, sc_all, n_truth),
                precision=n_tp / n_det if n_det else float("nan"),
                recall=n_tp / n_truth if n_truth else float("nan"),
                ground_truth=n_truth,
                detections=n_det,
                true_positives=n_tp,
            )
        )
    return results


def best_f1_thresholds(
    truths: Mapping[str, ImageTruth],
    detections: Mapping[str, ImageDetections],
    class_names: Sequence[str],
    iou_threshold: float = 0.5,
    lowest: float = 0.05,
) -> dict[str, tuple[float, float]]:
    """Per class, the score threshold (>= ``lowest``) at which F1 is highest, and that F1: an operating point.

    Detections are sorted by score; keeping the top k gives precision tp_k / k and recall
    tp_k / truths, so every candidate threshold (each detection's score) is scored at once.
    A class with no truth or no true positive is left out.
    """
    out: dict[str, tuple[float, float]] = {}
    for name in class_names:
        tp_all, sc_all, n_truth = _matched(truths, detections, name, iou_threshold)
        keep = sc_all >= lowest
        tp_all, sc_all = tp_all[keep], sc_all[keep]
        if n_truth == 0 or not tp_all.any():
            continue
        order = np.argsort(-sc_all, kind="stable")
        tp_cum = np.cumsum(tp_all[order])
        k = np.arange(1, len(order) + 1)
        f1 = 2 * tp_cum / (k + n_truth)  # 2PR/(P+R) with P = tp/k, R = tp/n
        # only the last detection of a run of equal scores is a threshold that can be set
        sorted_scores = sc_all[order]
        settable = np.append(sorted_scores[1:] != sorted_scores[:-1], True)
        best = int(np.argmax(np.where(settable, f1, -1.0)))
        out[name] = (float(sorted_scores[best]), float(f1[best]))
    return out


@dataclass(frozen=True)
class CountErrors:
    """People counted against the annotated count, one entry per image holding a group."""

    counted: tuple[int, ...]
    truth: tuple[int, ...]

    @property
    def images(self) -> int:
        """How many images were counted."""
        return len(self.truth)

    @property
    def mean_error(self) -> float:
        """Mean of counted minus annotated: over-counting positive, under-counting negative."""
        return float(np.mean(np.subtract(self.counted, self.truth)))

    @property
    def mean_absolute_error(self) -> float:
        """Mean of ``|counted - annotated|``."""
        return float(np.mean(np.abs(np.subtract(self.counted, self.truth))))

    @property
    def mean_relative_error(self) -> float:
        """Mean of ``|counted - annotated| / annotated``."""
        return float(np.mean(np.abs(np.subtract(self.counted, self.truth)) / np.asarray(self.truth)))


def count_errors(
    truths: Mapping[str, ImageTruth],
    detections: Mapping[str, ImageDetections],
    score_threshold: float,
    class_name: str = "person",
    min_count: int = 5,
) -> CountErrors:
    """Detections of ``class_name`` scoring >= ``score_threshold`` counted on each image whose
    annotations hold at least ``min_count`` real (not ignored) boxes of that class, against that count.

    The crowd-count figure: a group is an image of ``min_count`` people or more. Images in
    ``truths`` without an entry in ``detections`` count as images where nothing was found.
    """
    counted: list[int] = []
    truth: list[int] = []
    for image, t in truths.items():
        n = sum(1 for c, ign in zip(t.classes, t.ignore, strict=True) if c == class_name and not ign)
        if n < min_count:
            continue
        d = detections.get(image)
        found = (
            0
            if d is None
            else sum(1 for c, s in zip(d.classes, d.scores, strict=True) if c == class_name and s >= score_threshold)
        )
        counted.append(int(found))
        truth.append(n)
    return CountErrors(tuple(counted), tuple(truth))
