"""Publisher and command room through a real broker (Mosquitto and amqtt)."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from drone_patrol.alerts.publisher import AlertAck, AlertPublisher
from drone_patrol.alerts.schema import AlertSchemaError, alert_from_event, validate_json_schema
from drone_patrol.alerts.subscriber import AlertSubscriber
from drone_patrol.core.types import AlertKind, VehicleState
from tests.alerts.helpers import DRONE, SITE, fast_config, make_alert, raw_listener, wait_until
from tests.brokers import MosquittoBroker, free_port, mosquitto_broker, requires_mosquitto

ROOT = Path(__file__).resolve().parents[2]


def _expected_protocol(broker: object) -> str:
    return "5" if isinstance(broker, MosquittoBroker) else "3.1.1"


def test_each_kind_round_trips_through_the_broker(any_broker: Any, tmp_path: Path) -> None:
    got: list[dict] = []
    sub = AlertSubscriber(any_broker.url, site=SITE, on_alert=got.append, persistent=False).start(wait_s=5)
    pub = AlertPublisher(fast_config(any_broker.url, tmp_path / "ob.sqlite"), SITE, DRONE).start()
    try:
        sent = {kind: make_alert(kind, 7, thumbnail=b"\xff\xd8jpeg") for kind in AlertKind}
        ids = {pub.publish_alert(a): a for a in sent.values()}
        assert wait_until(lambda: len(got) == 3, 5), pub.metrics
        assert pub.flush(2) and pub.outbox_depth == 0
        assert pub.protocol == sub.protocol == _expected_protocol(any_broker)
        for envelope in got:
            validate_json_schema(envelope)
            back = alert_from_event(envelope)
            original = ids[envelope["id"]]
            assert (back.kind, back.incident_id, back.figures) == (
                original.kind,
                original.incident_id,
                original.figures,
            )
            assert back.thumbnail_jpeg == original.thumbnail_jpeg
    finally:
        pub.stop()
        sub.stop()


@requires_mosquitto
def test_mqtt5_properties_are_set(tmp_path: Path) -> None:
    with mosquitto_broker(tmp_path / "b") as broker, raw_listener(broker.port, "dronepatrol/#") as seen:
        pub = AlertPublisher(fast_config(broker.url, tmp_path / "ob.sqlite", message_expiry_s=900), SITE, DRONE)
        try:
            pub.start()
            event_id = pub.publish_alert(make_alert())
            assert wait_until(lambda: any(m.topic.endswith("/alerts/thermal_hotspot") for m in seen), 5)
        finally:
            pub.stop()
    msg = next(m for m in seen if m.topic == f"dronepatrol/{SITE}/{DRONE}/alerts/thermal_hotspot")
    assert msg.qos == 1
    assert msg.properties.ContentType == "application/cloudevents+json"
    assert ("ce-id", event_id) in msg.properties.UserProperty
    assert 890 <= msg.properties.MessageExpiryInterval <= 900


def _spawn_publisher(url: str, outbox: Path, *args: str) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "tests.alerts.publisher_proc", "--broker", url, "--outbox", str(outbox), *args]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_retained_status_and_last_will_of_a_killed_publisher(any_broker: Any, tmp_path: Path) -> None:
    statuses: list[dict] = []
    sub = AlertSubscriber(
        any_broker.url, site=SITE, persistent=False, on_status=lambda s, d, doc: statuses.append(doc)
    ).start(wait_s=5)
    proc = _spawn_publisher(any_broker.url, tmp_path / "ob.sqlite")
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "connected"
        assert wait_until(lambda: any(s.get("mission_state") == "patrolling" for s in statuses), 5), statuses
        online = next(s for s in statuses if s.get("mission_state") == "patrolling")
        assert online["state"] == "online" and online["battery_percent"] == 80 and online["drone"] == DRONE
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)
        assert wait_until(lambda: statuses[-1]["state"] == "offline", 5), statuses
        assert statuses[-1]["reason"] == "connection lost"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        sub.stop()
    late: list[dict] = []
    sub2 = AlertSubscriber(any_broker.url, persistent=False, on_status=lambda s, d, doc: late.append(doc))
    try:
        sub2.start(wait_s=5)
        assert wait_until(lambda: bool(late), 5)
        assert late[-1]["state"] == "offline"  # retained: a newcomer learns the drone is gone
    finally:
        sub2.stop()


def test_command_room_ack_reaches_the_drone(any_broker: Any, tmp_path: Path) -> None:
    got: list[dict] = []
    acks: list[AlertAck] = []
    sub = AlertSubscriber(any_broker.url, on_alert=got.append, persistent=False).start(wait_s=5)
    pub = AlertPublisher(fast_config(any_broker.url, tmp_path / "ob.sqlite"), SITE, DRONE)
    pub.on_ack(acks.append)
    try:
        pub.start()
        assert wait_until(lambda: pub.connected, 5)
        event_id = pub.publish_alert(make_alert(AlertKind.CROWD_GATHERING))
        assert wait_until(lambda: len(got) == 1, 5)
        ack_id = sub.ack(event_id, by="officer-7", note="unit 12 dispatched")
        assert wait_until(lambda: len(acks) == 1, 5)
        assert (acks[0].target_id, acks[0].by, acks[0].ack_id) == (event_id, "officer-7", ack_id)
        sub.ack(got[0]["data"]["incident_id"], by="officer-7")  # a whole incident
        assert wait_until(lambda: len(acks) == 2, 5)
    finally:
        pub.stop()
        sub.stop()


def test_persistent_command_room_gets_what_was_sent_while_away(any_broker: Any, tmp_path: Path) -> None:
    got: list[dict] = []
    sub = AlertSubscriber(any_broker.url, on_alert=got.append, client_id="cr-persist", persistent=True)
    sub.start(wait_s=5)
    sub.stop()
    pub = AlertPublisher(fast_config(any_broker.url, tmp_path / "ob.sqlite"), SITE, DRONE).start()
    try:
        ids = {pub.publish_alert(make_alert(AlertKind.VEHICLE, i)) for i in range(5)}
        assert pub.flush(5)
        back = AlertSubscriber(any_broker.url, on_alert=got.append, client_id="cr-persist", persistent=True)
        back.start(wait_s=5)
        try:
            assert wait_until(lambda: len(got) == 5, 5), got
            assert {e["id"] for e in got} == ids
        finally:
            back.stop()
    finally:
        pub.stop()


@requires_mosquitto
def test_missing_broker_at_start_is_not_fatal(tmp_path: Path) -> None:
    port = free_port()
    broker = MosquittoBroker(tmp_path / "b", port)
    got: list[dict] = []
    broker.start()  # once, to leave a persistent command-room session in the broker's file
    sub = AlertSubscriber(broker.url, on_alert=got.append, client_id="cr-missing").start(wait_s=5)
    sub.stop()
    broker.stop()
    pub = AlertPublisher(fast_config(broker.url, tmp_path / "ob.sqlite"), SITE, DRONE)
    try:
        pub.start()
        ids = {pub.publish_alert(make_alert(AlertKind.THERMAL_HOTSPOT, i)) for i in range(3)}
        pub.publish_status("online", mission_state="takeoff")
        assert pub.publish_telemetry(VehicleState(time_s=1.0, battery_percent=90.0))  # buffered
        assert wait_until(lambda: pub.metrics["state"].startswith("unreachable"), 5), pub.metrics
        assert not pub.connected and pub.outbox_depth == 4
        assert pub.status_doc()["state"] == "not connected" and pub.status_doc()["outbox_depth"] == 4
        assert pub.flush(0.2) is False
        broker.start()
        sub = AlertSubscriber(broker.url, on_alert=got.append, client_id="cr-missing").start(wait_s=5)
        assert wait_until(lambda: pub.connected, 5)
        assert pub.flush(5) and pub.outbox_depth == 0
        assert wait_until(lambda: len(got) == 3, 5)
        assert {e["id"] for e in got} == ids
        assert pub.metrics["telemetry_buffered"] == 1
    finally:
        pub.stop()
        sub.stop()
        broker.stop()


def test_status_document_is_json_with_fields(any_broker: Any, tmp_path: Path) -> None:
    docs: list[dict] = []
    sub = AlertSubscriber(any_broker.url, persistent=False, on_status=lambda s, d, doc: docs.append(doc))
    sub.start(wait_s=5)
    pub = AlertPublisher(fast_config(any_broker.url, tmp_path / "ob.sqlite"), SITE, DRONE).start()
    try:
        pub.publish_status("patrolling", battery_percent=55.5, area="cell-2")
        assert wait_until(lambda: any(d["state"] == "patrolling" for d in docs), 5)
        doc = next(d for d in docs if d["state"] == "patrolling")
        assert doc["battery_percent"] == 55.5 and doc["area"] == "cell-2" and "outbox_depth" in doc
        json.dumps(doc)
    finally:
        pub.stop()
        sub.stop()
    assert wait_until(lambda: docs[-1]["state"] == "offline", 2) and docs[-1]["reason"] == "stopped"


def test_telemetry_at_qos0_and_a_vehicle_alert(any_broker: Any, tmp_path: Path) -> None:
    from drone_patrol.alerts.schema import vehicle_alert
    from drone_patrol.core.types import GeoPoint

    samples: list[dict] = []
    alerts: list[dict] = []
    sub = AlertSubscriber(
        any_broker.url, persistent=False, on_alert=alerts.append, on_telemetry=lambda s, d, doc: samples.append(doc)
    ).start(wait_s=5)
    pub = AlertPublisher(fast_config(any_broker.url, tmp_path / "ob.sqlite"), SITE, DRONE).start()
    try:
        assert wait_until(lambda: pub.connected, 5)
        state = VehicleState(time_s=1.0e9, position=GeoPoint(25.28, 110.29, 180.0), battery_percent=64.0, mode="AUTO")
        assert pub.publish_telemetry(state)
        assert not pub.publish_telemetry(state)  # within the same second: skipped
        assert wait_until(lambda: len(samples) == 1, 5)
        assert samples[0]["battery_percent"] == 64.0 and samples[0]["mode"] == "AUTO"
        event = vehicle_alert(
            "fence_breach", "critical", "left the geofence", {"distance_m": 12.5}, site=SITE, drone=DRONE
        )
        pub.publish_alert(event)
        assert wait_until(lambda: len(alerts) == 1, 5)
        assert alerts[0]["type"] == "org.dronepatrol.alert.vehicle"
        assert alerts[0]["data"]["location"] is None
        validate_json_schema(alerts[0])
        assert alerts[0]["data"]["figures"] == {"distance_m": 12.5, "event": "fence_breach"}
    finally:
        pub.stop()
        sub.stop()


def test_archive_drops_a_replayed_alert_after_the_watcher_restarts(any_broker: Any, tmp_path: Path) -> None:
    archive = tmp_path / "room.sqlite"
    alert = make_alert(AlertKind.THERMAL_HOTSPOT)
    got: list[dict] = []
    for round_ in range(2):  # the same event id sent again, as a restarted drone's outbox replay would
        sub = AlertSubscriber(any_broker.url, on_alert=got.append, persistent=False, archive_path=archive)
        sub.start(wait_s=5)
        pub = AlertPublisher(fast_config(any_broker.url, tmp_path / f"ob{round_}.sqlite"), SITE, DRONE).start()
        try:
            pub.publish_alert(alert)
            assert pub.flush(5)
            assert wait_until(lambda s=sub: s.metrics["received"] + s.metrics["duplicates"] == 1, 5)
        finally:
            pub.stop()
            sub.stop()
    assert [e["id"] for e in got] == [alert.alert_id]


@requires_mosquitto
def test_a_failing_callback_never_stops_the_network_thread(tmp_path: Path) -> None:
    calls: list[str] = []

    def flaky(envelope: dict) -> None:
        calls.append(envelope["id"])
        if len(calls) == 1:
            raise RuntimeError("display crashed")

    acks: list[AlertAck] = []

    def flaky_ack(ack: AlertAck) -> None:
        acks.append(ack)
        raise ValueError("drone-side handler bug")

    with mosquitto_broker(tmp_path / "b") as broker:
        sub = AlertSubscriber(broker.url, on_alert=flaky, persistent=False).start(wait_s=5)
        pub = AlertPublisher(fast_config(broker.url, tmp_path / "ob.sqlite"), SITE, DRONE)
        pub.on_ack(flaky_ack)
        pub.start()
        try:
            first = pub.publish_alert(make_alert(AlertKind.VEHICLE, 0))
            second = pub.publish_alert(make_alert(AlertKind.VEHICLE, 1))
            assert wait_until(lambda: calls == [first, second], 5), calls
            sub.ack(first, by="officer")
            sub.ack(second, by="officer")
            assert wait_until(lambda: len(acks) == 2, 5)
            assert pub.connected and sub.connected and sub.metrics["received"] == 2
        finally:
            pub.stop()
            sub.stop()


@requires_mosquitto
def test_forced_mqtt_311_works_on_mosquitto_without_properties(tmp_path: Path) -> None:
    with (
        mosquitto_broker(tmp_path / "b") as broker,
        raw_listener(broker.port, "dronepatrol/+/+/alerts/+", "raw5") as seen,
    ):
        got: list[dict] = []
        sub = AlertSubscriber(broker.url, on_alert=got.append, persistent=False, mqtt_version="3.1.1")
        pub = AlertPublisher(fast_config(broker.url, tmp_path / "ob.sqlite", mqtt_version="3.1.1"), SITE, DRONE)
        try:
            sub.start(wait_s=5)
            pub.start()
            event_id = pub.publish_alert(make_alert(AlertKind.THERMAL_HOTSPOT))
            assert wait_until(lambda: [e["id"] for e in got] == [event_id] and len(seen) == 1, 5)
            assert pub.protocol == sub.protocol == "3.1.1"
            assert seen[0].properties is None or not getattr(seen[0].properties, "ContentType", None)
        finally:
            pub.stop()
            sub.stop()


@requires_mosquitto
def test_shared_subscription_splits_alerts_between_command_rooms(tmp_path: Path) -> None:
    a: list[dict] = []
    b: list[dict] = []
    with mosquitto_broker(tmp_path / "b") as broker:
        room_a = AlertSubscriber(broker.url, on_alert=a.append, client_id="room-a", share_group="room").start(wait_s=5)
        room_b = AlertSubscriber(broker.url, on_alert=b.append, client_id="room-b", share_group="room").start(wait_s=5)
        pub = AlertPublisher(fast_config(broker.url, tmp_path / "ob.sqlite"), SITE, DRONE).start()
        try:
            ids = {pub.publish_alert(make_alert(AlertKind.THERMAL_HOTSPOT, i)) for i in range(20)}
            assert wait_until(lambda: len(a) + len(b) == 20, 5)
            assert {e["id"] for e in a} | {e["id"] for e in b} == ids
            assert a and b  # both members got a share
        finally:
            pub.stop()
            room_a.stop()
            room_b.stop()


@requires_mosquitto
def test_a_frames_alerts_go_together_in_order_and_a_bad_one_stops_all_of_them(tmp_path: Path) -> None:
    with mosquitto_broker(tmp_path / "b") as broker, raw_listener(broker.port, "dronepatrol/#") as seen:
        pub = AlertPublisher(fast_config(broker.url, tmp_path / "ob.sqlite"), SITE, DRONE)
        try:
            pub.start()
            frame = [make_alert(kind, i) for i, kind in enumerate([*AlertKind, AlertKind.THERMAL_HOTSPOT])]
            broken = dataclasses.replace(frame[0], figures={})  # a hotspot without its temperature
            with pytest.raises(AlertSchemaError, match="max_temperature_c"):
                pub.publish_alerts([*frame[:2], broken])
            assert pub.outbox_depth == 0 and pub.metrics["alerts_queued"] == 0  # none of them committed
            ids = pub.publish_alerts(frame)
            assert ids == [a.alert_id for a in frame] and pub.metrics["alerts_queued"] == len(frame)
            alerts = lambda: [m for m in seen if "/alerts/" in m.topic]  # noqa: E731
            assert wait_until(lambda: len(alerts()) == len(frame), 5)
            assert [json.loads(m.payload)["id"] for m in alerts()] == ids  # in the order given
            assert pub.flush(2) and pub.outbox_depth == 0
        finally:
            pub.stop()
