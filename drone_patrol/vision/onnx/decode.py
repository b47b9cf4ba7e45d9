"""Decoding of the raw YOLOv8 head and box suppression (pure numpy).

The YOLOv8 detection head exported without NMS emits ``[batch, 4 + C, N]``: for each of
N anchors, the box centre x, centre y, width and height in input pixels, then the C
class scores (already passed through a sigmoid). Some exporters transpose it to
``[batch, N, 4 + C]``; :func:`output_layout` tells the two apart from the class count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

#: ``channels_first`` is ``[batch, 4 + C, N]`` (ultralytics' export), ``channels_last`` ``[batch, N, 4 + C]``.
Layout = Literal["channels_first", "channels_last"]


@dataclass(frozen=True, eq=False)
class RawBoxes:
    """Candidate boxes of one image: ``xyxy`` (N, 4) float64, ``score`` (N,), ``class_index`` (N,) model class."""

    xyxy: NDArray[np.float64]
    score: NDArray[np.float64]
    class_index: NDArray[np.int64]

    @classmethod
    def empty(cls) -> RawBoxes:
        """No boxes."""
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=np.int64))

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])

    def take(self, index: NDArray[np.integer] | NDArray[np.bool_]) -> RawBoxes:
        """Rows selected by an index array or mask."""
        return RawBoxes(self.xyxy[index].reshape(-1, 4), self.score[index], self.class_index[index])

    @classmethod
    def concat(cls, parts: list[RawBoxes]) -> RawBoxes:
        """All rows of ``parts`` in order."""
        if not parts:
            return cls.empty()
        return cls(
            np.concatenate([p.xyxy for p in parts]).reshape(-1, 4),
            np.concatenate([p.score for p in parts]),
            np.concatenate([p.class_index for p in parts]),
        )


def output_layout(shape: tuple[int | str | None, ...], num_classes: int | None) -> tuple[Layout, int] | None:
    """Layout and class count of a YOLOv8 output of ``shape``, or ``None`` when it is not one.

    Dimensions may be symbolic (``str``/``None``) when the model has dynamic axes. With
    ``num_classes`` known (from the model's metadata), the channel axis is the one equal
    to ``4 + num_classes``; without it, the smaller static axis is taken as channels.
    """
    if len(shape) != 3:
        return None
    a, b = shape[1], shape[2]
    a_int = a if isinstance(a, int) and a > 0 else None
    b_int = b if isinstance(b, int) and b > 0 else None
    if num_classes is not None:
        channels = 4 + num_classes
        if a_int == channels:
            return "channels_first", num_classes
        if b_int == channels:
            return "channels_last", num_classes
        return None
    if a_int is not None and a_int > 4 and (b_int is None or a_int <= b_int):
        return "channels_first", a_int - 4
    if b_int is not None and b_int > 4 and (a_int is None or b_int < a_int):
        return "channels_last", b_int - 4
    return None


def decode_yolov8(
    output: NDArray[np.floating],
    layout: Layout,
    confidence_threshold: float,
    class_indices: NDArray[np.integer] | None = None,
) -> list[RawBoxes]:
    """Boxes above ``confidence_threshold`` of each image in a batch, in input-pixel xyxy.

    Each anchor yields at most one box, for its best class among ``class_indices`` (all
    classes when ``None``). No suppression is done here; see :func:`nms`.
    """
    arr = np.asarray(output)
    if arr.ndim != 3:
        raise ValueError(f"expected a rank-3 YOLOv8 output, got shape {arr.shape}")
    if layout == "channels_last":
        arr = np.transpose(arr, (0, 2, 1))  # work on [batch, 4 + C, N]: each score row contiguous
    result: list[RawBoxes] = []
    for rows in arr:
        scores = rows[4:] if class_indices is None else rows[4:][np.asarray(class_indices)]
        if scores.shape[0] == 0:
            result.append(RawBoxes.empty())
            continue
        # Candidates first (an anchor whose best score passes), then the best class of those
        # only: most anchors pass nothing, so the argmax runs over a handful of columns.
        (cand,) = np.nonzero((scores >= confidence_threshold).any(axis=0))
        if not len(cand):
            result.append(RawBoxes.empty())
            continue
        picked = scores[:, cand]
        best = np.argmax(picked, axis=0)
        best_score = picked[best, np.arange(len(cand))]
        ok = best_score >= confidence_threshold  # False where a NaN score was the "best"
        cand, best, best_score = cand[ok], best[ok], best_score[ok]
        boxes = rows[:4, cand].T.astype(np.float64)
        half_w, half_h = boxes[:, 2] / 2, boxes[:, 3] / 2
        xyxy = np.column_stack([boxes[:, 0] - half_w, boxes[:, 1] - half_h, boxes[:, 0] + half_w, boxes[:, 1] + half_h])
        model_class = best if class_indices is None else np.asarray(class_indices)[best]
        result.append(RawBoxes(xyxy, best_score.astype(np.float64), model_class.astype(np.int64)))
    return result


def box_area(xyxy: NDArray[np.float64]) -> NDArray[np.float64]:
    """Areas of (N, 4) xyxy boxes (zero for inverted boxes)."""
    return np.clip(xyxy[:, 2] - xyxy[:, 0], 0, None) * np.clip(xyxy[:, 3] - xyxy[:, 1], 0, None)


def _intersection(box: NDArray[np.float64], others: NDArray[np.float64]) -> NDArray[np.float64]:
    w = np.clip(np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0]), 0, None)
    h = np.clip(np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1]), 0, None)
    return np.asarray(w * h, dtype=np.float64)


def iou(box: NDArray[np.float64], others: NDArray[np.float64]) -> NDArray[np.float64]:
    """Intersection over union of one xyxy box with each of (N, 4) boxes."""
    inter = _intersection(box, others)
    union = box_area(box[None, :])[0] + box_area(others) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def ios(box: NDArray[np.float64], others: NDArray[np.float64]) -> NDArray[np.float64]:
    """Intersection over the smaller area: 1 when one box lies inside the other (a box cut by a tile edge)."""
    inter = _intersection(box, others)
    smaller = np.minimum(box_area(box[None, :])[0], box_area(others))
    return np.where(smaller > 0, inter / np.where(smaller > 0, smaller, 1.0), 0.0)


def nms(boxes: RawBoxes, iou_threshold: float, max_detections: int | None = None) -> NDArray[np.int64]:
    """Greedy per-class non-maximum suppression; indices of the kept boxes, best score first.

    A box is dropped when it overlaps a better-scoring kept box of the same class with
    IoU above ``iou_threshold``.
    """
    order = np.argsort(-boxes.score, kind="stable")
    kept: list[int] = []
    suppressed = np.zeros(len(boxes), dtype=bool)
    for pos, i in enumerate(order):
        if suppressed[i]:
            continue
        kept.append(int(i))
        if max_detections is not None and len(kept) >= max_detections:
            break
        rest = order[pos + 1 :]
        rest = rest[~suppressed[rest] & (boxes.class_index[rest] == boxes.class_index[i])]
        if rest.size:
            suppressed[rest[iou(boxes.xyxy[i], boxes.xyxy[rest]) > iou_threshold]] = True
    return np.asarray(kept, dtype=np.int64)


def _interval_iou(a0: float, a1: float, b0: NDArray[np.float64], b1: NDArray[np.float64]) -> NDArray[np.float64]:
    inter = np.clip(np.minimum(a1, b1) - np.maximum(a0, b0), 0, None)
    union = (a1 - a0) + (b1 - b0) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def merge_pieces(boxes: RawBoxes, tile_id: NDArray[np.integer], extent_threshold: float) -> RawBoxes:
    """Join the pieces of objects cut by tile edges, greedily in score order.

    Two pieces are one object when they come from different tiles, are of the same class,
    intersect (in the tiles' overlap band), and span the same extent across the cut: the
    IoU of their x intervals (for a horizontal cut) or y intervals (vertical cut) exceeds
    ``extent_threshold``. The joined box is the union and keeps the best score.
    """
    order = np.argsort(-boxes.score, kind="stable")
    used = np.zeros(len(boxes), dtype=bool)
    tiles = np.asarray(tile_id)
    out_xyxy: list[NDArray[np.float64]] = []
    out_score: list[float] = []
    out_class: list[int] = []
    for i in order:
        if used[i]:
            continue
        used[i] = True
        merged = boxes.xyxy[i].copy()
        members = {int(tiles[i])}
        cls = boxes.class_index[i]
        while True:
            rest = np.flatnonzero(~used & (boxes.class_index == cls) & ~np.isin(tiles, list(members)))
            if rest.size == 0:
                break
            others = boxes.xyxy[rest]
            touching = _intersection(merged, others) > 0
            same_x = _interval_iou(merged[0], merged[2], others[:, 0], others[:, 2]) > extent_threshold
            same_y = _interval_iou(merged[1], merged[3], others[:, 1], others[:, 3]) > extent_threshold
            hit = touching & (same_x | same_y)
            if not hit.any():
                break
            j = rest[hit][np.argmax(boxes.score[rest[hit]])]
            used[j] = True
            members.add(int(tiles[j]))
            o = boxes.xyxy[j]
            merged = np.array([min(merged[0], o[0]), min(merged[1], o[1]), max(merged[2], o[2]), max(merged[3], o[3])])
        out_xyxy.append(merged)
        out_score.append(float(boxes.score[i]))
        out_class.append(int(cls))
    if not out_xyxy:
        return RawBoxes.empty()
    return RawBoxes(np.vstack(out_xyxy), np.asarray(out_score), np.asarray(out_class, dtype=np.int64))


def merge_tiles(
    boxes: RawBoxes,
    cut: NDArray[np.bool_],
    tile_id: NDArray[np.integer],
    ios_threshold: float,
    iou_threshold: float,
    max_detections: int | None = None,
) -> RawBoxes:
    """Combine the detections of overlapping tiles (and of a whole-frame pass) into one set.

    ``cut`` marks boxes that touch an inner edge of their tile ``tile_id``, i.e. partial
    views. A cut box lying mostly inside a whole box of its class (intersection over the
    smaller box above ``ios_threshold``) is dropped, since another view saw the object
    entire; the remaining cut boxes, objects cut in every view, are joined with
    :func:`merge_pieces`. Then duplicates seen by several tiles are removed by NMS at
    ``iou_threshold``. Whole boxes are never joined by containment, so people standing
    close together in a crowd stay apart.
    """
    cut = np.asarray(cut, dtype=bool)
    whole_idx = np.flatnonzero(~cut)
    keep_cut: list[int] = []
    for i in np.flatnonzero(cut):
        peers = whole_idx[boxes.class_index[whole_idx] == boxes.class_index[i]]
        if peers.size and (ios(boxes.xyxy[i], boxes.xyxy[peers]) > ios_threshold).any():
            continue
        keep_cut.append(int(i))
    piece_idx = np.asarray(keep_cut, dtype=np.int64)
    pieces = merge_pieces(boxes.take(piece_idx), np.asarray(tile_id)[piece_idx], ios_threshold)
    combined = RawBoxes.concat([boxes.take(whole_idx), pieces])
    if not len(combined):
        return combined
    return combined.take(nms(combined, iou_threshold, max_detections))
