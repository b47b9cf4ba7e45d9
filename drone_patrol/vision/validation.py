"""Frame checks: what makes a frame unusable, named so that it can be counted and logged."""

from __future__ import annotations

import math

import numpy as np

from drone_patrol.core.frames import ThermalFrame

#: reasons a frame is skipped, in the order they are checked
SKIP_REASONS = (
    "not_a_frame",
    "wrong_dtype",
    "wrong_shape",
    "bad_timestamp",
    "out_of_order",
    "non_finite",
    "all_zero",
    "flat",
    "saturated",
    "missing_telemetry",
    "stale_telemetry",
    "no_ground_in_view",
    "internal_error",
)

#: upper end of the scene range of the two TLinear gain modes
_SATURATION_BY_RESOLUTION = {0.01: 140.0, 0.1: 550.0}


def saturation_level_c(frame: ThermalFrame, configured_c: float | None) -> float | None:
    """The temperature at which the frame's sensor clips, when known."""
    if configured_c is not None:
        return configured_c
    if frame.kelvin_per_count is not None:
        k = round(frame.kelvin_per_count, 3)
        return _SATURATION_BY_RESOLUTION.get(k, 65535 * frame.kelvin_per_count - 273.15)
    return None


def check_frame(
    frame: object,
    expected_shape: tuple[int, int],
    last_time_s: float | None,
    saturated_fraction: float,
    saturation_c: float | None,
    max_telemetry_age_s: float,
) -> tuple[str | None, str]:
    """``(reason, detail)`` when ``frame`` cannot be used, ``(None, "")`` when it can.

    A frame may be smaller than the camera when it is the camera's image scaled
    (same aspect ratio); anything else is the wrong shape.
    """
    if not isinstance(frame, ThermalFrame) or not isinstance(frame.celsius, np.ndarray):
        return "not_a_frame", f"got {type(frame).__name__}"
    if frame.agc:
        return _check_video(frame, expected_shape, last_time_s, max_telemetry_age_s)
    t = frame.celsius
    if t.dtype not in (np.float32, np.float64):
        return "wrong_dtype", f"celsius dtype {t.dtype}, expected float32"
    reason, detail = _check_shape_and_time(t, frame.time_s, expected_shape, last_time_s)
    if reason is not None:
        return reason, detail
    lo, hi = float(t.min()), float(t.max())
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "non_finite", "NaN or infinite temperatures"
    if lo == 0.0 and hi == 0.0:
        return "all_zero", "every pixel is 0"
    if hi - lo < 1e-3:
        return "flat", f"every pixel is {lo:.2f} C (shutter or lens cap)"
    sat = saturation_level_c(frame, saturation_c)
    if sat is not None and hi >= sat - 0.5:
        frac = float((t[::4, ::4] >= sat - 0.5).mean())
        if frac >= saturated_fraction:
            return "saturated", f"{frac:.0%} of pixels at the {sat:.0f} C limit"
    return _check_pose(frame, max_telemetry_age_s)


def _check_shape_and_time(
    pixels: np.ndarray, time_s: object, expected_shape: tuple[int, int], last_time_s: float | None
) -> tuple[str | None, str]:
    eh, ew = expected_shape
    shape = pixels.shape
    if pixels.ndim != 2 or shape[0] < 8 or shape[1] < 8 or abs(shape[0] - eh * shape[1] / ew) > 1.0:
        return "wrong_shape", f"shape {shape}, expected ({eh}, {ew}) or that aspect ratio"
    if not isinstance(time_s, (int, float)) or not math.isfinite(time_s):
        return "bad_timestamp", f"time_s {time_s!r}"
    if last_time_s is not None and time_s <= last_time_s:
        return "out_of_order", f"time_s {time_s:.3f} not after {last_time_s:.3f}"
    return None, ""


def _check_pose(frame: ThermalFrame, max_telemetry_age_s: float) -> tuple[str | None, str]:
    st = frame.state
    if st is None or st.position is None:
        return "missing_telemetry", "no vehicle position for this frame"
    if st.time_s > 0 and abs(st.time_s - frame.time_s) > max_telemetry_age_s:
        return "stale_telemetry", f"pose {abs(st.time_s - frame.time_s):.2f} s away from the frame"
    return None, ""


def _check_video(
    frame: ThermalFrame, expected_shape: tuple[int, int], last_time_s: float | None, max_telemetry_age_s: float
) -> tuple[str | None, str]:
    """The checks of an automatic-gain video frame: its grey image instead of temperatures."""
    v = frame.video
    if not isinstance(v, np.ndarray):
        return "not_a_frame", "an automatic-gain frame without its video image"
    if v.dtype != np.uint8:
        return "wrong_dtype", f"video dtype {v.dtype}, expected uint8"
    reason, detail = _check_shape_and_time(v, frame.time_s, expected_shape, last_time_s)
    if reason is not None:
        return reason, detail
    lo, hi = int(v.min()), int(v.max())
    if hi == 0:
        return "all_zero", "every pixel is 0"
    if hi - lo < 2:
        return "flat", f"every pixel is grey {lo} (shutter or lens cap)"
    return _check_pose(frame, max_telemetry_age_s)
