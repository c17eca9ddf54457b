"""The "bare SimPy" ceiling: a minimal hand-written SimPy model derived from a loaded procsim process.

Owns nothing procsim runs; it exists so ``bench_core.py`` can print procsim's speed as a ratio against the
fastest plain-SimPy model of the same size, run in the same process. What it keeps from the spec:

- one ``simpy.Resource`` per role, capacity = number of members;
- the same activities in the same control flow, walked on the same graph: xor splits by their
  probabilities (a split with any ``when`` branch picks uniformly among its usable branches, since the
  baseline evaluates nothing), loop branches with the same ``max``, and splits run in parallel via AllOf;
- exponential durations with each activity distribution's mean, exponential arrival gaps with the
  interarrival mean.

Edges that deadline rules add to the graph (``escalation=True``) are not walked: the baseline evaluates no rules,
so an activity reached only through them (procure_to_pay's ``escalate_approval``) is listed in ``rule_only``.

What it drops on purpose: calendars, case data, rules, named members, priorities, and every output except a
count of activity instances per activity. Randomness comes from one ``random.Random(seed)``.
"""

from __future__ import annotations

import random
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import networkx as nx
import simpy

from procsim.graph import and_blocks, start_node
from procsim.spec import LoadedProcess

# node kinds of the compiled walk
ACT, XOR, SPLIT, JOIN, PASS, END = range(6)


@dataclass(frozen=True)
class BaselineResult:
    cases: int
    activity_instances: int
    counts: dict[str, int]  # activity id -> completed instances, for every activity the graph's flow reaches
    rule_only: tuple[str, ...]  # activities reached only through rule-added (escalation) edges: never walked
    sim_time: float  # simulated seconds at the end, as a sanity check that the model ran


@dataclass(eq=False)
class _Node:
    kind: int
    next: int = -1
    act: int = -1  # ACT: index into the activity tables
    targets: tuple[int, ...] = ()  # XOR / SPLIT
    probs: tuple[float, ...] = ()  # XOR: weights; a used-up loop branch drops out and the rest share its weight
    bounds: tuple[int | None, ...] = ()
    join: int = -1  # SPLIT: the join that closes the block


def flow_graph(loaded: LoadedProcess) -> nx.DiGraph:
    """The process graph without the edges deadline rules add."""
    g = loaded.graph
    return nx.restricted_view(g, [], [(u, v) for u, v, esc in g.edges(data="escalation") if esc])


def _compile(loaded: LoadedProcess) -> tuple[list[_Node], int, list[str], list[int], list[float]]:
    """Nodes indexed by int, from ``loaded.graph`` (edges, kinds) and ``loaded.spec`` (roles, means, probabilities)."""
    spec, g = loaded.spec, flow_graph(loaded)
    order = list(g.nodes)
    index = {n: i for i, n in enumerate(order)}
    acts = list(spec.activities)
    act_index = {a: i for i, a in enumerate(acts)}
    roles = list(spec.roles)
    act_pool = [roles.index(role) if (role := spec.activities[a].role) is not None else -1 for a in acts]
    act_mean = [float(spec.activities[a].duration.expected_value()) for a in acts]
    blocks = and_blocks(g, [n for n, e in spec.events.items() if e.type == "end"])
    nodes: list[_Node] = []
    for n in order:
        kind = g.nodes[n]["kind"]
        succ = list(g.successors(n))
        if kind == "end":
            nodes.append(_Node(END))
        elif kind == "start":
            nodes.append(_Node(PASS, index[succ[0]]))
        elif kind == "activity":
            nodes.append(_Node(ACT, index[succ[0]], act=act_index[n]))
        elif n in blocks:
            nodes.append(_Node(SPLIT, targets=tuple(index[t] for t in succ), join=index[blocks[n]]))
        elif kind == "and":
            nodes.append(_Node(JOIN, index[succ[0]]))
        elif len(succ) == 1:
            nodes.append(_Node(PASS, index[succ[0]]))
        else:  # xor split: branch order, probabilities and bounds from the spec (two branches may share an edge)
            branches = spec.gateways[n].branches or []
            uniform = any(b.when is not None for b in branches)
            probs = tuple(1.0 if uniform or (b.probability is None) else b.probability for b in branches)
            nodes.append(_Node(XOR, targets=tuple(index[b.to] for b in branches), probs=probs,
                               bounds=tuple(b.max for b in branches)))
    return nodes, index[start_node(spec)], acts, act_pool, act_mean


def run_baseline(loaded: LoadedProcess, cases: int, seed: int = 1) -> BaselineResult:
    """Simulate ``cases`` arrivals to completion and count activity instances."""
    nodes, start, acts, act_pool, act_mean = _compile(loaded)
    spec = loaded.spec
    env = simpy.Environment()
    rng = random.Random(seed)
    expo = rng.expovariate
    choose = rng.random
    pools = [simpy.Resource(env, capacity=r.members if isinstance(r.members, int) else len(r.members))
             for r in spec.roles.values()]
    act_res = [pools[p] if p >= 0 else None for p in act_pool]
    act_rate = [1.0 / m if m > 0 else 0.0 for m in act_mean]
    counts = [0] * len(acts)
    timeout = env.timeout

    def pick(node: _Node, visits: dict[tuple[int, int], int], key: int) -> int:
        bounds, probs = node.bounds, node.probs
        ks = [k for k, b in enumerate(bounds) if b is None or visits.get((key, k), 0) < b]
        u = choose() * sum(probs[k] for k in ks)
        k = ks[-1]
        for j in ks:
            u -= probs[j]
            if u < 0:
                k = j
                break
        if bounds[k] is not None:
            visits[(key, k)] = visits.get((key, k), 0) + 1
        return node.targets[k]

    def walk(i: int, stop: int, visits: dict[tuple[int, int], int]) -> Generator[Any, Any, None]:
        while True:
            node = nodes[i]
            kind = node.kind
            if kind == ACT:
                a = node.act
                rate = act_rate[a]
                res = act_res[a]
                if res is None:
                    yield timeout(expo(rate) if rate else 0.0)
                else:
                    with res.request() as req:
                        yield req
                        yield timeout(expo(rate) if rate else 0.0)
                counts[a] += 1
                i = node.next
            elif kind == XOR:
                i = pick(node, visits, i)
            elif kind == PASS:
                i = node.next
            elif kind == SPLIT:
                yield env.all_of([env.process(walk(t, node.join, visits)) for t in node.targets])
                i = nodes[node.join].next
            elif kind == JOIN:
                if i == stop:
                    return
                i = node.next
            else:
                return

    gap_rate = 1.0 / float(spec.arrivals.interarrival.expected_value())

    def arrivals() -> Generator[Any, Any, None]:
        for n in range(cases):
            if n:
                yield timeout(expo(gap_rate))
            env.process(walk(start, -1, {}))

    env.process(arrivals())
    env.run()
    g = flow_graph(loaded)
    reached = nx.descendants(g, start_node(spec))
    return BaselineResult(cases, sum(counts), {a: n for a, n in zip(acts, counts) if a in reached},
                          tuple(a for a in acts if a not in reached), float(env.now))
