"""benchmarks/bench_realistic.py's leave-one-out variants of the realistic procure_to_pay load, run, and really
lack the feature they leave out."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pandas as pd
import pytest

from procsim.run import run

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


def _bench():
    spec = importlib.util.spec_from_file_location("_bench_realistic", BENCH / "bench_realistic.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from procsim.init import init_project

    proj = tmp_path_factory.mktemp("proj")
    init_project("p2p", proj / "p")
    return _bench().write_variants(_bench().VARIANTS, proj / "p")


@pytest.mark.parametrize("name", ["full", "-people", "-arrivals", "-batch", "-drift", "-recording", "-labels",
                                  "-line_items", "-master_data"])
def test_variant_runs_without_its_feature(name: str, variants: dict[str, Path], tmp_path: Path) -> None:
    result = run(variants[name], tmp_path / "out", seed=2, cases=150)
    assert result.cases == 150
    e = pd.read_csv(tmp_path / "out" / "events.csv")
    assert ("batch" in e.columns) == (name != "-batch")
    assert ("drift" in result.manifest) == (name != "-drift")
    assert (tmp_path / "out" / "field_labels.csv").exists() == (name != "-labels")  # data-quality faults
    if name == "-labels":  # what is left are the rules' own business exceptions
        assert set(pd.read_csv(tmp_path / "out" / "exceptions.csv").type) <= {"rule"}
    c = pd.read_csv(tmp_path / "out" / "cases.csv")
    # amounts come from the lines, and the lines' materials from the master data: either left out, no amounts
    assert (c.amount > 0).all() == (name not in ("-line_items", "-master_data"))
    assert (c.supplier_id.fillna("") == "").all() == (name == "-master_data")
    # seconds when recorded whole (the example's recording: section); milliseconds as simulated without it
    ms = pd.to_datetime(e.timestamp, utc=True, format="ISO8601").dt.microsecond
    assert (ms == 0).all() == (name != "-recording")
