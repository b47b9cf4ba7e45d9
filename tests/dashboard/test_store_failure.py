"""A command room whose archive cannot write (a full disk) loses no alert: the message stays
unacknowledged on the broker and is taken in after the next reconnect or restart."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from drone_patrol.alerts.archive import AlertArchive
from drone_patrol.alerts.schema import ack_event
from drone_patrol.alerts.subscriber import AlertSubscriber
from drone_patrol.dashboard.app import Dashboard
from tests.brokers import MosquittoBroker
from tests.dashboard.helpers import MqttTestClient, make_alert, wait_until


def _fails_once(original: Callable[..., Any]) -> Callable[..., Any]:
    left = [1]

    def write(*args: Any) -> Any:
        if left[0]:
            left[0] -= 1
            raise sqlite3.OperationalError("database or disk is full")
        return original(*args)

    return write


def test_the_dashboard_takes_in_again_an_alert_it_could_not_store(
    make_dashboard: Callable[..., Dashboard], broker: MosquittoBroker
) -> None:
    dash = make_dashboard(client_id="dash-store")
    dash.core.archive.add_message = _fails_once(dash.core.archive.add_message)  # type: ignore[method-assign]
    drone = MqttTestClient(broker.url).start()
    try:
        alert = make_alert(thumbnail=False)
        drone.publish_alert(alert)
        time.sleep(0.5)
        assert dash.core.archive.message(alert.alert_id) is None  # the write failed
        dash.stop()
        again = make_dashboard(client_id="dash-store")  # the same session: the broker sends it again
        wait_until(lambda: again.core.archive.message(alert.alert_id), 5.0, "the alert taken in after the restart")
    finally:
        drone.stop()


def test_alerts_watch_takes_in_again_an_alert_it_could_not_store(
    broker: MosquittoBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown: list[dict[str, Any]] = []
    acks: list[dict[str, Any]] = []
    monkeypatch.setattr(AlertArchive, "add_alert", _fails_once(AlertArchive.add_alert))
    options: dict[str, Any] = {
        "on_alert": shown.append, "on_ack": acks.append, "client_id": "watch-store", "persistent": True,
        "archive_path": tmp_path / "room.sqlite",
    }  # fmt: skip
    sub = AlertSubscriber(broker.url, **options).start(wait_s=5)
    drone = MqttTestClient(broker.url).start()
    try:
        alert = make_alert(thumbnail=False)
        ack = ack_event(alert.alert_id, by="Sgt Li", site="dongxi", drone="drone-1", time_s=time.time())
        for _ in range(50):  # the same ack until one arrives (the subscription is live): shown once
            drone.publish("dronepatrol/dongxi/drone-1/alerts/ack", ack)
            if acks:
                break
            time.sleep(0.05)
        event = drone.publish_alert(alert)
        wait_until(lambda: sub.metrics["not_taken"] == 1, 5.0, "the failed write")
        assert shown == [] and len(acks) == 1 and sub.metrics["duplicates"] >= 0
        sub.stop()
        sub = AlertSubscriber(broker.url, **options).start(wait_s=5)
        wait_until(lambda: shown, 5.0, "the alert taken in after the restart")
        assert [e["id"] for e in shown] == [event["id"]] and sub.metrics["duplicates"] == 0
    finally:
        sub.stop()
        drone.stop()
