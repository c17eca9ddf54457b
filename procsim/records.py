"""One internal schema for what a simulation produced: events, cases and objects, buffered then handed on in batches.

Events arrive in simulated-time order (the simulation records each at the moment it happens), so a batch
only needs a stable sort by (time, case) among equal times, and memory stays flat: a batch is flushed
every ``flush_every`` events, keeping back the events of the last timestamp so that ties that span a
flush are still ordered by case. A case row is handed on only after all its events.

The recorder also keeps the ground truth: labels per case (labels.csv), one row per exception instance and near
miss (exceptions.csv), and, for data-quality faults, the recorded values (they replace the true ones in the
events' snapshots here, so every format, object and document shows them) with their originals (field_labels.csv).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from operator import attrgetter
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from procsim.rows import ROW_CASE, ROW_TIME, ROW_TIME_CASE, EventRow
from procsim.timebase import TimeBase

if TYPE_CHECKING:
    from procsim.exceptions.quality import Quality
    from procsim.objects import ObjectModel, ObjectRecord
    from procsim.recording import Recording

LIFECYCLE = ("start", "complete")
_LABEL = attrgetter("label")
_LIFECYCLE = pa.array(LIFECYCLE, pa.string())



ARROW_TYPES: dict[str, pa.DataType] = {"number": pa.float64(), "integer": pa.int64(), "string": pa.string(),
                                       "bool": pa.bool_(), "any": pa.string()}

CORE_EVENT_COLUMNS = ("event_id", "case_id", "activity", "lifecycle", "timestamp", "resource", "role", "cost",
                      "rules", "exception")
CORE_CASE_COLUMNS = ("case_id", "status", "start", "end", "cycle_time_s", "events", "cost", "end_event", "rules",
                     "exceptions")


class Case:
    """A running case: its id, attributes (copy-on-write snapshots for event rows) and bookkeeping."""

    __slots__ = ("idx", "id", "attrs", "_snap", "names", "start", "end", "cost", "events", "status", "end_event",
                 "history", "visits", "rng", "rules_fired", "exceptions", "exc", "routed", "last", "pins")

    rng: np.random.Generator  # the case's flow stream, set by the engine when the case starts

    def __init__(self, idx: int, case_id: str, names: Sequence[str], attrs: dict[str, Any], start: float) -> None:
        self.idx = idx
        self.id = case_id
        self.names = names
        self.attrs = attrs
        self._snap: tuple[Any, ...] | None = None
        self.start = start
        self.end: float | None = None
        self.cost = 0.0
        self.events = 0
        self.status = "running"
        self.end_event = ""
        self.history: dict[str, list[str]] | None = None  # activity -> who did it (when rules read history)
        self.visits: dict[tuple[str, int], int] = {}
        self.routed = ""  # the rule that sent the case off its path (an escalation), for the next activity
        self.rules_fired: list[str] = []  # case-level rules (set/raise at the start), for cases.csv and explain
        self.exceptions: list[tuple[str, str]] = []  # (business exception, rule or injector that raised it)
        self.exc: Any = None  # procsim.exceptions.CaseExc when the process injects exceptions
        self.last = ""  # the activity the case completed last (for durations that depend on it)
        # activity id -> (pool, (member,)): who must do it (a scheme's one requester or approver), or None
        self.pins: dict[str, tuple[int, tuple[int]]] | None = None

    def snapshot(self) -> tuple[Any, ...]:
        snap = self._snap
        if snap is None:
            snap = self._snap = tuple(map(self.attrs.get, self.names))
        return snap

    def set(self, name: str, value: Any) -> None:
        self.attrs[name] = value
        self._snap = None

    def raise_exception(self, name: str, source: str) -> None:
        if (name, source) not in self.exceptions:
            self.exceptions.append((name, source))


@dataclass(frozen=True)
class EventBatch:
    """Events in output order. ``table`` is typed (timestamp is UTC-based with the process zone);
    ``iso`` (numpy) and ``iso_text`` (Arrow) hold the same timestamps as ISO 8601 text with offset, for text formats.

    Both are made on first use, on the writer thread (procsim.writer), and only if a text format asks:
    the time base's lookup tables are only ever touched from that one thread.
    """

    table: pa.Table
    times: np.ndarray  # simulation seconds of the rows
    timebase: TimeBase
    links: list[tuple[str, str, str]] | None = None  # (event_id, object_id, qualifier) when objects are kept

    @cached_property
    def iso(self) -> np.ndarray:
        return self.timebase.iso(self.times)

    @cached_property
    def iso_text(self) -> pa.Array:
        return self.timebase.iso_array(self.times)


@dataclass(frozen=True)
class CaseBatch:
    """Finished cases; ``start_iso``/``end_iso`` (Arrow text; end '' while running) made on first use, like
    EventBatch.iso_text."""

    table: pa.Table
    start: np.ndarray  # simulation seconds
    end: np.ndarray  # simulation seconds, NaN for a case still running
    timebase: TimeBase
    labels: pa.Table | None = None  # ground truth per case (LABEL_SCHEMA), when the recorder keeps labels
    objects: list[ObjectRecord] | None = None  # the finished cases' objects, when the recorder keeps objects
    exceptions: pa.Table | None = None  # one row per exception instance (EXCEPTION_SCHEMA), with labels
    field_labels: pa.Table | None = None  # data-quality faults (FIELD_LABEL_SCHEMA), when the process has them

    @cached_property
    def start_iso(self) -> pa.Array:
        return self.timebase.iso_array(self.start)

    @cached_property
    def end_iso(self) -> pa.Array:
        done = ~np.isnan(self.end)
        text = self.timebase.iso_array(np.where(done, self.end, self.start))
        return text if done.all() else pc.if_else(pa.array(done), text, "")


LABEL_SCHEMA = pa.schema([("case_id", pa.string()), ("is_exception", pa.bool_()), ("exceptions", pa.string()),
                          ("event_ids", pa.string()), ("omitted", pa.string())])
# labels.csv of a process with near misses: one more column (other processes keep their bytes)
NEAR_LABEL_SCHEMA = LABEL_SCHEMA.append(pa.field("near_miss", pa.string()))
# exceptions.csv: one row per exception instance (and per near miss, is_exception false)
EXCEPTION_SCHEMA = pa.schema([
    ("exception_id", pa.string()), ("name", pa.string()), ("type", pa.string()), ("is_exception", pa.bool_()),
    ("category", pa.string()), ("severity", pa.string()), ("difficulty", pa.string()),
    ("monetary_impact", pa.float64()), ("case_ids", pa.string()), ("event_ids", pa.string()),
    ("object_ids", pa.string()), ("fields", pa.string())])


@dataclass(frozen=True)
class ExcMeta:
    """What exceptions.csv says about the instances of one declared exception (or near miss)."""

    type: str
    category: str
    severity: str
    difficulty: str
    spell: bool = False  # a run-wide spell (outage, absence): one instance across every case it touched
    near: bool = False
    money: str | None = None
    times: int = 1  # executions an instance adds (duplicates): the money at stake is times the value
    fields: tuple[str, ...] = ()


# field_labels.csv: per case, field and (original, recorded) pair, the events whose data show the fault
FIELD_LABEL_SCHEMA = pa.schema([("case_id", pa.string()), ("event_ids", pa.string()), ("field", pa.string()),
                                ("original", pa.string()), ("recorded", pa.string()), ("fault", pa.string())])


# exceptions raised by rules (``raise``) have no type in the catalogue
RULE_META = ExcMeta("rule", "compliance", "medium", "one_field")


def exception_meta(entries: Sequence[Any]) -> dict[str, ExcMeta]:
    """Label -> ExcMeta for the declared exceptions and near misses (procsim.exceptions types)."""
    out = {}
    for x in entries:
        cat, sev, diff = x.meta()
        out[x.label] = ExcMeta(x.type, cat, sev, diff, x.phase == "global", x.near, x.money,
                               int(getattr(x, "times", 1) or 1), x.fields())
    return out


def exception_id(case_id: str, name: str, meta: dict[str, ExcMeta]) -> str:
    """The stable, readable id of an instance: ``<case id>/<name>``; a run-wide spell's is its name."""
    m = meta.get(name)
    return name if m is not None and m.spell else f"{case_id}/{name}"


def exception_ids(exc: Sequence[str | None], case_ids: Sequence[str], meta: dict[str, ExcMeta]) -> list[str | None]:
    """Per event, the ids of the exception instances on it (";"-joined), None where there is none."""
    return [";".join(exception_id(c, n, meta) for n in e.split(";")) if e else None
            for e, c in zip(exc, case_ids)]


class Recorder:
    """Buffers events and finished cases and hands them to ``emit_events`` / ``emit_cases`` in order."""

    def __init__(self, timebase: TimeBase, attr_names: Sequence[str], attr_types: Sequence[str],
                 emit_events: Callable[[EventBatch], None], emit_cases: Callable[[CaseBatch], None],
                 flush_every: int = 50_000, labels: bool = False, objects: ObjectModel | None = None,
                 batches: bool = False, recording: Recording | None = None, id_prefix: str = "",
                 exc_meta: dict[str, ExcMeta] | None = None, quality: Quality | None = None) -> None:
        self.timebase = timebase
        self.event_prefix = id_prefix + "E"  # a shard's events: 'R02-E17', unique across the shards of a run
        self.attr_names = list(attr_names)
        self.attr_types = [ARROW_TYPES[t] for t in attr_types]
        self.emit_events = emit_events
        self.emit_cases = emit_cases
        self.flush_every = flush_every
        self.rows: list[EventRow] = []
        self.done: list[Case] = []
        self.case_ids: dict[int, str] = {}
        self.n_events = 0
        self.labels = labels
        # case index -> (event id, its labels) of its events with an exception or near-miss label
        self.labelled: dict[int, list[tuple[str, str]]] = {}
        self.exc_meta = exc_meta or {}
        self.near = frozenset(n for n, m in self.exc_meta.items() if m.near)
        self.event_objects: dict[str, list[str]] = {}  # labelled event id -> its objects (when objects are kept)
        self.spells: dict[str, tuple[dict[str, None], list[str]]] = {}  # run-wide spell -> (case ids, event ids)
        self.quality = quality  # data-quality faults: the records show recorded values (procsim.exceptions.quality)
        # case index -> (column, original, recorded, kind) -> ids of the events showing it
        self.faulty: dict[int, dict[tuple[int, Any, Any, str], list[str]]] = {}
        self.n_cases = 0
        self.t_min: float | None = None
        self.t_max = 0.0
        self.objects = objects  # derives business objects and event-to-object links (OCEL output only)
        if objects is not None:
            objects.bind(timebase)
        self.recording = recording  # recorded times and the extraction window (procsim.recording), or None
        self._pending: list[EventRow] = []  # recorded rows waiting until no later row can be recorded earlier
        self.n_completed = 0
        self.event_schema = pa.schema(
            [("event_id", pa.string()), ("case_id", pa.string()), ("activity", pa.string()),
             ("lifecycle", pa.string()), ("timestamp", pa.timestamp("ms", tz=timebase.tz.key)),
             ("resource", pa.string()), ("role", pa.string()), ("cost", pa.float64()),
             ("rules", pa.string()), ("exception", pa.string())]
            # the batch id, only for a process with batched activities: other logs keep their columns
            + ([("batch", pa.string())] if batches else [])
            + list(zip(self.attr_names, self.attr_types)))
        self.batches = batches
        self.case_schema = pa.schema(
            [("case_id", pa.string()), ("status", pa.string()),
             ("start", pa.timestamp("ms", tz=timebase.tz.key)), ("end", pa.timestamp("ms", tz=timebase.tz.key)),
             ("cycle_time_s", pa.float64()), ("events", pa.int64()), ("cost", pa.float64()),
             ("end_event", pa.string()), ("rules", pa.string()), ("exceptions", pa.string())]
            + ([("truncated", pa.string())] if recording is not None and recording.window is not None else [])
            + list(zip(self.attr_names, self.attr_types)))

    def open_case(self, case: Case) -> None:
        self.case_ids[case.idx] = case.id
        if self.quality is not None:
            self.quality.open_case(case.idx)
        if self.recording is not None:
            self.recording.open_case(case.idx, case.start)
        if self.objects is not None:
            self.objects.open_case(case.idx, case.start)

    def close_case(self, case: Case) -> None:
        self.done.append(case)

    def add(self, row: EventRow) -> None:
        rows = self.rows
        rows.append(row)
        if len(rows) >= self.flush_every:
            self.flush(final=False)

    def flush(self, final: bool) -> None:
        if self.recording is not None:
            self._flush_recorded(final)
            return
        rows = self.rows
        if not rows and not (final and self.done):
            return
        if final:
            cut = len(rows)
        else:
            # keep back the events of the last timestamp: later ones may share it and must sort by case
            last = rows[-1].time
            cut = len(rows)
            while cut > 0 and rows[cut - 1].time == last:
                cut -= 1
            if cut == 0:
                return
        # in place: the simulation's case processes hold a reference to this very list
        batch = rows[:cut]
        del rows[:cut]
        if batch:
            self._emit_event_batch(_in_output_order(batch))
        horizon = float("inf") if final else (self.rows[0].time if self.rows else float("inf"))
        ready = [c for c in self.done if c.end is not None and c.end < horizon] if not final else self.done
        if ready:
            keep = [c for c in self.done if not (c.end is not None and c.end < horizon)] if not final else []
            self.done = keep
            self._emit_case_batch(ready)

    def _flush_recorded(self, final: bool) -> None:
        """As ``flush``, for recorded times: a row goes out once no row recorded later can sort before it.

        Later rows are simulated at or after the last row's time ``t``, and recorded no earlier than ``t``
        minus the coarsest granularity; everything recorded before that bound is final.
        """
        rows = self.rows
        rec = self.recording
        assert rec is not None
        bound = math.inf if final or not rows else rows[-1].time - rec.gmax
        batch = rows[:]
        del rows[:]  # in place: the simulation's case processes hold a reference to this very list
        pending = self._pending
        pending.extend(rec.transform(batch))
        # stable: among equal (time, case) the simulated order stays (a start before its completion); with one
        # grid for every event and no delays (the bundled examples) the rows are in time order already, and
        # _in_output_order sorts only runs of equal times (else it sorts as list.sort would)
        pending = self._pending = _in_output_order(pending)
        cut = len(pending) if final else bisect_left(pending, bound, key=ROW_TIME)
        if cut:
            out = pending[:cut]
            del pending[:cut]
            self._emit_event_batch(out)
        if final:
            ready, self.done = self.done, []
        else:
            ready = [c for c in self.done if rec.case_last(c.idx) < bound]
            if ready:
                self.done = [c for c in self.done if not rec.case_last(c.idx) < bound]
        if ready:
            shown = rec.finish_cases(ready)
            seen = {id(c) for c in shown}
            for c in ready:
                if id(c) not in seen:
                    self.case_ids.pop(c.idx, None)
                    if self.objects is not None:
                        self.objects.close_case(c.idx)
                    self.labelled.pop(c.idx, None)
                    self.faulty.pop(c.idx, None)
                    if self.quality is not None:
                        self.quality.hits.pop(c.idx, None)
            if shown:
                self._emit_case_batch(shown)

    def finish(self, running: Sequence[Case]) -> None:
        """Flush everything; cases still running at the end are written with status 'running'."""
        self.done.extend(running)
        self.flush(final=True)

    # -- batches ------------------------------------------------------------------------------

    def _emit_event_batch(self, batch: list[EventRow]) -> None:
        n = len(batch)
        if self.quality is not None and self.quality.hits:
            self._record_faults(batch, self.n_events)
        # the batch's columns, one per EventRow field (in its order)
        times, cases, acts, lifecycles, resources, roles, costs, rules, excs, snaps = zip(*batch)
        t = np.fromiter(times, dtype=np.float64, count=n)
        if self.t_min is None:
            self.t_min = float(t[0])
        self.t_max = max(self.t_max, float(t[-1]))
        first = self.n_events
        self.n_events += n
        exc = excs
        if self.labels and any(exc):
            labelled = self.labelled
            for j, (c, e) in enumerate(zip(cases, exc)):
                if e:
                    labelled.setdefault(c, []).append((f"{self.event_prefix}{first + 1 + j}", e))
            if self.near:  # near misses are labelled in labels.csv and exceptions.csv, never in the log
                exc = tuple(_without(e, self.near) if e else e for e in exc)
        ids = self.case_ids
        event_ids = pc.binary_join_element_wise(
            self.event_prefix, pc.cast(pa.array(np.arange(first + 1, first + n + 1, dtype=np.int64)), pa.string()), "")
        links = self.objects.link(batch, first, ids) if self.objects is not None else None
        if links and self.labels and any(excs):
            marked = {f"{self.event_prefix}{first + 1 + j}" for j, e in enumerate(excs) if e}
            eo = self.event_objects
            for eid, oid, _ in links:
                if eid in marked:
                    eo.setdefault(eid, []).append(oid)
        arrays: list[pa.Array] = [
            event_ids,
            pa.array(list(map(ids.__getitem__, cases)), pa.string()),
            pa.array(list(map(_LABEL, acts)), pa.string()),
            _LIFECYCLE.take(pa.array(np.fromiter(lifecycles, dtype=np.int8, count=n))),
            pa.array(self.timebase.epoch_ms(t), pa.timestamp("ms", tz=self.timebase.tz.key)),
            pa.array(resources, pa.string()),
            pa.array(roles, pa.string()),
            pa.array(costs, pa.float64()),
            pa.array(rules, pa.string()),
            pa.array(exc, pa.string()),
        ]
        if self.batches:
            arrays.append(pa.array([getattr(a, "batch_id", None) for a in acts], pa.string()))
        if self.attr_types:
            # events of a case share one snapshot object until a rule changes the data: convert each distinct
            # snapshot once and gather the rows with take() instead of converting every cell of every event
            _, first_row, take = np.unique(np.fromiter(map(id, snaps), dtype=np.int64, count=n), return_index=True,
                                           return_inverse=True)
            distinct = [snaps[i] for i in first_row.tolist()]
            where = pa.array(take.reshape(-1))
            for values, typ in zip(zip(*distinct), self.attr_types):
                arrays.append(_column(values, typ).take(where))
        table = pa.Table.from_arrays(arrays, schema=self.event_schema)
        self.emit_events(EventBatch(table, t, self.timebase, links))

    def _record_faults(self, batch: list[EventRow], first: int) -> None:
        """Replace, in place, the snapshots of the events of cases a data-quality fault hit by what was
        recorded (objects, documents and every log then show it), and note the ground truth."""
        q = self.quality
        assert q is not None
        hits = q.hits
        seen: dict[int, tuple[tuple[Any, ...], list[tuple[int, Any, Any, str]]]] = {}  # by the snapshot's id
        for j, row in enumerate(batch):
            c = row.case
            if c not in hits:
                continue
            snap = row.snapshot
            got = seen.get(id(snap))
            if got is None:
                got = seen[id(snap)] = q.recorded(c, snap)
            if got[1]:
                batch[j] = row._replace(snapshot=got[0])
                marks = self.faulty.setdefault(c, {})
                for ch in got[1]:
                    marks.setdefault(ch, []).append(f"E{first + 1 + j}")

    def field_labels(self, cases: list[Case]) -> pa.Table:
        """field_labels.csv's rows of ``cases``."""
        rows = []
        names = self.attr_names
        for c in cases:
            for (col, old, new, kind), events in self.faulty.pop(c.idx, {}).items():
                rows.append((c.id, ";".join(events), names[col], _text_or_none(old), _text_or_none(new), kind))
        cols = list(zip(*rows)) if rows else [()] * len(FIELD_LABEL_SCHEMA)
        return pa.Table.from_arrays([pa.array(list(v), pa.string()) for v in cols], schema=FIELD_LABEL_SCHEMA)

    def _emit_case_batch(self, cases: list[Case]) -> None:
        # completion order (then case number) is the same however the run is cut into batches
        cases.sort(key=_completion)
        tb = self.timebase
        n = len(cases)
        ids, status, start_l, end_l, events, cost, end_event, rules, excs, snaps = zip(*[
            (c.id, c.status, c.start, c.end, c.events, c.cost, c.end_event, c.rules_fired, c.exceptions,
             c._snap or c.snapshot()) for c in cases])
        q = self.quality
        if q is not None and q.hits:  # cases.csv shows the recorded values too
            snaps = tuple(q.recorded(c.idx, s)[0] if c.idx in q.hits else s for c, s in zip(cases, snaps))
        start = np.fromiter(start_l, dtype=np.float64, count=n)
        end = np.fromiter((np.nan if e is None else e for e in end_l), dtype=np.float64, count=n)
        done = ~np.isnan(end)
        end_ms = tb.epoch_ms(np.where(done, end, start))
        tz = tb.tz.key
        arrays: list[pa.Array] = [
            pa.array(ids, pa.string()),
            pa.array(status, pa.string()),
            pa.array(tb.epoch_ms(start), pa.timestamp("ms", tz=tz)),
            pa.array(end_ms, pa.timestamp("ms", tz=tz), mask=~done),
            pa.array(np.round(np.where(done, end - start, np.nan), 3), pa.float64(), from_pandas=True),
            pa.array(events, pa.int64()),
            pa.array([round(x, 2) for x in cost], pa.float64()),
            pa.array(end_event, pa.string()),
            pa.array([";".join(r) if r else "" for r in rules], pa.string()),
            pa.array([";".join(dict.fromkeys(e for e, _ in x if e not in self.near)) if x else "" for x in excs],
                     pa.string()),
        ]
        if self.recording is not None:
            self.n_completed += sum(1 for s in status if s == "completed")
            if self.recording.window is not None:
                pop_t = self.recording.truncated.pop
                arrays.append(pa.array([pop_t(c.idx, "") for c in cases], pa.string()))
        if self.attr_types:
            # the final snapshot holds every attribute's final value (each change goes through Case.set)
            for values, typ in zip(zip(*snaps), self.attr_types):
                arrays.append(_column(values, typ))
        self.n_cases += n
        pop = self.case_ids.pop
        for c in cases:
            pop(c.idx, None)
        labels = exceptions = faults = None
        if self.labels:
            labels, exceptions = self._labels(cases)
        if q is not None:
            faults = self.field_labels(cases)
            for c in cases:
                q.hits.pop(c.idx, None)
        om = self.objects
        if om is not None and exceptions is not None and om.exc_ids is not None and exceptions.num_rows:
            om.mark(list(zip(*(exceptions.column(n).to_pylist() for n in ("exception_id", "is_exception",
                                                                           "object_ids")))))
        objects = [o for c in cases for o in om.close_case(c.idx)] if om is not None else None
        self.emit_cases(CaseBatch(pa.Table.from_arrays(arrays, schema=self.case_schema), start, end, tb, labels,
                                  objects, exceptions, faults))

    def _labels(self, cases: list[Case]) -> tuple[pa.Table, pa.Table]:
        """labels.csv's rows (one per case) and exceptions.csv's (one per exception instance) for ``cases``."""
        pop = self.labelled.pop
        near = self.near
        ids, names, nears = [], [], []
        rows: list[tuple[Any, ...]] = []
        for c in cases:
            marked = pop(c.idx, [])
            ids.append(";".join(eid for eid, e in marked if not near or _without(e, near)))
            names.append(";".join(dict.fromkeys(e for e, _ in c.exceptions if e not in near)))
            if near:
                nears.append(";".join(dict.fromkeys(e for e, _ in c.exceptions if e in near)))
            if c.exceptions:
                rows += self._instances(c, marked)
        omitted = [";".join(c.exc.omitted) if c.exc is not None else "" for c in cases]
        cols = [pa.array([c.id for c in cases], pa.string()), pa.array([bool(x) for x in names], pa.bool_()),
                pa.array(names, pa.string()), pa.array(ids, pa.string()), pa.array(omitted, pa.string())]
        if near:
            cols.append(pa.array(nears, pa.string()))
        labels = pa.Table.from_arrays(cols, schema=NEAR_LABEL_SCHEMA if near else LABEL_SCHEMA)
        return labels, _exception_table(rows)

    def _instances(self, c: Case, marked: list[tuple[str, str]]) -> list[tuple[Any, ...]]:
        """exceptions.csv's rows of one case: one per exception (run-wide spells are gathered for the end)."""
        out = []
        st = c.exc
        eo = self.event_objects
        for name in dict.fromkeys(e for e, _ in c.exceptions):
            m = self.exc_meta.get(name, RULE_META)
            events = [eid for eid, e in marked if name in e.split(";")]
            if m.spell:
                cases_, evs = self.spells.setdefault(name, ({}, []))
                cases_[c.id] = None
                evs += events
                for eid in events:
                    eo.pop(eid, None)
                continue
            objs = dict.fromkeys(o for eid in events for o in eo.get(eid, ()))
            for eid in events:
                eo.pop(eid, None)
            impact = None
            if m.money is not None:
                ch = st.changed.get(name) if st is not None else None
                if ch is not None and ch[0] == m.money:
                    impact = round(abs(_number(ch[2]) - _number(ch[1])), 2)
                else:
                    impact = round(_number(c.attrs.get(m.money)) * m.times, 2)
            related = st.related.get(name, []) if st is not None else []
            fields = m.fields or ((st.changed[name][0],) if st is not None and name in st.changed else ())
            out.append((exception_id(c.id, name, self.exc_meta), name, m.type, not m.near, m.category, m.severity,
                        m.difficulty, impact, ";".join([c.id, *related]), ";".join(events), ";".join(objs),
                        ";".join(fields)))
        return out

    def spell_rows(self) -> pa.Table:
        """exceptions.csv's rows of the run-wide spells, one each (known once the run is over)."""
        rows = []
        for name, (cases_, events) in self.spells.items():
            m = self.exc_meta[name]
            rows.append((name, name, m.type, True, m.category, m.severity, m.difficulty, None, ";".join(cases_),
                         ";".join(events), "", ""))
        return _exception_table(rows)


def _without(labels: str, names: frozenset[str]) -> str:
    """An event's labels without the near misses among them."""
    return ";".join(x for x in labels.split(";") if x not in names)


def _text_or_none(v: Any) -> str | None:
    return None if v is None else v if isinstance(v, str) else _text(v)


def _number(v: Any) -> float:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else 0.0


def exception_table(rows: list[tuple[Any, ...]]) -> pa.Table:
    """exceptions.csv's rows (tuples in EXCEPTION_SCHEMA's order) as a table."""
    return _exception_table(rows)


def _exception_table(rows: list[tuple[Any, ...]]) -> pa.Table:
    cols = list(zip(*rows)) if rows else [()] * len(EXCEPTION_SCHEMA)
    return pa.Table.from_arrays([pa.array(list(v), f.type) for v, f in zip(cols, EXCEPTION_SCHEMA)],
                                schema=EXCEPTION_SCHEMA)


def _in_output_order(batch: list[EventRow]) -> list[EventRow]:
    """The rows sorted by (time, case), stably (a case's events at one instant keep their order).

    Rows arrive in time order, so only runs of equal times need sorting: numpy sorts one integer key
    (run number, case) about twice as fast as ``list.sort`` with an item-getter key.
    """
    n = len(batch)
    t = np.fromiter(map(ROW_TIME, batch), dtype=np.float64, count=n)
    if n < 2 or (t[1:] < t[:-1]).any():  # not in time order after all: sort the general way
        return sorted(batch, key=ROW_TIME_CASE)
    c = np.fromiter(map(ROW_CASE, batch), dtype=np.int64, count=n)
    run = np.zeros(n, dtype=np.int64)
    np.cumsum(t[1:] != t[:-1], out=run[1:])
    order = np.argsort(run * (int(c.max()) + 1) + c, kind="stable")
    return list(map(batch.__getitem__, order.tolist()))


def _completion(c: Case) -> tuple[float, int]:
    return (c.end if c.end is not None else float("inf"), c.idx)


def _column(values: Sequence[Any], typ: pa.DataType) -> pa.Array:
    if typ == pa.string():
        try:
            return pa.array(values, typ)  # the common case: every value is already text
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return pa.array([None if v is None else (v if isinstance(v, str) else _text(v)) for v in values], typ)
    return pa.array(values, typ)


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return repr(v)
    return str(v)
