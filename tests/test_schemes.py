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
  - {type: split_purchase, supplier: supplier_id, amount: amount, limit: 500, cases: 3, count: 2}
  - {type: kickback, supplier: supplier_id, amount: amount, factor: 1.4, cases: 6, spacing: 20}
  - {type: ghost_vendor, supplier: supplier_id, amount: amount, cases: 3, spacing: 5}
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
    assert list(s.columns) == ["scheme_id", "scheme", "type", "case_id", "object_id", "object_type"]
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
    # the other cases are what they would have been without any scheme
    others = a.index.difference(s["case_id"])
    pd.testing.assert_series_equal(a.loc[others, "amount"], b.loc[others, "amount"])
    pd.testing.assert_series_equal(a.loc[others, "supplier_id"], b.loc[others, "supplier_id"])


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
        "cases: 3, spacing: 5}", "cases: 3, spacing: 5, bank: ibna}")
    with pytest.raises(SpecError) as e:
        load_process(write_process(text))
    assert str(e.value).splitlines() == [
        "p.yaml:85:38: schemes[0].supplier: 'supplier_name' is not an attribute that refers to master data (like "
        "'supplier_id: {master: supplier}'); did you mean 'supplier_id'? [not_a_reference]",
        "p.yaml:85:61: schemes[0].amount: unknown attribute 'amont'; did you mean 'amount'? [unknown_attribute]",
        "p.yaml:87:93: schemes[2].bank: type 'supplier' has no field 'ibna'; did you mean 'iban'? [unknown_field]",
    ]
