"""Two dashboards on one shared archive (the city room): every page sees every ack and step.

Each dashboard receives every event over MQTT and the shared archive keeps each once, so
the second dashboard to receive an ack or a step finds it already stored; its pages must
still be told. Two SQLite connections on one file share rows as the city's PostgreSQL
does (``tests/city/test_pg_archive.py`` has the archive's side on PostgreSQL).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from drone_patrol.alerts.models import to_rfc3339
from drone_patrol.alerts.schema import status_payload
from drone_patrol.dashboard.archive import Archive
from drone_patrol.dashboard.core import DashboardCore
from drone_patrol.dashboard.state import EventHub, Fleet, Subscription
from tests.dashboard.helpers import alert_topic, event_of, make_alert


class Room:
    """One dashboard's core, what it publishes, and one open page."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        fleet = Fleet(track_points=10, offline_after_s=30.0)
        self.core = DashboardCore(Archive(path), fleet, EventHub(), clock=clock)
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.core.publish = lambda topic, payload, **_: self.sent.append((topic, payload))
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


T0 = 1_796_000_000.0  # the drones' clock


class Clock:
    """A dashboard's own clock, set by the test."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _status(drone: str, state: str, time_s: float, **fields: Any) -> tuple[str, bytes]:
    doc = status_payload(state, site="dongxi", drone=drone, time_s=time_s, **fields)
    return f"dronepatrol/dongxi/{drone}/status", json.dumps(doc).encode()


def _telemetry(drone: str, time_s: float) -> tuple[str, bytes]:
    doc = {"time": to_rfc3339(time_s), "latitude_deg": 25.28, "longitude_deg": 110.29, "armed": True}
    return f"dronepatrol/dongxi/{drone}/telemetry", json.dumps(doc).encode()


def test_every_dashboard_names_a_lost_drone_alike_and_the_shared_archive_keeps_one_row(tmp_path: Path) -> None:
    """Two dashboards whose clocks differ by 0.7 s, that receive the same messages at different moments
    and check the links at different moments, raise the same link alerts: same incident and alert ids,
    one row each in the archive they share."""
    clocks = Clock(T0 + 5.0), Clock(T0 + 5.7)
    rooms = [Room(tmp_path / "city.sqlite", clock) for clock in clocks]

    def both(message: tuple[str, bytes], lag_s: float = 0.0) -> None:
        for n, (room, clock) in enumerate(zip(rooms, clocks, strict=True)):
            clock.t += lag_s * (n + 1)  # the second dashboard receives it later
            room.core.handle_message(*message)

    def check(after_s: tuple[float, float]) -> None:
        for room, clock, wait_s in zip(rooms, clocks, after_s, strict=True):
            clock.t += wait_s
            room.core.check_links()

    def link_rows() -> list[dict[str, Any]]:
        rows = rooms[0].core.archive.messages(float("-inf"))
        return [r for r in rows if r["kind"] == "vehicle"]

    # drone-1 is lost (its last will, stamped when its session began), drone-2 goes silent
    for drone in ("drone-1", "drone-2"):
        both(_status(drone, "online", T0, mission_state="mission"))
        both(_telemetry(drone, T0 + 1.0), lag_s=0.05)
    both(_status("drone-1", "offline", T0 - 600.0, reason="connection lost"), lag_s=0.3)
    check((40.0, 47.0))  # both notice drone-2's silence, each at its own time
    first = link_rows()
    assert Counter(r["figures"]["event"] for r in first) == {"drone_offline": 1, "drone_silent": 1}
    assert [r["id"] for r in first] == [r["id"] for r in rooms[1].core.archive.messages(float("-inf"))]
    # the second dashboard's inserts found the first one's rows
    assert rooms[0].core.stored == {"stored": 2, "already_stored": 0}
    assert rooms[1].core.stored == {"stored": 0, "already_stored": 2}

    # drone-2 is heard again (one back-online message per outage), then lost once more: a new incident
    both(_telemetry("drone-2", T0 + 60.0), lag_s=0.1)
    check((0.5, 0.2))
    check((40.0, 33.0))
    rows = link_rows()
    events = Counter((r["drone"], r["figures"]["event"]) for r in rows)
    assert events == {
        ("drone-1", "drone_offline"): 1,
        ("drone-2", "drone_silent"): 2,
        ("drone-2", "drone_back_online"): 1,
    }
    incidents = Counter(r["incident_id"] for r in rows if r["drone"] == "drone-2")
    assert sorted(incidents.values()) == [1, 2]  # silent + back online, then the second silence

    # drone-3 goes silent and its will comes later: the first dashboard noticed the silence before the will,
    # the second got the will first. One outage: two messages (one per event) in one incident.
    both(_status("drone-3", "online", T0 + 100.0, mission_state="mission"))
    both(_telemetry("drone-3", T0 + 101.0))
    clocks[0].t += 40.0
    rooms[0].core.check_links()
    both(_status("drone-3", "offline", T0 - 600.0, reason="connection lost"))
    clocks[1].t += 5.0
    rooms[1].core.check_links()
    three = [r for r in link_rows() if r["drone"] == "drone-3"]
    assert sorted(r["figures"]["event"] for r in three) == ["drone_offline", "drone_silent"]
    assert len({r["incident_id"] for r in three}) == 1
    for room in rooms:
        room.core.archive.close()
