"""Alert factories and waiting for the alerts tests (also used by the publisher subprocess)."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from drone_patrol.alerts.eyes_on import CommandSchemaError, EyesOnCommand, ReleaseCommand
from drone_patrol.alerts.publisher import AlertPublisher
from drone_patrol.core.config import AlertsConfig
from drone_patrol.core.types import Alert, AlertKind, AlertStatus, GeoPoint, Severity

SITE = "dongxi"
DRONE = "drone-1"

FIGURES: dict[AlertKind, dict[str, Any]] = {
    AlertKind.THERMAL_HOTSPOT: {"max_temperature_c": 412.5, "area_m2": 3.2},
    AlertKind.CROWD_GATHERING: {"head_count": 14, "density_per_m2": 1.8},
    AlertKind.VEHICLE: {"event": "battery_low", "battery_percent": 19.0},
}


def event_id(i: int, namespace: str = "burst") -> str:
    """A deterministic event id, so a restarted publisher re-creates the same ids."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"dronepatrol-test:{namespace}:{i}"))


def make_alert(
    kind: AlertKind = AlertKind.THERMAL_HOTSPOT,
    i: int = 0,
    *,
    alert_id: str | None = None,
    severity: Severity = Severity.CRITICAL,
    thumbnail: bytes | None = None,
) -> Alert:
    """A valid alert of ``kind``; ``i`` varies the ids and the position."""
    t = 1_796_000_000.0 + i
    return Alert(
        alert_id=alert_id or str(uuid.uuid4()),
        incident_id=f"incident-{kind.value}-{i // 10}",
        kind=kind,
        status=AlertStatus.NEW if i % 10 == 0 else AlertStatus.UPDATE,
        severity=severity,
        time_s=t,
        location=GeoPoint(25.2804 + i * 1e-6, 110.2960, 150.0),
        error_radius_m=4.5,
        first_seen_s=t - 30.0,
        last_seen_s=t,
        confidence=0.87,
        summary=f"{kind.value} #{i}",
        area_name="cell-3",
        figures=dict(FIGURES[kind]),
        thumbnail_jpeg=thumbnail,
        site=SITE,
        drone=DRONE,
    )


def fast_config(broker_url: str, outbox: Path, **overrides: Any) -> AlertsConfig:
    """An alerts config for tests: quick reconnects, crash-safe (not power-safe) outbox."""
    values: dict[str, Any] = {
        "broker_url": broker_url,
        "outbox_path": outbox,
        "reconnect_min_s": 0.1,
        "reconnect_max_s": 0.5,
        "outbox_synchronous": "NORMAL",
        "keepalive_s": 5,
    }
    values.update(overrides)
    return AlertsConfig(**values)


def wait_until(predicate: Callable[[], bool], timeout_s: float = 5.0, interval_s: float = 0.01) -> bool:
    """Poll ``predicate`` until true or ``timeout_s``; returns its last value."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_s)
    return bool(predicate())


@contextlib.contextmanager
def raw_listener(port: int, topic_filter: str, client_id: str = "raw") -> Iterator[list[mqtt.MQTTMessage]]:
    """A plain paho MQTT 5 client on ``127.0.0.1:port`` recording what arrives on ``topic_filter`` (QoS 1)."""
    seen: list[mqtt.MQTTMessage] = []
    raw = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5)
    raw.on_message = lambda c, u, m: seen.append(m)
    raw.connect("127.0.0.1", port)
    raw.subscribe(topic_filter, qos=1)
    raw.loop_start()
    try:
        yield seen
    finally:
        raw.loop_stop()
        raw.disconnect()


def commanded_drone(
    broker_url: str, outbox: Path, on_command: Callable[[EyesOnCommand | ReleaseCommand | CommandSchemaError], None]
) -> AlertPublisher:
    """A started drone link (:func:`fast_config`) that hands each command to ``on_command``, online and flushed."""
    pub = AlertPublisher(fast_config(broker_url, outbox), SITE, DRONE)
    pub.on_command(on_command)
    pub.start()
    assert wait_until(lambda: pub.connected, 5)
    pub.publish_status("online")
    assert pub.flush(5)
    return pub
