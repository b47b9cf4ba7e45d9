"""Acceptance: flights of the simulated camera over the shipped scenarios, through the whole pipeline."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest

from drone_patrol.core.camera import CIRCLE_95_SIGMAS
from drone_patrol.core.geo import LocalFrame
from drone_patrol.core.types import AlertKind, AlertStatus
from drone_patrol.vision.baseline import HeatBaseline
from drone_patrol.vision.pipeline import VisionPipeline
from tests.vision.flights import areas, fly, home, hover, nearest_m, object_en, passes_over, scenario, truth_positions

HOT_NAMES = ("fire-alley-1", "burning-bin", "fire-alley-3", "grill-stall-2", "grill-stall-3", "wok-cart")


def _legs(sc, names):
    frame = LocalFrame(home(areas()))
    return passes_over([object_en(sc, n, frame) for n in names], half_length_m=10.0)


@functools.cache
def _quiet_baseline() -> HeatBaseline:
    """A baseline learnt on one quiet-night patrol over the same places (a survey: everything seen counts)."""
    sc = scenario("quiet_night")
    res = fly(sc, _legs(sc, ("grill-stall-2", "grill-stall-3", "wok-cart")))
    assert res.pipe is not None
    base = HeatBaseline("dongxi", home(areas()))
    base.update_from_patrol(res.pipe.heat_observations(include_alerted=True), 0.0)
    return base


@pytest.fixture(scope="module")
def fires_flight():
    sc = scenario("fires_in_alleys")
    return fly(sc, _legs(sc, HOT_NAMES), baseline=_quiet_baseline())


def test_every_fire_alerted_within_3_m_and_no_alert_on_known_or_baseline_heat(fires_flight) -> None:
    new = fires_flight.of(AlertStatus.NEW)
    fires = truth_positions(fires_flight.truths, "fire")
    assert set(fires) == {"fire-alley-1", "burning-bin", "fire-alley-3"}
    for name, (lat, lon) in fires.items():
        dists = [nearest_m(a, lat, lon) for a in new]
        assert dists and min(dists) <= 3.0, (name, dists)
    # one alert per fire: the grills (area file) and the food cart (baseline) raise none
    assert len(new) == 3
    assert all(a.kind is AlertKind.THERMAL_HOTSPOT for a in new)
    suppressed = set(fires_flight.pipe.rules.suppressed.values()) if fires_flight.pipe else set()
    assert any("known heat source" in s for s in suppressed)
    assert any("baseline" in s for s in suppressed)


def test_alerts_carry_figures_area_and_thumbnail(fires_flight) -> None:
    for a in fires_flight.of(AlertStatus.NEW):
        assert a.figures["max_temperature_c"] >= 300
        assert a.area_name is not None and a.area_name.startswith("dongxi-grid-")
        assert a.thumbnail_jpeg is not None and a.thumbnail_jpeg[:2] == b"\xff\xd8"
        assert a.error_radius_m > 0 and a.site == "dongxi" and a.drone == "drone-1"
    # each incident is closed once, with the same incident id
    new_ids = {a.incident_id for a in fires_flight.of(AlertStatus.NEW)}
    closed_ids = [a.incident_id for a in fires_flight.of(AlertStatus.CLOSED)]
    assert sorted(closed_ids) == sorted(new_ids)


def test_without_a_baseline_the_food_cart_is_a_new_heat_source() -> None:
    sc = scenario("quiet_night")
    res = fly(sc, _legs(sc, ("grill-stall-3", "wok-cart")))
    new = res.of(AlertStatus.NEW)
    assert len(new) == 1 and new[0].figures["max_temperature_c"] > 150


def test_error_radius_covers_truth_under_pose_noise() -> None:
    sc = scenario("fires_in_alleys")
    covered, total = 0, 0
    for seed in (1, 2):
        res = fly(sc, _legs(sc, ("fire-alley-1", "burning-bin", "fire-alley-3")), noise=(1.0, 2.0), seed=seed)
        fires = truth_positions(res.truths, "fire")
        for a in res.of(AlertStatus.NEW) + res.of(AlertStatus.UPDATE):
            d = min(nearest_m(a, lat, lon) for lat, lon in fires.values())
            total += 1
            covered += d <= a.error_radius_m
    assert total >= 6
    assert covered / total >= 0.9, (covered, total)


def test_crowd_forms_updates_and_disperses_with_head_count_within_20_percent() -> None:
    sc = scenario("crowd_near_grills")
    a = areas()
    h = home(a)
    frame = LocalFrame(h)
    centre = object_en(sc, "crowd-by-grill-3", frame)
    from drone_patrol.core.config import CameraConfig, VisionConfig

    pipe = VisionPipeline(VisionConfig(), CameraConfig(), h, a.heat_sources, a.patrol, None, "dongxi", "drone-1")
    times = [*np.arange(0, 30, 3.0), *np.arange(60, 85, 1.0), *np.arange(380, 400, 2.0), *np.arange(420, 470, 3.0)]
    res = hover(sc, centre, times, pipe)
    crowd = [x for x in res.alerts if x.kind is AlertKind.CROWD_GATHERING]
    statuses = [x.status for x in crowd]
    assert statuses[0] is AlertStatus.NEW and statuses[-1] is AlertStatus.CLOSED
    assert AlertStatus.UPDATE in statuses
    assert len({x.incident_id for x in crowd}) == 1
    by_time = {tr.time_s: tr for tr in res.truths}
    for x in crowd:
        if x.status is AlertStatus.CLOSED:
            continue
        truth = next(o for o in by_time[x.time_s].of_kind("crowd") if o.name == "crowd-by-grill-3")
        assert abs(x.figures["head_count"] - truth.count) <= 0.2 * truth.count, (x.figures, truth.count)
        assert nearest_m(x, truth.latitude_deg, truth.longitude_deg) <= 3.0
        hull = json.loads(x.figures["hull"])
        assert x.figures["density_per_m2"] > 0 and hull["type"] == "Polygon" and len(hull["coordinates"][0]) >= 4
        assert all(isinstance(v, (int, float, str, bool)) for v in x.figures.values())
    # the group of three by grill 1 is never a crowd
    assert all(x.area_name == "dongxi-grid-3" for x in crowd)


def test_quiet_night_with_its_baseline_raises_nothing() -> None:
    sc = scenario("quiet_night")
    res = fly(sc, _legs(sc, ("grill-stall-2", "grill-stall-3", "wok-cart", "small-group")), baseline=_quiet_baseline())
    assert res.alerts == []


def test_95_circle_constant() -> None:
    assert abs(CIRCLE_95_SIGMAS - 2.4477) < 1e-3


def test_alerts_pass_the_alert_schema(fires_flight) -> None:
    from drone_patrol.alerts.schema import alert_data

    for a in fires_flight.alerts:
        alert_data(a, site=a.site, drone=a.drone)  # raises on a figure or field the schema refuses


def test_crowd_head_count_and_radius_hold_under_pose_noise() -> None:
    sc = scenario("crowd_near_grills")
    frame = LocalFrame(home(areas()))
    c = object_en(sc, "crowd-by-grill-3", frame)
    leg = np.array([[c[0] - 20, c[1] + 3], [c[0] + 20, c[1] + 3]])
    res = fly(sc, [leg], noise=(1.0, 2.0), scale=1.0, start_s=150.0)
    crowd = [a for a in res.of(AlertStatus.NEW) if a.kind is AlertKind.CROWD_GATHERING]
    assert len(crowd) == 1
    truth = crowd[0]
    (lat, lon) = truth_positions(res.truths, "crowd")["crowd-by-grill-3"]
    assert abs(truth.figures["head_count"] - 14) <= 0.2 * 14
    assert nearest_m(truth, lat, lon) <= truth.error_radius_m
