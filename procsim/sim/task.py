"""A lean SimPy process for the many short ones a run starts: one per case and per parallel branch.

``simpy.Process`` schedules an ``Initialize`` event to start its generator and an event when it ends, even
when nothing waits for the end; with a case process and two AND branches per case that is half an event per
activity instance, at ~2.5 us each. A ``Task`` is an ``Event`` like a Process, so it can be yielded and
combined (``AllOf``), but it starts its generator at once (the caller is at the same simulated time), and
its end is scheduled only if something waits for it. Everything else (yielding events, receiving their values,
triggered events resuming at once) is SimPy's protocol unchanged; an error in the generator propagates out
of ``env.run()`` like a failed Process that nobody waits for.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy
from simpy.events import Event

__all__ = ["Task"]


class _Started:
    """What a fresh generator is 'sent' first: a succeeded event with no value."""

    _ok = True
    _value = None


_START = _Started()


class Task(Event):
    """Runs ``gen`` as a SimPy process from now on; triggered with the generator's return value."""

    def __init__(self, env: simpy.Environment, gen: Generator[Event, Any, Any]) -> None:
        self.env = env
        self.callbacks = []
        self._gen = gen
        self._resume(_START)  # type: ignore[arg-type]

    def _resume(self, event: Event) -> None:
        gen = self._gen
        try:
            while True:
                if event._ok:
                    event = gen.send(event._value)
                else:
                    event._defused = True
                    event = gen.throw(event._value)
                callbacks = event.callbacks
                if callbacks is not None:
                    callbacks.append(self._resume)
                    return
                # already processed: go on with its value at once, as simpy.Process does
        except StopIteration as stop:
            self._ok = True
            self._value = stop.value
            if self.callbacks:
                self.env.schedule(self)
            else:
                self.callbacks = None  # type: ignore[assignment]  # processed: nobody waited, and a later waiter sees it done (simpy's own marker, though it types callbacks as a list)
