"""Batched activities: cases that wait for an activity and are then processed together, as one piece of work.

Owns the batch of each batched activity (``Batcher``): which cases wait in it, when it starts (``size`` cases
wait, the first has waited ``timeout``, no case has joined for ``idle``, or a ``schedule`` moment comes,
whichever is first; the cases still waiting when nothing else can happen run as a last batch: ``flush``), and
running it: one member of the role for the whole batch, durations drawn from the activity's own stream (so a
batch's length never depends on which case happened to close it) and multiplied by ``scale`` for the batch's
size. ``work: together`` (one duration; every case gets a start and a complete event at the batch's times),
``parallel`` (every case started at once, each takes its own duration times the batch's size: the member's
attention is shared) or ``sequential`` (the cases one after another, each its own duration). Every event
carries the batch's member and id. The cost of the working time is shared out over the batch's cases (in
``together``; each case's own working time otherwise); the fixed cost is per case. ``alone``: the share of
cases that find no batch open and are done at once, by themselves (a draw from the activity's own stream
``STREAM_BATCH_ALONE``), as Prosimos's ``size_distrib`` says.

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
    idle: float | None = None
    work: str = "together"
    scale: dict[int, float] | None = None
    alone: float = 0.0
    alone_rng: np.random.Generator | None = None

    def factor(self, n: int) -> float:
        """The duration factor for a batch of ``n`` cases: ``scale`` at the nearest size given (the smaller of
        two as near), 1 without ``scale`` (Prosimos's reading of ``duration_distrib``)."""
        if not self.scale:
            return 1.0
        if n in self.scale:
            return self.scale[n]
        return self.scale[min(self.scale, key=lambda k: (abs(k - n), k))]

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
        self.joined = 0  # cases that joined so far: an idle timer set for an earlier one does nothing

    def join(self, case: Any, act: Any, fired: str, exc: str, eff: Any) -> Generator[Any, Any, int]:
        """The case waits in the open batch until its batch is done; returns the next node."""
        env = self.sim.env
        plan = self.plan
        done = Event(env)
        waiting = self.waiting
        alone = (plan.alone > 0 and not waiting and plan.alone_rng is not None
                 and float(plan.alone_rng.random()) < plan.alone)
        waiting.append((case, fired, exc, eff, done))
        self.joined += 1
        if alone or (plan.size is not None and len(waiting) >= plan.size):
            self._fire()
            yield done
            return cast(int, act.next)
        if plan.idle is not None:
            joined, opened = self.joined, self.opened
            env.sleep(plan.idle).callbacks.append(lambda _ev: self._idle(opened, joined))
        if len(waiting) == 1 and (plan.timeout is not None or plan.schedule is not None):
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

    def _idle(self, opened: int, joined: int) -> None:
        if opened == self.opened and joined == self.joined and self.waiting:
            self._fire()  # no case has joined since this timer was set

    def flush(self) -> bool:
        """Run the cases still waiting (nothing else can happen any more: a batch with ``size`` alone would keep
        them for ever); whether there were any."""
        if not self.waiting:
            return False
        self._fire()
        return True

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
            member = pool.acquire_now()  # the first free member (with multitasking: the least loaded)
            if member < 0:
                member = yield pool.request(act.priority)
            cal = pool.calendar
            if cal is not None:
                nw = cal.next_working(env._now)
                if nw > env._now:
                    yield env.sleep(nw - env._now)
            name, role = pool.members[member], pool.name
        start = env._now
        plan = self.plan
        n = len(cases)
        f = plan.factor(n)
        hooks = sim.model.hooks
        after_sets = hooks is not None and act.id in hooks.after_sets

        def begin(item: tuple[Any, str, str, Any, Event]) -> None:
            case, fired, exc, eff, _ = item
            row = NEW_ROW(EventRow, (env._now, case.idx, run, 0, name, role, None, fired, exc,
                                     case._snap or case.snapshot()))
            if case.exc is None:
                rows.append(row)
            else:
                case.exc.who[act.id] = (act.pool, member)
                sim._put(case, row, eff, START)

        def end(item: tuple[Any, str, str, Any, Event], cost: float) -> None:
            case, fired, exc, eff, _ = item
            now = env._now
            case.cost += cost
            case.events += 2
            case.last = act.id
            if case.history is not None and name is not None:
                done_by = case.history.get(act.id)
                if done_by is not None:
                    done_by.append(name)
            if after_sets:
                ruled = hooks.after_activity(case, act.id, now, name, role)
                if ruled:
                    fired = f"{fired};{ruled}" if fired else ruled
            row = NEW_ROW(EventRow, (now, case.idx, run, 1, name, role, cost, fired, exc, case._snap or case.snapshot()))
            if case.exc is None:
                rows.append(row)
            else:
                sim._put(case, row, eff, COMPLETE)

        def span(t0: float, work: float) -> float:
            return cal.add_working(t0, work) - t0 if (cal is not None and act.pause) else work

        if plan.work == "sequential":
            for item in cases:
                begin(item)
                work = act.sample(plan.rng) * f
                yield env.sleep(span(env._now, work))
                end(item, round(act.cost_fixed + act.cost_rate * work, 2))
                item[4].succeed()
        elif plan.work == "parallel":
            for item in cases:
                begin(item)
            works = [act.sample(plan.rng) * f * n for _ in cases]
            ends = sorted((start + span(start, w), i) for i, w in enumerate(works))
            for t, i in ends:
                if t > env._now:
                    yield env.sleep(t - env._now)
                end(cases[i], round(act.cost_fixed + act.cost_rate * works[i] / n, 2))
                cases[i][4].succeed()
        else:
            for item in cases:
                begin(item)
            work = act.sample(plan.rng)
            if plan.scale:
                work *= f
            yield env.sleep(span(start, work))
            share = act.cost_rate * work / n
            for item in cases:
                end(item, round(act.cost_fixed + share, 2))
        if member >= 0:
            sim.pools[act.pool].release(member)
        if plan.work == "together":
            for *_, done in cases:
                done.succeed()
        if len(rows) >= sim.rec.flush_every:
            sim.rec.flush(final=False)
