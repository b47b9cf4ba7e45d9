"""The command-room operations endpoints of the dashboard's HTTP server.

- ``POST /api/alerts/<id>/ack`` ``{note}``: acknowledge an alert or incident;
- ``POST /api/alerts/<id>/step`` ``{step, unit, reason, note}``: a dispatch step;
- ``POST /api/drones/<site>/<drone>/command`` ``{kind: eyes_on|release, lat_deg,
  lon_deg, duration_s, altitude_m, command_id}``: a command to a drone;
- ``GET /api/report?since=&until=&format=json|csv|html&lang=en|zh-CN``: response
  figures and the shift report (default: the last ``history_hours``);
- ``GET /tiles/<z>/<x>/<y>``: the offline base map (when an MBTiles or PMTiles file is configured;
  404 where it has no tile).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from datetime import datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from drone_patrol.alerts.eyes_on import CommandSchemaError
from drone_patrol.core.errors import AlertsError, InputError
from drone_patrol.dashboard.core import UnknownAlertError
from drone_patrol.dashboard.model import parse_time
from drone_patrol.dashboard.report import pick_language, summarize, to_csv, to_html
from drone_patrol.dashboard.workflow import WorkflowConflictError

if TYPE_CHECKING:
    from drone_patrol.dashboard.auth import Session
    from drone_patrol.dashboard.server import DashboardHandler

_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


def json_body(handler: DashboardHandler, body: bytes) -> dict[str, Any] | None:
    """The request's JSON object, or ``None`` after answering 415/400."""
    if not (handler.headers.get("Content-Type") or "").startswith("application/json"):
        handler._error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send the body as application/json")
        return None
    try:
        doc = json.loads(body or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError):
        handler._error(HTTPStatus.BAD_REQUEST, "body is not JSON (UTF-8)")
        return None
    if not isinstance(doc, dict):
        handler._error(HTTPStatus.BAD_REQUEST, "body must be a JSON object")
        return None
    return doc


def operator(session: Session, doc: dict[str, Any]) -> str:
    """Who acts: the signed-in operator, else the ``by`` of the body, else ``command-room``."""
    return session.operator or str(doc.get("by") or "").strip()[:64] or "command-room"


def _text(doc: dict[str, Any], key: str) -> str:
    value = doc.get(key)
    return value if isinstance(value, str) else ""


def answer(handler: DashboardHandler, action: Callable[[], dict[str, Any]]) -> None:
    """Run a state-changing ``action`` and answer with its JSON, or with the status its error calls for.

    404 for an unknown incident, 409 for a step its state refuses, 400 for other bad
    input, 503 when the broker does not take the message.
    """
    try:
        value = action()
    except UnknownAlertError as exc:
        handler._error(HTTPStatus.NOT_FOUND, str(exc))
    except WorkflowConflictError as exc:
        handler._error(HTTPStatus.CONFLICT, str(exc))
    except (InputError, CommandSchemaError) as exc:
        handler._error(HTTPStatus.BAD_REQUEST, str(exc))
    except AlertsError as exc:
        handler._error(HTTPStatus.SERVICE_UNAVAILABLE, str(exc))
    else:
        handler._json(HTTPStatus.OK, value)


def post_ack(handler: DashboardHandler, target: str, body: bytes, session: Session) -> None:
    """Acknowledge an alert (event id) or incident."""
    doc = json_body(handler, body)
    if doc is not None:
        note = _text(doc, "note")[:1000]
        answer(handler, lambda: handler.server.core.acknowledge(target, operator(session, doc), note))


def post_step(handler: DashboardHandler, target: str, body: bytes, session: Session) -> None:
    """Take one dispatch step on an incident."""
    doc = json_body(handler, body)
    if doc is None:
        return
    by = operator(session, doc)
    step, unit, reason, note = (_text(doc, k) for k in ("step", "unit", "reason", "note"))
    answer(handler, lambda: handler.server.core.take_step(target, step, by, unit=unit, reason=reason, note=note))


def post_command(handler: DashboardHandler, site: str, drone: str, body: bytes, session: Session) -> None:
    """Send an eyes-on or release command to one drone (403 without the right to command)."""
    if not session.can_command:
        handler._error(HTTPStatus.FORBIDDEN, "commanding drones needs the command token (sign in with it)")
        return
    if not (_NAME.match(site) and _NAME.match(drone)):
        handler._error(HTTPStatus.BAD_REQUEST, f"drone {site}/{drone}: expected letters, digits, _ or -")
        return
    doc = json_body(handler, body)
    if doc is None:
        return
    data = {k: doc[k] for k in ("lat_deg", "lon_deg", "duration_s", "altitude_m", "command_id") if k in doc}
    kind, by = _text(doc, "kind"), operator(session, doc)
    answer(handler, lambda: handler.server.core.send_command(site, drone, kind, by, **data))


def _time_arg(query: dict[str, list[str]], name: str, default: float) -> float:
    raw = (query.get(name) or [""])[0]
    if not raw:
        return default
    return parse_time(float(raw) if raw.replace(".", "", 1).isdigit() else raw, name)


def get_report(handler: DashboardHandler, query: dict[str, list[str]]) -> None:
    """Response figures of the incidents first alerted in ``[since, until)``."""
    now = time.time()
    try:
        since = _time_arg(query, "since", now - handler.server.history_s)
        until = _time_arg(query, "until", now + 1.0)
    except ValueError as exc:
        handler._error(HTTPStatus.BAD_REQUEST, str(exc))
        return
    if until <= since:
        handler._error(HTTPStatus.BAD_REQUEST, "until must be after since")
        return
    fmt = (query.get("format") or ["json"])[0]
    if fmt not in ("json", "csv", "html"):
        handler._error(HTTPStatus.BAD_REQUEST, f"format: expected json, csv or html, got {fmt!r}")
        return
    lang = pick_language(handler.headers.get("Accept-Language"), (query.get("lang") or [""])[0])
    report = summarize(handler.server.core.archive.incidents(since), since, until)
    site = str(handler.server.page_config.get("site", ""))
    if fmt == "json":
        handler._json(HTTPStatus.OK, report)
        return
    tz = ZoneInfo(str(handler.server.page_config.get("time_zone") or "Asia/Shanghai"))
    stamp = datetime.fromtimestamp(since, tz).strftime("%Y%m%d-%H%M")
    names: dict[str, str] = {}
    if lang == "zh-CN":
        for feature in handler.server.areas.get("areas", {}).get("features", []):
            props = feature.get("properties", {})
            if props.get("name_zh"):
                names[props["name"]] = props["name_zh"]
    if fmt == "csv":
        body = (
            "\ufeff" + to_csv(report, lang, tz, area_names=names)
        ).encode()  # the BOM: spreadsheets read the Chinese
        kind = "text/csv; charset=utf-8"
    else:
        body = to_html(report, lang, site, tz, area_names=names).encode()
        kind = "text/html; charset=utf-8"
    disposition = f'attachment; filename="shift-report-{site}-{stamp}.{fmt}"'
    handler._send(HTTPStatus.OK, body, kind, {"Content-Disposition": disposition})


def get_tile(handler: DashboardHandler, parts: list[str]) -> None:
    """One tile of the offline base map: ``/tiles/<z>/<x>/<y>`` (an extension on ``y`` is ignored)."""
    tiles = handler.server.tiles
    if tiles is None:
        handler._error(HTTPStatus.NOT_FOUND, "no offline base map is configured (dashboard.tile_file)")
        return
    if len(parts) != 3 or not all(p.split(".")[0].isdigit() for p in parts):
        handler._error(HTTPStatus.NOT_FOUND, "expected /tiles/<z>/<x>/<y>")
        return
    z, x, y = (int(p.split(".")[0]) for p in parts)
    data = tiles.tile(z, x, y)
    if data is None:
        handler._error(HTTPStatus.NOT_FOUND, f"no tile {z}/{x}/{y} in {tiles.path.name}")
    else:
        handler._send(HTTPStatus.OK, data, tiles.media_type, cache="public, max-age=86400")
