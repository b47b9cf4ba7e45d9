"""The SQLite archive and the folding of messages, acks and dispatch steps into incidents.

The tests that take ``open_store`` (a factory opening the same store each call, so a second
call is a restart) are the archive interface's cases: ``tests/city/test_pg_archive.py``
runs them again on PostgreSQL with its own ``open_store``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from drone_patrol.core.errors import ConfigError
from drone_patrol.core.types import AlertStatus, Severity
from drone_patrol.dashboard.archive import SCHEMA_VERSION, Archive
from drone_patrol.dashboard.archive_store import ArchiveStore
from drone_patrol.dashboard.model import Ack, AlertMessage
from drone_patrol.dashboard.report import summarize
from drone_patrol.dashboard.workflow import WorkflowStep
from tests.dashboard.helpers import make_alert
from tests.dashboard.test_workflow import T0, _night

OpenStore = Callable[[], ArchiveStore]


@pytest.fixture
def open_store(tmp_path: Path) -> Iterator[OpenStore]:
    """Open the test's SQLite archive (the same file each call); every one is closed afterwards."""
    opened: list[ArchiveStore] = []

    def make() -> ArchiveStore:
        opened.append(Archive(tmp_path / "archive.sqlite"))
        return opened[-1]

    yield make
    for arc in opened:
        arc.close()


def msg(alert) -> AlertMessage:  # type: ignore[no-untyped-def]
    return AlertMessage.from_alert(alert)


def ack(target: str, n: int, by: str = "a") -> Ack:
    return Ack(ack_id=f"ack-{n}", target_id=target, by=by, time_s=100.0 + n, site="dongxi", drone="drone-1")


def test_messages_are_stored_once_and_kept_on_disk(open_store: OpenStore) -> None:
    a = make_alert(time_s=100.0)
    with_thumb = open_store()
    assert with_thumb.add_message(msg(a), 100.5) is True
    assert with_thumb.add_message(msg(a), 101.0) is False
    with_thumb.close()
    again = open_store()
    assert again.thumbnail(a.alert_id) == a.thumbnail_jpeg
    assert [r["event_id"] for r in again.incidents(0)] == [a.alert_id]
    assert again.incidents(200) == []


def test_fold_keeps_latest_fields_first_time_and_thumbnail(open_store: OpenStore) -> None:
    arc = open_store()
    first = make_alert(time_s=100.0, severity=Severity.WARNING)
    update = make_alert(
        incident_id=first.incident_id,
        time_s=110.0,
        status=AlertStatus.UPDATE,
        severity=Severity.CRITICAL,
        thumbnail=False,
    )
    other = make_alert(time_s=105.0)
    for i, a in enumerate((first, other, update)):
        arc.add_message(msg(a), 200.0 + i)
    rows = arc.incidents(0)
    assert [r["incident_id"] for r in rows] == [first.incident_id, other.incident_id]
    top = rows[0]
    assert top["first_time_s"] == 100.0 and top["time_s"] == 110.0 and top["updates"] == 2
    assert top["severity"] == "critical" and top["max_severity"] == "critical" and top["status"] == "update"
    assert top["thumbnail_id"] == first.alert_id and top["event_id"] == update.alert_id


def test_ack_of_a_message_is_undone_by_escalation_only(open_store: OpenStore) -> None:
    arc = open_store()
    w = make_alert(time_s=100.0, severity=Severity.WARNING)
    arc.add_message(msg(w), 200.0)
    assert arc.add_ack(ack(w.alert_id, 1, "Li"), 201.0) is True
    assert arc.add_ack(ack(w.alert_id, 1, "Li"), 202.0) is False  # the same ack again
    row = arc.incident(w.incident_id)
    assert row is not None and row["acked"] and row["acked_by"] == "Li"
    same = make_alert(incident_id=w.incident_id, time_s=101.0, severity=Severity.WARNING, status=AlertStatus.UPDATE)
    arc.add_message(msg(same), 203.0)
    assert arc.incident(w.incident_id)["acked"] is True  # type: ignore[index]
    worse = make_alert(incident_id=w.incident_id, time_s=102.0, severity=Severity.CRITICAL, status=AlertStatus.UPDATE)
    arc.add_message(msg(worse), 204.0)
    assert arc.incident(w.incident_id)["acked"] is False  # type: ignore[index]
    arc.add_ack(ack(worse.alert_id, 2, "Wang"), 205.0)
    row = arc.incident(w.incident_id)
    assert row is not None and row["acked"] and row["acked_by"] == "Wang"


def test_ack_of_a_whole_incident_covers_what_was_received_before_it(open_store: OpenStore) -> None:
    arc = open_store()
    c = make_alert(time_s=100.0, severity=Severity.CRITICAL)
    arc.add_message(msg(c), 200.0)
    arc.add_ack(ack(c.incident_id, 1), 201.0)
    assert arc.incident_of(c.incident_id) == c.incident_id and arc.incident_of(c.alert_id) == c.incident_id
    assert arc.incidents(0)[0]["acked"] is True
    later = make_alert(incident_id=c.incident_id, time_s=101.0, severity=Severity.CRITICAL, status=AlertStatus.UPDATE)
    arc.add_message(msg(later), 202.0)
    assert arc.incidents(0)[0]["acked"] is True  # not more severe than what was acknowledged


def test_ack_arriving_before_its_alert_applies_when_the_alert_comes(open_store: OpenStore) -> None:
    arc = open_store()
    a = make_alert(time_s=100.0)
    arc.add_ack(ack(a.alert_id, 1), 150.0)
    assert arc.incident_of(a.alert_id) is None
    arc.add_message(msg(a), 140.0)  # received (by the broker's clock) before the ack
    assert arc.incidents(0)[0]["acked"] is True


def test_prune_removes_whole_old_incidents_only(open_store: OpenStore) -> None:
    arc = open_store()
    old = make_alert(time_s=100.0)
    kept_first = make_alert(time_s=100.0)
    kept_later = make_alert(incident_id=kept_first.incident_id, time_s=1000.0, status=AlertStatus.UPDATE)
    for i, a in enumerate((old, kept_first, kept_later)):
        arc.add_message(msg(a), 100.0 + i)
    arc.add_ack(ack(old.alert_id, 1), 200.0)
    assert arc.prune(500.0) == 1
    assert [r["incident_id"] for r in arc.incidents(0)] == [kept_first.incident_id]
    assert arc.incidents(0)[0]["updates"] == 2
    assert arc.acks() == []


def test_a_busy_night_folds_with_every_ack_and_step(open_store: OpenStore) -> None:
    """More messages than SQLite takes parameters in one statement (999 before 3.32): asked in chunks."""
    archive = open_store()
    t0 = 1.8e9
    incidents = []
    for i in range(1200):
        m = msg(make_alert(time_s=t0 + i, thumbnail=False))
        incidents.append(m.incident_id)
        archive.add_message(m, t0 + i)
        archive.add_ack(ack(m.id, i), t0 + i + 1)
        step = WorkflowStep(f"s{i}", m.incident_id, "dispatched", "Li", t0 + i + 2, "dongxi", "drone-1", unit="u1")
        archive.add_workflow_step(step, t0 + i + 2)
    rows = archive.incidents(t0 - 1)
    assert len(rows) == 1200 and {r["state"] for r in rows} == {"dispatched"}
    assert all(r["acked"] and r["units"] == ["u1"] for r in rows)
    assert archive.add_workflow_step(step, t0) is False  # stored once
    assert archive.prune(t0 + 600) == 600
    assert archive.workflow_steps(incidents[:600]) == [] and len(archive.workflow_steps(incidents)) == 600
    assert len(archive.incidents(t0 - 1)) == 600


def test_dispatch_steps_are_stored_once_and_folded_into_the_incident(open_store: OpenStore) -> None:
    arc = open_store()
    a = make_alert(time_s=T0)
    arc.add_message(msg(a), T0)
    arc.add_ack(ack(a.incident_id, 1, "Sgt Li"), T0 + 10)
    sent = WorkflowStep("s1", a.incident_id, "dispatched", "Sgt Li", T0 + 20, "dongxi", "drone-1", unit="Unit 3")
    note = WorkflowStep("s2", a.incident_id, "note", "Wang", T0 + 30, "dongxi", "drone-1", note="two people")
    done = WorkflowStep("s3", a.incident_id, "false_alarm", "Wang", T0 + 40, "dongxi", "drone-1", reason="grill")
    assert [arc.add_workflow_step(s, T0 + 50) for s in (done, sent, note)] == [True, True, True]
    assert arc.add_workflow_step(sent, T0 + 60) is False  # a redelivery
    assert [s["step_id"] for s in arc.workflow_steps([a.incident_id, "other"])] == ["s1", "s2", "s3"]
    assert arc.workflow_steps([]) == []
    arc.close()
    row = open_store().incident(a.incident_id)  # kept across a restart
    assert row is not None and row["state"] == "false_alarm" and row["outcome_reason"] == "grill"
    assert row["units"] == ["Unit 3"] and [h["by"] for h in row["history"]][-3:] == ["Sgt Li", "Wang", "Wang"]


def test_the_shift_figures_come_from_the_stored_rows(open_store: OpenStore) -> None:
    """The night of ``test_workflow._night`` stored as messages, acks and steps gives the same report."""
    arc = open_store()
    for n, row in enumerate(_night()):
        m = msg(make_alert(time_s=row["first_time_s"], incident_id=row["incident_id"]))
        arc.add_message(m, row["first_time_s"])
        for item in row["history"]:
            if item["step"] == "acknowledged":
                done = Ack(f"ack-{n}", m.incident_id, item["by"], item["time_s"], "dongxi", "drone-1")
                arc.add_ack(done, item["time_s"])
            else:
                step = WorkflowStep(
                    f"{m.incident_id}-{item['step']}",
                    m.incident_id,
                    item["step"],
                    item["by"],
                    item["time_s"],
                    "dongxi",
                    "drone-1",
                    unit=item["unit"],
                )
                arc.add_workflow_step(step, item["time_s"])
    want = summarize(_night(), T0, T0 + 6 * 3600)
    got = summarize(arc.incidents(T0 - 1), T0, T0 + 6 * 3600)
    for key in ("incidents", "states", "stages", "on_scene_targets"):
        assert got[key] == want[key]


def test_drone_positions_are_kept_and_never_go_back_in_time(open_store: OpenStore) -> None:
    arc = open_store()
    arc.save_drone_position("dongxi", "drone-2", 25.1, 110.1, 100.0)
    arc.save_drone_position("dongxi", "drone-1", 25.2, 110.2, 100.0)
    arc.save_drone_position("dongxi", "drone-1", 25.3, 110.3, 110.0)
    arc.save_drone_position("dongxi", "drone-1", 25.0, 110.0, 105.0)  # late, from another dashboard
    arc.close()
    assert open_store().drone_positions() == [
        {"site": "dongxi", "drone": "drone-1", "latitude_deg": 25.3, "longitude_deg": 110.3, "time_s": 110.0},
        {"site": "dongxi", "drone": "drone-2", "latitude_deg": 25.1, "longitude_deg": 110.1, "time_s": 100.0},
    ]


# The first release's archive layout (messages and acks only), as its files hold it.
_FIRST_RELEASE_SCHEMA = """
CREATE TABLE messages (id TEXT PRIMARY KEY, incident_id TEXT NOT NULL, site TEXT NOT NULL, drone TEXT NOT NULL,
    kind TEXT NOT NULL, status TEXT NOT NULL, severity TEXT NOT NULL, time_s REAL NOT NULL, received_s REAL NOT NULL,
    latitude_deg REAL, longitude_deg REAL, error_radius_m REAL, first_seen_s REAL, last_seen_s REAL, confidence REAL,
    area TEXT, summary TEXT NOT NULL, figures TEXT NOT NULL, thumbnail BLOB, raw TEXT NOT NULL);
CREATE INDEX messages_time ON messages (time_s);
CREATE INDEX messages_incident ON messages (incident_id);
CREATE TABLE acks (ack_id TEXT PRIMARY KEY, target_id TEXT NOT NULL, by TEXT NOT NULL, time_s REAL NOT NULL,
    site TEXT NOT NULL, drone TEXT NOT NULL, note TEXT NOT NULL, received_s REAL NOT NULL);
CREATE INDEX acks_target ON acks (target_id);
"""


def test_an_archive_of_the_first_release_opens_with_its_rows_and_gains_the_new_tables(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    a = make_alert(time_s=100.0)
    first = Archive(tmp_path / "scratch.sqlite")  # rows in today's column order, which the first release shared
    first.add_message(msg(a), 100.5)
    first.add_ack(ack(a.alert_id, 1), 101.0)
    first.close()
    old = sqlite3.connect(path)
    old.executescript(_FIRST_RELEASE_SCHEMA)
    old.execute("ATTACH ? AS src", (str(tmp_path / "scratch.sqlite"),))
    old.execute("INSERT INTO messages SELECT * FROM src.messages")
    old.execute("INSERT INTO acks SELECT * FROM src.acks")
    old.commit()
    old.close()
    upgraded = Archive(path)
    try:
        assert upgraded.stored_ids("message", [a.alert_id]) == {a.alert_id}
        (row,) = upgraded.incidents(0)
        assert row["event_id"] == a.alert_id and row["acked_by"] == "a"
        step = WorkflowStep(
            step_id="s-1", incident_id=a.incident_id, step="dispatched", by="desk", time_s=102.0,
            site="dongxi", drone="drone-1", unit="unit 3",
        )  # fmt: skip
        assert upgraded.add_workflow_step(step, 102.5) is True
        upgraded.save_drone_position("dongxi", "drone-1", 25.28, 110.29, 103.0)
        assert [d["drone"] for d in upgraded.drone_positions()] == ["drone-1"]
    finally:
        upgraded.close()
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    check.close()


def test_an_archive_of_a_newer_release_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "newer.sqlite"
    Archive(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(ConfigError, match=rf"newer.sqlite: dashboard archive of schema version {SCHEMA_VERSION + 1}"):
        Archive(path)
