"""``events.parquet``: the same rows as CSV, typed; timestamps are timezone-aware (ms, process zone)."""

from __future__ import annotations

import pyarrow.parquet as pq

from procsim.records import EventBatch
from procsim.sinks.base import Sink, SinkContext


class ParquetSink(Sink):
    """``events.parquet``: the event log as Parquet, with typed columns."""

    format = "parquet"
    filename = "events.parquet"

    def __init__(self, ctx: SinkContext) -> None:
        super().__init__(ctx)
        schema = ctx.extra["event_schema"]
        if not ctx.labels_in_log:
            schema = schema.remove(schema.get_field_index("exception"))
        self._writer = pq.ParquetWriter(str(self.temp), schema, compression="zstd")

    def write_events(self, batch: EventBatch) -> None:
        table = batch.table
        if not self.ctx.labels_in_log:
            table = table.drop_columns(["exception"])
        self._writer.write_table(table, row_group_size=1 << 20)

    def _finish(self) -> None:
        self._writer.close()
