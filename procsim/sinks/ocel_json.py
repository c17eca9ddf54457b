"""``ocel.json``: the run as an OCEL 2.0 JSON log (object types, event types, objects, events).

Every complete event of the flat logs is an OCEL event with the same ``event_id``, its activity as event type
and ``start_time`` (of the activity instance), ``resource``, ``role``, ``cost`` as attributes; start events are
not OCEL events (one event per activity instance: procsim.objects). Master-data objects are written at the end. Attribute values are text,
as the OCEL 2.0 JSON schema requires; readers restore types from the declared attribute types. Events and
objects stream to two spool files (objects once their case is finished); ``close`` writes the types, which
are known only then, and concatenates the spools into the final file.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import IO, Any

from procsim.objects import ObjectModel, ObjectRecord, event_attributes, text
from procsim.records import CaseBatch, EventBatch, exception_ids
from procsim.sinks.base import Sink, SinkContext

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


EventRows = list[tuple[str, str, str, list[tuple[str, str]], list[tuple[str, str]]]]
# both OCEL sinks read the same batch one after the other: convert it once (the batch is kept, so its id is not
# reused while it is cached)
_last: list[tuple[EventBatch, EventRows]] = []


def event_rows(batch: EventBatch, attributes: tuple[tuple[str, str], ...], starts: dict[str, str],
               exc_meta: dict[str, Any] | None = None) -> EventRows:
    """(id, type, time, attributes as text, relationships) per complete event of a batch, in output order;
    ``starts`` (complete event id -> start time) is read once, so the conversion is cached for the other sink."""
    if _last and _last[0][0] is batch:
        return _last[0][1]
    rows = _event_rows(batch, attributes, starts, exc_meta or {})
    _last[:] = [(batch, rows)]
    return rows


def _event_rows(batch: EventBatch, attributes: tuple[tuple[str, str], ...], starts: dict[str, str],
                exc_meta: dict[str, Any]) -> EventRows:
    t = batch.table
    ids = t.column("event_id").to_pylist()
    acts = t.column("activity").to_pylist()
    life = t.column("lifecycle").to_pylist()
    cols = [(name, t.column(name).to_pylist() if name != "exception_id" else
             exception_ids(t.column("exception").to_pylist(), t.column("case_id").to_pylist(), exc_meta))
            for name, _ in attributes if name != "start_time"]
    rels: dict[str, list[tuple[str, str]]] = {}
    for eid, oid, q in batch.links or ():
        rels.setdefault(eid, []).append((oid, q))
    out = []
    pop = starts.pop
    for i, eid in enumerate(ids):
        if life[i] != "complete":
            continue
        start = pop(eid, None)
        attrs = [("start_time", start)] if start is not None else []
        attrs += [(name, text(values[i])) for name, values in cols if values[i] is not None]
        out.append((eid, acts[i], str(batch.iso[i]), attrs, rels.get(eid, [])))
    return out


class OcelJsonSink(Sink):
    """``ocel.json``: the object-centric event log in OCEL 2.0 JSON (events, objects, links)."""

    format = "ocel-json"
    filename = "ocel.json"

    def __init__(self, ctx: SinkContext) -> None:
        super().__init__(ctx)
        model = ctx.extra.get("objects")
        assert isinstance(model, ObjectModel), "run() passes the object model to OCEL sinks"
        self.model = model
        self.attributes = event_attributes(bool(ctx.extra.get("batches")),
                                           bool(ctx.extra.get("labelled")) and ctx.labels_in_log)
        self.exc_meta = ctx.extra.get("exc_meta") or {}
        self.event_types: dict[str, None] = {}
        self._spools = [self.claim(f"{self.filename}.objects"), self.claim(f"{self.filename}.events")]
        self._objects: IO[str] = self._spools[0].open("w", encoding="utf-8")
        self._events: IO[str] = self._spools[1].open("w", encoding="utf-8")
        self._first = [True, True]

    def write_events(self, batch: EventBatch) -> None:
        parts = []
        types = self.event_types
        for eid, typ, time, attrs, rels in event_rows(batch, self.attributes, self.model.start_times, self.exc_meta):
            if typ not in types:
                types[typ] = None
            parts.append(_dumps({"id": eid, "type": typ, "time": time,
                                 "attributes": [{"name": n, "value": v} for n, v in attrs],
                                 "relationships": [{"objectId": o, "qualifier": q} for o, q in rels]}))
        self._write(1, self._events, parts)

    def write_cases(self, batch: CaseBatch) -> None:
        self._write(0, self._objects, [_dumps(_object(o)) for o in batch.objects or ()])

    def _write(self, k: int, f: IO[str], parts: list[str]) -> None:
        if not parts:
            return
        f.write(("" if self._first[k] else ",\n") + ",\n".join(parts))
        self._first[k] = False

    def _finish(self) -> None:
        _last.clear()
        for f in (self._objects, self._events):
            if not f.closed:
                f.close()
        if not self._spools[0].exists():
            return  # finished already
        master = self.model.master_records()
        if master:
            with self._spools[0].open("a", encoding="utf-8") as f:
                self._write(0, f, [_dumps(_object(o)) for o in master])
        attrs = [{"name": n, "type": t} for n, t in self.attributes]
        otypes = [_dumps({"name": name, "attributes": [{"name": n, "type": t} for n, t in fields]})
                  for name, fields in self.model.object_types]
        etypes = [_dumps({"name": name, "attributes": attrs}) for name in self.event_types]
        with self.temp.open("w", encoding="utf-8") as out:
            # one type, object or event a line: readable, diffable, and still streamed
            out.write('{\n "objectTypes": [\n' + ",\n".join(otypes) + '\n ],\n "eventTypes": [\n'
                      + ",\n".join(etypes) + "\n ]")
            for key, spool in (("objects", self._spools[0]), ("events", self._spools[1])):
                out.write(f',\n "{key}": [\n')
                with spool.open(encoding="utf-8") as f:
                    shutil.copyfileobj(f, out, 1 << 20)
                out.write("\n ]")
            out.write("\n}\n")
        self._cleanup()

    def _cleanup(self) -> None:
        for p in self._spools:
            Path(p).unlink(missing_ok=True)

    def abort(self) -> None:
        super().abort()
        self._cleanup()


def _object(o: ObjectRecord) -> dict[str, Any]:
    attrs = [{"name": n, "value": text(v), "time": o.time} for n, v in o.values]
    attrs += [{"name": n, "value": text(v), "time": t} for t, n, v in o.changes]
    if o.exceptions:
        attrs.append({"name": "exception_id", "value": o.exceptions, "time": o.time})
    return {"id": o.id, "type": o.type, "attributes": attrs,
            "relationships": [{"objectId": oid, "qualifier": q} for oid, q in o.links]}
