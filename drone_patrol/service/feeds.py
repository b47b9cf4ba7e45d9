"""Frame feeds for the data path: the simulated thermal camera over a scenario world."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from drone_patrol.core.frames import ThermalFrame
from drone_patrol.core.types import GeoPoint, VehicleState
from drone_patrol.sim.thermal import Scenario, ThermalCameraSim


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
