"""User files: one-line typed errors for missing, unreadable and malformed files."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from drone_patrol.core.errors import InputError
from drone_patrol.core.files import (
    excerpt,
    parse_user_json,
    parse_user_yaml,
    read_user_csv,
    read_user_json,
    read_user_text,
)


def test_missing_unreadable_and_bad_json(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.json: scenario file not found$"):
        read_user_text(tmp_path / "nope.json", "scenario file", InputError)
    binary = tmp_path / "b.json"
    binary.write_bytes(b"\x80\x81bad")
    with pytest.raises(InputError, match="cannot read scenario file"):
        read_user_text(binary, "scenario file", InputError)
    broken = tmp_path / "c.json"
    broken.write_text('{"a": 1,\n  oops}')
    with pytest.raises(InputError, match=r"not valid JSON \(line 2, column 3"):
        read_user_json(broken, "scenario file", InputError)
    good = tmp_path / "d.json"
    good.write_text('\ufeff{"a": [1, 2]}')
    assert read_user_json(good, "scenario file", InputError) == {"a": [1, 2]}


def test_encodings_users_meet(tmp_path: Path) -> None:
    """UTF-8 with or without Excel's byte-order mark, UTF-16 from Notepad or PowerShell, UTF-32."""
    text = "name: 东西巷\nvalue: 1\n"
    cases = {
        "utf8": text.encode("utf-8"),
        "utf8bom": b"\xef\xbb\xbf" + text.encode("utf-8"),
        "utf16le": b"\xff\xfe" + text.encode("utf-16-le"),
        "utf16be": b"\xfe\xff" + text.encode("utf-16-be"),
        "utf16le_nobom": text.encode("utf-16-le"),
        "utf32": text.encode("utf-32"),
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        assert read_user_text(path, "config file", InputError) == text, name
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("time_s,caf\xe9\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"latin1\.csv: cannot read frame index: not UTF-8 text \(byte 0xe9 at offset"):
        read_user_text(latin1, "frame index", InputError)
    binary = tmp_path / "image.png"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(InputError, match=r"image\.png: cannot read"):
        read_user_text(binary, "plan file", InputError)


def test_size_and_directory_bounds(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    big.write_bytes(b" " * 2000)
    with pytest.raises(InputError, match=r"big\.json: area file is larger than 1000 bytes"):
        read_user_text(big, "area file", InputError, max_bytes=1000)
    with pytest.raises(InputError, match="is a directory, expected a area file"):
        read_user_text(tmp_path, "area file", InputError)


def test_json_nesting_numbers_and_duplicates() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(InputError, match=r"x\.json: cannot read plan file: nested deeper than 64 levels"):
        parse_user_json(deep, "x.json", "plan file", InputError)
    with pytest.raises(InputError, match="nested deeper than 64"):
        parse_user_json("[" * 70 + "]" * 70, "x.json", "plan file", InputError)
    assert parse_user_json("[" * 60 + "]" * 60, "x.json", "plan file", InputError) is not None
    for bad, why in (("[NaN]", "NaN is not a JSON number"), ("[1e400]", "out of range"), ("[-Infinity]", "Infinity")):
        with pytest.raises(InputError, match=why):
            parse_user_json(bad, "x.json", "plan file", InputError)
    with pytest.raises(InputError, match="duplicate key 'mission'"):
        parse_user_json('{"mission": 1, "mission": 2}', "x.json", "plan file", InputError)


def test_yaml_duplicates_laughs_and_nesting() -> None:
    with pytest.raises(InputError, match=r"c\.yaml: cannot read config file: not valid YAML at line 3: duplicate key"):
        parse_user_yaml("planner:\n  altitude_m: 30\nplanner:\n  altitude_m: 40\n", "c.yaml", "config file", InputError)
    laughs = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        laughs.append(f"{name}: &{name} [{','.join(['*' + prev] * 9)}]")
    started = time.perf_counter()
    with pytest.raises(InputError, match="aliases expand to more than") as info:
        parse_user_yaml("\n".join(laughs), "c.yaml", "config file", InputError)
    assert len(str(info.value)) < 200
    assert time.perf_counter() - started < 30  # refused before anything expands (generous: a loaded machine)
    with pytest.raises(InputError, match="refers to the value that contains it"):
        parse_user_yaml("a: &a [1, *a]", "c.yaml", "config file", InputError)
    with pytest.raises(InputError, match="nested deeper than 64"):
        parse_user_yaml("[" * 5000 + "]" * 5000, "c.yaml", "config file", InputError)
    assert parse_user_yaml("a: &x [1, 2]\nb: *x\n", "c.yaml", "config file", InputError) == {"a": [1, 2], "b": [1, 2]}


def test_excerpt_is_bounded() -> None:
    huge = ["x" * 10_000] * 10_000
    assert len(excerpt(huge)) <= 60
    loop: list[object] = []
    loop.append(loop)
    assert len(excerpt(loop)) <= 60


def test_csv_with_bom_and_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "frames.csv"
    path.write_bytes(b"\xef\xbb\xbfindex,time_s,file\r\n0,1.5,a.png\r\n\r\n1,2.0,b.png\r\n")
    header, rows = read_user_csv(path, "frame index", InputError)
    assert header == ["index", "time_s", "file"]
    assert [(n, r["time_s"]) for n, r in rows] == [(2, "1.5"), (4, "2.0")]
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputError, match=r"empty\.csv: frame index is empty"):
        read_user_csv(empty, "frame index", InputError)
    huge_field = tmp_path / "huge.csv"
    huge_field.write_text('a\n"' + "x" * 200_000 + '"\n')
    with pytest.raises(InputError, match=r"huge\.csv: line \d+: cannot read frame index"):
        list(read_user_csv(huge_field, "frame index", InputError)[1])


def test_deep_yaml_is_refused_before_pyyaml_scans_it() -> None:
    """PyYAML's scanner is quadratic in the nesting: 100,000 levels took 39 s before the pre-scan."""
    started = time.perf_counter()
    for text in ("[" * 100_000 + "]" * 100_000, "".join("  " * i + "- \n" for i in range(1400)), "- " * 5000 + "x"):
        with pytest.raises(InputError, match="nested deeper than 64 levels"):
            parse_user_yaml(text, "c.yaml", "config file", InputError)
    with pytest.raises(InputError, match="more than 50000 values and lines"):
        parse_user_yaml("x: [" + "1, " * 300_000 + "1]", "c.yaml", "config file", InputError)
    assert time.perf_counter() - started < 20  # generous on a loaded machine; it takes well under a second
    quoted = "a: '" + "[" * 70 + "'  # " + "[" * 70
    assert parse_user_yaml(quoted, "c.yaml", "config file", InputError) == {"a": "[" * 70}
