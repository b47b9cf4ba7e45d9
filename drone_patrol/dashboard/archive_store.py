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
from typing import Any, Literal, Protocol

from drone_patrol.core.errors import ConfigError
from drone_patrol.dashboard.model import Ack, AlertMessage
from drone_patrol.dashboard.workflow import WorkflowStep


class ArchiveStore(Protocol):
    """What the dashboard needs from an archive; both implementations have every method.

    Rows are JSON-ready dicts; times are UNIX seconds (``*_s``). Every ``add_*``
    is idempotent on its event id and says whether this call stored the row
    (``False`` for a redelivery, or on a shared archive another dashboard's write).
    Safe to call from several threads.
    """

    def close(self) -> None:
        """Release the store."""

    def add_message(self, msg: AlertMessage, received_s: float) -> bool:
        """Store one alert message; ``False`` when already stored."""

    def add_ack(self, ack: Ack, received_s: float) -> bool:
        """Store one acknowledgement; ``False`` when already stored."""

    def add_workflow_step(self, step: WorkflowStep, received_s: float) -> bool:
        """Store one dispatch step; ``False`` when already stored."""

    def stored_ids(self, kind: Literal["message", "ack", "workflow"], ids: Iterable[str]) -> set[str]:
        """Which of ``ids`` (alert message, ack or dispatch step ids, by ``kind``) are stored."""

    def incident_of(self, target_id: str) -> str | None:
        """The incident id of an event id or incident id, if known."""

    def prune(self, before_s: float) -> int:
        """Delete incidents (with their acks and steps) whose last message is older than ``before_s``.

        Returns the number of messages deleted.
        """

    def thumbnail(self, message_id: str) -> bytes | None:
        """The JPEG thumbnail of one message."""

    def message(self, message_id: str) -> dict[str, Any] | None:
        """One message row."""

    def messages(self, since_s: float, incident_id: str | None = None) -> list[dict[str, Any]]:
        """Message rows since ``since_s`` (of one incident), oldest first."""

    def acks(self, target_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Ack rows of the given targets (or all), oldest first."""

    def workflow_steps(self, incident_ids: Iterable[str]) -> list[dict[str, Any]]:
        """Dispatch step rows of the given incidents, oldest first."""

    def incidents(self, since_s: float, limit: int | None = None) -> list[dict[str, Any]]:
        """Folded incidents with a message since ``since_s``, newest first."""

    def incident(self, incident_id: str) -> dict[str, Any] | None:
        """One folded incident."""

    def incident_with(
        self,
        incident_id: str,
        received_s: float,
        *,
        message: AlertMessage | None = None,
        ack: Ack | None = None,
        step: WorkflowStep | None = None,
    ) -> dict[str, Any] | None:
        """One folded incident with a message, ack or step just received, stored yet or not."""

    def save_drone_position(
        self, site: str, drone: str, latitude_deg: float, longitude_deg: float, time_s: float
    ) -> None:
        """Remember a drone's last known position."""

    def drone_positions(self) -> list[dict[str, Any]]:
        """Every drone's last known position (``site``, ``drone``, ``latitude_deg``, ``longitude_deg``, ``time_s``)."""


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
