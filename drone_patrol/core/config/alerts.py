"""``alerts``: the MQTT broker, credentials and the durable outbox."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from drone_patrol.core.config._base import Section


class AlertsConfig(Section):
    """Broker connection and outbox. Secrets come from the environment or a file, never here."""

    broker_url: str = "mqtt://127.0.0.1:1883"
    embedded_broker: bool = False
    username: str | None = None
    password_env: str = "DRONE_PATROL_MQTT_PASSWORD"
    password_file: Path | None = None
    tls_ca_file: Path | None = None
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    outbox_path: Path = Path("var/outbox.sqlite")
    telemetry_hz: float = Field(default=1.0, gt=0)
    message_expiry_s: int = Field(default=3600, ge=0)
