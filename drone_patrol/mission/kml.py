"""KML placemarks to GeoJSON-shaped feature dicts, so one validator serves both formats.

Reads ``Placemark`` elements (in any Folder/Document nesting) with ``Point``,
``LineString``, ``Polygon`` (outer and inner boundaries) or a ``MultiGeometry`` of
polygons (read as a MultiPolygon). Feature properties come from ``<name>`` and from ``ExtendedData``
(``Data``/``value`` and ``SchemaData``/``SimpleData``), so ``role``, ``pattern``,
``priority``, ``altitude_m``, ... are given exactly as in GeoJSON properties.
Values that look like numbers are converted to numbers.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from drone_patrol.core.errors import AreaFileError
from drone_patrol.core.files import excerpt


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(elem: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in elem if _local(c.tag) == name]


def _descendants(elem: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in elem.iter() if _local(c.tag) == name]


def _scalar(text: str) -> Any:
    text = text.strip()
    if text.lower() in ("true", "false"):  # KML's ExtendedData is text: true/false are the booleans
        return text.lower() == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _coords(elem: ET.Element | None, path: Path, where: str) -> list[list[float]]:
    if elem is None:
        raise AreaFileError(f"{path}: {where}: geometry has no <coordinates>")
    out: list[list[float]] = []
    for token in (elem.text or "").split():
        try:
            out.append([float(v) for v in token.split(",")])
        except ValueError:
            raise AreaFileError(f"{path}: {where}: bad coordinate {excerpt(token)} (expected lon,lat[,alt])") from None
    return out


def _first(elem: ET.Element, name: str) -> ET.Element | None:
    found = _descendants(elem, name)
    return found[0] if found else None


def _geometry(elem: ET.Element, path: Path, where: str) -> dict[str, Any]:
    kind = _local(elem.tag)
    if kind == "Point":
        pts = _coords(_first(elem, "coordinates"), path, where)
        if len(pts) != 1:
            raise AreaFileError(f"{path}: {where}: a Point needs exactly one position, got {len(pts)}")
        return {"type": "Point", "coordinates": pts[0]}
    if kind == "LineString":
        return {"type": "LineString", "coordinates": _coords(_first(elem, "coordinates"), path, where)}
    if kind == "Polygon":
        rings = []
        for boundary in ("outerBoundaryIs", "innerBoundaryIs"):
            for b in _children(elem, boundary):
                rings.append(_coords(_first(b, "coordinates"), path, where))
        if not rings:
            raise AreaFileError(f"{path}: {where}: Polygon without <outerBoundaryIs>")
        return {"type": "Polygon", "coordinates": rings}
    raise AreaFileError(f"{path}: {where}: unsupported KML geometry <{kind}>")


_GEOMETRY_TAGS = ("Point", "LineString", "Polygon")


def kml_features(path: Path, text: str) -> list[dict[str, Any]]:
    """Parse KML text into GeoJSON-like features; raises :class:`AreaFileError`."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise AreaFileError(f"{path}: not valid KML/XML ({exc})") from None
    if _local(root.tag) != "kml":
        raise AreaFileError(f"{path}: not KML (root element <{_local(root.tag)}>, expected <kml>)")
    features: list[dict[str, Any]] = []
    for index, pm in enumerate(_descendants(root, "Placemark")):
        props: dict[str, Any] = {}
        name_el = _children(pm, "name")
        if name_el and (name_el[0].text or "").strip():
            props["name"] = (name_el[0].text or "").strip()
        where = f"placemark {excerpt(props.get('name', f'#{index}'))}"
        for data in _descendants(pm, "Data"):
            value = _children(data, "value")
            if data.get("name") and value:
                props[data.get("name", "")] = _scalar(value[0].text or "")
        for simple in _descendants(pm, "SimpleData"):
            if simple.get("name"):
                props[simple.get("name", "")] = _scalar(simple.text or "")
        geoms = [g for g in pm.iter() if _local(g.tag) in _GEOMETRY_TAGS]
        # A Polygon's own rings are not nested geometries; drop geometries inside another.
        top = [g for g in geoms if not any(g is not o and g in list(o.iter()) for o in geoms)]
        if not top:
            raise AreaFileError(f"{path}: {where}: no Point, LineString or Polygon geometry")
        if len(top) > 1 and all(_local(g.tag) == "Polygon" for g in top):
            parts = [_geometry(g, path, where)["coordinates"] for g in top]
            geometry: dict[str, Any] = {"type": "MultiPolygon", "coordinates": parts}
        elif len(top) > 1:
            raise AreaFileError(
                f"{path}: {where}: MultiGeometry with {len(top)} mixed parts; only polygons may be grouped"
            )
        else:
            geometry = _geometry(top[0], path, where)
        features.append({"type": "Feature", "properties": props, "geometry": geometry})
    if not features:
        raise AreaFileError(f"{path}: KML has no <Placemark>")
    return features
