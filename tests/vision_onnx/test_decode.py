"""Pure parts of the ONNX detector: YOLOv8 decoding, NMS, tile merging, letterbox and tiles."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drone_patrol.core.errors import InputError
from drone_patrol.vision.onnx.decode import (
    RawBoxes,
    decode_yolov8,
    iou,
    merge_tiles,
    nms,
    output_layout,
)
from drone_patrol.vision.onnx.model import parse_class_names, parse_input_size, parse_score_thresholds
from drone_patrol.vision.onnx.preprocess import as_rgb, letterbox, thermal_to_rgb, tile_grid


def _head(rows: list[list[float]]) -> np.ndarray:
    """(1, 4 + C, N) from N rows of cx, cy, w, h, scores..."""
    return np.asarray(rows, np.float32).T[None]


def test_decode_channels_first_picks_best_class_and_thresholds() -> None:
    head = _head([[50, 40, 20, 10, 0.1, 0.8, 0.0], [10, 10, 4, 4, 0.2, 0.1, 0.05], [30, 30, 10, 10, 0.0, 0.0, 0.6]])
    (out,) = decode_yolov8(head, "channels_first", 0.25)
    assert len(out) == 2
    assert np.allclose(out.xyxy[0], [40, 35, 60, 45])
    assert list(out.class_index) == [1, 2]
    assert np.allclose(out.score, [0.8, 0.6])


def test_decode_class_filter_and_channels_last() -> None:
    head = _head([[50, 40, 20, 10, 0.3, 0.8], [20, 20, 10, 10, 0.5, 0.1]])
    (only_first,) = decode_yolov8(head, "channels_first", 0.25, np.array([0]))
    # Restricted to class 0, each anchor is scored by class 0 alone.
    assert list(only_first.class_index) == [0, 0] and np.allclose(only_first.score, [0.3, 0.5])
    (last,) = decode_yolov8(np.transpose(head, (0, 2, 1)), "channels_last", 0.25)
    assert list(last.class_index) == [1, 0]


def test_decode_batch_keeps_images_apart() -> None:
    a = _head([[10, 10, 4, 4, 0.9]])
    b = _head([[10, 10, 4, 4, 0.1]])
    out = decode_yolov8(np.concatenate([a, b]), "channels_first", 0.5)
    assert [len(o) for o in out] == [1, 0]


def _reference_decode(head: np.ndarray, threshold: float, classes: np.ndarray | None) -> list[tuple]:
    """Anchor by anchor: the best class (of equal scores, the first listed) when its score passes; an anchor
    with a NaN among its scores is corrupt and dropped."""
    out = []
    for cx, cy, w, h, *scores in head[0].T.tolist():
        ids = list(range(len(scores))) if classes is None else [int(c) for c in classes]
        if any(math.isnan(scores[c]) for c in ids):
            continue
        best = max(ids, key=lambda c: scores[c]) if ids else None  # the first of equal scores in ids order
        if best is not None and scores[best] >= threshold:
            out.append(((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), scores[best], best))
    return out


@settings(max_examples=120, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.floats(0, 640, width=32), st.floats(0, 512, width=32), st.floats(0, 200, width=32),
            st.floats(0, 200, width=32), st.lists(st.sampled_from([0.0, 0.1, 0.3, 0.5, 0.9, float("nan")]),
                                                  min_size=3, max_size=3),
        ),
        max_size=30,
    ),
    threshold=st.sampled_from([0.001, 0.3, 0.5]),
    classes=st.sampled_from([None, [0], [2, 0], []]),
    last=st.booleans(),
)  # fmt: skip
def test_decode_matches_an_anchor_by_anchor_reference(rows, threshold, classes, last) -> None:
    """Every kept box is the anchor's best class with a passing score, whatever the layout, the class
    filter or NaN scores (never kept)."""
    head = np.zeros((1, 7, len(rows)), np.float32)
    for i, (cx, cy, w, h, scores) in enumerate(rows):
        head[0, :, i] = [cx, cy, w, h, *scores]
    want = _reference_decode(head, threshold, None if classes is None else np.array(classes, int))
    given_head = np.transpose(head, (0, 2, 1)) if last else head
    idx = None if classes is None else np.array(classes, int)
    (got,) = decode_yolov8(given_head, "channels_last" if last else "channels_first", threshold, idx)
    assert len(got) == len(want)
    for k, (xyxy, score, cls) in enumerate(want):
        assert np.allclose(got.xyxy[k], xyxy, atol=1e-3)
        assert got.score[k] == pytest.approx(score) and got.class_index[k] == cls


def test_output_layout() -> None:
    assert output_layout((1, 84, 6720), 80) == ("channels_first", 80)
    assert output_layout(("batch", 84, "anchors"), 80) == ("channels_first", 80)
    assert output_layout((1, 6720, 84), 80) == ("channels_last", 80)
    assert output_layout((1, 84, 6720), None) == ("channels_first", 80)
    assert output_layout((1, 300, 6), 80) is None  # an end-to-end export with NMS inside
    assert output_layout((1, 84), 80) is None
    assert output_layout((1, 3, 100), None) is None  # fewer than 4 box channels + 1 class


def test_metadata_parsers() -> None:
    assert parse_class_names("{0: 'person', 1: 'car'}") == ["person", "car"]
    assert parse_class_names('["person", "car"]') == ["person", "car"]
    assert parse_class_names('{"0": "person"}') == ["person"]
    assert parse_class_names("{1: 'gap'}") is None
    assert parse_class_names("__import__('os')") is None
    assert parse_input_size("[512, 640]") == (512, 640)
    assert parse_input_size("640") == (640, 640)
    assert parse_input_size("[0, 640]") is None


def test_nms_per_class() -> None:
    boxes = RawBoxes(
        np.array([[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10], [50, 50, 60, 60]], float),
        np.array([0.9, 0.8, 0.7, 0.6]),
        np.array([0, 0, 1, 0]),
    )
    assert list(nms(boxes, 0.5)) == [0, 2, 3]
    assert list(nms(boxes, 0.5, max_detections=2)) == [0, 2]


def test_merge_tiles_joins_cut_pieces_and_keeps_crowd_apart() -> None:
    # A person 40 px wide straddling a seam at x=100: tile A sees x 80..100 (cut), tile B 80..120 whole,
    # and a whole-frame pass sees it too. Two other people stand shoulder to shoulder elsewhere.
    xyxy = np.array(
        [
            [80, 10, 100, 50],  # cut piece from the left tile
            [80, 10, 120, 50],  # whole view from the right tile
            [81, 11, 119, 49],  # duplicate from the whole frame
            [200, 10, 220, 60],  # crowd: person 1
            [212, 14, 232, 62],  # crowd: person 2, overlapping person 1 (IoU ~0.33)
            [300, 10, 320, 40],  # a tall person cut in both tiles: upper piece (upper tile)
            [300, 35, 321, 70],  # lower piece (lower tile)
            [322, 10, 342, 40],  # their neighbour, also cut: upper piece (upper tile)
            [321, 35, 342, 70],  # lower piece (lower tile)
        ],
        float,
    )
    score = np.array([0.9, 0.8, 0.7, 0.8, 0.75, 0.6, 0.5, 0.55, 0.52])
    cut = np.array([True, False, False, False, False, True, True, True, True])
    tile = np.array([0, 1, -1, 0, 0, 0, 2, 0, 2])
    out = merge_tiles(RawBoxes(xyxy, score, np.zeros(9, np.int64)), cut, tile, 0.6, 0.45)
    assert len(out) == 5
    got = {tuple(np.round(b).astype(int)) for b in out.xyxy}
    assert (80, 10, 120, 50) in got  # the whole view wins over the cut piece
    assert (200, 10, 220, 60) in got and (212, 14, 232, 62) in got  # the crowd is not merged
    assert (300, 10, 321, 70) in got and (321, 10, 342, 70) in got  # pieces joined, neighbours kept apart


def test_as_rgb_and_bad_images() -> None:
    grey = np.zeros((4, 5), np.uint8)
    assert as_rgb(grey).shape == (4, 5, 3)
    bgr = np.zeros((2, 2, 3), np.uint8)
    bgr[..., 0] = 255
    assert as_rgb(bgr, "bgr")[0, 0].tolist() == [0, 0, 255]
    with pytest.raises(InputError, match="uint8"):
        as_rgb(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(InputError, match=r"\(H, W, 3\)"):
        as_rgb(np.zeros((4, 4, 2), np.uint8))


def test_thermal_to_rgb_stretches_and_keeps_uniform_scenes_flat() -> None:
    celsius = np.full((32, 40), 15.0, np.float32)
    celsius[10:20, 10:14] = 33.0
    img = thermal_to_rgb(celsius)
    assert img.shape == (32, 40, 3) and img.dtype == np.uint8
    assert img[15, 12, 0] == 255 and img[0, 0, 0] < img[15, 12, 0]
    # A uniform scene stays mid-grey instead of amplified noise.
    noisy = 20 + np.random.default_rng(1).normal(0, 0.05, (32, 40)).astype(np.float32)
    flat = thermal_to_rgb(noisy)
    assert 100 < flat.mean() < 155 and flat.std() < 5
    # A grill at 230 C in view: capped at 45 C, the person stays bright and the grill saturates.
    grill = celsius.copy()
    grill[0:8, 30:40] = 230.0
    capped = thermal_to_rgb(grill, max_c=45.0)
    assert capped[2, 35, 0] == 255 and capped[15, 12, 0] > 150
    assert thermal_to_rgb(grill)[15, 12, 0] < 50  # without the cap the person is crushed
    black = thermal_to_rgb(celsius, polarity="black_hot")
    assert black[15, 12, 0] == 0
    celsius[0, 0] = np.nan
    assert thermal_to_rgb(celsius, range_c=(10.0, 40.0))[0, 0, 0] == 0
    with pytest.raises(InputError, match="Celsius"):
        thermal_to_rgb(np.zeros((3, 4, 3), np.float32))


@settings(max_examples=60, deadline=None)
@given(
    h=st.integers(8, 900),
    w=st.integers(8, 900),
    out_h=st.sampled_from([64, 320, 512, 640]),
    out_w=st.sampled_from([64, 320, 640]),
    box=st.tuples(st.floats(0, 1), st.floats(0, 1), st.floats(0, 1), st.floats(0, 1)),
)
def test_letterbox_maps_boxes_both_ways(
    h: int, w: int, out_h: int, out_w: int, box: tuple[float, float, float, float]
) -> None:
    image = np.zeros((h, w, 3), np.uint8)
    canvas, lb = letterbox(image, (out_h, out_w))
    assert canvas.shape == (out_h, out_w, 3)
    xyxy = np.array([[box[0] * w, box[1] * h, box[2] * w, box[3] * h]])
    inp = lb.to_input(xyxy)
    assert np.allclose(lb.to_original(inp), xyxy)
    # The whole image lands inside the canvas.
    full = lb.to_input(np.array([[0.0, 0.0, w, h]]))[0]
    assert full[0] >= -1e-6 and full[1] >= -1e-6 and full[2] <= out_w + 1e-6 and full[3] <= out_h + 1e-6


@settings(max_examples=60, deadline=None)
@given(
    h=st.integers(16, 2000),
    w=st.integers(16, 2000),
    th=st.integers(16, 700),
    tw=st.integers(16, 700),
    overlap=st.floats(0, 0.5),
)
def test_tile_grid_covers_frame_with_overlap(h: int, w: int, th: int, tw: int, overlap: float) -> None:
    tiles = tile_grid((h, w), (th, tw), overlap)
    covered = np.zeros((h, w), bool)
    for t in tiles:
        assert t.x0 >= 0 and t.x0 + t.width <= w and t.y0 >= 0 and t.y0 + t.height <= h
        covered[t.y0 : t.y0 + t.height, t.x0 : t.x0 + t.width] = True
    assert covered.all()
    xs = sorted({t.x0 for t in tiles})
    for a, b in itertools.pairwise(xs):
        assert min(tw, w) - (b - a) >= min(tw, w) * overlap - 1  # adjacent tiles overlap enough


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0, 100), st.floats(0, 100), st.floats(1, 40), st.floats(1, 40), st.floats(0.01, 1)),
        min_size=0,
        max_size=30,
    ),
    st.floats(0.1, 0.9),
)
def test_nms_properties(rows: list[tuple[float, float, float, float, float]], thr: float) -> None:
    xyxy = np.array([[x, y, x + bw, y + bh] for x, y, bw, bh, _ in rows], float).reshape(-1, 4)
    score = np.array([r[4] for r in rows], float)
    boxes = RawBoxes(xyxy, score, np.zeros(len(rows), np.int64))
    kept = nms(boxes, thr)
    assert list(score[kept]) == sorted(score[kept], reverse=True)
    for i, k in enumerate(kept):  # no two kept boxes overlap above the threshold
        others = kept[i + 1 :]
        if others.size:
            assert (iou(xyxy[k], xyxy[others]) <= thr).all()
    dropped = np.setdiff1d(np.arange(len(rows)), kept)
    for d in dropped:  # every dropped box is covered by a kept one scoring at least as high
        over = kept[(iou(xyxy[d], xyxy[kept]) > thr) & (score[kept] >= score[d])]
        assert over.size


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0, 200), st.floats(0, 200), st.floats(2, 40), st.floats(2, 40), st.floats(0.05, 1)),
        min_size=1,
        max_size=25,
    ),
    st.lists(st.booleans(), min_size=25, max_size=25),
)
def test_merge_tiles_properties(rows: list[tuple[float, float, float, float, float]], cut_flags: list[bool]) -> None:
    xyxy = np.array([[x, y, x + bw, y + bh] for x, y, bw, bh, _ in rows], float)
    score = np.array([r[4] for r in rows])
    n = len(rows)
    cut = np.array(cut_flags[:n])
    tiles = np.arange(n) % 4
    boxes = RawBoxes(xyxy, score, np.zeros(n, np.int64))
    out = merge_tiles(boxes, cut, tiles, 0.6, 0.45)
    assert 1 <= len(out) <= n
    # Every output box covers at least one input box, and every whole input box is near an output box.
    for box in out.xyxy:
        inside = (xyxy[:, 0] >= box[0] - 1e-9) & (xyxy[:, 1] >= box[1] - 1e-9)
        inside &= (xyxy[:, 2] <= box[2] + 1e-9) & (xyxy[:, 3] <= box[3] + 1e-9)
        assert inside.any()
    for i in np.flatnonzero(~cut):  # kept, or suppressed by NMS under a kept box
        assert (iou(xyxy[i], out.xyxy) > 0.45 - 1e-9).any()
    # Whole boxes that overlap each other little (a crowd) all survive.
    whole = ~cut
    if whole.all():
        pairwise = [iou(xyxy[i], np.delete(xyxy, i, axis=0)).max() if n > 1 else 0.0 for i in range(n)]
        if max(pairwise) <= 0.45:
            assert len(out) == n


def test_score_thresholds_from_metadata_keep_only_known_classes_in_range() -> None:
    names = ["person", "car"]
    assert parse_score_thresholds('{"person": 0.46, "Car": 0.3}', names) == {"person": 0.46, "car": 0.3}
    assert parse_score_thresholds('{"person": 0, "car": 1.5, "truck": 0.2, "x": "high"}', names) == {}
    for text in (None, "", "[0.3]", "{not json", "0.4"):
        assert parse_score_thresholds(text, names) == {}
