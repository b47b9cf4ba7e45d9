"""The camera's ground footprint and the sweep line spacing derived from it.

With the camera looking straight down (``mount_pitch_deg`` -90, image top towards
the nose) the image width lies across the track and its height along it, so at
height ``h`` the footprint is ``2 h tan(hfov/2)`` across by ``2 h tan(vfov/2)`` along.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import shapely
from shapely.geometry.base import BaseGeometry

from drone_patrol.core.config.camera import CameraConfig
from drone_patrol.planner.build import RoutePoint


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


def leg_footprints(points: Sequence[RoutePoint], camera: CameraConfig) -> list[BaseGeometry]:
    """The ground each leg's camera footprint sweeps: a rectangle along the leg, half a footprint longer at each end."""
    corners = []
    for a, b in itertools.pairwise(points):
        d = math.dist((a.x, a.y), (b.x, b.y))
        if d < 0.01 or b.altitude_m <= 0:
            continue
        fp = footprint(camera, b.altitude_m)
        ux, uy = (b.x - a.x) / d, (b.y - a.y) / d
        e, w = fp.along_m / 2.0, fp.across_m / 2.0
        ax, ay, bx, by = a.x - ux * e, a.y - uy * e, b.x + ux * e, b.y + uy * e
        nx, ny = -uy * w, ux * w
        corners.append([(ax + nx, ay + ny), (bx + nx, by + ny), (bx - nx, by - ny), (ax - nx, ay - ny)])
    return list(shapely.polygons(corners)) if corners else []
