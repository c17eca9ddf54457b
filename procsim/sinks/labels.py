"""The ground truth: ``labels.csv`` (written whenever the process can produce exceptions) and, with the
``labels-parquet`` format, ``labels.parquet``. One row per case: ``case_id``, ``is_exception``, ``exceptions``
(";"-joined names), ``event_ids`` (";"-joined ids of the events an exception produced or altered) and
``omitted`` (activities whose events an exception left out of the log: skipped work, logging gaps); with
near misses a last column ``near_miss``. ``exceptions.csv``, written with it, has one row per exception
instance (and per near miss, ``is_exception`` false): its id, type, category, severity, monetary impact,
detection difficulty, cases, events, objects and fields (docs/exceptions.md)."""

from __future__ import annotations

import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from procsim.records import EXCEPTION_SCHEMA, FIELD_LABEL_SCHEMA, LABEL_SCHEMA, CaseBatch
from procsim.sinks.base import Sink, SinkContext

_OPTIONS = pacsv.WriteOptions(include_header=True, quoting_style="needed")


class LabelsCsvSink(Sink):
    """``labels.csv``: the ground truth, one row per case (exceptions, affected events)."""

    format = "labels"
    filename = "labels.csv"
    chosen = False

    def __init__(self, ctx: SinkContext) -> None:
        super().__init__(ctx)
        schema = ctx.extra.get("label_schema", LABEL_SCHEMA)
        self._writer = pacsv.CSVWriter(str(self.temp), schema, write_options=_OPTIONS)

    def write_cases(self, batch: CaseBatch) -> None:
        if batch.labels is not None:
            self._writer.write_table(batch.labels)

    def _finish(self) -> None:
        self._writer.close()


class LabelsParquetSink(Sink):
    """``labels.parquet``: the same ground truth as ``labels.csv``, as Parquet."""

    format = "labels-parquet"
    filename = "labels.parquet"

    def __init__(self, ctx: SinkContext) -> None:
        super().__init__(ctx)
        schema = ctx.extra.get("label_schema", LABEL_SCHEMA)
        self._writer = pq.ParquetWriter(str(self.temp), schema, compression="zstd")

    def write_cases(self, batch: CaseBatch) -> None:
        if batch.labels is not None:
            self._writer.write_table(batch.labels)

    def _finish(self) -> None:
        self._writer.close()


class ExceptionsCsvSink(Sink):
    """``exceptions.csv``: the instances of finished cases as they come, the run-wide spells (an outage
    touches many cases) at the end."""

    format = "exceptions"
    filename = "exceptions.csv"
    chosen = False

    def __init__(self, ctx: SinkContext) -> None:
        super().__init__(ctx)
        self._writer = pacsv.CSVWriter(str(self.temp), EXCEPTION_SCHEMA, write_options=_OPTIONS)

    def write_cases(self, batch: CaseBatch) -> None:
        if batch.exceptions is not None and batch.exceptions.num_rows:
            self._writer.write_table(batch.exceptions)

    def _finish(self) -> None:
        spells = self.ctx.extra.get("spell_rows")
        if spells is not None:
            t = spells()
            if t.num_rows:
                self._writer.write_table(t)
        self._writer.close()


class FieldLabelsCsvSink(Sink):
    """``field_labels.csv``: the data-quality faults (procsim.exceptions.quality), per case, field and
    (original, recorded) pair, with the events that show the recorded value."""

    format = "field-labels"
    filename = "field_labels.csv"
    chosen = False

    def __init__(self, ctx: SinkContext) -> None:
        super().__init__(ctx)
        self._writer = pacsv.CSVWriter(str(self.temp), FIELD_LABEL_SCHEMA, write_options=_OPTIONS)

    def write_cases(self, batch: CaseBatch) -> None:
        if batch.field_labels is not None and batch.field_labels.num_rows:
            self._writer.write_table(batch.field_labels)

    def _finish(self) -> None:
        self._writer.close()
