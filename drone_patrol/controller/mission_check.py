"""Checking a mission against the vehicle and the site before it is sent.

Run for ``fly`` (dry run or not) and ``mission upload``, before a single item goes on
the wire: a mission with no items, an altitude above the ceiling the preflight sets
(FENCE_ALT_MAX) or below home, a waypoint outside the uploaded geofence or the home
circle (FENCE_RADIUS), a point further from home than a full battery can fly out and
back, a planned home far from the vehicle's, or a resume index that is not an item.
:func:`mission_problems` is the pure decision; :func:`check_mission` asks the vehicle
for its home and raises one :class:`PreflightError` listing every reason.
"""

from __future__ import annotations

from collections.abc import Sequence

from shapely.geometry import Point, Polygon

from drone_patrol.controller.preflight import HOME_TOLERANCE_M, fence_type_for
from drone_patrol.controller.vehicle import Vehicle
from drone_patrol.core.config import ControllerConfig
from drone_patrol.core.errors import PreflightError
from drone_patrol.core.geo import LocalFrame, distance_m
from drone_patrol.core.types import GeoPoint, MavCmd, MavFrame, Mission, Waypoint
from drone_patrol.mission.items import item_problem

__all__ = ["check_mission", "max_range_m", "mission_problems"]

#: how long (wall seconds) a check waits for a vehicle that has not reported its home yet
HOME_WAIT_S = 3.0
#: frames whose altitude is above mean sea level rather than above home or terrain
_AMSL_FRAMES = frozenset({MavFrame.GLOBAL, MavFrame.GLOBAL_INT})
_FENCE_CIRCLE = 2
_FENCE_ZONES = 4


def max_range_m(mission: Mission, config: ControllerConfig) -> float:
    """The furthest a point may be from home: half of what a full battery flies at the mission's speed."""
    return config.flight_time_s * mission.cruise_speed_m_s / 2.0


def height_above_home_m(w: Waypoint, home: GeoPoint) -> float:
    """The height above home of a waypoint's altitude (AMSL frames less home's altitude)."""
    return w.altitude_m - home.altitude_m if w.frame in _AMSL_FRAMES else w.altitude_m


def _label(seq: int, w: Waypoint) -> str:
    try:
        name = MavCmd(w.command).name
    except ValueError:
        name = f"command {w.command}"
    return f"item {seq} ({name})"


def mission_problems(
    mission: Mission,
    config: ControllerConfig,
    *,
    vehicle_home: GeoPoint | None = None,
    resume_from_seq: int | None = None,
) -> list[str]:
    """Every reason not to send ``mission`` to a vehicle set up by ``config`` (empty when it may go)."""
    problems: list[str] = []
    items = mission.items
    if not items:
        return ["the mission has no items"]
    if resume_from_seq is not None and not 1 <= resume_from_seq <= len(items):
        problems.append(f"resume from item {resume_from_seq}: the mission has items 1..{len(items)}")
    home = mission.home
    if vehicle_home is not None:
        offset = distance_m(vehicle_home, home)
        if offset > HOME_TOLERANCE_M:
            problems.append(
                f"planned home ({home.latitude_deg:.6f}, {home.longitude_deg:.6f}) is {_km(offset)} from the "
                f"vehicle's home ({vehicle_home.latitude_deg:.6f}, {vehicle_home.longitude_deg:.6f})"
            )
    fs = config.failsafe
    ceiling = fs.fence_alt_max_m
    reach = max_range_m(mission, config)
    fence_type = fence_type_for(mission, config) if fs.fence_enable else 0
    zones = _zones(mission, home) if fence_type & _FENCE_ZONES else ([], [])
    frame = LocalFrame(home) if zones[0] else None
    for seq, w in enumerate(items, start=1):
        label = _label(seq, w)
        wrong = item_problem(w)  # NaN or out-of-range fields cannot even be put on the wire
        if wrong:
            problems.append(f"{label}: {wrong}")
            continue
        if not w.has_position:
            continue
        height = height_above_home_m(w, home)
        if height > ceiling:
            problems.append(f"{label}: altitude {height:g} m above home is over the {ceiling:g} m ceiling")
        elif height < 0 and w.command != MavCmd.NAV_LAND:
            problems.append(f"{label}: altitude {height:g} m is below home")
        if w.latitude_deg == 0 and w.longitude_deg == 0:
            continue  # ArduPilot: no position given, the vehicle uses where it is
        point = GeoPoint(w.latitude_deg, w.longitude_deg)
        far = distance_m(home, point)
        if far > reach:
            problems.append(
                f"{label}: {_km(far)} from home, beyond the {_km(reach)} a full battery flies out and back "
                f"({config.flight_time_s:g} s at {mission.cruise_speed_m_s:g} m/s)"
            )
            continue
        if fence_type & _FENCE_CIRCLE and far > fs.fence_radius_m:
            problems.append(f"{label}: {far:.0f} m from home, outside the {fs.fence_radius_m:g} m fence circle")
        outside = _fence_breach(frame, point, *zones)
        if outside:
            problems.append(f"{label}: {outside}")
    return problems


def _km(metres: float) -> str:
    return f"{metres / 1000:.1f} km" if metres >= 1000 else f"{metres:.0f} m"


def _zones(mission: Mission, home: GeoPoint) -> tuple[list[tuple[bool, Polygon]], list[tuple[bool, GeoPoint, float]]]:
    frame = LocalFrame(home)
    polys = []
    for p in mission.fence.polygons:
        en = frame.lonlat_to_en([(v.longitude_deg, v.latitude_deg) for v in p.vertices])
        polys.append((p.inclusion, Polygon(en).buffer(0)))
    circles = [(c.inclusion, c.center, c.radius_m) for c in mission.fence.circles]
    return polys, circles


def _fence_breach(
    frame: LocalFrame | None,
    point: GeoPoint,
    polygons: Sequence[tuple[bool, Polygon]],
    circles: Sequence[tuple[bool, GeoPoint, float]],
) -> str | None:
    here = Point(0.0, 0.0)
    if frame is not None:
        east, north = frame.lonlat_to_en([(point.longitude_deg, point.latitude_deg)])[0]
        here = Point(east, north)
    for n, (inclusion, poly) in enumerate(polygons, start=1):
        inside = poly.buffer(0.5).contains(here)  # 0.5 m: points planned on the edge itself
        if inclusion and not inside:
            return f"outside inclusion fence polygon {n}"
        if not inclusion and poly.contains(here):
            return f"inside exclusion fence polygon {n}"
    for n, (inclusion, centre, radius) in enumerate(circles, start=1):
        d = distance_m(centre, point)
        if inclusion and d > radius + 0.5:
            return f"outside inclusion fence circle {n} ({d:.0f} m from its centre, radius {radius:g} m)"
        if not inclusion and d < radius:
            return f"inside exclusion fence circle {n}"
    return None


def check_mission(
    vehicle: Vehicle, mission: Mission, config: ControllerConfig, resume_from_seq: int | None = None
) -> None:
    """Raise :class:`PreflightError` naming every problem of ``mission`` on ``vehicle`` (see module doc)."""
    state = vehicle.wait_for(lambda s: s.home is not None, HOME_WAIT_S)
    home = state.home if state is not None else vehicle.state.home
    problems = mission_problems(mission, config, vehicle_home=home, resume_from_seq=resume_from_seq)
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise PreflightError(f"mission check {mission.name or 'mission'}: {shown}")
