"""Georeferencing: pixel detections -> ground east/north in the site frame, with an error radius.

The ground is flat at the home altitude (the frame origin) or at ``vision.terrain_height_m``.
Rays above the horizon or beyond ``vision.max_range_m`` give no ground point. The error
is the per-axis 1-sigma horizontal uncertainty from the configured pose uncertainty
(attitude, horizontal and vertical position; see ``core.camera.horizontal_sigma_m``)
plus a quarter of the blob's size; alerts report its 95 % circle.
"""

from __future__ import annotations

import math

import numpy as np

from drone_patrol.core.camera import Camera, CameraIntrinsics, horizontal_sigma_m, pose_from_state
from drone_patrol.core.config.camera import CameraConfig
from drone_patrol.core.config.vision import VisionConfig
from drone_patrol.core.geo import LocalFrame
from drone_patrol.core.types import GeoPoint
from drone_patrol.vision.detections import Detections
from drone_patrol.vision.frames import ThermalFrame


class Georeferencer:
    """Cameras for frames and ground positions for their detections."""

    def __init__(self, camera: CameraConfig, vision: VisionConfig, origin: GeoPoint) -> None:
        self.camera_config = camera
        self.vision = vision
        self.frame = LocalFrame(origin)
        self.ground_up_m = 0.0 if vision.terrain_height_m is None else vision.terrain_height_m - origin.altitude_m
        self._intrinsics = CameraIntrinsics.from_config(camera)
        self._scaled: dict[tuple[int, int], CameraIntrinsics | None] = {}

    def intrinsics_for(self, shape: tuple[int, int]) -> CameraIntrinsics | None:
        """Intrinsics for a frame of ``(height, width)``: the configured camera, or it scaled to that size.

        ``None`` when the frame's aspect ratio is not the camera's (a frame of another camera).
        """
        if shape not in self._scaled:
            base = self._intrinsics
            h, w = shape
            if (h, w) == (base.height_px, base.width_px):
                self._scaled[shape] = base
            else:
                f = w / base.width_px
                ok = abs(h - base.height_px * f) <= 1.0
                self._scaled[shape] = base.scaled(f) if ok else None
        return self._scaled[shape]

    def camera_for(self, frame: ThermalFrame) -> Camera | None:
        """The camera at the moment of ``frame`` (``None`` without a pose, or for a frame of another shape)."""
        intr = self.intrinsics_for(frame.shape)
        if intr is None or frame.state is None:
            return None
        g = frame.gimbal
        pose = pose_from_state(
            frame.state, self.frame, g.pitch_deg, g.roll_deg, g.yaw_deg,
            self.camera_config.gimbal_stabilized, self.ground_up_m,
        )  # fmt: skip
        if pose is None or not np.all(np.isfinite(pose.position_enu_m)):
            return None
        return Camera(intr, pose, self.ground_up_m, self.vision.max_range_m)

    def ground_sample_m(self, cam: Camera) -> float | None:
        """Metres per pixel at the image centre (``None`` when the centre looks above the horizon)."""
        i = cam.intrinsics
        a = float(cam.pixel_footprint(i.cx_px, i.cy_px)[3][0])
        return math.sqrt(a) if math.isfinite(a) and a > 0 else None

    def nearest_ground_sample_m(self, cam: Camera) -> float | None:
        """The finest metres per pixel anywhere in the image (its corners and edge midpoints: on an
        oblique view the near edge), for limits that must not drop a large blob seen up close."""
        i = cam.intrinsics
        w, h = 2.0 * i.cx_px, 2.0 * i.cy_px
        u = np.array([0.0, i.cx_px, w, 0.0, w, 0.0, i.cx_px, w])
        v = np.array([0.0, 0.0, 0.0, i.cy_px, i.cy_px, h, h, h])
        areas = np.asarray(cam.pixel_footprint(u, v)[3], dtype=np.float64)
        areas = areas[np.isfinite(areas) & (areas > 0)]
        return float(math.sqrt(areas.min())) if areas.size else None

    def locate(self, dets: Detections, cam: Camera) -> Detections:
        """Fill ``ground_en_m`` and ``error_radius_m`` (1-sigma, metres) and add ``area_m2`` and ``range_m`` data."""
        if len(dets) == 0:
            return dets.with_fields(data={**dets.data, "area_m2": np.zeros(0), "range_m": np.zeros(0)})
        u, v = dets.centroid_px[:, 0], dets.centroid_px[:, 1]
        en, rng, off_nadir, px_area = cam.pixel_footprint(u, v)
        area_m2 = dets.area_px * px_area
        v_ = self.vision
        sigma = horizontal_sigma_m(
            rng, off_nadir, cam.pose.height_above_ground_m, v_.attitude_sigma_deg, v_.position_sigma_m,
            v_.altitude_sigma_m, extra_sigma_m=np.sqrt(np.nan_to_num(area_m2)) / 4.0,
        )  # fmt: skip
        return dets.with_fields(
            ground_en_m=en, error_radius_m=sigma, data={**dets.data, "area_m2": area_m2, "range_m": rng}
        )
