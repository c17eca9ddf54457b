"""Pictures and models of a process: Graphviz DOT text (and, for conformance checking, PNML)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from procsim.spec import LoadedProcess


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(loaded: LoadedProcess) -> str:
    """BPMN-like DOT: events as circles, activities as rounded boxes (with role), gateways as diamonds."""
    spec = loaded.spec
    lines = [f"digraph {_q(spec.process.name)} {{", "  rankdir=LR;",
             '  node [fontname="Helvetica", fontsize=10];', '  edge [fontname="Helvetica", fontsize=9];']
    for name, ev in spec.events.items():
        style = "penwidth=1" if ev.type == "start" else "penwidth=3"
        lines.append(f"  {_q(name)} [shape=circle, label={_q(name)}, {style}];")
    for name, act in spec.activities.items():
        label = act.name or name
        if act.role:
            label += f"\n[{act.role}]"
        lines.append(f"  {_q(name)} [shape=box, style=rounded, label={_q(label)}];")
    for name, gw in spec.gateways.items():
        mark = "X" if gw.type == "xor" else "+"
        lines.append(f"  {_q(name)} [shape=diamond, label={_q(mark)}, xlabel={_q(name)}];")
    for u, v, data in loaded.graph.edges(data=True):
        label = ""
        if "branch" in data:
            gw = spec.gateways[u]
            assert gw.branches is not None
            b = gw.branches[data["branch"]]
            parts = []
            if b.when:
                parts.append(b.when)
            if b.probability is not None:
                parts.append(f"p={b.probability:g}")
            if b.max is not None:
                parts.append(f"max {b.max}")
            label = b.label or ", ".join(parts)
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
