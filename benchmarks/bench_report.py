"""The HTML report of a big run: seconds and bytes (run by hand, not a test).

    python benchmarks/bench_report.py                       # a ~1,000,000-event run of procure_to_pay (48,000 cases)
    python benchmarks/bench_report.py --run-dir /tmp/big    # reuse (or create once) that run folder
    python benchmarks/bench_report.py --cases 2000          # quick

Times ``procsim.report.write_report(RUN_DIR)`` (reading the log, the extras, aggregating, drawing, writing) and,
as the baseline measured in the same process, ``pandas.read_csv`` of the same ``events.csv`` (all columns, as
strings): the ratio says how many plain reads of the log the whole report costs, which travels between machines
better than seconds. The simulation that makes the run is not timed.
Targets (issue #18): a 1,000,000-event run's report in under 20 s and a file under 10 MB. Prints PASS/MISS and
always exits 0.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
TARGET_S = 20.0
TARGET_MB = 10.0


def measure(run_dir: Path) -> dict[str, float]:
    """Seconds for the report (best of one: the page is written once) and for the baseline read, and the size."""
    from procsim.report import write_report

    events = int(json.loads((run_dir / "manifest.json").read_text())["counts"]["events"])
    t0 = time.perf_counter()
    pd.read_csv(run_dir / "events.csv", dtype=str, keep_default_na=False)
    base = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = write_report(run_dir)
    took = time.perf_counter() - t0
    return {"events": events, "report_s": took, "baseline_read_s": base, "ratio": took / base,
            "mb": out.stat().st_size / 1e6}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, default=48_000, help="cases of procure_to_pay (48,000 ~ 1.01M events)")
    ap.add_argument("--run-dir", type=Path, default=None, help="run folder to reuse or create")
    a = ap.parse_args()
    from procsim.run import run

    run_dir = a.run_dir or Path(tempfile.mkdtemp(prefix="procsim-bench-report-"))
    if not (run_dir / "manifest.json").is_file():
        run(HERE.parent / "processes" / "procure_to_pay.yaml", run_dir, seed=7, cases=a.cases)
    r = measure(run_dir)
    print(f"{r['events']:,} events: report {r['report_s']:.1f} s ({r['ratio']:.1f}x a plain read_csv of the log, "
          f"{r['baseline_read_s']:.1f} s), {r['mb']:.2f} MB")
    print(f"time < {TARGET_S:g} s: {'PASS' if r['report_s'] < TARGET_S else 'MISS'}; "
          f"size < {TARGET_MB:g} MB: {'PASS' if r['mb'] < TARGET_MB else 'MISS'}")


if __name__ == "__main__":
    main()
