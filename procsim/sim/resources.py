"""Resource pools: named members of a role, one task each at a time, with a priority queue.

SimPy's ``PriorityResource`` knows how many are busy but not *who*; a process log must name the person,
and assignment rules (four-eyes, named members) must be able to refuse a member. So a pool hands out
member indices, and a request may carry the set of members it accepts.
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Collection

import simpy
from simpy.events import Event


class Pool:
    """The members of one role. ``request`` returns an event whose value is the member index."""

    __slots__ = ("env", "name", "members", "free", "waiting", "_seq", "calendar", "busy_since", "busy_time")

    def __init__(self, env: simpy.Environment, name: str, members: list[str], calendar: object | None) -> None:
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

    def acquire_now(self, allowed: Collection[int] | None = None) -> int:
        """A free member at once, without an event (the common case: no queue), or -1."""
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
        waiting = self.waiting
        if waiting:
            for i, w in enumerate(waiting):
                allowed = w[3]
                if allowed is None or member in allowed:
                    del waiting[i]
                    ev = w[2]
                    ev._ok = True
                    ev._value = member
                    callbacks, ev.callbacks = ev.callbacks, None
                    for callback in callbacks:
                        callback(ev)
                    return
        self.free.append(member)

    def cancel(self, ev: Event) -> None:
        """Withdraw a request still waiting (an escalation that gives up on the queue)."""
        for i, w in enumerate(self.waiting):
            if w[2] is ev:
                del self.waiting[i]
                return
