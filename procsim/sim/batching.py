"""Batched activities: cases that wait for an activity and are then processed together, as one piece of work.

Owns the batch of each batched activity (``Batcher``): which cases wait in it, when it starts (``size`` cases
wait, the first has waited ``timeout``, or a ``schedule`` moment comes, whichever is first), and running it:
one member of the role for the whole batch, one duration drawn from the activity's own stream (so a batch's
length never depends on which case happened to close it), and for every case in it a start and a complete
event at the batch's times, by the batch's member, carrying the batch's id. The cost of the working time is
shared out over the batch's cases; the fixed cost is per case.

The simulation asks ``BatchPlan.start(sim)`` for a batcher per batched activity; a case's walk then
``yield from``s ``Batcher.join`` and goes on when its batch is done.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from simpy.events import Event

from procsim.exceptions.base import COMPLETE, START
from procsim.rows import NEW_ROW, EventRow
from procsim.sim.task import Task
from procsim.sim.waits import Moments

__all__ = ["BatchPlan", "BatchRun", "Batcher"]

_INF = float("inf")


@dataclass(frozen=True, eq=False)
class BatchRun:
    """What an event row of a batched activity names: the activity (its ``id``, its ``label`` in the log) and
    the batch (``batch_id``, the log's ``batch`` column)."""

    id: str
    label: str
    batch_id: str


@dataclass(eq=False)
class BatchPlan:
    """A batched activity as compiled: ``act`` is the engine's Activity, ``rng`` its own duration stream."""

    act: Any
    size: int | None
    timeout: float | None
    schedule: Moments | None
    rng: np.random.Generator

    def start(self, sim: Any) -> Batcher:
        return Batcher(sim, self)


class Batcher:
    """The open batch of one activity in one simulation."""

    def __init__(self, sim: Any, plan: BatchPlan) -> None:
        self.sim = sim
        self.plan = plan
        self.waiting: list[tuple[Any, str, str, Any, Event]] = []  # (case, rules, exception label, effect, done)
        self.opened = 0  # batches opened so far; a timer set for an earlier one does nothing
        self.count = 0  # batches run so far: the number in the next batch id
        self.last_run = -_INF  # when the schedule last started a batch

    def join(self, case: Any, act: Any, fired: str, exc: str, eff: Any) -> Generator[Any, Any, int]:
        """The case waits in the open batch until its batch is done; returns the next node."""
        env = self.sim.env
        plan = self.plan
        done = Event(env)
        waiting = self.waiting
        waiting.append((case, fired, exc, eff, done))
        if plan.size is not None and len(waiting) >= plan.size:
            self._fire()
        elif len(waiting) == 1:
            now = env._now
            due = now + plan.timeout if plan.timeout is not None else _INF
            at = _INF
            if plan.schedule is not None:
                at = plan.schedule.next(now)
                if at == self.last_run:  # the scheduled run of this very moment has left: the next one
                    at = plan.schedule.next(now + 1.0)
            # a timer even when due now: cases that reach the activity at this same instant join this batch
            opened = self.opened
            scheduled = at <= due
            env.sleep(min(due, at) - now).callbacks.append(
                lambda _ev: self._due(opened, scheduled))
        yield done
        return cast(int, act.next)

    def _due(self, opened: int, scheduled: bool, settled: bool = False) -> None:
        if opened != self.opened or not self.waiting:
            return  # that batch has left already (its size was reached)
        if scheduled and not settled:
            # this timer was set long ago, so it comes before the events of other cases due at this same instant:
            # let them reach the activity first, so that everyone there at the moment of the run goes with it
            self.sim.env.sleep(0.0).callbacks.append(lambda _ev: self._due(opened, True, True))
            return
        if scheduled:
            self.last_run = self.sim.env._now
        self._fire()

    def _fire(self) -> None:
        cases, self.waiting = self.waiting, []
        self.opened += 1
        self.count += 1
        Task(self.sim.env, self._run(cases, f"{self.plan.act.id}#{self.count}"))

    def _run(self, cases: list[tuple[Any, str, str, Any, Event]], batch_id: str) -> Generator[Any, Any, None]:
        sim = self.sim
        env = sim.env
        act = self.plan.act
        rows = sim.rec.rows
        run = BatchRun(act.id, act.label, batch_id)
        name = role = None
        member = -1
        cal = None
        if act.pool >= 0:
            pool = sim.pools[act.pool]
            member = pool.free.pop(0) if pool.free else (yield pool.request(act.priority))
            cal = pool.calendar
            if cal is not None:
                nw = cal.next_working(env._now)
                if nw > env._now:
                    yield env.sleep(nw - env._now)
            name, role = pool.members[member], pool.name
        start = env._now
        for case, fired, exc, eff, _ in cases:
            row = NEW_ROW(EventRow, (start, case.idx, run, 0, name, role, None, fired, exc,
                                     case._snap or case.snapshot()))
            if case.exc is None:
                rows.append(row)
            else:
                case.exc.who[act.id] = (act.pool, member)
                sim._put(case, row, eff, START)
        work = act.sample(self.plan.rng)
        yield env.sleep(cal.add_working(start, work) - start if (cal is not None and act.pause) else work)
        now = env._now
        share = act.cost_rate * work / len(cases)
        hooks = sim.model.hooks
        after_sets = hooks is not None and act.id in hooks.after_sets
        for case, fired, exc, eff, _ in cases:
            cost = round(act.cost_fixed + share, 2)
            case.cost += cost
            case.events += 2
            case.last = act.id
            if case.history is not None and name is not None:
                done_by = case.history.get(act.id)
                if done_by is not None:
                    done_by.append(name)
            if after_sets:
                ruled = hooks.after_activity(case, act.id, now)
                if ruled:
                    fired = f"{fired};{ruled}" if fired else ruled
            row = NEW_ROW(EventRow, (now, case.idx, run, 1, name, role, cost, fired, exc, case._snap or case.snapshot()))
            if case.exc is None:
                rows.append(row)
            else:
                sim._put(case, row, eff, COMPLETE)
        if member >= 0:
            sim.pools[act.pool].release(member)
        for *_, done in cases:
            done.succeed()
        if len(rows) >= sim.rec.flush_every:
            sim.rec.flush(final=False)
