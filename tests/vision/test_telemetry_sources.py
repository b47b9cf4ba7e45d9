"""Telemetry logs (CSV, JSONL, tlog), frame sources and the detect command."""

from __future__ import annotations

import json
import math
import struct

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymavlink.dialects.v20 import common as mavlink2

from drone_patrol.core.config import CameraConfig
from drone_patrol.core.errors import InputError
from drone_patrol.core.types import GeoPoint
from drone_patrol.vision.commands import detect
from drone_patrol.vision.radiometry import celsius_to_tlinear
from drone_patrol.vision.sources import Radiometry, open_frames, with_telemetry
from drone_patrol.vision.telemetry import PoseLog
from tests.vision.synth import FRAME, HOME, disc, scene


def _poses(n: int = 5, t0: float = 100.0) -> list[dict]:
    out = []
    for i in range(n):
        p = FRAME.enu_to_point(60.0 + i, 40.0, 40.0)
        out.append({
            "time_s": t0 + i, "latitude_deg": p.latitude_deg, "longitude_deg": p.longitude_deg,
            "altitude_m": p.altitude_m, "relative_altitude_m": 40.0, "yaw_deg": [350.0, 10.0][i % 2],
            "home_latitude_deg": HOME.latitude_deg, "home_longitude_deg": HOME.longitude_deg, "home_altitude_m": 150.0,
        })  # fmt: skip
    return out


def test_jsonl_and_csv_interpolate_with_yaw_wrap(tmp_path) -> None:
    rows = _poses()
    jl = tmp_path / "t.jsonl"
    jl.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    csvp = tmp_path / "t.csv"
    keys = list(rows[0])
    csvp.write_text(",".join(keys) + "\n" + "\n".join(",".join(str(r[k]) for k in keys) for r in rows) + "\n")
    for path in (jl, csvp):
        log = PoseLog.load(path)
        p = log.pose_at(100.5)
        assert p is not None and p.home is not None
        assert p.yaw_deg == pytest.approx(0.0, abs=1e-6) or p.yaw_deg == pytest.approx(360.0, abs=1e-6)
        st = log.state_at(100.5)
        assert st is not None and st.relative_altitude_m == pytest.approx(40.0)
        assert log.state_at(90.0) is None and log.state_at(200.0) is None


def test_telemetry_gaps_and_bad_rows(tmp_path) -> None:
    rows = _poses(2)
    rows[1]["time_s"] = 105.0
    p = tmp_path / "t.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in rows))
    assert PoseLog.load(p, max_gap_s=1.0).state_at(102.0) is None
    p.write_text('{"time_s": 1, "latitude_deg": "north", "longitude_deg": 1}\n')
    with pytest.raises(InputError, match="line 1: latitude_deg must be a number"):
        PoseLog.load(p)
    p.write_text('{"time_s": 1, "latitude_deg": 95, "longitude_deg": 1}\n')
    with pytest.raises(InputError, match="not latitude/longitude"):
        PoseLog.load(p)
    (tmp_path / "x.txt").write_text("")
    with pytest.raises(InputError, match="unknown telemetry type"):
        PoseLog.load(tmp_path / "x.txt")


def test_tlog_is_decoded(tmp_path) -> None:
    mav = mavlink2.MAVLink(None, srcSystem=1, srcComponent=1)
    blob = b""
    for i in range(4):
        t = 100.0 + i * 0.5
        p = FRAME.enu_to_point(i * 2.0, 0.0, 40.0)
        for msg in (
            mav.home_position_encode(
                int(HOME.latitude_deg * 1e7), int(HOME.longitude_deg * 1e7), 150000, 0, 0, 0, [1, 0, 0, 0], 0, 0, 0
            ),
            mavlink2.MAVLink_attitude_message(int(t * 1000), 0.01, -0.02, math.radians(90.0), 0, 0, 0),
            mavlink2.MAVLink_global_position_int_message(
                int(t * 1000),
                int(p.latitude_deg * 1e7),
                int(p.longitude_deg * 1e7),
                int(p.altitude_m * 1000),
                40000,
                0,
                0,
                0,
                9000,
            ),
        ):
            blob += struct.pack(">Q", int(t * 1e6)) + msg.pack(mav)
    blob += struct.pack(">Q", int(200e6)) + b"\xfd\x05garbage"
    path = tmp_path / "flight.tlog"
    path.write_bytes(blob)
    log = PoseLog.load(path)
    assert len(log) == 4
    st = log.state_at(100.25)
    assert st is not None and st.home is not None and st.home.altitude_m == pytest.approx(150.0)
    assert st.yaw_deg == pytest.approx(90.0, abs=1e-3) and st.relative_altitude_m == pytest.approx(40.0)
    assert st.roll_deg == pytest.approx(math.degrees(0.01), abs=1e-4)


def test_npz_source_and_palette_video(tmp_path) -> None:
    imgs = np.stack([celsius_to_tlinear(scene(64, 80), 0.01) for _ in range(3)])
    np.savez(tmp_path / "f.npz", counts=imgs, time_s=np.array([1.0, 2.0, 3.0]))
    frames = list(open_frames(tmp_path / "f.npz", Radiometry(resolution_k=0.01)))
    assert [f.time_s for f in frames] == [1.0, 2.0, 3.0]
    assert frames[0].counts is not None and abs(float(np.median(frames[0].celsius)) - 18.0) < 0.1
    grey = np.full((3, 64, 80), 128, np.uint8)
    np.save(tmp_path / "g.npy", grey)
    agc = list(open_frames(tmp_path / "g.npy"))  # no span: the camera's automatic-gain video, no temperatures
    assert agc[0].agc and agc[0].video is not None and np.isnan(agc[0].celsius).all()
    deg = list(open_frames(tmp_path / "g.npy", Radiometry(span_c=(0.0, 51.0)), fps=2.0))
    assert deg[1].degraded and deg[1].time_s == 0.5 and abs(float(deg[0].celsius[0, 0]) - 25.6) < 0.01
    with pytest.raises(InputError, match="no such file"):
        open_frames(tmp_path / "nothing.mp4")
    bgra = np.zeros((3, 64, 80, 4), np.uint8)
    bgra[..., 3] = 255  # a screenshot's alpha
    np.save(tmp_path / "c.npy", bgra)
    coloured = list(open_frames(tmp_path / "c.npy", Radiometry(span_c=(0.0, 150.0), palette="inferno")))
    assert len(coloured) == 3 and coloured[0].degraded and coloured[0].celsius.shape == (64, 80)
    skipped = list(open_frames(tmp_path / "g.npy", Radiometry(span_c=(0.0, 150.0), palette="inferno")))
    assert len(skipped) == 3 and all(f.celsius.size == 0 for f in skipped)  # grey read as colour: skipped, not raised


def test_detect_command_on_a_folder_of_png(tmp_path) -> None:
    rows = _poses(6)
    (tmp_path / "tel.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(6):
        img = scene(256, 320, seed=i)
        disc(img, 160, 128, 3, 420.0)
        cv2.imwrite(str(folder / f"{i:04d}.png"), celsius_to_tlinear(img, 0.1))
    (folder / "0005.png").write_bytes(b"not a png")
    out = tmp_path / "alerts.jsonl"
    res = CliRunner().invoke(
        detect, [str(folder), "--telemetry", str(tmp_path / "tel.jsonl"), "--fps", "1", "--start-time", "100",
                 "--resolution", "0.1", "--out", str(out), "--areas", "flight_plans/guilin_dongxi_xiang.geojson"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    alerts = [json.loads(line) for line in out.read_text().splitlines()]
    assert [a["status"] for a in alerts] == ["new", "closed"]
    assert alerts[0]["kind"] == "thermal_hotspot" and alerts[0]["thumbnail_jpeg_base64"]
    assert "5 of 6 frames processed (modes: radiometric 5; wrong_shape 1 skipped)" in res.output
    bad = CliRunner().invoke(detect, [str(folder), "--telemetry", str(tmp_path / "missing.jsonl")])
    assert bad.exit_code != 0


def test_with_telemetry_marks_missing_poses() -> None:
    log = PoseLog([], source="none")
    from drone_patrol.vision.sources import RawFrame

    frames = list(with_telemetry(iter([RawFrame(scene(8, 10), 1.0, 0)]), log, CameraConfig()))
    assert frames[0].state is None


def test_video_file_is_read_as_degraded_palette_frames(tmp_path) -> None:
    path = tmp_path / "v.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 5.0, (80, 64))
    if not writer.isOpened():
        pytest.skip("no MJPG writer in this OpenCV build")
    for i in range(4):
        writer.write(np.full((64, 80, 3), 60 + 20 * i, np.uint8))
    writer.release()
    frames = list(open_frames(str(path), Radiometry(span_c=(0.0, 255.0)), start_time_s=50.0))
    assert len(frames) == 4 and all(f.degraded for f in frames)
    assert frames[0].time_s == pytest.approx(50.0) and frames[1].time_s == pytest.approx(50.2, abs=0.01)
    assert abs(float(np.median(frames[2].celsius)) - 100.0) < 3.0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=400))
def test_garbage_tlogs_raise_only_input_errors(tmp_path, blob) -> None:
    path = tmp_path / "junk.tlog"
    path.write_bytes(blob)
    try:
        PoseLog.load(path)
    except InputError as exc:
        assert "\n" not in str(exc)


def test_heights_above_home_only_and_a_home_without_its_altitude(tmp_path) -> None:
    p = tmp_path / "t.jsonl"
    base = {"latitude_deg": HOME.latitude_deg, "longitude_deg": HOME.longitude_deg}
    p.write_text("".join(json.dumps({**base, "time_s": t, "relative_altitude_m": 40.0}) + "\n" for t in (100, 101)))
    log = PoseLog.load(p)
    assert not log.poses[0].amsl_known  # 40 m above an unknown home, not 40 m above the sea
    state = log.with_home(HOME).state_at(100.5)
    assert state is not None and state.home == HOME
    assert state.position is not None and state.position.altitude_m == pytest.approx(HOME.altitude_m + 40.0)
    home = {"home_latitude_deg": HOME.latitude_deg, "home_longitude_deg": HOME.longitude_deg}
    p.write_text(json.dumps({**base, **home, "time_s": 1, "altitude_m": 190.0, "relative_altitude_m": 40.0}) + "\n")
    assert PoseLog.load(p).poses[0].home == GeoPoint(HOME.latitude_deg, HOME.longitude_deg, 150.0)
    p.write_text(json.dumps({**base, **home, "time_s": 1, "relative_altitude_m": 40.0}) + "\n")
    with pytest.raises(InputError, match="line 1: home_altitude_m is missing"):
        PoseLog.load(p)
    p.write_text(json.dumps({**base, "time_s": 1}) + "\n")
    with pytest.raises(InputError, match=r"line 1: needs altitude_m .* or relative_altitude_m"):
        PoseLog.load(p)


def test_gimbal_yaw_is_interpolated_across_north_and_behind(tmp_path) -> None:
    rows = _poses(2)
    p = tmp_path / "t.jsonl"
    for a, b, mid in ((359.0, 1.0, 0.0), (179.0, -179.0, -180.0), (-10.0, 10.0, 0.0)):
        rows[0]["gimbal_yaw_deg"], rows[1]["gimbal_yaw_deg"] = a, b
        p.write_text("\n".join(json.dumps(r) for r in rows))
        pose = PoseLog.load(p).pose_at(100.5)
        assert pose is not None and pose.gimbal_yaw_deg == pytest.approx(mid)
