"""Commands from the command room to one drone ("eyes on", release) and the drone's answers.

On the wire (CloudEvents 1.0, structured JSON, QoS 1, like the alerts):

- ``dronepatrol/<site>/<drone>/commands``: type ``org.dronepatrol.command.eyes_on``
  (data: ``command_id``, ``lat_deg``, ``lon_deg``, ``duration_s``, optional
  ``altitude_m``, ``requested_by``) or ``org.dronepatrol.command.release`` (data:
  ``command_id``, ``requested_by``), source ``/dronepatrol/<site>/command-room``;
- ``dronepatrol/<site>/<drone>/commands/result``: type ``org.dronepatrol.command.result``
  (data: ``command_id``, ``state``, ``reason`` {``code``, ``text``} or null, ``time``),
  source ``/dronepatrol/<site>/<drone>``.

The data schemas ship in ``schemas/`` (``eyes-on-1.0.json``, ``release-1.0.json``,
``command-result-1.0.json``); :func:`parse_command` and :func:`parse_result` check the
envelope, then the data against its schema file, and raise :class:`CommandSchemaError`
(code ``malformed``, naming the field) for anything else.

Commands are sent with an MQTT 5 Message Expiry Interval of :data:`COMMAND_EXPIRY_S`: a broker
holding one for a drone that is down drops it when that runs out, and hands the drone the time
left with the message (:attr:`EyesOnCommand.expiry_left_s`), so a command's age is known without
trusting the drone's clock. Without that property (MQTT 3.1.1 on the way), the drone judges the age
by the CloudEvent's ``time`` against its own clock.
"""

from __future__ import annotations

import enum
import functools
import json
import math
import time
import uuid
from dataclasses import dataclass
from importlib import resources
from typing import Any

import jsonschema

from drone_patrol.alerts.models import DATA_CONTENT_TYPE, SPECVERSION, from_rfc3339, json_object, to_rfc3339
from drone_patrol.core.errors import AlertsError

EYES_ON_TYPE = "org.dronepatrol.command.eyes_on"
RELEASE_TYPE = "org.dronepatrol.command.release"
RESULT_TYPE = "org.dronepatrol.command.result"
EYES_ON_DATASCHEMA = "urn:dronepatrol:schema:eyes_on:1.0"
RELEASE_DATASCHEMA = "urn:dronepatrol:schema:release:1.0"
RESULT_DATASCHEMA = "urn:dronepatrol:schema:command_result:1.0"

_SCHEMAS = {
    EYES_ON_TYPE: (EYES_ON_DATASCHEMA, "eyes-on-1.0.json"),
    RELEASE_TYPE: (RELEASE_DATASCHEMA, "release-1.0.json"),
    RESULT_TYPE: (RESULT_DATASCHEMA, "command-result-1.0.json"),
}
COMMAND_TYPES = (EYES_ON_TYPE, RELEASE_TYPE)
#: The longest a command may wait for its drone (seconds): its MQTT message expiry, and the age past
#: which a drone refuses an eyes-on command ``expired`` when no broker counted the wait for it.
COMMAND_EXPIRY_S = 300


class CommandState(enum.StrEnum):
    """The steps a command goes through, as the drone reports them."""

    ACCEPTED = "accepted"
    REFUSED = "refused"
    EN_ROUTE = "en_route"
    ON_STATION = "on_station"
    RELEASED = "released"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def final(self) -> bool:
        """True for the states after which nothing more comes."""
        return self in (CommandState.REFUSED, CommandState.RELEASED, CommandState.COMPLETED, CommandState.FAILED)


class CommandSchemaError(AlertsError):
    """A command or result message is not valid; ``code`` is ``malformed``, ``command_id`` its id when readable."""

    code = "malformed"

    def __init__(self, message: str, command_id: str | None = None) -> None:
        self.command_id = command_id
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a command was refused or failed: a stable ``code`` and a sentence for people."""

    code: str
    text: str


@dataclass(frozen=True, slots=True)
class EyesOnCommand:
    """Fly to a point, watch it for ``duration_s`` seconds, then resume the patrol."""

    command_id: str
    lat_deg: float
    lon_deg: float
    duration_s: float
    requested_by: str
    altitude_m: float | None = None
    event_id: str = ""
    source: str = ""
    sent_s: float | None = None  # the CloudEvent's time (UNIX seconds), when it carries one
    #: the Message Expiry Interval the broker left on it when delivering (MQTT 5): the broker counted
    #: the time the command waited and would have dropped it at zero; ``None`` when it carried none
    expiry_left_s: float | None = None


@dataclass(frozen=True, slots=True)
class ReleaseCommand:
    """End the "eyes on" command ``command_id`` now."""

    command_id: str
    requested_by: str
    event_id: str = ""
    source: str = ""


@dataclass(frozen=True, slots=True)
class CommandResult:
    """One step of a command, as the drone reported it."""

    command_id: str
    state: CommandState
    reason: Reason | None
    time_s: float
    site: str = ""
    drone: str = ""


# ---------------------------------------------------------------------------- schemas


@functools.cache
def command_schema(event_type: str) -> dict[str, Any]:
    """The shipped JSON Schema of the data of ``event_type`` (a command or the result)."""
    if event_type not in _SCHEMAS:
        raise CommandSchemaError(f"type {event_type!r}: unknown; expected one of {sorted(_SCHEMAS)}")
    text = resources.files("drone_patrol.alerts").joinpath("schemas", _SCHEMAS[event_type][1]).read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.cache
def _validator(event_type: str) -> jsonschema.protocols.Validator:
    schema = command_schema(event_type)
    return jsonschema.validators.validator_for(schema)(schema)  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------- building


def _envelope(event_type: str, source: str, data: dict[str, Any], time_s: float | None) -> dict[str, Any]:
    doc = {
        "specversion": SPECVERSION,
        "id": str(uuid.uuid4()),
        "source": source,
        "type": event_type,
        "time": to_rfc3339(time.time() if time_s is None else time_s),
        "datacontenttype": DATA_CONTENT_TYPE,
        "dataschema": _SCHEMAS[event_type][0],
        "subject": data["command_id"],
        "data": data,
    }
    _check_data(event_type, data, doc["id"])
    return doc


def _float(value: Any) -> Any:
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


def eyes_on_event(
    command_id: str,
    lat_deg: float,
    lon_deg: float,
    duration_s: float,
    requested_by: str,
    *,
    site: str,
    altitude_m: float | None = None,
    time_s: float | None = None,
    prefix: str = "dronepatrol",
) -> dict[str, Any]:
    """An "eyes on" command as the command room publishes it; raises :class:`CommandSchemaError` on bad values.

    Whole numbers go out as floats (``90.0``); anything not a number is left for the schema to name.
    """
    data: dict[str, Any] = {
        "command_id": command_id,
        "lat_deg": _float(lat_deg),
        "lon_deg": _float(lon_deg),
        "duration_s": _float(duration_s),
        "requested_by": requested_by,
    }
    if altitude_m is not None:
        data["altitude_m"] = _float(altitude_m)
    return _envelope(EYES_ON_TYPE, f"/{prefix}/{site}/command-room", data, time_s)


def release_event(
    command_id: str, requested_by: str, *, site: str, time_s: float | None = None, prefix: str = "dronepatrol"
) -> dict[str, Any]:
    """A release of the "eyes on" command ``command_id``."""
    data = {"command_id": command_id, "requested_by": requested_by}
    return _envelope(RELEASE_TYPE, f"/{prefix}/{site}/command-room", data, time_s)


def result_event(
    command_id: str,
    state: CommandState | str,
    reason: Reason | None = None,
    *,
    site: str,
    drone: str,
    time_s: float | None = None,
    prefix: str = "dronepatrol",
) -> dict[str, Any]:
    """The drone's report of one step of a command (``reason`` for refused and failed only)."""
    stamp = to_rfc3339(time.time() if time_s is None else time_s)
    data = {
        "command_id": command_id,
        "state": CommandState(state).value,
        "reason": None if reason is None else {"code": reason.code, "text": reason.text[:1000]},
        "time": stamp,
    }
    return _envelope(RESULT_TYPE, f"/{prefix}/{site}/{drone}", data, time_s)


# ---------------------------------------------------------------------------- parsing


def _command_id(doc: dict[str, Any]) -> str | None:
    data = doc.get("data")
    cid = data.get("command_id") if isinstance(data, dict) else None
    return cid if isinstance(cid, str) and 0 < len(cid) <= 128 else None


def _check_envelope(doc: dict[str, Any], types: tuple[str, ...]) -> str:
    cid = _command_id(doc)
    ident = doc.get("id", "?")
    if doc.get("specversion") != SPECVERSION:
        raise CommandSchemaError(f"event {ident}: specversion: expected '1.0', got {doc.get('specversion')!r}", cid)
    for name in ("id", "source", "type"):
        if not isinstance(doc.get(name), str) or not doc[name]:
            raise CommandSchemaError(f"event {ident}: {name}: a non-empty string is required", cid)
    event_type = str(doc["type"])
    if event_type not in types:
        raise CommandSchemaError(f"event {ident}: type: {event_type!r} is not one of {list(types)}", cid)
    if "datacontenttype" in doc and doc["datacontenttype"] != DATA_CONTENT_TYPE:
        raise CommandSchemaError(f"event {ident}: datacontenttype: expected {DATA_CONTENT_TYPE!r}", cid)
    if "dataschema" in doc and doc["dataschema"] != _SCHEMAS[event_type][0]:
        raise CommandSchemaError(
            f"event {ident}: dataschema: {doc['dataschema']!r} does not match type {event_type} "
            f"(expected {_SCHEMAS[event_type][0]!r})",
            cid,
        )
    if "time" in doc:
        try:
            if not isinstance(doc["time"], str) or "T" not in doc["time"]:
                raise ValueError
            from_rfc3339(doc["time"])
        except ValueError:
            raise CommandSchemaError(
                f"event {ident}: time: {doc['time']!r} is not an RFC 3339 date-time", cid
            ) from None
    if not isinstance(doc.get("data"), dict):
        raise CommandSchemaError(f"event {ident}: data: an object is required", cid)
    _check_data(event_type, doc["data"], ident)
    return event_type


def _check_data(event_type: str, data: dict[str, Any], ident: str) -> None:
    cid = data.get("command_id") if isinstance(data.get("command_id"), str) else None
    for name, value in data.items():  # JSON has no NaN, and NaN passes every minimum and maximum
        if isinstance(value, float) and not math.isfinite(value):
            raise CommandSchemaError(f"event {ident}: data.{name}: {value!r} is not a finite number", cid)
    error = jsonschema.exceptions.best_match(_validator(event_type).iter_errors(data))
    if error is not None:
        where = "data." + ".".join(str(p) for p in error.absolute_path) if error.absolute_path else "data"
        raise CommandSchemaError(f"event {ident}: {where}: {error.message}", cid)


def parse_command(payload: bytes | bytearray | str | dict[str, Any]) -> EyesOnCommand | ReleaseCommand:
    """A command from the command room; raises :class:`CommandSchemaError` naming the field at fault."""
    doc = json_object(payload, CommandSchemaError)
    event_type = _check_envelope(doc, COMMAND_TYPES)
    d = doc["data"]
    if event_type == RELEASE_TYPE:
        return ReleaseCommand(d["command_id"], d["requested_by"], doc["id"], doc["source"])
    alt = d.get("altitude_m")
    sent_s = from_rfc3339(doc["time"]) if "time" in doc else None
    return EyesOnCommand(
        d["command_id"], float(d["lat_deg"]), float(d["lon_deg"]), float(d["duration_s"]), d["requested_by"],
        None if alt is None else float(alt), doc["id"], doc["source"], sent_s,
    )  # fmt: skip


def parse_result(payload: bytes | bytearray | str | dict[str, Any]) -> CommandResult:
    """A drone's command result; raises :class:`CommandSchemaError` naming the field at fault."""
    doc = json_object(payload, CommandSchemaError)
    _check_envelope(doc, (RESULT_TYPE,))
    d = doc["data"]
    reason = None if d["reason"] is None else Reason(d["reason"]["code"], d["reason"]["text"])
    parts = str(doc["source"]).strip("/").split("/")
    site, drone = (parts[1], parts[2]) if len(parts) == 3 else ("", "")
    return CommandResult(d["command_id"], CommandState(d["state"]), reason, from_rfc3339(d["time"]), site, drone)
