"""The outbox and its group commit when a write, a sync or the caller fails half-way:
nothing committed is forgotten, nothing rolled back is counted, no later caller hangs."""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from paho.mqtt.enums import MQTTErrorCode

import drone_patrol.alerts.groupcommit as groupcommit
from drone_patrol.alerts.groupcommit import CommitQueue, WalSync, WalSyncError
from drone_patrol.alerts.outbox import ALERT, Outbox, OutboxError, OutboxRow
from drone_patrol.alerts.pump import OutboxPump


def _failing_on(calls: int) -> Any:
    """An ``on_insert`` that records the rows handed over and fails on the ``calls``-th."""
    handed: list[OutboxRow] = []

    def on_insert(row: OutboxRow) -> None:
        handed.append(row)
        if len(handed) == calls:
            raise RuntimeError("hand-over failed")

    on_insert.handed = handed  # type: ignore[attr-defined]
    return on_insert


def test_a_failed_batch_that_made_room_keeps_the_delivered_marks_and_drop_counts(tmp_path: Path) -> None:
    ob = Outbox(tmp_path / "ob.sqlite", max_rows=3)
    ob.put_alert("i1", "t/a", b"x", "info")
    delivered = [ob.put_alert(e, "t/a", b"x", "info") for e in ("a", "b")]
    ob.mark_delivered([s for s in delivered if s is not None])  # PUBACKs in, not yet purged
    ob.on_insert = _failing_on(3)
    with pytest.raises(OutboxError, match="hand-over failed"):  # room made by deleting a, b, then dropping i1
        ob.put_alerts([(e, "t/a", b"x", "critical") for e in ("c", "d", "e")])
    ob.on_insert = None
    assert (ob.depth, ob.delivered_unpurged, ob.dropped_alerts) == (1, 2, 0)
    assert [r.event_id for r in ob.pending(ALERT, 0, 10)] == ["i1"]
    assert ob.purge(wait=True) and ob.depth == 1
    ob.close()
    assert [r.event_id for r in Outbox(tmp_path / "ob.sqlite").pending(ALERT, 0, 10)] == ["i1"]  # a, b not replayed


def test_a_puback_for_a_row_that_was_rolled_back_is_not_a_delivery(tmp_path: Path) -> None:
    ob = Outbox(tmp_path / "ob.sqlite")
    ob.put_alert("real", "t/a", b"x", "critical")  # in flight, no PUBACK yet
    ob.on_insert = failing = _failing_on(2)
    with pytest.raises(OutboxError):
        ob.put_alerts([("w1", "t/a", b"x", "warning"), ("w2", "t/a", b"x", "warning")])
    ob.mark_delivered([failing.handed[0].seq])  # w1 reached the broker before the rollback
    assert ob.depth == 1 and ob.delivered_unpurged == 0  # 'real' still counts as waiting
    ob.on_insert = None
    assert ob.put_alerts([("w1", "t/a", b"x", "warning")])[0] is not None and ob.depth == 2  # the retry
    ob.close()


class _FailingCommit:
    """The outbox's connection, with COMMIT failing while ``armed`` (a full disk)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db, self.armed = db, True

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if self.armed and sql == "COMMIT":
            raise sqlite3.OperationalError("database or disk is full")
        return self.db.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.db, name)


def test_a_purge_whose_commit_fails_keeps_its_rows_marked_for_the_next(tmp_path: Path) -> None:
    ob = Outbox(tmp_path / "ob.sqlite")
    ob.mark_delivered([s for s in (ob.put_alert(f"e{i}", "t/a", b"x", "info") for i in range(3)) if s is not None])
    real = ob._db
    ob._db = _FailingCommit(real)  # type: ignore[assignment]
    assert ob.purge(wait=True) is False
    assert (ob.depth, ob.delivered_unpurged) == (0, 3)
    ob._db = real
    assert ob.purge(wait=True) and ob.delivered_unpurged == 0
    assert ob.pending(ALERT, 0, 10) == []
    ob.close()


@pytest.fixture
def fdatasync(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """``os.fdatasync`` as the group sync calls it: failing while ``fail``, slow by ``delay_s``."""
    real = os.fdatasync
    control: dict[str, Any] = {"fail": False, "delay_s": 0.0}

    def fake(fd: int) -> None:
        time.sleep(control["delay_s"])
        if control["fail"]:
            raise OSError(5, "Input/output error")
        real(fd)

    monkeypatch.setattr(groupcommit.os, "fdatasync", fake)
    yield control


def test_every_failed_sync_stays_failed_for_the_commits_it_covered(tmp_path: Path, fdatasync: dict) -> None:
    fd = os.open(tmp_path / "wal", os.O_RDWR | os.O_CREAT)
    sync = WalSync(fd)
    first = sync.committed()  # two callers share this commit; one waits now, one later
    fdatasync["fail"] = True
    with pytest.raises(WalSyncError):
        sync.wait(first)
    fdatasync["fail"] = False
    sync.wait(sync.committed())  # a later sync works
    fdatasync["fail"] = True
    with pytest.raises(WalSyncError):
        sync.wait(sync.committed())  # and another fails
    with pytest.raises(WalSyncError):  # the late caller of the first commit is still told it failed
        sync.wait(first)
    sync.close()


class _Interrupt(BaseException):
    """What a signal handler raises in the main thread (as KeyboardInterrupt does)."""


@pytest.fixture
def interrupt_main() -> Iterator[Any]:
    """``interrupt_main(after_s)``: raise :class:`_Interrupt` in this (the main) thread after ``after_s``."""
    assert threading.current_thread() is threading.main_thread()

    def handler(_signum: int, _frame: object) -> None:
        raise _Interrupt

    previous = signal.signal(signal.SIGUSR1, handler)
    main = threading.get_ident()
    timers: list[threading.Timer] = []

    def arm(after_s: float) -> None:
        timers.append(threading.Timer(after_s, signal.pthread_kill, (main, signal.SIGUSR1)))
        timers[-1].start()

    try:
        yield arm
    finally:
        for timer in timers:
            timer.cancel()
        signal.signal(signal.SIGUSR1, previous)


def _returns(target: Any, *args: Any, within_s: float = 3.0) -> bool:
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    thread.join(within_s)
    return not thread.is_alive()


def test_an_interrupted_caller_waiting_for_a_commit_leaves_the_queue_working(interrupt_main: Any) -> None:
    committed: list[list[str]] = []

    def commit(batch: list[str]) -> None:
        time.sleep(0.4)
        committed.append(batch)

    queue: CommitQueue[str] = CommitQueue(commit)
    leader = threading.Thread(target=queue.submit, args=("leader",))
    leader.start()
    time.sleep(0.1)
    interrupt_main(0.1)
    with pytest.raises(_Interrupt):
        queue.submit_all(("f1", "f2"))  # queued behind the running commit, then interrupted
    leader.join(5)
    assert _returns(queue.submit, "next") and committed == [["leader"], ["next"]]


def test_an_interrupted_sync_lets_the_next_caller_sync(tmp_path: Path, fdatasync: dict, interrupt_main: Any) -> None:
    sync = WalSync(os.open(tmp_path / "wal", os.O_RDWR | os.O_CREAT))
    commit = sync.committed()
    fdatasync["delay_s"] = 0.4
    interrupt_main(0.1)
    with pytest.raises(_Interrupt):
        sync.wait(commit)  # this caller leads the sync and is interrupted in it
    fdatasync["delay_s"] = 0.0
    assert _returns(sync.wait, commit) and sync.synced >= commit
    sync.close()


def test_an_overflow_of_staged_rows_while_the_pump_takes_them_skips_none(tmp_path: Path) -> None:
    """An inserting thread overflows the pump's staged rows while the pump thread is taking
    rows from them: every row is still sent, in order."""
    ob = Outbox(tmp_path / "ob.sqlite", synchronous="NORMAL")
    pump = OutboxPump(ob, window=100)
    pump.max_staged = 4
    ob.on_insert = pump.stage
    pump._caught_up = True
    for i in range(4):
        ob.put_alert(f"e{i}", "t/a", b"x", "critical")  # staged: full
    inserter: list[threading.Thread] = []

    class Racing(type(pump._staged)):  # type: ignore[misc]
        def popleft(self) -> OutboxRow:
            row = super().popleft()
            if not inserter:  # another thread puts two more rows now: the second overflows
                inserter.append(
                    threading.Thread(target=lambda: [ob.put_alert(f"e{i}", "t/a", b"y", "critical") for i in (4, 5)])
                )
                inserter[0].start()
                inserter[0].join(0.3)
            return row

    pump._staged = Racing(pump._staged)
    sent: list[int] = []

    def publish(topic: str, payload: bytes, qos: int, properties: object) -> SimpleNamespace:
        sent.append(len(sent) + 1)
        return SimpleNamespace(rc=MQTTErrorCode.MQTT_ERR_SUCCESS, mid=len(sent))

    client = SimpleNamespace(publish=publish)
    for _ in range(4):
        pump.feed(client, lambda row: None)  # type: ignore[arg-type]
        inserter[0].join(5)
    assert [row.seq for row in pump._inflight.values()] == [r.seq for r in ob.pending(ALERT, 0, 10)]
    assert len(pump._inflight) == 6
