"""OCEL 2.0 output (ocel.json, ocel.sqlite) of the three example processes: the standard's schema and table
layout, pm4py reads back what was written, event ids join the flat log, same seed same bytes."""

from __future__ import annotations

import json
import sqlite3
import warnings
from pathlib import Path

import pandas as pd
import pytest

from conftest import REPO, SHARED
from procsim.run import run

SCHEMA = SHARED / "data" / "schemas" / "ocel20-schema-json.pm4py-copy.json"
EXAMPLE = SHARED / "data" / "ocel" / "ocel20_example.sqlite"
EXAMPLES = ["procure_to_pay", "order_to_cash", "loan_application"]
CORE_TABLES = ["event", "event_map_type", "event_object", "object", "object_map_type", "object_object"]


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict]]:
    out = {}
    for name in EXAMPLES:
        d = tmp_path_factory.mktemp(name)
        res = run(REPO / "processes" / f"{name}.yaml", d, seed=11, cases=60,
                  formats=["csv", "ocel-json", "ocel-sqlite"])
        out[name] = (d, res.manifest)
    return out


def _pm4py():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pm4py  # noqa: PLC0415 - AGPL, test-only; prints a banner on import
    return pm4py


def _tables(path: Path) -> dict[str, list[str]]:
    with sqlite3.connect(path) as db:
        names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        return {n: [r[1] for r in db.execute(f'PRAGMA table_info("{n}")')] for n in names}


@pytest.mark.parametrize("name", EXAMPLES)
def test_json_validates_against_the_ocel20_schema(outputs, name):
    if not SCHEMA.exists():
        pytest.skip(f"{SCHEMA} is not here (the shared data folder is absent)")
    import jsonschema

    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    doc = json.loads((outputs[name][0] / "ocel.json").read_text(encoding="utf-8"))
    errors = list(jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker()).iter_errors(doc))
    assert errors == []
    # every linked object is declared, every object has a declared type
    ids = {o["id"] for o in doc["objects"]}
    assert all(r["objectId"] in ids for e in doc["events"] for r in e["relationships"])
    assert all(r["objectId"] in ids for o in doc["objects"] for r in o["relationships"])
    assert {o["type"] for o in doc["objects"]} <= {t["name"] for t in doc["objectTypes"]}


@pytest.mark.parametrize("name", EXAMPLES)
def test_pm4py_reads_back_what_was_written(outputs, name):
    pm4py = _pm4py()
    d, manifest = outputs[name]
    counts = manifest["counts"]
    events = pd.read_csv(d / "events.csv", keep_default_na=False)
    for f in ("ocel.json", "ocel.sqlite"):
        ocel = pm4py.read_ocel2(str(d / f))
        # one OCEL event per activity instance: the flat log's complete events, with their ids
        completes = events[events["lifecycle"] == "complete"]
        assert len(ocel.events) == counts["ocel_events"] == len(completes), f
        assert len(ocel.objects) == counts["objects"], f
        assert len(ocel.relations) == counts["event_object_links"], f
        assert len(ocel.o2o) == counts["object_object_links"], f
        # the same event ids, activities and instants as the flat log
        got = ocel.events.set_index("ocel:eid").loc[completes["event_id"]]
        assert list(got["ocel:activity"]) == list(completes["activity"]), f
        want = pd.to_datetime(completes["timestamp"], utc=True, format="ISO8601")
        assert (got["ocel:timestamp"].dt.tz_convert("UTC").values == want.values).all(), f
    # every object type the process declares is present, with its links
    doc = json.loads((d / "ocel.json").read_text(encoding="utf-8"))
    declared = {t["name"] for t in doc["objectTypes"]}
    assert {o["type"] for o in doc["objects"]} == declared


def test_sqlite_has_the_example_table_layout(outputs):
    if not EXAMPLE.exists():
        pytest.skip(f"{EXAMPLE} is not here (the shared data folder is absent)")
    want = _tables(EXAMPLE)
    for name in EXAMPLES:
        got = _tables(outputs[name][0] / "ocel.sqlite")
        for t in CORE_TABLES:
            assert got[t] == want[t], (name, t)
        with sqlite3.connect(outputs[name][0] / "ocel.sqlite") as db:
            emap = dict(db.execute("SELECT ocel_type, ocel_type_map FROM event_map_type"))
            omap = dict(db.execute("SELECT ocel_type, ocel_type_map FROM object_map_type"))
            fks = {t: [r[2] for r in db.execute(f'PRAGMA foreign_key_list("{t}")')] for t in got}
        assert sorted(t for t in got if t not in CORE_TABLES) == sorted(
            [f"event_{m}" for m in emap.values()] + [f"object_{m}" for m in omap.values()])
        for m in emap.values():
            assert got[f"event_{m}"][:2] == ["ocel_id", "ocel_time"] and fks[f"event_{m}"] == ["event"]
        for m in omap.values():
            cols = got[f"object_{m}"]
            assert cols[:2] == ["ocel_id", "ocel_time"] and cols[-1] == "ocel_changed_field"
            assert fks[f"object_{m}"] == ["object"]
        assert sorted(fks["event_object"]) == ["event", "object"] and fks["object_object"] == ["object", "object"]


@pytest.mark.parametrize("name", EXAMPLES)
def test_sqlite_passes_pm4py_relational_validation(outputs, name):
    _pm4py()
    try:
        from pm4py.objects.ocel.validation import ocel20_rel_validation
    except ImportError:
        pytest.skip("this pm4py has no ocel20_rel_validation")
    satisfied, unsatisfied = ocel20_rel_validation.apply(str(outputs[name][0] / "ocel.sqlite"))
    assert unsatisfied == [] and satisfied


def test_sqlite_and_json_hold_the_same_log(outputs):
    d = outputs["procure_to_pay"][0]
    doc = json.loads((d / "ocel.json").read_text(encoding="utf-8"))
    with sqlite3.connect(d / "ocel.sqlite") as db:
        links = sorted(db.execute("SELECT ocel_event_id, ocel_object_id, ocel_qualifier FROM event_object"))
        o2o = sorted(db.execute("SELECT * FROM object_object"))
        changes = db.execute('SELECT count(*) FROM "object_PurchaseOrder" WHERE ocel_changed_field IS NOT NULL')
        po_changes = changes.fetchone()[0]
    assert links == sorted((e["id"], r["objectId"], r["qualifier"]) for e in doc["events"] for r in e["relationships"])
    assert o2o == sorted((o["id"], r["objectId"], r["qualifier"]) for o in doc["objects"] for r in o["relationships"])
    pos = [o for o in doc["objects"] if o["type"] == "purchase_order"]
    assert po_changes == sum(len(o["attributes"]) - len({a["name"] for a in o["attributes"]}) for o in pos) > 0


def test_p2p_objects_tell_the_story(outputs):
    doc = json.loads((outputs["procure_to_pay"][0] / "ocel.json").read_text(encoding="utf-8"))
    objs = {o["id"]: o for o in doc["objects"]}
    for inv in (o for o in doc["objects"] if o["type"] == "supplier_invoice"):
        refs = [objs[r["objectId"]] for r in inv["relationships"] if r["qualifier"] == "refers to"]
        # the invoice carries the PO it bills and the supplier (master data) who sent it
        assert [r["type"] for r in refs] == ["purchase_order", "supplier"]
        po = refs[0]
        items = [objs[r["objectId"]] for r in po["relationships"] if r["qualifier"] == "contains"]
        assert items and all(i["type"] == "purchase_order_line" for i in items)
        for i in items:
            v = {a["name"]: a["value"] for a in i["attributes"]}
            assert float(v["line_net"]) == round(int(v["quantity"]) * float(v["unit_price"]), 2)
        total = float(next(a["value"] for a in po["attributes"] if a["name"] == "net_total"))
        assert total == round(sum(float(a["value"]) for i in items for a in i["attributes"]
                                  if a["name"] == "line_net"), 2)  # the order adds up to its lines
    for po in (o for o in doc["objects"] if o["type"] == "purchase_order"):
        status = [a["value"] for a in po["attributes"] if a["name"] == "status"]
        assert status in (["created"], ["created", "sent"])


def test_same_seed_same_bytes(tmp_path):
    p = REPO / "processes" / "order_to_cash.yaml"
    for d in ("a", "b"):
        run(p, tmp_path / d, seed=4, cases=30, formats=["ocel-json", "ocel-sqlite"])
    for f in ("ocel.json", "ocel.sqlite"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    assert not list(tmp_path.glob("*/.*part"))
