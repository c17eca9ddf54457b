"""Business objects (procsim.objects): load-time checks with positions, and the objects a run derives."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from conftest import MINI
from procsim.errors import SpecError
from procsim.run import run
from procsim.spec import load_process

OBJECTS = """\
objects:
  request:
    created_by: register
    used_by: [check_a, check_b]
    number: "REQ-{n:05d}"
    fields:
      amount: amount
      clerk: resource
      region: region
  decision:
    created_by: decide
    updated_by: [decide]
    number: "DEC-{n:05d}"
    fields:
      amount: round(amount * 1.19, 2)
      decided_by: resource
    refers_to: [request]
    lines: {count: "1 + floor(amount) % 3", item: decision_line, fields: {share: "round(amount / lines, 2)"},
            sums: {shares: share}}
"""


def load_error(write_process, objects: str) -> str:
    with pytest.raises(SpecError) as e:
        load_process(write_process(MINI + objects))
    return str(e.value)


def simulate(write_process, tmp_path: Path, *, cases: int = 40, seed: int = 5, flush_every: int = 50_000,
             out: str = "out") -> tuple[dict, pd.DataFrame, dict]:
    p = write_process(MINI + OBJECTS)
    res = run(p, tmp_path / out, seed=seed, cases=cases, formats=["csv", "ocel-json"], flush_every=flush_every)
    doc = json.loads((tmp_path / out / "ocel.json").read_text(encoding="utf-8"))
    return doc, pd.read_csv(tmp_path / out / "events.csv", keep_default_na=False), res.manifest


def test_unknown_activity_and_object_with_did_you_mean(write_process):
    msg = load_error(write_process, OBJECTS.replace("used_by: [check_a, check_b]", "used_by: [check_a, chek_b]")
                     .replace("refers_to: [request]", "refers_to: [requets]"))
    assert msg.splitlines() == [
        "p.yaml:59:24: objects.request.used_by[1]: unknown activity 'chek_b'; did you mean 'check_b'? "
        "[unknown_activity]",
        "p.yaml:72:17: objects.decision.refers_to[0]: unknown object 'requets'; did you mean 'request'? "
        "[unknown_object]",
    ]


def test_field_expression_error_shows_a_caret(write_process):
    msg = load_error(write_process, OBJECTS.replace("amount: round(amount * 1.19, 2)",
                                                    "amount: round(amont * 1.19, 2)"))
    lines = msg.splitlines()
    assert lines[0] == ("p.yaml:70:21: objects.decision.fields.amount: unknown name 'amont'; "
                        "did you mean 'amount'? [unknown_name]")
    assert lines[1].strip() == "round(amont * 1.19, 2)"
    assert lines[2].strip() == "^"
    assert lines[2].index("^") == lines[1].index("amont")


def test_number_patterns_and_reserved_names(write_process):
    msg = load_error(write_process, OBJECTS.replace('"REQ-{n:05d}"', '"REQ-{m}"').replace('"DEC-{n:05d}"', '"C{n}"')
                     .replace("  request:\n", "  case:\n").replace("[request]", "[case]"))
    assert msg.splitlines() == [
        "p.yaml:57:3: objects.case: 'case' is the object type of the case itself; call the object something else "
        "[reserved_name]",
        "p.yaml:60:13: objects.case.number: number pattern 'REQ-{m}' needs exactly one field '{n...}', like "
        "'PO-{n:06d}' [bad_number]",
        "p.yaml:68:13: objects.decision.number: number prefix 'C' overlaps 'C' of the case ids "
        "(process.case_prefix); ids must be unique per run [number_clash]",
    ]


def test_sums_name_a_numeric_item_field(write_process):
    msg = load_error(write_process, OBJECTS.replace("sums: {shares: share}", "sums: {shares: shar, amount: share}"))
    assert msg.splitlines() == [
        "p.yaml:74:28: objects.decision.lines.sums.shares: unknown item field 'shar'; did you mean 'share'? "
        "[unknown_field]",
        "p.yaml:74:34: objects.decision.lines.sums.amount: 'amount' is already a field of the object; a sum needs "
        "a name of its own [duplicate_field]",
    ]


def test_line_count_must_be_a_number(write_process):
    msg = load_error(write_process, OBJECTS.replace('count: "1 + floor(amount) % 3"', "count: region"))
    assert msg.splitlines()[0] == ("p.yaml:73:20: objects.decision.lines.count: expected a number expression, "
                                   "got string [type_error]")


def test_objects_links_and_items(write_process, tmp_path):
    doc, ev, manifest = simulate(write_process, tmp_path)
    objs = {o["id"]: o for o in doc["objects"]}
    types = [o["type"] for o in doc["objects"]]
    # every case is an object; one request per case (register runs once); a decision per 'decide' completion
    assert types.count("case") == 40 and types.count("request") == 40
    decides = ev[(ev["activity"] == "decide") & (ev["lifecycle"] == "complete")]
    assert types.count("decision") == len(decides)
    assert sorted(i for i in objs if i.startswith("REQ-")) == [f"REQ-{n:05d}" for n in range(1, 41)]
    events = {e["id"]: e for e in doc["events"]}
    for e in events.values():
        rels = e["relationships"]
        assert rels[0]["qualifier"] == "case" and objs[rels[0]["objectId"]]["type"] == "case"
    for d in (o for o in doc["objects"] if o["type"] == "decision"):
        amount = float(next(a["value"] for a in d["attributes"] if a["name"] == "amount"))
        lines = [r["objectId"] for r in d["relationships"] if r["qualifier"] == "contains"]
        refs = [r["objectId"] for r in d["relationships"] if r["qualifier"] == "refers to"]
        assert len(refs) == 1 and objs[refs[0]]["type"] == "request"
        assert lines == [f"{d['id']}/{k}" for k in range(1, len(lines) + 1)] and 1 <= len(lines) <= 3
        assert all(objs[i]["type"] == "decision_line" for i in lines)
        shares = [float(next(a["value"] for a in objs[i]["attributes"] if a["name"] == "share")) for i in lines]
        total = float(next(a["value"] for a in d["attributes"] if a["name"] == "shares"))
        assert round(sum(shares), 2) == total
        # made by the complete event of 'decide' in the same case, at that event's time
        made = [e for e in events.values() if {"objectId": d["id"], "qualifier": "creates"} in e["relationships"]]
        assert len(made) == 1 and made[0]["type"] == "decide"
        assert all(a["time"] == made[0]["time"] for a in d["attributes"][:2])
        request = objs[refs[0]]
        req_amount = float(next(a["value"] for a in request["attributes"] if a["name"] == "amount"))
        assert amount == round(req_amount * 1.19, 2)  # fields read the same case data
    # used_by: the events of check_a/check_b link the case's request; start events are no OCEL events (one
    # event per activity instance, at its completion, with the start time as an attribute)
    checks = ev[ev["activity"].isin(["check_a", "check_b"])]
    assert not set(checks[checks["lifecycle"] == "start"]["event_id"]) & set(events)
    checks = checks[checks["lifecycle"] == "complete"]
    starts = ev[ev["lifecycle"] == "start"].groupby(["case_id", "activity"])["timestamp"].apply(list)
    for r in checks.itertuples():
        attrs = {a["name"]: a["value"] for a in events[r.event_id]["attributes"]}
        assert pd.Timestamp(attrs["start_time"]) == pd.Timestamp(starts[r.case_id, r.activity][0])
        rels = events[r.event_id]["relationships"]
        assert [x["qualifier"] for x in rels] == ["case", "uses"] and rels[1]["objectId"].startswith("REQ-")
    assert manifest["counts"]["objects"] == len(doc["objects"])
    assert manifest["counts"]["event_object_links"] == sum(len(e["relationships"]) for e in doc["events"])
    assert manifest["counts"]["object_object_links"] == sum(len(o["relationships"]) for o in doc["objects"])


def test_updates_are_time_stamped_changes(write_process, tmp_path):
    doc, ev, _ = simulate(write_process, tmp_path, cases=80)
    # a second 'decide' (the loop back) makes a new decision and updates the earlier one: its decider changes
    # when another boss decides, and the change is stamped with the later event's time
    updated = [o for o in doc["objects"] if o["type"] == "decision"
               and len({a["time"] for a in o["attributes"]}) > 1]
    assert updated
    for o in updated:
        first = o["attributes"][0]["time"]
        later = [a for a in o["attributes"] if a["time"] != first]
        assert all(a["name"] == "decided_by" for a in later)
        assert all(pd.Timestamp(a["time"]) > pd.Timestamp(first) for a in later)


def test_objects_do_not_depend_on_flush_size_and_are_deterministic(write_process, tmp_path):
    a, _, _ = simulate(write_process, tmp_path, out="a")
    b, _, _ = simulate(write_process, tmp_path, out="b", flush_every=7)
    assert a == b
    assert (tmp_path / "a" / "ocel.json").read_bytes() == (tmp_path / "b" / "ocel.json").read_bytes()


def test_a_process_without_objects_has_case_objects_only(write_process, tmp_path):
    p = write_process(MINI)
    run(p, tmp_path / "o", seed=1, cases=10, formats=["ocel-json"])
    doc = json.loads((tmp_path / "o" / "ocel.json").read_text(encoding="utf-8"))
    assert [t["name"] for t in doc["objectTypes"]] == ["case"]
    assert {o["type"] for o in doc["objects"]} == {"case"} and len(doc["objects"]) == 10
    assert all(len(e["relationships"]) == 1 for e in doc["events"])


def test_exceptions_alter_objects_as_they_alter_the_log(write_process, tmp_path):
    p = write_process(MINI + OBJECTS + "exceptions:\n"
                      "  - {type: duplicate_event, activity: register, count: 3}\n"
                      "  - {type: price_change, activity: register, attribute: amount, count: 4}\n")
    run(p, tmp_path / "x", seed=5, cases=60, formats=["csv", "ocel-json"])
    doc = json.loads((tmp_path / "x" / "ocel.json").read_text(encoding="utf-8"))
    ev = pd.read_csv(tmp_path / "x" / "events.csv", keep_default_na=False)
    lab = pd.read_csv(tmp_path / "x" / "labels.csv", keep_default_na=False)
    objs = {o["id"]: o for o in doc["objects"]}
    made_in: dict[str, list[str]] = {}
    events = {e["id"]: e for e in doc["events"]}
    for e in doc["events"]:
        for r in e["relationships"]:
            if r["qualifier"] == "creates" and objs[r["objectId"]]["type"] == "request":
                made_in.setdefault(events[e["id"]]["relationships"][0]["objectId"], []).append(r["objectId"])
    dup = lab[lab.exceptions.str.contains("duplicate_event")].case_id.tolist()
    assert len(dup) == 3
    # the duplicated completion of 'register' made a second request with its own number
    assert all(len(made_in[c]) == 2 for c in dup) and all(len(v) == 1 for c, v in made_in.items() if c not in dup)
    changed = lab[lab.exceptions.str.contains("price_change")].case_id.tolist()
    assert len(changed) == 4
    for cid in changed:
        new = ev[(ev.case_id == cid) & (ev.activity == "decide")].amount.iloc[0]
        case = objs[cid]
        assert [a for a in case["attributes"] if a["name"] == "amount"][-1]["value"] == str(new)
        decisions = [r["objectId"] for e in doc["events"] for r in e["relationships"]
                     if r["qualifier"] == "creates" and e["relationships"][0]["objectId"] == cid
                     and objs[r["objectId"]]["type"] == "decision"]
        assert decisions
        for d in decisions:
            amount = next(a["value"] for a in objs[d]["attributes"] if a["name"] == "amount")
            assert float(amount) == round(new * 1.19, 2)


def test_object_records_know_their_case_and_creating_event(write_process, tmp_path, monkeypatch):
    """What a document renderer reads: each finished object with its case, creating event and final values."""
    from procsim.sinks.ocel_json import OcelJsonSink

    seen = []
    original = OcelJsonSink.write_cases

    def spy(self, batch):
        seen.extend(batch.objects or [])
        original(self, batch)

    monkeypatch.setattr(OcelJsonSink, "write_cases", spy)
    doc, _, _ = simulate(write_process, tmp_path)
    events = {e["id"]: e for e in doc["events"]}
    assert [o.id for o in seen] == [o["id"] for o in doc["objects"]]
    flat = pd.read_csv(tmp_path / "out" / "events.csv", keep_default_na=False).set_index("event_id")
    for o in seen:
        if o.type == "case":  # made at the case's first event: a start, which is no OCEL event
            assert flat.loc[o.event_id, "case_id"] == o.id and o.event_id not in events
            continue
        rels = events[o.event_id]["relationships"]
        assert rels[0]["objectId"] == o.case_id
        assert {"objectId": o.id, "qualifier": "case" if o.type == "case" else "creates"} in rels
        assert o.current() == {**dict(o.values), **{f: v for _, f, v in o.changes}}


def test_a_field_failing_at_run_time_names_the_field_and_leaves_no_file(write_process, tmp_path):
    from procsim.errors import SimulationError

    p = write_process(MINI + OBJECTS.replace("amount: round(amount * 1.19, 2)",
                                             "amount: round(amount / (amount - amount), 2)"))
    with pytest.raises(SimulationError) as e:
        run(p, tmp_path / "o", seed=1, cases=5, formats=["ocel-json", "ocel-sqlite"])
    assert str(e.value) == ("division by zero (in objects.decision.fields.amount: "
                            "round(amount / (amount - amount), 2))")
    assert sorted(f.name for f in (tmp_path / "o").iterdir()) == []


def test_cli_writes_both_files(write_process, tmp_path):
    from typer.testing import CliRunner

    from procsim.cli import app

    p = write_process(MINI + OBJECTS)
    res = CliRunner().invoke(app, ["run", str(p), "--cases", "5", "--out", str(tmp_path / "c"),
                                   "--format", "ocel-json,ocel-sqlite"])
    assert res.exit_code == 0, res.output
    assert {"ocel.json", "ocel.sqlite", "manifest.json"} <= {f.name for f in (tmp_path / "c").iterdir()}
