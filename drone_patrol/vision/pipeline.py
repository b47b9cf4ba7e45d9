"""The thermal vision pipeline: frame -> detect -> georeference -> track -> incident rules -> ``Alert``.

One :class:`VisionPipeline` serves one patrol (or several: tracks and incidents carry
over until :meth:`VisionPipeline.finish`). Bad frames are counted by reason in
``stats`` and skipped with a log line; nothing a frame contains makes it raise.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from drone_patrol.core.camera import Camera
from drone_patrol.core.config.camera import CameraConfig
from drone_patrol.core.config.vision import VisionConfig
from drone_patrol.core.types import Alert, AlertKind, AlertStatus, GeoPoint, KeyArea, Severity
from drone_patrol.vision.baseline import HeatBaseline, HeatObservation
from drone_patrol.vision.detections import CLASS_BICYCLE, CLASS_HOTSPOT, CLASS_PERSON, CLASS_VEHICLE, Detections
from drone_patrol.vision.detectors import HotspotDetector, WarmBodyDetector
from drone_patrol.vision.frames import Detector, ThermalFrame
from drone_patrol.vision.georef import Georeferencer
from drone_patrol.vision.incidents import Incident, IncidentEvent, IncidentRules
from drone_patrol.vision.learned import VideoOnly
from drone_patrol.vision.render import frame_jpeg, thumbnail_jpeg
from drone_patrol.vision.saturation import SaturationDetector
from drone_patrol.vision.tracking import GroundTracker
from drone_patrol.vision.validation import check_frame

log = logging.getLogger(__name__)


@dataclass
class PipelineStats:
    """Counters of one pipeline."""

    frames_in: int = 0
    frames_processed: int = 0
    frames_degraded: int = 0
    #: frames processed by mode: radiometric, palette, agc
    modes: dict[str, int] = field(default_factory=dict)
    mode: str = ""
    skipped: dict[str, int] = field(default_factory=dict)
    detections: int = 0
    alerts: dict[str, int] = field(default_factory=lambda: {s.value: 0 for s in AlertStatus})
    suppressed_tracks: int = 0
    processing_s: float = 0.0

    @property
    def frames_skipped(self) -> int:
        """Frames skipped for any reason."""
        return sum(self.skipped.values())

    @property
    def fps(self) -> float:
        """Frames processed per second of processing time."""
        return self.frames_processed / self.processing_s if self.processing_s > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly snapshot."""
        return {
            "frames_in": self.frames_in,
            "frames_processed": self.frames_processed,
            "frames_degraded": self.frames_degraded,
            "mode": self.mode,
            "modes": dict(self.modes),
            "frames_skipped": self.frames_skipped,
            "skipped": dict(self.skipped),
            "detections": self.detections,
            "alerts": dict(self.alerts),
            "suppressed_tracks": self.suppressed_tracks,
            "fps": round(self.fps, 1),
        }


class VisionPipeline:
    """Radiometric frames with their pose in, incident alerts out.

    ``origin`` is the site frame's origin (home, its altitude the ground height);
    ``heat_sources`` and ``patrol_areas`` are the area file's features of those roles;
    ``detectors`` replaces the default set: hot spots and warm bodies from temperatures,
    saturated blobs of automatic-gain video, and the learned detector (people, vehicles):
    on every frame when ``vision.onnx_detector`` is set, else the shipped thermal model on
    automatic-gain video frames only (``vision.learned_detector_on_video``). A detector with
    a ``ground_sample_m`` attribute left ``None`` is given the pipeline's per-frame ground
    sample distance.

    The pipeline runs in the mode of its frames (``ThermalFrame.mode``): ``radiometric``,
    ``palette`` or ``agc``; ``stats`` counts frames by mode and every alert says its mode.
    """

    def __init__(
        self,
        vision: VisionConfig,
        camera: CameraConfig,
        origin: GeoPoint,
        heat_sources: Sequence[KeyArea] = (),
        patrol_areas: Sequence[KeyArea] = (),
        baseline: HeatBaseline | None = None,
        site: str = "",
        drone: str = "",
        detectors: Sequence[Detector] | None = None,
    ) -> None:
        self.vision = vision
        self.camera = camera
        self.site, self.drone = site, drone
        self.georef = Georeferencer(camera, vision, origin)
        self._gsd: float | None = None
        self._gsd_nearest: float | None = None
        if detectors is None:
            detectors = [
                HotspotDetector(vision, ground_sample_m=self._frame_gsd, nearest_sample_m=self._frame_gsd_nearest),
                WarmBodyDetector(vision, ground_sample_m=self._frame_gsd),
                SaturationDetector(vision, ground_sample_m=self._frame_gsd, nearest_sample_m=self._frame_gsd_nearest),
            ]
            if vision.onnx_detector is not None:
                from drone_patrol.vision.onnx import make_onnx_detector  # onnxruntime only when asked for

                detectors.append(make_onnx_detector(vision.onnx_detector))
            elif vision.learned_detector_on_video:
                detectors.append(VideoOnly())
        self.detectors = list(detectors)
        for det in self.detectors:  # size limits in square metres need this frame's ground sample distance
            if hasattr(det, "ground_sample_m") and det.ground_sample_m is None:
                det.ground_sample_m = self._frame_gsd
        self.tracker = GroundTracker(vision)
        self.rules = IncidentRules(vision, self.georef.frame, heat_sources, patrol_areas, baseline)
        self.stats = PipelineStats()
        self._last_time_s: float | None = None
        self._last: tuple[ThermalFrame, Detections, Camera] | None = None
        self._thumbs: dict[str, bytes] = {}
        self._heat: dict[int, tuple[float, float, float]] = {}
        self._alerted_tracks: set[int] = set()
        self._log_counts: dict[str, int] = {}

    def _frame_gsd(self, frame: ThermalFrame) -> float | None:
        return self._gsd

    def _frame_gsd_nearest(self, frame: ThermalFrame) -> float | None:
        return self._gsd_nearest

    # the frame path ------------------------------------------------------------------------------------------

    def process(self, frame: ThermalFrame) -> list[Alert]:
        """Run one frame through the pipeline; returns the alerts it produced (new, update, closed)."""
        started = time.perf_counter()
        self.stats.frames_in += 1
        try:
            return self._process(frame)
        except Exception as exc:  # a bug on one odd frame must not end the patrol: count it, log it, go on
            log.exception("vision: frame %s failed", getattr(frame, "index", "?"))
            return self._skip("internal_error", f"{type(exc).__name__}: {exc}", frame)
        finally:
            self.stats.processing_s += time.perf_counter() - started

    def _skip(self, reason: str, detail: str, frame: object) -> list[Alert]:
        self.stats.skipped[reason] = self.stats.skipped.get(reason, 0) + 1
        n = self._log_counts[reason] = self._log_counts.get(reason, 0) + 1
        if n <= 3 or n % 100 == 0:
            index = getattr(frame, "index", "?")
            log.warning("vision: frame %s skipped: %s (%s; %d so far)", index, reason, detail, n)
        return []

    def _process(self, frame: ThermalFrame) -> list[Alert]:
        c = self.vision
        shape = (self.camera.height_px, self.camera.width_px)
        reason, detail = check_frame(
            frame, shape, self._last_time_s, c.saturated_fraction, c.saturation_c, c.max_telemetry_age_s
        )
        if reason is not None:
            return self._skip(reason, detail, frame)
        cam = self.georef.camera_for(frame)
        if cam is None:
            return self._skip("missing_telemetry", "no usable pose for this frame", frame)
        self._gsd = self.georef.ground_sample_m(cam)
        if self._gsd is None:
            return self._skip("no_ground_in_view", "the image centre looks above the horizon", frame)
        self._gsd_nearest = self.georef.nearest_ground_sample_m(cam) or self._gsd
        self._last_time_s = frame.time_s
        if frame.degraded:
            self.stats.frames_degraded += 1
        self.stats.mode = frame.mode
        self.stats.modes[frame.mode] = self.stats.modes.get(frame.mode, 0) + 1
        parts = []
        for det in self.detectors:
            try:
                parts.append(det.detect(frame))
            except Exception:  # a detector's bug must not end the patrol
                log.exception("vision: detector %s failed on frame %d", type(det).__name__, frame.index)
        dets = Detections.merge([_plain(p) for p in parts])
        dets = self.georef.locate(dets, cam)
        dets = _clipped_at_border(dets, cam)
        dets = self._size_filter(dets)
        dets = _on_vehicles(_without_people_glare(dets), self.vision.vehicle_box_margin)
        if len(self.detectors) > 1:
            dets = _dedupe_people(dets, self.vision.person_merge_m)
        self.stats.detections += len(dets)
        margin = 0.03 * cam.intrinsics.width_px  # a thing at the very edge may be cut and missed

        def in_view(en: np.ndarray) -> np.ndarray:
            return cam.in_image(cam.ground_to_pixel(en[:, 0], en[:, 1]), margin_px=margin)

        tracked = self.tracker.update(dets, frame.time_s, in_view)
        self._remember_heat(tracked)
        events = self.rules.evaluate(self.tracker, frame.time_s)
        self.stats.frames_processed += 1
        self.stats.suppressed_tracks = len(self.rules.suppressed)
        self._last = (frame, tracked, cam)
        return [self._alert(ev, frame, tracked, cam) for ev in events]

    def _size_filter(self, dets: Detections) -> Detections:
        if len(dets) == 0:
            return dets
        c = self.vision
        area = np.asarray(dets.data["area_m2"], dtype=np.float64)
        hot = dets.class_id == CLASS_HOTSPOT
        keep = ~hot | ((area >= c.hotspot_min_area_m2) & (area <= c.hotspot_max_area_m2))
        keep &= np.all(np.isfinite(dets.ground_en_m), axis=1)
        return dets[keep]

    def _remember_heat(self, tracked: Detections) -> None:
        hot = np.nonzero(tracked.class_id == CLASS_HOTSPOT)[0]
        for k in hot:
            tid = int(tracked.tracker_id[k])
            peak = float(tracked.peak_c[k])
            if not np.isfinite(peak):  # a saturated video blob: heat of unknown temperature teaches nothing
                continue
            prev = self._heat.get(tid)
            if prev is None or peak > prev[2]:
                e, n = tracked.ground_en_m[k]
                self._heat[tid] = (float(e), float(n), peak)
        if len(self._heat) > 20000:  # a bounded memory over very long patrols: keep the hottest
            keep = sorted(self._heat.items(), key=lambda kv: -kv[1][2])[:10000]
            self._heat = dict(keep)
            self._alerted_tracks &= set(self._heat)

    # alerts --------------------------------------------------------------------------------------------------

    def _alert(self, ev: IncidentEvent, frame: ThermalFrame, tracked: Detections, cam: Camera) -> Alert:
        inc = ev.incident
        if inc.kind is AlertKind.THERMAL_HOTSPOT:
            self._alerted_tracks |= inc.track_ids
        self.stats.alerts[ev.status.value] += 1
        thumb = self._thumbnail(inc, frame, tracked, cam) if ev.status is not AlertStatus.CLOSED else None
        if thumb is not None:
            self._thumbs[inc.incident_id] = thumb
        else:
            thumb = self._thumbs.get(inc.incident_id)
        if ev.status is AlertStatus.CLOSED:
            self._thumbs.pop(inc.incident_id, None)
        return self._make_alert(inc, ev, frame.time_s, thumb)

    def _make_alert(self, inc: Incident, ev: IncidentEvent, now_s: float, thumb: bytes | None) -> Alert:
        loc = self.georef.frame.enu_to_point(float(inc.en_m[0]), float(inc.en_m[1]), self.georef.ground_up_m)
        figures = {k: _plain_value(v) for k, v in inc.figures.items()}
        if inc.hull_en is not None:
            # a GeoJSON Polygon as a string: alert figures are scalars (schema alert-1.0)
            ring = [[round(float(a), 7), round(float(b), 7)] for a, b in self.georef.frame.en_to_lonlat(inc.hull_en)]
            figures["hull"] = json.dumps({"type": "Polygon", "coordinates": [ring]}, separators=(",", ":"))
        figures["reason"] = ev.reason
        if self._last is not None:
            figures["mode"] = self._last[0].mode
            if self._last[0].degraded:
                figures["degraded"] = True  # temperatures from an 8-bit palette: approximate
        if inc.kind is AlertKind.THERMAL_HOTSPOT:
            peak = figures.get("max_temperature_c")
            summary = f"heat source {peak:.0f} C" if peak is not None else "possible heat source (saturated video)"
        else:
            summary = f"crowd of {figures.get('head_count', 0)} ({figures.get('density_per_m2', 0):.2f}/m2)"
        if inc.area_name:
            summary += f" in {inc.area_name}"
        if ev.status is AlertStatus.CLOSED:
            summary += f" - closed: {ev.reason}"
        return Alert(
            alert_id=str(uuid.uuid4()),
            incident_id=inc.incident_id,
            kind=inc.kind,
            status=ev.status,
            severity=Severity.INFO if ev.status is AlertStatus.CLOSED else inc.severity,
            time_s=now_s,
            location=loc,
            error_radius_m=round(inc.error_radius_m, 2),
            first_seen_s=inc.first_seen_s,
            last_seen_s=inc.last_seen_s,
            confidence=round(inc.confidence, 3),
            summary=summary,
            area_name=inc.area_name,
            figures=figures,
            thumbnail_jpeg=thumb,
            site=self.site,
            drone=self.drone,
        )

    def _thumbnail(self, inc: Incident, frame: ThermalFrame, tracked: Detections, cam: Camera) -> bytes | None:
        uv = cam.ground_to_pixel(inc.en_m[0], inc.en_m[1])
        if not bool(cam.in_image(uv)):
            return None
        sel = np.isin(tracked.tracker_id, list(inc.track_ids))
        gsd = self._gsd or 0.06
        half = int(max(24, min(160, (inc.figures.get("radius_m", 2.0) + 3.0) / gsd)))
        value = inc.figures.get("max_temperature_c", inc.figures.get("head_count", ""))
        caption = f"{inc.kind.value} {'' if value is None else value}"
        image, span = _display(frame)
        try:
            return thumbnail_jpeg(
                image,
                (float(uv[0]), float(uv[1])),
                tracked[sel],
                half,
                self.vision.thumbnail_max_width_px,
                caption,
                span,
            )
        except Exception:  # a thumbnail is a nicety; the alert goes out without it
            log.exception("vision: thumbnail failed for incident %s", inc.incident_id)
            return None

    # patrol end and views ------------------------------------------------------------------------------------

    def finish(self, now_s: float) -> list[Alert]:
        """Close every open incident; returns the closing alerts."""
        out = []
        for ev in self.rules.finish(now_s):
            self.stats.alerts[ev.status.value] += 1
            out.append(self._make_alert(ev.incident, ev, now_s, self._thumbs.pop(ev.incident.incident_id, None)))
        return out

    def last_annotated_jpeg(self, max_width_px: int = 320) -> bytes | None:
        """The last processed frame in pseudo-colour with its tracked detections, as a JPEG."""
        if self._last is None:
            return None
        frame, dets, cam = self._last
        outlines = []
        for _, shape, _ in self.rules.heat_sources:
            ring = np.asarray(shape.exterior.coords) if hasattr(shape, "exterior") else np.zeros((0, 2))
            uv = cam.ground_to_pixel(ring[:, 0], ring[:, 1]) if len(ring) else ring
            if len(uv) and np.isfinite(uv).all() and cam.in_image(uv).any():
                outlines.append(uv)
        image, span = _display(frame)
        return frame_jpeg(image, dets, max_width_px, outlines, span)

    def heat_observations(self, include_alerted: bool = False) -> list[HeatObservation]:
        """Hot things seen so far (peak per track), for :meth:`HeatBaseline.update_from_patrol`.

        Tracks that raised a hot-spot incident are left out unless ``include_alerted``, so
        a fire does not teach the baseline that its place is normally hot.
        """
        items = [(tid, v) for tid, v in self._heat.items() if include_alerted or tid not in self._alerted_tracks]
        if not items:
            return []
        en = np.array([[v[0], v[1]] for _, v in items])
        lonlat = self.georef.frame.en_to_lonlat(en)
        return [HeatObservation(float(ll[1]), float(ll[0]), v[2]) for ll, (_, v) in zip(lonlat, items, strict=True)]

    def open_incidents(self) -> list[Incident]:
        """Incidents not yet closed."""
        return [i for i in self.rules.incidents.values() if i.is_open]


def _display(frame: ThermalFrame) -> tuple[np.ndarray, tuple[float, float] | None]:
    """What a frame's pictures are drawn from: temperatures, or the grey levels of automatic-gain video."""
    if frame.agc and frame.video is not None:
        return frame.video.astype(np.float32), (0.0, 255.0)
    return frame.celsius, None


def _without_people_glare(dets: Detections) -> Detections:
    """Drop hot spots without a temperature (saturated video) that lie on a detected person or bicycle.

    At night automatic gain often clips warm people at full white: that is a person, not a fire.
    """
    blob = (dets.class_id == CLASS_HOTSPOT) & ~np.isfinite(dets.peak_c)
    people = dets.xyxy[(dets.class_id == CLASS_PERSON) | (dets.class_id == CLASS_BICYCLE)]
    if not blob.any() or not len(people):
        return dets
    c = dets.centroid_px
    inside = (
        (c[:, None, 0] >= people[None, :, 0]) & (c[:, None, 0] <= people[None, :, 2])
        & (c[:, None, 1] >= people[None, :, 1]) & (c[:, None, 1] <= people[None, :, 3])
    ).any(axis=1)  # fmt: skip
    return dets[~(blob & inside)]


def _on_vehicles(dets: Detections, margin: float) -> Detections:
    """Flag (``data['on_vehicle']``) the hot spots whose centroid lies in a vehicle's box grown by ``margin``."""
    on = np.zeros(len(dets), dtype=bool)
    cars = dets.xyxy[dets.class_id == CLASS_VEHICLE]
    hot = np.nonzero(dets.class_id == CLASS_HOTSPOT)[0]
    if len(cars) and len(hot):
        w, h = cars[:, 2] - cars[:, 0], cars[:, 3] - cars[:, 1]
        grown = cars + np.column_stack([-w, -h, w, h]) * margin
        c = dets.centroid_px[hot]
        inside = (
            (c[:, None, 0] >= grown[None, :, 0]) & (c[:, None, 0] <= grown[None, :, 2])
            & (c[:, None, 1] >= grown[None, :, 1]) & (c[:, None, 1] <= grown[None, :, 3])
        )  # fmt: skip
        on[hot] = inside.any(axis=1)
    return dets.with_fields(data={**dets.data, "on_vehicle": on})


def _plain_value(v: Any) -> Any:
    """Python numbers for numpy scalars, so figures serialise anywhere."""
    return v.item() if isinstance(v, np.generic) else v


def _dedupe_people(dets: Detections, merge_m: float) -> Detections:
    """One detection per person when several detectors (warm body, ONNX) see the same one: the surest is kept."""
    people = np.nonzero(dets.class_id == CLASS_PERSON)[0]
    if len(people) < 2:
        return dets
    order = people[np.argsort(-dets.confidence[people])]
    en = dets.ground_en_m
    keep = np.ones(len(dets), dtype=bool)
    kept: list[int] = []
    for k in order:
        if kept and float(np.min(np.hypot(*(en[kept] - en[k]).T))) < merge_m:
            keep[k] = False
        else:
            kept.append(int(k))
    return dets[keep]


def _clipped_at_border(dets: Detections, cam: Camera) -> Detections:
    """Widen the uncertainty of blobs cut by the image border: their centroid is not the object's."""
    if len(dets) == 0:
        return dets.with_fields(data={**dets.data, "clipped": np.zeros(0, bool)})
    w, h = cam.intrinsics.width_px, cam.intrinsics.height_px
    b = dets.xyxy
    cut = (b[:, 0] <= 0) | (b[:, 1] <= 0) | (b[:, 2] >= w) | (b[:, 3] >= h)
    if not cut.any():
        return dets.with_fields(data={**dets.data, "clipped": cut})
    size = np.sqrt(np.nan_to_num(dets.data["area_m2"]))
    sigma = np.where(cut, np.hypot(dets.error_radius_m, 2.0 * size + 1.0), dets.error_radius_m)
    return dets.with_fields(error_radius_m=sigma, data={**dets.data, "clipped": cut})


def _plain(d: Detections) -> Detections:
    """Detections without detector-specific data columns, so that any detectors' outputs merge."""
    return d if not d.data else d.with_fields(data={})


__all__ = ["PipelineStats", "VisionPipeline"]
