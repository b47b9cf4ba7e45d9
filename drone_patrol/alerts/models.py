"""The message models: CloudEvents envelope, alert and ack data (pydantic), and the shipped JSON Schema files.

Imported through :mod:`drone_patrol.alerts.schema`, which adds building and parsing.
"""

from __future__ import annotations

import functools
import json
import math
from datetime import UTC, datetime
from importlib import resources
from typing import Any, Literal

import jsonschema
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from drone_patrol.core.errors import AlertsError
from drone_patrol.core.types import AlertKind, AlertStatus, Severity

SPECVERSION = "1.0"
CONTENT_TYPE = "application/cloudevents+json"
DATA_CONTENT_TYPE = "application/json"
ALERT_DATASCHEMA = "urn:dronepatrol:schema:alert:1.0"
ACK_DATASCHEMA = "urn:dronepatrol:schema:ack:1.0"
WORKFLOW_DATASCHEMA = "urn:dronepatrol:schema:workflow:1.0"
ENVELOPE_SCHEMA = "urn:dronepatrol:schema:cloudevent:1.0"
TYPE_PREFIX = "org.dronepatrol.alert."
ACK_TYPE = TYPE_PREFIX + "ack"
WORKFLOW_TYPE = TYPE_PREFIX + "workflow"
#: The dispatch steps of an incident after its acknowledgement (the ack event is the first step).
WORKFLOW_STEPS = ("dispatched", "on_scene", "resolved", "false_alarm", "duplicate", "note")

_SCHEMA_FILES = {
    ENVELOPE_SCHEMA: "cloudevent-1.0.json",
    ALERT_DATASCHEMA: "alert-1.0.json",
    ACK_DATASCHEMA: "ack-1.0.json",
    WORKFLOW_DATASCHEMA: "workflow-1.0.json",
}
_NAME = r"^[A-Za-z0-9_-]+$"


class AlertSchemaError(AlertsError):
    """A message is not a valid drone-patrol event; the message names the field and the problem."""


def json_object(
    payload: bytes | bytearray | str | dict[str, Any], error: type[AlertsError] = AlertSchemaError
) -> dict[str, Any]:
    """``payload`` parsed as a JSON object (a dict passes through); anything else raises ``error`` saying what it is."""
    if isinstance(payload, dict):
        return payload
    try:
        doc = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise error(f"payload is not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise error(f"payload is a JSON {type(doc).__name__}, expected an object")
    return doc


# ---------------------------------------------------------------------------- time


# Days already formatted ("2026-12-01"): the stamps of an alert or of an hour share one.
_DAY_TEXT: dict[int, str] = {}


def to_rfc3339(time_s: float) -> str:
    """UNIX seconds as RFC 3339 UTC with microseconds, e.g. ``2026-12-01T21:40:00.123456Z``.

    The same text as ``datetime.fromtimestamp(time_s, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")``
    (a test compares them) in two thirds of its time, for the publisher's hot path: the
    microseconds are rounded as ``datetime`` rounds them (the fraction, half to even),
    UNIX time has 86,400 seconds a day, and the date's text is kept for the next stamps.
    """
    frac_s, whole_s = math.modf(time_s)
    micros = round(frac_s * 1e6)
    second = int(whole_s)
    if micros >= 1_000_000:
        second, micros = second + 1, micros - 1_000_000
    elif micros < 0:  # before 1970: the fraction counts back from the next second
        second, micros = second - 1, micros + 1_000_000
    day, second_of_day = divmod(second, 86_400)
    date = _DAY_TEXT.get(day)
    if date is None:
        if len(_DAY_TEXT) >= 16:
            _DAY_TEXT.clear()
        date = datetime.fromtimestamp(day * 86_400, UTC).strftime("%Y-%m-%d")  # raises past year 9999
        _DAY_TEXT[day] = date
    hours, second_of_hour = divmod(second_of_day, 3600)
    minutes, seconds = divmod(second_of_hour, 60)
    return f"{date}T{hours:02d}:{minutes:02d}:{seconds:02d}.{micros:06d}Z"


def from_rfc3339(text: str) -> float:
    """RFC 3339 text (``Z`` or an offset) as UNIX seconds."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# ---------------------------------------------------------------------------- models


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Position(_Model):
    """A WGS84 position in an alert."""

    # strict: a JSON string such as "0" is not a number, as the JSON Schema says (pydantic would convert it)
    latitude_deg: float = Field(ge=-90, le=90, strict=True)
    longitude_deg: float = Field(ge=-180, le=180, strict=True)
    altitude_m: float | None = Field(default=None, strict=True)


class Thumbnail(_Model):
    """A small JPEG of the incident, base64 in the JSON."""

    media_type: Literal["image/jpeg"] = "image/jpeg"
    data_base64: str = Field(pattern=r"^[A-Za-z0-9+/]*={0,2}$")


Scalar = float | int | str | bool | None


class AlertData(_Model):
    """The ``data`` of an alert event (schema ``alert-1.0.json``)."""

    incident_id: str = Field(min_length=1, max_length=128)
    kind: AlertKind
    status: AlertStatus
    severity: Severity
    site: str = Field(pattern=_NAME)
    drone: str = Field(pattern=_NAME)
    location: Position | None
    error_radius_m: float = Field(ge=0, strict=True)
    first_seen: str
    last_seen: str
    confidence: float = Field(ge=0, le=1, strict=True)
    summary: str = Field(max_length=1000)
    area: str | None
    figures: dict[str, Scalar]
    thumbnail: Thumbnail | None

    @field_validator("first_seen", "last_seen")
    @classmethod
    def _rfc3339(cls, value: str) -> str:
        _check_rfc3339(value)
        return value

    @model_validator(mode="after")
    def _kind_figures(self) -> AlertData:
        f = self.figures
        # null only for heat of unknown temperature: a saturated blob of automatic-gain video
        temperature = f.get("max_temperature_c", "missing")
        if self.kind is AlertKind.THERMAL_HOTSPOT and not (
            _is_number(temperature) or (temperature is None and f.get("measurement") == "agc_saturation")
        ):
            raise ValueError(
                "figures.max_temperature_c (a number; null with measurement agc_saturation) is required for "
                "thermal_hotspot"
            )
        if self.kind is AlertKind.CROWD_GATHERING:
            count = f.get("head_count")  # JSON Schema counts 14.0 as an integer too
            if not (isinstance(count, int | float) and _is_number(count) and float(count).is_integer() and count >= 0):
                raise ValueError("figures.head_count (an integer >= 0) is required for crowd_gathering")
        if self.kind is AlertKind.VEHICLE and not (isinstance(f.get("event"), str) and f["event"]):
            raise ValueError("figures.event (the vehicle event's name) is required for vehicle")
        return self


class AckData(_Model):
    """The ``data`` of an acknowledgement (schema ``ack-1.0.json``)."""

    target_id: str = Field(min_length=1, max_length=128)
    by: str = Field(min_length=1, max_length=128)
    site: str = Field(pattern=_NAME)
    drone: str = Field(pattern=_NAME)
    note: str = Field(default="", max_length=1000)


class WorkflowData(_Model):
    """The ``data`` of an incident workflow step (schema ``workflow-1.0.json``)."""

    incident_id: str = Field(min_length=1, max_length=128)
    step: Literal["dispatched", "on_scene", "resolved", "false_alarm", "duplicate", "note"]
    by: str = Field(min_length=1, max_length=128)
    site: str = Field(pattern=_NAME)
    drone: str = Field(pattern=_NAME)
    unit: str = Field(default="", max_length=200)
    reason: str = Field(default="", max_length=1000)
    note: str = Field(default="", max_length=1000)

    @model_validator(mode="after")
    def _required_text(self) -> WorkflowData:
        if self.step == "dispatched" and not self.unit.strip():
            raise ValueError("unit (who was sent) is required for step dispatched")
        if self.step in ("false_alarm", "duplicate") and not self.reason.strip():
            raise ValueError(f"reason is required for step {self.step}")
        if self.step == "note" and not self.note.strip():
            raise ValueError("note is required for step note")
        return self


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 envelope as drone-patrol sends it; extension attributes are kept."""

    model_config = ConfigDict(extra="allow", frozen=True)

    specversion: Literal["1.0"]
    id: str = Field(min_length=1, max_length=128)
    source: str = Field(pattern=r"^/[A-Za-z0-9_-]+/[A-Za-z0-9_-]+/[A-Za-z0-9_-]+$")
    type: str = Field(pattern=r"^org\.dronepatrol\.alert\.[a-z_]+$")
    time: str
    datacontenttype: Literal["application/json"]
    dataschema: Literal[
        "urn:dronepatrol:schema:alert:1.0", "urn:dronepatrol:schema:ack:1.0", "urn:dronepatrol:schema:workflow:1.0"
    ]
    subject: str | None = None
    data: dict[str, Any]

    @field_validator("time")
    @classmethod
    def _rfc3339(cls, value: str) -> str:
        _check_rfc3339(value)
        return value


class StatusMessage(BaseModel):
    """The retained ``status`` document of a drone; extra fields (mission state, ...) are allowed."""

    model_config = ConfigDict(extra="allow", frozen=True)

    state: str = Field(min_length=1)
    site: str
    drone: str
    time: str
    connected_since: str | None = None
    outbox_depth: int | None = None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_rfc3339(value: str) -> None:
    if "T" not in value:
        raise ValueError(f"{value!r} is not an RFC 3339 date-time")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{value!r} is not an RFC 3339 date-time") from None
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone (expected Z or +HH:MM)")


# ---------------------------------------------------------------------------- JSON Schema


@functools.cache
def load_schema(uri: str) -> dict[str, Any]:
    """The shipped JSON Schema whose ``$id`` is ``uri`` (a ``dataschema`` value or the envelope's)."""
    name = _SCHEMA_FILES.get(uri)
    if name is None:
        raise AlertSchemaError(f"dataschema {uri!r}: unknown; expected one of {sorted(_SCHEMA_FILES)}")
    text = resources.files("drone_patrol.alerts").joinpath("schemas", name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.cache
def _validator(uri: str) -> jsonschema.protocols.Validator:
    schema = load_schema(uri)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)  # type: ignore[no-any-return]


def validate_json_schema(event: dict[str, Any]) -> None:
    """Validate an envelope and its ``data`` against the shipped JSON Schema files.

    Raises :class:`AlertSchemaError` naming the first failing field.
    """
    for uri, doc, prefix in ((ENVELOPE_SCHEMA, event, ""), (None, event.get("data"), "data.")):
        if uri is None:
            uri = event.get("dataschema", "")
        error = jsonschema.exceptions.best_match(_validator(uri).iter_errors(doc))
        if error is not None:
            where = prefix + ".".join(str(p) for p in error.absolute_path) or "(top level)"
            raise AlertSchemaError(f"event {event.get('id', '?')}: {where}: {error.message}")
