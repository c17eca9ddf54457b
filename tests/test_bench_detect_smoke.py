"""Smoke test for benchmarks/bench_detect.py on a tiny dataset: the detectors run and the scores are well formed
(no recall targets here; the figures live in benchmarks/README.md)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("pm4py")
pytest.importorskip("sklearn")

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_detect.py"


def test_bench_detect_scores_every_labelled_exception(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("_bench_detect", BENCH)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    process, out = mod.make_dataset(tmp_path, 300, 1)
    assert process.parent.name == "processes" and (process.parent.parent / "rules").is_dir()  # an init'ed project
    events = pd.read_parquet(out / "events.parquet")
    cases = pd.read_csv(out / "cases.csv", keep_default_na=False, na_values={"cycle_time_s": [""]})
    exc = pd.read_csv(out / "exceptions.csv")
    flagged = {"conformance": mod.conformance(process, events), "rules": mod.rule_checks(events, cases),
               "outlier": mod.outlier(events, cases, 1)}
    s = mod.score(exc, flagged)
    assert len(s) == int(exc.is_exception.sum()) > 20
    assert s[list(flagged)].apply(lambda col: col.between(0, 1).all()).all()
    # a duplicated payment repeats an activity: the alignment finds every one there is
    dup = s[s.type == "duplicate_activity"]
    assert len(dup) and (dup.conformance == 1.0).all()
    # and no detector flags everything
    assert all(len(f) < len(cases) for f in flagged.values())
