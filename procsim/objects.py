"""Business objects (OCEL 2.0 objects): their checks at load, and deriving them from the event stream.

A process declares objects under ``objects:``; the case itself is always an object of type ``case``. An object
is created or updated by the *complete* event of an activity, so objects are derived in the records stage from
the events as the recorder numbers them, not inside the simulation: this costs a run without OCEL output
nothing, numbers objects in output order (deterministic whatever the flush size), and gives every
event-to-object link the very ``event_id`` of the flat logs. Fields read the attribute snapshot of the creating
event, so an exception that alters case data alters the objects made after it, and a duplicated complete event
(a duplicate invoice) makes a duplicate object.

Links: the creating event ``creates`` the object (and its line items), an ``updated_by`` activity's complete
event ``updates`` it (changed field values are recorded, time-stamped), events of ``used_by`` activities (start
and complete) ``use`` the case's objects of that type, every event links to its case object (``case``).
Object-to-object: ``refers to`` (from ``refers_to``) and ``contains`` (an object's line items).

Lifecycle: OCEL has one event per activity instance, its *complete* event (same ``event_id`` as in the flat
logs), with the start time as the attribute ``start_time``; start events are not OCEL events, so flattening
on an object type never sees start->complete pairs of one activity.

Master data (``procsim.masterdata``): the case object refers to the master objects its attributes name
(qualifier: the attribute), events of a type's ``used_by`` activities link to the case's object of that type,
events performed by an employee link to the employee (``performed by``), and ``refers_to`` may name a master
type (the case's objects of that type).
"""

from __future__ import annotations

import datetime as dt
import string
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from procsim.errors import Problem
from procsim.lineitems import ROLE_FIELDS, ROLE_ITEM_FIELDS, LineBook, LineFit
from procsim.rows import EventRow
from procsim.rules.expr import Compiled, ExprRuntimeError, compile_at, compile_expr, describe_error
from procsim.spec.paths import number_problem
from procsim.timebase import TimeBase

if TYPE_CHECKING:
    from procsim.masterdata import World
    from procsim.spec import LoadedProcess

CASE_TYPE = "case"
MAX_LINES = 1000
# expression type -> OCEL 2.0 attribute type
OCEL_TYPES = {"number": "float", "integer": "integer", "string": "string", "bool": "boolean", "datetime": "time"}
EVENT_ATTRIBUTES = (("start_time", "time"), ("resource", "string"), ("role", "string"), ("cost", "float"))
BATCH_ATTRIBUTE = ("batch", "string")  # an event attribute too when the process has batched activities


EXCEPTION_ATTRIBUTE = ("exception_id", "string")  # the exception instances on an event (exceptions.csv)


def event_attributes(batches: bool, exceptions: bool = False) -> tuple[tuple[str, str], ...]:
    """The OCEL attributes of every event type: with the batch id when the run has batched activities, and
    the exception instances' ids when the process can produce exceptions and labels go into the log."""
    return (EVENT_ATTRIBUTES + ((BATCH_ATTRIBUTE,) if batches else ())
            + ((EXCEPTION_ATTRIBUTE,) if exceptions else ()))


def object_names(loaded: LoadedProcess, types: dict[str, str]) -> dict[str, Any]:
    """Names a field may read: the rule language's names, except ``history`` (not in the event stream)."""
    from procsim.rules.engine import expression_names

    names = expression_names(loaded, types)
    names.pop("history", None)
    return names


def _pattern_prefix(pattern: str) -> str | None:
    """The literal text before ``{n...}`` when the pattern has exactly one field, named ``n``; else None."""
    try:
        parts = list(string.Formatter().parse(pattern))
    except ValueError:
        return None
    fields = [p for p in parts if p[1] is not None]
    if len(fields) != 1 or fields[0][1] != "n" or fields[0][2] is None or fields[0][3]:
        return None
    try:
        pattern.format(n=1)
    except (ValueError, TypeError):
        return None
    return parts[0][0]


def check_objects(loaded: LoadedProcess, types: dict[str, str]) -> list[Problem]:
    """Names (activities, objects) with did-you-mean, number patterns, field expressions with carets."""
    from procsim.errors import suggest as _suggest

    spec, smap = loaded.spec, loaded.smap
    problems: list[Problem] = []
    names = object_names(loaded, types)
    acts = spec.activities
    prefixes: dict[str, str] = {spec.process.case_prefix: "the case ids (process.case_prefix)"}
    item_types: dict[str, str] = {}
    for oname, o in spec.objects.items():
        loc: tuple[Any, ...] = ("objects", oname)
        if oname == CASE_TYPE:
            problems.append(smap.problem(loc, "'case' is the object type of the case itself; call the object "
                                         "something else", "reserved_name", at_key=True))
        refs: list[tuple[tuple[Any, ...], str]] = (
            [(loc + ("created_by",), o.created_by)] if isinstance(o.created_by, str)
            else [(loc + ("created_by", i), a) for i, a in enumerate(o.created_by)])
        refs += [(loc + ("updated_by", i), a) for i, a in enumerate(o.updated_by)]
        refs += [(loc + ("used_by", i), a) for i, a in enumerate(o.used_by)]
        for where, a in refs:
            if a not in acts:
                problems.append(smap.problem(where, f"unknown activity '{a}'{_suggest(a, acts)}",
                                             "unknown_activity"))
        for i, r in enumerate(o.refers_to):
            if r not in spec.objects and r not in spec.master_data:
                problems.append(smap.problem(loc + ("refers_to", i), f"unknown object '{r}'"
                                             f"{_suggest(r, spec.objects)}", "unknown_object"))
        unsafe = number_problem(o.number)  # before formatting: a huge width would be built
        prefix = _pattern_prefix(o.number) if unsafe is None else ""
        if unsafe is not None:
            problems.append(smap.problem(loc + ("number",), unsafe, "unsafe_number"))
        elif prefix is None:
            problems.append(smap.problem(loc + ("number",), f"number pattern {o.number!r} needs exactly one field "
                                         "'{n...}', like 'PO-{n:06d}'", "bad_number"))
        elif not prefix:
            problems.append(smap.problem(loc + ("number",), "a number pattern starts with text of its own, like "
                                         "'PO-{n:06d}', so that ids of different types never collide",
                                         "bad_number"))
        else:
            for other, who in prefixes.items():
                if prefix.startswith(other) or other.startswith(prefix):
                    problems.append(smap.problem(loc + ("number",), f"number prefix '{prefix}' overlaps '{other}' "
                                                 f"of {who}; ids must be unique per run", "number_clash"))
                    break
            prefixes[prefix] = f"objects.{oname}"
        for fname, src in o.fields.items():
            compile_at(smap, loc + ("fields", fname), src, names, problems)
        if o.lines is not None:
            item = o.lines.item
            if item in spec.objects or item == CASE_TYPE or item in item_types:
                problems.append(smap.problem(loc + ("lines", "item"), f"item type '{item}' is already the type of "
                                             f"{item_types.get(item, 'an object')}; give the items a type of "
                                             "their own", "duplicate_type"))
            item_types[item] = f"objects.{oname}.lines"
            compile_at(smap, loc + ("lines", "count"), o.lines.count, names, problems, expect="number")
            lnames = {**names, "line": "number", "lines": "number"}
            types_of: dict[str, str] = {}
            for fname, src in o.lines.fields.items():
                c = compile_at(smap, loc + ("lines", "fields", fname), src, lnames, problems)
                types_of[fname] = c.type if c is not None else "any"
            for total, field in o.lines.sums.items():
                where = loc + ("lines", "sums", total)
                if field not in types_of:
                    problems.append(smap.problem(where, f"unknown item field '{field}'{_suggest(field, types_of)}",
                                                 "unknown_field"))
                elif types_of[field] not in ("number", "any"):
                    problems.append(smap.problem(where, f"item field '{field}' is a {types_of[field]}; a sum "
                                                 "needs a number", "not_a_number"))
                if total in o.fields:
                    problems.append(smap.problem(where, f"'{total}' is already a field of the object; a sum needs "
                                                 "a name of its own", "duplicate_field", at_key=True))
    return problems


class ObjectRecord:
    """One object as the run made it: initial values at ``time``, later changes, links to other objects,
    and where it came from (its case and the event that made it: what a rendered document refers to)."""

    __slots__ = ("id", "type", "time", "values", "changes", "links", "items", "case_id", "event_id",
                 "discrepancies", "exceptions")

    def __init__(self, oid: str, otype: str, time: str, values: list[tuple[str, Any]], case_id: str,
                 event_id: str) -> None:
        self.id = oid
        self.type = otype
        self.time = time  # ISO 8601 with offset, like every output timestamp
        self.case_id = case_id
        self.event_id = event_id  # the event that created it (for the case object: the case's first event)
        self.values = values  # (field, value) at creation; None values are left out
        self.changes: list[tuple[str, str, Any]] = []  # (time, field, new value)
        self.links: list[tuple[str, str]] = []  # (target object id, qualifier)
        self.items: list[ObjectRecord] = []  # line items (objects of their own, linked 'contains')
        # (exception label, fields it changed: "INV-000001/2.unit_price"): a document exception's ground truth
        self.discrepancies: list[tuple[str, list[str]]] = []
        # the exception instances (exceptions.csv's exception_id, ";"-joined) that name this object in their
        # object_ids: the OCEL attribute exception_id (ObjectModel.carry_exceptions); not a field of documents
        self.exceptions = ""

    def current(self) -> dict[str, Any]:
        """The field values after the last change."""
        out = dict(self.values)
        for _, name, value in self.changes:
            out[name] = value
        return out


class _Kind:
    """A compiled object type."""

    __slots__ = ("name", "number", "fields", "refers", "count", "item", "item_fields", "sums", "n", "role")

    def __init__(self, name: str, number: str, fields: list[tuple[str, Compiled]], refers: list[str],
                 count: Compiled | None, item: str, item_fields: list[tuple[str, Compiled]],
                 sums: list[tuple[str, str]]) -> None:
        self.name = name
        self.number = number
        self.fields = fields
        self.refers = refers
        self.count = count
        self.item = item
        self.item_fields = item_fields
        self.sums = sums
        self.n = 0
        self.role: str | None = None  # the line_items role (procsim.lineitems)


class _CaseState:
    __slots__ = ("obj", "snap", "by_type", "made")

    def __init__(self, obj: ObjectRecord, snap: tuple[Any, ...]) -> None:
        self.obj = obj
        self.snap = snap
        self.by_type: dict[str, list[ObjectRecord]] = {}
        self.made: list[ObjectRecord] = []  # creation order


class ObjectModel:
    """Compiled object declarations plus the per-run state: objects of running cases, counters per type."""

    def __init__(self, loaded: LoadedProcess, types: dict[str, str], seed: int = 0,
                 world: World | None = None, fit: LineFit | None = None) -> None:
        spec = loaded.spec
        # the documents' view of the case's drawn line items, for objects with a line_items role (``fit``: the
        # lines a scheme or near miss changed, shared with the simulation)
        self.line_book = LineBook(spec, seed, fit, world) if spec.line_items is not None else None
        # line items whose materials are master-data objects link to them (qualifier: the type)
        self.item_master = spec.line_items.master if spec.line_items is not None else None
        names = object_names(loaded, types)
        lnames = {**names, "line": "number", "lines": "number"}
        self.attr_names = list(types)
        self.object_types: list[tuple[str, list[tuple[str, str]]]] = [
            (CASE_TYPE, [(n, OCEL_TYPES.get(t, "string")) for n, t in types.items()])]
        self.kinds: dict[str, _Kind] = {}
        # per activity id: kinds it creates, kinds it updates, kinds its events use (by id, not by the name the
        # log shows: two activities may share a name, like the copies of one sub-process in two calls)
        self.creates: dict[str, list[_Kind]] = {}
        self.updates: dict[str, list[_Kind]] = {}
        self.uses: dict[str, list[str]] = {}
        for oname, o in spec.objects.items():
            fields = [(f, compile_expr(src, names)) for f, src in o.fields.items()]
            lines = o.lines
            item_fields = [(f, compile_expr(src, lnames)) for f, src in lines.fields.items()] if lines else []
            kind = _Kind(oname, o.number, fields, list(o.refers_to),
                         compile_expr(lines.count, names, expect="number") if lines else None,
                         lines.item if lines else "", item_fields, list(lines.sums.items()) if lines else [])
            self.kinds[oname] = kind
            own = len(self.object_types)
            self.object_types.append((oname, [(f, OCEL_TYPES.get(c.type, "string")) for f, c in fields]
                                      + [(f, "float") for f, _ in kind.sums]))
            if lines is not None:
                self.object_types.append((lines.item, [("line", "integer")] + [
                    (f, OCEL_TYPES.get(c.type, "string")) for f, c in item_fields]))
            if o.line_items is not None:
                kind.role = o.line_items
                self.object_types[own][1].extend(ROLE_FIELDS[o.line_items])
                if ROLE_ITEM_FIELDS[o.line_items]:
                    self.object_types.append((f"{oname}_line", list(ROLE_ITEM_FIELDS[o.line_items])))
            for a in dict.fromkeys(o.creators()):
                self.creates.setdefault(a, []).append(kind)
            for a in dict.fromkeys(o.updated_by):
                self.updates.setdefault(a, []).append(kind)
            for a in dict.fromkeys(o.used_by):
                self.uses.setdefault(a, []).append(oname)
        # master data: (attribute index, attribute, type) of each reference; activity id -> (attribute index,
        # type) its events link to; member name -> employee object id
        self.world = world
        self.refs: list[tuple[int, str, str]] = []
        self.master_uses: dict[str, list[tuple[int, str]]] = {}
        self.employees: dict[str, str] = {}
        if world is not None:
            self.object_types += world.ocel_types(spec)
            index = {n: i for i, n in enumerate(self.attr_names)}
            self.refs = [(index[n], n, a.master) for n, a in spec.attributes.items()
                         if a.master is not None and "." not in a.master]
            for tname, t in spec.master_data.items():
                for act in dict.fromkeys(t.used_by):
                    self.master_uses.setdefault(act, []).extend((i, tname) for i, _, ty in self.refs if ty == tname)
            self.employees = world.employee_of
        # object id -> the exception instances naming it (carry_exceptions): master objects' until the end
        self.exc_ids: dict[str, list[str]] | None = None
        self.timebase: TimeBase | None = None
        self.open_starts: dict[tuple[int, str], list[float]] = {}  # (case, activity) -> start times not completed
        self.start_times: dict[str, str] = {}  # complete event id -> its start time (read once by the OCEL sinks)
        self.t_end = 0.0  # the last event's time: master objects' changes are written up to here
        self._master: list[ObjectRecord] | None = None
        self.touched: set[str] = set()  # master objects something links to: the ones OCEL holds
        self.n_events = 0  # OCEL events (complete events)
        self.starts: dict[int, float] = {}
        self.cases: dict[int, _CaseState] = {}
        self.n_objects = 0
        self.n_links = 0
        self.n_object_links = 0
        # a shard's run (procsim.shards): its event ids ('R02-E17', as the recorder numbers them) and a prefix of
        # every object id it makes or links to ('R02-PO-000001', 'R02-V-0042'), unique across the run's shards
        self.event_prefix = "E"
        self.id_prefix = ""

    def bind(self, timebase: TimeBase) -> None:
        """Start a run: counters from zero."""
        self.timebase = timebase
        self.starts.clear()
        self.cases.clear()
        for k in self.kinds.values():
            k.n = 0
        if self.line_book is not None:
            self.line_book.cases.clear()
        self.n_objects = self.n_links = self.n_object_links = self.n_events = 0
        self.open_starts.clear()
        self.start_times.clear()
        self.t_end = 0.0
        self._master = None
        self.touched.clear()

    def carry_exceptions(self) -> None:
        """Every object type gets the attribute ``exception_id``: the ids of the exception instances whose
        exceptions.csv row names the object in ``object_ids`` (set through ``mark``)."""
        if self.exc_ids is None:
            self.exc_ids = {}
            for _, fields in self.object_types:
                if all(f != EXCEPTION_ATTRIBUTE[0] for f, _ in fields):
                    fields.append(EXCEPTION_ATTRIBUTE)

    def mark(self, rows: Sequence[tuple[str, bool, str]]) -> None:
        """(exception id, is an exception, object ids) per exceptions.csv row: the objects to carry the id (near
        misses are not exceptions and carry nothing, as on events)."""
        ids = self.exc_ids
        if ids is None:
            return
        for xid, real, objs in rows:
            if real and objs:
                for oid in objs.split(";"):
                    got = ids.setdefault(oid, [])
                    if xid not in got:
                        got.append(xid)

    def _stamp(self, objs: Sequence[ObjectRecord], keep: bool) -> None:
        ids = self.exc_ids
        if ids:
            for o in objs:
                got = ids.get(o.id) if keep else ids.pop(o.id, None)
                if got:
                    o.exceptions = ";".join(got)

    def open_case(self, idx: int, start: float) -> None:
        self.starts[idx] = start

    def master_records(self) -> list[ObjectRecord]:
        """The master-data objects an event or object links to, with their changes up to the last event (written
        once, at the end; objects no case touched are left out, as an extract of the log's objects would)."""
        if self.world is None:
            return []
        if self._master is None:  # both OCEL sinks ask: made and counted once
            assert self.timebase is not None
            self._master = self.world.records(self.t_end, self.timebase.iso_one, self.touched)
            if self.id_prefix:
                pre = self.id_prefix
                for o in self._master:
                    o.id = pre + o.id
                    o.links = [(pre + t, q) for t, q in o.links]
            # after the prefix: exceptions.csv names objects by their ids in this log (links carry the prefix)
            self._stamp(self._master, True)
            self.n_objects += len(self._master)
            self.n_object_links += sum(len(o.links) for o in self._master)
        return self._master

    def close_case(self, idx: int) -> list[ObjectRecord]:
        """The objects of a finished case (its case object first, then in creation order)."""
        self.starts.pop(idx, None)
        if self.line_book is not None:
            self.line_book.close(idx)
        st = self.cases.pop(idx, None)
        if st is None:
            return []
        out = [st.obj]
        for o in st.made:
            out.append(o)
            out.extend(o.items)
        self._stamp(out, False)
        return out

    def link(self, rows: Sequence[EventRow], first: int, case_ids: dict[int, str]
             ) -> list[tuple[str, str, str]]:
        """Event-to-object links of a batch of event rows in output order (``first`` + 1 is the first id);
        creates and updates objects on the way."""
        tb = self.timebase
        assert tb is not None
        out: list[tuple[str, str, str]] = []
        cases = self.cases
        creates, updates, uses = self.creates, self.updates, self.uses
        epre, pre = self.event_prefix, self.id_prefix
        for j, row in enumerate(rows):
            eid = f"{epre}{first + 1 + j}"
            t, cidx, aid, life, snap = row.time, row.case, row.activity.id, row.lifecycle, row.snapshot
            st = cases.get(cidx)
            if st is None:
                cid = case_ids[cidx]
                st = cases[cidx] = _CaseState(ObjectRecord(cid, CASE_TYPE, tb.iso_one(t), [
                    (n, v) for n, v in zip(self.attr_names, snap) if v is not None], cid, eid), snap)
                self.n_objects += 1
                if self.refs:  # the case's master objects: the same ids in many cases
                    raw = [(snap[i], n) for i, n, _ in self.refs if snap[i] is not None]
                    st.obj.links.extend((pre + oid, n) for oid, n in raw)
                    self.n_object_links += len(st.obj.links)
                    self.touched.update(oid for oid, _ in raw)
            elif snap is not st.snap:
                old, st.snap = st.snap, snap
                if old != snap:
                    when = tb.iso_one(t)
                    st.obj.changes.extend((when, n, v) for n, v, w in zip(self.attr_names, snap, old)
                                          if v != w and v is not None)
            if t > self.t_end:
                self.t_end = t
            if life != 1:
                # a start is no OCEL event: its time becomes the start_time of the activity's complete event
                self.open_starts.setdefault((cidx, aid), []).append(t)
                continue
            pending = self.open_starts.get((cidx, aid))
            if pending:
                self.start_times[eid] = tb.iso_one(pending.pop(0))
                if not pending:
                    del self.open_starts[cidx, aid]
            self.n_events += 1
            out.append((eid, st.obj.id, "case"))
            if aid in self.master_uses:
                for i, tname in self.master_uses[aid]:
                    if snap[i] is not None:
                        out.append((eid, pre + snap[i], tname))
                        self.touched.add(snap[i])
            if self.employees and row.resource in self.employees:
                out.append((eid, pre + self.employees[row.resource], "performed by"))
                self.touched.add(self.employees[row.resource])
            if aid in uses:
                for oname in uses[aid]:
                    for o in st.by_type.get(oname, ()):
                        out.append((eid, o.id, "uses"))
            if aid in creates or aid in updates:
                env = self._env(row, st, case_ids[cidx])
                for kind in updates.get(aid, ()):
                    for o in st.by_type.get(kind.name, ()):
                        self._update(kind, o, env)
                        out.append((eid, o.id, "updates"))
                for kind in creates.get(aid, ()):
                    o = self._create(kind, st, env, eid)
                    out.append((eid, o.id, "creates"))
                    for item in o.items:
                        out.append((eid, item.id, "creates"))
                    if self.item_master is not None:  # the event handles the lines' materials too
                        linked = {oid for e, oid, _ in out if e == eid}
                        for item in o.items:
                            mat = item.links[-1][0] if item.links else None
                            if mat is not None and mat not in linked:
                                linked.add(mat)
                                out.append((eid, mat, self.item_master))
        self.n_links += len(out)
        return out

    # -- objects --------------------------------------------------------------------------------

    def _env(self, row: EventRow, st: _CaseState, case_id: str) -> dict[str, Any]:
        assert self.timebase is not None
        env = dict(zip(self.attr_names, row.snapshot))
        t = row.time
        env.update(case_id=case_id, activity=row.activity.label, resource=row.resource, role=row.role,
                   now=self.timebase.to_datetime(t), elapsed=t - self.starts.get(row.case, t),
                   _time=t, _idx=row.case, _exc=row.exception)
        return env

    @staticmethod
    def _eval(c: Compiled, env: dict[str, Any], where: str) -> Any:
        try:
            return c.fn(env)
        except Exception as e:  # noqa: BLE001 - a field failing on some case's data: one clear error
            raise ExprRuntimeError(describe_error(e), where=f"{where}: {c.source}") from e

    def _create(self, kind: _Kind, st: _CaseState, env: dict[str, Any], eid: str) -> ObjectRecord:
        assert self.timebase is not None
        kind.n += 1
        oid = self.id_prefix + kind.number.format(n=kind.n)
        when = self.timebase.iso_one(env["_time"])
        values = [(f, self._eval(c, env, f"objects.{kind.name}.fields.{f}")) for f, c in kind.fields]
        cid = env["case_id"]
        o = ObjectRecord(oid, kind.name, when, [(f, v) for f, v in values if v is not None], cid, eid)
        self.n_objects += 1
        for r in kind.refers:
            for target in st.by_type.get(r, ()):
                o.links.append((target.id, "refers to"))
            for i, _, tname in self.refs:  # a master type: the case's objects of it
                if tname == r and st.snap[i] is not None:
                    o.links.append((self.id_prefix + st.snap[i], "refers to"))
                    self.touched.add(st.snap[i])
        if kind.count is not None:
            raw = self._eval(kind.count, env, f"objects.{kind.name}.lines.count")
            count = min(MAX_LINES, max(0, int(round(raw))))
            items = o.items
            lenv = dict(env, lines=count)
            for k in range(1, count + 1):
                lenv["line"] = k
                vals = [("line", k)] + [(f, self._eval(c, lenv, f"objects.{kind.name}.lines.fields.{f}"))
                                        for f, c in kind.item_fields]
                item = ObjectRecord(f"{oid}/{k}", kind.item, when, [(f, v) for f, v in vals if v is not None], cid,
                                    eid)
                items.append(item)
                o.links.append((item.id, "contains"))
            for total, field in kind.sums:
                # summed in cents: the total equals what a reader adds up from the rounded line values
                cents = sum(round(v * 100) for i in items for f, v in i.values
                            if f == field and isinstance(v, (int, float)))
                o.values.append((total, cents / 100))
            self.n_objects += count
        if kind.role is not None and self.line_book is not None:
            self.n_objects += self.line_book.create(kind.role, f"{kind.name}_line", o, env["_idx"], env["_exc"])
            if self.item_master is not None:
                for item in o.items:
                    mat = next((v for f, v in item.values if f == "material"), None)
                    if mat is not None:
                        item.links.append((self.id_prefix + mat, self.item_master))  # its id in this log
                        self.touched.add(mat)  # the world's own id (unprefixed), as for every master use
                        self.n_object_links += 1
        self.n_object_links += len(o.links)
        st.made.append(o)
        st.by_type.setdefault(kind.name, []).append(o)
        return o

    def _update(self, kind: _Kind, o: ObjectRecord, env: dict[str, Any]) -> None:
        assert self.timebase is not None
        current = o.current()
        when = self.timebase.iso_one(env["_time"])
        for f, c in kind.fields:
            v = self._eval(c, env, f"objects.{kind.name}.fields.{f}")
            if v is not None and current.get(f) != v:
                o.changes.append((when, f, v))


def text(v: Any) -> str:
    """An attribute value as OCEL 2.0 JSON and SQLite hold it: text, typed by the declared attribute type."""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dt.datetime):
        return v.isoformat(timespec="milliseconds")
    return str(v)
