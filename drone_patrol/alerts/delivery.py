"""QoS 1 messages the drone receives, acknowledged only once they are taken in.

paho acknowledges a QoS 1 PUBLISH (PUBACK) as soon as ``on_message`` returns. For a
command that is handed to a worker thread, that is before anything is done with it:
a crash between the PUBACK and the handling loses the command, since the broker
forgets a message once it has its PUBACK. With ``manual_ack`` the drone sends the
PUBACK itself, after the handler has taken the command in (recorded it in the
drone's ledger of answered commands and queued the answer in the outbox). Until
then the message stays in the drone's persistent session on the broker, which
sends it again (DUP set, same packet id) when the drone reconnects: at least once,
and the ledger answers a repeat from what it recorded instead of running it again.

:class:`InOrderAcks` sends the PUBACKs in the order the PUBLISHes arrived, as MQTT
3.1.1 section 4.6 asks, each once its message is settled; a message received on an
earlier connection is never acknowledged on a later one (the broker resends it
there, and that copy is acknowledged in its turn). :class:`CommandDelivery` is one
received command with the means to settle it.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt

from drone_patrol.alerts.eyes_on import CommandSchemaError, EyesOnCommand, ReleaseCommand

Command = EyesOnCommand | ReleaseCommand


class _Pending:
    __slots__ = ("mid", "qos", "settled")

    def __init__(self, mid: int, qos: int) -> None:
        self.mid, self.qos, self.settled = mid, qos, False


class InOrderAcks:
    """The PUBACKs of one client's received QoS 1 messages, in order; see the module docstring."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: deque[_Pending] = deque()
        self._client: mqtt.Client | None = None
        self._connection = 0
        #: PUBACKs sent, and settlements dropped because their connection had ended
        self.sent = 0
        self.dropped = 0

    def new_connection(self, client: mqtt.Client | None) -> None:
        """A connection began (``client``) or ended (``None``): what is pending was the old one's."""
        with self._lock:
            self._connection += 1
            self._pending.clear()
            self._client = client

    @property
    def waiting(self) -> int:
        """Messages received on this connection and not acknowledged yet."""
        with self._lock:
            return len(self._pending)

    def receive(self, msg: mqtt.MQTTMessage) -> Callable[[], None]:
        """Note ``msg`` as received; returns the function that settles it (idempotent, any thread)."""
        if msg.qos == 0:
            return _nothing
        with self._lock:
            entry = _Pending(msg.mid, msg.qos)
            self._pending.append(entry)
            connection = self._connection
        return lambda: self._settle(entry, connection)

    def _settle(self, entry: _Pending, connection: int) -> None:
        with self._lock:
            if connection != self._connection:
                self.dropped += 1
                return
            entry.settled = True
            client = self._client
            while self._pending and self._pending[0].settled:
                done = self._pending.popleft()
                if client is not None:
                    client.ack(done.mid, done.qos)
                    self.sent += 1


def _nothing() -> None:
    return None


@dataclass(eq=False)
class CommandDelivery:
    """One command as received (``dup``: the broker sent it before); :meth:`taken` once it is taken in.

    The broker gets its PUBACK when every handler it was given to has called
    :meth:`taken`; a handler must call it in every case (also when handling failed),
    and only after what it did with the command is on disk.
    """

    command: Command | CommandSchemaError
    dup: bool
    _settle: Callable[[], None] = field(repr=False)
    _waiting: int = field(default=1, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def taken(self) -> None:
        """The command is taken in: acknowledge it to the broker (once every handler has)."""
        with self._lock:
            if self._waiting <= 0:
                return
            self._waiting -= 1
            if self._waiting:
                return
        self._settle()

    def expect(self, handlers: int) -> None:
        """It goes to ``handlers`` handlers (0: acknowledge it now)."""
        with self._lock:
            self._waiting = handlers
        if handlers <= 0:
            self._settle()
