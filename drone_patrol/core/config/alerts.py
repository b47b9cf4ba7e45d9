"""``alerts``: the MQTT broker, credentials and the durable outbox."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from drone_patrol.core.config._base import Section


class AlertsConfig(Section):
    """Broker connection and outbox. Secrets come from the environment or a file, never here.

    ``broker_url`` is ``mqtt://HOST[:PORT]`` (plain, 1883) or ``mqtts://HOST[:PORT]``
    (TLS, 8883), or a cluster's nodes separated by commas (tried in turn). ``mqtt_version``
    ``auto`` speaks MQTT 5 and falls back to 3.1.1 when the broker refuses the protocol level.
    The outbox keeps at most
    ``outbox_max_rows`` rows: when full, buffered telemetry goes first, then the
    oldest ``info`` alerts, then the oldest ``warning`` alerts; ``critical`` alerts
    are never dropped (the outbox grows past its bound and says so in its metrics).
    """

    broker_url: str = "mqtt://127.0.0.1:1883"
    embedded_broker: bool = False
    mqtt_version: Literal["auto", "5", "3.1.1"] = "auto"
    client_id: str | None = None  # default: dronepatrol-<site>-<drone>
    topic_prefix: str = Field(default="dronepatrol", pattern=r"^[A-Za-z0-9_-]+$")
    username: str | None = None
    password_env: str = "DRONE_PATROL_MQTT_PASSWORD"
    password_file: Path | None = None
    tls_ca_file: Path | None = None
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    tls_insecure: bool = False  # skip the broker host name check (test benches only)
    keepalive_s: int = Field(default=30, ge=5, le=65535)
    reconnect_min_s: float = Field(default=0.5, gt=0)
    reconnect_max_s: float = Field(default=5.0, gt=0)  # the worst wait after a broker comes back
    max_inflight: int = Field(default=20, ge=1, le=65535)
    session_expiry_s: int = Field(default=86400, ge=0)  # keeps acks queued while the drone is away
    outbox_path: Path = Path("var/outbox.sqlite")
    outbox_max_rows: int = Field(default=100_000, ge=10)
    outbox_synchronous: Literal["FULL", "NORMAL"] = "FULL"
    telemetry_hz: float = Field(default=1.0, gt=0)
    telemetry_buffer_s: float = Field(default=600.0, ge=0)  # telemetry kept in the outbox while offline
    video_hz: float = Field(default=2.0, gt=0)
    video_max_bytes: int = Field(default=256_000, gt=0)
    thumbnail_max_bytes: int = Field(default=48_000, gt=0)
    message_expiry_s: int = Field(default=3600, ge=0)
