"""The night patrol schedule: pure functions from the clock to the next patrol time.

A schedule is a daily window (``start`` to ``end`` local time, the end may be after
midnight) and a period: patrols start at ``start``, ``start + every``, ... while
inside the window. Nothing here sleeps or reads the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta


@dataclass(frozen=True, slots=True)
class NightSchedule:
    """Patrols every ``every`` from ``start`` to ``end`` each night (local, naive datetimes)."""

    start: time
    end: time
    every: timedelta

    @classmethod
    def parse(cls, start: str, end: str, every_min: float) -> NightSchedule:
        """Build from "HH:MM" strings and a period in minutes; ValueError on a bad value."""
        if every_min <= 0:
            raise ValueError(f"schedule period must be positive, got {every_min} min")
        return cls(_hhmm(start), _hhmm(end), timedelta(minutes=every_min))

    def window_containing(self, now: datetime) -> tuple[datetime, datetime] | None:
        """The (start, end) of the night window that contains ``now``, or None outside every window."""
        for day in (now.date() - timedelta(days=1), now.date()):
            begin = datetime.combine(day, self.start)
            finish = datetime.combine(day, self.end)
            if finish <= begin:
                finish += timedelta(days=1)
            if begin <= now < finish:
                return begin, finish
        return None

    def next_patrol(self, now: datetime) -> datetime:
        """The first scheduled patrol start at or after ``now``."""
        window = self.window_containing(now)
        if window is not None:
            begin, finish = window
            slots = -(-(now - begin) // self.every)  # ceiling division of timedeltas
            candidate = begin + slots * self.every
            if candidate < finish:
                return candidate
        start_today = datetime.combine(now.date(), self.start)
        return start_today if start_today >= now else start_today + timedelta(days=1)

    def patrols_between(self, first: datetime, last: datetime) -> list[datetime]:
        """Every scheduled patrol start in [first, last)."""
        out: list[datetime] = []
        t = self.next_patrol(first)
        while t < last:
            out.append(t)
            t = self.next_patrol(t + timedelta(seconds=1))
        return out


def _hhmm(text: str) -> time:
    try:
        hours, minutes = (int(p) for p in text.split(":"))
        return time(hours, minutes)
    except ValueError:
        raise ValueError(f"expected a time as HH:MM, got {text!r}") from None
