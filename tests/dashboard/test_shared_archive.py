"""Two dashboards on one shared archive (the city room): every page sees every ack and step.

Each dashboard receives every event over MQTT and the shared archive keeps each once, so
the second dashboard to receive an ack or a step finds it already stored; its pages must
still be told. Two SQLite connections on one file share rows as the city's PostgreSQL
does (``tests/city/test_pg_archive.py`` has the archive's side on PostgreSQL).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drone_patrol.dashboard.archive import Archive
from drone_patrol.dashboard.core import DashboardCore
from drone_patrol.dashboard.state import EventHub, Fleet, Subscription
from tests.dashboard.helpers import alert_topic, event_of, make_alert


class Room:
    """One dashboard's core, what it publishes, and one open page."""

    def __init__(self, path: Path) -> None:
        self.core = DashboardCore(Archive(path), Fleet(track_points=10, offline_after_s=30.0), EventHub())
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.core.publish = lambda topic, payload: self.sent.append((topic, payload))
        self.page: Subscription = self.core.hub.subscribe()

    def states_seen(self) -> list[str]:
        """The dispatch states of the alert events this page received so far."""
        out = []
        while (event := self.page.get(0.01)) is not None:
            if event.name == "alert":
                out.append(event.data["state"])
        return out


@pytest.fixture
def rooms(tmp_path: Path) -> Iterator[tuple[Room, Room]]:
    a, b = Room(tmp_path / "city.sqlite"), Room(tmp_path / "city.sqlite")
    yield a, b
    a.core.archive.close()
    b.core.archive.close()


def test_the_second_dashboard_shows_acks_and_steps_the_first_stored(rooms: tuple[Room, Room]) -> None:
    first, second = rooms
    alert = make_alert()
    for room in (first, second):  # both receive the alert; one row in the archive
        room.core.handle_message(alert_topic(alert), json.dumps(event_of(alert)).encode())
    assert len(first.core.archive.messages(0)) == 1
    assert first.states_seen() == second.states_seen() == ["new"]
    first.core.take_step(alert.incident_id, "dispatched", "Sgt Li", unit="Unit 3")
    for topic, payload in first.sent:  # the broker delivers the ack and the step to every dashboard
        for room in (first, second):
            room.core.handle_message(topic, json.dumps(payload).encode())
    assert second.states_seen()[-1] == "dispatched"
    assert second.core.alert_detail(alert.incident_id)["units"] == ["Unit 3"]  # type: ignore[index]
    assert first.states_seen()[-1] == "dispatched"


def test_a_dashboard_that_leaves_the_writes_to_a_shared_writer_still_shows_and_acks(rooms: tuple[Room, Room]) -> None:
    """``writes_archive`` off (``archive_queue_url``): the MQTT copy is shown, the writer's pull is stored."""
    shower, _ = rooms
    shower.core.writes_archive = False
    shower.core.load_incidents(0.0)
    alert = make_alert()
    topic, payload = alert_topic(alert), json.dumps(event_of(alert)).encode()
    shower.core.handle_message(topic, payload)
    assert shower.core.archive.messages(0) == []  # not stored by the MQTT copy
    assert shower.states_seen() == ["new"]  # but on the page at once
    listed = json.loads(shower.core.incidents.json(0) or b"[]")
    assert [r["event_id"] for r in listed] == [alert.alert_id]
    # the operator acknowledges before the shared writer has stored the alert
    assert shower.core.acknowledge(alert.alert_id, "Sgt Li")["acked"]
    assert shower.core.store_event(topic, payload) is True  # the writer's pull
    assert shower.core.store_event(topic, payload) is False  # a redelivery: still one row
    assert len(shower.core.archive.messages(0)) == 1
    assert shower.core.alerts(0)[0]["acked"]


def test_the_list_kept_in_memory_is_the_archives(rooms: tuple[Room, Room]) -> None:
    first, second = rooms
    for room in (first, second):
        room.core.load_incidents(0.0)
    alerts = [make_alert(drone=f"drone-{i % 3 + 1}") for i in range(6)]
    for alert in alerts:
        for room in (first, second):
            room.core.handle_message(alert_topic(alert), json.dumps(event_of(alert)).encode())
    first.core.take_step(alerts[2].incident_id, "dispatched", "Sgt Li", unit="Unit 3")
    for topic, payload in first.sent:
        second.core.handle_message(topic, json.dumps(payload).encode())
    for room in (first, second):
        for limit in (None, 2):
            kept = json.loads(room.core.incidents.json(0.0, limit) or b"null")
            assert kept == json.loads(json.dumps(room.core.alerts(0.0, limit)))
