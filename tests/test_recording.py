"""Logs as systems record them: granularity, recording delays, end-of-day batches and the extraction window,
each compared with the same run recorded as simulated (the recording never changes the simulation)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from procsim.run import run

BASE = """\
process:
  name: Rec
  timezone: Europe/Berlin
  start: 2026-01-05T00:00:00+01:00
calendars:
  office:
    days: [mon, tue, wed, thu, fri]
    hours: ["08:00-17:00"]
roles:
  clerk: {members: 4, calendar: office}
arrivals:
  interarrival: {kind: exponential, mean: 40m}
  calendar: office
events:
  start: {type: start, next: a}
  end: {type: end}
activities:
  a: {role: clerk, duration: {kind: exponential, mean: 30m}, next: b}
  b: {role: clerk, duration: {kind: exponential, mean: 1h}, next: end}
"""


def events(out: Path) -> pd.DataFrame:
    e = pd.read_csv(out / "events.csv")
    e["ts"] = pd.to_datetime(e["timestamp"], utc=True)
    # the n-th occurrence of an activity's lifecycle in a case identifies an event across runs
    e["k"] = e.groupby(["case_id", "activity", "lifecycle"]).cumcount()
    return e


def paired(write_process, tmp_path: Path, recording: str, **kw) -> tuple[pd.DataFrame, pd.DataFrame]:
    plain = run(write_process(BASE, "plain.yaml"), tmp_path / "plain", seed=3, **kw)
    run(write_process(BASE + recording, "rec.yaml"), tmp_path / "rec", seed=3, **kw)
    assert plain.manifest["counts"]["cases"] > 100
    a, b = events(tmp_path / "plain"), events(tmp_path / "rec")
    m = a.merge(b, on=["case_id", "activity", "lifecycle", "k"], suffixes=("_sim", "_rec"), how="outer",
                indicator=True)
    return m, b


def in_order(e: pd.DataFrame) -> None:
    assert e["ts"].is_monotonic_increasing
    for _, g in e.groupby("case_id"):
        starts = g[g.lifecycle == "start"].groupby("activity")["ts"].apply(list)
        ends = g[g.lifecycle == "complete"].groupby("activity")["ts"].apply(list)
        for act, s in starts.items():
            assert all(x <= y for x, y in zip(s, ends.get(act, [])))


def test_granularity_rounds_down_to_the_minute(write_process, tmp_path) -> None:
    m, rec = paired(write_process, tmp_path, "recording:\n  granularity: 1m\n", cases=400)
    assert (m["_merge"] == "both").all()
    assert (rec["ts"].dt.second == 0).all() and (rec["ts"].dt.microsecond == 0).all()
    lag = (m["ts_sim"] - m["ts_rec"]).dt.total_seconds()
    assert lag.min() >= 0 and lag.max() < 60
    in_order(rec)
    # the real logs' ties: completions sharing a timestamp with another event
    done = rec[rec.lifecycle == "complete"]
    shared = rec.groupby("ts")["event_id"].transform("size") > 1
    assert shared[done.index].mean() >= 0.01


def test_granularity_per_activity(write_process, tmp_path) -> None:
    m, rec = paired(write_process, tmp_path, "recording:\n  activities:\n    b: {granularity: 1h}\n", cases=300)
    b = rec[rec.activity == "b"]
    assert (b["ts"].dt.minute == 0).all() and (b["ts"].dt.second == 0).all()
    a = m[m.activity == "a"]
    assert (a["ts_sim"] == a["ts_rec"]).all()  # other activities as simulated


def test_delays_move_completions_only(write_process, tmp_path) -> None:
    m, rec = paired(write_process, tmp_path, "recording:\n  delay: {kind: exponential, mean: 20m}\n", cases=600)
    assert (m["_merge"] == "both").all()
    starts, done = m[m.lifecycle == "start"], m[m.lifecycle == "complete"]
    assert (starts["ts_sim"] == starts["ts_rec"]).all()
    lag = (done["ts_rec"] - done["ts_sim"]).dt.total_seconds()
    assert lag.min() >= 0
    assert lag.mean() == pytest.approx(1200, rel=0.1)
    assert rec["ts"].is_monotonic_increasing
    # the other columns of a moved completion are unchanged
    assert (done["resource_sim"] == done["resource_rec"]).all() and (done["cost_sim"] == done["cost_rec"]).all()


def test_end_of_day_batch(write_process, tmp_path) -> None:
    m, rec = paired(write_process, tmp_path, "recording:\n  activities:\n    b: {batch: ['18:00']}\n", cases=300)
    done_b = m[(m.activity == "b") & (m.lifecycle == "complete")]
    local = done_b["ts_rec"].dt.tz_convert("Europe/Berlin")
    assert ((local.dt.hour == 18) & (local.dt.minute == 0)).all()
    lag = (done_b["ts_rec"] - done_b["ts_sim"]).dt.total_seconds()
    assert lag.min() >= 0 and lag.max() < 86400
    others = m[~((m.activity == "b") & (m.lifecycle == "complete"))]
    assert (others["ts_sim"] == others["ts_rec"]).all()
    # many completions share the batch's timestamp
    assert done_b.groupby("ts_rec").size().max() > 5
    in_order(rec)


WINDOW = "recording:\n  window: {start: 2026-02-02, end: 2026-02-27, started_before: %s}\n"


def test_window_cuts_and_marks_truncation(write_process, tmp_path) -> None:
    plain = run(write_process(BASE, "plain.yaml"), tmp_path / "plain", seed=3, horizon=90 * 86400.0)
    cut = run(write_process(BASE + WINDOW % "partial", "rec.yaml"), tmp_path / "rec", seed=3)
    e, full = events(tmp_path / "rec"), events(tmp_path / "plain")
    lo, hi = pd.Timestamp("2026-02-02T00:00+01:00"), pd.Timestamp("2026-02-28T00:00+01:00")
    assert e["ts"].min() >= lo and e["ts"].max() < hi
    inside = full[(full.ts >= lo) & (full.ts < hi)]
    # the same simulation up to the window's end: exactly its events inside the window
    assert len(e) == len(inside)
    assert (e[["case_id", "activity", "lifecycle", "timestamp"]].to_numpy()
            == inside[["case_id", "activity", "lifecycle", "timestamp"]].to_numpy()).all()
    cases = pd.read_csv(tmp_path / "rec" / "cases.csv", keep_default_na=False).set_index("case_id")
    per_case = full.groupby("case_id")["ts"].agg(["min", "max"])
    for cid, row in cases.iterrows():
        last = per_case.loc[cid, "max"]
        begun_before = pd.Timestamp(row["start"]) < lo
        ends_after = last >= hi
        expect = "both" if begun_before and ends_after else "start" if begun_before else "end" if ends_after else ""
        assert row["truncated"] == expect, cid
        assert (row["status"] == "running") == ends_after
        assert row["events"] == (e.case_id == cid).sum()
    assert {"start", "end"} <= set(cases["truncated"])
    # cases wholly before the window are not in the extract
    assert set(cases.index) == set(e.case_id)
    rc = cut.manifest["recording"]["counts"]
    assert rc["cases_truncated_end"] == (cases["truncated"].isin(["end", "both"])).sum()
    assert cut.manifest["counts"]["cases_running"] == (cases.status == "running").sum()
    assert plain.manifest["counts"]["cases"] > cut.manifest["counts"]["cases"]
    in_order(e)


def test_window_can_drop_cases_begun_before_it(write_process, tmp_path) -> None:
    run(write_process(BASE + WINDOW % "drop", "rec.yaml"), tmp_path / "rec", seed=3)
    cases = pd.read_csv(tmp_path / "rec" / "cases.csv", keep_default_na=False)
    assert (pd.to_datetime(cases["start"], utc=True) >= pd.Timestamp("2026-02-02T00:00+01:00")).all()
    assert set(cases["truncated"]) == {"", "end"}


def test_window_from_the_command_line_and_its_errors(write_process, tmp_path) -> None:
    path = write_process(BASE)
    ok = subprocess.run([sys.executable, "-m", "procsim", "run", str(path), "--window", "2026-02-02..2026-02-27",
                         "--out", str(tmp_path / "o"), "-q"], capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    m = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert m["recording"]["window"]["from"] == "2026-02-02T00:00:00.000+01:00"
    assert m["recording"]["window"]["until"] == "2026-02-28T00:00:00.000+01:00"
    for args, msg in [(["--window", "2026-02-30..2026-03-01"], "--window: expected two dates like "
                       "2026-03-01..2026-09-30, got '2026-02-30..2026-03-01'"),
                      (["--window", "2026-03-01..2026-02-01"], "--window: the end 2026-02-01 is before the start "
                       "2026-03-01"),
                      (["--window", "2026-02-02..2026-02-27", "--cases", "5"], "an extraction window sets how long")]:
        bad = subprocess.run([sys.executable, "-m", "procsim", "run", str(path), *args, "--out", str(tmp_path / "x")],
                             capture_output=True, text=True, check=False)
        assert bad.returncode == 2 and msg in bad.stderr and "Traceback" not in bad.stderr


def test_bad_recording_settings_are_positioned(write_process) -> None:
    from procsim.errors import SpecError
    from procsim.spec import load_process

    text = BASE + "recording:\n  delay: {kind: exponential, mean: 20}\n  activities:\n    bb: {granularity: 1m}\n"
    with pytest.raises(SpecError) as e:
        load_process(write_process(text))
    assert str(e.value).splitlines() == [
        "p.yaml:21:10: recording.delay: 'mean' needs a unit, like '15m' [unit_missing]",
        "p.yaml:23:5: recording.activities.bb: unknown activity 'bb'; did you mean 'b'? [unknown_activity]"]


def test_recording_is_deterministic_and_independent_of_batching(write_process, tmp_path) -> None:
    path = write_process(BASE + "recording:\n  granularity: 1m\n  delay: {kind: exponential, mean: 1h}\n"
                         "  window: {start: 2026-01-12, end: 2026-02-27}\n")
    run(path, tmp_path / "one", seed=5)
    run(path, tmp_path / "two", seed=5)
    run(path, tmp_path / "small", seed=5, flush_every=37)
    one = (tmp_path / "one" / "events.csv").read_bytes()
    assert one == (tmp_path / "two" / "events.csv").read_bytes() == (tmp_path / "small" / "events.csv").read_bytes()
    assert (tmp_path / "one" / "cases.csv").read_bytes() == (tmp_path / "two" / "cases.csv").read_bytes()
    small = pd.read_csv(tmp_path / "small" / "cases.csv")
    assert sorted(small.case_id) == sorted(pd.read_csv(tmp_path / "one" / "cases.csv").case_id)


def test_labels_of_a_windowed_run_name_only_events_in_the_log(tmp_path) -> None:
    from conftest import REPO

    run(REPO / "processes" / "procure_to_pay_exceptions.yaml", tmp_path, seed=1, window="2026-02-01..2026-02-20")
    e = pd.read_csv(tmp_path / "events.csv", keep_default_na=False).set_index("event_id")
    labels = pd.read_csv(tmp_path / "labels.csv", keep_default_na=False)
    cases = pd.read_csv(tmp_path / "cases.csv", keep_default_na=False)
    named = [x for s in labels.event_ids for x in s.split(";") if x]
    assert named and set(named) <= set(e.index)
    assert (e.loc[named, "exception"] != "").all()
    # every labelled event of the log is named, and every case in the log has its label row
    assert set(e.index[e.exception != ""]) == set(named)
    assert list(labels.case_id) == list(cases.case_id)
    assert np.isin(["start", "end"], cases.truncated).all()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(gran=st.sampled_from(["", "1s", "7s", "1m", "1h"]), delay=st.sampled_from(["", "5m", "3h"]),
       batch=st.booleans(), start=st.integers(0, 20), days=st.integers(1, 30),
       mode=st.sampled_from(["partial", "drop"]), seed=st.integers(0, 1000))
def test_recorded_logs_keep_their_guarantees(tmp_path_factory, gran, delay, batch, start, days, mode, seed) -> None:
    import datetime as dt

    ws = dt.date(2026, 1, 5) + dt.timedelta(days=start)
    we = ws + dt.timedelta(days=days)
    rec = "recording:\n" + (f"  granularity: {gran}\n" if gran else "") + (
        f"  delay: {{kind: exponential, mean: {delay}}}\n" if delay else "") + (
        "  activities:\n    b: {batch: ['18:00']}\n" if batch else "") + (
        f"  window: {{start: {ws}, end: {we}, started_before: {mode}}}\n")
    d = tmp_path_factory.mktemp("rec")
    (d / "p.yaml").write_text(BASE + rec)
    run(d / "p.yaml", d / "out", seed=seed)
    e = events(d / "out")
    cases = pd.read_csv(d / "out" / "cases.csv", keep_default_na=False)
    lo = pd.Timestamp(f"{ws}T00:00", tz="Europe/Berlin")
    hi = pd.Timestamp(f"{we + dt.timedelta(days=1)}T00:00", tz="Europe/Berlin")
    if len(e):
        assert e["ts"].min() >= lo and e["ts"].max() < hi
        in_order(e)
        assert list(e.event_id) == [f"E{k}" for k in range(1, len(e) + 1)]
    assert set(cases.case_id) == set(e.case_id)
    assert (cases.set_index("case_id")["events"] == e.groupby("case_id").size().reindex(cases.case_id)).all()
    if mode == "drop":
        assert (pd.to_datetime(cases.start, utc=True) >= lo).all()
    if gran:
        step = {"1s": 1, "7s": 7, "1m": 60, "1h": 3600}[gran]
        if not (batch and step == 7):  # a batch time is on the minute grid, not on a 7-second one
            secs = (e["ts"] - pd.Timestamp("1970-01-01", tz="UTC")).dt.total_seconds()
            local = secs + e["ts"].dt.tz_convert("Europe/Berlin").map(lambda x: x.utcoffset().total_seconds())
            assert (local % step == 0).all()


@settings(max_examples=40, deadline=None)
@given(st.sampled_from([0.0, 1.0, 60.0, 300.0, 3600.0]),
       st.lists(st.tuples(st.floats(0, 4e7, allow_nan=False), st.integers(0, 30), st.integers(0, 1)),
                min_size=1, max_size=60))
def test_one_grid_for_every_event_maps_a_batch_as_the_per_row_path_does(g: float, raw: list) -> None:
    # Recording._transform_uniform (a whole batch at once) against the per-row loop it stands in for: the
    # same recorded rows and the same latest recorded time per case, across two batches
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from procsim.recording import Recording, Rule
    from procsim.rows import EventRow

    class Act:
        id = "a"

    def rec(uniform: bool) -> Recording:
        tz = ZoneInfo("Europe/Berlin")
        r = Recording(tz=tz, origin=datetime(2026, 3, 2, 8, 0, 0, 123000, tzinfo=tz), system=Rule(granularity=g),
                      activities={}, window=None, rng=np.random.default_rng(0))
        # an hour grid is not the UTC grid in every zone: that stays on the per-row path, which knows offsets
        assert r._uniform == (g if g == 0 or 900.0 % g == 0 else None)
        if not uniform:
            r._uniform = None  # the per-row path
        return r

    rows = [EventRow(t, c, Act, life, None, None, None, "", "", ()) for t, c, life in raw]
    fast, slow = rec(True), rec(False)
    half = len(rows) // 2
    for part in (rows[:half], rows[half:]):
        got = fast.transform(part)
        assert got == slow.transform(part)
        assert all(type(r) is EventRow for r in got)  # rows stay named after their recorded time is set
    assert fast.last == slow.last
