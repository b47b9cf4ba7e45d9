"""Heat blobs at the edges of what a frame can show: one stuck pixel, a large fire up close in an oblique view."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from drone_patrol.core.config import CameraConfig, VisionConfig
from drone_patrol.core.frames import GimbalAttitude, ThermalFrame
from drone_patrol.sim.thermal.flight import state_at
from drone_patrol.vision.detections import CLASS_HOTSPOT
from drone_patrol.vision.pipeline import VisionPipeline
from drone_patrol.vision.radiometry import celsius_to_tlinear, tlinear_to_celsius
from tests.vision.synth import FRAME, HOME, frame, scene


def test_one_stuck_pixel_is_no_fire_at_any_height() -> None:
    for altitude_m in (40.0, 100.0, 120.0):
        pipe = VisionPipeline(VisionConfig(), CameraConfig(), HOME)
        alerts = []
        for i in range(6):
            counts = celsius_to_tlinear(scene(seed=i), 0.1)
            counts[200, 300] = 65535  # a stuck pixel: 6,280 C
            f = frame(tlinear_to_celsius(counts, 0.1), t=100 + 0.2 * i, alt=altitude_m, index=i)
            alerts += pipe.process(replace(f, counts=counts, kelvin_per_count=0.1))
        assert alerts == [], (altitude_m, [a.summary for a in alerts])


def test_a_large_fire_near_the_bottom_of_an_oblique_view_is_seen() -> None:
    pipe = VisionPipeline(VisionConfig(), CameraConfig(), HOME)

    def oblique(img: np.ndarray, t: float = 100.0) -> ThermalFrame:
        state = state_at(FRAME, 0, 0, 40.0, 0.0, t, HOME)
        return ThermalFrame(celsius=img, time_s=t, index=int(t), state=state, gimbal=GimbalAttitude(-30.0))

    cam = pipe.georef.camera_for(oblique(scene()))
    assert cam is not None
    v, u = np.mgrid[0:512, 0:640]
    ground = cam.pixel_to_ground(u.astype(float), v.astype(float))
    east, north = ground[..., 0], ground[..., 1]
    near_n = float(cam.pixel_to_ground(319.5, 470.0)[1])
    img = scene()
    img[(np.abs(east) <= 4.0) & (np.abs(north - near_n) <= 5.0)] = 600.0  # 8 x 10 m burning, up close
    pipe.process(oblique(img))
    tracked = pipe._last[1]
    hot = tracked.class_id == CLASS_HOTSPOT
    assert hot.sum() == 1
    assert 60.0 <= float(tracked.data["area_m2"][hot][0]) <= 100.0
