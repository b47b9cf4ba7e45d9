"""Rate limits and bounds of the publisher that need no broker (a fake clock, an unreachable port)."""

from __future__ import annotations

from pathlib import Path

import pytest

from drone_patrol.alerts.connection import parse_broker_url
from drone_patrol.alerts.publisher import AlertPublisher
from drone_patrol.core.errors import ConfigError
from drone_patrol.core.types import VehicleState
from tests.alerts.helpers import DRONE, SITE, fast_config, make_alert
from tests.brokers import free_port


def test_telemetry_is_rate_limited_and_buffered_while_offline(tmp_path: Path) -> None:
    now = [100.0]
    cfg = fast_config(f"mqtt://127.0.0.1:{free_port()}", tmp_path / "ob.sqlite", telemetry_hz=1.0)
    pub = AlertPublisher(cfg, SITE, DRONE, clock=lambda: now[0])
    results = []
    for t in (100.0, 100.5, 101.0, 101.2, 102.1):
        now[0] = t
        results.append(pub.publish_telemetry(VehicleState(time_s=t)))
    assert results == [True, False, True, False, True]
    assert pub.metrics["telemetry_buffered"] == 3 and pub.outbox_depth == 3
    assert pub.publish_video(b"\xff\xd8" * 10) is False  # not connected: dropped, never queued
    assert pub.metrics["video_dropped"] == 1 and pub.outbox_depth == 3
    pub.stop()


def test_outbox_survives_a_publisher_that_never_connected(tmp_path: Path) -> None:
    url = f"mqtt://127.0.0.1:{free_port()}"
    pub = AlertPublisher(fast_config(url, tmp_path / "ob.sqlite"), SITE, DRONE).start()
    ids = [pub.publish_alert(make_alert(i=i)) for i in range(3)]
    pub.stop(flush_timeout_s=0.1)
    again = AlertPublisher(fast_config(url, tmp_path / "ob.sqlite"), SITE, DRONE)
    assert again.outbox_depth == 3 and len(set(ids)) == 3
    again.stop()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://h:1", "expected mqtt://HOST:PORT"),
        ("mqtt://u:secret@h:1", "not in the URL"),
        ("mqtt://h:99999", "port must be a number"),
        ("mqtt://:1883", "no host name"),
    ],
)
def test_bad_broker_urls_are_refused_clearly(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_broker_url(url)


def test_broker_url_defaults() -> None:
    assert parse_broker_url("mqtt://broker").url == "mqtt://broker:1883"
    tls = parse_broker_url("mqtts://drone-1@broker")
    assert (tls.port, tls.tls, tls.username) == (8883, True, "drone-1")


def test_missing_tls_file_is_a_config_error(tmp_path: Path) -> None:
    cfg = fast_config("mqtts://127.0.0.1:8883", tmp_path / "ob.sqlite", tls_ca_file=tmp_path / "nope.crt")
    with pytest.raises(ConfigError, match=r"alerts.tls_ca_file: file .*nope.crt not found"):
        AlertPublisher(cfg, SITE, DRONE)
