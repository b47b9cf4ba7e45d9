"""The dashboard's state machine: MQTT messages in, archive rows and page events out.

:class:`DashboardCore` does no networking of its own: the bridge hands it
messages, the web server asks it questions, and acknowledgements go out through
a ``publish`` function it is given (the bridge's).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from drone_patrol.core.errors import AlertsError, InputError
from drone_patrol.dashboard.archive_store import ArchiveStore
from drone_patrol.dashboard.model import (
    Ack,
    AlertMessage,
    MessageError,
    ack_payload,
    iso_time,
    parse_ack,
    parse_alert,
    parse_status,
    parse_telemetry,
    parse_topic,
    topic_for,
)
from drone_patrol.dashboard.state import EventHub, Fleet

log = logging.getLogger(__name__)

PublishFn = Callable[[str, dict[str, Any]], None]
_JPEG_MAGIC = b"\xff\xd8"


class UnknownAlertError(InputError):
    """An acknowledgement names an alert the dashboard has never received."""


def incident_view(row: dict[str, Any]) -> dict[str, Any]:
    """An archive incident row as the page and ``/api/alerts`` show it (times as ISO-8601 too)."""
    out = dict(row)
    for key in ("time_s", "first_time_s", "first_seen_s", "last_seen_s", "acked_at_s"):
        value = row.get(key)
        out[key.removesuffix("_s")] = iso_time(value) if value is not None else None
    thumb = row.get("thumbnail_id")
    out["thumbnail_url"] = f"/api/alerts/{thumb}/thumbnail.jpg" if thumb else None
    return out


class DashboardCore:
    """Applies MQTT messages to the archive and the fleet, and tells the open pages."""

    def __init__(
        self,
        archive: ArchiveStore,
        fleet: Fleet,
        hub: EventHub,
        *,
        video_max_fps: float = 4.0,
        video_max_bytes: int = 262_144,
        prefix: str = "dronepatrol",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.prefix = prefix
        self.archive = archive
        self.fleet = fleet
        self.hub = hub
        self.video_min_interval_s = 1.0 / video_max_fps
        self.video_max_bytes = video_max_bytes
        self.clock = clock
        self.publish: PublishFn | None = None
        self.broker_connected = False
        self.rejected: dict[str, int] = {}
        self._last_rejection_log: dict[str, float] = {}

    # ------------------------------------------------------------------ MQTT in

    def handle_message(self, topic_text: str, payload: bytes, retained: bool = False) -> None:
        """Apply one MQTT message; a bad one is counted and logged (at most every 10 s per topic)."""
        now = self.clock()
        topic = parse_topic(topic_text, self.prefix)
        if topic is None:
            return
        try:
            if topic.channel == "alert":
                self._on_alert(parse_alert(topic, topic_text, payload), now)
            elif topic.channel == "ack":
                self._on_ack(parse_ack(topic, topic_text, payload), now)
            elif topic.channel == "status":
                view = self.fleet.set_status(topic.site, topic.drone, parse_status(topic_text, payload), now)
                self.hub.publish("drone", view)
            elif topic.channel == "telemetry":
                sample = parse_telemetry(topic_text, payload, now)
                view = self.fleet.add_telemetry(topic.site, topic.drone, sample, now)
                self.hub.publish("drone", view)
            elif topic.channel == "video":
                self._on_frame(topic.site, topic.drone, topic_text, payload, now)
        except MessageError as exc:
            self._reject(topic.channel, str(exc), now)

    def _reject(self, channel: str, reason: str, now: float) -> None:
        self.rejected[channel] = self.rejected.get(channel, 0) + 1
        if now - self._last_rejection_log.get(channel, -1e9) >= 10.0:
            self._last_rejection_log[channel] = now
            log.warning("dashboard: ignored a message: %s", reason)

    def _on_alert(self, msg: AlertMessage, now: float) -> None:
        # Already stored: a QoS 1 redelivery, or another dashboard on the shared city archive wrote it
        # first. Either way this dashboard's pages get the row (they merge it by incident id).
        self.archive.add_message(msg, now)
        row = self.archive.incident(msg.incident_id)
        if row is not None:
            self.hub.publish("alert", incident_view(row))

    def _on_ack(self, ack: Ack, now: float) -> None:
        if not self.archive.add_ack(ack, now):
            return
        incident = self.archive.incident_of(ack.target_id)
        row = self.archive.incident(incident) if incident else None
        if row is not None:
            self.hub.publish("alert", incident_view(row))

    def _on_frame(self, site: str, drone: str, topic_text: str, payload: bytes, now: float) -> None:
        if len(payload) > self.video_max_bytes:
            raise MessageError(f"{topic_text}: frame of {len(payload)} bytes exceeds {self.video_max_bytes}")
        if not payload.startswith(_JPEG_MAGIC):
            raise MessageError(f"{topic_text}: video payload is not a JPEG")
        seq = self.fleet.add_frame(site, drone, payload, now, self.video_min_interval_s)
        if seq is not None:
            self.hub.publish("frame", {"key": f"{site}/{drone}", "site": site, "drone": drone, "seq": seq})

    def set_link(self, connected: bool, detail: str) -> None:
        """Record the broker link state and tell the pages."""
        self.broker_connected = connected
        self.hub.publish("broker", {"connected": connected, "detail": detail})

    # ------------------------------------------------------------------ acknowledgements out

    def acknowledge(self, event_id: str, by: str, note: str = "") -> dict[str, Any]:
        """Publish an ack of the alert message ``event_id`` and return its incident as now shown.

        The ack targets the message the operator saw, so a later escalation of the
        same incident is not silently covered. Raises :class:`UnknownAlertError` for
        an id never received and :class:`AlertsError` when the broker does not take it.
        """
        msg = self.archive.message(event_id)
        if msg is None:
            incident = self.archive.incident(event_id)
            if incident is None:
                raise UnknownAlertError(f"alert {event_id!r}: no such alert or incident in the archive")
            msg = self.archive.message(incident["event_id"])
            assert msg is not None
        if self.publish is None:
            raise AlertsError("acknowledgements cannot be sent: the dashboard has no broker connection")
        now = self.clock()
        event = ack_payload(
            msg["id"], by=by, site=msg["site"], drone=msg["drone"], time_s=now, note=note, prefix=self.prefix
        )
        self.publish(topic_for(msg["site"], msg["drone"], "alerts/ack", self.prefix), event)
        # Apply at once (the broker's echo of the same ack id is then a no-op).
        self._on_ack(
            Ack(ack_id=event["id"], target_id=msg["id"], by=by, time_s=now, site=msg["site"], drone=msg["drone"]),
            now,
        )
        row = self.archive.incident(msg["incident_id"])
        assert row is not None
        return incident_view(row)

    # ------------------------------------------------------------------ queries

    def alerts(self, since_s: float, limit: int | None = None) -> list[dict[str, Any]]:
        """Incidents seen since ``since_s``, newest first."""
        return [incident_view(r) for r in self.archive.incidents(since_s, limit)]

    def alert_detail(self, incident_or_event_id: str) -> dict[str, Any] | None:
        """One incident with the history of its messages and acks."""
        incident = self.archive.incident_of(incident_or_event_id)
        row = self.archive.incident(incident) if incident else None
        if row is None:
            return None
        out = incident_view(row)
        messages = self.archive.messages(float("-inf"), row["incident_id"])
        out["messages"] = [{**m, "time": iso_time(m["time_s"])} for m in messages]
        ids = {row["incident_id"]} | {m["id"] for m in messages}
        out["acks"] = [{**a, "time": iso_time(a["time_s"])} for a in self.archive.acks(ids)]
        return out
