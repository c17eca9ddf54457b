"""Control-flow discovery for ``procsim discover``: a process tree by an inductive miner, written as procsim nodes.

Owns the algorithm (see docs/discover.md): the inductive miner with infrequent-behaviour filtering (IMf; Leemans,
Fahland & van der Aalst 2013), written from the paper over a multiset of variants. At each step it looks, on the
directly-follows graph filtered at ``noise``, for an exclusive-choice cut (connected components), a sequence cut
(strongly connected components in order), a parallel cut (activities that follow each other both ways) or a
loop cut (a body through the start and end activities, redo parts between them), splits the log accordingly
and recurses. Empty sub-traces become a skip; when no cut applies, the sub-log becomes a directly-follows
fragment (bounded loops; see :func:`dfg_fragment`) instead of IM's "flower", which would lose all order.

The tree then becomes procsim's language: a sequence chains ``next``; an exclusive choice is an XOR split whose
probabilities are the shares of sub-traces that took each child; a parallel block is an AND split and join; a
loop is the body followed by an XOR split back through the redo part, with ``max`` = the most redo iterations
one case made in the log. Each activity appears once in a tree, so each is one node.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import networkx as nx

Variants = Counter[tuple[str, ...]]  # trace -> number of cases
UNROLL = 6  # passes of a loop written out, each with its own share of going round again
UNROLL_MIN = 20  # cases that must go round again after a pass for it to get a share of its own
UNROLL_ACTS = 4  # loops with more activities (body and redo) are not unrolled
UNROLL_BUDGET = 300  # copies of activities in one model at most
STATE_MIN = 20  # cases through a state of a directly-follows part for it to get a node of its own
STATE_BUDGET = 400  # copies of activities (loop passes and states) in one model at most
STATE_NOISE = 0.25  # miner 'states': a state's branches below this times the emitter's noise of its cases dropped
RUN_CAP = 4  # runs of one activity in a row counted apart up to this length
_State = tuple[str, int, int]  # a transition-system state (see _states): (last, done as a bit mask over labels, run)
SAME_SKIPS = 0.95  # consecutive optional groups skipped by this share of the same cases are skipped together

__all__ = ["Node", "inductive", "Emitter", "dfg_fragment", "state_support"]


def state_support(log: Variants) -> float:
    """The share of the log's events that happen in transition-system states (see :meth:`Emitter._states`: last
    activity, the set done so far, run length up to RUN_CAP) that at least STATE_MIN cases pass through: how far
    the log supports its transition system. Low support (many states seen by a few cases) means a model by states
    would rest on the directly-follows fallback for much of the log."""
    bit = {a: 1 << i for i, a in enumerate(sorted({a for t in log for a in t}))}
    visits: Counter[tuple[str, int, int]] = Counter()
    for t, n in log.items():
        last, done, run = "", 0, 0
        for x in t:
            run = min(run + 1, RUN_CAP) if x == last else 1
            last, done = x, done | bit[x]
            visits[(last, done, run)] += n
    total = sum(visits.values())
    return sum(v for v in visits.values() if v >= STATE_MIN) / total if total else 0.0


@dataclass
class Node:
    """A process-tree node: ``act`` (label), ``tau``, ``seq``, ``xor`` (weights), ``and``, ``loop`` (children
    [body, redo], ``max_redo``, ``weights`` = [exits, redos], ``repeats``) or ``dfg`` (a fragment for a sub-log no cut fits)."""

    op: str
    children: list[Node] = field(default_factory=list)
    label: str = ""
    weights: list[float] = field(default_factory=list)
    max_redo: int = 1
    log: Variants | None = None
    repeats: Counter[int] = field(default_factory=Counter)  # loop: redo iterations per pass -> cases


def _dfg(log: Variants) -> tuple[Counter[tuple[str, str]], Counter[str], Counter[str]]:
    df: Counter[tuple[str, str]] = Counter()
    starts: Counter[str] = Counter()
    ends: Counter[str] = Counter()
    for t, n in log.items():
        if not t:
            continue
        starts[t[0]] += n
        ends[t[-1]] += n
        for a, b in zip(t, t[1:]):
            df[(a, b)] += n
    return df, starts, ends


def _filter(df: Counter[tuple[str, str]], noise: float) -> set[tuple[str, str]]:
    """IMf's filter: keep an arc when it has at least ``noise`` of its source's most frequent outgoing arc; and,
    as split miner does, every activity's most frequent incoming and outgoing arc, so a rare activity stays
    connected where it happens instead of floating free of every order."""
    best: dict[str, int] = defaultdict(int)
    best_in: dict[str, tuple[int, str]] = {}
    best_out: dict[str, tuple[int, str]] = {}
    for (a, b), c in sorted(df.items()):
        best[a] = max(best[a], c)
        if c > best_in.get(b, (0, ""))[0]:
            best_in[b] = (c, a)
        if c > best_out.get(a, (0, ""))[0]:
            best_out[a] = (c, b)
    keep = {(a, b) for (a, b), c in df.items() if c >= noise * best[a]}
    keep |= {(a, b) for b, (_, a) in best_in.items()} | {(a, b) for a, (_, b) in best_out.items()}
    return keep


def _project(log: Variants, keep: set[str]) -> Variants:
    out: Variants = Counter()
    for t, n in log.items():
        out[tuple(x for x in t if x in keep)] += n
    return out


def _xor_cut(acts: list[str], arcs: set[tuple[str, str]]) -> list[set[str]] | None:
    g = nx.Graph()
    g.add_nodes_from(acts)
    g.add_edges_from((a, b) for a, b in arcs if a != b)
    comps = [set(c) for c in nx.connected_components(g)]
    return comps if len(comps) > 1 else None


def _seq_cut(acts: list[str], arcs: set[tuple[str, str]]) -> list[set[str]] | None:
    g = nx.DiGraph()
    g.add_nodes_from(acts)
    g.add_edges_from(arcs)
    cond = nx.condensation(g)
    if cond.number_of_nodes() < 2:
        return None
    members = cond.graph["mapping"]
    reach = {n: nx.descendants(cond, n) for n in cond.nodes}
    # strongly connected components that cannot reach each other belong to the same group
    u = nx.Graph()
    u.add_nodes_from(cond.nodes)
    nodes = sorted(cond.nodes)
    for i, x in enumerate(nodes):
        for y in nodes[i + 1:]:
            if y not in reach[x] and x not in reach[y]:
                u.add_edge(x, y)
    groups = [set(c) for c in nx.connected_components(u)]
    if len(groups) < 2:
        return None
    topo = {n: i for i, n in enumerate(nx.topological_sort(cond))}
    groups.sort(key=lambda gr: min(topo[n] for n in gr))
    # the groups must be totally ordered: every earlier group reaches every later one
    for i in range(len(groups) - 1):
        if not all(any(y in reach[x] for x in groups[i]) for y in groups[i + 1]):
            return None
    inv: dict[int, set[str]] = defaultdict(set)
    for a, c in members.items():
        inv[c].add(a)
    return [set().union(*(inv[n] for n in gr)) for gr in groups]


def _and_cut(acts: list[str], arcs: set[tuple[str, str]], starts: set[str], ends: set[str]) -> list[set[str]] | None:
    g = nx.Graph()
    g.add_nodes_from(acts)
    for i, a in enumerate(acts):
        for b in acts[i + 1:]:
            if not ((a, b) in arcs and (b, a) in arcs):
                g.add_edge(a, b)  # not both ways: not parallel, same branch
    comps = [set(c) for c in nx.connected_components(g)]
    if len(comps) < 2 or not all(c & starts and c & ends for c in comps):
        return None
    return comps


def _loop_cut(acts: list[str], arcs: set[tuple[str, str]], starts: set[str], ends: set[str]) -> list[set[str]] | None:
    body = set(starts) | set(ends)
    g = nx.Graph()
    rest = [a for a in acts if a not in body]
    g.add_nodes_from(rest)
    g.add_edges_from((a, b) for a, b in arcs if a in g and b in g)
    redo: list[set[str]] = []
    for comp in (set(c) for c in nx.connected_components(g)):
        ins = {a for a, b in arcs if b in comp and a not in comp}
        outs = {b for a, b in arcs if a in comp and b not in comp}
        if ins and outs and ins <= ends and outs <= starts and not (ins & starts - ends):
            redo.append(comp)
        else:
            body |= comp
    # a start activity must not be entered from inside the body except from its ends (else it is not a loop)
    if not redo:
        # a loop with an empty redo part: the body's ends lead straight back to its starts
        back = {(a, b) for a, b in arcs if a in ends and b in starts}
        if back and len(acts) > 1 and set(acts) == body:
            return [body, set()]
        return None
    return [body] + redo


def _split_loop(log: Variants, body: set[str]) -> tuple[Variants, Variants, int, int, int, Counter[int]]:
    """Cut each trace into body and redo segments; returns both sub-logs, exits, redos, the most redos and how
    many traces made each number of redos."""
    do_log: Variants = Counter()
    redo_log: Variants = Counter()
    repeats: Counter[int] = Counter()
    exits = redos = most = 0
    for t, n in log.items():
        segs: list[tuple[bool, list[str]]] = []
        for x in t:
            inb = x in body
            if segs and segs[-1][0] == inb:
                segs[-1][1].append(x)
            else:
                segs.append((inb, [x]))
        if segs and not segs[0][0]:
            segs.insert(0, (True, []))
        if segs and not segs[-1][0]:
            segs.append((True, []))
        k = 0
        for i, (inb, s) in enumerate(segs):
            if inb:
                if i > 0 and segs[i - 1][0]:
                    # two body segments in a row: the redo part was skipped between them
                    redo_log[()] += n
                    k += 1
                do_log[tuple(s)] += n
            else:
                redo_log[tuple(s)] += n
                k += 1
        exits += n
        redos += k * n
        repeats[k] += n
        most = max(most, k)
    return do_log, redo_log, exits, redos, most, repeats


def inductive(log: Variants, noise: float = 0.2, depth: int = 0) -> Node:
    """The process tree of ``log`` (see the module docstring)."""
    total = sum(log.values())
    empty = log.get((), 0)
    if empty and total:
        rest = Counter({t: n for t, n in log.items() if t})
        if not rest:
            return Node("tau")
        if empty >= 0.01 * total:  # a skip one case in a hundred takes is kept
            return Node("xor", [inductive(rest, noise, depth + 1), Node("tau")], weights=[total - empty, empty])
        log = rest
        total -= empty
    acts = sorted({a for t in log for a in t})
    if len(acts) == 1:
        a = acts[0]
        reps = [len(t) for t in log]
        if max(reps) == 1:
            return Node("act", label=a)
        n_redo = sum((len(t) - 1) * n for t, n in log.items())
        counts: Counter[int] = Counter()
        for t, n in log.items():
            counts[len(t) - 1] += n
        return Node("loop", [Node("act", label=a), Node("tau")], weights=[total, n_redo], max_redo=max(reps) - 1,
                    repeats=counts)
    if depth > 60:
        return Node("dfg", log=log)
    df, st, en = _dfg(log)
    arcs = _filter(df, noise)
    starts, ends = set(st), set(en)
    cut = _xor_cut(acts, arcs)
    if cut:
        subs: list[Variants] = [Counter() for _ in cut]
        where = {a: i for i, c in enumerate(cut) for a in c}
        for t, n in log.items():
            votes = Counter(where[x] for x in t)
            i = max(votes, key=lambda k: (votes[k], -k))
            subs[i][tuple(x for x in t if where[x] == i)] += n
        for i, c in enumerate(cut):
            if not subs[i] or {a for t in subs[i] for a in t} != c:
                # a rare branch outvoted in every trace: it keeps the traces it occurs in, projected onto it
                for t, n in log.items():
                    p = tuple(x for x in t if where[x] == i)
                    if p and p not in subs[i]:
                        subs[i][p] += n
        kids = [(inductive(s, noise, depth + 1), float(sum(s.values()))) for s in subs if sum(s.values())]
        if len(kids) == 1:
            return kids[0][0]
        return Node("xor", [k for k, _ in kids], weights=[w for _, w in kids])
    cut = _seq_cut(acts, arcs)
    if cut:
        return _sequence(log, cut, noise, depth)
    # concurrency shows as arcs both ways, the rarer way often below the filter: judged on a lighter filter
    cut = _and_cut(acts, _filter(df, noise / 4), starts, ends)
    if cut:
        return Node("and", [inductive(_project(log, c), noise, depth + 1) for c in cut])
    cut = _loop_cut(acts, arcs, starts, ends)
    if cut and cut[1:] and any(cut[1:]):
        body = cut[0]
        do_log, redo_log, exits, redos, most, repeats = _split_loop(log, body)
        if redos and do_log != log:
            redo_acts = set().union(*cut[1:])
            redo_tree = inductive(redo_log, noise, depth + 1) if redo_acts else Node("tau")
            return Node("loop", [inductive(do_log, noise, depth + 1), redo_tree], weights=[exits, redos],
                        max_redo=max(most, 1), repeats=repeats)
    return Node("dfg", log=log)


def _sequence(log: Variants, groups: list[set[str]], noise: float, depth: int, i: int = 0) -> Node:
    """Groups ``i``.. in sequence; where at least 1% of the cases stop after a group (a rejection, a cancellation),
    the rest becomes an optional block, so the cases that stop skip all of it together, not step by step."""
    where = {a: k for k, g in enumerate(groups) for a in g}
    total = sum(log.values())
    # consecutive groups that (nearly) the same cases skip are one optional block: skipped independently, one
    # step at a time, they would mix into paths no case took (a case that skips one skips the others)
    j, skip = i, _skippers(log, groups[i])
    skipped = sum(log[t] for t in skip)
    if skipped >= 0.01 * total:
        while j + 1 < len(groups) and _overlap(log, skip, _skippers(log, groups[j + 1])) >= SAME_SKIPS:
            j += 1
    if j > i:
        block = set().union(*groups[i:j + 1])
        sub: Variants = Counter()
        for t, n in log.items():
            if t not in skip:
                sub[tuple(x for x in t if x in block)] += n
        inner = _sequence(sub, groups[i:j + 1], noise, depth + 1) if sub else Node("tau")
        child = Node("xor", [inner, Node("tau")], weights=[float(sum(sub.values())), float(skipped)])
    else:
        child = inductive(_project(log, groups[i]), noise, depth + 1)
    if j == len(groups) - 1:
        return child
    on: Variants = Counter()
    stop = 0
    for t, n in log.items():
        if t and max(where[x] for x in t) <= j:
            stop += n
        else:
            on[t] += n
    if stop >= 0.01 * total and on:
        rest = _sequence(on, groups, noise, depth, j + 1)
        return Node("seq", [child, Node("xor", [rest, Node("tau")], weights=[float(sum(on.values())), float(stop)])])
    return Node("seq", [child, _sequence(log, groups, noise, depth, j + 1)])


def _skippers(log: Variants, group: set[str]) -> frozenset[tuple[str, ...]]:
    """The variants with no activity of ``group``."""
    return frozenset(t for t in log if not any(x in group for x in t))


def _overlap(log: Variants, a: frozenset[tuple[str, ...]], b: frozenset[tuple[str, ...]]) -> float:
    """Weighted Jaccard similarity of two sets of variants (by their case counts)."""
    union = sum(log[t] for t in a | b)
    return sum(log[t] for t in a & b) / union if union else 1.0


# -- from a tree to procsim nodes ------------------------------------------------------------------------------


def dfg_fragment(log: Variants, noise: float) -> tuple[dict[tuple[str, str], float], dict[tuple[str, str], int],
                                                         dict[str, float]]:
    """A directly-follows fragment with '' as its entry and exit: arcs (filtered, every activity reachable and
    able to finish by arcs forward in rank), the most times one case took each arc, and each activity's rank
    (mean position of its first occurrence)."""
    arcs: Counter[tuple[str, str]] = Counter()
    most: dict[tuple[str, str], int] = defaultdict(int)
    pos: dict[str, list[float]] = defaultdict(list)
    for t, n in log.items():
        seq = ("",) + t + ("",)
        here = Counter(zip(seq, seq[1:]))
        for k, c in here.items():
            arcs[k] += c * n
            most[k] = max(most[k], c)
        seen: set[str] = set()
        for i, a in enumerate(t):
            if a not in seen:
                seen.add(a)
                pos[a].extend([float(i)] * 1)
    acts = sorted(pos)
    rank = {a: sum(p) / len(p) for a, p in pos.items()}
    out_tot: dict[str, float] = defaultdict(float)
    best_out: dict[str, tuple[float, str]] = {}
    best_in: dict[str, tuple[float, str]] = {}
    for (a, b), c in sorted(arcs.items()):
        out_tot[a] += c
        if c > best_out.get(a, (-1.0, ""))[0]:
            best_out[a] = (c, b)
        if b and c > best_in.get(b, (-1.0, ""))[0]:
            best_in[b] = (c, a)
    keep = {(a, b): float(c) for (a, b), c in arcs.items() if c >= noise * out_tot[a]}
    for a, (_, b) in best_out.items():
        keep[(a, b)] = float(arcs[(a, b)])
    for b, (_, a) in best_in.items():
        keep[(a, b)] = float(arcs[(a, b)])

    def r(x: str, entry: bool) -> float:
        return (-math.inf if entry else math.inf) if x == "" else rank[x]

    def fwd(a: str, b: str) -> bool:
        ra, rb = r(a, True), r(b, False)
        return rb > ra or (rb == ra and b > a)

    for a in sorted(acts, key=lambda x: (rank[x], x), reverse=True):
        if not any(fwd(a, b) for (x, b) in keep if x == a):
            cands = [(c, b) for (x, b), c in arcs.items() if x == a and fwd(a, b)]
            if cands:
                c, b = max(cands)
                keep[(a, b)] = float(c)
            else:
                keep[(a, "")] = max(1.0, 0.01 * out_tot[a])
    reach = {""}
    frontier = [""]
    for b in sorted(acts, key=lambda x: (rank[x], x)):
        while frontier:
            x = frontier.pop()
            for (a, y) in keep:
                if a == x and y and y not in reach:
                    reach.add(y)
                    frontier.append(y)
        if b not in reach:
            cands = [(c, a) for (a, y), c in arcs.items() if y == b and a in reach]
            a = max(cands)[1] if cands else ""
            keep[(a, b)] = float(arcs.get((a, b), 1))
            reach.add(b)
            frontier.append(b)
    return keep, {k: max(most.get(k, 1), 1) for k in keep}, rank


def _runs(log: Variants) -> defaultdict[str, Counter[int]]:
    """Per activity: how many times a run of it (the same activity in a row) repeated it k more times."""
    out: defaultdict[str, Counter[int]] = defaultdict(Counter)
    for t, n in log.items():
        i = 0
        while i < len(t):
            j = i
            while j + 1 < len(t) and t[j + 1] == t[i]:
                j += 1
            out[t[i]][j - i] += n
            i = j + 1
    return out


class Emitter:
    """Writes a tree as procsim activities' ``next`` and gateways; ``node_of`` names each activity's node."""

    def __init__(self, node_of: dict[str, str], taken: set[str], noise: float) -> None:
        self.node_of = node_of
        self.taken = taken
        self.noise = noise
        # the share of the noise filter a state's branches get: STATE_NOISE for a whole log by its states; the
        # tree's fragments keep the full filter (measured: no gain there, receipt's model unchanged)
        self.state_noise = 1.0
        self.next_of: dict[str, str] = {}
        self.gateways: list[str] = []
        # unrolled loops: node -> (label, next, pass) of each extra copy of an activity (same name, role, duration)
        self.copies: dict[str, tuple[str, str, str]] = {}  # node -> (label, next, why it is a copy)

    def _name(self, base: str) -> str:
        s, i = base, 2
        while s in self.taken:
            s = f"{base}_{i}"
            i += 1
        self.taken.add(s)
        return s

    def _xor(self, name: str, branches: list[tuple[str, float, int | None]], desc: str) -> str:
        merged: dict[tuple[str, int | None], float] = {}
        for to, w, mx in branches:
            merged[(to, mx)] = merged.get((to, mx), 0.0) + w
        if len(merged) == 1:
            return next(iter(merged))[0]
        items = sorted(merged.items(), key=lambda kv: -kv[1])
        total = sum(w for _, w in items)
        probs = [round(w / total, 6) for _, w in items]
        big = max(range(len(probs)), key=lambda i: probs[i])
        probs[big] = round(1.0 - sum(p for i, p in enumerate(probs) if i != big), 6)
        self.gateways.append(f"  {name}:    # {desc}")
        self.gateways.append("    type: xor")
        self.gateways.append("    branches:")
        for ((to, mx), w), p in zip(items, probs):
            extra = f", max: {mx}" if mx is not None else ""
            self.gateways.append(f"      - {{to: {to}, probability: {p}{extra}}}    # {int(w)} times"
                                 + ("; a loop back" if mx is not None else ""))
        return name

    def emit(self, t: Node, nxt: str, copy: int = 0) -> str:
        """Write ``t`` so that it continues at node ``nxt``; returns the node where ``t`` begins. ``copy`` > 0:
        the ``copy``-th pass of an unrolled loop, whose activities are written as extra nodes."""
        if t.op == "tau":
            return nxt
        if t.op == "act":
            if copy:
                node = self._name(f"{self.node_of[t.label]}_{copy + 1}")
                self.copies[node] = (t.label, nxt, f"pass {copy + 1} of a loop, written out")
                return node
            node = self.node_of[t.label]
            self.next_of[t.label] = nxt
            return node
        if t.op == "seq":
            for c in reversed(t.children):
                nxt = self.emit(c, nxt, copy)
            return nxt
        if t.op == "xor":
            name = self._name("choice")
            entries: list[tuple[str, float, int | None]] = [(self.emit(c, nxt, copy), w, None)
                                                             for c, w in zip(t.children, t.weights)]
            if len({e for e, _, _ in entries}) == 1:
                self.taken.discard(name)
                return entries[0][0]
            return self._xor(name, entries, "exclusive choice; probabilities: the share of cases in each branch")
        if t.op == "and":
            kids = [c for c in t.children if c.op != "tau"]
            if len(kids) < 2:
                return self.emit(Node("seq", kids), nxt)
            split, join = self._name("parallel"), self._name("parallel_join")
            heads = [self.emit(c, join) for c in kids]
            if join in heads:
                # a branch that can be skipped entirely: let it run one branch fewer, in sequence with the rest
                return self.emit(Node("seq", kids), nxt)
            self.gateways.append(f"  {split}:    # parallel: the log shows these in both orders")
            self.gateways.append("    type: and")
            self.gateways.append(f"    to: [{', '.join(heads)}]")
            self.gateways.append(f"  {join}:")
            self.gateways.append("    type: and")
            self.gateways.append(f"    next: {nxt}")
            return split
        if t.op == "loop":
            body, redo = t.children
            u = self._unroll(t, copy)
            if u:
                return self._unrolled(t, nxt, copy, u)
            decide = self._name("repeat")
            start = self.emit(body, decide, copy)
            back = self.emit(redo, start, copy)
            exits, redos = t.weights
            self._xor(decide, [(nxt, exits, None), (back, redos, t.max_redo)],
                      f"a loop: repeated at most {t.max_redo} times by one case in the log")
            return start
        if t.op == "dfg":
            assert t.log is not None
            return self._fragment(t.log, nxt)
        raise ValueError(t.op)

    def _unroll(self, t: Node, copy: int) -> int:
        """How many passes of loop ``t`` get their own repeat share: real repeat counts are rarely geometric
        (most cases go round once or twice, a few many times), which one share for every pass would impose.
        A pass gets its own share while at least UNROLL_MIN cases go round again after it; loops with parallel
        or directly-follows parts, or too large, are not copied."""
        if copy or not t.repeats or len(self.copies) >= UNROLL_BUDGET:
            return 0

        def leaves(n: Node) -> int:
            if n.op in ("and", "dfg"):
                return UNROLL_ACTS + 1
            return (1 if n.op == "act" else 0) + sum(leaves(c) for c in n.children)

        if leaves(t) > UNROLL_ACTS:
            return 0
        u = 0
        while u < min(UNROLL, t.max_redo) and sum(n for k, n in t.repeats.items() if k > u) >= UNROLL_MIN:
            u += 1
        return u

    def _unrolled(self, t: Node, nxt: str, copy: int, u: int) -> str:
        """Loop ``t`` as ``u`` passes in a row, each followed by a choice with the log's share of the cases that
        reached it going round again, then the remaining passes as a bounded loop with the tail's share."""
        body, redo = t.children
        reps = t.repeats
        reach = {k: sum(n for j, n in reps.items() if j >= k) for k in range(u + 2)}
        tail_redos = sum((j - u) * n for j, n in reps.items() if j > u)
        if tail_redos:
            decide = self._name("repeat")
            start = self.emit(body, decide, u)
            back = self.emit(redo, start, u)
            self._xor(decide, [(nxt, reach[u], None), (back, tail_redos, t.max_redo - u)],
                      f"pass {u + 1} of a loop and later: at most {t.max_redo - u} more by one case in the log")
        else:
            start = self.emit(body, nxt, u)
        for k in range(u - 1, -1, -1):
            again = self.emit(redo, start, k)
            if reach[k] == reach[k + 1]:  # every case here goes round again
                start = self.emit(body, again, k)
                continue
            decide = self._name("repeat")
            start = self.emit(body, decide, k)
            self._xor(decide, [(nxt, reach[k] - reach[k + 1], None), (again, reach[k + 1], None)],
                      f"after pass {k + 1} of a loop: {reach[k + 1]} of the {reach[k]} cases here go round again")
        return start

    def _fragment(self, log: Variants, nxt: str) -> str:
        """A part no block fits: by its states where the log has enough cases (:meth:`_states`), else by the
        directly-follows graph (:meth:`_first_order`)."""
        budget = STATE_BUDGET - len(self.copies)
        if budget > 0:
            saved = (dict(self.next_of), list(self.gateways), dict(self.copies), set(self.taken))
            entry = self._states(log, nxt, budget)
            if entry is not None:
                return entry
            self.next_of, self.gateways, self.copies, self.taken = saved[0], saved[1], saved[2], saved[3]
        return self._first_order(log, nxt)

    def _states(self, log: Variants, nxt: str, budget: int) -> str | None:
        """The fragment as a transition system (van der Aalst et al., "Process mining: a two-step approach to
        balance between underfitting and overfitting", 2010): a state is the last activity, the set of the
        fragment's activities done so far and how many times in a row the last one ran (up to RUN_CAP). States
        that at least STATE_MIN cases pass through get a node of their own (a copy of the activity), with the
        choices the cases made *there*: what was done already decides what comes next, which a directly-follows
        graph forgets (work done twice, parts skipped). Rarer states fall back to the directly-follows graph.
        Branches that add no new activity can close a cycle and carry ``max`` (the most times one case took
        them). None when some activity would not be reached (the caller then uses the directly-follows graph)."""
        labels = sorted({a for t in log for a in t})
        bit = {a: 1 << i for i, a in enumerate(labels)}
        start: _State = ("", 0, 0)
        visits: Counter[_State] = Counter()
        moves: dict[_State, Counter[_State | None]] = defaultdict(Counter)
        most: dict[tuple[_State, _State | None], int] = defaultdict(int)  # for the branches that add nothing new
        for t, n in log.items():  # first pass: how many cases pass through each state
            st = start
            visits[st] += n
            for x in t:
                st = (x, st[1] | bit[x], min(st[2] + 1, RUN_CAP) if x == st[0] else 1)
                visits[st] += n

        def key(s: _State) -> tuple[object, ...]:
            return (-visits[s], s[0], s[1], s[2])

        kept = sorted((s for s, v in visits.items() if v >= STATE_MIN and s != start), key=key)[:budget]
        keep = set(kept)
        for t, n in log.items():  # second pass: the choices made in the states kept (and at the start)
            st = start
            here: dict[tuple[_State, _State | None], int] = {}
            for x in t:
                new = (x, st[1] | bit[x], min(st[2] + 1, RUN_CAP) if x == st[0] else 1)
                if st is start or st in keep:
                    moves[st][new] += n
                    if new[1] == st[1]:
                        here[(st, new)] = here.get((st, new), 0) + 1
                st = new
            if st in keep:
                moves[st][None] += n
            for k, c in here.items():
                if c > most[k]:
                    most[k] = c
        keep = set(kept)
        name: dict[_State, str] = {}
        for s in kept:
            a = s[0]
            if a not in self.next_of and not any(v[0] == a for v in name):
                name[s] = self.node_of[a]  # the activity's most visited state is its own node
            else:
                name[s] = self._name(f"{self.node_of[a]}_2")
        # the directly-follows fallback for the states not kept, with its own copies where an activity's node
        # is taken by a state
        arcs, fo_most, rank = dfg_fragment(log, self.noise)
        fo_name: dict[str, str] = {}

        def generic(b: str) -> str:
            if b not in fo_name:
                own = any(s[0] == b for s in kept)
                fo_name[b] = self._name(f"{self.node_of[b]}_2") if own else self.node_of[b]
            return fo_name[b]

        def target(s: _State | None) -> str:
            if s is None:
                return nxt
            return name[s] if s in keep else generic(s[0])

        entry_name = self._name("fragment")
        nodes: list[tuple[str, str, list[tuple[str, float, int | None]], str]] = []
        for s in [start] + kept:
            mv = moves[s]
            total = sum(mv.values())
            br: list[tuple[str, float, int | None]] = []
            for t_, c in sorted(mv.items(), key=lambda kv: (-kv[1], ("", -1, 0) if kv[0] is None else kv[0])):
                if c < self.state_noise * self.noise * total and br:
                    continue
                loops = t_ is not None and s != start and t_[1] == s[1] and not (t_[2] > s[2] and t_ in keep
                                                                                and t_[2] < RUN_CAP)
                br.append((target(t_), float(c), max(most[(s, t_)], 1) if loops else None))
            if all(mx is not None for _, _, mx in br):
                br.append((nxt, 0.0, None))  # every branch bounded: leaving must stay possible
            gw = entry_name if s == start else self._name(f"after_{name[s]}")
            desc = ("no block structure fits here: the first activity" if s == start else
                    f"{s[0]} after {', '.join(a for a in labels if s[1] & bit[a] and a != s[0]) or 'nothing else'}"
                    + (f" (run of {s[2]})" if s[2] > 1 else "") + f": {visits[s]} times")
            nodes.append((gw, "" if s == start else name[s], br, desc))
        # the fallback graph, for every activity reached through it
        done: set[str] = set()
        succ: dict[str, list[tuple[str, float]]] = defaultdict(list)
        for (a, b), freq in sorted(arcs.items()):
            succ[a].append((b, freq))

        def back(a: str, b: str) -> bool:
            return b != "" and not (rank[b] > rank[a] or (rank[b] == rank[a] and b > a))

        fo_nodes: list[tuple[str, str, list[tuple[str, float, int | None]], str]] = []
        while True:
            todo = sorted(set(fo_name) - done)
            while todo:
                a = todo.pop(0)
                if a in done:
                    continue
                done.add(a)
                br2 = [(nxt if b == "" else generic(b), c, fo_most[(a, b)] if back(a, b) else None)
                       for b, c in succ[a]]
                todo += [b for b, _ in succ[a] if b and b not in done]
                fo_nodes.append((self._name(f"after_{fo_name[a]}"), fo_name[a], br2, f"after {a} (rare paths)"))
            # every activity of the fragment must be reached from its entry
            out: dict[str, list[str]] = {}
            for gw, node, br, _ in nodes + fo_nodes:
                out[gw] = [t for t, _, _ in br]
                if node:
                    out[node] = [gw]
            seen, stack = {entry_name}, [entry_name]
            while stack:
                for y in out.get(stack.pop(), []):
                    if y not in seen:
                        seen.add(y)
                        stack.append(y)
            lost = [a for a in labels if self.node_of[a] not in seen]
            if not lost:
                break
            # an activity whose every way in was filtered out as noise: entered from the start, as rarely as it
            # was in the log (its count where the directly-follows graph enters it)
            states = set(name.values())
            for a in lost:
                to = self.node_of[a] if self.node_of[a] in states else generic(a)
                nodes[0][2].append((to, float(sum(c for (x, y), c in arcs.items() if y == a) or 1.0), None))
        if not all(self.node_of[a] in seen for a in labels):
            return None
        label_of = {v: s[0] for s, v in name.items()} | {v: b for b, v in fo_name.items()}
        entry = ""
        for gw, node, br, desc in nodes + fo_nodes:
            if node and node not in seen:
                continue  # a state whose every way in was filtered out as noise
            target_gw = self._xor(gw, br, desc)
            if not node:
                entry = target_gw
            elif node == self.node_of[label_of[node]]:
                self.next_of[label_of[node]] = target_gw
            else:
                self.copies[node] = (label_of[node], target_gw, "a state of a directly-follows part, written out")
        return entry

    def _first_order(self, log: Variants, nxt: str) -> str:
        arcs, most, rank = dfg_fragment(log, self.noise)
        names: dict[str, str] = {}
        for a in sorted(rank):
            names[a] = self._name(f"after_{self.node_of[a]}")
        entry_name = self._name("fragment")

        def target(b: str) -> str:
            return nxt if b == "" else self.node_of[b]

        def back(a: str, b: str) -> bool:
            if a == "" or b == "":
                return False
            return not (rank[b] > rank[a] or (rank[b] == rank[a] and b > a))

        succ: dict[str, list[tuple[str, float]]] = defaultdict(list)
        for (a, b), c in sorted(arcs.items()):
            succ[a].append((b, c))
        entry = self._xor(entry_name, [(target(b), c, None) for b, c in succ[""]],
                          "no block structure fits here: directly-follows choices")
        runs = _runs(log)
        for a in sorted(rank):
            if (a, a) not in arcs or not runs[a]:
                self.next_of[a] = self._xor(names[a], [(target(b), c, most[(a, b)] if back(a, b) else None)
                                                       for b, c in succ[a]], f"after {a}")
                continue
            # a self-loop: its repeat counts as a loop of their own (unrolled where the log has enough cases),
            # then the other arcs out of it
            after = self._xor(names[a], [(target(b), c, most[(a, b)] if back(a, b) else None)
                                         for b, c in succ[a] if b != a], f"after {a}")
            reps = runs[a]
            loop = Node("loop", [Node("act", label=a), Node("tau")],
                        weights=[float(sum(reps.values())), float(sum(k * n for k, n in reps.items()))],
                        max_redo=max(max(reps), 1), repeats=reps)
            self.emit(loop, after)
        return entry
