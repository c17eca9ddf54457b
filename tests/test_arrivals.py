"""RateProfile: time-warped arrivals follow weekday/hour intensities and stay inside the arrival calendar."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from procsim.sim.arrivals import RateProfile
from procsim.sim.calendar import WorkCalendar

BERLIN = ZoneInfo("Europe/Berlin")
ORIGIN = datetime(2026, 1, 5, 0, 0, tzinfo=BERLIN)  # Monday midnight
UTC_ORIGIN = ORIGIN.astimezone(timezone.utc)
H = 3600.0
WEEK = 7 * 86400.0


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> float:
    return (datetime(y, mo, d, h, mi, tzinfo=BERLIN) - UTC_ORIGIN).total_seconds()


def local(t: float) -> datetime:
    return (UTC_ORIGIN + timedelta(seconds=t)).astimezone(BERLIN)


def arrivals(profile: RateProfile, mean_gap: float, until: float, seed: int) -> list[float]:
    rng = np.random.default_rng(seed)
    out: list[float] = []
    t = 0.0
    while True:
        t = profile.advance(t, float(rng.exponential(mean_gap)))
        if t >= until:
            return out
        out.append(t)


def test_fast_path_is_exact() -> None:
    p = RateProfile(tz=BERLIN, origin=ORIGIN)
    assert p.fast
    for t, gap in [(0.0, 0.1), (123.456, 789.0123), (1e8, 1e-9)]:
        assert p.advance(t, gap) == t + gap
    assert p.intensity(5.0) == 1.0
    assert RateProfile(tz=BERLIN, origin=ORIGIN, calendar=WorkCalendar.always(BERLIN, ORIGIN)).fast
    assert not RateProfile(tz=BERLIN, origin=ORIGIN, hour={3: 1.5}).fast


def test_hour_counts_follow_profile() -> None:
    p = RateProfile(tz=BERLIN, origin=ORIGIN, hour={9: 2.0, **{h: 0.0 for h in range(6)}})
    hours = np.zeros(24)
    for t in arrivals(p, 600.0, 40 * WEEK, seed=7):
        hours[local(t).hour] += 1
    assert hours[:6].sum() == 0
    assert hours[9] / hours[14] == pytest.approx(2.0, rel=0.1)
    assert hours[14] / hours[20] == pytest.approx(1.0, rel=0.1)


def test_weekday_factors_and_exact_warping() -> None:
    p = RateProfile(tz=BERLIN, origin=ORIGIN, weekday={5: 0.0, 6: 0.0}, hour={8: 2.0})
    # Friday 23:00 + 2 hours of intensity time: 1 h on Friday, the weekend has none, 1 h on Monday.
    assert local(p.advance(at(2026, 1, 9, 23), 2 * H)) == datetime(2026, 1, 12, 1, tzinfo=BERLIN)
    # Hour 8 runs at double speed.
    assert local(p.advance(at(2026, 1, 13, 8), H)) == datetime(2026, 1, 13, 8, 30, tzinfo=BERLIN)
    assert p.intensity(at(2026, 1, 13, 8, 59)) == 2.0
    assert p.intensity(at(2026, 1, 10, 8, 30)) == 0.0
    assert p.advance(at(2026, 1, 13, 8), 0.0) == at(2026, 1, 13, 8)


def test_local_hours_follow_dst() -> None:
    only_two = RateProfile(tz=BERLIN, origin=ORIGIN, hour={h: float(h == 2) for h in range(24)})
    # 02:xx does not exist on 2026-03-29: half an hour from the 28th's 03:00 ends on the 30th.
    assert local(only_two.advance(at(2026, 3, 28, 3), 0.5 * H)).isoformat() == "2026-03-30T02:30:00+02:00"
    assert only_two.intensity(at(2026, 3, 29, 3)) == 0.0
    # On 2026-10-25 hour 2 lasts two real hours: 1.5 hours in ends in the second 02:xx.
    assert local(only_two.advance(at(2026, 10, 25, 0), 1.5 * H)).isoformat() == "2026-10-25T02:30:00+01:00"


def test_calendar_only_arrivals_fall_in_working_time() -> None:
    cal = WorkCalendar({d: [(8 * H, 12 * H), (13 * H, 17 * H)] for d in range(5)}, tz=BERLIN, origin=ORIGIN,
                       holiday_country="DE")
    p = RateProfile(tz=BERLIN, origin=ORIGIN, calendar=cal)
    ts = arrivals(p, 900.0, 30 * WEEK, seed=11)
    assert len(ts) > 3000
    assert all(cal.is_working(t) for t in ts)
    assert p.intensity(at(2026, 1, 6, 12, 30)) == 0.0
    assert p.intensity(at(2026, 1, 6, 13, 30)) == 1.0
    # Evenly spread over working time: mornings and afternoons are equally long.
    morning = sum(local(t).hour < 12 for t in ts)
    assert morning / len(ts) == pytest.approx(0.5, abs=0.05)


def test_calendar_combined_with_hour_factors() -> None:
    cal = WorkCalendar({d: [(8 * H, 17 * H)] for d in range(7)}, tz=BERLIN, origin=ORIGIN)
    p = RateProfile(tz=BERLIN, origin=ORIGIN, calendar=cal, hour={8: 3.0, 16: 0.0})
    hours = np.zeros(24)
    for t in arrivals(p, 600.0, 20 * WEEK, seed=3):
        hours[local(t).hour] += 1
    assert hours[16:].sum() == 0 and hours[:8].sum() == 0
    assert hours[8] / hours[12] == pytest.approx(3.0, rel=0.12)


PROFILE = RateProfile(tz=BERLIN, origin=ORIGIN, weekday={6: 0.0, 2: 0.5}, hour={h: 0.0 for h in range(7)} | {
    9: 2.0, 12: 0.25, 22: 0.0, 23: 0.0})


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=0.0, max_value=400 * 86400.0), st.floats(min_value=1e-3, max_value=200 * H))
def test_advance_integrates_intensity(t: float, gap: float) -> None:
    t2 = PROFILE.advance(t, gap)
    assert t2 > t
    assert PROFILE.intensity(t2 - 1e-4) > 0.0  # an arrival never lands after a zero-intensity stretch
    # Integrate the piecewise-constant intensity hour by hour (hour boundaries are segment boundaries here).
    total, x = 0.0, t
    while x < t2:
        nxt = min(t2, (x // H + 1) * H)
        total += PROFILE.intensity(x) * (nxt - x)
        x = nxt
    assert total == pytest.approx(gap, rel=1e-9, abs=1e-6)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"hour": {h: 0.0 for h in range(24)}}, "rate profile: total intensity over a week is 0"),
    ({"weekday": {d: 0 for d in range(7)}}, "rate profile: total intensity over a week is 0"),
    ({"hour": {24: 1.0}}, "rate profile: hour 24 is not in 0..23"),
    ({"weekday": {-1: 1.0}}, "rate profile: weekday -1 is not in 0..6"),
    ({"hour": {3: -0.5}}, "rate profile: hour 3 factor must be a finite number >= 0, got -0.5"),
    ({"weekday": {3: float("nan")}}, "rate profile: weekday 3 factor must be a finite number >= 0, got nan"),
])
def test_bad_profiles(kwargs: dict[str, dict[int, float]], message: str) -> None:
    with pytest.raises(ValueError) as exc:
        RateProfile(tz=BERLIN, origin=ORIGIN, **kwargs)  # type: ignore[arg-type]
    assert str(exc.value) == message


def test_calendar_without_intensity_and_bad_gap() -> None:
    cal = WorkCalendar({0: [(8 * H, 17 * H)]}, tz=BERLIN, origin=ORIGIN)
    with pytest.raises(ValueError) as exc:
        RateProfile(tz=BERLIN, origin=ORIGIN, calendar=cal, weekday={0: 0.0})
    assert str(exc.value) == ("rate profile: no arrival intensity inside the arrival calendar "
                              "in the 3 years after the origin")
    p = RateProfile(tz=BERLIN, origin=ORIGIN, calendar=cal)
    with pytest.raises(ValueError) as exc:
        p.advance(0.0, -1.0)
    assert str(exc.value) == "arrival gap must be >= 0, got -1.0"
    other = WorkCalendar({0: [(8 * H, 17 * H)]}, tz=BERLIN, origin=ORIGIN + timedelta(hours=1))
    with pytest.raises(ValueError) as exc:
        RateProfile(tz=BERLIN, origin=ORIGIN, calendar=other)
    assert str(exc.value) == ("rate profile: calendar origin 2026-01-05T01:00:00+01:00 differs from "
                              "origin 2026-01-05T00:00:00+01:00")
