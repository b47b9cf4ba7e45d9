"""The command room's SQLite archive of alerts and acknowledgements (WAL); also its dedup memory.

An alert is recorded once per event id (the CloudEvents idempotency key), so a
watcher that restarts with the same archive still drops the duplicates a
persistent session redelivers.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from drone_patrol.core.errors import AlertsError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    event_id    TEXT PRIMARY KEY,
    source      TEXT NOT NULL,
    type        TEXT NOT NULL,
    time        TEXT NOT NULL,
    received_s  REAL NOT NULL,
    site        TEXT NOT NULL,
    drone       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    severity    TEXT NOT NULL,
    status      TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    envelope    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_incident ON alerts (incident_id);
CREATE TABLE IF NOT EXISTS acks (
    ack_id     TEXT PRIMARY KEY,
    target_id  TEXT NOT NULL,
    by         TEXT NOT NULL,
    time       TEXT NOT NULL,
    site       TEXT NOT NULL,
    drone      TEXT NOT NULL,
    envelope   TEXT NOT NULL
);
"""


class ArchiveError(AlertsError):
    """The archive file cannot be opened or written."""


class AlertArchive:
    """Alerts and acks in one SQLite file; thread-safe."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=10)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise ArchiveError(f"archive {self.path}: cannot open ({exc})") from None

    def add_alert(self, event: dict[str, Any]) -> bool:
        """Record an alert envelope; False when its event id is already there (a duplicate)."""
        data = event["data"]
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO alerts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    event["id"],
                    event["source"],
                    event["type"],
                    event["time"],
                    time.time(),
                    data["site"],
                    data["drone"],
                    data["kind"],
                    data["severity"],
                    data["status"],
                    data["incident_id"],
                    json.dumps(event, separators=(",", ":")),
                ),
            )
            return cur.rowcount == 1

    def add_ack(self, event: dict[str, Any]) -> bool:
        """Record an acknowledgement envelope; False for a duplicate."""
        data = event["data"]
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO acks VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    event["id"],
                    data["target_id"],
                    data["by"],
                    event["time"],
                    data["site"],
                    data["drone"],
                    json.dumps(event, separators=(",", ":")),
                ),
            )
            return cur.rowcount == 1

    def has_alert(self, event_id: str) -> bool:
        """True when an alert with this event id is recorded."""
        with self._lock:
            return self._db.execute("SELECT 1 FROM alerts WHERE event_id = ?", (event_id,)).fetchone() is not None

    def locate(self, target_id: str) -> tuple[str, str] | None:
        """(site, drone) of an event id or incident id seen before, the newest first."""
        with self._lock:
            row = self._db.execute(
                "SELECT site, drone FROM alerts WHERE event_id = ? OR incident_id = ? ORDER BY received_s DESC LIMIT 1",
                (target_id, target_id),
            ).fetchone()
        return (row[0], row[1]) if row else None

    def alerts(self, limit: int = 1000) -> list[dict[str, Any]]:
        """The newest ``limit`` alert envelopes, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT envelope FROM alerts ORDER BY received_s DESC LIMIT ?", (limit,)).fetchall()
        return [json.loads(r[0]) for r in reversed(rows)]

    def count(self) -> int:
        """Number of alerts recorded."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM alerts").fetchone()[0])

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()


class Deduplicator:
    """Which alerts were seen (keyed by CloudEvents ``source`` + ``id``), and which drone each came from.

    A bounded in-memory LRU answers first; the optional archive remembers across restarts.
    """

    def __init__(self, archive: AlertArchive | None = None, capacity: int = 100_000) -> None:
        self.archive = archive
        self.capacity = capacity
        self._lock = threading.Lock()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._where: OrderedDict[str, tuple[str, str]] = OrderedDict()

    def first_time(self, envelope: dict[str, Any]) -> bool:
        """True the first time an alert envelope is offered (and then it is recorded)."""
        key = f"{envelope['source']} {envelope['id']}"
        data = envelope["data"]
        with self._lock:
            if key in self._seen:
                self._seen.move_to_end(key)
                return False
        # The archive first: when it cannot write, nothing is marked, so the broker's
        # redelivery of the unacknowledged message is taken in again.
        stored = self.archive is None or self.archive.add_alert(envelope)
        with self._lock:
            self._remember(key)
            for target in (envelope["id"], data["incident_id"]):
                self._where[target] = (data["site"], data["drone"])
                self._where.move_to_end(target)
            while len(self._where) > self.capacity:
                self._where.popitem(last=False)
        return stored

    def first_event(self, envelope: dict[str, Any]) -> bool:
        """True the first time an acknowledgement or dispatch step is offered (in memory only)."""
        key = f"{envelope['source']} {envelope['id']}"
        with self._lock:
            if key in self._seen:
                self._seen.move_to_end(key)
                return False
            self._remember(key)
        return True

    def _remember(self, key: str) -> None:
        self._seen[key] = None
        if len(self._seen) > self.capacity:
            self._seen.popitem(last=False)

    def locate(self, target_id: str) -> tuple[str, str] | None:
        """(site, drone) of an event id or incident id seen here or in the archive."""
        with self._lock:
            where = self._where.get(target_id)
        if where is None and self.archive is not None:
            where = self.archive.locate(target_id)
        return where

    def add_ack(self, envelope: dict[str, Any]) -> None:
        """Record an acknowledgement in the archive (if any)."""
        if self.archive is not None:
            self.archive.add_ack(envelope)

    def close(self) -> None:
        """Close the archive."""
        if self.archive is not None:
            self.archive.close()
            self.archive = None
