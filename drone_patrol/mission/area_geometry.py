"""The shape of the GeoJSON geometries of an area file, checked before shapely sees them.

Each check raises :class:`AreaFileError` naming the file and the feature, so a malformed
position, ring or MultiPolygon never reaches shapely as an exception of its own.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from drone_patrol.core.errors import AreaFileError
from drone_patrol.core.files import excerpt

__all__ = ["MAX_POLYGON_PARTS", "check_geometry", "check_position", "check_rings", "dimensions"]

#: the most parts a MultiPolygon may have (the route order grows fast with the parts)
MAX_POLYGON_PARTS = 16


def check_position(pos: Any, path: Path, where: str) -> None:
    if not isinstance(pos, list | tuple) or len(pos) not in (2, 3):
        raise AreaFileError(f"{path}: {where}: position {excerpt(pos)} is not [lon, lat] or [lon, lat, alt]")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in pos):
        raise AreaFileError(f"{path}: {where}: position {excerpt(pos)} has a non-numeric value")
    lon, lat = pos[0], pos[1]
    if -180 <= lon <= 180 and -90 <= lat <= 90:
        return
    if -180 <= lat <= 180 and -90 <= lon <= 90:
        raise AreaFileError(
            f"{path}: {where}: position {excerpt(list(pos))} looks like [lat, lon] order; GeoJSON wants [lon, lat]"
        )
    raise AreaFileError(f"{path}: {where}: position {excerpt(list(pos))} out of range (lon -180..180, lat -90..90)")


def check_rings(rings: Any, path: Path, where: str, part: str = "") -> None:
    if not isinstance(rings, list) or not rings:
        raise AreaFileError(f"{path}: {where}: {part}Polygon has no rings")
    for r, ring in enumerate(rings):
        label = part + ("exterior ring" if r == 0 else f"hole {r}")
        if not isinstance(ring, list):
            raise AreaFileError(f"{path}: {where}: {label} is not an array of positions")
        for pos in ring:
            check_position(pos, path, where)
        if len(ring) < 4:
            raise AreaFileError(f"{path}: {where}: {label} has {len(ring)} positions; a closed ring needs at least 4")
        if list(ring[0][:2]) != list(ring[-1][:2]):
            raise AreaFileError(f"{path}: {where}: {label} is not closed (first and last positions differ)")


def check_geometry(raw: Any, path: Path, where: str) -> str:
    if not isinstance(raw, dict) or "type" not in raw:
        raise AreaFileError(f"{path}: {where}: missing geometry")
    kind = raw["type"]
    coords = raw.get("coordinates")
    if kind not in ("Point", "LineString", "Polygon", "MultiPolygon"):
        raise AreaFileError(
            f"{path}: {where}: geometry type {excerpt(kind)} not supported (Point, LineString, Polygon, MultiPolygon)"
        )
    if not isinstance(coords, list):
        raise AreaFileError(f"{path}: {where}: geometry has no coordinates array")
    if kind == "Point":
        check_position(coords, path, where)
    elif kind == "LineString":
        if len(coords) < 2:
            raise AreaFileError(f"{path}: {where}: LineString needs at least 2 positions, got {len(coords)}")
        for pos in coords:
            check_position(pos, path, where)
    elif kind == "Polygon":
        check_rings(coords, path, where)
    else:
        if not coords:
            raise AreaFileError(f"{path}: {where}: MultiPolygon has no polygons")
        if len(coords) > MAX_POLYGON_PARTS:
            raise AreaFileError(
                f"{path}: {where}: MultiPolygon has {len(coords)} parts, at most {MAX_POLYGON_PARTS}; "
                "give the parts as separate features"
            )
        for k, rings in enumerate(coords):
            check_rings(rings, path, where, f"polygon {k} ")
    return str(kind)


def dimensions(coords: Any) -> set[int]:
    """The lengths of the positions in (already checked) GeoJSON ``coords``."""
    if coords and isinstance(coords[0], int | float):
        return {len(coords)}
    out: set[int] = set()
    for part in coords:
        out |= dimensions(part)
    return out
