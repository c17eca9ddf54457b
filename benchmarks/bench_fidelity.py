"""The literature's fidelity protocol on real logs: ``procsim fidelity`` on BPIC 2012 and receipt, and Simod's
simulations scored the same way, side by side.

Run by hand: python benchmarks/bench_fidelity.py [--logs bpic2012.xes.gz receipt.xes.gz] [--replications 5]
[--miner auto|tree|states|holdout|dfg] [--no-waits] [--simod DIR] [--json out.json]. Logs are read from ../shared/data/logs. For each log: cases
split by start (80% discover, 20% test), 5 simulations of the test period, each distance as mean +- sd, the log's
own noise floor, and the resource metrics of the realism profile (resource effect eta squared, within-activity
Gini) of the test part and of the simulations; discovery time against the time to read the log (the baseline in
the same run). Prints a Markdown table for benchmarks/README.md.

Simod is not run here (it takes minutes to hours and needs its own venv and Java; benchmarks/README.md says how
it was run on the same split, with the configurations in benchmarks/simod/). ``--simod DIR`` scores the
simulations it wrote, ``DIR/<log>/simulated_log_*.csv`` (``<log>`` = the file name without ``.xes.gz``, Simod's
``best_result/evaluation`` folder), against the same test part with the same distances and profile.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

from procsim.distances import DISTANCES, all_distances
from procsim.eventlog import ColumnMap, read_log
from procsim.fidelity import RESOURCE_METRICS, fidelity_log, split_by_start
from procsim.profile import profile

LOGS = Path(__file__).resolve().parents[2] / "shared" / "data" / "logs"
SIMOD_COLUMNS = ColumnMap(case="case_id", activity="activity", start="start_time", end="end_time",
                          resource="resource")


def _ms(v: list[float]) -> tuple[float, float]:
    v = [x for x in v if math.isfinite(x)]
    if not v:
        return math.nan, math.nan
    return float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else 0.0


def _f(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:.4g}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--logs", nargs="+", default=["bpic2012.xes.gz", "receipt.xes.gz"])
    ap.add_argument("--replications", type=int, default=5)
    ap.add_argument("--miner", default="auto")
    ap.add_argument("--no-waits", action="store_true", help="discover without waits (extraneous delays)")
    ap.add_argument("--simod", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    rows = {}
    for name in args.logs:
        p = LOGS / name
        if not p.is_file():
            print(f"{p}: absent, skipped")
            continue
        t0 = time.perf_counter()
        log = read_log(p)
        read_s = time.perf_counter() - t0
        r = fidelity_log(log, replications=args.replications, seed=0, miner=args.miner, waits=not args.no_waits)
        rows[name] = {"read_s": read_s, **r.as_dict()}
        simod: dict[str, list[float]] = {}
        stem = name.split(".")[0]
        sims = sorted((args.simod / stem).glob("simulated_log_*.csv")) if args.simod else []
        if sims:
            te = split_by_start(log, 0.8)[1]
            for s in sims:
                sl = read_log(s, SIMOD_COLUMNS)
                for k, v in all_distances(te, sl).items():
                    simod.setdefault(k, []).append(v)
                prof = profile(sl)
                for k in RESOURCE_METRICS:
                    simod.setdefault(k, []).append(prof[k])
            rows[name]["simod"] = simod
        print(f"\n{name}: {len(log.df):,} activity instances; read {read_s:.1f} s; discovery "
              f"{r.discover_seconds:.1f} s on {r.train_cases} cases ({r.discover_seconds / read_s:.2f}x the read); "
              f"{r.replications} simulations of {r.test_cases} cases {r.simulate_seconds:.1f} s"
              + (f"; Simod: {len(sims)} simulations" if sims else ""))
        print("\n| distance | procsim mean +- sd | Simod mean +- sd | noise floor |\n|---|---|---|---|")
        for d in DISTANCES:
            sm, ss = _ms(simod.get(d.key, []))
            print(f"| {d.title} | {_f(r.mean(d.key))} +- {r.sd(d.key):.2g} | {_f(sm)} +- {_f(ss)} "
                  f"| {_f(r.floor[d.key])} |")
        print("\n| resource metric | test part | procsim | Simod |\n|---|---|---|---|")
        for k in RESOURCE_METRICS:
            print(f"| {k} | {_f(r.real_profile[k])} | {_f(r.sim_metric(k))} | {_f(_ms(simod.get(k, []))[0])} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
