"""Kernel.sleep behaves as env.timeout for a process that yields it: same time, same order among equal times."""

from __future__ import annotations

import pytest

from procsim.sim.kernel import Kernel
from procsim.sim.task import Task


def test_sleeps_and_timeouts_interleave_in_scheduling_order():
    env = Kernel()
    log: list[tuple[float, str]] = []

    def proc(name: str, delays: list[float], lean: bool):
        for d in delays:
            yield env.sleep(d) if lean else env.timeout(d)
            log.append((env.now, name))

    Task(env, proc("lean", [1, 0, 2.5], True))
    Task(env, proc("simpy", [1, 0, 2.5], False))
    env.run()
    # scheduled in the same order at the same times, they come out in that order (FIFO), as SimPy promises
    assert log == [(1, "lean"), (1, "simpy"), (1, "lean"), (1, "simpy"), (3.5, "lean"), (3.5, "simpy")]


def test_a_negative_sleep_is_refused():
    with pytest.raises(ValueError, match="Negative delay -1"):
        Kernel().sleep(-1)
