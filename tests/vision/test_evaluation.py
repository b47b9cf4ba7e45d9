"""AP, precision/recall and operating thresholds of ``drone_patrol.vision.evaluation`` on hand-built cases."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from drone_patrol.vision.evaluation import (
    ImageDetections,
    ImageTruth,
    best_f1_thresholds,
    count_errors,
    evaluate_detections,
)


def _box(i: int) -> list[float]:
    return [10.0 * i, 0.0, 10.0 * i + 8.0, 8.0]


def _case(hits: list[tuple[bool, float]], n_truth: int) -> tuple[dict, dict]:
    """One image: ``n_truth`` people; each (hit, score) a detection on a person (hit) or on empty ground."""
    truth = ImageTruth(np.asarray([_box(i) for i in range(n_truth)]).reshape(-1, 4), ("person",) * n_truth)
    boxes, used = [], 0
    for k, (hit, _) in enumerate(hits):
        if hit and used < n_truth:
            boxes.append(_box(used))
            used += 1
        else:
            boxes.append(_box(1000 + k))
    found = ImageDetections(
        np.asarray(boxes, dtype=np.float64).reshape(-1, 4),
        ("person",) * len(hits),
        np.asarray([s for _, s in hits], dtype=np.float64),
    )
    return {"a": truth}, {"a": found}


def test_best_f1_threshold_keeps_the_true_ones_and_drops_the_low_false_ones() -> None:
    truths, found = _case([(True, 0.9), (True, 0.8), (False, 0.7), (True, 0.6), (False, 0.3), (False, 0.2)], 3)
    assert best_f1_thresholds(truths, found, ["person"]) == {"person": (0.6, 6 / 7)}  # 3 of 4 kept are right
    (r,) = evaluate_detections(truths, found, ["person"], 0.5, {"person": 0.6})
    assert (r.precision, r.recall, r.detections) == (0.75, 1.0, 4)
    (r,) = evaluate_detections(truths, found, ["person"], 0.5, {"car": 0.1})  # a class not named: 0.25
    assert r.detections == 5


def test_no_threshold_for_a_class_without_truth_or_without_a_hit() -> None:
    truths, found = _case([(False, 0.9)], 0)
    assert best_f1_thresholds(truths, found, ["person", "car"]) == {}


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), st.floats(0.05, 1.0).map(lambda x: round(x, 2))), min_size=1, max_size=30),
    st.integers(1, 30),
)
def test_the_chosen_threshold_has_the_highest_f1_of_any_score(hits: list[tuple[bool, float]], n_truth: int) -> None:
    truths, found = _case(hits, n_truth)
    chosen = best_f1_thresholds(truths, found, ["person"])
    scores = sorted({s for _, s in hits})

    def f1(at: float) -> float:
        (r,) = evaluate_detections(truths, found, ["person"], 0.5, at)
        return 0.0 if not r.true_positives else 2 * r.precision * r.recall / (r.precision + r.recall)

    if "person" not in chosen:
        assert all(f1(s) == 0.0 for s in scores)
        return
    at, best = chosen["person"]
    assert at in scores
    assert abs(f1(at) - best) < 1e-9
    assert best >= max(f1(s) for s in scores) - 1e-12


def test_crowd_count_errors_on_groups_at_the_operating_threshold() -> None:
    def truth(n_people: int, n_ignored: int = 0, cars: int = 0) -> ImageTruth:
        classes = ("person",) * (n_people + n_ignored) + ("car",) * cars
        ignore = np.asarray([False] * n_people + [True] * n_ignored + [False] * cars)
        return ImageTruth(np.asarray([_box(i) for i in range(len(classes))]).reshape(-1, 4), classes, ignore)

    def found(scores: list[float], cars: int = 0) -> ImageDetections:
        classes = ("person",) * len(scores) + ("car",) * cars
        return ImageDetections(
            np.asarray([_box(i) for i in range(len(classes))], dtype=np.float64).reshape(-1, 4),
            classes,
            np.asarray(scores + [0.9] * cars, dtype=np.float64),
        )

    truths = {
        "six": truth(6, cars=2),  # 4 people at or above 0.4 (cars not counted): -2
        "five+ignored": truth(5, n_ignored=3),  # the ignored ones are not people to count: 7 found, +2
        "four": truth(4),  # not a group: left out
        "missed": truth(8),  # no detections at all: -8
    }
    detections = {
        "six": found([0.9, 0.5, 0.4, 0.4, 0.39, 0.1], cars=3),
        "five+ignored": found([0.8] * 7),
        "four": found([0.9] * 9),
    }
    crowd = count_errors(truths, detections, 0.4, "person", 5)
    assert crowd.truth == (6, 5, 8) and crowd.counted == (4, 7, 0) and crowd.images == 3
    assert crowd.mean_error == -8 / 3
    assert crowd.mean_absolute_error == 12 / 3
    assert np.isclose(crowd.mean_relative_error, (2 / 6 + 2 / 5 + 8 / 8) / 3)
    assert count_errors(truths, detections, 0.4, "person", 9).images == 0
