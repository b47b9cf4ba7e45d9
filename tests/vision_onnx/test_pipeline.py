"""The ONNX detector inside the vision pipeline, scheduled every k-th frame."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from drone_patrol.core.config.camera import CameraConfig
from drone_patrol.core.config.vision import VisionConfig
from drone_patrol.sim.thermal import Scenario, ThermalCameraSim
from drone_patrol.sim.thermal.flight import fly_route
from drone_patrol.vision.onnx import EveryNthFrame, OnnxDetector, OnnxDetectorConfig
from drone_patrol.vision.pipeline import VisionPipeline
from tests.vision_onnx.conftest import aerial_scene

SCENARIO = Path(__file__).resolve().parents[2] / "flight_plans" / "scenarios" / "quiet_night.geojson"


def test_people_from_the_rgb_camera_reach_the_pipeline_every_second_frame() -> None:
    scene, _ = aerial_scene()
    scenario = Scenario.load(SCENARIO)
    camera = CameraConfig()
    sim = ThermalCameraSim(scenario, camera, seed=5)
    states = fly_route(np.array([[0.0, 0.0], [40.0, 0.0]]), scenario.frame, 40.0, 5.0, camera.frame_rate_hz)
    frames = []
    for state in states:
        frame, _ = sim.render(state, state.time_s)
        frames.append(dataclasses.replace(frame, rgb=scene))  # a co-registered colour camera sees the people
        if len(frames) == 4:
            break

    def run(extra: EveryNthFrame | None) -> int:
        pipeline = VisionPipeline(VisionConfig(), camera, scenario.origin)
        if extra is not None:
            pipeline.detectors.append(extra)
        for frame in frames:
            pipeline.process(frame)
        assert pipeline.stats.frames_processed == len(frames)
        return pipeline.stats.detections

    onnx = OnnxDetector(OnnxDetectorConfig(model="coco", classes=("person",), intra_op_threads=1))
    people = len(onnx.detect(frames[0]))
    assert people >= 10
    scheduled = EveryNthFrame(onnx, 2, on_skip="empty")
    without, with_onnx = run(None), run(scheduled)
    assert scheduled.runs == 2
    # Georeferenced and kept by the pipeline on the two frames the network ran on.
    assert with_onnx - without == 2 * people
