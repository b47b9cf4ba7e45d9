"""The drone's MQTT session: probe, paho client, last will, callbacks and the outbox pump thread.

:class:`DroneLink` is the machinery under :class:`drone_patrol.alerts.publisher.AlertPublisher`
(which adds what is published). ``auto`` first probes the broker for MQTT 5 (see
:func:`probe_protocol`), then runs one paho client with ``loop_start()``: reconnects with
back-off are paho's, every callback is wrapped by :func:`guarded`, and the pump thread
(woken by new alerts, PUBACKs and connects) settles PUBACKs, sends the retained status
and feeds the outbox through :class:`OutboxPump`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from drone_patrol.alerts.connection import (
    UNSUPPORTED_PROTOCOL,
    BrokerConnectionError,
    ClientSettings,
    PublishRejectedError,
    Topics,
    guarded,
    make_client,
    probe_protocol,
    protocol_of,
    reason_text,
)
from drone_patrol.alerts.outbox import ALERT, Outbox, OutboxRow
from drone_patrol.alerts.pump import OutboxPump, Tracked
from drone_patrol.alerts.schema import ACK_TYPE, CONTENT_TYPE, AckData, AlertSchemaError, parse_event, status_payload
from drone_patrol.core.config import AlertsConfig
from drone_patrol.core.errors import AlertsError

log = logging.getLogger("drone_patrol.alerts.publisher")

JSON_TYPE = "application/json"


@dataclass(frozen=True)
class AlertAck:
    """An acknowledgement from the command room: ``target_id`` is an alert's event id or an incident id."""

    ack_id: str
    target_id: str
    by: str
    note: str
    time: str


class DroneLink:
    """One drone's MQTT session and outbox pump; see the module docstring."""

    def __init__(
        self,
        config: AlertsConfig,
        site: str,
        drone: str,
        clock: Callable[[], float] = time.time,
        *,
        broker_url: str | None = None,
    ) -> None:
        self.config = config
        self.site = site
        self.drone = drone
        self._clock = clock
        self._settings = ClientSettings.from_config(config, broker_url)
        self._topics = Topics(site, drone, config.topic_prefix)
        self._client_id = config.client_id or f"dronepatrol-{site}-{drone}"
        self._outbox = Outbox(
            config.outbox_path, max_rows=config.outbox_max_rows, synchronous=config.outbox_synchronous, clock=clock
        )
        self._protocol = protocol_of(config.mqtt_version)
        self._client: mqtt.Client | None = None
        self._wake = threading.Event()
        self._pump_state = OutboxPump(self._outbox, config.max_inflight)
        self._reset_inflight = False
        self._downgrade = False
        self._probe_due = 0.0
        self._probe_delay_s = config.reconnect_min_s
        self._running = False
        self._pump: threading.Thread | None = None
        self._connected = threading.Event()
        self._status_lock = threading.Lock()
        self._status_state = "online"
        self._status_fields: dict[str, Any] = {}
        self._status_dirty = False
        self._status_pending = False
        self._ack_callbacks: list[Callable[[AlertAck], None]] = []
        self._last_telemetry_s = -1e18
        self._last_video_s = -1e18
        self._state = "stopped"
        self.last_error: AlertsError | None = None
        self.connection_error: BrokerConnectionError | None = None
        self._counts = dict.fromkeys(
            (
                "alerts_queued",
                "telemetry_sent",
                "telemetry_buffered",
                "telemetry_skipped",
                "video_sent",
                "video_dropped",
                "acks_received",
                "connects",
                "disconnects",
            ),
            0,
        )

    @property
    def connected(self) -> bool:
        """True while a session with the broker is up."""
        return self._connected.is_set()

    @property
    def protocol(self) -> str:
        """``"5"`` or ``"3.1.1"``: the protocol in use (``auto`` settles on connect)."""
        return "5" if self._protocol == MQTTProtocolVersion.MQTTv5 else "3.1.1"

    def _props(self, content_type: str, expiry_s: int, event_id: str | None = None) -> Properties | None:
        if self._protocol != MQTTProtocolVersion.MQTTv5:
            return None
        props = Properties(PacketTypes.PUBLISH)
        props.ContentType = content_type
        if expiry_s > 0:
            props.MessageExpiryInterval = expiry_s
        if event_id:
            props.UserProperty = [("ce-id", event_id)]
        return props

    def _new_client(self) -> None:
        old = self._client
        if old is not None:
            old.on_connect = old.on_disconnect = old.on_publish = old.on_message = old.on_connect_fail = None
            old.disconnect()
            old.loop_stop()
        v5 = self._protocol == MQTTProtocolVersion.MQTTv5
        client = make_client(
            self._settings, self._client_id, self._protocol, **({} if v5 else {"clean_session": False})
        )
        client.max_inflight_messages_set(self.config.max_inflight)
        client.max_queued_messages_set(0)
        will = status_payload(
            "offline", site=self.site, drone=self.drone, time_s=self._clock(), reason="connection lost"
        )
        will_props = None
        if v5:
            will_props = Properties(PacketTypes.WILLMESSAGE)
            will_props.ContentType = JSON_TYPE
        client.will_set(self._topics.status, json.dumps(will).encode(), qos=1, retain=True, properties=will_props)
        client.on_connect = guarded(self._on_connect)
        client.on_connect_fail = guarded(self._on_connect_fail)
        client.on_disconnect = guarded(self._on_disconnect)
        client.on_publish = guarded(self._on_publish)
        client.on_message = guarded(self._on_message)
        connect_props = None
        if v5:
            connect_props = Properties(PacketTypes.CONNECT)
            connect_props.SessionExpiryInterval = self._settings.session_expiry_s
        self._client = client
        self._reset_inflight = True
        addr = self._settings.address
        client.connect_async(
            addr.host,
            addr.port,
            keepalive=self._settings.keepalive_s,
            clean_start=False if v5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
            properties=connect_props,
        )
        client.loop_start()

    def _on_connect(self, client: mqtt.Client, _ud: Any, _flags: Any, rc: Any, props: Any) -> None:
        if client is not self._client:
            return
        code, name = reason_text(rc)
        if code != 0:
            if code == UNSUPPORTED_PROTOCOL and self._may_downgrade():
                log.info("broker %s does not speak MQTT 5; using MQTT 3.1.1", self._settings.address.url)
                self._downgrade = True
                self._wake.set()
                return
            err = BrokerConnectionError(self._settings.address.url, code, name)
            if str(err) != str(self.connection_error):
                log.error(
                    "%s; alerts wait in the outbox (%d) and the publisher keeps retrying", err, self._outbox.depth
                )
            self.connection_error = err
            self.last_error = err
            self._state = f"refused: {name} ({code})"
            return
        receive_max = getattr(props, "ReceiveMaximum", None) if props is not None else None
        limit = self.config.max_inflight
        self._pump_state.window = min(limit, int(receive_max)) if receive_max else limit
        self.connection_error = None
        self._counts["connects"] += 1
        self._state = "connected"
        with self._status_lock:
            self._status_dirty = True
        client.subscribe(self._topics.ack, qos=1)
        self._connected.set()
        log.info(
            "connected to %s (MQTT %s), %d alert(s) waiting",
            self._settings.address.url,
            self.protocol,
            self._outbox.depth,
        )
        self._wake.set()

    def _may_downgrade(self) -> bool:
        return (
            self.config.mqtt_version == "auto"
            and self._protocol == MQTTProtocolVersion.MQTTv5
            and not self._counts["connects"]
            and not self._downgrade
        )

    def _on_connect_fail(self, client: mqtt.Client, _ud: Any) -> None:
        if client is not self._client:
            return
        if not self._state.startswith("unreachable"):
            log.warning(
                "broker %s unreachable; alerts wait in the outbox (%d), retrying with back-off",
                self._settings.address.url,
                self._outbox.depth,
            )
        self._state = "unreachable, retrying"

    def _on_disconnect(self, client: mqtt.Client, _ud: Any, _flags: Any, rc: Any, _props: Any) -> None:
        if client is not self._client:
            return
        was = self._connected.is_set()
        self._connected.clear()
        if was:
            self._counts["disconnects"] += 1
            code, name = reason_text(rc)
            if self._running:
                log.warning("disconnected from %s: %s (%d); reconnecting", self._settings.address.url, name, code)
            if self._running:
                self._state = "connecting"

    def _on_publish(self, client: mqtt.Client, _ud: Any, mid: int, rc: Any, _props: Any) -> None:
        if client is not self._client:
            return
        self._pump_state.on_publish(mid, *reason_text(rc))
        self._wake.set()

    def _on_message(self, client: mqtt.Client, _ud: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            event = parse_event(msg.payload)
        except AlertSchemaError as exc:
            log.warning("ignored a malformed message on %s: %s", msg.topic, exc)
            return
        if event.type != ACK_TYPE:
            return
        data = AckData.model_validate(event.data)
        ack = AlertAck(ack_id=event.id, target_id=data.target_id, by=data.by, note=data.note, time=event.time)
        self._counts["acks_received"] += 1
        for callback in list(self._ack_callbacks):
            try:
                callback(ack)
            except Exception:
                log.exception("ack callback failed for %s", ack.target_id)

    def _pump_main(self) -> None:
        while self._running:
            self._wake.wait(0.25)
            self._wake.clear()
            try:
                self._pump_once()
            except Exception:
                log.exception("alerts pump: unexpected error (retrying)")
                time.sleep(0.2)

    def _probe(self) -> None:
        """``auto``: learn once whether the broker speaks MQTT 5 (see :func:`probe_protocol`), then connect."""
        now = time.monotonic()
        if now < self._probe_due:
            return
        addr = self._settings.address
        protocol, why = probe_protocol(self._settings, f"{self._client_id}-probe")
        if protocol is None:
            detail = f"unreachable, retrying ({why})"
            if self._state != detail:
                log.warning("broker %s %s; alerts wait in the outbox (%d)", addr.url, detail, self._outbox.depth)
            self._state = detail
            self._probe_due = now + self._probe_delay_s
            self._probe_delay_s = min(self._probe_delay_s * 2, self._settings.reconnect_max_s)
            return
        if protocol == MQTTProtocolVersion.MQTTv311:
            log.info("broker %s does not speak MQTT 5; using MQTT 3.1.1", addr.url)
        self._protocol = protocol
        self._new_client()

    def _pump_once(self) -> None:
        if self._client is None:
            self._probe()
            return
        if self._downgrade:
            self._downgrade = False
            self._protocol = MQTTProtocolVersion.MQTTv311
            self._new_client()
        if self._reset_inflight:
            self._reset_inflight = False
            self._pump_state.reset()
            with self._status_lock:
                self._status_pending = False
                self._status_dirty = True
        self._pump_state.settle(self._status_settled)
        if self.last_error is not self._pump_state.last_rejection and self._pump_state.last_rejection is not None:
            self.last_error = self._pump_state.last_rejection
        if self.connected and self._client is not None:
            self._send_status()
            self._pump_state.feed(self._client, self._row_props)

    def _status_settled(self, item: Tracked, code: int, name: str) -> None:
        self._status_pending = False
        if code >= 0x80:
            self.last_error = PublishRejectedError(item.topic, code, name)
            log.error("%s", self.last_error)

    def _row_props(self, row: OutboxRow) -> Properties | None:
        if row.cls == ALERT:
            return self._props(CONTENT_TYPE, self.config.message_expiry_s, row.event_id)
        return self._props(JSON_TYPE, max(1, int((row.expires_s or 0.0) - self._clock())))

    def _send_status(self) -> None:
        client = self._client
        if client is None or not self._status_dirty or self._status_pending:
            return
        with self._status_lock:
            self._status_dirty = False
            doc = status_payload(
                self._status_state,
                site=self.site,
                drone=self.drone,
                time_s=self._clock(),
                protocol=self.protocol,
                outbox_depth=self._outbox.depth,
                **self._status_fields,
            )
        payload = json.dumps(doc, separators=(",", ":")).encode()
        info = client.publish(self._topics.status, payload, qos=1, retain=True, properties=self._props(JSON_TYPE, 0))
        self._status_pending = True
        self._pump_state.track(info.mid, Tracked(self._topics.status))
