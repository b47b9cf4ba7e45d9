"""The drone side, the watcher and dashboards on the three-node NATS cluster, through a station bridge.

Everything runs the shipped configs: ``configs/city/nats-node.conf`` and ``city-users.conf``
on three nodes, ``configs/city/station-bridge.conf`` on the station's Mosquitto.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest

from drone_patrol.alerts.connection import BrokerConnectionError, ClientSettings
from drone_patrol.alerts.publisher import AlertAck, AlertPublisher
from drone_patrol.alerts.subscriber import AlertSubscriber
from drone_patrol.core.config import AlertsConfig
from drone_patrol.dashboard.app import Dashboard, DashboardOptions
from tests.brokers import MosquittoBroker
from tests.city.servers import (
    COMMAND_ROOM_PASSWORD,
    DASHBOARD_PASSWORD,
    NatsCluster,
    requires_mosquitto,
    requires_nats,
)
from tests.dashboard.helpers import MqttTestClient, get_json, http, make_alert, wait_until

pytestmark = [requires_nats, requires_mosquitto]


def room_settings(url: str, user: str = "dashboard", password: str = DASHBOARD_PASSWORD) -> ClientSettings:
    return ClientSettings.from_url(url, username=user, password=password, reconnect_min_s=0.2, reconnect_max_s=1.0)


def dashboard(cluster: NatsCluster, node: int, archive: Path, client_id: str) -> Dashboard:
    url = cluster.nodes[node].mqtt_url
    dash = Dashboard(
        DashboardOptions(
            broker_url=url, client=room_settings(url), site="+", archive_path=archive, port=0, client_id=client_id
        )
    )
    dash.start()
    assert dash.bridge.wait_connected(20), "dashboard did not connect to the cluster"
    return dash


def through_once(sender: AlertPublisher, got: list[dict], drone: str, timeout_s: float = 30.0) -> None:
    """Publish alerts until one arrives: the watcher's subscription is then in place.

    A subscription exists only once the broker has made its replicated consumer, after the
    CONNACK; an alert published before that is not the subscriber's to get.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        alert = make_alert(drone=drone)
        sender.publish_alert(alert)
        until = time.monotonic() + 2.0
        while time.monotonic() < until:
            if any(e["id"] == alert.alert_id for e in got):
                return
            time.sleep(0.05)
    raise AssertionError(f"no alert of {drone} reached the watcher within {timeout_s} s")


def test_drone_to_city_room_through_the_station_bridge(
    cluster: NatsCluster, station: MosquittoBroker, tmp_path: Path
) -> None:
    """Publisher -> station Mosquitto -> bridge -> cluster -> watcher and dashboard (MQTT 3.1.1), acks back down."""
    dash = dashboard(cluster, 1, tmp_path / "dash.sqlite", f"city-dash-{uuid.uuid4().hex[:6]}")
    watcher = AlertSubscriber(
        cluster.nodes[2].mqtt_url,
        settings=room_settings(cluster.nodes[2].mqtt_url, "command-room", COMMAND_ROOM_PASSWORD),
        client_id=f"city-watch-{uuid.uuid4().hex[:6]}",
        persistent=True,
    ).start(wait_s=20)
    config = AlertsConfig(
        broker_url=station.url, outbox_path=tmp_path / "outbox.sqlite", reconnect_min_s=0.1, keepalive_s=5
    )
    pub = AlertPublisher(config, "dongxi", "drone-7").start()
    acks: list[AlertAck] = []
    pub.on_ack(acks.append)
    try:
        assert watcher.wait_connected(20)
        assert dash.bridge.protocol == watcher.protocol == "3.1.1"  # NATS refuses MQTT 5; both fell back
        assert wait_until(lambda: pub.connected, 5.0, "publisher connected")
        pub.publish_status("online", mission_state="patrolling")
        alert = make_alert(drone="drone-7")
        event_id = pub.publish_alert(alert)
        assert pub.flush(5.0)
        row = wait_until(lambda: (r := get_json(dash.url + "api/alerts")["alerts"]) and r[0], 20.0, "alert in city")
        assert row["event_id"] == event_id and row["site"] == "dongxi" and row["thumbnail_url"]
        assert wait_until(lambda: watcher.metrics["received"] >= 1, 10.0, "watcher got the alert")

        def drone_7() -> dict | None:
            drones = get_json(dash.url + "api/drones")["drones"]
            return next((d for d in drones if d["key"] == "dongxi/drone-7" and d["online"]), None)

        assert wait_until(drone_7, 10.0, "drone-7 online in the city")["status"]["mission_state"] == "patrolling"

        # The city dashboard's ack goes down the bridge to the drone.
        assert http("POST", dash.url + f"api/alerts/{event_id}/ack", {"by": "city duty officer"})[0] == 200
        assert wait_until(lambda: acks, 20.0, "ack at the drone")
        assert acks[0].target_id == event_id and acks[0].by == "city duty officer"

        # A second dashboard started later sees the retained status from another node.
        late = dashboard(cluster, 0, tmp_path / "late.sqlite", f"city-dash-{uuid.uuid4().hex[:6]}")
        try:
            got = wait_until(
                lambda: next((d for d in get_json(late.url + "api/drones")["drones"] if d["online"]), None),
                20.0,
                "retained status on the late dashboard",
            )
            assert got["key"] == "dongxi/drone-7"
        finally:
            late.stop()
    finally:
        pub.stop(flush_timeout_s=0)
        watcher.stop()
        dash.stop()


def test_a_queued_alert_survives_the_watchers_node_dying(
    cluster: NatsCluster, station: MosquittoBroker, tmp_path: Path
) -> None:
    """QoS 1 alerts for a persistent session are kept by the cluster while its node is dead and its client away."""
    client_id = f"city-watch-{uuid.uuid4().hex[:6]}"
    node = cluster.nodes[2]
    got: list[dict] = []

    def watcher() -> AlertSubscriber:
        return AlertSubscriber(
            node.mqtt_url,
            settings=room_settings(node.mqtt_url, "command-room", COMMAND_ROOM_PASSWORD),
            client_id=client_id,
            persistent=True,
            on_alert=got.append,
        ).start(wait_s=20)

    sender = AlertPublisher(
        AlertsConfig(broker_url=station.url, outbox_path=tmp_path / "outbox.sqlite", keepalive_s=5),
        "dongxi",
        "drone-8",
    ).start()
    first = watcher()
    try:
        through_once(sender, got, "drone-8")
    finally:
        first.stop()
    cluster.kill(node)
    try:
        alert = make_alert(drone="drone-8")
        sender.publish_alert(alert)
        assert sender.flush(5.0)
    finally:
        sender.stop()
        cluster.start_node(node)
    again = watcher()
    try:
        assert wait_until(lambda: any(e["id"] == alert.alert_id for e in got), 30.0, "queued alert after restart")
    finally:
        again.stop()


def test_a_watcher_moves_to_the_next_node_when_its_node_dies(
    cluster: NatsCluster, station: MosquittoBroker, tmp_path: Path
) -> None:
    """Given every node's URL, the watcher carries on through another node while its first one is dead."""
    first, other = cluster.nodes[1], cluster.nodes[0]
    urls = f"{first.mqtt_url},{other.mqtt_url}"
    got: list[dict] = []
    watcher = AlertSubscriber(
        urls,
        settings=room_settings(urls, "command-room", COMMAND_ROOM_PASSWORD),
        client_id=f"city-watch-{uuid.uuid4().hex[:6]}",
        persistent=True,
        on_alert=got.append,
    ).start(wait_s=20)
    sender = AlertPublisher(
        AlertsConfig(broker_url=station.url, outbox_path=tmp_path / "outbox.sqlite"),
        "dongxi",
        "drone-6",
    ).start()
    try:
        through_once(sender, got, "drone-6")
        cluster.kill(first)
        during = make_alert(drone="drone-6")
        sender.publish_alert(during)
        assert wait_until(lambda: any(e["id"] == during.alert_id for e in got), 30.0, "alert via the next node")
        assert watcher._settings.address.port == other.mqtt_port
    finally:
        sender.stop(flush_timeout_s=0)
        watcher.stop()
        cluster.start_node(first)
        cluster.wait_ready(first)


def test_per_user_permissions(cluster: NatsCluster, tmp_path: Path) -> None:
    """A wrong password is refused; the command room may not publish alerts, only acks."""
    url = cluster.nodes[0].mqtt_url
    bad = AlertSubscriber(url, settings=room_settings(url, "dashboard", "wrong"), persistent=False)
    with pytest.raises(BrokerConnectionError):
        bad.start(wait_s=20)
    bad.stop()
    seen: list[dict] = []
    spy = AlertSubscriber(
        url, settings=room_settings(url, "command-room", COMMAND_ROOM_PASSWORD), persistent=False, on_alert=seen.append
    ).start(wait_s=20)
    assert spy.wait_connected(20)
    secret = tmp_path / "password"
    secret.write_text(DASHBOARD_PASSWORD)
    forger = AlertPublisher(
        AlertsConfig(
            broker_url=cluster.nodes[1].mqtt_url,
            username="dashboard",
            password_file=secret,
            outbox_path=tmp_path / "outbox.sqlite",
            keepalive_s=5,
        ),
        "dongxi",
        "drone-9",
    )
    try:
        forger.start()
        forger.publish_alert(make_alert(drone="drone-9"))
        time.sleep(3.0)
        assert not any(e["source"].endswith("drone-9") for e in seen)
    finally:
        forger.stop(flush_timeout_s=0)
        spy.stop()


def _until_received(sender: MqttTestClient, topic: str, body: bytes, receiver: MqttTestClient, what: str) -> None:
    """Publish (QoS 1) until ``receiver`` has it: a subscription across the bridge is in place only after a while."""
    deadline = time.monotonic() + 30.0
    while time.monotonic() < deadline:
        sender.publish(topic, body)
        until = time.monotonic() + 2.0
        while time.monotonic() < until:
            if any(t == topic and b == body for t, b, _ in receiver.received):
                return
            time.sleep(0.05)
    raise AssertionError(f"{what} did not arrive within 30 s")


def test_commands_and_dispatch_steps_go_down_and_answers_come_up(
    cluster: NatsCluster, station: MosquittoBroker
) -> None:
    """The city command room commands a station's drone and dispatches; the drone's answer reaches the city."""
    base = "dronepatrol/dongxi/drone-5"
    drone = MqttTestClient(station.url, subscribe=f"{base}/#").start()
    room = MqttTestClient(
        cluster.nodes[2].mqtt_url,
        subscribe=f"{base}/commands/result",
        username="command-room",
        password=COMMAND_ROOM_PASSWORD,
    ).start()
    try:
        command = json.dumps({"id": uuid.uuid4().hex, "type": "org.dronepatrol.command.eyes_on"}).encode()
        _until_received(room, f"{base}/commands", command, drone, "the city's command at the drone")
        answer = json.dumps({"id": uuid.uuid4().hex, "type": "org.dronepatrol.command.result"}).encode()
        _until_received(drone, f"{base}/commands/result", answer, room, "the drone's answer in the city")
        step = json.dumps({"id": uuid.uuid4().hex, "type": "org.dronepatrol.alert.workflow"}).encode()
        _until_received(room, f"{base}/alerts/workflow", step, drone, "the city's dispatch step at the station")
        # the answer came up once: the bridge's "in" lines do not send it back down, nor up again
        time.sleep(1.0)
        assert sum(1 for t, b, _ in drone.received if b == answer) == 1
    finally:
        drone.stop()
        room.stop()
