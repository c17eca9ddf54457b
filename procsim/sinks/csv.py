"""``events.csv``: one row per lifecycle event, ISO 8601 timestamps with offset, then case attributes."""

from __future__ import annotations

import hashlib
from typing import BinaryIO

import pyarrow as pa
import pyarrow.csv as pacsv

from procsim.records import CaseBatch, EventBatch
from procsim.sinks.base import Sink, SinkContext

_OPTIONS = pacsv.WriteOptions(include_header=True, quoting_style="needed")
_NO_HEADER = pacsv.WriteOptions(include_header=False, quoting_style="needed")


def text_table(table: pa.Table, iso: dict[str, pa.Array]) -> pa.Table:
    """Replace timestamp columns by their ISO text (with offset) so CSV shows local time as written."""
    for name, values in iso.items():
        table = table.set_column(table.schema.get_field_index(name), name, values)
    return table


class CsvSink(Sink):
    """``events.csv``: one row per event, in time order, with the case attributes and labels columns.

    Each batch is formatted into memory, hashed and appended: the manifest's sha256 of the largest output file
    is ready when the run ends (writer thread), instead of reading the file back afterwards."""

    format = "csv"
    filename = "events.csv"

    def __init__(self, ctx: SinkContext) -> None:
        super().__init__(ctx)
        self._file: BinaryIO | None = None
        self._hash = hashlib.sha256()

    def _append(self, table: pa.Table, header: bool) -> None:
        if self._file is None:
            self._file = self.temp.open("wb")
        buf = pa.BufferOutputStream()
        pacsv.write_csv(table, buf, write_options=_OPTIONS if header else _NO_HEADER)
        data = buf.getvalue()
        self._hash.update(data)
        self._file.write(data)

    def write_events(self, batch: EventBatch) -> None:
        table = text_table(batch.table, {"timestamp": batch.iso_text})
        if not self.ctx.labels_in_log:
            table = table.drop_columns(["exception"])
        self._append(table, header=self._file is None)

    def _finish(self) -> None:
        if self._file is None:
            # no events at all: still a valid file with a header
            schema = pa.schema([(f.name, pa.string()) if f.name == "timestamp" else f
                                for f in _event_schema(self.ctx)])
            if not self.ctx.labels_in_log:
                schema = schema.remove(schema.get_field_index("exception"))
            self._append(schema.empty_table(), header=True)
        assert self._file is not None
        self._file.close()
        self.digests[self.filename] = self._hash.hexdigest()


class CasesCsvSink(Sink):
    """``cases.csv``: one row per case with attributes, start, end and cycle time. Always written."""

    format = "cases"
    filename = "cases.csv"
    chosen = False

    def __init__(self, ctx: SinkContext) -> None:
        super().__init__(ctx)
        self._writer: pacsv.CSVWriter | None = None

    def write_cases(self, batch: CaseBatch) -> None:
        table = text_table(batch.table, {"start": batch.start_iso, "end": batch.end_iso})
        if not self.ctx.labels_in_log and "exceptions" not in self.ctx.attr_names:
            table = table.drop_columns(["exceptions"])  # the ground truth stays in labels.csv only
        if self._writer is None:
            self._writer = pacsv.CSVWriter(str(self.temp), table.schema, write_options=_OPTIONS)
        self._writer.write_table(table)

    def _finish(self) -> None:
        if self._writer is None:
            names = self.ctx.extra["case_schema"].names
            if not self.ctx.labels_in_log:
                names = [n for n in names if n != "exceptions"]
            self.temp.write_text(",".join(names) + "\n")
            return
        self._writer.close()


def _event_schema(ctx: SinkContext) -> pa.Schema:
    return ctx.extra["event_schema"]
