"""The cost and the effect of people who differ, on variants of procure_to_pay (run by hand, not a test).

    python benchmarks/bench_people.py                    # 10k cases per variant, best of 3 rounds
    python benchmarks/bench_people.py --cases 2000 --repeat 1
    python benchmarks/bench_people.py --write-all /tmp/p2p_people.yaml   # the all-features variant, for
                                                         # python benchmarks/bench_core.py --process /tmp/p2p_people.yaml

Each variant is procure_to_pay with one feature switched on (``all``: every one). The variants run in rounds
(plain, speed, ..., plain, speed, ...) in one process, each timed with ``time.process_time`` (CPU time of the
process, the writer thread included: time spent waiting for a core on a shared machine does not count) around
``procsim.run.run`` (CSV + Parquet, seed 1); the best time of each is kept and divided by the best time of
``plain`` measured in the same rounds, so machine load shifts numerator and denominator alike. Next to the
cost, two of the realism figures of issue 12 that these features move, computed from the variant's own log:

- ``gini``: workload Gini among the members doing one activity (activity instances per member), the median over
  the five most frequent activities done by people;
- ``slow/fast``: per activity, the slowest member's median processing time (start to complete) over the
  fastest's, the median over activities with at least two members;
- ``cycle p50 h``: the median case cycle time in hours (what the feature does to the process as a whole).
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# the example as it was before issue #12 made it realistic: each variant adds one feature to a plain base
P2P = REPO / "benchmarks" / "procure_to_pay_plain.yaml"

SLOW_DANA = """\
rules:
  - id: dana_is_thorough
    when: resource == 'Dana Keller'
    duration: {activity: approve_requisition, scale: 2}
"""


def _managers(d: dict[str, Any]) -> dict[str, Any]:
    """The managers as a mapping of name -> settings, their own settings (payment limits) kept."""
    m = d["roles"]["manager"]
    if not isinstance(m["members"], dict):
        m["members"] = {name: {} for name in m["members"]}
    return dict(m["members"])


def _speed(d: dict[str, Any], tmp: Path) -> None:
    for r in d["roles"].values():
        r["speed"] = {"kind": "lognormal", "mean": 1, "sd": 0.35}


def _calendars(d: dict[str, Any], tmp: Path) -> None:
    d["calendars"]["part_time"] = {"days": ["mon", "tue", "wed"], "hours": ["08:00-12:00", "13:00-17:00"]}
    members = _managers(d)
    d["roles"]["manager"]["members"] = {**members, "Jonas Brandt": {**members["Jonas Brandt"], "calendar": "part_time"}}


def _absences(d: dict[str, Any], tmp: Path) -> None:
    for r in d["roles"].values():
        r["absences"] = {"vacation": 28, "vacation_blocks": 3, "sick": 8}


def _several_roles(d: dict[str, Any], tmp: Path) -> None:
    d["roles"]["manager"]["members"] = {**_managers(d), "Petra Lindner": {}}


def _assignment(d: dict[str, Any], tmp: Path) -> None:
    m = d["roles"]["manager"]
    m["members"] = {name: ({**own, "weight": 6} if name == "Dana Keller" else own) for name, own in _managers(d).items()}
    m["assignment"] = "weighted"
    # weights drawn per member: a few people get most of each activity's work. Worklists for the twelve
    # requesters, who have time to spare; the busy roles choose by weight among whoever is free, because a
    # worklist would pile work on a busy favourite (see cycle p50 h)
    for role in ("buyer", "accounts_payable", "requester", "warehouse_clerk"):
        d["roles"][role]["assignment"] = "worklist" if role == "requester" else "weighted"
        d["roles"][role]["weight"] = {"kind": "exponential", "mean": 1}


def _worklists(d: dict[str, Any], tmp: Path) -> None:
    # every role with generated members on worklists with drawn weights: shares hold however busy the role is
    for role in ("buyer", "accounts_payable", "requester", "warehouse_clerk"):
        d["roles"][role]["assignment"] = "worklist"
        d["roles"][role]["weight"] = {"kind": "exponential", "mean": 1}


def _resource_rule(d: dict[str, Any], tmp: Path) -> None:
    (tmp / "people_rules.yaml").write_text(SLOW_DANA)
    d["rules"] = list(d["rules"]) + [str(tmp / "people_rules.yaml")]


GRADE_RULE = """\
rules:
  - id: graded_buyers
    assign: {activity: [create_purchase_order, send_purchase_order], allow: resource.grade >= 2}
"""


def _multitask(d: dict[str, Any], tmp: Path) -> None:
    # buyers hold up to two purchase orders at once (each still takes its own time)
    d["roles"]["buyer"]["multitask"] = 2


def _member_attributes(d: dict[str, Any], tmp: Path) -> None:
    # an attribute every buyer has, checked per candidate for each purchase order: the cost of resource.<attribute>
    d["roles"]["buyer"]["attributes"] = {"grade": 2}
    (tmp / "grade_rules.yaml").write_text(GRADE_RULE)
    d["rules"] = list(d["rules"]) + [str(tmp / "grade_rules.yaml")]


def _all(d: dict[str, Any], tmp: Path) -> None:
    _speed(d, tmp)
    _absences(d, tmp)
    _assignment(d, tmp)  # before _calendars and _several_roles: it turns the managers into a mapping
    d["calendars"]["part_time"] = {"days": ["mon", "tue", "wed"], "hours": ["08:00-12:00", "13:00-17:00"]}
    d["roles"]["manager"]["members"]["Jonas Brandt"] = {**d["roles"]["manager"]["members"]["Jonas Brandt"],
                                                        "calendar": "part_time"}
    d["roles"]["manager"]["members"]["Petra Lindner"] = {}
    _resource_rule(d, tmp)


VARIANTS: dict[str, Callable[[dict[str, Any], Path], None] | None] = {
    "plain": None, "speed": _speed, "calendars": _calendars, "absences": _absences,
    "several_roles": _several_roles, "assignment": _assignment, "worklists": _worklists,
    "resource_rule": _resource_rule, "multitask": _multitask, "member_attributes": _member_attributes, "all": _all,
}


def write_variant(name: str, tmp: Path) -> Path:
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe")
    from procsim.init import init_project

    d = yaml.load(P2P.read_text())
    # written into a project laid out like this repository: a process reads only files inside its project
    if not (tmp / "processes" / "procure_to_pay.yaml").exists():
        init_project("p2p", tmp)
    change = VARIANTS[name]
    if change is not None:
        d = copy.deepcopy(d)
        change(d, tmp)
    out = tmp / "processes" / f"p2p_{name}.yaml"
    yaml.default_flow_style = None
    with out.open("w") as f:
        yaml.dump(d, f)
    return out


def gini(x: list[float]) -> float:
    x = sorted(x)
    n, total = len(x), sum(x)
    if n < 2 or total == 0:
        return 0.0
    return sum((2 * i - n + 1) * v for i, v in enumerate(x)) / (n * total)


def figures(run_dir: Path) -> tuple[float, float, float]:
    import pandas as pd

    ev = pd.read_parquet(run_dir / "events.parquet", columns=["case_id", "activity", "lifecycle", "timestamp",
                                                              "resource"])
    ev = ev[ev["resource"].notna() & (ev["resource"] != "")]
    ev = ev.assign(n=ev.groupby(["case_id", "activity", "lifecycle"]).cumcount())
    s = ev[ev["lifecycle"] == "start"].set_index(["case_id", "activity", "n"])
    c = ev[ev["lifecycle"] == "complete"].set_index(["case_id", "activity", "n"])
    t = (pd.to_datetime(c["timestamp"], utc=True) - pd.to_datetime(s["timestamp"], utc=True).reindex(c.index))
    w = pd.DataFrame({"resource": c["resource"], "sec": t.dt.total_seconds()}).reset_index()
    top = w["activity"].value_counts().index[:5]
    g = pd.Series([gini(list(w[w["activity"] == a]["resource"].value_counts())) for a in top]).median()
    ratios = []
    for _, rows in w.groupby("activity"):
        med = rows.groupby("resource")["sec"].median()
        if len(med) >= 2 and med.min() > 0:
            ratios.append(med.max() / med.min())
    cycle = pd.read_csv(run_dir / "cases.csv", usecols=["cycle_time_s"])["cycle_time_s"].median() / 3600
    return float(g), float(pd.Series(ratios).median()) if ratios else float("nan"), float(cycle)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--write-all", type=Path, help="write the all-features variant here and exit")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(REPO))
    from procsim.run import run
    from procsim.spec import load_process

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if args.write_all is not None:
            # the rule file it adds must outlive this folder: next to the written variant
            path = write_variant("all", args.write_all.parent)
            path.replace(args.write_all)
            print(f"wrote {args.write_all}")
            return 0
        loaded = {name: load_process(write_variant(name, tmp)) for name in VARIANTS}
        best: dict[str, float] = {}
        run(loaded["plain"], tmp / "warm", seed=1, cases=50, formats=["csv", "parquet"])  # first-run costs
        for _ in range(args.repeat):
            for name, lp in loaded.items():
                # CPU time of the process (simulation and writer thread): on a shared machine, waiting for a
                # core does not count, which keeps the ratios steadier than wall time
                t0 = time.process_time()
                run(lp, tmp / name, seed=1, cases=args.cases, formats=["csv", "parquet"])
                best[name] = min(best.get(name, float("inf")), time.process_time() - t0)
        print(f"procure_to_pay variants, {args.cases} cases, best of {args.repeat}")
        print(f"{'variant':<15}{'cpu s':>8}{'cost':>8}{'gini':>8}{'slow/fast':>11}{'cycle p50 h':>13}")
        for name in VARIANTS:
            g, sf, cyc = figures(tmp / name)
            print(f"{name:<15}{best[name]:>8.2f}{best[name] / best['plain']:>7.2f}x{g:>8.3f}{sf:>11.2f}{cyc:>13.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
