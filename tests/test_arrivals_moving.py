"""Arrivals that move over the year: month and season factors, trend, month/quarter-end peaks, holiday dips,
bursts and day-to-day noise, each pinned by the arrival counts it produces."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from procsim.run import run
from procsim.sim.arrivals import Burst, DayFactors, RateProfile
from procsim.spec import load_process

BERLIN = ZoneInfo("Europe/Berlin")
ORIGIN = datetime(2026, 1, 1, 0, 0, tzinfo=BERLIN)
UTC_ORIGIN = ORIGIN.astimezone(timezone.utc)
YEAR = 365 * 86400.0


def arrival_dates(day: DayFactors, mean_gap: float = 900.0, until: float = YEAR, seed: int = 1) -> list[date]:
    p = RateProfile(tz=BERLIN, origin=ORIGIN, day=day)
    assert not p.fast
    rng = np.random.default_rng(seed)
    t, out = 0.0, []
    while True:
        t = p.advance(t, float(rng.exponential(mean_gap)))
        if t >= until:
            return out
        out.append((UTC_ORIGIN + timedelta(seconds=t)).astimezone(BERLIN).date())


def per_day(dates: list[date]) -> Counter[date]:
    return Counter(dates)


def test_month_factors_change_the_counts_of_their_months_only() -> None:
    month = [1.0] * 12
    month[6] = 0.5  # July
    month[11] = 2.0  # December
    by_month = Counter(d.month for d in arrival_dates(DayFactors(ORIGIN.date(), month=month)))
    per_day_in = {m: by_month[m] / (date(2026 + (m == 12), m % 12 + 1, 1) - date(2026, m, 1)).days for m in by_month}
    normal = np.mean([per_day_in[m] for m in (3, 4, 5, 9, 10)])
    assert per_day_in[7] / normal == pytest.approx(0.5, rel=0.06)
    assert per_day_in[12] / normal == pytest.approx(2.0, rel=0.06)
    assert per_day_in[8] / normal == pytest.approx(1.0, rel=0.06)


def test_trend_grows_arrivals_by_its_rate_per_year() -> None:
    dates = arrival_dates(DayFactors(ORIGIN.date(), trend=1.0), until=2 * YEAR)
    first = sum(1 for d in dates if d.year == 2026)
    second = sum(1 for d in dates if d.year == 2027)
    assert second / first == pytest.approx(2.0, rel=0.04)  # +100% a year
    # and inside the first year: December is about 2**(11/12) times January
    jan = sum(1 for d in dates if d.year == 2026 and d.month == 1)
    dec = sum(1 for d in dates if d.year == 2026 and d.month == 12)
    assert dec / jan == pytest.approx(2 ** (11 / 12), rel=0.08)


def test_month_end_and_quarter_end_peaks_fall_on_the_last_days() -> None:
    f = DayFactors(ORIGIN.date(), month_end=(3, 2.0), quarter_end=(5, 4.0))
    assert f(date(2026, 1, 29)) == 2.0 and f(date(2026, 1, 28)) == 1.0
    assert f(date(2026, 2, 26)) == 2.0 and f(date(2026, 2, 25)) == 1.0  # February has 28 days
    assert f(date(2026, 3, 27)) == 4.0 and f(date(2026, 3, 26)) == 1.0  # quarter end replaces month end
    counts = per_day(arrival_dates(f, mean_gap=300.0))
    normal = np.mean([counts[date(2026, m, d)] for m in range(1, 13) for d in range(5, 20)])
    month_end = np.mean([counts[date(2026, m, 30)] for m in (1, 4, 5, 7, 8, 10, 11)])
    quarter_end = np.mean([counts[date(2026, m, 28)] for m in (3, 6, 9, 12)])
    assert month_end / normal == pytest.approx(2.0, rel=0.08)
    assert quarter_end / normal == pytest.approx(4.0, rel=0.08)


def test_holiday_dip_and_burst() -> None:
    holidays = {date(2026, 5, 1), date(2026, 10, 3)}
    f = DayFactors(ORIGIN.date(), holiday=(0.0, holidays.__contains__),
                   bursts=[Burst(date(2026, 4, 6), date(2026, 4, 12), 3.0, "spring")])
    counts = per_day(arrival_dates(f, mean_gap=300.0))
    assert counts[date(2026, 5, 1)] == 0 and counts[date(2026, 10, 3)] == 0
    assert counts[date(2026, 5, 2)] > 200
    burst = sum(counts[date(2026, 4, d)] for d in range(6, 13))
    before = sum(counts[date(2026, 3, d)] for d in range(23, 30))
    assert burst / before == pytest.approx(3.0, rel=0.1)
    assert counts[date(2026, 4, 13)] / counts[date(2026, 4, 12)] < 0.5


def test_noise_overdisperses_daily_counts_and_is_seeded() -> None:
    plain = per_day(arrival_dates(DayFactors(ORIGIN.date())))
    noisy = per_day(arrival_dates(DayFactors(ORIGIN.date(), noise=0.3, noise_seed=5)))
    p, n = np.array(list(plain.values())), np.array(list(noisy.values()))
    assert p.var() / p.mean() == pytest.approx(1.0, abs=0.25)  # Poisson
    # a gamma day factor with CV .3 adds mean * .09 to var/mean (96 arrivals a day: about 9.6)
    assert n.var() / n.mean() == pytest.approx(1 + n.mean() * 0.09, rel=0.25)
    again = DayFactors(ORIGIN.date(), noise=0.3, noise_seed=5)
    first = DayFactors(ORIGIN.date(), noise=0.3, noise_seed=5)
    assert [first(date(2026, 1, 1) + timedelta(days=k)) for k in (400, 3, 0)] == [
        again(date(2026, 1, 1) + timedelta(days=k)) for k in (400, 3, 0)]


REALISTIC = """\
process:
  name: Moving
  timezone: Europe/Berlin
  start: 2026-01-05T00:00:00+01:00
calendars:
  office:
    days: [mon, tue, wed, thu, fri]
    hours: ["08:00-17:00"]
    holiday_country: DE
roles:
  clerk: {members: 20, calendar: office}
arrivals:
  interarrival: {kind: exponential, mean: 30m}
  calendar: office
  season: {summer: 0.8, winter: 1.1}
  trend: 0.15
  month_end: {days: 2, factor: 1.4}
  quarter_end: {days: 3, factor: 1.8}
  holidays: {factor: 0.2}
  bursts: [{name: spring campaign, start: 2026-04-13, end: 2026-04-24, factor: 1.5}]
  noise: 0.25
events:
  start: {type: start, next: work}
  end: {type: end}
activities:
  work: {role: clerk, duration: 10m, next: end}
"""


def weekly_dispersion(cases_csv: object) -> float:
    c = pd.read_csv(cases_csv)
    start = pd.to_datetime(c["start"], utc=True).dt.tz_convert("Europe/Berlin").dt.tz_localize(None)
    weeks = start.dt.to_period("W").value_counts().sort_index()
    return float(weeks.var() / weeks.mean())


def test_realistic_settings_reach_real_weekly_dispersion(write_process, tmp_path) -> None:
    path = write_process(REALISTIC)
    moving = run(path, tmp_path / "moving", seed=7, horizon=YEAR)
    plain_text = REALISTIC.split("  season:")[0] + "events:" + REALISTIC.split("events:")[1]
    plain = run(write_process(plain_text, "plain.yaml"), tmp_path / "plain", seed=7, horizon=YEAR)
    assert weekly_dispersion(tmp_path / "plain" / "cases.csv") < 3  # calendar holidays alone: today's 1-2.5
    assert weekly_dispersion(tmp_path / "moving" / "cases.csv") >= 5  # the real band is 5.3-19.9
    assert moving.cases != plain.cases


def test_holiday_dip_needs_a_calendar(write_process) -> None:
    from procsim.errors import SpecError

    text = REALISTIC.replace("  calendar: office\n  season", "  season")
    with pytest.raises(SpecError) as e:
        load_process(write_process(text))
    assert "p.yaml:18:3: arrivals.holidays: a holiday dip needs a calendar whose holidays it follows" in str(e.value)
    with pytest.raises(SpecError) as e:
        load_process(write_process(REALISTIC.replace("holidays: {factor: 0.2}", "holidays: {factor: 0.2, "
                                                     "calendar: ofice}")))
    assert "arrivals.holidays.calendar: unknown calendar 'ofice'; did you mean 'office'?" in str(e.value)


REPLAY = """\
process:
  name: Replay
  timezone: Europe/Berlin
  start: 2026-03-23T00:00:00+01:00
calendars:
  office: {days: [mon, tue, wed, thu, fri], hours: ["08:00-17:00"]}
roles:
  clerk: {members: 20, calendar: office}
arrivals:
  replay: counts.csv
  calendar: office
  hour: {9: 3}
events:
  start: {type: start, next: a}
  end: {type: end}
activities:
  a: {role: clerk, duration: 10m, next: end}
"""


def test_replayed_counts_arrive_exactly_and_follow_the_profile_inside_the_day(write_process, tmp_path) -> None:
    days = [date(2026, 3, 23) + timedelta(days=k) for k in range(21)]  # across the DST switch of March 29
    counts = {d: (0 if d.weekday() >= 5 else 100 + 30 * (k % 5)) for k, d in enumerate(days)}
    counts[date(2026, 3, 28)] = 4  # a Saturday: outside the arrival calendar, spread over the day
    (tmp_path / "counts.csv").write_text("date,count\n" + "".join(f"{d},{n}\n" for d, n in counts.items()))
    result = run(write_process(REPLAY), tmp_path / "out", seed=3)
    c = pd.read_csv(tmp_path / "out" / "cases.csv")
    start = pd.to_datetime(c["start"], utc=True).dt.tz_convert("Europe/Berlin")
    got = Counter(start.dt.date)
    assert {d: got.get(d, 0) for d in days} == counts
    weekday = start[start.dt.weekday < 5]
    assert weekday.dt.hour.between(8, 16).all()
    hours = weekday.dt.hour.value_counts()
    assert hours[9] / hours.drop(9).mean() == pytest.approx(3.0, rel=0.2)
    assert "counts.csv" in result.manifest["inputs"]
    assert result.manifest["cases_requested"] is None


def test_replay_errors_name_the_line(write_process, tmp_path) -> None:
    from procsim.errors import SpecError

    path = write_process(REPLAY)
    for text, msg in [
        ("day,count\n2026-03-23,3\n", "counts.csv: line 1: the header must be 'date,count' or 'hour,count'"),
        ("date,count\n2026-03-23,3\n2026-03-24,-1\n", "counts.csv: line 3: count '-1' is not a whole number >= 0"),
        ("date,count\n2026-03-24,3\n2026-03-23,1\n", "counts.csv: line 3: 2026-03-23 is not after the line before"),
        ("hour,count\n2026-03-23T08:30,3\n", "counts.csv: line 2: '2026-03-23T08:30' is not a local hour like "
         "2026-03-02T08:00"),
    ]:
        (tmp_path / "counts.csv").write_text(text)
        with pytest.raises(SpecError) as e:
            load_process(path)
        assert str(e.value).startswith(f"p.yaml:10:11: arrivals.replay: {msg}"), str(e.value)


def test_a_replay_file_must_lie_inside_the_project(write_process, tmp_path) -> None:
    """Like rule files and templates: no reading /etc/passwd, no symlink out of the project, no folder."""
    from procsim.errors import SpecError

    outside = tmp_path.parent / f"{tmp_path.name}-outside.csv"
    outside.write_text("date,count\n2026-03-23,3\n")
    (tmp_path / "link.csv").symlink_to(outside)
    (tmp_path / "folder.csv").mkdir()
    for name, msg, code in [
        ("/etc/passwd", "replay file '/etc/passwd' is outside the project folder", "outside_project"),
        ("link.csv", "replay file 'link.csv' is outside the project folder", "outside_project"),
        ("folder.csv", "replay file 'folder.csv' is a folder, not a file", "not_a_file"),
        ("missing.csv", "replay file 'missing.csv' not found", "not_found"),
    ]:
        path = write_process(REPLAY.replace("replay: counts.csv", f"replay: {name}"))
        with pytest.raises(SpecError) as e:
            load_process(path)
        text = str(e.value)
        assert text.startswith(f"p.yaml:10:11: arrivals.replay: {msg}") and text.endswith(f"[{code}]"), text
        assert "root:" not in text  # nothing of the file is shown
