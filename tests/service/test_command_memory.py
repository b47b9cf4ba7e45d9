"""Answered command ids survive a restart: a command the broker redelivers afterwards is not run again."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from drone_patrol.alerts.eyes_on import CommandState, EyesOnCommand, ReleaseCommand, eyes_on_event, parse_command
from drone_patrol.core.types import GeoPoint
from drone_patrol.planner.eyes_on import Excursion
from drone_patrol.service.command_memory import PersistentLedger, ledger_path
from tests.brokers import mosquitto_broker, requires_mosquitto

S = CommandState
ROOM = "/dronepatrol/dongxi/command-room"
P = GeoPoint(25.0, 110.0)
OK = Excursion(P, P, (P,), 40.0, 10.0, 0.1, 0.6, 50.0, 100.0)


def cmd(cid: str) -> EyesOnCommand:
    return EyesOnCommand(cid, 25.0, 110.0, 60.0, "officer-7", None, "ev-" + cid, ROOM)


def never(_c: EyesOnCommand) -> Excursion:
    raise AssertionError("a redelivered command was judged (and would be flown) again")


def ok(_c: EyesOnCommand) -> Excursion:
    return OK


def restart(path: Path, remember: int = 1000) -> PersistentLedger:
    return PersistentLedger(path, "dongxi", "drone-1", remember=remember)


def test_restart_between_receipt_and_redelivery(tmp_path: Path) -> None:
    path = ledger_path(tmp_path / "var", "drone-1")
    led = restart(path)
    assert led.receive(cmd("a"), flying_patrol=True, judge=ok).action == "start"
    led.record("a", S.EN_ROUTE)  # the service stops here, before the broker had the PUBACK
    refused = led.receive(cmd("b"), flying_patrol=True, judge=ok)  # busy
    assert refused.state is S.REFUSED
    assert path.is_file()

    again = restart(path)
    assert again.active is None
    assert again.interrupted and again.interrupted[0][0] == "a" and again.interrupted[0][1].code == "interrupted"
    d = again.receive(cmd("a"), flying_patrol=True, judge=never)  # the broker redelivers "a"
    assert (d.action, d.state) == ("answer", S.FAILED) and d.reason is not None and d.reason.code == "interrupted"
    d = again.receive(cmd("b"), flying_patrol=True, judge=never)
    assert (d.action, d.state) == ("answer", S.REFUSED) and d.reason is not None and d.reason.code == "busy"
    released = again.receive(ReleaseCommand("a", "officer-7"), flying_patrol=True, judge=never)
    assert released.action == "answer" and released.state is S.FAILED
    # A new command is flown as before, and the interrupted one is failed on disk (a third start announces nothing).
    assert again.receive(cmd("c"), flying_patrol=True, judge=ok).action == "start"
    third = restart(path)
    assert [c for c, _ in third.interrupted] == ["c"]
    assert third.state_of("a") is S.FAILED and third.state_of("b") is S.REFUSED


def test_finished_commands_keep_their_state(tmp_path: Path) -> None:
    path = ledger_path(tmp_path, "drone-1")
    led = restart(path)
    led.receive(cmd("done"), flying_patrol=True, judge=ok)
    for step in (S.EN_ROUTE, S.ON_STATION, S.COMPLETED):
        led.record("done", step)
    led.receive(cmd("rel"), flying_patrol=True, judge=ok)
    led.record("rel", S.RELEASED)
    again = restart(path)
    assert not again.interrupted
    assert again.receive(cmd("done"), flying_patrol=True, judge=never).state is S.COMPLETED
    assert again.receive(cmd("rel"), flying_patrol=True, judge=never).state is S.RELEASED


def test_memory_is_bounded_to_the_newest_ids(tmp_path: Path) -> None:
    path = ledger_path(tmp_path, "drone-1")
    led = restart(path, remember=3)
    for n in range(5):
        led.receive(cmd(f"c{n}"), flying_patrol=False, judge=ok)  # refused: not flying
    kept = [c["id"] for c in json.loads(path.read_text())["commands"]]
    assert kept == ["c2", "c3", "c4"]
    again = restart(path, remember=3)
    assert again.state_of("c1") is None and again.state_of("c4") is S.REFUSED


BAD_FILES = ["{not json", '{"format": "other"}', '{"format": "dronepatrol.commands/1", "commands": [{"id": "x"}]}']


@pytest.mark.parametrize("text", BAD_FILES)
def test_unreadable_file_is_set_aside_with_a_warning(
    tmp_path: Path, text: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = ledger_path(tmp_path, "drone-1")
    path.parent.mkdir(parents=True)
    path.write_text(text)
    with caplog.at_level(logging.WARNING):
        led = restart(path)
    assert led.state_of("x") is None and not led.interrupted
    assert path.with_name("drone-1.json.bad").read_text() == text
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert str(path) in warning and "\n" not in warning
    assert led.receive(cmd("n"), flying_patrol=True, judge=ok).action == "start"  # it goes on answering


@requires_mosquitto
def test_broker_redelivery_after_a_restart_is_answered_from_disk(tmp_path: Path) -> None:
    """A real Mosquitto redelivers a QoS 1 command the drone received but never acknowledged (it went
    down first) when its persistent session comes back; the restarted drone answers it from disk."""
    topic = "dronepatrol/dongxi/drone-1/commands"
    path = ledger_path(tmp_path / "var", "drone-1")
    with mosquitto_broker(tmp_path / "mq") as broker:

        def drone(ledger: PersistentLedger, judge: Callable[[EyesOnCommand], Excursion]) -> tuple[Any, list[Any]]:
            got: list[Any] = []
            done = threading.Event()

            def on_message(_c: Any, _u: Any, msg: Any) -> None:
                message = parse_command(msg.payload)
                got.append((msg.dup, message.command_id, ledger.receive(message, flying_patrol=True, judge=judge)))
                done.set()

            client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="drone-1", clean_session=False, manual_ack=True)
            client.on_message = on_message
            client.connect("127.0.0.1", broker.port)
            client.subscribe(topic, qos=1)
            client.loop_start()
            return client, [got, done]

        first = restart(path)
        client, (got, done) = drone(first, ok)
        room = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="room")
        room.connect("127.0.0.1", broker.port)
        room.loop_start()
        event = eyes_on_event("cmd-1", 25.0, 110.0, 60.0, "officer-7", site="dongxi")
        room.publish(topic, json.dumps(event), qos=1).wait_for_publish(5)
        assert done.wait(10)
        assert got[0][1] == "cmd-1" and got[0][2].action == "start"
        first.record("cmd-1", S.EN_ROUTE)
        client.disconnect()  # down before the PUBACK: the broker keeps the command for the session
        client.loop_stop()

        again = restart(path)
        client, (got, done) = drone(again, never)
        try:
            assert done.wait(10), "the broker did not redeliver the unacknowledged command"
            dup, cid, decision = got[0]
            assert dup and cid == "cmd-1"
            assert (decision.action, decision.state) == ("answer", S.FAILED) and decision.reason.code == "interrupted"
        finally:
            client.disconnect()
            client.loop_stop()
            room.disconnect()
            room.loop_stop()
