"""``drone-patrol dashboard`` on the command line: one-line errors for user mistakes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from drone_patrol.core.errors import DronePatrolError
from drone_patrol.dashboard.commands import dashboard


def invoke(*args: str) -> DronePatrolError:
    env = {k: None for k in os.environ if k.startswith("DRONE_PATROL_")}
    result = CliRunner().invoke(dashboard, list(args), env=env)
    assert isinstance(result.exception, DronePatrolError), result.output
    assert "\n" not in str(result.exception)
    return result.exception


def test_help() -> None:
    result = CliRunner().invoke(dashboard, ["--help"])
    assert result.exit_code == 0 and "--broker" in result.output and "--route" in result.output


def test_public_address_without_a_token_is_refused(tmp_path: Path) -> None:
    err = invoke("--host", "0.0.0.0", "--archive", str(tmp_path / "a.sqlite"))
    assert err.exit_code == 2 and "DRONE_PATROL_DASHBOARD_TOKEN" in str(err)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--broker", "http://x"), "broker URL"),
        (("--broker", "mqtt://u:pw@host"), "password"),
        (("--site", "a/b"), "site"),
        (("--areas", "{tmp}/none.geojson"), "none.geojson"),
        (("--route", "{tmp}/none.plan"), "none.plan"),
    ],
)
def test_bad_values_are_one_line(tmp_path: Path, args: tuple[str, ...], needle: str) -> None:
    filled = [a.format(tmp=tmp_path) for a in args]
    err = invoke(*filled, "--archive", str(tmp_path / "a.sqlite"), "--port", "0")
    assert needle in str(err)


def test_the_real_command_prints_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRONE_PATROL_")}
    out = subprocess.run(
        [sys.executable, "-m", "drone_patrol", "dashboard", "--host", "0.0.0.0", "--archive", str(tmp_path / "a")],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert out.returncode == 2 and out.stderr.startswith("drone-patrol: error: ") and out.stderr.count("\n") == 1
