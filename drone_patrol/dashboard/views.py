"""How the page and the API show the dashboard's rows: incidents and drones' answers to commands."""

from __future__ import annotations

from typing import Any

from drone_patrol.alerts.eyes_on import CommandSchemaError, parse_result
from drone_patrol.alerts.models import to_rfc3339
from drone_patrol.dashboard.model import MessageError, iso_time
from drone_patrol.dashboard.workflow import response_times


def incident_view(row: dict[str, Any]) -> dict[str, Any]:
    """An archive incident row as the page and ``/api/alerts`` show it (times as ISO-8601 too)."""
    out = dict(row)
    for key in (
        "time_s",
        "first_time_s",
        "first_seen_s",
        "last_seen_s",
        "acked_at_s",
        "acknowledged_at_s",
        "dispatched_at_s",
        "on_scene_at_s",
        "closed_at_s",
    ):
        value = row.get(key)
        out[key.removesuffix("_s")] = iso_time(value) if value is not None else None
    thumb = row.get("thumbnail_id")
    out["thumbnail_url"] = f"/api/alerts/{thumb}/thumbnail.jpg" if thumb else None
    if "history" in row:
        out["history"] = [{**h, "time": iso_time(h["time_s"])} for h in row["history"]]
        out["response"] = response_times(row)
    return out


def command_result_view(topic_text: str, payload: bytes) -> dict[str, Any]:
    """A drone's answer to a command as the page shows it: ``{command_id, state, reason, reason_code,
    reason_text, time}``.

    Parsed and checked by :func:`drone_patrol.alerts.eyes_on.parse_result` (the shipped
    schema); ``reason`` is its code and text as one line, empty when there is none;
    ``reason_code`` and ``reason_text`` are its parts (the page shows the code in the room's language).
    """
    try:
        result = parse_result(payload)
    except CommandSchemaError as exc:
        raise MessageError(f"{topic_text}: {exc}") from None
    reason = " ".join(p for p in (result.reason.code, result.reason.text) if p) if result.reason else ""
    return {
        "command_id": result.command_id,
        "state": result.state.value,
        "reason": reason,
        "reason_code": result.reason.code if result.reason else "",
        "reason_text": result.reason.text if result.reason else "",
        "time": to_rfc3339(result.time_s),
    }
