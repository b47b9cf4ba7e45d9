"""The alert envelope (CloudEvents 1.0, structured JSON) and its ``data``.

An alert on the wire is one JSON object: the CloudEvents attributes ``specversion``,
``id`` (a uuid, the idempotency key), ``source`` (``/dronepatrol/<site>/<drone>``),
``type`` (``org.dronepatrol.alert.<kind>``), ``time``, ``datacontenttype``,
``dataschema`` and ``subject`` (the incident id), and ``data`` as :class:`AlertData`.
The JSON Schema files in ``drone_patrol/alerts/schemas/`` are the contract; the
pydantic models (:mod:`drone_patrol.alerts.models`, re-exported here) accept exactly what they accept
(a test keeps both in step).
``dataschema`` is the ``$id`` of the data's schema file, resolved by :func:`load_schema`.

Acknowledgements from the command room are CloudEvents too (type
``org.dronepatrol.alert.ack``, data :class:`AckData`), and so are the later steps of
an incident's dispatch (type ``org.dronepatrol.alert.workflow``, data
:class:`WorkflowData`, on ``.../alerts/workflow``). Status and telemetry are plain
JSON documents (:class:`StatusMessage`, :func:`telemetry_payload`), not events: they
are states, the latest wins.
"""

from __future__ import annotations

import base64
import enum
import math
import time
import uuid
from json.encoder import encode_basestring_ascii
from typing import Any, NamedTuple

from pydantic import ValidationError

from drone_patrol.alerts.models import (
    ACK_DATASCHEMA,
    ACK_TYPE,
    ALERT_DATASCHEMA,
    CONTENT_TYPE,
    DATA_CONTENT_TYPE,
    ENVELOPE_SCHEMA,
    SPECVERSION,
    TYPE_PREFIX,
    WORKFLOW_DATASCHEMA,
    WORKFLOW_STEPS,
    WORKFLOW_TYPE,
    AckData,
    AlertData,
    AlertSchemaError,
    CloudEvent,
    Position,
    Scalar,
    StatusMessage,
    Thumbnail,
    WorkflowData,
    from_rfc3339,
    json_object,
    load_schema,
    to_rfc3339,
    validate_json_schema,
)
from drone_patrol.core.types import Alert, AlertKind, AlertStatus, GeoPoint, Severity, VehicleState

__all__ = [
    "ACK_DATASCHEMA",
    "ACK_TYPE",
    "ALERT_DATASCHEMA",
    "CONTENT_TYPE",
    "DATA_CONTENT_TYPE",
    "ENVELOPE_SCHEMA",
    "SPECVERSION",
    "TYPE_PREFIX",
    "WORKFLOW_DATASCHEMA",
    "WORKFLOW_STEPS",
    "WORKFLOW_TYPE",
    "AckData",
    "AlertData",
    "AlertMessage",
    "AlertSchemaError",
    "CloudEvent",
    "Position",
    "StatusMessage",
    "Thumbnail",
    "WorkflowData",
    "ack_event",
    "alert_data",
    "alert_event",
    "alert_from_event",
    "alert_message",
    "event_source",
    "event_type",
    "from_rfc3339",
    "load_schema",
    "parse_event",
    "status_payload",
    "telemetry_payload",
    "to_rfc3339",
    "validate_json_schema",
    "vehicle_alert",
    "workflow_event",
]

# ---------------------------------------------------------------------------- building events


def event_type(kind: AlertKind | str) -> str:
    """The CloudEvents ``type`` of an alert of ``kind``."""
    return TYPE_PREFIX + AlertKind(kind).value


def event_source(site: str, drone: str, prefix: str = "dronepatrol") -> str:
    """The CloudEvents ``source`` of a drone."""
    return f"/{prefix}/{site}/{drone}"


def _scalar(value: Any) -> Scalar:
    if isinstance(value, enum.Enum):
        value = value.value
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "item"):  # numpy scalars
        return _scalar(value.item())
    return str(value)


def alert_data(alert: Alert, *, site: str, drone: str, max_thumbnail_bytes: int | None = None) -> AlertData:
    """The validated ``data`` of ``alert``; a thumbnail above ``max_thumbnail_bytes`` is left out.

    Raises :class:`AlertSchemaError` when the alert cannot be expressed (a missing figure, ...).
    """
    thumb = None
    if alert.thumbnail_jpeg and (max_thumbnail_bytes is None or len(alert.thumbnail_jpeg) <= max_thumbnail_bytes):
        thumb = Thumbnail(data_base64=base64.b64encode(alert.thumbnail_jpeg).decode("ascii"))
    loc = alert.location
    try:
        return AlertData(
            incident_id=alert.incident_id,
            kind=alert.kind,
            status=alert.status,
            severity=alert.severity,
            site=site,
            drone=drone,
            location=None
            if loc is None
            else Position(latitude_deg=loc.latitude_deg, longitude_deg=loc.longitude_deg, altitude_m=loc.altitude_m),
            error_radius_m=max(0.0, float(alert.error_radius_m)),
            first_seen=to_rfc3339(alert.first_seen_s),
            last_seen=to_rfc3339(alert.last_seen_s),
            confidence=min(1.0, max(0.0, float(alert.confidence))),
            summary=alert.summary[:1000],
            area=alert.area_name,
            figures={str(k): _scalar(v) for k, v in alert.figures.items()},
            thumbnail=thumb,
        )
    except ValidationError as exc:
        raise AlertSchemaError(f"alert {alert.alert_id} ({alert.kind}): {_describe(exc)}") from None


def alert_event(
    alert: Alert, *, site: str, drone: str, prefix: str = "dronepatrol", max_thumbnail_bytes: int | None = None
) -> dict[str, Any]:
    """The CloudEvents envelope of ``alert`` as a JSON-ready dict (``id`` is ``alert.alert_id``):
    the message :func:`alert_message` puts on the wire, as a command room reads it."""
    return json_object(alert_message(alert, site=site, drone=drone, prefix=prefix,
                                     max_thumbnail_bytes=max_thumbnail_bytes).payload)  # fmt: skip


class AlertMessage(NamedTuple):
    """An alert as it goes on the wire."""

    event_id: str
    #: The CloudEvent in JSON (UTF-8): the attributes, then ``data``.
    payload: bytes
    #: The alert had a thumbnail over the limit, left out of the message.
    thumbnail_left_out: bool


_ALERT_DATA_JSON = AlertData.__pydantic_serializer__
_quote = encode_basestring_ascii  # json.dumps's own string writer (quotes, escapes, ASCII)


def alert_message(
    alert: Alert, *, site: str, drone: str, prefix: str = "dronepatrol", max_thumbnail_bytes: int | None = None
) -> AlertMessage:
    """``alert``'s CloudEvent (``id`` is ``alert.alert_id``, ``subject`` its incident) serialised for the wire.

    Raises :class:`AlertSchemaError` when the alert cannot be expressed (a missing figure,
    ...). This is the publisher's hot path, so it writes the JSON itself: the attributes
    with ``json.dumps``'s string writer and the data with pydantic's core, not through a
    dict and ``json.dumps`` (which took about twice as long).
    """
    data = alert_data(alert, site=site, drone=drone, max_thumbnail_bytes=max_thumbnail_bytes)
    head = (
        f'{{"specversion":"{SPECVERSION}","id":{_quote(alert.alert_id)},'
        f'"source":{_quote(event_source(site, drone, prefix))},"type":"{TYPE_PREFIX}{data.kind.value}",'
        f'"time":"{to_rfc3339(alert.time_s)}","datacontenttype":"{DATA_CONTENT_TYPE}",'
        f'"dataschema":"{ALERT_DATASCHEMA}","subject":{_quote(alert.incident_id)},"data":'
    )
    payload = head.encode() + _ALERT_DATA_JSON.to_json(data) + b"}"
    return AlertMessage(alert.alert_id, payload, bool(alert.thumbnail_jpeg) and data.thumbnail is None)


def ack_event(
    target_id: str, *, by: str, site: str, drone: str, note: str = "", time_s: float, prefix: str = "dronepatrol"
) -> dict[str, Any]:
    """An acknowledgement of one alert (event id) or one incident (incident id)."""
    try:
        data = AckData(target_id=target_id, by=by, site=site, drone=drone, note=note)
    except ValidationError as exc:
        raise AlertSchemaError(f"ack of {target_id!r}: {_describe(exc)}") from None
    return _command_room_event(ACK_TYPE, ACK_DATASCHEMA, target_id, data, site, time_s, prefix)


def _command_room_event(
    type_: str, dataschema: str, subject: str, data: AckData | WorkflowData, site: str, time_s: float, prefix: str
) -> dict[str, Any]:
    """The envelope of an event the command room sends (source ``/<prefix>/<site>/command-room``)."""
    return {
        "specversion": SPECVERSION,
        "id": str(uuid.uuid4()),
        "source": event_source(site, "command-room", prefix),
        "type": type_,
        "time": to_rfc3339(time_s),
        "datacontenttype": DATA_CONTENT_TYPE,
        "dataschema": dataschema,
        "subject": subject,
        "data": data.model_dump(mode="json"),
    }


def workflow_event(
    incident_id: str,
    step: str,
    *,
    by: str,
    site: str,
    drone: str,
    time_s: float,
    unit: str = "",
    reason: str = "",
    note: str = "",
    prefix: str = "dronepatrol",
) -> dict[str, Any]:
    """One dispatch step of an incident (``dispatched``, ``on_scene``, ``resolved``, ``false_alarm``, ...).

    Raises :class:`AlertSchemaError` naming the field when the step is not valid
    (an unknown step, a dispatch without a unit, a false alarm without a reason).
    """
    try:
        data = WorkflowData.model_validate(
            {
                "incident_id": incident_id,
                "step": step,
                "by": by,
                "site": site,
                "drone": drone,
                "unit": unit,
                "reason": reason,
                "note": note,
            }
        )
    except ValidationError as exc:
        raise AlertSchemaError(f"workflow step {step!r} of {incident_id!r}: {_describe(exc)}") from None
    return _command_room_event(WORKFLOW_TYPE, WORKFLOW_DATASCHEMA, incident_id, data, site, time_s, prefix)


def vehicle_alert(
    kind: str,
    severity: Severity | str,
    message: str,
    data: dict[str, Any] | None = None,
    *,
    time_s: float | None = None,
    location: GeoPoint | None = None,
    status: AlertStatus | str = AlertStatus.NEW,
    incident_id: str | None = None,
    site: str = "",
    drone: str = "",
    alert_id: str | None = None,
) -> Alert:
    """An alert of kind ``vehicle`` from a controller event (battery, link, fence, mission state).

    ``kind`` is the event's name (``battery_low``, ``link_lost``, ``fence_breach``, ...)
    and lands in ``figures.event``; ``data`` becomes the other figures. The incident id
    defaults to one stable per (site, drone, event name), so repeats of the same event
    are updates of one incident in the command room. ``time_s`` defaults to now, the
    alert (event) id to a new uuid4.
    """
    if time_s is None:
        time_s = time.time()
    if not kind:
        raise AlertSchemaError("vehicle alert: the event name (kind) is empty")
    try:
        sev = Severity(severity)
    except ValueError:
        raise AlertSchemaError(
            f"vehicle alert {kind}: severity {severity!r} is not one of {[s.value for s in Severity]}"
        ) from None
    figures: dict[str, Any] = {str(k): _scalar(v) for k, v in (data or {}).items()}
    figures["event"] = str(kind)
    inc = incident_id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"dronepatrol:{site}/{drone}/vehicle/{kind}"))
    return Alert(
        alert_id=alert_id or str(uuid.uuid4()),
        incident_id=inc,
        kind=AlertKind.VEHICLE,
        status=AlertStatus(status),
        severity=sev,
        time_s=time_s,
        location=location,
        error_radius_m=0.0,
        first_seen_s=time_s,
        last_seen_s=time_s,
        confidence=1.0,
        summary=message,
        figures=figures,
        site=site,
        drone=drone,
    )


# ---------------------------------------------------------------------------- reading events


def parse_event(payload: bytes | bytearray | str | dict[str, Any], *, check_json_schema: bool = True) -> CloudEvent:
    """Parse and validate one event (alert, ack or workflow step); raises :class:`AlertSchemaError` with the reason."""
    doc = json_object(payload)
    if check_json_schema:
        validate_json_schema(doc)
    try:
        event = CloudEvent.model_validate(doc)
        if event.dataschema == ALERT_DATASCHEMA:
            AlertData.model_validate(event.data)
        elif event.dataschema == WORKFLOW_DATASCHEMA:
            WorkflowData.model_validate(event.data)
        else:
            AckData.model_validate(event.data)
    except ValidationError as exc:
        raise AlertSchemaError(f"event {doc.get('id', '?')}: {_describe(exc)}") from None
    return event


def alert_from_event(event: CloudEvent | dict[str, Any]) -> Alert:
    """The :class:`Alert` an alert event carries (the reverse of :func:`alert_event`)."""
    ev = event if isinstance(event, CloudEvent) else parse_event(event, check_json_schema=False)
    if ev.dataschema != ALERT_DATASCHEMA:
        raise AlertSchemaError(f"event {ev.id}: type {ev.type} is not an alert")
    d = AlertData.model_validate(ev.data)
    loc = d.location
    return Alert(
        alert_id=ev.id,
        incident_id=d.incident_id,
        kind=d.kind,
        status=d.status,
        severity=d.severity,
        time_s=from_rfc3339(ev.time),
        location=None if loc is None else GeoPoint(loc.latitude_deg, loc.longitude_deg, loc.altitude_m or 0.0),
        error_radius_m=d.error_radius_m,
        first_seen_s=from_rfc3339(d.first_seen),
        last_seen_s=from_rfc3339(d.last_seen),
        confidence=d.confidence,
        summary=d.summary,
        area_name=d.area,
        figures=dict(d.figures),
        thumbnail_jpeg=base64.b64decode(d.thumbnail.data_base64) if d.thumbnail else None,
        site=d.site,
        drone=d.drone,
    )


def _describe(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "(top level)"
    msg = err["msg"].removeprefix("Value error, ")
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {msg}{more}"


# ---------------------------------------------------------------------------- status, telemetry


def status_payload(state: str, *, site: str, drone: str, time_s: float, **fields: Any) -> dict[str, Any]:
    """The retained status document; ``fields`` (mission state, battery, ...) are added as given."""
    doc: dict[str, Any] = {"state": state, "site": site, "drone": drone, "time": to_rfc3339(time_s)}
    doc.update({k: _scalar(v) if not isinstance(v, dict | list) else v for k, v in fields.items()})
    return doc


def telemetry_payload(vs: VehicleState, *, site: str, drone: str) -> dict[str, Any]:
    """One telemetry sample (about 1 Hz, QoS 0) from a :class:`VehicleState`."""
    pos = vs.position
    return {
        "site": site,
        "drone": drone,
        "time": to_rfc3339(vs.time_s),
        "latitude_deg": pos.latitude_deg if pos else None,
        "longitude_deg": pos.longitude_deg if pos else None,
        "altitude_m": pos.altitude_m if pos else None,
        "relative_altitude_m": vs.relative_altitude_m,
        "heading_deg": vs.heading_deg,
        "ground_speed_m_s": vs.ground_speed_m_s,
        "climb_rate_m_s": vs.climb_rate_m_s,
        "battery_percent": vs.battery_percent,
        "battery_voltage_v": vs.battery_voltage_v,
        "mode": vs.mode,
        "armed": vs.armed,
        "landed": vs.landed,
        "gps_fix_type": vs.gps_fix_type,
        "satellites_visible": vs.satellites_visible,
        "ekf_ok": vs.ekf_ok,
        "mission_current_seq": vs.mission_current_seq,
    }
