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
