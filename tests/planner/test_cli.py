"""``drone-patrol plan`` end to end: files, summaries, and every bad input as one line with a non-zero exit."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import pytest

from drone_patrol.cli import main
from drone_patrol.mission import load_mission
from tests.mission.builders import basic, collection, point, polygon, rect, write

SAMPLE = Path(__file__).resolve().parents[2] / "flight_plans" / "guilin_dongxi_xiang.geojson"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(["plan", *args])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_plan_writes_every_file_and_a_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, str(SAMPLE), "--out", str(tmp_path))
    assert code == 0, err
    assert "sortie 1:" in out and "dongxi-grid-3: coverage, coverage 100.0%" in out
    stem = tmp_path / "guilin_dongxi_xiang"
    for suffix in (".waypoints", ".plan", ".route.geojson", ".png"):
        assert Path(f"{stem}{suffix}").stat().st_size > 0
    assert load_mission(f"{stem}.waypoints").items == load_mission(f"{stem}.plan").items
    assert load_mission(f"{stem}.route.geojson").items == load_mission(f"{stem}.plan").items
    png = Path(f"{stem}.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    idat = png[33 + 8 : 33 + 8 + struct.unpack(">I", png[33:37])[0]]
    assert len(zlib.decompress(idat)) == height * (1 + 3 * width)


def test_json_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        str(SAMPLE),
        "--out",
        str(tmp_path),
        "--json",
        "--no-png",
        "--loop",
        "1",
        "--altitude",
        "50",
        "--speed",
        "6",
        "--overlap",
        "0.3",
    )
    assert code == 0
    summary = json.loads(out)
    assert summary["sorties"][0]["waypoints"] > 10 and summary["sorties"][0]["length_m"] > 1000
    assert summary["sorties"][0]["duration_s"] > 0 and summary["loop_count"] == 1
    assert [a["name"] for a in summary["areas"]][:1] == ["dongxi-grid-1"]
    assert all(a["coverage"] >= 0.99 and a["pattern"] == "coverage" and a["altitude_m"] == 50 for a in summary["areas"])
    assert summary["files"]["plan"] == [str(tmp_path / "guilin_dongxi_xiang.plan")]
    assert "png" not in summary["files"]


def test_short_endurance_writes_one_file_per_sortie(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(SAMPLE), "--out", str(tmp_path), "--json", "--no-png", "--endurance", "400")
    summary = json.loads(out)
    assert code == 0 and len(summary["sorties"]) >= 2
    assert len(summary["files"]["waypoints"]) == len(summary["sorties"])
    assert (tmp_path / "guilin_dongxi_xiang-sortie-2.plan").exists()
    assert any("split into" in w for w in summary["warnings"])
    code, out, _ = run(capsys, str(SAMPLE), "--out", str(tmp_path), "--json", "--no-png")
    assert code == 0 and not list(tmp_path.glob("*-sortie-*"))


def test_config_file_sets_defaults(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write(tmp_path / "c.yaml", "planner:\n  altitude_m: 60\ncamera:\n  hfov_deg: 40\n")
    code, out, _ = run(capsys, str(SAMPLE), "--out", str(tmp_path), "--json", "--no-png", "--config", str(cfg))
    assert code == 0 and all(a["altitude_m"] == 60 for a in json.loads(out)["areas"])


def test_kml_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.mission.test_areas import KML

    code, out, err = run(capsys, str(write(tmp_path / "a.kml", KML)), "--out", str(tmp_path), "--json", "--no-png")
    assert code == 0, err
    assert json.loads(out)["areas"][0]["name"] == "yard"


def _bowtie() -> dict[str, object]:
    return collection(
        point("post", (0, 0), role="home"), polygon("bowtie", [[(40, -40), (140, 40), (140, -40), (40, 40)]])
    )


def _ring3() -> dict[str, object]:
    data = basic()
    data["features"][1]["geometry"]["coordinates"][0] = data["features"][1]["geometry"]["coordinates"][0][:3]
    return data


def _swapped() -> dict[str, object]:
    data = basic()
    ring = data["features"][1]["geometry"]["coordinates"][0]
    data["features"][1]["geometry"]["coordinates"][0] = [[b, a] for a, b in ring]
    return data


def _high() -> dict[str, object]:
    data = basic()
    data["features"][1]["properties"]["altitude_m"] = 150
    return data


BAD = [
    ("text", "this is not json", [], "cannot read area file: not valid JSON"),
    ("point", {"type": "Point", "coordinates": [1, 2]}, [], "expected a FeatureCollection"),
    ("ring3", _ring3(), [], "exterior ring has 3 positions"),
    ("bowtie", _bowtie(), [], "invalid polygon: Self-intersection["),
    ("swapped", _swapped(), [], "looks like [lat, lon] order"),
    ("dupes", basic(polygon("block", [rect(0, 100, 10, 110)])), [], "duplicate name 'block'"),
    ("home_nofly", basic(polygon("base", [rect(-10, -10, 10, 10)], role="no_fly")), [], "home lies inside no-fly"),
    ("inside", basic(polygon("jail", [rect(30, -50, 150, 50)], role="no_fly")), [], "lies entirely inside no-fly"),
    ("high", _high(), [], "altitude_m 150 above the ceiling of 120 m"),
    ("alt_opt", basic(), ["--altitude", "200"], "altitude 200 m above the ceiling of 120 m"),
    ("ceiling_opt", _high(), ["--ceiling", "100"], "above the ceiling of 100 m"),
    ("camera", basic(), ["--camera-size", "big"], "--camera-size 'big': expected WIDTHxHEIGHT"),
    ("hfov", basic(), ["--hfov", "200"], "camera option hfov_deg: Input should be less than 180"),
    ("margin", basic(), ["--margin", "-5"], "planner option nofly_margin_m"),
]


@pytest.mark.parametrize(("name", "content", "extra", "expected"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_one_line_and_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: object, extra: list[str], expected: str
) -> None:
    path = write(tmp_path / f"{name}.geojson", content)
    code, _, err = run(capsys, str(path), "--out", str(tmp_path / "out"), *extra)
    assert code != 0
    assert err.count("\n") == 1 and err.startswith("drone-patrol: error: ") and "Traceback" not in err
    assert expected in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_make_valid_repairs_on_request(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path / "bowtie.geojson", _bowtie())
    code, out, err = run(capsys, str(path), "--out", str(tmp_path), "--make-valid", "--json", "--no-png")
    assert code == 0, err
    assert any("repaired" in w for w in json.loads(out)["warnings"])


def test_missing_file_and_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, str(tmp_path / "nope.geojson"), "--out", str(tmp_path))
    assert code == 2 and "area file not found" in err and err.count("\n") == 1
    cfg = write(tmp_path / "c.yaml", "planner:\n  altitude_m: -4\n")
    code, _, err = run(capsys, str(SAMPLE), "--out", str(tmp_path), "--config", str(cfg))
    assert code == 2 and "planner.altitude_m" in err and err.count("\n") == 1


def test_subprocess_exit_code(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = write(tmp_path / "bad.geojson", "nope")
    out = subprocess.run(
        [sys.executable, "-m", "drone_patrol", "plan", str(path)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 2 and out.stderr.startswith("drone-patrol: error:") and "Traceback" not in out.stderr
