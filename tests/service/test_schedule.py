"""The night schedule: windows across midnight, slots, next patrol."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drone_patrol.service.schedule import NightSchedule

S = NightSchedule.parse("19:00", "02:00", 30)


def test_inside_window_rounds_up_to_next_slot() -> None:
    assert S.next_patrol(datetime(2026, 12, 1, 19, 10)) == datetime(2026, 12, 1, 19, 30)
    assert S.next_patrol(datetime(2026, 12, 1, 19, 30)) == datetime(2026, 12, 1, 19, 30)


def test_after_midnight_belongs_to_previous_night() -> None:
    assert S.next_patrol(datetime(2026, 12, 2, 1, 20)) == datetime(2026, 12, 2, 1, 30)
    # 02:00 itself is the end of the window: next is 19:00 the same day
    assert S.next_patrol(datetime(2026, 12, 2, 1, 45)) == datetime(2026, 12, 2, 19, 0)


def test_daytime_waits_for_evening() -> None:
    assert S.next_patrol(datetime(2026, 12, 1, 12, 0)) == datetime(2026, 12, 1, 19, 0)


def test_patrols_in_one_night() -> None:
    night = S.patrols_between(datetime(2026, 12, 1, 18, 0), datetime(2026, 12, 2, 3, 0))
    assert len(night) == 14
    assert night[0] == datetime(2026, 12, 1, 19, 0) and night[-1] == datetime(2026, 12, 2, 1, 30)


def test_bad_values() -> None:
    with pytest.raises(ValueError, match="HH:MM"):
        NightSchedule.parse("7pm", "02:00", 30)
    with pytest.raises(ValueError, match="positive"):
        NightSchedule.parse("19:00", "02:00", 0)


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1)))
def test_next_patrol_is_in_a_window_and_not_before_now(now: datetime) -> None:
    t = S.next_patrol(now)
    assert t >= now and t - now <= timedelta(hours=18)
    assert S.window_containing(t) is not None
