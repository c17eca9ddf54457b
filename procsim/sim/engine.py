"""The SimPy simulation: arrivals, resource pools with calendars, and case processes walking the graph.

Owns simulated time and randomness. A case's attributes come from the data stream of its block of cases
(``procsim.sim.build.AttributeMaker``), its flow (durations, routing) from a stream of its own derived from the
one root seed and the case number (``procsim.sim.streams``). So changing one activity's duration never changes
any case's attributes. Events are recorded at the moment they happen, which keeps the record stream in time order.

Cases and AND branches run as ``Task``s on a ``Kernel`` (``procsim.sim.task``, ``procsim.sim.kernel``): SimPy's
protocol with fewer events per activity instance, because this loop is where a run spends its time.
"""

from __future__ import annotations

import gc
import sys
import threading
from bisect import bisect_right
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any, cast

import numpy as np
from simpy.events import Event

from procsim.exceptions.base import COMPLETE, INJECTED, START, Effect
from procsim.records import Case, Recorder
from procsim.rows import NEW_ROW, EventRow
from procsim.sim.arrivals import RateProfile
from procsim.sim.calendar import WorkCalendar
from procsim.sim.kernel import Kernel
from procsim.sim.resources import Pool
from procsim.sim.streams import (STREAM_ARRIVALS, STREAM_DATA, STREAM_EXC, STREAM_EXC_PICK,  # noqa: F401 - re-exported
                                  STREAM_FLOW, STREAM_NAMES, STREAM_POOLS, STREAM_SAMPLES, CaseStreams, stream)
from procsim.sim.task import Task

# node kinds, as small ints for the walk's dispatch
ACT, XOR, AND_SPLIT, AND_JOIN, PASS, END, WAIT = range(7)
OR_SPLIT = 7  # an inclusive split: the branches it activates run as an AND block's, up to its join


@dataclass(eq=False)
class Activity:
    id: str
    label: str
    pool: int  # index into Simulation.pools, -1 for automatic work
    sample: Callable[[np.random.Generator], float]
    next: int
    cost_fixed: float
    cost_rate: float  # per second
    pause: bool
    priority: int
    role: str | None
    # the case's previous activity (id) -> the duration sampler after it (duration_after); None: no such durations
    after: dict[str, Callable[[np.random.Generator], float]] | None = None
    batch: int = -1  # index into Simulation.batchers for a batched activity
    skip: Callable[[Any, float], bool] | None = None  # (case, now) -> True: a drift removed it (procsim.drift)
    policy: tuple[int, list[float]] | None = None  # the activity's own assignment policy (procsim.sim.people)


@dataclass(eq=False)
class Gateway:
    id: str
    targets: list[int]
    probs: list[float]  # fallback probabilities (0 for condition-only branches)
    conditions: list[Callable[[dict[str, Any]], Any] | None]
    bounds: list[int | None]
    target_ids: list[str] = field(default_factory=list)
    join: int = -1  # for AND splits: the join that closes the block
    next: int = -1
    drift: Callable[[Any, float], None] | None = None  # (case, now): sets probs/cum for this decision

    bounded: bool = field(init=False)  # a loop branch has a 'max': visits are counted
    every: list[int] = field(init=False)  # every branch index, the choice when nothing is bounded
    # no 'max' and no condition: a draw on the running sums of the probabilities decides (cum[-1] > 0)
    plain: bool = field(init=False)
    cum: list[float] = field(init=False)

    def __post_init__(self) -> None:
        self.bounded = any(b is not None for b in self.bounds)
        self.every = list(range(len(self.targets)))
        self.cum = list(accumulate(self.probs))
        self.plain = (not self.bounded and all(c is None for c in self.conditions) and bool(self.cum)
                      and self.cum[-1] > 0)


@dataclass(eq=False)
class Node:
    kind: int
    id: str
    next: int = -1
    act: Activity | None = None
    gw: Gateway | None = None
    wait: Any = None  # procsim.sim.waits.Wait


@dataclass(eq=False)
class Model:
    """The process compiled for the walk: integer-indexed nodes, samplers bound, rules hooked in."""

    nodes: list[Node]
    start: int
    pools: list[tuple[str, list[str], WorkCalendar | None]]
    interarrival: Callable[[np.random.Generator], float]
    rate: RateProfile | None
    make_attributes: Callable[[int, str, float], dict[str, Any]]  # (case index, case id, start) -> attributes
    attr_names: list[str]
    case_prefix: str
    hooks: Any = None  # procsim.rules.engine.RuleSet (or None): routing, durations, assignment, priorities
    # who did what in each case, for these activities (those whose `history` rules read); None: not kept
    history_keys: list[str] | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    exceptions: Any = None  # procsim.exceptions.Plan (or None): injected rare exceptions
    batches: list[Any] = field(default_factory=list)  # procsim.sim.batching.BatchPlan per batched activity
    drift: Any = None  # procsim.drift.Drifts (or None): the process changing over time
    replay: Any = None  # procsim.sim.arrivals.Replay (or None): arrival counts replayed instead of gaps
    people: Any = None  # per pool: procsim.sim.people.PoolPeople or None (None overall: nobody differs)
    world: Any = None  # procsim.masterdata.World (or None): master data shared by the cases
    schemes: Any = None  # procsim.schemes.SchemePlan (or None): schemes across cases, bound to the run's cases
    line_fit: Any = None  # procsim.lineitems.LineFit (or None): lines a scheme or near miss changed, for documents


class Simulation:
    """Runs a compiled model for ``n_cases`` arrivals or until ``horizon`` seconds, recording into a Recorder."""

    def __init__(self, model: Model, seed: int, recorder: Recorder, *, n_cases: int | None,
                 horizon: float | None, on_case_done: Callable[[int], None] | None = None,
                 until: float | None = None) -> None:
        self.model = model
        self.seed = seed
        self.rec = recorder
        self.n_cases = n_cases
        self.horizon = horizon
        self.until = until  # stop the clock here (an extraction window's end): what runs on is cut
        self.env = Kernel()
        self.pools = [Pool(self.env, name, members, cal) for name, members, cal in model.pools]
        if model.people is not None:
            _seat_people(self.pools, model.people)
        if model.hooks is not None:
            model.hooks.bind(model.pools, {n.id: i for i, n in enumerate(model.nodes)})
        self.running: dict[int, Case] = {}
        self.on_case_done = on_case_done
        self.started = 0
        self.finished = 0
        width = max(6, len(str(n_cases or 0)))
        self._id_fmt = f"{model.case_prefix}{{:0{width}d}}"
        self._flow_streams = CaseStreams(seed, STREAM_FLOW)
        self.xplan = model.exceptions
        self.outages: list[tuple[float, float, str]] = []
        if self.xplan is not None:
            self.xplan.bind(seed, n_cases)
            for x in self.xplan.globals:
                x.start_global(self, self.xplan)
            self.outages = self.xplan.outages
        # the span all outages cover: outside it no event needs looking at them
        self._o_lo = min((o[0] for o in self.outages), default=0.0)
        self._o_hi = max((o[1] for o in self.outages), default=0.0)
        self.batchers = [plan.start(self) for plan in model.batches]
        # schemes that pin one member to an activity across their cases: role -> pool index
        self._pools_of = {name: i for i, (name, _, _) in enumerate(model.pools)}
        if model.drift is not None:
            model.drift.bind(self)

    def case_id(self, idx: int) -> str:
        """The id of the case with index ``idx`` (ids count from 1)."""
        return self._id_fmt.format(idx + 1)

    def run(self) -> None:
        self.env.process(self._arrivals())
        with fewer_collections():
            self.env.run(until=self.until)
            # batches that only start at a size: what still waits when nothing else can happen runs as a last batch
            while self.until is None and any([b.flush() for b in self.batchers]):
                self.env.run()
            self.rec.finish(list(self.running.values()))

    # -- arrivals ------------------------------------------------------------------------------

    def _arrivals(self) -> Generator[Event, Any, None]:
        env = self.env
        rng = stream(self.seed, STREAM_ARRIVALS)
        gap = self.model.interarrival
        rate = self.model.rate
        n, horizon = self.n_cases, self.horizon
        t = 0.0
        idx = 0
        if self.model.replay is not None:
            for t in self.model.replay.times(rng):
                if (horizon is not None and t > horizon) or (n is not None and idx >= n):
                    return
                if t > env._now:
                    yield env.sleep(t - env._now)
                self._start_case(idx)
                idx += 1
            return
        while True:
            if idx > 0 or rate is not None:
                # the first case arrives at the origin unless arrivals are shaped by a calendar or intensity
                t = rate.advance(t, gap(rng)) if rate is not None else t + gap(rng)
            if horizon is not None and t > horizon:
                return
            if t > env._now:
                yield env.sleep(t - env._now)
            self._start_case(idx)
            idx += 1
            if n is not None and idx >= n:
                return

    def _start_case(self, idx: int) -> None:
        m = self.model
        case_id = self._id_fmt.format(idx + 1)
        case = Case(idx, case_id, m.attr_names, m.make_attributes(idx, case_id, self.env._now), self.env._now)
        case.rng = self._flow_streams.get(idx)
        case.history = {a: [] for a in m.history_keys} if m.history_keys is not None else None
        if m.schemes is not None:
            pins = m.schemes.people(idx)
            if pins is not None:
                case.pins = {a: (self._pools_of[role], (member,)) for a, (role, member) in pins.items()}
        if m.drift is not None:
            m.drift.case_started(case, self.env._now)
        if m.hooks is not None:
            m.hooks.case_started(case, self.env.now)
        if self.xplan is not None:
            case.exc = self.xplan.case_started(case, self.env.now)
        self.running[idx] = case
        self.rec.open_case(case)
        self.started += 1
        # the walk from the start event is the case's process: one generator less on every resume
        Task(self.env, self._walk(case, self.model.start, -1))

    def _case_end(self, case: Case, end: int) -> Generator[Event, Any, None]:
        """A case reached the end event ``end``: finish deferred work, then record it as completed."""
        if case.exc is not None and case.exc.deferred:
            # swapped activities whose 'after' activity never came: done at the end of the case
            for acts in list(case.exc.deferred.values()):
                for dact, label in acts:
                    yield from self._activity(case, dact, "", Effect(label=label), escalate=False)
            case.exc.deferred.clear()
        case.end = self.env.now
        case.status = "completed"
        case.end_event = self.model.nodes[end].id
        del self.running[case.idx]
        self._flow_streams.put(case.rng)
        if case.exc is not None:
            self.xplan.streams.put(case.exc.rng)
        self.rec.close_case(case)
        self.finished += 1
        if self.on_case_done is not None:
            self.on_case_done(self.finished)

    # -- the walk ------------------------------------------------------------------------------

    def _walk(self, case: Case, i: int, stop: int) -> Generator[Event, Any, int]:
        """Follow the graph from node ``i`` until an end event, or until the join ``stop`` of an AND block."""
        nodes = self.model.nodes
        env = self.env
        routed = ""  # ids of the rules that routed the case here, shown on the next activity's events
        while True:
            node = nodes[i]
            kind = node.kind
            if kind == ACT:
                if node.act.skip is not None and node.act.skip(case, env._now):  # type: ignore[union-attr]
                    i = node.act.next  # type: ignore[union-attr]
                    continue
                if case.exc is None:
                    i = yield from self._activity(case, node.act, routed)  # type: ignore[arg-type]
                else:
                    i = yield from self._activity_x(case, node.act, routed)  # type: ignore[arg-type]
                routed = case.routed  # a deadline rule that escalated: shown on the escalation's events
                case.routed = ""
            elif kind == XOR:
                i, fired = self._choose(case, node.gw)  # type: ignore[arg-type]
                if fired:
                    routed = f"{routed};{fired}" if routed else fired
            elif kind == PASS:
                i = node.next
            elif kind == AND_SPLIT:
                gw = node.gw
                assert gw is not None
                # the first branch runs in this process, the others in tasks of their own
                others = [Task(env, self._walk(case, t, gw.join)) for t in gw.targets[1:]]
                yield from self._walk(case, gw.targets[0], gw.join)
                for task in others:
                    if task.callbacks is not None:  # still running
                        yield task
                i = nodes[gw.join].next
            elif kind == OR_SPLIT:
                gw = node.gw
                assert gw is not None
                chosen = self._activate(case, gw)
                # as an AND split over the activated branches only: the join waits for exactly those
                others = [Task(env, self._walk(case, t, gw.join)) for t in chosen[1:]]
                yield from self._walk(case, chosen[0], gw.join)
                for task in others:
                    if task.callbacks is not None:
                        yield task
                i = nodes[gw.join].next
            elif kind == WAIT:
                i = yield from self._wait(case, node.wait)
            elif kind == AND_JOIN:
                if i == stop:
                    return i
                raise AssertionError(f"reached join {node.id} outside its block")  # excluded by graph checks
            else:  # END
                if stop < 0:  # the case's own walk, not an AND branch
                    yield from self._case_end(case, i)
                return i

    def _choose(self, case: Case, gw: Gateway) -> tuple[int, str]:
        if gw.bounded:
            allowed = [k for k, b in enumerate(gw.bounds) if b is None or case.visits.get((gw.id, k), 0) < b]
        else:
            allowed = gw.every
        if gw.drift is not None:
            gw.drift(case, self.env._now)
        hooks = self.model.hooks
        if hooks is not None and gw.id in hooks.routes:
            # a rule cannot take a loop branch past its 'max': that is what keeps every case finite
            picked = hooks.route(case, gw, self.env.now, allowed)
            if picked is not None:
                return self._take(case, gw, picked[0]), picked[1]
        if gw.plain:
            # as the loop below: the first branch whose running sum exceeds u (zero weights never do)
            cum = gw.cum
            return gw.targets[min(bisect_right(cum, case.rng.random() * cum[-1]), len(cum) - 1)], ""
        conds = gw.conditions
        for k in allowed:
            cond = conds[k]
            if cond is not None and cond(case.attrs):
                return self._take(case, gw, k), ""
        rest = [k for k in allowed if conds[k] is None]
        weights = [gw.probs[k] for k in rest]
        total = sum(weights)
        if total <= 0:
            # the branches with probabilities are used up: the first remaining default takes the case
            return self._take(case, gw, rest[0]), ""
        u = case.rng.random() * total
        acc = 0.0
        for k, w in zip(rest, weights):
            acc += w
            if u < acc:
                return self._take(case, gw, k), ""
        return self._take(case, gw, rest[-1]), ""

    @staticmethod
    def _activate(case: Case, gw: Gateway) -> list[int]:
        """The branches an OR split activates: each whose condition holds, and each of the others with its own
        probability (one draw per branch, in order, from the case's flow stream); when none is, one branch chosen
        by the probabilities (the first if they are all 0)."""
        rng = case.rng
        chosen = [t for t, c, p in zip(gw.targets, gw.conditions, gw.probs)
                  if (c(case.attrs) if c is not None else rng.random() < p)]
        if chosen:
            return chosen
        total = sum(gw.probs)
        if total <= 0:
            return [gw.targets[0]]
        return [gw.targets[min(bisect_right(gw.cum, rng.random() * total), len(gw.cum) - 1)]]

    @staticmethod
    def _take(case: Case, gw: Gateway, k: int) -> int:
        if gw.bounds[k] is not None:
            key = (gw.id, k)
            case.visits[key] = case.visits.get(key, 0) + 1
        return gw.targets[k]

    def _wait(self, case: Case, w: Any) -> Generator[Event, Any, int]:
        """Wait without holding anyone; logged (no resource, no cost) if the wait says so. The rules that routed
        the case here stay for the next activity."""
        env = self.env
        now = env._now
        end = w.until(case.rng, now)
        if w.log:
            exc = self._exception_label(case, w) if case.exceptions else ""
            if case.exc is not None and case.exc.sticky:
                exc = _union(exc, case.exc.sticky)
            self.rec.rows.append(NEW_ROW(EventRow, (now, case.idx, w, 0, None, None, None, "", exc,
                                                    case._snap or case.snapshot())))
        if end > now:
            yield env.sleep(end - now)
        if w.log:
            case.events += 2
            self.rec.rows.append(NEW_ROW(EventRow, (env._now, case.idx, w, 1, None, None, None, "", exc,
                                                    case._snap or case.snapshot())))
        return w.next  # type: ignore[no-any-return]

    def _activity_x(self, case: Case, act: Activity, routed: str) -> Generator[Event, Any, int]:
        """An activity in a process with exceptions: skipped, deferred, delayed, repeated, followed by others."""
        st = case.exc
        eff = self.xplan.effect(case, act, self.env.now)
        i = act.next
        if eff is None:
            i = yield from self._activity(case, act, routed)
        elif eff.defer is not None:
            st.deferred.setdefault(eff.defer, []).append((act, eff.label))
        elif not eff.skip:
            if eff.wait:
                yield self.env.timeout(eff.wait)
            i = yield from self._activity(case, act, routed, eff)
            if case.routed:
                # a deadline escalated instead: the activity was not done, nor what the exception does to it
                self.xplan.withdraw(case, eff)
                return i
            for fn in eff.after:
                fn()
            # injected executions are not the modelled process: no deadline escalates them away
            for label in eff.repeats:
                yield from self._activity(case, act, "", Effect(label=label), escalate=False)
            for ins, label in eff.inserts:
                yield from self._activity(case, ins, "", Effect(label=label), escalate=False)
        deferred = st.deferred.pop(act.id, None)
        if deferred:
            for dact, label in deferred:
                yield from self._activity(case, dact, "", Effect(label=label), escalate=False)
        return i

    def _outage(self, case: Case, exc: str) -> Generator[Event, Any, str]:
        """Nothing starts or completes during an outage: wait for its end (the burst), labelled."""
        held = True
        while held:  # an outage may end inside another one
            held = False
            now = self.env.now
            for s, e, name in self.outages:
                if s <= now < e:
                    yield self.env.timeout(e - now)
                    case.raise_exception(name, INJECTED)
                    exc = _union(exc, name)
                    held = True
                    break
        return exc

    def _put(self, case: Case, row: EventRow, eff: Effect | None, bit: int) -> None:
        """Record a row as an exception has it: left out (a logging gap) or written twice (the copy labelled)."""
        rows = self.rec.rows
        if eff is None or not (eff.missing | eff.dup) & bit:
            rows.append(row)
        elif eff.missing & bit:
            case.events -= 1
        else:
            rows.append(row)
            rows.append(row._replace(exception=_union(row.exception, eff.dup_label)))
            case.events += 1

    def _activity(self, case: Case, act: Activity, routed: str, eff: Effect | None = None,
                  escalate: bool = True) -> Generator[Event, Any, int]:
        """Queue for a member, wait for working time, work (pausing off shift), record; returns the next node.

        The hot path of a run (once per activity instance): the clock is read as ``env._now`` (the property
        costs a call each time) and work is a ``Kernel.sleep``.
        """
        if act.batch >= 0:
            return (yield from self._batched(case, act, routed, eff))
        env = self.env
        rec = self.rec
        rows = rec.rows
        hooks = self.model.hooks
        scale = 1.0
        sample = act.sample
        allowed = None
        pool_i = act.pool
        fired = routed
        deadline = None
        exc = ""
        priority = act.priority
        ruled = ""
        if hooks is not None and act.id in hooks.by_activity:
            priority, allowed, pool_i, ruled, deadline = hooks.plan(case, act, env._now)
            if not escalate:
                deadline = None
        # duration rules run when the work starts (they may read who does it); their ids come first
        timed = hooks is not None and act.id in hooks.durations
        if ruled and not timed:
            fired = f"{fired};{ruled}" if fired else ruled
        if act.after is not None:  # the duration after the case's previous activity; a rule that sets one wins
            sample = act.after.get(case.last, sample)
        if case.pins is not None and act.id in case.pins:  # a scheme's one person (an exception below may differ)
            pool_i, allowed = case.pins[act.id]
        if case.exceptions:
            exc = self._exception_label(case, act)
        st = case.exc
        add = 0.0
        if st is not None:
            if st.sticky:
                exc = _union(exc, st.sticky)
            if eff is not None and eff.label:
                exc = _union(exc, eff.label)
                scale *= eff.scale
                add = eff.add
                if eff.pool is not None:
                    pool_i, allowed = eff.pool, eff.allowed
        after_sets = hooks is not None and act.id in hooks.after_sets
        if pool_i < 0:
            if timed:
                ruled_sample, dscale, dfired = hooks.durations_at(case, act, env._now, None, None)
                if ruled_sample is not act.sample:
                    sample = ruled_sample
                scale *= dscale
                fired = _join(fired, _join(dfired, ruled))
            if st is None:
                rows.append(NEW_ROW(EventRow, (env._now, case.idx, act, 0, None, None, None, fired, exc,
                                               case._snap or case.snapshot())))
            else:
                st.who[act.id] = (-1, -1)
                x = (yield from self._outage(case, exc)) if self._o_lo <= env._now < self._o_hi else exc
                row = NEW_ROW(EventRow, (env._now, case.idx, act, 0, None, None, None, fired, x,
                                         case.snapshot()))
                if eff is None:  # as _put does without an effect, without the call
                    rows.append(row)
                else:
                    self._put(case, row, eff, START)
            work = sample(case.rng) * scale + add
            yield env.sleep(work)
            cost = round(act.cost_fixed + act.cost_rate * work, 2)
            case.cost += cost
            case.events += 2
            case.last = act.id
            now = env._now
            if after_sets:
                fired = _join(fired, hooks.after_activity(case, act.id, now))
            if st is None:
                rows.append(NEW_ROW(EventRow, (now, case.idx, act, 1, None, None, cost, fired, exc,
                                               case._snap or case.snapshot())))
            else:
                x = (yield from self._outage(case, exc)) if self._o_lo <= now < self._o_hi else exc
                row = NEW_ROW(EventRow, (env._now, case.idx, act, 1, None, None, cost, fired, x,
                                         case.snapshot()))
                if eff is None:  # as _put does without an effect, without the call
                    rows.append(row)
                else:
                    self._put(case, row, eff, COMPLETE)
            if len(rows) >= rec.flush_every:
                rec.flush(final=False)
            return act.next
        pool = self.pools[pool_i]
        cal = pool.calendar
        people = pool.people
        # most requests find someone free: no event needed
        if people is None:
            member = pool.free.pop(0) if (allowed is None and pool.free) else pool.acquire_now(allowed)
        else:
            allowed = pool.worklist(allowed, case.rng, act.policy)
            member = pool.pick(allowed, case.rng, act.policy)
            if member >= 0 and people.calendars is not None:
                cal = people.calendars[member]  # the member's own: part-time, absences
        if member < 0:
            if st is not None and self.xplan.absent.get(pool_i):
                # queued while a member of the role is away: the absence is part of why it waits
                absent = self.xplan.absent[pool_i]
                exc = _union(exc, absent)
                case.raise_exception(absent, INJECTED)
            req = pool.request(priority, allowed) if people is None else pool.queue(priority, allowed)
            if deadline is not None:
                yield req | env.timeout(deadline.within)
                if not req.triggered:
                    # nobody picked it up in time: withdraw from the queue and take the escalation path
                    pool.cancel(req)
                    case.routed = deadline.rule
                    return cast(int, deadline.target)  # hooks (rules) are untyped here
            member = yield req
            if people is not None and people.calendars is not None:
                cal = people.calendars[member]
        elif deadline is not None and cal is not None and cal.next_working(env._now) > env._now + deadline.within:
            # a member is free but off shift until after the deadline (a Friday evening request): escalate
            pool.release(member)
            case.routed = deadline.rule
            return cast(int, deadline.target)
        start = env._now
        if cal is not None:
            nw = cal.next_working(start)
            if nw > start:
                yield env.sleep(nw - start)
                start = env._now
        name = pool.members[member]
        if timed:
            ruled_sample, dscale, dfired = hooks.durations_at(case, act, start, name, pool.name)
            if ruled_sample is not act.sample:
                sample = ruled_sample
            scale *= dscale
            fired = _join(fired, _join(dfired, ruled))
        if st is None:
            rows.append(NEW_ROW(EventRow, (start, case.idx, act, 0, name, pool.name, None, fired, exc,
                                           case._snap or case.snapshot())))
        else:
            st.who[act.id] = (pool_i, member)
            x = (yield from self._outage(case, exc)) if self._o_lo <= start < self._o_hi else exc
            row = NEW_ROW(EventRow, (env._now, case.idx, act, 0, name, pool.name, None, fired, x,
                                     case.snapshot()))
            if eff is None:  # as _put does without an effect, without the call
                rows.append(row)
            else:
                self._put(case, row, eff, START)
            start = env._now
        work = sample(case.rng) * scale + add
        if people is not None:
            if people.speeds is not None:
                work /= people.speeds[member]  # speed 1.5: the same work in 1/1.5 of the time
            if people.learning is not None:
                work *= people.learned(member, act.id)
            if people.slowdown is not None:  # multitasking: each other task the member holds slows this one
                work *= 1.0 + people.slowdown[member] * (pool.load[member] - 1)  # type: ignore[index]
        yield env.sleep(cal.add_working(start, work) - start if (cal is not None and act.pause) else work)
        cost = round(act.cost_fixed + act.cost_rate * work, 2)
        case.cost += cost
        case.events += 2
        case.last = act.id
        if case.history is not None:
            done = case.history.get(act.id)  # an inserted (unexpected) activity has no history of its own
            if done is not None:
                done.append(name)
        now = env._now
        if after_sets:
            fired = _join(fired, hooks.after_activity(case, act.id, now, name, pool.name))
        if st is None:
            rows.append(NEW_ROW(EventRow, (now, case.idx, act, 1, name, pool.name, cost, fired, exc,
                                           case._snap or case.snapshot())))
        else:
            x = (yield from self._outage(case, exc)) if self._o_lo <= now < self._o_hi else exc
            row = NEW_ROW(EventRow, (env._now, case.idx, act, 1, name, pool.name, cost, fired, x,
                                     case.snapshot()))
            if eff is None:  # as _put does without an effect, without the call
                rows.append(row)
            else:
                self._put(case, row, eff, COMPLETE)
        pool.release(member)
        if len(rows) >= rec.flush_every:
            rec.flush(final=False)
        return act.next

    def _batched(self, case: Case, act: Activity, routed: str, eff: Effect | None) -> Generator[Event, Any, int]:
        """A batched activity: the case's labels as ``_activity`` makes them, then it waits in the batch.

        Rules and exceptions that would change one case's duration, member, priority or deadline are refused at
        load (procsim.sim.build): a batch's are the batch's. Rules that raise a business exception at the
        activity still do (so their labels reach the case's events)."""
        hooks = self.model.hooks
        if hooks is not None and act.id in hooks.by_activity:
            ruled = hooks.plan(case, act, self.env._now).fired
            if ruled:
                routed = f"{routed};{ruled}" if routed else ruled
        exc = self._exception_label(case, act) if case.exceptions else ""
        st = case.exc
        if st is not None:
            if st.sticky:
                exc = _union(exc, st.sticky)
            if eff is not None and eff.label:
                exc = _union(exc, eff.label)
        return cast(int, (yield from self.batchers[act.batch].join(case, act, routed, exc, eff)))

    @staticmethod
    def _exception_label(case: Case, act: Activity) -> str:
        """Business exceptions label the events of the case from the moment they were raised."""
        return ";".join(dict.fromkeys(e for e, src in case.exceptions if src != INJECTED))


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the cyclic garbage collector rarely, and hand the GIL to the writer thread sooner, while simulating.

    A run allocates millions of short-lived objects (events, row tuples) and holds a batch of rows: with
    the default thresholds (700, 10, 10) the collector runs every few hundred allocations and rescans the
    survivors, a quarter of the run's time. Almost nothing here is cyclic garbage, so collecting every
    200,000 allocations frees the same memory (peak RSS unchanged) in a fraction of the time.

    The writer thread (procsim.writer) needs the GIL back each time a NumPy or Arrow call returns, some forty
    times per batch; the simulation never gives it up by itself, so each time the writer waited the full switch
    interval (5 ms): a batch took 2.5x its CPU time, the writer fell behind, and the run ended waiting for it.
    A 0.5 ms interval costs the simulation nothing measurable (it is only consulted while a thread waits).
    """
    global _collecting_runs, _saved
    # the settings are the interpreter's, not the run's: with several runs at once in one process (threads of a
    # dask worker) the first one in changes them and the last one out puts the old ones back
    with _collecting_lock:
        if _collecting_runs == 0:
            old = gc.get_threshold()
            _saved = (old, sys.getswitchinterval())
            gc.set_threshold(max(old[0], 200_000), max(old[1], 20), max(old[2], 100))
            sys.setswitchinterval(min(_saved[1], 0.0005))
        _collecting_runs += 1
    try:
        yield
    finally:
        with _collecting_lock:
            _collecting_runs -= 1
            if _collecting_runs == 0 and _saved is not None:
                gc.set_threshold(*_saved[0])
                sys.setswitchinterval(_saved[1])
                _saved = None


_collecting_lock = threading.Lock()
_collecting_runs = 0  # runs inside fewer_collections() now, in this process
_saved: tuple[tuple[int, int, int], float] | None = None  # the settings before the first of them


def _join(a: str, b: str) -> str:
    if not b:
        return a
    return f"{a};{b}" if a else b


def _union(a: str, b: str) -> str:
    """Exception labels joined without repeats (a sticky data label and the same exception's repetition)."""
    if not a:
        return b
    return ";".join(dict.fromkeys(a.split(";") + b.split(";")))


def _seat_people(pools: list[Pool], people: list[Any]) -> None:
    """Give each pool its members' setup; join the pools of people who are in several roles into one group."""
    from procsim.sim.resources import Group

    seats: dict[int, list[tuple[Pool, int]]] = {}
    for pool, pp in zip(pools, people):
        pool.people = pp
        if pp is not None:
            pp.done = None  # learning starts afresh with every run of the model
            if pp.caps is not None:  # multitasking: tasks held per member, up to their cap
                pool.caps = pp.caps
                pool.load = [0] * len(pp.caps)
        if pp is not None and pp.persons is not None:
            for j, person in enumerate(pp.persons):
                seats.setdefault(person, []).append((pool, j))
    if seats:
        group = Group([seats.get(i, []) for i in range(max(seats) + 1)])
        for pool, pp in zip(pools, people):
            if pp is not None and pp.persons is not None:
                pool.group = group
