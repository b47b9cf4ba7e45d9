"""Careless or hostile command lines: NaN and infinity, empty connections, errors that name the option."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from drone_patrol.cli import cli
from drone_patrol.core.errors import DronePatrolError

ROOT = Path(__file__).resolve().parents[2]
AREAS = ROOT / "flight_plans" / "guilin_dongxi_xiang.geojson"


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    if isinstance(result.exception, DronePatrolError):
        return result.exception.exit_code, str(result.exception)
    return result.exit_code, result.output


@pytest.mark.parametrize(
    "args",
    [
        ("plan", str(AREAS), "--margin", "inf"),
        ("plan", str(AREAS), "--sweep-angle", "nan"),
        ("plan", str(AREAS), "--altitude", "-inf"),
        ("fly", str(AREAS), "--speedup", "nan"),
        ("sim", "--speedup", "nan"),
        ("detect", ".", "--telemetry", "t.csv", "--span", "0", "inf"),
        ("alerts", "watch", "--timeout", "nan"),
    ],
)
def test_float_options_refuse_nan_and_infinity(args: tuple[str, ...]) -> None:
    code, text = _run(*args)
    assert code == 2
    assert f"'{args[-1]}' is not a finite number" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("sim", "--home", "25.28,110.29,inf"), "--home '25.28,110.29,inf': every part must be a finite number"),
        (("sim", "--home", "nan,110.29,150"), "every part must be a finite number"),
        (("sim", "--param", "FENCE_RADIUS=nan"), "--param 'FENCE_RADIUS=nan': expected NAME=NUMBER (a finite number)"),
        (("status", "--connect", ""), "connection '': empty"),
        (("mission", "download", "x.plan", "--connect", " "), "connection '': empty"),
        (("demo", "--connect", ""), "connection '': empty"),
    ],
)
def test_bad_values_are_one_line(args: tuple[str, ...], message: str) -> None:
    code, text = _run(*args)
    assert code != 0 and message in text and "\n" not in text.strip()


def test_planner_errors_name_the_file_and_the_option(tmp_path: Path) -> None:
    code, text = _run("plan", str(AREAS), "--out", str(tmp_path), "--overlap", "1.5", "--no-png")
    assert code == 1
    assert text.startswith(f"{AREAS}: --overlap 1.5: planner option side_overlap:")


def test_endurance_errors_name_the_file_and_the_area(tmp_path: Path) -> None:
    code, text = _run("plan", str(AREAS), "--out", str(tmp_path), "--endurance", "60", "--no-png")
    assert code == 1 and text.startswith(f"{AREAS}: area 'dongxi-grid-")
    assert "m east/north of home and back does not fit the endurance (60 s with a 25% reserve)" in text
    names = {f["properties"]["name"] for f in json.loads(AREAS.read_text())["features"]}
    assert any(f"area {name!r}" in text for name in names)
