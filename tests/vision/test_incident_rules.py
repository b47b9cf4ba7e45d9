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
