"""An offline base map from a local PMTiles (version 3) file: raster tiles, read in place.

The format, as the PMTiles v3 specification gives it:

- a 127-byte header (magic ``PMTiles``, version 3, then little-endian offsets and lengths
  of the root directory, the JSON metadata, the leaf directories and the tile data; the
  internal compression of directories and metadata; the tile compression and type; the
  zoom range and bounds);
- directories: a varint count, then the entries' tile id deltas, run lengths, lengths
  and offsets, each as a column of varints (an offset of 0 after the first entry means
  "right after the previous entry", any other is offset + 1), compressed as the header's
  internal compression says (gzip or none here);
- an entry with run length 0 points at a leaf directory (offset into the leaf section),
  others at ``run length`` consecutive tile ids sharing one tile's bytes;
- tile ids count tiles of all lower zooms first, then walk the zoom's Hilbert curve.

The header's fields and the Hilbert tile ids come from the ``pmtiles`` package (the
format's reference Python code); its reader is not used because it gunzips every
directory whatever the header says and re-reads the root on each tile. The directory
decoding here checks every varint and offset against the file, so a damaged file gets
one line naming it and what is wrong.
"""

from __future__ import annotations

import gzip
import json
import logging
import mmap
import threading
import zlib
from collections import OrderedDict
from pathlib import Path
from typing import Any

from pmtiles.tile import Compression, Entry, TileType, deserialize_header, find_tile, zxy_to_tileid

from drone_patrol.core.errors import ConfigError

log = logging.getLogger(__name__)

HEADER_BYTES = 127
MAX_DIRECTORY_BYTES = 16 * 1024 * 1024  # a leaf directory is at most a few MB in practice
_MAX_DEPTH = 4  # root plus leaves: the specification's writers use one or two levels
_LEAF_CACHE = 64
_MEDIA: dict[TileType, tuple[str, str]] = {
    TileType.PNG: ("png", "image/png"),
    TileType.JPEG: ("jpg", "image/jpeg"),
    TileType.WEBP: ("webp", "image/webp"),
}


class PmTilesError(ConfigError):
    """A PMTiles file that cannot be read (the message names the file and what is wrong)."""


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """The unsigned LEB128 varint at ``buf[pos:]`` and the position after it."""
    value = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("directory ends inside a number")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ValueError("a number of the directory is longer than 64 bits")


def decode_directory(raw: bytes) -> list[Entry]:
    """The entries of an uncompressed directory; :class:`ValueError` saying what is malformed."""
    count, pos = read_varint(raw, 0)
    if count > len(raw):  # each entry takes at least four bytes: a count this large is garbage
        raise ValueError(f"directory claims {count} entries in {len(raw)} bytes")
    columns: list[list[int]] = []
    for _ in range(4):
        column = []
        for _ in range(count):
            value, pos = read_varint(raw, pos)
            column.append(value)
        columns.append(column)
    if pos != len(raw):
        raise ValueError(f"{len(raw) - pos} bytes after the directory's {count} entries")
    deltas, runs, lengths, offsets = columns
    entries: list[Entry] = []
    tile_id = 0
    for i in range(count):
        tile_id += deltas[i]
        if i > 0 and deltas[i] == 0:
            raise ValueError(f"entry {i}: tile id {tile_id} repeats")
        if offsets[i] == 0:
            if i == 0:
                raise ValueError("entry 0: offset 0 means 'after the previous entry', and there is none")
            offset = entries[-1].offset + entries[-1].length
        else:
            offset = offsets[i] - 1
        entries.append(Entry(tile_id, offset, lengths[i], runs[i]))
    return entries


class PmTiles:
    """Read-only access to the raster tiles and metadata of one PMTiles v3 file (thread-safe)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            with open(self.path, "rb") as f:
                size = f.seek(0, 2)
                if size < HEADER_BYTES:
                    raise self._bad(f"{size} bytes, shorter than the {HEADER_BYTES}-byte header")
                self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except FileNotFoundError:
            raise ConfigError(f"{self.path}: dashboard.tile_file: no such file") from None
        except OSError as exc:
            raise ConfigError(f"{self.path}: cannot read the tile file ({exc.strerror or exc})") from None
        try:
            h = deserialize_header(self._map[:HEADER_BYTES])
        except Exception as exc:  # the package raises bare MagicNumberNotFound, SpecVersionUnsupported, ValueError
            magic = self._map[:8]
            if magic[:7] != b"PMTiles":
                raise self._bad("no PMTiles magic at its start") from None
            if magic[7] != 3:
                raise self._bad(f"version {magic[7]}: expected 3") from None
            raise self._bad(f"header: {exc}") from None
        self._header = h
        self._internal = h["internal_compression"]
        if self._internal not in (Compression.NONE, Compression.GZIP):
            raise self._bad(f"internal compression {self._internal.name.lower()}: expected gzip or none")
        if h["tile_type"] not in _MEDIA:
            raise self._bad(f"tile type {h['tile_type'].name.lower()}: expected raster tiles (png, jpeg or webp)")
        self._tile_gzip = h["tile_compression"] == Compression.GZIP
        if h["tile_compression"] not in (Compression.NONE, Compression.UNKNOWN, Compression.GZIP):
            raise self._bad(f"tile compression {h['tile_compression'].name.lower()}: expected none or gzip")
        for name in ("root", "metadata", "leaf_directory", "tile_data"):
            start, length = h[f"{name}_offset"], h[f"{name}_length"]  # type: ignore[literal-required]
            if start + length > size:
                raise self._bad(f"the {name.replace('_', ' ')} section ends past the end of the file ({size} bytes)")
        self.format, self.media_type = _MEDIA[h["tile_type"]]
        self.min_zoom, self.max_zoom = h["min_zoom"], h["max_zoom"]
        self._root = self._directory(h["root_offset"], h["root_length"], "root directory")
        self.metadata: dict[str, str] = self._read_metadata()
        self._leaves: OrderedDict[tuple[int, int], list[Entry]] = OrderedDict()
        self._lock = threading.Lock()

    def _bad(self, what: str) -> PmTilesError:
        return PmTilesError(f"{self.path}: not a readable PMTiles v3 file: {what}")

    def _inflate(self, data: bytes, what: str) -> bytes:
        if self._internal is Compression.NONE:
            return data
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # one gzip member, at most MAX_DIRECTORY_BYTES out
        try:
            out = inflater.decompress(data, MAX_DIRECTORY_BYTES)
        except zlib.error as exc:
            raise self._bad(f"{what}: not gzip data ({exc})") from None
        if inflater.unconsumed_tail:
            raise self._bad(f"{what}: more than {MAX_DIRECTORY_BYTES} bytes once inflated")
        if not inflater.eof:
            raise self._bad(f"{what}: the gzip data is cut short")
        return out

    def _directory(self, offset: int, length: int, what: str) -> list[Entry]:
        if length > MAX_DIRECTORY_BYTES:
            raise self._bad(f"{what}: {length} bytes, more than {MAX_DIRECTORY_BYTES}")
        try:
            return decode_directory(self._inflate(self._map[offset : offset + length], what))
        except ValueError as exc:
            raise self._bad(f"{what}: {exc}") from None

    def _read_metadata(self) -> dict[str, str]:
        h = self._header
        raw = self._inflate(self._map[h["metadata_offset"] : h["metadata_offset"] + h["metadata_length"]], "metadata")
        if not raw.strip():
            return {}
        try:
            doc: Any = json.loads(raw)
        except ValueError as exc:
            raise self._bad(f"metadata: not JSON ({exc})") from None
        if not isinstance(doc, dict):
            raise self._bad("metadata: expected a JSON object")
        return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in doc.items()}

    def _leaf(self, offset: int, length: int) -> list[Entry]:
        key = (offset, length)
        with self._lock:
            entries = self._leaves.get(key)
            if entries is not None:
                self._leaves.move_to_end(key)
                return entries
        h = self._header
        if offset + length > h["leaf_directory_length"]:
            raise self._bad(f"a leaf directory at {offset} (+{length} bytes) is outside the leaf section")
        entries = self._directory(h["leaf_directory_offset"] + offset, length, f"leaf directory at {offset}")
        with self._lock:
            self._leaves[key] = entries
            while len(self._leaves) > _LEAF_CACHE:
                self._leaves.popitem(last=False)
        return entries

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        """The tile at XYZ ``z/x/y``, or ``None`` when the file has none there.

        A damaged leaf directory or tile entry is logged (naming the file) and reads as no tile.
        """
        if z < self.min_zoom or z > self.max_zoom or z > 30 or not (0 <= x < 2**z and 0 <= y < 2**z):
            return None
        tile_id = zxy_to_tileid(z, x, y)
        entries = self._root
        try:
            for _ in range(_MAX_DEPTH):
                entry = find_tile(entries, tile_id)
                if entry is None:
                    return None
                if entry.run_length > 0:
                    return self._tile_bytes(entry)
                entries = self._leaf(entry.offset, entry.length)
        except PmTilesError as exc:
            log.warning("dashboard: tile %d/%d/%d: %s", z, x, y, exc)
            return None
        log.warning("dashboard: tile %d/%d/%d: %s: leaves nest deeper than %d", z, x, y, self.path, _MAX_DEPTH)
        return None

    def _tile_bytes(self, entry: Entry) -> bytes:
        h = self._header
        if entry.offset + entry.length > h["tile_data_length"]:
            raise self._bad(f"tile {entry.tile_id}: its bytes end past the tile data section")
        start = h["tile_data_offset"] + entry.offset
        data = self._map[start : start + entry.length]
        if self._tile_gzip:
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError, zlib.error) as exc:
                raise self._bad(f"tile {entry.tile_id}: not gzip data ({exc})") from None
        return data
