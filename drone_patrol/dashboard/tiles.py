"""An offline base map: raster tiles read from a local MBTiles or PMTiles file.

:func:`open_tiles` picks the reader by the file's first bytes (SQLite's or PMTiles'
magic), else by its extension; PMTiles is read by :mod:`.pmtiles_archive`.

MBTiles (SQLite, MBTiles 1.3) stores rows in TMS order (row 0 at the south), the page
asks in XYZ order (row 0 at the north): ``tile_row = 2**z - 1 - y``. The file is
opened read-only; one connection per thread.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Protocol

from drone_patrol.core.errors import ConfigError
from drone_patrol.dashboard.pmtiles_archive import PmTiles

_MEDIA_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp"}


class TileSource(Protocol):
    """What the dashboard needs of a tile file: its format, zoom range, metadata and tiles."""

    path: Path
    format: str  # png, jpg or webp: the extension of the page's tile URLs
    media_type: str
    max_zoom: int
    metadata: dict[str, str]

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        """The tile at XYZ ``z/x/y``, or ``None`` when the file has none there."""
        ...


def open_tiles(path: Path | str) -> TileSource:
    """The reader of a local tile file: PMTiles v3 or MBTiles, by content (by extension when unreadable).

    Raises :class:`ConfigError` with one line naming the file and what is wrong.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: dashboard.tile_file: no such file (expected an .mbtiles or .pmtiles file)")
    try:
        with open(path, "rb") as f:
            magic = f.read(16)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the tile file ({exc.strerror or exc})") from None
    if magic.startswith(b"PMTiles") or (not magic.startswith(b"SQLite format 3") and path.suffix == ".pmtiles"):
        return PmTiles(path)
    return MbTiles(path)


class MbTiles:
    """Read-only access to the tiles and metadata of one MBTiles file."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ConfigError(f"{self.path}: dashboard.tile_file: no such file")
        self._local = threading.local()
        try:
            meta = dict(self._db().execute("SELECT name, value FROM metadata").fetchall())
            self._db().execute("SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            raise ConfigError(f"{self.path}: not an MBTiles file ({exc})") from None
        self.metadata: dict[str, str] = {str(k): str(v) for k, v in meta.items()}
        fmt = self.metadata.get("format", "png").lower()
        if fmt not in _MEDIA_TYPES:
            raise ConfigError(f"{self.path}: metadata format {fmt!r}: expected a raster format (png, jpg or webp)")
        self.format = fmt
        self.media_type = _MEDIA_TYPES[fmt]
        self.min_zoom = int(self.metadata.get("minzoom", 0))
        self.max_zoom = int(self.metadata.get("maxzoom", 22))

    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            self._local.db = db
        return db

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        """The tile at XYZ ``z/x/y``, or ``None`` when the file has none there."""
        if z < 0 or z > 30 or not (0 <= x < 2**z and 0 <= y < 2**z):
            return None
        row = (
            self._db()
            .execute(
                "SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
                (z, x, 2**z - 1 - y),
            )
            .fetchone()
        )
        return bytes(row[0]) if row else None
