"""Sub-processes used by reference: a fragment defined once under ``subprocesses``, run wherever ``calls`` name it.

Owns: checking each fragment once (one start event, at least one end event, references only to its own nodes),
checking the calls, and expanding every call into a copy of its fragment at load. A call node ``c`` running
sub-process ``S`` becomes a pass-through gateway into a copy of ``S`` whose nodes are named ``c.<node>``; the
copies of ``S``'s end events become pass-through gateways to the call's ``next``.

Everything after loading (graph checks, simulation, rules, exceptions, pictures, PNML) sees ordinary nodes, so a
fragment called twice is simulated, counted (loop bounds) and checked per call, and rules or exceptions name a
copy as ``c.<node>``. Each copied activity keeps its own ``name`` (or id) as its label in the log: the same task
is called the same wherever it runs. The source map learns the copied paths, so a problem found on a copy points
at the fragment's line.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, replace

from procsim.errors import Problem
from procsim.spec.loader import Loc, SourceMap
from procsim.spec.models import GatewaySpec, ProcessSpec, SubprocessSpec

__all__ = ["Expansion", "alias", "as_calls", "expand_calls"]


@dataclass(frozen=True)
class Expansion:
    """What one call became: the sub-process it runs and the names of its copied nodes."""

    subprocess: str
    nodes: tuple[str, ...]  # the copies (``c.<node>``), in the fragment's order; the call node itself excluded
    exits: tuple[str, ...]  # the copies of the end events: pass-through gateways to the call's ``next``


def _suggest(name: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, sorted(options), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


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
    return refs


def _check_fragment(name: str, sub: SubprocessSpec, smap: SourceMap) -> list[Problem]:
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
    for section in ("events", "activities", "gateways"):
        for n in getattr(sub, section):
            if n in own:
                problems.append(smap.problem(here + (section, n), f"node '{n}' is already defined in {own[n]} of "
                                             f"sub-process '{name}'", "duplicate_node", at_key=True))
            own.setdefault(n, section)
    for loc, target in _references(sub):
        if target not in own:
            problems.append(smap.problem(here + loc, f"unknown node '{target}' in sub-process '{name}' (a sub-process "
                                         f"leads only to its own nodes){_suggest(target, own)}", "unknown_node"))
    return problems


def as_calls(problems: list[Problem], calls: Iterable[str]) -> list[Problem]:
    """Problems found on a call's node (a gateway once expanded) named by the key the user wrote: ``calls.c``."""
    heads = {f"gateways.{c}": f"calls.{c}" for c in calls}
    if not heads:
        return problems
    out = []
    for p in problems:
        head, dot, rest = p.loc.partition(".")
        name, _, tail = rest.partition(".")
        new = heads.get(f"{head}.{name}")
        out.append(replace(p, loc=new + (f".{tail}" if tail else "")) if new and head == "gateways" else p)
    return out


def alias(smap: SourceMap, src: Loc, dst: Loc) -> None:
    """Positions of everything under ``src`` also answer for ``dst`` (a copied node points at its original)."""
    n = len(src)
    for table in (smap.values, smap.keys):
        for loc, pos in list(table.items()):
            if loc[:n] == src:
                table.setdefault(dst + loc[n:], pos)


def expand_calls(spec: ProcessSpec, smap: SourceMap) -> list[Problem]:
    """Check the sub-processes and calls of ``spec`` and expand each call into ``spec``'s node sections."""
    problems: list[Problem] = []
    broken: set[str] = set()
    for name, sub in spec.subprocesses.items():
        found = _check_fragment(name, sub, smap)
        if found:
            broken.add(name)
            problems += found
    taken = {n: section for section in ("events", "activities", "gateways") for n in getattr(spec, section)}
    for c, call in spec.calls.items():
        if c in taken:
            problems.append(smap.problem(("calls", c), f"node '{c}' is already defined in {taken[c]}",
                                         "duplicate_node", at_key=True))
            continue
        alias(smap, ("calls", c), ("gateways", c))
        sub = spec.subprocesses.get(call.subprocess)
        if sub is None:
            problems.append(smap.problem(("calls", c, "subprocess"), f"unknown sub-process '{call.subprocess}'"
                                         f"{_suggest(call.subprocess, spec.subprocesses)}", "unknown_subprocess"))
        if sub is None or call.subprocess in broken:
            # the call still leads on, so the rest of the flow is checked as usual
            spec.gateways[c] = GatewaySpec(type="xor", next=call.next)
            continue
        spec._calls[c] = _expand(spec, smap, c, call.subprocess, sub, call.next)
    return problems


def _expand(spec: ProcessSpec, smap: SourceMap, c: str, name: str, sub: SubprocessSpec, after: str) -> Expansion:
    start = next(n for n, e in sub.events.items() if e.type == "start")
    ren = {n: f"{c}.{n}" for section in ("events", "activities", "gateways") for n in getattr(sub, section)}
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
        spec.activities[ren[n]] = act.model_copy(update={"next": ren[act.next], "name": act.name or n})
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
    return Expansion(name, tuple(nodes), tuple(exits))
