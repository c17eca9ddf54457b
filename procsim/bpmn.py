"""BPMN 2.0 export of a process, with diagram interchange (DI) so modelers draw it as laid out here.

Owns writing a loaded process's flow graph (sub-process calls already expanded by the loader) as BPMN 2.0 XML:
start and end events, tasks (with their role as a lane-free ``documentation``), exclusive and parallel gateways,
sequence flows. An XOR branch's probability, condition and loop bound travel on its sequence flow: the condition
as a ``conditionExpression`` (procsim's expression text), the probability and ``max`` in the flow's ``name``
(``p=0.85``, ``p=0.15 max 3``), which Prosimos/Simod-style tools and people can read back. Deadline escalations
are not flows of the model and are left out.

Layout: each node's column is its longest distance from the start over the graph without loop-back edges
(edges with ``max``); nodes of a column are stacked in first-reached order. Deterministic: same file, same XML.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape, quoteattr

import networkx as nx

from procsim.errors import ProcsimError
from procsim.spec.loader import read_yaml

if TYPE_CHECKING:
    from procsim.spec import LoadedProcess

__all__ = ["to_bpmn", "PROCSIM_NS"]

PROCSIM_NS = "https://procsim.dev/bpmn/extensions"
PAIRS = "procsim:pairs"  # a JSON object standing for a YAML mapping whose keys are not all text
# sections whose content the BPMN flow carries (the nodes); the rest travels in the process's extension element
_FLOW_SECTIONS = ("events", "activities", "gateways", "waits", "calls", "subprocesses")

_SIZE = {"start": (36, 36), "end": (36, 36), "activity": (100, 80), "xor": (50, 50), "and": (50, 50), "or": (50, 50),
         "wait": (36, 36), "logged_wait": (100, 80)}
_COL, _ROW, _X0, _Y0 = 160, 120, 60, 60


def _id(name: str) -> str:
    """A valid xsd:ID (NCName) for a node name (dots of sub-process copies become underscores)."""
    return "n_" + re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def _layout(g: nx.DiGraph, start: str) -> dict[str, tuple[int, int]]:
    dag = nx.DiGraph()
    dag.add_nodes_from(g.nodes)
    dag.add_edges_from((u, v) for u, v, d in g.edges(data=True) if d.get("max") is None and not d.get("escalation"))
    # a cycle without 'max' on its edge cannot load; still, never let a stray cycle break the layout
    while not nx.is_directed_acyclic_graph(dag):
        cyc = nx.find_cycle(dag, start)
        dag.remove_edge(*cyc[-1][:2])
    col: dict[str, int] = {}
    for n in nx.topological_sort(dag):
        preds = list(dag.predecessors(n))
        col[n] = max((col[p] + 1 for p in preds), default=0)
    order = {n: i for i, n in enumerate([start] + [v for _, v in nx.bfs_edges(g, start)])}
    rows: dict[int, int] = {}
    pos: dict[str, tuple[int, int]] = {}
    for n in sorted(g.nodes, key=lambda x: (col[x], order.get(x, len(order)), x)):
        r = rows.get(col[n], 0)
        rows[col[n]] = r + 1
        pos[n] = (col[n], r)
    return pos


def _raw(loaded: LoadedProcess) -> dict[str, Any]:
    """The process file as written (its YAML mapping), for the extension elements; {} for a process built in code."""
    try:
        data, _ = read_yaml(loaded.path)
    except (OSError, ProcsimError):
        return {}
    return data if isinstance(data, dict) else {}


def _json(v: Any) -> Any:
    """YAML values as JSON: dates and times as ISO text (the loader reads them back)."""
    if isinstance(v, dict):
        if not all(isinstance(k, str) for k in v):
            # YAML keys that are not text ({true: 0.1, false: 0.9}): as pairs, so they come back as they were
            return {PAIRS: [[_json(k), _json(x)] for k, x in v.items()]}
        return {k: _json(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json(x) for x in v]
    if isinstance(v, (dt.date, dt.datetime, dt.time)):
        return v.isoformat()
    return v


def _process_data(loaded: LoadedProcess, raw: dict[str, Any]) -> dict[str, Any]:
    """The sections of the process file outside its flow, and the order of the flow's nodes per section."""
    spec = loaded.spec
    out = {k: _json(v) for k, v in raw.items() if k not in _FLOW_SECTIONS}
    out["order"] = {sec: list(getattr(spec, sec)) for sec in ("events", "activities", "gateways", "waits")}
    return out


def _node_data(loaded: LoadedProcess, raw: dict[str, Any], n: str) -> dict[str, Any]:
    """A node's key, section and spec as written (sub-process copies, which have none, as the loader made them)."""
    spec = loaded.spec
    for sec in ("events", "activities", "gateways", "waits"):
        if n in getattr(spec, sec):
            written = (raw.get(sec) or {}).get(n)
            if not isinstance(written, dict):
                written = getattr(spec, sec)[n].model_dump(mode="json", exclude_defaults=True)
            return {"key": n, "section": sec, "spec": _json(written)}
    return {"key": n}


def _extension(data: dict[str, Any], indent: str) -> str:
    """procsim's own parameters as a ``procsim:data`` extension element (JSON), read back by ``procsim convert``."""
    text = escape(json.dumps(data, ensure_ascii=False, sort_keys=False))
    return (f"{indent}<bpmn:extensionElements><procsim:data>{text}</procsim:data></bpmn:extensionElements>")


def to_bpmn(loaded: LoadedProcess) -> str:
    """The process as BPMN 2.0 XML with a diagram."""
    spec = loaded.spec
    g = loaded.graph
    raw = _raw(loaded)
    start = next(n for n, d in g.nodes(data=True) if d["kind"] == "start")
    pid = "process_" + re.sub(r"[^A-Za-z0-9_]", "_", spec.process.name)[:60]
    flows: list[tuple[str, str, str, str, str | None]] = []  # id, src, dst, name, condition
    for k, (u, v, d) in enumerate(sorted(g.edges(data=True), key=lambda e: (e[0], e[1]))):
        if d.get("escalation"):
            continue
        name, cond = "", None
        gw = spec.gateways.get(u)
        if gw is not None and gw.branches and "branches" in d:  # xor and or splits
            parts = []
            for i in d["branches"]:
                b = gw.branches[i]
                if b.when is not None:
                    cond = b.when
                    parts.append(f"when {b.when}")
                elif b.probability is not None:
                    parts.append(f"p={b.probability:g}")
                if b.max is not None:
                    parts.append(f"max {b.max}")
            name = "; ".join(parts)
        flows.append((f"flow_{k + 1}", u, v, name, cond))
    incoming: dict[str, list[str]] = {n: [] for n in g.nodes}
    outgoing: dict[str, list[str]] = {n: [] for n in g.nodes}
    for fid, u, v, _, _ in flows:
        outgoing[u].append(fid)
        incoming[v].append(fid)

    x: list[str] = ['<?xml version="1.0" encoding="UTF-8"?>',
                    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
                    'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" '
                    'xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" '
                    'xmlns:di="http://www.omg.org/spec/DD/20100524/DI" '
                    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
                    f'xmlns:procsim="{PROCSIM_NS}" '
                    'id="definitions" targetNamespace="https://procsim.dev/bpmn" exporter="procsim" '
                    'exporterVersion="1">',
                    f'  <bpmn:process id="{pid}" name={quoteattr(spec.process.name)} isExecutable="false">']
    x.append(_extension(_process_data(loaded, raw), "    "))
    for n, d in sorted(g.nodes(data=True), key=lambda t: t[0]):
        kind = d["kind"]
        if kind == "start":
            tag, label = "startEvent", n
        elif kind == "end":
            tag, label = "endEvent", n
        elif kind == "activity":
            tag, label = "task", spec.activities[n].name or n
        elif kind == "xor":
            tag, label = "exclusiveGateway", n
        elif kind == "or":
            tag, label = "inclusiveGateway", n
        elif kind == "wait":
            # a logged wait is in the log, so it is a task there (holding no resource, said in its documentation);
            # an unlogged one is a timer event: time passes, nothing is recorded
            ws = spec.waits[n]
            tag, label = ("task", ws.name or n) if ws.log else ("intermediateCatchEvent", ws.name or n)
        else:
            tag, label = "parallelGateway", n
        attrs = f'id="{_id(n)}" name={quoteattr(label)}'
        if tag.endswith("Gateway"):
            direction = ("Diverging" if len(outgoing[n]) > 1 and len(incoming[n]) <= 1 else
                         "Converging" if len(incoming[n]) > 1 and len(outgoing[n]) <= 1 else "Mixed")
            attrs += f' gatewayDirection="{direction}"'
        x.append(f"    <bpmn:{tag} {attrs}>")
        if kind == "activity" and spec.activities[n].role:
            x.append(f"      <bpmn:documentation>role: {escape(spec.activities[n].role or '')}</bpmn:documentation>")
        if kind == "wait":
            x.append("      <bpmn:documentation>a wait: holds no resource</bpmn:documentation>")
        x.append(_extension(_node_data(loaded, raw, n), "      "))
        x += [f"      <bpmn:incoming>{f}</bpmn:incoming>" for f in incoming[n]]
        x += [f"      <bpmn:outgoing>{f}</bpmn:outgoing>" for f in outgoing[n]]
        if tag == "intermediateCatchEvent":
            x.append(f'      <bpmn:timerEventDefinition id="{_id(n)}_timer" />')
        x.append(f"    </bpmn:{tag}>")
    for fid, u, v, name, cond in flows:
        head = f'    <bpmn:sequenceFlow id="{fid}" sourceRef="{_id(u)}" targetRef="{_id(v)}"'
        head += f" name={quoteattr(name)}" if name else ""
        if cond is None:
            x.append(head + " />")
        else:
            x += [head + ">", f'      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{escape(cond)}'
                  "</bpmn:conditionExpression>", "    </bpmn:sequenceFlow>"]
    x.append("  </bpmn:process>")
    pos = _layout(g, start)
    box: dict[str, tuple[int, int, int, int]] = {}
    x += ['  <bpmndi:BPMNDiagram id="diagram">', f'    <bpmndi:BPMNPlane id="plane" bpmnElement="{pid}">']
    for n, d in sorted(g.nodes(data=True), key=lambda t: t[0]):
        w, h = _SIZE["logged_wait" if d["kind"] == "wait" and spec.waits[n].log else d["kind"]]
        col, r = pos[n]
        bx = _X0 + col * _COL + (100 - w) // 2
        by = _Y0 + r * _ROW + (80 - h) // 2
        box[n] = (bx, by, w, h)
        marker = ' isMarkerVisible="true"' if d["kind"] == "xor" else ""
        x += [f'      <bpmndi:BPMNShape id="{_id(n)}_di" bpmnElement="{_id(n)}"{marker}>',
              f'        <dc:Bounds x="{bx}" y="{by}" width="{w}" height="{h}" />',
              "      </bpmndi:BPMNShape>"]
    for fid, u, v, _, _ in flows:
        ux, uy, uw, uh = box[u]
        vx, vy, vw, vh = box[v]
        pts = [(ux + uw, uy + uh // 2)]
        if vx <= ux:  # a loop back: leave below, come back under the row, enter from below
            low = max(uy + uh, vy + vh) + 20
            pts = [(ux + uw // 2, uy + uh), (ux + uw // 2, low), (vx + vw // 2, low), (vx + vw // 2, vy + vh)]
        else:
            pts.append((vx, vy + vh // 2))
        x.append(f'      <bpmndi:BPMNEdge id="{fid}_di" bpmnElement="{fid}">')
        x += [f'        <di:waypoint x="{px}" y="{py}" />' for px, py in pts]
        x.append("      </bpmndi:BPMNEdge>")
    x += ["    </bpmndi:BPMNPlane>", "  </bpmndi:BPMNDiagram>", "</bpmn:definitions>", ""]
    return "\n".join(x)
