"""Open any mission file by its suffix."""

from __future__ import annotations

from pathlib import Path

from drone_patrol.core.errors import MissionFileError
from drone_patrol.core.types import Mission
from drone_patrol.mission.qgc_plan import read_plan, write_plan
from drone_patrol.mission.route_geojson import read_route_geojson
from drone_patrol.mission.wpl import read_waypoints, write_waypoints

__all__ = ["MISSION_SUFFIXES", "load_mission", "save_mission"]

MISSION_SUFFIXES = (".waypoints", ".txt", ".mission", ".plan", ".geojson", ".json")


def load_mission(path: str | Path, sortie: int = 1) -> Mission:
    """Read a ``.waypoints``/``.txt`` (QGC WPL), ``.plan`` (QGC JSON) or route ``.geojson`` file.

    ``sortie`` picks one of the sorties of a route GeoJSON. An area file is refused
    with a hint to plan it first. Raises :class:`MissionFileError`.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in (".waypoints", ".txt", ".mission"):
        return read_waypoints(p)
    if suffix == ".plan":
        return read_plan(p)
    if suffix in (".geojson", ".json"):
        return read_route_geojson(p, sortie)
    raise MissionFileError(f"{p}: unknown mission file type {suffix!r} (expected one of {', '.join(MISSION_SUFFIXES)})")


def save_mission(mission: Mission, path: str | Path) -> Path:
    """Write ``mission`` as ``.waypoints`` or ``.plan`` according to the suffix of ``path``."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in (".waypoints", ".txt", ".mission"):
        return write_waypoints(mission, p)
    if suffix == ".plan":
        return write_plan(mission, p)
    raise MissionFileError(f"{p}: cannot write mission file type {suffix!r} (use .waypoints or .plan)")
