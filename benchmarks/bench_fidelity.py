"""The literature's fidelity protocol on real logs: ``procsim fidelity`` on BPIC 2012 and receipt.

Run by hand: python benchmarks/bench_fidelity.py [--logs bpic2012.xes.gz receipt.xes.gz] [--replications 5]
[--miner tree|dfg] [--json out.json]. Logs are read from ../shared/data/logs. For each log: cases split by start
(80% discover, 20% test), 5 simulations of the test period, each distance as mean +- sd, and the log's own noise
floor; discovery time against the time to read the log (the baseline in the same run). Prints a Markdown table
for benchmarks/README.md. Simod is not run here (see benchmarks/README.md for why).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from procsim.distances import DISTANCES
from procsim.eventlog import read_log
from procsim.fidelity import fidelity_log

LOGS = Path(__file__).resolve().parents[2] / "shared" / "data" / "logs"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--logs", nargs="+", default=["bpic2012.xes.gz", "receipt.xes.gz"])
    ap.add_argument("--replications", type=int, default=5)
    ap.add_argument("--miner", default="tree")
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
        r = fidelity_log(log, replications=args.replications, seed=0, miner=args.miner)
        rows[name] = {"read_s": read_s, **r.as_dict()}
        print(f"\n{name}: {len(log.df):,} activity instances; read {read_s:.1f} s; discovery "
              f"{r.discover_seconds:.1f} s on {r.train_cases} cases ({r.discover_seconds / read_s:.2f}x the read); "
              f"{r.replications} simulations of {r.test_cases} cases {r.simulate_seconds:.1f} s")
        print("\n| distance | procsim mean +- sd | noise floor |\n|---|---|---|")
        for d in DISTANCES:
            print(f"| {d.title} | {r.mean(d.key):.4g} +- {r.sd(d.key):.2g} | {r.floor[d.key]:.4g} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
