"""Incident rules on synthetic frames: known heat sources, the baseline, updates, small groups."""

from __future__ import annotations

from shapely.geometry import Point

from drone_patrol.core.config import CameraConfig, VisionConfig
from drone_patrol.core.types import AlertKind, AlertStatus, AreaRole, KeyArea, Severity
from drone_patrol.vision.baseline import HeatBaseline, HeatObservation
from drone_patrol.vision.pipeline import VisionPipeline
from tests.vision.synth import FRAME, HOME, disc, frame, person, scene

# the image centre of a nadir frame over the origin is the origin
LON, LAT = (float(v) for v in FRAME.en_to_lonlat([[0.0, 0.0]])[0])
GRILL = KeyArea("grill-x", AreaRole.HEAT_SOURCE, Point(LON, LAT), radius_m=2.0)


def _run(peaks_c: list[float], baseline: HeatBaseline | None = None, heat_sources=(GRILL,)) -> list:
    pipe = VisionPipeline(VisionConfig(), CameraConfig(), HOME, heat_sources, (), baseline)
    out = []
    for i, peak in enumerate(peaks_c):
        img = scene(seed=i)
        disc(img, 319.5, 255.5, 8, peak)
        out += pipe.process(frame(img, t=100.0 + i, index=i))
    return out + pipe.finish(100.0 + len(peaks_c))


def test_known_heat_source_stays_quiet_and_elsewhere_alerts() -> None:
    assert _run([250.0] * 6) == []
    alerts = _run([200.0] * 6, heat_sources=())
    assert [a.status for a in alerts] == [AlertStatus.NEW, AlertStatus.CLOSED]
    assert alerts[0].severity is Severity.WARNING and alerts[0].kind is AlertKind.THERMAL_HOTSPOT


def test_known_source_far_hotter_than_its_usual_peak_alerts_and_updates() -> None:
    base = HeatBaseline("s", HOME)
    base.update_from_patrol([HeatObservation(LAT, LON, 250.0)], 0.0)
    assert _run([250.0] * 6, base) == []
    alerts = _run([250.0, 250.0, 250.0, 420.0, 420.0, 420.0, 420.0, 520.0, 520.0, 520.0, 520.0, 520.0, 520.0], base)
    statuses = [a.status for a in alerts]
    assert statuses[0] is AlertStatus.NEW and statuses[-1] is AlertStatus.CLOSED
    assert AlertStatus.UPDATE in statuses
    assert alerts[0].figures["max_temperature_c"] == 420.0 and alerts[0].severity is Severity.CRITICAL
    assert max(a.figures["max_temperature_c"] for a in alerts) == 520.0
    assert len({a.incident_id for a in alerts}) == 1


def test_a_group_below_the_crowd_size_is_not_a_crowd() -> None:
    cfg = VisionConfig()
    pipe = VisionPipeline(cfg, CameraConfig(), HOME)
    img = scene()
    for k in range(cfg.crowd_min_people - 1):
        person(img, 300 + 12 * (k % 3), 250 + 12 * (k // 3))
    alerts = []
    for i in range(60):
        alerts += pipe.process(frame(img, t=100.0 + i * 0.2, index=i))
    assert alerts == [] and len(pipe.tracker.confirmed()) == cfg.crowd_min_people - 1
    person(img, 300, 290)  # one more joins: a crowd once it has lasted crowd_min_duration_s
    for i in range(60, 100):
        alerts += pipe.process(frame(img, t=100.0 + i * 0.2, index=i))
    assert [a.status for a in alerts] == [AlertStatus.NEW]
    assert alerts[0].figures["head_count"] == cfg.crowd_min_people
    assert alerts[0].time_s - 112.0 >= cfg.crowd_min_duration_s


def _fire_with_a_gap(gap_s: float) -> list:
    """A 300 C fire in view at 9 frames a second, hidden for ``gap_s`` (smoke, the camera looking away), seen again."""
    pipe = VisionPipeline(VisionConfig(), CameraConfig(), HOME)
    out, t, i = [], 100.0, 0
    for visible in [True] * 30 + [False] * round(gap_s * 9) + [True] * 30:
        img = scene(seed=i)
        if visible:
            disc(img, 319.5, 255.5, 6, 300.0)
        out += pipe.process(frame(img, t=t, index=i))
        t, i = t + 1 / 9, i + 1
    return out + pipe.finish(t)


def test_a_fire_hidden_for_a_moment_stays_one_incident() -> None:
    for gap_s in (1.0, 10.0):
        alerts = _fire_with_a_gap(gap_s)
        assert len({a.incident_id for a in alerts}) == 1, gap_s
        assert [a.status for a in alerts if a.status is not AlertStatus.UPDATE] == [AlertStatus.NEW, AlertStatus.CLOSED]
    assert len({a.incident_id for a in _fire_with_a_gap(45.0)}) == 2  # out of view past hotspot_close_after_s


def test_a_crowd_left_behind_closes_about_a_minute_later_not_five() -> None:
    pipe = VisionPipeline(VisionConfig(), CameraConfig(), HOME)
    crowd = [(300.0 + 12 * (k % 4), 240.0 + 12 * (k // 4)) for k in range(8)]
    alerts, t = [], 100.0
    for i in range(60):  # 12 s over eight people standing together
        img = scene(seed=i)
        for x, y in crowd:
            person(img, x, y)
        alerts += pipe.process(frame(img, t=t, index=i))
        t += 0.2
    left_at = t
    for i in range(60, 460):  # then 80 s over empty street elsewhere: the people are out of view, not gone
        alerts += pipe.process(frame(scene(seed=i), t=t, east=200.0, index=i))
        t += 0.2
    closed = [a for a in alerts if a.kind is AlertKind.CROWD_GATHERING and a.status is AlertStatus.CLOSED]
    assert len(closed) == 1
    c = VisionConfig()
    assert closed[0].time_s - left_at <= c.crowd_person_recent_s + c.crowd_close_after_s + 5.0
