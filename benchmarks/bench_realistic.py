"""What each feature of the realistic procure_to_pay costs: the example with one feature left out (run by hand).

    python benchmarks/bench_realistic.py                    # 5k cases per variant, best of 3, interleaved (~5 min)
    python benchmarks/bench_realistic.py --cases 2000 --rounds 2 --variants full -labels -people

bench_people.py, bench_flow.py and bench_time.py add one feature at a time to the plain example
(``procure_to_pay_plain.yaml``). This script goes the other way, from ``processes/procure_to_pay.yaml`` as it ships
(the process bench_core.py measures), and leaves one feature out per variant, so what each one costs is read
where they all act together (queues that absences lengthen make every worklist scan longer, and so on):

- ``full``: the example as it is;
- ``-people``: roles without per-member speeds, weights, calendars, learning, absences and assignment policies;
- ``-arrivals``: arrivals without month factors, trend, month/quarter-end peaks, bursts and day-to-day noise;
- ``-batch``: the payment run paid one invoice at a time;
- ``-drift``, ``-recording``: without the ``drift:`` or ``recording:`` section;
- ``-exceptions``, ``-near_misses``, ``-data_quality``: without that section (issue #17's labels);
- ``-labels``: without all three;
- ``-line_items``: without line items, the two exceptions that change them, objects and documents (amount,
  tax and gross keep their declared 0.0, so the rules route differently: read the per-event column);
- ``-master_data``: without master data (the attributes it filled become constants; objects, documents and
  schemes that name it are dropped too, they play no part in CSV and Parquet output, and so are the two
  exceptions that change line items on documents); the line items draw their materials from the master, so
  they go too (as in ``-line_items``).

Each variant is written into a project made by ``procsim init p2p`` (so the rule files resolve), loaded once, and
run with ``procsim.run.run(..., formats=["csv", "parquet"])``; the variants take turns, round by round, and the
best CPU time (``time.process_time()``: every thread, the writer's too; other processes on a shared machine do
not add to it) of each is kept. Printed per variant: events, CPU seconds, microseconds per event and per case, and
the share of the full example's CPU time per case that leaving the feature out saves.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

HERE = Path(__file__).resolve().parent
PLAIN = HERE / "procure_to_pay_plain.yaml"
VARIANTS = ["full", "-people", "-arrivals", "-batch", "-drift", "-recording", "-exceptions", "-near_misses",
            "-data_quality", "-labels", "-line_items", "-master_data"]
DOCUMENT_EXCEPTIONS = ("invoice_price_change", "short_delivery")
PEOPLE_KEYS = ("speed", "weight", "assignment", "absences", "learning")


def variant(name: str, doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` (the realistic example, as ruamel loads it) with the feature ``name`` names left out, in place."""
    yaml = YAML()
    if name == "-people":
        for role in doc["roles"].values():
            for key in PEOPLE_KEYS:
                role.pop(key, None)
            if isinstance(role.get("members"), dict):
                # the names alone (no own speed, weight or calendar), with the attributes rules read (authority
                # such as a payment limit is not a way people differ in speed or workload)
                role["members"] = {n: ({"attributes": m["attributes"]} if isinstance(m, dict) and "attributes" in m
                                       else {}) for n, m in role["members"].items()}
    elif name == "-arrivals":
        doc["arrivals"] = yaml.load(PLAIN.read_text(encoding="utf-8"))["arrivals"]
    elif name == "-batch":
        for act in doc["activities"].values():
            act.pop("batch", None)
    elif name == "-labels":
        for key in ("exceptions", "near_misses", "data_quality"):
            doc.pop(key, None)
    elif name == "-line_items":
        doc.pop("line_items", None)
        # the document exceptions change line items: without them they have nothing to act on
        doc["exceptions"] = [x for x in doc.get("exceptions", []) if x["type"] not in DOCUMENT_EXCEPTIONS]
        for key in ("objects", "documents"):
            doc.pop(key, None)
    elif name == "-master_data":
        if (doc.get("line_items") or {}).get("master"):
            variant("-line_items", doc)  # the lines draw their materials from the master: no master, no lines
        doc.pop("master_data", None)
        for attr in doc["attributes"].values():
            if "master" in attr:
                attr.pop("master")
                attr["value"] = ""
        doc["exceptions"] = [x for x in doc.get("exceptions", []) if x["type"] not in DOCUMENT_EXCEPTIONS]
        for key in ("objects", "documents", "schemes"):
            doc.pop(key, None)
    elif name != "full":
        doc.pop(name[1:], None)
    return doc


def write_variants(names: list[str], proj: Path) -> dict[str, Path]:
    """Each variant as a process file in the project ``proj`` (made by ``procsim init p2p``)."""
    yaml = YAML()
    source = (proj / "processes" / "procure_to_pay.yaml").read_text(encoding="utf-8")
    out = {}
    for name in names:
        path = proj / "processes" / f"bench_realistic_{name.lstrip('-') or 'full'}.yaml"
        with path.open("w", encoding="utf-8") as f:
            yaml.dump(variant(name, yaml.load(source)), f)
        out[name] = path
    return out


def cpu_costs(names: list[str], cases: int, rounds: int) -> list[tuple[str, float, int]]:
    """(variant, best CPU seconds of ``run()``, events) per variant, the variants interleaved round by round."""
    from procsim.init import init_project
    from procsim.run import run
    from procsim.spec import load_process

    best: dict[str, float] = {}
    events: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        init_project("p2p", Path(tmp) / "proj")
        loaded = {n: load_process(p) for n, p in write_variants(names, Path(tmp) / "proj").items()}
        for name in names:  # warm-up: imports and lookup tables outside the timed runs
            run(loaded[name], Path(tmp) / "w", seed=1, cases=50, formats=["csv", "parquet"], force=True)
        for _ in range(rounds):
            for name in names:
                t0 = time.process_time()
                r = run(loaded[name], Path(tmp) / "o", seed=1, cases=cases, formats=["csv", "parquet"], force=True)
                best[name] = min(best.get(name, float("inf")), time.process_time() - t0)
                events[name] = r.events
    return [(n, best[n], events[n]) for n in names]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, default=5000, help="cases per run")
    ap.add_argument("--rounds", type=int, default=3, help="runs per variant, best kept")
    ap.add_argument("--variants", nargs="+", default=VARIANTS)
    args = ap.parse_args()
    names = args.variants if args.variants[0] == "full" else ["full", *args.variants]
    rows = cpu_costs(names, args.cases, args.rounds)
    full = rows[0][1]
    print(f"{'variant':<14} {'events':>8} {'CPU s':>7} {'us/event':>9} {'us/case':>8} {'saves':>7}")
    for name, cpu, ev in rows:
        print(f"{name:<14} {ev:>8} {cpu:>7.2f} {1e6 * cpu / ev:>9.2f} {1e6 * cpu / args.cases:>8.0f} "
              f"{(full - cpu) / full:>6.0%}")


if __name__ == "__main__":
    main()
