"""What the time features cost: bench_core.py on procure_to_pay with each of them switched on (run by hand).

    python benchmarks/bench_time.py             # 2k and 10k cases per variant (bench_core --quick), ~4 min
    python benchmarks/bench_time.py --cases 5000

Variants (each a copy of processes/procure_to_pay.yaml with one section added, written next to this file so the
process's relative paths still resolve, and removed afterwards):

- ``plain``: the example as it is;
- ``arrivals``: month factors, trend, month/quarter-end peaks, holiday dip, a burst, day-to-day noise;
- ``drift``: a sudden duration change, a gradual routing change, a recurring arrival and staffing change;
- ``recording``: minute granularity, exponential completion delays, an end-of-day batch for one activity;
- ``mixture``: one activity's duration as a mixture with a quantile-table component;
- ``all``: everything above at once.

For each it prints bench_core's speed ratio (procsim / bare-SimPy baseline, activity instances per second; the
target is >= 0.5) at the largest size, and the cost against ``plain`` in the same invocation. The extraction
window is not a variant: it sets the run's length from its dates, which bench_core's fixed case counts exclude;
it costs less than recording (it is the same step, plus a comparison per event).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent / "processes" / "procure_to_pay.yaml"

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, nargs="+", default=None, help="sizes (default: bench_core --quick)")
    ap.add_argument("--variants", nargs="+", default=["plain", "arrivals", "drift", "recording", "mixture", "all"])
    args = ap.parse_args()
    yaml = YAML()
    rows = []
    for name in args.variants:
        path = HERE / f".bench_time_{name}.yaml"
        with path.open("w", encoding="utf-8") as f:
            yaml.dump(variant(name), f)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "rows.json"
                sizes = ["--cases", *map(str, args.cases)] if args.cases else ["--quick"]
                subprocess.run([sys.executable, str(HERE / "bench_core.py"), *sizes, "--process", str(path),
                                "--json", str(out)], check=True, capture_output=True, text=True)
                got = json.loads(out.read_text())
        finally:
            path.unlink(missing_ok=True)
        last = got[-1]
        rows.append((name, last))
    base = rows[0][1]
    print(f"{'variant':<10} {'cases':>7} {'procsim act/s':>14} {'ratio':>6} {'vs plain':>9}")
    for name, r in rows:
        rel = r["procsim_ai_per_s"] / base["procsim_ai_per_s"]
        print(f"{name:<10} {r['cases']:>7} {r['procsim_ai_per_s']:>14,.0f} {r['ratio']:>6.2f} {rel:>8.2f}x")


if __name__ == "__main__":
    main()
