"""The ground truth: ``labels.csv`` (written whenever the process can produce exceptions) and, with the
``labels-parquet`` format, ``labels.parquet``. One row per case: ``case_id``, ``is_exception``, ``exceptions``
(";"-joined names), ``event_ids`` (";"-joined ids of the events an exception produced or altered) and
``omitted`` (activities whose events an exception left out of the log: skipped work, logging gaps)."""

from __future__ import annotations

import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from procsim.records import LABEL_SCHEMA, CaseBatch
from procsim.sinks.base import Sink, SinkContext

_OPTIONS = pacsv.WriteOptions(include_header=True, quoting_style="needed")


class LabelsCsvSink(Sink):
    """``labels.csv``: the ground truth, one row per case (exceptions, affected events)."""

    format = "labels"
    filename = "labels.csv"

    def __init__(self, ctx: SinkContext) -> None:
        super().__init__(ctx)
        self._writer = pacsv.CSVWriter(str(self.temp), LABEL_SCHEMA, write_options=_OPTIONS)

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
        self._writer = pq.ParquetWriter(str(self.temp), LABEL_SCHEMA, compression="zstd")

    def write_cases(self, batch: CaseBatch) -> None:
        if batch.labels is not None:
            self._writer.write_table(batch.labels)

    def _finish(self) -> None:
        self._writer.close()
