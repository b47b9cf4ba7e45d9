"""The site's key areas and planned routes as GeoJSON for the page.

Both are read with the mission package's readers (one definition of each file
format): the area file with :func:`drone_patrol.mission.areas.load_areas`, plan
files (``.plan``, ``.waypoints``, route ``.geojson`` with every sortie) with
:func:`drone_patrol.mission.files.load_mission`. The page gets plain GeoJSON
FeatureCollections whose features carry ``properties.kind``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from shapely.geometry import mapping

from drone_patrol.core.errors import AreaFileError, MissionFileError
from drone_patrol.core.files import read_user_json
from drone_patrol.core.types import Mission
from drone_patrol.mission.areas import AreaSet, load_areas
from drone_patrol.mission.files import load_mission
from drone_patrol.mission.route_geojson import route_feature_collection

_AREA_PROPS = ("pattern", "priority", "altitude_m", "speed_m_s", "dwell_s", "radius_m", "width_m")
_ROUTE_KINDS = ("route", "mission_item", "fence", "rally")


def area_features(areas: AreaSet) -> dict[str, Any]:
    """The key areas as a FeatureCollection (``kind`` ``area`` with ``name``, ``role`` and figures).

    ``name_zh`` (a Chinese display name from the area file, optional) is passed on for the page.
    """
    features = []
    for area in areas.all:
        props: dict[str, Any] = {"kind": "area", "name": area.name, "role": area.role.value}
        name_zh = area.properties.get("name_zh")
        if name_zh is not None:
            if not isinstance(name_zh, str) or not name_zh.strip():
                raise AreaFileError(f"feature {area.name!r}: name_zh must be a non-empty string, got {name_zh!r}")
            props["name_zh"] = name_zh.strip()
        for key in _AREA_PROPS:
            value = getattr(area, key)
            if value is not None:
                props[key] = value.value if hasattr(value, "value") else value
        features.append({"type": "Feature", "geometry": dict(mapping(area.geometry)), "properties": props})
    return {"type": "FeatureCollection", "features": features}


def load_area_features(path: Path) -> dict[str, Any]:
    """Read an area file (GeoJSON or KML) into the page's FeatureCollection; raises ``AreaFileError``."""
    return area_features(load_areas(path, make_valid=True))


def _sortie_count(path: Path) -> int:
    """How many sorties a route GeoJSON holds (the mission reader checks each one)."""
    doc = read_user_json(path, "route file", MissionFileError)
    feats = doc.get("features") if isinstance(doc, dict) else None
    if not isinstance(feats, list):
        raise MissionFileError(f"{path}: not a GeoJSON FeatureCollection")
    return max(1, sum(1 for f in feats if isinstance(f, dict) and (f.get("properties") or {}).get("kind") == "route"))


def load_missions(path: Path) -> list[Mission]:
    """Every sortie of one plan file."""
    if path.suffix.lower() in (".geojson", ".json"):
        return [load_mission(path, sortie=s) for s in range(1, _sortie_count(path) + 1)]
    return [load_mission(path)]


def route_features(paths: Iterable[Path]) -> dict[str, Any]:
    """The planned routes of several plan files: ``route`` lines, ``mission_item`` points, ``fence``, ``rally``.

    Each feature gets ``file`` (the plan file's name). Raises ``MissionFileError``.
    """
    features: list[dict[str, Any]] = []
    for path in paths:
        collection = route_feature_collection(load_missions(path))
        for feature in collection["features"]:
            props = feature["properties"]
            if props.get("kind") not in _ROUTE_KINDS or feature.get("geometry") is None:
                continue
            props["file"] = path.name
            if props["kind"] == "route" and not props.get("name"):
                props["name"] = path.name
            features.append(feature)
    return {"type": "FeatureCollection", "features": features}
