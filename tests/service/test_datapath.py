"""The onboard data path hands each frame's alerts to the publisher together, and outlives a
publisher that fails: what it could not commit goes with the next frame."""

from __future__ import annotations

import dataclasses
import threading
import time
from types import SimpleNamespace
from typing import Any

from drone_patrol.alerts.models import AlertSchemaError
from drone_patrol.alerts.outbox import OutboxError
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
    """Records each call; the first ``failures`` calls fail as a full disk does; refuses alerts
    whose summary says ``bad`` as the schema would."""

    def __init__(self, failures: int = 0) -> None:
        self.calls: list[list[str]] = []
        self.failures = failures

    def publish_alerts(self, alerts: list[Alert]) -> list[str]:
        if self.failures:
            self.failures -= 1
            raise OutboxError("outbox ob.sqlite: cannot write (database or disk is full)")
        if any(a.summary == "bad" for a in alerts):
            raise AlertSchemaError("data.figures: 'max_temperature_c' is a required property")
        self.calls.append([a.alert_id for a in alerts])
        return self.calls[-1]

    def publish_video(self, jpeg: bytes) -> None:
        pass


STATE = VehicleState(time_s=time.time(), position=GeoPoint(25.28, 110.29, 150.0), armed=True, landed=False)


def _path(vision: Any, sink: _Sink, seen: list[Alert]) -> DataPath:
    feed = SimpleNamespace(frame_at=lambda _state, _t: SimpleNamespace(index=vision.frames))
    return DataPath(feed, vision, sink, lambda: STATE, MissionClock(), camera_fps=50.0, on_alert=seen.append)


def test_a_frames_alerts_are_published_in_one_call_and_empty_frames_in_none() -> None:
    vision, sink, seen = _Vision(), _Sink(), []
    path = _path(vision, sink, seen)
    path.start()
    assert wait_until(lambda: vision.frames >= 5, 5)
    closing = path.stop()
    assert len(sink.calls) == 2 and len(sink.calls[0]) == len(AlertKind)  # the first frame's, then the closing one
    assert sink.calls[1] == [closing[0].alert_id]
    assert [a.alert_id for a in seen] == [*sink.calls[0], *sink.calls[1]] == [a.alert_id for a in path.alerts]
    assert path.stats.alerts == len(AlertKind) + 1 and len(path.stats.first_alert_wall_s) == len(AlertKind) + 1


def test_alerts_the_publisher_could_not_commit_go_with_a_later_frame_and_the_path_goes_on() -> None:
    vision, sink, seen = _Vision(), _Sink(failures=2), []
    path = _path(vision, sink, seen).start()
    assert wait_until(lambda: bool(sink.calls), 5)  # frame 1 and 2 failed, frame 3 carried them
    assert wait_until(lambda: vision.frames >= 6, 5)  # the vision thread lives on
    path.stop()
    first = [a.alert_id for a in path.alerts[: len(AlertKind)]]
    assert sink.calls[0] == first and path.stats.publish_failures == 2 and path.unsent == []
    assert [a.alert_id for a in seen] == [a.alert_id for a in path.alerts]  # each once, once committed


def test_an_alert_the_schema_refuses_holds_up_none_of_the_others() -> None:
    class Vision(_Vision):
        def process(self, frame: Any) -> list[Alert]:
            alerts = super().process(frame)
            return [alerts[0], dataclasses.replace(alerts[1], summary="bad"), alerts[2]] if alerts else []

    vision, sink, seen = Vision(), _Sink(), []
    path = _path(vision, sink, seen).start()
    assert wait_until(lambda: vision.frames >= 3, 5)
    path.stop()
    sent = [alert_id for call in sink.calls for alert_id in call]
    assert sent == [path.alerts[0].alert_id, path.alerts[2].alert_id, path.alerts[3].alert_id]
    assert path.stats.alerts_refused == 1 and path.unsent == [] and len(seen) == 3


def test_stop_returns_when_vision_has_stopped_taking_frames() -> None:
    release = threading.Event()

    class Stuck(_Vision):
        def process(self, frame: Any) -> list[Alert]:
            self.frames += 1
            release.wait(10)  # a vision step that hangs: the queue fills behind it
            return []

    vision, sink, seen = Stuck(), _Sink(), []
    path = _path(vision, sink, seen).start()
    assert wait_until(lambda: path._frames.full(), 5)
    started = time.monotonic()
    try:
        path.stop(timeout_s=0.3)
        assert time.monotonic() - started < 3
        assert sink.calls == [[path.alerts[-1].alert_id]]  # the closing alert still went out
    finally:
        release.set()
