"""The command ledger: idempotent command ids, one excursion at a time, the state machine's steps."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drone_patrol.alerts.eyes_on import CommandSchemaError, CommandState, EyesOnCommand, ReleaseCommand
from drone_patrol.core.types import GeoPoint
from drone_patrol.planner.eyes_on import Excursion, Refusal
from drone_patrol.service.eyes_on_rules import CommandLedger, StateTransitionError

S = CommandState
ROOM = "/dronepatrol/dongxi/command-room"
P = GeoPoint(25.0, 110.0)
OK = Excursion(P, P, (P,), 40.0, 10.0, 0.1, 0.6, 50.0, 100.0)


def cmd(cid: str, source: str = ROOM) -> EyesOnCommand:
    return EyesOnCommand(cid, 25.0, 110.0, 60.0, "officer-7", None, "ev-" + cid, source)


def ok(_c: EyesOnCommand) -> Excursion:
    return OK


def test_accept_then_repeat_then_busy_then_release() -> None:
    led = CommandLedger("dongxi", "drone-1")
    d = led.receive(cmd("a"), flying_patrol=True, judge=ok)
    assert (d.action, d.state, d.excursion) == ("start", S.ACCEPTED, OK) and led.active == "a"
    again = led.receive(cmd("a"), flying_patrol=True, judge=ok)
    assert (again.action, again.state) == ("answer", S.ACCEPTED)  # a repeat starts nothing
    busy = led.receive(cmd("b"), flying_patrol=True, judge=ok)
    assert busy.state is S.REFUSED and busy.reason is not None and busy.reason.code == "busy"
    led.record("a", S.EN_ROUTE)
    assert led.receive(ReleaseCommand("a", "officer-7"), flying_patrol=True, judge=ok).action == "release"
    led.record("a", S.RELEASED)
    assert led.active is None
    late = led.receive(ReleaseCommand("a", "officer-7"), flying_patrol=True, judge=ok)
    assert (late.action, late.state) == ("answer", S.RELEASED)
    unknown = led.receive(ReleaseCommand("zz", "officer-7"), flying_patrol=True, judge=ok)
    assert unknown.state is S.REFUSED and unknown.reason is not None and unknown.reason.code == "unknown_command"


def test_refusals_from_the_judge_the_patrol_the_site_and_malformed_messages() -> None:
    led = CommandLedger("dongxi", "drone-1")
    no = led.receive(cmd("x"), flying_patrol=True, judge=lambda c: Refusal("in_no_fly", "in 'helipad'"))
    assert (no.state, no.reason.code if no.reason else None) == (S.REFUSED, "in_no_fly")
    assert led.receive(cmd("x"), flying_patrol=True, judge=ok).state is S.REFUSED  # a repeat keeps its answer
    grounded = led.receive(cmd("g"), flying_patrol=False, judge=ok)
    assert grounded.reason is not None and grounded.reason.code == "not_flying"
    foreign = led.receive(cmd("f", "/dronepatrol/beihai/command-room"), flying_patrol=True, judge=ok)
    assert foreign.reason is not None and foreign.reason.code == "unknown_site" and "'beihai'" in foreign.reason.text
    bad = led.receive(CommandSchemaError("data.lat_deg: 91 > 90", "m"), flying_patrol=True, judge=ok)
    assert bad.reason is not None and (bad.reason.code, bad.reason.text) == ("malformed", "data.lat_deg: 91 > 90")
    assert led.receive(CommandSchemaError("not JSON", None), flying_patrol=True, judge=ok).action == "ignore"
    assert led.active is None


def test_a_command_that_waited_too_long_is_refused_expired() -> None:
    """A command queued for a drone that was down arrives long after it was sent: not flown."""
    led = CommandLedger("dongxi", "drone-1")
    sent_s = 1_800_000_000.0
    stale = EyesOnCommand("old", 25.0, 110.0, 60.0, "officer-7", None, "ev-old", ROOM, sent_s)
    d = led.receive(stale, flying_patrol=True, judge=ok, now_s=sent_s + led.max_command_age_s + 1.0)
    assert d.state is S.REFUSED and d.reason is not None and d.reason.code == "expired" and led.active is None
    assert "send it again" in d.reason.text
    # a repeat of it keeps its answer; a fresh one (or one without a time) is judged as usual
    assert led.receive(stale, flying_patrol=True, judge=ok, now_s=sent_s).state is S.REFUSED
    fresh = EyesOnCommand("new", 25.0, 110.0, 60.0, "officer-7", None, "ev-new", ROOM, sent_s)
    assert led.receive(fresh, flying_patrol=True, judge=ok, now_s=sent_s + 5.0).action == "start"
    led.record("new", S.RELEASED)
    assert led.receive(cmd("untimed"), flying_patrol=True, judge=ok, now_s=sent_s + 1e6).action == "start"


def test_a_command_whose_wait_a_broker_counted_is_not_judged_by_the_drone_clock() -> None:
    """Delivered with the expiry time it has left (MQTT 5), a command is young enough whatever the
    drone's clock says: a companion computer whose clock is off does not refuse every command."""
    led = CommandLedger("dongxi", "drone-1")
    sent_s = 1_800_000_000.0
    counted = EyesOnCommand("c", 25.0, 110.0, 60.0, "officer-7", None, "ev-c", ROOM, sent_s, expiry_left_s=290.0)
    assert led.receive(counted, flying_patrol=True, judge=ok, now_s=sent_s + 3600.0).action == "start"


def test_steps_out_of_order_are_bugs() -> None:
    led = CommandLedger("dongxi", "drone-1")
    with pytest.raises(StateTransitionError, match="before it was accepted"):
        led.record("a", S.ON_STATION)
    led.receive(cmd("a"), flying_patrol=True, judge=ok)
    with pytest.raises(StateTransitionError, match="accepted -> completed"):
        led.record("a", S.COMPLETED)
    led.record("a", S.FAILED)
    with pytest.raises(StateTransitionError, match="failed -> en_route"):
        led.record("a", S.EN_ROUTE)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["eyes", "release"]), st.sampled_from(["a", "b", "c"])), max_size=30),
       st.lists(st.sampled_from(list(S)), max_size=30))  # fmt: skip
def test_any_sequence_keeps_one_excursion_and_answers_every_command(
    msgs: list[tuple[str, str]], steps: list[CommandState]
) -> None:
    led = CommandLedger("dongxi", "drone-1", remember=2)
    for (kind, cid), step in zip(msgs, steps + [S.EN_ROUTE] * len(msgs), strict=False):
        m = cmd(cid) if kind == "eyes" else ReleaseCommand(cid, "x")
        d = led.receive(m, flying_patrol=True, judge=ok)
        assert d.action in ("start", "release", "answer")
        assert d.action == "release" or d.state is not None  # every command gets an answer
        open_ids = [c for c in "abc" if (st_ := led.state_of(c)) is not None and not st_.final]
        assert open_ids == ([led.active] if led.active else [])  # at most one excursion, the active one
        if led.active is not None:
            with contextlib.suppress(StateTransitionError):
                led.record(led.active, step)


def test_a_new_eyes_on_while_flying_back_to_the_patrol_is_busy() -> None:
    led = CommandLedger("dongxi", "drone-1")
    d = led.receive(cmd("n"), flying_patrol=False, judge=ok, returning_from="a")
    assert d.reason is not None and d.reason.code == "busy" and "returning to the patrol after" in d.reason.text
