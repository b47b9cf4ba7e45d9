"""TLS, passwords and the shipped ACL on a real Mosquitto; refusals are reported with their reason codes."""

from __future__ import annotations

from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from drone_patrol.alerts.connection import BrokerConnectionError, PublishRejectedError
from drone_patrol.alerts.publisher import AlertPublisher
from drone_patrol.alerts.subscriber import AlertSubscriber
from drone_patrol.core.types import AlertKind
from tests.alerts.helpers import DRONE, SITE, fast_config, make_alert, wait_until
from tests.brokers import mosquitto_broker, requires_mosquitto

pytestmark = requires_mosquitto

ACL = (Path(__file__).resolve().parents[2] / "configs" / "mosquitto" / "dronepatrol.acl").read_text()
USERS = {DRONE: "drone-secret", "drone-2": "other-secret", "command-room": "room-secret"}


def test_tls_with_ca_and_client_certificates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with mosquitto_broker(tmp_path / "b", tls=True, require_certificate=True, users=USERS) as broker:
        tls = broker.tls
        assert tls is not None and broker.url.startswith("mqtts://")
        got: list[dict] = []
        sub = AlertSubscriber(
            broker.url, on_alert=got.append, persistent=False, username="command-room", password="room-secret",
            tls_ca_file=tls.ca_cert, tls_cert_file=tls.client_cert, tls_key_file=tls.client_key,
        ).start(wait_s=5)  # fmt: skip
        monkeypatch.setenv("DRONE_PATROL_MQTT_PASSWORD", "drone-secret")
        cfg = fast_config(
            broker.url, tmp_path / "ob.sqlite", username=DRONE,
            tls_ca_file=tls.ca_cert, tls_cert_file=tls.client_cert, tls_key_file=tls.client_key,
        )  # fmt: skip
        pub = AlertPublisher(cfg, SITE, DRONE).start()
        try:
            assert sub.connected
            event_id = pub.publish_alert(make_alert(AlertKind.THERMAL_HOTSPOT))
            assert wait_until(lambda: [e["id"] for e in got] == [event_id], 5), pub.metrics
        finally:
            pub.stop()
            sub.stop()


def test_tls_without_the_right_ca_does_not_connect_and_says_why(tmp_path: Path) -> None:
    with mosquitto_broker(tmp_path / "b", tls=True) as broker:
        from tests.brokers import make_tls_files

        other = make_tls_files(tmp_path / "other-ca")
        pub = AlertPublisher(fast_config(broker.url, tmp_path / "ob.sqlite", tls_ca_file=other.ca_cert), SITE, DRONE)
        try:
            pub.start()
            pub.publish_alert(make_alert())
            assert wait_until(lambda: "CERTIFICATE_VERIFY_FAILED" in pub.metrics["state"], 5), pub.metrics
            assert not pub.connected and pub.outbox_depth == 1
        finally:
            pub.stop()


def test_wrong_password_is_reported_with_its_reason_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with mosquitto_broker(tmp_path / "b", users=USERS) as broker:
        sub = AlertSubscriber(broker.url, persistent=False, username="command-room", password="wrong")
        with pytest.raises(BrokerConnectionError) as info:
            sub.start(wait_s=5)
        sub.stop()
        # Mosquitto 2.0 answers a bad password on MQTT 5 with 135 Not authorized (others use 134)
        code, reason = info.value.reason_code, info.value.reason
        assert (code, reason) in ((134, "Bad user name or password"), (135, "Not authorized"))
        assert str(info.value) == f"broker {broker.url} refused the connection: {reason} ({code})"
        monkeypatch.setenv("DRONE_PATROL_MQTT_PASSWORD", "wrong")
        pub = AlertPublisher(fast_config(broker.url, tmp_path / "ob.sqlite", username=DRONE), SITE, DRONE)
        try:
            pub.start()
            pub.publish_alert(make_alert())
            assert wait_until(lambda: pub.connection_error is not None, 5)
            assert pub.connection_error.reason_code == code
            assert pub.metrics["state"] == f"refused: {reason} ({code})"
            assert not pub.connected and pub.outbox_depth == 1  # kept for when the password is fixed
        finally:
            pub.stop()


def test_acl_denial_surfaces_the_puback_reason_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with mosquitto_broker(tmp_path / "b", users=USERS, acl=ACL) as broker:
        got: list[dict] = []
        sub = AlertSubscriber(
            broker.url, on_alert=got.append, persistent=False, username="command-room", password="room-secret"
        ).start(wait_s=5)
        monkeypatch.setenv("DRONE_PATROL_MQTT_PASSWORD", "drone-secret")
        # drone-1's credentials, posing as drone-2: every write lands outside drone-1's topics
        cfg = fast_config(broker.url, tmp_path / "ob.sqlite", username=DRONE, client_id="impostor")
        impostor = AlertPublisher(cfg, SITE, "drone-2").start()
        honest = AlertPublisher(fast_config(broker.url, tmp_path / "ob2.sqlite", username=DRONE), SITE, DRONE).start()
        try:
            bad_id = impostor.publish_alert(make_alert(AlertKind.VEHICLE))
            assert wait_until(lambda: impostor.metrics["alerts_rejected"] == 1, 5), impostor.metrics
            err = impostor.last_rejected_alert  # last_error may be the status write, refused as well
            assert isinstance(err, PublishRejectedError) and err.reason_code == 135 and err.event_id == bad_id
            assert str(err) == (
                f"broker rejected publish of event {bad_id} on dronepatrol/{SITE}/drone-2/alerts/vehicle:"
                " Not authorized (135)"
            )
            assert impostor.outbox_depth == 0 and impostor.metrics["outbox_rejected"] == 1  # a dead letter
            good_id = honest.publish_alert(make_alert(AlertKind.VEHICLE))
            assert wait_until(lambda: [e["id"] for e in got] == [good_id], 5)
            sub.ack(good_id, by="officer-1")  # the command room may write acks
        finally:
            impostor.stop()
            honest.stop()
            sub.stop()


def test_acl_keeps_other_drones_alerts_from_a_drone_and_acks_to_the_command_room(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with mosquitto_broker(tmp_path / "b", users=USERS, acl=ACL) as broker:
        # Mosquitto 2.0 grants every SUBSCRIBE and filters each message by the ACL's read rules
        nosy_got: list[dict] = []
        room_got: list[dict] = []
        nosy = AlertSubscriber(
            broker.url, on_alert=nosy_got.append, persistent=False, username=DRONE, password="drone-secret"
        ).start(wait_s=5)
        room = AlertSubscriber(
            broker.url, on_alert=room_got.append, persistent=False, username="command-room", password="room-secret"
        ).start(wait_s=5)
        monkeypatch.setenv("DRONE_PATROL_MQTT_PASSWORD", "other-secret")
        other = AlertPublisher(
            fast_config(broker.url, tmp_path / "ob.sqlite", username="drone-2"), SITE, "drone-2"
        ).start()
        try:
            event_id = other.publish_alert(make_alert(AlertKind.CROWD_GATHERING))
            assert wait_until(lambda: len(room_got) == 1, 5) and room_got[0]["id"] == event_id
            assert other.flush(2) and other.last_error is None
            assert nosy_got == []
        finally:
            other.stop()
            nosy.stop()
            room.stop()
        raw = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="raw", protocol=MQTTProtocolVersion.MQTTv5)
        codes: list[int] = []
        raw.on_publish = lambda c, u, mid, rc, p: codes.append(rc.value)
        raw.username_pw_set(DRONE, "drone-secret")
        raw.connect("127.0.0.1", broker.port)
        raw.loop_start()
        try:
            raw.publish(f"dronepatrol/{SITE}/{DRONE}/alerts/ack", b"{}", qos=1).wait_for_publish(5)
            raw.publish(f"dronepatrol/{SITE}/{DRONE}/status", b"{}", qos=1).wait_for_publish(5)
        finally:
            raw.loop_stop()
            raw.disconnect()
        assert codes == [135, 16]  # a drone may not forge acks; its own status is allowed (16: no subscribers)


def test_shipped_mosquitto_conf_starts_and_enforces_tls_and_passwords(tmp_path: Path) -> None:
    """configs/mosquitto/mosquitto.conf, with its paths pointed at test files, is a working config."""
    from tests.brokers import MosquittoBroker, free_port, make_password_file, make_tls_files

    shipped = (Path(__file__).resolve().parents[2] / "configs" / "mosquitto" / "mosquitto.conf").read_text()
    tls = make_tls_files(tmp_path / "tls")
    (tmp_path / "dronepatrol.acl").write_text(ACL)
    make_password_file(tmp_path / "passwd", USERS)
    port = free_port()
    conf = shipped.replace("/etc/mosquitto/dronepatrol/", f"{tmp_path}/").replace("/var/lib/mosquitto/", f"{tmp_path}/")
    conf = conf.replace("listener 8883", f"listener {port} 127.0.0.1").replace("log_dest syslog", "log_dest stderr")
    for name in ("ca", "server"):
        conf = conf.replace(f"{tmp_path}/{name}.", f"{tmp_path}/tls/{name}.")
    broker = MosquittoBroker(tmp_path, port, tls=tls, config_text=conf)
    broker.start()
    try:
        got: list[dict] = []
        sub = AlertSubscriber(
            broker.url, on_alert=got.append, persistent=False, username="command-room", password="room-secret",
            tls_ca_file=tls.ca_cert,
        ).start(wait_s=5)  # fmt: skip
        try:
            assert sub.connected and sub.protocol == "5"
        finally:
            sub.stop()
        anonymous = AlertSubscriber(broker.url, persistent=False, tls_ca_file=tls.ca_cert)
        with pytest.raises(BrokerConnectionError):
            anonymous.start(wait_s=5)
        anonymous.stop()
    finally:
        broker.stop()
