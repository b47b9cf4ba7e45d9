"""What the tests need from the system (Debian packages), and what happens when it is missing.

Outside ``make test`` a test whose system package is missing is skipped with a reason
naming the package. ``make test`` first runs ``tools/provision.sh`` (which installs the
packages of ``tools/system-packages.txt`` or stops with one line saying what to
install) and sets ``DRONE_PATROL_TESTS_REQUIRE_SYSTEM=1``: then a missing package is a
failure, never a silent skip.

Tests say what they need with a mark (``@pytest.mark.mosquitto``, ``@pytest.mark.browser``);
``tests/conftest.py`` checks the marks before each test. Helpers that start a broker
call :func:`missing` themselves.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest

#: Set by ``make test``: a missing system package fails the test instead of skipping it.
STRICT = os.environ.get("DRONE_PATROL_TESTS_REQUIRE_SYSTEM") == "1"

MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def missing(what: str, package: str) -> NoReturn:
    """Skip the test (or fail it under ``make test``) because ``what`` (Debian ``package``) is absent."""
    reason = f"needs {what} (apt {package})"
    if STRICT:
        pytest.fail(f"{reason}: `make test` should have installed it (tools/provision.sh)", pytrace=False)
    pytest.skip(reason)


def check_marks(item: pytest.Item) -> None:
    """Skip or fail ``item`` when a system package its marks ask for is not installed."""
    if item.get_closest_marker("mosquitto") is not None and MOSQUITTO is None:
        missing("the mosquitto broker", "mosquitto")
    if item.get_closest_marker("browser") is not None and CHROMIUM is None:
        missing("headless Chromium", "chromium")
