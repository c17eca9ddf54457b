"""benchmarks/bench_time.py's variants of procure_to_pay load and run (every time feature on the real example)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pandas as pd
import pytest
from ruamel.yaml import YAML

from procsim.run import run

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


def _bench_time():
    spec = importlib.util.spec_from_file_location("_bench_time", BENCH / "bench_time.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("name", ["arrivals", "drift", "recording", "mixture", "all"])
def test_variant_runs(name: str, tmp_path: Path) -> None:
    from procsim.init import init_project

    mod = _bench_time()
    init_project("p2p", tmp_path / "proj")  # a project: a process reads only files inside its project
    path = tmp_path / "proj" / "processes" / f"bench_time_{name}.yaml"
    with path.open("w", encoding="utf-8") as f:
        YAML().dump(mod.variant(name), f)
    result = run(path, tmp_path / "out", seed=2, cases=300)
    assert result.cases == 300
    e = pd.read_csv(tmp_path / "out" / "events.csv")
    assert pd.to_datetime(e.timestamp, utc=True).is_monotonic_increasing
    assert ("drift" in result.manifest) == (name in ("drift", "all"))
    assert ("recording" in result.manifest) == (name in ("recording", "all"))
    if name in ("recording", "all"):
        assert (pd.to_datetime(e.timestamp, utc=True).dt.second == 0).all()
