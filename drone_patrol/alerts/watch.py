"""The command room's live table: one readable line per alert (pure formatting, no I/O)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from drone_patrol.alerts.schema import from_rfc3339

#: (title, width) of the table's columns; the last (event id) is not padded.
COLUMNS: tuple[tuple[str, int], ...] = (
    ("TIME", 11),
    ("DRONE", 12),
    ("KIND", 15),
    ("SEVERITY", 8),
    ("STATUS", 6),
    ("PLACE", 28),
    ("AREA", 12),
    ("FIGURES", 30),
    ("EVENT ID", 0),
)


def _cell(text: str, width: int) -> str:
    if width == 0:
        return text
    return text[: width - 1] + "…" if len(text) > width else text.ljust(width)


def header() -> str:
    """The column titles."""
    return "  ".join(_cell(title, width) for title, width in COLUMNS).rstrip()


def _num(value: Any, digits: int = 1) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:.{digits}f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)


def format_figures(kind: str, figures: dict[str, Any]) -> str:
    """The kind's own figures first, in words, then the others as ``name=value``."""
    rest = dict(figures)
    parts: list[str] = []
    if kind == "thermal_hotspot" and "max_temperature_c" in rest:
        peak = rest.pop("max_temperature_c")
        parts.append(f"{_num(peak)} °C" if peak is not None else "no temperature (saturated video)")
        if "area_m2" in rest:
            parts.append(f"{_num(rest.pop('area_m2'))} m²")
    elif kind == "crowd_gathering" and "head_count" in rest:
        parts.append(f"{rest.pop('head_count')} people")
        if "density_per_m2" in rest:
            parts.append(f"{_num(rest.pop('density_per_m2'), 2)}/m²")
    elif kind == "vehicle" and "event" in rest:
        parts.append(str(rest.pop("event")))
    parts.extend(f"{k}={_num(v)}" for k, v in rest.items())
    return ", ".join(parts)


def format_place(location: dict[str, Any] | None, error_radius_m: float) -> str:
    """``25.280400,110.296000 ±4.5 m`` or ``-`` without a position."""
    if not location:
        return "-"
    return f"{location['latitude_deg']:.6f},{location['longitude_deg']:.6f} ±{_num(error_radius_m)} m"


def format_row(envelope: dict[str, Any]) -> str:
    """One table line for an alert envelope (as :class:`AlertSubscriber` hands them over).

    Local time; alerts of another day show the date instead of the seconds.
    """
    data = envelope["data"]
    t = datetime.fromtimestamp(from_rfc3339(envelope["time"]))
    cells = (
        t.strftime("%H:%M:%S" if t.date() == datetime.now().date() else "%m-%d %H:%M"),
        data["drone"],
        data["kind"],
        data["severity"],
        data["status"],
        format_place(data.get("location"), data.get("error_radius_m", 0.0)),
        data.get("area") or "-",
        format_figures(data["kind"], data.get("figures", {})),
        envelope["id"],
    )
    return "  ".join(_cell(text, width) for text, (_, width) in zip(cells, COLUMNS, strict=True))


def format_status(site: str, drone: str, doc: dict[str, Any]) -> str:
    """A one-line drone status (retained status documents)."""
    extra = ", ".join(f"{k}={_num(v)}" for k, v in doc.items() if k not in ("state", "site", "drone", "time"))
    return f"status {drone}@{site}: {doc.get('state', '?')}" + (f" ({extra})" if extra else "")


def format_workflow(envelope: dict[str, Any]) -> str:
    """A one-line dispatch step: ``21:40:12 dispatched 7f3a... by Sgt Li: unit 3 (note)``."""
    data = envelope["data"]
    t = datetime.fromtimestamp(from_rfc3339(envelope["time"]))
    text = f"{t.strftime('%H:%M:%S')} {data['step']} {data['incident_id']} by {data['by']}"
    detail = [d for d in (data.get("unit"), data.get("reason"), data.get("note")) if d]
    return text + (": " + "; ".join(detail) if detail else "")
