"""The shared writer's backstop on a real SQLite archive: what arrived is checked late and stored when missing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from drone_patrol.dashboard.archive import Archive
from drone_patrol.dashboard.archive_backstop import ArchiveBackstop
from drone_patrol.dashboard.model import AlertMessage, Topic, ack_payload, parse_ack, parse_alert
from drone_patrol.dashboard.workflow import WorkflowStep
from tests.dashboard.helpers import event_of, make_alert

T0 = 1_800_000_000.0


def message() -> AlertMessage:
    topic = Topic("dongxi", "drone-1", "alert", "thermal_hotspot")
    return parse_alert(topic, "t", json.dumps(event_of(make_alert())).encode())


@pytest.fixture
def archive(tmp_path: Path) -> Any:
    arc = Archive(tmp_path / "a.sqlite")
    yield arc
    arc.close()


def test_only_what_the_archive_lacks_is_stored_and_only_once_due(archive: Archive) -> None:
    backstop = ArchiveBackstop(archive, confirm_after_s=30.0)
    stored_by_writer, lost = message(), message()
    archive.add_message(stored_by_writer, T0)
    for msg in (stored_by_writer, lost, lost):  # the second copy of `lost` is a QoS 1 redelivery
        backstop.expect(msg, T0)
    assert backstop.status()["waiting"] == 2
    assert backstop.run(T0 + 29.0) == 0  # not due yet: the writer may still store it
    assert archive.stored_ids("message", [lost.id]) == set()
    assert backstop.run(T0 + 30.0) == 1
    assert archive.stored_ids("message", [stored_by_writer.id, lost.id]) == {stored_by_writer.id, lost.id}
    assert archive.message(lost.id)["received_s"] == T0  # when the room received it, not when it was rescued
    assert backstop.status() == {"waiting": 0, "checked": 2, "stored_here": 1}
    assert backstop.run(T0 + 100.0) == 0


def test_acks_and_dispatch_steps_too(archive: Archive) -> None:
    backstop = ArchiveBackstop(archive, confirm_after_s=1.0)
    doc = ack_payload("event-1", by="Sgt Li", site="dongxi", drone="drone-1", time_s=T0)
    ack = parse_ack(Topic("dongxi", "drone-1", "ack"), "t", json.dumps(doc).encode())
    step = WorkflowStep("step-1", "incident-1", "dispatched", "desk", T0, "dongxi", "drone-1", unit="car 3")
    backstop.expect(ack, T0)
    backstop.expect(step, T0)
    assert backstop.run(T0 + 1.0) == 2
    assert archive.stored_ids("ack", [ack.ack_id, "other"]) == {ack.ack_id}
    assert archive.stored_ids("workflow", ["step-1"]) == {"step-1"}


def test_past_the_cap_the_oldest_are_checked_at_once(archive: Archive) -> None:
    backstop = ArchiveBackstop(archive, confirm_after_s=30.0, max_pending=2)
    msgs = [message() for _ in range(3)]
    for i, msg in enumerate(msgs):
        backstop.expect(msg, T0 + i)
    assert backstop.run(T0 + 3.0) == 1
    assert archive.stored_ids("message", [m.id for m in msgs]) == {msgs[0].id}


class Unreachable:
    """An archive whose lookups fail a given number of times (the database down), then a real one."""

    def __init__(self, real: Archive, failures: int) -> None:
        self.real, self.failures = real, failures

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def stored_ids(self, kind: Any, ids: Any) -> set[str]:
        if self.failures > 0:
            self.failures -= 1
            raise OSError("archive unreachable")
        return self.real.stored_ids(kind, ids)


def test_an_unreachable_archive_keeps_the_events_for_the_next_check(archive: Archive) -> None:
    backstop = ArchiveBackstop(Unreachable(archive, failures=1), confirm_after_s=1.0)  # type: ignore[arg-type]
    first, second = message(), message()
    backstop.expect(first, T0)
    backstop.expect(second, T0 + 0.5)
    assert backstop.run(T0 + 2.0) == 0
    assert backstop.status()["waiting"] == 2
    assert [m.id for m, _ in backstop.due(T0 + 2.0)] == [first.id, second.id]  # order kept
    for msg, t in ((first, T0), (second, T0 + 0.5)):
        backstop.expect(msg, t)
    assert backstop.run(T0 + 2.0) == 2
