"""Working calendars: when resources (or arrivals) are on duty, in simulation seconds.

The simulation clock is float seconds since an aware ``origin``; working hours are *local wall-clock* hours in
the calendar's time zone, so a shift starts at 08:00 local on both sides of a DST switch.

Working time is held as disjoint, sorted, absolute intervals ``[start, end)`` in two growing lists, generated
lazily in chunks of whole local days and looked up with ``bisect``; adjacent intervals are merged (22:00-24:00
plus 00:00-06:00 the next day is one night shift), so ``next_boundary`` only ever reports real changes. A third
list holds the working time accumulated before each interval, which makes ``working_between`` and long
``add_working`` calls two bisects.

Local times that do not map to one instant (PEP 495):

* nonexistent (spring-forward gap, e.g. 02:30 on 2026-03-29 in Europe/Berlin) are clamped to the transition
  instant: working time scheduled inside the gap does not happen that day and the local->instant mapping stays
  monotonic, so intervals never come out of order;
* ambiguous (fall-back, 02:30 on 2026-10-25 occurs twice) take the first occurrence (``fold=0``): a shift
  spanning the fall-back hour is one real hour longer, one spanning the gap one hour shorter, as on a wall clock.

The calendar covers time from local midnight one week before the origin's local date; earlier times are
non-working.
"""

from __future__ import annotations

import math
from functools import lru_cache
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import holidays as _holidays

__all__ = ["WorkCalendar", "local_to_sim", "DAY", "SEARCH_LIMIT"]

DAY = 86400.0
#: How far ahead the calendar searches for working time before deciding there is none (prevents endless loops).
SEARCH_LIMIT = 1096 * DAY
_CHUNK_DAYS = 56  # 8 weeks per lazy generation step: a few hundred intervals, well under a millisecond
# intervals kept behind the last one looked up: a long run (1M cases: decades of simulated time) would otherwise keep
# every working interval of every member's calendar. Older ones are dropped once as many again have piled up; a
# query before the oldest kept one regenerates them all (the same floats, computed in the same order) and that
# calendar then keeps everything, so results never depend on the trimming
_KEEP = 2048
_ONE_DAY = timedelta(days=1)
_US = timedelta(microseconds=1)
_UTC = timezone.utc


def local_to_sim(d: date, tm: time, tz: ZoneInfo, origin_utc: datetime) -> float:
    """Seconds from ``origin_utc`` to local wall time ``d tm`` in ``tz`` (gap -> transition, ambiguous -> first)."""
    dt = datetime.combine(d, tm, tzinfo=tz)
    off0 = dt.utcoffset()
    off1 = dt.replace(fold=1).utcoffset()
    if off0 is not None and off1 is not None and off1 > off0:
        # In a gap: fold=1 maps before the transition, fold=0 after it; bisect the transition instant (rare).
        lo = (dt.replace(fold=1) - origin_utc) // _US
        hi = (dt - origin_utc) // _US
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if (origin_utc + mid * _US).astimezone(tz).utcoffset() == off0:
                lo = mid
            else:
                hi = mid
        return hi / 1e6
    # Different tzinfo objects on both sides, so this subtraction is by instant, not by wall clock.
    return (dt - origin_utc) / timedelta(seconds=1)


@lru_cache(maxsize=8192)
def _midnight(d: date, tz: ZoneInfo, origin_utc: datetime) -> float:
    """``local_to_sim`` of local midnight, shared by every calendar of a run.

    Each member with a calendar of their own (absences, part-time) generates the same days in the same zone:
    the two lookups per generated day were most of what generating a chunk costs. Pure, so caching changes no
    result."""
    return local_to_sim(d, time(0), tz, origin_utc)


def _time_of(sec: float) -> tuple[int, time]:
    """(day offset, local time) for a second of the day in [0, 86400]."""
    if sec >= DAY:
        return 1, time(0)
    us = round(sec * 1_000_000)
    h, r = divmod(us, 3_600_000_000)
    m, r = divmod(r, 60_000_000)
    s, r = divmod(r, 1_000_000)
    return 0, time(h, m, s, r)


def _fmt(sec: float) -> str:
    return f"{sec:g}"


class WorkCalendar:
    """Weekly local working hours minus holidays, answering questions in simulation seconds.

    ``weekly`` maps a weekday (0 = Monday) to sorted ``(start, end)`` seconds of the local day, ``end`` up to
    86400. ``holidays`` are explicit non-working local dates; ``holiday_country``/``holiday_subdiv`` add the
    public holidays of the ``holidays`` package, computed one year at a time as the simulation reaches it.
    """

    __slots__ = ("tz", "origin", "name", "_origin_utc", "_days", "_explicit", "_country", "_subdiv",
                 "_years", "_starts", "_ends", "_cum", "_i", "_next_date", "_horizon", "_first", "_floor", "_trims")

    def __init__(self, weekly: Mapping[int, Sequence[tuple[float, float]]], holidays: Iterable[date] = (), *,
                 tz: ZoneInfo, origin: datetime, holiday_country: str | None = None,
                 holiday_subdiv: str | None = None, name: str = "") -> None:
        if origin.tzinfo is None or origin.utcoffset() is None:
            raise ValueError(f"calendar origin must be timezone-aware, got {origin.isoformat()}")
        self.tz = tz
        self.origin = origin
        self.name = name
        self._origin_utc = origin.astimezone(_UTC)
        who = f"calendar {name!r}" if name else "calendar"
        days: list[list[tuple[tuple[int, time], tuple[int, time]]]] = [[] for _ in range(7)]
        total = 0.0
        for wd in sorted(weekly):
            if not (isinstance(wd, int) and 0 <= wd <= 6):
                raise ValueError(f"{who}: weekday {wd!r} is not in 0..6 (0 = Monday)")
            merged: list[list[float]] = []
            for pair in weekly[wd]:
                a, b = float(pair[0]), float(pair[1])
                if not (0.0 <= a < b <= DAY):
                    raise ValueError(f"{who}: weekday {wd}: interval ({_fmt(a)}, {_fmt(b)}) must satisfy "
                                     f"0 <= start < end <= 86400")
                if merged and a < merged[-1][1]:
                    pa, pb = merged[-1]
                    raise ValueError(f"{who}: weekday {wd}: intervals ({_fmt(pa)}, {_fmt(pb)}) and "
                                     f"({_fmt(a)}, {_fmt(b)}) overlap or are out of order")
                if merged and a == merged[-1][1]:
                    merged[-1][1] = b
                else:
                    merged.append([a, b])
                total += b - a
            days[wd] = [(_time_of(a), _time_of(b)) for a, b in merged]
        if total <= 0.0:
            raise ValueError(f"{who}: weekly schedule has no working time")
        self._days = days
        self._explicit = frozenset(h.date() if isinstance(h, datetime) else h for h in holidays)
        self._country = holiday_country
        self._subdiv = holiday_subdiv
        self._years: dict[int, frozenset[date]] = {}
        self._starts: list[float] = []
        self._ends: list[float] = []
        self._cum: list[float] = []  # working seconds before each interval
        self._i = 0  # last looked-up interval: consecutive calls on one resource mostly hit it again
        self._next_date = self._origin_utc.astimezone(tz).date() - 7 * _ONE_DAY
        self._horizon = local_to_sim(self._next_date, time(0), tz, self._origin_utc)
        self._first = (self._next_date, self._horizon)  # where generation starts (to regenerate after a trim)
        self._floor = -math.inf  # the oldest time the kept intervals answer for (-inf: none dropped)
        self._trims = True  # False once a query went before the kept intervals: then nothing is dropped again
        if holiday_country is not None:
            try:
                self._holidays_of(self._next_date.year)
            except NotImplementedError as e:  # the holidays package's "unknown country/subdivision"
                raise ValueError(f"{who}: holidays: {e}") from None
        start = self._horizon
        while not self._starts:
            if self._horizon - start > SEARCH_LIMIT:
                raise ValueError(f"{who}: no working time in the 3 years after {origin.isoformat()}")
            self._grow()

    @classmethod
    def always(cls, tz: ZoneInfo, origin: datetime, name: str = "always") -> WorkCalendar:
        """A 24/7 calendar whose every method is O(1)."""
        return _AlwaysCalendar(tz, origin, name)

    @property
    def is_always(self) -> bool:
        """True for the 24/7 calendar: callers may skip calendar logic entirely."""
        return False

    # -- generation -------------------------------------------------------------------------------------------

    def _holidays_of(self, year: int) -> frozenset[date]:
        got = self._years.get(year)
        if got is None:
            country = self._country or ""
            got = frozenset(_holidays.country_holidays(country, subdiv=self._subdiv, years=year).keys())
            self._years[year] = got
        return got

    def is_holiday(self, d: date) -> bool:
        """Whether local date ``d`` is a holiday of this calendar (explicit or public)."""
        return d in self._explicit or (self._country is not None and d in self._holidays_of(d.year))

    def _grow(self) -> None:
        """Append the next chunk of local days; only the last interval may still be extended later."""
        tz, ou = self.tz, self._origin_utc
        s, e, cum = self._starts, self._ends, self._cum
        d = self._next_date
        m0 = _midnight(d, tz, ou)
        for _ in range(_CHUNK_DAYS):
            m1 = _midnight(d + _ONE_DAY, tz, ou)
            # a day without a UTC offset change maps local times by adding seconds to its midnight
            plain = m1 - m0 == DAY
            if d not in self._explicit and (self._country is None or d not in self._holidays_of(d.year)):
                for (da, ta), (db, tb) in self._days[d.weekday()]:
                    if plain and not da and not db:
                        a = m0 + (ta.hour * 3600 + ta.minute * 60 + ta.second + ta.microsecond / 1e6)
                        b = m0 + (tb.hour * 3600 + tb.minute * 60 + tb.second + tb.microsecond / 1e6)
                    else:
                        a = local_to_sim(d + _ONE_DAY if da else d, ta, tz, ou)
                        b = local_to_sim(d + _ONE_DAY if db else d, tb, tz, ou)
                    if b <= a:
                        continue  # scheduled entirely inside a DST gap
                    if s and a <= e[-1]:
                        if b > e[-1]:
                            e[-1] = b
                    else:
                        cum.append(cum[-1] + (e[-1] - s[-1]) if s else 0.0)
                        s.append(a)
                        e.append(b)
            d += _ONE_DAY
            m0 = m1
        self._next_date = d
        self._horizon = m0

    def _keep(self, t: float) -> None:
        """Before a query's first index: regenerate the dropped intervals if ``t`` is before the kept ones, or drop
        the old ones (never while a query holds indices into the lists)."""
        if t < self._floor:
            self._starts, self._ends, self._cum = [], [], []
            self._next_date, self._horizon = self._first
            self._i, self._floor, self._trims = 0, -math.inf, False
            while not self._starts:
                self._grow()
        elif self._trims and self._i > 2 * _KEEP:
            k = self._i - _KEEP
            del self._starts[:k], self._ends[:k], self._cum[:k]
            self._i -= k
            self._floor = self._starts[0]

    def _no_work(self, t: float) -> ValueError:
        who = f"calendar {self.name!r}" if self.name else "calendar"
        return ValueError(f"{who}: no working time in the 3 years after t={t!r}")

    def _locate(self, t: float) -> int:
        """Index of the last interval starting at or before ``t`` (-1 if none), with ``t`` generated."""
        i = self._i
        s = self._starts
        if i + 1 < len(s) and s[i] <= t < s[i + 1]:
            return i
        while t >= self._horizon:
            self._grow()
        i = bisect_right(s, t) - 1
        self._i = i if i > 0 else 0
        return i

    def _start_after(self, i: int, t: float) -> float:
        while i + 1 >= len(self._starts):
            if self._horizon - max(t, self._ends[-1]) > SEARCH_LIMIT:
                raise self._no_work(t)
            self._grow()
        return self._starts[i + 1]

    def _end_of(self, i: int, t: float) -> float:
        e = self._ends
        while e[i] >= self._horizon:  # the last interval may continue into the next chunk
            if self._horizon - t > SEARCH_LIMIT:
                return math.inf
            self._grow()
        return e[i]

    # -- queries ----------------------------------------------------------------------------------------------

    def is_working(self, t: float) -> bool:
        i = self._i
        if self._starts[i] <= t < self._ends[i]:
            return True
        self._keep(t)
        i = self._locate(t)
        return i >= 0 and t < self._ends[i]

    def next_working(self, t: float) -> float:
        """``t`` if working, else the start of the next working interval."""
        i = self._i
        if self._starts[i] <= t < self._ends[i]:
            return t
        self._keep(t)
        i = self._locate(t)
        if i >= 0 and t < self._ends[i]:
            return t
        return self._start_after(i, t)

    def add_working(self, t: float, work: float) -> float:
        """When ``work`` seconds of working time are done starting at ``t`` (pausing outside working time).

        Work that ends exactly at the end of a shift finishes then, not at the start of the next one;
        ``work == 0`` returns ``t`` itself.
        """
        i = self._i
        end = self._ends[i]
        if self._starts[i] <= t < end and 0.0 <= work and t + work <= end:
            return t + work
        if not work > 0.0:
            if work == 0.0:
                return t
            raise ValueError(f"work must be >= 0 seconds, got {work!r}")
        self._keep(t)
        s, e, cum = self._starts, self._ends, self._cum
        i = self._locate(t)
        if i < 0 or t >= e[i]:
            t = self._start_after(i, t)
            i += 1
            self._i = i
        if t + work <= e[i]:
            return t + work
        target = cum[i] + (t - s[i]) + work
        while cum[-1] + (e[-1] - s[-1]) < target:
            if self._horizon - max(t, e[-1]) > SEARCH_LIMIT:
                raise self._no_work(max(t, e[-1]))
            self._grow()
        j = bisect_left(cum, target) - 1
        self._i = j
        return max(t, min(s[j] + (target - cum[j]), e[j]))

    def working_between(self, t0: float, t1: float) -> float:
        """Working seconds in ``[t0, t1]`` (0 if ``t1 <= t0``)."""
        if not t1 > t0:
            return 0.0
        self._keep(t0)
        s, e = self._starts, self._ends
        i1 = self._locate(t1)
        i0 = self._locate(t0)
        if i1 < 0:
            return 0.0
        if i0 == i1:
            return max(0.0, min(t1, e[i1]) - max(t0, s[i1]))
        w1 = self._cum[i1] + (min(t1, e[i1]) - s[i1])
        w0 = self._cum[i0] + (min(t0, e[i0]) - s[i0]) if i0 >= 0 else 0.0
        return w1 - w0

    def interval_at(self, t: float) -> tuple[float, float] | None:
        """The working interval ``(start, end)`` containing ``t``, or None; ``end`` is inf past 3 years."""
        self._keep(t)
        i = self._locate(t)
        if i < 0 or t >= self._ends[i]:
            return None
        return self._starts[i], self._end_of(i, t)

    def next_boundary(self, t: float) -> float:
        """The next time after ``t`` where working state changes (inf if working on for 3 more years)."""
        self._keep(t)
        i = self._locate(t)
        if i >= 0 and t < self._ends[i]:
            return self._end_of(i, t)
        return self._start_after(i, t)

    def intervals(self, t0: float, t1: float) -> list[tuple[float, float]]:
        """The working intervals overlapping ``[t0, t1)``, clipped to it."""
        if not t1 > t0:
            return []
        self._keep(t0)
        while t1 >= self._horizon:
            self._grow()
        s, e = self._starts, self._ends
        k = max(bisect_right(s, t0) - 1, 0)
        out: list[tuple[float, float]] = []
        n = len(s)
        while k < n and s[k] < t1:
            if e[k] > t0:
                out.append((max(s[k], t0), min(e[k], t1)))
            k += 1
        return out

    def __repr__(self) -> str:
        return f"WorkCalendar(name={self.name!r}, tz={self.tz.key!r}, origin={self.origin.isoformat()!r})"


class _AlwaysCalendar(WorkCalendar):
    """Always working: no intervals, no generation, every answer O(1)."""

    __slots__ = ()

    def __init__(self, tz: ZoneInfo, origin: datetime, name: str) -> None:  # noqa: D107 - skips the schedule
        if origin.tzinfo is None or origin.utcoffset() is None:
            raise ValueError(f"calendar origin must be timezone-aware, got {origin.isoformat()}")
        self.tz = tz
        self.origin = origin
        self.name = name
        self._origin_utc = origin.astimezone(_UTC)

    @property
    def is_always(self) -> bool:
        return True

    def is_working(self, t: float) -> bool:
        return True

    def next_working(self, t: float) -> float:
        return t

    def add_working(self, t: float, work: float) -> float:
        if work < 0.0:
            raise ValueError(f"work must be >= 0 seconds, got {work!r}")
        return t + work

    def working_between(self, t0: float, t1: float) -> float:
        return t1 - t0 if t1 > t0 else 0.0

    def interval_at(self, t: float) -> tuple[float, float] | None:
        return -math.inf, math.inf

    def next_boundary(self, t: float) -> float:
        return math.inf

    def intervals(self, t0: float, t1: float) -> list[tuple[float, float]]:
        return [(t0, t1)] if t1 > t0 else []

    def __repr__(self) -> str:
        return f"WorkCalendar.always(tz={self.tz.key!r}, origin={self.origin.isoformat()!r})"
