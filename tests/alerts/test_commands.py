"""``drone-patrol alerts watch|ack`` and ``drone-patrol broker`` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from drone_patrol.alerts.broker import BrokerStartError, EmbeddedBroker
from drone_patrol.alerts.publisher import AlertAck, AlertPublisher
from drone_patrol.alerts.schema import alert_event, workflow_event
from drone_patrol.alerts.watch import format_figures, format_row, format_workflow, header
from drone_patrol.cli import main
from drone_patrol.core.types import AlertKind
from tests.alerts.helpers import DRONE, SITE, fast_config, make_alert, wait_until
from tests.brokers import free_port

ROOT = Path(__file__).resolve().parents[2]


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_table_row_is_readable() -> None:
    row = format_row(alert_event(make_alert(AlertKind.THERMAL_HOTSPOT, 3), site=SITE, drone=DRONE))
    assert "thermal_hotspot" in row and "critical" in row and "412.5 °C, 3.2 m²" in row
    assert "25.280403,110.296000 ±4.5 m" in row and "cell-3" in row
    assert header().split()[:3] == ["TIME", "DRONE", "KIND"]
    assert format_figures("crowd_gathering", {"head_count": 14, "density_per_m2": 1.8}) == "14 people, 1.8/m²"
    assert format_figures("vehicle", {"event": "link_lost", "seconds": 4.0}) == "link_lost, seconds=4"


def test_watch_shows_alerts_once_and_ack_reaches_the_drone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archive = tmp_path / "room.sqlite"
    with EmbeddedBroker(port=0) as broker:
        acks: list[AlertAck] = []
        pub = AlertPublisher(fast_config(broker.url, tmp_path / "ob.sqlite"), SITE, DRONE)
        pub.on_ack(acks.append)
        pub.start()
        assert wait_until(lambda: pub.connected, 5)
        result: dict[str, tuple[int, str, str]] = {}
        argv = ["alerts", "watch", "--broker", broker.url, "--json", "--no-status", "--archive", str(archive),
                "--client-id", "room-1", "--count", "2", "--timeout", "20"]  # fmt: skip
        watcher = threading.Thread(target=lambda: result.setdefault("watch", _run(argv, capsys)))
        watcher.start()
        try:
            for i in range(100):  # keep sending until the watcher, subscribed by now, has its two
                pub.publish_alert(make_alert(AlertKind.CROWD_GATHERING, i))
                watcher.join(0.2)
                if not watcher.is_alive():
                    break
            watcher.join(20)
            code, out, err = result["watch"]
            assert code == 0, err
            lines = [json.loads(line) for line in out.splitlines()]
            assert len(lines) == 2 and len({e["id"] for e in lines}) == 2
            target = lines[0]["id"]
            code, out, err = _run(["alerts", "ack", target, "--broker", broker.url, "--archive", str(archive),
                                   "--by", "officer-3", "--note", "on the way"], capsys)  # fmt: skip
            assert code == 0, err
            assert out.startswith(f"acknowledged {target} (ack ")
            assert wait_until(lambda: len(acks) == 1, 5)
            assert (acks[0].target_id, acks[0].by, acks[0].note) == (target, "officer-3", "on the way")
        finally:
            pub.stop()


def test_ack_needs_a_way_to_find_the_drone(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["alerts", "ack", "some-id", "--broker", "mqtt://127.0.0.1:1"], capsys)
    assert code == 2
    assert err.strip() == (
        "drone-patrol: error: alerts ack: give --site and --drone, or the watcher's --archive to look the alert up"
    )


def test_bad_broker_url_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["alerts", "watch", "--broker", "http://x:1"], capsys)
    assert code == 2
    assert err.strip() == "drone-patrol: error: broker URL 'http://x:1': expected mqtt://HOST:PORT or mqtts://HOST:PORT"


def test_watch_against_a_missing_broker_says_it_waits(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"mqtt://127.0.0.1:{free_port()}"
    code, _, err = _run(["alerts", "watch", "--broker", url, "--count", "1", "--timeout", "0.5"], capsys)
    assert code == 1
    assert f"waiting for broker {url}" in err
    assert err.strip().endswith("drone-patrol: error: watch: 0 of 1 alert(s) within 0.5 s")


def test_embedded_broker_refuses_a_public_address_and_restarts_on_its_port() -> None:
    with pytest.raises(BrokerStartError, match="not a loopback address"):
        EmbeddedBroker(host="0.0.0.0")
    b = EmbeddedBroker(port=0).start()
    port = b.port
    assert port > 0 and b.url == f"mqtt://127.0.0.1:{port}"
    b.stop()
    b.start()
    try:
        assert b.port == port and b.running
        with pytest.raises(BrokerStartError, match=str(port)):
            EmbeddedBroker(port=port).start()
    finally:
        b.stop()


def test_broker_command_runs_until_terminated() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "drone_patrol", "broker", "--port", str(port)],
        cwd=ROOT, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert line.startswith(f"embedded MQTT broker on mqtt://127.0.0.1:{port}")
        proc.terminate()
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_broker_command_refuses_a_public_address_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["broker", "--host", "192.0.2.1"], capsys)
    assert code == 1
    assert err.startswith("drone-patrol: error: embedded broker: host '192.0.2.1' is not a loopback address")
    assert len(err.strip().splitlines()) == 1


def test_embedded_broker_for_a_config() -> None:
    from drone_patrol.alerts.broker import embedded_broker_for
    from drone_patrol.core.config import AlertsConfig

    assert embedded_broker_for(AlertsConfig()) is None
    port = free_port()
    b = embedded_broker_for(AlertsConfig(broker_url=f"mqtt://127.0.0.1:{port}", embedded_broker=True))
    try:
        assert b is not None and b.port == port and b.running
    finally:
        if b is not None:
            b.stop()
    with pytest.raises(BrokerStartError, match="TLS"):
        embedded_broker_for(AlertsConfig(broker_url="mqtts://127.0.0.1:8883", embedded_broker=True))


def test_workflow_step_line() -> None:
    event = workflow_event(
        "inc-7", "false_alarm", by="Sgt Li", site="dongxi", drone="drone-1", time_s=1.8e9, reason="grill smoke"
    )
    line = format_workflow(event)
    assert line.endswith("false_alarm inc-7 by Sgt Li: grill smoke") and line[2] == ":"
