"""The SimPy environment procsim runs on, with a cheaper timeout for the walk's hot path.

Every activity instance waits at least once (its work), so a timeout is created and scheduled about once per
activity instance. ``simpy.Timeout`` is a full ``Event`` (a ``__dict__``, five attributes, ``schedule``
through a method call): ~1.2 us. ``Kernel.sleep`` returns a ``Wake``, a slotted object carrying only what the
kernel and a waiting process read (``callbacks``; ``_ok`` and ``_value`` are constant class attributes), pushed
onto the event queue directly, exactly as ``Environment.schedule`` does. A ``Wake`` may be yielded by a process;
it is not an ``Event``, so it cannot be combined with ``|``/``&``: use ``env.timeout`` for that.
"""

from __future__ import annotations

from heapq import heappush
from typing import Any, Callable

import simpy
from simpy.events import Event

__all__ = ["Kernel", "Wake"]

_NORMAL = 1  # simpy.events.NORMAL: the priority of a timeout


class Wake:
    """A timeout event as the kernel sees it: succeeded, no value, the callbacks to run when it is due."""

    __slots__ = ("callbacks",)
    _ok = True
    _value = None

    def __init__(self) -> None:
        self.callbacks: list[Callable[[Any], None]] | None = []


class Kernel(simpy.Environment):
    """``simpy.Environment`` plus ``sleep(delay)``, the lean timeout."""

    def sleep(self, delay: float) -> Event:
        """An event that is due ``delay`` seconds from now (``delay`` >= 0)."""
        if delay < 0:
            raise ValueError(f"Negative delay {delay}")
        ev = Wake()
        heappush(self._queue, (self._now + delay, _NORMAL, next(self._eid), ev))  # type: ignore[misc]  # as Environment.schedule; Wake is an Event to the kernel by duck typing, simpy types the queue for Event
        return ev  # type: ignore[return-value]  # a Wake: processes yield it where simpy's types say Event (duck typing)
