"""The bookkeeping between the outbox and paho: which message id carries which outbox row.

paho calls ``on_publish`` in its network thread while holding its own message lock,
and can do so before ``publish()`` has returned the message id. So
:meth:`OutboxPump.on_publish` only appends ``(mid, reason)`` to a list behind a small
lock that is never held across a paho call, and the pump thread, the only one that
calls :meth:`settle`, matches ids to rows afterwards: an early
PUBACK is simply settled on the next round. Waiting on one shared lock in both
places instead would deadlock against paho's lock.

New alerts take the fast path: the outbox hands each row over between its INSERT and
its COMMIT. When the pump is caught up and the window has room, the inserting thread
publishes it at once (:meth:`OutboxPump.send_now`: one thread hop less on the way to
the broker); otherwise :meth:`OutboxPump.stage` queues it and the pump sends it from
memory without reading the file. The send side (in-flight rows, cursors) is guarded
by a lock that the inserting thread only tries, never waits for: the pump thread may
hold it while it reads the file under the outbox's lock. No paho callback takes it.
The file is read only after a (re)connect or while the window is full, until the pump
has caught up with it. PUBACKs only mark rows delivered; the outbox
deletes them in batches when no insert is running (:meth:`OutboxPump.tidy`).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.properties import Properties

from drone_patrol.alerts.connection import PublishRejectedError
from drone_patrol.alerts.outbox import ALERT, TELEMETRY, Outbox, OutboxRow

log = logging.getLogger("drone_patrol.alerts.pump")


#: Gives the MQTT properties of one row (content type, expiry, correlation).
PropsFor = Callable[[OutboxRow], Properties | None]


@dataclass(frozen=True)
class Tracked:
    """A message outside the outbox whose PUBACK still matters (the retained status)."""

    topic: str


class OutboxPump:
    """Hands outbox rows to paho in order, at most ``window`` unacknowledged, and settles PUBACKs.

    Rows are marked delivered when their PUBACK arrives; a PUBACK with a failure reason
    (MQTT 5, ``>= 0x80``) turns the row into a dead letter and is kept in
    :attr:`last_rejection`. Alerts go before buffered telemetry.
    """

    #: Delivered rows that make :meth:`tidy` delete at once rather than when idle.
    purge_batch = 256
    #: New rows held in memory for the fast path; past this the pump reads the file again.
    max_staged = 4096
    #: Longest a recorded PUBACK waits for the pump to settle it.
    settle_delay_s = 0.02

    def __init__(self, outbox: Outbox, window: int) -> None:
        self.outbox = outbox
        self.window = window
        self._lock = threading.Lock()  # guards _acks only
        # The send side (_inflight, _cursor, taking rows from _staged): the pump thread and
        # an inserting thread on the direct path (never waited for under the outbox's lock).
        self._send_lock = threading.Lock()
        self._acks: list[tuple[int, int, str]] = []
        self._inflight: dict[int, OutboxRow | Tracked] = {}
        self._cursor = {ALERT: 0, TELEMETRY: 0}
        self._staged: deque[OutboxRow] = deque()
        # Guards _staged's overflow against the pump taking rows from it; a leaf lock, held
        # only for those few steps (the inserting thread holds the outbox's lock meanwhile).
        self._staged_lock = threading.Lock()
        self._caught_up = False  # every pending alert after the cursor is in _staged
        self._overflows = 0
        self._telemetry_seen = -1  # outbox.telemetry_puts when the file's telemetry was last read
        self._telemetry_more = True
        self.delivered_alerts = 0
        self.rejected_alerts = 0
        self.last_rejection: PublishRejectedError | None = None

    @property
    def inflight(self) -> int:
        """Messages handed to paho and not yet acknowledged."""
        return len(self._inflight)

    def tracking(self, kind: type) -> bool:
        """True while a message of this kind (e.g. :class:`Tracked`) waits for its PUBACK."""
        return any(isinstance(item, kind) for item in list(self._inflight.values()))

    def on_publish(self, mid: int, code: int, name: str) -> bool:
        """Record a PUBACK (any thread; never blocks on the pump); True when the pump should
        settle now: a quarter of the window acknowledged, the window nearly full, or rows
        staged behind it. Otherwise the acknowledgements wait for the pump's next round
        (at most :attr:`settle_delay_s`): one wake-up of the pump per few PUBACKs, not per PUBACK."""
        batch = max(1, self.window // 4)
        with self._lock:
            self._acks.append((mid, code, name))
            waiting = len(self._acks)
        return waiting >= batch or len(self._inflight) >= self.window - batch or bool(self._staged)

    @property
    def acks_waiting(self) -> bool:
        """True when PUBACKs were recorded and not yet settled."""
        return bool(self._acks)

    def send_now(self, row: OutboxRow, client: mqtt.Client, props_for: PropsFor) -> bool:
        """Hand a new alert row to paho from the inserting thread, before its commit (under the
        outbox's lock): only when it is next in line (caught up, nothing staged) and the window
        has room, and without waiting for the pump thread; False when it must be staged instead."""
        if not self._caught_up or self._staged or len(self._inflight) >= self.window:
            return False
        if not self._send_lock.acquire(blocking=False):
            return False
        try:
            if not self._caught_up or self._staged or len(self._inflight) >= self.window:
                return False
            return self._publish(client, row, props_for)
        finally:
            self._send_lock.release()

    def stage(self, row: OutboxRow) -> None:
        """Take a new alert row from the outbox before its commit (called under the outbox's lock)."""
        with self._staged_lock:
            if len(self._staged) >= self.max_staged:
                self._overflows += 1
                self._caught_up = False  # the file holds them all: read it again
                self._staged.clear()
            self._staged.append(row)

    def reset(self) -> None:
        """Forget what was in flight: a new paho client starts from the outbox again."""
        with self._send_lock:
            self._inflight.clear()
            self._cursor = {ALERT: 0, TELEMETRY: 0}
            self._caught_up = False
            self._telemetry_more = True
        with self._lock:
            self._acks.clear()

    def tidy(self, idle: bool) -> None:
        """Delete delivered rows from the file when enough piled up or the pump is ``idle``
        (never waiting for an insert), and checkpoint the file's WAL when idle."""
        pile = self.outbox.delivered_unpurged
        if pile and (idle or pile >= self.purge_batch):
            self.outbox.purge()
        if idle or self.outbox.commits_since_checkpoint >= 1000:
            self.outbox.checkpoint()

    def track(self, mid: int, item: Tracked) -> None:
        """Expect a PUBACK for a message sent outside the outbox."""
        with self._send_lock:
            self._inflight[mid] = item

    def settle(self, on_tracked: Callable[[Tracked, int, str], None] | None = None) -> int:
        """Apply the PUBACKs received so far; returns how many outbox rows were delivered."""
        with self._lock:
            acks, self._acks = self._acks, []
        delivered: list[int] = []
        for mid, code, name in acks:
            with self._send_lock:
                item = self._inflight.pop(mid, None)
            if item is None:
                continue  # QoS 0 telemetry or video sent directly
            if isinstance(item, Tracked):
                if on_tracked is not None:
                    on_tracked(item, code, name)
                continue
            if code >= 0x80:
                err = PublishRejectedError(item.topic, code, name, item.event_id)
                self.last_rejection = err
                self.outbox.reject(item.seq, f"{name} ({code})")
                self.rejected_alerts += 1
                log.error("%s; kept as a dead letter in the outbox", err)
            else:
                delivered.append(item.seq)
                self.delivered_alerts += item.cls == ALERT
        self.outbox.mark_delivered(delivered)
        return len(delivered)

    def feed(self, client: mqtt.Client, props_for: PropsFor) -> int:
        """Publish the next rows while the window has room; returns how many were handed over."""
        with self._send_lock:
            room = self.window - len(self._inflight)
            if room <= 0:
                return 0
            rows = self._next_alerts(room)
            puts = self.outbox.telemetry_puts
            if not rows and self._caught_up and (self._telemetry_more or self._telemetry_seen != puts):
                # buffered telemetry (put only while offline): read the file only when there may be some
                self._telemetry_seen = puts
                rows = self.outbox.pending(TELEMETRY, self._cursor[TELEMETRY], room)
                self._telemetry_more = len(rows) == room
            sent = 0
            for row in rows:
                if not self._publish(client, row, props_for):
                    break
                sent += 1
            return sent

    def _publish(self, client: mqtt.Client, row: OutboxRow, props_for: PropsFor) -> bool:
        """Hand one row to paho and track it (caller holds the send lock); False when paho did not take it."""
        info = client.publish(row.topic, row.payload, qos=row.qos, properties=props_for(row))
        if info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN and row.qos == 0:
            return False  # paho drops QoS 0 while offline: the row stays for the next connect
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            log.warning("paho refused to queue outbox row %d: %s", row.seq, mqtt.error_string(info.rc))
            return False
        # paho keeps a QoS 1 message it could not send yet (NO_CONN) and sends it on reconnect
        self._inflight[info.mid] = row
        self._cursor[row.cls] = row.seq
        return True

    def _next_alerts(self, room: int) -> list[OutboxRow]:
        """Up to ``room`` alerts after the cursor: from memory once caught up, else from the file."""
        cursor = self._cursor[ALERT]
        if not self._caught_up:
            # Rows committed from now on are staged (the read and the inserts share the
            # outbox's lock): when the file has fewer than asked, the rest is in memory.
            overflows = self._overflows
            rows = self.outbox.pending(ALERT, cursor, room)
            if len(rows) == room:
                return rows
            with self._staged_lock:
                self._caught_up = overflows == self._overflows
            if rows:
                return rows
        out: list[OutboxRow] = []
        with self._staged_lock:  # an overflow clears _staged: never between two of these rows
            if not self._caught_up:
                return out  # it just did: the file has them
            while self._staged and len(out) < room:
                row = self._staged.popleft()
                if row.seq > cursor:  # older ones came from the file already
                    out.append(row)
                    cursor = row.seq
        return out
