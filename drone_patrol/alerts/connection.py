"""What publisher and subscriber share: broker URLs, credentials, TLS, topics, paho clients, errors.

paho runs its network thread with ``loop_start()``; an exception escaping a callback
ends that thread silently, so every callback installed here goes through
:func:`guarded`, which logs and swallows.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

from drone_patrol.core.config import AlertsConfig
from drone_patrol.core.config import read_secret as _read_secret
from drone_patrol.core.errors import AlertsError, ConfigError

log = logging.getLogger("drone_patrol.alerts")

MqttVersion = Literal["auto", "5", "3.1.1"]
#: CONNACK reason "Unsupported protocol version": the broker does not speak MQTT 5.
UNSUPPORTED_PROTOCOL = 132

F = TypeVar("F", bound=Callable[..., Any])


class BrokerConnectionError(AlertsError):
    """The broker refused the connection (bad credentials, not authorised, ...) or cannot be reached.

    ``reason_code`` is the MQTT 5 CONNACK reason code (3.1.1 return codes are mapped
    to their MQTT 5 equivalents by paho), or -1 when no CONNACK arrived.
    """

    def __init__(self, url: str, reason_code: int, reason: str) -> None:
        self.url = url
        self.reason_code = reason_code
        self.reason = reason
        code = f" ({reason_code})" if reason_code >= 0 else ""
        super().__init__(f"broker {url} refused the connection: {reason}{code}")


class PublishRejectedError(AlertsError):
    """The broker answered a QoS 1 publish with a failure reason code (MQTT 5 only), e.g. 135 Not authorized."""

    def __init__(self, topic: str, reason_code: int, reason: str, event_id: str | None = None) -> None:
        self.topic = topic
        self.reason_code = reason_code
        self.reason = reason
        self.event_id = event_id
        what = f"event {event_id} on {topic}" if event_id else topic
        super().__init__(f"broker rejected publish of {what}: {reason} ({reason_code})")


class SubscriptionRejectedError(AlertsError):
    """The broker refused a subscription (SUBACK failure, e.g. 135 Not authorized or 128 on 3.1.1)."""

    def __init__(self, topic_filter: str, reason_code: int, reason: str) -> None:
        self.topic_filter = topic_filter
        self.reason_code = reason_code
        self.reason = reason
        super().__init__(f"broker refused subscription to {topic_filter}: {reason} ({reason_code})")


def guarded(fn: F) -> F:
    """Wrap a paho callback so that an exception is logged and never reaches paho's network thread."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception:
            log.exception("error in MQTT callback %s (ignored; the network thread keeps running)", fn.__name__)
            return None

    return wrapper  # type: ignore[return-value]


def take_in(client: mqtt.Client, msg: mqtt.MQTTMessage, handle: Callable[[], None], who: str) -> bool:
    """Run ``handle`` for ``msg`` (received with paho's ``manual_ack``), then send its PUBACK.

    When ``handle`` raises (the archive cannot write, say) the message is left unacknowledged:
    the broker keeps it in the session and sends it again after the next reconnect. True when
    taken in.
    """
    try:
        handle()
    except Exception as exc:
        log.error(
            "%s: message on %s not taken in (%s); left unacknowledged: the broker sends it again"
            " after a reconnect",
            who, msg.topic, exc,
        )  # fmt: skip
        return False
    if msg.qos > 0:
        client.ack(msg.mid, msg.qos)
    return True


def reason_text(rc: ReasonCode | int) -> tuple[int, str]:
    """(numeric value, name) of a paho reason code."""
    if isinstance(rc, ReasonCode):
        return int(rc.value), str(rc.getName())
    return int(rc), mqtt.error_string(int(rc))


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class BrokerAddress:
    """A parsed broker URL."""

    host: str
    port: int
    tls: bool
    username: str | None = None

    @property
    def url(self) -> str:
        """The URL without credentials."""
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def parse_broker_url(url: str) -> BrokerAddress:
    """Parse ``mqtt://[user@]HOST[:PORT]`` (port 1883) or ``mqtts://...`` (TLS, port 8883).

    A password in the URL is refused: it would end up in shell history and logs.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
        raise ConfigError(f"broker URL {url!r}: expected mqtt://HOST:PORT or mqtts://HOST:PORT")
    if not parts.hostname:
        raise ConfigError(f"broker URL {url!r}: no host name")
    if parts.password:
        raise ConfigError(f"broker URL {url!r}: put the password in the environment or a file, not in the URL")
    if parts.path not in ("", "/"):
        raise ConfigError(f"broker URL {url!r}: unexpected path {parts.path!r}")
    tls = parts.scheme in ("mqtts", "ssl")
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError:
        raise ConfigError(f"broker URL {url!r}: the port must be a number 1-65535") from None
    return BrokerAddress(parts.hostname, port, tls, parts.username or None)


def parse_broker_urls(urls: str, tls: bool = False) -> tuple[BrokerAddress, ...]:
    """Parse one broker URL or several separated by commas (the nodes of a cluster, tried in turn).

    ``tls`` forces TLS on every address (a CA file was given).
    """
    out = []
    for url in (u.strip() for u in urls.split(",")):
        if not url:
            raise ConfigError(f"broker URLs {urls!r}: an empty entry between commas")
        address = parse_broker_url(url)
        out.append(BrokerAddress(address.host, address.port, True, address.username) if tls else address)
    return tuple(out)


@dataclass(frozen=True)
class ClientSettings:
    """How to reach and authenticate with a broker: the part of :class:`AlertsConfig` both ends need.

    ``fallbacks`` are more nodes of the same cluster: when ``address`` cannot be reached
    the session moves on to the next (see :class:`~drone_patrol.alerts.session.MqttSession`).
    """

    address: BrokerAddress
    fallbacks: tuple[BrokerAddress, ...] = ()
    username: str | None = None
    password: str | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    tls_insecure: bool = False
    mqtt_version: MqttVersion = "auto"
    keepalive_s: int = 30
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 5.0
    session_expiry_s: int = 86400

    @classmethod
    def from_url(cls, url: str, **fields: Any) -> ClientSettings:
        """Settings for ``url`` (or comma-separated cluster nodes); a CA file implies TLS even on ``mqtt://``.

        ``fields`` as the dataclass's.
        """
        address, *fallbacks = parse_broker_urls(url, tls=fields.get("ca_file") is not None)
        if not fields.get("username"):
            fields["username"] = address.username
        return cls(address=address, fallbacks=tuple(fallbacks), **fields)

    @classmethod
    def from_config(cls, cfg: AlertsConfig, broker_url: str | None = None) -> ClientSettings:
        """Settings from the ``alerts`` config section; the password from its env variable or file."""
        tls = cfg.tls_ca_file is not None or cfg.tls_cert_file is not None
        address, *fallbacks = parse_broker_urls(broker_url or cfg.broker_url, tls=tls)
        for name in ("tls_ca_file", "tls_cert_file", "tls_key_file"):
            path = getattr(cfg, name)
            if path is not None and not Path(path).is_file():
                raise ConfigError(f"alerts.{name}: file {path} not found")
        if (cfg.tls_cert_file is None) != (cfg.tls_key_file is None):
            raise ConfigError("alerts.tls_cert_file and alerts.tls_key_file: give both or neither")
        return cls(
            address=address,
            fallbacks=tuple(fallbacks),
            username=cfg.username or address.username,
            password=_read_secret(cfg.password_env, cfg.password_file),
            ca_file=cfg.tls_ca_file,
            cert_file=cfg.tls_cert_file,
            key_file=cfg.tls_key_file,
            tls_insecure=cfg.tls_insecure,
            mqtt_version=cfg.mqtt_version,
            keepalive_s=cfg.keepalive_s,
            reconnect_min_s=cfg.reconnect_min_s,
            reconnect_max_s=max(cfg.reconnect_min_s, cfg.reconnect_max_s),
            session_expiry_s=cfg.session_expiry_s,
        )


def make_client(settings: ClientSettings, client_id: str, protocol: MQTTProtocolVersion, **kwargs: Any) -> mqtt.Client:
    """A paho client with VERSION2 callbacks, TLS, credentials and reconnect back-off applied."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=protocol,
        clean_session=kwargs.pop("clean_session", None) if protocol != MQTTProtocolVersion.MQTTv5 else None,
        **kwargs,
    )
    if settings.address.tls:
        try:
            client.tls_set(
                ca_certs=str(settings.ca_file) if settings.ca_file else None,
                certfile=str(settings.cert_file) if settings.cert_file else None,
                keyfile=str(settings.key_file) if settings.key_file else None,
                cert_reqs=ssl.CERT_REQUIRED,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(f"TLS files ({settings.ca_file}, {settings.cert_file}): {exc}") from None
        if settings.tls_insecure:
            client.tls_insecure_set(True)
    if settings.username:
        client.username_pw_set(settings.username, settings.password)
    # paho types these as int but uses them as seconds in float arithmetic.
    client.reconnect_delay_set(settings.reconnect_min_s, settings.reconnect_max_s)  # type: ignore[arg-type]
    return client


def protocol_of(version: str) -> MQTTProtocolVersion:
    """The paho protocol constant of ``"5"`` or ``"3.1.1"`` (``auto`` starts with 5)."""
    return MQTTProtocolVersion.MQTTv311 if version == "3.1.1" else MQTTProtocolVersion.MQTTv5


@dataclass(frozen=True)
class Topics:
    """The MQTT topics of one drone (see DESIGN.md); ``site``/``drone`` may be ``+`` in filters."""

    site: str
    drone: str
    prefix: str = "dronepatrol"

    @property
    def base(self) -> str:
        """``<prefix>/<site>/<drone>``."""
        return f"{self.prefix}/{self.site}/{self.drone}"

    def alert(self, kind: str) -> str:
        """Where alerts of ``kind`` go (QoS 1)."""
        return f"{self.base}/alerts/{kind}"

    @property
    def alerts_filter(self) -> str:
        """Every alert topic (and the ack topic, which shares the level)."""
        return f"{self.base}/alerts/+"

    @property
    def ack(self) -> str:
        """Acknowledgements from the command room."""
        return f"{self.base}/alerts/ack"

    @property
    def status(self) -> str:
        """Retained status, with the last will."""
        return f"{self.base}/status"

    @property
    def telemetry(self) -> str:
        """About 1 Hz, QoS 0."""
        return f"{self.base}/telemetry"

    @property
    def video(self) -> str:
        """JPEG frames, QoS 0, rate-limited."""
        return f"{self.base}/video"

    @property
    def commands(self) -> str:
        """Commands from the command room to this drone ("eyes on", release), QoS 1."""
        return f"{self.base}/commands"

    @property
    def command_results(self) -> str:
        """The drone's answers to commands, QoS 1."""
        return f"{self.base}/commands/result"


def split_topic(topic: str, prefix: str = "dronepatrol") -> tuple[str, str, str] | None:
    """(site, drone, rest) of a drone topic, or ``None`` for a foreign topic."""
    parts = topic.split("/", 3)
    if len(parts) < 4 or parts[0] != prefix:
        return None
    return parts[1], parts[2], parts[3]


def probe_protocol(
    settings: ClientSettings, client_id: str, timeout_s: float = 10.0
) -> tuple[MQTTProtocolVersion | None, str]:
    """Connect once with MQTT 5, no will and no properties, to learn whether the broker speaks it.

    A broker without MQTT 5 answers such a CONNECT with "unsupported protocol version"
    at once, where a v5 CONNECT with a will or properties can leave it hanging (amqtt
    misreads them). Returns ``(MQTTv5 | MQTTv311, "")``, or ``(None, why)`` when the
    broker cannot be reached (refused, TLS verification failed, no answer).
    """
    answer: list[int] = []
    done = threading.Event()

    def on_connect(_c: mqtt.Client, _ud: Any, _f: Any, rc: Any, _p: Any) -> None:
        answer.append(reason_text(rc)[0])
        done.set()

    probe = make_client(settings, client_id, MQTTProtocolVersion.MQTTv5)
    probe.on_connect = guarded(on_connect)
    try:
        probe.connect(settings.address.host, settings.address.port, keepalive=settings.keepalive_s)
    except OSError as exc:  # refused, unreachable, TLS verification failed (ssl errors are OSErrors)
        return None, str(exc.strerror or exc)
    probe.loop_start()
    done.wait(timeout_s)
    probe.disconnect()
    probe.loop_stop()
    if not answer:
        return None, f"no CONNACK within {timeout_s:.0f} s"
    if answer[0] == UNSUPPORTED_PROTOCOL:
        return MQTTProtocolVersion.MQTTv311, ""
    return MQTTProtocolVersion.MQTTv5, ""
