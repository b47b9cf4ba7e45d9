"""Missions the controller tests fly and transfer (shared with tests/sitl)."""

from __future__ import annotations

from pathlib import Path

from drone_patrol.core.geo import destination
from drone_patrol.core.types import (
    FenceCircle,
    FencePolygon,
    Geofence,
    GeoPoint,
    MavCmd,
    MavFrame,
    Mission,
    Waypoint,
)

ROOT = Path(__file__).resolve().parents[2]
AREAS = ROOT / "flight_plans" / "guilin_dongxi_xiang.geojson"
#: the area file's home feature (dongxi-police-post) at the site's ground altitude
HOME = GeoPoint(25.2821593, 110.296202, 150.0)
#: the simulated quad draws what SITL's default one does (about 28 A); with ArduPilot's default
#: 3300 mAh pack that is 7 minutes of flight, so the sample patrol flies on a 10 Ah pack (about 20 minutes)
PATROL_PACK = {"BATT_CAPACITY": 10000.0}


def _round(point: GeoPoint, altitude_m: float = 0.0) -> GeoPoint:
    """``point`` on the 1e-7 degree grid MISSION_ITEM_INT carries, so read-backs compare equal."""
    return GeoPoint(round(point.latitude_deg, 7), round(point.longitude_deg, 7), altitude_m)


def _wp(point: GeoPoint, altitude_m: float) -> Waypoint:
    p = _round(point)
    return Waypoint(
        MavCmd.NAV_WAYPOINT, latitude_deg=p.latitude_deg, longitude_deg=p.longitude_deg, altitude_m=altitude_m
    )


def _rally(point: GeoPoint, altitude_m: float) -> GeoPoint:
    return _round(point, altitude_m)


def fence_around(home: GeoPoint, half_size_m: float = 400.0) -> Geofence:
    """A square inclusion fence around home and a small exclusion circle off to the north-east."""
    corners = tuple(_round(destination(home, bearing, half_size_m * 2**0.5)) for bearing in (45, 135, 225, 315))
    return Geofence(
        polygons=(FencePolygon(True, corners),),
        circles=(FenceCircle(False, _round(destination(home, 30.0, 300.0)), 25.0),),
        return_point=_round(destination(home, 180.0, 20.0)),
    )


def small_mission(home: GeoPoint = HOME, altitude_m: float = 20.0, legs: int = 4, leg_m: float = 60.0) -> Mission:
    """Takeoff, a few waypoints around home, a speed change, RTL; with fence and rally points."""
    items = [Waypoint(MavCmd.NAV_TAKEOFF, altitude_m=altitude_m)]
    items.append(Waypoint(MavCmd.DO_CHANGE_SPEED, frame=MavFrame.MISSION, param1=1, param2=8.0, param3=-1))
    for i in range(legs):
        items.append(_wp(destination(home, 90.0 * i, leg_m), altitude_m))
    items.append(Waypoint(MavCmd.NAV_RETURN_TO_LAUNCH, frame=MavFrame.MISSION))
    return Mission(
        home=home,
        items=tuple(items),
        fence=fence_around(home),
        rally_points=(_rally(destination(home, 270.0, 50.0), 25.0), _rally(destination(home, 180.0, 80.0), 30.0)),
        cruise_speed_m_s=8.0,
        name="small",
    )


def big_mission(count: int, home: GeoPoint = HOME) -> Mission:
    """``count`` items: takeoff then a lawnmower of waypoints within 200 m of home."""
    items = [Waypoint(MavCmd.NAV_TAKEOFF, altitude_m=30.0)]
    for i in range(count - 1):
        row, col = divmod(i, 25)
        point = destination(destination(home, 0.0, 8.0 * row - 100.0), 90.0, 8.0 * (col if row % 2 == 0 else 24 - col))
        items.append(_wp(point, 30.0 + (i % 7)))
    return Mission(home=home, items=tuple(items), name=f"big-{count}")


def patrol_mission(speed_m_s: float = 8.0) -> Mission:
    """The first sortie the planner makes of the sample areas (needs drone_patrol.planner)."""
    from drone_patrol.core.config import CameraConfig, PlannerConfig
    from drone_patrol.mission import load_areas
    from drone_patrol.planner import plan_patrol

    areas = load_areas(AREAS)
    result = plan_patrol(areas, PlannerConfig(speed_m_s=speed_m_s), CameraConfig())
    return result.sorties[0]


def landed_near_home_or_rally(position: GeoPoint, mission: Mission, tolerance_m: float = 2.0) -> bool:
    """True when ``position`` is within ``tolerance_m`` of home or of a rally point (RTL goes to the nearest)."""
    from drone_patrol.core.geo import distance_m

    targets = (mission.home, *mission.rally_points)
    return min(distance_m(position, t) for t in targets) < tolerance_m
