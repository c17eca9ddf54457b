"""Data-quality faults with per-field ground truth (procsim.exceptions.quality, field_labels.csv)."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd
import pytest

from conftest import MINI
from procsim.errors import SpecError
from procsim.exceptions.quality import _NEIGHBOURS, apply, duplicate_record, mojibake, reformat, typo
from procsim.init import init_project
from procsim.run import run
from procsim.spec import load_process

BASE = MINI.replace("events:\n", "  supplier:\n    choice: {Müller Bau GmbH: 0.4, ACME GmbH: 0.3, Nordwerk AG: 0.3}\n"
                    "  code:\n    value: '2026-03-02'\n  price:\n    value: '1234.50'\nevents:\n", 1)


def simulate(write_process, tmp_path: Path, quality: str, name: str = "out", cases: int = 200,
             seed: int = 4) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
    p = write_process(BASE + quality, f"{name}.yaml")
    out = tmp_path / name
    run(p, out, seed=seed, cases=cases, formats=["csv"])
    ev = pd.read_csv(out / "events.csv", keep_default_na=False, dtype=str)
    cs = pd.read_csv(out / "cases.csv", keep_default_na=False, dtype=str)
    fl = pd.read_csv(out / "field_labels.csv", keep_default_na=False, dtype=str) if quality else None
    return ev, cs, fl


def test_each_fault_is_in_the_records_and_in_field_labels(write_process, tmp_path):
    clean, clean_cases, _ = simulate(write_process, tmp_path, "", "clean")
    ev, cs, fl = simulate(write_process, tmp_path, "data_quality:\n"
                          "  - {field: supplier, fault: typo, rate: 0.1}\n"
                          "  - {field: supplier, fault: duplicate, rate: 0.1}\n"
                          "  - {field: supplier, fault: encoding, rate: 0.1}\n"
                          "  - {field: code, fault: format, rate: 0.1}\n"
                          "  - {field: price, fault: format, rate: 0.1}\n"
                          "  - {field: amount, fault: missing, rate: 0.1}\n")
    assert fl is not None
    # the simulation is untouched: the same events at the same times, only recorded values differ
    assert ev[["event_id", "case_id", "activity", "timestamp"]].equals(clean[["event_id", "case_id", "activity",
                                                                                "timestamp"]])
    kinds = {part.split(":")[0] for k in fl.fault for part in k.split("+")}  # two faults on one value: a+b
    assert kinds == {"typo", "duplicate", "encoding", "format", "missing"}
    assert {"format:date", "format:decimal_separator"} <= set(fl.fault)
    truth = clean.set_index("event_id")
    shown = ev.set_index("event_id")
    labelled: set[tuple[str, str]] = set()
    for r in fl.itertuples():
        ids = r.event_ids.split(";")
        assert (truth.loc[ids, r.field] == r.original).all()  # the original is the true value
        assert (shown.loc[ids, r.field] == r.recorded).all() and r.recorded != r.original
        labelled |= {(e, r.field) for e in ids}
    # every other value is the true one
    for field in ("supplier", "code", "price", "amount"):
        diff = set(ev.event_id[ev[field] != clean[field]])
        assert diff == {e for e, f in labelled if f == field}, field
    # examples of each kind, as they look
    enc = fl[fl.fault == "encoding"]
    assert set(enc.original) == {"Müller Bau GmbH"} and set(enc.recorded) == {"MÃ¼ller Bau GmbH"}
    dup = fl[fl.fault == "duplicate"]
    assert len(set(zip(dup.original, dup.recorded))) == len(set(dup.original))  # one duplicate record each
    assert set(fl[fl.fault == "format:date"].recorded) == {"02.03.2026"}
    assert set(fl[fl.fault == "format:decimal_separator"].recorded) == {"1234,50"}
    assert set(fl[fl.fault == "missing"].recorded) == {""}
    # cases.csv shows the recorded final value
    c = cs.set_index("case_id")
    for r in fl[fl.field == "code"].itertuples():
        assert c.loc[r.case_id, "code"] == r.recorded
    assert len(c) == len(clean_cases)


def test_typo_kinds():
    assert typo("Müller", [0.0, 0.0, 0.0]) == ("Nüller", "typo:keyboard")
    assert typo("Schmidt", [0.5, 0.0, 0.0]) == ("cShmidt", "typo:transposition")
    assert typo("Bauer 10", [0.9, 0.0, 0.0]) == ("8auer 10", "typo:ocr")
    for u in ([0.1, 0.3, 0.7], [0.2, 0.9, 0.1]):
        new, kind = typo("Nordwerk", u)
        assert kind == "typo:keyboard" and len(new) == 8
        (i,) = [i for i in range(8) if new[i] != "Nordwerk"[i]]
        assert new[i].lower() in _NEIGHBOURS["Nordwerk"[i].lower()]
    assert typo("--", [0.0, 0.0, 0.0]) == ("--", "typo")  # nothing to mistype: unchanged, so not labelled


def test_duplicate_records_and_mojibake():
    assert duplicate_record("ACME GmbH") == duplicate_record("ACME GmbH") != "ACME GmbH"
    assert duplicate_record("ACME GmbH").rstrip(".").lower() == "acme gmbh"
    assert duplicate_record("Nordwerk") != "Nordwerk"
    assert mojibake("Jörg Weiß") == "JÃ¶rg WeiÃŸ" and mojibake("plain") == "plain"
    assert reformat("2026-03-02T10:00:00", [0, 0, 0]) == ("02.03.2026T10:00:00", "format:date")
    assert apply("missing", 12.5, [0, 0, 0]) == (None, "missing") and apply("typo", None, [0, 0, 0])[0] is None


def test_no_faults_no_change_and_other_fields_keep_their_bytes(write_process, tmp_path):
    clean, _, _ = simulate(write_process, tmp_path, "", "clean")
    zero, _, fl = simulate(write_process, tmp_path, "data_quality:\n  - {field: supplier, fault: typo, rate: 0}\n",
                           "zero")
    assert zero.equals(clean) and fl is not None and fl.empty
    one, _, _ = simulate(write_process, tmp_path, "data_quality:\n  - {field: code, fault: missing, rate: 0.3}\n",
                         "one")
    assert one.drop(columns="code").equals(clean.drop(columns="code"))
    assert (one.code != clean.code).any()


def test_load_errors(write_process):
    p = write_process(BASE + "data_quality:\n  - {field: amount, fault: typo, rate: 0.1}\n"
                      "  - {field: suplier, fault: missing, rate: 0.1}\n")
    with pytest.raises(SpecError) as e:
        load_process(p)
    text = str(e.value)
    assert ("data_quality[0].fault: 'amount' is a number column, which cannot hold a typo (text); use 'missing', "
            "or a text attribute [not_text]") in text
    assert "data_quality[1].field: unknown attribute 'suplier'; did you mean 'supplier'? [unknown_attribute]" in text


def test_p2p_documents_and_objects_show_the_recorded_value(tmp_path):
    proj = tmp_path / "proj"
    init_project("p2p", proj)
    out = tmp_path / "out"
    run(proj / "processes" / "procure_to_pay.yaml", out, seed=3, cases=400, formats=["csv", "documents",
                                                                                       "ocel-json"])
    fl = pd.read_csv(out / "field_labels.csv", keep_default_na=False, dtype=str)
    idx = pd.read_csv(out / "documents" / "index.csv", dtype=str)
    sup = fl[(fl.field == "supplier") & fl.case_id.isin(set(idx.case_id))]
    assert len(sup) >= 3
    ocel = json.loads((out / "ocel.json").read_text())
    values = {a["value"] for o in ocel["objects"] for a in o["attributes"] if a["name"] == "supplier"}
    for r in sup.itertuples():
        assert r.recorded in values
        for path in idx[idx.case_id == r.case_id].path:
            text = (out / path).read_text(encoding="utf-8")
            if "upplier" in text or "ayee" in text:
                assert html.escape(r.recorded) in text or r.recorded in text
                assert html.escape(r.original) not in text or r.original in r.recorded


def test_batch_size_and_reruns_do_not_change_the_ground_truth(tmp_path):
    # faults and near misses are decided per case: how the run is cut into batches cannot move them
    from conftest import REPO

    p2p = REPO / "processes" / "procure_to_pay.yaml"
    run(p2p, tmp_path / "a", seed=6, cases=400, formats=["csv"])
    run(p2p, tmp_path / "b", seed=6, cases=400, formats=["csv"], flush_every=97)
    for name in ("events.csv", "cases.csv", "labels.csv", "exceptions.csv", "field_labels.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert len(pd.read_csv(tmp_path / "a" / "field_labels.csv")) > 5
