"""Group commit for the outbox: many callers' rows in one transaction, many commits made
durable by few ``fdatasync`` calls.

:class:`CommitQueue`: the first caller to find no commit running commits everything
queued at that moment in one go, in its own thread (no hand-off to a writer thread on the
way to the network); callers arriving meanwhile queue, and the first of them leads the
next batch. Each caller returns once the batch that held its row is committed.

:class:`WalSync`: the outbox commits with SQLite at ``synchronous=NORMAL`` (its WAL frames written to the
file, nothing flushed) and, for ``FULL``, waits here until an ``fdatasync`` of the WAL
file that *began after its commit returned* has finished: on Linux that call returns once
every page written to the file before it began is on stable storage. That is the guarantee
of SQLite's own ``FULL`` (a sync of the WAL at each commit), with the sync moved out of
the write lock. SQLite still syncs the WAL header itself when the WAL restarts, and the
WAL and the database around each checkpoint.

A caller waits for a sync already running when that sync began after its commit;
otherwise it starts one itself, up to ``max_syncs`` at once (the kernel and the disk
merge overlapping flushes, so they cost little more than one). Any sync that finishes
covers every commit done before it began, in whatever order the syncs finish. A waiting
caller is woken only when its commit is covered (or the sync that covered it failed),
or to start the next sync: never every caller on every sync.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(slots=True)
class _Entry(Generic[T]):
    items: Sequence[T]
    gate: threading.Lock | None = None  # a follower's: released when done, or to lead the next batch
    done: bool = False
    lead: bool = False  # released to lead the next batch


class CommitQueue(Generic[T]):
    """Leader/follower batching of ``commit(batch)``; thread-safe.

    ``commit`` runs in one caller's thread at a time, with every item queued when it
    began, and must not raise for one item's sake (it records failures in the items).
    """

    def __init__(self, commit: Callable[[list[T]], None]) -> None:
        self._commit = commit
        self._lock = threading.Lock()
        self._queue: list[_Entry[T]] = []
        self._running = False

    def submit(self, item: T) -> None:
        """Return once a ``commit`` call that held ``item`` has returned."""
        self.submit_all((item,))

    def submit_all(self, items: Sequence[T]) -> None:
        """Return once a ``commit`` call that held all of ``items`` (one call, in this order) has returned."""
        entry = _Entry(items)
        with self._lock:
            self._queue.append(entry)
            lead = not self._running
            if lead:
                self._running = True
            else:
                entry.gate = threading.Lock()
                entry.gate.acquire()
        if not lead:
            assert entry.gate is not None
            try:
                entry.gate.acquire()  # committed by a leader, or this caller leads the next batch
            except BaseException:  # interrupted (KeyboardInterrupt in the main thread)
                self._abandon(entry)
                raise
            if entry.done:
                return
        with self._lock:
            batch, self._queue = self._queue, []
        try:
            self._commit([item for e in batch for item in e.items])
        finally:
            with self._lock:
                self._pass_lead()
                for e in batch:
                    e.done = True
            for e in batch:
                if e.gate is not None:
                    e.gate.release()

    def _abandon(self, entry: _Entry[T]) -> None:
        """An interrupted follower leaves: out of the queue if a leader has not taken it; if it
        was woken to lead the next batch, the lead passes on (or no commit is running)."""
        with self._lock:
            if entry not in self._queue:
                return  # a leader took it: committed, or being committed
            self._queue.remove(entry)
            if entry.lead:
                self._pass_lead()

    def _pass_lead(self) -> None:
        """The first queued follower leads the next batch, or no commit runs (caller holds the lock)."""
        if self._queue:
            first = self._queue[0]
            assert first.gate is not None  # queued while a commit ran: a follower
            first.lead = True
            first.gate.release()
        else:
            self._running = False


class WalSyncError(OSError):
    """The fdatasync that covered a commit failed: the commit may not be on disk."""


class WalSync:
    """Counts commits to one file and makes them durable in groups; thread-safe.

    :meth:`committed` is called after each commit, by one thread at a time (the
    outbox's write lock); :meth:`wait` from any thread.
    """

    def __init__(self, fd: int, max_syncs: int = 4) -> None:
        self.fd = fd
        self.max_syncs = max_syncs
        self.written = 0  # commits done
        self.synced = 0  # commits a finished sync covers
        self._lock = threading.Lock()
        self._running: list[int] = []  # for each running sync, the commits it covers
        self._waiters: list[tuple[int, threading.Lock]] = []  # (commit, released when settled)
        self._failures: list[tuple[int, int, OSError]] = []  # commits (after, up to] each failed sync covered

    def committed(self) -> int:
        """Count one more commit (its write to the file has returned); returns its number."""
        self.written += 1
        return self.written

    def wait(self, written: int) -> None:
        """Return once a sync covers commit number ``written``; :class:`WalSyncError` if the one that did failed."""
        while True:
            with self._lock:
                failure = self._failure_covering(written)
                if failure is not None:
                    # A failed sync may leave the pages marked clean: a later sync proves nothing.
                    raise WalSyncError(failure.errno, f"fdatasync failed ({failure})")
                if self.synced >= written:
                    return
                lead = len(self._running) < self.max_syncs and not any(t >= written for t in self._running)
                if lead:
                    target = self.written  # every commit done before this sync begins
                    self._running.append(target)
                else:
                    gate = threading.Lock()
                    gate.acquire()
                    self._waiters.append((written, gate))
            if not lead:
                try:
                    gate.acquire()  # released by the sync that covers this commit, or to lead the next
                except BaseException:  # interrupted: leave, and let another waiter lead if this one was to
                    with self._lock:
                        self._waiters = [w for w in self._waiters if w[1] is not gate]
                        self._wake()
                    raise
                continue
            error: OSError | None = None
            try:
                os.fdatasync(self.fd)
            except OSError as exc:
                error = exc
            except BaseException:  # interrupted: this sync proves nothing; the next waiter starts one
                with self._lock:
                    self._running.remove(target)
                    self._wake()
                raise
            with self._lock:
                self._running.remove(target)
                if error is None:
                    self.synced = max(self.synced, target)
                else:
                    self._failures.append((self.synced, target, error))
                self._wake()

    def _failure_covering(self, written: int) -> OSError | None:
        """The error of a failed sync that covered commit ``written``, if any (caller holds the lock)."""
        for after, up_to, error in self._failures:
            if after < written <= up_to:
                return error
        return None

    def _wake(self) -> None:
        """Release the waiters a finished sync settled, and one to start the next sync when
        some are covered by no running sync (caller holds the lock)."""
        waiting: list[tuple[int, threading.Lock]] = []
        for written, gate in self._waiters:
            if written <= self.synced or self._failure_covering(written) is not None:
                gate.release()
            else:
                waiting.append((written, gate))
        if len(self._running) < self.max_syncs:
            for i, (written, gate) in enumerate(waiting):
                if not any(t >= written for t in self._running):
                    del waiting[i]
                    gate.release()  # its sync will cover every commit waiting now
                    break
        self._waiters = waiting

    def close(self) -> None:
        """Close the file descriptor (no caller may be waiting)."""
        os.close(self.fd)


def open_wal(db_path: Path) -> int | None:
    """A descriptor on the WAL file of the SQLite database at ``db_path``; None when there is none.

    SQLite keeps the WAL file (the same inode) while a connection is open, and truncates
    it rather than deleting it. The directory is synced once so that a power cut cannot
    lose the files' names.
    """
    try:
        fd = os.open(f"{db_path}-wal", os.O_RDWR)
    except FileNotFoundError:
        return None
    directory = os.open(db_path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return fd
