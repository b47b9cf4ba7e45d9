"""Commands carry an MQTT 5 message expiry through a real Mosquitto: one that waited too long for a
drone that was down is dropped by the broker, and the rest reach the drone with the time they have
left, so the drone judges their age without its own clock (which a companion computer without a
time source may have wrong)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from drone_patrol.alerts.command_client import CommandClient
from drone_patrol.alerts.eyes_on import COMMAND_EXPIRY_S, EyesOnCommand
from drone_patrol.alerts.publisher import AlertPublisher
from drone_patrol.service.eyes_on_rules import CommandLedger
from tests.alerts.helpers import DRONE, SITE, commanded_drone, wait_until
from tests.brokers import mosquitto_broker, requires_mosquitto
from tests.service.test_eyes_on_rules import ok


def _drone(url: str, tmp_path: Path, got: list[EyesOnCommand]) -> AlertPublisher:
    return commanded_drone(
        url, tmp_path / "ob.sqlite", lambda cmd: got.append(cmd) if isinstance(cmd, EyesOnCommand) else None
    )


@requires_mosquitto
def test_commands_expire_in_the_broker_and_arrive_with_the_time_left(tmp_path: Path) -> None:
    with mosquitto_broker(tmp_path / "mq") as broker:
        got: list[EyesOnCommand] = []
        pub = _drone(broker.url, tmp_path, got)
        with CommandClient(broker.url, SITE) as room:
            assert room.command_expiry_s == COMMAND_EXPIRY_S
            live = room.eyes_on(DRONE, 25.2823, 110.2972, 60.0, "officer-7")
            assert wait_until(lambda: [c.command_id for c in got] == [live], 5)
            left_s = got[0].expiry_left_s
            assert left_s is not None and COMMAND_EXPIRY_S - 5 <= left_s <= COMMAND_EXPIRY_S
            # A drone whose clock is 10 minutes fast still takes it: the broker counted its wait.
            ledger = CommandLedger(SITE, DRONE)
            assert ledger.receive(got[0], flying_patrol=True, judge=ok, now_s=time.time() + 600).action == "start"

            pub.stop()  # down: its persistent session keeps what comes now
            room.command_expiry_s = 1
            stale = room.eyes_on(DRONE, 25.2823, 110.2972, 60.0, "officer-7")
            room.command_expiry_s = COMMAND_EXPIRY_S
            fresh = room.eyes_on(DRONE, 25.2824, 110.2972, 60.0, "officer-7")
            time.sleep(2.0)
            got.clear()
            pub = _drone(broker.url, tmp_path, got)
            try:
                assert wait_until(lambda: fresh in [c.command_id for c in got], 5)
                time.sleep(0.5)
                assert [c.command_id for c in got] == [fresh]  # the expired one never came
                assert stale not in [c.command_id for c in got]
                assert got[0].expiry_left_s is not None and got[0].expiry_left_s <= COMMAND_EXPIRY_S - 2
            finally:
                pub.stop()


@requires_mosquitto
def test_a_command_sent_while_the_broker_is_down_goes_when_it_is_back(tmp_path: Path) -> None:
    """paho queues it and sends it on reconnect; the sender waits for the broker's PUBACK, no traceback."""
    with mosquitto_broker(tmp_path / "mq") as broker:
        got: list[EyesOnCommand] = []
        pub = _drone(broker.url, tmp_path, got)
        try:
            with CommandClient(broker.url, SITE) as room:
                assert wait_until(lambda: DRONE in room.known_drones, 5)
                broker.stop()
                assert wait_until(lambda: not room.connected, 5)
                restart = threading.Timer(1.0, broker.start)
                restart.start()
                try:
                    cid = room.eyes_on(DRONE, 25.2823, 110.2972, 60.0, "officer-7", timeout_s=15.0)
                finally:
                    restart.join()
                assert wait_until(lambda: cid in [c.command_id for c in got], 10)
        finally:
            pub.stop()
