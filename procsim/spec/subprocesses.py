"""Sub-processes used by reference: a fragment defined once under ``subprocesses``, run wherever ``calls`` name it.

Owns: checking each fragment once, on its own, as a process of its own (one start event, at least one end event,
references only to its own nodes, then every structural check of ``procsim.graph``), checking the calls, and
expanding every call into a copy of its fragment at load. A fragment with a problem is reported once, at its
lines, and not expanded: its calls lead straight on, so the rest of the flow is still checked. A call node ``c`` running
sub-process ``S`` becomes a pass-through gateway into a copy of ``S`` whose nodes are named ``c.<node>``; the
copies of ``S``'s end events become pass-through gateways to the call's ``next``. A call inside ``S`` is copied
the same way, its copy nested in the names (``c.<call>.<node>``); a sub-process that would call itself, directly
or through others, is refused.

Everything after loading (graph checks, simulation, rules, exceptions, pictures, PNML) sees ordinary nodes, so a
fragment called twice is simulated, counted (loop bounds) and checked per call, and rules or exceptions name a
copy as ``c.<node>``. Each copied activity keeps its own ``name`` (or id) as its label in the log: the same task
is called the same wherever it runs. The source map learns the copied paths, so a problem found on a copy points
at the fragment's line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from types import SimpleNamespace
from typing import Any

from procsim.errors import Problem
from procsim.errors import suggest as _suggest  # the one did-you-mean
from procsim.spec.loader import Loc, SourceMap
from procsim.spec.models import GatewaySpec, ProcessSpec, SubprocessSpec

__all__ = ["Expansion", "alias", "as_calls", "expand_calls"]


@dataclass(frozen=True)
class Expansion:
    """What one call became: the sub-process it runs and the names of its copied nodes."""

    subprocess: str
    nodes: tuple[str, ...] = ()  # the copies (``c.<node>``) in the fragment's order, the call node excluded;
    exits: tuple[str, ...] = ()  # the copies of the end events (pass-through gateways to the call's ``next``);
    # both empty when the call was not expanded (a problem in it or its sub-process): it only leads on


def _references(sub: SubprocessSpec) -> list[tuple[Loc, str]]:
    """Every node name the fragment's flow refers to, with where (relative to the fragment)."""
    refs: list[tuple[Loc, str]] = []
    for n, ev in sub.events.items():
        if ev.next is not None:
            refs.append((("events", n, "next"), ev.next))
    for n, act in sub.activities.items():
        refs.append((("activities", n, "next"), act.next))
    for n, gw in sub.gateways.items():
        if gw.next is not None:
            refs.append((("gateways", n, "next"), gw.next))
        refs += [(("gateways", n, "to", i), t) for i, t in enumerate(gw.to or [])]
        refs += [(("gateways", n, "branches", i, "to"), b.to) for i, b in enumerate(gw.branches or [])]
    refs += [(("calls", n, "next"), call.next) for n, call in sub.calls.items()]
    refs += [(("waits", n, "next"), w.next) for n, w in sub.waits.items()]
    return refs


class _Within:
    """A source map for checking a fragment as a process of its own: its paths live under ``subprocesses.<name>``."""

    def __init__(self, smap: SourceMap, prefix: Loc) -> None:
        self.smap, self.prefix = smap, prefix

    def problem(self, loc: Loc, msg: str, code: str = "invalid", **kw: Any) -> Problem:
        return self.smap.problem(self.prefix + tuple(loc), msg, code, **kw)


def _check_fragment(name: str, sub: SubprocessSpec, spec: ProcessSpec, smap: SourceMap) -> list[Problem]:
    here: Loc = ("subprocesses", name)
    problems: list[Problem] = []
    starts = [n for n, e in sub.events.items() if e.type == "start"]
    if len(starts) != 1:
        problems.append(smap.problem(here + ("events",), f"a sub-process needs exactly one start event (found "
                                     f"{len(starts)})", "start_events", at_key=True))
    if not any(e.type == "end" for e in sub.events.values()):
        problems.append(smap.problem(here + ("events",), "a sub-process needs at least one end event", "end_events",
                                     at_key=True))
    own: dict[str, str] = {}
    for section in ("events", "activities", "gateways", "calls", "waits"):
        for n in getattr(sub, section):
            if n in own:
                problems.append(smap.problem(here + (section, n), f"node '{n}' is already defined in {own[n]} of "
                                             f"sub-process '{name}'", "duplicate_node", at_key=True))
            own.setdefault(n, section)
    for loc, target in _references(sub):
        if target not in own:
            problems.append(smap.problem(here + loc, f"unknown node '{target}' in sub-process '{name}' (a sub-process "
                                         f"leads only to its own nodes){_suggest(target, own)}", "unknown_node"))
    for c, call in sub.calls.items():
        if call.subprocess not in spec.subprocesses:
            problems.append(smap.problem(here + ("calls", c, "subprocess"), f"unknown sub-process '{call.subprocess}'"
                                         f"{_suggest(call.subprocess, spec.subprocesses)}", "unknown_subprocess"))
    if problems:
        return problems
    from procsim.graph import build_graph

    # the structural checks, on the fragment alone: reachable from its start, an end from everywhere, AND
    # blocks closed inside it, loops bounded, roles known. Once, whatever the number of calls. Its own calls
    # are nodes that lead on (what they run is checked as a fragment of its own).
    for c in sub.calls:
        alias(smap, here + ("calls", c), here + ("gateways", c))
    alone = SimpleNamespace(events=sub.events, activities=sub.activities, roles=spec.roles,
                            gateways={**sub.gateways, **{c: GatewaySpec(type="xor", next=call.next)
                                                         for c, call in sub.calls.items()}},
                            calendars=spec.calendars, arrivals=SimpleNamespace(calendar=None), waits=sub.waits)
    found = build_graph(alone, _Within(smap, here))[1]  # type: ignore[arg-type]
    # a call is a gateway in that check: name its problems by the key the user wrote
    calls = {f"subprocesses.{name}.gateways.{c}": f"subprocesses.{name}.calls.{c}" for c in sub.calls}
    out = []
    for p in found:
        head = ".".join(p.loc.split(".", 4)[:4]).split("[", 1)[0]
        out.append(replace(p, loc=calls[head] + p.loc[len(head):]) if head in calls else p)
    return out


def _cycles(spec: ProcessSpec, smap: SourceMap) -> tuple[set[str], list[Problem]]:
    """Sub-processes that would call themselves, directly or through others: each such call is a problem."""
    import networkx as nx

    g: nx.DiGraph = nx.DiGraph()
    g.add_nodes_from(spec.subprocesses)
    for name, sub in spec.subprocesses.items():
        g.add_edges_from((name, call.subprocess) for call in sub.calls.values() if call.subprocess in g)
    looping = {n for comp in nx.strongly_connected_components(g) for n in comp
               if len(comp) > 1 or g.has_edge(n, n)}
    problems = []
    for name in sorted(looping):
        for c, call in spec.subprocesses[name].calls.items():
            target = call.subprocess
            if target in looping and nx.has_path(g, target, name):
                how = "calls itself" if target == name else f"calls '{target}', which leads back to '{name}'"
                problems.append(smap.problem(("subprocesses", name, "calls", c, "subprocess"),
                                             f"sub-process '{name}' {how}: a sub-process cannot call itself",
                                             "call_cycle"))
    return looping, problems


def as_calls(problems: list[Problem], calls: Iterable[str], copies: Iterable[str] = ()) -> list[Problem]:
    """Problems found on a call's node (a gateway once expanded) named by the key the user wrote: ``calls.c``.

    ``calls`` are the call nodes made (not a call refused for its name); a copied node ``c.<node>`` (in ``copies``)
    keeps its path.
    """
    calls, copies = set(calls), set(copies)
    if not calls:
        return problems
    out = []
    for p in problems:
        head, _, rest = p.loc.partition(".")
        parts = rest.split(".")
        copy = len(parts) > 1 and f"{parts[0]}.{parts[1].split('[', 1)[0]}" in copies
        if head == "gateways" and parts[0].split("[", 1)[0] in calls and not copy:
            out.append(replace(p, loc="calls." + rest))
        else:
            out.append(p)
    return out


def alias(smap: SourceMap, src: Loc, dst: Loc) -> None:
    """Positions of everything under ``src`` also answer for ``dst`` (a copied node points at its original)."""
    n = len(src)
    for table in (smap.values, smap.keys):
        for loc, pos in list(table.items()):
            if loc[:n] == src:
                table.setdefault(dst + loc[n:], pos)


def expand_calls(written: ProcessSpec, smap: SourceMap) -> tuple[ProcessSpec, list[Problem]]:
    """Check the sub-processes and calls of ``written`` and expand each call: returns a new spec whose node
    sections hold the copies (and whose ``_calls`` says what each call became), with the problems found.

    ``written`` is not changed: it keeps what the user wrote (a spec -> YAML writer must not emit the copies).
    """
    # new dicts for the sections the copies go into; the models in them are frozen and shared
    spec = written.model_copy(update={"activities": dict(written.activities), "gateways": dict(written.gateways)})
    spec._calls = {}
    broken, problems = _cycles(spec, smap)
    for name, sub in spec.subprocesses.items():
        if name in broken:
            continue
        found = _check_fragment(name, sub, spec, smap)
        if found:
            broken.add(name)
            problems += found
    taken = {n: section for section in ("events", "activities", "gateways", "waits") for n in getattr(spec, section)}
    known = set(taken) | set(spec.calls)
    for c, call in spec.calls.items():
        if c in taken:
            problems.append(smap.problem(("calls", c), f"node '{c}' is already defined in {taken[c]}",
                                         "duplicate_node", at_key=True))
            continue
        alias(smap, ("calls", c), ("gateways", c))
        called = spec.subprocesses.get(call.subprocess)
        if called is None:
            problems.append(smap.problem(("calls", c, "subprocess"), f"unknown sub-process '{call.subprocess}'"
                                         f"{_suggest(call.subprocess, spec.subprocesses)}", "unknown_subprocess"))
        if called is None or call.subprocess in broken or call.next not in known:
            # the call only leads on: the rest of the flow is checked as usual, an unknown 'next' reported once
            spec.gateways[c] = GatewaySpec(type="xor", next=call.next)
            spec._calls[c] = Expansion(call.subprocess)
            continue
        spec._calls[c] = _expand(spec, smap, c, call.subprocess, called, call.next, broken)
    return spec, problems


def _expand(spec: ProcessSpec, smap: SourceMap, c: str, name: str, sub: SubprocessSpec, after: str,
            broken: set[str]) -> Expansion:
    start = next(n for n, e in sub.events.items() if e.type == "start")
    ren = {n: f"{c}.{n}" for section in ("events", "activities", "gateways", "calls", "waits")
           for n in getattr(sub, section)}
    ren[start] = c  # the call node is where the copy starts (a bounded loop back to the start comes here)
    here: Loc = ("subprocesses", name)
    first = sub.events[start].next
    assert first is not None  # a start event has 'next' (EventSpec)
    spec.gateways[c] = GatewaySpec(type="xor", next=ren[first])
    nodes: list[str] = []
    exits: list[str] = []
    for n, ev in sub.events.items():
        if ev.type == "end":
            spec.gateways[ren[n]] = GatewaySpec(type="xor", next=after, description=ev.description)
            alias(smap, here + ("events", n), ("gateways", ren[n]))
            nodes.append(ren[n])
            exits.append(ren[n])
    for n, act in sub.activities.items():
        changes: dict[str, object] = {"next": ren[act.next], "name": act.name or n}
        if act.duration_after:  # a previous activity of the fragment is its copy in this call
            changes["duration_after"] = {ren.get(k, k): d for k, d in act.duration_after.items()}
        spec.activities[ren[n]] = act.model_copy(update=changes)
        alias(smap, here + ("activities", n), ("activities", ren[n]))
        nodes.append(ren[n])
    for n, gw in sub.gateways.items():
        update: dict[str, object] = {}
        if gw.next is not None:
            update["next"] = ren[gw.next]
        if gw.to is not None:
            update["to"] = [ren[t] for t in gw.to]
        if gw.branches is not None:
            update["branches"] = [b.model_copy(update={"to": ren[b.to]}) for b in gw.branches]
        spec.gateways[ren[n]] = gw.model_copy(update=update)
        alias(smap, here + ("gateways", n), ("gateways", ren[n]))
        nodes.append(ren[n])
    for n, w in sub.waits.items():
        spec.waits[ren[n]] = w.model_copy(update={"next": ren[w.next], "name": w.name or n})
        alias(smap, here + ("waits", n), ("waits", ren[n]))
        nodes.append(ren[n])
    for n, call in sub.calls.items():
        # a call inside the sub-process: a copy of what it runs, nested in this copy's names ('c.n.<node>')
        alias(smap, here + ("calls", n), ("gateways", ren[n]))
        nodes.append(ren[n])
        inner = spec.subprocesses[call.subprocess]
        if call.subprocess in broken:
            spec.gateways[ren[n]] = GatewaySpec(type="xor", next=ren[call.next])
            spec._calls[ren[n]] = Expansion(call.subprocess)
        else:
            spec._calls[ren[n]] = _expand(spec, smap, ren[n], call.subprocess, inner, ren[call.next], broken)
    return Expansion(name, tuple(nodes), tuple(exits))
