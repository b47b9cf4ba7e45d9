"""The shipped Mosquitto ACL for commands, on a real Mosquitto: only the command room writes commands,
each drone reads only its own and answers only on its own result topic."""

from __future__ import annotations

import json
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from drone_patrol.alerts.command_client import CommandClient, CommandRefusedError
from drone_patrol.alerts.connection import PublishRejectedError
from drone_patrol.alerts.eyes_on import CommandSchemaError, CommandState, EyesOnCommand, eyes_on_event
from drone_patrol.alerts.publisher import AlertPublisher
from tests.alerts.helpers import DRONE, SITE, fast_config, wait_until
from tests.brokers import mosquitto_broker, requires_mosquitto

pytestmark = requires_mosquitto

ACL = (Path(__file__).resolve().parents[2] / "configs" / "mosquitto" / "dronepatrol.acl").read_text()
USERS = {DRONE: "drone-secret", "drone-2": "other-secret", "command-room": "room-secret"}


def _raw(port: int, user: str, password: str) -> tuple[mqtt.Client, list[int], list[mqtt.MQTTMessage]]:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"raw-{user}", protocol=MQTTProtocolVersion.MQTTv5)
    codes: list[int] = []
    got: list[mqtt.MQTTMessage] = []
    client.on_publish = lambda c, u, mid, rc, p: codes.append(rc.value)
    client.on_message = lambda c, u, msg: got.append(msg)
    client.username_pw_set(user, password)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client, codes, got


def _drone(broker_url: str, tmp_path: Path, drone: str, monkeypatch: pytest.MonkeyPatch) -> AlertPublisher:
    monkeypatch.setenv("DRONE_PATROL_MQTT_PASSWORD", USERS[drone])
    cfg = fast_config(broker_url, tmp_path / f"{drone}.sqlite", username=drone)
    pub = AlertPublisher(cfg, SITE, drone).start()
    assert wait_until(lambda: pub.connected, 5)
    pub.publish_status("online")
    assert pub.flush(5)
    return pub


def test_only_the_command_room_commands_and_each_drone_hears_only_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with mosquitto_broker(tmp_path / "b", users=USERS, acl=ACL) as broker:
        one = _drone(broker.url, tmp_path, DRONE, monkeypatch)
        two = _drone(broker.url, tmp_path, "drone-2", monkeypatch)
        heard: dict[str, list[EyesOnCommand | object]] = {DRONE: [], "drone-2": []}
        one.on_command(heard[DRONE].append)
        two.on_command(heard["drone-2"].append)
        room = CommandClient(broker.url, SITE, username="command-room", password="room-secret").start(wait_s=5)
        spy, spy_codes, spied = _raw(broker.port, "drone-2", "other-secret")
        try:
            assert wait_until(lambda: room.known_drones == {DRONE, "drone-2"}, 5), room.known_drones
            spy.subscribe(f"dronepatrol/{SITE}/{DRONE}/commands", qos=1)  # Mosquitto grants it, then filters
            cid = room.eyes_on(DRONE, 25.2823, 110.2972, 60.0, "officer-7")
            assert wait_until(lambda: len(heard[DRONE]) == 1, 5)
            got = heard[DRONE][0]
            assert isinstance(got, EyesOnCommand) and got.command_id == cid and got.requested_by == "officer-7"
            # drone-2 tries to command drone-1 (and itself): the broker refuses both, nobody hears them
            forged = eyes_on_event("forged-1", 25.0, 110.0, 60.0, "drone-2", site=SITE)
            payload = json.dumps(forged).encode()
            spy.publish(f"dronepatrol/{SITE}/{DRONE}/commands", payload, qos=1).wait_for_publish(5)
            spy.publish(f"dronepatrol/{SITE}/drone-2/commands", payload, qos=1).wait_for_publish(5)
            # ... nor may it answer for drone-1; its own result topic is its to write
            spy.publish(f"dronepatrol/{SITE}/{DRONE}/commands/result", b"{}", qos=1).wait_for_publish(5)
            spy.publish(f"dronepatrol/{SITE}/drone-2/commands/result", b"{}", qos=1).wait_for_publish(5)
            assert spy_codes == [135, 135, 135, 0]  # the last: its own result topic (the room listens)
            one.publish_command_result(cid, CommandState.ACCEPTED)
            assert room.wait_for(cid, "accepted", 5).drone == DRONE
            assert len(heard[DRONE]) == 1 and heard["drone-2"] == [] and spied == []
            # a drone's own credentials cannot send commands through the room's client either
            impostor = CommandClient(broker.url, SITE, username=DRONE, password="drone-secret").start(wait_s=5)
            try:
                assert wait_until(lambda: DRONE in impostor.known_drones, 5) is False  # may not read statuses
                impostor._known.add("drone-2")  # pretend it knew: the broker still says no
                with pytest.raises(PublishRejectedError) as caught:
                    impostor.eyes_on("drone-2", 25.0, 110.0, 60.0, "drone-1")
                assert caught.value.reason_code == 135
            finally:
                impostor.stop()
            assert heard["drone-2"] == []
        finally:
            spy.loop_stop()
            spy.disconnect()
            room.stop()
            one.stop()
            two.stop()


def test_the_room_refuses_unknown_drones_and_sites_and_bad_values_before_sending(tmp_path: Path) -> None:
    with mosquitto_broker(tmp_path / "b", users=USERS, acl=ACL) as broker:
        room = CommandClient(broker.url, "nowhere", username="command-room", password="room-secret").start(wait_s=5)
        try:
            with pytest.raises(CommandRefusedError) as caught:
                room.eyes_on(DRONE, 25.0, 110.0, 60.0, "officer-7", command_id="c1")
            assert caught.value.code == "unknown_site" and "no drone of site 'nowhere'" in str(caught.value)
            room._known.add(DRONE)
            with pytest.raises(CommandRefusedError) as caught:
                room.eyes_on("drone-9", 25.0, 110.0, 60.0, "officer-7", command_id="c2")
            assert caught.value.code == "unknown_drone" and "known: drone-1" in str(caught.value)
            with pytest.raises(CommandSchemaError, match=r"data\.lat_deg"):
                room.eyes_on(DRONE, 95.0, 110.0, 60.0, "officer-7")
        finally:
            room.stop()
