"""From a flown path in local metres to the mission items, geofence and rally points ArduPilot expects."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import shapely
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry

from drone_patrol.core.geo import LocalFrame
from drone_patrol.core.types import (
    AreaSpan,
    FenceCircle,
    FencePolygon,
    Geofence,
    GeoPoint,
    MavCmd,
    MavFrame,
    Waypoint,
)

#: ArduPilot keeps fence points in a small store; stay well inside it
MAX_FENCE_VERTICES = 60
#: fence items a flight controller keeps: ArduCopter SITL and common boards say "Only 70/46 items
#: are supported" (fence/rally); an upload past it fails with MAV_MISSION_NO_SPACE
FENCE_ITEMS_BUDGET = 70
_SPEED_TYPE_GROUND = 1.0


@dataclass(frozen=True, slots=True)
class RoutePoint:
    """A point of the route in local metres with what applies on the leg to it."""

    x: float
    y: float
    altitude_m: float
    speed_m_s: float
    area: str | None = None
    roi: tuple[float, float] | None = None
    transit: bool = False


def _q(v: float) -> float:
    """Degrees as the vehicle stores them (1e-7 steps)."""
    return round(v * 1e7) / 1e7


class ItemWriter:
    """Emits mission items for route points, adding DO_CHANGE_SPEED and ROI items where they change."""

    def __init__(self, frame: LocalFrame) -> None:
        self.frame = frame
        self.items: list[Waypoint] = []
        self.areas: list[str | None] = []
        self.speed: float | None = None
        self.roi: tuple[float, float] | None = None

    def _add(self, w: Waypoint, area: str | None) -> None:
        self.items.append(w)
        self.areas.append(area)

    def latlon(self, x: float, y: float) -> tuple[float, float]:
        """WGS84 (lat, lon) of a local point, quantised to 1e-7 degrees."""
        lon, lat = self.frame.en_to_lonlat([(x, y)])[0]
        return _q(float(lat)), _q(float(lon))

    def takeoff(self, altitude_m: float) -> None:
        """NAV_TAKEOFF over home (ArduCopter climbs where it stands)."""
        lat, lon = self.latlon(0.0, 0.0)
        self._add(
            Waypoint(
                MavCmd.NAV_TAKEOFF,
                MavFrame.GLOBAL_RELATIVE_ALT_INT,
                latitude_deg=lat,
                longitude_deg=lon,
                altitude_m=round(altitude_m, 2),
            ),
            None,
        )

    def set_speed(self, speed_m_s: float, area: str | None, force: bool = False) -> None:
        """DO_CHANGE_SPEED (ground speed) when the speed differs from the current one."""
        if force or self.speed is None or abs(speed_m_s - self.speed) > 1e-6:
            self._add(Waypoint(MavCmd.DO_CHANGE_SPEED, MavFrame.MISSION, _SPEED_TYPE_GROUND, speed_m_s, -1.0), area)
            self.speed = speed_m_s

    def set_roi(self, roi: tuple[float, float] | None, area: str | None, force: bool = False) -> None:
        """DO_SET_ROI_LOCATION on the orbit centre (ground level), or DO_SET_ROI_NONE when it ends."""
        if not force and roi == self.roi:
            return
        if roi is None:
            self._add(Waypoint(MavCmd.DO_SET_ROI_NONE, MavFrame.MISSION), area)
        else:
            lat, lon = self.latlon(*roi)
            self._add(
                Waypoint(
                    MavCmd.DO_SET_ROI_LOCATION,
                    MavFrame.GLOBAL_RELATIVE_ALT_INT,
                    latitude_deg=lat,
                    longitude_deg=lon,
                    altitude_m=0.0,
                ),
                area,
            )
        self.roi = roi

    def waypoint(self, p: RoutePoint, force_state: bool = False) -> None:
        """The DO items the point needs, then its NAV_WAYPOINT."""
        # at a loop's start both are set whatever the last lap left: a lap ending on an orbit
        # would otherwise keep the camera on its centre through the next lap's sweep
        self.set_roi(p.roi, p.area, force=force_state)
        self.set_speed(p.speed_m_s, p.area, force=force_state)
        lat, lon = self.latlon(p.x, p.y)
        w = Waypoint(
            MavCmd.NAV_WAYPOINT,
            MavFrame.GLOBAL_RELATIVE_ALT_INT,
            latitude_deg=lat,
            longitude_deg=lon,
            altitude_m=round(p.altitude_m, 2),
        )
        if self.items and self.items[-1] == w:
            return
        self._add(w, p.area)

    def jump(self, target_seq: int, repeat: int) -> None:
        """DO_JUMP to uploaded sequence number ``target_seq``, ``repeat`` times (-1 forever)."""
        self._add(Waypoint(MavCmd.DO_JUMP, MavFrame.MISSION, float(target_seq), float(repeat)), None)

    def rtl(self) -> None:
        """Release the ROI if one is set, then RETURN_TO_LAUNCH."""
        self.set_roi(None, None)
        self._add(Waypoint(MavCmd.NAV_RETURN_TO_LAUNCH, MavFrame.MISSION), None)

    def spans(self) -> tuple[AreaSpan, ...]:
        """Per run of items of one key area, the uploaded seqs (index + 1) during which the vehicle is over it.

        The leg to an area's first waypoint is still transit, so a span starts at
        the item after that waypoint (or at the waypoint itself when it is the only one).
        """
        out: list[AreaSpan] = []
        runs: list[tuple[str, int, int]] = []
        for i, name in enumerate(self.areas):
            if name is None:
                continue
            if runs and runs[-1][0] == name and runs[-1][2] == i - 1:
                runs[-1] = (name, runs[-1][1], i)
            else:
                runs.append((name, i, i))
        for name, lo, hi in runs:
            entry = next((i for i in range(lo, hi + 1) if self.items[i].command == MavCmd.NAV_WAYPOINT), lo)
            first = entry + 1 if entry < hi else entry
            out.append(AreaSpan(name, first + 1, hi + 1))
        return tuple(out)


def _open_ring(frame: LocalFrame, poly: Polygon) -> tuple[GeoPoint, ...]:
    lonlat = frame.en_to_lonlat(list(poly.exterior.coords)[:-1])
    return tuple(GeoPoint(_q(float(lat)), _q(float(lon))) for lon, lat in lonlat)


def inclusion_polygon(route: Sequence[LineString], areas: Sequence[BaseGeometry], margin_m: float) -> Polygon:
    """One simple polygon around the routes and the areas, ``margin_m`` outside them."""
    parts = [g.buffer(margin_m, quad_segs=4) for g in [*route, *areas] if not g.is_empty]
    union = shapely.union_all(parts)
    polys = [g for g in getattr(union, "geoms", [union]) if isinstance(g, Polygon)]
    shell = Polygon(max(polys, key=lambda p: p.area).exterior) if len(polys) == 1 else union.convex_hull
    if not isinstance(shell, Polygon):
        shell = Point(0, 0).buffer(margin_m)
    tol = margin_m / 10.0
    out = shell.buffer(tol).simplify(tol)
    while len(out.exterior.coords) - 1 > MAX_FENCE_VERTICES and tol < margin_m / 2.0:
        tol *= 1.5
        out = shell.buffer(tol).simplify(tol)
    if len(out.exterior.coords) - 1 > MAX_FENCE_VERTICES or not isinstance(out, Polygon):
        out = shell.convex_hull.buffer(tol).simplify(tol)
    return out


def fit_exclusions(
    inclusion: Polygon, exclusions: Sequence[Polygon], circles: int, max_grow_m: float
) -> tuple[list[Polygon], str | None]:
    """The no-fly polygons with fewer vertices until the fence fits :data:`FENCE_ITEMS_BUDGET`:
    each is grown by a tolerance and simplified by it (it still covers its zone), the tolerance
    rising to ``max_grow_m`` (half the route's margin: the routes stay clear of the grown fence).
    Returns them and, when even that does not fit, the warning to give."""

    def items(polys: Sequence[Polygon]) -> int:
        return len(inclusion.exterior.coords) - 1 + sum(len(p.exterior.coords) - 1 for p in polys) + circles

    out = list(exclusions)
    tol = 0.5
    while items(out) > FENCE_ITEMS_BUDGET and tol <= max_grow_m:
        out = []
        for p in exclusions:
            grown = p.buffer(tol).simplify(tol)  # round joins: no farther than tol from the zone
            out.append(
                grown if isinstance(grown, Polygon) and len(grown.exterior.coords) < len(p.exterior.coords) else p
            )
        tol *= 1.5
    if items(out) > FENCE_ITEMS_BUDGET:
        return out, (
            f"the geofence needs {items(out)} items and many flight controllers keep {FENCE_ITEMS_BUDGET} "
            "(the upload would fail with NO_SPACE): draw the no-fly zones with fewer corners"
        )
    return out, None


def geofence(
    frame: LocalFrame,
    inclusion: Polygon,
    nofly_polygons: Sequence[Polygon],
    nofly_circles: Sequence[tuple[Point, float]],
) -> Geofence:
    """The Geofence: the inclusion polygon, no-fly polygons and circles as exclusions."""
    polys = [FencePolygon(True, _open_ring(frame, inclusion))]
    polys += [FencePolygon(False, _open_ring(frame, p)) for p in nofly_polygons]
    circles = []
    for centre, radius in nofly_circles:
        lon, lat = frame.en_to_lonlat([(centre.x, centre.y)])[0]
        circles.append(FenceCircle(False, GeoPoint(_q(float(lat)), _q(float(lon))), radius))
    return Geofence(polygons=tuple(polys), circles=tuple(circles))
