"""procsim.eventlog: outside logs and run folders read into one table of activity instances."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from procsim.errors import UsageError
from procsim.eventlog import COLUMNS, ColumnMap, read_log

REPO = Path(__file__).resolve().parents[1]
LOGS = REPO.parent / "shared" / "data" / "logs"

XES = """<?xml version="1.0" encoding="UTF-8"?>
<log xes.version="1.0" xmlns="http://www.xes-standard.org/">
 <trace><string key="concept:name" value="c1"/><string key="channel" value="web"/>
  <event><string key="concept:name" value="A"/><string key="lifecycle:transition" value="start"/>
   <string key="org:resource" value="ann"/><date key="time:timestamp" value="2024-01-01T10:00:00+01:00"/></event>
  <event><string key="concept:name" value="A"/><string key="lifecycle:transition" value="complete"/>
   <string key="org:resource" value="ann"/><date key="time:timestamp" value="2024-01-01T10:30:00+01:00"/></event>
  <event><string key="concept:name" value="B"/><string key="lifecycle:transition" value="schedule"/>
   <date key="time:timestamp" value="2024-01-01T10:31:00+01:00"/></event>
  <event><string key="concept:name" value="B"/>
   <date key="time:timestamp" value="2024-01-01T11:00:00+01:00"/></event>
 </trace>
</log>
"""


def test_xes_pairs_start_and_complete(tmp_path: Path) -> None:
    p = tmp_path / "l.xes.gz"
    with gzip.open(p, "wt", encoding="utf-8") as fh:
        fh.write(XES)
    log = read_log(p)
    assert list(log.df.columns) == COLUMNS
    a, b = log.df.to_dict("records")
    assert (a["activity"], a["resource"]) == ("A", "ann")
    assert a["start_time"] == pd.Timestamp("2024-01-01T09:00:00Z")
    assert a["end_time"] == pd.Timestamp("2024-01-01T09:30:00Z")
    assert b["activity"] == "B" and pd.isna(b["start_time"]) and b["resource"] is None  # schedule ignored
    assert log.case_attributes.loc["c1", "channel"] == "web"


def test_csv_with_mapping_and_errors(tmp_path: Path) -> None:
    p = tmp_path / "l.csv"
    p.write_text("cid,task,begin,finish,who\n1,A,2024-01-01 08:00,2024-01-01 08:05,x\n1,B,,2024-01-01 09:00,\n")
    log = read_log(p, ColumnMap(case="cid", activity="task", start="begin", end="finish", resource="who"))
    assert log.df["activity"].tolist() == ["A", "B"]
    assert log.df["start_time"].isna().tolist() == [False, True]
    assert log.df["resource"].tolist() == ["x", None]
    with pytest.raises(UsageError, match="cannot tell which column holds the case"):
        read_log(p)
    with pytest.raises(UsageError, match="no column 'nope'"):
        read_log(p, ColumnMap(case="nope"))


def test_run_folder_matches_its_events(tmp_path: Path) -> None:
    from procsim.run import run
    from procsim.spec import load_process

    loaded = load_process(REPO / "processes" / "procure_to_pay.yaml")
    run(loaded, tmp_path / "o", seed=3, cases=40, formats=["csv"])
    ev = pd.read_csv(tmp_path / "o" / "events.csv")
    log = read_log(tmp_path / "o")
    assert len(log) == int((ev["lifecycle"] == "complete").sum())
    assert log.df["start_time"].notna().all()
    assert (log.df["end_time"] >= log.df["start_time"]).all()
    assert set(log.df["case_id"]) == set(ev["case_id"])


@pytest.mark.skipif(not (LOGS / "receipt.xes.gz").exists(), reason="../shared/data/logs not present")
def test_real_receipt_log() -> None:
    log = read_log(LOGS / "receipt.xes.gz")
    assert log.df["case_id"].nunique() == 1434
    assert len(log) == 8577  # every event of receipt is a completion
    assert not log.has_start


def test_vectorised_pairing_equals_the_plain_loop() -> None:
    """Random transitions (starts without completes, completes before starts, other lifecycles, equal times)."""
    import numpy as np

    from procsim.eventlog import _pair, _pair_loop

    rng = np.random.default_rng(8)
    for _ in range(30):
        n = int(rng.integers(1, 80))
        rows = pd.DataFrame({
            "case_id": rng.choice(["c1", "c2", "c3"], size=n).astype(object),
            "activity": rng.choice(["A", "B"], size=n).astype(object),
            "t": pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 20, size=n), unit="m"),
            "lifecycle": rng.choice(["start", "complete", "complete", "schedule", ""], size=n).astype(object),
            "resource": rng.choice(np.array(["ann", "bob", None], dtype=object), size=n),
        })
        rows["resource"] = rows["resource"].astype(object).where(rows["resource"].notna(), None)  # as readers give
        pd.testing.assert_frame_equal(_pair(rows), _pair_loop(rows))
