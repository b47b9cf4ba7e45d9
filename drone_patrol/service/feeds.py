"""Frame feeds for the data path: the simulated thermal camera over a scenario world."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from drone_patrol.core.frames import ThermalFrame
from drone_patrol.core.types import GeoPoint, VehicleState
from drone_patrol.sim.thermal import Scenario, ThermalCameraSim
from drone_patrol.vision.sources import Radiometry, RawFrame, open_frames

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SeenTruth:
    """A scenario incident (fire or crowd) the simulated camera had in view, and when first."""

    name: str
    kind: str
    position: GeoPoint
    first_seen_s: float  # vehicle time
    first_seen_wall_s: float  # wall time, for latency to the command room
    max_count_in_view: int = 1


class SimCameraFeed:
    """Renders the simulated camera at each vehicle state and remembers which incidents were in view."""

    def __init__(self, camera: ThermalCameraSim) -> None:
        self.camera = camera
        self.seen: dict[str, SeenTruth] = {}
        self._lock = threading.Lock()

    @property
    def scenario(self) -> Scenario:
        """The world being rendered."""
        return self.camera.scenario

    def frame_at(self, state: VehicleState, time_s: float) -> ThermalFrame | None:
        """The simulated frame at ``state``; records the fires and crowds in view."""
        frame, truth = self.camera.render(state, time_s)
        with self._lock:
            for obj in truth.objects:
                if obj.kind not in ("fire", "crowd") or not obj.in_view:
                    continue
                old = self.seen.get(obj.name)
                count = max(obj.count_in_view, old.max_count_in_view if old else 0)
                first = old.first_seen_s if old else time_s
                first_wall = old.first_seen_wall_s if old else time.time()
                pos = GeoPoint(obj.latitude_deg, obj.longitude_deg)
                self.seen[obj.name] = SeenTruth(obj.name, obj.kind, pos, first, first_wall, count)
        return frame

    def incidents(self, min_crowd: int = 1) -> list[tuple[str, str, GeoPoint]]:
        """The fires and the crowds of at least ``min_crowd`` people: (name, kind, position), seen or not."""
        out = []
        sc = self.scenario
        for obj in sc.objects:
            if obj.role == "fire" or (obj.role == "crowd" and obj.count >= min_crowd):
                e, n = (float(v) for v in obj.centre_en)
                p = sc.frame.enu_to_point(e, n, 0.0)
                out.append((obj.name, obj.role, GeoPoint(p.latitude_deg, p.longitude_deg)))
        return out


class LiveFrameFeed:
    """A real camera (V4L2 device, RTSP/HTTP stream, video file or frame folder) read on a thread of its own.

    The reader keeps only the newest decoded frame; :meth:`frame_at` pairs it with the
    vehicle state at that moment, so a slow vision stage never backs the camera up.
    """

    def __init__(self, source: str, radiometry: Radiometry | None = None, fps: float = 9.0) -> None:
        self.source = source
        self._frames = open_frames(source, radiometry or Radiometry(), fps=fps)
        self._latest: RawFrame | None = None
        self._served_index = -1
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.frames_read = 0
        self.error: str | None = None
        self._thread = threading.Thread(target=self._read, name="camera-reader", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for raw in self._frames:
                if self._stop.is_set():
                    return
                with self._lock:
                    self._latest = raw
                    self.frames_read += 1
        except Exception as exc:  # a camera that fails mid-flight is reported, not fatal to the patrol
            self.error = f"{self.source}: {exc}"
            log.error("camera source failed: %s", self.error)

    def frame_at(self, state: VehicleState, time_s: float) -> ThermalFrame | None:
        """The newest frame not served yet, with ``state`` attached (None when there is none)."""
        with self._lock:
            raw = self._latest
            if raw is None or raw.index == self._served_index:
                return None
            self._served_index = raw.index
        return ThermalFrame(
            celsius=raw.celsius, time_s=raw.time_s, index=raw.index, state=state, degraded=raw.degraded,
            counts=raw.counts, kelvin_per_count=raw.kelvin_per_count, video=raw.video, agc=raw.agc,
        )  # fmt: skip

    def close(self) -> None:
        """Stop reading (the source is released when its iterator ends)."""
        self._stop.set()
