"""Hot-spot and warm-body detectors on synthetic frames."""

from __future__ import annotations

import numpy as np

from drone_patrol.core.config import VisionConfig
from drone_patrol.vision.detections import CLASS_HOTSPOT, CLASS_PERSON
from drone_patrol.vision.detectors import HotspotDetector, WarmBodyDetector, components
from tests.vision.synth import disc, frame, person, scene

CFG = VisionConfig()


def test_hotspot_absolute_and_relative_thresholds() -> None:
    img = scene()
    disc(img, 100, 100, 6, 450.0)  # a fire
    disc(img, 400, 300, 8, 55.0)  # a warm engine: over median + k MAD + margin, under 80 C
    det = HotspotDetector(CFG)
    d = det.detect(frame(img))
    assert len(d) == 2 and set(d.class_id.tolist()) == {CLASS_HOTSPOT}
    order = np.argsort(-d.peak_c)
    assert d.peak_c[order[0]] == 450.0 and d.peak_c[order[1]] == 55.0
    assert np.allclose(d.centroid_px[order[0]], [100, 100], atol=0.5)
    assert 30 < det.last_threshold_c < 40
    # in a hot scene only the absolute threshold applies
    hot_scene = scene(bg_c=70.0)
    disc(hot_scene, 50, 50, 4, 200.0)
    assert HotspotDetector(CFG).threshold_c(hot_scene) == CFG.hotspot_threshold_c


def test_hotspot_area_limits_in_square_metres() -> None:
    img = scene()
    img[10, 10] = 300.0  # one pixel: 0.003 m^2, under the 0.01 m^2 minimum
    img[200:500, 100:600] = 120.0  # 150 000 px: 500 m^2, over the maximum
    assert len(HotspotDetector(CFG).detect(frame(img))) == 0


def test_warm_bodies_one_per_person_and_split_when_touching() -> None:
    img = scene()
    person(img, 100, 100)
    person(img, 300, 200)
    for k in range(3):  # three people shoulder to shoulder: one blob, three heads
        person(img, 450 + 7 * k, 300)
    d = WarmBodyDetector(CFG).detect(frame(img))
    assert (d.class_id == CLASS_PERSON).all()
    assert len(d) == 5
    xs = sorted(d.centroid_px[:, 0].round().tolist())
    assert xs[:2] == [100, 300]


def test_warm_roofs_and_grill_halos_are_not_people() -> None:
    img = scene()
    img[50:200, 50:250] = 30.0  # a warm roof of 100 m^2
    disc(img, 400, 400, 12, 35.0)  # a warm ring ...
    disc(img, 400, 400, 9, 250.0)  # ... round a grill
    assert len(WarmBodyDetector(CFG).detect(frame(img))) == 0


def test_components_match_labelling() -> None:
    mask = np.zeros((40, 40), np.uint8)
    mask[2:5, 2:5] = 1
    mask[10:20, 10] = 1
    mask[10, 10:20] = 1
    mask[30:35, 30:35] = 1
    mask[32, 32] = 0  # a hole
    comps = components(mask)
    assert sorted(int(c[4].sum()) for c in comps) == [9, 19, 24]
