"""What the dashboard needs of an archive, and opening one by its name.

Two implementations: :class:`~drone_patrol.dashboard.archive.Archive` (SQLite, a
file per dashboard, the default) and
:class:`~drone_patrol.dashboard.pg_archive.PostgresArchive` (the city archive
that several dashboards share). :func:`open_archive` picks by the name: a
``postgresql://`` URL opens PostgreSQL (needs the ``city`` extra, psycopg 3),
anything else is a SQLite path.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from drone_patrol.core.errors import ConfigError
from drone_patrol.dashboard.model import Ack, AlertMessage


class ArchiveStore(Protocol):
    """The archive interface the dashboard core uses (see :class:`~drone_patrol.dashboard.archive.Archive`)."""

    def close(self) -> None: ...
    def add_message(self, msg: AlertMessage, received_s: float) -> bool: ...
    def add_ack(self, ack: Ack, received_s: float) -> bool: ...
    def incident_of(self, target_id: str) -> str | None: ...
    def prune(self, before_s: float) -> int: ...
    def thumbnail(self, message_id: str) -> bytes | None: ...
    def message(self, message_id: str) -> dict[str, Any] | None: ...
    def messages(self, since_s: float, incident_id: str | None = None) -> list[dict[str, Any]]: ...
    def acks(self, target_ids: Iterable[str] | None = None) -> list[dict[str, Any]]: ...
    def incidents(self, since_s: float, limit: int | None = None) -> list[dict[str, Any]]: ...
    def incident(self, incident_id: str) -> dict[str, Any] | None: ...


def open_archive(target: Path | str) -> ArchiveStore:
    """Open the archive named by ``target``: a ``postgresql://`` URL or a SQLite path."""
    text = str(target)
    if isinstance(target, str) and "://" in text and not text.startswith(("postgresql://", "postgres://")):
        raise ConfigError(f"archive {text!r}: expected postgresql://USER@HOST:PORT/DBNAME or a SQLite file path")
    if text.startswith(("postgresql://", "postgres://")):
        try:
            from drone_patrol.dashboard.pg_archive import PostgresArchive
        except ImportError:
            raise ConfigError(
                f"archive {text}: PostgreSQL needs psycopg 3 (pip install 'drone-patrol[city]')"
            ) from None
        return PostgresArchive(text)
    from drone_patrol.dashboard.archive import Archive

    return Archive(target)
