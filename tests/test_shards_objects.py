"""OCEL 2.0 (JSON and SQLite) and documents in sharded runs (issue #14): object ids carry the shard like case and
event ids, every shard's objects and events are merged in shard order, the bytes do not depend on the number of
workers; streaming targets are refused with the reason."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import pytest

from procsim.errors import UsageError
from procsim.run import run
from procsim.sim.streams import shard_seed

ROOT = Path(__file__).resolve().parent.parent
P2P = ROOT / "processes" / "procure_to_pay.yaml"
FORMATS = ["csv", "ocel-json", "ocel-sqlite", "documents"]


@pytest.fixture(scope="module")
def sharded(tmp_path_factory):
    t = tmp_path_factory.mktemp("objects")
    one = run(P2P, t / "one", seed=3, cases=40, replications=2, workers=1, formats=FORMATS)
    run(P2P, t / "two", seed=3, cases=40, replications=2, workers=2, formats=FORMATS)
    plain = run(P2P, t / "plain", seed=shard_seed(3, 0, 2), cases=20, formats=FORMATS)
    return t, one, plain


def test_same_bytes_with_one_or_two_workers(sharded):
    t, _, _ = sharded
    names = sorted(p.relative_to(t / "one").as_posix() for p in (t / "one").rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(t / "two").as_posix() for p in (t / "two").rglob("*") if p.is_file())
    assert "ocel.json" in names and "ocel.sqlite" in names and "documents/index.csv" in names
    for n in names:
        if n != "manifest.json":
            assert (t / "one" / n).read_bytes() == (t / "two" / n).read_bytes(), n


def test_ocel_json_ids_unique_and_links_resolve(sharded):
    t, one, _ = sharded
    o = json.loads((t / "one" / "ocel.json").read_text(encoding="utf-8"))
    ids = [x["id"] for x in o["objects"]]
    assert len(ids) == len(set(ids)) == one.manifest["counts"]["objects"]
    events = [x["id"] for x in o["events"]]
    assert len(events) == len(set(events)) == one.manifest["counts"]["ocel_events"]
    # every id carries its shard, in shard order
    tags = [i.split("-", 1)[0] for i in ids]
    assert set(tags) == {"R01", "R02"} and tags == sorted(tags)
    assert [e.split("-", 1)[0] for e in events] == sorted(e.split("-", 1)[0] for e in events)
    known = set(ids)
    rels = [r["objectId"] for x in o["events"] for r in x["relationships"]]
    assert rels and all(r in known for r in rels)
    assert len(rels) == one.manifest["counts"]["event_object_links"]
    assert all(r["objectId"] in known for x in o["objects"] for r in x["relationships"])
    assert [x["name"] for x in o["objectTypes"]] == [x["name"] for x in json.loads(
        (t / "plain" / "ocel.json").read_text(encoding="utf-8"))["objectTypes"]]


def test_a_shards_objects_are_a_plain_runs_with_its_prefix(sharded):
    """Shard 2's OCEL is the plain run of the shard's seed with 'R02-' before every object and event id."""
    t, _, _ = sharded
    o = json.loads((t / "one" / "ocel.json").read_text(encoding="utf-8"))
    p = json.loads((t / "plain" / "ocel.json").read_text(encoding="utf-8"))
    mine = [x for x in o["events"] if x["id"].startswith("R02-")]
    assert [x["id"] for x in mine] == ["R02-" + x["id"] for x in p["events"]]
    assert [x["type"] for x in mine] == [x["type"] for x in p["events"]]
    assert [[r["objectId"] for r in x["relationships"]] for x in mine] == [
        ["R02-" + r["objectId"] for r in x["relationships"]] for x in p["events"]]
    assert [x["id"] for x in o["objects"] if x["id"].startswith("R02-")] == ["R02-" + x["id"] for x in p["objects"]]


def test_ocel_sqlite_merged(sharded):
    t, one, _ = sharded
    db = sqlite3.connect(t / "one" / "ocel.sqlite")
    try:
        counts = {x: db.execute(f"SELECT count(*) FROM {x}").fetchone()[0]
                  for x in ("event", "object", "event_object", "object_object")}
        assert counts == {"event": one.manifest["counts"]["ocel_events"], "object": one.manifest["counts"]["objects"],
                          "event_object": one.manifest["counts"]["event_object_links"],
                          "object_object": one.manifest["counts"]["object_object_links"]}
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        # every typed table holds exactly the events of its type, from both shards
        for typ, suffix in db.execute("SELECT ocel_type, ocel_type_map FROM event_map_type").fetchall():
            n = db.execute(f'SELECT count(*) FROM "event_{suffix}"').fetchone()[0]
            assert n == db.execute("SELECT count(*) FROM event WHERE ocel_type = ?", (typ,)).fetchone()[0] > 0
        assert {r[0][:4] for r in db.execute("SELECT ocel_id FROM object")} == {"R01-", "R02-"}
    finally:
        db.close()


def test_documents_merged_with_one_index(sharded):
    t, one, _ = sharded
    with (t / "one" / "documents" / "index.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows and [r["document_id"][:3] for r in rows] == sorted(r["document_id"][:3] for r in rows)
    assert {r["document_id"][:4] for r in rows} == {"R01-", "R02-"}
    for r in rows:
        assert (t / "one" / r["path"]).is_file() and (t / "one" / "documents" / f"{r['document_id']}.json").is_file()
    files = {p.name for p in (t / "one" / "documents").iterdir()}
    assert files == {"index.csv"} | {Path(r["path"]).name for r in rows} | {f"{r['document_id']}.json" for r in rows}
    with (t / "plain" / "documents" / "index.csv").open(encoding="utf-8") as f:
        plain = list(csv.DictReader(f))
    assert [r["document_id"] for r in rows if r["document_id"].startswith("R02-")] == [
        "R02-" + r["document_id"] for r in plain]
    import hashlib

    assert one.manifest["files"]["index.csv"]["sha256"] == hashlib.sha256(
        (t / "one" / "documents" / "index.csv").read_bytes()).hexdigest()


def test_rerun_replaces_merged_documents(sharded, tmp_path):
    out = tmp_path / "o"
    run(P2P, out, seed=3, cases=20, replications=2, workers=1, formats=["csv", "documents"])
    first = sorted(p.name for p in (out / "documents").iterdir())
    run(P2P, out, seed=4, cases=10, replications=2, workers=1, formats=["csv", "documents"])
    second = sorted(p.name for p in (out / "documents").iterdir())
    assert len(second) < len(first)  # the earlier run's documents went, none is mixed in


def test_streaming_targets_refused_with_the_reason(tmp_path):
    from procsim.targets.stream import StreamOptions

    opts = StreamOptions.from_flags([f"jsonl:{tmp_path / 'x.jsonl'}"], "max", None, False, None, tmp_path / "o", None)
    with pytest.raises(UsageError, match="shards are separate simulations of the same period"):
        run(P2P, tmp_path / "o", cases=10, replications=2, streaming=opts)
