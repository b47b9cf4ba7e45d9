"""Bad frames are counted and skipped, never a crash; the live view and heat observations."""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from drone_patrol.core.config import CameraConfig, VisionConfig
from drone_patrol.core.frames import ThermalFrame
from drone_patrol.vision.pipeline import VisionPipeline
from tests.vision.synth import HOME, disc, frame, scene


def _pipe() -> VisionPipeline:
    return VisionPipeline(VisionConfig(), CameraConfig(), HOME, site="s", drone="d")


def test_each_kind_of_bad_frame_is_counted_and_logged(caplog) -> None:
    pipe = _pipe()
    good = frame(scene(), t=100.0)
    caplog.set_level(logging.WARNING)
    bad = [
        ("not_a_frame", "garbage"),
        ("wrong_dtype", replace(good, celsius=good.celsius.astype(np.uint16), time_s=101)),
        ("wrong_shape", replace(good, celsius=np.zeros((100, 100), np.float32), time_s=102)),
        (
            "non_finite",
            replace(good, celsius=np.where(np.eye(512, 640) > 0, np.nan, good.celsius).astype(np.float32), time_s=103),
        ),
        ("all_zero", replace(good, celsius=np.zeros((512, 640), np.float32), time_s=104)),
        ("flat", replace(good, celsius=np.full((512, 640), 21.0, np.float32), time_s=105)),
        (
            "saturated",
            replace(
                good,
                celsius=np.full((512, 640), 550.0, np.float32) - np.eye(512, 640, dtype=np.float32),
                kelvin_per_count=0.1,
                time_s=106,
            ),
        ),
        ("missing_telemetry", replace(good, state=None, time_s=107)),
        ("stale_telemetry", replace(good, time_s=150.0)),
        ("bad_timestamp", replace(good, time_s=float("nan"))),
    ]
    assert pipe.process(good) == []
    for _, f in bad:
        assert pipe.process(f) == []  # type: ignore[arg-type]
    assert pipe.process(replace(good, time_s=99.0)) == []  # older than the last good frame
    skipped = pipe.stats.skipped
    for reason, _ in bad:
        assert skipped.get(reason) == 1, (reason, skipped)
    assert skipped["out_of_order"] == 1
    assert pipe.stats.frames_processed == 1 and pipe.stats.frames_in == len(bad) + 2
    assert sum("skipped" in r.message for r in caplog.records) == len(bad) + 1


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    arr=hnp.arrays(
        dtype=np.float64,
        shape=st.sampled_from([(16, 20), (64, 80), (8, 8), (3,), (64, 80, 3)]),
        elements=st.floats(-300, 3000) | st.sampled_from([0.0, float("nan"), float("inf")]),
    ),
    dtype=st.sampled_from([np.float32, np.float64, np.uint16, np.int32]),
    t=st.floats(allow_nan=True, allow_infinity=True),
)
def test_arbitrary_arrays_never_crash(arr, dtype, t) -> None:
    pipe = _pipe()
    arr = (
        arr.astype(dtype)
        if np.issubdtype(dtype, np.floating)
        else np.nan_to_num(arr, posinf=0).clip(0, 60000).astype(dtype)
    )
    f = ThermalFrame(celsius=arr, time_s=t, state=frame(scene(8, 10)).state)
    assert pipe.process(f) == []
    assert pipe.stats.frames_in == 1


def test_scaled_frames_are_accepted_and_live_view_is_a_jpeg() -> None:
    pipe = _pipe()
    small = scene(256, 320)
    disc(small, 100, 100, 3, 400.0)
    for i in range(5):
        pipe.process(frame(small, t=100.0 + i * 0.1, index=i))
    assert pipe.stats.frames_processed == 5
    jpeg = pipe.last_annotated_jpeg(max_width_px=160)
    assert jpeg is not None and jpeg[:2] == b"\xff\xd8"
    obs = pipe.heat_observations(include_alerted=True)
    assert len(obs) == 1 and obs[0].peak_c == 400.0
    alerts = pipe.finish(101.0)
    assert [a.status.value for a in alerts] == ["closed"]
    assert pipe.heat_observations() == []  # the alerted fire does not teach the baseline


def test_a_second_person_detector_does_not_double_count() -> None:
    from drone_patrol.vision.detectors import WarmBodyDetector
    from tests.vision.synth import person

    cfg = VisionConfig()
    pipe = VisionPipeline(cfg, CameraConfig(), HOME, detectors=[WarmBodyDetector(cfg), WarmBodyDetector(cfg)])
    img = scene()
    for k in range(4):
        person(img, 100 + 40 * k, 200)
    for i in range(5):
        pipe.process(frame(img, t=100 + i * 0.2, index=i))
    assert len(pipe.tracker.confirmed()) == 4


def test_live_view_outlines_known_heat_sources() -> None:
    from tests.vision.flights import areas, object_en, scenario

    a = areas()
    pipe = VisionPipeline(VisionConfig(), CameraConfig(), HOME, a.heat_sources, a.patrol)
    g = object_en(scenario("quiet_night"), "grill-stall-2", pipe.georef.frame)
    pipe.process(frame(scene(), t=100.0, east=float(g[0]), north=float(g[1])))
    plain = VisionPipeline(VisionConfig(), CameraConfig(), HOME)
    plain.process(frame(scene(), t=100.0, east=float(g[0]), north=float(g[1])))
    with_outline, without = pipe.last_annotated_jpeg(640), plain.last_annotated_jpeg(640)
    assert with_outline and without and with_outline != without


def test_the_onnx_person_detector_joins_when_configured() -> None:
    import pytest

    from drone_patrol.core.config.onnx_detector import OnnxDetectorConfig, default_model_path

    if not default_model_path().is_file():
        pytest.skip("the shipped ONNX model is not present")
    pipe = VisionPipeline(VisionConfig(onnx_detector=OnnxDetectorConfig()), CameraConfig(), HOME)
    assert len(pipe.detectors) == 4  # hot spots, warm bodies, saturated video, the learned model
    pipe.process(frame(scene(), t=100.0))
    assert pipe.stats.frames_processed == 1
