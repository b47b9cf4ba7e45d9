"""User files: one-line typed errors for missing, unreadable and malformed files."""

from __future__ import annotations

from pathlib import Path

import pytest

from drone_patrol.core.errors import InputError
from drone_patrol.core.files import read_user_json, read_user_text


def test_missing_unreadable_and_bad_json(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.json: scenario file not found$"):
        read_user_text(tmp_path / "nope.json", "scenario file", InputError)
    binary = tmp_path / "b.json"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(InputError, match="cannot read scenario file"):
        read_user_text(binary, "scenario file", InputError)
    broken = tmp_path / "c.json"
    broken.write_text('{"a": 1,\n  oops}')
    with pytest.raises(InputError, match=r"not valid JSON \(line 2, column 3"):
        read_user_json(broken, "scenario file", InputError)
    good = tmp_path / "d.json"
    good.write_text('\ufeff{"a": [1, 2]}')
    assert read_user_json(good, "scenario file", InputError) == {"a": [1, 2]}
