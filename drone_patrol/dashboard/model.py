"""What the dashboard knows, as plain values, and the pure parsing of MQTT messages into them.

No I/O here: the bridge hands topics and payloads in, and gets values (or a
:class:`MessageError` naming the topic and what was wrong) back.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from drone_patrol.alerts import schema
from drone_patrol.core.errors import AlertsError, InputError
from drone_patrol.core.types import Alert

TOPIC_ROOT = "dronepatrol"

SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}


class MessageError(InputError):
    """An MQTT message the dashboard cannot use; the text names the topic and the fault."""


@dataclass(frozen=True, slots=True)
class Topic:
    """A parsed ``dronepatrol/<site>/<drone>/<channel>`` topic.

    ``channel`` is ``alert`` (with ``kind``), ``ack``, ``workflow``, ``status``, ``telemetry``,
    ``video`` or ``command_result`` (a drone's answers to commands).
    """

    site: str
    drone: str
    channel: str
    kind: str = ""


def parse_topic(topic: str, prefix: str = TOPIC_ROOT) -> Topic | None:
    """Parse a drone-patrol topic; ``None`` for topics the dashboard does not follow."""
    parts = topic.split("/")
    if len(parts) < 4 or parts[0] != prefix or not parts[1] or not parts[2]:
        return None
    site, drone, rest = parts[1], parts[2], parts[3:]
    if rest == ["alerts", "ack"]:
        return Topic(site, drone, "ack")
    if rest == ["alerts", "workflow"]:
        return Topic(site, drone, "workflow")
    if rest == ["commands", "result"]:
        return Topic(site, drone, "command_result")
    if len(rest) == 2 and rest[0] == "alerts" and rest[1]:
        return Topic(site, drone, "alert", rest[1])
    if len(rest) == 1 and rest[0] in ("status", "telemetry", "video"):
        return Topic(site, drone, rest[0])
    return None


def topic_for(site: str, drone: str, channel: str, prefix: str = TOPIC_ROOT) -> str:
    """The topic of ``channel`` (``status``, ``telemetry``, ``video``, ``alerts/ack``) for one drone."""
    return f"{prefix}/{site}/{drone}/{channel}"


@functools.lru_cache(maxsize=16384)  # the same times are shown again and again (lists, histories)
def iso_time(time_s: float) -> str:
    """UNIX seconds as ISO-8601 UTC with milliseconds and a ``Z``."""
    return datetime.fromtimestamp(time_s, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_YEAR_10000_S = 253_402_300_800  # 10000-01-01T00:00:00Z: datetime's end


def parse_time(value: Any, what: str) -> float:
    """ISO-8601 text (``Z`` or offset) or UNIX seconds to UNIX seconds; raises ValueError naming ``what``."""
    if isinstance(value, bool):
        raise ValueError(f"{what}: expected an ISO-8601 time, got {value!r}")
    if isinstance(value, int | float):
        if not math.isfinite(value) or not 0 <= value < _YEAR_10000_S:
            raise ValueError(f"{what}: expected a time in UNIX seconds from 1970 to 9999, got {value!r}")
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{what}: expected an ISO-8601 time, got {value!r}") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        if not 0 <= parsed.timestamp() < _YEAR_10000_S:
            raise ValueError(f"{what}: expected a time from 1970 to 9999, got {value!r}")
        return parsed.timestamp()
    raise ValueError(f"{what}: expected an ISO-8601 time, got {value!r}")


def _json_object(topic: str, payload: bytes) -> dict[str, Any]:
    try:
        value = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MessageError(f"{topic}: payload is not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise MessageError(f"{topic}: expected a JSON object, got {type(value).__name__}")
    return value


def _first(mapping: dict[str, Any], *names: str) -> Any:
    for name in names:
        if name in mapping and mapping[name] is not None:
            return mapping[name]
    return None


def _section(body: dict[str, Any], name: str) -> dict[str, Any]:
    """``body[name]`` when it is an object, else ``body`` itself (flat documents)."""
    value = body.get(name)
    return value if isinstance(value, dict) else body


def _number(value: Any, topic: str, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise MessageError(f"{topic}: {what} must be a finite number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class AlertMessage:
    """One alert message (a CloudEvent) as the dashboard stores and shows it."""

    id: str
    incident_id: str
    site: str
    drone: str
    kind: str
    status: str
    severity: str
    time_s: float
    latitude_deg: float | None
    longitude_deg: float | None
    error_radius_m: float | None
    first_seen_s: float | None
    last_seen_s: float | None
    confidence: float | None
    area: str | None
    summary: str
    figures: dict[str, Any] = field(default_factory=dict)
    thumbnail_jpeg: bytes | None = field(default=None, repr=False)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_alert(cls, alert: Alert, raw: dict[str, Any] | None = None) -> AlertMessage:
        """The message of ``alert``; ``raw`` is the event as received."""
        loc = alert.location
        return cls(
            id=alert.alert_id,
            incident_id=alert.incident_id,
            site=alert.site,
            drone=alert.drone,
            kind=str(alert.kind),
            status=str(alert.status),
            severity=str(alert.severity),
            time_s=alert.time_s,
            latitude_deg=loc.latitude_deg if loc else None,
            longitude_deg=loc.longitude_deg if loc else None,
            error_radius_m=alert.error_radius_m,
            first_seen_s=alert.first_seen_s,
            last_seen_s=alert.last_seen_s,
            confidence=alert.confidence,
            area=alert.area_name,
            summary=alert.summary,
            figures=dict(alert.figures),
            thumbnail_jpeg=alert.thumbnail_jpeg,
            raw=raw or {},
        )

    def to_json(self) -> dict[str, Any]:
        """JSON-ready view for the API and the page (the thumbnail is served by URL)."""
        out = asdict(self)
        del out["thumbnail_jpeg"], out["raw"]
        out["time"] = iso_time(self.time_s)
        out["has_thumbnail"] = self.thumbnail_jpeg is not None
        return out


def alert_message(event: dict[str, Any] | bytes, topic: Topic, topic_text: str) -> AlertMessage:
    """Parse and validate an alert event (the shared schema of :mod:`drone_patrol.alerts.schema`).

    The site and drone come from the event's data; they must match the topic's.
    """
    try:
        parsed = schema.parse_event(event)
        if parsed.dataschema != schema.ALERT_DATASCHEMA:
            raise MessageError(f"{topic_text}: event {parsed.id} of type {parsed.type} is not an alert")
        alert = schema.alert_from_event(parsed)
    except AlertsError as exc:
        raise MessageError(f"{topic_text}: {exc}") from None
    if (alert.site, alert.drone) != (topic.site, topic.drone):
        raise MessageError(
            f"{topic_text}: event {alert.alert_id} is from {alert.site}/{alert.drone}, not the topic's drone"
        )
    return AlertMessage.from_alert(alert, raw=parsed.model_dump(mode="json"))


def parse_alert(topic: Topic, topic_text: str, payload: bytes) -> AlertMessage:
    """Parse a CloudEvents 1.0 structured-JSON alert published on ``topic``."""
    return alert_message(payload, topic, topic_text)


@dataclass(frozen=True, slots=True)
class Ack:
    """An acknowledgement by command-room staff of one alert (event id) or one incident (incident id)."""

    ack_id: str
    target_id: str
    by: str
    time_s: float
    site: str
    drone: str
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        """JSON-ready view for the API and the page."""
        return {
            "ack_id": self.ack_id,
            "target_id": self.target_id,
            "by": self.by,
            "time": iso_time(self.time_s),
            "time_s": self.time_s,
            "site": self.site,
            "drone": self.drone,
            "note": self.note,
        }


def ack_payload(
    target_id: str, *, by: str, site: str, drone: str, time_s: float, note: str = "", prefix: str = TOPIC_ROOT
) -> dict[str, Any]:
    """The ack event to publish on ``.../alerts/ack`` (the shared schema's)."""
    try:
        return schema.ack_event(target_id, by=by, site=site, drone=drone, note=note, time_s=time_s, prefix=prefix)
    except AlertsError as exc:
        raise MessageError(str(exc)) from None


def command_room_event(topic_text: str, payload: bytes, dataschema: str, what: str) -> tuple[schema.CloudEvent, float]:
    """Parse an event from the command room whose data must follow ``dataschema``; returns it and its time."""
    try:
        event = schema.parse_event(payload)
        if event.dataschema != dataschema:
            raise MessageError(f"{topic_text}: event {event.id} of type {event.type} is not {what}")
        return event, schema.from_rfc3339(event.time)
    except AlertsError as exc:
        raise MessageError(f"{topic_text}: {exc}") from None


def parse_ack(topic: Topic, topic_text: str, payload: bytes) -> Ack:
    """Parse an acknowledgement event published on ``.../alerts/ack``."""
    event, time_s = command_room_event(topic_text, payload, schema.ACK_DATASCHEMA, "an ack")
    data = schema.AckData.model_validate(event.data)
    return Ack(
        ack_id=event.id,
        target_id=data.target_id,
        by=data.by,
        time_s=time_s,
        site=data.site or topic.site,
        drone=data.drone or topic.drone,
        note=data.note,
    )


@dataclass(frozen=True, slots=True)
class Status:
    """A drone's retained status: online or not, and when the message was made."""

    online: bool
    time_s: float | None
    detail: dict[str, Any]


OFFLINE_STATES = frozenset({"offline", "lost", "disconnected"})


def parse_status(topic_text: str, payload: bytes) -> Status:
    """Parse a retained status document (``{"state": ..., "time": ..., ...}``; the last will says offline).

    Any ``state`` other than offline, lost or disconnected counts as online; a
    bare word payload is accepted too. An empty payload (a cleared retained
    message) counts as offline.
    """
    text = payload.decode("utf-8", errors="replace").strip()
    if not text:
        return Status(online=False, time_s=None, detail={"state": "offline"})
    if not text.startswith("{"):
        word = text.lower()
        return Status(online=word not in OFFLINE_STATES, time_s=None, detail={"state": word})
    body = _json_object(topic_text, payload)
    state = body.get("state")
    if isinstance(state, bool):
        online = state
    elif isinstance(state, str) and state:
        online = state.lower() not in OFFLINE_STATES
    else:
        raise MessageError(f"{topic_text}: status needs a 'state' string (online, offline, ...), got {state!r}")
    time_s = None
    if body.get("time") is not None:
        try:
            time_s = parse_time(body["time"], "time")
        except ValueError as exc:
            raise MessageError(f"{topic_text}: {exc}") from None
    return Status(online=online, time_s=time_s, detail=body)


@dataclass(frozen=True, slots=True)
class Telemetry:
    """One telemetry sample: position, mode, battery and mission progress."""

    time_s: float
    latitude_deg: float | None
    longitude_deg: float | None
    relative_altitude_m: float | None
    heading_deg: float | None
    ground_speed_m_s: float | None
    battery_percent: float | None
    mode: str | None
    armed: bool | None
    mission_current_seq: int | None
    mission_count: int | None
    area: str | None
    detail: dict[str, Any]


def parse_telemetry(topic_text: str, payload: bytes, received_s: float) -> Telemetry:
    """Parse a telemetry sample (JSON object; flat or with ``position``/``battery``/``mission`` objects)."""
    body = _json_object(topic_text, payload)
    pos = _section(body, "position")
    battery = _section(body, "battery")
    mission = _section(body, "mission")
    try:
        raw_time = body.get("time", body.get("time_s"))
        time_s = parse_time(raw_time, "time") if raw_time is not None else received_s
    except ValueError as exc:
        raise MessageError(f"{topic_text}: {exc}") from None
    lat = _number(_first(pos, "latitude_deg", "lat"), topic_text, "latitude")
    lon = _number(_first(pos, "longitude_deg", "lon"), topic_text, "longitude")
    if (lat is None) != (lon is None) or (lat is not None and not -90 <= lat <= 90):
        raise MessageError(f"{topic_text}: position needs both latitude and longitude in range")
    current = _number(_first(mission, "mission_current_seq", "current_seq", "current"), topic_text, "mission seq")
    count = _number(_first(mission, "mission_count", "count", "total"), topic_text, "mission count")
    armed = body.get("armed")
    mode = body.get("mode")
    area = _first(mission, "area", "area_name")
    return Telemetry(
        time_s=time_s,
        latitude_deg=lat,
        longitude_deg=lon,
        relative_altitude_m=_number(_first(pos, "relative_altitude_m", "alt_rel_m"), topic_text, "altitude"),
        heading_deg=_number(_first(body, "heading_deg", "yaw_deg"), topic_text, "heading"),
        ground_speed_m_s=_number(_first(body, "ground_speed_m_s", "speed_m_s"), topic_text, "speed"),
        battery_percent=_number(
            _first(battery, "battery_percent", "percent", "remaining_percent"), topic_text, "battery"
        ),
        mode=str(mode) if mode is not None else None,
        armed=bool(armed) if isinstance(armed, bool) else None,
        mission_current_seq=int(current) if current is not None else None,
        mission_count=int(count) if count is not None else None,
        area=str(area) if area is not None else None,
        detail=body,
    )
