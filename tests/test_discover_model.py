"""``procsim discover``'s model of the log (issue #13's fidelity): loops with the log's repeat counts, parts skipped
together, directly-follows parts by their states, and people who differ (speeds, own calendars, uneven shares)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd
from ruamel.yaml import YAML

from procsim.discover import discover, write_checked
from procsim.eventlog import ActivityLog, read_log
from procsim.run import run

T0 = pd.Timestamp("2026-03-02 09:00", tz="UTC")  # a Monday


def _log(traces: list[list[str]], resources: list[str] | None = None, gap_min: int = 5,
         case_gap_h: float = 1.0) -> ActivityLog:
    rows = []
    for c, seq in enumerate(traces):
        t = T0 + pd.Timedelta(hours=case_gap_h * c)
        for i, x in enumerate(seq):
            r = resources[c % len(resources)] if resources else None
            rows.append((f"c{c:04d}", x, None, t + pd.Timedelta(minutes=gap_min * (i + 1)), r))
    df = pd.DataFrame(rows, columns=["case_id", "activity", "start_time", "end_time", "resource"])
    df["start_time"] = pd.to_datetime(df["start_time"], utc=True)
    return ActivityLog(df.sort_values(["end_time", "case_id"]).reset_index(drop=True))


def _simulate(log: ActivityLog, tmp: Path, cases: int = 400) -> pd.DataFrame:
    path = write_checked(discover(log), tmp / "m")
    run(path, tmp / "s", seed=7, cases=cases)
    return read_log(tmp / "s").df


def _variants(df: pd.DataFrame) -> Counter[tuple[str, ...]]:
    return Counter(df.groupby("case_id", sort=False)["activity"].agg(tuple))


def test_loop_repeats_follow_the_log_not_a_geometric_law(tmp_path: Path) -> None:
    # b runs once in half the cases and exactly four times in the others: one share of going round again for
    # every pass would also make 2 and 3 (and 5, 6...) repetitions
    traces = [["a"] + ["b"] * k + ["c"] for k in [1, 4] * 60]
    sim = _simulate(_log(traces), tmp_path)
    counts = sim[sim["activity"] == "b"].groupby("case_id").size()
    assert set(counts) == {1, 4}
    assert 0.35 < (counts == 1).mean() < 0.65
    text = (tmp_path / "m" / "process.yaml").read_text()
    assert "pass 2 of a loop" in text  # the passes are written out, as the comment says


def test_parts_skipped_by_the_same_cases_are_skipped_together(tmp_path: Path) -> None:
    traces = [["a", "b", "c", "d"]] * 70 + [["a", "d"]] * 50
    sim = _simulate(_log(traces), tmp_path)
    v = _variants(sim)
    assert set(v) == {("a", "b", "c", "d"), ("a", "d")}, v  # never b without c or c without b
    assert 0.45 < v[("a", "b", "c", "d")] / sum(v.values()) < 0.72


def test_a_directly_follows_part_remembers_what_was_done(tmp_path: Path) -> None:
    # x and y once each, in either order, around b or before it: no block structure fits; a directly-follows
    # graph would send a case from b to x or y whatever it did before (x twice, y never)
    traces = [["a", "x", "b", "y", "c"]] * 40 + [["a", "y", "b", "x", "c"]] * 40 + [["a", "y", "x", "b", "c"]] * 20
    log = _log(traces)
    d = discover(log)
    assert "a state of a directly-follows part" in d.yaml
    sim = _simulate(log, tmp_path)
    v = _variants(sim)
    assert set(v) <= {tuple(t) for t in traces}, v  # only what the log did
    assert len(v) == 3
    # the whole log as a transition system, and the hold-out between it and the tree
    for miner in ("states", "holdout"):
        d = discover(log, miner=miner)
        assert ("chosen by a hold-out" in d.yaml) == (miner == "holdout")
        assert "the log's transition system" in d.yaml or "process tree" in d.yaml
        write_checked(d, tmp_path / miner)


def test_members_get_speeds_calendars_and_their_share(tmp_path: Path) -> None:
    rows = []
    days = [d for d in range(33) if (T0 + pd.Timedelta(days=d)).dayofweek < 5]
    for c in range(10 * len(days)):
        day = T0 + pd.Timedelta(days=days[c // 10]) - pd.Timedelta(hours=9)
        r = ["ann", "bob", "cy"][0 if c % 10 < 6 else 1 if c % 10 < 9 else 2]  # 60%, 30%, 10% of the work
        minutes = {"ann": 10 + c % 3, "bob": 20 + c % 5, "cy": 20 + c % 4}[r]  # ann twice as fast
        start = day + (pd.Timedelta(hours=14) if r == "cy" else pd.Timedelta(hours=8, minutes=30 * (c % 10)))
        rows.append((f"c{c:04d}", "work", start, start + pd.Timedelta(minutes=minutes), r))
    # once, on a Saturday, cy worked: a weekend day with 2 events is a working day all the same
    sat = T0 + pd.Timedelta(days=5, hours=1)
    rows.append(("sat", "work", sat, sat + pd.Timedelta(minutes=20), "cy"))
    df = pd.DataFrame(rows, columns=["case_id", "activity", "start_time", "end_time", "resource"])
    d = discover(ActivityLog(df))
    data = YAML(typ="safe").load(d.yaml)
    (role,) = data["roles"].values()
    members = role["members"]
    speed = {m: members[m].get("speed", 1.0) for m in members}
    assert 1.7 < speed["ann"] / speed["bob"] < 2.5 and 0.8 < speed["bob"] / speed["cy"] < 1.25  # as in the log
    cy_cal = data["calendars"][members["cy"]["calendar"]]
    assert cy_cal["days"] == ["mon", "tue", "wed", "thu", "fri", "sat"] and "14:00-15:00" in cy_cal["hours"]
    assert "sat" in data["calendars"][role["calendar"]]["days"]  # a few weekend events: still a working day
    weights = data["activities"]["work"]["assignment"]["weights"]
    assert data["activities"]["work"]["assignment"]["policy"] == "weighted"
    assert weights["ann"] > weights["bob"] > weights["cy"]
    write_checked(d, tmp_path / "m")  # and it loads
