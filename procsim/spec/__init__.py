"""Loading a process: YAML -> validated spec + source map + graph, with every problem at once."""

from __future__ import annotations

from pathlib import Path

from procsim.errors import Problem, SpecError
from procsim.spec.loaded import LoadedProcess, display_path, sha256
from procsim.spec.loader import read_yaml, register_union_tags, validate

__all__ = ["LoadedProcess", "display_path", "load_process", "sha256"]


def _units_code(msg: str) -> str:
    # check_units also refuses distributions that can draw negative durations: not a missing unit
    return "negative_duration" if "negative" in msg else "unit_missing"


def load_process(path: str | Path, root: str | Path | None = None) -> LoadedProcess:
    """Read, validate and check a process file (and the rule files it names). Raises SpecError.

    Rule files and templates must lie inside ``root`` (default: the project folder, ``procsim.spec.paths``)."""
    # imported here: procsim.distributions imports procsim.spec.units, which runs this package first
    from procsim.distributions import REGISTRY as DIST_REGISTRY
    from procsim.distributions import check_units
    from procsim.graph import build_graph
    from procsim.spec.models import ProcessSpec
    from procsim.spec.subprocesses import alias, as_calls, expand_calls

    from procsim.exceptions import REGISTRY as EXC_REGISTRY

    register_union_tags(DIST_REGISTRY)
    register_union_tags(EXC_REGISTRY)

    p = Path(path)
    data, smap = read_yaml(p, display_path(p))
    if not isinstance(data, dict):
        raise SpecError([Problem(smap.file, 1, 1, "", "a process file is a mapping with 'process', 'roles', "
                                 "'arrivals', 'events', 'activities' ...", "not_a_mapping")])
    spec, problems = validate(ProcessSpec, data, smap)
    if spec is None:
        from procsim.graph import raw_flow

        # the structure is checked too (when the flow itself passed the schema): every problem at once
        flow = raw_flow(data, problems)
        if flow is not None:
            for c in flow.calls:  # a call is a pass-through node here: its problems point at its lines
                alias(smap, ("calls", c), ("gateways", c))
            problems += build_graph(flow, smap)[1]
        raise SpecError(as_calls(problems, flow.calls if flow is not None else ()))
    assert isinstance(spec, ProcessSpec)
    sections = [(("activities",), spec.activities, data["activities"])] + [
        (("subprocesses", s, "activities"), sub.activities, data["subprocesses"][s].get("activities") or {})
        for s, sub in spec.subprocesses.items()]
    for where, acts, raw in sections:
        for name, act in acts.items():
            short = not isinstance(raw[name].get("duration"), dict)
            for msg in check_units(act.duration, need_units=True):
                if short and "needs a unit" in msg:
                    msg = "durations need a unit, like '15m' or '2h'"
                problems.append(smap.problem(where + (name, "duration"), msg, _units_code(msg)))
            for prev, dist in act.duration_after.items():
                for msg in check_units(dist, need_units=True):
                    problems.append(smap.problem(where + (name, "duration_after", prev), msg, _units_code(msg)))
    waits = [(("waits",), spec.waits, data.get("waits") or {})] + [
        (("subprocesses", s, "waits"), sub.waits, data["subprocesses"][s].get("waits") or {})
        for s, sub in spec.subprocesses.items()]
    for where, ws, raw in waits:
        for name, w in ws.items():
            if w.duration is not None:
                short = not isinstance(raw[name].get("duration"), dict)
                for msg in check_units(w.duration, need_units=True):
                    if short and "needs a unit" in msg:
                        msg = "durations need a unit, like '15m' or '2h'"
                    problems.append(smap.problem(where + (name, "duration"), msg, _units_code(msg)))
    for msg in check_units(spec.arrivals.interarrival, need_units=True) if spec.arrivals.interarrival else ():
        problems.append(smap.problem(("arrivals", "interarrival"), msg, _units_code(msg)))
    from procsim.spec.limits import check_limits

    limits = check_limits(spec, smap)
    if limits:
        # values no later check is built for (a 200-million-digit number width, ...): stop before them
        raise SpecError(problems + limits)
    # calls become copies of their sub-processes: everything below sees ordinary nodes
    written = spec  # kept as the user wrote it; the expanded copy is what runs
    spec, found = expand_calls(written, smap)
    problems += found
    from procsim.rules.engine import read_rule_files

    # the graph is set below (the ignore matters only when networkx stubs are installed)
    loaded = LoadedProcess(p, spec, smap, None, {smap.file: sha256(p)})  # type: ignore[arg-type, unused-ignore]
    from procsim.spec.paths import project_root

    loaded.root = project_root(p, Path(root) if root is not None else None)
    loaded.written = written
    sources, rproblems = read_rule_files(loaded, data)
    problems += rproblems
    escalations = [(r.deadline.activity, r.deadline.escalate_to) for src in sources for r in src.content.rules
                   if r.deadline is not None]
    graph, gproblems = build_graph(spec, smap, escalations)
    problems += gproblems
    loaded.graph = graph
    loaded.rule_sources = sources
    from procsim.spec.checks import check_model

    problems += check_model(loaded, rules=not gproblems)
    if problems:
        raise SpecError(as_calls(problems, spec._calls, (n for x in spec._calls.values() for n in x.nodes)))
    if loaded.rules is not None:
        loaded.warnings = sorted(set(loaded.rules.warnings))
    return loaded
