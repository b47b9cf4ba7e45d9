"""The drone's side: alerts through the durable outbox to MQTT, plus status, telemetry and video.

One pump thread owns the outbox's send side. :meth:`AlertPublisher.publish_alert`
commits the alert to the outbox and wakes the pump; the pump hands rows to paho in
order, at most ``max_inflight`` unacknowledged at a time (and no more than the
broker's Receive Maximum). ``on_publish`` runs in paho's network thread under paho's
own message lock, so it only appends ``(mid, reason)`` to a list behind a small
lock that is never held across a paho call; the pump resolves mids to rows after
``publish()`` has returned, so a PUBACK that arrives before ``publish()`` returns is
handled like any other. A row is deleted only when its PUBACK arrives; on MQTT 5 a
PUBACK with a failure reason (e.g. 135 Not authorized) turns the row into a dead
letter and is surfaced in :attr:`AlertPublisher.last_error` and the metrics.

paho resends unacknowledged QoS 1 messages itself after a reconnect (with DUP); after
a process restart the outbox replays what is left. Either way the command room may
see an alert twice and deduplicates by event id.
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
from paho.mqtt.enums import MQTTErrorCode, MQTTProtocolVersion
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
from drone_patrol.alerts.outbox import ALERT, TELEMETRY, Outbox, OutboxRow
from drone_patrol.alerts.schema import (
    ACK_TYPE,
    CONTENT_TYPE,
    AckData,
    AlertSchemaError,
    alert_event,
    parse_event,
    status_payload,
    telemetry_payload,
)
from drone_patrol.core.config import AlertsConfig
from drone_patrol.core.errors import AlertsError
from drone_patrol.core.types import Alert, VehicleState

log = logging.getLogger("drone_patrol.alerts.publisher")

_JSON = "application/json"


@dataclass(frozen=True)
class AlertAck:
    """An acknowledgement from the command room: ``target_id`` is an alert's event id or an incident id."""

    ack_id: str
    target_id: str
    by: str
    note: str
    time: str


@dataclass(frozen=True)
class _StatusSend:
    payload: bytes


class AlertPublisher:
    """Publishes one drone's alerts, status, telemetry and video; see the module docstring.

    A missing broker is not fatal: :meth:`start` returns at once, alerts wait in the
    outbox, and :attr:`metrics` says ``state: connecting`` with the last error.
    """

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
        self._ack_lock = threading.Lock()  # guards _acks only; never held across a paho call
        self._acks: list[tuple[int, int, str]] = []
        self._inflight: dict[int, OutboxRow | _StatusSend] = {}  # pump thread only
        self._cursor = {ALERT: 0, TELEMETRY: 0}  # pump thread only
        self._window = config.max_inflight
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
                "alerts_delivered",
                "alerts_rejected",
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

    # ------------------------------------------------------------------ public surface

    @property
    def connected(self) -> bool:
        """True while a session with the broker is up."""
        return self._connected.is_set()

    @property
    def outbox_depth(self) -> int:
        """Messages committed but not yet acknowledged by the broker."""
        return self._outbox.depth

    @property
    def protocol(self) -> str:
        """``"5"`` or ``"3.1.1"``: the protocol in use (``auto`` settles on connect)."""
        return "5" if self._protocol == MQTTProtocolVersion.MQTTv5 else "3.1.1"

    @property
    def metrics(self) -> dict[str, Any]:
        """Counters and gauges for the service's metrics endpoint and for the status."""
        return {
            "state": self._state,
            "connected": self.connected,
            "broker": self._settings.address.url,
            "protocol": self.protocol,
            "outbox_depth": self._outbox.depth,
            "outbox_rejected": self._outbox.rejected,
            "outbox_over_capacity": self._outbox.over_capacity,
            "inflight": len(self._inflight),
            "dropped_alerts": self._outbox.dropped_alerts,
            "dropped_telemetry": self._outbox.dropped_telemetry + self._outbox.expired_telemetry,
            "last_error": str(self.last_error) if self.last_error else None,
            "connection_error": str(self.connection_error) if self.connection_error else None,
            **self._counts,
        }

    def start(self) -> AlertPublisher:
        """Connect in the background and start the pump; returns at once."""
        if self._running:
            return self
        self._running = True
        self._state = "connecting"
        if self.config.mqtt_version != "auto":
            self._new_client()
        self._pump = threading.Thread(target=self._pump_main, name=f"alerts-outbox-{self.drone}", daemon=True)
        self._pump.start()
        return self

    def publish_alert(self, alert: Alert) -> str:
        """Commit ``alert`` to the outbox and schedule it; returns its event id.

        Raises :class:`AlertSchemaError` when the alert does not fit the schema (e.g. a
        hotspot without ``max_temperature_c``). A thumbnail over ``thumbnail_max_bytes``
        is left out of the message, not the alert.
        """
        event = alert_event(
            alert,
            site=self.site,
            drone=self.drone,
            prefix=self.config.topic_prefix,
            max_thumbnail_bytes=self.config.thumbnail_max_bytes,
        )
        if alert.thumbnail_jpeg and event["data"]["thumbnail"] is None:
            log.warning("alert %s: thumbnail of %d bytes left out", alert.alert_id, len(alert.thumbnail_jpeg))
        payload = json.dumps(event, separators=(",", ":")).encode()
        self._outbox.put_alert(event["id"], self._topics.alert(alert.kind.value), payload, alert.severity.value)
        self._counts["alerts_queued"] += 1
        self._wake.set()
        return str(event["id"])

    def publish_status(self, state: str, **fields: Any) -> None:
        """Set the retained status (``online``, a mission state, ...) and its fields (battery, ...).

        Fields accumulate across calls; ``None`` removes one. Sent now if connected,
        else on the next connect. ``offline`` is what the last will says.
        """
        with self._status_lock:
            self._status_state = state
            for key, value in fields.items():
                if value is None:
                    self._status_fields.pop(key, None)
                else:
                    self._status_fields[key] = value
            self._status_dirty = True
        self._wake.set()

    def publish_telemetry(self, vehicle_state: VehicleState) -> bool:
        """Send one telemetry sample at QoS 0 if at least ``1/telemetry_hz`` passed since the last.

        While disconnected the sample is buffered in the outbox for ``telemetry_buffer_s``
        (behind every alert). Returns True when sent or buffered.
        """
        now = self._clock()
        if now - self._last_telemetry_s < 0.95 / self.config.telemetry_hz:
            self._counts["telemetry_skipped"] += 1
            return False
        self._last_telemetry_s = now
        doc = telemetry_payload(vehicle_state, site=self.site, drone=self.drone)
        payload = json.dumps(doc, separators=(",", ":")).encode()
        client = self._client
        if client is not None and self.connected:
            info = client.publish(self._topics.telemetry, payload, qos=0, properties=self._props(_JSON, 10))
            if info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
                self._counts["telemetry_sent"] += 1
                return True
        if self.config.telemetry_buffer_s > 0:
            seq = self._outbox.put_telemetry(self._topics.telemetry, payload, ttl_s=self.config.telemetry_buffer_s)
            if seq is not None:
                self._counts["telemetry_buffered"] += 1
                return True
        return False

    def publish_video(self, jpeg: bytes) -> bool:
        """Send one JPEG frame at QoS 0 when connected, at most ``video_hz``; otherwise drop it."""
        now = self._clock()
        client = self._client
        if (
            now - self._last_video_s < 0.95 / self.config.video_hz
            or len(jpeg) > self.config.video_max_bytes
            or client is None
            or not self.connected
        ):
            self._counts["video_dropped"] += 1
            return False
        self._last_video_s = now
        info = client.publish(self._topics.video, jpeg, qos=0, properties=self._props("image/jpeg", 5))
        ok = info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS
        self._counts["video_sent" if ok else "video_dropped"] += 1
        return ok

    def on_ack(self, callback: Callable[[AlertAck], None]) -> None:
        """Call ``callback(AlertAck)`` for each acknowledgement from the command room (network thread)."""
        self._ack_callbacks.append(callback)

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Wait until the outbox is empty and nothing is in flight; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._outbox.depth == 0 and not self._inflight and not self._status_pending:
                return True
            self._wake.set()
            time.sleep(0.005)
        return self._outbox.depth == 0 and not self._inflight

    def stop(self, flush_timeout_s: float = 5.0) -> None:
        """Flush (when connected), publish status ``offline``, disconnect and close the outbox."""
        if not self._running:
            return
        if self.connected:
            self.flush(flush_timeout_s)
            self.publish_status("offline", reason="stopped")
            deadline = time.monotonic() + min(2.0, max(0.2, flush_timeout_s))
            while self.connected and (self._status_dirty or self._status_pending) and time.monotonic() < deadline:
                self._wake.set()
                time.sleep(0.005)
        self._running = False
        self._wake.set()
        if self._pump is not None:
            self._pump.join(5)
        client = self._client
        if client is not None:
            client.disconnect()
            client.loop_stop()
        self._connected.clear()
        self._state = "stopped"
        self._outbox.close()

    def __enter__(self) -> AlertPublisher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ the paho client

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
            will_props.ContentType = _JSON
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
                log.error("%s; alerts wait in the outbox (%d) and the publisher keeps retrying", err, self.outbox_depth)
            self.connection_error = err
            self.last_error = err
            self._state = f"refused: {name} ({code})"
            return
        receive_max = getattr(props, "ReceiveMaximum", None) if props is not None else None
        self._window = min(self.config.max_inflight, int(receive_max)) if receive_max else self.config.max_inflight
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
            self.outbox_depth,
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
                self.outbox_depth,
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
        code, name = reason_text(rc)
        with self._ack_lock:
            self._acks.append((mid, code, name))
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

    # ------------------------------------------------------------------ the pump

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
            self._inflight.clear()
            self._cursor = {ALERT: 0, TELEMETRY: 0}
            with self._ack_lock:
                self._acks.clear()
            with self._status_lock:
                self._status_pending = False
                self._status_dirty = True
        self._settle_acks()
        if self.connected:
            self._send_status()
            self._feed()

    def _settle_acks(self) -> None:
        with self._ack_lock:
            acks, self._acks = self._acks, []
        delivered: list[int] = []
        for mid, code, name in acks:
            item = self._inflight.pop(mid, None)
            if item is None:
                continue
            if isinstance(item, _StatusSend):
                self._status_pending = False
                if code >= 0x80:
                    self.last_error = PublishRejectedError(self._topics.status, code, name)
                    log.error("%s", self.last_error)
                continue
            if code >= 0x80:
                err = PublishRejectedError(item.topic, code, name, item.event_id)
                self.last_error = err
                self._outbox.reject(item.seq, f"{name} ({code})")
                self._counts["alerts_rejected"] += 1
                log.error("%s; kept as a dead letter in the outbox", err)
            else:
                delivered.append(item.seq)
                if item.cls == ALERT:
                    self._counts["alerts_delivered"] += 1
        self._outbox.delete(delivered)

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
        info = client.publish(self._topics.status, payload, qos=1, retain=True, properties=self._props(_JSON, 0))
        self._status_pending = True
        self._inflight[info.mid] = _StatusSend(payload)

    def _feed(self) -> None:
        client = self._client
        if client is None:
            return
        room = self._window - len(self._inflight)
        if room <= 0:
            return
        rows = self._outbox.pending(ALERT, self._cursor[ALERT], room)
        if not rows:
            rows = self._outbox.pending(TELEMETRY, self._cursor[TELEMETRY], room)
        now = self._clock()
        for row in rows:
            if row.cls == ALERT:
                props = self._props(CONTENT_TYPE, self.config.message_expiry_s, row.event_id)
            else:
                props = self._props(_JSON, max(1, int((row.expires_s or now) - now)))
            info = client.publish(row.topic, row.payload, qos=row.qos, properties=props)
            if info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN and row.qos == 0:
                break  # paho drops QoS 0 when offline: keep the row for the next connect
            if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
                log.warning("paho refused to queue row %d: %s", row.seq, mqtt.error_string(info.rc))
                break
            self._inflight[info.mid] = row
            self._cursor[row.cls] = row.seq

    def status_doc(self) -> dict[str, Any]:
        """The status document as it would be published now (for the service's own status page)."""
        with self._status_lock:
            return status_payload(
                self._status_state if self.connected else "not connected",
                site=self.site,
                drone=self.drone,
                time_s=self._clock(),
                connected=self.connected,
                state_detail=self._state,
                outbox_depth=self._outbox.depth,
                **self._status_fields,
            )
