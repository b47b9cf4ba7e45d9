"""Area files for tests, laid out in metres around a reference point."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from drone_patrol.core.geo import LocalFrame
from drone_patrol.core.types import GeoPoint

ORIGIN = GeoPoint(25.2800, 110.2900)
FRAME = LocalFrame(ORIGIN)


def lonlat(points: Any) -> list[list[float]]:
    """Local (east, north) metres to [lon, lat] positions."""
    return [[float(a), float(b)] for a, b in FRAME.en_to_lonlat(list(points))]


def point(name: str, xy: tuple[float, float], **props: Any) -> dict[str, Any]:
    """A Point feature at local metres ``xy``."""
    return {
        "type": "Feature",
        "properties": {"name": name, **props},
        "geometry": {"type": "Point", "coordinates": lonlat([xy])[0]},
    }


def polygon(name: str, rings: list[list[tuple[float, float]]], **props: Any) -> dict[str, Any]:
    """A Polygon feature; rings in local metres, closed here."""
    coords = [lonlat([*r, r[0]]) for r in rings]
    return {
        "type": "Feature",
        "properties": {"name": name, **props},
        "geometry": {"type": "Polygon", "coordinates": coords},
    }


def line(name: str, pts: list[tuple[float, float]], **props: Any) -> dict[str, Any]:
    """A LineString feature in local metres."""
    return {
        "type": "Feature",
        "properties": {"name": name, **props},
        "geometry": {"type": "LineString", "coordinates": lonlat(pts)},
    }


def rect(x0: float, y0: float, x1: float, y1: float) -> list[tuple[float, float]]:
    """A rectangle ring (open)."""
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def collection(*features: dict[str, Any]) -> dict[str, Any]:
    """A FeatureCollection."""
    return {"type": "FeatureCollection", "features": list(features)}


def write(path: Path, data: Any) -> Path:
    """Write ``data`` as JSON (or text) to ``path``."""
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def basic(*extra: dict[str, Any]) -> dict[str, Any]:
    """Home at the origin and one 100 x 80 m patrol block east of it, plus ``extra``."""
    return collection(point("post", (0, 0), role="home"), polygon("block", [rect(40, -40, 140, 40)]), *extra)
