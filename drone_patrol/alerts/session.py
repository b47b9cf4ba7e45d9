"""One MQTT session with a broker: probe, paho client, reconnects, and the callbacks' dispatch.

:class:`MqttSession` is what the drone's link, the command room's subscriber and the
dashboard's bridge share. ``auto`` first probes the broker for MQTT 5 in a thread
(see :func:`probe_protocol`; retried with back-off while the broker cannot be
reached), then runs one paho client with ``loop_start()``: reconnects with back-off
are paho's, and every callback is wrapped by :func:`guarded`. A broker that refuses
MQTT 5 on the first CONNECT gets a new MQTT 3.1.1 client. With more than one broker
address (the nodes of a cluster, :attr:`ClientSettings.fallbacks`), a node that cannot
be reached is left for the next one, in turn; the persistent session lives in the
cluster, so it carries on there.

Subclasses fill in the hooks: :meth:`_unreachable`, :meth:`_refused`,
:meth:`_session_up`, :meth:`_session_down`, :meth:`_subscribed` and :meth:`_message`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
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
    guarded,
    make_client,
    probe_protocol,
    protocol_of,
    reason_text,
)
from drone_patrol.alerts.props import PublishProperties
from drone_patrol.alerts.schema import CONTENT_TYPE
from drone_patrol.core.errors import AlertsError

log = logging.getLogger("drone_patrol.alerts.session")


class MqttSession:
    """A persistent (or clean) session under ``client_id``; see the module docstring.

    ``persistent`` turns clean start off and asks for the settings' session expiry, so
    the broker queues QoS 1 messages while the client is away.
    """

    #: How long one probe waits for a CONNACK.
    probe_timeout_s = 10.0
    #: Prefix of the names of the threads started here.
    thread_name = "mqtt-session"

    def __init__(self, settings: ClientSettings, client_id: str, *, persistent: bool = True) -> None:
        self._settings = settings
        self.client_id = client_id
        self.persistent = persistent
        self._protocol = protocol_of(settings.mqtt_version)
        self._client: mqtt.Client | None = None
        self._connected = threading.Event()
        self._answered = threading.Event()  # the broker answered (CONNACK) or is unreachable
        self._stopping = threading.Event()
        self._running = False
        self._prober: threading.Thread | None = None
        self._lock = threading.Lock()
        self._pub_results: dict[int, tuple[int, str]] = {}
        self._sub_filters: dict[int, list[str]] = {}
        self._sessions = 0
        self._switching = False
        self.connection_error: BrokerConnectionError | None = None
        self.last_error: AlertsError | None = None

    @property
    def connected(self) -> bool:
        """True while a session with the broker is up."""
        return self._connected.is_set()

    @property
    def protocol(self) -> str:
        """``"5"`` or ``"3.1.1"``: the protocol in use (``auto`` settles on connect)."""
        return "5" if self._protocol == MQTTProtocolVersion.MQTTv5 else "3.1.1"

    # ------------------------------------------------------------------ life cycle

    def _begin(self) -> None:
        """Connect in the background: ``auto`` probes first (in a thread), a fixed version connects at once."""
        self._running = True
        self._stopping.clear()
        if self._settings.mqtt_version == "auto":
            self._prober = threading.Thread(
                target=self._probe_then_connect, name=f"{self.thread_name}-probe", daemon=True
            )
            self._prober.start()
        else:
            self._new_client()

    def _begin_and_wait(self, wait_s: float | None) -> None:
        """:meth:`_begin` unless running; with ``wait_s``, wait for the broker's first answer.

        Raises :class:`BrokerConnectionError` when the broker refused the connection within
        ``wait_s``; an unreachable broker is not an error (the session keeps retrying).
        """
        if not self._running:
            self._begin()
        if wait_s is not None:
            self._answered.wait(wait_s)
            if self.connection_error is not None and not self.connected:
                raise self.connection_error

    def _end(self) -> None:
        """Stop retrying and disconnect (a persistent session stays on the broker)."""
        self._running = False
        self._stopping.set()
        prober = self._prober
        if prober is not None and prober is not threading.current_thread():
            prober.join(self.probe_timeout_s + 1.0)
        self._prober = None
        client = self._client
        if client is not None:
            client.disconnect()
            client.loop_stop()
        self._connected.clear()

    def _probe_then_connect(self) -> None:
        """A v5 CONNECT with properties can leave an MQTT 3.1.1 broker (amqtt) hanging: ask plainly first."""
        delay_s = self._settings.reconnect_min_s
        while self._running:
            protocol, why = probe_protocol(self._settings, f"{self.client_id}-probe"[:64], self.probe_timeout_s)
            if protocol is not None:
                if protocol == MQTTProtocolVersion.MQTTv311:
                    log.info("broker %s does not speak MQTT 5; using MQTT 3.1.1", self._settings.address.url)
                self._protocol = protocol
                if self._running:
                    self._new_client()
                return
            self._unreachable(why)
            self._answered.set()
            if self._settings.fallbacks:
                self._rotate()
                continue
            self._stopping.wait(delay_s)
            delay_s = min(delay_s * 2, self._settings.reconnect_max_s)

    def _client_options(self) -> dict[str, Any]:
        """Extra keyword arguments of :func:`make_client` (e.g. ``manual_ack``)."""
        return {}

    def _prepare(self, client: mqtt.Client, v5: bool) -> None:
        """Set up a new client before it connects (a last will, in-flight limits)."""

    def _new_client(self) -> None:
        old = self._client
        if old is not None:
            old.on_connect = old.on_disconnect = old.on_message = old.on_publish = old.on_subscribe = None
            old.on_connect_fail = None
            old.disconnect()
            old.loop_stop()
        v5 = self._protocol == MQTTProtocolVersion.MQTTv5
        kwargs = self._client_options()
        if not v5:
            kwargs["clean_session"] = not self.persistent
        client = make_client(self._settings, self.client_id, self._protocol, **kwargs)
        client.on_connect = guarded(self._paho_connect)
        client.on_connect_fail = guarded(self._paho_connect_fail)
        client.on_disconnect = guarded(self._paho_disconnect)
        client.on_message = guarded(self._message)
        client.on_publish = guarded(self._paho_publish)
        client.on_subscribe = guarded(self._paho_subscribe)
        self._prepare(client, v5)
        props = None
        if v5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = self._settings.session_expiry_s if self.persistent else 0
        self._client = client
        client.connect_async(
            self._settings.address.host,
            self._settings.address.port,
            keepalive=self._settings.keepalive_s,
            clean_start=not self.persistent if v5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
            properties=props,
        )
        client.loop_start()

    def _rotate(self) -> None:
        """Make the next of the cluster's addresses the current one."""
        s = self._settings
        self._settings = dataclasses.replace(s, address=s.fallbacks[0], fallbacks=(*s.fallbacks[1:], s.address))
        log.warning("broker %s unreachable; trying %s", s.address.url, self._settings.address.url)

    def _fail_over(self, client: mqtt.Client) -> None:
        """paho could not reach the current node: a new client for the next one (outside paho's thread)."""
        with self._lock:
            if client is not self._client or self._switching:
                return
            self._switching = True
        self._rotate()

        def switch() -> None:
            try:
                if self._running:
                    self._new_client()
            finally:
                self._switching = False

        threading.Thread(target=switch, name=f"{self.thread_name}-failover", daemon=True).start()

    def _may_downgrade(self) -> bool:
        v5 = self._protocol == MQTTProtocolVersion.MQTTv5
        return self._settings.mqtt_version == "auto" and v5 and not self._sessions

    def _schedule_downgrade(self) -> None:
        """Replace the client by an MQTT 3.1.1 one, outside paho's network thread (which cannot stop itself)."""
        threading.Thread(target=self._downgrade, name=f"{self.thread_name}-downgrade", daemon=True).start()

    def _downgrade(self) -> None:
        self._protocol = MQTTProtocolVersion.MQTTv311
        if self._running:
            self._new_client()

    # ------------------------------------------------------------------ publish and subscribe

    def _props(self, content_type: str, expiry_s: int, event_id: str | None = None) -> Properties | None:
        """MQTT 5 PUBLISH properties (``None`` on 3.1.1): content type, message expiry, the CloudEvent id."""
        if self._protocol != MQTTProtocolVersion.MQTTv5:
            return None
        return PublishProperties(content_type, expiry_s, event_id)

    def _subscribe(self, client: mqtt.Client, filters: list[tuple[str, int]]) -> None:
        """Subscribe to ``filters``; the SUBACK's refusals reach :meth:`_subscribed`."""
        _result, mid = client.subscribe(filters)
        if mid is not None:
            with self._lock:
                self._sub_filters[mid] = [f for f, _ in filters]

    def _publish_confirmed(
        self, topic: str, doc: dict[str, Any], timeout_s: float, event_id: str | None, expiry_s: int = 0
    ) -> bool:
        """Publish ``doc`` as a CloudEvent at QoS 1; ``True`` once the broker's PUBACK came within ``timeout_s``.

        ``expiry_s`` > 0 sets the message's expiry (MQTT 5): a broker drops it after that long undelivered.

        Raises :class:`PublishRejectedError` when the broker refuses it (MQTT 5, e.g. an
        ACL) and :class:`AlertsError` when paho cannot send it.
        """
        client = self._client
        if client is None:
            raise AlertsError(f"cannot publish on {topic}: not started")
        props = self._props(CONTENT_TYPE, expiry_s, event_id)
        info = client.publish(topic, json.dumps(doc, separators=(",", ":")).encode(), qos=1, properties=props)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            raise AlertsError(f"cannot publish on {topic}: {mqtt.error_string(info.rc)}")
        deadline = time.monotonic() + timeout_s
        while not self._acknowledged(info) and time.monotonic() < deadline:
            time.sleep(0.005)
        with self._lock:
            result = self._pub_results.pop(info.mid, None)
        if result is not None and result[0] >= 0x80:
            raise PublishRejectedError(topic, result[0], result[1], event_id)
        return result is not None or self._acknowledged(info)

    def _acknowledged(self, info: mqtt.MQTTMessageInfo) -> bool:
        """Whether the broker acknowledged the message of ``info``."""
        try:
            if info.is_published():
                return True
        except RuntimeError:
            # queued while the connection was down (or dropped before it went out): paho sends it
            # on reconnect, but is_published() raises for it for good; the PUBACK callback still counts
            pass
        with self._lock:
            return info.mid in self._pub_results

    # ------------------------------------------------------------------ paho callbacks

    def _paho_connect(self, client: mqtt.Client, _ud: Any, _flags: Any, rc: Any, props: Any) -> None:
        if client is not self._client:
            return
        code, name = reason_text(rc)
        if code == 0:
            self._sessions += 1
            self.connection_error = None
            self._session_up(client, props)
            self._answered.set()
            return
        if code == UNSUPPORTED_PROTOCOL and self._may_downgrade():
            log.info("broker %s does not speak MQTT 5; using MQTT 3.1.1", self._settings.address.url)
            self._schedule_downgrade()
            return
        err = BrokerConnectionError(self._settings.address.url, code, name)
        new = str(err) != str(self.connection_error)
        self.connection_error = err
        self._refused(err, new)
        self._answered.set()

    def _paho_connect_fail(self, client: mqtt.Client, _ud: Any) -> None:
        if client is self._client:
            self._connect_failed()
            if self._settings.fallbacks:
                self._fail_over(client)

    def _paho_disconnect(self, client: mqtt.Client, _ud: Any, _flags: Any, rc: Any, _props: Any) -> None:
        if client is not self._client:
            return
        was = self._connected.is_set()
        self._connected.clear()
        code, name = reason_text(rc)
        self._session_down(was, code, name)

    def _paho_subscribe(self, _c: mqtt.Client, _ud: Any, mid: int, codes: list[Any], _props: Any) -> None:
        with self._lock:
            filters = self._sub_filters.pop(mid, None)
        if filters is None:
            return
        refused = []
        for i, rc in enumerate(codes):
            code, name = reason_text(rc)
            if code >= 0x80:
                refused.append(SubscriptionRejectedError(filters[i] if i < len(filters) else "?", code, name))
        self._subscribed(refused)

    def _paho_publish(self, _c: mqtt.Client, _ud: Any, mid: int, rc: Any, _props: Any) -> None:
        with self._lock:
            self._pub_results[mid] = reason_text(rc)
            while len(self._pub_results) > 1000:
                self._pub_results.pop(next(iter(self._pub_results)))

    # ------------------------------------------------------------------ hooks

    def _unreachable(self, why: str) -> None:
        """The broker cannot be reached (a probe failed, or paho's connect did); retrying follows."""

    def _connect_failed(self) -> None:
        """paho could not open the connection (it retries with back-off)."""

    def _refused(self, err: BrokerConnectionError, new: bool) -> None:
        """The broker refused the connection; ``new`` when the reason differs from the last one."""
        self.last_error = err
        if new:
            log.error("%s", err)

    def _session_up(self, client: mqtt.Client, props: Any) -> None:
        """CONNACK success: subscribe here (subscriptions come back after every reconnect)."""
        self._connected.set()

    def _session_down(self, was_connected: bool, code: int, name: str) -> None:
        """The session ended (``was_connected``) or a connection attempt did."""

    def _subscribed(self, refused: list[SubscriptionRejectedError]) -> None:
        """The broker's SUBACK; ``refused`` lists the filters it refused."""
        for err in refused:
            self.last_error = err
            log.error("%s", err)

    def _message(self, client: mqtt.Client, _ud: Any, msg: mqtt.MQTTMessage) -> None:
        """A message on one of the subscribed filters."""
