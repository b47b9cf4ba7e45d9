"""The command room's side: receive alerts once each, see drones' status, acknowledge.

Subscriptions are made in ``on_connect`` so that they come back after every
reconnect; with ``persistent=True`` the session (clean start off, a fixed client id,
MQTT 5 session expiry) makes the broker queue the alerts published while the watcher
is away. Messages are acknowledged to the broker (manual PUBACK) only after the
alert is archived and handed to ``on_alert``, so an alert is never lost between the
two. Duplicates (a publisher's resend after a lost PUBACK, a replay after a
restart, a redelivery to a persistent session) are dropped by event id: in memory,
and across restarts through the optional archive.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from drone_patrol.alerts.archive import AlertArchive, Deduplicator
from drone_patrol.alerts.connection import (
    BrokerConnectionError,
    ClientSettings,
    MqttVersion,
    SubscriptionRejectedError,
    Topics,
    split_topic,
    take_in,
)
from drone_patrol.alerts.schema import ACK_TYPE, WORKFLOW_TYPE, AlertSchemaError, ack_event, parse_event
from drone_patrol.alerts.session import MqttSession
from drone_patrol.core.config import AlertsConfig
from drone_patrol.core.errors import AlertsError

log = logging.getLogger("drone_patrol.alerts.subscriber")

EnvelopeCallback = Callable[[dict[str, Any]], None]
StateCallback = Callable[[str, str, dict[str, Any]], None]


def default_client_id() -> str:
    """A stable client id for this host's command room (a persistent session needs one)."""
    host = re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname())[:40] or "host"
    return f"dronepatrol-cr-{host}"


class AlertSubscriber(MqttSession):
    """Subscribe to the alerts of ``site`` (``+``: all sites) and ``drone`` (``+``: all drones).

    Callbacks run in paho's network thread; an exception in one is logged and the
    message still counts as delivered. ``on_alert``, ``on_ack`` and ``on_workflow`` (dispatch steps) get the envelope
    dict; ``on_status`` and ``on_telemetry`` get ``(site, drone, document)``;
    ``on_error`` gets the :class:`AlertsError` of a refused connection, a refused
    subscription or a malformed message. Every message is validated by the pydantic
    models; ``json_schema=True`` also runs the shipped JSON Schema files (about 30
    times slower per message, same verdicts: a test keeps the two in step).
    """

    thread_name = "alerts-subscriber"

    def __init__(
        self,
        broker_url: str,
        site: str = "+",
        on_alert: EnvelopeCallback | None = None,
        client_id: str | None = None,
        persistent: bool = True,
        archive_path: Path | str | None = None,
        *,
        drone: str = "+",
        on_ack: EnvelopeCallback | None = None,
        on_workflow: EnvelopeCallback | None = None,
        on_status: StateCallback | None = None,
        on_telemetry: StateCallback | None = None,
        on_error: Callable[[AlertsError], None] | None = None,
        settings: ClientSettings | None = None,
        username: str | None = None,
        password: str | None = None,
        tls_ca_file: Path | None = None,
        tls_cert_file: Path | None = None,
        tls_key_file: Path | None = None,
        tls_insecure: bool = False,
        mqtt_version: MqttVersion = "auto",
        prefix: str = "dronepatrol",
        share_group: str | None = None,
        session_expiry_s: int = 7 * 86400,
        json_schema: bool = False,
        dedup_capacity: int = 100_000,
        reconnect_max_s: float = 5.0,
        subscribe_alerts: bool = True,
    ) -> None:
        if settings is None:
            settings = ClientSettings.from_url(
                broker_url, username=username, password=password, ca_file=tls_ca_file, cert_file=tls_cert_file,
                key_file=tls_key_file, tls_insecure=tls_insecure, mqtt_version=mqtt_version,
                reconnect_max_s=reconnect_max_s, session_expiry_s=session_expiry_s,
            )  # fmt: skip
        super().__init__(
            settings,
            client_id or (default_client_id() if persistent else f"dronepatrol-cr-{uuid.uuid4().hex[:10]}"),
            persistent=persistent,
        )
        self._topics = Topics(site, drone, prefix)
        self.prefix = prefix
        self._share = share_group
        self._subscribe_alerts = subscribe_alerts
        self._json_schema = json_schema
        self._on_alert = on_alert
        self._on_ack = on_ack
        self._on_workflow = on_workflow
        self._on_status = on_status
        self._on_telemetry = on_telemetry
        self._on_error = on_error
        self._dedup = Deduplicator(AlertArchive(archive_path) if archive_path else None, dedup_capacity)
        self.state = "stopped"
        self.metrics: dict[str, int] = dict.fromkeys(
            ("received", "duplicates", "invalid", "not_taken", "acks_received", "acks_sent", "status", "connects"), 0
        )

    @classmethod
    def from_config(cls, cfg: AlertsConfig, broker_url: str | None = None, **kwargs: Any) -> AlertSubscriber:
        """A subscriber with the credentials and TLS files of the ``alerts`` section."""
        settings = ClientSettings.from_config(cfg, broker_url)
        return cls(settings.address.url, settings=settings, prefix=cfg.topic_prefix, **kwargs)

    def start(self, wait_s: float | None = None) -> AlertSubscriber:
        """Connect in the background; with ``wait_s``, wait for the broker's answer.

        Raises :class:`BrokerConnectionError` when the broker refused the connection
        within ``wait_s`` (wrong password, not authorised); an unreachable broker is
        not an error: the subscriber keeps retrying.
        """
        self._begin_and_wait(wait_s)
        return self

    def wait_connected(self, timeout_s: float) -> bool:
        """Block until subscribed or ``timeout_s`` passes."""
        return self._connected.wait(timeout_s)

    def stop(self) -> None:
        """Disconnect (the persistent session stays on the broker) and close the archive."""
        self._end()
        self._dedup.close()

    def __enter__(self) -> AlertSubscriber:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ acks

    def ack(
        self,
        event_or_incident_id: str,
        by: str,
        note: str = "",
        *,
        site: str | None = None,
        drone: str | None = None,
        timeout_s: float = 5.0,
    ) -> str:
        """Acknowledge one alert (event id) or incident (incident id); returns the ack's event id.

        The drone is the one that sent the alert (looked up among the alerts seen or in
        the archive) unless ``site`` and ``drone`` are given. Waits for the broker's
        PUBACK; raises :class:`AlertsError` if it does not come, and
        :class:`PublishRejectedError` when the broker refuses (MQTT 5).
        """
        where = (site, drone) if site and drone else self._dedup.locate(event_or_incident_id)
        if where is None:
            raise AlertsError(
                f"ack {event_or_incident_id}: not an alert or incident seen here; give the site and the drone"
            )
        ev = ack_event(
            event_or_incident_id,
            by=by,
            site=where[0],
            drone=where[1],
            note=note,
            time_s=time.time(),
            prefix=self.prefix,
        )
        topic = Topics(where[0], where[1], self.prefix).ack
        if self._client is None:
            raise AlertsError("ack: the subscriber is not started")
        if not self._publish_confirmed(topic, ev, timeout_s, str(ev["id"])):
            raise AlertsError(f"ack {event_or_incident_id}: the broker did not confirm within {timeout_s:.1f} s")
        self.metrics["acks_sent"] += 1
        return str(ev["id"])

    # ------------------------------------------------------------------ paho

    def _filters(self) -> list[tuple[str, int]]:
        alerts = self._topics.alerts_filter
        if self._share:
            alerts = f"$share/{self._share}/{alerts}"
        subs = [(alerts, 1)] if self._subscribe_alerts else []
        if self._on_status is not None:
            subs.append((self._topics.status, 1))
        if self._on_telemetry is not None:
            subs.append((self._topics.telemetry, 0))
        return subs

    def _client_options(self) -> dict[str, Any]:
        return {"manual_ack": True}

    def _unreachable(self, why: str) -> None:
        if self.state != why:  # log a change of reason once, not every retry
            log.warning("command room: broker %s unreachable (%s); retrying", self._settings.address.url, why)
        self.state = why

    def _report(self, err: AlertsError) -> None:
        self.last_error = err
        log.error("%s", err)
        if self._on_error is not None:
            try:
                self._on_error(err)
            except Exception:
                log.exception("on_error callback failed")

    def _refused(self, err: BrokerConnectionError, new: bool) -> None:
        if new:
            self._report(err)
        self.state = f"refused: {err.reason} ({err.reason_code})"

    def _session_up(self, client: mqtt.Client, props: Any) -> None:
        self.state = "connected"
        self.metrics["connects"] += 1
        filters = self._filters()
        if filters:
            self._subscribe(client, filters)
        self._connected.set()
        log.info(
            "command room connected to %s (MQTT %s) as %s", self._settings.address.url, self.protocol, self.client_id
        )

    def _session_down(self, was_connected: bool, code: int, name: str) -> None:
        if was_connected and self._running:
            log.warning(
                "command room disconnected from %s: %s (%d); reconnecting", self._settings.address.url, name, code
            )
            self.state = "reconnecting"

    def _subscribed(self, refused: list[SubscriptionRejectedError]) -> None:
        for err in refused:
            self._report(err)

    def _message(self, client: mqtt.Client, _ud: Any, msg: mqtt.MQTTMessage) -> None:
        if not take_in(client, msg, lambda: self._handle(msg), "command room"):
            self.metrics["not_taken"] += 1

    def _handle(self, msg: mqtt.MQTTMessage) -> None:
        parts = split_topic(msg.topic, self.prefix)
        if parts is None:
            return
        site, drone, rest = parts
        if rest in ("status", "telemetry"):
            callback = self._on_status if rest == "status" else self._on_telemetry
            if not msg.payload:
                return  # a cleared retained status
            try:
                doc = json.loads(msg.payload)
            except (UnicodeDecodeError, json.JSONDecodeError):
                self.metrics["invalid"] += 1
                log.warning("ignored non-JSON %s from %s/%s", rest, site, drone)
                return
            if rest == "status":
                self.metrics["status"] += 1
            if callback is not None and isinstance(doc, dict):
                callback(site, drone, doc)
            return
        if not rest.startswith("alerts/"):
            return
        try:
            try:
                envelope = json.loads(msg.payload)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise AlertSchemaError(f"payload is not JSON ({exc})") from None
            event = parse_event(envelope, check_json_schema=self._json_schema)
        except AlertSchemaError as exc:
            self.metrics["invalid"] += 1
            self._report(AlertSchemaError(f"message on {msg.topic} dropped: {exc}"))
            return
        # callbacks get the envelope exactly as sent (validated), not a re-serialisation
        if event.type in (ACK_TYPE, WORKFLOW_TYPE):
            if event.type == ACK_TYPE:
                self._dedup.add_ack(envelope)  # a repeat is a no-op there; a failure marks nothing
            if not self._dedup.first_event(envelope):  # a redelivery: shown once
                self.metrics["duplicates"] += 1
                return
            if event.type == ACK_TYPE:
                self.metrics["acks_received"] += 1
            on_event = self._on_ack if event.type == ACK_TYPE else self._on_workflow
            if on_event is not None:
                on_event(envelope)
            return
        if not self._dedup.first_time(envelope):
            self.metrics["duplicates"] += 1
            return
        self.metrics["received"] += 1
        if self._on_alert is not None:
            self._on_alert(envelope)
