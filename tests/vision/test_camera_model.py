"""The pinhole camera model: intrinsics, pixel <-> ground round trips, error model."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drone_patrol.core.camera import Camera, CameraIntrinsics, CameraPose, horizontal_sigma_m, pose_from_state
from drone_patrol.core.config import CameraConfig
from drone_patrol.core.geo import LocalFrame
from drone_patrol.core.types import GeoPoint, VehicleState

INTR = CameraIntrinsics.from_fov(640, 512, 50.0)


def _cam(roll=0.0, pitch=0.0, yaw=0.0, mount_pitch=-90.0, up=40.0, intr=INTR) -> Camera:
    return Camera(intr, CameraPose.from_attitude(0.0, 0.0, up, roll, pitch, yaw, mount_pitch), 0.0)


def test_intrinsics_from_fov_and_explicit_values() -> None:
    assert INTR.fx_px == pytest.approx(320 / math.tan(math.radians(25)))
    assert INTR.fy_px == INTR.fx_px and INTR.cx_px == 319.5 and INTR.cy_px == 255.5
    cfg = CameraConfig(fx_px=700.0, cx_px=320.0, cy_px=250.0, distortion=(0.1, -0.02, 0.0, 0.0))
    i = CameraIntrinsics.from_config(cfg)
    assert (i.fx_px, i.fy_px, i.cx_px, i.cy_px, i.distortion) == (700.0, 700.0, 320.0, 250.0, (0.1, -0.02, 0.0, 0.0))
    with pytest.raises(ValueError, match="distortion"):
        CameraIntrinsics(640, 512, 1, 1, 0, 0, (0.1,))


def test_nadir_view_geometry() -> None:
    cam = _cam()
    centre = cam.pixel_to_ground(INTR.cx_px, INTR.cy_px)
    assert np.allclose(centre, [0, 0], atol=1e-9)
    # image top looks towards the nose (north at yaw 0), image right to the east
    top = cam.pixel_to_ground(INTR.cx_px, 0.0)
    right = cam.pixel_to_ground(639.0, INTR.cy_px)
    assert top[1] > 14 and abs(top[0]) < 1e-6
    assert right[0] > 14 and abs(right[1]) < 1e-6
    gsd = math.sqrt(float(cam.ground_area_per_pixel_m2(INTR.cx_px, INTR.cy_px)))
    assert gsd == pytest.approx(2 * 40 * math.tan(math.radians(25)) / 640, rel=1e-3)


def test_yaw_turns_the_footprint() -> None:
    cam = _cam(yaw=90.0)
    top = cam.pixel_to_ground(INTR.cx_px, 0.0)
    assert top[0] > 14 and abs(top[1]) < 1e-6  # nose east: image top sees east


def test_rays_above_the_horizon_have_no_ground_point() -> None:
    cam = _cam(mount_pitch=0.0)  # looking at the horizon
    assert np.isnan(cam.pixel_to_ground(INTR.cx_px, 0.0)).all()
    assert np.isfinite(cam.pixel_to_ground(INTR.cx_px, 511.0)).all()
    far = Camera(INTR, CameraPose.from_attitude(0, 0, 40, 0, 0, 0, -10.0), 0.0, max_range_m=100.0)
    assert np.isnan(far.pixel_to_ground(INTR.cx_px, INTR.cy_px)).all()  # 230 m away


@settings(max_examples=60, deadline=None)
@given(
    u=st.floats(0, 639), v=st.floats(0, 511), roll=st.floats(-20, 20), pitch=st.floats(-20, 20),
    yaw=st.floats(0, 360), mount=st.floats(-90, -40), up=st.floats(10, 120),
    k1=st.floats(-0.2, 0.2), p1=st.floats(-0.005, 0.005),
)  # fmt: skip
def test_pixel_ground_pixel_round_trip(u, v, roll, pitch, yaw, mount, up, k1, p1) -> None:
    intr = CameraIntrinsics(640, 512, INTR.fx_px, INTR.fy_px, 319.5, 255.5, (k1, 0.01, p1, 0.0, 0.0))
    cam = _cam(roll, pitch, yaw, mount, up, intr)
    en = cam.pixel_to_ground(u, v)
    if np.isnan(en).any():
        return
    uv = cam.ground_to_pixel(en[0], en[1])
    assert np.allclose(uv, [u, v], atol=1e-3)


def test_pose_from_state_uses_height_above_home() -> None:
    home = GeoPoint(25.28, 110.29, 150.0)
    frame = LocalFrame(home)
    pos = frame.enu_to_point(10.0, 20.0, 40.0)
    st_ = VehicleState(position=pos, relative_altitude_m=40.0, home=home, yaw_deg=0.0)
    pose = pose_from_state(st_, frame)
    assert pose is not None
    assert np.allclose(pose.position_enu_m, [10, 20, 40], atol=1e-3)
    assert pose_from_state(VehicleState(), frame) is None


def test_error_model_grows_off_nadir_and_with_height() -> None:
    nadir = horizontal_sigma_m(40.0, 0.0, 40.0, 1.0, 2.0, 1.0)
    oblique = horizontal_sigma_m(60.0, math.radians(40), 40.0, 1.0, 2.0, 1.0)
    high = horizontal_sigma_m(120.0, 0.0, 120.0, 1.0, 2.0, 1.0)
    assert float(nadir) == pytest.approx(math.hypot(2.0, 40 * math.radians(1)))
    assert oblique > nadir and high > nadir
    assert float(horizontal_sigma_m(40.0, 0.0, 40.0, 0.0, 0.0, 0.0)) == 0.0
