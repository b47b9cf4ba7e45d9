"""Automatic-gain video through the pipeline: people and crowds from the learned model, never temperatures."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from drone_patrol.core.config import CameraConfig, VisionConfig
from drone_patrol.core.config.onnx_detector import default_model_path
from drone_patrol.core.frames import GimbalAttitude, ThermalFrame
from drone_patrol.core.types import AlertKind, AlertStatus
from drone_patrol.sim.thermal.flight import state_at
from drone_patrol.vision.detections import CLASS_HOTSPOT, CLASS_PERSON
from drone_patrol.vision.pipeline import VisionPipeline
from drone_patrol.vision.sources import Radiometry, open_frames
from tests.vision.synth import FRAME, HOME

DATA = Path(__file__).resolve().parents[1] / "data" / "hit_uav"
# HIT-UAV's camera: a 640x512 Zenmuse XT2 (13 mm lens: 45 x 37 degrees); this frame: 60 m, 80 degrees down
CAMERA = CameraConfig(hfov_deg=45.0, mount_pitch_deg=-80.0)

needs_model = pytest.mark.skipif(not default_model_path().is_file(), reason="thermal model not shipped")


def _video_frames(name: str, n: int, alt_m: float = 60.0) -> list[ThermalFrame]:
    grey = cv2.imread(str(DATA / name), cv2.IMREAD_GRAYSCALE)
    out = []
    for i in range(n):
        t = 100.0 + 0.25 * i
        st = state_at(FRAME, 0.0, 0.0, alt_m, 0.0, t, HOME)
        out.append(ThermalFrame.from_video(grey, t, i, state=st, gimbal=GimbalAttitude(-80.0)))
    return out


@needs_model
def test_agc_frames_give_people_and_a_crowd_and_no_temperature() -> None:
    # the night frame: 33 people around two basketball hoops, about 3 m apart
    vision = VisionConfig(crowd_eps_m=4.0, crowd_min_duration_s=1.0)
    pipe = VisionPipeline(vision, CAMERA, HOME, site="s", drone="d")
    alerts = []
    for f in _video_frames("1_60_80_0_00726.jpg", 16):
        alerts += pipe.process(f)
    assert pipe.stats.mode == "agc" and pipe.stats.modes == {"agc": 16}
    _, dets, _ = pipe._last  # type: ignore[misc]
    people = dets[dets.class_id == CLASS_PERSON]
    assert len(people) >= 20
    assert np.all(np.isnan(dets.peak_c)) and np.all(np.isnan(dets.mean_c))  # no temperature from grey levels
    crowds = [a for a in alerts if a.kind is AlertKind.CROWD_GATHERING and a.status is AlertStatus.NEW]
    assert crowds, [a.summary for a in alerts]
    assert crowds[0].figures["head_count"] >= 6 and crowds[0].figures["mode"] == "agc"
    assert not [a for a in alerts if a.kind is AlertKind.THERMAL_HOTSPOT]
    for a in alerts:
        assert "max_temperature_c" not in a.figures or a.figures["max_temperature_c"] is None
    assert pipe.last_annotated_jpeg() is not None


def test_saturated_blob_in_agc_video_is_heat_without_a_temperature() -> None:
    vision = VisionConfig(learned_detector_on_video=False)
    pipe = VisionPipeline(vision, CameraConfig(), HOME, site="s", drone="d")
    alerts = []
    for i in range(10):
        grey = np.random.default_rng(i).integers(90, 130, (512, 640)).astype(np.uint8)
        grey[250:262, 300:312] = 255  # a fire clips the automatic gain at full white
        st = state_at(FRAME, 0.0, 0.0, 40.0, 0.0, 100.0 + 0.5 * i, HOME)
        alerts += pipe.process(ThermalFrame.from_video(grey, 100.0 + 0.5 * i, i, state=st))
    new = [a for a in alerts if a.status is AlertStatus.NEW]
    assert len(new) == 1 and new[0].kind is AlertKind.THERMAL_HOTSPOT
    assert new[0].figures["max_temperature_c"] is None and new[0].figures["measurement"] == "agc_saturation"
    assert new[0].figures["mode"] == "agc" and new[0].confidence <= 0.6
    assert new[0].thumbnail_jpeg


def test_grey_warm_blobs_of_agc_video_are_not_people_or_heat_without_the_model() -> None:
    vision = VisionConfig(learned_detector_on_video=False)
    pipe = VisionPipeline(vision, CameraConfig(), HOME, site="s", drone="d")
    grey = np.full((512, 640), 120, np.uint8)
    for x in range(100, 600, 40):
        grey[200:210, x : x + 6] = 190  # 'brighter than grey 150-190': not people, not temperatures
    st = state_at(FRAME, 0.0, 0.0, 40.0, 0.0, 100.0, HOME)
    assert pipe.process(ThermalFrame.from_video(grey, 100.0, 0, state=st)) == []
    _, dets, _ = pipe._last  # type: ignore[misc]
    assert not np.any(dets.class_id == CLASS_PERSON) and not np.any(dets.class_id == CLASS_HOTSPOT)


def test_8bit_frames_without_a_span_are_read_as_agc_video(tmp_path) -> None:
    grey = np.random.default_rng(0).integers(0, 255, (3, 64, 80)).astype(np.uint8)
    np.save(tmp_path / "g.npy", grey)
    frames = list(open_frames(tmp_path / "g.npy", Radiometry(), fps=2.0))
    assert all(f.agc and f.video is not None and np.all(np.isnan(f.celsius)) for f in frames)
    folder = tmp_path / "jpg"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.jpg"), cv2.imread(str(DATA / "0_60_60_0_01723.jpg")))
    (f,) = open_frames(folder, Radiometry(), fps=1.0)
    assert f.agc and f.video is not None and f.video.shape == (512, 640)
    assert json.dumps({"mode": "agc"})
