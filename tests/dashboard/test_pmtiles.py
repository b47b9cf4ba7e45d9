"""The PMTiles v3 reader: directory and varint decoding, Hilbert tile ids, leaves, compression, bad files."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pmtiles.reader import MmapSource, Reader
from pmtiles.tile import Entry, serialize_directory, zxy_to_tileid

from drone_patrol.core.errors import ConfigError
from drone_patrol.dashboard.pmtiles_archive import PmTiles, decode_directory, read_varint
from drone_patrol.dashboard.tiles import MbTiles, open_tiles
from tests.dashboard.helpers import district_tiles, make_mbtiles, make_pmtiles

U64 = st.integers(0, 2**63 - 1)


def _entries(draw: st.DrawFn) -> list[Entry]:
    ids = sorted(draw(st.sets(st.integers(0, 2**40), max_size=40)))
    return [Entry(i, draw(st.integers(0, 2**40)), draw(st.integers(0, 2**31)), draw(st.integers(0, 300))) for i in ids]


entries_st = st.composite(_entries)()


def _key(entries: list[Entry]) -> list[tuple[int, int, int, int]]:
    return [(e.tile_id, e.offset, e.length, e.run_length) for e in entries]


@given(U64)
def test_varint_round_trip(value: int) -> None:
    out = bytearray()
    v = value
    while True:
        out.append((v & 0x7F) | (0x80 if v > 0x7F else 0))
        v >>= 7
        if not v:
            break
    assert read_varint(bytes(out) + b"\x05", 0) == (value, len(out))


@settings(max_examples=200)
@given(entries_st)
def test_directory_decodes_what_the_reference_writer_encodes(entries: list[Entry]) -> None:
    raw = gzip.decompress(serialize_directory(entries))
    assert _key(decode_directory(raw)) == _key(entries)


@settings(max_examples=300)
@given(st.binary(max_size=64))
def test_garbage_directory_is_a_value_error_or_a_list(raw: bytes) -> None:
    try:
        entries = decode_directory(raw)
    except ValueError:
        return
    ids = [e.tile_id for e in entries]
    assert ids == sorted(set(ids))


@given(entries_st.filter(lambda e: len(e) > 0), st.data())
def test_truncated_directory_is_refused(entries: list[Entry], data: st.DataObject) -> None:
    raw = gzip.decompress(serialize_directory(entries))
    cut = data.draw(st.integers(0, len(raw) - 1))
    with pytest.raises(ValueError):
        decode_directory(raw[:cut])


def test_hilbert_tile_ids_of_the_specification() -> None:
    assert zxy_to_tileid(0, 0, 0) == 0
    assert [zxy_to_tileid(1, x, y) for x, y in ((0, 0), (0, 1), (1, 1), (1, 0))] == [1, 2, 3, 4]
    assert zxy_to_tileid(2, 0, 0) == 5 and zxy_to_tileid(3, 0, 0) == 21


@pytest.mark.parametrize("gzip_internal", [True, False])
@pytest.mark.parametrize("leaf_size", [None, 1, 3])
def test_every_tile_reads_back(tmp_path: Path, gzip_internal: bool, leaf_size: int | None) -> None:
    tiles = district_tiles()
    path = make_pmtiles(tmp_path / "d.pmtiles", tiles, leaf_size=leaf_size, gzip_internal=gzip_internal)
    pm = open_tiles(path)
    assert isinstance(pm, PmTiles)
    assert (pm.format, pm.media_type, pm.min_zoom, pm.max_zoom) == ("png", "image/png", 15, 18)
    assert pm.metadata["attribution"] == "test tiles © drone-patrol"
    for z, x, y, data in tiles:
        assert pm.tile(z, x, y) == data
    z, x, y, _ = tiles[0]
    assert pm.tile(z, x + 5, y) is None and pm.tile(14, x // 2, y // 2) is None and pm.tile(19, 0, 0) is None
    assert pm.tile(z, -1, y) is None and pm.tile(z, 2**z, y) is None
    if gzip_internal:  # the format's reference reader agrees
        with open(path, "rb") as f:
            ref = Reader(MmapSource(f))
            assert all(ref.get(z, x, y) == data for z, x, y, data in tiles)


def test_mbtiles_still_chosen_by_content(tmp_path: Path) -> None:
    path = make_mbtiles(tmp_path / "district.pmtiles")  # a misnamed MBTiles file
    assert isinstance(open_tiles(path), MbTiles)


def _bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    good = make_pmtiles(tmp_path / "good.pmtiles").read_bytes()
    files = {
        "empty.pmtiles": (b"", "shorter than the 127-byte header"),
        "hello.pmtiles": (b"hello" * 40, "no PMTiles magic"),
        "v2.pmtiles": (good[:7] + b"\x02" + good[8:], "version 2: expected 3"),
        "cut.pmtiles": (good[:200], "ends past the end of the file"),
        "vector.pmtiles": (make_pmtiles(tmp_path / "v", tile_type=1).read_bytes(), "tile type mvt: expected raster"),
        "root.pmtiles": (good[:127] + b"\x1f\x8b" + bytes(len(good) - 129), "root directory: not gzip data"),
    }
    out = {}
    for name, (data, message) in files.items():
        (tmp_path / name).write_bytes(data)
        out[name] = (tmp_path / name, message)
    return out


def test_bad_files_get_one_line_naming_the_file(tmp_path: Path) -> None:
    for path, message in _bad_files(tmp_path).values():
        with pytest.raises(ConfigError) as err:
            open_tiles(path)
        text = str(err.value)
        assert text.startswith(str(path)) and message in text and "\n" not in text, text
    with pytest.raises(ConfigError, match="no such file"):
        open_tiles(tmp_path / "missing.pmtiles")


def test_directory_inflating_past_the_bound_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import drone_patrol.dashboard.pmtiles_archive as archive

    tiles = [(14, x, y, bytes([x % 7])) for x in range(100) for y in range(50)]
    path = make_pmtiles(tmp_path / "d.pmtiles", tiles)  # a root of ~500 bytes that inflates to ~10 kB
    monkeypatch.setattr(archive, "MAX_DIRECTORY_BYTES", 4096)
    with pytest.raises(ConfigError, match="root directory: more than 4096 bytes once inflated"):
        open_tiles(path)
