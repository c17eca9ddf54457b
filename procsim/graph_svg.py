"""The model's graph as SVG without Graphviz: events as circles, activities as boxes (with their role), gateways
as diamonds, branch labels on the edges, escalations dashed; laid out by :mod:`procsim.layout`.

Owns only the mapping from a loaded process to layout nodes and edges; ``procsim graph -o x.svg`` writes it
(Graphviz stays optional, for DOT and PNG users) and the HTML report inlines it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from procsim.layout import Edge, Node, to_svg

if TYPE_CHECKING:
    from procsim.spec import LoadedProcess

__all__ = ["process_svg"]

XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'
STYLE = ("<style>text{font:11px sans-serif;text-anchor:middle;fill:#1d2330}.label{font-weight:600}"
         ".sub{fill:#667085}.node rect,.node circle,.node path{fill:#eef3fd;stroke:#2f6fde}"
         ".edge path{fill:none;stroke:#667085}.edge text{fill:#667085;font-size:10px}.arrowhead{fill:#667085}"
         "</style>")


def process_svg(loaded: LoadedProcess, *, standalone: bool = False) -> str:
    """The SVG of ``loaded``'s graph; ``standalone`` adds the XML declaration and a stylesheet (for a file)."""
    spec = loaded.spec
    g = loaded.graph
    nodes: list[Node] = []
    for name in g.nodes:
        if name in spec.events:
            nodes.append(Node(name, name, "circle", attrs={"data-kind": spec.events[name].type}))
        elif name in spec.activities:
            act = spec.activities[name]
            nodes.append(Node(name, act.name or name, views={"": f"[{act.role}]" if act.role else ""},
                              attrs={"data-kind": "activity"}))
        elif name in spec.gateways:
            gw = spec.gateways[name]
            if name in spec._calls:
                nodes.append(Node(name, name, views={"": f"sub-process {spec._calls[name].subprocess}"},
                                  attrs={"data-kind": "call"}))
            else:
                nodes.append(Node(name, name, "diamond", attrs={"data-kind": gw.type}))
    edges: list[Edge] = []
    for u, v, data in g.edges(data=True):
        label = ""
        if "branch" in data and u in spec.gateways and spec.gateways[u].branches:
            branches = spec.gateways[u].branches
            assert branches is not None
            texts = []
            for k in data.get("branches", [data["branch"]]):
                b = branches[k]
                parts = [p for p in (b.when or "", f"p={b.probability:g}" if b.probability is not None else "",
                                     f"max {b.max}" if b.max is not None else "") if p]
                texts.append(b.label or ", ".join(parts))
            label = " | ".join(t for t in texts if t)
        if data.get("escalation"):
            label = "deadline: escalate"
        if len(label) > 40:
            label = label[:39] + "…"
        edges.append(Edge(u, v, 1.0, views={"": label}, dashed=bool(data.get("escalation")),
                          attrs={"data-src": u, "data-dst": v}))
    svg = to_svg(nodes, edges, title=spec.process.name, css_class="graph model")
    if standalone:
        svg = XML_HEAD + svg.replace("<defs>", STYLE + "<defs>", 1) + "\n"
    return svg
