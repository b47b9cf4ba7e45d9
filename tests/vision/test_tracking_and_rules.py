"""Ground tracker, DBSCAN grouping and the heat baseline."""

from __future__ import annotations

import json

import numpy as np
import pytest

from drone_patrol.core.config import VisionConfig
from drone_patrol.core.errors import InputError
from drone_patrol.core.types import GeoPoint
from drone_patrol.vision.baseline import HeatBaseline, HeatObservation
from drone_patrol.vision.clustering import dbscan, gather_groups
from drone_patrol.vision.detections import CLASS_HOTSPOT, CLASS_PERSON, Detections
from drone_patrol.vision.tracking import GroundTracker

CFG = VisionConfig()


def _dets(points, cls=CLASS_HOTSPOT, sigma=0.5, peak=300.0) -> Detections:
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    n = len(pts)
    return Detections.create(
        np.zeros((n, 4)), np.ones(n), np.full(n, cls), peak_c=np.full(n, peak), mean_c=np.full(n, peak),
        ground_en_m=pts, error_radius_m=np.full(n, sigma), data={"area_m2": np.full(n, 0.5)},
    )  # fmt: skip


def test_one_thing_one_track_confirmed_after_k_of_n() -> None:
    tr = GroundTracker(CFG)
    rng = np.random.default_rng(0)
    ids = set()
    for i in range(10):
        out = tr.update(_dets([[10 + rng.normal(0, 0.3), 5 + rng.normal(0, 0.3)]]), 100 + i * 0.1)
        ids.add(int(out.tracker_id[0]))
        confirmed = tr.confirmed(CLASS_HOTSPOT)
        assert bool(confirmed) == (i >= CFG.track_confirm_hits - 1)
    assert len(ids) == 1
    t = tr.confirmed()[0]
    assert np.hypot(*(t.en_m - [10, 5])) < 0.3 and t.hits == 10


def test_out_of_view_tracks_survive_and_are_reassociated() -> None:
    tr = GroundTracker(CFG)
    for i in range(4):
        tr.update(_dets([[0, 0]]), 100 + i * 0.1)
    nowhere = lambda en: np.zeros(len(en), bool)  # noqa: E731
    for i in range(50):  # the drone looks elsewhere for 50 frames
        tr.update(Detections.empty(), 101 + i * 0.1, nowhere)
    out = tr.update(_dets([[0.4, -0.3]]), 120.0)
    assert int(out.tracker_id[0]) == 1 and len(tr.tracks) == 1


def test_tracks_end_after_in_view_misses() -> None:
    tr = GroundTracker(CFG)
    for i in range(4):
        tr.update(_dets([[0, 0]]), 100 + i * 0.1)
    everywhere = lambda en: np.ones(len(en), bool)  # noqa: E731
    for i in range(CFG.track_max_misses):
        tr.update(Detections.empty(), 100.5 + i * 0.1, everywhere)
    assert not tr.tracks and [t.track_id for t in tr.pop_ended()] == [1]


def test_people_in_a_group_keep_separate_tracks() -> None:
    tr = GroundTracker(CFG)
    pts = np.array([[0, 0], [0.7, 0], [0, 0.7], [0.7, 0.7], [1.4, 0.3]])
    for i in range(6):
        out = tr.update(_dets(pts + 0.05 * i, CLASS_PERSON), 100 + i * 0.2)
    assert len(set(out.tracker_id.tolist())) == 5 and len(tr.confirmed(CLASS_PERSON)) == 5


def test_dbscan_and_groups() -> None:
    rng = np.random.default_rng(1)
    crowd = rng.normal(0, 0.8, (10, 2))
    edge = np.array([[2.9, 0.0], [3.0, 0.5]])  # the loose edge of the crowd
    loner = np.array([[30.0, 30.0]])
    pts = np.vstack([crowd, edge, loner])
    labels = dbscan(pts, 2.0, 3)
    assert labels[-1] == -1 and len(set(labels[:10].tolist())) == 1
    groups = gather_groups(pts, 2.0, 3, 6.0)
    assert len(groups[0]) == 12 and 12 not in groups[0]


def test_baseline_learns_explains_and_round_trips(tmp_path) -> None:
    origin = GeoPoint(25.2821593, 110.296202, 150.0)
    b = HeatBaseline("dongxi", origin, max_patrols=3, min_patrols=2, excess_c=80.0)
    grill = HeatObservation(25.2823, 110.2967, 240.0)
    b.update_from_patrol([grill], 1.0)
    assert b.usual_peak_c(grill.latitude_deg, grill.longitude_deg) is None  # seen once, twice needed
    b.update_from_patrol([HeatObservation(grill.latitude_deg, grill.longitude_deg, 260.0)], 2.0)
    assert b.usual_peak_c(grill.latitude_deg, grill.longitude_deg) == 260.0
    assert b.explains(grill.latitude_deg, grill.longitude_deg, 300.0)
    assert not b.explains(grill.latitude_deg, grill.longitude_deg, 400.0)  # far hotter than usual
    assert not b.explains(25.2826, 110.2970, 200.0)  # somewhere else
    for k in range(5):
        b.update_from_patrol([], 3.0 + k)
    assert len(b.patrols) == 3 and b.usual_peak_c(grill.latitude_deg, grill.longitude_deg) is None
    path = b.save(tmp_path / "base.json")
    again = HeatBaseline.load(path)
    assert again.to_json() == b.to_json()


def test_bad_baseline_files_are_one_line_errors(tmp_path) -> None:
    p = tmp_path / "b.json"
    p.write_text("{not json")
    with pytest.raises(InputError, match="cannot read heat baseline"):
        HeatBaseline.load(p)
    p.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(InputError, match="not a heat baseline"):
        HeatBaseline.load(p)
    p.write_text(json.dumps({"format": "drone-patrol-heat-baseline", "site": "x", "origin": [1], "patrols": []}))
    with pytest.raises(InputError, match="malformed"):
        HeatBaseline.load(p)
    with pytest.raises(InputError, match="not found"):
        HeatBaseline.load(tmp_path / "missing.json")
