"""A process as a workflow net, written as PNML 2009 (P/T net) for conformance checking in process-mining tools.

Owns the translation of the process graph into a Petri net and the PNML text; reads only ``loaded.graph``,
``loaded.spec`` and the deadline rules. No process-mining library is imported (pm4py is AGPL: tests only).

The net:
- one visible transition per activity, labelled with its display label (``name`` or id): the value of the
  ``activity`` column and of XES ``concept:name``;
- a wait with ``log: true`` is a visible transition labelled like its events; any other wait a silent one
  (``tau.<wait>``): it is not in the log;
- xor gateways, pass-through joins and events are places; an edge between two of them is a silent (tau)
  transition, except where the two places can be fused without changing the net's language (one side has
  no other choice); so most gateways cost no silent transition at all;
- an AND split and an AND join are silent transitions with one place per branch. If the branches of a
  block share nodes (the checks allow it: they only ask that the split dominates the join and the join
  post-dominates the split), a branch cannot be told by its place, and the join takes ``k`` tokens from one
  place instead (an arc weight), as the simulation waits for its ``k`` branch walks;
- a deadline rule's escalation is a silent alternative to its activity: a case either does the activity or
  skips it to the escalation target, as the simulation does when nobody starts it in time;
- one source place (the start event's, initial marking 1) and one sink place (every end event: they are one
  place, so the final marking is one token in ``sink`` without extra silent transitions).

Limits, by construction: a loop branch's ``max`` is not expressible in a plain net, so loops repeat without
bound; ``when`` conditions, probabilities and rules are data, not structure, so every branch is possible.
The net accepts every log the simulation can write and more.

Conformance: the log has a ``start`` and a ``complete`` event per activity instance and the net one
transition per activity, so replay the ``complete`` events only (``lifecycle == "complete"`` in CSV/Parquet,
``lifecycle:transition == "complete"`` in XES). Every case of a simulated log fits the net that way (alignments;
pm4py's token-based replay agrees unless two transitions share a label, as the copies of a sub-process called
twice in a row do: its guess among them can fail); replaying both lifecycles against this net reports every case
as unfit.

Ids are deterministic: places ``source``, ``sink``, ``p.<node>`` and ``p.<join>.<branch>``; transitions
``t.<activity>``, ``tau.<and gateway>`` and ``tau.<from>.<to>``. Same process, same bytes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from procsim.graph import and_blocks, start_node

if TYPE_CHECKING:
    from procsim.spec import LoadedProcess

__all__ = ["WorkflowNet", "Transition", "process_net", "process_to_pnml", "write_pnml"]

SOURCE, SINK = "source", "sink"


@dataclass(frozen=True)
class Transition:
    id: str
    label: str | None  # None: silent
    inputs: tuple[tuple[str, int], ...]  # (place id, weight)
    outputs: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class WorkflowNet:
    """Places and transitions in a stable order; ``source`` holds the initial token, ``sink`` the final one."""

    name: str
    places: tuple[str, ...]
    transitions: tuple[Transition, ...]
    source: str = SOURCE
    sink: str = SINK


def process_net(loaded: LoadedProcess) -> WorkflowNet:
    """Translate the process graph into a workflow net (see the module docstring for the construction)."""
    spec, g = loaded.spec, loaded.graph
    order = list(spec.events) + list(spec.activities) + list(spec.gateways) + list(spec.waits)
    ends = [n for n, e in spec.events.items() if e.type == "end"]
    start = start_node(spec)
    escalations = _escalations(loaded)
    flow = {u: [v for v in g.successors(u) if not g.edges[u, v].get("escalation")] for u in order}
    succ = {u: list(dict.fromkeys(flow[u] + [t for a, t in escalations if a == u])) for u in order}
    blocks = and_blocks(g, ends)
    joins = {j: s for s, j in blocks.items()}

    # the place a token reaches when the flow takes the edge u -> v
    branch_place: dict[tuple[str, str], str] = {}
    join_weight: dict[str, int] = {}
    for j, s in joins.items():
        targets = flow[s]
        regions = [_region(succ, t, j) if t != j else set() for t in targets]
        owner: dict[str, int] = {}
        shared = False
        for i, r in enumerate(regions):
            for n in r:
                shared |= owner.setdefault(n, i) != i
        preds = list(g.predecessors(j))
        shared = shared or any(u != s and u not in owner for u in preds)
        for u in preds:
            branch_place[(u, j)] = f"p.{j}" if shared else f"p.{j}.{targets.index(j) if u == s else owner[u]}"
        if shared:
            join_weight[j] = len(targets)

    def entry(u: str, v: str) -> str:
        return branch_place[(u, v)] if v in joins else f"p.{v}"

    # every place key, in creation order; the source is a place of its own, fused with the start event's
    # unless something leads back to the start event (a workflow net's source has no inputs)
    keys: dict[str, None] = {SOURCE: None}
    trans: list[tuple[str, str | None, list[tuple[str, int]], list[str]]] = []
    silent: list[tuple[str, str, str]] = [(SOURCE, f"p.{start}", f"tau.{start}")]
    for n in order:
        kind = g.nodes[n]["kind"]
        if n in joins:
            ins = sorted({p for (u, j), p in branch_place.items() if j == n}, key=_natural)
            for p in ins:
                keys[p] = None
            w = join_weight.get(n, 1)
            trans.append((f"tau.{n}", None, [(p, w) for p in ins], [entry(n, flow[n][0])]))
            continue
        keys[f"p.{n}"] = None
        if kind == "activity":
            act = spec.activities[n]
            trans.append((f"t.{n}", act.name or n, [(f"p.{n}", 1)], [entry(n, act.next)]))
        elif kind == "wait":
            # a logged wait is in the log like an activity; an unlogged one is silent
            wait = spec.waits[n]
            trans.append((f"t.{n}" if wait.log else f"tau.{n}", (wait.name or n) if wait.log else None,
                          [(f"p.{n}", 1)], [entry(n, wait.next)]))
        elif kind in ("and", "or"):
            trans.append((f"tau.{n}", None, [(f"p.{n}", 1)], [entry(n, t) for t in flow[n]]))
            if kind == "or" and n in blocks:
                # an inactive branch of an or split: a silent skip from its first place to its place at the join
                # (the net also allows skipping every branch, which the simulation never does: the log still fits)
                j = blocks[n]
                for i, t in enumerate(flow[n]):
                    if t != j:
                        trans.append((f"tau.{n}.skip.{t}", None, [(entry(n, t), 1)],
                                      [f"p.{j}" if j in join_weight else f"p.{j}.{i}"]))
        else:  # start, end, xor (split or pass-through): a place with silent edges onwards
            silent += [(f"p.{n}", entry(n, v), f"tau.{n}.{v}") for v in flow[n]]
    for a, t in escalations:
        silent.append((f"p.{a}", entry(a, t), f"tau.{a}.{t}"))
    # node names of sub-process copies hold dots ('call.node'), so two edges could spell one id: number repeats
    seen: dict[str, int] = {}

    def unique(tid: str) -> str:
        seen[tid] = seen.get(tid, 0) + 1
        return tid if seen[tid] == 1 else f"{tid}~{seen[tid]}"

    trans = [(unique(tid), label, ins, outs) for tid, label, ins, outs in trans]
    silent = [(a, b, unique(tid)) for a, b, tid in silent]

    cls = _merge(list(keys), trans, silent, SOURCE, [f"p.{e}" for e in ends])
    names: dict[str, str] = {}
    # a fused place is named after the xor gateway in it if there is one: that is the choice it holds
    for k in sorted(keys, key=lambda k: g.nodes[k[2:]]["kind"] != "xor" if k[2:] in g else True):
        root = cls[k]
        if root not in names:
            names[root] = SOURCE if root == cls[SOURCE] else SINK if root == cls[f"p.{ends[0]}"] else k
    place = {k: names[cls[k]] for k in keys}
    out = [Transition(tid, label, _count((place[p], w) for p, w in ins), _count((place[p], 1) for p in outs))
           for tid, label, ins, outs in trans]
    linked: set[tuple[str, str]] = set()
    for a, b, tid in silent:
        pa, pb = place[a], place[b]
        if pa != pb and (pa, pb) not in linked:
            linked.add((pa, pb))
            out.append(Transition(tid, None, ((pa, 1),), ((pb, 1),)))
    places = tuple(dict.fromkeys(place[k] for k in keys))
    places = (SOURCE,) + tuple(p for p in places if p not in (SOURCE, SINK)) + (SINK,)
    return WorkflowNet(spec.process.name, places, tuple(out))


def _escalations(loaded: LoadedProcess) -> list[tuple[str, str]]:
    """(activity, target) of every deadline rule: the graph's escalation edges, and the rule files (an
    escalation to the activity's own ``next`` adds no graph edge but is still a way to skip the activity)."""
    g = loaded.graph
    out = [(u, v) for u, v, d in g.edges(data=True) if d.get("escalation")]
    for src in loaded.rule_sources:
        for r in src.content.rules:
            if r.deadline is not None and r.deadline.activity in g and r.deadline.escalate_to in g:
                out.append((r.deadline.activity, r.deadline.escalate_to))
    return list(dict.fromkeys(out))


def _count(arcs: Iterable[tuple[str, int]]) -> tuple[tuple[str, int], ...]:
    """Arcs to the same place added up into one weighted arc (fused places can meet at one transition)."""
    out: dict[str, int] = {}
    for p, w in arcs:
        out[p] = out.get(p, 0) + w
    return tuple(out.items())


def _region(succ: dict[str, list[str]], first: str, stop: str) -> set[str]:
    """Nodes reachable from ``first`` without passing ``stop``: one branch of an AND block."""
    seen = {first}
    todo = deque([first])
    while todo:
        for v in succ[todo.popleft()]:
            if v != stop and v not in seen:
                seen.add(v)
                todo.append(v)
    return seen


def _natural(p: str) -> tuple[str, int]:
    head, _, tail = p.rpartition(".")
    return (head, int(tail)) if tail.isdigit() else (p, -1)


def _merge(keys: list[str], trans: list[tuple[str, str | None, list[tuple[str, int]], list[str]]],
           silent: list[tuple[str, str, str]], source: str, ends: list[str]) -> dict[str, str]:
    """Fuse places joined by a silent edge when that cannot change the language; returns place -> class root.

    A silent edge A -> B may fuse A and B when it is A's only way on (a token in A must go to B) or B's
    only way in (a token in B came from A, where it could have done anything A offers). The source keeps
    no inputs and the sink no outputs, and the two stay apart, so the result is still a workflow net.
    """
    parent = {k: k for k in keys}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for e in ends[1:]:
        parent[find(e)] = find(ends[0])
    changed = True
    while changed:
        changed = False
        for a, b, _ in silent:
            ra, rb = find(a), find(b)
            if ra == rb:
                continue
            src, snk = find(source), find(ends[0])
            if {ra, rb} == {src, snk}:
                continue
            opts = sum(1 for _, _, ins, _ in trans if any(find(p) == ra for p, _ in ins))
            opts += len({find(y) for x, y, _ in silent if find(x) == ra and find(y) != ra})
            ins_b = sum(1 for _, _, _, outs in trans if any(find(p) == rb for p in outs))
            ins_b += len({find(x) for x, y, _ in silent if find(y) == rb and find(x) != rb})
            if (opts == 1 and not (ra == src and ins_b > 1)) or (ins_b == 1 and not (rb == snk and opts > 1)):
                parent[ra] = rb
                changed = True
    return {k: find(k) for k in keys}


def _xml(text: str) -> str:
    """Escaped for XML 1.0 text and attribute values; characters XML cannot hold become U+FFFD."""
    text = "".join("\ufffd" if (c < " " and c not in "\t\n\r") or "\ud800" <= c <= "\udfff" or c in "\ufffe\uffff"
                   else c for c in text)
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
            .replace("\t", "&#9;").replace("\n", "&#10;").replace("\r", "&#13;"))


def write_pnml(net: WorkflowNet) -> str:
    """PNML 2009 P/T net text, with pm4py's/ProM's ``<finalmarkings>`` and ``$invisible$`` marks for taus."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<pnml xmlns="http://www.pnml.org/version-2009/grammar/pnml">',
             '  <net id="net" type="http://www.pnml.org/version-2009/grammar/ptnet">',
             f"    <name><text>{_xml(net.name)}</text></name>",
             '    <page id="page">']
    for p in net.places:
        mark = "<initialMarking><text>1</text></initialMarking>" if p == net.source else ""
        lines.append(f'      <place id="{_xml(p)}"><name><text>{_xml(p)}</text></name>{mark}</place>')
    for t in net.transitions:
        if t.label is None:
            # ProM's mark for a silent transition; pm4py reads it back as label None
            lines.append(f'      <transition id="{_xml(t.id)}"><name><text>{_xml(t.id)}</text></name>'
                         f'<toolspecific tool="ProM" version="6.4" activity="$invisible$" '
                         f'localNodeID="{_xml(t.id)}"/></transition>')
        else:
            lines.append(f'      <transition id="{_xml(t.id)}"><name><text>{_xml(t.label)}</text></name></transition>')
    k = 0
    for t in net.transitions:
        arcs = [(p, t.id, w) for p, w in t.inputs] + [(t.id, p, w) for p, w in t.outputs]
        for s, d, w in arcs:
            k += 1
            ins = f"<inscription><text>{w}</text></inscription>" if w != 1 else ""
            lines.append(f'      <arc id="a{k}" source="{_xml(s)}" target="{_xml(d)}">{ins}</arc>'
                         if ins else f'      <arc id="a{k}" source="{_xml(s)}" target="{_xml(d)}"/>')
    lines += ["    </page>",
              f'    <finalmarkings><marking><place idref="{_xml(net.sink)}"><text>1</text></place></marking>'
              "</finalmarkings>",
              "  </net>", "</pnml>"]
    return "\n".join(lines) + "\n"


def process_to_pnml(loaded: LoadedProcess) -> str:
    """The process as PNML text: ``procsim graph P.yaml --format pnml``."""
    return write_pnml(process_net(loaded))
