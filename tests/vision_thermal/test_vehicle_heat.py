"""Vehicle-aware heat: a hot hood on a detected car raises nothing, a fire beside it does; baseline learning."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner

from drone_patrol.core.config import CameraConfig, VisionConfig
from drone_patrol.core.types import AlertKind, AlertStatus
from drone_patrol.vision.commands import detect
from drone_patrol.vision.detections import CLASS_VEHICLE, Detections
from drone_patrol.vision.detectors import HotspotDetector
from drone_patrol.vision.frames import ThermalFrame
from drone_patrol.vision.pipeline import VisionPipeline
from tests.vision.synth import FRAME, HOME, frame, scene

# A car seen from 40 m by the default camera (about 0.058 m a pixel): 4.5 x 1.8 m, hood 1.2 x 1.6 m.
CAR_BOX = (280.0, 240.0, 358.0, 272.0)


def hood(img: np.ndarray, peak_c: float) -> None:
    """The front of the car: a hot hood."""
    img[244:268, 334:354] = peak_c


class Cars:
    """Stands for the learned detector: the car at ``CAR_BOX`` on every frame."""

    def detect(self, frame: ThermalFrame) -> Detections:
        return Detections.create([CAR_BOX], [0.9], [CLASS_VEHICLE])


def _run(peaks: list[float], fire: bool = False, cars: bool = True) -> tuple[list, VisionPipeline]:
    vision = VisionConfig()
    pipe = VisionPipeline(vision, CameraConfig(), HOME, site="s", drone="d", detectors=[])
    pipe.detectors = [HotspotDetector(vision, ground_sample_m=pipe._frame_gsd)] + ([Cars()] if cars else [])
    alerts = []
    for i, peak in enumerate(peaks):
        img = scene()
        hood(img, peak)
        if fire:
            img[250:262, 420:432] = 400.0  # an open fire 4 m from the car
        alerts += pipe.process(frame(img, t=100.0 + 0.5 * i, index=i))
    return alerts, pipe


def test_hot_hood_on_a_detected_car_is_not_an_incident() -> None:
    alerts, pipe = _run([85.0] * 12)
    assert alerts == []
    assert any("vehicle heat" in why for why in pipe.rules.suppressed.values())


def test_the_same_hood_without_a_car_detection_is_alerted() -> None:
    alerts, _ = _run([85.0] * 12, cars=False)
    assert [a.status for a in alerts] == [AlertStatus.NEW]


def test_fire_next_to_the_car_is_alerted_and_the_hood_is_not() -> None:
    alerts, _ = _run([85.0] * 12, fire=True)
    new = [a for a in alerts if a.status is AlertStatus.NEW]
    assert len(new) == 1 and new[0].kind is AlertKind.THERMAL_HOTSPOT
    assert new[0].figures["max_temperature_c"] >= 390.0
    assert new[0].figures["mode"] == "radiometric"


def test_fire_level_heat_on_a_car_is_alerted() -> None:
    alerts, _ = _run([160.0] * 12)
    assert [a.status for a in alerts][:1] == [AlertStatus.NEW]


def test_heat_that_keeps_rising_on_a_car_is_alerted() -> None:
    alerts, _ = _run([85.0 + 4.0 * i for i in range(12)])  # 85 -> 129 C in 6 s: burning, not cooling
    assert AlertStatus.NEW in [a.status for a in alerts]


def _poses(n: int, t0: float = 100.0) -> list[dict]:
    p = FRAME.enu_to_point(0.0, 0.0, 40.0)
    return [
        {
            "time_s": t0 + 0.5 * i, "latitude_deg": p.latitude_deg, "longitude_deg": p.longitude_deg,
            "altitude_m": HOME.altitude_m + 40.0, "relative_altitude_m": 40.0, "yaw_deg": 0.0,
            "home_latitude_deg": HOME.latitude_deg, "home_longitude_deg": HOME.longitude_deg,
            "home_altitude_m": HOME.altitude_m,
        }
        for i in range(n)
    ]  # fmt: skip


def test_detect_update_baseline_learns_everyday_heat_above_the_alert_threshold(tmp_path) -> None:
    n = 12
    (tmp_path / "tel.jsonl").write_text("\n".join(json.dumps(r) for r in _poses(n)))
    frames = []
    for _ in range(n):
        img = scene()
        hood(img, 86.0)  # a warm engine in the usual car park, every night
        frames.append(img)
    np.savez(tmp_path / "night.npz", celsius=np.stack(frames), time_s=100.0 + 0.5 * np.arange(n))
    baseline = tmp_path / "baseline.json"
    args = [str(tmp_path / "night.npz"), "--telemetry", str(tmp_path / "tel.jsonl"), "--baseline", str(baseline)]

    def alerts(out: str) -> list[dict]:
        return [json.loads(line) for line in out.splitlines() if line.startswith("{")]

    first = CliRunner().invoke(detect, [*args, "--update-baseline"])
    assert first.exit_code == 0, first.output
    assert [a["status"] for a in alerts(first.stdout)][:1] == ["new"]  # not learnt yet
    assert baseline.is_file()
    second = CliRunner().invoke(detect, args)
    assert second.exit_code == 0, second.output
    assert alerts(second.stdout) == []  # the site's everyday heat is quiet now
