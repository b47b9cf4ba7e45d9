"""The command line: help, version, one-line errors."""

from __future__ import annotations

import subprocess
import sys

from drone_patrol import __version__
from drone_patrol.cli import SUBCOMMANDS


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "drone_patrol", *args], capture_output=True, text=True, timeout=60)


def test_help_lists_every_subcommand() -> None:
    out = run("--help")
    assert out.returncode == 0
    for name in ("plan", "fly", "detect", "patrol", "demo", "alerts", "sim"):
        assert name in SUBCOMMANDS
        assert f"  {name} " in out.stdout


def test_version() -> None:
    out = run("--version")
    assert out.returncode == 0 and __version__ in out.stdout


def test_unknown_command_is_a_usage_error() -> None:
    out = run("nosuch")
    assert out.returncode == 2 and "No such command" in out.stderr
