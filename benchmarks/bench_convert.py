"""A purchasing model in Prosimos's format (tests/data/purchasing: BPMN and Prosimos 2 simulation parameters,
written for procsim, see its PROVENANCE.md), converted by ``procsim convert`` and run by procsim, against
Prosimos's own simulation of it: activity frequencies (instances per case), mean cycle time, and the batched
task's batches (mean size, mean time from enabled to start), 10,000 cases each.

    python benchmarks/bench_convert.py --prosimos-python /path/to/venv/bin/python      # 10,000 cases
    python benchmarks/bench_convert.py --cases 2000 --prosimos-python /path/to/python --json out.json
    python benchmarks/bench_convert.py --model DIR --prosimos-python ...   # another model: DIR holds
        process_model.bpmn and simulation_params.json, e.g. the padua example of the Prosimos repository
        (test_assets/padua: not vendored, its repository declares no licence)

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
MODEL = ROOT / "tests" / "data" / "purchasing"
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


BATCHED = "Pay invoice"  # the model's batched task (Sequential, size = 5, duration x 0.6 for five)


def batches(acts: Path, enabled: str, ids: pd.Series) -> dict[str, float]:
    """The batched task's mean batch size (cases per batch id) and its mean wait from enabled to start, hours."""
    d = pd.read_csv(acts)
    d = d[d.activity == BATCHED]
    wait = pd.to_datetime(d.start_time, format="ISO8601", utc=True) - pd.to_datetime(d[enabled], format="ISO8601",
                                                                                     utc=True)
    return {"mean_size": float(ids.value_counts().mean()), "mean_wait_h": float(wait.dt.total_seconds().mean() / 3600)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--prosimos-python", default="/work/venvs/simod/bin/python",
                    help="a python with prosimos 2.1.0 installed (pip install prosimos==2.1.0)")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--model", type=Path, default=MODEL,
                    help="a folder with process_model.bpmn and simulation_params.json (default: tests/data/purchasing)")
    a = ap.parse_args()
    model: Path = a.model
    from procsim.convert import convert_to_dir
    from procsim.run import run

    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        t0 = time.perf_counter()
        path, conv = convert_to_dir(model / "process_model.bpmn", t / "imported", model / "simulation_params.json",
                                    start=START)
        t_convert = time.perf_counter() - t0
        t0 = time.perf_counter()
        run(path, t / "sim", seed=a.seed, cases=a.cases, formats=("activities", "csv"))
        t_procsim = time.perf_counter() - t0
        t0 = time.perf_counter()
        r = subprocess.run([a.prosimos_python, "-c", PROSIMOS, str(model / "process_model.bpmn"),
                            str(model / "simulation_params.json"), str(a.cases), str(t / "stats.csv"),
                            str(t / "prosimos.csv"), START], capture_output=True, text=True)
        t_prosimos = time.perf_counter() - t0
        if r.returncode != 0:
            sys.exit(f"Prosimos failed:\n{r.stderr[-2000:]}")
        fp, ctp, n_p = instances(t / "prosimos.csv", "enable_time")
        fs, cts, n_s = instances(t / "sim" / "activities.csv", "enabled_time")
        plog = pd.read_csv(t / "prosimos.csv")
        ev = pd.read_csv(t / "sim" / "events.csv", keep_default_na=False)
        ev = ev[(ev.activity == BATCHED) & (ev.lifecycle == "start")]
        batched = BATCHED in set(plog.activity) and "batch_id" in plog
        bp = batches(t / "prosimos.csv", "enable_time", plog[plog.activity == BATCHED].batch_id) if batched else {}
        bs = batches(t / "sim" / "activities.csv", "enabled_time", ev.batch) if batched else {}
    rows = []
    for act in sorted(set(fp.index) | set(fs.index)):
        p, s = float(fp.get(act, 0.0)), float(fs.get(act, 0.0))
        rows.append({"activity": act, "prosimos": p, "procsim": s, "rel": (s / p - 1) if p else float("inf")})
    out = {"cases": {"prosimos": n_p, "procsim": n_s}, "activities": rows,
           "cycle_days": {"prosimos": ctp, "procsim": cts, "rel": cts / ctp - 1},
           "batches": {k: {"prosimos": bp[k], "procsim": bs[k], "rel": bs[k] / bp[k] - 1} for k in bp},
           "seconds": {"convert": t_convert, "procsim_run": t_procsim, "prosimos_run": t_prosimos},
           "notes": conv.notes}
    print(f"{'activity':40} {'Prosimos':>9} {'procsim':>9} {'diff':>7}")
    for row in rows:
        print(f"{row['activity']:40} {row['prosimos']:9.4f} {row['procsim']:9.4f} {row['rel']:+7.1%}")
    print(f"{'mean cycle time (days)':40} {ctp:9.2f} {cts:9.2f} {cts / ctp - 1:+7.1%}")
    for k, v in out["batches"].items():
        print(f"{BATCHED + ': ' + k:40} {v['prosimos']:9.2f} {v['procsim']:9.2f} {v['rel']:+7.1%}")
    print(f"convert {t_convert:.2f} s; procsim run {t_procsim:.1f} s; Prosimos run {t_prosimos:.1f} s")
    worst = max(abs(r["rel"]) for r in rows + [out["cycle_days"]])
    print(f"largest relative difference of the activity frequencies and the mean cycle time {worst:.1%} (target, "
          "issue #13: within 5%)")
    if out["batches"]:
        print(f"the batched task's figures differ by at most "
              f"{max(abs(v['rel']) for v in out['batches'].values()):.1%} (no target)")
    if a.json:
        a.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
