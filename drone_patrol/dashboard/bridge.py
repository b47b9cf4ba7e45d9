"""The dashboard's MQTT client: follows the drones' topics and publishes acknowledgements.

Broker address, credentials, TLS and the paho client come from
:mod:`drone_patrol.alerts.connection` (the same definitions the drones and the
command-room watcher use). One client follows alerts and acks (QoS 1), status
(retained, QoS 1), telemetry and video (QoS 0) with a persistent session under a
fixed client id, so QoS 1 alerts published while the dashboard restarts are
delivered when it comes back. ``auto`` speaks MQTT 5 and falls back to 3.1.1 when
the broker refuses it (the embedded amqtt broker). paho sends the PUBACK of an
alert after :attr:`on_message` returns, that is after the alert is archived.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
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
    SubscriptionRejectedError,
    Topics,
    guarded,
    make_client,
    probe_protocol,
    protocol_of,
    reason_text,
)
from drone_patrol.alerts.schema import CONTENT_TYPE
from drone_patrol.core.errors import AlertsError

log = logging.getLogger(__name__)

MessageHandler = Callable[[str, bytes, bool], None]
LinkHandler = Callable[[bool, str], None]


def subscriptions(site: str, prefix: str = "dronepatrol") -> list[tuple[str, int]]:
    """Topic filters (and QoS) the dashboard follows for ``site`` (``+`` for every site)."""
    t = Topics(site, "+", prefix)
    return [(t.alerts_filter, 1), (t.status, 1), (t.telemetry, 0), (t.video, 0)]


class MqttBridge:
    """One MQTT connection for the dashboard; reconnects by itself until :meth:`stop`."""

    def __init__(
        self,
        settings: ClientSettings,
        *,
        site: str,
        client_id: str,
        on_message: MessageHandler,
        on_link: LinkHandler | None = None,
        prefix: str = "dronepatrol",
        persistent: bool = True,
    ) -> None:
        self.settings = settings
        self.broker_url = settings.address.url
        self.site = site
        self.prefix = prefix
        self.client_id = client_id
        self.persistent = persistent
        self._on_message = on_message
        self._on_link = on_link
        self._connected = threading.Event()
        self._protocol = protocol_of(settings.mqtt_version)
        self._client: mqtt.Client | None = None
        self._running = False
        self._lock = threading.Lock()
        self._pub_results: dict[int, tuple[int, str]] = {}
        self._sub_mid: int | None = None
        self._sub_filters: list[str] = []
        self._stopping = threading.Event()
        self._prober: threading.Thread | None = None
        self.last_error: AlertsError | None = None

    @property
    def connected(self) -> bool:
        """True while subscribed to a live broker session."""
        return self._connected.is_set()

    @property
    def protocol(self) -> str:
        """``"5"`` or ``"3.1.1"``."""
        return "5" if self._protocol == MQTTProtocolVersion.MQTTv5 else "3.1.1"

    def start(self) -> None:
        """Connect in the background (``auto`` first probes whether the broker speaks MQTT 5)."""
        if self._running:
            return
        self._running = True
        if self.settings.mqtt_version == "auto":
            self._prober = threading.Thread(target=self._probe_then_connect, name="dashboard-mqtt-probe", daemon=True)
            self._prober.start()
        else:
            self._new_client()

    def _probe_then_connect(self) -> None:
        """A v5 CONNECT with properties can leave an MQTT 3.1.1 broker (amqtt) hanging: ask plainly first."""
        delay_s = self.settings.reconnect_min_s
        while self._running:
            protocol, why = probe_protocol(self.settings, f"{self.client_id}-probe"[:64], timeout_s=5.0)
            if protocol is not None:
                self._protocol = protocol
                if self._running:
                    self._new_client()
                return
            if self.last_error is None or why not in str(self.last_error):
                log.warning("dashboard: broker %s unreachable (%s); retrying", self.broker_url, why)
                self.last_error = AlertsError(f"broker {self.broker_url} unreachable: {why}")
            self._stopping.wait(delay_s)
            delay_s = min(delay_s * 2, self.settings.reconnect_max_s)

    def wait_connected(self, timeout_s: float) -> bool:
        """Wait until connected and the broker confirmed the subscriptions; ``False`` on timeout."""
        return self._connected.wait(timeout_s)

    def stop(self) -> None:
        """Disconnect (the persistent session stays on the broker) and stop the network thread."""
        self._running = False
        self._stopping.set()
        if self._prober is not None:
            self._prober.join(6.0)
            self._prober = None
        client = self._client
        if client is not None:
            client.disconnect()
            client.loop_stop()
        self._connected.clear()

    def publish_json(self, topic: str, payload: dict[str, Any], *, timeout_s: float = 3.0) -> None:
        """Publish a CloudEvent at QoS 1 and wait for the broker's PUBACK.

        Raises :class:`AlertsError` when not connected or unconfirmed, and
        :class:`PublishRejectedError` when the broker refuses it (MQTT 5, e.g. an ACL).
        """
        client = self._client
        if client is None or not self.connected:
            raise AlertsError(f"cannot publish on {topic}: not connected to {self.broker_url}")
        props = None
        if self._protocol == MQTTProtocolVersion.MQTTv5:
            props = Properties(PacketTypes.PUBLISH)
            props.ContentType = CONTENT_TYPE
        body = json.dumps(payload, separators=(",", ":")).encode()
        info = client.publish(topic, body, qos=1, properties=props)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise AlertsError(f"cannot publish on {topic}: {mqtt.error_string(info.rc)}")
        deadline = time.monotonic() + timeout_s
        while not info.is_published() and time.monotonic() < deadline:
            time.sleep(0.005)
        with self._lock:
            result = self._pub_results.pop(info.mid, None)
        if result is not None and result[0] >= 0x80:
            raise PublishRejectedError(topic, result[0], result[1], str(payload.get("id", "")) or None)
        if not info.is_published():
            raise AlertsError(f"publish on {topic}: no PUBACK from {self.broker_url} within {timeout_s:.1f} s")

    # ------------------------------------------------------------------ paho

    def _new_client(self) -> None:
        old = self._client
        if old is not None:
            old.on_connect = old.on_disconnect = old.on_message = old.on_publish = old.on_subscribe = None
            old.disconnect()
            old.loop_stop()
        v5 = self._protocol == MQTTProtocolVersion.MQTTv5
        client = make_client(
            self.settings, self.client_id, self._protocol, **({} if v5 else {"clean_session": not self.persistent})
        )
        client.on_connect = guarded(self._handle_connect)
        client.on_disconnect = guarded(self._handle_disconnect)
        client.on_message = guarded(self._handle_message)
        client.on_publish = guarded(self._handle_publish)
        client.on_subscribe = guarded(self._handle_subscribe)
        props = None
        if v5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = self.settings.session_expiry_s if self.persistent else 0
        self._client = client
        client.connect_async(
            self.settings.address.host,
            self.settings.address.port,
            keepalive=self.settings.keepalive_s,
            clean_start=not self.persistent if v5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
            properties=props,
        )
        client.loop_start()

    def _downgrade(self) -> None:
        self._protocol = MQTTProtocolVersion.MQTTv311
        if self._running:
            self._new_client()

    def _handle_connect(self, client: mqtt.Client, _ud: Any, _flags: Any, rc: Any, _props: Any) -> None:
        if client is not self._client:
            return
        code, name = reason_text(rc)
        if code != 0:
            if code == UNSUPPORTED_PROTOCOL and self.settings.mqtt_version == "auto":
                threading.Thread(target=self._downgrade, name="dashboard-mqtt-downgrade", daemon=True).start()
                return
            err = BrokerConnectionError(self.broker_url, code, name)
            if str(err) != str(self.last_error):
                log.error("dashboard: %s", err)
            self.last_error = err
            if self._on_link is not None:
                self._on_link(False, str(err))
            return
        self.last_error = None
        filters = subscriptions(self.site, self.prefix)
        _, mid = client.subscribe(filters)
        with self._lock:
            self._sub_mid = mid
            self._sub_filters = [f for f, _ in filters]
        log.info("dashboard: connected to %s (MQTT %s) as %s", self.broker_url, self.protocol, self.client_id)

    def _handle_subscribe(self, _c: mqtt.Client, _ud: Any, mid: int, codes: list[Any], _props: Any) -> None:
        with self._lock:
            if mid != self._sub_mid:
                return
            filters = self._sub_filters
        refused = []
        for i, rc in enumerate(codes):
            code, name = reason_text(rc)
            if code >= 0x80:
                err = SubscriptionRejectedError(filters[i] if i < len(filters) else "?", code, name)
                log.error("dashboard: %s", err)
                self.last_error = err
                refused.append(str(err))
        self._connected.set()
        if self._on_link is not None:
            self._on_link(True, "; ".join(refused))

    def _handle_disconnect(self, client: mqtt.Client, _ud: Any, _flags: Any, rc: Any, _props: Any) -> None:
        if client is not self._client:
            return
        was = self._connected.is_set()
        self._connected.clear()
        if was and self._running:
            code, name = reason_text(rc)
            log.warning("dashboard: lost %s: %s (%d); reconnecting", self.broker_url, name, code)
            if self._on_link is not None:
                self._on_link(False, name)

    def _handle_publish(self, _c: mqtt.Client, _ud: Any, mid: int, rc: Any, _props: Any) -> None:
        with self._lock:
            self._pub_results[mid] = reason_text(rc)
            while len(self._pub_results) > 1000:
                self._pub_results.pop(next(iter(self._pub_results)))

    def _handle_message(self, _c: mqtt.Client, _ud: Any, msg: mqtt.MQTTMessage) -> None:
        self._on_message(msg.topic, bytes(msg.payload), bool(msg.retain))
