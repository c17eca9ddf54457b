"""Drawing a directed graph as SVG with a layout computed here: no Graphviz, no JavaScript.

Owns the layered (Sugiyama-style) layout and its SVG: cycles are broken by a depth-first search from the
sources (the edges it finds going back are drawn as arcs below the nodes), nodes get the layer of their longest
path from a source, a few barycentre sweeps order each layer to reduce crossings, and coordinates follow from
layer and order. Used by ``procsim graph -o x.svg`` (the model) and by the HTML report (the discovered
directly-follows graph). Deterministic: the same graph, with nodes and edges given in the same order, gives the
same SVG bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

__all__ = ["Node", "Edge", "Layout", "layout", "to_svg"]

NODE_W, NODE_H = 170, 46
GAP_X, GAP_Y = 90, 26
SWEEPS = 8


@dataclass
class Node:
    """A node to draw: ``lines`` of text (the first bold), a ``shape`` (box, circle, diamond) and ``views``:
    alternative second lines per view name (e.g. ``{"freq": "1,234", "time": "wait 2h"}``)."""

    id: str
    label: str
    shape: str = "box"
    views: dict[str, str] = field(default_factory=dict)
    attrs: dict[str, str] = field(default_factory=dict)  # extra data-* attributes (for tests and tooltips)


@dataclass
class Edge:
    src: str
    dst: str
    weight: float = 1.0  # drawn as the stroke width, relative to the heaviest edge
    views: dict[str, str] = field(default_factory=dict)  # label per view
    dashed: bool = False
    attrs: dict[str, str] = field(default_factory=dict)


@dataclass
class Layout:
    pos: dict[str, tuple[float, float]]  # node id -> centre
    back: set[tuple[str, str]]  # edges drawn as arcs (they close a cycle, or stay in one layer)
    width: float
    height: float


def layout(nodes: list[Node], edges: list[Edge]) -> Layout:
    ids = [n.id for n in nodes]
    succ: dict[str, list[str]] = {i: [] for i in ids}
    pred: dict[str, list[str]] = {i: [] for i in ids}
    for e in edges:
        if e.src != e.dst and e.src in succ and e.dst in succ:
            succ[e.src].append(e.dst)
            pred[e.dst].append(e.src)
    # depth-first search from the sources (then from any node left) in the given order: back edges close cycles
    state: dict[str, int] = {}
    back: set[tuple[str, str]] = set()
    roots = [i for i in ids if not pred[i]] + ids
    for r in roots:
        if r in state:
            continue
        stack = [(r, iter(succ[r]))]
        state[r] = 1
        while stack:
            u, it = stack[-1]
            for v in it:
                if state.get(v) == 1:
                    back.add((u, v))
                elif v not in state:
                    state[v] = 1
                    stack.append((v, iter(succ[v])))
                    break
            else:
                state[u] = 2
                stack.pop()
    # longest path layering over the forward edges (Kahn's order keeps it deterministic)
    fwd_succ = {i: [v for v in succ[i] if (i, v) not in back] for i in ids}
    indeg = {i: 0 for i in ids}
    for i in ids:
        for v in fwd_succ[i]:
            indeg[v] += 1
    layer = {i: 0 for i in ids}
    queue = [i for i in ids if indeg[i] == 0]
    k = 0
    while k < len(queue):
        u = queue[k]
        k += 1
        for v in fwd_succ[u]:
            layer[v] = max(layer[v], layer[u] + 1)
            indeg[v] -= 1
            if indeg[v] == 0:
                queue.append(v)
    n_layers = max(layer.values(), default=0) + 1
    rows: list[list[str]] = [[] for _ in range(n_layers)]
    for i in ids:
        rows[layer[i]].append(i)
    # barycentre sweeps: order each layer by the mean position of its neighbours in the layer before/after
    for sweep in range(SWEEPS):
        forward = sweep % 2 == 0
        rng = range(1, n_layers) if forward else range(n_layers - 2, -1, -1)
        for li in rng:
            ref = {v: j for j, v in enumerate(rows[li - 1 if forward else li + 1])}
            nbrs = pred if forward else succ

            def key(v: str, ref: dict[str, int] = ref, nbrs: dict[str, list[str]] = nbrs) -> float:
                ps = [ref[w] for w in nbrs[v] if w in ref]
                return sum(ps) / len(ps) if ps else rows[li].index(v)

            rows[li] = sorted(rows[li], key=key)
    tallest = max((len(r) for r in rows), default=1)
    pos: dict[str, tuple[float, float]] = {}
    for li, row in enumerate(rows):
        offset = (tallest - len(row)) * (NODE_H + GAP_Y) / 2
        for j, v in enumerate(row):
            pos[v] = (GAP_X / 2 + NODE_W / 2 + li * (NODE_W + GAP_X),
                      GAP_Y + NODE_H / 2 + offset + j * (NODE_H + GAP_Y))
    # edges inside one layer can only be drawn as arcs too
    back |= {(e.src, e.dst) for e in edges if e.src in layer and e.dst in layer and e.src != e.dst
             and layer[e.src] == layer[e.dst]}
    width = n_layers * (NODE_W + GAP_X)
    height = tallest * (NODE_H + GAP_Y) + GAP_Y + 60  # room for the arcs below
    return Layout(pos, back, width, height)


def _attrs(d: dict[str, str]) -> str:
    return "".join(f' {k}="{escape(str(v))}"' for k, v in d.items())


def _short(text: str, n: int = 24) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def to_svg(nodes: list[Node], edges: list[Edge], *, views: list[str] | None = None, title: str = "",
           css_class: str = "graph") -> str:
    """An ``<svg>`` element (no XML declaration, so it can be inlined in HTML or written as a file).

    With ``views``, each view's labels are in a ``<g class="view-NAME">`` so a stylesheet can show one at a time.
    """
    lay = layout(nodes, edges)
    views = views or [""]
    maxw = max((e.weight for e in edges), default=1.0) or 1.0
    uniform = len({e.weight for e in edges}) <= 1  # a model's graph: no frequencies to show
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="{css_class}" width="{lay.width:.0f}" '
           f'height="{lay.height:.0f}" viewBox="0 0 {lay.width:.0f} {lay.height:.0f}" role="img">']
    if title:
        out.append(f"<title>{escape(title)}</title>")
    out.append('<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="9" markerHeight="9" '
               'markerUnits="userSpaceOnUse" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="arrowhead"/></marker></defs>')
    bottom = lay.height - 50
    half = {n.id: {"circle": 16, "diamond": 18}.get(n.shape, NODE_W / 2) for n in nodes}  # where edges attach
    for e in edges:
        if e.src not in lay.pos or e.dst not in lay.pos:
            continue
        (x1, y1), (x2, y2) = lay.pos[e.src], lay.pos[e.dst]
        sw = 0.8 + 5.2 * (e.weight / maxw) if not uniform else 1.4
        if e.src == e.dst:
            d = (f"M{x1 - 20:.1f},{y1 - NODE_H / 2:.1f} C{x1 - 30:.1f},{y1 - NODE_H / 2 - 28:.1f} "
                 f"{x1 + 30:.1f},{y1 - NODE_H / 2 - 28:.1f} {x1 + 20:.1f},{y1 - NODE_H / 2:.1f}")
            lx, ly = x1, y1 - NODE_H / 2 - 24
        elif (e.src, e.dst) in lay.back:
            depth = min(bottom, max(y1, y2) + NODE_H / 2 + 18 + abs(x1 - x2) / 12)
            b1, b2 = min(half[e.src], NODE_H / 2), min(half[e.dst], NODE_H / 2)
            d = (f"M{x1:.1f},{y1 + b1:.1f} C{x1:.1f},{depth:.1f} {x2:.1f},{depth:.1f} "
                 f"{x2:.1f},{y2 + b2:.1f}")
            lx, ly = (x1 + x2) / 2, depth - 6
        else:
            sx, tx = x1 + half[e.src], x2 - half[e.dst]
            mx = (sx + tx) / 2
            d = f"M{sx:.1f},{y1:.1f} C{mx:.1f},{y1:.1f} {mx:.1f},{y2:.1f} {tx:.1f},{y2:.1f}"
            lx, ly = mx, (y1 + y2) / 2 - 4
        dash = ' stroke-dasharray="5,4"' if e.dashed else ""
        out.append(f'<g class="edge"{_attrs(e.attrs)}><path d="{d}" stroke-width="{sw:.2f}"{dash} '
                   f'marker-end="url(#arrow)"/>')
        for v in views:
            text = e.views.get(v, "")
            if text:
                cls = f' class="view-{v}"' if v else ""
                out.append(f'<text x="{lx:.1f}" y="{ly:.1f}"{cls}>{escape(text)}</text>')
        out.append("</g>")
    for n in nodes:
        x, y = lay.pos[n.id]
        out.append(f'<g class="node {n.shape}" data-id="{escape(n.id)}"{_attrs(n.attrs)}>')
        out.append(f"<title>{escape(n.label)}</title>")
        if n.shape == "circle":
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="16"/>')
            out.append(f'<text x="{x:.1f}" y="{y + 32:.1f}" class="label">{escape(_short(n.label))}</text>')
        elif n.shape == "diamond":
            out.append(f'<path d="M{x:.1f},{y - 18:.1f} L{x + 18:.1f},{y:.1f} L{x:.1f},{y + 18:.1f} '
                       f'L{x - 18:.1f},{y:.1f} z"/>')
            out.append(f'<text x="{x:.1f}" y="{y + 32:.1f}" class="label">{escape(_short(n.label))}</text>')
        else:
            out.append(f'<rect x="{x - NODE_W / 2:.1f}" y="{y - NODE_H / 2:.1f}" width="{NODE_W}" '
                       f'height="{NODE_H}" rx="8"/>')
            has_sub = any(n.views.get(v) for v in views)
            out.append(f'<text x="{x:.1f}" y="{y - 4 if has_sub else y + 4:.1f}" class="label">'
                       f"{escape(_short(n.label))}</text>")
            for v in views:
                text = n.views.get(v, "")
                if text:
                    cls = f"sub view-{v}" if v else "sub"
                    out.append(f'<text x="{x:.1f}" y="{y + 13:.1f}" class="{cls}">{escape(_short(text, 30))}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)
