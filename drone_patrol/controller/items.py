"""Mission, fence and rally lists as MISSION_ITEM_INT items, and comparison of what came back.

Pure functions: no I/O. Mission lists carry home at seq 0 (ArduPilot replaces it with
its own home; QGroundControl and MAVSDK send a placeholder there too), so
``Mission.items[i]`` travels as seq ``i + 1``. Fence and rally lists have no home.
Rally altitudes are relative to home (frame GLOBAL_RELATIVE_ALT_INT), as in a QGC .plan.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from drone_patrol.core.types import (
    FenceCircle,
    FencePolygon,
    Geofence,
    GeoPoint,
    MavCmd,
    MavFrame,
    Mission,
    MissionType,
    Waypoint,
)


@dataclass(frozen=True, slots=True)
class WireItem:
    """One MISSION_ITEM_INT as it goes over the wire (x, y are degrees * 1e7)."""

    seq: int
    frame: int
    command: int
    param1: float = 0.0
    param2: float = 0.0
    param3: float = 0.0
    param4: float = 0.0
    x: int = 0
    y: int = 0
    z: float = 0.0
    autocontinue: bool = True
    current: int = 0
    mission_type: int = MissionType.MISSION

    @property
    def latitude_deg(self) -> float:
        return self.x / 1e7

    @property
    def longitude_deg(self) -> float:
        return self.y / 1e7

    def to_waypoint(self) -> Waypoint:
        """This item as a :class:`Waypoint` (no sequence number), in the in-memory frame convention.

        Vehicles answer with the float frames (ArduPilot keeps only the altitude reference);
        in memory positioned items use the ``_INT`` frames and the others MAV_FRAME_MISSION.
        """
        positioned = Waypoint(command=self.command).has_position
        frame = _TO_INT_FRAME.get(self.frame, self.frame) if positioned else MavFrame.MISSION
        return Waypoint(
            command=self.command,
            frame=frame,
            param1=self.param1,
            param2=self.param2,
            param3=self.param3,
            param4=self.param4,
            latitude_deg=self.latitude_deg,
            longitude_deg=self.longitude_deg,
            altitude_m=self.z,
            autocontinue=self.autocontinue,
        )


_TO_INT_FRAME: dict[int, int] = {
    MavFrame.GLOBAL: MavFrame.GLOBAL_INT,
    MavFrame.GLOBAL_RELATIVE_ALT: MavFrame.GLOBAL_RELATIVE_ALT_INT,
    MavFrame.GLOBAL_TERRAIN_ALT: MavFrame.GLOBAL_TERRAIN_ALT_INT,
}


def _from_waypoint(seq: int, wp: Waypoint, mission_type: int) -> WireItem:
    return WireItem(
        seq=seq,
        frame=int(wp.frame),
        command=int(wp.command),
        param1=wp.param1,
        param2=wp.param2,
        param3=wp.param3,
        param4=wp.param4,
        x=wp.x_int,
        y=wp.y_int,
        z=wp.altitude_m,
        autocontinue=wp.autocontinue,
        mission_type=mission_type,
    )


def home_item(home: GeoPoint) -> WireItem:
    """The seq 0 placeholder: a waypoint at home, altitude AMSL."""
    return WireItem(
        seq=0,
        frame=MavFrame.GLOBAL,
        command=MavCmd.NAV_WAYPOINT,
        x=round(home.latitude_deg * 1e7),
        y=round(home.longitude_deg * 1e7),
        z=home.altitude_m,
    )


def mission_to_wire(mission: Mission) -> list[WireItem]:
    """The mission list: home at seq 0, then every item."""
    out = [home_item(mission.home)]
    out.extend(_from_waypoint(i + 1, wp, MissionType.MISSION) for i, wp in enumerate(mission.items))
    return out


def _fence_point(seq: int, command: int, point: GeoPoint, param1: float, param2: float = 0.0) -> WireItem:
    return WireItem(
        seq=seq,
        frame=MavFrame.GLOBAL,
        command=command,
        param1=param1,
        param2=param2,
        x=round(point.latitude_deg * 1e7),
        y=round(point.longitude_deg * 1e7),
        mission_type=MissionType.FENCE,
    )


def fence_to_wire(fence: Geofence) -> list[WireItem]:
    """The fence list: polygon vertices (param1 = vertex count), circles (param1 = radius), return point."""
    out: list[WireItem] = []
    for polygon in fence.polygons:
        cmd = (
            MavCmd.NAV_FENCE_POLYGON_VERTEX_INCLUSION
            if polygon.inclusion
            else MavCmd.NAV_FENCE_POLYGON_VERTEX_EXCLUSION
        )
        count = len(polygon.vertices)
        for vertex in polygon.vertices:
            out.append(_fence_point(len(out), cmd, vertex, float(count)))
    for circle in fence.circles:
        cmd = MavCmd.NAV_FENCE_CIRCLE_INCLUSION if circle.inclusion else MavCmd.NAV_FENCE_CIRCLE_EXCLUSION
        out.append(_fence_point(len(out), cmd, circle.center, circle.radius_m))
    if fence.return_point is not None:
        out.append(_fence_point(len(out), MavCmd.NAV_FENCE_RETURN_POINT, fence.return_point, 0.0))
    return out


def rally_to_wire(points: Sequence[GeoPoint]) -> list[WireItem]:
    """The rally list: one NAV_RALLY_POINT per point, altitude relative to home in whole metres
    (ArduPilot keeps a rally altitude as an int16 of metres: 42.5 m would read back as 42)."""
    return [
        WireItem(
            seq=i,
            frame=MavFrame.GLOBAL_RELATIVE_ALT_INT,
            command=MavCmd.NAV_RALLY_POINT,
            x=round(p.latitude_deg * 1e7),
            y=round(p.longitude_deg * 1e7),
            z=float(round(p.altitude_m)),
            mission_type=MissionType.RALLY,
        )
        for i, p in enumerate(points)
    ]


def wire_to_mission(items: Sequence[WireItem], name: str = "") -> Mission:
    """A downloaded mission list as a :class:`Mission` (home from seq 0)."""
    if not items:
        return Mission(home=GeoPoint(0.0, 0.0, 0.0), items=(), name=name)
    home_wire = items[0]
    home = GeoPoint(home_wire.latitude_deg, home_wire.longitude_deg, home_wire.z)
    return Mission(home=home, items=tuple(it.to_waypoint() for it in items[1:]), name=name)


def wire_to_fence(items: Sequence[WireItem]) -> Geofence:
    """A downloaded fence list as a :class:`Geofence` (polygons split by their vertex counts)."""
    polygons: list[FencePolygon] = []
    circles: list[FenceCircle] = []
    return_point: GeoPoint | None = None
    i = 0
    while i < len(items):
        it = items[i]
        point = GeoPoint(it.latitude_deg, it.longitude_deg, 0.0)
        if it.command in (MavCmd.NAV_FENCE_POLYGON_VERTEX_INCLUSION, MavCmd.NAV_FENCE_POLYGON_VERTEX_EXCLUSION):
            count = max(round(it.param1), 1)
            block = items[i : i + count]
            vertices = tuple(GeoPoint(b.latitude_deg, b.longitude_deg, 0.0) for b in block)
            polygons.append(FencePolygon(it.command == MavCmd.NAV_FENCE_POLYGON_VERTEX_INCLUSION, vertices))
            i += len(block)
            continue
        if it.command in (MavCmd.NAV_FENCE_CIRCLE_INCLUSION, MavCmd.NAV_FENCE_CIRCLE_EXCLUSION):
            circles.append(FenceCircle(it.command == MavCmd.NAV_FENCE_CIRCLE_INCLUSION, point, it.param1))
        elif it.command == MavCmd.NAV_FENCE_RETURN_POINT:
            return_point = point
        i += 1
    return Geofence(tuple(polygons), tuple(circles), return_point)


def wire_to_rally(items: Sequence[WireItem]) -> tuple[GeoPoint, ...]:
    """A downloaded rally list as points (altitude relative to home)."""
    return tuple(GeoPoint(it.latitude_deg, it.longitude_deg, it.z) for it in items)


# Parameters a vehicle is known to keep for each command; the others may come back as 0
# (ArduPilot stores missions compactly and drops the parameters Copter does not use).
_KEPT_PARAMS: dict[int, tuple[int, ...]] = {
    MavCmd.NAV_WAYPOINT: (1,),
    MavCmd.NAV_SPLINE_WAYPOINT: (1,),
    MavCmd.NAV_LOITER_UNLIM: (),
    MavCmd.NAV_LOITER_TIME: (1,),
    MavCmd.NAV_LOITER_TURNS: (1,),
    MavCmd.NAV_RETURN_TO_LAUNCH: (),
    MavCmd.NAV_LAND: (),
    MavCmd.NAV_TAKEOFF: (),
    MavCmd.DO_CHANGE_SPEED: (2,),
    MavCmd.DO_JUMP: (1, 2),
    MavCmd.DO_SET_ROI_NONE: (),
    MavCmd.DO_SET_ROI_LOCATION: (),
    MavCmd.NAV_FENCE_POLYGON_VERTEX_INCLUSION: (1,),
    MavCmd.NAV_FENCE_POLYGON_VERTEX_EXCLUSION: (1,),
    MavCmd.NAV_FENCE_CIRCLE_INCLUSION: (1,),
    MavCmd.NAV_FENCE_CIRCLE_EXCLUSION: (1,),
    MavCmd.NAV_FENCE_RETURN_POINT: (),
    MavCmd.NAV_RALLY_POINT: (),
}

# The _INT frames and their float twins mean the same altitude reference.
_FRAME_CLASS: dict[int, int] = {
    MavFrame.GLOBAL: 0,
    MavFrame.GLOBAL_INT: 0,
    MavFrame.GLOBAL_RELATIVE_ALT: 3,
    MavFrame.GLOBAL_RELATIVE_ALT_INT: 3,
    MavFrame.GLOBAL_TERRAIN_ALT: 10,
    MavFrame.GLOBAL_TERRAIN_ALT_INT: 10,
}

ALTITUDE_TOLERANCE_M = 0.02  # ArduPilot keeps altitudes in centimetres
POSITION_TOLERANCE_E7 = 1  # one unit of degrees * 1e7 (about 1 cm)


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-3)


def item_differences(sent: WireItem, got: WireItem) -> list[str]:
    """What differs between an uploaded item and the one read back, within the vehicle's precision.

    Returns an empty list when they match. Home (mission seq 0) is not compared here.
    """
    diffs: list[str] = []
    if sent.command != got.command:
        return [f"command {sent.command} != {got.command}"]
    positioned = Waypoint(command=sent.command).has_position
    if positioned:
        if _FRAME_CLASS.get(sent.frame, sent.frame) != _FRAME_CLASS.get(got.frame, got.frame):
            diffs.append(f"frame {sent.frame} != {got.frame}")
        is_fence = sent.mission_type == MissionType.FENCE
        no_location = sent.command == MavCmd.NAV_TAKEOFF and sent.x == 0 and sent.y == 0
        if not no_location and (
            abs(sent.x - got.x) > POSITION_TOLERANCE_E7 or abs(sent.y - got.y) > POSITION_TOLERANCE_E7
        ):
            diffs.append(f"position ({sent.x}, {sent.y}) != ({got.x}, {got.y})")
        if not is_fence and abs(sent.z - got.z) > ALTITUDE_TOLERANCE_M:
            diffs.append(f"altitude {sent.z:.2f} != {got.z:.2f}")
    kept = _KEPT_PARAMS.get(sent.command, (1, 2, 3, 4))
    for index in kept:
        a = getattr(sent, f"param{index}")
        b = getattr(got, f"param{index}")
        if not _close(a, b):
            diffs.append(f"param{index} {a:g} != {b:g}")
    return diffs


def list_differences(sent: Sequence[WireItem], got: Sequence[WireItem], skip_home: bool) -> list[str]:
    """Every difference between two lists, one string per item at fault (``seq N: ...``)."""
    if len(sent) != len(got):
        return [f"count {len(sent)} != {len(got)}"]
    out = []
    for a, b in zip(sent, got, strict=True):
        if skip_home and a.seq == 0:
            continue
        diffs = item_differences(a, b)
        if diffs:
            out.append(f"seq {a.seq}: " + ", ".join(diffs))
    return out


def renumber(items: Sequence[WireItem], mission_type: int) -> list[WireItem]:
    """The same items with seq 0..N-1 and the given mission type."""
    return [replace(it, seq=i, mission_type=mission_type) for i, it in enumerate(items)]


def describe_item(item: WireItem) -> str:
    """``item`` in a few words for a message: its number, command and, when it has one, its position."""
    try:
        name = MavCmd(item.command).name
    except ValueError:
        name = f"command {item.command}"
    where = ""
    if item.x or item.y or Waypoint(command=item.command).has_position:
        where = f" at {item.latitude_deg:.7f}, {item.longitude_deg:.7f}, {item.z:g} m"
    return f"item {item.seq} ({name}{where}, frame {item.frame})"
