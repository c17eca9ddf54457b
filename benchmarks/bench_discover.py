"""Discovery at scale: ``procsim discover`` on a synthetic log of 100+ activities and 1 million events.

Run by hand: python benchmarks/bench_discover.py [--events 1000000] [--activities 120] [--json out.json].
The log is a random Markov walk over the activities (a few likely successors each, loops included) with 400
resources in groups, start and end times; it is written to Parquet, then a fresh child process reads it and runs
``discover`` (reading timed apart), reporting wall time and peak RSS. The baseline, measured in the same run, is
a child that only reads the same Parquet file into pandas and sorts it by case and time: the ratio says how many
such passes discovery costs. Targets (issue #13): under 120 s and 4 GB for 1M events. Prints PASS or MISS;
always exits 0.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def synthetic_log(events: int, activities: int, seed: int = 1) -> pd.DataFrame:
    """A log of about ``events`` activity instances over ``activities`` activities."""
    rng = np.random.default_rng(seed)
    succ = np.stack([rng.choice(activities, 4, replace=False) for _ in range(activities)])
    p_end = 0.05
    mean_len = 1 / p_end
    n_cases = int(events / mean_len)
    rows_case, rows_act = [], []
    cur = rng.integers(0, activities // 4, n_cases)
    alive = np.ones(n_cases, dtype=bool)
    step = 0
    while alive.any() and len(rows_case) * 1 < events * 3:
        ids = np.flatnonzero(alive)
        rows_case.append(ids)
        rows_act.append(cur[ids])
        # mostly forward: the successors are biased to higher activity numbers by the sort below
        pick = rng.choice(4, len(ids), p=[0.55, 0.25, 0.15, 0.05])
        cur[ids] = np.sort(succ[cur[ids]], axis=1)[np.arange(len(ids)), pick]
        end = rng.random(len(ids)) < p_end
        alive[ids[end]] = False
        step += 1
    case = np.concatenate(rows_case)
    act = np.concatenate(rows_act)
    order = np.argsort(case, kind="stable")
    case, act = case[order], act[order]
    n = len(case)
    arrival = np.sort(rng.uniform(0, 365 * 86400, n_cases))
    gaps = rng.exponential(3600.0, n)
    first = np.ones(n, dtype=bool)
    first[1:] = case[1:] != case[:-1]
    csum = np.cumsum(gaps)
    base = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    end = arrival[case] + csum - csum[base] + gaps[base]
    dur = rng.lognormal(6.0, 1.0, n)
    t0 = np.datetime64("2025-01-06T00:00:00", "s")
    group = act % 20
    res = group * 20 + rng.integers(0, 20, n)
    return pd.DataFrame({
        "case_id": case.astype(str),
        "activity": np.char.add("activity ", act.astype(str)),
        "start_time": pd.to_datetime(t0 + (end - dur).astype("int64"), utc=True),
        "end_time": pd.to_datetime(t0 + end.astype("int64"), utc=True),
        "resource": np.char.add("r", res.astype(str)),
    })


def child(path: str, mode: str) -> None:
    t0 = time.perf_counter()
    if mode == "baseline":
        df = pd.read_parquet(path)
        df.sort_values(["case_id", "start_time", "end_time"], kind="stable")
        read_s, work_s = time.perf_counter() - t0, 0.0
        extra: dict[str, object] = {}
    else:
        from procsim.discover import discover
        from procsim.eventlog import read_log

        log = read_log(path)
        read_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        d = discover(log, miner="auto")  # the command's default: the support pass, then states or tree
        work_s = time.perf_counter() - t1
        extra = {"activities": d.activities, "roles": len(d.roles), "arcs": d.arcs, "yaml_lines": d.yaml.count("\n"),
                 "miner": "states" if "the log's transition system" in d.yaml[:3000] else "tree"}
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"read_s": read_s, "work_s": work_s, "peak_mb": rss_mb, **extra}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--activities", type=int, default=120)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "log.parquet"
        # generated in a child too: Linux keeps a process's peak RSS across fork and exec, so a parent that once
        # held the log would hand its peak to every child it measures
        out = subprocess.run([sys.executable, __file__, "--gen", str(path), str(args.events), str(args.activities)],
                             capture_output=True, text=True, check=True)
        n_ev, n_act, n_cases = json.loads(out.stdout.strip().splitlines()[-1])
        res = {}
        for mode in ("baseline", "discover"):
            out = subprocess.run([sys.executable, __file__, "--child", str(path), mode], capture_output=True,
                                 text=True, check=True)
            res[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    b, d = res["baseline"], res["discover"]
    total = d["read_s"] + d["work_s"]
    print(f"synthetic log: {n_ev:,} events, {n_act} activities, {n_cases:,} cases")
    print(f"baseline (read Parquet + sort): {b['read_s']:.2f} s, peak {b['peak_mb']:.0f} MB")
    print(f"procsim: read_log {d['read_s']:.2f} s + discover {d['work_s']:.2f} s = {total:.2f} s, "
          f"peak {d['peak_mb']:.0f} MB ({d['activities']} activities, {d['roles']} roles, {d['arcs']} arcs, "
          f"miner {d['miner']})")
    print(f"ratio to baseline: time {total / b['read_s']:.1f}x, memory {d['peak_mb'] / b['peak_mb']:.1f}x")
    print(f"target < 120 s: {'PASS' if total < 120 else 'MISS'}; target < 4096 MB: "
          f"{'PASS' if d['peak_mb'] < 4096 else 'MISS'}")
    if args.json:
        args.json.write_text(json.dumps({"events": n_ev, "activities": n_act, "cases": n_cases, **res}, indent=2))


def gen(path: str, events: int, activities: int) -> None:
    df = synthetic_log(events, activities)
    df.to_parquet(path)
    print(json.dumps([len(df), int(df["activity"].nunique()), int(df["case_id"].nunique())]))


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--gen":
        gen(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
    else:
        main()
