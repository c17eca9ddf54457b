"""Waits that hold nobody, and the calendar moments they (and batch schedules) wait for.

Owns the wait node as the walk sees it (``Wait``: when the wait ends, given the case's flow stream and the
clock) and ``Moments``: the first moment at or after a given time that matches a ``MomentSpec`` ("Tuesday and
Friday 10:00", "the last day of the month at 24:00", "the start of the office calendar's next working day").
Moments are local wall-clock times in the process's zone, found date by date and mapped to instants with the
calendar's own rule (``local_to_sim``: a time in the spring-forward gap is the switch, a repeated one its first
occurrence), so 10:00 is 10:00 local on both sides of a DST change.
"""

from __future__ import annotations

import calendar as _months
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np

from procsim.sim.calendar import WorkCalendar, _time_of, local_to_sim

__all__ = ["Moments", "Wait", "SEARCH_DAYS"]

SEARCH_DAYS = 1096  # three years: a moment that does not come by then is refused at load
_DAY = timedelta(days=1)


class Moments:
    """The moments of a ``MomentSpec`` in simulation seconds; ``next(t)`` is the first one at or after ``t``."""

    __slots__ = ("weekdays", "day", "times", "working", "tz", "origin_utc")

    def __init__(self, *, tz: ZoneInfo, origin: datetime, weekdays: set[int] | None = None,
                 day: int | str | None = None, times: list[float] | None = None,
                 working: WorkCalendar | None = None) -> None:
        self.weekdays = frozenset(weekdays) if weekdays is not None else None
        self.day = day
        self.times = sorted(set(times or [0.0]))
        self.working = working  # 'next_working_day': the start of this calendar's next working day
        self.tz = tz
        self.origin_utc = origin.astimezone(timezone.utc)

    def _date(self, t: float) -> date:
        return (self.origin_utc + timedelta(seconds=t)).astimezone(self.tz).date()

    def _matches(self, d: date) -> bool:
        if self.weekdays is not None and d.weekday() not in self.weekdays:
            return False
        if self.day is not None:
            last = _months.monthrange(d.year, d.month)[1]
            # a day past the month's end (31 in April) means its last day, as 'last' does
            want = last if self.day == "last" else min(int(self.day), last)
            return d.day == want
        return True

    def next(self, t: float) -> float:
        """The first moment at or after ``t``; ValueError if none comes within three years."""
        d = self._date(t)
        if self.working is not None:
            return self.working.next_working(local_to_sim(d + _DAY, _time_of(0.0)[1], self.tz, self.origin_utc))
        for k in range(SEARCH_DAYS + 1):
            day = d + k * _DAY
            if not self._matches(day):
                continue
            for sec in self.times:
                shift, tm = _time_of(sec)  # 24:00 is midnight at the end of the day
                s = local_to_sim(day + shift * _DAY, tm, self.tz, self.origin_utc)
                if s >= t:
                    return s
        raise ValueError("no such moment in the three years from there")


@dataclass(eq=False)
class Wait:
    """A wait node: ``until(rng, now)`` is when the case goes on; ``log`` writes its start and complete events.

    ``id`` and ``label`` make it look like an activity to whoever reads an event row (the log's ``activity``).
    """

    id: str
    label: str
    next: int
    until: Callable[[np.random.Generator, float], float]
    log: bool


def timer(sample: Callable[[np.random.Generator], float],
          cal: WorkCalendar | None) -> Callable[[np.random.Generator, float], float]:
    """A drawn duration, in clock time or in ``cal``'s working time (an external party's office hours)."""
    if cal is None:
        return lambda rng, now: now + sample(rng)
    return lambda rng, now: cal.add_working(now, sample(rng))


def moment(m: Moments) -> Callable[[np.random.Generator, float], float]:
    return lambda rng, now: m.next(now)
