"""The drone's MQTT session: probe, paho client, last will, callbacks and the outbox pump thread.

:class:`DroneLink` is the machinery under :class:`drone_patrol.alerts.publisher.AlertPublisher`
(which adds what is published). The session (probe, paho client, reconnects) is
:class:`MqttSession`'s, always persistent and with a retained last will; the pump thread
(woken by new alerts, PUBACKs and connects) settles PUBACKs, sends the retained status,
switches to MQTT 3.1.1 when the broker refuses 5, and feeds the outbox through
:class:`OutboxPump`.

Received QoS 1 messages are acknowledged by the link itself (paho's ``manual_ack``), in
order, once taken in (:mod:`.delivery`): an ack from the command room after its callbacks
have run; a command after the service's handler has recorded and answered it, so that
one received just before a crash is sent again by the broker after the restart. A
command that arrives before any handler is registered (the service takes commands once
its vehicle link is up) is held, unacknowledged, and handed to the first one.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from drone_patrol.alerts.connection import (
    BrokerConnectionError,
    ClientSettings,
    PublishRejectedError,
    SubscriptionRejectedError,
    Topics,
    reason_text,
)
from drone_patrol.alerts.delivery import Command, CommandDelivery, InOrderAcks
from drone_patrol.alerts.eyes_on import CommandSchemaError, EyesOnCommand, parse_command
from drone_patrol.alerts.outbox import ALERT, Outbox, OutboxRow
from drone_patrol.alerts.pump import OutboxPump, Tracked
from drone_patrol.alerts.schema import ACK_TYPE, CONTENT_TYPE, AckData, AlertSchemaError, parse_event, status_payload
from drone_patrol.alerts.session import MqttSession
from drone_patrol.core.config import AlertsConfig

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


class DroneLink(MqttSession):
    """One drone's MQTT session and outbox pump; see the module docstring."""

    thread_name = "alerts-publisher"

    def __init__(
        self,
        config: AlertsConfig,
        site: str,
        drone: str,
        clock: Callable[[], float] = time.time,
        *,
        broker_url: str | None = None,
    ) -> None:
        super().__init__(
            ClientSettings.from_config(config, broker_url), config.client_id or f"dronepatrol-{site}-{drone}"
        )
        self.config = config
        self.site = site
        self.drone = drone
        self._clock = clock
        self._topics = Topics(site, drone, config.topic_prefix)
        self._outbox = Outbox(
            config.outbox_path, max_rows=config.outbox_max_rows, synchronous=config.outbox_synchronous, clock=clock
        )
        self._wake = threading.Event()
        self._pump_state = OutboxPump(self._outbox, config.max_inflight)
        self._outbox.on_insert = self._staged
        self._reset_inflight = False
        self._downgrade_due = False
        self._pump: threading.Thread | None = None
        self._status_lock = threading.Lock()
        self._status_state = "online"
        self._status_fields: dict[str, Any] = {}
        self._status_dirty = False
        self._status_pending = False
        self._ack_callbacks: list[Callable[[AlertAck], None]] = []
        self._command_callbacks: list[Callable[[Command | CommandSchemaError], None]] = []
        self._delivery_callbacks: list[Callable[[CommandDelivery], None]] = []
        self._handlers_lock = threading.RLock()  # held while commands are handed out, so they go in order
        self._unclaimed: list[CommandDelivery] = []  # commands received before any handler was registered
        self._acks = InOrderAcks()
        self._listening = threading.Event()
        self._last_telemetry_s = -1e18
        self._last_video_s = -1e18
        self._state = "stopped"
        self._counts = dict.fromkeys(
            (
                "alerts_queued",
                "telemetry_sent",
                "telemetry_buffered",
                "telemetry_skipped",
                "video_sent",
                "video_dropped",
                "acks_received",
                "commands_received",
                "connects",
                "disconnects",
            ),
            0,
        )

    def _client_options(self) -> dict[str, Any]:
        return {"manual_ack": True}  # PUBACK once taken in (see the module docstring)

    def _prepare(self, client: mqtt.Client, v5: bool) -> None:
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
        self._reset_inflight = True

    def _schedule_downgrade(self) -> None:
        self._downgrade_due = True  # the pump replaces the client, between two feeds of the outbox
        self._wake.set()

    def _unreachable(self, why: str) -> None:
        detail = f"unreachable, retrying ({why})"
        if self._state != detail:
            log.warning(
                "broker %s %s; alerts wait in the outbox (%d)", self._settings.address.url, detail, self._outbox.depth
            )
        self._state = detail

    def _refused(self, err: BrokerConnectionError, new: bool) -> None:
        if new:
            log.error("%s; alerts wait in the outbox (%d) and the publisher keeps retrying", err, self._outbox.depth)
        self.last_error = err
        self._state = f"refused: {err.reason} ({err.reason_code})"

    def _session_up(self, client: mqtt.Client, props: Any) -> None:
        receive_max = getattr(props, "ReceiveMaximum", None) if props is not None else None
        limit = self.config.max_inflight
        self._pump_state.window = min(limit, int(receive_max)) if receive_max else limit
        self._counts["connects"] += 1
        self._state = "connected"
        with self._status_lock:
            self._status_dirty = True
        self._acks.new_connection(client)  # before the broker resends what the last session left unacknowledged
        self._subscribe(client, [(self._topics.ack, 1), (self._topics.commands, 1)])
        self._connected.set()
        log.info(
            "connected to %s (MQTT %s), %d alert(s) waiting",
            self._settings.address.url,
            self.protocol,
            self._outbox.depth,
        )
        self._wake.set()

    def _connect_failed(self) -> None:
        if not self._state.startswith("unreachable"):
            log.warning(
                "broker %s unreachable; alerts wait in the outbox (%d), retrying with back-off",
                self._settings.address.url,
                self._outbox.depth,
            )
        self._state = "unreachable, retrying"

    def _subscribed(self, refused: list[SubscriptionRejectedError]) -> None:
        super()._subscribed(refused)
        if not refused:
            self._listening.set()

    @property
    def listening(self) -> bool:
        """True once the broker confirmed this connection's subscriptions to acks and commands.

        Until a drone's first session has subscribed, the broker keeps nothing sent to it."""
        return self._listening.is_set()

    def _session_down(self, was_connected: bool, code: int, name: str) -> None:
        self._listening.clear()
        self._acks.new_connection(None)  # what was not acknowledged the broker sends again on reconnecting
        with self._handlers_lock:
            self._unclaimed.clear()
        if was_connected:
            self._counts["disconnects"] += 1
            if self._running:
                log.warning("disconnected from %s: %s (%d); reconnecting", self._settings.address.url, name, code)
                self._state = "connecting"

    def _paho_publish(self, client: mqtt.Client, _ud: Any, mid: int, rc: Any, _props: Any) -> None:
        if client is not self._client:
            return
        if self._pump_state.on_publish(mid, *reason_text(rc)):
            self._wake.set()

    def _message(self, client: mqtt.Client, _ud: Any, msg: mqtt.MQTTMessage) -> None:
        if client is not self._client:
            return  # a replaced client's last words: the broker sends it again to the new one
        settle = self._acks.receive(msg)
        if msg.topic == self._topics.commands:
            self._command_message(msg, settle)
            return
        try:
            self._ack_message(msg)
        finally:
            settle()  # nothing the drone keeps comes of an ack: acknowledged once its callbacks ran

    def _ack_message(self, msg: mqtt.MQTTMessage) -> None:
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

    def _command_message(self, msg: mqtt.MQTTMessage, settle: Callable[[], None]) -> None:
        try:
            command: Command | CommandSchemaError = parse_command(msg.payload)
            left_s = getattr(msg.properties, "MessageExpiryInterval", None) if msg.properties else None
            if isinstance(command, EyesOnCommand) and left_s is not None:
                command = dataclasses.replace(command, expiry_left_s=float(left_s))
        except CommandSchemaError as exc:
            log.warning("malformed command on %s: %s", self._topics.commands, exc)
            command = exc
        self._counts["commands_received"] += 1
        delivery = CommandDelivery(command, bool(msg.dup), settle)
        with self._handlers_lock:
            if not self._command_callbacks and not self._delivery_callbacks:
                self._unclaimed.append(delivery)
                log.info("command %s held (unacknowledged) until the service takes commands", _command_id(command))
                return
            self._dispatch(delivery)

    def _add_command_handler(
        self,
        callback: Callable[[Command | CommandSchemaError], None] | None = None,
        delivery_callback: Callable[[CommandDelivery], None] | None = None,
    ) -> None:
        """Register a handler; the commands held until there was one go to it now."""
        with self._handlers_lock:
            if callback is not None:
                self._command_callbacks.append(callback)
            if delivery_callback is not None:
                self._delivery_callbacks.append(delivery_callback)
            held, self._unclaimed = self._unclaimed, []
            for delivery in held:  # before any that comes now
                self._dispatch(delivery)

    def _dispatch(self, delivery: CommandDelivery) -> None:
        """Call the plain callbacks, then hand ``delivery`` to each delivery handler (PUBACK when all took it)."""
        with self._handlers_lock:
            plain, takers = list(self._command_callbacks), list(self._delivery_callbacks)
        try:
            for callback in plain:
                try:
                    callback(delivery.command)
                except Exception:
                    log.exception("command callback failed")
        finally:
            delivery.expect(len(takers))
        for taker in takers:
            try:
                taker(delivery)
            except Exception:
                log.exception("command handler failed")
                delivery.taken()

    @property
    def unacknowledged(self) -> int:
        """Messages received on this connection whose PUBACK waits for their handling."""
        return self._acks.waiting

    def _staged(self, row: OutboxRow) -> None:
        """A new alert, between its INSERT and its COMMIT: send it now, while the commit syncs.

        From this thread when the pump is idle and caught up (one thread hop less on the way
        to the broker), else through the pump thread."""
        client = self._client
        if (
            client is not None
            and self.connected
            and not self._reset_inflight
            and not self._downgrade_due
            and self._pump_state.send_now(row, client, self._row_props)
        ):
            return
        self._pump_state.stage(row)
        self._wake.set()

    def _pump_main(self) -> None:
        while self._running:
            acks = self._pump_state.acks_waiting  # PUBACKs that did not wake the pump: not idle
            if acks:
                timeout_s = self._pump_state.settle_delay_s
            else:
                timeout_s = 0.05 if self._outbox.delivered_unpurged else 0.25
            woke = self._wake.wait(timeout_s)
            self._wake.clear()
            try:
                self._pump_once()
                self._pump_state.tidy(idle=not woke and not acks)
            except Exception:
                log.exception("alerts pump: unexpected error (retrying)")
                time.sleep(0.2)

    def _pump_once(self) -> None:
        if self._client is None:
            return  # still probing the broker
        if self._downgrade_due:
            self._downgrade_due = False
            self._downgrade()
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

    @property
    def last_rejected_alert(self) -> PublishRejectedError | None:
        """The broker's refusal of the latest alert it refused (MQTT 5 reason code and event id), if any.

        :attr:`last_error` holds whatever failed last, which may be a status or telemetry write.
        """
        return self._pump_state.last_rejection

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


def _command_id(command: Command | CommandSchemaError) -> str:
    return command.command_id or "(no id)" if isinstance(command, CommandSchemaError) else command.command_id
