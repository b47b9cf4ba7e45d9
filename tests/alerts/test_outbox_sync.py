"""Group commit: callers share transactions, and at ``FULL`` a put returns only after an fdatasync of the WAL that
began after its commit; callers share syncs; a failed sync fails the puts it covered.

``os.fdatasync`` is replaced by a recorder that can hold a sync open, so the interleavings
are forced, not timed.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from drone_patrol.alerts.groupcommit import CommitQueue
from drone_patrol.alerts.outbox import ALERT, Outbox, OutboxError, OutboxRow
from tests.alerts.helpers import wait_until


class _Syncs:
    """Stands in for ``os.fdatasync``: records what each sync covers; can hold or fail one."""

    def __init__(self, real: Callable[[int], None]) -> None:
        self.real = real
        self.outbox: Outbox | None = None
        self.covered: list[int] = []  # commits written when each sync began
        self.events: list[str] = []
        self.hold: dict[int, threading.Event] = {}  # sync number -> released when set
        self.fail: set[int] = set()

    def __call__(self, fd: int) -> None:
        assert self.outbox is not None and self.outbox._sync is not None
        number = len(self.covered)
        self.covered.append(self.outbox._sync.written)
        self.events.append(f"sync {number}")
        if number in self.hold:
            assert self.hold[number].wait(10)
        if number in self.fail:
            raise OSError(errno.EIO, "Input/output error")
        self.real(fd)


@pytest.fixture
def syncs(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Syncs]:
    rec = _Syncs(os.fdatasync)
    monkeypatch.setattr(os, "fdatasync", rec)
    yield rec


def _full(tmp_path: Path, syncs: _Syncs, max_syncs: int) -> Outbox:
    ob = Outbox(tmp_path / "outbox.sqlite", synchronous="FULL")
    assert ob._sync is not None  # a WAL file to sync
    ob._sync.max_syncs = max_syncs
    syncs.outbox = ob
    return ob


def _put_in_thread(ob: Outbox, event_id: str, done: list[str]) -> threading.Thread:
    def put() -> None:
        ob.put_alert(event_id, "t/a", b"p", "critical")
        done.append(event_id)

    thread = threading.Thread(target=put)
    thread.start()
    return thread


def test_the_row_is_handed_over_before_the_sync_and_put_returns_after_it(tmp_path: Path, syncs: _Syncs) -> None:
    ob = _full(tmp_path, syncs, 4)

    def on_insert(row: OutboxRow) -> None:
        syncs.events.append(f"handed {row.event_id}")

    ob.on_insert = on_insert
    seq = ob.put_alert("a", "t/a", b"a", "critical")
    syncs.events.append("returned")
    assert syncs.events == ["handed a", "sync 0", "returned"]
    assert syncs.covered == [1]
    ob.close()
    assert [r.seq for r in Outbox(tmp_path / "outbox.sqlite").pending(ALERT, 0, 10)] == [seq]


def test_callers_that_commit_during_a_sync_wait_and_share_the_next_one(tmp_path: Path, syncs: _Syncs) -> None:
    ob = _full(tmp_path, syncs, 1)
    syncs.hold[0] = threading.Event()
    done: list[str] = []
    first = _put_in_thread(ob, "a", done)
    assert wait_until(lambda: len(syncs.covered) == 1, 5)  # "a" is committed and its sync held open
    others = [_put_in_thread(ob, f"b{i}", done) for i in range(5)]
    reader = sqlite3.connect(str(tmp_path / "outbox.sqlite"))
    committed = lambda: reader.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]  # noqa: E731
    assert wait_until(lambda: committed() == 6, 5)  # their commits do not wait for the running sync
    assert done == []  # but none returns before a sync that began after its commit
    syncs.hold[0].set()
    for thread in [first, *others]:
        thread.join(10)
    reader.close()
    assert sorted(done) == ["a", "b0", "b1", "b2", "b3", "b4"]
    assert len(syncs.covered) == 2 and syncs.covered[1] == ob._sync.written  # one sync for the five
    ob.close()


def test_a_later_sync_covers_what_an_earlier_one_covered_whatever_finishes_first(tmp_path: Path, syncs: _Syncs) -> None:
    ob = _full(tmp_path, syncs, 2)
    syncs.hold[0] = threading.Event()
    done: list[str] = []
    first = _put_in_thread(ob, "a", done)
    assert wait_until(lambda: len(syncs.covered) == 1, 5)
    ob.put_alert("b", "t/a", b"p", "critical")  # a second sync beside the held one, and it returns first
    assert syncs.covered == [1, 2] and done == []
    syncs.hold[0].set()
    first.join(10)
    assert done == ["a"] and ob._sync.synced == 2  # the older sync finishing last takes nothing back
    ob.close()


def test_a_failed_sync_fails_the_puts_it_covered_and_a_retry_works(tmp_path: Path, syncs: _Syncs) -> None:
    ob = _full(tmp_path, syncs, 4)
    syncs.fail.add(0)
    with pytest.raises(OutboxError, match="cannot sync"):
        ob.put_alert("a", "t/a", b"p", "critical")
    # the row was written and may go out (at least once), but its caller was not promised it
    seq = ob.put_alert("a", "t/a", b"p", "critical")  # retrying the same event id: a new sync
    assert seq is not None and syncs.covered == [1, 2]
    assert ob.put_alert("b", "t/a", b"p", "critical") is not None
    assert [r.event_id for r in ob.pending(ALERT, 0, 10)] == ["a", "b"]
    ob.close()


def test_normal_durability_never_syncs_on_put(tmp_path: Path, syncs: _Syncs) -> None:
    ob = Outbox(tmp_path / "outbox.sqlite", synchronous="NORMAL")
    assert ob._sync is None
    for i in range(5):
        ob.put_alert(f"id-{i}", "t/a", b"p", "warning")
    assert syncs.covered == []
    ob.close()


def test_callers_arriving_during_a_commit_are_committed_together_by_the_first_of_them() -> None:
    batches: list[list[str]] = []
    held = threading.Event()
    leaders: list[str] = []

    def commit(batch: list[str]) -> None:
        leaders.append(threading.current_thread().name)
        batches.append(list(batch))
        if len(batches) == 1:
            assert held.wait(10)

    queue: CommitQueue[str] = CommitQueue(commit)
    first = threading.Thread(target=queue.submit, args=("a",), name="a")
    first.start()
    assert wait_until(lambda: len(batches) == 1, 5)
    others = [threading.Thread(target=queue.submit, args=(f"b{i}",), name=f"b{i}") for i in range(5)]
    for thread in others:
        thread.start()
    assert wait_until(lambda: len(queue._queue) == 5, 5)  # all five queued behind the running commit
    held.set()
    for thread in [first, *others]:
        thread.join(10)
    assert batches[0] == ["a"] and sorted(batches[1]) == ["b0", "b1", "b2", "b3", "b4"] and len(batches) == 2
    assert leaders[1] == batches[1][0]  # the first queued caller committed the batch, in its own thread
