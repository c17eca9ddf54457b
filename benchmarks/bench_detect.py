"""How well do simple detectors find procsim's labelled exceptions? (run by hand, not a test; issue #17)

    python benchmarks/bench_detect.py                    # 3,000 cases, seed 1
    python benchmarks/bench_detect.py --cases 1000 --seed 2

On a procure-to-pay dataset with every exception type, the example's near misses and data-quality faults
(the variant is written into a project made by ``procsim.init.init_project("p2p", dir)``), three detectors
flag cases:

* ``conformance``: alignments (pm4py) of each case's completed activities against the exported Petri net
  (``procsim.export.to_pnml``); a case is flagged when its fitness is below 1;
* ``rules``: checks an auditor writes: a three-way match (invoice amount = order amount, net = amount / 1.19),
  an approval-limit check (an amount within 5% under the 5,000 limit; above it without an approval), duplicate
  invoices or payments in a case and the same supplier and amount in two cases, a requester approving their
  own request, an activity done by another role than the model's, a payment without goods receipt, values of
  the wrong kind or far out of range, a case whose longest gap is in the top 2%, an activity done in under 2% of
  its median;
* ``outlier``: scikit-learn's IsolationForest on case features (cycle time, events, amount, activity counts,
  longest gap, shortest activity), flagging 5% of cases.

Printed: recall per exception type, per category and per detection difficulty (an instance spanning several
cases counts the share of its cases flagged), for each detector and their union; false positives on the near
misses (the share of near-miss cases without a real exception that a detector flags) and on clean cases; and
whether the difficulty labels order the union's recall (easier found more often). Schemes across cases
(``SCHEMES`` below; one exceptions.csv row per instance, difficulty several_cases) are scored as fraud
instances that only several cases show.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from procsim.exceptions.base import DIFFICULTIES as DIFFICULTY_ORDER  # easiest first
from procsim.export import to_pnml
from procsim.init import init_project
from procsim.run import run
from procsim.spec import load_process

# every catalogue type, at rates that give a few dozen instances in 3,000 cases
EXCEPTIONS = """
exceptions:
  - {type: skip_activity, name: payment_without_goods_receipt, activity: receive_goods, rate: 0.01}
  - {type: insert_activity, name: unplanned_supplier_call, activity: match_invoice, insert: Call supplier,
     role: buyer, duration: {kind: uniform, low: 5m, high: 20m}, rate: 0.01}
  - {type: rework, name: purchase_order_reworked, activity: create_purchase_order, rate: 0.01}
  - {type: swap_order, name: maverick_buying, activity: create_purchase_order, after: record_invoice, rate: 0.01}
  - {type: duplicate_event, name: goods_receipt_logged_twice, activity: receive_goods, rate: 0.01}
  - {type: missing_event, name: inspection_not_logged, activity: inspect_goods, lifecycle: both, rate: 0.01}
  - {type: wrong_role, name: buyer_approves_payment, activity: approve_payment, role: buyer, rate: 0.01}
  - {type: early_event, name: implausibly_fast_inspection, activity: inspect_goods, rate: 0.01}
  - {type: late_event, name: late_invoice_recording, activity: record_invoice, delay: 5d, rate: 0.01}
  - {type: stuck_case, name: forgotten_purchase_order, activity: send_purchase_order, wait: 3w, rate: 0.01}
  - {type: system_outage, name: erp_outage, start: 9d 2h, duration: 6h}
  - {type: resource_absence, name: manager_on_leave, role: manager, start: 14d, duration: 10d}
  - {type: out_of_range, name: amount_typo, attribute: amount, factor: 100, rate: 0.01, money: amount}
  - {type: wrong_kind, name: cost_center_not_a_code, attribute: cost_center, value: 0, rate: 0.01}
  - {type: inconsistent_pair, name: invoice_amount_differs, attribute: invoice_amount, reference: amount,
     low: 1.02, high: 1.2, rate: 0.01, money: invoice_amount}
  - {type: duplicate_activity, name: duplicate_invoice, activity: record_invoice, rate: 0.01, money: amount}
  - {type: duplicate_activity, name: duplicate_payment, activity: execute_payment, rate: 0.01, money: amount}
  - {type: sod_violation, name: requester_approves_own_request, activity: approve_requisition,
     same_as: create_requisition, rate: 0.01}
  - {type: price_change, name: price_change_after_approval, activity: approve_requisition, attribute: amount,
     low: 1.05, high: 1.4, rate: 0.01, money: amount}
  - {type: split_order, name: split_purchase_order, activity: create_purchase_order, attribute: amount,
     limit: 5000, parts: 2, rate: 0.02, when: "amount >= 5000"}
  - {type: invoice_price_change, activity: record_invoice, low: 1.02, high: 1.15, rate: 0.01}
  - {type: short_delivery, activity: receive_goods, rate: 0.01}
"""
# schemes across cases (procsim.schemes): a few instances of each type, in the example's supplier master data
SCHEMES = """
schemes:
  - {type: split_purchase, supplier: supplier_id, amount: amount, limit: 5000, cases: 3, count: 3,
     same_person: [create_requisition]}
  - {type: kickback, supplier: supplier_id, amount: amount, factor: 1.4, cases: 6, spacing: 20, count: 2,
     same_person: [approve_requisition]}
  - {type: ghost_vendor, supplier: supplier_id, amount: amount, cases: 3, spacing: 5, count: 2,
     same_person: [create_purchase_order, approve_payment]}
  - {type: duplicate_payment, supplier: supplier_id, amount: amount, count: 3}
"""

LIMIT = 5000.0
MODEL_ROLES = {"Create purchase requisition": "requester", "Approve purchase requisition": "manager",
               "Escalate approval": "head_of_procurement", "Approve payment": "manager"}


def make_dataset(folder: Path, cases: int, seed: int) -> tuple[Path, Path]:
    """The variant in a p2p project and its run; (process file, output folder)."""
    init_project("p2p", folder / "proj")
    src = folder / "proj" / "processes" / "procure_to_pay.yaml"
    text = src.read_text(encoding="utf-8")
    text = text.replace("  payment_terms: {value: net30}\n",
                        "  payment_terms: {value: net30}\n  invoice_amount: {expr: amount}\n", 1)
    variant = src.with_name("procure_to_pay_detect.yaml")
    # the example's own exceptions give way to the full catalogue above
    text = re.sub(r"^exceptions:\n(?:(?:  |\s*#).*\n)*", "", text, count=1, flags=re.M)
    variant.write_text(text + EXCEPTIONS + SCHEMES, encoding="utf-8")
    out = folder / "out"
    run(variant, out, seed=seed, cases=cases, formats=["parquet"])
    return variant, out


def conformance(process: Path, events: pd.DataFrame) -> set[str]:
    import pm4py

    net, im, fm = pm4py.read_pnml(str(_pnml(process)))
    log = pm4py.format_dataframe(events[events.lifecycle == "complete"].copy(), case_id="case_id",
                                 activity_key="activity", timestamp_key="timestamp")
    diag = pm4py.conformance_diagnostics_alignments(log, net, im, fm)
    ids = list(log.groupby("case:concept:name", sort=False).size().index)
    return {c for c, d in zip(ids, diag) if d["fitness"] < 1.0}


def _pnml(process: Path) -> Path:
    path = process.with_suffix(".pnml")
    path.write_text(to_pnml(load_process(process)), encoding="utf-8")
    return path


def rule_checks(events: pd.DataFrame, cases: pd.DataFrame) -> set[str]:
    flagged: set[str] = set()
    c = cases.set_index("case_id")
    amount = pd.to_numeric(c.amount, errors="coerce")
    inv = pd.to_numeric(c.invoice_amount, errors="coerce")
    net = pd.to_numeric(c.net_amount, errors="coerce")
    # three-way match and the stored net amount
    flagged |= set(c.index[(inv - amount).abs() > 0.01])
    flagged |= set(c.index[(net - (amount / 1.19).round(2)).abs() > 0.011])
    # approval limit: just under it, or over it without an approval
    done = events[events.lifecycle == "complete"]
    acts = done.groupby("case_id").activity.apply(list)
    approved = {k for k, a in acts.items() if "Approve purchase requisition" in a}
    flagged |= set(c.index[(amount >= 0.95 * LIMIT) & (amount < LIMIT)])
    ordered = {k for k, a in acts.items() if "Create purchase order" in a}
    flagged |= {k for k in c.index[amount >= LIMIT] if k in ordered and k not in approved}
    # duplicates in a case, and the same supplier and amount in two cases
    for k, a in acts.items():
        if a.count("Record invoice") > 1 or a.count("Execute payment") > 1 or a.count("Create purchase order") > 1:
            flagged.add(k)
        if "Execute payment" in a and "Receive goods" not in a:
            flagged.add(k)
        if "Create purchase order" in a and "Record invoice" in a and \
                a.index("Record invoice") < a.index("Create purchase order"):
            flagged.add(k)
    dup = c[c.duplicated(["supplier", "amount"], keep=False)]
    flagged |= set(dup.index)
    # segregation of duties and the role doing the work
    who = done.pivot_table(index="case_id", columns="activity", values="resource", aggfunc="first")
    if {"Create purchase requisition", "Approve purchase requisition"} <= set(who.columns):
        same = who["Create purchase requisition"] == who["Approve purchase requisition"]
        flagged |= set(who.index[same.fillna(False)])
    for act, role in MODEL_ROLES.items():
        bad = done[(done.activity == act) & done.role.notna() & (done.role != role)]
        flagged |= set(bad.case_id)
    # values of the wrong kind or far out of range
    flagged |= set(c.index[~c.cost_center.astype(str).str.fullmatch(r"CC-\d{4}")])
    flagged |= set(c.index[amount > 200_000])
    # timing: long gaps, implausibly short work
    ev = events.sort_values(["case_id", "timestamp"])
    longest = ev.assign(g=ev.groupby("case_id").timestamp.diff().dt.total_seconds()).groupby("case_id").g.max()
    flagged |= set(longest.index[longest > longest.quantile(0.98)])
    starts = events[events.lifecycle == "start"].groupby(["case_id", "activity"]).timestamp.min()
    ends = done.groupby(["case_id", "activity"]).timestamp.min()
    dur = (ends - starts).dt.total_seconds().dropna()
    med = dur.groupby(level="activity").transform("median")
    short = dur[(med > 600) & (dur < 0.02 * med)]
    flagged |= set(short.index.get_level_values("case_id"))
    return flagged


def outlier(events: pd.DataFrame, cases: pd.DataFrame, seed: int) -> set[str]:
    from sklearn.ensemble import IsolationForest

    done = events[events.lifecycle == "complete"]
    counts = done.pivot_table(index="case_id", columns="activity", values="event_id", aggfunc="count").fillna(0)
    ev = events.sort_values(["case_id", "timestamp"])
    gap = ev.assign(g=ev.groupby("case_id").timestamp.diff().dt.total_seconds()).groupby("case_id").g.max()
    c = cases.set_index("case_id")
    feats = pd.DataFrame({
        "cycle": c.cycle_time_s.fillna(0), "events": c.events,
        "log_amount": np.log1p(pd.to_numeric(c.amount, errors="coerce").fillna(0).clip(lower=0)),
        "gap": gap.reindex(c.index).fillna(0)}).join(counts).fillna(0)
    model = IsolationForest(n_estimators=200, contamination=0.05, random_state=seed).fit(feats.values)
    return set(feats.index[model.predict(feats.values) == -1])


def score(exc: pd.DataFrame, flagged: dict[str, set[str]]) -> pd.DataFrame:
    rows = []
    for r in exc[exc.is_exception].itertuples():
        ids = str(r.case_ids).split(";")
        row = {"type": r.type, "name": r.name, "category": r.category, "difficulty": r.difficulty}
        for d, f in flagged.items():
            row[d] = sum(i in f for i in ids) / len(ids)
        rows.append(row)
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        process, out = make_dataset(Path(tmp), a.cases, a.seed)
        events = pd.read_parquet(out / "events.parquet")
        cases = pd.read_csv(out / "cases.csv", keep_default_na=False, na_values={"cycle_time_s": [""]})
        exc = pd.read_csv(out / "exceptions.csv")  # the scheme instances are rows of it too
        labels = pd.read_csv(out / "labels.csv", keep_default_na=False)
        fields = pd.read_csv(out / "field_labels.csv", keep_default_na=False)
        t1 = time.perf_counter()
        flagged = {"conformance": conformance(process, events), "rules": rule_checks(events, cases),
                   "outlier": outlier(events, cases, a.seed)}
        flagged["any"] = set().union(*flagged.values())
        t2 = time.perf_counter()
    detectors = list(flagged)
    s = score(exc, flagged)
    pd.set_option("display.width", 160)
    print(f"{a.cases} cases, seed {a.seed}: {len(s)} exception instances of {s.type.nunique()} types, "
          f"{int((~exc.is_exception).sum())} near misses, {len(fields)} field faults; "
          f"dataset {t1 - t0:.1f} s, detectors {t2 - t1:.1f} s\n")
    print("recall per exception (name, type)")
    print(s.groupby(["name", "type", "difficulty"])[detectors].mean().round(2).to_string(), "\n")
    for key in ("category", "difficulty"):
        print(f"recall per {key}")
        print(s.groupby(key)[detectors].mean().round(2).to_string(), "\n")
    real = set(labels.case_id[labels.is_exception])
    near = set(labels.case_id[(labels.near_miss != "") & ~labels.is_exception])
    faulty = set(fields.case_id)
    clean = set(labels.case_id) - real - near - faulty
    nm = exc[~exc.is_exception]
    print("false positives: share of near-miss cases (no real exception) flagged, per near miss; and of clean cases")
    fp = {}
    for name, g in nm.groupby("name"):
        ids = {i.split(";")[0] for i in g.case_ids} & near
        fp[name] = {d: len(ids & f) / len(ids) if ids else float("nan") for d, f in flagged.items()}
    fp["(all near misses)"] = {d: len(near & f) / max(len(near), 1) for d, f in flagged.items()}
    fp["(clean cases)"] = {d: len(clean & f) / max(len(clean), 1) for d, f in flagged.items()}
    print(pd.DataFrame(fp).T.round(2).to_string(), "\n")
    # how many kinds of detector find it: the mean recall of the three (the union finds nearly everything a
    # rule was written for, so it says little about difficulty)
    s["mean"] = s[["conformance", "rules", "outlier"]].mean(axis=1)
    by = s.groupby("difficulty")[["mean", "any"]].mean()
    order = [d for d in DIFFICULTY_ORDER if d in by.index]
    recalls = [by.loc[d, "mean"] for d in order]
    ok = all(x >= y for x, y in zip(recalls, recalls[1:]))
    print("difficulty order (easiest first), mean recall of the three detectors (union in brackets): "
          + ", ".join(f"{d} {by.loc[d, 'mean']:.2f} ({by.loc[d, 'any']:.2f})" for d in order)
          + f" -> {'ORDERED' if ok else 'NOT ORDERED'}")
    print("\nfield faults: share of the cases with a data-quality fault that the rules flag, per fault")
    fields = fields.assign(kind=fields.fault.str.split(":").str[0], flagged=fields.case_id.isin(flagged["rules"]))
    print(fields.groupby(["field", "kind"]).flagged.agg(["mean", "size"]).round(2).to_string())


if __name__ == "__main__":
    main()
