"""Master data (procsim.masterdata): objects drawn once per run and shared by cases, their changes over time, their
checks at load, and how OCEL 2.0 links them to the events and objects of many cases."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from conftest import MINI
from procsim.errors import SpecError
from procsim.run import run
from procsim.spec import load_process

MASTER = """\
master_data:
  supplier:
    count: 40
    number: "SUP-{n:03d}"
    popularity: {kind: zipf, exponent: 1.2}
    fields:
      name: {faker: company}
      country: {choice: {DE: 0.5, AT: 0.3, PL: 0.2}}
      iban: {faker: iban}
      rating: {distribution: {kind: uniform, low: 1, high: 5}, round: 1}
    changes:
      iban: {rate: 6}
    used_by: [register, decide]
  employee:
    roles: [clerk, boss]
    number: "EMP-{n:03d}"
    fields:
      email: {faker: company_email}
objects:
  request:
    created_by: register
    number: "REQ-{n:05d}"
    fields: {supplier: supplier_name, iban: supplier_iban}
    refers_to: [supplier]
"""

ATTRS = """\
  supplier_id: {master: supplier}
  supplier_name: {master: supplier_id.name}
  supplier_iban: {master: supplier_id.iban}
  supplier_country: {master: supplier_id.country}
"""


def process_text() -> str:
    return MINI.replace("attributes:\n", "attributes:\n" + ATTRS) + MASTER


def simulate(write_process, tmp_path: Path, *, cases: int = 300, seed: int = 3, out: str = "o",
             formats: tuple[str, ...] = ("csv", "ocel-json", "ocel-sqlite")) -> tuple[Path, dict]:
    res = run(write_process(process_text()), tmp_path / out, seed=seed, cases=cases, formats=list(formats))
    return tmp_path / out, res.manifest


def load_error(write_process, text: str) -> list[str]:
    with pytest.raises(SpecError) as e:
        load_process(write_process(text))
    return str(e.value).splitlines()


def _attrs(o: dict) -> tuple[dict, list[tuple[str, str, str]]]:
    """An OCEL JSON object's initial values and its changes (time, field, value)."""
    first = o["attributes"][0]["time"] if o["attributes"] else None
    initial = {a["name"]: a["value"] for a in o["attributes"] if a["time"] == first}
    changes = [(a["time"], a["name"], a["value"]) for a in o["attributes"] if a["time"] != first]
    return initial, changes


def test_one_supplier_has_the_same_data_in_every_case_and_popular_ones_get_more(write_process, tmp_path):
    d, _ = simulate(write_process, tmp_path)
    cases = pd.read_csv(d / "cases.csv", keep_default_na=False)
    by_supplier = cases.groupby("supplier_id")
    assert (by_supplier["supplier_name"].nunique() == 1).all()
    assert (by_supplier["supplier_country"].nunique() == 1).all()
    counts = cases["supplier_id"].value_counts()
    # zipf 1.2 over 40: supplier 1 has weight 1, supplier 40 weight 1/40^1.2; in 300 cases the first gets most
    assert counts.idxmax() == "SUP-001" and counts["SUP-001"] > 60
    assert counts.get("SUP-040", 0) < counts["SUP-001"] / 10
    doc = json.loads((d / "ocel.json").read_text(encoding="utf-8"))
    suppliers = {o["id"]: _attrs(o) for o in doc["objects"] if o["type"] == "supplier"}
    for sid, row in by_supplier.first().iterrows():
        initial, _ = suppliers[sid]
        assert initial["name"] == row["supplier_name"] and initial["country"] == row["supplier_country"]
        assert 1 <= float(initial["rating"]) <= 5


def test_a_bank_account_change_is_an_object_change_and_later_cases_see_it(write_process, tmp_path):
    d, _ = simulate(write_process, tmp_path)
    cases = pd.read_csv(d / "cases.csv", keep_default_na=False)
    cases["start"] = pd.to_datetime(cases["start"], utc=True, format="ISO8601")
    doc = json.loads((d / "ocel.json").read_text(encoding="utf-8"))
    changed = 0
    for o in (o for o in doc["objects"] if o["type"] == "supplier"):
        initial, changes = _attrs(o)
        assert {f for _, f, _ in changes} <= {"iban"}  # only declared fields change
        timeline = [(pd.Timestamp("1970-01-01", tz="UTC"), initial["iban"])] + [
            (pd.Timestamp(t), v) for t, _, v in changes]
        assert [t for t, _ in timeline] == sorted(t for t, _ in timeline)
        assert all(a != b for (_, a), (_, b) in zip(timeline, timeline[1:]))  # a change changes the value
        for c in cases[cases["supplier_id"] == o["id"]].itertuples():
            # the case copies the IBAN the supplier had when the case started
            assert c.supplier_iban == [v for t, v in timeline if t <= c.start][-1]
        changed += bool(changes)
    assert changed >= 5  # rate 6 a year over the weeks the run covers


def test_ocel_links_master_objects_to_events_and_objects_of_many_cases(write_process, tmp_path):
    d, manifest = simulate(write_process, tmp_path)
    doc = json.loads((d / "ocel.json").read_text(encoding="utf-8"))
    objs = {o["id"]: o for o in doc["objects"]}
    events = pd.read_csv(d / "events.csv", keep_default_na=False).set_index("event_id")
    cases = pd.read_csv(d / "cases.csv", keep_default_na=False).set_index("case_id")
    supplier_cases: dict[str, set[str]] = {}
    for e in doc["events"]:
        case = events.loc[e["id"], "case_id"]
        rels = {(r["qualifier"], r["objectId"]) for r in e["relationships"]}
        if e["type"] in ("register", "decide"):  # the supplier's used_by
            assert ("supplier", cases.loc[case, "supplier_id"]) in rels
            supplier_cases.setdefault(cases.loc[case, "supplier_id"], set()).add(case)
        else:
            assert not any(q == "supplier" for q, _ in rels)
        performed = [o for q, o in rels if q == "performed by"]
        assert [objs[o]["attributes"][0]["value"] for o in performed] == [events.loc[e["id"], "resource"]]
    assert sum(len(c) >= 2 for c in supplier_cases.values()) > len(supplier_cases) / 2
    # object to object: the case and the request refer to the case's supplier
    for o in doc["objects"]:
        if o["type"] == "case":
            assert {"objectId": cases.loc[o["id"], "supplier_id"], "qualifier": "supplier_id"} in o["relationships"]
        if o["type"] == "request":
            refs = [r["objectId"] for r in o["relationships"] if r["qualifier"] == "refers to"]
            assert [objs[r]["type"] for r in refs] == ["supplier"]
    # only the suppliers something links to are written, once each; employees: the members of the roles
    written = [o["id"] for o in doc["objects"] if o["type"] == "supplier"]
    assert sorted(written) == sorted(set(cases["supplier_id"]))
    employees = [o for o in doc["objects"] if o["type"] == "employee"]
    assert {o["attributes"][1]["value"] for o in employees} <= {"clerk", "boss"}
    assert {"Ann", "Bob"} <= {o["attributes"][0]["value"] for o in employees}
    assert manifest["counts"]["objects"] == len(doc["objects"])
    assert manifest["counts"]["object_object_links"] == sum(len(o["relationships"]) for o in doc["objects"])


def test_pm4py_reads_the_same_log_from_json_and_sqlite(write_process, tmp_path):
    from test_ocel import _pm4py

    pm4py = _pm4py()
    d, manifest = simulate(write_process, tmp_path, cases=120)
    counts = manifest["counts"]
    for f in ("ocel.json", "ocel.sqlite"):
        ocel = pm4py.read_ocel2(str(d / f))
        assert len(ocel.events) == counts["ocel_events"], f
        assert len(ocel.objects) == counts["objects"], f
        assert len(ocel.relations) == counts["event_object_links"], f
        assert len(ocel.o2o) == counts["object_object_links"], f
        changes = ocel.object_changes
        sup = changes[changes["ocel:type"] == "supplier"]
        assert len(sup) > 0 and set(sup["ocel:field"]) == {"iban"}, f


def test_same_seed_same_bytes_and_the_world_does_not_depend_on_the_number_of_cases(write_process, tmp_path):
    a, _ = simulate(write_process, tmp_path, cases=80, out="a")
    b, _ = simulate(write_process, tmp_path, cases=80, out="b")
    for f in ("ocel.json", "events.csv", "cases.csv"):
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
    c, _ = simulate(write_process, tmp_path, cases=200, out="c")
    ca = pd.read_csv(a / "cases.csv", keep_default_na=False).set_index("case_id")
    cc = pd.read_csv(c / "cases.csv", keep_default_na=False).set_index("case_id").loc[ca.index]
    # each case draws its supplier from its own stream: the same ones, whatever the run's length
    assert list(ca["supplier_id"]) == list(cc["supplier_id"])
    assert list(ca["supplier_name"]) == list(cc["supplier_name"])


def test_load_errors_name_the_key_with_did_you_mean(write_process):
    text = (process_text().replace("supplier_id.name", "supplier_id.nmae")
            .replace("  supplier_iban: {master: supplier_id.iban}", "  supplier_iban: {master: suplier.iban}")
            .replace("roles: [clerk, boss]", "roles: [clerk, bos]")
            .replace("used_by: [register, decide]", "used_by: [register, decid]")
            .replace("      iban: {rate: 6}", "      ibna: {rate: 6}"))
    assert load_error(write_process, text) == [
        "p.yaml:20:27: attributes.supplier_name.master: type 'supplier' has no field 'nmae'; did you mean "
        "'name'? [unknown_field]",
        "p.yaml:21:27: attributes.supplier_iban.master: 'suplier' is not a reference to master data (like "
        "'suplier: {master: supplier}'); did you mean 'supplier_id'? [unknown_reference]",
        "p.yaml:71:7: master_data.supplier.changes.ibna: unknown field 'ibna'; did you mean 'iban'? "
        "[unknown_field]",
        "p.yaml:72:25: master_data.supplier.used_by[1]: unknown activity 'decid'; did you mean 'decide'? "
        "[unknown_activity]",
        "p.yaml:74:20: master_data.employee.roles[1]: unknown role 'bos'; did you mean 'boss'? [unknown_role]",
    ]


def test_bad_types_and_numbers_are_refused_at_load(write_process):
    text = process_text().replace("count: 40", "count: 40\n    roles: [boss]")
    assert load_error(write_process, text) == [
        "p.yaml:62:5: master_data.supplier: a master-data type needs exactly one of 'count' (objects drawn once "
        "per run) and 'roles' (one object per member: employees) [value_error]"]
    text = process_text().replace('"SUP-{n:03d}"', '"REQ-{n}"').replace(
        "  supplier_id: {master: supplier}", "  supplier_id: {master: employee}")
    assert load_error(write_process, text) == [
        "p.yaml:19:25: attributes.supplier_id.master: 'employee' are the members of roles: events link to them "
        "by who did the work, a case does not draw one [not_drawn]",
        "p.yaml:63:13: master_data.supplier.number: number prefix 'REQ-' overlaps 'REQ-' of objects.request; ids "
        "must be unique per run [number_clash]",
        "p.yaml:83:17: objects.request.refers_to[0]: no attribute refers to a 'supplier' (declare one like "
        "'x: {master: supplier}') [unreferenced]",
    ]


def test_rules_and_expressions_read_master_fields(write_process, tmp_path):
    text = process_text().replace("  supplier_country: {master: supplier_id.country}\n",
                                  "  supplier_country: {master: supplier_id.country}\n"
                                  "  domestic: {expr: \"supplier_country == 'DE'\"}\n")
    run(write_process(text), tmp_path / "o", seed=2, cases=100, formats=["csv"])
    cases = pd.read_csv(tmp_path / "o" / "cases.csv", keep_default_na=False)
    assert set(cases["domestic"]) == {True, False}
    assert (cases["domestic"] == (cases["supplier_country"] == "DE")).all()
