"""Speed and memory of the core simulation, as ratios against a bare-SimPy baseline (run by hand, not a test).

    python benchmarks/bench_core.py                      # 10k and 100k cases of processes/procure_to_pay.yaml
    python benchmarks/bench_core.py --quick              # 2k and 10k
    python benchmarks/bench_core.py --cases 5000 --process processes/other.yaml
    python benchmarks/bench_core.py --repeat 3 --json out.json   # best of 3 per size; rows as JSON too
    python benchmarks/bench_core.py --quick --process benchmarks/procure_to_pay_plain.yaml --root .
                                                         # a process that reads rule files from a wider project

Each size runs in fresh child processes, so a child's ``ru_maxrss`` is the peak of that run alone:

- child ``both``: the baseline (``baseline.run_baseline``) and then ``procsim.run.run`` (CSV + Parquet), each timed
  with ``time.perf_counter`` in the same process; the speed ratio comes from this child. Both start from the same
  loaded process (reading and validating the YAML is timed apart, ``load s``: the baseline has no YAML to read),
  and both are timed after a 50-case warm-up run of their own, so one-off costs of the first run in a process
  (pyarrow importing pandas, lookup tables built on first use: ~0.2 s) are not spread over the cases;
- child ``procsim``: procsim alone, for its own peak RSS (the 100k/10k RSS ratio).

Targets (from the issue): procsim >= 0.5x the baseline's activity instances per second, and peak RSS at the
largest size <= 1.5x that at the smallest. The script prints PASS/MISS and always exits 0: it reports, it does
not gate. Wall-clock numbers never go into the test suite.
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
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_PROCESS = HERE.parent / "processes" / "procure_to_pay.yaml"
SPEED_TARGET = 0.5  # procsim / baseline, activity instances per second
RSS_TARGET = 1.5  # peak RSS at the largest size / at the smallest
SEED = 1
WARM_UP = 50  # cases of the warm-up run before the timed ones (child "both")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def child(process: str | Path, cases: int, mode: str, root: str | Path | None = None) -> dict[str, Any]:
    """One measurement in this process: ``mode`` is ``both`` (baseline, then procsim) or ``procsim``.

    ``root`` is the project folder the process may read rule files and templates from (``procsim run --root``)."""
    from procsim.run import run
    from procsim.spec import load_process

    out: dict[str, Any] = {"cases": cases, "mode": mode}
    if mode == "both":
        sys.path.insert(0, str(HERE))
        from baseline import run_baseline

        t0 = time.perf_counter()
        loaded = load_process(process, root)
        out["load_s"] = time.perf_counter() - t0
        run_baseline(loaded, WARM_UP, seed=SEED)
        with tempfile.TemporaryDirectory(prefix="procsim-bench-") as tmp:
            run(loaded, tmp, seed=SEED, cases=WARM_UP, formats=["csv", "parquet"])
        t0 = time.perf_counter()
        b = run_baseline(loaded, cases, seed=SEED)
        out["baseline_s"] = time.perf_counter() - t0
        out["baseline_activity_instances"] = b.activity_instances
        out["baseline_counts"] = b.counts
        out["baseline_rule_only"] = list(b.rule_only)
        labels = {(a.name or aid): aid for aid, a in loaded.spec.activities.items()}
    with tempfile.TemporaryDirectory(prefix="procsim-bench-") as tmp:
        t0 = time.perf_counter()
        r = run(loaded if mode == "both" else process, tmp, seed=SEED, cases=cases, formats=["csv", "parquet"],
                root=root)
        out["procsim_s"] = time.perf_counter() - t0
        # taken before the log is read back below, so the peak is the run's own
        out["peak_rss_mb"] = _peak_rss_mb()
        out["events"] = r.events
        out["cases_done"] = r.manifest["counts"]["cases_completed"]
        if mode == "both":
            import pyarrow.compute as pc
            import pyarrow.parquet as pq

            log = pq.read_table(Path(tmp) / "events.parquet", columns=["activity", "lifecycle"])
            done = log.filter(pc.equal(log["lifecycle"], "complete"))["activity"].value_counts().to_pylist()
            counts = {labels.get(d["values"], d["values"]): d["counts"] for d in done}
            out["procsim_counts"] = dict(sorted(counts.items()))
            out["activity_instances"] = sum(counts.values())
    return out


def run_child(process: str | Path, cases: int, mode: str, root: str | Path | None = None) -> dict[str, Any]:
    """Run :func:`child` in a fresh interpreter and return its JSON (the last line of its stdout)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", mode, "--cases", str(cases),
           "--process", str(process)]
    if root is not None:
        cmd += ["--root", str(root)]
    p = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if p.returncode != 0:
        raise RuntimeError(f"benchmark child failed ({' '.join(cmd)}):\n{p.stderr}")
    result: dict[str, Any] = json.loads(p.stdout.strip().splitlines()[-1])
    return result


def measure(process: str | Path, sizes: list[int], repeat: int = 1, progress: bool = True,
            root: str | Path | None = None) -> list[dict[str, Any]]:
    """Per size: ``repeat`` children running both (best time of each kept: noise only ever adds time), then one
    child running procsim alone for its peak RSS."""
    rows = []
    for n in sizes:
        runs = []
        for k in range(repeat):
            if progress:
                print(f"  {n:,} cases: baseline + procsim ({k + 1}/{repeat}) ...", file=sys.stderr, flush=True)
            runs.append(run_child(process, n, "both", root))
        both = {**runs[0], "baseline_s": min(r["baseline_s"] for r in runs),
                "procsim_s": min(r["procsim_s"] for r in runs)}
        if progress:
            print(f"  {n:,} cases: procsim alone (peak RSS) ...", file=sys.stderr, flush=True)
        alone = run_child(process, n, "procsim", root)
        ai = both["activity_instances"]
        rows.append({
            "cases": n,
            "events": both["events"],
            "activity_instances": ai,
            "procsim_s": both["procsim_s"],
            "procsim_events_per_s": both["events"] / both["procsim_s"],
            "procsim_ai_per_s": ai / both["procsim_s"],
            "baseline_s": both["baseline_s"],
            "baseline_ai": both["baseline_activity_instances"],
            "baseline_ai_per_s": both["baseline_activity_instances"] / both["baseline_s"],
            "ratio": (ai / both["procsim_s"]) / (both["baseline_activity_instances"] / both["baseline_s"]),
            "peak_rss_mb": alone["peak_rss_mb"],
            "peak_rss_both_mb": both["peak_rss_mb"],
            "procsim_alone_s": alone["procsim_s"],
            "load_s": both["load_s"],
        })
    base_rss = rows[0]["peak_rss_mb"]
    for r in rows:
        r["rss_ratio"] = r["peak_rss_mb"] / base_rss
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    head = ("cases", "events", "act.inst", "load s", "procsim s", "procsim ev/s", "procsim ai/s", "baseline ai/s",
            "ratio", "speed", "peak RSS MB", f"RSS / {rows[0]['cases']:,}", "memory")
    lines = []
    for i, r in enumerate(rows):
        mem = "" if i == 0 else ("PASS" if r["rss_ratio"] <= RSS_TARGET else "MISS")
        lines.append((f"{r['cases']:,}", f"{r['events']:,}", f"{r['activity_instances']:,}", f"{r['load_s']:.2f}",
                      f"{r['procsim_s']:.2f}", f"{r['procsim_events_per_s']:,.0f}", f"{r['procsim_ai_per_s']:,.0f}",
                      f"{r['baseline_ai_per_s']:,.0f}", f"{r['ratio']:.2f}x",
                      "PASS" if r["ratio"] >= SPEED_TARGET else "MISS",
                      f"{r['peak_rss_mb']:,.0f}", f"{r['rss_ratio']:.2f}x", mem))
    widths = [max(len(h), *(len(l[k]) for l in lines)) for k, h in enumerate(head)]

    def fmt(cells: tuple[str, ...]) -> str:
        return "  ".join(c.rjust(w) for c, w in zip(cells, widths))

    out = [fmt(head), fmt(tuple("-" * w for w in widths)), *(fmt(l) for l in lines)]
    out.append(f"targets: speed ratio >= {SPEED_TARGET}x the bare-SimPy baseline (activity instances/s, same "
               f"process); peak RSS at {rows[-1]['cases']:,} <= {RSS_TARGET}x that at {rows[0]['cases']:,}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--quick", action="store_true", help="2k and 10k cases, for a fast look")
    ap.add_argument("--process", default=str(DEFAULT_PROCESS))
    ap.add_argument("--root", metavar="DIR", help="project folder the process may read rule files and templates "
                    "from (as 'procsim run --root'), e.g. '.' for benchmarks/procure_to_pay_plain.yaml")
    ap.add_argument("--repeat", type=int, default=1, help="children per size for the speed ratio; best time kept")
    ap.add_argument("--json", metavar="FILE", help="also write the measured rows as JSON")
    ap.add_argument("--child", choices=["both", "procsim"], help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.process, args.cases[0], args.child, args.root)))
        return 0
    sizes = [2_000, 10_000] if args.quick else sorted(args.cases)
    print(f"procsim core benchmark: {args.process}, seed {SEED}, sizes {', '.join(f'{n:,}' for n in sizes)}",
          file=sys.stderr)
    rows = measure(args.process, sizes, max(1, args.repeat), root=args.root)
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
