"""The shared archive writer's backstop: what a dashboard received over MQTT does reach the archive.

With a shared writer (:mod:`.shared_writer`) a dashboard shows the alerts, acks and
dispatch steps that arrive over MQTT and stores only what it pulls from the JetStream
consumer the dashboards share, so each is written once. The writer's path can still fail
in ways no dashboard sees: NATS keeps MQTT QoS 1 messages in an interest-retention stream,
and that retention had defects that dropped messages around leader changes and consumer
updates in releases after the Debian one (2.9); every dashboard's writer can stall at once
while MQTT still flows. A city archive that misses an alert the room saw is a lost
incident record, so each dashboard remembers what it received and, ``confirm_after_s``
later (longer than the consumer's ack wait, so that a redelivery to another dashboard
comes first), asks the archive which of those ids it holds and stores the rest itself.
Inserts are idempotent on the event id: when several dashboards do this at once, one row
remains. Normally this costs one indexed lookup per kind per second and writes nothing.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Literal

from drone_patrol.dashboard.archive_store import ArchiveStore
from drone_patrol.dashboard.model import Ack, AlertMessage
from drone_patrol.dashboard.workflow import WorkflowStep

log = logging.getLogger(__name__)

EventKind = Literal["message", "ack", "workflow"]
Event = AlertMessage | Ack | WorkflowStep


def event_key(item: Event) -> tuple[EventKind, str]:
    """The archive table kind and the id an item is stored under."""
    if isinstance(item, AlertMessage):
        return "message", item.id
    if isinstance(item, Ack):
        return "ack", item.ack_id
    return "workflow", item.step_id


@dataclass
class BackstopCounts:
    """What the backstop did: events checked, events it found missing and stored."""

    checked: int = 0
    stored_here: int = 0


class ArchiveBackstop:
    """Events received over MQTT, checked against the archive once they are ``confirm_after_s`` old.

    :meth:`expect` runs on the MQTT thread, :meth:`run` on the dashboard's once-a-second
    watchdog. At most ``max_pending`` events wait; past that the oldest are checked early.
    """

    def __init__(self, archive: ArchiveStore, *, confirm_after_s: float = 30.0, max_pending: int = 100_000) -> None:
        self.archive = archive
        self.confirm_after_s = confirm_after_s
        self.max_pending = max_pending
        self.counts = BackstopCounts()
        self._pending: OrderedDict[tuple[EventKind, str], tuple[Event, float]] = OrderedDict()
        self._lock = threading.Lock()

    def expect(self, item: Event, received_s: float) -> None:
        """Remember ``item``, received at ``received_s``; a second copy (a QoS 1 redelivery) changes nothing."""
        key = event_key(item)
        with self._lock:
            self._pending.setdefault(key, (item, received_s))

    def due(self, now_s: float) -> list[tuple[Event, float]]:
        """Take the events to check now: those received ``confirm_after_s`` ago or more, and any past the cap."""
        out = []
        with self._lock:
            while self._pending:
                key, (item, received_s) = next(iter(self._pending.items()))
                if now_s - received_s < self.confirm_after_s and len(self._pending) <= self.max_pending:
                    break
                del self._pending[key]
                out.append((item, received_s))
        return out

    def run(self, now_s: float) -> int:
        """Check the due events against the archive and store the missing ones; returns how many were stored.

        An archive that cannot be reached puts the events back to be checked on the next run.
        """
        items = [(event_key(item), item, received_s) for item, received_s in self.due(now_s)]
        if not items:
            return 0
        by_kind: dict[EventKind, list[tuple[tuple[EventKind, str], Event, float]]] = {}
        for entry in items:
            by_kind.setdefault(entry[0][0], []).append(entry)
        stored = 0
        try:
            for kind, group in by_kind.items():
                have = self.archive.stored_ids(kind, [key[1] for key, _, _ in group])
                for key, item, received_s in group:
                    if key[1] not in have and self._add(item, received_s):
                        stored += 1
                        self.counts.stored_here += 1
                self.counts.checked += len(group)
        except Exception as exc:  # the archive is unreachable past its own retries: try again later
            log.warning("dashboard: archive backstop: %s; %d events wait for the next check", exc, len(items))
            with self._lock:
                for key, item, received_s in reversed(items):  # back in front, oldest first
                    self._pending.setdefault(key, (item, received_s))
                    self._pending.move_to_end(key, last=False)
            return stored
        if stored:
            log.warning(
                "dashboard: archive backstop: %d of %d events received %.0f s ago or more were not in the "
                "archive; stored them here (the shared archive writer missed them)",
                stored,
                len(items),
                self.confirm_after_s,
            )
        return stored

    def _add(self, item: Event, received_s: float) -> bool:
        if isinstance(item, AlertMessage):
            return self.archive.add_message(item, received_s)
        if isinstance(item, Ack):
            return self.archive.add_ack(item, received_s)
        return self.archive.add_workflow_step(item, received_s)

    def status(self) -> dict[str, Any]:
        """For ``/healthz``: events waiting, checked, and stored here because the archive lacked them."""
        with self._lock:
            waiting = len(self._pending)
        return {"waiting": waiting, "checked": self.counts.checked, "stored_here": self.counts.stored_here}
