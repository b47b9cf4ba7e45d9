"""Incident rules: which tracks are incidents, and when an incident is new, updated or closed.

Pure decision code over tracks (no images, no I/O):

- thermal hot spot: a confirmed hot track whose peak reaches ``hotspot_alert_c`` and that is
  neither inside a known heat source of the area file (a point with its radius, or a
  polygon, grown by ``heat_source_margin_m`` and the track's uncertainty) nor explained by
  the site's heat baseline; a known or baseline source far hotter than its usual peak
  (``baseline_excess_c``) is an incident again. It closes when its tracks end.
  A hot track that lay on a detected vehicle in at least half of its sightings is vehicle
  heat (a warm engine or hood) and raises nothing below ``vehicle_fire_c`` unless it keeps
  rising (``vehicle_rise_c`` above its first sighting). A track without a temperature (a
  saturated blob of automatic-gain video) is alerted as possible heat with no temperature,
  unless it lies on a vehicle, a known heat source or baseline heat.
- crowd gathering: a DBSCAN cluster (``crowd_eps_m``, ``crowd_core_people``) of confirmed
  people with at least ``crowd_min_people`` within ``crowd_radius_m`` of its centre, that
  has lasted ``crowd_min_duration_s``; updated when its head count changes by a fifth
  (or two people), closed when it has not qualified for ``crowd_close_after_s``.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import MultiPoint, Point
from shapely.geometry.base import BaseGeometry

from drone_patrol.core.camera import CIRCLE_95_SIGMAS
from drone_patrol.core.config.vision import VisionConfig
from drone_patrol.core.geo import LocalFrame
from drone_patrol.core.types import AlertKind, AlertStatus, KeyArea, Severity
from drone_patrol.vision.baseline import HeatBaseline
from drone_patrol.vision.clustering import gather_groups
from drone_patrol.vision.detections import CLASS_HOTSPOT, CLASS_PERSON
from drone_patrol.vision.tracking import GroundTracker, Track


@dataclass
class Incident:
    """One incident as the rules see it (positions in the site's local frame)."""

    incident_id: str
    kind: AlertKind
    en_m: NDArray[np.float64]
    sigma_m: float
    first_seen_s: float
    last_seen_s: float
    confidence: float
    track_ids: set[int] = field(default_factory=set)
    figures: dict[str, Any] = field(default_factory=dict)
    hull_en: NDArray[np.float64] | None = None
    area_name: str | None = None
    severity: Severity = Severity.WARNING
    is_open: bool = True
    last_alert_s: float = -math.inf
    last_alert_figures: dict[str, Any] = field(default_factory=dict)
    last_alert_en: NDArray[np.float64] | None = None
    change_since_s: float | None = None

    @property
    def error_radius_m(self) -> float:
        """Radius of the 95 % circle of the position."""
        return CIRCLE_95_SIGMAS * self.sigma_m


@dataclass(frozen=True)
class IncidentEvent:
    """An incident and what just happened to it."""

    incident: Incident
    status: AlertStatus
    reason: str = ""


@dataclass
class _Gathering:
    members: set[int]
    en_m: NDArray[np.float64]
    first_seen_s: float
    last_qualified_s: float
    incident: Incident | None = None


def _local(geom: BaseGeometry, frame: LocalFrame) -> BaseGeometry:
    return shapely.transform(geom, lambda xy: frame.lonlat_to_en(xy))


def area_shape(area: KeyArea, frame: LocalFrame) -> BaseGeometry:
    """A key area as a local shape: a point grown by its radius, a line by half its width, a polygon as is."""
    g = _local(area.geometry, frame)
    if g.geom_type == "Point":
        return g.buffer(area.radius_m if area.radius_m else 1.0)
    if g.geom_type in ("LineString", "MultiLineString"):
        return g.buffer((area.width_m or 6.0) / 2.0)
    return g


class IncidentRules:
    """Turns the tracker's state into incident events, frame after frame."""

    def __init__(
        self,
        config: VisionConfig,
        frame: LocalFrame,
        heat_sources: Sequence[KeyArea] = (),
        patrol_areas: Sequence[KeyArea] = (),
        baseline: HeatBaseline | None = None,
    ) -> None:
        self.config = config
        self.frame = frame
        self.baseline = baseline
        self.heat_sources = [(a.name, area_shape(a, frame), _usual_peak(a)) for a in heat_sources]
        ordered = sorted(patrol_areas, key=lambda a: a.priority)
        self.patrol_areas = [(a.name, area_shape(a, frame)) for a in ordered]
        self.alert_c = config.hotspot_alert_c if config.hotspot_alert_c is not None else config.hotspot_threshold_c
        self.incidents: dict[str, Incident] = {}
        self._by_track: dict[int, Incident] = {}
        self._gatherings: list[_Gathering] = []
        #: track id -> why it raised nothing (known heat source, baseline)
        self.suppressed: dict[int, str] = {}
        self._verdicts: dict[int, tuple[float, str | None]] = {}
        self._last_crowd_s = -math.inf

    # helpers -------------------------------------------------------------------------------------------------

    def area_at(self, en: NDArray[np.float64]) -> str | None:
        """The highest-priority patrol area containing a local point."""
        p = Point(float(en[0]), float(en[1]))
        for name, shape in self.patrol_areas:
            if shape.covers(p):
                return name
        return None

    def _vehicle_heat(self, t: Track) -> str | None:
        """Why a hot track is a vehicle's ordinary heat (``None`` when it is not, or not on a vehicle)."""
        c = self.config
        if t.vehicle_hits == 0 or 2 * t.vehicle_hits < t.hits:
            return None
        if not math.isfinite(t.peak_c):
            return "vehicle heat (no temperature: automatic-gain video)"
        if t.peak_c >= c.vehicle_fire_c:
            return None
        if math.isfinite(t.first_peak_c) and t.last_peak_c >= t.first_peak_c + c.vehicle_rise_c:
            return None  # still heating up: not an engine cooling down
        return f"vehicle heat ({t.peak_c:.0f} C, below {c.vehicle_fire_c:.0f} C)"

    def _suppression(self, t: Track) -> str | None:
        """Why a hot track is expected heat (``None`` when it is not)."""
        c = self.config
        vehicle = self._vehicle_heat(t)
        if vehicle is not None:
            return vehicle
        p = Point(float(t.en_m[0]), float(t.en_m[1]))
        reach = c.heat_source_margin_m + t.sigma_m
        lat, lon, _ = (float(v) for v in self.frame.to_geodetic(t.en_m[0], t.en_m[1]))
        usual = self.baseline.usual_peak_c(lat, lon, reach) if self.baseline is not None else None
        measured = math.isfinite(t.peak_c)  # a saturated video blob is never 'far hotter than usual'
        for name, shape, known_peak in self.heat_sources:
            if shape.distance(p) <= reach:
                ref = known_peak if known_peak is not None else usual
                if ref is None or not measured or t.peak_c <= ref + c.baseline_excess_c:
                    return f"known heat source {name}"
        if usual is not None and (not measured or t.peak_c <= usual + c.baseline_excess_c):
            return f"baseline heat (usual peak {usual:.0f} C)"
        return None

    def _new(self, kind: AlertKind, en: NDArray[np.float64], sigma: float, first_s: float, now_s: float) -> Incident:
        inc = Incident(
            incident_id=str(uuid.uuid4()),
            kind=kind,
            en_m=en.copy(),
            sigma_m=sigma,
            first_seen_s=first_s,
            last_seen_s=now_s,
            confidence=0.5,
            area_name=self.area_at(en),
        )
        self.incidents[inc.incident_id] = inc
        return inc

    def _due(self, inc: Incident, now_s: float) -> bool:
        return now_s - inc.last_alert_s >= self.config.update_min_interval_s

    def _mark(self, inc: Incident, now_s: float) -> None:
        inc.last_alert_s = now_s
        inc.last_alert_figures = dict(inc.figures)
        inc.last_alert_en = inc.en_m.copy()

    # rules ---------------------------------------------------------------------------------------------------

    def evaluate(self, tracker: GroundTracker, now_s: float) -> list[IncidentEvent]:
        """Events produced by the tracker's current state (call once per processed frame)."""
        events = self._hotspots(tracker, now_s)
        if now_s - self._last_crowd_s >= self.config.crowd_eval_interval_s:
            self._last_crowd_s = now_s
            events += self._crowds(tracker, now_s)
        for ev in events:  # closed incidents are done with: memory stays flat over long patrols
            if ev.status is AlertStatus.CLOSED:
                self.incidents.pop(ev.incident.incident_id, None)
        return events

    def _hotspots(self, tracker: GroundTracker, now_s: float) -> list[IncidentEvent]:
        c = self.config
        events: list[IncidentEvent] = []
        for t in tracker.confirmed(CLASS_HOTSPOT):
            if (math.isfinite(t.peak_c) and t.peak_c < self.alert_c) or t.last_seen_s < now_s:
                continue
            if t.clean_hits == 0 and t.hits < 4 * c.track_confirm_hits:
                continue  # seen only cut by the image border so far: wait for a trustworthy position
            inc = self._by_track.get(t.track_id)
            if inc is None:
                cached = self._verdicts.get(t.track_id)
                if cached is not None and not (t.peak_c > cached[0] + 10.0) and t.vehicle_hits == 0:
                    why = cached[1]
                else:
                    why = self._suppression(t)
                    self._verdicts[t.track_id] = (t.peak_c, why)
                if why is not None:
                    self.suppressed[t.track_id] = why
                    continue
                self.suppressed.pop(t.track_id, None)
                near = [
                    i
                    for i in self.incidents.values()
                    if i.is_open and i.kind is AlertKind.THERMAL_HOTSPOT
                    and float(np.hypot(*(i.en_m - t.en_m))) <= c.track_gate_m + 2 * max(i.sigma_m, t.sigma_m)
                ]  # fmt: skip
                if near:
                    inc = near[0]
                    inc.track_ids.add(t.track_id)
                    self._by_track[t.track_id] = inc
                else:
                    inc = self._new(AlertKind.THERMAL_HOTSPOT, t.en_m, t.sigma_m, t.first_seen_s, now_s)
                    inc.track_ids.add(t.track_id)
                    self._by_track[t.track_id] = inc
            self._fill_hotspot(inc, tracker)
            inc.last_seen_s = now_s
            if inc.last_alert_s == -math.inf:
                self._mark(inc, now_s)
                events.append(IncidentEvent(inc, AlertStatus.NEW, "new heat source"))
            elif self._due(inc, now_s) and self._hotspot_changed(inc):
                self._mark(inc, now_s)
                events.append(IncidentEvent(inc, AlertStatus.UPDATE, "hotter or moved"))
        ended = {t.track_id for t in tracker.pop_ended()}
        for tid in ended:
            self.suppressed.pop(tid, None)
            self._verdicts.pop(tid, None)
        for inc in list(self.incidents.values()):
            if inc.kind is not AlertKind.THERMAL_HOTSPOT or not inc.is_open or not inc.track_ids:
                continue
            if inc.track_ids <= ended | {tid for tid in inc.track_ids if tid not in tracker.tracks}:
                if now_s - inc.last_seen_s < self.config.hotspot_close_after_s:
                    continue  # smoke, a pass of the camera: a track back in time rejoins it (the gate above)
                inc.is_open = False
                for tid in inc.track_ids:
                    self._by_track.pop(tid, None)
                events.append(IncidentEvent(inc, AlertStatus.CLOSED, "no longer seen"))
        return events

    def _fill_hotspot(self, inc: Incident, tracker: GroundTracker) -> None:
        tracks = [tracker.tracks[i] for i in inc.track_ids if i in tracker.tracks]
        if not tracks:
            return
        w = np.array([1.0 / max(t.sigma_m, 0.05) ** 2 * t.hits for t in tracks])
        inc.en_m = (np.array([t.en_m for t in tracks]) * w[:, None]).sum(axis=0) / w.sum()
        inc.sigma_m = min(t.sigma_m for t in tracks)
        peak = float(np.fmax.reduce([t.peak_c for t in tracks]))
        last = float(np.fmax.reduce([t.last_peak_c for t in tracks]))
        hits = sum(t.hits for t in tracks)
        area = float(np.fmax.reduce([t.area_m2 for t in tracks]))
        measured = math.isfinite(peak)
        # a saturated blob of automatic-gain video is heat of unknown temperature: less sure, less severe
        inc.confidence = float(min(0.99 if measured else 0.6, (0.5 if measured else 0.3) + 0.05 * hits))
        inc.figures = {
            "max_temperature_c": round(peak, 1) if measured else None,
            "last_temperature_c": round(last, 1) if math.isfinite(last) else None,
            "area_m2": round(area, 3) if math.isfinite(area) else 0.0,
            "sightings": int(hits),
        }
        if not measured:
            inc.figures["measurement"] = "agc_saturation"
        inc.severity = Severity.CRITICAL if measured and peak >= 250.0 else Severity.WARNING
        inc.area_name = self.area_at(inc.en_m)

    def _hotspot_changed(self, inc: Incident) -> bool:
        old = inc.last_alert_figures.get("max_temperature_c") or 0.0
        new = inc.figures.get("max_temperature_c") or 0.0
        moved = inc.last_alert_en is not None and float(np.hypot(*(inc.en_m - inc.last_alert_en))) > max(
            1.0, inc.sigma_m
        )
        return new >= old + max(20.0, 0.1 * abs(old)) or moved

    def _crowds(self, tracker: GroundTracker, now_s: float) -> list[IncidentEvent]:
        c = self.config
        events: list[IncidentEvent] = []
        # people out of view keep their tracks (they are not missed), but not their place in a crowd
        people = [t for t in tracker.confirmed(CLASS_PERSON) if now_s - t.last_seen_s <= c.crowd_person_recent_s]
        candidates: list[tuple[set[int], NDArray[np.float64], list[Track]]] = []
        if len(people) >= c.crowd_min_people:
            pts = np.array([t.en_m for t in people])
            for idx in gather_groups(pts, c.crowd_eps_m, c.crowd_core_people, c.crowd_radius_m):
                if len(idx) >= c.crowd_min_people:
                    members = [people[k] for k in idx]
                    candidates.append(({t.track_id for t in members}, pts[idx].mean(axis=0), members))
        matched: set[int] = set()
        for ids, centre, members in candidates:
            g = self._match_gathering(ids, centre, matched)
            if g is None:
                g = _Gathering(ids, centre, now_s, now_s)
                self._gatherings.append(g)
            matched.add(id(g))
            g.members, g.en_m, g.last_qualified_s = ids, centre, now_s
            if g.incident is None and now_s - g.first_seen_s >= c.crowd_min_duration_s:
                g.incident = self._new(AlertKind.CROWD_GATHERING, centre, 1.0, g.first_seen_s, now_s)
            if g.incident is not None:
                inc = g.incident
                self._fill_crowd(inc, members, now_s)
                if inc.last_alert_s == -math.inf:
                    self._mark(inc, now_s)
                    events.append(IncidentEvent(inc, AlertStatus.NEW, "people gathering"))
                elif self._due(inc, now_s) and self._crowd_changed(inc, now_s):
                    reason = (
                        "growing" if inc.figures["head_count"] > inc.last_alert_figures["head_count"] else "shrinking"
                    )
                    self._mark(inc, now_s)
                    events.append(IncidentEvent(inc, AlertStatus.UPDATE, reason))
        for g in list(self._gatherings):
            if id(g) in matched:
                continue
            if g.incident is None or now_s - g.last_qualified_s >= c.crowd_close_after_s:
                if g.incident is None and now_s - g.last_qualified_s < 1.0:
                    continue  # a candidate flickering below the threshold for a frame keeps its start time
                self._gatherings.remove(g)
                if g.incident is not None:
                    g.incident.is_open = False
                    events.append(IncidentEvent(g.incident, AlertStatus.CLOSED, "dispersed"))
        return events

    def _match_gathering(self, ids: set[int], centre: NDArray[np.float64], taken: set[int]) -> _Gathering | None:
        best, best_score = None, 0.0
        for g in self._gatherings:
            if id(g) in taken:
                continue
            overlap = len(ids & g.members) / max(1, len(ids | g.members))
            close = float(np.hypot(*(g.en_m - centre))) <= self.config.crowd_radius_m
            score = overlap + (0.5 if close else 0.0)
            if score > best_score and (overlap > 0 or close):
                best, best_score = g, score
        return best

    def _fill_crowd(self, inc: Incident, members: list[Track], now_s: float) -> None:
        pts = np.array([t.en_m for t in members])
        centre = pts.mean(axis=0)
        spread = float(np.sqrt(((pts - centre) ** 2).sum(axis=1).mean()))
        sigma_pose = float(np.median([t.sigma_m for t in members]))
        hull = MultiPoint([tuple(p) for p in pts]).convex_hull.buffer(0.5)
        inc.en_m = centre
        inc.sigma_m = math.sqrt(sigma_pose**2 + spread**2 / len(pts))
        inc.hull_en = np.asarray(hull.exterior.coords)
        inc.last_seen_s = max(t.last_seen_s for t in members)
        inc.track_ids = {t.track_id for t in members}
        n = len(members)
        density = n / max(hull.area, 1e-6)
        inc.figures = {
            "head_count": n,
            "density_per_m2": round(density, 3),
            "radius_m": round(float(np.hypot(*(pts - centre).T).max()), 2),
            "duration_s": round(now_s - inc.first_seen_s, 1),
        }
        inc.confidence = float(min(0.95, 0.5 + 0.03 * n))
        c = self.config
        inc.severity = Severity.CRITICAL if n >= 3 * c.crowd_min_people or density >= 2.0 else Severity.WARNING
        inc.area_name = self.area_at(centre)

    def _crowd_changed(self, inc: Incident, now_s: float) -> bool:
        """A head count a fifth (or two people) off the last alert's, held for 1.5 s (not a passing glitch)."""
        old = inc.last_alert_figures.get("head_count", 0)
        new = inc.figures.get("head_count", 0)
        if abs(new - old) < max(2, math.ceil(0.2 * old)):
            inc.change_since_s = None
            return False
        if inc.change_since_s is None:
            inc.change_since_s = now_s
        if now_s - inc.change_since_s < 1.5:
            return False
        inc.change_since_s = None
        return True

    def finish(self, now_s: float) -> list[IncidentEvent]:
        """Close every open incident (the end of a patrol)."""
        events = []
        for inc in self.incidents.values():
            if inc.is_open:
                inc.is_open = False
                events.append(IncidentEvent(inc, AlertStatus.CLOSED, "patrol ended"))
        self._gatherings.clear()
        self._by_track.clear()
        self.incidents.clear()
        return events


def _usual_peak(area: KeyArea) -> float | None:
    v = area.properties.get("max_temperature_c") if area.properties else None
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None
