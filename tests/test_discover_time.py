"""``procsim discover``'s time model beyond durations (issue #13): waits that hold nobody (extraneous delays),
batches, and month factors of arrivals, each planted in a small synthetic log, found, written with the language's
construct, and reproduced by a run; logs without the property get none."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from ruamel.yaml import YAML

from procsim.discover import discover, write_checked
from procsim.eventlog import ActivityLog, read_log
from procsim.run import run

T0 = pd.Timestamp("2026-03-02 09:00", tz="UTC")  # a Monday


def _frame(rows: list[tuple[str, str, object, object, str | None]]) -> ActivityLog:
    df = pd.DataFrame(rows, columns=["case_id", "activity", "start_time", "end_time", "resource"])
    df["start_time"] = pd.to_datetime(df["start_time"], utc=True)
    df["end_time"] = pd.to_datetime(df["end_time"], utc=True)
    return ActivityLog(df.sort_values(["end_time", "case_id"]).reset_index(drop=True))


def _cycle_hours(df: pd.DataFrame) -> pd.Series:
    g = df.groupby("case_id")
    return (g["end_time"].max() - g["start_time"].min()).dt.total_seconds() / 3600


def _wait_log(wait: bool, n: int = 120, every_h: float = 3.0, b_min: float = 30.0) -> ActivityLog:
    """a by ann (20 m), then b by bob (``b_min``); with ``wait``, b starts 1-3 days after a ends (the customer's
    answer) while bob is free; without, as soon as bob is (his previous b done)."""
    rng = np.random.default_rng(0)
    rows: list[tuple[str, str, object, object, str | None]] = []
    bob_free = T0
    for c in range(n):
        t = T0 + pd.Timedelta(hours=every_h * c)
        a_end = t + pd.Timedelta(minutes=20)
        rows.append((f"c{c:03d}", "a", t, a_end, "ann"))
        b0 = a_end + pd.Timedelta(hours=float(rng.uniform(24, 72))) if wait else max(a_end, bob_free)
        bob_free = b0 + pd.Timedelta(minutes=b_min)
        rows.append((f"c{c:03d}", "b", b0, bob_free, "bob"))
    return _frame(rows)


def test_a_wait_for_nobody_is_a_wait_not_work(tmp_path: Path) -> None:
    log = _wait_log(True)
    d = discover(log)
    data = YAML(typ="safe").load(d.yaml)
    # the flow goes to the wait, which leads to the work; the work is still 30 minutes, not days
    assert data["activities"]["a"]["next"] == "b"
    assert data["waits"]["b"]["next"] == "b_work"
    assert data["activities"]["b_work"]["duration"] == "30m"
    assert data["waits"]["b"]["duration"]["kind"] == "quantiles"
    path = write_checked(d, tmp_path / "m")
    run(path, tmp_path / "s", seed=2)
    sim = read_log(tmp_path / "s").df
    b = sim[sim["activity"] == "b"]
    assert ((b["end_time"] - b["start_time"]).dt.total_seconds() <= 1800 + 1).all()  # nobody held for days
    real, got = _cycle_hours(log.df).mean(), _cycle_hours(sim).mean()
    assert 0.7 * real < got < 1.3 * real, (real, got)  # the days of waiting are there (about 48 h)
    # without the wait, the same model has cycle times of an hour
    assert got > 24
    assert "waits:" not in discover(log, waits=False).yaml  # --no-waits


def test_cli_discovers_waits_unless_told_not_to(tmp_path: Path) -> None:
    log = _wait_log(True)
    csv = tmp_path / "log.csv"
    log.df.to_csv(csv, index=False)
    for flag, has in (("--waits", True), ("--no-waits", False)):
        out = tmp_path / flag
        r = subprocess.run([sys.executable, "-m", "procsim", "discover", str(csv), "-o", str(out), flag],
                           capture_output=True, text=True, check=False)
        assert r.returncode == 0, r.stderr
        assert ("waits:" in (out / "process.yaml").read_text()) == has


def test_no_wait_where_the_log_has_none_or_the_resource_was_busy(tmp_path: Path) -> None:
    # b as soon as a is done and bob is free
    assert "waits:" not in discover(_wait_log(False)).yaml
    # contention: a case every 20 minutes, bob takes 30: b waits longer and longer, but bob works all the while,
    # so none of it is a wait for nobody
    busy = _wait_log(False, n=60, every_h=1 / 3, b_min=30.0)
    by = busy.df.set_index(["activity", "case_id"])
    assert (by.loc["b", "start_time"] - by.loc["a", "end_time"]).max() > pd.Timedelta("5h")
    d = discover(busy)
    assert "waits:" not in d.yaml
    write_checked(d, tmp_path / "m")


def _batch_log(batch: bool, n: int = 120, k: int = 6) -> ActivityLog:
    """a by ann for each case (hourly); c by carl: with ``batch``, carl does each k cases at once (one start and
    end for all of them, when the k-th is ready); without, each case as it comes."""
    rows: list[tuple[str, str, object, object, str | None]] = []
    for c in range(n):
        t = T0 + pd.Timedelta(hours=c)
        rows.append((f"c{c:03d}", "a", t, t + pd.Timedelta(minutes=10), "ann"))
        s = T0 + pd.Timedelta(hours=(c // k) * k + k - 1, minutes=20) if batch else t + pd.Timedelta(minutes=10)
        rows.append((f"c{c:03d}", "c", s, s + pd.Timedelta(minutes=40), "carl"))
    return _frame(rows)


def test_cases_done_together_become_a_batch(tmp_path: Path) -> None:
    d = discover(_batch_log(True))
    data = YAML(typ="safe").load(d.yaml)
    assert data["activities"]["c"]["batch"] == {"size": 6, "timeout": "5h 10m"}  # the first of 6 waited 5h 10m
    assert "batch" not in data["activities"]["a"]
    assert "waits:" not in d.yaml  # a batch's wait is the batch's
    path = write_checked(d, tmp_path / "m")
    run(path, tmp_path / "s", seed=4)
    ev = pd.read_csv(tmp_path / "s" / "events.csv")
    c = ev[(ev["activity"] == "c") & (ev["lifecycle"] == "complete")]
    sizes = c.groupby("batch").size()
    assert c["batch"].notna().all() and sizes.max() <= 6 and sizes.mean() > 3, sizes.describe()


def test_no_batch_where_each_case_is_done_alone(tmp_path: Path) -> None:
    d = discover(_batch_log(False))
    assert "batch:" not in d.yaml
    run(write_checked(d, tmp_path / "m"), tmp_path / "s", seed=4)
    assert "batch" not in pd.read_csv(tmp_path / "s" / "events.csv").columns


def _month_log(peak: bool, start: str = "2024-01-01", end: str = "2025-12-31") -> ActivityLog:
    """Cases every day (Poisson, 2 a day); with ``peak``, 6 a day in every March."""
    rng = np.random.default_rng(1)
    rows: list[tuple[str, str, object, object, str | None]] = []
    c = 0
    for day in pd.date_range(start, end, freq="D", tz="UTC"):
        for _ in range(int(rng.poisson(6 if peak and day.month == 3 else 2))):
            t = day + pd.Timedelta(hours=float(rng.uniform(8, 17)))
            rows.append((f"c{c:05d}", "a", None, t, None))
            rows.append((f"c{c:05d}", "b", None, t + pd.Timedelta(minutes=30), None))
            c += 1
    return _frame(rows)


def test_a_recurring_busy_month_gets_its_factor(tmp_path: Path) -> None:
    log = _month_log(True)
    data = YAML(typ="safe").load(discover(log).yaml)
    month = data["arrivals"]["month"]
    assert month["mar"] > 2.2 and all(0.6 < f < 1.0 for m, f in month.items() if m != "mar"), month
    assert "jan" not in month and "dec" not in month  # the log's first and last month: edges, left out
    path = write_checked(discover(log), tmp_path / "m")
    n = log.df["case_id"].nunique()
    run(path, tmp_path / "s", seed=3, cases=n)
    starts = read_log(tmp_path / "s").df.groupby("case_id")["end_time"].min()
    per_day = starts.groupby(starts.dt.month).size() / starts.groupby(starts.dt.month).agg(
        lambda s: s.dt.normalize().nunique())
    assert per_day[3] > 2.2 * per_day.drop(3).mean(), per_day


def test_no_month_factors_for_a_steady_rate_or_a_single_year() -> None:
    assert "month:" not in discover(_month_log(False)).yaml
    # a busy March seen once cannot be told from a one-off: no factor
    assert "month:" not in discover(_month_log(True, end="2024-12-31")).yaml
