"""``jsonl:-`` and ``jsonl:PATH``: one JSON object per event and line, on stdout (for pipes) or in a file.

Each batch is written and flushed as it arrives, so ``procsim run ... --to jsonl:- | consumer`` sees events
while the simulation runs. A file target appends on ``--resume``, after the complete lines already there.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa

from procsim.errors import ProcsimError, UsageError
from procsim.sinks.base import SinkContext
from procsim.targets.base import Options, Target, TargetContext, json_text


@dataclass(frozen=True)
class JsonlOptions(Options):
    pass


class JsonlTarget(Target):
    """JSON Lines: one JSON object per event on standard output (``jsonl:-``) or appended to a file."""

    schemes = ("jsonl",)
    options_type = JsonlOptions

    def __init__(self, ctx: SinkContext, tctx: TargetContext, options: Options) -> None:
        super().__init__(ctx, tctx, options)
        where = tctx.url.split(":", 1)[1].split("?", 1)[0]
        if not where:
            raise UsageError(f"--to {tctx.url}: give a file, or '-' for stdout (jsonl:- or jsonl:events.jsonl)")
        self.stdout = where == "-"
        self._own = False
        if self.stdout:
            self._file: BinaryIO = sys.stdout.buffer
            return
        path = Path(where)
        if path.is_dir():
            raise UsageError(f"--to {tctx.url}: {path} is a folder; give a file")
        try:
            if tctx.resume and path.is_file():
                data = path.read_bytes()
                keep = data.rfind(b"\n") + 1  # a line cut by the kill is sent again
                self.skip = data.count(b"\n")
                self._file = path.open("r+b")
                self._file.truncate(keep)
                self._file.seek(keep)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._file = path.open("wb")
        except OSError as e:
            raise UsageError(f"--to {tctx.url}: cannot write {path} ({e.strerror})") from None
        self._own = True

    def deliver(self, table: pa.Table) -> None:
        if not table.num_rows:
            return
        lines = json_text(table).to_pylist()
        try:
            self._file.write(("\n".join(lines) + "\n").encode())
            self._file.flush()  # a consumer at the other end of a pipe sees the batch now
        except OSError as e:
            if self.stdout:
                # the reader went away (| head): point stdout at /dev/null so that Python's own flush at exit
                # does not fail a second time, and say what happened
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            what = "the reader closed the pipe" if isinstance(e, BrokenPipeError) else f"cannot write ({e.strerror})"
            raise ProcsimError(f"--to {self.tctx.url}: {what} after {self.delivered} events") from None
        self.delivered += len(lines)

    def _finish(self) -> None:
        if self._own and not self._file.closed:
            self._file.close()
        elif self.stdout:
            self._file.flush()
