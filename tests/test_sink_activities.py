"""``--format activities``: one row per activity instance (case_id, activity, enabled_time, start_time, end_time,
resource), checked against the event log of the same run."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from procsim.run import run

from conftest import MINI, REPO


def _read(out: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    acts = pd.read_csv(out / "activities.csv", keep_default_na=False)
    events = pd.read_csv(out / "events.csv", keep_default_na=False)
    cases = pd.read_csv(out / "cases.csv", keep_default_na=False)
    return acts, events, cases


def test_one_row_per_instance_matching_the_event_log(write_process, tmp_path: Path) -> None:
    p = write_process(MINI)
    out = tmp_path / "out"
    run(p, out, seed=3, cases=200, formats=("csv", "activities"))
    acts, events, cases = _read(out)
    assert list(acts.columns) == ["case_id", "activity", "enabled_time", "start_time", "end_time", "resource"]
    starts = events[events.lifecycle == "start"]
    done = events[events.lifecycle == "complete"]
    assert len(acts) == len(starts) == len(done)
    # the same (case, activity, start, end, resource) instances as the event log pairs them
    key = ["case_id", "activity", "start_time", "resource"]
    ev = starts.rename(columns={"timestamp": "start_time"})[key].sort_values(key).reset_index(drop=True)
    assert acts[key].sort_values(key).reset_index(drop=True).equals(ev)
    assert sorted(acts.end_time) == sorted(done.timestamp)
    t = {c: pd.to_datetime(acts[c], format="ISO8601", utc=True) for c in ("enabled_time", "start_time", "end_time")}
    assert (t["enabled_time"] <= t["start_time"]).all() and (t["start_time"] <= t["end_time"]).all()
    # register is enabled by the arrival; decide by the later of the two checks (the AND join) or, in the
    # loop, by the previous decide
    arrival = dict(zip(cases.case_id, cases.start))
    reg = acts[acts.activity == "register"]
    assert (reg.enabled_time == reg.case_id.map(arrival)).all()
    waited = (t["start_time"] > t["enabled_time"]).sum()
    assert waited > 0  # queues and closed office hours show between enabled and start
    for case, rows in acts.groupby("case_id"):
        rows = rows.assign(**{c: pd.to_datetime(rows[c], format="ISO8601", utc=True)
                              for c in ("enabled_time", "start_time", "end_time")})
        checks = rows[rows.activity.isin(["check_a", "check_b"])]
        decides = rows[rows.activity == "decide"].sort_values("start_time")
        assert decides.enabled_time.iloc[0] == checks.end_time.max()
        for k in range(1, len(decides)):
            assert decides.enabled_time.iloc[k] == decides.end_time.iloc[k - 1]
    manifest = json.loads((out / "manifest.json").read_text())
    assert "activities.csv" in manifest["files"]


def test_with_exceptions_and_recorded_times_still_ordered(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run(REPO / "processes" / "procure_to_pay.yaml", out, seed=1, cases=60, formats=("activities",))
    acts = pd.read_csv(out / "activities.csv", keep_default_na=False)
    full = acts[(acts.start_time != "") & (acts.end_time != "")]
    assert len(full) > 0.9 * len(acts)
    t = {c: pd.to_datetime(full[c], format="ISO8601", utc=True) for c in ("enabled_time", "start_time", "end_time")}
    assert (t["enabled_time"] <= t["start_time"]).all() and (t["start_time"] <= t["end_time"]).all()
