"""The drone's side: alerts through the durable outbox to MQTT, plus status, telemetry and video.

One pump thread owns the send side. :meth:`AlertPublisher.publish_alert` commits the
alert to the outbox and returns once the commit is on disk; the pump
(:class:`OutboxPump`) gets the row before the commit and hands it to paho at once, so
the network trip and the disk sync run side by side. The pump sends rows in order, at
most ``max_inflight`` unacknowledged at a time (and never more than the broker's
Receive Maximum), marks a row delivered when its PUBACK arrives (the outbox deletes
delivered rows in batches, never making an insert wait for a sync), and on MQTT 5
keeps a row the broker refused (e.g. 135 Not authorized) as a dead letter, surfaced in
:attr:`AlertPublisher.last_error` and the metrics.

paho resends unacknowledged QoS 1 messages itself after a reconnect (with DUP); after
a process restart the outbox replays what is left. Either way the command room may
see an alert twice and deduplicates by event id.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from paho.mqtt.enums import MQTTErrorCode

from drone_patrol.alerts.delivery import CommandDelivery
from drone_patrol.alerts.eyes_on import CommandSchemaError, CommandState, Reason, result_event
from drone_patrol.alerts.link import JSON_TYPE, AlertAck, Command, DroneLink
from drone_patrol.alerts.schema import alert_message, status_payload, telemetry_payload
from drone_patrol.core.types import Alert, VehicleState

__all__ = ["AlertAck", "AlertPublisher"]

log = logging.getLogger("drone_patrol.alerts.publisher")


class AlertPublisher(DroneLink):
    """Publishes one drone's alerts, status, telemetry and video; see the module docstring.

    ``AlertPublisher(config, site, drone, clock=time.time, *, broker_url=None)``: the
    ``alerts`` config section, the drone's identity (topics and CloudEvents source),
    the clock that stamps status and rate-limits telemetry, and optionally a broker
    URL overriding ``config.broker_url``. A missing broker is not fatal:
    :meth:`start` returns at once, alerts wait in the outbox, and :attr:`metrics`
    says ``state: unreachable, retrying (...)``.
    """

    @property
    def outbox_depth(self) -> int:
        """Messages committed but not yet acknowledged by the broker."""
        return self._outbox.depth

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
            "inflight": self._pump_state.inflight,
            "received_unacknowledged": self.unacknowledged,
            "alerts_delivered": self._pump_state.delivered_alerts,
            "alerts_rejected": self._pump_state.rejected_alerts,
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
        self._state = "connecting"
        self._begin()
        self._pump = threading.Thread(target=self._pump_main, name=f"alerts-outbox-{self.drone}", daemon=True)
        self._pump.start()
        return self

    def publish_alert(self, alert: Alert) -> str:
        """Commit ``alert`` to the outbox and schedule it; returns its event id.

        Raises :class:`AlertSchemaError` when the alert does not fit the schema (e.g. a
        hotspot without ``max_temperature_c``). A thumbnail over ``thumbnail_max_bytes``
        is left out of the message, not the alert.
        """
        event_id, topic, payload, severity = self._row(alert)
        # The row went to paho (or to the pump, which it woke) before its commit: no wake-up
        # here, which would only compete with paho's thread for the interpreter.
        self._outbox.put_alert(event_id, topic, payload, severity)
        self._counts["alerts_queued"] += 1
        return event_id

    def publish_alerts(self, alerts: Sequence[Alert]) -> list[str]:
        """:meth:`publish_alert` for several alerts at once (those of one frame): one commit and
        one disk sync for all, sent in this order; returns their event ids.

        All or none: an alert that does not fit the schema raises :class:`AlertSchemaError`
        before any of them is committed, and a failed commit (:class:`OutboxError`) leaves none
        in the outbox (some may still have gone out: a retry is deduplicated by event id).
        """
        rows = [self._row(alert) for alert in alerts]
        self._outbox.put_alerts(rows)
        self._counts["alerts_queued"] += len(rows)
        return [row[0] for row in rows]

    def _row(self, alert: Alert) -> tuple[str, str, bytes, str]:
        """The outbox row of ``alert``: (event id, topic, wire message, severity)."""
        message = alert_message(
            alert,
            site=self.site,
            drone=self.drone,
            prefix=self.config.topic_prefix,
            max_thumbnail_bytes=self.config.thumbnail_max_bytes,
        )
        if message.thumbnail_left_out:
            log.warning("alert %s: thumbnail of %d bytes left out", alert.alert_id, len(alert.thumbnail_jpeg or b""))
        return message.event_id, self._topics.alert(alert.kind.value), message.payload, alert.severity.value

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

    def publish_telemetry(self, vehicle_state: VehicleState, force: bool = False) -> bool:
        """Send one telemetry sample at QoS 0 if at least ``1/telemetry_hz`` passed since the last
        (or at once with ``force``, e.g. the final state after landing).

        While disconnected the sample is buffered in the outbox for ``telemetry_buffer_s``
        (behind every alert). Returns True when sent or buffered.
        """
        now = self._clock()
        if not force and now - self._last_telemetry_s < 0.95 / self.config.telemetry_hz:
            self._counts["telemetry_skipped"] += 1
            return False
        self._last_telemetry_s = now
        doc = telemetry_payload(vehicle_state, site=self.site, drone=self.drone)
        payload = json.dumps(doc, separators=(",", ":")).encode()
        client = self._client
        if client is not None and self.connected:
            info = client.publish(self._topics.telemetry, payload, qos=0, properties=self._props(JSON_TYPE, 10))
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

    def on_command(self, callback: Callable[[Command | CommandSchemaError], None]) -> None:
        """Call ``callback`` for each command from the command room on this drone's commands topic
        (network thread); a malformed one arrives as the :class:`CommandSchemaError` that says why.

        The broker gets the command's PUBACK once ``callback`` has returned: a callback that only
        queues the command for later loses it in a crash; such a handler takes
        :meth:`on_command_delivery` instead."""
        self._add_command_handler(callback)

    def on_command_delivery(self, callback: Callable[[CommandDelivery], None]) -> None:
        """Hand each command to ``callback`` as a :class:`~drone_patrol.alerts.delivery.CommandDelivery`
        (network thread); the broker gets its PUBACK only when the handler calls ``taken()``, so a
        command not yet taken in when the drone goes down is delivered again (``dup``) afterwards."""
        self._add_command_handler(delivery_callback=callback)

    def publish_command_result(self, command_id: str, state: CommandState | str, reason: Reason | None = None) -> str:
        """Queue the drone's answer to a command (QoS 1, through the outbox like an alert); returns its event id."""
        event = result_event(
            command_id, state, reason, site=self.site, drone=self.drone, time_s=self._clock(),
            prefix=self.config.topic_prefix,
        )  # fmt: skip
        payload = json.dumps(event, separators=(",", ":")).encode()
        self._outbox.put_alert(event["id"], self._topics.command_results, payload, "info")
        self._counts["command_results_queued"] = self._counts.get("command_results_queued", 0) + 1
        return str(event["id"])

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Wait until the outbox is empty and nothing is in flight; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._outbox.depth == 0 and not self._pump_state.inflight and not self._status_pending:
                return True
            self._wake.set()
            time.sleep(0.005)
        return self._outbox.depth == 0 and not self._pump_state.inflight

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
        self._end()
        self._state = "stopped"
        self._outbox.close()

    def __enter__(self) -> AlertPublisher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

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
