"""The onboard data path hands each frame's alerts to the publisher together."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

from drone_patrol.core.types import Alert, AlertKind, GeoPoint, VehicleState
from drone_patrol.service.pipeline import DataPath, MissionClock
from tests.alerts.helpers import make_alert, wait_until


class _Vision:
    """Three alerts on the first frame, none after; one closing alert at the end."""

    def __init__(self) -> None:
        self.frames = 0

    def process(self, frame: Any) -> list[Alert]:
        self.frames += 1
        if self.frames == 1:
            return [make_alert(kind, i) for i, kind in enumerate(AlertKind)]
        return []

    def finish(self, now_s: float) -> list[Alert]:
        return [make_alert(AlertKind.THERMAL_HOTSPOT, 10)]

    def last_annotated_jpeg(self, max_width_px: int = 320) -> bytes | None:
        return None


class _Sink:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def publish_alerts(self, alerts: list[Alert]) -> list[str]:
        self.calls.append([a.alert_id for a in alerts])
        return self.calls[-1]

    def publish_video(self, jpeg: bytes) -> None:
        pass


def test_a_frames_alerts_are_published_in_one_call_and_empty_frames_in_none() -> None:
    vision, sink, seen = _Vision(), _Sink(), []
    state = VehicleState(time_s=time.time(), position=GeoPoint(25.28, 110.29, 150.0), armed=True, landed=False)
    feed = SimpleNamespace(frame_at=lambda _state, _t: SimpleNamespace(index=vision.frames))
    path = DataPath(feed, vision, sink, lambda: state, MissionClock(), camera_fps=50.0, on_alert=seen.append)
    path.start()
    assert wait_until(lambda: vision.frames >= 5, 5)
    closing = path.stop()
    assert len(sink.calls) == 2 and len(sink.calls[0]) == len(AlertKind)  # the first frame's, then the closing one
    assert sink.calls[1] == [closing[0].alert_id]
    assert [a.alert_id for a in seen] == [*sink.calls[0], *sink.calls[1]] == [a.alert_id for a in path.alerts]
    assert path.stats.alerts == len(AlertKind) + 1 and len(path.stats.first_alert_wall_s) == len(AlertKind) + 1
