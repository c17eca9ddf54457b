"""Smoke tests for benchmarks/: the baseline and the bench child run on a tiny size and give well-formed results.

No timing assertions here (speed lives in benchmarks/, as ratios); these only keep the benchmark code from rotting.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from procsim.spec import load_process

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
P2P = ROOT / "processes" / "procure_to_pay.yaml"
CASES = 200  # enough that every branch of procure_to_pay is taken (the seeds are fixed, so this is deterministic)


def _module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up while the class is built
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def bench_child() -> dict:
    return _module("bench_core").run_child(P2P, CASES, "both")


def test_baseline_walks_every_activity_of_the_spec() -> None:
    loaded = load_process(P2P)
    r = _module("baseline").run_baseline(loaded, CASES, seed=1)
    assert r.cases == CASES
    # escalate_approval is reached only through a deadline rule's edge, which a model without rules never takes
    assert r.rule_only == ("escalate_approval",)
    assert list(r.counts) == [a for a in loaded.spec.activities if a not in r.rule_only]
    assert all(n > 0 for n in r.counts.values())
    assert r.activity_instances == sum(r.counts.values())
    assert r.counts["create_requisition"] == CASES  # the first activity of every case
    # an and split: both branches run once per case that reaches it (goods more than once when a partial
    # delivery or a return brings the case back to receive_goods)
    assert r.counts["receive_invoice"] == r.counts["create_purchase_order"]
    assert r.counts["receive_goods"] == r.counts["inspect_goods"] > r.counts["receive_invoice"]
    # every match ends in approval or in rework that loops back to the match
    assert r.counts["match_invoice"] == r.counts["clarify_discrepancy"] + r.counts["execute_payment"]
    assert r.sim_time > 0


def test_baseline_is_deterministic() -> None:
    loaded = load_process(P2P)
    base = _module("baseline")
    assert base.run_baseline(loaded, 50, seed=3) == base.run_baseline(loaded, 50, seed=3)


def test_bench_child_result_is_well_formed(bench_child: dict) -> None:
    r = bench_child
    assert r["cases"] == CASES and r["mode"] == "both"
    assert r["cases_done"] == CASES
    assert r["events"] > 0 and r["activity_instances"] > 0 and r["baseline_activity_instances"] > 0
    assert r["events"] == 2 * r["activity_instances"]  # a start and a complete per activity instance
    assert r["procsim_s"] > 0 and r["baseline_s"] > 0 and r["peak_rss_mb"] > 0


def test_baseline_and_procsim_see_the_same_activities(bench_child: dict) -> None:
    rule_only = set(bench_child["baseline_rule_only"])
    # a logged wait is in procsim's log but is no activity of the baseline's (it holds nobody)
    spec = load_process(P2P).spec
    waits = {w.name or i for i, w in spec.waits.items() if w.log}
    # an activity a near miss or an exception inserts (the new supplier's onboarding) is no activity of the model
    inserted = {getattr(x, "insert") for x in [*spec.exceptions, *spec.near_misses] if getattr(x, "insert", None)}
    seen = sorted(a for a in bench_child["procsim_counts"] if a not in rule_only | waits | inserted)
    assert seen == sorted(bench_child["baseline_counts"])
    assert all(n > 0 for n in bench_child["procsim_counts"].values())


def test_table_marks_targets() -> None:
    bench = _module("bench_core")
    row = {"cases": 10, "events": 20, "activity_instances": 10, "load_s": 0.2, "procsim_s": 0.1,
           "procsim_events_per_s": 200.0,
           "procsim_ai_per_s": 100.0, "baseline_ai_per_s": 150.0, "ratio": 100 / 150, "peak_rss_mb": 100.0,
           "rss_ratio": 1.0}
    text = bench.table([row, {**row, "cases": 100, "ratio": 0.2, "peak_rss_mb": 200.0, "rss_ratio": 2.0}])
    lines = text.splitlines()
    assert lines[0].split()[:4] == ["cases", "events", "act.inst", "load"]
    assert lines[2].split()[3:5] == ["0.20", "0.10"]  # load s, procsim s
    assert lines[2].split()[-4:] == ["0.67x", "PASS", "100", "1.00x"]  # no memory verdict on the first size
    assert lines[3].split()[-5:] == ["0.20x", "MISS", "200", "2.00x", "MISS"]


def test_baseline_keeps_each_branch_bound_when_branches_share_a_target(write_process) -> None:
    from conftest import MINI

    two = MINI.replace("      - {to: decide, probability: 0.2, max: 2}",
                       "      - {to: decide, probability: 0.1, max: 1}\n      - {to: decide, probability: 0.1, max: 2}")
    nodes = _module("baseline")._compile(load_process(write_process(two)))[0]
    assert [n.bounds for n in nodes if n.bounds] == [(None, 1, 2)]


def test_bench_report_measures_a_small_run(tmp_path: Path) -> None:
    from procsim.run import run

    run(P2P, tmp_path, seed=1, cases=50)
    r = _module("bench_report").measure(tmp_path)
    assert r["events"] > 0 and r["report_s"] > 0 and r["baseline_read_s"] > 0 and 0 < r["mb"] < 10
    assert (tmp_path / "report.html").is_file()


def test_bench_discover_synthetic_log_has_100_plus_activities_and_discovers() -> None:
    from procsim.discover import discover
    from procsim.eventlog import ActivityLog

    df = _module("bench_discover").synthetic_log(20_000, 120)
    assert df["activity"].nunique() >= 100 and abs(len(df) - 20_000) < 2_000
    d = discover(ActivityLog(df.sort_values(["end_time", "case_id"]).reset_index(drop=True)))
    assert d.activities == df["activity"].nunique()


def test_bench_child_reads_a_process_whose_rule_files_lie_under_root() -> None:
    """``--root`` lets the plain process (rule files in ../rules) be benched directly; without it, it is refused."""
    bench = _module("bench_core")
    plain = BENCH / "procure_to_pay_plain.yaml"
    with pytest.raises(RuntimeError, match="outside_project"):
        bench.run_child(plain, 20, "procsim")
    r = bench.run_child(plain, 20, "procsim", root=ROOT)
    assert r["cases_done"] == 20 and r["events"] > 0
