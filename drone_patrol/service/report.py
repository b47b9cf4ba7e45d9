"""The patrol report: one self-contained HTML page (inline SVG map, no network) a person can open.

The map shows the key areas by role, the planned route, the track the vehicle
actually flew, every alert with its error circle and, when the run had a
simulated world, the true positions of the incidents.
"""

from __future__ import annotations

import base64
import html
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from shapely.geometry import LineString, MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry

from drone_patrol.core.geo import LocalFrame
from drone_patrol.core.types import Alert, AreaRole, GeoPoint, KeyArea, Mission

_ROLE_STYLE = {
    AreaRole.PATROL: ("#2b6cb0", 0.12),
    AreaRole.NO_FLY: ("#c53030", 0.25),
    AreaRole.HEAT_SOURCE: ("#dd6b20", 0.45),
    AreaRole.HOME: ("#2f855a", 1.0),
    AreaRole.RALLY: ("#6b46c1", 1.0),
}
_KIND_COLOUR = {"thermal_hotspot": "#e53e3e", "crowd_gathering": "#d69e2e", "vehicle": "#4a5568"}


@dataclass
class TruthMarker:
    """A true incident position from a simulated world, for comparison on the map."""

    label: str
    kind: str
    position: GeoPoint


@dataclass
class PatrolReportData:
    """Everything the report shows."""

    title: str
    origin: GeoPoint
    areas: Sequence[KeyArea]
    missions: Sequence[Mission] = ()
    track: Sequence[GeoPoint] = ()
    alerts: Sequence[Alert] = ()
    truth: Sequence[TruthMarker] = ()
    summary: dict[str, Any] = field(default_factory=dict)


class _Projector:
    """Local ENU metres -> SVG pixels (north up), fitted to a bounding box."""

    def __init__(self, frame: LocalFrame, bounds_en: tuple[float, float, float, float], width_px: int = 900) -> None:
        self.frame = frame
        x0, y0, x1, y1 = bounds_en
        pad = max(x1 - x0, y1 - y0, 10.0) * 0.06
        self.x0, self.y0, self.x1, self.y1 = x0 - pad, y0 - pad, x1 + pad, y1 + pad
        self.scale = width_px / (self.x1 - self.x0)
        self.width = width_px
        self.height = math.ceil((self.y1 - self.y0) * self.scale)

    def en(self, e: float, n: float) -> tuple[float, float]:
        return (e - self.x0) * self.scale, (self.y1 - n) * self.scale

    def lonlat_path(self, coords: Sequence[tuple[float, ...]], close: bool) -> str:
        if not coords:
            return ""
        en = self.frame.lonlat_to_en([(c[0], c[1]) for c in coords])
        pts = [self.en(float(e), float(n)) for e, n in en]
        d = "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in pts)
        return d + (" Z" if close else "")


def _polygons(geom: BaseGeometry) -> list[Polygon]:
    if isinstance(geom, Polygon):
        return [geom]
    if isinstance(geom, MultiPolygon):
        return list(geom.geoms)
    return []


def _area_svg(p: _Projector, area: KeyArea) -> str:
    colour, opacity = _ROLE_STYLE.get(area.role, ("#718096", 0.2))
    name = html.escape(area.name)
    geom = area.geometry
    parts: list[str] = []
    for poly in _polygons(geom):
        d = p.lonlat_path(list(poly.exterior.coords), True)
        for hole in poly.interiors:
            d += " " + p.lonlat_path(list(hole.coords), True)
        parts.append(
            f'<path d="{d}" fill="{colour}" fill-opacity="{opacity}" stroke="{colour}" fill-rule="evenodd">'
            f"<title>{name} ({area.role.value})</title></path>"
        )
    if isinstance(geom, LineString):
        width = max((area.width_m or 4.0) * p.scale, 1.5)
        d = p.lonlat_path(list(geom.coords), False)
        parts.append(
            f'<path d="{d}" fill="none" stroke="{colour}" stroke-opacity="0.3" stroke-width="{width:.1f}">'
            f"<title>{name}</title></path>"
        )
    if isinstance(geom, Point):
        e, n = p.frame.lonlat_to_en([(geom.x, geom.y)])[0]
        x, y = p.en(float(e), float(n))
        r = max((area.radius_m or 2.0) * p.scale, 4.0)
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{colour}" fill-opacity="{min(opacity, 0.6)}" '
            f'stroke="{colour}"><title>{name} ({area.role.value})</title></circle>'
        )
    return "\n".join(parts)


def _bounds(frame: LocalFrame, data: PatrolReportData) -> tuple[float, float, float, float]:
    pts: list[tuple[float, float]] = []
    for area in data.areas:
        b = area.geometry.bounds
        pts += [(b[0], b[1]), (b[2], b[3])]
    pts += [(g.longitude_deg, g.latitude_deg) for g in data.track]
    for m in data.missions:
        pts += [(w.longitude_deg, w.latitude_deg) for w in m.items if w.has_position and w.latitude_deg]
    if not pts:
        pts = [(data.origin.longitude_deg, data.origin.latitude_deg)]
    en = frame.lonlat_to_en(pts)
    return float(en[:, 0].min()), float(en[:, 1].min()), float(en[:, 0].max()), float(en[:, 1].max())


def render_svg(data: PatrolReportData, width_px: int = 900) -> str:
    """The map as an SVG document string."""
    frame = LocalFrame(data.origin)
    p = _Projector(frame, _bounds(frame, data), width_px)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{p.width}" height="{p.height}" '
        f'viewBox="0 0 {p.width} {p.height}" font-family="sans-serif" font-size="11">',
        f'<rect width="{p.width}" height="{p.height}" fill="#f7fafc"/>',
    ]
    order = [AreaRole.PATROL, AreaRole.NO_FLY, AreaRole.HEAT_SOURCE, AreaRole.RALLY, AreaRole.HOME]
    for role in order:
        out.extend(_area_svg(p, a) for a in data.areas if a.role == role)
    for m in data.missions:
        coords = [(m.home.longitude_deg, m.home.latitude_deg)]
        coords += [(w.longitude_deg, w.latitude_deg) for w in m.items if w.has_position and w.latitude_deg]
        d = p.lonlat_path(coords, False)
        out.append(f'<path d="{d}" fill="none" stroke="#2d3748" stroke-width="1" stroke-dasharray="4 3"/>')
    if data.track:
        d = p.lonlat_path([(g.longitude_deg, g.latitude_deg) for g in data.track], False)
        out.append(f'<path d="{d}" fill="none" stroke="#38a169" stroke-width="2" stroke-opacity="0.8"/>')
    for t in data.truth:
        e, n = frame.lonlat_to_en([(t.position.longitude_deg, t.position.latitude_deg)])[0]
        x, y = p.en(float(e), float(n))
        out.append(
            f'<path d="M{x - 5:.1f},{y - 5:.1f} L{x + 5:.1f},{y + 5:.1f} M{x - 5:.1f},{y + 5:.1f} L{x + 5:.1f},'
            f'{y - 5:.1f}" stroke="#1a202c" stroke-width="2"><title>truth: {html.escape(t.label)}</title></path>'
        )
    latest: dict[str, Alert] = {}
    for a in data.alerts:  # one marker per incident, at its latest position
        if a.location is not None:
            latest[a.incident_id] = a
    numbers = {inc: i for i, inc in enumerate(dict.fromkeys(a.incident_id for a in data.alerts), 1)}
    for inc, a in latest.items():
        assert a.location is not None
        i = numbers[inc]
        e, n = frame.lonlat_to_en([(a.location.longitude_deg, a.location.latitude_deg)])[0]
        x, y = p.en(float(e), float(n))
        colour = _KIND_COLOUR.get(a.kind.value, "#4a5568")
        r = max(a.error_radius_m * p.scale, 3.0)
        out.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{colour}" fill-opacity="0.25" stroke="{colour}"/>'
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}"><title>#{i} {html.escape(a.summary)}</title>'
            f'</circle><text x="{x + 6:.1f}" y="{y - 6:.1f}" fill="{colour}">#{i}</text>'
        )
    bar_m = _nice_length(p.width / p.scale / 5)
    bx, by = 20, p.height - 20
    out.append(
        f'<line x1="{bx}" y1="{by}" x2="{bx + bar_m * p.scale:.1f}" y2="{by}" stroke="#1a202c" stroke-width="3"/>'
        f'<text x="{bx}" y="{by - 6}">{bar_m:g} m</text><text x="{p.width - 30}" y="24" font-size="16">N ↑</text>'
    )
    out.append("</svg>")
    return "\n".join(out)


def _nice_length(m: float) -> float:
    exp = 10 ** math.floor(math.log10(max(m, 1e-9)))
    for step in (5, 2, 1):
        if step * exp <= m:
            return float(step * exp)
    return float(exp)


def _alert_rows(alerts: Sequence[Alert]) -> str:
    rows = []
    numbers = {inc: i for i, inc in enumerate(dict.fromkeys(a.incident_id for a in alerts), 1)}
    for a in alerts:
        i = numbers[a.incident_id]
        loc = f"{a.location.latitude_deg:.6f}, {a.location.longitude_deg:.6f}" if a.location else "-"
        figures = ", ".join(
            f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}"
            for k, v in a.figures.items()
            if not isinstance(v, (list, dict))
        )
        thumb = ""
        if a.thumbnail_jpeg:
            thumb = f'<img src="data:image/jpeg;base64,{base64.b64encode(a.thumbnail_jpeg).decode()}" height="48">'
        rows.append(
            "<tr>"
            f"<td>#{i}</td><td>{time.strftime('%H:%M:%S', time.gmtime(a.time_s))}</td>"
            f"<td>{html.escape(a.kind.value)}</td><td>{html.escape(a.status.value)}</td>"
            f"<td>{html.escape(a.severity.value)}</td><td>{loc} ± {a.error_radius_m:.1f} m</td>"
            f"<td>{html.escape(a.area_name or '-')}</td><td>{html.escape(figures)}</td><td>{thumb}</td>"
            "</tr>"
        )
    return "\n".join(rows)


def render_html(data: PatrolReportData) -> str:
    """The whole report page."""
    summary = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_fmt(v))}</td></tr>" for k, v in data.summary.items()
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(data.title)}</title>
<style>body{{font-family:sans-serif;margin:20px;color:#1a202c}}table{{border-collapse:collapse;margin:10px 0}}
td,th{{border:1px solid #cbd5e0;padding:3px 8px;text-align:left;font-size:13px}}th{{background:#edf2f7}}</style>
</head><body>
<h1>{html.escape(data.title)}</h1>
<p>Map: patrol areas blue, no-fly red, known heat sources orange, home green; dashed: planned route;
green line: flown track; dots and circles: alerts with their error radius; crosses: true incident positions.</p>
{render_svg(data)}
<h2>Summary</h2><table>{summary}</table>
<h2>Alerts ({len(data.alerts)} messages, {len({a.incident_id for a in data.alerts})} incidents)</h2>
<table><tr><th></th><th>time (UTC)</th><th>kind</th><th>status</th><th>severity</th><th>place</th><th>area</th>
<th>figures</th><th>thumbnail</th></tr>
{_alert_rows(data.alerts)}
</table></body></html>
"""


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.2f}"
    if isinstance(v, (list, tuple)):
        return ", ".join(_fmt(x) for x in v)
    if isinstance(v, np.generic):
        return _fmt(v.item())
    return str(v)


def write_report(data: PatrolReportData, path: Path) -> Path:
    """Write the HTML report to ``path`` (parents created) and return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(data), encoding="utf-8")
    return path
