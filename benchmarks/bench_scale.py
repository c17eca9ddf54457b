"""Sharded runs (issue #14): speed-up of 2 workers over 1, peak memory per worker, a large run end to end
(run by hand, not a test).

    python benchmarks/bench_scale.py                 # 16 replications x 25,000 cases; memory 100k vs 1M cases
    python benchmarks/bench_scale.py --quick         # 16 x 1,000 cases; memory 5k vs 50k cases
    python benchmarks/bench_scale.py --events 10000000 --only big   # the end-to-end run (~10+ min)
    python benchmarks/bench_scale.py --json out.json

Every measurement runs in a fresh child process (``python bench_scale.py --child ...``), so a child's
``ru_maxrss`` is its own peak and imports are paid the same way in each:

- **speed-up**: the same run (procure_to_pay, CSV + Parquet, ``--replications 16``) with ``--workers 1`` (in
  process), ``--workers 2`` (the process pool) and ``--dask local:2`` (a LocalCluster of two one-thread worker
  processes); wall time from the child's start to the manifest, ratios against ``--workers 1`` of the same session.
  The outputs are checked to be byte-identical across the three. CPU seconds are reported besides (the child's
  own, each worker's from the manifest's per-shard ``cost``), and the **CPU speed-up**: the one-process run's CPU
  time over the critical path (busiest worker + the client's own CPU), what an idle machine's wall times would
  show, minus the workers' start outside their shards.
- **memory per worker**: one shard's run of N cases in a child (a worker runs its shards one after another, so its
  peak is one shard's); the ratio of the peak RSS at the large N to the small N.
- **end to end**: a run of about ``--events`` events (procure_to_pay writes ~25 events per case) on the pool
  with the default number of workers; wall time, events/s, and the peak RSS of a one-shard child of the same size
  per worker as the per-worker memory.

Targets (from the issue): speed-up >= 1.8x with the pool and >= 1.6x on dask with 2 workers, on 2 cores; peak memory
per worker <= 1.2x from 100k to 1M cases. The script prints PASS/MISS and the machine's load average (other jobs on
the machine change the speed-ups: measure on an idle one), and always exits 0.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# the process measured: procure_to_pay unless --process (passed to the children in PROCSIM_BENCH_PROCESS)
P2P = Path(os.environ.get("PROCSIM_BENCH_PROCESS") or HERE.parent / "processes" / "procure_to_pay.yaml")
POOL_TARGET, DASK_TARGET, MEMORY_TARGET = 1.8, 1.6, 1.2
EVENTS_PER_CASE = 25  # procure_to_pay, about (used only to size the end-to-end run)
FORMATS = ["csv", "parquet"]


def child(mode: str, cases: int, replications: int, out: str) -> dict[str, Any]:
    """One measurement in this process. ``mode``: 'w1', 'w2', 'dask2', 'pool' (default workers) or 'shard'."""
    t0, cpu0 = time.perf_counter(), time.process_time()
    from procsim.run import run

    kw: dict[str, Any] = {"w1": {"workers": 1}, "w2": {"workers": 2}, "dask2": {"dask": "local:2"},
                          "pool": {}, "shard": {}}[mode]
    r = run(P2P, out, seed=1, cases=cases, formats=FORMATS, replications=replications if mode != "shard" else 1,
            **kw)
    wall = time.perf_counter() - t0
    peak = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)  # before the check below
    digest = hashlib.sha256()
    for name in ("events.csv", "events.parquet", "cases.csv"):
        with (Path(out) / name).open("rb") as f:  # in chunks: reading a 2 GB file whole would be the peak RSS
            for chunk in iter(lambda: f.read(1 << 22), b""):
                digest.update(chunk)
    return {"mode": mode, "cases": r.cases, "events": r.events, "wall_s": round(wall, 2),
            "merge_s": r.manifest.get("merge_s"),
            "peak_rss_mb": peak, "sha256": digest.hexdigest(), **cpu_figures(r.manifest, cpu0)}


def cpu_figures(manifest: dict[str, Any], cpu0: float) -> dict[str, Any]:
    """CPU seconds, which the load of other jobs changes much less than wall time: the child's own (``cpu_s``:
    everything with --workers 1; the pool, progress and merge with workers), each worker's (its shards' CPU,
    ``worker_cpu_s``, and the part spent reloading the process, ``worker_load_s``) and the critical path an idle
    machine would see (``cpu_path_s``: the busiest worker plus the child's own)."""
    own = round(time.process_time() - cpu0, 2)
    workers: dict[int, float] = {}
    loads: dict[int, float] = {}
    for s in manifest.get("shards", []):
        c = s.get("cost")
        if c is None or c["worker"] == os.getpid():
            continue  # run in this process: already in its own CPU time
        workers[c["worker"]] = workers.get(c["worker"], 0.0) + c["cpu_s"]
        loads[c["worker"]] = loads.get(c["worker"], 0.0) + c["load_s"]
    return {"cpu_s": own, "worker_cpu_s": [round(v, 2) for v in workers.values()],
            "worker_load_s": [round(v, 2) for v in loads.values()],
            "cpu_path_s": round(own + max(workers.values(), default=0.0), 2)}


def _spawn(mode: str, cases: int, replications: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="procsim-bench-scale-") as tmp:
        p = subprocess.run([sys.executable, __file__, "--child", mode, str(cases), str(replications),
                            str(Path(tmp) / "out")], capture_output=True, text=True, check=True)
        return json.loads(p.stdout.strip().splitlines()[-1])


def _load() -> str:
    return "load average %.2f %.2f %.2f on %d cores" % (*os.getloadavg(), os.cpu_count() or 0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", choices=["speed", "memory", "big"], action="append")
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--per", type=int, help="cases per replication of the speed-up runs (default 25,000; quick 1,000)")
    ap.add_argument("--json")
    ap.add_argument("--process", help="another process file (e.g. procure_to_pay without its +12%%/year arrival "
                    "trend, whose backlog grows over decades of simulated time: benchmarks/README.md)")
    ap.add_argument("--child", nargs=4)
    a = ap.parse_args()
    if a.child:
        mode, cases, reps, out = a.child
        print(json.dumps(child(mode, int(cases), int(reps), out)))
        return
    if a.process:
        os.environ["PROCSIM_BENCH_PROCESS"] = str(Path(a.process).resolve())
    only = set(a.only or (["speed", "memory"] if a.quick else ["speed", "memory", "big"]))
    rows: list[dict[str, Any]] = []
    print(_load())
    if "speed" in only:
        reps, per = 16, a.per or (1_000 if a.quick else 25_000)
        base = _spawn("w1", reps * per, reps)
        rows.append(base)
        print(f"16 replications x {per:,} cases, {base['events']:,} events: --workers 1 {base['wall_s']} s "
              f"(merge {base['merge_s']} s, CPU {base['cpu_s']} s)")
        for mode, target in (("w2", POOL_TARGET), ("dask2", DASK_TARGET)):
            r = _spawn(mode, reps * per, reps)
            r["speedup"] = round(base["wall_s"] / r["wall_s"], 2)
            rows.append(r)
            same = "same bytes" if r["sha256"] == base["sha256"] else "BYTES DIFFER"
            # on an idle machine the wall time is about the critical path of CPU time: the busiest worker plus the
            # client; its ratio to the one-process CPU time is the speed-up the load here hides (workers' start
            # outside their shards, forking and importing, is not in it: see worker_load_s for the reload)
            r["cpu_speedup"] = round(base["cpu_s"] / r["cpu_path_s"], 2) if r["cpu_path_s"] else None
            print(f"  {mode}: {r['wall_s']} s (merge {r['merge_s']} s), speed-up {r['speedup']}x (target {target}x: "
                  f"{'PASS' if r['speedup'] >= target else 'MISS'}), {same}; CPU: client {r['cpu_s']} s, workers "
                  f"{r['worker_cpu_s']} s (reload {r['worker_load_s']} s), critical path {r['cpu_path_s']} s -> "
                  f"CPU speed-up {r['cpu_speedup']}x; {_load()}")
    if "memory" in only:
        small, large = (5_000, 50_000) if a.quick else (100_000, 1_000_000)
        m = [_spawn("shard", n, 1) for n in (small, large)]
        ratio = round(m[1]["peak_rss_mb"] / m[0]["peak_rss_mb"], 2)
        rows += m
        print(f"peak RSS of a worker's shard: {small:,} cases {m[0]['peak_rss_mb']} MB, {large:,} cases "
              f"{m[1]['peak_rss_mb']} MB: {ratio}x (target {MEMORY_TARGET}x: "
              f"{'PASS' if ratio <= MEMORY_TARGET else 'MISS'})")
    if "big" in only:
        workers = os.cpu_count() or 1
        cases = a.events // EVENTS_PER_CASE
        reps = max(workers * 4, 16)
        r = _spawn("pool", cases, reps)
        per_worker = _spawn("shard", cases // reps, 1)
        r["per_worker_peak_rss_mb"] = per_worker["peak_rss_mb"]
        rows.append(r)
        print(f"end to end: {r['events']:,} events ({r['cases']:,} cases, {reps} replications, {workers} workers) in "
              f"{r['wall_s']} s (merge {r['merge_s']} s) = {r['events'] / r['wall_s']:,.0f} events/s; peak RSS per "
              "worker "
              f"{per_worker['peak_rss_mb']} MB; {_load()}")
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
