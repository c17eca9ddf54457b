"""The lean process: starts at once, can be waited for, schedules its end only for a waiter, fails loudly."""

from __future__ import annotations

import pytest
import simpy

from procsim.sim.task import Task


def _work(env: simpy.Environment, log: list[tuple[float, str]], name: str, d: float):
    log.append((env.now, f"{name} start"))
    yield env.timeout(d)
    log.append((env.now, f"{name} end"))
    return name.upper()


def test_starts_at_once_and_hands_its_value_to_a_waiter():
    env = simpy.Environment()
    log: list[tuple[float, str]] = []

    def parent():
        t = Task(env, _work(env, log, "a", 3))
        assert log == [(0, "a start")]  # ran up to its first yield before the parent went on
        value = yield t
        log.append((env.now, f"got {value}"))

    Task(env, parent())
    env.run()
    assert log == [(0, "a start"), (3, "a end"), (3, "got A")]


def test_no_event_is_scheduled_for_an_end_nobody_waits_for():
    env = simpy.Environment()
    t = Task(env, _work(env, [], "a", 2))
    env.run()
    assert t.processed and t.value == "A"
    steps = []
    env2 = simpy.Environment()
    Task(env2, _work(env2, [], "b", 2))
    while env2.peek() != float("inf"):
        steps.append(env2.peek())
        env2.step()
    assert steps == [2]  # the timeout only: no start event, no end event


def test_a_finished_task_counts_as_done_in_allof_and_when_yielded():
    env = simpy.Environment()
    quick = Task(env, _work(env, [], "q", 0))
    env.run()
    out = []

    def waiter():
        slow = Task(env, _work(env, [], "s", 5))
        yield simpy.AllOf(env, [quick, slow])
        v = yield quick  # already processed: resumes at once with its value
        out.append((env.now, v))

    Task(env, waiter())
    env.run()
    assert out == [(5, "Q")]


def test_an_error_in_a_task_comes_out_of_run():
    env = simpy.Environment()

    def bad():
        yield env.timeout(1)
        raise ZeroDivisionError("division by zero")

    Task(env, bad())
    with pytest.raises(ZeroDivisionError):
        env.run()
