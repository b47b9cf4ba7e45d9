"""Planner tests see no vehicle profile left in the working directory's site data dir."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _own_site_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `plan` uses the newest profile in site.data_dir (default "var"): keep a developer's flights out
    monkeypatch.setenv("DRONE_PATROL_SITE__DATA_DIR", str(tmp_path / "site-data"))
