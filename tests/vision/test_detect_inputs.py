"""``drone-patrol detect`` on unusable input: one line, exit non-zero, an earlier --out file kept whole."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from drone_patrol.cli import cli
from drone_patrol.core.config import CameraConfig

HOME = (25.2821593, 110.296202, 150.0)
CAMERA = CameraConfig()


def _frames(folder: Path, n: int = 4, size: tuple[int, int] | None = None, t0: float = 0.0) -> Path:
    (folder / "frames").mkdir(parents=True, exist_ok=True)
    h, w = size or (CAMERA.height_px, CAMERA.width_px)
    rows = ["index,time_s,file"]
    rng = np.random.default_rng(1)
    for i in range(n):
        kelvin = 293.15 + rng.normal(0.0, 0.5, (h, w))  # an ordinary 20 C street with sensor noise
        img = np.round(kelvin / float(CAMERA.tlinear_resolution_k)).astype(np.uint16)
        cv2.imwrite(str(folder / "frames" / f"{i:06d}.png"), img)
        rows.append(f"{i},{t0 + i * 0.5},frames/{i:06d}.png")
    (folder / "frames.csv").write_text("\n".join(rows) + "\n")
    return folder


def _telemetry(path: Path, t0: float = 0.0, n: int = 10) -> Path:
    lat, lon, alt = HOME
    lines = [
        json.dumps(
            {
                "time_s": t0 + i * 0.5,
                "latitude_deg": lat + i * 1e-6,
                "longitude_deg": lon,
                "altitude_m": alt + 40.0,
                "relative_altitude_m": 40.0,
                "home_latitude_deg": lat,
                "home_longitude_deg": lon,
                "home_altitude_m": alt,
            }
        )
        for i in range(n)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def _detect(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["detect", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        # the CLI's own main() turns DronePatrolError into one line; CliRunner hands it back raw
        return 2, str(result.exception)
    return result.exit_code, result.output


def test_usable_frames_write_the_out_file(tmp_path: Path) -> None:
    folder = _frames(tmp_path / "cam")
    out = tmp_path / "alerts.jsonl"
    code, text = _detect(str(folder), "--telemetry", str(_telemetry(tmp_path / "t.jsonl")), "--out", str(out))
    assert code == 0, text
    assert "4 of 4 frames processed" in text
    assert out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".alerts.jsonl.")]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("day_away", "none of the 4 frames could be used"),
        ("tiny", "none of the 4 frames could be used"),
        ("zero_byte", "none of the 4 frames could be used"),
        ("huge", "none of the 1 frames could be used"),
    ],
)
def test_nothing_usable_fails_and_keeps_the_earlier_out(tmp_path: Path, case: str, expected: str) -> None:
    telemetry = _telemetry(tmp_path / "t.jsonl", t0=86_400.0 if case == "day_away" else 0.0)
    if case == "huge":
        folder = _frames(tmp_path / "cam", n=1, size=(4200, 4200))
    else:
        folder = _frames(tmp_path / "cam", size=(1, 1) if case == "tiny" else None)
    if case == "zero_byte":
        for png in (folder / "frames").iterdir():
            png.write_bytes(b"")
    out = tmp_path / "alerts.jsonl"
    out.write_text('{"earlier": "alerts"}\n')
    code, text = _detect(str(folder), "--telemetry", str(telemetry), "--out", str(out))
    assert code != 0
    assert expected in text and "\n" not in text.strip()
    if case == "day_away":
        assert "telemetry at 86400.0..86404.5 s" in text
    assert out.read_text() == '{"earlier": "alerts"}\n'
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".alerts.jsonl.")]


@pytest.mark.parametrize("fps", ["0", "nan", "inf", "-3"])
def test_fps_must_be_a_positive_finite_number(tmp_path: Path, fps: str) -> None:
    folder = tmp_path / "cam"
    folder.mkdir()
    code, text = _detect(str(folder), "--telemetry", str(_telemetry(tmp_path / "t.jsonl")), "--fps", fps)
    assert code == 2
    assert "--fps" in text


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("0,nan,frames/000000.png", "time_s must be a finite number"),
        ("0,true,frames/000000.png", "expected an integer index and a number time_s"),
        ("0,1.0,../../etc/passwd", "is not a path inside"),
        ("0,1.0,/etc/passwd", "is not a path inside"),
    ],
)
def test_frame_index_rows_are_typed(tmp_path: Path, row: str, message: str) -> None:
    folder = _frames(tmp_path / "cam", n=1)
    (folder / "frames.csv").write_text("index,time_s,file\n" + row + "\n")
    code, text = _detect(str(folder), "--telemetry", str(_telemetry(tmp_path / "t.jsonl")))
    assert code == 2 and message in text and "frames.csv: line 2" in text


def test_frame_index_with_excel_bom_and_telemetry_csv_in_utf16(tmp_path: Path) -> None:
    folder = _frames(tmp_path / "cam")
    index = folder / "frames.csv"
    index.write_bytes(b"\xef\xbb\xbf" + index.read_bytes())
    rows = [json.loads(line) for line in _telemetry(tmp_path / "t.jsonl").read_text().splitlines()]
    keys = list(rows[0])
    csv_text = ",".join(keys) + "\r\n" + "".join(",".join(str(r[k]) for k in keys) + "\r\n" for r in rows)
    telemetry = tmp_path / "t.csv"
    telemetry.write_bytes(b"\xff\xfe" + csv_text.encode("utf-16-le"))
    code, text = _detect(str(folder), "--telemetry", str(telemetry))
    assert code == 0, text
    assert "4 of 4 frames processed" in text


def test_telemetry_booleans_are_not_times(tmp_path: Path) -> None:
    telemetry = tmp_path / "t.jsonl"
    telemetry.write_text('{"time_s": true, "latitude_deg": 25.28, "longitude_deg": 110.29}\n')
    code, text = _detect(str(_frames(tmp_path / "cam")), "--telemetry", str(telemetry))
    assert code == 2 and "t.jsonl: line 1: time_s must be a number, got True" in text
