"""Retransmission timing of the mission protocol: the round-trip estimator and what a timeout resends."""

from __future__ import annotations

from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st

from drone_patrol.controller.items import WireItem
from drone_patrol.controller.link import mavlink
from drone_patrol.controller.retransmit import RoundTrip, UploadState


def test_timeout_starts_at_the_upper_bound_then_follows_the_round_trip() -> None:
    rtt = RoundTrip(max_timeout_s=1.5, min_timeout_s=0.05)
    assert rtt.timeout_s() == 1.5  # nothing measured yet: the fixed timeout of old
    for _ in range(20):
        rtt.sample(0.06)
    assert 0.06 <= rtt.timeout_s() < 0.1  # steady 60 ms: srtt + 4 * (small) deviation
    assert rtt.timeout_s(1) == 2 * rtt.timeout_s()  # back-off doubles
    assert rtt.timeout_s(10) == 1.5  # and stops at the upper bound


def test_timeout_never_below_the_floor() -> None:
    rtt = RoundTrip(max_timeout_s=1.5, min_timeout_s=0.05)
    for _ in range(10):
        rtt.sample(0.001)
    assert rtt.timeout_s() == 0.05


@given(st.lists(st.floats(min_value=0.0, max_value=30.0), min_size=1, max_size=50), st.integers(0, 40))
def test_timeout_stays_within_its_bounds(samples: list[float], backoff: int) -> None:
    rtt = RoundTrip(max_timeout_s=2.0, min_timeout_s=0.05)
    for s in samples:
        rtt.sample(s)
    assert 0.05 <= rtt.timeout_s(backoff) <= 2.0


def _upload(autopilot: int, count: int = 8, window: int = 3) -> tuple[UploadState, list[object]]:
    sent: list[object] = []
    items = [WireItem(seq=i, frame=3, command=16, x=i, y=i, z=10.0) for i in range(count)]
    up = UploadState(
        SimpleNamespace(autopilot=autopilot),  # type: ignore[arg-type]
        lambda item, _type: sent.append(item.seq),
        lambda n, _type: sent.append(f"count {n}"),
        items,
        0,
        RoundTrip(max_timeout_s=1.5),
        window,
    )
    return up, sent


def test_other_autopilots_get_stop_and_wait_and_the_requested_item_again() -> None:
    up, sent = _upload(mavlink.MAV_AUTOPILOT_PX4)
    up.send_count()
    up.retransmit()  # no request yet: the count again
    up.answer(0)
    up.answer(1)
    up.retransmit()  # the request for 2 did not come
    assert sent == ["count 8", "count 8", 0, 1, 1]


def test_ardupilot_gets_a_window_of_items_ahead_of_its_requests() -> None:
    up, sent = _upload(mavlink.MAV_AUTOPILOT_ARDUPILOTMEGA)
    up.send_count()
    sent.clear()
    up.answer(0)
    assert sent == [0, 1, 2]  # the window, each item once
    up.answer(1)
    up.answer(3)  # the request for 2 was lost: the next one says more
    assert sent == [0, 1, 2, 3, 4, 5]
    sent.clear()
    up.retransmit()  # nothing for a while: the window again, and one new item
    assert sent == [3, 4, 5, 6]
    sent.clear()
    up.answer(3)  # asked again for 3: 3 was lost, and ArduPilot dropped what followed it
    assert sent == [3, 4, 5, 6]
    sent.clear()
    up.answer(7)
    assert sent == [7] and up.final_sends == 1
    up.answer(1)  # an older request (a restarted upload): answered alone
    assert sent == [7, 1] and up.highest == 7


def test_round_trips_are_timed_only_for_what_went_out_once() -> None:
    up, _sent = _upload(mavlink.MAV_AUTOPILOT_PX4)
    up.send_count()
    up.answer(0)  # times the count
    up.answer(1)  # times item 0
    assert up.rtt.samples == 2
    up.retransmit()  # item 1 goes out again
    up.answer(2)  # item 1 went out twice: not timed
    up.answer(2)  # a repeated request
    assert up.rtt.samples == 2
    up.answer(3)  # item 2 went out twice (two requests): not timed
    assert up.rtt.samples == 2 and up.highest == 3 and up.last_request == 3


def test_invalid_sequence_resends_once_per_awaited_item_never_a_storm() -> None:
    up, sent = _upload(mavlink.MAV_AUTOPILOT_ARDUPILOTMEGA)
    up.rtt.srtt_s = 0.0  # no round-trip guard: only the once-per-item rule holds the resends back
    up.send_count()
    up.answer(0)
    sent.clear()
    up.nack()  # item 0 lost, 1 arrived: send 0 and what followed it again
    assert sent == [0, 1, 2]
    for _ in range(10):  # the copies' own INVALID_SEQUENCE answers: nothing more
        up.nack()
    assert sent == [0, 1, 2]
    up.answer(2)
    up.nack()  # waiting for a new item: one resend again
    assert sent == [0, 1, 2, 3, 4, 2, 3, 4]
