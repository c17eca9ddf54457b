"""A third-party output format."""

from __future__ import annotations

from typing import Any

from procsim.sinks import Sink


class CountSink(Sink):
    """``count.txt``: the number of events (a test output format)."""

    format = "acme-count"
    filename = "count.txt"

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.n = 0

    def write_events(self, batch: Any) -> None:
        self.n += batch.table.num_rows

    def _finish(self) -> None:
        self.temp.write_text(f"{self.n}\n", encoding="utf-8")
