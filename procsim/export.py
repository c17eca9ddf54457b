"""Pictures and models of a process: Graphviz DOT text (and, for conformance checking, PNML)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from procsim.spec import LoadedProcess


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(loaded: LoadedProcess) -> str:
    """BPMN-like DOT: events as circles, activities as rounded boxes (with role), gateways as diamonds, waits as
    double circles (BPMN's intermediate timer event) labelled with what they wait for."""
    spec = loaded.spec
    lines = [f"digraph {_q(spec.process.name)} {{", "  rankdir=LR;",
             '  node [fontname="Helvetica", fontsize=10];', '  edge [fontname="Helvetica", fontsize=9];']
    calls = spec._calls  # call node -> its expansion: the copies are drawn in a box of their own
    owner = {n: c for c, x in calls.items() for n in x.nodes}
    exits = {n for x in calls.values() for n in x.exits}
    inside: dict[str, list[str]] = {c: [] for c in calls}

    def put(name: str, line: str) -> None:
        (inside[owner[name]] if name in owner else lines).append(line)

    for name, ev in spec.events.items():
        style = "penwidth=1" if ev.type == "start" else "penwidth=3"
        put(name, f"  {_q(name)} [shape=circle, label={_q(name)}, {style}];")
    for name, act in spec.activities.items():
        label = act.name or name
        if act.role:
            label += f"\n[{act.role}]"
        if act.batch is not None:
            label += "\n(batch)"
        put(name, f"  {_q(name)} [shape=box, style=rounded, label={_q(label)}];")
    for name, gw in spec.gateways.items():
        if name in calls:
            label = _q(f"{name}\n(sub-process {calls[name].subprocess})")
            put(name, f"  {_q(name)} [shape=box, style=\"rounded,bold\", label={label}];")
            continue
        if name in exits:
            put(name, f"  {_q(name)} [shape=point, xlabel={_q(name.rsplit('.', 1)[1])}];")
            continue
        mark = "X" if gw.type == "xor" else "+"
        put(name, f"  {_q(name)} [shape=diamond, label={_q(mark)}, xlabel={_q(name)}];")
    for name, w in spec.waits.items():
        what = "until a moment" if w.until is not None else (f"timer in {w.calendar}" if w.calendar else "timer")
        style = "" if w.log else ", style=dashed"
        put(name, f"  {_q(name)} [shape=doublecircle, label={_q('wait')}, xlabel={_q((w.name or name) + ': ' + what)}"
                  f"{style}];")
    # a call inside a sub-process ('c.n') is drawn inside its caller's box
    parent = {c: max((p for p in calls if c.startswith(p + ".")), key=len, default=None) for c in calls}

    def cluster(c: str, pad: str) -> None:
        lines.append(f"{pad}subgraph {_q('cluster_' + c)} {{")
        lines.append(f"{pad}  label={_q(c + ': ' + calls[c].subprocess)}; style=dashed;")
        lines.extend(pad + b for b in inside[c])
        for k in calls:
            if parent[k] == c:
                cluster(k, pad + "  ")
        lines.append(f"{pad}}}")

    for c in calls:
        if parent[c] is None:
            cluster(c, "  ")
    for u, v, data in loaded.graph.edges(data=True):
        label = ""
        if "branch" in data:
            gw = spec.gateways[u]
            assert gw.branches is not None
            labels = []
            for k in data.get("branches", [data["branch"]]):  # several branches may lead to one node
                b = gw.branches[k]
                parts = []
                if b.when:
                    parts.append(b.when)
                if b.probability is not None:
                    parts.append(f"p={b.probability:g}")
                if b.max is not None:
                    parts.append(f"max {b.max}")
                labels.append(b.label or ", ".join(parts))
            label = " | ".join(x for x in labels if x)
        if data.get("escalation"):
            lines.append(f"  {_q(u)} -> {_q(v)} [style=dashed, label={_q('deadline: escalate')}];")
            continue
        attr = f" [label={_q(label)}]" if label else ""
        lines.append(f"  {_q(u)} -> {_q(v)}{attr};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_pnml(loaded: LoadedProcess) -> str:
    from procsim.pnml import process_to_pnml
    return process_to_pnml(loaded)
