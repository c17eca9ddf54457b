"""The cost of waits, batches and previous-activity durations, on variants of procure_to_pay (run by hand, not a test).

    python benchmarks/bench_flow.py                  # 10,000 cases per variant, best of 3
    python benchmarks/bench_flow.py --cases 2000 --repeat 1

Each variant is ``processes/procure_to_pay.yaml`` with one feature switched on (the text edits are in
``VARIANTS``); ``all`` has every one. All variants run in this one process, interleaved round by round, with
``procsim.run.run`` writing CSV and Parquet as ``bench_core.py`` does; the figure that matters is the time per
case relative to the unchanged process (a ratio, so it travels between machines better than seconds do). Time is
the process's CPU time (both threads: simulation and writer), best of the rounds: on a shared machine wall time
mostly measures the neighbours. A variant writes more events when it logs its waits, so time per event is shown
as well.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# the example as it was before issue #12 made it realistic: each variant adds one feature to a plain base
P2P = REPO / "benchmarks" / "procure_to_pay_plain.yaml"

WAIT = (
    "    duration: {kind: uniform, low: 2m, high: 6m}\n    next: fulfil\n",
    "    duration: {kind: uniform, low: 2m, high: 6m}\n    next: confirmation\n",
)
WAITS = """
waits:
  confirmation:                       # the supplier confirms the order, in its own office hours
    name: Supplier confirms order
    duration: {kind: lognormal, mean: 4h, sd: 3h}
    calendar: office
    log: true
    next: fulfil
  payment_day: {until: {weekdays: [tue, fri], time: "10:00"}, next: execute_payment}
"""
PAYMENT_DAY = ("    duration: {kind: fixed, value: 5m}\n    next: execute_payment\n",
               "    duration: {kind: fixed, value: 5m}\n    next: payment_day\n")
BATCH = ("    duration: {kind: uniform, low: 3m, high: 10m}\n    next: paid\n",
         "    duration: {kind: uniform, low: 3m, high: 10m}\n    next: paid\n"
         "    batch: {schedule: {weekdays: [tue, fri], time: \"10:00\"}, size: 40}\n")
AFTER = ("    duration: {kind: lognormal, mean: 15m, sd: 8m}\n    next: match_result\n",
         "    duration: {kind: lognormal, mean: 15m, sd: 8m}\n    duration_after: {clarify_discrepancy: 5m}\n"
         "    immediate: 0.2\n    next: match_result\n")
IMMEDIATE = ("    duration: {kind: uniform, low: 2m, high: 6m}\n",
             "    duration: {kind: uniform, low: 2m, high: 6m}\n    immediate: 0.4\n")

VARIANTS: dict[str, list[tuple[str, str]]] = {
    "plain": [],
    "waits": [WAIT, PAYMENT_DAY],
    "batch": [BATCH],
    "after": [AFTER, IMMEDIATE],
    "all": [WAIT, PAYMENT_DAY, BATCH, AFTER, IMMEDIATE],
}


def variant_text(name: str) -> str:
    """The procure_to_pay file with the variant's edits (its rule and template paths stay relative: the
    variant is written into a project laid out like this repository, ``write_variants``)."""
    text = P2P.read_text(encoding="utf-8")
    for old, new in VARIANTS[name]:
        if text.count(old) != 1:
            raise RuntimeError(f"variant {name}: the edit point {old!r} is not unique in {P2P}")
        text = text.replace(old, new)
    if name in ("waits", "all"):
        text += WAITS
    return text


def write_variants(folder: Path, names: list[str]) -> dict[str, Path]:
    """The variants as ``folder/processes/p2p_<name>.yaml`` next to copies of the example's rules and templates
    (a process reads only files inside its project: ``procsim.spec.paths``)."""
    from procsim.init import init_project

    if not (folder / "processes" / "procure_to_pay.yaml").exists():
        init_project("p2p", folder)
    out = {}
    for name in names:
        path = folder / "processes" / f"p2p_{name}.yaml"
        path.write_text(variant_text(name), encoding="utf-8")
        out[name] = path
    return out


def measure(cases: int, repeat: int, names: list[str]) -> list[dict[str, float]]:
    from procsim.run import run
    from procsim.spec import load_process

    with tempfile.TemporaryDirectory(prefix="procsim-flow-") as tmp:
        paths = write_variants(Path(tmp), names)
        loaded = {n: load_process(p) for n, p in paths.items()}
        for n in names:  # warm-up: one-off costs of a first run stay out of the figures
            run(loaded[n], Path(tmp) / f"warm_{n}", seed=1, cases=50, formats=["csv", "parquet"])
        best: dict[str, float] = {}
        events: dict[str, int] = {}
        for r in range(repeat):
            for n in names:
                t0 = time.process_time()
                result = run(loaded[n], Path(tmp) / f"{n}_{r}", seed=1, cases=cases, formats=["csv", "parquet"])
                dt = time.process_time() - t0
                best[n] = min(best.get(n, dt), dt)
                events[n] = result.events
    base = best.get("plain", next(iter(best.values())))
    return [{"variant": n, "cases": cases, "events": events[n], "seconds": best[n],
             "us_per_event": best[n] / max(events[n], 1) * 1e6, "time_vs_plain": best[n] / base} for n in names]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    args = ap.parse_args()
    names = ["plain"] + [n for n in args.variants if n != "plain"]
    rows = measure(args.cases, args.repeat, names)
    print(f"procure_to_pay variants, {args.cases:,} cases, best of {args.repeat}, CSV + Parquet")
    print(f"{'variant':>8}  {'events':>9}  {'CPU s':>8}  {'us/event':>8}  {'time/case vs plain':>18}")
    for row in rows:
        print(f"{row['variant']:>8}  {row['events']:>9,}  {row['seconds']:>8.2f}  {row['us_per_event']:>8.1f}  "
              f"{row['time_vs_plain']:>17.2f}x")


if __name__ == "__main__":
    main()
