"""Schemes across cases (procsim.schemes): each scheme type pinned to its ground truth in schemes.csv, against
the same run without the scheme (what the cases would have been)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from procsim.errors import SpecError
from procsim.run import run
from procsim.spec import load_process
from test_masterdata import process_text

SCHEMES = """\
schemes:
  - {type: split_purchase, supplier: supplier_id, amount: amount, limit: 500, cases: 3, count: 2,
     same_person: [register]}
  - {type: kickback, supplier: supplier_id, amount: amount, factor: 1.4, cases: 6, spacing: 20,
     same_person: [decide]}
  - {type: ghost_vendor, supplier: supplier_id, amount: amount, cases: 3, spacing: 5, same_person: [register, decide]}
  - {type: duplicate_payment, name: double_paid, supplier: supplier_id, amount: amount}
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("schemes")
    (d / "with.yaml").write_text(process_text() + SCHEMES, encoding="utf-8")
    (d / "without.yaml").write_text(process_text(), encoding="utf-8")
    for name in ("with", "without"):
        run(d / f"{name}.yaml", d / name, seed=3, cases=300, formats=["csv", "ocel-json"])
    return d / "with", d / "without"


def _cases(d: Path) -> pd.DataFrame:
    c = pd.read_csv(d / "cases.csv", keep_default_na=False).set_index("case_id")
    c["start"] = pd.to_datetime(c["start"], utc=True, format="ISO8601")
    return c


def test_every_instance_is_labelled_with_its_cases_and_supplier(runs):
    w, _ = runs
    s = pd.read_csv(w / "schemes.csv")
    assert list(s.columns) == ["scheme_id", "scheme", "type", "case_id", "object_id", "object_type", "resources"]
    assert sorted(s["scheme_id"].unique()) == ["double_paid#1", "ghost_vendor#1", "kickback#1", "split_purchase#1",
                                              "split_purchase#2"]
    assert s.groupby("scheme_id").size().to_dict() == {"double_paid#1": 2, "ghost_vendor#1": 3, "kickback#1": 6,
                                                       "split_purchase#1": 3, "split_purchase#2": 3}
    assert not s["case_id"].duplicated().any()  # a case belongs to one instance
    cases = _cases(w)
    for sid, grp in s.groupby("scheme_id"):
        assert grp["object_id"].nunique() == 1 and set(grp["object_type"]) == {"supplier"}
        assert set(cases.loc[grp["case_id"], "supplier_id"]) == set(grp["object_id"]), sid


def test_split_purchase_orders_stay_just_under_the_limit_within_a_window(runs):
    w, _ = runs
    s = pd.read_csv(w / "schemes.csv")
    cases = _cases(w)
    for _, grp in s[s["type"] == "split_purchase"].groupby("scheme_id"):
        c = cases.loc[grp["case_id"]]
        assert ((c["amount"] >= 450) & (c["amount"] < 500)).all()
        assert c["start"].max() - c["start"].min() < pd.Timedelta(days=2)  # consecutive arrivals


def test_kickback_prices_are_the_market_price_times_the_factor(runs):
    w, wo = runs
    s = pd.read_csv(w / "schemes.csv")
    ids = s[s["type"] == "kickback"]["case_id"]
    a, b = _cases(w), _cases(wo)
    assert (a.loc[ids, "amount"] == (b.loc[ids, "amount"] * 1.4).round(2)).all()
    # the other cases' data are what they would have been without any scheme
    others = a.index.difference(s["case_id"])
    pd.testing.assert_series_equal(a.loc[others, "amount"], b.loc[others, "amount"])
    pd.testing.assert_series_equal(a.loc[others, "supplier_id"], b.loc[others, "supplier_id"])


def test_same_person_pins_one_member_to_the_activity_in_every_case_of_an_instance(runs):
    w, wo = runs
    s = pd.read_csv(w / "schemes.csv", keep_default_na=False)
    ev = pd.read_csv(w / "events.csv", keep_default_na=False)
    ev0 = pd.read_csv(wo / "events.csv", keep_default_na=False)
    done = ev[ev["lifecycle"] == "complete"]
    expected = {"split_purchase": {"register"}, "kickback": {"decide"}, "ghost_vendor": {"register", "decide"},
                "duplicate_payment": set()}
    unpinned_differ = 0
    for sid, grp in s.groupby("scheme_id"):
        who = dict(p.split("=", 1) for p in grp["resources"].iloc[0].split(";") if p)
        assert set(who) == expected[grp["type"].iloc[0]], sid
        assert grp["resources"].nunique() == 1  # the same people on every row of the instance
        for act, member in who.items():
            # every execution of the activity in every case of the instance (decide repeats in some): that member,
            # in the log the documents and the OCEL are made from
            rows = done[done["case_id"].isin(grp["case_id"]) & (done["activity"] == act)]
            assert len(rows) >= len(grp) and set(rows["resource"]) == {member}, (sid, act)
            # without the scheme the same cases' executions were shared among the role's members
            free = ev0[ev0["case_id"].isin(grp["case_id"]) & (ev0["activity"] == act) & (ev0["lifecycle"] == "complete")]
            unpinned_differ += set(free["resource"]) != {member}
    assert unpinned_differ >= 3
    # the OCEL links those events to the employee object of that member
    doc = json.loads((w / "ocel.json").read_text(encoding="utf-8"))
    names = {o["id"]: o["attributes"][0]["value"] for o in doc["objects"] if o["type"] == "employee"}
    by_event = {e["id"]: [names[r["objectId"]] for r in e["relationships"] if r["qualifier"] == "performed by"]
                for e in doc["events"]}
    for row in done[done["case_id"].isin(s["case_id"])].itertuples():
        assert by_event[row.event_id] == [row.resource]


def test_duplicate_payment_pays_the_same_amount_to_the_same_supplier(runs):
    w, wo = runs
    s = pd.read_csv(w / "schemes.csv")
    ids = list(s[s["type"] == "duplicate_payment"]["case_id"])
    a, b = _cases(w), _cases(wo)
    assert a.loc[ids, "amount"].nunique() == 1 and a.loc[ids[0], "amount"] == b.loc[ids[0], "amount"]


def test_ghost_vendor_is_created_switches_bank_details_is_paid_then_dormant(runs):
    w, _ = runs
    s = pd.read_csv(w / "schemes.csv")
    ghost = s[s["type"] == "ghost_vendor"]
    gid = ghost["object_id"].iloc[0]
    assert int(gid.split("-")[1]) > 40  # not one of the 40 suppliers of the population
    cases = _cases(w)
    assert set(cases[cases["supplier_id"] == gid].index) == set(ghost["case_id"])  # nobody else ever uses it
    doc = json.loads((w / "ocel.json").read_text(encoding="utf-8"))
    obj = next(o for o in doc["objects"] if o["id"] == gid)
    created = pd.Timestamp(obj["attributes"][0]["time"])
    ibans = [(pd.Timestamp(a["time"]), a["value"]) for a in obj["attributes"] if a["name"] == "iban"]
    assert len(ibans) == 2 and ibans[0][0] == created < ibans[1][0] and ibans[0][1] != ibans[1][1]
    c = cases.loc[ghost["case_id"]]
    assert ibans[1][0] < c["start"].min()  # the bank details change before the first payment case
    assert (c["supplier_iban"] == ibans[1][1]).all()


def test_scheme_errors_name_the_key(write_process):
    text = process_text() + SCHEMES.replace("supplier: supplier_id, amount: amount, limit",
                                            "supplier: supplier_name, amount: amont, limit").replace(
        "spacing: 5, same_person: [register, decide]}", "spacing: 5, bank: ibna, same_person: [registr, decide]}")
    with pytest.raises(SpecError) as e:
        load_process(write_process(text))
    assert str(e.value).splitlines() == [
        "p.yaml:85:38: schemes[0].supplier: 'supplier_name' is not an attribute that refers to master data (like "
        "'supplier_id: {master: supplier}'); did you mean 'supplier_id'? [not_a_reference]",
        "p.yaml:85:61: schemes[0].amount: unknown attribute 'amont'; did you mean 'amount'? [unknown_attribute]",
        "p.yaml:89:93: schemes[2].bank: type 'supplier' has no field 'ibna'; did you mean 'iban'? [unknown_field]",
        "p.yaml:89:113: schemes[2].same_person[0]: unknown activity 'registr'; did you mean 'register'? "
        "[unknown_activity]",
    ]


EXCEPTIONS = """\
exceptions:
  - {type: duplicate_activity, name: duplicate_request, activity: register, rate: 0.05}
  - {type: wrong_role, activity: decide, role: clerk, rate: 0.03}
near_misses:
  - {type: legitimate_rework, name: checked_again, activity: check_a, rate: 0.05}
"""


def test_ocel_objects_carry_the_exception_ids_that_name_them(tmp_path):
    """Every object an exceptions.csv row names in object_ids carries that row's id as the OCEL attribute
    exception_id, and no other object carries one: a duplicate request its duplicate's id, the ghost vendor
    its scheme's id, the pinned employees theirs; near misses mark nothing. pm4py reads it from both formats."""
    from test_ocel import _pm4py

    (tmp_path / "p.yaml").write_text(process_text() + SCHEMES + EXCEPTIONS, encoding="utf-8")
    out = tmp_path / "o"
    run(tmp_path / "p.yaml", out, seed=3, cases=300, formats=["csv", "ocel-json", "ocel-sqlite"])
    exc = pd.read_csv(out / "exceptions.csv", keep_default_na=False)
    want: dict[str, set[str]] = {}
    for r in exc[exc["is_exception"]].itertuples():
        for oid in filter(None, r.object_ids.split(";")):
            want.setdefault(oid, set()).add(r.exception_id)
    assert want
    # the schemes are rows of their own (after the case rows), with their supplier and pinned employees
    schemes = pd.read_csv(out / "schemes.csv", keep_default_na=False)
    rows = exc[exc["exception_id"].isin(schemes["scheme_id"])]
    assert sorted(rows["exception_id"]) == sorted(schemes["scheme_id"].unique())
    assert (rows["difficulty"] == "several_cases").all() and (rows["category"] == "fraud").all()
    ghost = schemes[schemes["type"] == "ghost_vendor"]
    assert ghost["object_id"].iloc[0] in rows.set_index("exception_id").loc["ghost_vendor#1", "object_ids"].split(";")
    for sid, grp in schemes.groupby("scheme_id"):
        assert set(exc.set_index("exception_id").loc[sid, "case_ids"].split(";")) == set(grp["case_id"])
    doc = json.loads((out / "ocel.json").read_text(encoding="utf-8"))
    got = {o["id"]: set(a["value"].split(";")) for o in doc["objects"] for a in o["attributes"]
           if a["name"] == "exception_id"}
    assert got == want
    assert "ghost_vendor#1" in got[ghost["object_id"].iloc[0]]
    dup = exc[exc["name"] == "duplicate_request"]
    assert len(dup) and all(any(o.startswith("REQ-") for o in got_ids) for got_ids in [
        [o for o, ids in got.items() if x in ids] for x in dup["exception_id"]])  # the duplicate's request object
    assert not any("checked_again" in x for ids in got.values() for x in ids)
    assert all(any(a["name"] == "exception_id" for a in t["attributes"]) for t in doc["objectTypes"])
    pm4py = _pm4py()
    for f in ("ocel.json", "ocel.sqlite"):
        objects = pm4py.read_ocel2(str(out / f)).objects.set_index("ocel:oid")
        marked = objects["exception_id"].dropna()
        assert {k: set(v.split(";")) for k, v in marked.items() if v} == want, f
