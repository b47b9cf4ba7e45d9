"""The durable outbox: every alert is committed to SQLite (WAL) before it is published.

A row leaves the outbox only when its PUBACK has arrived (:meth:`Outbox.delete`), or
when the broker refused it for good (:meth:`Outbox.reject`: kept as a dead letter,
never replayed, counted apart). Undelivered rows come back in order after a
reconnect or a restart: alerts first by sequence number, then buffered telemetry.

Bound and policy: at most ``max_rows`` pending rows. When a new row would exceed it,
the victim is chosen among the pending rows and the new one, in this order:
buffered telemetry (oldest first), then ``info`` alerts (oldest first), then
``warning`` alerts (oldest first). ``critical`` alerts are never dropped: when only
critical alerts remain the outbox grows past its bound, logs it, and
``over_capacity`` says so. An alert is thus never dropped while telemetry is held.
With ``synchronous="FULL"`` a committed row survives a power cut; ``NORMAL`` survives
a process crash and is faster.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from drone_patrol.core.errors import AlertsError

log = logging.getLogger("drone_patrol.alerts.outbox")

ALERT = 0
TELEMETRY = 1
_SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}
_PENDING = 0
_REJECTED = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id   TEXT UNIQUE,
    class      INTEGER NOT NULL,          -- 0 alert, 1 telemetry
    severity   INTEGER NOT NULL,          -- 0 info, 1 warning, 2 critical
    topic      TEXT NOT NULL,
    payload    BLOB NOT NULL,
    qos        INTEGER NOT NULL,
    created_s  REAL NOT NULL,
    expires_s  REAL,                      -- telemetry only: dropped unsent after this
    state      INTEGER NOT NULL DEFAULT 0, -- 0 pending, 1 rejected by the broker
    reason     TEXT
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (state, class, seq);
"""


class OutboxError(AlertsError):
    """The outbox file cannot be opened or written."""


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One message waiting for its PUBACK."""

    seq: int
    event_id: str | None
    cls: int
    severity: int
    topic: str
    payload: bytes
    qos: int
    created_s: float
    expires_s: float | None


class Outbox:
    """A bounded, ordered, crash-safe queue of MQTT messages in one SQLite file; thread-safe."""

    def __init__(
        self,
        path: Path | str,
        *,
        max_rows: int = 100_000,
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.max_rows = max_rows
        self._clock = clock
        self._lock = threading.Lock()
        self.dropped_alerts = 0
        self.dropped_telemetry = 0
        self.expired_telemetry = 0
        try:
            if str(path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=10)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous}")
            self._db.executescript(_SCHEMA)
            self._pending = self._count(_PENDING)
            self._rejected = self._count(_REJECTED)
        except sqlite3.DatabaseError as exc:
            raise OutboxError(f"outbox {self.path}: cannot open ({exc})") from None

    def _count(self, state: int) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM outbox WHERE state = ?", (state,)).fetchone()[0])

    @property
    def depth(self) -> int:
        """Rows waiting for delivery (rejected rows excluded)."""
        return self._pending

    @property
    def rejected(self) -> int:
        """Rows the broker refused (dead letters, kept for inspection)."""
        return self._rejected

    @property
    def over_capacity(self) -> bool:
        """True when critical alerts alone hold the outbox past ``max_rows``."""
        return self._pending > self.max_rows

    def put_alert(self, event_id: str, topic: str, payload: bytes, severity: str, *, qos: int = 1) -> int | None:
        """Commit one alert; returns its sequence number, or ``None`` if the bound made it the victim.

        Putting an ``event_id`` already present is a no-op that returns the existing row's number.
        """
        rank = _SEVERITY_RANK.get(severity, 2)
        with self._lock:
            if self._pending >= self.max_rows:
                row = self._db.execute("SELECT seq FROM outbox WHERE event_id = ?", (event_id,)).fetchone()
                if row is not None:
                    return int(row[0])
            if self._pending >= self.max_rows and not self._make_room(ALERT, rank):
                self.dropped_alerts += 1
                log.warning("outbox full (%d rows): new %s alert %s dropped", self._pending, severity, event_id)
                return None
            return self._insert(event_id, ALERT, rank, topic, payload, qos, None)

    def put_telemetry(self, topic: str, payload: bytes, *, ttl_s: float) -> int | None:
        """Buffer one telemetry sample (QoS 0) until ``ttl_s`` from now; ``None`` if the outbox is full."""
        with self._lock:
            if self._pending >= self.max_rows and not self._make_room(TELEMETRY, -1):
                self.dropped_telemetry += 1
                return None
            return self._insert(None, TELEMETRY, -1, topic, payload, 0, self._clock() + ttl_s)

    def _insert(
        self, event_id: str | None, cls: int, rank: int, topic: str, payload: bytes, qos: int, expires: float | None
    ) -> int:
        try:
            cur = self._db.execute(
                "INSERT INTO outbox (event_id, class, severity, topic, payload, qos, created_s, expires_s)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING",
                (event_id, cls, rank, topic, payload, qos, self._clock(), expires),
            )
            if cur.rowcount == 0:  # the same event id is already waiting: putting it again is a no-op
                row = self._db.execute("SELECT seq FROM outbox WHERE event_id = ?", (event_id,)).fetchone()
                return int(row[0]) if row else 0
        except sqlite3.DatabaseError as exc:
            raise OutboxError(f"outbox {self.path}: cannot write ({exc})") from None
        self._pending += 1
        if self._pending > self.max_rows:
            log.error("outbox holds %d critical alerts, past its bound of %d", self._pending, self.max_rows)
        return int(cur.lastrowid or 0)

    def _make_room(self, new_cls: int, new_rank: int) -> bool:
        """Evict one pending row ranked below the new one; False when the new row is the victim."""
        victim = self._db.execute(
            "SELECT seq, class FROM outbox WHERE state = 0 AND class = 1 ORDER BY seq LIMIT 1"
        ).fetchone()
        if victim is None and new_cls == TELEMETRY:
            return False
        if victim is None:
            victim = self._db.execute(
                "SELECT seq, class FROM outbox WHERE state = 0 AND class = 0 AND severity < 2 AND severity <= ?"
                " ORDER BY severity, seq LIMIT 1",
                (new_rank,),
            ).fetchone()
        if victim is None:
            return new_rank >= 2  # critical: keep it anyway, past the bound
        self._db.execute("DELETE FROM outbox WHERE seq = ?", (victim[0],))
        self._pending -= 1
        if victim[1] == TELEMETRY:
            self.dropped_telemetry += 1
        else:
            self.dropped_alerts += 1
            log.warning("outbox full: oldest lower-severity alert (row %d) dropped for a new one", victim[0])
        return True

    def pending(self, cls: int, after_seq: int, limit: int) -> list[OutboxRow]:
        """Up to ``limit`` pending rows of class ``cls`` after ``after_seq``, in order."""
        with self._lock:
            if cls == TELEMETRY:
                self._expire()
            rows = self._db.execute(
                "SELECT seq, event_id, class, severity, topic, payload, qos, created_s, expires_s FROM outbox"
                " WHERE state = 0 AND class = ? AND seq > ? ORDER BY seq LIMIT ?",
                (cls, after_seq, limit),
            ).fetchall()
        return [OutboxRow(r[0], r[1], r[2], r[3], r[4], bytes(r[5]), r[6], r[7], r[8]) for r in rows]

    def _expire(self) -> None:
        cur = self._db.execute("DELETE FROM outbox WHERE state = 0 AND class = 1 AND expires_s < ?", (self._clock(),))
        if cur.rowcount:
            self._pending -= cur.rowcount
            self.expired_telemetry += cur.rowcount

    def delete(self, seqs: Iterable[int]) -> None:
        """Remove delivered rows (their PUBACK arrived)."""
        ids = list(seqs)
        if not ids:
            return
        with self._lock:
            self._db.execute("BEGIN")
            removed = 0
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                marks = ",".join("?" * len(chunk))
                cur = self._db.execute(f"DELETE FROM outbox WHERE state = 0 AND seq IN ({marks})", chunk)
                removed += cur.rowcount
            self._db.execute("COMMIT")
            self._pending -= removed

    def reject(self, seq: int, reason: str) -> None:
        """Keep a row the broker refused as a dead letter: never replayed, counted in :attr:`rejected`."""
        with self._lock:
            cur = self._db.execute("UPDATE outbox SET state = 1, reason = ? WHERE seq = ? AND state = 0", (reason, seq))
            if cur.rowcount:
                self._pending -= 1
                self._rejected += 1

    def dead_letters(self) -> list[tuple[int, str | None, str, str]]:
        """(seq, event id, topic, reason) of the rejected rows."""
        with self._lock:
            rows = self._db.execute("SELECT seq, event_id, topic, reason FROM outbox WHERE state = 1 ORDER BY seq")
            return [(r[0], r[1], r[2], r[3] or "") for r in rows.fetchall()]

    def close(self) -> None:
        """Close the file (a checkpoint folds the WAL back)."""
        with self._lock:
            with contextlib.suppress(sqlite3.DatabaseError):
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._db.close()
