"""The onboard data path: camera -> bounded queue -> vision -> alerts, on threads of its own.

Frames are taken at the camera's rate with the latest vehicle state; when vision
falls behind, the oldest queued frame is dropped and counted. Alerts, telemetry
and status never wait behind frames: they go straight to the publisher's outbox.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from drone_patrol.alerts.models import AlertSchemaError
from drone_patrol.core.types import Alert, VehicleState
from drone_patrol.vision.frames import ThermalFrame

log = logging.getLogger(__name__)


class MissionClock:
    """Vehicle time for a vehicle that may run faster than real time (a simulator's speedup).

    ``now()`` is UNIX seconds that advance ``time_scale`` times faster than the wall clock,
    starting from the wall time at construction.
    """

    def __init__(self, time_scale: float = 1.0) -> None:
        self.time_scale = time_scale
        self._t0 = time.time()
        self._m0 = time.monotonic()

    def now(self) -> float:
        """The current vehicle time in UNIX seconds."""
        return self._t0 + (time.monotonic() - self._m0) * self.time_scale

    def from_wall(self, wall_s: float) -> float:
        """The vehicle time corresponding to the UNIX wall time ``wall_s``."""
        return self._t0 + (wall_s - self._t0) * self.time_scale

    def wall_interval_s(self, vehicle_interval_s: float) -> float:
        """How long to wait on the wall clock for ``vehicle_interval_s`` of vehicle time."""
        return vehicle_interval_s / self.time_scale


class FrameFeed(Protocol):
    """Where frames come from: a real camera or the simulated one over a scenario."""

    def frame_at(self, state: VehicleState, time_s: float) -> ThermalFrame | None:
        """The frame captured at ``time_s`` with the vehicle in ``state`` (None: no frame now)."""
        ...


class AlertSink(Protocol):
    """What the data path hands its outputs to (the MQTT publisher)."""

    def publish_alerts(self, alerts: list[Alert]) -> list[str]:
        """Commit a frame's alerts together (one disk sync) and send them in order."""
        ...

    def publish_video(self, jpeg: bytes) -> None: ...


class VisionStage(Protocol):
    """The vision pipeline as the data path uses it."""

    def process(self, frame: ThermalFrame) -> list[Alert]: ...

    def finish(self, now_s: float) -> list[Alert]: ...

    def last_annotated_jpeg(self, max_width_px: int = 320) -> bytes | None: ...


@dataclass
class DataPathStats:
    """Counters of the data path."""

    frames_captured: int = 0
    frames_processed: int = 0
    frames_dropped: int = 0
    frames_skipped_no_state: int = 0
    alerts: int = 0
    vision_errors: int = 0
    publish_failures: int = 0  # tries to hand alerts to the publisher that failed (each retried)
    alerts_refused: int = 0  # alerts the schema refused (a fault in the code that built them)
    processing_s: float = 0.0
    first_alert_wall_s: dict[str, float] = field(default_factory=dict)  # incident id -> wall time of its first alert
    first_alert_vehicle_s: dict[str, float] = field(default_factory=dict)  # ... and vehicle time

    @property
    def fps(self) -> float:
        """Frames per second of vision processing time."""
        return self.frames_processed / self.processing_s if self.processing_s > 0 else 0.0


class DataPath:
    """Runs the camera and vision threads for one patrol."""

    def __init__(
        self,
        feed: FrameFeed,
        vision: VisionStage,
        sink: AlertSink,
        state: Callable[[], VehicleState],
        clock: MissionClock,
        camera_fps: float = 2.0,
        video_fps: float = 1.0,
        queue_size: int = 4,
        on_alert: Callable[[Alert], None] | None = None,
        airborne_only: bool = True,
    ) -> None:
        self.feed, self.vision, self.sink, self._state, self.clock = feed, vision, sink, state, clock
        self.camera_fps, self.video_fps = camera_fps, video_fps
        self.airborne_only = airborne_only
        self.on_alert = on_alert
        self.stats = DataPathStats()
        self.alerts: list[Alert] = []
        self._frames: queue.Queue[ThermalFrame | None] = queue.Queue(maxsize=queue_size)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._camera_loop, name="camera", daemon=True),
            threading.Thread(target=self._vision_loop, name="vision", daemon=True),
        ]
        self._last_video_s = 0.0
        self._publish_lock = threading.Lock()
        self.unsent: list[Alert] = []  # raised, not yet committed by the publisher (retried)

    def start(self) -> DataPath:
        """Start both threads."""
        for t in self._threads:
            t.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> list[Alert]:
        """Stop capturing, finish the queued frames, close open incidents; return the closing alerts."""
        self._stop.set()
        self._threads[0].join(timeout_s)
        try:
            self._frames.put(None, timeout=timeout_s)
        except queue.Full:
            log.error("vision thread not taking frames; stopped without finishing %d", self._frames.qsize())
        self._threads[1].join(timeout_s)
        closing = self.vision.finish(self.clock.now())
        self._emit(closing)
        if self.unsent:
            log.error(
                "%d alerts raised but never committed by the publisher: %s",
                len(self.unsent), ", ".join(a.alert_id for a in self.unsent),
            )  # fmt: skip
        return closing

    def _camera_loop(self) -> None:
        period = self.clock.wall_interval_s(1.0 / self.camera_fps)
        next_t = time.monotonic()
        while not self._stop.is_set():
            state = self._state()
            if self.clock.time_scale != 1.0:
                # telemetry is stamped with its wall arrival time; frames live on vehicle time
                state = dataclasses.replace(state, time_s=self.clock.from_wall(state.time_s))
            if state.position is None or (self.airborne_only and (state.landed or not state.armed)):
                self.stats.frames_skipped_no_state += 1
            else:
                try:
                    frame = self.feed.frame_at(state, self.clock.now())
                except Exception:
                    log.exception("camera feed failed; frame skipped")
                    frame = None
                if frame is not None:
                    self.stats.frames_captured += 1
                    self._enqueue(frame)
            next_t += period
            self._stop.wait(max(0.0, next_t - time.monotonic()))

    def _enqueue(self, frame: ThermalFrame) -> None:
        while True:
            try:
                self._frames.put_nowait(frame)
                return
            except queue.Full:
                try:
                    self._frames.get_nowait()
                    self.stats.frames_dropped += 1
                except queue.Empty:
                    pass

    def _vision_loop(self) -> None:
        while True:
            frame = self._frames.get()
            if frame is None:
                return
            started = time.perf_counter()
            try:
                alerts = self.vision.process(frame)
            except Exception:
                self.stats.vision_errors += 1
                log.exception("vision failed on frame %d; skipped", frame.index)
                continue
            self.stats.processing_s += time.perf_counter() - started
            self.stats.frames_processed += 1
            try:
                self._emit(alerts)
            except Exception:  # a failing on_alert hook: the alerts went out, the thread goes on
                log.exception("alert hook failed on frame %d", frame.index)
            now = time.monotonic()
            if self.video_fps > 0 and now - self._last_video_s >= 1.0 / self.video_fps:
                self._last_video_s = now
                jpeg = self.vision.last_annotated_jpeg()
                if jpeg:
                    self.sink.publish_video(jpeg)

    def _emit(self, alerts: list[Alert]) -> None:
        """Record one frame's alerts and publish them, after any that an earlier try could not:
        one commit for all, so the last of them does not wait for a disk sync per alert."""
        if alerts:
            with self._lock:
                self.alerts.extend(alerts)
                self.stats.alerts += len(alerts)
                wall_s, vehicle_s = time.time(), self.clock.now()
                for alert in alerts:
                    self.stats.first_alert_wall_s.setdefault(alert.incident_id, wall_s)
                    self.stats.first_alert_vehicle_s.setdefault(alert.incident_id, vehicle_s)
        with self._publish_lock:
            batch = self.unsent + alerts
            if not batch:
                return
            sent, self.unsent = self._publish(batch)
        for alert in sent:
            log.info(
                "alert %s %s %s",
                alert.kind.value,
                alert.status.value,
                alert.summary,
                extra={"alert_id": alert.alert_id, "incident_id": alert.incident_id, "drone": alert.drone},
            )
            if self.on_alert is not None:
                self.on_alert(alert)

    def _publish(self, batch: list[Alert]) -> tuple[list[Alert], list[Alert]]:
        """Hand ``batch`` to the sink; (the alerts it committed, those to try again with the next
        frame). A failed commit (a full or failing disk) keeps them all for the next try; an alert
        the schema refuses is sent on its own, so it holds up none of the others."""
        try:
            self.sink.publish_alerts(batch)
        except AlertSchemaError as exc:
            if len(batch) > 1:
                sent: list[Alert] = []
                left: list[Alert] = []
                for alert in batch:
                    done, again = self._publish([alert])
                    sent += done
                    left += again
                return sent, left
            self.stats.alerts_refused += 1
            log.error("alert %s refused by the schema, not sent: %s", batch[0].alert_id, exc)
            return [], []
        except Exception as exc:  # the data path must outlive a failing publisher
            self.stats.publish_failures += 1
            if not self.unsent:  # the first failure of a streak; the rest only count
                log.error("%d alerts not committed (%s); tried again with each frame", len(batch), exc)
            return [], batch
        if self.unsent:
            log.warning(
                "%d alerts committed after failed tries (%d this patrol)", len(batch), self.stats.publish_failures
            )
        return batch, []
