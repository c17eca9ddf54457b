"""``--pace`` and the live stream: the simulation advances no faster than a wall clock scaled by a factor.

The pacer wraps the kernel's ``step``: before the clock moves to a new tick (``factor * tick`` simulated seconds,
``tick`` of wall time), it hands every recorded event on (all are final: nothing can happen before the next
event's time any more) and sleeps until the wall clock has caught up with the simulated one. The ticks are in
simulated time, so where the batches are cut depends only on the factor, never on the machine's speed: files
written next to a paced stream stay the same for the same seed and pace.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from procsim.errors import UsageError

__all__ = ["Pace", "parse_pace"]

TICK_S = 0.05  # wall seconds between hand-overs: events reach a target at most this late


@dataclass(frozen=True)
class Pace:
    """Simulated seconds per wall second; ``None``: as fast as possible."""

    factor: float | None

    def attach(self, env: Any, rec: Any, drain: Callable[[], None] | None = None) -> None:
        """Make ``env.run()`` paced and streaming (``rec``: the run's Recorder; ``drain`` waits for the writer)."""
        if self.factor is None:
            return
        factor = self.factor
        tick = factor * TICK_S
        step = env.step
        origin = env.now
        wall0 = time.perf_counter()
        boundary = origin + tick
        warm = drain is None

        def paced_step() -> None:
            nonlocal boundary, warm, wall0
            t = env.peek()
            if t >= boundary:
                rec.flush(final=True)  # every event up to now is final; finished cases with them
                if not warm and drain is not None and rec.n_events:
                    # the first hand-over pays one-off costs (tables, connections): start the clock after it,
                    # or the first events would reach the target late and the rest bunched
                    drain()
                    warm = True
                    wall0 = time.perf_counter() - (env.now - origin) / factor
                if t != math.inf:
                    boundary = origin + (math.floor((t - origin) / tick) + 1) * tick
                    delay = wall0 + (t - origin) / factor - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
            step()

        env.step = paced_step  # the instance attribute shadows Environment.step, which run() calls


def parse_pace(text: str) -> Pace:
    """``max`` | ``realtime`` | ``<N>x`` (a speed-up: ``3600x`` runs a simulated hour per second)."""
    t = text.strip().lower()
    if t == "max":
        return Pace(None)
    if t == "realtime":
        return Pace(1.0)
    m = re.fullmatch(r"(\d+(?:\.\d+)?)x", t)
    if m and float(m.group(1)) > 0:
        return Pace(float(m.group(1)))
    raise UsageError(f"--pace '{text}': give max, realtime or a speed-up like 3600x (a simulated hour per second)")
