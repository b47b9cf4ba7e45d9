"""``camera``: the thermal camera's geometry and its mount on the vehicle."""

from __future__ import annotations

from pydantic import Field, field_validator

from drone_patrol.core.config._base import Section


class CameraConfig(Section):
    """Intrinsics from field of view and resolution (or fx, fy, cx, cy), and the gimbal mount.

    ``vfov_deg`` defaults to the value implied by ``hfov_deg`` and square pixels.
    Mount angles are relative to the body; pitch -90 looks straight down. With
    ``gimbal_stabilized`` pitch and roll are held relative to the horizon instead.
    ``distortion`` takes OpenCV's ``k1 k2 p1 p2 [k3]``. ``tlinear_resolution_k`` is the
    kelvin per count of the camera's 16-bit TLinear output (0.01 high gain, 0.1 low gain).
    """

    width_px: int = Field(default=640, gt=0)
    height_px: int = Field(default=512, gt=0)
    hfov_deg: float = Field(default=50.0, gt=0, lt=180)
    vfov_deg: float | None = Field(default=None, gt=0, lt=180)
    fx_px: float | None = Field(default=None, gt=0)
    fy_px: float | None = Field(default=None, gt=0)
    cx_px: float | None = None
    cy_px: float | None = None
    distortion: tuple[float, ...] = ()
    mount_pitch_deg: float = Field(default=-90.0, ge=-90, le=30)
    mount_roll_deg: float = 0.0
    mount_yaw_deg: float = 0.0
    gimbal_stabilized: bool = False
    frame_rate_hz: float = Field(default=9.0, gt=0, le=240)
    tlinear_resolution_k: float = 0.1

    @field_validator("tlinear_resolution_k")
    @classmethod
    def _tlinear(cls, v: float) -> float:
        if v not in (0.01, 0.1):
            raise ValueError("must be 0.01 or 0.1 (kelvin per TLinear count)")
        return v
