"""Non-homogeneous case arrivals by time warping.

A ``RateProfile`` is a piecewise-constant relative intensity: a factor per local weekday times a factor per
local hour (missing = 1.0), zero outside an optional arrival ``WorkCalendar``. Inter-arrival gaps are drawn in
"intensity time" (where the process is homogeneous) and ``advance`` maps them back to simulation time through
the inverse of the cumulative intensity ``L(t)``: ``advance(t, gap) = L^-1(L(t) + gap)``.

The segments (bounded by local hour boundaries where the hour factor changes, local midnights and calendar
boundaries) and ``L`` at each segment start are generated lazily, eight weeks at a time, so one ``advance`` is
a bisect on ``L`` instead of a walk over segments. Equal neighbouring segments are merged. Local hours follow
the time zone as ``WorkCalendar`` does (a nonexistent hour has no length, a repeated hour lasts two hours).

Arrivals that move over the year: an optional ``day`` factor per local date (``DayFactors``: month or season
factors, a yearly trend, month-end and quarter-end peaks, holiday dips, campaign bursts, day-to-day noise, a
drift of the arrival rate) multiplies the weekday factor of that date. Days are segments already, so this costs
one call per simulated day, nothing per arrival.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np

from procsim.sim.calendar import SEARCH_LIMIT, WorkCalendar, local_to_sim

__all__ = ["Burst", "DayFactors", "RateProfile", "Replay", "read_replay"]

_CHUNK_DAYS = 56
_ONE_DAY = timedelta(days=1)


def _factors(name: str, given: Mapping[int, float] | None, n: int) -> list[float]:
    out = [1.0] * n
    for k, v in (given or {}).items():
        if not (isinstance(k, int) and 0 <= k < n):
            raise ValueError(f"rate profile: {name} {k!r} is not in 0..{n - 1}")
        f = float(v)
        if not (f >= 0.0 and math.isfinite(f)):
            raise ValueError(f"rate profile: {name} {k} factor must be a finite number >= 0, got {v!r}")
        out[k] = f
    return out


@dataclass(frozen=True)
class Burst:
    """A campaign: arrivals times ``factor`` on the local dates ``start`` .. ``end`` (both included)."""

    start: date
    end: date
    factor: float
    name: str = ""


@dataclass
class DayFactors:
    """The relative arrival intensity of each local date, as the product of every rule that applies to it.

    ``month`` has 12 factors (January first). ``trend`` is growth per year, compounded daily from ``origin``
    (0.1: a year later 10% more cases arrive). ``month_end``/``quarter_end`` are (days, factor): the last
    ``days`` calendar days of every month, or of March, June, September and December, where the quarter-end
    factor replaces the month-end one. ``holiday`` is (factor, calendar): a dip on that calendar's holidays.
    ``noise`` is the coefficient of variation of a gamma factor with mean 1 drawn per day from ``noise_seed``:
    the day-to-day swings that make weekly counts overdispersed as real ones are. ``extra`` are further
    factors per date (a drift of the arrival rate).
    """

    origin: date
    month: Sequence[float] = (1.0,) * 12
    trend: float = 0.0
    month_end: tuple[int, float] | None = None
    quarter_end: tuple[int, float] | None = None
    holiday: tuple[float, Callable[[date], bool]] | None = None
    bursts: Sequence[Burst] = ()
    noise: float = 0.0
    noise_seed: int = 0
    extra: list[Callable[[date], float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._log_growth = math.log1p(self.trend) / 365.25 if self.trend else 0.0
        self._noise: list[float] = []
        if self.noise > 0:
            self._rng = np.random.default_rng(self.noise_seed)
            self._shape = 1.0 / (self.noise * self.noise)

    def _noise_of(self, k: int) -> float:
        if k < 0:
            return 1.0
        drawn = self._noise
        while len(drawn) <= k:  # a year of days at a time, in date order: a day's factor is fixed by the seed
            drawn.extend(self._rng.gamma(self._shape, 1.0 / self._shape, 366).tolist())
        return drawn[k]

    def __call__(self, d: date) -> float:
        f = self.month[d.month - 1]
        k = (d - self.origin).days
        if self._log_growth:
            f *= math.exp(self._log_growth * k)
        if self.month_end is not None or self.quarter_end is not None:
            left = (_month_last(d) - d).days  # 0 on the last day
            if self.quarter_end is not None and d.month % 3 == 0 and left < self.quarter_end[0]:
                f *= self.quarter_end[1]
            elif self.month_end is not None and left < self.month_end[0]:
                f *= self.month_end[1]
        if self.holiday is not None and self.holiday[1](d):
            f *= self.holiday[0]
        for b in self.bursts:
            if b.start <= d <= b.end:
                f *= b.factor
        if self.noise > 0:
            f *= self._noise_of(k)
        for x in self.extra:
            f *= x(d)
        return f


def _month_last(d: date) -> date:
    nxt = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return nxt - _ONE_DAY


class RateProfile:
    """Relative arrival intensity over simulation time; ``advance`` turns unit-rate gaps into arrival times."""

    __slots__ = ("tz", "origin", "calendar", "fast", "day", "_origin_utc", "_wf", "_hf", "_cuts",
                 "_bp", "_val", "_cum", "_next_date", "_horizon")

    def __init__(self, *, tz: ZoneInfo, origin: datetime, weekday: Mapping[int, float] | None = None,
                 hour: Mapping[int, float] | None = None, calendar: WorkCalendar | None = None,
                 day: Callable[[date], float] | None = None) -> None:
        if origin.tzinfo is None or origin.utcoffset() is None:
            raise ValueError(f"rate profile origin must be timezone-aware, got {origin.isoformat()}")
        if calendar is not None and calendar.origin != origin:
            raise ValueError(f"rate profile: calendar origin {calendar.origin.isoformat()} differs from "
                             f"origin {origin.isoformat()}")
        self.tz = tz
        self.origin = origin
        self.calendar = None if calendar is None or calendar.is_always else calendar
        self._origin_utc = origin.astimezone(timezone.utc)
        self._wf = _factors("weekday", weekday, 7)
        self._hf = _factors("hour", hour, 24)
        self.day = day
        if sum(self._wf) * sum(self._hf) <= 0.0:
            raise ValueError("rate profile: total intensity over a week is 0")
        #: True when ``advance(t, gap)`` is exactly ``t + gap``.
        self.fast = self.calendar is None and day is None and all(f == 1.0 for f in self._wf + self._hf)
        # Hours where the hour factor changes: other hour boundaries need no segment.
        self._cuts = [h for h in range(1, 24) if self._hf[h] != self._hf[h - 1]]
        self._bp: list[float] = []  # segment starts
        self._val: list[float] = []  # intensity on each segment
        self._cum: list[float] = []  # integral of intensity before each segment
        self._next_date = self._origin_utc.astimezone(tz).date() - 7 * _ONE_DAY
        self._horizon = local_to_sim(self._next_date, time(0), tz, self._origin_utc)
        if not self.fast:
            self._grow()
            if self.calendar is not None:
                while self._total() <= 0.0:
                    if self._horizon > SEARCH_LIMIT:
                        raise ValueError("rate profile: no arrival intensity inside the arrival calendar "
                                         "in the 3 years after the origin")
                    self._grow()

    def _total(self) -> float:
        return self._cum[-1] + self._val[-1] * (self._horizon - self._bp[-1])

    def _push(self, x: float, v: float) -> None:
        bp, val, cum = self._bp, self._val, self._cum
        if bp:
            if val[-1] == v:
                return
            if x <= bp[-1]:  # zero-length segment before (DST gap): replace it
                val[-1] = v
                if len(bp) > 1 and val[-2] == v:
                    bp.pop(), val.pop(), cum.pop()
                return
            cum.append(cum[-1] + val[-1] * (x - bp[-1]))
        else:
            cum.append(0.0)
        bp.append(x)
        val.append(v)

    def _grow(self) -> None:
        tz, ou, wf, hf = self.tz, self._origin_utc, self._wf, self._hf
        a = self._horizon
        d = self._next_date
        xs: list[float] = []
        vs: list[float] = []
        day = self.day
        for _ in range(_CHUNK_DAYS):
            w = wf[d.weekday()]
            if day is not None:
                f = day(d)
                if not (f >= 0.0 and math.isfinite(f)):
                    raise ValueError(f"rate profile: the factor of {d.isoformat()} is {f!r}; it must be a finite "
                                     "number >= 0")
                w *= f
            xs.append(local_to_sim(d, time(0), tz, ou))
            vs.append(w * hf[0])
            for h in self._cuts:
                xs.append(local_to_sim(d, time(h), tz, ou))
                vs.append(w * hf[h])
            d += _ONE_DAY
        b = local_to_sim(d, time(0), tz, ou)
        cal = self.calendar
        if cal is None:
            for x, v in zip(xs, vs):
                self._push(x, v)
        else:
            # Piece boundaries: hour segments and calendar intervals, merged in time order.
            ivs = cal.intervals(a, b)
            cuts = xs + [p for iv in ivs for p in iv]
            cuts.sort()
            starts = [iv[0] for iv in ivs]
            for x in cuts:
                k = bisect_right(starts, x) - 1
                working = k >= 0 and x < ivs[k][1]
                self._push(x, vs[bisect_right(xs, x) - 1] if working else 0.0)
        self._next_date = d
        self._horizon = b

    def intensity(self, t: float) -> float:
        """Relative intensity at ``t`` (0 before the profile's first day)."""
        if self.fast:
            return 1.0
        while t >= self._horizon:
            self._grow()
        i = bisect_right(self._bp, t) - 1
        return self._val[i] if i >= 0 else 0.0

    def cumulative(self, t: float) -> float:
        """The integral of intensity from the profile's first segment to ``t``."""
        if self.fast:
            return t
        while t >= self._horizon:
            self._grow()
        i = bisect_right(self._bp, t) - 1
        return self._cum[i] + self._val[i] * (t - self._bp[i]) if i >= 0 else 0.0

    def advance(self, t: float, gap: float) -> float:
        """The time ``t' > t`` with the integral of intensity over ``[t, t']`` equal to ``gap``."""
        if self.fast:
            return t + gap
        if not gap > 0.0:
            if gap == 0.0:
                return t
            raise ValueError(f"arrival gap must be >= 0, got {gap!r}")
        while t >= self._horizon:
            self._grow()
        bp, val, cum = self._bp, self._val, self._cum
        i = bisect_right(bp, t) - 1
        target = (cum[i] + val[i] * (t - bp[i]) if i >= 0 else 0.0) + gap
        while self._total() < target:
            if val[-1] == 0.0 and self._horizon - max(t, bp[-1]) > SEARCH_LIMIT:
                raise ValueError(f"rate profile: no arrival intensity in the 3 years after t={t!r}")
            self._grow()
        j = bisect_left(cum, target) - 1
        x = bp[j] + (target - cum[j]) / val[j]
        return min(x, bp[j + 1]) if j + 1 < len(bp) else x

    def __repr__(self) -> str:
        return f"RateProfile(tz={self.tz.key!r}, origin={self.origin.isoformat()!r}, fast={self.fast})"


def read_replay(path: str, tz: ZoneInfo, origin: datetime) -> list[tuple[float, float, int]]:
    """Arrival counts from a CSV file: ``date,count`` (per local day) or ``hour,count`` (per local hour, written
    ``2026-03-02T08:00``), as (period start, period end, count) in simulation seconds, in time order.

    Raises ``ValueError`` naming the line of the first problem.
    """
    import csv

    out: list[tuple[float, float, int]] = []
    origin_utc = origin.astimezone(timezone.utc)
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader, [])]
        if len(header) != 2 or header[0] not in ("date", "hour") or header[1] != "count":
            raise ValueError("line 1: the header must be 'date,count' or 'hour,count'")
        per_hour = header[0] == "hour"
        for line, row in enumerate(reader, start=2):
            if not row or not "".join(row).strip():
                continue
            if len(row) != 2:
                raise ValueError(f"line {line}: expected 2 fields, got {len(row)}")
            when, count = row[0].strip(), row[1].strip()
            try:
                if per_hour:
                    local = datetime.fromisoformat(when)
                    if local.tzinfo is not None or local.minute or local.second or local.microsecond:
                        raise ValueError
                    a = local_to_sim(local.date(), time(local.hour), tz, origin_utc)
                    b = a + 3600.0
                else:
                    d = date.fromisoformat(when)
                    a = local_to_sim(d, time(0), tz, origin_utc)
                    b = local_to_sim(d + _ONE_DAY, time(0), tz, origin_utc)
            except ValueError:
                what = "a local hour like 2026-03-02T08:00" if per_hour else "a date like 2026-03-02"
                raise ValueError(f"line {line}: {when!r} is not {what}") from None
            if not count.isdigit():
                raise ValueError(f"line {line}: count {count!r} is not a whole number >= 0")
            if out and a < out[-1][1]:
                raise ValueError(f"line {line}: {when} is not after the line before; give periods in time order, "
                                 "each once")
            if a < 0:
                raise ValueError(f"line {line}: {when} is before the process start")
            out.append((a, b, int(count)))
    if not out:
        raise ValueError("no arrival counts in the file")
    return out


class Replay:
    """Arrivals replayed from counts per period: exactly ``count`` cases in each, spread over the period by the
    rate profile (uniformly in its intensity time: more in busy hours, none outside the arrival calendar), or
    uniformly in clock time without a profile or where the profile has no intensity."""

    def __init__(self, periods: Sequence[tuple[float, float, int]], rate: RateProfile | None) -> None:
        self.periods = list(periods)
        self.rate = rate

    def times(self, rng: np.random.Generator) -> Iterator[float]:
        rate = self.rate
        for a, b, n in self.periods:
            if n == 0:
                continue
            u = np.sort(rng.random(n)).tolist()
            mass = rate.cumulative(b) - rate.cumulative(a) if rate is not None else 0.0
            if mass > 0.0:
                assert rate is not None
                for x in u:
                    yield min(rate.advance(a, x * mass), b)
            else:
                for x in u:
                    yield a + x * (b - a)
