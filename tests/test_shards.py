"""Replications run as shards (issue #14): merged outputs, ids, columns, seeds, and bytes that do not depend on
the number of worker processes."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import pandas as pd
import pyarrow.parquet as pq
import pytest

from conftest import MINI
from procsim.errors import ProcsimError, UsageError
from procsim.run import run
from procsim.sim.streams import shard_seed

FORMATS = ["csv", "parquet", "xes"]
MERGED = ("events.csv", "events.parquet", "events.xes", "cases.csv")
FAILING = MINI.replace("  region:\n", "  ratio:\n    expr: \"1000 / (amount - amount)\"\n  region:\n")


def _bytes(folder) -> dict[str, bytes]:
    return {n: (folder / n).read_bytes() for n in MERGED}


def test_replications_same_bytes_with_one_or_two_workers(write_process, tmp_path):
    p = write_process(MINI)
    one = run(p, tmp_path / "one", seed=5, cases=100, replications=3, workers=1, formats=FORMATS)
    two = run(p, tmp_path / "two", seed=5, cases=100, replications=3, workers=2, formats=FORMATS)
    assert _bytes(tmp_path / "one") == _bytes(tmp_path / "two")
    assert one.cases == two.cases == 100 and one.events == two.events > 0
    # no shard folder or temporary is left beside the outputs
    assert sorted(x.name for x in (tmp_path / "two").iterdir()) == sorted([*MERGED, "manifest.json"])


def test_merged_log_columns_ids_and_split(write_process, tmp_path):
    p = write_process(MINI)
    res = run(p, tmp_path / "r", seed=5, cases=100, replications=3, workers=1, formats=FORMATS)
    ev = pd.read_csv(tmp_path / "r" / "events.csv")
    cases = pd.read_csv(tmp_path / "r" / "cases.csv")
    assert list(ev.columns)[-1] == "replication" and list(cases.columns)[-1] == "replication"
    # 100 cases split evenly over 3 replications, in replication order
    assert cases.groupby("replication").size().to_dict() == {1: 34, 2: 33, 3: 33}
    assert list(dict.fromkeys(ev["replication"])) == [1, 2, 3]
    assert cases["case_id"].is_unique and ev["event_id"].is_unique
    assert all(c.startswith(f"R0{r}-C") for c, r in zip(cases["case_id"], cases["replication"]))
    assert all(e.startswith(f"R0{r}-E") for e, r in zip(ev["event_id"], ev["replication"]))
    # Parquet: one file, the same rows as the CSV, readable in one call
    pt = pd.read_parquet(tmp_path / "r" / "events.parquet")
    assert len(pt) == len(ev) == res.events and list(pt["event_id"]) == list(ev["event_id"])
    assert pq.ParquetFile(tmp_path / "r" / "events.parquet").schema_arrow.field("replication").type == "int64"
    # XES: one well-formed log with every case as a trace
    root = ET.parse(tmp_path / "r" / "events.xes").getroot()
    traces = root.findall("{http://www.xes-standard.org/}trace")
    assert len(traces) == 100
    # the manifest lists the shards with their seeds and the hashes of their parts
    m = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert [s["seed"] for s in m["shards"]] == [shard_seed(5, 0, r) for r in (1, 2, 3)]
    assert [s["cases_requested"] for s in m["shards"]] == [34, 33, 33]
    assert m["counts"]["cases"] == 100 and m["counts"]["events"] == res.events
    for name in MERGED:
        assert m["files"][name]["sha256"] == hashlib.sha256((tmp_path / "r" / name).read_bytes()).hexdigest()


def test_manifest_says_what_each_shard_cost_where(write_process, tmp_path):
    import os

    p = write_process(MINI)
    one = run(p, tmp_path / "one", seed=5, cases=60, replications=3, workers=1)
    two = run(p, tmp_path / "two", seed=5, cases=60, replications=3, workers=2)
    assert {s["cost"]["worker"] for s in one.manifest["shards"]} == {os.getpid()}
    pids = {s["cost"]["worker"] for s in two.manifest["shards"]}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2
    for m in (one.manifest, two.manifest):
        assert m["client_cpu_s"] > 0
        for s in m["shards"]:
            assert s["cost"]["cpu_s"] > 0 and s["cost"]["load_s"] >= 0 and s["cost"]["wall_s"] > 0


def test_a_replication_is_a_run_of_its_own_seed(write_process, tmp_path):
    """Shard 2's rows are those of a plain run with the shard's seed, only with its id prefix and column."""
    p = write_process(MINI)
    run(p, tmp_path / "r", seed=9, cases=60, replications=2, workers=1)
    run(p, tmp_path / "plain", seed=shard_seed(9, 0, 2), cases=30)
    ev = pd.read_csv(tmp_path / "r" / "events.csv")
    second = ev[ev["replication"] == 2].drop(columns="replication").reset_index(drop=True)
    plain = pd.read_csv(tmp_path / "plain" / "events.csv")
    plain["event_id"] = "R02-" + plain["event_id"]
    plain["case_id"] = "R02-" + plain["case_id"]
    pd.testing.assert_frame_equal(second, plain)


def test_replications_one_is_a_plain_run(write_process, tmp_path):
    p = write_process(MINI)
    run(p, tmp_path / "a", seed=3, cases=40)
    run(p, tmp_path / "b", seed=3, cases=40, replications=1, workers=2)
    for name in ("events.csv", "cases.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert "replication" not in (tmp_path / "a" / "events.csv").read_text().splitlines()[0]


def test_a_failing_shard_fails_the_run_and_leaves_no_output(write_process, tmp_path):
    p = write_process(FAILING)
    with pytest.raises(ProcsimError, match=r"p\.yaml:\d+:\d+: attributes\.ratio\.expr: division by zero in case R0"):
        run(p, tmp_path / "out", cases=60, replications=3, workers=2)
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize("kw, msg", [
    ({"cases": 2, "replications": 3}, "--cases 2 is fewer than one case per shard"),
    ({"cases": 10, "dask": "local:2"}, "give --replications R"),
    ({"cases": 10, "replications": 2, "dask": "nowhere"}, "--dask nowhere: give local:N"),
    ({"cases": 10, "replications": 2, "workers": 0}, "--workers must be a positive number"),
])
def test_bad_flags(write_process, tmp_path, kw, msg):
    p = write_process(MINI)
    with pytest.raises(UsageError, match=msg):
        run(p, tmp_path / "out", **kw)
    assert not (tmp_path / "out").exists()


def test_cli_replications(write_process, tmp_path):
    p = write_process(MINI)
    r = subprocess.run([sys.executable, "-m", "procsim", "run", str(p), "--cases", "40", "--replications", "2",
                        "--workers", "2", "--out", str(tmp_path / "o"), "--quiet"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert pd.read_csv(tmp_path / "o" / "cases.csv")["replication"].tolist().count(2) == 20
    r = subprocess.run([sys.executable, "-m", "procsim", "run", str(p), "--cases", "40", "--replications", "2",
                        "--to", f"jsonl:{tmp_path / 'x.jsonl'}", "--out", str(tmp_path / "d")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "cannot be combined with --to" in r.stderr


def test_a_format_that_cannot_be_merged_is_refused(write_process, tmp_path, monkeypatch):
    """A third-party format (registered like a plugin's) has files procsim cannot merge: refused up front."""
    from procsim.sinks import REGISTRY
    from procsim.sinks.csv import CsvSink

    monkeypatch.setitem(REGISTRY, "mine", type("Mine", (CsvSink,), {"filename": "mine.csv"}))
    with pytest.raises(UsageError, match="--format mine is not merged across shards"):
        run(write_process(MINI), tmp_path / "out", cases=10, replications=2, formats=["mine"])
    assert not (tmp_path / "out").exists()


def test_activities_merged(write_process, tmp_path):
    p = write_process(MINI)
    one = run(p, tmp_path / "one", seed=2, cases=30, replications=3, workers=1, formats=["activities"])
    run(p, tmp_path / "two", seed=2, cases=30, replications=3, workers=2, formats=["activities"])
    a = (tmp_path / "one" / "activities.csv").read_bytes()
    assert a == (tmp_path / "two" / "activities.csv").read_bytes()
    rows = pd.read_csv(tmp_path / "one" / "activities.csv")
    assert rows["case_id"].str[:3].tolist() == sorted(rows["case_id"].str[:3]) and rows["case_id"].nunique() == 30
    assert one.manifest["files"]["activities.csv"]["sha256"] == hashlib.sha256(a).hexdigest()


UNITS = MINI + """\
units:
  DE01:
    staff: {clerk: 4}
  FR02:
    arrival_factor: 0.5
    calendars:
      office: {days: [mon, tue, wed, thu], hours: ["09:00-17:00"]}
"""


def test_units_are_shards_with_their_own_staff_calendars_and_rates(write_process, tmp_path):
    p = write_process(UNITS)
    run(p, tmp_path / "one", seed=2, cases=90, workers=1)
    run(p, tmp_path / "two", seed=2, cases=90, workers=2)
    assert (tmp_path / "one" / "events.csv").read_bytes() == (tmp_path / "two" / "events.csv").read_bytes()
    ev = pd.read_csv(tmp_path / "one" / "events.csv")
    cases = pd.read_csv(tmp_path / "one" / "cases.csv")
    assert "replication" not in cases.columns and list(cases.columns)[-1] == "unit"
    # --cases is the total, split in proportion to the arrival factors (1 : 0.5)
    assert cases.groupby("unit").size().to_dict() == {"DE01": 60, "FR02": 30}
    assert all(c.startswith(f"{u}-C") for c, u in zip(cases["case_id"], cases["unit"]))
    assert all(e.startswith(f"{u}-E") for e, u in zip(ev["event_id"], ev["unit"]))
    clerks = ev[ev["role"] == "clerk"].groupby("unit")["resource"].nunique().to_dict()
    assert clerks == {"DE01": 4, "FR02": 2}
    # FR02's office works Monday to Thursday, 9 to 5: its clerks never start work on a Friday or before 9
    t = pd.to_datetime(ev["timestamp"].str[:19])
    fr = (ev["unit"] == "FR02") & (ev["role"] == "clerk")
    assert not (t[fr].dt.weekday == 4).any() and (t[fr].dt.hour >= 9).all()
    de = (ev["unit"] == "DE01") & (ev["role"] == "clerk")
    assert (t[de].dt.hour < 9).any()  # the process's own office opens at 8


def test_units_arrival_factor_over_a_horizon(write_process, tmp_path):
    p = write_process(UNITS)
    run(p, tmp_path / "h", seed=2, horizon=20 * 86400.0, workers=1)
    n = pd.read_csv(tmp_path / "h" / "cases.csv").groupby("unit").size().to_dict()
    assert 0.35 < n["FR02"] / n["DE01"] < 0.65, n


def test_units_with_replications(write_process, tmp_path):
    p = write_process(UNITS)
    run(p, tmp_path / "r", seed=2, cases=90, replications=2, workers=1)
    cases = pd.read_csv(tmp_path / "r" / "cases.csv")
    assert list(cases.columns)[-2:] == ["unit", "replication"]
    assert cases.groupby(["unit", "replication"]).size().to_dict() == {
        ("DE01", 1): 30, ("DE01", 2): 30, ("FR02", 1): 15, ("FR02", 2): 15}
    m = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert [s["shard"] for s in m["shards"]] == ["DE01-R01", "DE01-R02", "FR02-R01", "FR02-R02"]
    assert len({s["seed"] for s in m["shards"]}) == 4


def test_units_load_checks(write_process):
    from procsim.errors import SpecError
    from procsim.spec import load_process

    p = write_process(MINI + """\
units:
  DE01:
    staff: {clerc: 3, boss: 2}
    calendars: {ofice: {days: [mon], hours: ["09:00-17:00"]}}
  bad-name: {}
""")
    with pytest.raises(SpecError) as e:
        load_process(p)
    assert "units.bad-name" in str(e.value)
    p = write_process(MINI + """\
units:
  DE01:
    staff: {clerc: 3, boss: 2}
    calendars: {ofice: {days: [mon], hours: ["09:00-17:00"]}}
""")
    with pytest.raises(SpecError) as e:
        load_process(p)
    lines = str(e.value).splitlines()
    assert any(x.startswith("p.yaml:") and "units.DE01.staff.clerc: unknown role 'clerc'; did you mean 'clerk'?"
               in x for x in lines), lines
    assert any("units.DE01.staff.boss: role 'boss' lists its members by name" in x and "[named_members]" in x
               for x in lines), lines
    assert any("units.DE01.calendars.ofice: unknown calendar 'ofice'; did you mean 'office'?" in x for x in lines)


def test_drift_ground_truth_written_once(tmp_path):
    from conftest import REPO

    p2p = REPO / "processes" / "procure_to_pay.yaml"  # declares drift: drift.csv is the same in every shard
    run(p2p, tmp_path / "plain", seed=1, cases=20)
    run(p2p, tmp_path / "r", seed=1, cases=40, replications=2, workers=1)
    assert (tmp_path / "r" / "drift.csv").read_bytes() == (tmp_path / "plain" / "drift.csv").read_bytes()


def test_the_bundled_example_shards_with_every_ground_truth_file(tmp_path):
    # procure_to_pay uses master data, line items, near misses and data-quality faults: each shard writes
    # exceptions.csv and field_labels.csv, merged like labels.csv; ids carry the shard, so none repeats
    out = tmp_path / "out"
    run("processes/procure_to_pay.yaml", out, seed=7, cases=400, replications=2, workers=1, formats=["csv"])
    cases = pd.read_csv(out / "cases.csv")
    assert len(cases) == 400 and set(cases["replication"]) == {1, 2}
    exc = pd.read_csv(out / "exceptions.csv")
    assert len(exc) > 0 and not exc["exception_id"].duplicated().any()
    assert {i.split("-")[0] for i in exc["exception_id"]} == {"R01", "R02"}
    fields = pd.read_csv(out / "field_labels.csv")
    assert set(fields["case_id"]) <= set(cases["case_id"])
    labels = pd.read_csv(out / "labels.csv")
    assert set(labels["case_id"]) == set(cases["case_id"])
