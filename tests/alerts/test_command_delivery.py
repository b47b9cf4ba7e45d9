"""Commands are taken in at least once: the drone acknowledges a command (PUBACK) only after it has
recorded and answered it, so one received just before a crash comes again after the restart (a real
Mosquitto resends it with DUP on the persistent session) and runs once; a repeat is answered from the
ledger, not run again."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from drone_patrol.alerts.delivery import CommandDelivery, InOrderAcks
from drone_patrol.alerts.eyes_on import eyes_on_event, parse_result
from drone_patrol.service.command_memory import ledger_path
from tests.alerts.helpers import DRONE, SITE, wait_until
from tests.brokers import mosquitto_broker, requires_mosquitto

ROOT = Path(__file__).resolve().parents[2]
BASE = f"dronepatrol/{SITE}/{DRONE}"


class _Drone:
    """``tests.alerts.command_proc`` in a subprocess; its output lines in a queue."""

    def __init__(self, broker_url: str, tmp: Path, mqtt_version: str, *args: str) -> None:
        cmd = [sys.executable, "-m", "tests.alerts.command_proc", "--broker", broker_url, "--mqtt", mqtt_version,
               "--outbox", str(tmp / "ob.sqlite"), "--ledger", str(ledger_path(tmp / "var", DRONE)), *args]  # fmt: skip
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.strip())

    def expect(self, wanted: str, timeout_s: float = 20.0) -> list[str]:
        """Lines up to and including ``wanted``; fails naming what came instead."""
        got: list[str] = []
        while True:
            try:
                line = self.lines.get(timeout=timeout_s)
            except queue.Empty:
                err = self.proc.stderr.read() if self.proc.poll() is not None and self.proc.stderr else ""
                raise AssertionError(f"no {wanted!r} from the drone; got {got} {err[-2000:]}") from None
            got.append(line)
            self.seen.append(line)
            if line == wanted:
                return got

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        while not self.lines.empty():
            self.seen.append(self.lines.get())


class _Room:
    """The command room: sends commands, records the drone's answers and its retained status."""

    def __init__(self, port: int) -> None:
        self.results: list[tuple[str, str]] = []
        self.status: dict[str, Any] = {}
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="room")
        self.client.on_message = self._message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe([(f"{BASE}/commands/result", 1), (f"{BASE}/status", 1)])
        self.client.loop_start()

    def _message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.topic.endswith("/status"):
            self.status = json.loads(msg.payload) if msg.payload else {}
            return
        result = parse_result(msg.payload)
        self.results.append((result.command_id, result.state.value))

    def eyes_on(self, cid: str) -> None:
        event = eyes_on_event(cid, 25.28, 110.29, 60.0, "officer-7", site=SITE)
        self.client.publish(f"{BASE}/commands", json.dumps(event), qos=1).wait_for_publish(5)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def drones() -> Iterator[list[_Drone]]:
    started: list[_Drone] = []
    yield started
    for d in started:
        d.kill()


@requires_mosquitto
@pytest.mark.parametrize("mqtt_version", ["5", "3.1.1"])
def test_a_command_received_before_a_crash_comes_again_and_runs_once(
    tmp_path: Path, drones: list[_Drone], mqtt_version: str
) -> None:
    with mosquitto_broker(tmp_path / "mq") as broker:
        room = _Room(broker.port)

        def drone(*args: str) -> _Drone:
            d = _Drone(broker.url, tmp_path, mqtt_version, *args)
            drones.append(d)
            d.expect("connected")
            return d

        try:
            # 1. received, killed before handling it: no PUBACK went out
            first = drone("--stall", "before")
            room.eyes_on("cmd-1")
            first.expect("received cmd-1 dup=0")
            first.kill()

            # 2. the broker sends it again; this time it runs, is recorded and answered, and the drone
            # dies before the PUBACK
            second = drone("--stall", "after")
            got = second.expect("answered cmd-1 accepted")
            assert got == ["received cmd-1 dup=1", "run cmd-1", "answered cmd-1 accepted"]
            second.kill()

            # 3. sent a third time: answered from the ledger (in progress when the drone died, so
            # failed: interrupted), not run; then acknowledged, and a new command runs as usual
            third = drone()
            got = third.expect("answered cmd-1 failed")
            assert got == ["received cmd-1 dup=1", "answered cmd-1 failed"]
            assert wait_until(lambda: room.status.get("last_taken") == "cmd-1", 10), room.status
            room.eyes_on("cmd-2")
            got = third.expect("answered cmd-2 accepted")
            assert got == ["received cmd-2 dup=0", "run cmd-2", "answered cmd-2 accepted"]
            assert wait_until(lambda: room.status.get("last_taken") == "cmd-2", 10), room.status
            third.kill()  # after both PUBACKs reached the broker

            # 4. nothing comes again: the next message the drone gets is a new command
            fourth = drone()
            room.eyes_on("cmd-3")
            assert fourth.expect("received cmd-3 dup=0") == ["received cmd-3 dup=0"]

            fourth.kill()
            runs = [line for d in drones for line in d.seen if line.startswith("run ")]
            assert runs[:2] == ["run cmd-1", "run cmd-2"] and len(runs) == len(set(runs))  # each once
            # cmd-1's answers: accepted (queued in the outbox of the drone that died, sent by the next)
            # and the ledger's failed
            assert wait_until(lambda: {("cmd-1", "accepted"), ("cmd-1", "failed")} <= set(room.results), 10)
            assert ("cmd-2", "accepted") in room.results
        finally:
            room.stop()


class _Client:
    def __init__(self) -> None:
        self.acked: list[int] = []

    def ack(self, mid: int, qos: int) -> None:
        self.acked.append(mid)


def _msg(mid: int, qos: int = 1) -> mqtt.MQTTMessage:
    msg = mqtt.MQTTMessage(mid, b"t")
    msg.qos = qos
    return msg


def test_pubacks_go_in_the_order_received_and_never_on_a_later_connection() -> None:
    acks, client = InOrderAcks(), _Client()
    acks.new_connection(client)  # type: ignore[arg-type]
    settle = [acks.receive(_msg(mid)) for mid in (1, 2, 3)]
    acks.receive(_msg(9, qos=0))()  # QoS 0 has no PUBACK
    settle[1]()
    assert client.acked == [] and acks.waiting == 3  # 2 waits for 1
    settle[0]()
    assert client.acked == [1, 2]
    acks.new_connection(None)  # the connection drops with 3 unacknowledged: the broker resends it
    settle[2]()
    again = _Client()
    acks.new_connection(again)  # type: ignore[arg-type]
    acks.receive(_msg(3))()
    assert client.acked == [1, 2] and again.acked == [3] and acks.dropped == 1 and acks.sent == 3


def test_a_delivery_is_acknowledged_once_every_handler_took_it() -> None:
    settled: list[bool] = []
    d = CommandDelivery(None, False, lambda: settled.append(True))  # type: ignore[arg-type]
    d.expect(2)
    d.taken()
    assert not settled
    d.taken()
    d.taken()
    assert settled == [True]
    none = CommandDelivery(None, False, lambda: settled.append(True))  # type: ignore[arg-type]
    none.expect(0)  # no handler: acknowledged at once
    assert settled == [True, True]
