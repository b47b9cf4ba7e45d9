"""QGroundControl ``.plan`` files (JSON): mission, geofence and rally points in one file.

Written as QGC writes them for ArduPilot Copter (``firmwareType`` 3, ``vehicleType``
2, relative altitudes): SimpleItems with 7 params (lat, lon, alt at 4, 5, 6) and
``doJumpId`` equal to the item's sequence number, so DO_JUMP targets are the same
numbers on the vehicle. The reader also flattens the simple items that QGC stores
inside survey/corridor ComplexItems. The planner's key-area spans travel in an
extra top-level ``dronePatrol`` object that other ground stations ignore.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from drone_patrol.core.errors import MissionFileError
from drone_patrol.core.files import excerpt, read_user_json
from drone_patrol.core.types import (
    AreaSpan,
    FenceCircle,
    FencePolygon,
    Geofence,
    GeoPoint,
    MavCmd,
    Mission,
    Waypoint,
)
from drone_patrol.mission.items import file_frame, item_from_file

__all__ = ["parse_plan", "plan_to_json", "read_plan", "write_plan"]

FIRMWARE_ARDUPILOT = 3
VEHICLE_QUADROTOR = 2


def _num(v: float) -> float | None:
    return None if math.isnan(v) else float(v)


def _item(seq: int, w: Waypoint) -> dict[str, Any]:
    params = [w.param1, w.param2, w.param3, w.param4, w.latitude_deg, w.longitude_deg, w.altitude_m]
    out: dict[str, Any] = {
        "type": "SimpleItem",
        "autoContinue": bool(w.autocontinue),
        "command": int(w.command),
        "doJumpId": seq,
        "frame": file_frame(w.frame),
        "params": [_num(float(v)) for v in params],
    }
    if w.has_position:
        out["Altitude"] = float(w.altitude_m)
        out["AltitudeMode"] = 1
        out["AMSLAltAboveTerrain"] = None
    return out


def plan_to_json(mission: Mission) -> dict[str, Any]:
    """``mission`` as the JSON object of a QGC .plan file."""
    h = mission.home
    fence = mission.fence
    geofence: dict[str, Any] = {
        "version": 2,
        "polygons": [
            {"inclusion": p.inclusion, "version": 1, "polygon": [[v.latitude_deg, v.longitude_deg] for v in p.vertices]}
            for p in fence.polygons
        ],
        "circles": [
            {
                "inclusion": c.inclusion,
                "version": 1,
                "circle": {"center": [c.center.latitude_deg, c.center.longitude_deg], "radius": c.radius_m},
            }
            for c in fence.circles
        ],
    }
    if fence.return_point is not None:
        r = fence.return_point
        geofence["breachReturn"] = [r.latitude_deg, r.longitude_deg, r.altitude_m]
    return {
        "fileType": "Plan",
        "version": 1,
        "groundStation": "drone-patrol",
        "mission": {
            "version": 2,
            "firmwareType": FIRMWARE_ARDUPILOT,
            "vehicleType": VEHICLE_QUADROTOR,
            "cruiseSpeed": mission.cruise_speed_m_s,
            "hoverSpeed": mission.hover_speed_m_s,
            "globalPlanAltitudeMode": 1,
            "plannedHomePosition": [h.latitude_deg, h.longitude_deg, h.altitude_m],
            "items": [_item(i, w) for i, w in enumerate(mission.items, start=1)],
        },
        "geoFence": geofence,
        "rallyPoints": {
            "version": 2,
            "points": [[r.latitude_deg, r.longitude_deg, r.altitude_m] for r in mission.rally_points],
        },
        "dronePatrol": {
            "version": 1,
            "name": mission.name,
            "areaSpans": [
                {"area": s.area_name, "firstSeq": s.first_seq, "lastSeq": s.last_seq} for s in mission.area_spans
            ],
        },
    }


def write_plan(mission: Mission, path: str | Path) -> Path:
    """Write ``mission`` (with its fence and rally points) as a QGC .plan file; returns the path."""
    p = Path(path)
    try:
        p.write_text(json.dumps(plan_to_json(mission), indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise MissionFileError(f"{p}: cannot write plan file ({exc.strerror})") from None
    return p


class _Reader:
    def __init__(self, source: Path) -> None:
        self.p = source

    def fail(self, where: str, problem: str) -> MissionFileError:
        return MissionFileError(f"{self.p}: {where}: {problem}")

    def obj(self, parent: dict[str, Any], key: str, where: str, kind: type = dict, required: bool = True) -> Any:
        if key not in parent:
            if required:
                raise self.fail(where, f"missing key {key!r}")
            return kind()
        value = parent[key]
        if not isinstance(value, kind):
            raise self.fail(f"{where}.{key}", f"expected {kind.__name__}, got {type(value).__name__}")
        return value

    def number(self, value: Any, where: str) -> float:
        """A JSON number, or NaN for ``null`` (QGC writes NaN parameters as null)."""
        if value is None:
            return math.nan
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(where, f"expected a number, got {excerpt(value)}")
        try:
            out = float(value)
        except OverflowError:
            raise self.fail(where, f"number {excerpt(value)} out of range") from None
        if math.isinf(out):
            raise self.fail(where, f"expected a finite number, got {excerpt(value)}")
        return out

    def finite(self, value: Any, where: str) -> float:
        out = self.number(value, where)
        if math.isnan(out):
            raise self.fail(where, "expected a number, got null")
        return out

    def integer(self, value: Any, where: str, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(where, f"expected an integer {low}..{high}, got {excerpt(value)}")
        return value

    def latlon(self, value: Any, where: str, n: int = 2) -> list[float]:
        if not isinstance(value, list) or len(value) < n:
            raise self.fail(where, f"expected [lat, lon{', alt' if n == 3 else ''}], got {excerpt(value)}")
        vals = [self.finite(v, where) for v in value[:n]]
        if not (-90 <= vals[0] <= 90 and -180 <= vals[1] <= 180):
            raise self.fail(where, f"position {vals[0]:g}, {vals[1]:g} out of range")
        return vals

    def speed(self, mission: dict[str, Any], key: str) -> float:
        if mission.get(key) is None:
            return 5.0
        value = self.finite(mission[key], f"mission.{key}")
        if not 0 < value <= 100:
            raise self.fail(f"mission.{key}", f"expected a speed in m/s in (0, 100], got {value:g}")
        return value

    def spans(self, extra: dict[str, Any]) -> tuple[AreaSpan, ...]:
        raw = self.obj(extra, "areaSpans", "dronePatrol", list, required=False)
        out = []
        for i, s in enumerate(raw):
            w = f"dronePatrol.areaSpans[{i}]"
            if not isinstance(s, dict):
                raise self.fail(w, f"expected an object, got {excerpt(s)}")
            area = self.obj(s, "area", w, str)
            first = self.integer(s.get("firstSeq"), f"{w}.firstSeq", 1, 65535)
            last = self.integer(s.get("lastSeq"), f"{w}.lastSeq", first, 65535)
            out.append(AreaSpan(area, first, last))
        return tuple(out)

    def simple_items(self, raw: list[Any], where: str, depth: int = 0) -> list[Waypoint]:
        out: list[Waypoint] = []
        for i, item in enumerate(raw):
            w = f"{where}[{i}]"
            if not isinstance(item, dict):
                raise self.fail(w, "expected an object")
            kind = item.get("type")
            if kind == "ComplexItem":
                transect = item.get("TransectStyleComplexItem")
                inner = transect.get("Items") if isinstance(transect, dict) else None
                if not isinstance(inner, list):
                    name = excerpt(item.get("complexItemType"))
                    raise self.fail(w, f"complex item {name} has no simple items to fly")
                if depth >= 4:
                    raise self.fail(w, "complex items nested more than 4 deep")
                out.extend(self.simple_items(inner, f"{w}.TransectStyleComplexItem.Items", depth + 1))
                continue
            if kind != "SimpleItem":
                raise self.fail(w, f"item type {excerpt(kind)} not supported (SimpleItem, ComplexItem)")
            params = self.obj(item, "params", w, list)
            if len(params) != 7:
                raise self.fail(f"{w}.params", f"expected 7 values, got {len(params)}")
            vals = [self.number(v, f"{w}.params[{k}]") for k, v in enumerate(params)]
            command = self.integer(item.get("command"), f"{w}.command", 0, 65535)
            frame = self.integer(item.get("frame"), f"{w}.frame", 0, 255)
            auto = item.get("autoContinue", True)
            if not isinstance(auto, bool):
                raise self.fail(f"{w}.autoContinue", f"expected true or false, got {excerpt(auto)}")
            try:
                waypoint = item_from_file(command, frame, vals, auto)
            except ValueError as exc:
                raise self.fail(w, str(exc)) from None
            out.append(waypoint)
        return out


def parse_plan(data: Any, source: str | Path = "<plan>") -> Mission:
    """Build a :class:`Mission` from the JSON object of a QGC .plan file."""
    r = _Reader(Path(source))
    if not isinstance(data, dict) or data.get("fileType") != "Plan":
        raise MissionFileError(f"{r.p}: not a QGC plan file (fileType is not 'Plan')")
    mission = r.obj(data, "mission", "plan")
    home_raw = r.obj(mission, "plannedHomePosition", "mission", list)
    lat, lon = r.latlon(home_raw, "mission.plannedHomePosition")
    alt = r.finite(home_raw[2], "mission.plannedHomePosition") if len(home_raw) > 2 else 0.0
    items = r.simple_items(r.obj(mission, "items", "mission", list), "mission.items")
    fence_raw = r.obj(data, "geoFence", "plan", dict, required=False)
    polygons = []
    for i, poly in enumerate(r.obj(fence_raw, "polygons", "geoFence", list, required=False)):
        w = f"geoFence.polygons[{i}]"
        if not isinstance(poly, dict):
            raise r.fail(w, "expected an object")
        verts = r.obj(poly, "polygon", w, list)
        if len(verts) < 3:
            raise r.fail(w, f"a fence polygon needs at least 3 vertices, got {len(verts)}")
        points = tuple(GeoPoint(*r.latlon(v, f"{w}.polygon")) for v in verts)
        polygons.append(FencePolygon(inclusion=bool(poly.get("inclusion", True)), vertices=points))
    circles = []
    for i, circ in enumerate(r.obj(fence_raw, "circles", "geoFence", list, required=False)):
        w = f"geoFence.circles[{i}]"
        if not isinstance(circ, dict):
            raise r.fail(w, "expected an object")
        body = r.obj(circ, "circle", w)
        centre = GeoPoint(*r.latlon(body.get("center"), f"{w}.circle.center"))
        radius = r.finite(body.get("radius"), f"{w}.circle.radius")
        if not radius > 0:
            raise r.fail(f"{w}.circle.radius", f"must be positive, got {radius}")
        circles.append(FenceCircle(inclusion=bool(circ.get("inclusion", True)), center=centre, radius_m=radius))
    breach = fence_raw.get("breachReturn")
    ret = GeoPoint(*r.latlon(breach, "geoFence.breachReturn", 3)) if isinstance(breach, list) else None
    rally_raw = r.obj(data, "rallyPoints", "plan", dict, required=False)
    rally = tuple(
        GeoPoint(*r.latlon(pt, f"rallyPoints.points[{i}]", 3))
        for i, pt in enumerate(r.obj(rally_raw, "points", "rallyPoints", list, required=False))
    )
    extra = r.obj(data, "dronePatrol", "plan", dict, required=False)
    spans = r.spans(extra)
    name = extra.get("name")
    if name is not None and not isinstance(name, str):
        raise r.fail("dronePatrol.name", f"expected a string, got {excerpt(name)}")
    for i, it in enumerate(items):
        if it.command == MavCmd.DO_JUMP and not 1 <= it.param1 <= len(items):
            raise r.fail(f"mission.items[{i}]", f"DO_JUMP target {it.param1:g} is not an item number 1..{len(items)}")
    return Mission(
        home=GeoPoint(lat, lon, alt),
        items=tuple(items),
        fence=Geofence(polygons=tuple(polygons), circles=tuple(circles), return_point=ret),
        rally_points=rally,
        cruise_speed_m_s=r.speed(mission, "cruiseSpeed"),
        hover_speed_m_s=r.speed(mission, "hoverSpeed"),
        name=name or r.p.stem,
        area_spans=spans,
    )


def read_plan(path: str | Path) -> Mission:
    """Read a QGC .plan file; raises :class:`MissionFileError` with a one-line message."""
    p = Path(path)
    return parse_plan(read_user_json(p, "plan file", MissionFileError), p)
