"""Smoke tests for benchmarks/bench_rules.py: its functions run at a tiny size and give well-formed results.

No timing assertions (speed lives in benchmarks/); these only keep the benchmark code from rotting.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest

from procsim.rules.models import RuleFile
from procsim.sim.build import sample_cases
from procsim.spec import load_process
from procsim.spec.loader import read_yaml, validate

ROOT = Path(__file__).resolve().parent.parent
P2P = ROOT / "processes" / "procure_to_pay.yaml"
P2P_RULES = ROOT / "rules" / "procure_to_pay.yaml"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_bench_rules", ROOT / "benchmarks" / "bench_rules.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


bench = _bench()


@pytest.fixture(scope="module")
def overhead() -> dict:
    return bench.measure_overhead(P2P, cases=40, repeat=1, warmup_cases=5)


@pytest.fixture(scope="module")
def conditions() -> list[dict]:
    return bench.condition_costs(P2P, samples=20, evals=40, repeat=1)


def _p2p_rules() -> RuleFile:
    raw, smap = read_yaml(P2P_RULES, "rules/procure_to_pay.yaml")
    content, problems = validate(RuleFile, raw, smap)
    assert not problems and isinstance(content, RuleFile)
    return content


def test_strip_rules_removes_only_the_rules_entry() -> None:
    text = "process:\n  name: x\n\nrules: [a.yaml]  # why\n\nevents:\n  s: {}\n"
    assert bench.strip_rules(text) == "process:\n  name: x\n\n\nevents:\n  s: {}\n"
    block = "process: {}\nrules:\n  - a.yaml\n  # more\n  - b.yaml\nevents: {}\n"
    assert bench.strip_rules(block) == "process: {}\nevents: {}\n"
    assert bench.strip_rules("rules:\n- a.yaml\n- b.yaml\n\nevents: {}\n") == "\nevents: {}\n"
    with pytest.raises(ValueError, match="no top-level 'rules:' entry"):
        bench.strip_rules("process: {}\n  rules: []\n")


def test_rule_less_copy_differs_only_by_rules_and_rule_only_activities(tmp_path: Path) -> None:
    path, removed = bench.write_without_rules(P2P, tmp_path)
    assert removed == ["escalate_approval"]  # entered only through the deadline rule's edge
    bare, full = load_process(path), load_process(P2P)
    assert bare.spec.rules == [] and bare.rule_sources == []
    assert list(bare.spec.activities) == [a for a in full.spec.activities if a != "escalate_approval"]
    # gateways keep their fallback probabilities; rule-set attributes keep their declared values
    assert bare.spec.gateways == full.spec.gateways
    assert bare.spec.attributes == full.spec.attributes
    kept = path.read_text(encoding="utf-8").splitlines()
    original = P2P.read_text(encoding="utf-8").splitlines()
    dropped = [s for s in original if s not in kept]
    assert dropped[0].startswith("rules: [../rules/procure_to_pay.yaml]")
    assert dropped[1] == "  escalate_approval:" and len(original) - len(kept) == 7


def test_both_runs_produce_events_and_a_finite_overhead(overhead: dict) -> None:
    assert overhead["cases"] == 40 and overhead["removed_activities"] == ["escalate_approval"]
    for side in ("with", "without"):
        r = overhead[side]
        assert r["cases"] == 40 and r["events"] > 0 and r["seconds"] > 0
        assert r["events"] == 2 * r["activity_instances"]  # a start and a complete per activity instance
        assert r["counts"]["Create purchase requisition"] == 40
        assert r["events_per_s"] > 0 and r["ai_per_s"] > 0
    assert "Escalated approval" not in overhead["without"]["counts"]
    for key in ("overhead_run", "overhead_per_ai", "overhead_per_event"):
        assert math.isfinite(overhead[key]) and overhead[key] > -1.0


def test_every_condition_is_evaluated(conditions: list[dict]) -> None:
    rules = _p2p_rules().rules
    whens = [(r.id, r.when) for r in rules if r.when]
    assert [(c["rule"], c["source"]) for c in conditions if c["kind"] == "when"] == whens
    assert [c["rule"] for c in conditions if c["kind"] == "allow"] == [r.id for r in rules if r.assign and
                                                                       r.assign.allow]
    for c in conditions:
        assert c["evaluations"] == 40 and math.isfinite(c["ns"]) and c["ns"] > 0
        assert c["engine_ns"] is None if c["kind"] == "allow" else c["engine_ns"] > 0
        assert 0.0 <= c["true_share"] <= 1.0


def test_conditions_see_the_values_start_rules_set() -> None:
    # without the start tables and set rules, gross_amount would stay 0.0 and its condition would never hold
    # (procure_to_pay_exceptions: procure_to_pay's gross_amount is its line items' sum, which the rule keeps)
    loaded = load_process(P2P.with_name("procure_to_pay_exceptions.yaml"))
    envs = sample_cases(loaded, 5)
    bench._start_values(loaded.rules, envs)
    for e in envs:
        assert e["gross_amount"] == round(e["amount"] * (1 + e["vat_rate"]), 2)
        assert e["vat_rate"] == (0.19 if e["supplier_country"] == "DE" else
                                 0.25 if (e["supplier_country"], e["category"]) == ("NO", "services") else 0.0)


def test_report_marks_targets(overhead: dict, conditions: list[dict]) -> None:
    text = bench.report(overhead, conditions)
    lines = text.splitlines()
    assert lines[1].split()[:3] == ["run", "time", "s"]
    assert lines[3].startswith("without rules") and lines[4].startswith("with rules")
    verdicts = [l for l in lines if l.startswith("overhead per")]
    assert len(verdicts) == 2 and all(("PASS" in l) != ("MISS" in l) for l in verdicts)
    rows = {c["rule"] + c["kind"]: c for c in conditions}
    marked = [l.split() for l in lines if l.split()[:1] and l.split()[0] in {c["rule"] for c in conditions}]
    assert len(marked) == len(rows) and all(m[-1] in ("PASS", "MISS") for m in marked)
    fake = {**overhead, "overhead_run": 0.29, "overhead_per_ai": 0.31}
    v = [l for l in bench.report(fake, conditions).splitlines() if l.startswith("overhead per")]
    assert "+29.0%  PASS" in v[0] and "+31.0%  MISS" in v[1]


def test_engine_share_is_measured() -> None:
    share = bench.engine_share(P2P, 50)
    assert 0.0 < share["engine_s"] < share["run_s"]
    assert set(share["by_hook"]) == {"case_started", "plan", "route", "after_activity"}
    assert share["by_hook"]["case_started"] > 0 and share["by_hook"]["plan"] > 0
