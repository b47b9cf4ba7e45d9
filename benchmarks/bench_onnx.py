"""ONNX person detector: latency by input size, threads and tiling; every-k-th-frame scheduling in the pipeline.

Rows of three kinds:

- ``latency``: ``OnnxDetector.detect_image`` on a 640x512 frame (preprocessing, network,
  decoding and NMS) at 320x320, 512x640 and 640x640 network input, on 1 and 2
  onnxruntime threads, and with sliced inference (9 tiles of 256x320 enlarged to 512x640
  plus the whole frame; and a lighter 2x2 grid of 288x352 tiles).
- ``pipeline``: the whole vision part (``VisionPipeline``: frame checks, hotspot and
  warm-body detectors, georeferencing, tracking, incident rules) on frames of the
  simulated thermal camera flying over a crowd, first without the learned detector, then
  with ``EveryNthFrame(OnnxDetector, k)`` for the smallest k predicted to keep it above
  10 frames per second on two cores; ``ok`` tells whether the measured rate met the target.

The frame is the aerial-like scene of the tests (photographs of people on gravel) when
scikit-image and matplotlib are installed, else a simulated thermal frame.
"""

from __future__ import annotations

import math
import statistics
import time
from typing import Any

import numpy as np
from numpy.typing import NDArray

from drone_patrol.vision.onnx import EveryNthFrame, OnnxDetector, OnnxDetectorConfig
from drone_patrol.vision.onnx.preprocess import thermal_to_rgb

TITLE = "ONNX person detector (YOLOv8n): latency and every-k-th-frame scheduling"

TARGET_FPS = 10.0
RUNS = 12
WARMUP = 2
PIPELINE_FRAMES = 60


def _scene_image() -> tuple[NDArray[np.uint8], str]:
    try:
        from tests.vision_onnx.conftest import aerial_scene

        frame, _ = aerial_scene()
        return frame, "photographs on gravel"
    except Exception:  # the dev dependencies with the photographs are missing
        frames = _sim_frames(1)
        return thermal_to_rgb(frames[0].celsius), "simulated thermal frame"


def _time_ms(fn: Any, runs: int = RUNS, warmup: int = WARMUP) -> tuple[float, float]:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000.0)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, math.ceil(0.9 * len(samples)) - 1)]


def _latency_rows(image: NDArray[np.uint8], source: str) -> tuple[list[dict[str, Any]], float]:
    rows: list[dict[str, Any]] = []
    base = OnnxDetector(OnnxDetectorConfig(intra_op_threads=1))
    ms_512x640_2t = float("nan")
    cases: list[tuple[str, dict[str, Any]]] = [
        ("320x320", {"input_size": (320, 320)}),
        ("512x640", {"input_size": (512, 640)}),
        ("640x640", {"input_size": (640, 640)}),
        ("tiled 3x3 @512x640 + whole", {"tiling": True}),
        (
            "tiled 2x2 @512x640 + whole",
            {"tiling": True, "tile_size_px": (288, 352), "tile_overlap": 0.15},
        ),
    ]
    for threads in (1, 2):
        model = base.model if threads == 1 else OnnxDetector(OnnxDetectorConfig(intra_op_threads=2)).model
        for label, options in cases:
            det = OnnxDetector(OnnxDetectorConfig(intra_op_threads=threads, **options), model=model)
            runs = 4 if options.get("tiling") else RUNS
            median, p90 = _time_ms(lambda d=det: d.detect_image(image), runs=runs, warmup=1)
            found = len(det.detect_image(image))
            network_runs = len(det.tiles_for(image.shape[:2])) + 1 if options.get("tiling") else 1
            rows.append(
                {
                    "kind": "latency",
                    "case": label,
                    "threads": threads,
                    "network_runs": network_runs,
                    "median_ms": round(median, 1),
                    "p90_ms": round(p90, 1),
                    "people": found,
                    "frame": f"640x512 {source}",
                }
            )
            if threads == 2 and label == "512x640":
                ms_512x640_2t = median
    return rows, ms_512x640_2t


def _sim_frames(n: int) -> list[Any]:
    from pathlib import Path

    from drone_patrol.core.config.camera import CameraConfig
    from drone_patrol.sim.thermal import Scenario, ThermalCameraSim
    from drone_patrol.sim.thermal.flight import fly_route

    root = Path(__file__).resolve().parents[1]
    scenario = Scenario.load(root / "flight_plans" / "scenarios" / "crowd_near_grills.geojson")
    crowds = scenario.by_role("crowd")
    cx, cy = crowds[0].centre_en if crowds else (0.0, 0.0)
    camera = CameraConfig()
    sim = ThermalCameraSim(scenario, camera, seed=3)
    route = np.array([[cx - 40.0, cy], [cx + 40.0, cy]])
    # Start 2 minutes into the scenario, when the crowd has gathered.
    states = fly_route(route, scenario.frame, 40.0, 5.0, camera.frame_rate_hz, start_time_s=120.0)
    frames = []
    for state in states:
        frame, _ = sim.render(state, state.time_s)
        frames.append(frame)
        if len(frames) >= n:
            break
    return frames


def _pipeline_fps(frames: list[Any], extra: Any | None) -> tuple[float, int]:
    from pathlib import Path

    from drone_patrol.core.config.camera import CameraConfig
    from drone_patrol.core.config.vision import VisionConfig
    from drone_patrol.sim.thermal import Scenario
    from drone_patrol.vision.pipeline import VisionPipeline

    root = Path(__file__).resolve().parents[1]
    scenario = Scenario.load(root / "flight_plans" / "scenarios" / "crowd_near_grills.geojson")
    pipeline = VisionPipeline(VisionConfig(), CameraConfig(), scenario.origin)
    if extra is not None:
        pipeline.detectors.append(extra)
    start = time.perf_counter()
    for frame in frames:
        pipeline.process(frame)
    elapsed = time.perf_counter() - start
    return len(frames) / elapsed, pipeline.stats.frames_processed


def _pipeline_rows(onnx_ms: float) -> list[dict[str, Any]]:
    try:
        frames = _sim_frames(PIPELINE_FRAMES)
        base_fps, processed = _pipeline_fps(frames, None)
    except ImportError as exc:
        return [{"kind": "pipeline", "case": f"VisionPipeline not available ({exc})"}]
    base_ms = 1000.0 / base_fps
    rows: list[dict[str, Any]] = [
        {
            "kind": "pipeline",
            "case": "without ONNX detector",
            "threads": 2,
            "k": "-",
            "fps": round(base_fps, 1),
            "processed": f"{processed}/{len(frames)}",
            "target_fps": TARGET_FPS,
            "ok": base_fps >= TARGET_FPS,
        }
    ]
    # Smallest k whose predicted rate clears the target with a 15 % margin.
    budget_ms = 1000.0 / (TARGET_FPS * 1.15) - base_ms
    k = max(1, math.ceil(onnx_ms / budget_ms)) if budget_ms > 0 else 0
    if k == 0:
        rows.append({"kind": "pipeline", "case": "no k can meet the target: the rest of the pipeline is too slow"})
        return rows
    detector = OnnxDetector(OnnxDetectorConfig(intra_op_threads=2, source="thermal"))
    for kk in sorted({1, k}):
        fps, processed = _pipeline_fps(frames, EveryNthFrame(detector, kk))
        rows.append(
            {
                "kind": "pipeline",
                "case": f"with EveryNthFrame(OnnxDetector 512x640, k={kk})" + (" (chosen)" if kk == k else ""),
                "threads": 2,
                "k": kk,
                "fps": round(fps, 1),
                "processed": f"{processed}/{len(frames)}",
                "predicted_fps": round(1000.0 / (base_ms + onnx_ms / kk), 1),
                "target_fps": TARGET_FPS,
                "ok": fps >= TARGET_FPS,
            }
        )
    return rows


def run() -> list[dict[str, Any]]:
    """Latency rows, then pipeline rows."""
    image, source = _scene_image()
    rows, onnx_ms = _latency_rows(image, source)
    rows.extend(_pipeline_rows(onnx_ms))
    return rows
