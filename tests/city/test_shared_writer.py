"""Dashboards splitting the city archive's writes through one shared JetStream consumer.

A three-node NATS cluster from the shipped configs, a station Mosquitto bridged up, two
dashboards on one PostgreSQL database with ``archive_queue_url``: every alert is one row,
written by one dashboard, and every dashboard's page still shows every alert. Then the
writer alone: a message taken by a writer that never finishes goes to another after the
consumer's ack_wait, and a failed write comes back.
"""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

from drone_patrol.alerts.connection import ClientSettings
from drone_patrol.dashboard.app import Dashboard, DashboardOptions
from tests.brokers import MosquittoBroker, free_port
from tests.city.servers import (
    DASHBOARD_PASSWORD,
    NatsCluster,
    requires_mosquitto,
    requires_nats,
    requires_postgres,
)
from tests.dashboard.helpers import MqttTestClient, event_of, get_json, http, make_alert, wait_until

pytest.importorskip("psycopg")
pytest.importorskip("nats")
from drone_patrol.dashboard.shared_writer import SharedArchiveWriter

pytestmark = [requires_nats, requires_postgres, requires_mosquitto]


def shared_dashboard(
    cluster: NatsCluster, node: int, db_url: str, tmp_path: Path, queue: str, confirm_after_s: float = 30.0
) -> Dashboard:
    urls = [cluster.nodes[(node + i) % len(cluster.nodes)].mqtt_url for i in range(len(cluster.nodes))]
    client = ClientSettings.from_url(
        ",".join(urls), username="dashboard", password=DASHBOARD_PASSWORD, reconnect_min_s=0.2, reconnect_max_s=1.0
    )
    dash = Dashboard(
        DashboardOptions(
            broker_url=urls[0],
            client=client,
            site="+",
            archive_path=tmp_path / f"unused-{node}.sqlite",
            archive_url=db_url,
            archive_queue_url=queue,
            archive_confirm_after_s=confirm_after_s,
            port=0,
            client_id=f"shared-{node}-{uuid.uuid4().hex[:6]}",
        )
    )
    dash.start()
    assert dash.bridge.wait_connected(20), "dashboard did not connect to the cluster"
    return dash


def publish_alerts(drone: MqttTestClient, count: int) -> list[str]:
    """``count`` alerts from drones 1-4 of dongxi; their ids."""
    sent = []
    for n in range(count):
        alert = make_alert(drone=f"drone-{n % 4 + 1}")
        drone.publish(f"dronepatrol/dongxi/{alert.drone}/alerts/{alert.kind.value}", event_of(alert))
        sent.append(alert.alert_id)
    return sent


def archived(db_url: str, ids: list[str]) -> int:
    """How many of ``ids`` the city archive holds."""
    import psycopg

    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM messages WHERE id = ANY(%s)", (ids,)).fetchone()
    return int(row[0]) if row else 0


def writer(dash: Dashboard) -> dict:
    status = get_json(dash.url + "healthz")["shared_writer"]
    assert status is not None
    return status


def test_each_alert_is_written_by_one_dashboard_and_shown_by_all(
    cluster: NatsCluster, station: MosquittoBroker, db_url: str, tmp_path: Path
) -> None:
    import psycopg

    queue = ",".join(f"nats://127.0.0.1:{n.port}" for n in cluster.nodes)
    dashes = [shared_dashboard(cluster, i, db_url, tmp_path, queue) for i in range(2)]
    drone = MqttTestClient(station.url, client_id=f"dongxi-drone-{uuid.uuid4().hex[:6]}").start()
    try:
        wait_until(lambda: all(writer(d)["pulling"] for d in dashes), 30.0, "the shared writers pulling")
        sent = publish_alerts(drone, 40)
        wait_until(lambda: archived(db_url, sent) == len(sent), 60.0, "every alert in the archive")

        def listed(dash: Dashboard) -> set[str]:
            return {a["event_id"] for a in get_json(dash.url + "api/alerts")["alerts"]}

        # every page shows every alert (received over MQTT, stored by either)
        wait_until(lambda: all(listed(d) >= set(sent) for d in dashes), 30.0, "every alert on every dashboard")
        stored = [writer(d)["stored"] for d in dashes]
        assert sum(stored) == len(sent), stored  # each alert written once, by one of them
        assert all(n > 0 for n in stored), f"one dashboard wrote everything: {stored}"
        assert all(get_json(d.url + "healthz")["archive_writes"]["stored"] == 0 for d in dashes)

        # An operator's ack on one dashboard reaches the other's list; it is stored once.
        assert http("POST", dashes[0].url + f"api/alerts/{sent[0]}/ack", {"by": "city duty officer"})[0] == 200
        wait_until(
            lambda: next(a for a in get_json(dashes[1].url + "api/alerts")["alerts"] if a["event_id"] == sent[0])[
                "acked"
            ],
            30.0,
            "the ack on the other dashboard",
        )
        with psycopg.connect(db_url, autocommit=True) as conn:
            acks = conn.execute("SELECT count(*) FROM acks WHERE target_id = %s", (sent[0],)).fetchone()
        assert acks is not None and acks[0] == 1
    finally:
        drone.stop()
        for dash in dashes:
            dash.stop()


def test_what_no_writer_stores_the_backstop_stores(
    cluster: NatsCluster, station: MosquittoBroker, db_url: str, tmp_path: Path
) -> None:
    """The writer cannot reach JetStream (nothing listens on its address) while MQTT flows: every alert
    shown is in the archive a few seconds later all the same, stored by the dashboard's backstop."""

    dead_port = free_port()
    dash = shared_dashboard(cluster, 0, db_url, tmp_path, f"nats://127.0.0.1:{dead_port}", confirm_after_s=1.0)
    drone = MqttTestClient(station.url, client_id=f"dongxi-drone-{uuid.uuid4().hex[:6]}").start()
    try:
        wait_until(lambda: get_json(dash.url + "healthz")["broker_connected"], 30.0, "the dashboard subscribed")
        sent = publish_alerts(drone, 5)
        wait_until(lambda: archived(db_url, sent) == len(sent), 60.0, "every alert in the archive")
        status = writer(dash)
        assert not status["pulling"] and status["stored"] == 0 and str(dead_port) in status["last_error"]
        assert status["backstop"]["stored_here"] == len(sent)
    finally:
        drone.stop()
        dash.stop()
    # A writer that reaches JetStream again finds them waiting in the shared consumer (a dashboard's
    # writer would count them as already stored); taking them leaves the consumer empty for the next test.
    store = Recorder()
    late = start_writer(cluster, store)
    try:
        wait_until(lambda: set(store.stored) >= set(sent), 60.0, "the waiting alerts pulled")
    finally:
        late.stop()


def test_the_queue_needs_the_shared_archive(tmp_path: Path) -> None:
    from drone_patrol.core.errors import ConfigError

    with pytest.raises(ConfigError, match="archive_url"):
        Dashboard(
            DashboardOptions(
                broker_url="mqtt://127.0.0.1:1",
                site="+",
                archive_path=tmp_path / "a.sqlite",
                archive_queue_url="nats://127.0.0.1:4222",
                port=0,
            )
        )


class Recorder:
    """A store function for :class:`SharedArchiveWriter` that records what it stores."""

    def __init__(self, fail_first: bool = False, hang: bool = False) -> None:
        self.stored: list[str] = []
        self.fail_first, self.hang = fail_first, hang
        self.release = threading.Event()

    def __call__(self, topic: str, payload: bytes) -> bool:
        event_id = json.loads(payload)["id"]
        if self.hang:  # the dashboard took the message and never finishes (as if dead)
            self.stored.append(event_id)
            self.release.wait(60)
            return True
        if self.fail_first:
            self.fail_first = False
            raise RuntimeError("archive unreachable")
        self.stored.append(event_id)
        return True


def start_writer(cluster: NatsCluster, store: Recorder, **kwargs: Any) -> SharedArchiveWriter:
    urls = [f"nats://127.0.0.1:{n.port}" for n in cluster.nodes]
    w = SharedArchiveWriter(urls, store, username="dashboard", password=DASHBOARD_PASSWORD, **kwargs)
    w.start()
    wait_until(lambda: w.connected, 30.0, "the writer pulling")
    return w


def send(station: MosquittoBroker) -> str:
    drone = MqttTestClient(station.url, client_id=f"dongxi-drone-{uuid.uuid4().hex[:6]}").start()
    try:
        alert = make_alert(drone="drone-9")
        drone.publish(f"dronepatrol/dongxi/drone-9/alerts/{alert.kind.value}", event_of(alert))
        return alert.alert_id
    finally:
        drone.stop()


def test_a_message_taken_by_a_dashboard_that_dies_goes_to_another(
    cluster: NatsCluster, station: MosquittoBroker
) -> None:
    hung, healthy = Recorder(hang=True), Recorder()
    first = start_writer(cluster, hung)
    second = None
    try:
        event_id = send(station)
        wait_until(lambda: event_id in hung.stored, 30.0, "the first writer took the alert")
        second = start_writer(cluster, healthy)
        # never acknowledged by the first: after the consumer's ack_wait JetStream hands it on
        wait_until(lambda: event_id in healthy.stored, 60.0, "the alert redelivered to the second writer")
    finally:
        hung.release.set()
        first.stop()
        if second is not None:
            second.stop()


def test_a_failed_write_comes_back(cluster: NatsCluster, station: MosquittoBroker) -> None:
    store = Recorder(fail_first=True)
    writer = start_writer(cluster, store, retry_delay_s=0.5)
    try:
        event_id = send(station)
        # the writer counts a row once the store call has returned, a moment after the recorder saw it
        wait_until(lambda: writer.status()["stored"] >= 1, 60.0, "the alert stored on the second try")
        assert event_id in store.stored and writer.counts.failed >= 1
    finally:
        writer.stop()
