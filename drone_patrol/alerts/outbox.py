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

Fast path. Concurrent callers' rows share one transaction, and each new alert is handed
to :attr:`Outbox.on_insert` (the pump, which sends it at once) before the COMMIT, so the
network trip never waits for the disk. Commits do not sync: with ``FULL`` a put then waits
for a group ``fdatasync`` of the WAL begun after its commit, outside the write lock, so a
sync never holds up the next insert (:mod:`drone_patrol.alerts.groupcommit`: the same
guarantee as SQLite's own ``FULL``). Deliveries are cheap: :meth:`mark_delivered` only notes
the row in memory; :meth:`purge` deletes the noted rows without a sync, a few at a time,
giving way to inserts. A delete lost to a crash only means a duplicate, which consumers
drop by event id. WAL checkpoints run from :meth:`checkpoint` on a second connection.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from drone_patrol.alerts.groupcommit import CommitQueue, WalSync, WalSyncError, open_wal
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


@dataclass(slots=True)
class _Ticket:
    """One row to insert, and what became of it."""

    event_id: str | None
    cls: int
    rank: int
    topic: str
    payload: bytes
    qos: int
    expires_s: float | None
    seq: int | None = None
    fresh: OutboxRow | None = None
    written: int = 0  # the number of the commit that held it (for the group sync)
    error: OutboxError | None = None


#: Commits without a checkpoint after which an insert checkpoints itself
#: (normally :meth:`Outbox.checkpoint` runs from the pump long before).
_INLINE_CHECKPOINT_COMMITS = 2_000


class Outbox:
    """A bounded, ordered, crash-safe queue of MQTT messages in one SQLite file; thread-safe."""

    #: Called with each new alert row after its INSERT and before its COMMIT (under the
    #: outbox's lock: it must only queue the row and return).
    on_insert: Callable[[OutboxRow], None] | None = None
    #: Syncs of the WAL file that may run at once (see :mod:`drone_patrol.alerts.groupcommit`).
    max_syncs = 4
    #: Delivered rows deleted per transaction by :meth:`purge` (an insert waits for one at most).
    purge_chunk = 64

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
        self._lock = threading.Lock()  # the write side: inserts, purges, reads
        self._done_lock = threading.Lock()  # rows delivered but not yet deleted
        self._delivered: set[int] = set()
        self._unmarked: list[int] = []  # delivered marks the open transaction deleted (put back on rollback)
        self._void: set[int] = set()  # rows handed over whose commit failed (their PUBACKs are ignored)
        self._commits = CommitQueue(self._commit_locked)
        self._sync: WalSync | None = None  # the group sync of the WAL file (FULL)
        self._waiting_lock = threading.Lock()
        self._inserts_waiting = 0
        self._commits_since_checkpoint = 0
        self._ckpt_db: sqlite3.Connection | None = None
        self._ckpt_thread: threading.Thread | None = None
        self.telemetry_puts = 0  # telemetry rows buffered since opening
        self.dropped_alerts = 0
        self.dropped_telemetry = 0
        self.expired_telemetry = 0
        try:
            if str(path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=10)
            wal = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
            self._db.execute("PRAGMA wal_autocheckpoint=0")  # checkpoints run apart (see checkpoint())
            self._db.executescript(_SCHEMA)
            fd = open_wal(self.path) if wal and synchronous == "FULL" else None
            if fd is not None:
                self._sync = WalSync(fd, self.max_syncs)
            # With the group sync the commits need none; otherwise SQLite syncs as asked.
            self._sqlite_synchronous = "NORMAL" if self._sync is not None else synchronous
            self._db.execute(f"PRAGMA synchronous={self._sqlite_synchronous}")
            last = self._db.execute("SELECT MAX(seq) FROM outbox").fetchone()[0]
            # Sequence numbers are handed out here, never reused while the file is open:
            # a row whose commit failed may already be in flight under its number.
            self._next_seq = int(last or 0) + 1
            self._pending = self._count(_PENDING)
            self._rejected = self._count(_REJECTED)
        except (sqlite3.DatabaseError, OSError) as exc:
            raise OutboxError(f"outbox {self.path}: cannot open ({exc})") from None

    def _count(self, state: int) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM outbox WHERE state = ?", (state,)).fetchone()[0])

    @property
    def depth(self) -> int:
        """Rows waiting for delivery (rejected and delivered rows excluded)."""
        with self._done_lock:
            return self._pending - len(self._delivered)

    @property
    def rejected(self) -> int:
        """Rows the broker refused (dead letters, kept for inspection)."""
        return self._rejected

    @property
    def over_capacity(self) -> bool:
        """True when critical alerts alone hold the outbox past ``max_rows``."""
        return self.depth > self.max_rows

    def put_alert(self, event_id: str, topic: str, payload: bytes, severity: str, *, qos: int = 1) -> int | None:
        """Commit one alert; returns its sequence number, or ``None`` if the bound made it the victim.

        Putting an ``event_id`` already present is a no-op that returns the existing row's number.
        The row reaches :attr:`on_insert` before the commit; this returns after it.
        """
        return self.put_alerts([(event_id, topic, payload, severity)], qos=qos)[0]

    def put_alerts(self, alerts: Sequence[tuple[str, str, bytes, str]], *, qos: int = 1) -> list[int | None]:
        """Commit several alerts, each ``(event_id, topic, payload, severity)``, in one transaction
        (all or none) and, with ``FULL``, one sync; their sequence numbers as :meth:`put_alert` gives them.

        When the commit fails (:class:`OutboxError`), none is in the file, though the rows handed
        over before the failure may still reach the broker: a retry may show them twice, and the
        command room drops repeats by event id, as for any redelivery.
        """
        return self._put(
            [
                _Ticket(event_id, ALERT, _SEVERITY_RANK.get(severity, 2), topic, payload, qos, None)
                for event_id, topic, payload, severity in alerts
            ]
        )

    def put_telemetry(self, topic: str, payload: bytes, *, ttl_s: float) -> int | None:
        """Buffer one telemetry sample (QoS 0) until ``ttl_s`` from now; ``None`` if the outbox is full."""
        self.telemetry_puts += 1
        return self._put([_Ticket(None, TELEMETRY, -1, topic, payload, 0, self._clock() + ttl_s)])[0]

    def _put(self, tickets: list[_Ticket]) -> list[int | None]:
        """Commit the rows together, with whatever else is queued (group commit, no disk sync
        there), then, with ``FULL``, wait for a group sync that covers the commit."""
        if not tickets:
            return []
        self._commits.submit_all(tickets)
        for t in tickets:
            if t.error is not None:
                raise t.error
        if self._sync is not None:
            try:
                self._sync.wait(tickets[-1].written)  # one commit held them all
            except WalSyncError as exc:
                raise OutboxError(f"outbox {self.path}: cannot sync to disk ({exc.strerror})") from None
        return [t.seq for t in tickets]

    def _commit_locked(self, batch: list[_Ticket]) -> None:
        with self._waiting_lock:
            self._inserts_waiting += 1  # read by purge(), which gives way
        try:
            with self._lock:
                with self._waiting_lock:
                    self._inserts_waiting -= 1
                self._commit(batch)
        except BaseException as exc:  # e.g. KeyboardInterrupt in the leader: no caller is told "committed"
            error = OutboxError(f"outbox {self.path}: commit interrupted ({exc!r})")
            for t in batch:
                t.seq, t.error = None, t.error or error
            raise

    def _commit(self, batch: list[_Ticket]) -> None:
        """INSERT the batch and COMMIT it in one transaction; each row goes to :attr:`on_insert` before the COMMIT."""
        dropped = (self.dropped_alerts, self.dropped_telemetry)
        try:
            self._db.execute("BEGIN IMMEDIATE")
            for t in batch:
                self._place(t)
            for t in batch:
                if t.fresh is not None and self.on_insert is not None:
                    self.on_insert(t.fresh)  # on the wire before the commit
            self._db.execute("COMMIT")
        except BaseException as exc:  # the file, the hand-over, an interrupt: nothing of the batch is committed
            self._roll_back()
            self.dropped_alerts, self.dropped_telemetry = dropped  # the evictions were rolled back too
            # Rows handed over before the failure may still reach the broker: their PUBACKs
            # must not count as deliveries of rows that are not in the file.
            self._void_rows([t.fresh.seq for t in batch if t.fresh is not None])
            error = OutboxError(f"outbox {self.path}: cannot write ({exc})")
            for t in batch:
                t.seq, t.fresh, t.error = None, None, error
            if not isinstance(exc, Exception):
                raise
            return
        self._unmarked = []
        written = self._sync.committed() if self._sync is not None else 0
        for t in batch:
            t.written = written
        if self._pending > self.max_rows:
            log.error("outbox holds %d critical alerts, past its bound of %d", self._pending, self.max_rows)
        self._commits_since_checkpoint += 1
        if self._commits_since_checkpoint >= _INLINE_CHECKPOINT_COMMITS:
            self._checkpoint_locked()

    def _place(self, t: _Ticket) -> None:
        """INSERT one row inside the open transaction (or leave it out: duplicate, or the victim)."""
        if self._pending >= self.max_rows:
            if self._existing(t):
                return
            if not self._make_room(t.cls, t.rank):
                if t.cls == TELEMETRY:
                    self.dropped_telemetry += 1
                else:
                    self.dropped_alerts += 1
                    log.warning("outbox full (%d rows): new alert %s dropped", self._pending, t.event_id)
                return
        seq = self._next_seq
        now = self._clock()
        cur = self._db.execute(
            "INSERT INTO outbox (seq, event_id, class, severity, topic, payload, qos, created_s, expires_s)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING",
            (seq, t.event_id, t.cls, t.rank, t.topic, t.payload, t.qos, now, t.expires_s),
        )
        if cur.rowcount == 0:  # the same event id is already waiting: putting it again is a no-op
            self._existing(t)
            return
        self._next_seq += 1
        t.seq = seq
        if t.cls == ALERT:
            t.fresh = OutboxRow(seq, t.event_id, t.cls, t.rank, t.topic, t.payload, t.qos, now, t.expires_s)
        self._pending += 1

    def _existing(self, t: _Ticket) -> bool:
        """True (and ``t.seq`` set) when ``t``'s event id is already in the file."""
        if t.event_id is None:
            return False
        row = self._db.execute("SELECT seq FROM outbox WHERE event_id = ?", (t.event_id,)).fetchone()
        if row is not None:
            t.seq = int(row[0])
        return row is not None

    def _make_room(self, new_cls: int, new_rank: int) -> bool:
        """Evict one pending row ranked below the new one; False when the new row is the victim."""
        if self._delivered and self._delete_delivered() and self._pending < self.max_rows:
            return True  # delivered rows made the room
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
        """Up to ``limit`` pending rows of class ``cls`` after ``after_seq``, in order (delivered rows left out)."""
        with self._lock:
            if cls == TELEMETRY:
                self._expire()
            with self._done_lock:
                skip = set(self._delivered)
            rows = self._db.execute(
                "SELECT seq, event_id, class, severity, topic, payload, qos, created_s, expires_s FROM outbox"
                " WHERE state = 0 AND class = ? AND seq > ? ORDER BY seq LIMIT ?",
                (cls, after_seq, limit + len(skip)),
            ).fetchall()
        out = [OutboxRow(r[0], r[1], r[2], r[3], r[4], bytes(r[5]), r[6], r[7], r[8]) for r in rows if r[0] not in skip]
        return out[:limit]

    def _expire(self) -> None:
        cur = self._db.execute("DELETE FROM outbox WHERE state = 0 AND class = 1 AND expires_s < ?", (self._clock(),))
        if cur.rowcount:
            self._pending -= cur.rowcount
            self.expired_telemetry += cur.rowcount

    def mark_delivered(self, seqs: Iterable[int]) -> None:
        """Note rows whose PUBACK arrived: gone from :attr:`depth` and :meth:`pending` at once,
        deleted from the file by the next :meth:`purge` (a crash before it means duplicates only)."""
        with self._done_lock:
            if self._void:  # handed over, then rolled back: not rows of the file
                seqs = set(seqs)
                void = seqs & self._void
                self._void -= void
                seqs -= void
            self._delivered.update(seqs)

    def _void_rows(self, seqs: list[int]) -> None:
        """Rows handed over whose transaction rolled back (caller holds the write lock)."""
        if seqs:
            with self._done_lock:
                self._void.update(seqs)
                self._delivered.difference_update(seqs)

    def _roll_back(self) -> None:
        """ROLLBACK the open transaction; put back the delivered marks it had taken, recount."""
        with contextlib.suppress(sqlite3.DatabaseError):
            self._db.execute("ROLLBACK")
        with self._done_lock:
            self._delivered.update(self._unmarked)
        self._unmarked = []
        try:
            self._pending = self._count(_PENDING)
        except sqlite3.DatabaseError as exc:
            log.error("outbox %s: cannot count its rows after a failed write (%s)", self.path, exc)

    @property
    def commits_since_checkpoint(self) -> int:
        """Transactions committed since the WAL was last folded back."""
        return self._commits_since_checkpoint

    @property
    def delivered_unpurged(self) -> int:
        """Rows delivered but not yet deleted from the file."""
        with self._done_lock:
            return len(self._delivered)

    def purge(self, *, wait: bool = False) -> bool:
        """Delete the delivered rows without a disk sync, :attr:`purge_chunk` rows a transaction.

        Without ``wait`` it gives way to inserts: it returns False at once when one holds
        the file, and between two chunks when one is waiting for it (the rest waits for
        the next purge). True when every delivered row is gone.
        """
        if not self._lock.acquire(blocking=wait):
            return False
        try:
            if self._sqlite_synchronous != "NORMAL":
                self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: no sync on commit, checkpoints still sync
            try:
                while self._delivered:
                    if not wait and self._inserts_waiting:
                        return False
                    self._db.execute("BEGIN IMMEDIATE")
                    self._delete_delivered(self.purge_chunk)
                    self._db.execute("COMMIT")
                    self._unmarked = []
            except BaseException as exc:
                self._roll_back()  # the chunk's rows stay marked delivered, for the next purge
                if not isinstance(exc, sqlite3.DatabaseError):
                    raise
                log.warning("outbox %s: delivered rows not deleted yet (%s)", self.path, exc)
                return False
            finally:
                if self._sqlite_synchronous != "NORMAL":
                    self._db.execute(f"PRAGMA synchronous={self._sqlite_synchronous}")
            return True
        finally:
            self._lock.release()

    def _delete_delivered(self, limit: int | None = None) -> bool:
        """DELETE the delivered rows, or ``limit`` of them (caller holds the write lock, inside a transaction)."""
        with self._done_lock:
            ids = list(self._delivered)[:limit]
        removed = 0
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            removed += self._db.execute(f"DELETE FROM outbox WHERE state = 0 AND seq IN ({marks})", chunk).rowcount
        self._pending -= removed
        with self._done_lock:
            self._delivered.difference_update(ids)
        self._unmarked.extend(ids)
        return removed > 0

    def delete(self, seqs: Iterable[int]) -> None:
        """Remove delivered rows now (:meth:`mark_delivered` then a waiting :meth:`purge`)."""
        self.mark_delivered(seqs)
        self.purge(wait=True)

    def checkpoint(self) -> None:
        """Fold the WAL back into the file in a background thread (PASSIVE, on its own
        connection: inserts and the caller go on meanwhile); at most one at a time."""
        if self._commits_since_checkpoint == 0 or str(self.path) == ":memory:":
            return
        if self._ckpt_thread is not None and self._ckpt_thread.is_alive():
            return
        self._commits_since_checkpoint = 0
        self._ckpt_thread = threading.Thread(target=self._checkpoint, name="outbox-checkpoint", daemon=True)
        self._ckpt_thread.start()

    def _checkpoint(self) -> None:
        try:
            if self._ckpt_db is None:
                self._ckpt_db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
                self._ckpt_db.execute("PRAGMA synchronous=FULL")
            self._ckpt_db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.DatabaseError as exc:
            log.warning("outbox %s: checkpoint failed (%s)", self.path, exc)

    def _checkpoint_locked(self) -> None:
        self._commits_since_checkpoint = 0
        with contextlib.suppress(sqlite3.DatabaseError):
            self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")

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
        """Delete the delivered rows and close the file (a checkpoint folds the WAL back)."""
        self.purge(wait=True)
        if self._ckpt_thread is not None:
            self._ckpt_thread.join()
        if self._ckpt_db is not None:
            self._ckpt_db.close()
            self._ckpt_db = None
        with self._lock:
            with contextlib.suppress(sqlite3.DatabaseError):
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._db.close()
        if self._sync is not None:
            self._sync.close()
            self._sync = None
