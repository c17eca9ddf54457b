"""What the time features cost: bench_core.py on procure_to_pay with each of them switched on (run by hand).

    python benchmarks/bench_time.py                 # CPU time per variant, 5k cases, best of 3, interleaved (~3 min)
    python benchmarks/bench_time.py --core          # bench_core --quick per variant: the speed ratio (~6 min)

Variants (each a copy of processes/procure_to_pay.yaml with one section added, written next to this file so the
process's relative paths still resolve, and removed afterwards):

- ``plain``: the example as it is;
- ``arrivals``: month factors, trend, month/quarter-end peaks, holiday dip, a burst, day-to-day noise;
- ``drift``: a sudden duration change, a gradual routing change, a recurring arrival and staffing change;
- ``recording``: minute granularity, exponential completion delays, an end-of-day batch for one activity;
- ``mixture``: one activity's duration as a mixture with a quantile-table component;
- ``all``: everything above at once.

By default it prints each variant's CPU time (all threads: the writer's too) for ``--cases`` cases writing CSV and
Parquet, best of ``--rounds``, the variants interleaved so the load of a shared machine falls on all alike, and
the cost against ``plain``. CPU time rather than wall time: other processes on the machine do not add to it.
With ``--core`` it prints bench_core's speed ratio (procsim / bare-SimPy baseline, activity instances per
second; the target is >= 0.5) at 10k cases for each variant. The extraction
window is not a variant: it sets the run's length from its dates, which bench_core's fixed case counts exclude;
it costs less than recording (it is the same step, plus a comparison per event).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

HERE = Path(__file__).resolve().parent
# the example as it was before issue #12 made it realistic: each variant adds one feature to a plain base
SOURCE = HERE / "procure_to_pay_plain.yaml"

ARRIVALS: dict[str, Any] = {
    "month": {"jan": 0.9, "jul": 0.7, "aug": 0.6, "dec": 1.2}, "trend": 0.1,
    "month_end": {"days": 2, "factor": 1.4}, "quarter_end": {"days": 3, "factor": 1.8},
    "holidays": {"factor": 0.2}, "bursts": [{"name": "spring", "start": "2026-04-13", "end": "2026-04-24",
                                             "factor": 1.5}], "noise": 0.25}
DRIFT: list[dict[str, Any]] = [
    {"name": "new_erp", "type": "sudden", "start": "2026-03-02",
     "changes": [{"activity": "record_invoice", "scale": 0.6}]},
    {"name": "stricter_approval", "type": "gradual", "start": "2026-02-02", "end": "2026-04-27",
     "changes": [{"gateway": "approval_decision",
                  "probabilities": {"create_purchase_order": 0.8, "notify_rejection": 0.2}}]},
    {"name": "closing_weeks", "type": "recurring", "start": "2026-01-26", "period": "4w", "active": "1w",
     "end": "2027-12-27", "changes": [{"arrivals": 1.3}, {"role": "accounts_payable", "members": 3}]},
]
RECORDING: dict[str, Any] = {"granularity": "1m", "delay": {"kind": "exponential", "mean": "15m"},
                             "activities": {"execute_payment": {"batch": ["18:00"]}}}
MIXTURE: dict[str, Any] = {"kind": "mixture", "components": [
    {"weight": 0.85, "distribution": {"kind": "lognormal", "mean": "20m", "sd": "10m"}},
    {"weight": 0.15, "distribution": {"kind": "quantiles", "probabilities": [0, 0.5, 0.9, 1],
                                      "values": ["1h", "3h", "1d", "3d"]}}]}


def variant(name: str) -> dict[str, Any]:
    yaml = YAML()
    doc = yaml.load(SOURCE.read_text(encoding="utf-8"))
    if name in ("arrivals", "all"):
        doc["arrivals"].update(ARRIVALS)
    if name in ("drift", "all"):
        doc["drift"] = DRIFT
    if name in ("recording", "all"):
        doc["recording"] = RECORDING
    if name in ("mixture", "all"):
        doc["activities"]["match_invoice"]["duration"] = MIXTURE
    return doc


def cpu_costs(names: list[str], cases: int, rounds: int) -> list[tuple[str, float, int]]:
    """CPU seconds (all threads) of ``procsim.run.run`` per variant, best of ``rounds``, variants interleaved so
    load on a shared machine hits them alike."""
    from procsim.run import run
    from procsim.spec import load_process

    from procsim.init import init_project

    yaml = YAML()
    loaded = {}
    with tempfile.TemporaryDirectory() as proj:
        # a project laid out like this repository: a process reads only files inside its project
        init_project("p2p", Path(proj))
        for name in names:
            path = Path(proj) / "processes" / f"bench_time_{name}.yaml"
            with path.open("w", encoding="utf-8") as f:
                yaml.dump(variant(name), f)
            loaded[name] = load_process(path)
    best: dict[str, float] = {}
    events: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:  # warm-up: imports and lookup tables outside the timed runs
            run(loaded[name], Path(tmp) / name, seed=1, cases=50, formats=["csv", "parquet"])
        for _ in range(rounds):
            for name in names:
                t0 = time.process_time()
                r = run(loaded[name], Path(tmp) / name, seed=1, cases=cases, formats=["csv", "parquet"])
                best[name] = min(best.get(name, float("inf")), time.process_time() - t0)
                events[name] = r.events
    return [(n, best[n], events[n]) for n in names]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, default=5000, help="cases per run (CPU-time mode)")
    ap.add_argument("--rounds", type=int, default=3, help="runs per variant, best kept (CPU-time mode)")
    ap.add_argument("--core", action="store_true", help="run bench_core --quick per variant instead (speed ratio)")
    ap.add_argument("--variants", nargs="+", default=["plain", "arrivals", "drift", "recording", "mixture", "all"])
    args = ap.parse_args()
    if not args.core:
        rows = cpu_costs(args.variants, args.cases, args.rounds)
        base = rows[0][1]
        print(f"{'variant':<10} {'cases':>6} {'events':>8} {'CPU s':>7} {'us/event':>9} {'vs plain':>9}")
        for name, cpu, ev in rows:
            print(f"{name:<10} {args.cases:>6} {ev:>8} {cpu:>7.2f} {1e6 * cpu / ev:>9.2f} {cpu / base:>8.2f}x")
        return
    from procsim.init import init_project

    yaml = YAML()
    rows2 = []
    for name in args.variants:
        with tempfile.TemporaryDirectory() as tmp:
            init_project("p2p", Path(tmp))  # a project: a process reads only files inside its project
            path = Path(tmp) / "processes" / f"bench_time_{name}.yaml"
            with path.open("w", encoding="utf-8") as f:
                yaml.dump(variant(name), f)
            out = Path(tmp) / "rows.json"
            subprocess.run([sys.executable, str(HERE / "bench_core.py"), "--quick", "--process", str(path),
                            "--json", str(out)], check=True, capture_output=True, text=True)
            got = json.loads(out.read_text())
        rows2.append((name, got[-1]))
    print(f"{'variant':<10} {'cases':>7} {'procsim act/s':>14} {'ratio':>6}")
    for name, r in rows2:
        print(f"{name:<10} {r['cases']:>7} {r['procsim_ai_per_s']:>14,.0f} {r['ratio']:>6.2f}")


if __name__ == "__main__":
    main()
