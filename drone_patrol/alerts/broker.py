"""The embedded broker: amqtt (pure Python, MQTT 3.1.1) in a background thread, on loopback only.

For the demo and for a user with no broker. It has no authentication and no TLS,
so it refuses to bind anywhere but a loopback address; production uses Mosquitto
(``configs/mosquitto/``). Clients with ``clean_session=False`` keep their session
(subscriptions and queued QoS 1 messages) while they are away, as long as the
broker runs; nothing survives a broker restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from typing import Any

from amqtt.broker import Broker
from amqtt.plugins.base import BaseAuthPlugin
from amqtt.session import Session

from drone_patrol.alerts.connection import is_loopback, parse_broker_url
from drone_patrol.core.config import AlertsConfig
from drone_patrol.core.errors import AlertsError

log = logging.getLogger("drone_patrol.alerts.broker")


class BrokerStartError(AlertsError):
    """The embedded broker could not start (port in use, non-loopback address, ...)."""


class LoopbackAuthPlugin(BaseAuthPlugin):
    """Accept every client of the loopback-only broker as a named (not anonymous) session.

    amqtt's own anonymous plugin marks sessions anonymous, and amqtt drops anonymous
    sessions on disconnect, which would defeat the command room's persistent session.
    """

    async def authenticate(self, *, session: Session) -> bool | None:
        return True


def _quiet_disconnects(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """A client that hangs up while amqtt closes its socket is routine, not an error worth a traceback."""
    if isinstance(context.get("exception"), OSError):
        log.debug("embedded broker: %s (%s)", context.get("message"), context.get("exception"))
        return
    loop.default_exception_handler(context)


class EmbeddedBroker:
    """An amqtt broker on ``host:port`` (``port=0``: a free port, read back from :attr:`port`)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 1883) -> None:
        if not is_loopback(host):
            raise BrokerStartError(
                f"embedded broker: host {host!r} is not a loopback address; it has no authentication,"
                " so it only binds to 127.0.0.1 or ::1 (use Mosquitto for a network, see configs/mosquitto/)"
            )
        if not 0 <= port <= 65535:
            raise BrokerStartError(f"embedded broker: port {port} outside 0-65535")
        self.host = host
        self._requested_port = port
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._broker: Broker | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stop: asyncio.Event | None = None

    @property
    def url(self) -> str:
        """``mqtt://host:port`` of the running broker."""
        return f"mqtt://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """True between a successful :meth:`start` and :meth:`stop`."""
        return self._thread is not None and self._thread.is_alive() and self._ready.is_set() and self._error is None

    def start(self, timeout_s: float = 10.0) -> EmbeddedBroker:
        """Start serving in a background thread; returns ``self`` once the port listens."""
        if self._thread is not None:
            return self
        for name in ("amqtt", "transitions"):
            logging.getLogger(name).setLevel(logging.ERROR)
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(target=self._run, name="embedded-mqtt-broker", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise BrokerStartError(
                f"embedded broker on {self.host}:{self._requested_port}: not up within {timeout_s} s"
            )
        if self._error is not None:
            self._thread.join(timeout_s)
            self._thread = None
            raise BrokerStartError(f"embedded broker on {self.host}:{self._requested_port}: {self._error}")
        log.info("embedded MQTT broker listening on %s", self.url)
        return self

    def _config(self) -> dict[str, Any]:
        return {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self._requested_port}"}},
            "timeout_disconnect_delay": 0,
            "plugins": {f"{__name__}.LoopbackAuthPlugin": {}},
        }

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(_quiet_disconnects)
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
        finally:
            loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        try:
            broker = Broker(self._config())
            await broker.start()
        except Exception as exc:
            cause = exc.__cause__ or exc
            self._error = cause
            self._ready.set()
            return
        self._broker = broker
        server = broker._servers.get("default")  # amqtt keeps its listeners private; the port is read back here
        sockets = getattr(getattr(server, "instance", None), "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        self._ready.set()
        await self._stop.wait()
        try:
            await broker.shutdown()
        except Exception:
            log.exception("embedded broker: error while shutting down")

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop serving and join the thread; a no-op when not running."""
        thread, loop, stop = self._thread, self._loop, self._stop
        if thread is None:
            return
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        thread.join(timeout_s)
        self._thread = None
        self._broker = None
        self._requested_port = self.port  # a restart comes back on the same port

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def embedded_broker_for(config: AlertsConfig) -> EmbeddedBroker | None:
    """Start the embedded broker on the host and port of ``config.broker_url`` when
    ``config.embedded_broker`` is set (the demo); ``None`` otherwise.
    """
    if not config.embedded_broker:
        return None
    address = parse_broker_url(config.broker_url)
    if address.tls:
        raise BrokerStartError(f"embedded broker: {config.broker_url} asks for TLS, which the embedded broker lacks")
    return EmbeddedBroker(host=address.host, port=address.port).start()
