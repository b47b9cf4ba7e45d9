"""The Detections currency: construction, selection, merge."""

from __future__ import annotations

import numpy as np
import pytest

from drone_patrol.vision.detections import CLASS_HOTSPOT, CLASS_PERSON, Detections


def test_create_defaults_and_select() -> None:
    d = Detections.create([[0, 0, 10, 20], [5, 5, 7, 9]], [0.9, 0.5], [CLASS_HOTSPOT, CLASS_PERSON], peak_c=[300, 33])
    assert len(d) == 2
    assert np.allclose(d.centroid_px, [[5, 10], [6, 7]])
    assert np.allclose(d.area_px, [200, 8])
    assert (d.tracker_id == -1).all() and np.isnan(d.ground_en_m).all()
    hot = d[d.class_id == CLASS_HOTSPOT]
    assert len(hot) == 1 and hot.peak_c[0] == 300
    assert len(d[1]) == 1 and d[1].confidence[0] == 0.5


def test_merge_and_empty() -> None:
    a = Detections.create([[0, 0, 1, 1]], [1.0], [0], data={"blob": np.array([3])})
    b = Detections.create([[2, 2, 3, 3]], [0.5], [1], data={"blob": np.array([4])})
    m = Detections.merge([a, Detections.empty(), b])
    assert len(m) == 2 and list(m.data["blob"]) == [3, 4]
    assert len(Detections.merge([])) == 0


def test_shape_mismatch_is_refused() -> None:
    with pytest.raises(ValueError, match="expected shape"):
        Detections.create([[0, 0, 1, 1]], [1.0, 2.0], [0])
