"""Command and result events: the shipped data schemas, the builders and the parser's typed errors."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drone_patrol.alerts.eyes_on import (
    EYES_ON_TYPE,
    RELEASE_TYPE,
    RESULT_TYPE,
    CommandSchemaError,
    CommandState,
    EyesOnCommand,
    Reason,
    ReleaseCommand,
    command_schema,
    eyes_on_event,
    parse_command,
    parse_result,
    release_event,
    result_event,
)


def test_eyes_on_and_release_round_trip() -> None:
    doc = eyes_on_event("cmd-1", 25.2823, 110.2972, 120.0, "officer-7", site="dongxi", altitude_m=35.0, time_s=1.0e9)
    assert doc["type"] == EYES_ON_TYPE and doc["source"] == "/dronepatrol/dongxi/command-room"
    assert doc["dataschema"] == command_schema(EYES_ON_TYPE)["$id"] and doc["subject"] == "cmd-1"
    cmd = parse_command(json.dumps(doc).encode())
    assert cmd == EyesOnCommand(
        "cmd-1", 25.2823, 110.2972, 120.0, "officer-7", 35.0, doc["id"], doc["source"], sent_s=1.0e9
    )
    plain = eyes_on_event("cmd-2", 25.0, 110.0, 5, "officer-7", site="dongxi")
    assert "altitude_m" not in plain["data"] and parse_command(plain).altitude_m is None  # type: ignore[union-attr]
    rel = release_event("cmd-1", "officer-7", site="dongxi")
    assert rel["type"] == RELEASE_TYPE
    assert parse_command(rel) == ReleaseCommand("cmd-1", "officer-7", rel["id"], rel["source"])


def test_results_round_trip_and_need_a_reason_exactly_when_refused_or_failed() -> None:
    ok = result_event("cmd-1", "on_station", site="dongxi", drone="drone-1", time_s=1.0e9)
    assert ok["type"] == RESULT_TYPE and ok["source"] == "/dronepatrol/dongxi/drone-1"
    r = parse_result(json.dumps(ok))
    assert (r.command_id, r.state, r.reason, r.site, r.drone) == ("cmd-1", CommandState.ON_STATION, None, "dongxi",
                                                                  "drone-1")  # fmt: skip
    assert r.time_s == pytest.approx(1.0e9)
    no = result_event("cmd-1", CommandState.REFUSED, Reason("in_no_fly", "in 'helipad'"), site="s", drone="d")
    assert parse_result(no).reason == Reason("in_no_fly", "in 'helipad'")
    with pytest.raises(CommandSchemaError, match=r"data\.reason"):
        result_event("cmd-1", "refused", None, site="s", drone="d")
    with pytest.raises(CommandSchemaError, match=r"data\.reason"):
        result_event("cmd-1", "completed", Reason("x", "y"), site="s", drone="d")
    assert [s.final for s in CommandState] == [False, True, False, False, True, True, True]


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (lambda d: d["data"].pop("lat_deg"), "'lat_deg' is a required property"),
        (lambda d: d["data"].update(lat_deg=91), "data.lat_deg: 91 is greater than the maximum of 90"),
        (lambda d: d["data"].update(duration_s=0), "data.duration_s: 0 is less than or equal to the minimum of 0"),
        (lambda d: d["data"].update(duration_s="60"), "data.duration_s: '60' is not of type 'number'"),
        (lambda d: d["data"].update(lat_deg=float("nan")), "data.lat_deg: nan is not a finite number"),
        (lambda d: d["data"].update(extra=1), "Additional properties are not allowed ('extra' was unexpected)"),
        (lambda d: d.update(type="org.dronepatrol.command.land"), "type: 'org.dronepatrol.command.land' is not one"),
        (lambda d: d.update(specversion="0.3"), "specversion: expected '1.0'"),
        (lambda d: d.update(dataschema="urn:dronepatrol:schema:release:1.0"), "dataschema: 'urn:dronepatrol:schema"),
        (lambda d: d.update(time="yesterday"), "time: 'yesterday' is not an RFC 3339 date-time"),
        (lambda d: d.pop("source"), "source: a non-empty string is required"),
        (lambda d: d.update(data=[1]), "data: an object is required"),
    ],
)
def test_malformed_commands_are_one_line_errors_naming_the_field(change, needle: str) -> None:  # type: ignore[no-untyped-def]
    doc = eyes_on_event("cmd-9", 25.0, 110.0, 60.0, "officer-7", site="dongxi")
    change(doc)
    with pytest.raises(CommandSchemaError) as caught:
        parse_command(json.dumps(doc))
    err = caught.value
    assert needle in str(err) and "\n" not in str(err) and err.code == "malformed"
    # the command id travels with the error when it can be read, so the drone can answer "refused"
    assert err.command_id == ("cmd-9" if isinstance(doc.get("data"), dict) else None)


def test_the_builder_sends_floats_and_refuses_what_is_not_a_finite_number() -> None:
    doc = eyes_on_event("cmd-3", 25, 110, 90, "officer-7", site="dongxi", altitude_m=40)
    assert '"lat_deg": 25.0' in json.dumps(doc) and '"duration_s": 90.0' in json.dumps(doc)
    assert '"altitude_m": 40.0' in json.dumps(doc)
    for bad in (float("nan"), float("inf"), True, "25", None):
        with pytest.raises(CommandSchemaError, match=r"data\.lat_deg") as caught:
            eyes_on_event("cmd-3", bad, 110.0, 90.0, "officer-7", site="dongxi")  # type: ignore[arg-type]
        assert "\n" not in str(caught.value)


def test_payloads_that_are_not_json_objects() -> None:
    with pytest.raises(CommandSchemaError, match="not JSON"):
        parse_command(b"\xff{")
    with pytest.raises(CommandSchemaError, match="JSON list, expected an object"):
        parse_command("[]")
    with pytest.raises(CommandSchemaError, match="is not one of"):
        parse_result(eyes_on_event("c", 1.0, 2.0, 3.0, "x", site="s"))


@settings(max_examples=60, deadline=None)
@given(
    lat=st.floats(-90, 90),
    lon=st.floats(-180, 180),
    duration=st.floats(0.001, 3600),
    alt=st.none() | st.floats(0.5, 500),
    cid=st.text(st.characters(codec="utf-8"), min_size=1, max_size=128),
)
def test_any_valid_command_round_trips(lat: float, lon: float, duration: float, alt: float | None, cid: str) -> None:
    doc = eyes_on_event(cid, lat, lon, duration, "officer", site="dongxi", altitude_m=alt)
    cmd = parse_command(json.dumps(doc).encode())
    assert isinstance(cmd, EyesOnCommand)
    assert (cmd.command_id, cmd.lat_deg, cmd.lon_deg, cmd.duration_s, cmd.altitude_m) == (cid, lat, lon, duration, alt)


@settings(max_examples=80, deadline=None)
@given(st.dictionaries(st.sampled_from(["command_id", "lat_deg", "lon_deg", "duration_s", "requested_by", "x"]),
                       st.none() | st.integers() | st.text(max_size=5) | st.floats()))  # fmt: skip
def test_arbitrary_data_gives_a_typed_error_or_a_command(data: dict) -> None:  # type: ignore[type-arg]
    doc = eyes_on_event("c", 1.0, 2.0, 3.0, "x", site="s")
    doc["data"] = data
    try:
        cmd = parse_command(doc)
    except CommandSchemaError as exc:
        assert "\n" not in str(exc)
    else:
        assert isinstance(cmd, EyesOnCommand)
