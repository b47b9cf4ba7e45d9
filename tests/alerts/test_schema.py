"""The envelope and its data: pydantic models, the shipped JSON Schema files, and the round trip."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drone_patrol.alerts.schema import (
    ALERT_DATASCHEMA,
    AlertSchemaError,
    ack_event,
    alert_event,
    alert_from_event,
    alert_message,
    load_schema,
    parse_event,
    to_rfc3339,
    validate_json_schema,
    vehicle_alert,
)
from drone_patrol.core.types import Alert, AlertKind, GeoPoint, Severity
from tests.alerts.helpers import DRONE, SITE, make_alert


@pytest.mark.parametrize("kind", list(AlertKind))
def test_each_kind_round_trips_and_validates(kind: AlertKind) -> None:
    alert = make_alert(kind, 3, thumbnail=b"\xff\xd8\xff\xe0fakejpeg")
    event = alert_event(alert, site=SITE, drone=DRONE)
    validate_json_schema(json.loads(json.dumps(event)))
    assert event["type"] == f"org.dronepatrol.alert.{kind.value}"
    assert event["source"] == f"/dronepatrol/{SITE}/{DRONE}"
    assert event["dataschema"] == ALERT_DATASCHEMA == load_schema(ALERT_DATASCHEMA)["$id"]
    assert event["subject"] == alert.incident_id
    back = alert_from_event(parse_event(json.dumps(event).encode()))
    assert back.alert_id == alert.alert_id
    assert back.kind is kind and back.status is alert.status and back.severity is alert.severity
    assert back.figures == alert.figures
    assert back.thumbnail_jpeg == alert.thumbnail_jpeg
    assert back.location == alert.location
    assert back.time_s == pytest.approx(alert.time_s, abs=1e-5)
    assert back.first_seen_s == pytest.approx(alert.first_seen_s, abs=1e-5)


def test_missing_kind_figure_is_refused_by_both_validators() -> None:
    bad = make_alert(AlertKind.CROWD_GATHERING)
    bad = Alert(**{**bad.__dict__, "figures": {"density_per_m2": 1.0}})
    with pytest.raises(AlertSchemaError, match="head_count"):
        alert_event(bad, site=SITE, drone=DRONE)
    event = alert_event(make_alert(AlertKind.CROWD_GATHERING), site=SITE, drone=DRONE)
    del event["data"]["figures"]["head_count"]
    with pytest.raises(AlertSchemaError, match="head_count"):
        validate_json_schema(event)
    with pytest.raises(AlertSchemaError, match="head_count"):
        parse_event(event, check_json_schema=False)


def test_parse_errors_are_one_line_and_name_the_field() -> None:
    with pytest.raises(AlertSchemaError, match="not JSON"):
        parse_event(b"{nope")
    with pytest.raises(AlertSchemaError, match="JSON list"):
        parse_event(b"[1]")
    event = alert_event(make_alert(), site=SITE, drone=DRONE)
    event["data"]["confidence"] = 1.5
    with pytest.raises(AlertSchemaError) as info:
        parse_event(event)
    assert "data.confidence" in str(info.value) and "\n" not in str(info.value)


def test_thumbnail_over_the_limit_is_left_out_not_the_alert() -> None:
    event = alert_event(make_alert(thumbnail=b"x" * 2000), site=SITE, drone=DRONE, max_thumbnail_bytes=1000)
    assert event["data"]["thumbnail"] is None
    validate_json_schema(event)


def test_vehicle_helper_makes_a_vehicle_alert_with_a_stable_incident() -> None:
    a = vehicle_alert("battery_low", "warning", "battery at 19 %", {"battery_percent": 19.0}, time_s=1.0e9)
    b = vehicle_alert("battery_low", Severity.CRITICAL, "battery at 9 %", {"battery_percent": 9.0}, time_s=1.0e9 + 60)
    assert a.kind is AlertKind.VEHICLE and a.figures["event"] == "battery_low"
    assert a.incident_id == b.incident_id and a.alert_id != b.alert_id
    validate_json_schema(alert_event(a, site=SITE, drone=DRONE))
    with pytest.raises(AlertSchemaError, match="severity"):
        vehicle_alert("link_lost", "urgent", "x", time_s=0.0)


def test_ack_event_validates() -> None:
    ack = ack_event("incident-1", by="officer-7", site=SITE, drone=DRONE, note="unit 12 on the way", time_s=1.0e9)
    validate_json_schema(ack)
    assert parse_event(ack).data["target_id"] == "incident-1"


_finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@settings(max_examples=60, deadline=None)
@given(
    kind=st.sampled_from(list(AlertKind)),
    lat=st.floats(-90, 90),
    lon=st.floats(-180, 180),
    radius=st.floats(0, 1e4),
    conf=st.floats(-1, 2),
    time_s=st.floats(0, 4e9),
    extra=st.dictionaries(st.text(min_size=1, max_size=8), st.one_of(st.none(), st.booleans(), st.integers(), _finite)),
    summary=st.text(max_size=50),
    located=st.booleans(),
    thumbnail=st.binary(max_size=40),
    ids=st.tuples(st.text(min_size=1, max_size=20), st.text(min_size=1, max_size=20)),
)
def test_any_alert_gives_an_event_both_validators_accept(
    kind: AlertKind, lat: float, lon: float, radius: float, conf: float, time_s: float, extra: dict,
    summary: str, located: bool, thumbnail: bytes, ids: tuple[str, str],
) -> None:  # fmt: skip
    base = make_alert(kind)
    alert = Alert(
        **{
            **base.__dict__,
            "location": GeoPoint(lat, lon) if located else None,
            "error_radius_m": radius,
            "confidence": conf,
            "time_s": time_s,
            "first_seen_s": time_s,
            "last_seen_s": time_s,
            "summary": summary,
            "figures": {**extra, **base.figures},
            "thumbnail_jpeg": thumbnail or None,
            "alert_id": ids[0],
            "incident_id": ids[1],
        }
    )
    event = json.loads(json.dumps(alert_event(alert, site=SITE, drone=DRONE, max_thumbnail_bytes=20)))
    validate_json_schema(event)
    assert alert_from_event(parse_event(event)).figures.keys() == alert.figures.keys()
    # alert_event reads the wire message back: the message is that document.
    message = alert_message(alert, site=SITE, drone=DRONE, max_thumbnail_bytes=20)
    assert json.loads(message.payload) == event
    assert message.event_id == event["id"] == alert.alert_id
    assert event["subject"] == event["data"]["incident_id"] == alert.incident_id
    assert event["data"]["summary"] == alert.summary
    assert message.thumbnail_left_out == (len(thumbnail) > 20)


@settings(max_examples=80, deadline=None)
@given(
    field=st.sampled_from(
        [
            "incident_id",
            "kind",
            "status",
            "severity",
            "site",
            "location",
            "error_radius_m",
            "first_seen",
            "confidence",
            "figures",
            "thumbnail",
            "area",
        ]
    ),
    value=st.one_of(st.none(), st.integers(-5, 5), st.text(max_size=5), st.just({"x": [1]}), st.just("2026-13-01")),
    drop=st.booleans(),
)
def test_json_schema_and_pydantic_agree_on_mutated_data(field: str, value: object, drop: bool) -> None:  # fmt: skip
    event = alert_event(make_alert(AlertKind.THERMAL_HOTSPOT), site=SITE, drone=DRONE)
    bad = copy.deepcopy(event)
    if drop:
        del bad["data"][field]
    else:
        bad["data"][field] = value
    verdicts = []
    for check in (validate_json_schema, lambda e: parse_event(e, check_json_schema=False)):
        try:
            check(bad)
            verdicts.append(True)
        except AlertSchemaError:
            verdicts.append(False)
    assert verdicts[0] == verdicts[1], (field, value, drop, verdicts)


def _reference_rfc3339(time_s: float) -> str:
    return datetime.fromtimestamp(time_s, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_YEAR_1_S, _YEAR_10000_S = -62_135_596_800, 253_402_300_800


@settings(max_examples=400, deadline=None)
@given(
    time_s=st.one_of(
        st.floats(_YEAR_1_S + 1, _YEAR_10000_S - 1),
        st.floats(-1e10, 5e9),
        # on the microsecond grid, and half-way between two microseconds (rounded half to even)
        st.integers(-(10**15), 4 * 10**15).map(lambda us: us / 1e6),
        st.integers(-(10**15), 4 * 10**15).map(lambda us: (us + 0.5) / 1e6),
    )
)
def test_rfc3339_stamps_are_datetimes_own(time_s: float) -> None:
    assert to_rfc3339(time_s) == _reference_rfc3339(time_s)


@pytest.mark.parametrize("time_s", [float("nan"), float("inf"), -float("inf"), 1e20, -1e20])
def test_rfc3339_refuses_what_datetime_refuses(time_s: float) -> None:
    with pytest.raises((ValueError, OverflowError)):
        _reference_rfc3339(time_s)
    with pytest.raises((ValueError, OverflowError)):
        to_rfc3339(time_s)
