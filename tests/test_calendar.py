"""WorkCalendar: local working hours in sim seconds, DST, holidays, and the add/working_between invariants."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from procsim.sim.calendar import WorkCalendar

BERLIN = ZoneInfo("Europe/Berlin")
ORIGIN = datetime(2026, 1, 5, 8, 0, tzinfo=BERLIN)  # a Monday
H = 3600.0
OFFICE = {d: [(8 * H, 17 * H)] for d in range(5)}
LUNCH = {d: [(8 * H, 12 * H), (13 * H, 17 * H)] for d in range(5)}


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> float:
    """Sim seconds of a local Berlin wall time (subtracting in UTC: same-tzinfo subtraction ignores DST)."""
    return (datetime(y, mo, d, h, mi, tzinfo=BERLIN) - ORIGIN.astimezone(timezone.utc)).total_seconds()


def local(t: float) -> str:
    return (ORIGIN.astimezone(timezone.utc) + timedelta(seconds=t)).astimezone(BERLIN).isoformat()


def test_friday_afternoon_task_resumes_monday() -> None:
    cal = WorkCalendar(OFFICE, tz=BERLIN, origin=ORIGIN)
    assert local(cal.add_working(at(2026, 1, 9, 16), 2 * H)) == "2026-01-12T09:00:00+01:00"


def test_fitting_task_is_plain_addition_and_shift_end_is_not_next_start() -> None:
    cal = WorkCalendar(OFFICE, tz=BERLIN, origin=ORIGIN)
    t = at(2026, 1, 6, 9)
    assert cal.add_working(t, 1234.5) == t + 1234.5
    assert local(cal.add_working(t, 8 * H)) == "2026-01-06T17:00:00+01:00"
    assert cal.add_working(t, 0.0) == t
    assert cal.add_working(at(2026, 1, 6, 20), 0.0) == at(2026, 1, 6, 20)


def test_task_started_outside_hours_waits() -> None:
    cal = WorkCalendar(OFFICE, tz=BERLIN, origin=ORIGIN)
    assert local(cal.add_working(at(2026, 1, 6, 6), H)) == "2026-01-06T09:00:00+01:00"
    assert local(cal.add_working(at(2026, 1, 10, 12), 10 * H)) == "2026-01-13T09:00:00+01:00"


def test_lunch_break_splits_work() -> None:
    cal = WorkCalendar(LUNCH, tz=BERLIN, origin=ORIGIN)
    assert local(cal.add_working(at(2026, 1, 6, 11), 2 * H)) == "2026-01-06T14:00:00+01:00"
    assert cal.working_between(at(2026, 1, 6, 0), at(2026, 1, 7, 0)) == 8 * H
    assert local(cal.next_boundary(at(2026, 1, 6, 11))) == "2026-01-06T12:00:00+01:00"
    assert local(cal.next_working(at(2026, 1, 6, 12, 30))) == "2026-01-06T13:00:00+01:00"


def test_holidays_explicit_and_country() -> None:
    start = at(2026, 12, 24, 16)  # Thursday; the 25th is a Friday
    plain = WorkCalendar(OFFICE, tz=BERLIN, origin=ORIGIN)
    assert local(plain.add_working(start, 2 * H)) == "2026-12-25T09:00:00+01:00"
    de = WorkCalendar(OFFICE, tz=BERLIN, origin=ORIGIN, holiday_country="DE")
    assert local(de.add_working(start, 2 * H)) == "2026-12-28T09:00:00+01:00"
    assert not de.is_working(at(2026, 12, 25, 10))
    assert de.is_working(at(2026, 12, 24, 10))
    own = WorkCalendar(OFFICE, [date(2026, 12, 28)], tz=BERLIN, origin=ORIGIN, holiday_country="DE")
    assert local(own.add_working(start, 2 * H)) == "2026-12-29T09:00:00+01:00"
    by_state = WorkCalendar(OFFICE, tz=BERLIN, origin=ORIGIN, holiday_country="DE", holiday_subdiv="BY")
    assert not by_state.is_working(at(2026, 1, 6, 10))  # Epiphany in Bavaria only
    assert de.is_working(at(2026, 1, 6, 10))


def test_dst_switch_keeps_local_hours() -> None:
    daily = {d: [(8 * H, 17 * H)] for d in range(7)}
    cal = WorkCalendar(daily, tz=BERLIN, origin=ORIGIN)
    # Spring forward on Sunday 2026-03-29: 08:00 local on both sides, offset changes.
    assert local(cal.next_working(at(2026, 3, 28, 18))) == "2026-03-29T08:00:00+02:00"
    assert cal.interval_at(at(2026, 3, 28, 9)) == (at(2026, 3, 28, 8), at(2026, 3, 28, 17))
    assert cal.interval_at(at(2026, 3, 29, 9)) == (at(2026, 3, 29, 8), at(2026, 3, 29, 17))
    assert cal.working_between(at(2026, 3, 28, 0), at(2026, 3, 30, 0)) == 18 * H
    assert local(cal.add_working(at(2026, 3, 28, 16), 2 * H)) == "2026-03-29T09:00:00+02:00"
    assert local(cal.next_working(at(2026, 10, 24, 18))) == "2026-10-25T08:00:00+01:00"


def test_night_shift_merges_across_midnight_and_follows_dst() -> None:
    nights = {d: [(0.0, 6 * H), (22 * H, 24 * H)] for d in range(7)}
    cal = WorkCalendar(nights, tz=BERLIN, origin=ORIGIN)
    a, b = cal.interval_at(at(2026, 1, 6, 23))  # type: ignore[misc]
    assert (local(a), local(b)) == ("2026-01-06T22:00:00+01:00", "2026-01-07T06:00:00+01:00")
    assert cal.next_boundary(at(2026, 3, 28, 23)) - at(2026, 3, 28, 22) == 7 * H  # an hour lost
    assert cal.next_boundary(at(2026, 10, 24, 23)) - at(2026, 10, 24, 22) == 9 * H  # an hour gained


def test_dst_gap_and_repeated_hour() -> None:
    # 02:00-02:30 does not exist on 2026-03-29 and happens twice on 2026-10-25 (first occurrence used).
    cal = WorkCalendar({d: [(2 * H, 2.5 * H), (3 * H, 4 * H)] for d in range(7)}, tz=BERLIN, origin=ORIGIN)
    spring = [(local(a), local(b)) for a, b in cal.intervals(at(2026, 3, 29, 0), at(2026, 3, 30, 0))]
    assert spring == [("2026-03-29T03:00:00+02:00", "2026-03-29T04:00:00+02:00")]
    autumn = [(local(a), local(b)) for a, b in cal.intervals(at(2026, 10, 25, 0), at(2026, 10, 26, 0))]
    assert autumn == [("2026-10-25T02:00:00+02:00", "2026-10-25T02:30:00+02:00"),
                      ("2026-10-25T03:00:00+01:00", "2026-10-25T04:00:00+01:00")]


def test_always_calendar() -> None:
    cal = WorkCalendar.always(BERLIN, ORIGIN)
    assert cal.is_always and isinstance(cal, WorkCalendar)
    assert cal.is_working(-5.0) and cal.is_working(1e9)
    assert cal.next_working(12.5) == 12.5
    assert cal.add_working(12.5, 100.25) == 112.75
    assert cal.working_between(10.0, 25.0) == 15.0
    assert cal.working_between(25.0, 10.0) == 0.0
    assert cal.interval_at(3.0) == (-math.inf, math.inf)
    assert cal.next_boundary(3.0) == math.inf
    assert not WorkCalendar(OFFICE, tz=BERLIN, origin=ORIGIN).is_always


def test_round_the_clock_weekly_has_no_finite_boundary() -> None:
    cal = WorkCalendar({d: [(0.0, 24 * H)] for d in range(7)}, tz=BERLIN, origin=ORIGIN)
    assert cal.next_boundary(0.0) == math.inf
    assert cal.add_working(10.0, 400 * 24 * H) == 10.0 + 400 * 24 * H


@pytest.mark.parametrize(("weekly", "message"), [
    ({}, "calendar 'ops': weekly schedule has no working time"),
    ({0: []}, "calendar 'ops': weekly schedule has no working time"),
    ({7: [(0, 10)]}, "calendar 'ops': weekday 7 is not in 0..6 (0 = Monday)"),
    ({0: [(10, 5)]}, "calendar 'ops': weekday 0: interval (10, 5) must satisfy 0 <= start < end <= 86400"),
    ({0: [(0, 90000)]}, "calendar 'ops': weekday 0: interval (0, 90000) must satisfy 0 <= start < end <= 86400"),
    ({1: [(8 * H, 12 * H), (11 * H, 17 * H)]},
     "calendar 'ops': weekday 1: intervals (28800, 43200) and (39600, 61200) overlap or are out of order"),
    ({1: [(13 * H, 17 * H), (8 * H, 12 * H)]},
     "calendar 'ops': weekday 1: intervals (46800, 61200) and (28800, 43200) overlap or are out of order"),
])
def test_bad_weekly_schedules(weekly: dict[int, list[tuple[float, float]]], message: str) -> None:
    with pytest.raises(ValueError) as exc:
        WorkCalendar(weekly, tz=BERLIN, origin=ORIGIN, name="ops")
    assert str(exc.value) == message


def test_bad_holiday_country_and_naive_origin() -> None:
    with pytest.raises(ValueError) as exc:
        WorkCalendar(OFFICE, tz=BERLIN, origin=ORIGIN, holiday_country="XX")
    assert str(exc.value) == "calendar: holidays: Country XX not available"
    with pytest.raises(ValueError) as exc:
        WorkCalendar(OFFICE, tz=BERLIN, origin=datetime(2026, 1, 5))
    assert str(exc.value) == "calendar origin must be timezone-aware, got 2026-01-05T00:00:00"


def _mondays(first: date, years: int) -> list[date]:
    return [first + timedelta(weeks=k) for k in range(years * 53)]


def test_no_working_time_for_three_years_raises() -> None:
    monday_only = {0: [(8 * H, 9 * H)]}
    with pytest.raises(ValueError) as exc:
        WorkCalendar(monday_only, _mondays(date(2025, 12, 29), 4), tz=BERLIN, origin=ORIGIN)
    assert str(exc.value) == "calendar: no working time in the 3 years after 2026-01-05T08:00:00+01:00"
    cal = WorkCalendar(monday_only, _mondays(date(2027, 1, 4), 4), tz=BERLIN, origin=ORIGIN, name="m")
    t = at(2026, 12, 29, 0)
    for query in (cal.next_working, cal.next_boundary, lambda x: cal.add_working(x, 1.0)):
        with pytest.raises(ValueError) as exc:
            query(t)
        assert str(exc.value).startswith("calendar 'm': no working time in the 3 years after t=")
    with pytest.raises(ValueError) as exc:
        cal.add_working(0.0, -1.0)
    assert str(exc.value) == "work must be >= 0 seconds, got -1.0"


# One calendar shared by all examples on purpose: random query order exercises the cached index and the lazy
# generation, which must never change an answer.
MIXED_WEEKLY = {**LUNCH, 0: [(0.0, 2 * H), (8 * H, 17 * H)], 5: [(9 * H, 13 * H)], 6: [(22 * H, 24 * H)]}
MIXED = WorkCalendar(MIXED_WEEKLY, tz=BERLIN, origin=ORIGIN, holiday_country="DE", name="mixed")
times = st.floats(min_value=-3 * 86400.0, max_value=800 * 86400.0, allow_nan=False)
works = st.one_of(st.floats(min_value=0.0, max_value=2000 * H, allow_nan=False),
                  st.integers(min_value=0, max_value=200).map(lambda m: m * 900.0))


@settings(max_examples=400, deadline=None)
@given(times, works)
def test_add_working_invariants(t: float, work: float) -> None:
    end = MIXED.add_working(t, work)
    assert end >= t
    assert end - t >= work - 1e-6
    assert MIXED.working_between(t, end) == pytest.approx(work, rel=1e-12, abs=1e-6)
    iv = MIXED.interval_at(t)
    if iv is not None and t + work <= iv[1]:
        assert end == t + work
    if work > 0:  # finishes inside working time or exactly at the end of an interval
        assert MIXED.is_working(end) or any(b == end for _, b in MIXED.intervals(end - 1.0, end + 1.0))
    fresh = WorkCalendar(MIXED_WEEKLY, tz=BERLIN, origin=ORIGIN, holiday_country="DE")
    assert fresh.add_working(t, work) == end


@settings(max_examples=400, deadline=None)
@given(times)
def test_next_working_and_boundary_invariants(t: float) -> None:
    n = MIXED.next_working(t)
    assert n >= t and MIXED.is_working(n)
    assert MIXED.working_between(t, n) == 0.0
    b = MIXED.next_boundary(t)
    assert b > t
    if n > t:
        assert n == b  # not working at t: the next start is the next boundary
    state = MIXED.is_working(t)
    assert MIXED.is_working(b) != state
    assert MIXED.working_between(t, b) == pytest.approx(b - t if state else 0.0, abs=1e-6)
    if state:
        a, e = MIXED.interval_at(t)  # type: ignore[misc]
        assert a <= t < e == b and not MIXED.is_working(a - 1e-3)
    else:
        assert MIXED.interval_at(t) is None


@settings(max_examples=200, deadline=None)
@given(times, times)
def test_working_between_is_additive(t0: float, t1: float) -> None:
    lo, hi = min(t0, t1), max(t0, t1)
    mid = (lo + hi) / 2
    whole = MIXED.working_between(lo, hi)
    assert whole == pytest.approx(MIXED.working_between(lo, mid) + MIXED.working_between(mid, hi), abs=1e-6)
    assert sum(b - a for a, b in MIXED.intervals(lo, hi)) == pytest.approx(whole, abs=1e-6)
    assert 0.0 <= whole <= hi - lo + 1e-9


def test_trimmed_calendar_answers_as_the_whole_one():
    """A long run drops working intervals far behind (bounded memory); every answer stays the one a calendar that
    keeps everything gives, also for a query back before the kept ones (which regenerates them)."""
    import random

    from procsim.sim import calendar as calmod

    kept = WorkCalendar(OFFICE, tz=BERLIN, origin=ORIGIN, holiday_country="DE")
    kept._trims = False
    trimmed = WorkCalendar(OFFICE, tz=BERLIN, origin=ORIGIN, holiday_country="DE")
    rng = random.Random(7)
    t = 0.0
    year = 365 * 86400.0
    for k in range(12000):
        t += rng.uniform(0, 3 * 86400)  # forward, as a simulation's clock: about 50 years in all
        w = rng.uniform(0, 20 * 3600)
        assert trimmed.add_working(t, w) == kept.add_working(t, w)
        assert trimmed.next_working(t) == kept.next_working(t)
        assert trimmed.is_working(t) == kept.is_working(t)
        back = max(0.0, t - rng.uniform(0, 30 * 86400))
        assert trimmed.working_between(back, t) == kept.working_between(back, t)
    # intervals far behind were dropped: the lists are bounded, not 50 years long
    assert trimmed._floor > 0 and len(trimmed._starts) <= 3 * calmod._KEEP + 200 < len(kept._starts)
    # a query 48 years back regenerates them and answers the same; that calendar keeps everything from then on
    old = 2 * year
    assert trimmed.working_between(old, t) == kept.working_between(old, t)
    assert trimmed.intervals(old, old + 7 * 86400) == kept.intervals(old, old + 7 * 86400)
    assert trimmed.add_working(old, 3600.0) == kept.add_working(old, 3600.0)
    assert trimmed._starts[:10] == kept._starts[:10] and not trimmed._trims
