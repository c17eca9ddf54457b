"""Property tests (Hypothesis) on generated logs: what must hold for any parameters and seed."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections import defaultdict, deque
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import MINI
from procsim.run import run
from procsim.sim.build import _calendars
from procsim.spec import load_process

ORIGIN = pd.Timestamp("2026-03-02T08:00:00+01:00")


def make_process(members_clerk: int, members_boss: int, gap_min: int, check_a_min: int, lunch: bool,
                 multitask: int = 1) -> str:
    text = (MINI.replace("members: 2", f"members: {members_clerk}")
            .replace("members: [Ann, Bob]", "members: [" + ", ".join(f"Boss{i}" for i in range(members_boss)) + "]"
                     + f"\n    multitask: {multitask}")
            .replace("mean: 20m}", f"mean: {gap_min}m}}")
            .replace("duration: 15m", f"duration: {check_a_min}m"))
    if not lunch:
        text = text.replace('hours: ["08:00-12:00", "13:00-17:00"]', 'hours: ["09:00-17:30"]')
    return text


def pair_instances(events: pd.DataFrame) -> pd.DataFrame:
    """Join each start with its complete (same case, activity, resource; FIFO)."""
    open_: dict[tuple[str, str, str], deque[pd.Timestamp]] = defaultdict(deque)
    rows = []
    for case, act, life, ts, res in events[["case_id", "activity", "lifecycle", "timestamp", "resource"]].itertuples(
            index=False):
        key = (case, act, res)
        if life == "start":
            open_[key].append(ts)
        else:
            rows.append((case, act, res, open_[key].popleft(), ts))
    assert not any(open_.values()), "a start without a complete"
    return pd.DataFrame(rows, columns=["case_id", "activity", "resource", "start", "end"])


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), members_clerk=st.integers(1, 3), members_boss=st.integers(1, 2),
       gap_min=st.integers(2, 60), check_a_min=st.integers(1, 240), lunch=st.booleans(),
       cases=st.integers(1, 40), multitask=st.integers(1, 3))
def test_log_invariants(seed, members_clerk, members_boss, gap_min, check_a_min, lunch, cases, multitask):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "p.yaml"
        path.write_text(make_process(members_clerk, members_boss, gap_min, check_a_min, lunch, multitask))
        run(path, Path(d) / "out", seed=seed, cases=cases, formats=["parquet"])
        events = pd.read_parquet(Path(d) / "out" / "events.parquet")
        case_rows = pd.read_csv(Path(d) / "out" / "cases.csv")
        loaded = load_process(path)

    # rows are ordered by timestamp, then case
    key = list(zip(events["timestamp"], events["case_id"]))
    assert key == sorted(key)
    # timestamps never go backwards within a case
    assert events.groupby("case_id")["timestamp"].apply(lambda s: s.is_monotonic_increasing).all()
    # every case finished at an end event, with all its events before its end
    assert len(case_rows) == cases
    assert set(case_rows["status"]) == {"completed"}
    assert set(case_rows["end_event"]) <= {"done"}
    last = events.groupby("case_id")["timestamp"].max()
    ends = pd.to_datetime(case_rows.set_index("case_id")["end"], format="ISO8601", utc=True)
    assert (last <= ends.reindex(last.index)).all()

    inst = pair_instances(events)
    # no resource works on more activities at once than they may hold: one (no double booking), or the bosses'
    # multitask k (a completion at t frees the member before a start at t)
    for who, work in inst.groupby("resource"):
        marks = sorted([(t, 1) for t in work["start"]] + [(t, -1) for t in work["end"]])
        level = peak = 0
        for _, d in marks:
            level += d
            peak = max(peak, level)
        assert peak <= (multitask if who.startswith("Boss") else 1), who
    # no work starts outside its resource's working hours
    cal = _calendars(loaded.spec)["office"]
    secs = (inst["start"] - ORIGIN).dt.total_seconds()
    assert all(cal.is_working(round(s, 3)) or cal.is_working(round(s, 3) + 0.001) for s in secs)
    # AND branches both complete before the join: each 'decide' starts after the case's checks completed
    for case, ci in inst.groupby("case_id"):
        first_decide = ci.loc[ci["activity"] == "decide", "start"].min()
        checks_done = ci.loc[ci["activity"].isin(["check_a", "check_b"]), "end"]
        assert len(checks_done) == 2
        assert first_decide >= checks_done.max()
    # the bounded loop: decide runs at most 1 + max(2) times per case
    assert inst[inst["activity"] == "decide"].groupby("case_id").size().max() <= 3


def test_timestamps_are_local_with_offset(write_process, tmp_path):
    run(write_process(MINI), tmp_path / "o", seed=3, cases=5, formats=["csv", "parquet"])
    csv = pd.read_csv(tmp_path / "o" / "events.csv")
    assert csv["timestamp"].str.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+01:00$").all()
    parquet = pd.read_parquet(tmp_path / "o" / "events.parquet")
    assert str(parquet["timestamp"].dt.tz) == "Europe/Berlin"
    assert (pd.to_datetime(csv["timestamp"], format="ISO8601") == parquet["timestamp"]).all()
    # the offset written is Berlin's at that instant (CET in March until the 29th, then CEST)
    berlin = ZoneInfo("Europe/Berlin")
    for text in csv["timestamp"]:
        t = dt.datetime.fromisoformat(text)
        assert t.utcoffset() == t.astimezone(berlin).utcoffset()
