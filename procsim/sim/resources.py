"""Resource pools: named members of a role, one task each at a time (or up to k with ``multitask``), with a
priority queue.

SimPy's ``PriorityResource`` knows how many are busy but not *who*; a process log must name the person,
and assignment rules (four-eyes, named members) must be able to refuse a member. So a pool hands out
member indices, and a request may carry the set of members it accepts.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Collection
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import simpy
from simpy.events import Event

if TYPE_CHECKING:
    from procsim.sim.calendar import WorkCalendar



def _choose(cands: list[int], rng: Any, code: int, weights: list[float]) -> int:
    """The policy's choice among two or more candidates: ``code`` 1 uniformly at random, else by weight (the first
    when every weight is 0). One draw from ``rng`` either way."""
    if code == 1:  # random
        return cands[int(rng.random() * len(cands))]
    ws = [weights[c] for c in cands]  # weighted
    total = sum(ws)
    if total > 0:
        u, acc = rng.random() * total, 0.0
        for c, w in zip(cands, ws):
            acc += w
            if u < acc:
                return c
    return cands[0]

class Pool:
    """The members of one role. ``request`` returns an event whose value is the member index."""

    __slots__ = ("env", "name", "members", "free", "waiting", "_seq", "calendar", "busy_since", "busy_time",
                 "people", "group", "_wakes", "_draws", "_any", "_by", "load", "caps")

    def __init__(self, env: simpy.Environment, name: str, members: list[str], calendar: WorkCalendar | None) -> None:
        self.env = env
        self.name = name
        self.members = members
        # FIFO of idle members: the one idle longest gets the next task, which spreads work like real teams do
        self.free: list[int] = list(range(len(members)))
        # kept sorted by (-priority, arrival order): release scans it for the first request that accepts a member
        self.waiting: list[tuple[int, int, Event, Collection[int] | None]] = []
        self._seq = 0
        self.calendar = calendar
        self.busy_time = [0.0] * len(members)
        self.busy_since = [0.0] * len(members)
        # people who differ (procsim.sim.people.PoolPeople): None keeps every path below as it was
        self.people: Any = None
        self.group: Group | None = None
        self._wakes: dict[int, float] = {}
        # worklist draws among all members: id(weights) -> (weights, total, running sums, answer per index)
        self._draws: dict[int, tuple[list[float], float, list[float], list[tuple[int, ...]]]] = {}
        # with people: the same waiting entries indexed by who may take them, so a released member finds the
        # first request for them without scanning the queue (worklists queue many requests for one member each)
        self._any: list[_Entry] = []  # requests any member may take, in queue order
        self._by: dict[int, list[_Entry]] = {}  # member -> restricted requests that member may take, in queue order
        # multitasking (procsim.sim.people.PoolPeople.caps): tasks each member holds now, and may hold at once.
        # None: one task each, and ``free`` is the idle members; else ``free`` is the members with room for one more
        self.load: list[int] | None = None
        self.caps: list[int] | None = None

    def acquire_now(self, allowed: Collection[int] | None = None) -> int:
        """A free member at once, without an event (the common case: no queue), or -1."""
        if self.load is not None:  # multitasking: the least loaded member with room (see ``pick``)
            return self.pick(allowed, None, None)
        free = self.free
        if not free:
            return -1
        if allowed is None:
            return free.pop(0)
        for i, m in enumerate(free):
            if m in allowed:
                del free[i]
                return m
        return -1

    def request(self, priority: int = 0, allowed: Collection[int] | None = None) -> Event:
        ev = Event(self.env)
        free = self.free
        if self.people is not None:
            m = self.pick(allowed, None, None)
            if m >= 0:
                ev.succeed(m)
                return ev
            return self.queue(priority, allowed, ev)
        if free:
            if allowed is None:
                ev.succeed(free.pop(0))
                return ev
            for i, m in enumerate(free):
                if m in allowed:
                    del free[i]
                    ev.succeed(m)
                    return ev
        self._seq += 1
        if not self.waiting or self.waiting[-1][0] <= -priority:
            self.waiting.append((-priority, self._seq, ev, allowed))
        else:
            insort(self.waiting, (-priority, self._seq, ev, allowed), key=lambda w: (w[0], w[1]))
        return ev

    def release(self, member: int) -> None:
        """Hand the member to the first waiting request that accepts them, else mark them free.

        The hand-over is processed at once, as if the kernel had just popped the request's event: the
        waiter goes on (records its start, schedules its work) inside this call, at the same simulated
        time. That saves a schedule and a step per queued request, the busiest path of a loaded pool.
        """
        if self.people is not None:
            self._release_person(member)
            return
        waiting = self.waiting
        if waiting:
            for i, w in enumerate(waiting):
                allowed = w[3]
                if allowed is None or member in allowed:
                    del waiting[i]
                    ev = w[2]
                    ev._ok = True
                    ev._value = member
                    callbacks, ev.callbacks = ev.callbacks, None  # type: ignore[assignment]  # None marks processed, as in simpy (typed there as a list)
                    for callback in callbacks:
                        callback(ev)
                    return
        self.free.append(member)

    def cancel(self, ev: Event) -> None:
        """Withdraw a request still waiting (an escalation that gives up on the queue)."""
        for i, w in enumerate(self.waiting):
            if w[2] is ev:
                if self.people is not None:
                    self._unindex(w)
                del self.waiting[i]
                return

    # -- people who differ: per-member calendars, assignment policies, one person in several roles ------------

    def queue(self, priority: int, allowed: Collection[int] | None, ev: Event | None = None) -> Event:
        """Wait for a member (the caller found nobody on duty with ``pick`` at this instant)."""
        ev = Event(self.env) if ev is None else ev
        self._enqueue(priority, ev, allowed)
        self._wake_free(allowed)
        return ev

    def _enqueue(self, priority: int, ev: Event, allowed: Collection[int] | None) -> None:
        # a person in several roles takes the longest-waiting request across them: one sequence for the group
        if self.group is not None:
            self.group.seq += 1
            seq = self.group.seq
        else:
            self._seq += 1
            seq = self._seq
        entry = (-priority, seq, ev, allowed)
        insort(self.waiting, entry, key=_KEY)
        if allowed is None:
            insort(self._any, entry, key=_KEY)
        else:
            for c in (allowed if len(allowed) == 1 else set(allowed)):
                lst = self._by.get(c)
                if lst is None:
                    self._by[c] = [entry]
                else:
                    insort(lst, entry, key=_KEY)

    def _first(self, m: int) -> _Entry | None:
        """The first waiting request (queue order) that member ``m`` may take: what a scan of ``waiting`` finds."""
        if self.people is None:  # filled by ``request`` alone, not indexed
            for w in self.waiting:
                if w[3] is None or m in w[3]:
                    return w
            return None
        a = self._any
        b = self._by.get(m)
        if a:
            if b and (b[0][0], b[0][1]) < (a[0][0], a[0][1]):
                return b[0]
            return a[0]
        return b[0] if b else None

    def _unqueue(self, w: _Entry) -> None:
        """Take entry ``w`` out of the queue (and its index): (priority, sequence) is unique, so bisect finds it."""
        waiting = self.waiting
        del waiting[bisect_left(waiting, (w[0], w[1]), key=_KEY)]
        if self.people is not None:
            self._unindex(w)

    def _unindex(self, w: _Entry) -> None:
        key = (w[0], w[1])
        allowed = w[3]
        if allowed is None:
            del self._any[bisect_left(self._any, key, key=_KEY)]
            return
        for c in (allowed if len(allowed) == 1 else set(allowed)):
            lst = self._by[c]
            del lst[bisect_left(lst, key, key=_KEY)]

    def _on_duty(self, m: int, now: float) -> bool:
        cals = self.people.calendars
        return cals is None or cals[m].is_working(now)

    def pick(self, allowed: Collection[int] | None, rng: Any, policy: tuple[int, list[float]] | None) -> int:
        """A free member by the assignment policy (``policy`` overrides the role's), or -1.

        With per-member calendars only members on duty now count: a free member who is away or off shift
        does not take work that someone else could start sooner (a wake-up offers them work when they return).
        """
        now = self.env._now
        cals = self.people.calendars
        code, weights = policy if policy is not None else (self.people.policy, self.people.weights)
        if self.load is not None:
            return self._pick_loaded(allowed, rng, code, weights)
        if code == 0 or code == 3 or rng is None:  # the first one who may and is on duty: no list needed
            for m in self.free:
                if (allowed is None or m in allowed) and (cals is None or cals[m].is_working(now)):
                    self._take(m)
                    return m
            return -1
        cands = [m for m in self.free if (allowed is None or m in allowed) and (cals is None or cals[m].is_working(now))]
        if not cands:
            return -1
        m = cands[0] if len(cands) == 1 else _choose(cands, rng, code, weights)
        self._take(m)
        return m

    def _pick_loaded(self, allowed: Collection[int] | None, rng: Any, code: int, weights: list[float]) -> int:
        """``pick`` with multitasking: among the free members (room for one more task) who may and are on duty,
        those holding the fewest tasks; among them the policy chooses as ``pick`` does (idle longest: the first)."""
        now = self.env._now
        cals = self.people.calendars
        load = self.load
        assert load is not None
        cands = [m for m in self.free if (allowed is None or m in allowed) and (cals is None or cals[m].is_working(now))]
        if not cands:
            return -1
        low = min(load[c] for c in cands)
        cands = [c for c in cands if load[c] == low]
        m = cands[0]
        if len(cands) > 1 and rng is not None and code in (1, 2):
            m = _choose(cands, rng, code, weights)
        self._take(m)
        return m

    def worklist(self, allowed: Collection[int] | None, rng: Any, policy: tuple[int, list[float]] | None
                 ) -> Collection[int] | None:
        """With policy ``worklist``: the one member (drawn by weight among ``allowed``) who alone may do the task."""
        code, weights = policy if policy is not None else (self.people.policy, self.people.weights)
        if code != 3:
            return allowed
        if allowed is None:  # the common case, once per task: the running sums are the same every time
            draw = self._draws.get(id(weights))
            if draw is None or draw[0] is not weights:
                draw = self._draws[id(weights)] = _cumulative(weights, len(self.members))
            total = draw[1]
            if total <= 0:
                return allowed
            # the first member whose running sum exceeds u: what the loop below finds, without the loop
            return draw[3][bisect_right(draw[2], rng.random() * total)]
        cands = [m for m in range(len(self.members)) if allowed is None or m in allowed]
        ws = [weights[c] for c in cands]
        total = sum(ws)
        if total <= 0:
            return allowed
        u, acc = rng.random() * total, 0.0
        for c, w in zip(cands, ws):
            acc += w
            if u < acc:
                return (c,)
        return (cands[-1],)

    def _take(self, m: int) -> None:
        load = self.load
        if load is not None:
            load[m] += 1
            if load[m] < self.caps[m]:  # type: ignore[index]  # set with load
                return  # room for more: stays free (a multitasker is in one role only: spec.people checks it)
        self.free.remove(m)
        if self.group is not None:
            for pool, j in self.group.seats[self.people.persons[m]]:
                if pool is not self and j in pool.free:
                    pool.free.remove(j)

    def _seats(self, m: int) -> list[tuple[Pool, int]]:
        return self.group.seats[self.people.persons[m]] if self.group is not None else [(self, m)]

    def _hand(self, m: int) -> bool:
        """Give person ``m`` the most urgent request waiting for them in any of their roles, if on duty."""
        now = self.env._now
        if self.group is None:  # the common case: one role, so the first request that accepts them
            if not self.waiting or not self._on_duty(m, now):
                return False
            # as ``_first``, inline: the busiest call of a loaded pool (distinct entries differ in sequence, so
            # comparing whole entries compares (priority, sequence))
            a = self._any
            b = self._by.get(m)
            if b:
                w = b[0] if not a or b[0] < a[0] else a[0]
            elif a:
                w = a[0]
            else:
                return False
            load = self.load
            if load is not None:
                load[m] += 1
                if load[m] >= self.caps[m] and m in self.free:  # type: ignore[index]  # set with load
                    self.free.remove(m)
            elif m in self.free:
                self.free.remove(m)
            self._unqueue(w)
            self._trigger(w[2], m)
            return True
        best = None
        for pool, j in self._seats(m):
            if not pool.waiting or (pool.people is not None and not pool._on_duty(j, now)):
                continue
            cand = pool._first(j)
            if cand is not None and (best is None or (cand[0], cand[1]) < best[0]):
                best = ((cand[0], cand[1]), pool, cand, j)
        if best is None:
            return False
        _, pool, w, j = best
        if pool.load is not None:
            pool.load[j] += 1  # one task (members in several roles do not multitask)
        for p2, j2 in self._seats(m):
            if j2 in p2.free:
                p2.free.remove(j2)
        pool._unqueue(w)
        self._trigger(w[2], j)
        return True

    @staticmethod
    def _trigger(ev: Event, member: int) -> None:
        """Succeed a waiting request at once, as ``release`` does (see there)."""
        ev._ok = True
        ev._value = member
        callbacks, ev.callbacks = ev.callbacks, None  # type: ignore[assignment]  # None marks processed, as in simpy (typed there as a list)
        for callback in callbacks:
            callback(ev)

    def _release_person(self, m: int) -> None:
        if self.load is not None:
            self.load[m] -= 1
        if self._hand(m):
            return
        now = self.env._now
        for pool, j in self._seats(m):
            if pool.load is not None and j in pool.free:
                continue  # a multitasker who still had room is free already
            pool.free.append(j)
            if pool.waiting and pool.people is not None and not pool._on_duty(j, now):
                pool._wake(j)

    def _wake_free(self, allowed: Collection[int] | None) -> None:
        """A request had to wait: free members off duty who may take it are woken when their duty starts."""
        if self.people.calendars is None:
            return
        now = self.env._now
        wakes = self._wakes
        for m in self.free:
            if m not in wakes and (allowed is None or m in allowed) and not self._on_duty(m, now):
                self._wake(m)

    def _wake(self, m: int) -> None:
        if m in self._wakes:  # already due when their duty starts (a wake is dropped once it has fired)
            return
        t = self.people.calendars[m].next_working(self.env._now)
        self._wakes[m] = t
        ev = self.env.sleep(t - self.env._now)  # type: ignore[attr-defined]
        ev.callbacks.append(lambda _ev: self._woken(m, t))

    def _woken(self, m: int, t: float) -> None:
        self._wakes.pop(m, None)
        if m in self.free:
            self._hand(m)


_Entry = tuple[int, int, Event, "Collection[int] | None"]  # (-priority, sequence, request, who may take it)
_KEY = itemgetter(0, 1)  # queue order: priority first, then arrival


def _cumulative(weights: list[float], n: int) -> tuple[list[float], float, list[float], list[tuple[int, ...]]]:
    """What ``Pool.worklist`` draws from when every member may: the same sums, added in the same order.

    ``u < acc`` at the first index whose running sum exceeds ``u`` is ``bisect_right`` on the sums; a ``u`` at
    or past the last sum (rounding) falls to the last member, as the loop's fallback does."""
    ws = weights[:n]
    total: float = sum(ws)
    sums: list[float] = []
    acc = 0.0
    for w in ws:
        acc += w
        sums.append(acc)
    answers: list[tuple[int, ...]] = [(c,) for c in range(n)]
    answers.append((n - 1,))
    return weights, total, sums, answers


class Group:
    """The pools of people who are in several roles: where each person sits (pool, index), one sequence."""

    __slots__ = ("seats", "seq")

    def __init__(self, seats: list[list[tuple[Pool, int]]]) -> None:
        self.seats = seats  # person id -> [(pool, member index in it)]
        self.seq = 0
