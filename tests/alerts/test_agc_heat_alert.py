"""A hot spot of automatic-gain video has no temperature: its alert still passes the schema and the model."""

from __future__ import annotations

import dataclasses
import json

import pytest

from drone_patrol.alerts.schema import alert_event, parse_event
from drone_patrol.alerts.watch import format_figures
from tests.alerts.helpers import make_alert

SOURCE = {"site": "dongxi", "drone": "drone-1"}


def _event(figures: dict) -> bytes:
    alert = dataclasses.replace(make_alert(), figures=figures)
    return json.dumps(alert_event(alert, **SOURCE)).encode()


def test_saturated_video_heat_is_a_valid_alert_without_a_temperature() -> None:
    figures = {"max_temperature_c": None, "measurement": "agc_saturation", "area_m2": 0.4, "mode": "agc"}
    event = parse_event(_event(figures))
    assert event.data["figures"]["max_temperature_c"] is None
    assert format_figures("thermal_hotspot", figures).startswith("no temperature (saturated video)")


def test_a_null_temperature_without_saying_why_is_refused() -> None:
    with pytest.raises(Exception, match="max_temperature_c"):
        parse_event(_event({"max_temperature_c": None, "area_m2": 0.4}))
