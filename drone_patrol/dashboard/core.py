"""The dashboard's state machine: MQTT messages in, archive rows and page events out.

:class:`DashboardCore` does no networking of its own: the bridge hands it
messages, the web server asks it questions, and acknowledgements go out through
a ``publish`` function it is given (the bridge's).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

from drone_patrol.alerts.eyes_on import COMMAND_EXPIRY_S, eyes_on_event, release_event
from drone_patrol.alerts.schema import vehicle_alert
from drone_patrol.core.errors import AlertsError, InputError
from drone_patrol.core.types import GeoPoint, Severity
from drone_patrol.dashboard.archive import message_dict
from drone_patrol.dashboard.archive_backstop import ArchiveBackstop
from drone_patrol.dashboard.archive_store import ArchiveStore
from drone_patrol.dashboard.incident_list import IncidentList
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
from drone_patrol.dashboard.views import command_result_view, incident_view
from drone_patrol.dashboard.workflow import WorkflowStep, check_step, parse_workflow, workflow_payload

log = logging.getLogger(__name__)


class PublishFn(Protocol):
    """Publishes a CloudEvent (``DashboardBridge.publish_json``); ``expiry_s`` > 0: its MQTT message expiry."""

    def __call__(self, topic: str, payload: dict[str, Any], *, expiry_s: int = 0) -> None: ...


_JPEG_MAGIC = b"\xff\xd8"
COMMAND_KINDS = ("eyes_on", "release")
DEFAULT_EYES_ON_S = 120.0
RECENT_ALERTS = 2048  # alerts kept for acks while a shared writer has not stored them yet


class UnknownAlertError(InputError):
    """An acknowledgement names an alert the dashboard has never received."""


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
        self._position_saved_s: dict[str, float] = {}
        self._link_alerts: dict[str, str] = {}  # drone key -> incident id of its open link alert
        self._link_lock = threading.Lock()  # check_links runs on the MQTT thread and the watchdog
        self.position_save_interval_s = 5.0
        # False when a shared writer (:mod:`.shared_writer`) stores what arrives over MQTT: this
        # dashboard then only shows it, and keeps recent alerts for acks before they are stored.
        self.writes_archive = True
        self.stored = {"stored": 0, "already_stored": 0}  # archive writes of MQTT messages made here
        self.writer_status: Callable[[], dict[str, Any]] | None = None
        self.backstop: ArchiveBackstop | None = None  # with a shared writer: what arrived does reach the archive
        self._recent: OrderedDict[str, AlertMessage] = OrderedDict()
        self.incidents = IncidentList()
        self._incident_lock = threading.Lock()

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
            elif topic.channel == "workflow":
                self._on_step(parse_workflow(topic, topic_text, payload), now)
            elif topic.channel == "command_result":
                result = command_result_view(topic_text, payload)
                self.hub.publish("command", self.fleet.set_command(topic.site, topic.drone, result))
            elif topic.channel == "status":
                view = self.fleet.set_status(topic.site, topic.drone, parse_status(topic_text, payload), now)
                self.hub.publish("drone", view)
                self.check_links(now)
            elif topic.channel == "telemetry":
                sample = parse_telemetry(topic_text, payload, now)
                view = self.fleet.add_telemetry(topic.site, topic.drone, sample, now)
                self.hub.publish("drone", view)
                self._save_position(view, now)
            elif topic.channel == "video":
                self._on_frame(topic.site, topic.drone, topic_text, payload, now)
        except MessageError as exc:
            self._reject(topic.channel, str(exc), now)

    def _reject(self, channel: str, reason: str, now: float) -> None:
        self.rejected[channel] = self.rejected.get(channel, 0) + 1
        if now - self._last_rejection_log.get(channel, -1e9) >= 10.0:
            self._last_rejection_log[channel] = now
            log.warning("dashboard: ignored a message: %s", reason)

    # An alert, ack or step already stored is a QoS 1 redelivery, or another dashboard on the
    # shared city archive wrote it first. Either way this dashboard's pages get the incident's
    # row (they merge it by incident id), so every page in the city room sees every step.

    # With a shared writer the MQTT copy is shown, not stored: the page gets the incident as it
    # is with this message in it, stored yet or not. The operator's own acks and steps and the
    # dashboard's own link alerts are always stored here (``store=True``).

    def _on_alert(self, msg: AlertMessage, now: float, store: bool | None = None) -> None:
        if self._store(store, self.archive.add_message, msg, now):
            self._recent.pop(msg.id, None)
        else:
            self._recent[msg.id] = msg
            while len(self._recent) > RECENT_ALERTS:
                self._recent.popitem(last=False)
        self._publish_incident(msg.incident_id, now, message=msg)

    def _on_ack(self, ack: Ack, now: float, store: bool | None = None) -> None:
        self._store(store, self.archive.add_ack, ack, now)
        self._publish_incident(self._incident_of(ack.target_id), now, ack=ack)

    def _on_step(self, step: WorkflowStep, now: float, store: bool | None = None) -> None:
        self._store(store, self.archive.add_workflow_step, step, now)
        self._publish_incident(step.incident_id, now, step=step)

    def _store(self, store: bool | None, add: Callable[[Any, float], bool], item: Any, now: float) -> bool:
        """Store ``item`` unless a shared writer does; True when it is in the archive now."""
        if not (self.writes_archive if store is None else store):
            if self.backstop is not None:
                self.backstop.expect(item, now)
            return False
        self.stored["stored" if add(item, now) else "already_stored"] += 1
        return True

    def _incident_of(self, target_id: str) -> str | None:
        recent = self._recent.get(target_id)
        return self.archive.incident_of(target_id) or (recent.incident_id if recent else None)

    def _publish_incident(self, incident_id: str | None, now: float, **received: Any) -> None:
        if not incident_id:
            return
        # One at a time: the MQTT thread (an escalation) and an HTTP thread (an ack) must not
        # put an incident's view read before the other's change after it.
        with self._incident_lock:
            row = self.archive.incident_with(incident_id, now, **received)
            if row is not None:
                view = incident_view(row)
                self.incidents.put(view)
                self.hub.publish("alert", view)

    def store_event(self, topic_text: str, payload: bytes) -> bool:
        """Store one alert, ack or dispatch step pulled by the shared writer; True when this call stored it.

        Raises :class:`MessageError` for anything else or a message that does not parse.
        """
        now = self.clock()
        topic = parse_topic(topic_text, self.prefix)
        if topic is not None and topic.channel == "alert":
            return self.archive.add_message(parse_alert(topic, topic_text, payload), now)
        if topic is not None and topic.channel == "ack":
            return self.archive.add_ack(parse_ack(topic, topic_text, payload), now)
        if topic is not None and topic.channel == "workflow":
            return self.archive.add_workflow_step(parse_workflow(topic, topic_text, payload), now)
        raise MessageError(f"{topic_text}: not an alert, acknowledgement or dispatch step topic")

    def _save_position(self, view: dict[str, Any], now: float) -> None:
        """Keep the drone's last position in the archive (at most every few seconds per drone)."""
        if view.get("latitude_deg") is None:
            return
        if now - self._position_saved_s.get(view["key"], float("-inf")) < self.position_save_interval_s:
            return
        self._position_saved_s[view["key"]] = now
        self.archive.save_drone_position(view["site"], view["drone"], view["latitude_deg"], view["longitude_deg"], now)

    def check_links(self, now: float | None = None) -> None:
        """Raise the dashboard's own alert for a drone that went offline or silent while flying a patrol.

        One incident per outage (critical); when the drone is heard again the
        incident gets an ``info`` message saying so. Every dashboard of a city room
        raises them, so their ids come from what every dashboard receives alike (see
        :func:`link_alert_ids`), never from its own clock: the shared archive then keeps
        one row per event.
        """
        t = self.clock() if now is None else now
        with self._link_lock:
            self._check_links(t)

    def _check_links(self, t: float) -> None:
        for view in self.fleet.snapshot(t, with_track=False):
            key = view["key"]
            open_incident = self._link_alerts.get(key)
            if view["link"] in ("offline", "stale") and open_incident is None and view["flying"]:
                event = "drone_offline" if view["link"] == "offline" else "drone_silent"
                incident, alert_id = link_alert_ids(key, view["heard_mark"], event)
                text = (
                    "drone went offline during a patrol (last will)"
                    if event == "drone_offline"
                    else "no data from the drone during a patrol"
                )
                self._link_alerts[key] = incident
                self._local_alert(view, event, Severity.CRITICAL, text, (incident, alert_id), t)
            elif view["link"] == "online" and open_incident is not None:
                del self._link_alerts[key]
                back = (open_incident, link_event_id(open_incident, "drone_back_online"))
                self._local_alert(view, "drone_back_online", Severity.INFO, "drone heard again", back, t)

    def _local_alert(
        self, view: dict[str, Any], event: str, severity: Severity, text: str, ids: tuple[str, str], now: float
    ) -> None:
        lat, lon = view.get("latitude_deg"), view.get("longitude_deg")
        alert = vehicle_alert(
            event,
            severity,
            text,
            {"last_seen": view.get("last_seen") or "", "mission_state": view.get("mission_state") or ""},
            time_s=now,
            location=GeoPoint(lat, lon) if lat is not None and lon is not None else None,
            incident_id=ids[0],
            site=view["site"],
            drone=view["drone"],
            alert_id=ids[1],
        )
        log.warning("dashboard: %s/%s: %s", view["site"], view["drone"], text)
        self._on_alert(AlertMessage.from_alert(alert, raw={"source": "dashboard"}), now, store=True)

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
        if msg is None and event_id in self._recent:  # received, not stored by the shared writer yet
            msg = message_dict(self._recent[event_id], self.clock())
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
        ack = Ack(ack_id=event["id"], target_id=msg["id"], by=by, time_s=now, site=msg["site"], drone=msg["drone"])
        self._on_ack(ack, now, store=True)
        row = self.archive.incident_with(msg["incident_id"], now, message=self._recent.get(msg["id"]))
        assert row is not None
        return incident_view(row)

    def take_step(
        self, incident_or_event_id: str, step: str, by: str, *, unit: str = "", reason: str = "", note: str = ""
    ) -> dict[str, Any]:
        """Take one dispatch step on an incident, publish it and return the incident as now shown.

        A step on an incident nobody acknowledged acknowledges it first. Raises
        :class:`UnknownAlertError`, :class:`~drone_patrol.dashboard.workflow.WorkflowError`
        (a step that cannot follow the incident's state) or :class:`AlertsError` (broker).
        """
        incident = self.archive.incident_of(incident_or_event_id)
        row = self.archive.incident(incident) if incident else None
        if row is None:
            raise UnknownAlertError(f"incident {incident_or_event_id!r}: no such alert or incident in the archive")
        unit, reason, note = unit.strip()[:200], reason.strip()[:1000], note.strip()[:1000]
        if step == "dispatched" and unit and unit in (row.get("units") or []) and row["state"] == "dispatched":
            # the same unit again: a retry after an unconfirmed send that did arrive, not a second unit
            return incident_view(row)
        check_step(row["state"], step, unit=unit, reason=reason, note=note)
        if self.publish is None:
            raise AlertsError("the step cannot be sent: the dashboard has no broker connection")
        if row["state"] == "new" and step != "note":
            self.acknowledge(row["event_id"], by)
        now = self.clock()
        taken = WorkflowStep(
            step_id=str(uuid.uuid4()),
            incident_id=row["incident_id"],
            step=step,
            by=by,
            time_s=now,
            site=row["site"],
            drone=row["drone"],
            unit=unit,
            reason=reason,
            note=note,
        )
        self.publish(topic_for(row["site"], row["drone"], "alerts/workflow", self.prefix), workflow_payload(taken))
        self._on_step(taken, now, store=True)
        updated = self.archive.incident(row["incident_id"])
        assert updated is not None
        return incident_view(updated)

    def send_command(self, site: str, drone: str, kind: str, by: str, **data: Any) -> dict[str, Any]:
        """Publish an ``eyes_on`` or ``release`` command to one drone; returns the event sent.

        ``eyes_on`` takes ``lat_deg``, ``lon_deg``, ``duration_s`` (120 s when absent) and
        ``altitude_m`` and gets a new command id; ``release`` takes the ``command_id`` it ends.
        The events are built by :mod:`drone_patrol.alerts.eyes_on`. Raises :class:`InputError`
        for an unknown kind, :class:`CommandSchemaError` for values outside the command's
        schema and :class:`AlertsError` when the broker does not take it.
        """
        if self.publish is None:
            raise AlertsError("the command cannot be sent: the dashboard has no broker connection")
        if kind not in COMMAND_KINDS:
            raise InputError(f"command {kind!r}: expected one of {', '.join(COMMAND_KINDS)}")
        now = self.clock()
        # a missing field goes to the builder as null, and the schema check names it
        data = {"lat_deg": None, "lon_deg": None, "duration_s": DEFAULT_EYES_ON_S, "command_id": None, **data}
        if kind == "eyes_on":
            event = eyes_on_event(
                str(uuid.uuid4()),
                data["lat_deg"],
                data["lon_deg"],
                data["duration_s"],
                by,
                site=site,
                altitude_m=data.get("altitude_m"),
                time_s=now,
                prefix=self.prefix,
            )
        else:
            event = release_event(data["command_id"], by, site=site, time_s=now, prefix=self.prefix)
        self.publish(topic_for(site, drone, "commands", self.prefix), event, expiry_s=COMMAND_EXPIRY_S)
        self.hub.publish(
            "command",
            self.fleet.set_command(
                site,
                drone,
                {"state": "sent", "kind": kind, "reason": "", "time": event["time"], **event["data"]},
            ),
        )
        return event

    # ------------------------------------------------------------------ queries

    def alerts(self, since_s: float, limit: int | None = None) -> list[dict[str, Any]]:
        """Incidents seen since ``since_s``, newest first (from the archive)."""
        return [incident_view(r) for r in self.archive.incidents(since_s, limit)]

    def load_incidents(self, since_s: float) -> None:
        """Fill the in-memory incident list (:mod:`.incident_list`) from the archive; call once at start."""
        self.incidents.load(self.alerts(since_s), since_s)

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


def link_alert_ids(key: str, heard_mark: str, event: str) -> tuple[str, str]:
    """The incident id and alert id of a dashboard's ``drone_offline`` / ``drone_silent`` alert.

    The incident is the outage: the drone (``<site>/<drone>``) and the drone's own times on
    the last status and telemetry it sent before it was lost (``heard_mark``), the same on
    every dashboard that received them. A silent drone whose last will comes later is the
    same outage: a dashboard that noticed the silence first and one that got the will first
    add two messages to one incident, each once. The alert id is the incident's and the event's.
    """
    incident = str(uuid.uuid5(uuid.NAMESPACE_URL, f"dronepatrol:{key}/link-lost/{heard_mark}"))
    return incident, link_event_id(incident, event)


def link_event_id(incident: str, event: str) -> str:
    """The alert id of the ``event`` message of the outage ``incident`` (lost, or ``drone_back_online``)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"dronepatrol:incident/{incident}/{event}"))
