"""The writer thread: sinks work on a thread of their own, so encoding and file I/O overlap the simulation.

pyarrow's CSV and Parquet writers release the GIL while they format, compress and write, so on a second core
the simulation goes on while the previous batch is written. Every sink call (create, write, close, abort) runs
on that one thread in the order it was submitted: the files are byte-identical to writing inline, and a sink
holding a thread-bound handle (SQLite) only ever sees one thread. At most ``depth`` batches wait, so memory
stays flat; a sink's error is raised in the simulation's thread at the next submission or at ``call``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, TypeVar

__all__ = ["Writer"]

T = TypeVar("T")


class Writer:
    """One worker thread running submitted calls in order; use as a context manager."""

    def __init__(self, depth: int = 2) -> None:
        self.depth = depth
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="procsim-writer")
        self._pending: deque[Future[Any]] = deque()

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Queue ``fn(*args)``; waits while more than ``depth`` calls are pending (re-raising their errors)."""
        self._pending.append(self._pool.submit(fn, *args))
        while len(self._pending) > self.depth:
            self._pending.popleft().result()

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` after everything submitted so far and return its result."""
        self.drain()
        return self._pool.submit(fn, *args).result()

    def drain(self) -> None:
        """Wait for every pending call; the first error is raised (the rest still run)."""
        while self._pending:
            self._pending.popleft().result()

    def settle(self) -> None:
        """Wait for pending calls without raising: after a failure, before cleaning up."""
        pending, self._pending = list(self._pending), deque()
        wait(pending)

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.settle()
        self._pool.shutdown(wait=True)
