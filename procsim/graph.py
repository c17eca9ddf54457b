"""The process as a ``networkx.DiGraph``, and every structural check on it.

Owns: references between nodes, roles and calendars; reachability; AND split/join balance; loop bounds.
Each problem is positioned through the source map. Nothing here samples or simulates.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import networkx as nx

from procsim.errors import Problem
from procsim.errors import suggest as _suggest  # the one did-you-mean
from procsim.spec.loader import Loc, SourceMap
from procsim.spec.models import ProcessSpec

EXIT = "__exit__"  # virtual sink for post-dominators; users cannot name a node like that (identifiers)


@dataclass(frozen=True)
class Block:
    """An AND split and the join that closes it."""

    split: str
    join: str


def node_loc(spec: ProcessSpec, node: str) -> Loc:
    for section in ("events", "activities", "gateways", "waits"):
        if node in getattr(spec, section, {}):
            return (section, node)
    return ()


def build_graph(spec: ProcessSpec, smap: SourceMap, escalations: list[tuple[str, str]] = ()  # type: ignore[assignment]
                ) -> tuple[nx.DiGraph, list[Problem]]:
    """Nodes carry ``kind`` (start, end, activity, xor, and); edges carry branch data. Returns problems too.

    ``escalations`` are (activity, target) edges that deadline rules add: checked like any other path.
    """
    g: nx.DiGraph = nx.DiGraph()
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    waits = getattr(spec, "waits", {})  # a sub-process checked alone has none
    for section in ("events", "activities", "gateways", "waits"):
        for name in getattr(spec, section, {}):
            if name in seen:
                problems.append(smap.problem((section, name), f"node '{name}' is already defined in {seen[name]}",
                                             "duplicate_node", at_key=True))
            seen.setdefault(name, section)
    for name, ev in spec.events.items():
        g.add_node(name, kind=ev.type)
    for name in spec.activities:
        g.add_node(name, kind="activity")
    for name, gw in spec.gateways.items():
        g.add_node(name, kind=gw.type)
    for name in waits:
        g.add_node(name, kind="wait")

    def edge(src: str, dst: str, loc: Loc, **data: object) -> None:
        if dst not in g:
            problems.append(smap.problem(loc, f"unknown node '{dst}'{_suggest(dst, g.nodes)}", "unknown_node"))
            return
        if g.has_edge(src, dst):
            problems.append(smap.problem(loc, f"'{src}' already leads to '{dst}'", "duplicate_edge"))
            return
        g.add_edge(src, dst, **data)

    for name, ev in spec.events.items():
        if ev.next is not None:
            edge(name, ev.next, ("events", name, "next"))
    for name, act in spec.activities.items():
        edge(name, act.next, ("activities", name, "next"))
        if act.role is not None and act.role not in spec.roles:
            problems.append(smap.problem(("activities", name, "role"),
                                         f"unknown role '{act.role}'{_suggest(act.role, spec.roles)}",
                                         "unknown_role"))
    for name, gw in spec.gateways.items():
        if gw.next is not None:
            edge(name, gw.next, ("gateways", name, "next"))
        for i, target in enumerate(gw.to or []):
            edge(name, target, ("gateways", name, "to", i))
        for i, b in enumerate(gw.branches or []):
            if b.to in g and g.has_edge(name, b.to) and "branches" in g.edges[name, b.to]:
                # another branch to the same node (two conditions, one target): one edge carries both; it is
                # a bounded loop edge only if every branch on it has a 'max'
                data = g.edges[name, b.to]
                data["branches"].append(i)
                if b.max is None:
                    data["max"] = None
                continue
            edge(name, b.to, ("gateways", name, "branches", i, "to"), branch=i, branches=[i], max=b.max)
    for name, w in waits.items():
        edge(name, w.next, ("waits", name, "next"))
    problems += _check_flow_extras(spec, g, smap)
    for src, dst in escalations:
        if src in g and dst in g and not g.has_edge(src, dst):
            g.add_edge(src, dst, escalation=True)
    for name, role in spec.roles.items():
        if role.calendar is not None and role.calendar not in spec.calendars:
            problems.append(smap.problem(("roles", name, "calendar"),
                                         f"unknown calendar '{role.calendar}'{_suggest(role.calendar, spec.calendars)}",
                                         "unknown_calendar"))
    cal = spec.arrivals.calendar
    if cal is not None and cal not in spec.calendars:
        problems.append(smap.problem(("arrivals", "calendar"), f"unknown calendar '{cal}'{_suggest(cal, spec.calendars)}",
                                     "unknown_calendar"))
    # an unknown role or calendar leaves the flow intact; a dangling or doubled edge would only echo as
    # unreachable nodes
    if not any(p.code in ("unknown_node", "duplicate_node", "duplicate_edge") for p in problems):
        problems += check_structure(spec, g, smap)
    return g, problems


def _check_flow_extras(spec: ProcessSpec, g: nx.DiGraph, smap: SourceMap) -> list[Problem]:
    """The names waits and batches refer to: calendars, and the previous activities of ``duration_after``."""
    problems: list[Problem] = []
    cals = getattr(spec, "calendars", {})

    def calendar(name: str | None, loc: Loc) -> None:
        if name is not None and name not in cals:
            problems.append(smap.problem(loc, f"unknown calendar '{name}'{_suggest(name, cals)}", "unknown_calendar"))

    for name, w in getattr(spec, "waits", {}).items():
        calendar(w.calendar, ("waits", name, "calendar"))
        if w.until is not None:
            calendar(w.until.next_working_day, ("waits", name, "until", "next_working_day"))
    for name, act in spec.activities.items():
        b = getattr(act, "batch", None)
        if b is not None and b.schedule is not None:
            calendar(b.schedule.next_working_day, ("activities", name, "batch", "schedule", "next_working_day"))
        for prev in getattr(act, "duration_after", {}):
            if prev not in spec.activities:
                problems.append(smap.problem(("activities", name, "duration_after", prev), f"unknown activity "
                                             f"'{prev}'{_suggest(prev, spec.activities)}", "unknown_activity",
                                             at_key=True))
    return problems


def raw_flow(data: Mapping[str, Any], problems: Iterable[Problem]) -> Any | None:
    """The flow of a process file whose schema check failed, read from its raw YAML for ``build_graph``.

    So one pass reports a misspelt calendar key *and* an unreachable activity. Returns None when the flow
    itself is among the problems (an event, a gateway, an activity's ``next`` or an activity as a whole):
    checking a flow pydantic could not read would only repeat those problems in other words. Fields outside
    the flow that failed (a role's calendar, say) are left out, never guessed.
    """
    bad: set[tuple[str, ...]] = set()
    for p in problems:
        parts = tuple(re.findall(r"[^.\[\]]+", p.loc))  # 'activities.a.next', 'roles[7]' (a key that is no name)
        if p.code == "missing":  # reported at the mapping that lacks the key: "required key 'next' is missing"
            parts += (p.msg.split("'")[1],)
        if not parts or parts[0] in ("events", "gateways", "calls", "waits") or (
                parts[0] == "activities" and (len(parts) < 3 or parts[2] == "next")):
            return None
        bad.add(parts[:3])

    def section(name: str) -> dict[str, Any]:
        v = data.get(name)
        return {k: x for k, x in v.items() if isinstance(k, str) and isinstance(x, dict)} if isinstance(v, dict) else {}

    def text(x: dict[str, Any], key: str, where: tuple[str, ...]) -> str | None:
        v = x.get(key)
        return v if isinstance(v, str) and where + (key,) not in bad else None

    ns = SimpleNamespace
    acts, gws, roles, arr = section("activities"), section("gateways"), section("roles"), data.get("arrivals")
    calls, waits = section("calls"), section("waits")
    if any(c in acts or c in gws or c in section("events") for c in calls):
        return None  # a call named like another node: which one an edge means is anyone's guess
    return ns(
        events={n: ns(type=e.get("type"), next=e.get("next")) for n, e in section("events").items()},
        activities={n: ns(next=a.get("next"), role=text(a, "role", ("activities", n))) for n, a in acts.items()},
        gateways={n: ns(type=g.get("type"), next=g.get("next"), to=g.get("to"),
                        branches=[ns(to=b.get("to"), max=b.get("max"), when=b.get("when")) for b in g["branches"]]
                        if g.get("branches") is not None else None) for n, g in gws.items()}
        # a call leads on to its 'next' (its sub-process is checked when the schema passes)
        | {n: ns(type="xor", next=c.get("next"), to=None, branches=None) for n, c in calls.items()},
        waits={n: ns(next=w.get("next"), calendar=None, until=None) for n, w in waits.items()},
        roles={n: ns(calendar=text(r, "calendar", ("roles", n))) for n, r in roles.items()},
        calendars=dict.fromkeys(k for k in data["calendars"] if isinstance(k, str))
        if isinstance(data.get("calendars"), dict) else {},
        arrivals=ns(calendar=text(arr, "calendar", ("arrivals",)) if isinstance(arr, dict) else None),
        calls=list(calls))


def start_node(spec: ProcessSpec) -> str:
    return next(n for n, e in spec.events.items() if e.type == "start")


def check_structure(spec: ProcessSpec, g: nx.DiGraph, smap: SourceMap) -> list[Problem]:
    problems: list[Problem] = []
    starts = [n for n, e in spec.events.items() if e.type == "start"]
    ends = [n for n, e in spec.events.items() if e.type == "end"]
    if len(starts) != 1:
        problems.append(smap.problem(("events",), f"a process needs exactly one start event (found {len(starts)})",
                                     "start_events", at_key=True))
    if not ends:
        problems.append(smap.problem(("events",), "a process needs at least one end event", "end_events",
                                     at_key=True))
    if problems:
        return problems
    start = starts[0]
    for n in g.nodes:
        if g.nodes[n]["kind"] != "start" and g.in_degree(n) == 0:
            pass  # reported below as unreachable
    reachable = nx.descendants(g, start) | {start}
    for n in g.nodes:
        if n not in reachable:
            problems.append(smap.problem(node_loc(spec, n), f"'{n}' cannot be reached from the start event '{start}'",
                                         "unreachable", at_key=True))
    rev = g.reverse(copy=False)
    can_end: set[str] = set()
    for e in ends:
        can_end |= nx.descendants(rev, e) | {e}
    for n in g.nodes:
        if n in reachable and n not in can_end:
            problems.append(smap.problem(node_loc(spec, n), f"no path leads from '{n}' to an end event",
                                         "dead_end", at_key=True))
    for name, gw in spec.gateways.items():
        if gw.branches and gw.type != "or" and not any(b.max is None and b.when is None for b in gw.branches):
            problems.append(smap.problem(("gateways", name, "branches"),
                                         "at least one branch must have neither 'max' nor 'when', so the case "
                                         "can go on when the others are used up", "no_default_branch"))
    # loops: with every bounded branch removed the graph must be acyclic
    unbounded = nx.DiGraph()
    unbounded.add_nodes_from(g.nodes)
    unbounded.add_edges_from((u, v) for u, v, d in g.edges(data=True) if d.get("max") is None)
    for cycle in _cycles(unbounded):
        first = cycle[0]
        path = " -> ".join(cycle + [first])
        problems.append(smap.problem(node_loc(spec, first),
                                     f"unbounded loop {path}: give the branch that goes back a 'max'",
                                     "unbounded_loop", at_key=True))
    if problems:
        return problems
    problems += _check_blocks(spec, g, smap, start, ends)
    return problems


def _cycles(g: nx.DiGraph) -> list[list[str]]:
    """One representative cycle per strongly connected component with a cycle (deterministic order)."""
    out = []
    for comp in sorted((sorted(c) for c in nx.strongly_connected_components(g)), key=lambda c: c[0]):
        if len(comp) == 1 and not g.has_edge(comp[0], comp[0]):
            continue
        sub = g.subgraph(comp)
        cyc = nx.find_cycle(sub, source=comp[0])
        out.append([u for u, _ in cyc])
    return out


def and_blocks(g: nx.DiGraph, ends: list[str]) -> dict[str, str]:
    """Map each AND split (and each OR split) to its join: the immediate post-dominator of the split."""
    rev = g.reverse(copy=True)
    rev.add_node(EXIT)
    for e in ends:
        rev.add_edge(EXIT, e)
    ipdom = nx.immediate_dominators(rev, EXIT)
    return {n: ipdom.get(n, EXIT) for n in g.nodes if g.nodes[n]["kind"] in ("and", "or") and g.out_degree(n) > 1}


def _check_blocks(spec: ProcessSpec, g: nx.DiGraph, smap: SourceMap, start: str, ends: list[str]) -> list[Problem]:
    problems: list[Problem] = []
    blocks = and_blocks(g, ends)
    idom = nx.immediate_dominators(g, start)
    joins_used: dict[str, str] = {}
    for split, join in sorted(blocks.items()):
        kind = g.nodes[split]["kind"]
        ok = join != EXIT and g.nodes[join]["kind"] == kind and g.out_degree(join) == 1 and g.in_degree(join) > 1
        if ok:
            # the split must dominate the join: nothing enters the block except through the split
            d = join
            while d != split and idom.get(d, d) != d:
                d = idom[d]
            ok = d == split
        if not ok:
            problems.append(smap.problem(("gateways", split),
                                         f"{kind} split '{split}' is not closed by an {kind} join that all its "
                                         "branches reach (every branch must meet again at one join gateway)",
                                         "unbalanced_and" if kind == "and" else "unbalanced_or", at_key=True))
        else:
            joins_used[join] = split
    for name, gw in spec.gateways.items():
        if gw.type in ("and", "or") and gw.next is not None and name not in joins_used:
            problems.append(smap.problem(("gateways", name),
                                         f"{gw.type} join '{name}' does not close an {gw.type} split",
                                         "unbalanced_and" if gw.type == "and" else "unbalanced_or", at_key=True))
    return problems
