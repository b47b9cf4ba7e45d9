"""No alert lost, none shown twice: a broker down for 10 s mid-burst, a publisher killed mid-burst
(from one thread, and from several at once at the default durability, one alert a call or
batches)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from drone_patrol.alerts.outbox import ALERT, Outbox
from drone_patrol.alerts.publisher import AlertPublisher
from drone_patrol.alerts.subscriber import AlertSubscriber
from drone_patrol.core.types import AlertKind
from tests.alerts.helpers import DRONE, SITE, event_id, fast_config, make_alert, wait_until
from tests.brokers import mosquitto_broker, requires_mosquitto

ROOT = Path(__file__).resolve().parents[2]
BURST = 1000
KINDS = list(AlertKind)


@requires_mosquitto
def test_broker_down_10_s_in_the_middle_of_a_burst(tmp_path: Path) -> None:
    with mosquitto_broker(tmp_path / "b") as broker:
        got: list[dict] = []
        sub = AlertSubscriber(
            broker.url, on_alert=got.append, client_id="cr-durable", persistent=True, reconnect_max_s=1.0
        )
        sub.start(wait_s=5)
        pub = AlertPublisher(fast_config(broker.url, tmp_path / "ob.sqlite"), SITE, DRONE).start()
        try:
            assert wait_until(lambda: pub.connected, 5)
            ids = []
            for i in range(BURST):
                if i == BURST // 2:
                    broker.stop()
                    down_at = time.monotonic()
                ids.append(pub.publish_alert(make_alert(KINDS[i % 3], i)))
            assert wait_until(lambda: not pub.connected, 2)
            assert pub.outbox_depth >= BURST // 2  # at least the second half waits in the outbox
            time.sleep(max(0.0, 10.0 - (time.monotonic() - down_at)))
            broker.start()
            assert wait_until(lambda: len(got) >= BURST, 20), (len(got), pub.metrics, sub.metrics)
            assert pub.flush(10), pub.metrics
            time.sleep(0.3)  # room for a late redelivery to show up (it must be dropped)
            received = [e["id"] for e in got]
            assert len(received) == BURST and set(received) == set(ids)  # every alert, exactly once
            assert pub.outbox_depth == 0
            assert pub.metrics["disconnects"] >= 1 and pub.metrics["connects"] >= 2
        finally:
            pub.stop()
            sub.stop()


def _spawn(url: str, outbox: Path, *args: str) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "tests.alerts.publisher_proc", "--broker", url, "--outbox", str(outbox), *args]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _restart_and_deliver_all(url: str, outbox: Path, got: list[dict], sub: AlertSubscriber, *args: str) -> None:
    """A new publisher process on the same outbox flushes it; the command room then holds every alert once."""
    second = _spawn(url, outbox, *args, "--exit")
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    assert "flushed 0" in out
    assert wait_until(lambda: len(got) >= BURST, 10), (len(got), sub.metrics)
    time.sleep(0.3)  # room for a late redelivery to show up (it must be dropped)
    received = [e["id"] for e in got]
    assert len(received) == BURST and set(received) == {event_id(i) for i in range(BURST)}


def test_publisher_killed_in_the_middle_of_a_burst_and_restarted(any_broker: Any, tmp_path: Path) -> None:
    got: list[dict] = []
    sub = AlertSubscriber(any_broker.url, on_alert=got.append, client_id="cr-kill", persistent=True).start(wait_s=5)
    outbox = tmp_path / "ob.sqlite"
    first = _spawn(any_broker.url, outbox, "--count", str(BURST), "--pause-every", "25")
    queued = 0
    try:
        assert first.stdout is not None
        for line in first.stdout:
            queued += line.startswith("queued ")
            if queued >= 300:
                break
        os.kill(first.pid, signal.SIGKILL)  # mid-burst: rows committed, some in flight, some not yet sent
        rest, _ = first.communicate(timeout=5)
        queued += sum(1 for line in rest.splitlines() if line.startswith("queued "))
        assert queued < BURST, "the burst ended before the kill"
        delivered_before = len(got)
        _restart_and_deliver_all(any_broker.url, outbox, got, sub, "--start", str(queued), "--count", str(BURST))
        assert delivered_before < BURST
        left = Outbox(outbox)
        assert left.depth == 0 and left.rejected == 0
        left.close()
    finally:
        for proc in (first,):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        sub.stop()


@requires_mosquitto
@pytest.mark.parametrize("threads, batch", [(8, 1), (2, 10)], ids=["8-threads", "2-threads-batches-of-10"])
def test_publisher_killed_while_threads_publish_loses_no_returned_alert(
    tmp_path: Path, threads: int, batch: int
) -> None:
    """Group sync at the default durability (FULL): threads publish at once (one alert a call,
    or ``publish_alerts`` of 10), their commits share syncs, and a SIGKILL lands mid-burst.
    Every alert whose call had returned is either at the command room or in the outbox file;
    a new process delivers the rest, each alert shown once."""
    with mosquitto_broker(tmp_path / "b") as broker:
        got: list[dict] = []
        sub = AlertSubscriber(broker.url, on_alert=got.append, client_id="cr-threads", persistent=True)
        sub.start(wait_s=5)
        outbox = tmp_path / "ob.sqlite"
        args = ("--count", str(BURST), "--threads", str(threads), "--batch", str(batch), "--synchronous", "FULL")
        first = _spawn(broker.url, outbox, *args)
        returned: set[str] = set()
        try:
            assert first.stdout is not None
            for line in first.stdout:
                if line.startswith("queued "):
                    returned.add(line.split()[1])
                if len(returned) >= 300:
                    break
            os.kill(first.pid, signal.SIGKILL)  # commits in flight, syncs running, callers waiting
            rest, _ = first.communicate(timeout=5)
            returned.update(line.split()[1] for line in rest.splitlines() if line.startswith("queued "))
            assert len(returned) < BURST, "the burst ended before the kill"
            left = Outbox(outbox)
            kept = {row.event_id for row in left.pending(ALERT, 0, BURST + 1)}
            left.close()
            delivered = {e["id"] for e in got}
            assert returned <= kept | delivered, sorted(returned - kept - delivered)[:5]
            # a new process publishes the whole burst again: the outbox and the command room drop repeats
            _restart_and_deliver_all(broker.url, outbox, got, sub, *args)
        finally:
            if first.poll() is None:
                first.kill()
                first.wait()
            sub.stop()


@requires_mosquitto
def test_publisher_killed_with_a_backlog_while_the_broker_is_down(tmp_path: Path) -> None:
    """Some alerts delivered (their rows perhaps not yet deleted), the rest waiting in the
    outbox when the broker goes away, then SIGKILL: a new process delivers every one."""
    with mosquitto_broker(tmp_path / "b") as broker:
        got: list[dict] = []
        sub = AlertSubscriber(
            broker.url, on_alert=got.append, client_id="cr-backlog", persistent=True, reconnect_max_s=1.0
        ).start(wait_s=5)
        outbox = tmp_path / "ob.sqlite"
        first = _spawn(broker.url, outbox, "--count", str(BURST), "--pause-every", "25")
        try:
            assert first.stdout is not None
            queued = 0
            for line in first.stdout:
                queued += line.startswith("queued ")
                if queued == BURST // 3:
                    broker.stop()  # the rest piles up in the outbox
                if queued >= BURST:
                    break
            assert queued == BURST
            os.kill(first.pid, signal.SIGKILL)
            first.communicate(timeout=5)
            assert len(got) < BURST
            left = Outbox(outbox)
            assert left.depth > 0  # the backlog survived the kill
            left.close()
            broker.start()
            _restart_and_deliver_all(broker.url, outbox, got, sub)  # no new alerts: only the outbox's
        finally:
            if first.poll() is None:
                first.kill()
                first.wait()
            sub.stop()
