"""``postgresql://`` targets: events, cases and labels into tables created if missing, idempotently.

Each batch is COPYed (CSV, formatted by Arrow) straight into its table in one transaction; only a batch that
holds rows the table has already (a retry after a lost connection, a resumed run) goes through a temporary
staging table and ``INSERT ... SELECT ... ON CONFLICT DO NOTHING``, so a re-sent batch never duplicates a row.
Rows are keyed by (run, event_id) / (run, case_id), where ``run`` is the run key (same inputs, seed and size:
same key). Core columns are typed; the process's own attributes go into one ``attributes jsonb`` column, since
every process has different ones.

The writer thread formats each batch and hands it to a spool (``procsim.targets.spool``); a sender thread
COPYs the spool's batches one after the other, in output order, so formatting the next batch overlaps with
the server storing this one. While the server is unreachable the sender retries with exponential backoff and
the batches wait in the spool (memory, then ``spool.bin`` in the target's folder under ``--out``), so the
simulation goes on; only a full spool holds it up (back-pressure). Batches commit in output order, so
``--resume`` starts after the highest event number the table holds for the run. Options: ``prefix`` (table
names, default ``procsim_``), ``labels`` (true/false: send the ground truth; default: as --labels-in-log),
``give_up`` (s without delivery), ``max_backoff`` (s), ``sslmode`` (passed to libpq), ``spool_mb``, ``queue``
(batches kept in memory before spilling to disk).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from procsim.errors import ProcsimError, UsageError
from procsim.objects import text
from procsim.records import CaseBatch, EventBatch
from procsim.sinks.base import SinkContext
from procsim.targets.base import Options, TargetContext, json_text, public_url
from procsim.targets.spool import Message, SpoolingTarget

try:
    import psycopg
    import psycopg.errors
except ImportError as e:  # reported by check_urls as a missing package
    raise ImportError("psycopg is not installed", name="psycopg") from e

_CSV = pacsv.WriteOptions(include_header=False, quoting_style="needed")
EVENT_CORE = ("event_id", "case_id", "activity", "lifecycle", "timestamp", "resource", "role", "cost", "rules",
              "exception")
CASE_CORE = ("case_id", "status", "start", "end", "cycle_time_s", "events", "cost", "end_event", "rules",
             "exceptions")


@dataclass(frozen=True)
class PgOptions(Options):
    prefix: str = "procsim_"
    labels: str = ""  # '' = as --labels-in-log
    give_up: float = 300.0
    max_backoff: float = 5.0
    sslmode: str = ""
    spool_mb: float = 256.0
    queue: int = 8

    def __post_init__(self) -> None:
        if self.spool_mb <= 0 or self.queue < 1:
            raise ValueError("option 'spool_mb' must be positive and 'queue' at least 1")
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,40}", self.prefix):
            raise ValueError("option 'prefix' must be lower-case letters, digits and '_'")
        if self.labels not in ("", "true", "false"):
            raise ValueError("option 'labels' must be true or false")


def _ddl(p: str) -> str:
    return f"""
CREATE TABLE IF NOT EXISTS {p}events (
  run text NOT NULL, seq bigint NOT NULL, event_id text NOT NULL, case_id text NOT NULL, activity text,
  lifecycle text, ts timestamptz, resource text, role text, cost double precision, rules text, exception text,
  attributes jsonb, PRIMARY KEY (run, event_id));
CREATE TABLE IF NOT EXISTS {p}cases (
  run text NOT NULL, case_id text NOT NULL, status text, start_ts timestamptz, end_ts timestamptz,
  cycle_time_s double precision, events bigint, cost double precision, end_event text, rules text,
  exceptions text, attributes jsonb, PRIMARY KEY (run, case_id));
CREATE TABLE IF NOT EXISTS {p}labels (
  run text NOT NULL, case_id text NOT NULL, is_exception boolean, exceptions text, event_ids text, omitted text,
  near_miss text, PRIMARY KEY (run, case_id));
ALTER TABLE {p}labels ADD COLUMN IF NOT EXISTS near_miss text;
"""


def _ocel_ddl(p: str) -> str:
    """Tables for the run's business objects (OCEL 2.0's objects, their attribute changes, event-to-object and
    object-to-object links), made only when the run derives objects (``--format ocel-json``, ``ocel-sqlite``
    or ``documents``)."""
    return f"""
CREATE TABLE IF NOT EXISTS {p}objects (
  run text NOT NULL, object_id text NOT NULL, type text, created timestamptz, case_id text, event_id text,
  attributes jsonb, PRIMARY KEY (run, object_id));
CREATE TABLE IF NOT EXISTS {p}object_changes (
  run text NOT NULL, object_id text NOT NULL, n integer NOT NULL, ts timestamptz, field text, value jsonb,
  PRIMARY KEY (run, object_id, n));
CREATE TABLE IF NOT EXISTS {p}event_objects (
  run text NOT NULL, event_id text NOT NULL, object_id text NOT NULL, qualifier text NOT NULL,
  PRIMARY KEY (run, event_id, object_id, qualifier));
CREATE TABLE IF NOT EXISTS {p}object_objects (
  run text NOT NULL, source_id text NOT NULL, target_id text NOT NULL, qualifier text NOT NULL,
  PRIMARY KEY (run, source_id, target_id, qualifier));
"""


OCEL_TABLES = ("objects", "object_changes", "event_objects", "object_objects")


def _json_value(v: Any) -> Any:
    """An object attribute as JSON: numbers and booleans stay themselves, times and the rest become text."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return v if not (isinstance(v, float) and v != v) else None
    return text(v)


class PostgresTarget(SpoolingTarget):
    """PostgreSQL: events and cases tables (created if missing), COPY, a re-sent event never duplicates a row."""

    schemes = ("postgresql", "postgres")
    options_type = PgOptions
    thread_name = "procsim-postgres"

    def __init__(self, ctx: SinkContext, tctx: TargetContext, options: Options) -> None:
        super().__init__(ctx, tctx, options)
        assert isinstance(options, PgOptions)
        self.opt = options
        parts = urlsplit(tctx.url)
        self.dsn = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        self.labels = ctx.labels_in_log if not options.labels else options.labels == "true"
        self.p = options.prefix
        self.resent = 0  # batches that held rows the table had already (went through the staging table)
        self.conn: Any = None
        self.model = ctx.extra.get("objects")
        self.objects = self.model is not None  # the run derives objects: OCEL tables too
        self.objects_delivered = 0
        self._retry(self._setup)
        self.attr_names = list(ctx.attr_names)
        self.cols: dict[str, tuple[str, ...]] = {}  # each table's COPY columns (fixed for the run)
        self.batches = 0
        self._start_sender(options.queue, options.spool_mb)

    def _connect(self) -> None:
        if self.conn is not None and not self.conn.closed:
            return
        self.conn = self._open()
        p = self.p
        with self.conn.transaction():
            for t in ("events", "cases", "labels", *(OCEL_TABLES if self.objects else ())):
                self.conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS stage_{t} "
                                  f"(LIKE {p}{t}) ON COMMIT DELETE ROWS")

    def _open(self) -> Any:
        kw: dict[str, Any] = {"sslmode": self.opt.sslmode} if self.opt.sslmode else {}
        # autocommit: each transaction() block is a real transaction that commits (not a savepoint in an
        # implicit one that a lost connection would roll back)
        return psycopg.connect(self.dsn, connect_timeout=10, autocommit=True, **kw)

    def _setup(self) -> None:
        if self.conn is None or self.conn.closed:
            self.conn = self._open()
        with self.conn.transaction():
            self.conn.execute(_ddl(self.p) + (_ocel_ddl(self.p) if self.objects else ""))
        self.conn.close()
        self.conn = None
        self._connect()
        if self.tctx.resume:
            row = self.conn.execute(f"SELECT coalesce(max(seq), 0) FROM {self.p}events WHERE run = %s",
                                    (self.tctx.run_key,)).fetchone()
            self.skip = int(row[0])

    def _retry(self, fn: Any, *args: Any) -> None:
        """Run ``fn`` until it works; a lost server is retried with backoff (the simulation waits meanwhile)."""
        delay, since = 0.05, time.monotonic()
        while True:
            try:
                fn(*args)
                return
            except psycopg.OperationalError as e:
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                problem = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                if time.monotonic() - since > self.opt.give_up:
                    raise ProcsimError(f"--to {public_url(self.tctx.url)}: no connection for "
                                       f"{self.opt.give_up:g} s ({problem}); run again with --resume") from None
                self.retries += 1
                if self.error is not None:  # aborted meanwhile: stop retrying
                    raise ProcsimError(self.error) from None
                time.sleep(delay)
                delay = min(delay * 2, self.opt.max_backoff)
            except psycopg.Error as e:
                raise ProcsimError(f"--to {public_url(self.tctx.url)}: {str(e).strip()}") from None

    def _put(self, table: str, data: pa.Table, n: int) -> None:
        """Format a batch as CSV (on the writer thread) and queue it for the sender."""
        self._check()
        self.cols.setdefault(table, tuple(data.column_names))
        buf = pa.BufferOutputStream()
        pacsv.write_csv(data, buf, write_options=_CSV)
        self.spool.put((table, buf.getvalue().to_pybytes(), n))  # blocks while the spool is full

    def _send(self, msg: Message) -> None:
        """On the sender thread: COPY one batch (committed before it leaves the spool)."""
        table, body, _ = msg
        self._retry(self._copy, table, self.cols[table], body)

    def _sent(self, msg: Message) -> None:
        table, _, n = msg
        self.batches += 1
        if table == "events":
            self.delivered += n
        elif table == "cases":
            self.cases_delivered += n
        elif table == "objects":
            self.objects_delivered += n

    def _copy(self, table: str, cols: tuple[str, ...], data_bytes: bytes) -> None:
        self._connect()
        p = self.p
        names = ", ".join(cols)
        try:
            # the common case, rows the table has never seen: COPY straight in (about twice as fast); the key
            # rejects the whole batch if any row is there already, and the staging path below takes it
            with self.conn.transaction():
                with self.conn.cursor() as cur:
                    with cur.copy(f"COPY {p}{table} ({names}) FROM STDIN WITH (FORMAT csv)") as copy:
                        copy.write(data_bytes)
            return
        except psycopg.errors.UniqueViolation:
            self.resent += 1
        with self.conn.transaction():
            with self.conn.cursor() as cur:
                with cur.copy(f"COPY stage_{table} ({names}) FROM STDIN WITH (FORMAT csv)") as copy:
                    copy.write(data_bytes)
                cur.execute(f"INSERT INTO {p}{table} ({names}) SELECT {names} FROM stage_{table} "
                            "ON CONFLICT DO NOTHING")

    def _attributes(self, table: pa.Table) -> pa.Array:
        if not self.attr_names:
            return pa.nulls(table.num_rows, pa.string())
        return json_text(table.select(self.attr_names))

    def deliver(self, table: pa.Table) -> None:
        n = table.num_rows
        first = self.seen - n + 1  # seq of the table's first row (the base class advanced ``seen`` already)
        data = pa.table({
            "run": pa.array([self.tctx.run_key] * n, pa.string()),
            "seq": pa.array(range(first, first + n), pa.int64()),
            **{("ts" if c == "timestamp" else c): table.column(c) for c in EVENT_CORE if c in table.column_names},
            "attributes": self._attributes(table),
        })
        self._put("events", data, n)

    def write_events(self, batch: EventBatch) -> None:
        super().write_events(batch)
        if self.objects and batch.links and self.seen > self.skip:
            # a batch partly delivered before a resume sends all its links: the staging path drops the repeats
            ev, obj, qual = (list(x) for x in zip(*batch.links))
            self._put("event_objects", pa.table({"run": self._runs(len(ev)), "event_id": ev, "object_id": obj,
                                                 "qualifier": qual}), 0)

    def _runs(self, n: int) -> pa.Array:
        return pa.array([self.tctx.run_key] * n, pa.string())

    def _write_objects(self, objects: list[Any]) -> None:
        """Objects, their changes and links, built per object in Python: a case makes a handful of objects,
        against tens of events."""
        dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        obj: dict[str, list[Any]] = {k: [] for k in ("object_id", "type", "created", "case_id", "event_id",
                                                     "attributes")}
        chg: dict[str, list[Any]] = {k: [] for k in ("object_id", "n", "ts", "field", "value")}
        o2o: dict[str, list[Any]] = {k: [] for k in ("source_id", "target_id", "qualifier")}
        for o in objects:
            for k, v in (("object_id", o.id), ("type", o.type), ("created", o.time), ("case_id", o.case_id),
                         ("event_id", o.event_id),
                         ("attributes", dumps({n: _json_value(x) for n, x in o.values}))):
                obj[k].append(v)
            for i, (t, f, v) in enumerate(o.changes, 1):
                for k, x in (("object_id", o.id), ("n", i), ("ts", t), ("field", f), ("value", dumps(_json_value(v)))):
                    chg[k].append(x)
            for target, q in o.links:
                for k, x in (("source_id", o.id), ("target_id", target), ("qualifier", q)):
                    o2o[k].append(x)
        for name, cols in (("objects", obj), ("object_changes", chg), ("object_objects", o2o)):
            n = len(next(iter(cols.values())))
            if n:
                self._put(name, pa.table({"run": self._runs(n), **{k: pa.array(v) for k, v in cols.items()}}),
                          n if name == "objects" else 0)

    def write_cases(self, batch: CaseBatch) -> None:
        if self.objects and batch.objects:
            self._write_objects(batch.objects)
        t = batch.table
        n = t.num_rows
        cols = {"run": pa.array([self.tctx.run_key] * n, pa.string())}
        for c in CASE_CORE:
            if c == "exceptions" and not self.labels:
                continue
            name = {"start": "start_ts", "end": "end_ts"}.get(c, c)
            cols[name] = (batch.start_iso if c == "start" else
                          pc.if_else(pc.equal(batch.end_iso, ""), pa.scalar(None, pa.string()), batch.end_iso)
                          if c == "end" else t.column(c))
        cols["attributes"] = self._attributes(t)
        data = pa.table(cols)
        self._put("cases", data, n)
        if self.labels and batch.labels is not None and batch.labels.num_rows:
            lab = batch.labels
            ldata = pa.table({"run": pa.array([self.tctx.run_key] * lab.num_rows, pa.string()),
                              **{c: lab.column(c) for c in lab.column_names}})
            self._put("labels", ldata, 0)

    def report(self) -> dict[str, Any]:
        return super().report() | {"batches_with_rows_already_there": self.resent, "batches": self.batches,
                                   **({"objects_delivered": self.objects_delivered} if self.objects else {})}

    def _finish(self) -> None:
        if self.model is not None and self.error is None:
            # master data (procsim.masterdata): shared by cases, known whole only at the end, as in the OCEL files
            master = self.model.master_records()
            if master:
                self._write_objects(master)
        self._stop_sender()
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        self._check()


__all__ = ["PostgresTarget", "PgOptions", "UsageError"]
