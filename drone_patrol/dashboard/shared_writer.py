"""The city archive's writer shared by several dashboards: each alert is stored by one of them.

NATS 2.9 speaks MQTT without shared subscriptions (``$share/...`` is refused), so
the dashboards of a city room cannot split the archive writes at the MQTT level.
The broker's own equivalent is a JetStream consumer. Every QoS 1 message an MQTT
client publishes is stored by NATS in the stream ``$MQTT_msgs`` (subject
``$MQTT.msgs.<subject>``, interest retention, replicated like the MQTT sessions)
*before* the publisher gets its PUBACK; the MQTT subscribers' own QoS 1 queues are
consumers of that stream. :class:`SharedArchiveWriter` adds one durable pull
consumer on it, filtered to the drones' alert, ack and dispatch-step subjects, which
every dashboard of the room pulls from (over the NATS protocol, nats-py): JetStream
hands each message to one dashboard and keeps it until that dashboard acknowledges
it, which it does after the archive's insert has returned (committed). So:

- each alert is written by one dashboard (the load splits by who pulls first);
- a dashboard that dies with messages pulled but not acknowledged loses nothing:
  after ``ack_wait_s`` JetStream hands them to another dashboard;
- a dashboard that dies between its commit and its acknowledgement makes the next
  one insert the alert again, which the archive's ``ON CONFLICT DO NOTHING`` keeps
  as one row (the only case of a second write);
- while the archive is unreachable the messages wait in the stream (a failed write
  is negatively acknowledged and comes back after ``retry_delay_s``).

Every dashboard still receives every alert over MQTT for its pages.
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from drone_patrol.core.errors import ConfigError
from drone_patrol.dashboard.model import MessageError

log = logging.getLogger(__name__)

#: The JetStream stream in which NATS keeps the MQTT QoS 1 messages, and its subject prefix.
MQTT_STREAM = "$MQTT_msgs"
MQTT_STREAM_PREFIX = "$MQTT.msgs."
#: The inbox prefix of the writer's NATS connection (the user needs subscribe permission on it).
INBOX_PREFIX = "_INBOX_dronepatrol_archive"

#: ``topic, payload -> stored`` (``False``: already in the archive); raises MessageError for a bad message.
StoreFn = Callable[[str, bytes], bool]


def consumer_name(site: str, prefix: str = "dronepatrol") -> str:
    """The durable consumer the dashboards of ``site`` (``+``: every site) share."""
    base = re.sub(r"[^A-Za-z0-9_-]", "-", prefix)
    return f"{base}-archive" if site == "+" else f"{base}-archive-{site}"


def filter_subject(site: str, prefix: str = "dronepatrol") -> str:
    """The ``$MQTT_msgs`` subjects of the alerts, acks and dispatch steps of ``site`` (``+``: every site)."""
    return f"{MQTT_STREAM_PREFIX}{prefix.replace('/', '.')}.{'*' if site == '+' else site}.*.alerts.*"


def topic_of(subject: str) -> str:
    """The MQTT topic of a ``$MQTT.msgs.`` subject (the ids of drone-patrol topics hold no dots)."""
    return subject.removeprefix(MQTT_STREAM_PREFIX).replace(".", "/")


def parse_nats_urls(urls: str) -> list[str]:
    """``nats://HOST:PORT`` or ``tls://HOST:PORT`` addresses, comma-separated (a cluster's nodes)."""
    out = [u.strip() for u in urls.split(",") if u.strip()]
    bad = [u for u in out if not re.fullmatch(r"(nats|tls)://[^\s/@]+:\d{1,5}", u)]
    if not out or bad:
        raise ConfigError(
            f"archive queue {urls!r}: expected nats://HOST:PORT (or tls://HOST:PORT), comma-separated for several nodes"
        )
    return out


@dataclass
class WriterCounts:
    """What one dashboard's writer did: rows stored, already there, failed writes, refused messages."""

    stored: int = 0
    already: int = 0
    failed: int = 0
    rejected: int = 0


class SharedArchiveWriter:
    """Pulls the alerts, acks and steps from the consumer the dashboards share and stores them.

    Runs its own thread with an asyncio loop (nats-py); :meth:`start`, :meth:`stop`.
    ``store`` runs in a worker thread, one message at a time.
    """

    def __init__(
        self,
        urls: list[str],
        store: StoreFn,
        *,
        site: str = "+",
        prefix: str = "dronepatrol",
        username: str | None = None,
        password: str | None = None,
        tls: ssl.SSLContext | None = None,
        ack_wait_s: float = 10.0,
        batch: int = 1,
        retry_delay_s: float = 5.0,
    ) -> None:
        self.urls = urls
        self.store = store
        self.consumer = consumer_name(site, prefix)
        self.filter_subject = filter_subject(site, prefix)
        self.username, self.password, self.tls = username, password, tls
        self.ack_wait_s, self.batch, self.retry_delay_s = ack_wait_s, batch, retry_delay_s
        self.counts = WriterCounts()
        self.connected = False  # the consumer is bound and pulling
        self.last_error = ""
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def status(self) -> dict[str, Any]:
        """For ``/healthz``: whether it pulls, what it stored, the last error."""
        c = self.counts
        return {
            "consumer": self.consumer,
            "pulling": self.connected,
            "stored": c.stored,
            "already_stored": c.already,
            "failed": c.failed,
            "rejected": c.rejected,
            "last_error": self.last_error,
        }

    def start(self) -> None:
        """Connect and pull in the background until :meth:`stop`."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="archive-writer", daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop pulling; messages pulled and not yet stored go to another dashboard after ``ack_wait_s``."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    # ------------------------------------------------------------------ the loop

    def _error(self, text: str) -> None:
        if text != self.last_error:
            log.warning("dashboard: archive writer: %s", text)
        self.last_error = text

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        while not self._stopping.is_set():
            try:
                nc = await nats.connect(
                    servers=self.urls,
                    user=self.username,
                    password=self.password,
                    tls=self.tls,
                    inbox_prefix=INBOX_PREFIX,
                    name=f"dronepatrol-archive-writer-{self.consumer}",
                    connect_timeout=3,
                    reconnect_time_wait=0.5,
                    max_reconnect_attempts=-1,
                    allow_reconnect=True,
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnected,
                )
            except Exception as exc:  # no node reachable, refused credentials
                self._error(f"cannot connect to {', '.join(self.urls)}: {exc or type(exc).__name__}")
                await asyncio.sleep(2.0)
                continue
            try:
                await self._pull(nc)
            except Exception as exc:
                self._error(f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(1.0)
            finally:
                self.connected = False
                await nc.close()

    async def _on_error(self, exc: Exception) -> None:
        self._error(f"NATS: {exc or type(exc).__name__}")

    async def _on_disconnected(self) -> None:
        self.connected = False

    async def _bind(self, nc: NatsClient) -> Any:
        """Create (or find) the shared durable consumer and bind a pull subscription to it."""
        js = nc.jetstream(timeout=5.0)
        config = ConsumerConfig(
            durable_name=self.consumer,
            filter_subject=self.filter_subject,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait_s,
            deliver_policy=DeliverPolicy.ALL,
            max_ack_pending=1000,
        )
        while not self._stopping.is_set():
            try:
                await js.add_consumer(MQTT_STREAM, config)
                return await js.pull_subscribe_bind(durable=self.consumer, stream=MQTT_STREAM, inbox_prefix=None)
            except nats.js.errors.NotFoundError:
                # NATS makes $MQTT_msgs when the first MQTT client of the account connects.
                self._error(f"stream {MQTT_STREAM} not there yet (no MQTT client has connected); waiting")
            except (nats.errors.TimeoutError, nats.js.errors.ServiceUnavailableError) as exc:
                self._error(f"consumer {self.consumer}: JetStream did not answer ({type(exc).__name__}); retrying")
            await asyncio.sleep(1.0)
        return None

    async def _pull(self, nc: NatsClient) -> None:
        sub = await self._bind(nc)
        if sub is None:
            return
        log.info("dashboard: archive writer pulling from %s/%s", MQTT_STREAM, self.consumer)
        self.last_error = ""
        while not self._stopping.is_set():
            self.connected = nc.is_connected
            try:
                msgs = await sub.fetch(self.batch, timeout=1.0)
            except nats.errors.TimeoutError:
                continue  # nothing to do, or the connection is moving to another node
            for msg in msgs:
                await self._store(msg)

    async def _store(self, msg: Msg) -> None:
        topic = topic_of(msg.subject)
        try:
            stored = await asyncio.to_thread(self.store, topic, msg.data)
        except MessageError as exc:
            self.counts.rejected += 1
            self._error(f"refused {topic}: {exc}")
            await msg.term()  # never valid: do not hand it to anyone again
            return
        except Exception as exc:  # the archive is unreachable past its own retries
            self.counts.failed += 1
            self._error(f"{topic}: not stored ({type(exc).__name__}: {' '.join(str(exc).split())}); it comes back")
            await msg.nak(delay=self.retry_delay_s)
            return
        if stored:
            self.counts.stored += 1
        else:
            self.counts.already += 1
        await msg.ack()
