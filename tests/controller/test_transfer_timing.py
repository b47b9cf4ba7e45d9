"""Retransmission timing of the mission protocol: the round-trip estimator and what a timeout resends."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drone_patrol.controller import retransmit
from drone_patrol.controller.items import WireItem
from drone_patrol.controller.link import mavlink
from drone_patrol.controller.retransmit import RoundTrip, UploadState


def test_timeout_starts_at_the_upper_bound_then_follows_the_round_trip() -> None:
    rtt = RoundTrip(max_timeout_s=1.5, min_timeout_s=0.01)
    assert rtt.timeout_s() == 1.5  # nothing measured yet: the fixed timeout of old
    for _ in range(20):
        rtt.sample(0.06)
    assert 0.06 <= rtt.timeout_s() < 0.1  # steady 60 ms: srtt + 4 * (small) deviation
    assert rtt.timeout_s(1) == 2 * rtt.timeout_s()  # back-off doubles
    assert rtt.timeout_s(10) == 1.5  # and stops at the upper bound


def test_timeout_never_below_the_round_trip_plus_the_floor() -> None:
    rtt = RoundTrip(max_timeout_s=1.5, min_timeout_s=0.05)
    for _ in range(10):
        rtt.sample(0.001)
    assert rtt.timeout_s() == pytest.approx(0.051)
    fast = RoundTrip(max_timeout_s=1.5)
    for _ in range(30):
        fast.sample(0.002)  # a steady 2 ms loopback: 4 ms, not the 10 ms of a fixed floor
    assert fast.timeout_s() == pytest.approx(0.004, abs=2e-4)


@given(st.lists(st.floats(min_value=0.0, max_value=30.0), min_size=1, max_size=50), st.integers(0, 40))
def test_timeout_stays_within_its_bounds(samples: list[float], backoff: int) -> None:
    rtt = RoundTrip(max_timeout_s=2.0, min_timeout_s=0.05)
    for s in samples:
        rtt.sample(s)
    assert 0.05 <= rtt.timeout_s(backoff) <= 2.0


class _Clock:
    """A monotonic clock the test moves by hand (the retransmission rules are timed)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    fake = _Clock()
    monkeypatch.setattr(retransmit.time, "monotonic", fake)
    return fake


def _upload(autopilot: int, count: int = 8, window: int = 3, loss: float = 0.0) -> tuple[UploadState, list[object]]:
    sent: list[object] = []
    items = [WireItem(seq=i, frame=3, command=16, x=i, y=i, z=10.0) for i in range(count)]
    health = SimpleNamespace(loss_fraction=loss)
    up = UploadState(
        SimpleNamespace(autopilot=autopilot, health=lambda: health),  # type: ignore[arg-type]
        lambda item, _type: sent.append(item.seq),
        lambda n, _type: sent.append(f"count {n}"),
        items,
        0,
        RoundTrip(max_timeout_s=1.5),
        window,
    )
    return up, sent


def test_other_autopilots_get_stop_and_wait_and_the_requested_item_again() -> None:
    up, sent = _upload(mavlink.MAV_AUTOPILOT_PX4, loss=0.5)
    up.start()
    up.retransmit()  # no request yet: the count again
    up.answer(0)
    up.answer(1)
    up.retransmit()  # the request for 2 did not come
    up.nack()  # INVALID_SEQUENCE changes nothing
    assert sent == ["count 8", "count 8", 0, 1, 1]


def test_ardupilot_gets_a_window_of_items_ahead_of_its_requests(clock: _Clock) -> None:
    up, sent = _upload(mavlink.MAV_AUTOPILOT_ARDUPILOTMEGA)
    up.rtt.sample(0.05)
    up.start()
    assert sent == ["count 8", 0, 1, 2]  # the first window right behind the count
    sent.clear()
    up.answer(0)  # the request the count drew: nothing new yet
    up.answer(1)
    up.answer(3)  # the request for 2 was lost: the next one says more
    assert sent == [3, 4, 5]
    clock.now += 0.01
    up.answer(3)  # a copy of the request at once (the link repeats frames): nothing
    assert sent == [3, 4, 5]
    sent.clear()
    clock.now += 2.0
    up.retransmit()  # nothing for a while: the window again, and one new item, each twice from now on
    assert sent == [3, 3, 4, 4, 5, 5, 6, 6]
    sent.clear()
    up.answer(7)
    assert sent == [7, 7] and up.final_sends == 1
    up.answer(1)  # an older request (a restarted upload): answered alone
    assert sent == [7, 7, 1, 1] and up.highest == 7


def test_a_second_request_for_the_same_item_after_a_round_trip_resends_the_window(clock: _Clock) -> None:
    up, sent = _upload(mavlink.MAV_AUTOPILOT_ARDUPILOTMEGA)
    up.rtt.sample(0.05)
    up.start()
    up.answer(1)
    sent.clear()
    clock.now += 1.0  # the vehicle's own re-request, a second later: 1 (and what followed) was lost
    up.answer(1)
    assert sent == [1, 1, 2, 2, 3, 3]


def test_on_a_lossy_link_every_item_goes_twice_and_invalid_sequence_is_no_loss(clock: _Clock) -> None:
    up, sent = _upload(mavlink.MAV_AUTOPILOT_ARDUPILOTMEGA, loss=0.2)
    up.start()
    assert sent == ["count 8", "count 8", 0, 0, 1, 1, 2, 2]
    sent.clear()
    up.answer(1)
    up.nack()  # the second copy of 0
    clock.now += 5.0
    up.nack()
    assert sent == [3, 3]


def test_a_clean_link_sends_each_item_once() -> None:
    up, sent = _upload(mavlink.MAV_AUTOPILOT_ARDUPILOTMEGA, loss=0.0, count=5)
    up.start()
    for seq in range(1, 5):
        up.answer(seq)
    assert sent == ["count 5", 0, 1, 2, 3, 4]


def test_round_trips_are_timed_only_for_what_went_out_once(clock: _Clock) -> None:
    up, _sent = _upload(mavlink.MAV_AUTOPILOT_PX4)
    up.start()
    clock.now += 0.05
    up.answer(0)  # times the count
    clock.now += 0.05
    up.answer(1)  # times item 0
    assert up.rtt.samples == 2
    up.retransmit()  # item 1 goes out again
    up.answer(2)  # item 1 went out twice: not timed
    up.answer(2)  # a repeated request
    assert up.rtt.samples == 2
    up.answer(3)  # item 2 went out twice (two requests): not timed
    assert up.rtt.samples == 2 and up.highest == 3 and up.last_request == 3


def test_a_request_after_trouble_is_not_timed(clock: _Clock) -> None:
    up, _sent = _upload(mavlink.MAV_AUTOPILOT_ARDUPILOTMEGA, window=4)
    up.rtt.sample(0.05)
    up.start()
    clock.now += 0.05
    up.answer(1)  # times item 0
    assert up.rtt.samples == 2
    clock.now += 0.05
    up.nack()  # 1 lost, 2 arrived: the window again
    clock.now += 1.0
    up.answer(4)  # 3 went out before the trouble: its request may be the vehicle's re-request
    assert up.rtt.samples == 2


def test_invalid_sequence_resends_once_per_round_trip_never_a_storm(clock: _Clock) -> None:
    up, sent = _upload(mavlink.MAV_AUTOPILOT_ARDUPILOTMEGA)
    up.rtt.sample(0.05)  # srtt 50 ms, rttvar 25 ms: quiet for 100 ms after a resend
    up.start()
    up.answer(0)
    sent.clear()
    clock.now += 0.01
    up.nack()  # item 0 lost, 1 arrived: send 0 and what followed it again
    assert sent == [0, 0, 1, 1, 2, 2]
    for _ in range(10):  # the answers to the copies that were in flight: nothing more
        clock.now += 0.005
        up.nack()
    assert sent == [0, 0, 1, 1, 2, 2]
    clock.now += 0.1
    up.nack()  # a round trip later: the second copies are lost too... but now every item goes twice
    assert sent == [0, 0, 1, 1, 2, 2]


def test_an_error_before_any_request_sends_the_count_and_the_window_again(clock: _Clock) -> None:
    up, sent = _upload(mavlink.MAV_AUTOPILOT_ARDUPILOTMEGA)
    up.start()
    sent.clear()
    clock.now += 0.02
    up.nack(count_lost=True)  # items arrived without the count: ERROR
    assert sent == ["count 8", 0, 1, 2]
    up.nack(count_lost=True)  # the same burst's other answers
    assert sent == ["count 8", 0, 1, 2]
    assert up.rtt.samples == 1  # the first answer timed the first window


def test_tries_needed_grows_with_the_measured_loss() -> None:
    assert retransmit.tries_needed(0.0) == 1
    # 20 % each way: a try fails 36 % of the time; 13 tries all fail 1.7 in a million, 14 0.6
    assert retransmit.tries_needed(0.2) == 14
    assert retransmit.tries_needed(0.02) == 5  # under the six tries of the default patience
    assert retransmit.tries_needed(1.0) is None  # nothing gets through: no number of tries helps


def test_a_silent_exchange_gives_up_after_its_patience_on_a_clean_link_or_a_silent_vehicle() -> None:
    gives_up = retransmit.gives_up
    assert not gives_up(1.7, 7, patience_s=1.8, heartbeat_age_s=0.1, loss_fraction=0.2)
    assert gives_up(1.8, 7, patience_s=1.8, heartbeat_age_s=0.1, loss_fraction=0.0)  # clean: as before
    assert gives_up(1.8, 7, patience_s=1.8, heartbeat_age_s=1.9, loss_fraction=0.2)  # vehicle not heard
    assert gives_up(1.8, 7, patience_s=1.8, heartbeat_age_s=None, loss_fraction=0.2)


def test_a_lossy_link_with_the_vehicle_heard_tries_on_up_to_four_patiences() -> None:
    gives_up = retransmit.gives_up
    # 20 % loss: 7 tries in the patience all fail once in 1,300; go on to 14
    assert not gives_up(1.8, 7, patience_s=1.8, heartbeat_age_s=0.2, loss_fraction=0.2)
    assert not gives_up(3.6, 13, patience_s=1.8, heartbeat_age_s=0.2, loss_fraction=0.2)
    assert gives_up(3.9, 14, patience_s=1.8, heartbeat_age_s=0.2, loss_fraction=0.2)
    # a link that loses nearly everything still stops at four patiences
    assert not gives_up(7.1, 30, patience_s=1.8, heartbeat_age_s=0.2, loss_fraction=0.6)
    assert gives_up(7.2, 30, patience_s=1.8, heartbeat_age_s=0.2, loss_fraction=0.6)
    assert gives_up(1.8, 7, patience_s=1.8, heartbeat_age_s=0.2, loss_fraction=1.0)


def test_a_starved_timer_still_makes_its_tries_before_giving_up() -> None:
    # the timer fired late (a busy machine): 4 tries in the patience, the vehicle silent too
    assert not retransmit.gives_up(1.9, 4, patience_s=1.8, heartbeat_age_s=1.9, loss_fraction=0.0, min_tries=6)
    assert retransmit.gives_up(1.9, 6, patience_s=1.8, heartbeat_age_s=1.9, loss_fraction=0.0, min_tries=6)
    assert retransmit.gives_up(7.2, 4, patience_s=1.8, heartbeat_age_s=1.9, loss_fraction=0.0, min_tries=6)
