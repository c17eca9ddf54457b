"""``ocel.sqlite``: the run as an OCEL 2.0 SQLite log, in the table layout of the standard's example file.

Core tables ``event``, ``object``, ``event_object``, ``object_object``, ``event_map_type``, ``object_map_type``;
one ``event_<Type>`` table per event type (``ocel_id``, ``ocel_time``, attributes) and one ``object_<Type>``
table per object type (``ocel_id``, ``ocel_time``, attributes, ``ocel_changed_field``: a row with it empty holds
the values at creation, each later row one changed field). Primary and foreign keys are declared; times are
ISO 8601 text with offset, like the other outputs. Written to the temporary name, renamed on close.
"""

from __future__ import annotations

import re
import sqlite3

from procsim.objects import ObjectModel, ObjectRecord, event_attributes, text
from procsim.records import CaseBatch, EventBatch
from procsim.sinks.base import Sink, SinkContext
from procsim.sinks.ocel_json import event_rows

_SQL_TYPES = {"float": "REAL", "integer": "INTEGER", "string": "TEXT", "boolean": "TEXT", "time": "TEXT"}

_CORE = """
CREATE TABLE event_map_type (ocel_type TEXT, ocel_type_map TEXT, PRIMARY KEY(ocel_type));
CREATE TABLE object_map_type (ocel_type TEXT, ocel_type_map TEXT, PRIMARY KEY(ocel_type));
CREATE TABLE event (ocel_id TEXT, ocel_type TEXT, PRIMARY KEY(ocel_id),
    FOREIGN KEY(ocel_type) REFERENCES event_map_type(ocel_type));
CREATE TABLE object (ocel_id TEXT, ocel_type TEXT, PRIMARY KEY(ocel_id),
    FOREIGN KEY(ocel_type) REFERENCES object_map_type(ocel_type));
CREATE TABLE event_object (ocel_event_id TEXT, ocel_object_id TEXT, ocel_qualifier TEXT,
    PRIMARY KEY(ocel_event_id, ocel_object_id, ocel_qualifier),
    FOREIGN KEY(ocel_event_id) REFERENCES event(ocel_id), FOREIGN KEY(ocel_object_id) REFERENCES object(ocel_id));
CREATE TABLE object_object (ocel_source_id TEXT, ocel_target_id TEXT, ocel_qualifier TEXT,
    PRIMARY KEY(ocel_source_id, ocel_target_id, ocel_qualifier),
    FOREIGN KEY(ocel_source_id) REFERENCES object(ocel_id), FOREIGN KEY(ocel_target_id) REFERENCES object(ocel_id));
"""


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def table_suffix(type_name: str, taken: dict[str, str]) -> str:
    """``Create purchase order`` -> ``CreatePurchaseOrder`` (unique among the suffixes already taken)."""
    base = "".join(w[:1].upper() + w[1:] for w in re.split(r"[^0-9A-Za-z]+", type_name) if w) or "Type"
    name, k = base, 1
    while name in taken.values():
        k += 1
        name = f"{base}{k}"
    taken[type_name] = name
    return name


class OcelSqliteSink(Sink):
    """``ocel.sqlite``: the object-centric event log in the OCEL 2.0 SQLite schema."""

    format = "ocel-sqlite"
    filename = "ocel.sqlite"

    def __init__(self, ctx: SinkContext) -> None:
        super().__init__(ctx)
        model = ctx.extra.get("objects")
        assert isinstance(model, ObjectModel), "run() passes the object model to OCEL sinks"
        self.model = model
        # the empty file Sink.claim made exclusively: SQLite takes an empty file as a new database
        self.db: sqlite3.Connection | None = sqlite3.connect(self.temp)
        self.db.executescript(_CORE)
        self.event_tables: dict[str, str] = {}
        self.object_tables: dict[str, str] = {}
        self.object_fields: dict[str, list[str]] = {}
        self.attributes = event_attributes(bool(ctx.extra.get("batches")),
                                           bool(ctx.extra.get("labelled")) and ctx.labels_in_log)
        self.exc_meta = ctx.extra.get("exc_meta") or {}
        ev_cols = ", ".join(f"{_q(n)} {_SQL_TYPES[t]}" for n, t in self.attributes)
        self._event_cols = ev_cols
        for name, fields in model.object_types:
            suffix = table_suffix(name, self.object_tables)
            cols = "".join(f", {_q(n)} {_SQL_TYPES.get(t, 'TEXT')}" for n, t in fields)
            self.db.execute(f"CREATE TABLE {_q('object_' + suffix)} (ocel_id TEXT, ocel_time TEXT{cols}, "
                            "ocel_changed_field TEXT, FOREIGN KEY(ocel_id) REFERENCES object(ocel_id))")
            self.db.execute("INSERT INTO object_map_type VALUES (?, ?)", (name, suffix))
            self.object_fields[name] = [n for n, _ in fields]

    def write_events(self, batch: EventBatch) -> None:
        db = self.db
        assert db is not None
        names = [n for n, _ in self.attributes]
        by_type: dict[str, list[tuple[object, ...]]] = {}
        events = []
        for eid, typ, time, attrs, _rels in event_rows(batch, self.attributes, self.model.start_times, self.exc_meta):
            if typ not in self.event_tables:
                suffix = table_suffix(typ, self.event_tables)
                db.execute(f"CREATE TABLE {_q('event_' + suffix)} (ocel_id TEXT, ocel_time TEXT, "
                           f"{self._event_cols}, PRIMARY KEY(ocel_id), "
                           "FOREIGN KEY(ocel_id) REFERENCES event(ocel_id))")
                db.execute("INSERT INTO event_map_type VALUES (?, ?)", (typ, suffix))
            values = dict(attrs)
            by_type.setdefault(typ, []).append((eid, time, *(values.get(n) for n in names)))
            events.append((eid, typ))
        db.executemany("INSERT INTO event VALUES (?, ?)", events)
        for typ, rows in by_type.items():
            db.executemany(f"INSERT INTO {_q('event_' + self.event_tables[typ])} VALUES "
                           f"({', '.join('?' * (2 + len(names)))})", rows)
        db.executemany("INSERT INTO event_object VALUES (?, ?, ?)", batch.links or ())

    def write_cases(self, batch: CaseBatch) -> None:
        self._write_objects(batch.objects or [])

    def _write_objects(self, objects: list[ObjectRecord]) -> None:
        db = self.db
        assert db is not None
        db.executemany("INSERT INTO object VALUES (?, ?)", [(o.id, o.type) for o in objects])
        db.executemany("INSERT INTO object_object VALUES (?, ?, ?)",
                       [(o.id, target, q) for o in objects for target, q in o.links])
        rows: dict[str, list[tuple[object, ...]]] = {}
        for o in objects:
            fields = self.object_fields[o.type]
            values = dict(o.values)
            if o.exceptions:
                values["exception_id"] = o.exceptions
            out = rows.setdefault(o.type, [])
            out.append((o.id, o.time, *(_cell(values.get(f)) for f in fields), None))
            for t, f, v in o.changes:
                out.append((o.id, t, *(_cell(v) if g == f else None for g in fields), f))
        for typ, rs in rows.items():
            n = len(self.object_fields[typ])
            db.executemany(f"INSERT INTO {_q('object_' + self.object_tables[typ])} VALUES "
                           f"({', '.join('?' * (3 + n))})", rs)

    def _finish(self) -> None:
        if self.db is not None:
            self._write_objects(self.model.master_records())  # shared by cases: written once, at the end
            self.db.commit()
            self.db.close()
            self.db = None


def _cell(v: object) -> object:
    """Numbers stay numbers (typed columns); booleans and times as the text JSON uses."""
    if v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)):
        return v
    return text(v)
