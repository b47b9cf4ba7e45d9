"""One patrol sortie end to end: the executor flies, the data path watches, the publisher reports.

``PatrolRun`` owns no connections: the caller hands it a connected ``Vehicle``, a started
``AlertPublisher``, a frame feed and a vision pipeline, so the same code serves the
demo (simulators), the SITL tests and a real aircraft.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from drone_patrol.alerts.publisher import AlertPublisher
from drone_patrol.alerts.schema import vehicle_alert
from drone_patrol.controller import PatrolExecutor, PatrolReport, Vehicle, VehicleEvent
from drone_patrol.core.config import Settings
from drone_patrol.core.profile import VehicleProfile
from drone_patrol.core.types import Alert, GeoPoint, Mission, VehicleState
from drone_patrol.service.metrics import ServiceMetrics
from drone_patrol.service.pipeline import DataPath, DataPathStats, FrameFeed, MissionClock, VisionStage

log = logging.getLogger(__name__)

#: Controller events that the command room gets as alerts of kind ``vehicle``.
ALERTING_EVENTS = frozenset(
    {"link_lost", "link_restored", "fence_breach", "gps_lost", "gps_restored", "battery_low", "failsafe"}
)


@dataclass
class PatrolOutcome:
    """What one sortie produced."""

    report: PatrolReport | None  # None when the service left the vehicle flying
    alerts: list[Alert]
    track: list[GeoPoint]
    datapath: DataPathStats
    vehicle_events: list[VehicleEvent] = field(default_factory=list)
    wall_s: float = 0.0


class _AlertClock:
    """Vision runs on vehicle time; published alerts carry wall time, so the command room sees real moments."""

    def __init__(self, clock: MissionClock) -> None:
        self.clock = clock
        self._t0 = clock.now()
        self._w0 = time.time()

    def to_wall(self, t_s: float) -> float:
        return self._w0 + (t_s - self._t0) / self.clock.time_scale

    def restamp(self, alert: Alert) -> Alert:
        if self.clock.time_scale == 1.0:
            return alert
        return dataclasses.replace(
            alert,
            time_s=self.to_wall(alert.time_s),
            first_seen_s=self.to_wall(alert.first_seen_s),
            last_seen_s=self.to_wall(alert.last_seen_s),
        )


class _RestampingSink:
    def __init__(self, publisher: AlertPublisher, clock: _AlertClock) -> None:
        self.publisher, self.clock = publisher, clock
        self.published: list[Alert] = []

    def publish_alerts(self, alerts: list[Alert]) -> list[str]:
        stamped = [self.clock.restamp(alert) for alert in alerts]
        ids = self.publisher.publish_alerts(stamped)
        self.published.extend(stamped)  # committed: the command room will see them
        return ids

    def publish_video(self, jpeg: bytes) -> None:
        self.publisher.publish_video(jpeg)


class PatrolRun:
    """Fly ``mission`` once with vision and alerting; :meth:`run` blocks until the vehicle is down."""

    def __init__(
        self,
        settings: Settings,
        vehicle: Vehicle,
        mission: Mission,
        publisher: AlertPublisher,
        feed: FrameFeed,
        vision: VisionStage,
        clock: MissionClock,
        metrics: ServiceMetrics | None = None,
        on_alert: Callable[[Alert], None] | None = None,
        on_event: Callable[[VehicleEvent], None] | None = None,
        resume_from_seq: int | None = None,
        profile: VehicleProfile | None = None,
    ) -> None:
        self.settings, self.vehicle, self.mission = settings, vehicle, mission
        self.publisher, self.clock, self.metrics = publisher, clock, metrics or ServiceMetrics()
        self.on_event = on_event
        self._alert_clock = _AlertClock(clock)
        self._sink = _RestampingSink(publisher, self._alert_clock)
        svc = settings.service
        self.datapath = DataPath(
            feed, vision, self._sink, lambda: vehicle.state, clock,
            camera_fps=svc.camera_fps, video_fps=svc.video_fps, queue_size=svc.frame_queue,
            on_alert=self._count_alert if on_alert is None else self._chain(on_alert),
        )  # fmt: skip
        self.executor = PatrolExecutor(
            vehicle,
            mission,
            settings.controller,
            on_event=self._on_event,
            resume_from_seq=resume_from_seq,
            profile=profile,
        )
        self.track: list[GeoPoint] = []
        self.events: list[VehicleEvent] = []
        self._last_track_s = 0.0
        self._lock = threading.Lock()
        self._leave = threading.Event()
        self._exported = (0, 0)
        self._lost: set[str] = set()

    def _chain(self, user: Callable[[Alert], None]) -> Callable[[Alert], None]:
        def both(alert: Alert) -> None:
            self._count_alert(alert)
            user(alert)

        return both

    def _count_alert(self, alert: Alert) -> None:
        self.metrics.alerts_published.labels(kind=alert.kind.value).inc()

    def _on_state(self, state: VehicleState) -> None:
        try:
            self.publisher.publish_telemetry(state)
            now = time.monotonic()
            if state.position is not None and now - self._last_track_s >= self.clock.wall_interval_s(1.0):
                self._last_track_s = now
                with self._lock:
                    self.track.append(state.position)
            health = self.vehicle.health
            self.metrics.link_heartbeat_age_s.set(getattr(health, "heartbeat_age_s", 0.0) or 0.0)
            self.metrics.link_packet_loss.set(getattr(health, "packet_loss", 0.0) or 0.0)
            self.metrics.outbox_depth.set(self.publisher.outbox_depth)
            self.metrics.broker_connected.set(1.0 if self.publisher.connected else 0.0)
            self._export_frame_counts()
        except Exception:
            log.exception("state handler failed")

    def _export_frame_counts(self) -> None:
        stats = self.datapath.stats
        with self._lock:
            done, dropped = stats.frames_processed, stats.frames_dropped
            self.metrics.frames_processed.inc(done - self._exported[0])
            self.metrics.frames_dropped.inc(dropped - self._exported[1])
            self._exported = (done, dropped)
        self.metrics.pipeline_fps.set(stats.fps)

    def _on_event(self, event: VehicleEvent) -> None:
        self.events.append(event)
        if event.kind == "mission_state":  # the executor's transitions (vehicle events are logged by the link)
            level = logging.INFO if event.severity == "info" else logging.WARNING
            log.log(level, "%s", event.message, extra={"event": event.kind, "drone": self.settings.site.drone_id})
        self.metrics.vehicle_events.labels(kind=event.kind).inc()
        state = self.vehicle.state
        if event.kind == "mission_state" or event.kind in ("landed", "took_off", "area_entered"):
            progress = self.executor.progress
            self.publisher.publish_status(
                "online",
                mission_state=progress.phase,
                mode=state.mode,
                battery_percent=state.battery_percent,
                waypoints_reached=progress.reached,
                waypoints_total=progress.total,
                area=progress.area_name,
            )
        alerting = event.kind in ALERTING_EVENTS or (event.kind == "mission_state" and event.severity != "info")
        if event.kind.endswith("_restored"):
            # a restore is news only after a loss the command room was told of (not the first GPS fix)
            lost = event.kind.replace("_restored", "_lost")
            alerting = lost in self._lost
            self._lost.discard(lost)
        elif event.kind.endswith("_lost"):
            self._lost.add(event.kind)
        if alerting:
            site = self.settings.site
            alert = vehicle_alert(
                event.kind, event.severity, event.message, dict(event.data),
                time_s=event.time_s, location=state.position, site=site.id, drone=site.drone_id,
            )  # fmt: skip
            self.publisher.publish_alert(alert)
            self._sink.published.append(alert)
            self.metrics.alerts_published.labels(kind=alert.kind.value).inc()
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:
                log.exception("on_event callback failed")

    def request_stop(self, leave_flying: bool = False) -> None:
        """Stop the patrol from another thread.

        By default the vehicle is sent home and :meth:`run` returns once it has landed.
        With ``leave_flying`` :meth:`run` returns at once and the vehicle goes on with its
        mission; when this process then stops sending heartbeats, the vehicle's own GCS
        failsafe (FS_GCS_ENABLE) acts unless another ground station takes over.
        """
        if leave_flying:
            self._leave.set()
        else:
            self.executor.request_rtl()

    def run(self) -> PatrolOutcome:
        """Fly the sortie; returns when the executor has finished (landed, failed or aborted)."""
        started = time.monotonic()
        unsubscribe = self.vehicle.subscribe_state(self._on_state)
        self.datapath.start()
        result: list[PatrolReport] = []
        worker = threading.Thread(target=lambda: result.append(self.executor.run()), name="executor", daemon=True)
        worker.start()
        try:
            while worker.is_alive() and not self._leave.is_set():
                worker.join(0.2)
        finally:
            unsubscribe()
            self.datapath.stop()
        report = result[0] if result else None
        stats = self.datapath.stats
        self._export_frame_counts()
        if report is not None and report.outcome == "completed":
            self.metrics.patrols_completed.inc()
        state = self.vehicle.state
        self.publisher.publish_telemetry(state, force=True)  # the command room sees the vehicle down
        outcome = report.outcome if report is not None else "left_flying"
        self.publisher.publish_status(
            "online", mission_state=outcome, mode=state.mode, battery_percent=state.battery_percent
        )
        return PatrolOutcome(
            report, list(self._sink.published), list(self.track), stats, list(self.events), time.monotonic() - started
        )
