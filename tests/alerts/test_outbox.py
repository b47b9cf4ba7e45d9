"""The SQLite outbox: order, delivery, dead letters, restart, and the bound's policy."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drone_patrol.alerts.outbox import ALERT, TELEMETRY, Outbox, OutboxError, OutboxRow
from tests.alerts.helpers import wait_until


def _ob(tmp_path: Path, **kw: object) -> Outbox:
    return Outbox(tmp_path / "outbox.sqlite", synchronous="NORMAL", **kw)  # type: ignore[arg-type]


def test_rows_come_back_in_order_and_leave_only_when_delivered(tmp_path: Path) -> None:
    ob = _ob(tmp_path)
    seqs = [ob.put_alert(f"id-{i}", "t/a", f"p{i}".encode(), "critical") for i in range(5)]
    assert ob.depth == 5
    rows = ob.pending(ALERT, 0, 3)
    assert [r.event_id for r in rows] == ["id-0", "id-1", "id-2"]
    assert [r.event_id for r in ob.pending(ALERT, rows[-1].seq, 10)] == ["id-3", "id-4"]
    ob.delete([seqs[0], seqs[2]])
    assert ob.depth == 3
    assert [r.event_id for r in ob.pending(ALERT, 0, 10)] == ["id-1", "id-3", "id-4"]


def test_outbox_survives_a_reopen_and_ignores_a_repeated_event_id(tmp_path: Path) -> None:
    ob = _ob(tmp_path)
    first = ob.put_alert("same", "t/a", b"1", "info")
    assert ob.put_alert("same", "t/a", b"1", "info") == first
    ob.put_alert("other", "t/a", b"2", "info")
    ob.close()
    again = _ob(tmp_path)
    assert again.depth == 2
    assert [r.payload for r in again.pending(ALERT, 0, 10)] == [b"1", b"2"]


def test_rejected_row_is_a_dead_letter_not_replayed(tmp_path: Path) -> None:
    ob = _ob(tmp_path)
    seq = ob.put_alert("denied", "dronepatrol/x/other/alerts/vehicle", b"{}", "warning")
    assert seq is not None
    ob.reject(seq, "Not authorized (135)")
    assert ob.depth == 0 and ob.rejected == 1
    assert ob.pending(ALERT, 0, 10) == []
    assert ob.dead_letters()[0][1:] == ("denied", "dronepatrol/x/other/alerts/vehicle", "Not authorized (135)")


def test_telemetry_waits_behind_alerts_and_expires(tmp_path: Path) -> None:
    now = [1000.0]
    ob = _ob(tmp_path, clock=lambda: now[0])
    ob.put_telemetry("t/telemetry", b"t1", ttl_s=10)
    ob.put_alert("a", "t/a", b"a", "info")
    assert [r.cls for r in ob.pending(ALERT, 0, 10)] == [ALERT]
    assert [r.payload for r in ob.pending(TELEMETRY, 0, 10)] == [b"t1"]
    now[0] += 11
    assert ob.pending(TELEMETRY, 0, 10) == []
    assert ob.depth == 1 and ob.expired_telemetry == 1


def test_bound_drops_telemetry_then_info_then_warning_never_critical(tmp_path: Path) -> None:
    ob = _ob(tmp_path, max_rows=10)
    for _ in range(3):
        ob.put_telemetry("t/tel", b"t", ttl_s=100)
    for i in range(3):
        ob.put_alert(f"info-{i}", "t/a", b"", "info")
    for i in range(4):
        ob.put_alert(f"warn-{i}", "t/a", b"", "warning")
    assert ob.depth == 10
    assert ob.put_telemetry("t/tel", b"t", ttl_s=100) is not None  # replaces the oldest sample
    assert ob.dropped_telemetry == 1 and ob.depth == 10
    for i in range(3):
        assert ob.put_alert(f"crit-{i}", "t/a", b"", "critical") is not None
    assert ob.pending(TELEMETRY, 0, 10) == [] and ob.dropped_telemetry == 4
    assert ob.put_telemetry("t/tel", b"t", ttl_s=100) is None  # telemetry never pushes an alert out
    for i in range(3, 6):
        ob.put_alert(f"crit-{i}", "t/a", b"", "critical")
    ids = [r.event_id for r in ob.pending(ALERT, 0, 100)]
    assert not any(i.startswith("info") for i in ids)
    assert ids == ["warn-0", "warn-1", "warn-2", "warn-3"] + [f"crit-{i}" for i in range(6)]
    assert ob.put_alert("info-late", "t/a", b"", "info") is None  # the lowest newcomer is the victim
    for i in range(6, 12):
        ob.put_alert(f"crit-{i}", "t/a", b"", "critical")
    assert ob.depth == 12 and ob.over_capacity  # criticals only, kept past the bound
    assert all(r.event_id.startswith("crit") for r in ob.pending(ALERT, 0, 100))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["telemetry", "info", "warning", "critical"]), max_size=60))
def test_policy_never_drops_an_alert_while_telemetry_is_held(items: list[str]) -> None:
    ob = Outbox(":memory:", max_rows=8, synchronous="NORMAL")
    criticals = 0
    for n, item in enumerate(items):
        before_tel = len(ob.pending(TELEMETRY, 0, 1000))
        dropped_before = ob.dropped_alerts
        if item == "telemetry":
            ob.put_telemetry("t", b"", ttl_s=1e9)
        else:
            criticals += item == "critical"
            ob.put_alert(f"{item}-{n}", "t", b"", item)
        if ob.dropped_alerts > dropped_before:
            assert before_tel == 0
    kept_critical = sum(1 for r in ob.pending(ALERT, 0, 1000) if r.severity == 2)
    assert kept_critical == criticals
    assert ob.depth <= max(8, criticals)


def test_a_new_alert_is_handed_over_before_its_commit_and_put_returns_after_it(tmp_path: Path) -> None:
    ob = _ob(tmp_path)
    seen: list[tuple[int, int]] = []

    def on_insert(row: OutboxRow) -> None:  # what the pump gets: the row, not yet in the file
        other = sqlite3.connect(str(tmp_path / "outbox.sqlite"))
        seen.append((row.seq, other.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]))
        other.close()

    ob.on_insert = on_insert
    seq = ob.put_alert("a", "t/a", b"a", "critical")
    other = sqlite3.connect(str(tmp_path / "outbox.sqlite"))
    assert seen == [(seq, 0)]  # handed over while uncommitted
    assert other.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 1  # committed on return
    other.close()
    ob.put_alert("a", "t/a", b"a", "critical")  # a repeated event id is not handed over again
    assert len(seen) == 1


def test_delivered_rows_leave_at_once_and_the_file_later_never_waiting_for_an_insert(tmp_path: Path) -> None:
    ob = _ob(tmp_path)
    seqs = [ob.put_alert(f"id-{i}", "t/a", b"p", "warning") for i in range(4)]
    ob.mark_delivered([s for s in seqs[:3] if s is not None])
    assert ob.depth == 1 and [r.event_id for r in ob.pending(ALERT, 0, 10)] == ["id-3"]
    assert ob.delivered_unpurged == 3
    with ob._lock:  # an insert holds the file: the purge gives way at once
        assert ob.purge() is False
    assert ob.purge() is True and ob.delivered_unpurged == 0 and ob.depth == 1
    # delivered but never purged (a crash): the rows come back, a duplicate and never a loss
    ob.mark_delivered([seqs[3]])  # type: ignore[list-item]
    assert ob.depth == 0
    again = _ob(tmp_path)
    assert [r.event_id for r in again.pending(ALERT, 0, 10)] == ["id-3"]


def test_concurrent_callers_share_commits_and_every_row_lands_once(tmp_path: Path) -> None:
    ob = _ob(tmp_path)
    got: list[int | None] = []
    lock = threading.Lock()

    def worker(k: int) -> None:
        for i in range(50):
            seq = ob.put_alert(f"w{k}-{i}", "t/a", b"p", "critical")
            with lock:
                got.append(seq)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert None not in got and len(set(got)) == 400 and ob.depth == 400
    ob.close()
    assert _ob(tmp_path).depth == 400


def test_a_failed_hand_over_fails_its_put_and_the_next_put_works(tmp_path: Path) -> None:
    ob = Outbox(tmp_path / "outbox.sqlite")

    def broken(_row: OutboxRow) -> None:
        raise RuntimeError("pump gone")

    ob.on_insert = broken
    with pytest.raises(OutboxError, match="pump gone"):
        ob.put_alert("a-1", "t/alerts/hotspot", b"{}", "warning")
    ob.on_insert = None
    seq = ob.put_alert("a-2", "t/alerts/hotspot", b"{}", "warning")
    assert seq is not None and ob.depth == 1
    assert [r.event_id for r in ob.pending(ALERT, 0, 10)] == ["a-2"]
    ob.close()


def test_a_purge_gives_way_to_a_waiting_insert_between_chunks(tmp_path: Path) -> None:
    ob = _ob(tmp_path)
    ob.purge_chunk = 2
    seqs = [ob.put_alert(f"id-{i}", "t/a", b"p", "warning") for i in range(7)]
    ob.mark_delivered([s for s in seqs[:6] if s is not None])
    inserter: list[threading.Thread] = []
    delete = ob._delete_delivered

    def first_chunk_then_an_insert_arrives(limit: int | None = None) -> bool:
        removed = delete(limit)
        if not inserter:  # an insert comes for the file while the purge holds it
            inserter.append(threading.Thread(target=ob.put_alert, args=("new", "t/a", b"p", "critical")))
            inserter[0].start()
            assert wait_until(lambda: ob._inserts_waiting == 1, 5)
        return removed

    ob._delete_delivered = first_chunk_then_an_insert_arrives  # type: ignore[method-assign]
    assert ob.purge() is False  # one chunk deleted, then it gave way
    inserter[0].join(5)
    assert ob.delivered_unpurged == 4 and ob.depth == 2  # id-6 and the new alert
    assert ob.purge() is True and ob.delivered_unpurged == 0
    assert [r.event_id for r in ob.pending(ALERT, 0, 10)] == ["id-6", "new"]
    ob.close()


def test_a_batch_is_one_transaction_one_sync_and_comes_back_in_order(tmp_path: Path) -> None:
    ob = Outbox(tmp_path / "outbox.sqlite")  # FULL: the group sync counts commits
    assert ob._sync is not None
    ob.put_alert("before", "t/a", b"0", "info")
    handed: list[str | None] = []
    ob.on_insert = lambda row: handed.append(row.event_id)
    commits = ob._sync.written
    seqs = ob.put_alerts(
        [(f"b-{i}", "t/a", f"p{i}".encode(), "warning") for i in range(5)] + [("before", "t/a", b"0", "info")]
    )
    assert ob._sync.written == commits + 1 and ob._sync.synced >= ob._sync.written  # one commit, synced on return
    assert handed == [f"b-{i}" for i in range(5)]  # a repeated id is neither stored nor sent again
    assert seqs[-1] == 1 and seqs[:5] == sorted(seqs[:5]) and len(set(seqs)) == 6
    assert [r.event_id for r in ob.pending(ALERT, 0, 10)] == ["before", *(f"b-{i}" for i in range(5))]
    assert ob.put_alerts([]) == []
    ob.close()


def test_a_failed_batch_leaves_none_of_its_rows(tmp_path: Path) -> None:
    ob = _ob(tmp_path)
    calls: list[str | None] = []

    def fails_on_third(row: OutboxRow) -> None:
        calls.append(row.event_id)
        if len(calls) == 3:
            raise RuntimeError("pump gone")

    ob.on_insert = fails_on_third
    with pytest.raises(OutboxError, match="pump gone"):
        ob.put_alerts([(f"x-{i}", "t/a", b"p", "critical") for i in range(4)])
    assert ob.depth == 0 and ob.pending(ALERT, 0, 10) == []
    ob.on_insert = None
    assert ob.put_alerts([("x-0", "t/a", b"p", "critical")]) == [ob.pending(ALERT, 0, 1)[0].seq]
    ob.close()
