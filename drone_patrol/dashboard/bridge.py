"""The dashboard's MQTT client: follows the drones' topics; publishes acks, dispatch steps and commands.

Broker address, credentials, TLS and the paho client come from
:mod:`drone_patrol.alerts.connection` (the same definitions the drones and the
command-room watcher use). One client follows alerts and acks (QoS 1), status
(retained, QoS 1), telemetry and video (QoS 0) with a persistent session under a
fixed client id, so QoS 1 alerts published while the dashboard restarts are
delivered when it comes back. ``auto`` speaks MQTT 5 and falls back to 3.1.1 when
the broker refuses it (the embedded amqtt broker). The PUBACK of an alert, ack or
step goes once it is archived; a message that could not be (the disk) is left
unacknowledged, so the broker sends it again after the next reconnect.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt

from drone_patrol.alerts.connection import (
    BrokerConnectionError,
    ClientSettings,
    SubscriptionRejectedError,
    Topics,
    take_in,
)
from drone_patrol.alerts.session import MqttSession
from drone_patrol.core.errors import AlertsError

log = logging.getLogger(__name__)

MessageHandler = Callable[[str, bytes, bool], None]
LinkHandler = Callable[[bool, str], None]


def subscriptions(site: str, prefix: str = "dronepatrol") -> list[tuple[str, int]]:
    """Topic filters (and QoS) the dashboard follows for ``site`` (``+`` for every site)."""
    t = Topics(site, "+", prefix)
    return [(t.alerts_filter, 1), (t.status, 1), (t.telemetry, 0), (t.video, 0), (f"{t.base}/commands/result", 1)]


class MqttBridge(MqttSession):
    """One MQTT connection for the dashboard; reconnects by itself until :meth:`stop`."""

    probe_timeout_s = 5.0
    thread_name = "dashboard-mqtt"

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
        super().__init__(settings, client_id, persistent=persistent)
        self.settings = settings
        self.broker_url = settings.address.url
        self.site = site
        self.prefix = prefix
        self._handler = on_message
        self._on_link = on_link

    def start(self) -> None:
        """Connect in the background (``auto`` first probes whether the broker speaks MQTT 5)."""
        if not self._running:
            self._begin()

    def wait_connected(self, timeout_s: float) -> bool:
        """Wait until connected and the broker confirmed the subscriptions; ``False`` on timeout."""
        return self._connected.wait(timeout_s)

    def stop(self) -> None:
        """Disconnect (the persistent session stays on the broker) and stop the network thread."""
        self._end()

    def publish_json(self, topic: str, payload: dict[str, Any], *, timeout_s: float = 3.0, expiry_s: int = 0) -> None:
        """Publish a CloudEvent at QoS 1 and wait for the broker's PUBACK; ``expiry_s`` > 0 sets its
        MQTT 5 message expiry (a broker drops it after that long undelivered).

        Raises :class:`AlertsError` when not connected or unconfirmed, and
        :class:`PublishRejectedError` when the broker refuses it (MQTT 5, e.g. an ACL).
        """
        if self._client is None or not self.connected:
            raise AlertsError(f"cannot publish on {topic}: not connected to {self.broker_url}")
        if not self._publish_confirmed(topic, payload, timeout_s, str(payload.get("id", "")) or None, expiry_s):
            raise AlertsError(
                f"publish on {topic}: not confirmed by {self.broker_url} within {timeout_s:.1f} s"
                " (it may still arrive: the page shows it when it does)"
            )

    # ------------------------------------------------------------------ session hooks

    def _unreachable(self, why: str) -> None:
        if self.last_error is None or why not in str(self.last_error):
            log.warning("dashboard: broker %s unreachable (%s); retrying", self.broker_url, why)
            self.last_error = AlertsError(f"broker {self.broker_url} unreachable: {why}")

    def _refused(self, err: BrokerConnectionError, new: bool) -> None:
        if new:
            log.error("dashboard: %s", err)
        self.last_error = err
        if self._on_link is not None:
            self._on_link(False, str(err))

    def _session_up(self, client: mqtt.Client, props: Any) -> None:
        self.last_error = None
        self._subscribe(client, subscriptions(self.site, self.prefix))
        log.info("dashboard: connected to %s (MQTT %s) as %s", self.broker_url, self.protocol, self.client_id)

    def _subscribed(self, refused: list[SubscriptionRejectedError]) -> None:
        for err in refused:
            log.error("dashboard: %s", err)
            self.last_error = err
        self._connected.set()
        if self._on_link is not None:
            self._on_link(True, "; ".join(str(err) for err in refused))

    def _session_down(self, was_connected: bool, code: int, name: str) -> None:
        if was_connected and self._running:
            log.warning("dashboard: lost %s: %s (%d); reconnecting", self.broker_url, name, code)
            if self._on_link is not None:
                self._on_link(False, name)

    def _client_options(self) -> dict[str, Any]:
        return {"manual_ack": True}  # PUBACK once taken in (see :meth:`_message`)

    def _message(self, client: mqtt.Client, _ud: Any, msg: mqtt.MQTTMessage) -> None:
        take_in(client, msg, lambda: self._handler(msg.topic, bytes(msg.payload), bool(msg.retain)), "dashboard")
