"""The padua purchasing example of Prosimos, converted by ``procsim convert`` and run by procsim, against Prosimos's
own simulation of it: activity frequencies (instances per case) and mean cycle time, 10,000 cases each.

    python benchmarks/bench_convert.py                        # 10,000 cases; Prosimos from /work/venvs/simod
    python benchmarks/bench_convert.py --cases 2000 --prosimos-python /path/to/python --json out.json

Prosimos 2.1.0 runs in its own virtual environment (a subprocess of that venv's python): it is never imported by
procsim. Both simulations start at the same moment; a case's cycle time is from its first enabled time (its
arrival) to its last end time, read from each tool's activity-instance log (procsim: ``--format activities``).
Figures are in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
PADUA = ROOT / "tests" / "data" / "prosimos_padua"
START = "2026-01-05T00:00:00+00:00"

PROSIMOS = """
import sys
from prosimos.simulation_engine import run_simulation
run_simulation(sys.argv[1], sys.argv[2], int(sys.argv[3]), stat_out_path=sys.argv[4], log_out_path=sys.argv[5],
               starting_at=sys.argv[6])
"""


def instances(path: Path, enabled: str) -> tuple[pd.Series, float, int]:
    """Instances per case of each activity, the mean cycle time in days, the number of cases."""
    d = pd.read_csv(path)
    for c in (enabled, "end_time"):
        d[c] = pd.to_datetime(d[c], format="ISO8601", utc=True)
    cases = d.groupby("case_id").agg(s=(enabled, "min"), e=("end_time", "max"))
    n = len(cases)
    return d.activity.value_counts() / n, float(((cases.e - cases.s).dt.total_seconds() / 86400).mean()), n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--prosimos-python", default="/work/venvs/simod/bin/python")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    from procsim.convert import convert_to_dir
    from procsim.run import run

    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        t0 = time.perf_counter()
        path, conv = convert_to_dir(PADUA / "process_model.bpmn", t / "imported", PADUA / "simulation_params.json",
                                    start=START)
        t_convert = time.perf_counter() - t0
        t0 = time.perf_counter()
        run(path, t / "sim", seed=a.seed, cases=a.cases, formats=("activities",))
        t_procsim = time.perf_counter() - t0
        t0 = time.perf_counter()
        r = subprocess.run([a.prosimos_python, "-c", PROSIMOS, str(PADUA / "process_model.bpmn"),
                            str(PADUA / "simulation_params.json"), str(a.cases), str(t / "stats.csv"),
                            str(t / "prosimos.csv"), START], capture_output=True, text=True)
        t_prosimos = time.perf_counter() - t0
        if r.returncode != 0:
            sys.exit(f"Prosimos failed:\n{r.stderr[-2000:]}")
        fp, ctp, n_p = instances(t / "prosimos.csv", "enable_time")
        fs, cts, n_s = instances(t / "sim" / "activities.csv", "enabled_time")
    rows = []
    for act in sorted(set(fp.index) | set(fs.index)):
        p, s = float(fp.get(act, 0.0)), float(fs.get(act, 0.0))
        rows.append({"activity": act, "prosimos": p, "procsim": s, "rel": (s / p - 1) if p else float("inf")})
    out = {"cases": {"prosimos": n_p, "procsim": n_s}, "activities": rows,
           "cycle_days": {"prosimos": ctp, "procsim": cts, "rel": cts / ctp - 1},
           "seconds": {"convert": t_convert, "procsim_run": t_procsim, "prosimos_run": t_prosimos},
           "notes": conv.notes}
    print(f"{'activity':40} {'Prosimos':>9} {'procsim':>9} {'diff':>7}")
    for row in rows:
        print(f"{row['activity']:40} {row['prosimos']:9.4f} {row['procsim']:9.4f} {row['rel']:+7.1%}")
    print(f"{'mean cycle time (days)':40} {ctp:9.2f} {cts:9.2f} {cts / ctp - 1:+7.1%}")
    print(f"convert {t_convert:.2f} s; procsim run {t_procsim:.1f} s; Prosimos run {t_prosimos:.1f} s")
    worst = max(abs(r["rel"]) for r in rows + [out["cycle_days"]])
    print(f"largest relative difference {worst:.1%} (target: within 5%)")
    if a.json:
        a.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
