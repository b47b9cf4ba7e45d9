"""GeoJSON export of planned sorties, for viewing in any GIS tool (and reading back).

One FeatureCollection with, per feature, ``properties.kind``:
``area`` (the key areas, with their role), ``route`` (one LineString per sortie,
home to home as flown), ``mission_item`` (every item with its sequence number,
command, frame and params; positioned items as Points, the others with a null
geometry), ``fence`` (inclusion/exclusion polygons, circles as polygons with
``radius_m``) and ``rally``. Positions are [lon, lat] (RFC 7946).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shapely.geometry import mapping

from drone_patrol.core.errors import MissionFileError
from drone_patrol.core.files import read_user_json
from drone_patrol.core.geo import destination
from drone_patrol.core.types import AreaSpan, FenceCircle, FencePolygon, Geofence, GeoPoint, Mission, Waypoint
from drone_patrol.mission.areas import AreaSet
from drone_patrol.mission.items import nav_positions

__all__ = ["read_route_geojson", "route_feature_collection", "write_route_geojson"]


def _feature(geometry: dict[str, Any] | None, **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": props}


def _circle_ring(c: FenceCircle, n: int = 48) -> list[list[float]]:
    ring = []
    for i in range(n):
        p = destination(c.center, 360.0 * i / n, c.radius_m)
        ring.append([p.longitude_deg, p.latitude_deg])
    return [*ring, ring[0]]


def route_feature_collection(missions: Sequence[Mission], areas: AreaSet | None = None) -> dict[str, Any]:
    """The GeoJSON object describing ``missions`` (sorties numbered from 1) over ``areas``."""
    feats: list[dict[str, Any]] = []
    if areas is not None:
        for a in areas.all:
            props = {k: v for k, v in a.properties.items() if isinstance(v, str | int | float | bool)}
            props.update(kind="area", name=a.name, role=a.role.value)
            if a.pattern is not None:
                props["pattern"] = a.pattern.value
            feats.append(_feature(dict(mapping(a.geometry)), **props))
    for s, m in enumerate(missions, start=1):
        h = m.home
        line = [[h.longitude_deg, h.latitude_deg]]
        line += [[w.longitude_deg, w.latitude_deg] for w in nav_positions(m)]
        line.append([h.longitude_deg, h.latitude_deg])
        feats.append(
            _feature(
                {"type": "LineString", "coordinates": line},
                kind="route",
                sortie=s,
                name=m.name,
                home=[h.latitude_deg, h.longitude_deg, h.altitude_m],
                cruise_speed_m_s=m.cruise_speed_m_s,
                hover_speed_m_s=m.hover_speed_m_s,
                area_spans=[[sp.area_name, sp.first_seq, sp.last_seq] for sp in m.area_spans],
            )
        )
        for seq, w in enumerate(m.items, start=1):
            geom = (
                {"type": "Point", "coordinates": [w.longitude_deg, w.latitude_deg, w.altitude_m]}
                if w.has_position
                else None
            )
            feats.append(
                _feature(
                    geom,
                    kind="mission_item",
                    sortie=s,
                    seq=seq,
                    command=int(w.command),
                    frame=int(w.frame),
                    params=[w.param1, w.param2, w.param3, w.param4],
                    latitude_deg=w.latitude_deg,
                    longitude_deg=w.longitude_deg,
                    altitude_m=w.altitude_m,
                    autocontinue=w.autocontinue,
                    area=m.area_at(seq),
                )
            )
    if missions:
        m = missions[0]
        for p in m.fence.polygons:
            ring = [[v.longitude_deg, v.latitude_deg] for v in p.vertices]
            feats.append(
                _feature({"type": "Polygon", "coordinates": [[*ring, ring[0]]]}, kind="fence", inclusion=p.inclusion)
            )
        for c in m.fence.circles:
            feats.append(
                _feature(
                    {"type": "Polygon", "coordinates": [_circle_ring(c)]},
                    kind="fence",
                    inclusion=c.inclusion,
                    center=[c.center.latitude_deg, c.center.longitude_deg],
                    radius_m=c.radius_m,
                )
            )
        for r in m.rally_points:
            feats.append(
                _feature(
                    {"type": "Point", "coordinates": [r.longitude_deg, r.latitude_deg, r.altitude_m]}, kind="rally"
                )
            )
    return {"type": "FeatureCollection", "features": feats}


def write_route_geojson(missions: Sequence[Mission], path: str | Path, areas: AreaSet | None = None) -> Path:
    """Write the route GeoJSON of ``missions`` to ``path``; returns the path."""
    p = Path(path)
    try:
        p.write_text(json.dumps(route_feature_collection(missions, areas), indent=1) + "\n", encoding="utf-8")
    except OSError as exc:
        raise MissionFileError(f"{p}: cannot write route GeoJSON ({exc.strerror})") from None
    return p


def read_route_geojson(path: str | Path, sortie: int = 1) -> Mission:
    """Read sortie ``sortie`` (from 1) of a route GeoJSON written by :func:`write_route_geojson`."""
    p = Path(path)
    data = read_user_json(p, "route file", MissionFileError)
    feats = data.get("features") if isinstance(data, dict) else None
    if not isinstance(feats, list):
        raise MissionFileError(f"{p}: not a GeoJSON FeatureCollection")
    props = [f.get("properties") or {} for f in feats if isinstance(f, dict)]
    routes = [pr for pr in props if pr.get("kind") == "route"]
    if not routes:
        raise MissionFileError(
            f"{p}: no planned route in this GeoJSON (an area file? plan it first with `drone-patrol plan`)"
        )
    route = next((r for r in routes if r.get("sortie") == sortie), None)
    if route is None:
        raise MissionFileError(f"{p}: no sortie {sortie} (the file has {len(routes)})")
    try:
        home = GeoPoint(*[float(v) for v in route["home"]])
        items = sorted(
            (pr for pr in props if pr.get("kind") == "mission_item" and pr.get("sortie") == sortie),
            key=lambda pr: int(pr["seq"]),
        )
        waypoints = tuple(
            Waypoint(
                command=int(pr["command"]),
                frame=int(pr["frame"]),
                param1=float(pr["params"][0]),
                param2=float(pr["params"][1]),
                param3=float(pr["params"][2]),
                param4=float(pr["params"][3]),
                latitude_deg=float(pr["latitude_deg"]),
                longitude_deg=float(pr["longitude_deg"]),
                altitude_m=float(pr["altitude_m"]),
                autocontinue=bool(pr["autocontinue"]),
            )
            for pr in items
        )
        spans = tuple(AreaSpan(str(a), int(f), int(la)) for a, f, la in route.get("area_spans", []))
        polygons, circles = [], []
        for pr, f in ((f.get("properties") or {}, f) for f in feats if isinstance(f, dict)):
            if pr.get("kind") != "fence":
                continue
            if "radius_m" in pr:
                circles.append(FenceCircle(bool(pr["inclusion"]), GeoPoint(*pr["center"]), float(pr["radius_m"])))
            else:
                ring = f["geometry"]["coordinates"][0][:-1]
                polygons.append(FencePolygon(bool(pr["inclusion"]), tuple(GeoPoint(la, lo) for lo, la, *_ in ring)))
        rally = tuple(
            GeoPoint(f["geometry"]["coordinates"][1], f["geometry"]["coordinates"][0], f["geometry"]["coordinates"][2])
            for f in feats
            if isinstance(f, dict) and (f.get("properties") or {}).get("kind") == "rally"
        )
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise MissionFileError(f"{p}: malformed route feature ({type(exc).__name__}: {exc})") from None
    if any(math.isnan(w.latitude_deg) for w in waypoints):
        raise MissionFileError(f"{p}: mission item with NaN latitude")
    return Mission(
        home=home,
        items=waypoints,
        fence=Geofence(polygons=tuple(polygons), circles=tuple(circles)),
        rally_points=rally,
        cruise_speed_m_s=float(route.get("cruise_speed_m_s", 5.0)),
        hover_speed_m_s=float(route.get("hover_speed_m_s", 5.0)),
        name=str(route.get("name") or p.stem),
        area_spans=spans,
    )
