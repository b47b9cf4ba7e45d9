"""Resuming a sortie at an item, with a way there that obeys the fence and the no-fly zones.

ArduCopter started at item N (DO_SET_MISSION_CURRENT) flies straight from where it took
off to item N. On a concave district, or with a no-fly zone between home and item N,
that line leaves the inclusion fence or crosses the zone (and an RTL from it may too).
So a resumed sortie is uploaded as a mission of its own: take-off, the way to item N
along the planned route (cut short wherever a straight line is clear: inside the
inclusion fence, ``CLEARANCE_M`` away from every exclusion, and with its own straight
RTL returns clear as well, see ``core/rtl.py``), then the items from N on, after the
speed and camera-ROI items the skipped part had set. The way back home is the
mission's own. :class:`ResumedMission` maps the uploaded sequence numbers back, so the
report names the items of the sortie as planned.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import shapely
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry

from drone_patrol.controller.report import PatrolReport
from drone_patrol.core.geo import LocalFrame
from drone_patrol.core.rtl import RALLY_LIMIT_M, blocked, outside, return_paths, rtl_targets
from drone_patrol.core.types import AreaSpan, MavCmd, MavFrame, Mission, Waypoint

#: how far a resume leg keeps from an exclusion zone (half the planner's default no-fly margin)
CLEARANCE_M = 5.0
_SAMPLE_M = 10.0
_STATE_COMMANDS = (MavCmd.DO_CHANGE_SPEED, MavCmd.DO_SET_ROI_LOCATION, MavCmd.DO_SET_ROI_NONE)


@dataclass(frozen=True)
class ResumedMission:
    """The mission to upload and how its sequence numbers map to the planned ones."""

    mission: Mission
    start_seq: int  # planned seq of the first resumed item
    first_uploaded: int  # its uploaded seq
    approach: int  # approach waypoints before it

    def original(self, uploaded: int) -> int | None:
        """The planned seq of an uploaded one (None for the take-off and the way there)."""
        return uploaded - self.first_uploaded + self.start_seq if uploaded >= self.first_uploaded else None

    def report(self, report: PatrolReport) -> PatrolReport:
        """``report`` in the planned sequence numbers."""
        reached = tuple(s for s in (self.original(q) for q in report.reached_seqs) if s is not None)
        resume = report.resume_seq
        if resume is not None:
            resume = self.original(resume) or self.start_seq
        total = sum(1 for w in self.mission.items[self.first_uploaded - 1 :] if w.command < 100)
        return replace(
            report,
            reached_seqs=reached,
            last_reached_seq=max(reached, default=-1),
            resume_seq=resume,
            waypoints_total=total,
        )


class _Geometry:
    def __init__(self, mission: Mission) -> None:
        self.frame = LocalFrame(mission.home)
        incl = [self._poly(p.vertices) for p in mission.fence.polygons if p.inclusion]
        incl += [self._circle(c.center, c.radius_m) for c in mission.fence.circles if c.inclusion]
        self.inclusion: BaseGeometry = shapely.union_all(incl) if incl else Polygon()
        excl = [self._poly(p.vertices) for p in mission.fence.polygons if not p.inclusion]
        excl += [self._circle(c.center, c.radius_m) for c in mission.fence.circles if not c.inclusion]
        zones = shapely.union_all(excl) if excl else Polygon()
        self.obstacles = zones.buffer(CLEARANCE_M) if not zones.is_empty else zones
        self.rally = np.array([self.xy(p.latitude_deg, p.longitude_deg) for p in mission.rally_points]).reshape(-1, 2)

    def xy(self, lat: float, lon: float) -> tuple[float, float]:
        e, n = self.frame.lonlat_to_en([(lon, lat)])[0]
        return float(e), float(n)

    def _poly(self, vertices: tuple) -> Polygon:  # type: ignore[type-arg]
        return Polygon([self.xy(v.latitude_deg, v.longitude_deg) for v in vertices])

    def _circle(self, centre: object, radius_m: float) -> BaseGeometry:
        return Point(self.xy(centre.latitude_deg, centre.longitude_deg)).buffer(radius_m)  # type: ignore[attr-defined]

    def clear(self, a: tuple[float, float], b: tuple[float, float]) -> bool:
        """The straight leg a -> b and every RTL from it stay inside the fence and clear of exclusions."""
        if a == b:
            return True
        leg = LineString([a, b])
        if not self.inclusion.is_empty and not self.inclusion.covers(leg):
            return False
        if not self.obstacles.is_empty and self.obstacles.intersects(leg):
            return False
        n = max(1, int(leg.length / _SAMPLE_M))
        pts = np.array([a]) + np.linspace(0.0, 1.0, n + 1)[:, None] * (np.array(b) - np.array(a))
        paths = return_paths(pts, rtl_targets(pts, self.rally, RALLY_LIMIT_M), self.rally, RALLY_LIMIT_M)
        return not (blocked(paths, self.obstacles).any() or outside(paths, self.inclusion).any())


def resume_mission(mission: Mission, start_seq: int) -> ResumedMission:
    """``mission`` resumed at planned item ``start_seq`` (1-based, home is 0)."""
    items = mission.items
    start = max(1, min(start_seq, len(items)))
    geo = _Geometry(mission)
    route: list[tuple[tuple[float, float], float]] = [((0.0, 0.0), 0.0)]  # (xy, altitude) from home
    state: dict[int, Waypoint] = {}
    for w in items[: start - 1]:
        if w.command in _STATE_COMMANDS:
            state[MavCmd.DO_CHANGE_SPEED if w.command == MavCmd.DO_CHANGE_SPEED else MavCmd.DO_SET_ROI_NONE] = w
        elif w.command == MavCmd.NAV_WAYPOINT:
            route.append((geo.xy(w.latitude_deg, w.longitude_deg), w.altitude_m))
    target = next((w for w in items[start - 1 :] if w.command == MavCmd.NAV_WAYPOINT), None)
    takeoff = next((w for w in items if w.command == MavCmd.NAV_TAKEOFF), None)
    alt = takeoff.altitude_m if takeoff is not None else (target.altitude_m if target is not None else 20.0)
    prefix: list[Waypoint] = [
        takeoff or Waypoint(MavCmd.NAV_TAKEOFF, MavFrame.GLOBAL_RELATIVE_ALT_INT, altitude_m=alt),
        Waypoint(MavCmd.DO_CHANGE_SPEED, MavFrame.MISSION, 1.0, mission.cruise_speed_m_s, -1.0),
    ]
    approach = 0
    if target is not None:
        goal = geo.xy(target.latitude_deg, target.longitude_deg)
        nodes = [*route, (goal, target.altitude_m)]
        i = 0
        while i < len(nodes) - 1:
            # the farthest node along the route that a clear straight leg reaches (the next one at worst)
            j = next((k for k in range(len(nodes) - 1, i, -1) if geo.clear(nodes[i][0], nodes[k][0])), i + 1)
            if j < len(nodes) - 1:
                (x, y), up = nodes[j]
                lon, lat = geo.frame.en_to_lonlat([(x, y)])[0]
                prefix.append(
                    Waypoint(
                        MavCmd.NAV_WAYPOINT,
                        MavFrame.GLOBAL_RELATIVE_ALT_INT,
                        latitude_deg=round(float(lat), 7),
                        longitude_deg=round(float(lon), 7),
                        altitude_m=max(up, alt),
                    )
                )
                approach += 1
            i = j
    prefix.extend(state[k] for k in (MavCmd.DO_CHANGE_SPEED, MavCmd.DO_SET_ROI_NONE) if k in state)
    first_uploaded = len(prefix) + 1
    shift = start - first_uploaded
    rest = []
    for w in items[start - 1 :]:
        if w.command == MavCmd.DO_JUMP:
            w = replace(w, param1=float(max(int(w.param1) - shift, first_uploaded)))
        rest.append(w)
    spans = tuple(
        AreaSpan(s.area_name, max(s.first_seq, start) - shift, s.last_seq - shift)
        for s in mission.area_spans
        if s.last_seq >= start
    )
    name = f"{mission.name} (resumed at item {start})" if mission.name else f"resumed at item {start}"
    resumed = replace(mission, items=(*prefix, *rest), area_spans=spans, name=name)
    return ResumedMission(resumed, start, first_uploaded, approach)


def approach_points(resumed: ResumedMission) -> list[tuple[float, float]]:
    """(lat, lon) of the way from take-off to the resumed item (for displays and tests)."""
    ws = resumed.mission.items[: resumed.first_uploaded - 1]
    return [(w.latitude_deg, w.longitude_deg) for w in ws if w.command == MavCmd.NAV_WAYPOINT]
