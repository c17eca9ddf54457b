"""The run-time kernel: Kernel.sleep behaves as env.timeout (same time, same order among equal times), and the
garbage collector runs rarely during a run and as before after it."""

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


def test_the_collector_runs_rarely_and_threads_switch_sooner_during_a_run_and_as_before_after_it(
        write_process, tmp_path):
    import gc
    import sys

    from conftest import MINI
    from procsim.run import run

    before = gc.get_threshold(), sys.getswitchinterval()
    during: list[tuple[tuple[int, int, int], float]] = []
    run(write_process(MINI), tmp_path / "o", seed=1, cases=20, formats=["csv"],
        on_progress=lambda done, total: during.append((gc.get_threshold(), sys.getswitchinterval())))
    assert len(during) == 20 and all(t[0] >= 200_000 and s <= 0.0005 for t, s in during)
    assert (gc.get_threshold(), sys.getswitchinterval()) == before
