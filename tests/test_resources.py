"""Resource pools: one task per member, FIFO among equals, priorities first, 'allowed' respected, hand-over at once."""

from __future__ import annotations

import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from procsim.sim.resources import Pool
from procsim.sim.task import Task


def _job(env: simpy.Environment, pool: Pool, log: list, name: str, d: float, prio: int = 0,
         allowed: set[int] | None = None):
    m = pool.acquire_now(allowed)
    if m < 0:
        m = yield pool.request(prio, allowed)
    log.append((env.now, name, pool.members[m]))
    yield env.timeout(d)
    pool.release(m)


def test_queue_order_priority_then_fifo_and_allowed_members():
    env = simpy.Environment()
    pool = Pool(env, "clerk", ["Ann", "Bo"], None)
    log: list = []
    for name, d, prio, allowed in [("a", 5, 0, None), ("b", 3, 0, None), ("c", 1, 0, None), ("d", 1, 9, None),
                                   ("e", 1, 0, {0})]:
        Task(env, _job(env, pool, log, name, d, prio, allowed))
    env.run()
    # a, b take both members; at 3 Bo is free: d (priority 9) jumps the queue; at 4 c; e waits for Ann (5)
    assert log == [(0, "a", "Ann"), (0, "b", "Bo"), (3, "d", "Bo"), (4, "c", "Bo"), (5, "e", "Ann")]
    assert sorted(pool.free) == [0, 1] and not pool.waiting


def test_a_released_member_goes_to_the_waiter_within_the_same_step():
    env = simpy.Environment()
    pool = Pool(env, "clerk", ["Ann"], None)
    log: list = []
    Task(env, _job(env, pool, log, "a", 2))
    Task(env, _job(env, pool, log, "b", 2))
    assert env.peek() == 2  # a works, b waits
    env.step()  # the end of a's work: a releases Ann, and b starts right in this step
    assert log == [(0, "a", "Ann"), (2, "b", "Ann")]
    assert env.peek() == 4  # b's work is already scheduled; no hand-over event sits in the queue


def _served(jobs: list, people: bool) -> list:
    """Run ``jobs`` (arrival, work, priority, allowed, patience) on a 4-member pool; who got what, and when."""
    from procsim.sim.people import PoolPeople

    env = simpy.Environment()
    pool = Pool(env, "clerk", ["Ann", "Bo", "Cy", "Di"], None)
    if people:  # the same pool through the people path: its queue is indexed by member
        pool.people = PoolPeople(None, None, 0, [1.0] * 4, None, {})
    log: list = []

    def job(k: int, at: float, work: float, prio: int, allowed: set[int] | None, patience: float | None):
        yield env.timeout(at)
        req = pool.request(prio, allowed)
        if patience is not None and not req.triggered:
            yield req | env.timeout(patience)
            if not req.triggered:
                pool.cancel(req)  # gave up waiting (a deadline)
                log.append((env.now, k, "gave up"))
                return
        m = yield req
        log.append((env.now, k, m))
        yield env.timeout(work)
        pool.release(m)

    for k, j in enumerate(jobs):
        Task(env, job(k, *j))
    env.run()
    return log


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.integers(1, 12), st.integers(0, 2),
                          st.one_of(st.none(), st.sets(st.integers(0, 3), min_size=1, max_size=3)),
                          st.one_of(st.none(), st.integers(1, 15))), max_size=40))
def test_people_pools_serve_their_indexed_queue_in_the_order_a_scan_of_the_queue_gives(jobs: list) -> None:
    # a released member takes the first waiting request (priority, then arrival) that accepts them: the
    # per-member index of a pool with people must pick exactly what the plain pool's scan picks
    assert _served(jobs, people=True) == _served(jobs, people=False)
