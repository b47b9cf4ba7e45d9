"""The camera's ground footprint and the sweep line spacing derived from it.

With the camera looking straight down (``mount_pitch_deg`` -90, image top towards
the nose) the image width lies across the track and its height along it, so at
height ``h`` the footprint is ``2 h tan(hfov/2)`` across by ``2 h tan(vfov/2)`` along.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from drone_patrol.core.config.camera import CameraConfig


@dataclass(frozen=True, slots=True)
class Footprint:
    """Ground footprint of one frame at one height, in metres."""

    across_m: float
    along_m: float


def fields_of_view_deg(camera: CameraConfig) -> tuple[float, float]:
    """(horizontal, vertical) field of view; from fx/fy when given, vfov from square pixels if absent."""
    if camera.fx_px is not None:
        hfov = math.degrees(2 * math.atan(camera.width_px / (2 * camera.fx_px)))
    else:
        hfov = camera.hfov_deg
    if camera.vfov_deg is not None:
        vfov = camera.vfov_deg
    elif camera.fy_px is not None:
        vfov = math.degrees(2 * math.atan(camera.height_px / (2 * camera.fy_px)))
    else:
        vfov = math.degrees(2 * math.atan(math.tan(math.radians(hfov) / 2) * camera.height_px / camera.width_px))
    return hfov, vfov


def footprint(camera: CameraConfig, altitude_m: float) -> Footprint:
    """The nadir footprint of ``camera`` at ``altitude_m`` above ground."""
    hfov, vfov = fields_of_view_deg(camera)
    return Footprint(
        across_m=2 * altitude_m * math.tan(math.radians(hfov) / 2),
        along_m=2 * altitude_m * math.tan(math.radians(vfov) / 2),
    )


def line_spacing_m(fp: Footprint, side_overlap: float) -> float:
    """Distance between neighbouring sweep lines for a given side overlap (0..1)."""
    return fp.across_m * (1.0 - side_overlap)
