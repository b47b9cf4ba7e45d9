"""The command room's side of "eyes on": the command events it sends to a drone and the answers it reads.

A command is a CloudEvent on ``<prefix>/<site>/<drone>/commands`` (QoS 1): type
``org.dronepatrol.command.eyes_on`` with data ``{command_id, lat_deg, lon_deg,
duration_s, altitude_m (optional), requested_by}``, or
``org.dronepatrol.command.release`` with ``{command_id, requested_by}``. The drone
answers on ``.../commands/result`` with type ``org.dronepatrol.command.result``
and data ``{command_id, state, reason, time}``, ``state`` one of
:data:`RESULT_STATES`. The drone checks the command (fence, no-fly zones,
battery); this module only checks that the command is well formed.
"""

from __future__ import annotations

import json
import math
import uuid
from typing import Any

from drone_patrol.alerts.schema import DATA_CONTENT_TYPE, SPECVERSION, event_source, to_rfc3339
from drone_patrol.core.errors import InputError
from drone_patrol.dashboard.model import MessageError

COMMAND_TYPE_PREFIX = "org.dronepatrol.command."
RESULT_TYPE = COMMAND_TYPE_PREFIX + "result"
COMMAND_KINDS = ("eyes_on", "release")
#: The ``dataschema`` of each command (the drone's command schemas, ``eyes-on-1.0.json`` and ``release-1.0.json``).
DATASCHEMAS = {"eyes_on": "urn:dronepatrol:schema:eyes_on:1.0", "release": "urn:dronepatrol:schema:release:1.0"}
RESULT_STATES = ("accepted", "refused", "en_route", "on_station", "released", "completed", "failed")
MAX_DURATION_S = 3600.0


class CommandError(InputError):
    """A command the page asked for is not well formed (the text names the field)."""


def _number(value: Any, what: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise CommandError(f"{what}: expected a number, got {value!r}")
    if not low <= value <= high:
        raise CommandError(f"{what}: expected {low:g} to {high:g}, got {value!r}")
    return float(value)


def command_event(
    kind: str,
    *,
    site: str,
    drone: str,
    requested_by: str,
    time_s: float,
    prefix: str = "dronepatrol",
    **data: Any,
) -> dict[str, Any]:
    """The CloudEvent of an ``eyes_on`` (``lat_deg``, ``lon_deg``, ``duration_s``, ``altitude_m``) or ``release``.

    ``release`` needs the ``command_id`` of the eyes-on it ends. Raises :class:`CommandError`.
    The event is addressed to ``drone`` by its topic (``<prefix>/<site>/<drone>/commands``).
    """
    del drone  # the topic carries it; the subject is the command id
    if kind not in COMMAND_KINDS:
        raise CommandError(f"command {kind!r}: expected one of {', '.join(COMMAND_KINDS)}")
    body: dict[str, Any] = {"requested_by": requested_by[:128] or "command-room"}
    if kind == "eyes_on":
        body["command_id"] = str(uuid.uuid4())
        body["lat_deg"] = _number(data.get("lat_deg"), "lat_deg", -90, 90)
        body["lon_deg"] = _number(data.get("lon_deg"), "lon_deg", -180, 180)
        body["duration_s"] = _number(data.get("duration_s", 120), "duration_s", 1, MAX_DURATION_S)
        if data.get("altitude_m") is not None:
            body["altitude_m"] = _number(data["altitude_m"], "altitude_m", 1, 500)
    else:
        command_id = data.get("command_id")
        if not isinstance(command_id, str) or not 0 < len(command_id) <= 128:
            raise CommandError("release: command_id (of the eyes-on to end, up to 128 characters) is required")
        body["command_id"] = command_id
    return {
        "specversion": SPECVERSION,
        "id": str(uuid.uuid4()),
        "source": event_source(site, "command-room", prefix),
        "type": COMMAND_TYPE_PREFIX + kind,
        "time": to_rfc3339(time_s),
        "datacontenttype": DATA_CONTENT_TYPE,
        "dataschema": DATASCHEMAS[kind],
        "subject": body["command_id"],
        "data": body,
    }


def parse_command_result(topic_text: str, payload: bytes) -> dict[str, Any]:
    """The answer of a drone to a command: ``{command_id, state, reason, time}`` (reason as text)."""
    try:
        doc = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MessageError(f"{topic_text}: payload is not JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("type") != RESULT_TYPE or not isinstance(doc.get("data"), dict):
        raise MessageError(f"{topic_text}: expected a CloudEvent of type {RESULT_TYPE}")
    data = doc["data"]
    state = data.get("state")
    if state not in RESULT_STATES:
        raise MessageError(f"{topic_text}: state {state!r} is not one of {', '.join(RESULT_STATES)}")
    if not isinstance(data.get("command_id"), str) or not data["command_id"]:
        raise MessageError(f"{topic_text}: command_id is missing")
    reason = data.get("reason")
    if isinstance(reason, dict):  # {code, text}
        reason = " ".join(str(reason[k]) for k in ("code", "text") if reason.get(k))
    return {
        "command_id": data["command_id"],
        "state": state,
        "reason": str(reason or ""),
        "time": str(data.get("time") or doc.get("time") or ""),
    }
