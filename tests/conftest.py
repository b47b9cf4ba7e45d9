"""Checks shared by every test: system packages asked for by marks (see :mod:`tests.needs`)."""

from __future__ import annotations

import pytest

from tests.needs import check_marks


def pytest_runtest_setup(item: pytest.Item) -> None:
    check_marks(item)
