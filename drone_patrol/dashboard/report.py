"""Response figures and the shift report (JSON, CSV, HTML): pure code over folded incidents.

The station's "1, 3, 5 minute" rule counts how many incidents had a unit on scene
within 60, 180 and 300 s of the first alert. Medians are the usual middle value
(the mean of the two middle ones for an even count); the 90th percentile is the
nearest-rank one (the smallest time that at least 90 % of incidents met). An
incident without a stage (never dispatched, still on the way) does not count in
that stage's median and percentile, and counts as not meeting the targets.
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
import statistics
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from drone_patrol.dashboard.model import iso_time
from drone_patrol.dashboard.workflow import response_times

STAGES = ("to_acknowledged_s", "to_dispatched_s", "to_on_scene_s", "to_closed_s")
TARGETS_S = (60.0, 180.0, 300.0)
LANGUAGES = ("en", "zh-CN")


@cache
def messages(lang: str) -> dict[str, str]:
    """The page's translations (``static/i18n/<lang>.json``), shared with the report."""
    name = lang if lang in LANGUAGES else "en"
    text = resources.files("drone_patrol.dashboard").joinpath("static", "i18n", f"{name}.json").read_text("utf-8")
    table: dict[str, str] = json.loads(text)
    return table


def pick_language(accept_language: str | None, explicit: str | None = None) -> str:
    """``zh-CN`` or ``en`` from an explicit choice or an ``Accept-Language`` header (English by default)."""
    for candidate in [explicit or ""] + [p.split(";")[0].strip() for p in (accept_language or "").split(",")]:
        low = candidate.lower()
        if low.startswith("zh"):
            return "zh-CN"
        if low.startswith("en"):
            return "en"
    return "en"


def nearest_rank(values: list[float], fraction: float) -> float | None:
    """The nearest-rank percentile (``fraction`` in 0..1) of ``values``; ``None`` when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def incident_figures(row: dict[str, Any]) -> dict[str, Any]:
    """One incident's line of the report: identity, state, units and its response times."""
    return {
        "incident_id": row["incident_id"],
        "drone": row["drone"],
        "kind": row["kind"],
        "severity": row.get("max_severity", row["severity"]),
        "area": row.get("area"),
        "first_time_s": row["first_time_s"],
        "state": row.get("state", "new"),
        "units": list(row.get("units", [])),
        "outcome_reason": row.get("outcome_reason", ""),
        "figures": dict(row.get("figures") or {}),
        **response_times(row),
    }


def summarize(rows: list[dict[str, Any]], since_s: float, until_s: float) -> dict[str, Any]:
    """The report of the incidents first alerted in ``[since_s, until_s)``.

    ``rows`` are folded incidents (any range; those outside are left out).
    """
    lines = [incident_figures(r) for r in rows if since_s <= r["first_time_s"] < until_s]
    lines.sort(key=lambda x: x["first_time_s"])
    stages: dict[str, dict[str, Any]] = {}
    for stage in STAGES:
        values = [x[stage] for x in lines if x[stage] is not None]
        stages[stage] = {
            "count": len(values),
            "median_s": statistics.median(values) if values else None,
            "p90_s": nearest_rank(values, 0.9),
        }
    on_scene = [x["to_on_scene_s"] for x in lines if x["to_on_scene_s"] is not None]
    targets = [{"within_s": t, "met": sum(1 for v in on_scene if v <= t), "of": len(lines)} for t in TARGETS_S]
    states: dict[str, int] = {}
    for x in lines:
        states[x["state"]] = states.get(x["state"], 0) + 1
    return {
        "since_s": since_s,
        "until_s": until_s,
        "since": iso_time(since_s),
        "until": iso_time(until_s),
        "incidents": len(lines),
        "states": states,
        "stages": stages,
        "on_scene_targets": targets,
        "lines": lines,
    }


def _fmt_s(value: float | None) -> str:
    if value is None:
        return "–"
    minutes, seconds = divmod(round(value), 60)
    return f"{minutes}:{seconds:02d}"


def _zone(tz: ZoneInfo | None) -> str:
    """`` (Asia/Shanghai)``: the zone the report's times are in (nothing for the host's own)."""
    return f" ({tz.key})" if tz is not None else ""


def _local(time_s: float, tz: ZoneInfo | None) -> str:
    return datetime.fromtimestamp(time_s, tz).strftime("%Y-%m-%d %H:%M:%S")


def reading(kind: str, figures: dict[str, Any], t: dict[str, str]) -> str:
    """The incident's main figure in the language of ``t``: the peak temperature of a hot spot
    (or that it has none: heat seen in automatic-gain video), the head count of a crowd; else ""."""
    if kind == "thermal_hotspot" and "max_temperature_c" in figures:
        peak = figures["max_temperature_c"]
        if peak is None:
            return t.get("figure.no_temperature", "no temperature (8-bit video)")
        return f"{t.get('figure.max_temperature', 'max temperature')} {float(peak):.1f} {t.get('unit.c', '°C')}"
    if kind == "crowd_gathering" and isinstance(figures.get("head_count"), int | float):
        return f"{t.get('figure.head_count', 'people')} {int(figures['head_count'])}"
    return ""


def _cells(x: dict[str, Any], t: dict[str, str], tz: ZoneInfo | None, names: dict[str, str]) -> list[str]:
    """An incident line's descriptive cells, translated: first alert, drone, kind, ..., reason, reading."""
    return [
        _local(x["first_time_s"], tz),
        x["drone"],
        t.get(f"kind.{x['kind']}", x["kind"]),
        t.get(f"severity.{x['severity']}", x["severity"]),
        names.get(x["area"], x["area"]) if x["area"] else "",
        t.get(f"state.{x['state']}", x["state"]),
        " / ".join(x["units"]),
        x["outcome_reason"],
        reading(x["kind"], x.get("figures") or {}, t),
    ]


def to_csv(
    report: dict[str, Any], lang: str = "en", tz: ZoneInfo | None = None, area_names: dict[str, str] | None = None
) -> str:
    """One line per incident (times in seconds, with a header in ``lang``).

    ``area_names`` maps area names to their display names in ``lang`` (``name_zh`` of the area file).
    """
    t = messages(lang)
    out = io.StringIO()
    writer = csv.writer(out)
    header = ["incident_id", "first_alert", "drone", "kind", "severity", "area", "state", "units", "reason", "reading"]
    names = [t.get(f"report.col.{h}", h) + (_zone(tz) if h == "first_alert" else "") for h in header]
    writer.writerow(names + [t.get(f"report.{s}", s) for s in STAGES])
    for x in report["lines"]:
        writer.writerow(
            [x["incident_id"], *_cells(x, t, tz, area_names or {})]
            + ["" if x[s] is None else f"{x[s]:.1f}" for s in STAGES]
        )
    return out.getvalue()


def to_html(
    report: dict[str, Any],
    lang: str = "en",
    site: str = "",
    tz: ZoneInfo | None = None,
    area_names: dict[str, str] | None = None,
) -> str:
    """A self-contained shift report page (no script, no external resource); ``area_names`` as for :func:`to_csv`."""
    t = messages(lang)
    e = html.escape

    def tr(key: str) -> str:
        return e(t.get(key, key))

    title = f"{tr('report.title')} {e(site)}".strip()
    period = f"{_local(report['since_s'], tz)} – {_local(report['until_s'], tz)}{_zone(tz)}"
    parts = [
        f'<!doctype html><html lang="{e(lang)}"><head><meta charset="utf-8"><title>{title}</title>',
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #999;padding:.3em .6em;text-align:left}th{background:#eee}</style></head><body>",
        f"<h1>{title}</h1><p>{tr('report.period')}: {e(period)} · {tr('report.incidents')}: {report['incidents']}</p>",
        f"<h2>{tr('report.response')}</h2><table><tr><th></th><th>{tr('report.count')}</th>"
        f"<th>{tr('report.median')}</th><th>{tr('report.p90')}</th></tr>",
    ]
    for stage in STAGES:
        st = report["stages"][stage]
        parts.append(
            f"<tr><th>{tr('report.' + stage)}</th><td>{st['count']}</td>"
            f"<td>{_fmt_s(st['median_s'])}</td><td>{_fmt_s(st['p90_s'])}</td></tr>"
        )
    parts.append(f"</table><h2>{tr('report.targets')}</h2><table><tr>")
    for target in report["on_scene_targets"]:
        label = t.get("report.within_min", "within {n} min").replace("{n}", str(round(target["within_s"] / 60)))
        parts.append(f"<th>{e(label)}</th>")
    parts.append("</tr><tr>")
    for target in report["on_scene_targets"]:
        parts.append(f"<td>{target['met']} / {target['of']}</td>")
    parts.append(f"</tr></table><h2>{tr('report.incident_list')}</h2><table><tr>")
    cols = ["first_alert", "drone", "kind", "severity", "area", "state", "units", "reason", "reading"]
    parts.extend(f"<th>{tr('report.col.' + c)}</th>" for c in cols)
    parts.extend(f"<th>{tr('report.' + s)}</th>" for s in STAGES)
    parts.append("</tr>")
    for x in report["lines"]:
        parts.append("<tr>" + "".join(f"<td>{e(c)}</td>" for c in _cells(x, t, tz, area_names or {})))
        parts.append("".join(f"<td>{_fmt_s(x[s])}</td>" for s in STAGES) + "</tr>")
    parts.append("</table></body></html>")
    return "".join(parts)
