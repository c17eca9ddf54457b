"""procure_to_pay's OCEL 2.0 log as object-centric tools see it: one event per activity instance (no
start->complete pairs when flattening), master objects shared by many cases, pm4py's discovery runs on it."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from conftest import REPO
from procsim.run import run
from test_ocel import _pm4py

P2P = REPO / "processes" / "procure_to_pay.yaml"


@pytest.fixture(scope="module")
def p2p(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("p2p")
    run(P2P, d, seed=5, cases=150, formats=["csv", "ocel-json"])
    return d


def test_flattening_on_purchase_orders_has_one_event_per_activity_instance(p2p):
    pm4py = _pm4py()
    ocel = pm4py.read_ocel2(str(p2p / "ocel.json"))
    flat = pm4py.ocel_flattening(ocel, "purchase_order")
    flat = flat.sort_values(["case:concept:name", "time:timestamp"], kind="stable")
    events = pd.read_csv(p2p / "events.csv", keep_default_na=False)
    completes = events[events["lifecycle"] == "complete"].set_index("event_id")
    rel = ocel.relations[ocel.relations["ocel:type"] == "purchase_order"]
    for po, grp in flat.groupby("case:concept:name"):
        linked = rel[rel["ocel:oid"] == po]["ocel:eid"]
        # exactly the complete events linked to the order, each once; one creation
        assert sorted(grp["ocel:eid"]) == sorted(linked) and set(linked) <= set(completes.index)
        assert list(grp["concept:name"]).count("Create purchase order") == 1
        # an activity's start time is an attribute of its one event, not an event of its own
        starts = pd.to_datetime(grp["start_time"], utc=True, format="ISO8601")
        assert (starts <= grp["time:timestamp"]).all()
    # no start->complete self-loops: an order is created once, sent once
    dfg = pm4py.discover_ocdfg(ocel)
    edges = dfg["edges"]["event_couples"]["purchase_order"]
    assert ("Create purchase order", "Create purchase order") not in edges
    assert ("Send purchase order", "Send purchase order") not in edges
    assert ("Create purchase order", "Send purchase order") in edges


def test_oc_discovery_sees_suppliers_shared_by_cases(p2p):
    pm4py = _pm4py()
    ocel = pm4py.read_ocel2(str(p2p / "ocel.json"))
    doc = json.loads((p2p / "ocel.json").read_text(encoding="utf-8"))
    cases_of: dict[str, set[str]] = {}
    for o in doc["objects"]:
        if o["type"] == "case":
            for r in o["relationships"]:
                if r["qualifier"] == "supplier_id":
                    cases_of.setdefault(r["objectId"], set()).add(o["id"])
    assert max(len(c) for c in cases_of.values()) >= 10  # zipf: the top supplier gets many orders
    dfg = pm4py.discover_ocdfg(ocel)
    assert "supplier" in dfg["object_types"] and "employee" in dfg["object_types"]
    small = pm4py.filter_ocel_object_types(ocel, ["purchase_order", "supplier"])
    net = pm4py.discover_oc_petri_net(small)
    assert set(net["petri_nets"]) == {"purchase_order", "supplier"}
    flat = pm4py.ocel_flattening(ocel, "supplier")
    per_supplier = flat.groupby("case:concept:name")["ocel:eid"].nunique()
    assert per_supplier.max() >= 20


@pytest.mark.slow
def test_acceptance_5000_cases_most_suppliers_serve_several_cases(tmp_path):
    """Issue #17's acceptance (about 30 s; part of the suite): 5,000 cases, most suppliers linked to several
    cases; pm4py's object-centric discovery and flattening run on the log."""
    pm4py = _pm4py()
    run(P2P, tmp_path, seed=7, cases=5000, formats=["ocel-sqlite"])
    ocel = pm4py.read_ocel2(str(tmp_path / "ocel.sqlite"))
    o2o = ocel.o2o[ocel.o2o["ocel:qualifier"] == "supplier_id"]
    cases = o2o.groupby("ocel:oid_2")["ocel:oid"].nunique()
    assert (cases >= 2).sum() > 0.8 * len(cases) and len(cases) > 250
    pm4py.discover_ocdfg(ocel)
    pm4py.discover_oc_petri_net(pm4py.filter_ocel_object_types(ocel, ["purchase_order", "supplier"]))
    assert len(pm4py.ocel_flattening(ocel, "purchase_order")) > 0
