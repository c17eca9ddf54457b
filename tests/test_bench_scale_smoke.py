"""Smoke test for benchmarks/bench_scale.py: its child runs a tiny sharded run and reports well-formed figures.
No timing assertions (speed-ups live in benchmarks/README.md)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bench_scale_child(tmp_path):
    spec = importlib.util.spec_from_file_location("_bench_scale", ROOT / "benchmarks" / "bench_scale.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    r = mod.child("w1", 64, 4, str(tmp_path / "out"))
    assert r["cases"] == 64 and r["events"] > 64 * 4
    assert r["merge_s"] >= 0 and r["peak_rss_mb"] > 0 and len(r["sha256"]) == 64
    one = mod.child("shard", 16, 1, str(tmp_path / "one"))
    assert one["cases"] == 16 and one["merge_s"] is None


def test_bench_scale_cpu_figures(tmp_path):
    spec = importlib.util.spec_from_file_location("_bench_scale2", ROOT / "benchmarks" / "bench_scale.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    r = mod.child("w1", 32, 2, str(tmp_path / "out"))
    # in one process: no worker of its own, the critical path is the process's CPU time
    assert r["worker_cpu_s"] == [] and r["cpu_path_s"] == r["cpu_s"] > 0
    fake = {"shards": [{"cost": {"worker": 11, "cpu_s": 2.0, "load_s": 0.5}},
                       {"cost": {"worker": 12, "cpu_s": 1.0, "load_s": 0.4}},
                       {"cost": {"worker": 11, "cpu_s": 3.0, "load_s": 0.0}}]}
    f = mod.cpu_figures(fake, 0.0)
    assert f["worker_cpu_s"] == [5.0, 1.0] and f["worker_load_s"] == [0.5, 0.4]
    assert f["cpu_path_s"] == round(f["cpu_s"] + 5.0, 2)
