"""Smoke test for benchmarks/bench_people.py: every variant of procure_to_pay loads, runs, and turns on its
feature (the manifest's ground truth says so); no timing here."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

from procsim.run import run
from procsim.spec import load_process

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_people.py"


def test_every_variant_runs_with_its_feature(tmp_path):
    spec = importlib.util.spec_from_file_location("_bench_people", BENCH)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    people = {}
    for name in mod.VARIANTS:
        out = tmp_path / name
        run(load_process(mod.write_variant(name, tmp_path)), out, seed=1, cases=150, formats=["csv", "parquet"])
        g, slow_fast, cycle = mod.figures(out)
        assert 0 <= g < 1 and slow_fast >= 1 and cycle > 0
        people[name] = json.loads((out / "manifest.json").read_text()).get("people")
    assert people["plain"] is None and people["resource_rule"] is None
    assert people["speed"]["buyer"]["members"] and len({m["speed"] for m in people["speed"]["buyer"]["members"]
                                                        .values()}) == 4
    assert "absences" in people["absences"]["buyer"]["members"][next(iter(people["absences"]["buyer"]["members"]))]
    assert people["several_roles"]["manager"]["members"].keys() >= {"Petra Lindner"}
    assert people["assignment"]["requester"]["assignment"] == "worklist"
    assert people["calendars"]["manager"]["members"]["Jonas Brandt"]["calendar"] == "part_time"
    assert set(people["all"]) == set(people["absences"])
    assert {m.get("multitask") for m in people["multitask"]["buyer"]["members"].values()} == {2}
    assert people["member_attributes"] is None  # attributes alone change nothing in the run
