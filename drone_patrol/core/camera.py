"""Pinhole camera model and pixel <-> ground ray maths, in pure numpy.

Both the vision pipeline (pixel -> ground) and the simulated camera (ground ->
pixel, and the ground point of every pixel) use this module, so it lives in core.

Frames and conventions:

- Pixels: ``u`` to the right, ``v`` down, integer values at pixel centres; the
  default principal point is the image centre ``((W - 1) / 2, (H - 1) / 2)``.
- Camera optical frame: x right, y down, z along the optical axis.
- Gimbal frame: x along the optical axis, y right, z down (a body-like frame);
  mount angles are Tait-Bryan yaw-pitch-roll relative to the body, pitch -90
  looks straight down with the image top towards the nose.
- Body frame FRD, vehicle attitude roll/pitch/yaw relative to NED (aerospace ZYX).
- World: the site's local East-North-Up frame (``drone_patrol.core.geo.LocalFrame``).
- Distortion: OpenCV's Brown-Conrady coefficients ``(k1, k2, p1, p2[, k3])``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from drone_patrol.core.config.camera import CameraConfig
from drone_patrol.core.geo import LocalFrame
from drone_patrol.core.types import VehicleState

#: 95 % of a circular 2D Gaussian lies within this many per-axis sigmas.
CIRCLE_95_SIGMAS = math.sqrt(-2.0 * math.log(0.05))

_NED_TO_ENU = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])
# columns: camera x (right) -> gimbal y, camera y (down) -> gimbal z, camera z (optical axis) -> gimbal x
_GIMBAL_FROM_CAMERA = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def rot_x(angle_deg: float) -> NDArray[np.float64]:
    """Active rotation about x by ``angle_deg``."""
    a = math.radians(angle_deg)
    c, s = math.cos(a), math.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def rot_y(angle_deg: float) -> NDArray[np.float64]:
    """Active rotation about y by ``angle_deg``."""
    a = math.radians(angle_deg)
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def rot_z(angle_deg: float) -> NDArray[np.float64]:
    """Active rotation about z by ``angle_deg``."""
    a = math.radians(angle_deg)
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def ypr_matrix(yaw_deg: float, pitch_deg: float, roll_deg: float) -> NDArray[np.float64]:
    """Rotation from a body-like frame to its parent for Tait-Bryan ZYX angles."""
    return rot_z(yaw_deg) @ rot_y(pitch_deg) @ rot_x(roll_deg)


@dataclass(frozen=True)
class CameraIntrinsics:
    """Pinhole intrinsics with optional Brown-Conrady distortion."""

    width_px: int
    height_px: int
    fx_px: float
    fy_px: float
    cx_px: float
    cy_px: float
    distortion: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.width_px <= 0 or self.height_px <= 0:
            raise ValueError(f"image size {self.width_px}x{self.height_px} must be positive")
        if self.fx_px <= 0 or self.fy_px <= 0:
            raise ValueError(f"focal lengths fx={self.fx_px} fy={self.fy_px} must be positive")
        if len(self.distortion) not in (0, 4, 5):
            raise ValueError(f"distortion needs 0, 4 or 5 coefficients (k1 k2 p1 p2 [k3]), got {len(self.distortion)}")

    @classmethod
    def from_fov(
        cls, width_px: int, height_px: int, hfov_deg: float, vfov_deg: float | None = None
    ) -> CameraIntrinsics:
        """Intrinsics of an undistorted camera from its horizontal (and optionally vertical) field of view."""
        fx = (width_px / 2.0) / math.tan(math.radians(hfov_deg) / 2.0)
        fy = fx if vfov_deg is None else (height_px / 2.0) / math.tan(math.radians(vfov_deg) / 2.0)
        return cls(width_px, height_px, fx, fy, (width_px - 1) / 2.0, (height_px - 1) / 2.0)

    @classmethod
    def from_config(cls, config: CameraConfig) -> CameraIntrinsics:
        """Intrinsics from the ``camera`` config section (explicit fx/fy/cx/cy win over the field of view)."""
        base = cls.from_fov(config.width_px, config.height_px, config.hfov_deg, config.vfov_deg)
        fx = config.fx_px if config.fx_px is not None else base.fx_px
        fy = config.fy_px if config.fy_px is not None else (fx if config.fx_px is not None else base.fy_px)
        return cls(
            config.width_px,
            config.height_px,
            fx,
            fy,
            config.cx_px if config.cx_px is not None else base.cx_px,
            config.cy_px if config.cy_px is not None else base.cy_px,
            tuple(config.distortion),
        )

    def scaled(self, factor: float) -> CameraIntrinsics:
        """The same camera at ``factor`` times the resolution (for downscaled frames)."""
        return CameraIntrinsics(
            max(1, round(self.width_px * factor)),
            max(1, round(self.height_px * factor)),
            self.fx_px * factor,
            self.fy_px * factor,
            (self.cx_px + 0.5) * factor - 0.5,
            (self.cy_px + 0.5) * factor - 0.5,
            self.distortion,
        )

    def _coeffs(self) -> tuple[float, float, float, float, float]:
        d = [*self.distortion, 0.0, 0.0, 0.0, 0.0, 0.0]
        return d[0], d[1], d[2], d[3], d[4]

    def _distort(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> tuple[NDArray[np.float64], ...]:
        k1, k2, p1, p2, k3 = self._coeffs()
        r2 = x * x + y * y
        radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
        xd = x * radial + 2.0 * p1 * x * y + p2 * (r2 + 2.0 * x * x)
        yd = y * radial + p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * x * y
        return xd, yd

    def pixel_to_ray(self, u: ArrayLike, v: ArrayLike) -> NDArray[np.float64]:
        """Unit rays (..., 3) in the camera optical frame for pixel coordinates ``u``, ``v``."""
        uu = np.asarray(u, dtype=np.float64)
        vv = np.asarray(v, dtype=np.float64)
        xd = (uu - self.cx_px) / self.fx_px
        yd = (vv - self.cy_px) / self.fy_px
        x, y = xd, yd
        if self.distortion and any(self.distortion):
            # fixed-point inversion of the distortion model (converges for the mild lenses of thermal cores)
            for _ in range(8):
                dx, dy = self._distort(x, y)
                x = x + (xd - dx)
                y = y + (yd - dy)
        rays = np.stack(np.broadcast_arrays(x, y, np.ones_like(x)), axis=-1)
        return rays / np.linalg.norm(rays, axis=-1, keepdims=True)

    def ray_to_pixel(self, rays: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
        """Pixel coordinates (..., 2) of camera-frame directions and a mask of those in front of the camera."""
        r = np.asarray(rays, dtype=np.float64)
        z = r[..., 2]
        front = z > 1e-9
        zs = np.where(front, z, 1.0)
        x, y = r[..., 0] / zs, r[..., 1] / zs
        if self.distortion and any(self.distortion):
            x, y = self._distort(x, y)
        uv = np.stack([x * self.fx_px + self.cx_px, y * self.fy_px + self.cy_px], axis=-1)
        return uv, front

    def pixel_rays_grid(self, step: int = 1) -> NDArray[np.float64]:
        """Rays of every ``step``-th pixel centre as an (H', W', 3) array."""
        v, u = np.mgrid[0 : self.height_px : step, 0 : self.width_px : step]
        return self.pixel_to_ray(u, v)


@dataclass(frozen=True)
class CameraPose:
    """Where a camera is and where it looks: position in the local ENU frame and the camera->ENU rotation."""

    position_enu_m: NDArray[np.float64]
    rotation_enu_from_cam: NDArray[np.float64]
    #: the vehicle's height above the ground plane, for error models
    height_above_ground_m: float = field(default=float("nan"))

    @classmethod
    def from_attitude(
        cls,
        east_m: float,
        north_m: float,
        up_m: float,
        roll_deg: float,
        pitch_deg: float,
        yaw_deg: float,
        mount_pitch_deg: float = -90.0,
        mount_roll_deg: float = 0.0,
        mount_yaw_deg: float = 0.0,
        stabilized: bool = False,
        ground_up_m: float = 0.0,
    ) -> CameraPose:
        """Pose from a vehicle position/attitude and a gimbal mount.

        With ``stabilized`` the gimbal holds its pitch and roll relative to the horizon and
        only follows the vehicle's yaw (a 3-axis stabilised gimbal); otherwise the mount angles
        are relative to the body.
        """
        if stabilized:
            ned_from_gimbal = ypr_matrix(yaw_deg + mount_yaw_deg, mount_pitch_deg, mount_roll_deg)
        else:
            ned_from_body = ypr_matrix(yaw_deg, pitch_deg, roll_deg)
            ned_from_gimbal = ned_from_body @ ypr_matrix(mount_yaw_deg, mount_pitch_deg, mount_roll_deg)
        rot = _NED_TO_ENU @ ned_from_gimbal @ _GIMBAL_FROM_CAMERA
        return cls(np.array([east_m, north_m, up_m], dtype=np.float64), rot, up_m - ground_up_m)

    def rays_enu(self, rays_cam: ArrayLike) -> NDArray[np.float64]:
        """Rotate camera-frame rays (..., 3) to ENU."""
        return np.asarray(rays_cam, dtype=np.float64) @ self.rotation_enu_from_cam.T

    def intersect_ground(
        self,
        rays_enu: ArrayLike,
        ground_up_m: float = 0.0,
        max_range_m: float = math.inf,
        min_depression_deg: float = 1.0,
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Ground (east, north) of ENU rays on the plane ``up = ground_up_m`` and the slant range.

        Rays less than ``min_depression_deg`` below the horizon, and hits beyond
        ``max_range_m``, give NaN.
        """
        d = np.asarray(rays_enu, dtype=np.float64)
        norm = np.linalg.norm(d, axis=-1)
        dz = d[..., 2] / norm
        down = dz < -math.sin(math.radians(min_depression_deg))
        height = self.position_enu_m[2] - ground_up_m
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(down, height / -dz, np.nan)
        if height <= 0:
            t = np.full_like(t, np.nan)
        t = np.where(t <= max_range_m, t, np.nan)
        e = self.position_enu_m[0] + t * d[..., 0] / norm
        n = self.position_enu_m[1] + t * d[..., 1] / norm
        return np.stack([e, n], axis=-1), t

    def world_to_camera(self, points_enu: ArrayLike) -> NDArray[np.float64]:
        """ENU points (..., 3) expressed in the camera optical frame."""
        p = np.asarray(points_enu, dtype=np.float64) - self.position_enu_m
        return p @ self.rotation_enu_from_cam


@dataclass(frozen=True)
class Camera:
    """A camera model at a pose: pixel -> ground and ground -> pixel."""

    intrinsics: CameraIntrinsics
    pose: CameraPose
    ground_up_m: float = 0.0
    max_range_m: float = 500.0
    min_depression_deg: float = 1.0

    def pixel_to_ground(self, u: ArrayLike, v: ArrayLike) -> NDArray[np.float64]:
        """Ground (east, north) in metres for pixels, NaN above the horizon or beyond ``max_range_m``."""
        rays = self.pose.rays_enu(self.intrinsics.pixel_to_ray(u, v))
        en, _ = self.pose.intersect_ground(rays, self.ground_up_m, self.max_range_m, self.min_depression_deg)
        return en

    def pixel_geometry(
        self, u: ArrayLike, v: ArrayLike
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Ground point, slant range and off-nadir angle (rad) of pixels, for error and size models."""
        rays = self.pose.rays_enu(self.intrinsics.pixel_to_ray(u, v))
        en, rng = self.pose.intersect_ground(rays, self.ground_up_m, self.max_range_m, self.min_depression_deg)
        off_nadir = np.arccos(np.clip(-rays[..., 2], -1.0, 1.0))
        return en, rng, off_nadir

    def ground_to_pixel(
        self, east_m: ArrayLike, north_m: ArrayLike, up_m: ArrayLike | None = None
    ) -> NDArray[np.float64]:
        """Pixel (u, v) of ground points; NaN for points behind the camera."""
        e = np.asarray(east_m, dtype=np.float64)
        n = np.asarray(north_m, dtype=np.float64)
        u_arr = np.full(np.broadcast(e, n).shape, self.ground_up_m) if up_m is None else np.asarray(up_m, float)
        pts = np.stack(np.broadcast_arrays(e, n, u_arr), axis=-1)
        uv, front = self.intrinsics.ray_to_pixel(self.pose.world_to_camera(pts))
        return np.where(front[..., None], uv, np.nan)

    def in_image(self, uv: ArrayLike, margin_px: float = 0.0) -> NDArray[np.bool_]:
        """True for pixel coordinates inside the image (shrunk by ``margin_px``)."""
        p = np.asarray(uv, dtype=np.float64)
        w, h = self.intrinsics.width_px, self.intrinsics.height_px
        with np.errstate(invalid="ignore"):
            return (
                (p[..., 0] >= -0.5 + margin_px)
                & (p[..., 0] <= w - 0.5 - margin_px)
                & (p[..., 1] >= -0.5 + margin_px)
                & (p[..., 1] <= h - 0.5 - margin_px)
            )

    def pixel_footprint(
        self, u: ArrayLike, v: ArrayLike
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Ground point, slant range, off-nadir angle (rad) and ground area per pixel (m^2) in one pass."""
        uu = np.atleast_1d(np.asarray(u, dtype=np.float64))
        vv = np.atleast_1d(np.asarray(v, dtype=np.float64))
        n = uu.size
        us = np.concatenate([uu, uu + 1.0, uu])
        vs = np.concatenate([vv, vv, vv + 1.0])
        rays = self.pose.rays_enu(self.intrinsics.pixel_to_ray(us, vs))
        en, rng = self.pose.intersect_ground(rays, self.ground_up_m, self.max_range_m, self.min_depression_deg)
        a = en[n : 2 * n] - en[:n]
        b = en[2 * n :] - en[:n]
        area = np.abs(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0])
        off_nadir = np.arccos(np.clip(-rays[:n, 2], -1.0, 1.0))
        return en[:n], rng[:n], off_nadir, area

    def ground_area_per_pixel_m2(self, u: ArrayLike, v: ArrayLike) -> NDArray[np.float64]:
        """Ground area (m^2) covered by one pixel at ``u``, ``v`` (the local ground sample distance squared)."""
        uu = np.asarray(u, dtype=np.float64)
        vv = np.asarray(v, dtype=np.float64)
        p0 = self.pixel_to_ground(uu, vv)
        pu = self.pixel_to_ground(uu + 1.0, vv)
        pv = self.pixel_to_ground(uu, vv + 1.0)
        a = pu - p0
        b = pv - p0
        return np.abs(a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0])

    def footprint_en(self, step_px: int = 32) -> NDArray[np.float64]:
        """Ground outline (K, 2) of the image border, NaN where the border looks above the horizon."""
        w, h = self.intrinsics.width_px - 1, self.intrinsics.height_px - 1
        top = np.arange(0, w + 1, step_px, dtype=float)
        side = np.arange(0, h + 1, step_px, dtype=float)
        u = np.concatenate([top, np.full(side.size, w), top[::-1], np.zeros(side.size)])
        v = np.concatenate([np.zeros(top.size), side, np.full(top.size, h), side[::-1]])
        return self.pixel_to_ground(u, v)


def horizontal_sigma_m(
    slant_range_m: ArrayLike,
    off_nadir_rad: ArrayLike,
    height_m: float,
    attitude_sigma_deg: float,
    position_sigma_m: float,
    altitude_sigma_m: float,
    extra_sigma_m: ArrayLike = 0.0,
) -> NDArray[np.float64]:
    """Per-axis 1-sigma horizontal error of a ground point from pose uncertainty.

    A tilt error ``da`` moves the hit point by ``h * da / cos^2(theta)`` along the tilt
    (``theta`` off nadir), a yaw error by ``d * da`` across it (``d`` horizontal distance),
    an altitude error by ``dz * tan(theta)``; a horizontal position error moves it one for one.
    """
    theta = np.clip(np.asarray(off_nadir_rad, dtype=np.float64), 0.0, math.radians(89.0))
    rng = np.asarray(slant_range_m, dtype=np.float64)
    att = math.radians(attitude_sigma_deg)
    cos_t = np.cos(theta)
    tilt = max(height_m, 0.0) * att / (cos_t * cos_t)
    yaw = rng * np.sin(theta) * att
    alt = altitude_sigma_m * np.tan(theta)
    extra = np.asarray(extra_sigma_m, dtype=np.float64)
    return np.sqrt(position_sigma_m**2 + tilt**2 + yaw**2 + alt**2 + extra**2)


def vehicle_position_enu(state: VehicleState, frame: LocalFrame) -> tuple[float, float, float] | None:
    """The vehicle's (east, north, up) in ``frame``, or ``None`` without a position fix.

    Height comes from ``relative_altitude_m`` (above home) when the state carries its home,
    shifted by the home's height in the frame; otherwise from the AMSL ``position.altitude_m``.
    """
    if state.position is None:
        return None
    e, n, u = frame.point_to_enu(state.position)
    if state.home is not None:
        u = state.relative_altitude_m + (state.home.altitude_m - frame.origin.altitude_m)
    return e, n, u


def pose_from_state(
    state: VehicleState,
    frame: LocalFrame,
    mount_pitch_deg: float = -90.0,
    mount_roll_deg: float = 0.0,
    mount_yaw_deg: float = 0.0,
    stabilized: bool = False,
    ground_up_m: float = 0.0,
) -> CameraPose | None:
    """Camera pose for a ``VehicleState`` and gimbal angles, or ``None`` without a position."""
    enu = vehicle_position_enu(state, frame)
    if enu is None:
        return None
    return CameraPose.from_attitude(
        *enu,
        roll_deg=state.roll_deg,
        pitch_deg=state.pitch_deg,
        yaw_deg=state.yaw_deg,
        mount_pitch_deg=mount_pitch_deg,
        mount_roll_deg=mount_roll_deg,
        mount_yaw_deg=mount_yaw_deg,
        stabilized=stabilized,
        ground_up_m=ground_up_m,
    )
