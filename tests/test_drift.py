"""Concept drift with ground truth: each type and each kind of change pinned by what the log shows, and
drift.csv / manifest.json saying what changed when."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from procsim.errors import SpecError
from procsim.run import run
from procsim.spec import load_process

BASE = """\
process:
  name: Drift
  timezone: Europe/Berlin
  start: 2026-01-05T00:00:00+01:00
roles:
  clerk: {members: 40}
arrivals:
  interarrival: {kind: exponential, mean: 20m}
events:
  start: {type: start, next: a}
  end: {type: end}
activities:
  a: {role: clerk, duration: {kind: exponential, mean: 30m}, next: g}
  b: {role: clerk, duration: 20m, next: c}
  c: {role: clerk, duration: 10m, next: end}
gateways:
  g:
    type: xor
    branches:
      - {to: b, probability: 0.8}
      - {to: c, probability: 0.2}
"""
DAY = 86400.0


def simulate(write_process, tmp_path, drift: str, days: int = 120, name: str = "p.yaml"):
    result = run(write_process(BASE + drift, name), tmp_path / "out", seed=11, horizon=days * DAY)
    e = pd.read_csv(tmp_path / "out" / "events.csv", keep_default_na=False)
    e["ts"] = pd.to_datetime(e["timestamp"], utc=True)
    return result, e


def durations(e: pd.DataFrame, act: str) -> pd.DataFrame:
    x = e[e.activity == act]
    s = x[x.lifecycle == "start"].set_index("case_id")["ts"]
    c = x[x.lifecycle == "complete"].set_index("case_id")["ts"]
    return pd.DataFrame({"start": s, "dur": (c - s).dt.total_seconds()}).dropna()


def routed_to_b(e: pd.DataFrame) -> pd.DataFrame:
    a_done = e[(e.activity == "a") & (e.lifecycle == "complete")].set_index("case_id")["ts"]
    b = set(e.case_id[e.activity == "b"])
    return pd.DataFrame({"t": a_done, "b": [cid in b for cid in a_done.index]})


def test_sudden_drift_starts_at_its_date_and_drift_csv_says_so(write_process, tmp_path) -> None:
    result, e = simulate(write_process, tmp_path, """\
drift:
  - name: slower_a
    type: sudden
    start: 2026-03-02
    description: a new form to fill in
    changes:
      - {activity: a, scale: 2}
""")
    d = durations(e, "a")
    at = pd.Timestamp("2026-03-02T00:00+01:00")
    before, after = d[d.start < at].dur, d[d.start >= at].dur
    assert after.mean() / before.mean() == pytest.approx(2.0, rel=0.08)
    # no change before the date: the week before looks like the first weeks
    week_before = d[(d.start >= at - pd.Timedelta(days=7)) & (d.start < at)].dur
    assert week_before.mean() == pytest.approx(1800, rel=0.12)
    rows = pd.read_csv(tmp_path / "out" / "drift.csv", keep_default_na=False)
    assert rows.to_dict("records") == [{
        "drift": "slower_a", "type": "sudden", "start": "2026-03-02T00:00:00.000+01:00", "end": "", "period": "",
        "active": "", "target_kind": "activity", "target": "a", "change": "scale", "old": 1, "new": 2.0,
        "description": "a new form to fill in"}]
    m = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert m["drift"][0]["start"] == "2026-03-02T00:00:00.000+01:00" and m["drift"][0]["change"] == "scale"
    assert "drift.csv" in m["files"]
    assert result.manifest["drift"] == m["drift"]


def test_gradual_drift_mixes_old_and_new_with_a_rising_share(write_process, tmp_path) -> None:
    _, e = simulate(write_process, tmp_path, """\
drift:
  - name: routing
    type: gradual
    start: 2026-02-02
    end: 2026-03-30
    changes:
      - {gateway: g, probabilities: {b: 0.0, c: 1.0}}
""")
    r = routed_to_b(e)
    share = lambda lo, hi: r[(r.t >= pd.Timestamp(lo, tz="Europe/Berlin")) & (r.t < pd.Timestamp(hi, tz="Europe/Berlin"))].b.mean()
    assert share("2026-01-05", "2026-02-02") == pytest.approx(0.8, abs=0.04)
    assert share("2026-04-01", "2026-05-01") == 0.0
    # the middle of the transition: about half the cases on the new version, both versions present
    mid = share("2026-02-23", "2026-03-09")
    assert mid == pytest.approx(0.8 * 0.5, abs=0.07)
    assert share("2026-02-02", "2026-02-16") > mid > share("2026-03-16", "2026-03-30") > 0


def test_gradual_drift_keeps_a_case_on_its_version(write_process, tmp_path) -> None:
    # two activities change together: under a gradual drift a case has both changed or neither
    _, e = simulate(write_process, tmp_path, """\
drift:
  - name: both
    type: gradual
    start: 2026-01-12
    end: 2026-02-09
    changes:
      - {activity: b, duration: 40m}
      - {activity: c, duration: 30m}
""", days=60)
    b, c = durations(e, "b"), durations(e, "c")
    both = b.join(c, lsuffix="_b", rsuffix="_c", how="inner")
    versions = set(zip(both.dur_b.round(), both.dur_c.round()))
    assert versions == {(1200.0, 600.0), (2400.0, 1800.0)}


def test_incremental_drift_interpolates(write_process, tmp_path) -> None:
    _, e = simulate(write_process, tmp_path, """\
drift:
  - name: faster_b
    type: incremental
    start: 2026-02-02
    end: 2026-04-27
    changes:
      - {activity: b, scale: 0.5}
""")
    d = durations(e, "b")
    # a fixed 20m duration, scaled by 1 - 0.5 * share: every value shows where in the transition it started
    t = (d.start - pd.Timestamp("2026-02-02T00:00+01:00")).dt.total_seconds() / (84 * DAY)
    expect = 1200 * (1 - 0.5 * t.clip(0, 1))
    assert np.allclose(d.dur, expect, atol=2.0)
    assert d.dur.nunique() > 100


def test_recurring_drift_changes_arrivals_and_staffing_in_its_active_weeks(write_process, tmp_path) -> None:
    _, e = simulate(write_process, tmp_path, """\
drift:
  - name: busy_weeks
    type: recurring
    start: 2026-01-05
    period: 4w
    active: 1w
    end: 2026-05-25
    changes:
      - {arrivals: 2}
      - {role: clerk, members: 25}
""", days=140)
    starts = e[(e.activity == "a") & (e.lifecycle == "start")]
    week = ((starts.ts - pd.Timestamp("2026-01-05T00:00+01:00")).dt.total_seconds() // (7 * DAY)).astype(int)
    per_week = starts.groupby(week).size()
    active = per_week[[w for w in per_week.index if w % 4 == 0 and w < 20]]
    quiet = per_week[[w for w in per_week.index if w % 4 != 0 and w < 20]]
    assert active.mean() / quiet.mean() == pytest.approx(2.0, rel=0.08)
    # in active weeks (after their first day, when held members finished their tasks) 25 people work
    work = e[e.lifecycle == "start"]
    offset = (work.ts - pd.Timestamp("2026-01-05T00:00+01:00")).dt.total_seconds() / DAY
    in_active = work[(offset % 28 >= 1) & (offset % 28 < 7) & (offset < 140)]
    in_quiet = work[(offset % 28 >= 8) & (offset < 140)]
    assert in_active.resource.nunique() == 25
    assert in_quiet.resource.nunique() == 40


def test_activities_removed_and_added_at_a_date(write_process, tmp_path) -> None:
    _, e = simulate(write_process, tmp_path, """\
drift:
  - name: no_more_c
    type: sudden
    start: 2026-02-02
    changes:
      - {activity: c, remove: true}
  - name: b_comes_in
    type: sudden
    start: 2026-03-02
    changes:
      - {activity: b, add: true}
""", days=90)
    at_c, at_b = pd.Timestamp("2026-02-02T00:00+01:00"), pd.Timestamp("2026-03-02T00:00+01:00")
    c = e[e.activity == "c"]
    b = e[e.activity == "b"]
    assert len(c) > 100 and c.ts.max() < at_c
    assert len(b) > 100 and b.ts.min() >= at_b
    cases = pd.read_csv(tmp_path / "out" / "cases.csv")
    assert (cases.status == "completed").mean() > 0.99  # a removed activity's case goes on to what follows it


def test_no_drift_no_drift_csv(write_process, tmp_path) -> None:
    out = tmp_path / "out"
    simulate(write_process, tmp_path, "drift:\n  - {name: x, type: sudden, start: 2026-02-02, "
             "changes: [{arrivals: 2}]}\n", days=10)
    assert (out / "drift.csv").is_file()
    run(write_process(BASE), out, seed=1, cases=10)
    assert not (out / "drift.csv").exists()


def test_drift_errors_are_positioned(write_process) -> None:
    text = BASE + """\
drift:
  - name: x
    type: gradual
    start: 2026-02-02
    changes:
      - {activity: a, scale: 2}
  - name: y
    type: sudden
    start: 2026-02-02
    changes:
      - {activity: aa, scale: 2}
      - {gateway: g, probabilities: {b: 0.5, d: 0.5}}
      - {role: clerk, members: 50}
      - {activity: a, members: 3}
      - {activity: b, duration: {kind: exponential, mean: 20}}
"""
    with pytest.raises(SpecError) as e:
        load_process(write_process(text))
    assert str(e.value).splitlines() == [
        "p.yaml:23:5: drift[0]: a gradual drift needs an 'end': the transition runs from 'start' to 'end' "
        "[value_error]",
        "p.yaml:35:9: drift[1].changes[3]: 'members' does not go with 'activity' (an activity change takes scale, "
        "duration, remove, add) [value_error]",
    ]
    text = text.replace("    type: gradual\n", "    type: gradual\n    end: 2026-03-02\n").replace(
        "      - {activity: a, members: 3}\n", "")
    with pytest.raises(SpecError) as e:
        load_process(write_process(text))
    assert str(e.value).splitlines() == [
        "p.yaml:33:20: drift[1].changes[0].activity: unknown activity 'aa'; did you mean 'a'? [unknown_activity]",
        "p.yaml:34:37: drift[1].changes[1].probabilities: give a probability for each branch without 'when' of "
        "'g': b, c [bad_branches]",
        "p.yaml:35:32: drift[1].changes[2].members: role 'clerk' has 40 members; a drift can only hold some of them "
        "away: declare the larger team in the role and let a drift ending at the date shrink it before "
        "[too_many_members]",
        "p.yaml:36:33: drift[1].changes[3].duration: 'mean' needs a unit, like '15m' [unit_missing]",
    ]


def test_a_condition_changes_at_its_date(write_process, tmp_path) -> None:
    text = BASE.replace("arrivals:", "attributes:\n  amount: {distribution: {kind: uniform, low: 0, high: 10000}}\n"
                        "arrivals:").replace("      - {to: b, probability: 0.8}",
                                             "      - {to: b, when: \"amount > 5000\"}")
    text = text.replace("      - {to: c, probability: 0.2}", "      - {to: c}")
    result = run(write_process(text + """\
drift:
  - name: lower_limit
    type: sudden
    start: 2026-02-02
    changes:
      - gateway: g
        conditions: {b: "amount > 2000"}
"""), tmp_path / "out", seed=4, horizon=60 * DAY)
    e = pd.read_csv(tmp_path / "out" / "events.csv")
    e["ts"] = pd.to_datetime(e["timestamp"], utc=True)
    r = routed_to_b(e).join(e.groupby("case_id")["amount"].first())
    at = pd.Timestamp("2026-02-02T00:00+01:00")
    before, after = r[r.t < at], r[r.t >= at]
    assert (before.b == (before.amount > 5000)).all()
    assert (after.b == (after.amount > 2000)).all()
    assert len(before) > 500 and len(after) > 500
    row = result.manifest["drift"][0]
    assert (row["change"], row["old"], row["new"]) == ("conditions", '{"b": "amount > 5000"}',
                                                       '{"b": "amount > 2000"}')


def test_condition_changes_are_checked(write_process) -> None:
    text = BASE.replace("      - {to: b, probability: 0.8}", "      - {to: b, when: \"case_id == 'x'\"}").replace(
        "      - {to: c, probability: 0.2}", "      - {to: c}") + """\
drift:
  - name: x
    type: sudden
    start: 2026-02-02
    changes:
      - {gateway: g, conditions: {b: "amout > 1", c: "true"}}
"""
    with pytest.raises(SpecError) as e:
        load_process(write_process(text))
    lines = str(e.value).splitlines()
    assert lines[0].startswith("p.yaml:27:39: drift[0].changes[0].conditions.b: unknown name 'amout'")
    assert lines[-1] == ("p.yaml:27:51: drift[0].changes[0].conditions.c: 'c' is not a branch of 'g' with a 'when'; "
                         "a drift changes existing conditions (b) [bad_branches]")


def test_drift_with_moving_arrivals_and_recording_is_deterministic(write_process, tmp_path) -> None:
    text = BASE.replace("  interarrival: {kind: exponential, mean: 20m}\n", "  interarrival: {kind: exponential, mean: 20m}\n"
                        "  month: {feb: 1.3}\n  noise: 0.3\n") + """\
drift:
  - {name: g1, type: gradual, start: 2026-01-19, end: 2026-02-16, changes: [{activity: a, scale: 1.5}]}
  - {name: r1, type: recurring, start: 2026-01-05, period: 2w, active: 3d, end: 2026-03-02,
     changes: [{role: clerk, members: 10}, {gateway: g, probabilities: {b: 0.5, c: 0.5}}]}
recording: {granularity: 1s, delay: {kind: exponential, mean: 5m}, window: {start: 2026-01-12, end: 2026-02-22}}
"""
    path = write_process(text)
    outs = []
    for k, flush in enumerate([50_000, 50_000, 97]):
        run(path, tmp_path / str(k), seed=8, flush_every=flush)
        outs.append([(tmp_path / str(k) / f).read_bytes() for f in ("events.csv", "drift.csv")])
    assert outs[0] == outs[1]
    assert outs[0][0] == outs[2][0]  # the event log does not depend on how the run is cut into batches
    assert outs[0][1] == outs[2][1]
