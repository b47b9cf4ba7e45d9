"""Pure parsing of MQTT messages into dashboard values."""

from __future__ import annotations

import json
import math
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drone_patrol.core.types import AlertKind
from drone_patrol.dashboard.model import (
    MessageError,
    Topic,
    ack_payload,
    iso_time,
    parse_ack,
    parse_alert,
    parse_status,
    parse_telemetry,
    parse_time,
    parse_topic,
)
from tests.dashboard.helpers import event_of, make_alert

NAME = st.text(string.ascii_letters + string.digits + "_-", min_size=1, max_size=12)


@given(site=NAME, drone=NAME, kind=st.sampled_from(["thermal_hotspot", "crowd_gathering", "vehicle", "x"]))
def test_topics_round_trip(site: str, drone: str, kind: str) -> None:
    assert parse_topic(f"dronepatrol/{site}/{drone}/alerts/{kind}") == Topic(site, drone, "alert", kind)
    assert parse_topic(f"dronepatrol/{site}/{drone}/alerts/ack") == Topic(site, drone, "ack")
    for channel in ("status", "telemetry", "video"):
        assert parse_topic(f"dronepatrol/{site}/{drone}/{channel}") == Topic(site, drone, channel)
    assert parse_topic(f"other/{site}/{drone}/status") is None
    assert parse_topic(f"dronepatrol/{site}/{drone}/status/extra") is None
    assert parse_topic(f"police/{site}/{drone}/status", prefix="police") == Topic(site, drone, "status")


@given(st.text(max_size=60))
def test_parse_topic_never_raises(topic: str) -> None:
    parse_topic(topic)


@given(st.floats(min_value=0, max_value=4e9, allow_nan=False))
def test_iso_time_round_trips_to_the_millisecond(t: float) -> None:
    assert abs(t - parse_time(iso_time(t), "t")) < 1e-3 + 1e-6  # millisecond resolution


@given(st.one_of(st.text(max_size=30), st.booleans(), st.none(), st.just(math.inf)))
def test_parse_time_fails_with_value_error_only(value: object) -> None:
    try:
        parse_time(value, "time")
    except ValueError as exc:
        assert "time" in str(exc)


def test_alert_from_the_shared_schema() -> None:
    alert = make_alert(kind=AlertKind.CROWD_GATHERING)
    topic = Topic("dongxi", "drone-1", "alert", "crowd_gathering")
    msg = parse_alert(topic, "t", json.dumps(event_of(alert)).encode())
    assert (msg.id, msg.incident_id, msg.kind, msg.severity) == (
        alert.alert_id,
        alert.incident_id,
        "crowd_gathering",
        "critical",
    )
    assert msg.figures == {"head_count": 9, "density_per_m2": 1.4}
    assert msg.thumbnail_jpeg == alert.thumbnail_jpeg
    assert msg.to_json()["has_thumbnail"] is True


def test_alert_from_another_drone_than_its_topic_is_refused() -> None:
    alert = make_alert(drone="drone-9")
    with pytest.raises(MessageError, match="not the topic's drone"):
        parse_alert(Topic("dongxi", "drone-1", "alert", "thermal_hotspot"), "t", json.dumps(event_of(alert)).encode())


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "JSON list"),
        (b'{"specversion": "0.3"}', "specversion|required"),
    ],
)
def test_bad_alerts_name_the_topic(payload: bytes, match: str) -> None:
    with pytest.raises(MessageError, match=match) as info:
        parse_alert(Topic("s", "d", "alert", "x"), "dronepatrol/s/d/alerts/x", payload)
    assert str(info.value).startswith("dronepatrol/s/d/alerts/x: ")


def test_ack_round_trip_through_the_shared_schema() -> None:
    doc = ack_payload("event-1", by="Sgt Li", site="dongxi", drone="drone-1", time_s=1_800_000_000.0, note="on it")
    ack = parse_ack(Topic("dongxi", "drone-1", "ack"), "t", json.dumps(doc).encode())
    assert (ack.target_id, ack.by, ack.note, ack.time_s) == ("event-1", "Sgt Li", "on it", 1_800_000_000.0)
    assert ack.ack_id == doc["id"]
    with pytest.raises(MessageError):
        ack_payload("", by="x", site="dongxi", drone="drone-1", time_s=0)


def test_status_documents_and_the_last_will() -> None:
    assert parse_status("t", b'{"state": "online", "time": "2026-12-01T22:00:00Z"}').online is True
    assert parse_status("t", b'{"state": "patrolling"}').online is True
    will = parse_status("t", b'{"state": "offline", "reason": "connection lost"}')
    assert will.online is False and will.detail["reason"] == "connection lost"
    assert parse_status("t", b"").online is False  # cleared retained message
    assert parse_status("t", b"offline").online is False
    with pytest.raises(MessageError, match="state"):
        parse_status("t", b'{"time": "2026-12-01T22:00:00Z"}')


def test_telemetry_flat_and_nested() -> None:
    flat = parse_telemetry(
        "t", b'{"latitude_deg": 25.1, "longitude_deg": 110.2, "battery_percent": 50, "mission_current_seq": 3}', 7.0
    )
    assert (flat.latitude_deg, flat.battery_percent, flat.mission_current_seq, flat.time_s) == (25.1, 50.0, 3, 7.0)
    nested = parse_telemetry(
        "t", b'{"position": {"lat": 1, "lon": 2}, "battery": {"percent": 9}, "mission": {"current": 2, "count": 8}}', 0
    )
    assert (nested.latitude_deg, nested.battery_percent, nested.mission_count) == (1.0, 9.0, 8)
    with pytest.raises(MessageError, match="both latitude and longitude"):
        parse_telemetry("t", b'{"latitude_deg": 25.1}', 0)
    with pytest.raises(MessageError, match="battery"):
        parse_telemetry("t", b'{"battery_percent": "full"}', 0)
