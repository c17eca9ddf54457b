"""``procsim convert``: a BPMN 2.0 model, optionally with Prosimos/Simod simulation parameters, into a procsim
process folder (``process.yaml``) that the loader accepts.

Owns: reading BPMN XML safely (expat with no DOCTYPE, no entities, bounded size and element count, every element
positioned ``file:line:col``), the mapping of BPMN elements onto the process language (tasks, start and end
events, exclusive, parallel and inclusive gateways, intermediate timer events, embedded sub-processes), the
mapping of Prosimos/Simod parameters (resource profiles and calendars, task-resource duration distributions,
gateway branch probabilities, arrival distribution and calendar, timer-event durations) and writing the folder
after the result has loaded. What does not map is refused with every problem at once (exit 2) or, where a
close mapping exists, written with a comment and reported as a note. A model exported by ``procsim graph
--format bpmn`` carries procsim's own parameters in ``procsim:`` extension elements; with them the round trip is
lossless for what the export writes (docs/grounding.md).

Inclusive gateways become procsim ``or`` gateways: a branch's probability in the parameters is its own chance,
drawn independently, and when none is drawn one branch is taken by the probabilities: Prosimos's rule, which the
engine follows (docs/process-language.md). The OR join waits for the branches its split activated; that needs
the split and join to form a block, which the loader checks.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from xml.parsers import expat

import networkx as nx

from procsim.bpmn import PAIRS, PROCSIM_NS
from procsim.errors import Problem, ProcsimError, SpecError
from procsim.limits import BPMN_MAX_BYTES, BPMN_MAX_ELEMENTS, MAX_LOOP_REPEATS

__all__ = ["Converted", "convert", "convert_to_dir", "prosimos_distribution", "PROCSIM_NS"]

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
DEFAULT_START = "2026-01-05T00:00:00+00:00"  # a Monday

_TASKS = {"task", "userTask", "serviceTask", "manualTask", "scriptTask", "sendTask", "receiveTask",
          "businessRuleTask"}
_GATEWAYS = {"exclusiveGateway": "xor", "parallelGateway": "and", "inclusiveGateway": "or"}
# elements that carry no behaviour for a simulation (documentation, data, diagram, artifacts)
_IGNORED = {"documentation", "extensionElements", "incoming", "outgoing", "laneSet", "lane", "flowNodeRef",
            "dataObject", "dataObjectReference", "dataStoreReference", "textAnnotation", "association", "group",
            "property", "ioSpecification", "dataInput", "dataOutput", "inputSet", "outputSet",
            "dataInputAssociation", "dataOutputAssociation", "text", "category", "categoryValue"}
_TOP_IGNORED = {"BPMNDiagram", "message", "signal", "error", "escalation", "itemDefinition", "dataStore",
                "category", "extensionElements", "documentation", "import", "interface", "resource"}
_DAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]
_SHORT = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


# -- safe XML -------------------------------------------------------------------------------------------------

@dataclass
class _El:
    ns: str
    tag: str
    attrs: dict[str, str]
    line: int
    col: int
    children: list[_El] = field(default_factory=list)
    text: str = ""

    def find(self, tag: str) -> _El | None:
        return next((c for c in self.children if c.tag == tag), None)


class _Refused(Exception):
    def __init__(self, msg: str, line: int, col: int) -> None:
        super().__init__(msg)
        self.msg, self.line, self.col = msg, line, col


def parse_xml(data: bytes, fname: str) -> _El:
    """The document as a tree of positioned elements. A DOCTYPE (and with it every entity, internal or external)
    is refused before anything is expanded; so is a document beyond ``BPMN_MAX_BYTES`` or ``BPMN_MAX_ELEMENTS``."""
    if len(data) > BPMN_MAX_BYTES:
        raise SpecError([Problem(fname, 1, 1, "", f"the file has {len(data):,} bytes; at most {BPMN_MAX_BYTES:,} "
                                 "are read (procsim.limits.BPMN_MAX_BYTES)", "bpmn_syntax")])
    p = expat.ParserCreate(namespace_separator=" ")
    p.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    stack: list[_El] = []
    root: list[_El] = []
    count = [0]

    def refuse(msg: str) -> None:
        raise _Refused(msg, p.CurrentLineNumber, p.CurrentColumnNumber + 1)

    def start(name: str, attrs: dict[str, str]) -> None:
        count[0] += 1
        if count[0] > BPMN_MAX_ELEMENTS:
            refuse(f"more than {BPMN_MAX_ELEMENTS:,} elements (procsim.limits.BPMN_MAX_ELEMENTS)")
        ns, _, tag = name.rpartition(" ")
        el = _El(ns, tag, {k.rpartition(" ")[2]: v for k, v in attrs.items()}, p.CurrentLineNumber,
                 p.CurrentColumnNumber + 1)
        (stack[-1].children if stack else root).append(el)
        stack.append(el)

    def end(name: str) -> None:
        stack.pop()

    def chars(data: str) -> None:
        if stack:
            stack[-1].text += data

    p.StartElementHandler = start
    p.EndElementHandler = end
    p.CharacterDataHandler = chars
    def doctype(*a: object) -> None:
        raise _Refused("a DOCTYPE is not accepted (it could declare entities)", p.CurrentLineNumber, 1)

    p.StartDoctypeDeclHandler = doctype
    p.EntityDeclHandler = lambda *a: refuse("an entity declaration is not accepted")
    p.ExternalEntityRefHandler = lambda *a: refuse("an external entity is not accepted")  # type: ignore[assignment]
    try:
        p.Parse(data, True)
    except _Refused as e:
        raise SpecError([Problem(fname, e.line, e.col, "", e.msg, "bpmn_syntax")]) from None
    except expat.ExpatError as e:
        raise SpecError([Problem(fname, e.lineno, e.offset + 1, "", f"not well-formed XML: "
                                 f"{expat.ErrorString(e.code)}", "bpmn_syntax")]) from None
    if not root:
        raise SpecError([Problem(fname, 1, 1, "", "no XML element", "bpmn_syntax")])
    return root[0]


# -- the BPMN graph -------------------------------------------------------------------------------------------

@dataclass
class _Node:
    id: str
    kind: str  # start, end, task, xor, and, or, timer, pass
    name: str
    el: _El
    ext: dict[str, Any] | None = None  # procsim's own parameters (extension element), when exported by procsim


@dataclass
class _Flow:
    id: str
    src: str
    dst: str
    cond: str | None
    el: _El
    ext: dict[str, Any] | None = None


@dataclass
class _Model:
    nodes: dict[str, _Node]
    flows: list[_Flow]
    process: dict[str, Any] | None  # procsim's process-level sections, when exported by procsim
    name: str


def _ext(el: _El, fname: str) -> dict[str, Any] | None:
    """The JSON of a ``procsim:data`` extension element, if any."""
    ee = el.find("extensionElements")
    if ee is None:
        return None
    for c in ee.children:
        if c.ns == PROCSIM_NS and c.tag == "data":
            try:
                data = _unpairs(json.loads(c.text))
            except json.JSONDecodeError as e:
                raise SpecError([Problem(fname, c.line, c.col, "", f"procsim:data is not JSON: {e.msg}", "bpmn_syntax")]
                                ) from None
            return data if isinstance(data, dict) else None
    return None


def _unpairs(v: Any) -> Any:
    """Mappings the export wrote as key-value pairs (keys that are not text) back as mappings."""
    if isinstance(v, dict):
        if set(v) == {PAIRS} and isinstance(v[PAIRS], list):
            return {_unpairs(k): _unpairs(x) for k, x in v[PAIRS]}
        return {k: _unpairs(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_unpairs(x) for x in v]
    return v


def _read_model(root: _El, fname: str) -> _Model:
    problems: list[Problem] = []

    def bad(el: _El, msg: str, code: str = "bpmn_unsupported") -> None:
        problems.append(Problem(fname, el.line, el.col, el.attrs.get("id", el.tag), msg, code))

    if root.ns != BPMN_NS or root.tag != "definitions":
        raise SpecError([Problem(fname, root.line, root.col, "", f"not a BPMN 2.0 document (root element "
                                 f"'{root.tag}', BPMN's is 'definitions' in {BPMN_NS})", "bpmn_syntax")])
    procs = [c for c in root.children if c.tag == "process"]
    for c in root.children:
        if c.tag not in _TOP_IGNORED and c.tag not in ("process", "collaboration"):
            bad(c, f"'{c.tag}' is not supported")
        if c.tag == "collaboration":
            for m in c.children:
                if m.tag == "messageFlow":
                    bad(m, "message flows between pools are not supported (one process is simulated)")
    busy = [pr for pr in procs if any(c.tag not in _IGNORED for c in pr.children)]
    if len(busy) != 1:
        at = busy[1] if len(busy) > 1 else root
        raise SpecError(problems + [Problem(fname, at.line, at.col, "", f"expected one process with flow elements, "
                                            f"found {len(busy)}", "bpmn_structure")])
    proc = busy[0]
    nodes: dict[str, _Node] = {}
    flows: list[_Flow] = []

    def walk(container: _El, scope: str | None) -> None:
        for el in container.children:
            tag, eid = el.tag, el.attrs.get("id", "")
            if el.ns != BPMN_NS or tag in _IGNORED:
                continue
            if tag in ("sequenceFlow",):
                cond = el.find("conditionExpression")
                flows.append(_Flow(eid, el.attrs.get("sourceRef", ""), el.attrs.get("targetRef", ""),
                                   cond.text.strip() if cond is not None and cond.text.strip() else None, el, _ext(el, fname)))
                continue
            if not eid:
                bad(el, f"a '{tag}' without an id")
                continue
            if eid in nodes:
                bad(el, f"id '{eid}' is used twice", "bpmn_structure")
                continue
            name = el.attrs.get("name", "").strip()
            defs = [c.tag for c in el.children if c.tag.endswith("EventDefinition")]
            if tag == "startEvent":
                nodes[eid] = _Node(eid, "start" if scope is None else "pass", name, el, _ext(el, fname))
            elif tag == "endEvent":
                if defs and defs != ["terminateEventDefinition"]:
                    bad(el, f"an end event with {defs[0]} is not supported (a plain or terminate end event is)")
                nodes[eid] = _Node(eid, "end" if scope is None else "pass", name, el, _ext(el, fname))
                if scope is not None:
                    nodes[eid].ext = {"to_exit": scope}
            elif tag in _TASKS:
                loops = [c.tag for c in el.children if c.tag.endswith("LoopCharacteristics")]
                if loops:
                    bad(el, f"'{loops[0]}' (a loop or multi-instance task) is not supported")
                nodes[eid] = _Node(eid, "task", name, el, _ext(el, fname))
            elif tag in _GATEWAYS:
                nodes[eid] = _Node(eid, _GATEWAYS[tag], name, el, _ext(el, fname))
            elif tag == "intermediateCatchEvent" and defs == ["timerEventDefinition"]:
                nodes[eid] = _Node(eid, "timer", name, el, _ext(el, fname))
            elif tag == "subProcess" and el.attrs.get("triggeredByEvent", "false") != "true":
                # entry and exit: pass-through nodes the sub-process's own start and end events connect to
                nodes[eid] = _Node(eid, "pass", name, el, {"entry": True})
                nodes[eid + "#exit"] = _Node(eid + "#exit", "pass", name, el)
                before = len(nodes)
                walk(el, eid)
                starts = [n for n in list(nodes.values())[before:] if n.kind == "pass" and n.el.tag == "startEvent"
                          and n.el in el.children]
                if len(starts) != 1:
                    bad(el, f"a sub-process needs exactly one start event (it has {len(starts)})", "bpmn_structure")
                else:
                    flows.append(_Flow(eid + "#in", eid, starts[0].id, None, el))
            else:
                what = f"'{tag}'" + (f" with {', '.join(defs)}" if defs else "")
                bad(el, f"{what} is not supported (supported: tasks, start and end events, exclusive, parallel "
                        "and inclusive gateways, timer catch events, sub-processes)")

    walk(proc, None)
    for n in list(nodes.values()):
        if n.ext is not None and "to_exit" in n.ext:
            flows.append(_Flow(n.id + "#out", n.id, n.ext["to_exit"] + "#exit", None, n.el))
            n.ext = None
    # a sub-process's outgoing flows leave from its exit
    for f in flows:
        if f.src in nodes and nodes[f.src].ext == {"entry": True} and not f.id.endswith("#in"):
            f.src += "#exit"
    for f in flows:
        for end, ref in (("sourceRef", f.src), ("targetRef", f.dst)):
            if ref not in nodes:
                bad(f.el, f"{end} '{ref}' names no supported element", "bpmn_structure")
    if problems:
        raise SpecError(problems)
    for n in nodes.values():
        if n.ext == {"entry": True}:
            n.ext = None
    pext = _ext(proc, fname)
    return _Model(nodes, flows, pext, proc.attrs.get("name", "") or proc.attrs.get("id", "process"))


def _collapse_pass(m: _Model) -> None:
    """Remove pass-through nodes (sub-process entries and exits, their start and end events): each incoming flow
    goes straight to the node's single successor and keeps its own id (a gateway's branch probability)."""
    for nid in [n.id for n in m.nodes.values() if n.kind == "pass"]:
        outs = [f for f in m.flows if f.src == nid]
        ins = [f for f in m.flows if f.dst == nid]
        if len(outs) != 1:
            n = m.nodes[nid]
            raise SpecError([Problem("", n.el.line, n.el.col, n.id, "a sub-process's start event, entry or exit "
                                     f"needs exactly one outgoing flow (it has {len(outs)})", "bpmn_structure")])
        for f in ins:
            f.dst = outs[0].dst
        m.flows.remove(outs[0])
        del m.nodes[nid]


# -- Prosimos / Simod distributions ----------------------------------------------------------------------------

def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(float(x))


def _secs(x: float) -> str:
    return f"{_num(x)}s"


def prosimos_distribution(name: str, params: list[float], time: bool = True) -> tuple[dict[str, Any], list[str]]:
    """A Prosimos 2 / pix-framework distribution (``distribution_name`` and the values of ``distribution_params``,
    seconds) as a procsim distribution with the same law (same mean and variance), and notes where it differs.

    Prosimos reads: ``fix [value]``, ``expon [mean, min, max]`` (min + an exponential of mean - min), ``norm [mean,
    sd, min, max]``, ``uniform [min, max]``, ``lognorm [mean, variance, min, max]``, ``gamma [mean, variance, min,
    max]`` and, older, scipy's ``triang [c, loc, scale, min, max]``; draws outside ``[max(0, min), max]`` are redrawn,
    and when that interval is empty Prosimos uses a fixed fallback value, which is what this returns too."""
    u = _secs if time else _num
    notes: list[str] = []
    p = [float(v) for v in params]
    need = {"fix": 1, "expon": 3, "norm": 4, "uniform": 2, "lognorm": 4, "gamma": 4, "triang": 3}
    if name not in need:
        raise ValueError(f"unknown distribution '{name}' (known: {', '.join(need)})")
    if len(p) < need[name]:
        raise ValueError(f"'{name}' needs {need[name]} parameters, got {len(p)}")
    if name == "fix":
        return {"kind": "fixed", "value": u(p[0])}, notes
    if name == "uniform":
        return {"kind": "uniform", "low": u(p[0]), "high": u(p[1])}, notes
    if name == "triang":
        c, loc, scale = p[:3]
        return {"kind": "triangular", "low": u(loc), "mode": u(loc + c * scale), "high": u(loc + scale)}, notes
    mean = p[0]
    lo_b, hi_b = (p[1], p[2]) if name == "expon" else (p[2], p[3])
    lo, hi = max(0.0, lo_b), hi_b
    if hi < lo or (name == "expon" and hi < lo_b):
        # Prosimos (pix DurationDistribution) redraws 100 times, then fills with this value
        val = mean if mean >= 0 else None
        if val is None or val < lo_b or val > hi_b:
            val = lo_b + (hi_b - lo_b) / 2
        val = max(val, 0.0)
        notes.append(f"{name}{params}: no value lies in [min, max]; Prosimos uses its fallback {_num(val)}, so does "
                     "this")
        return {"kind": "fixed", "value": u(val)}, notes
    if name == "expon":
        scale = mean - lo_b
        if scale < 0:
            scale = mean
        d: dict[str, Any] = {"kind": "exponential", "mean": u(scale)}
        if lo_b > 0:
            # min plus an exponential: procsim's exponential has no shift, so its exact quantiles as a table,
            # evenly in probability and then ever closer to 1; the last step ends where its mean (uniform draws)
            # is the exponential tail's own (memoryless: the quantile plus the scale)
            qs = [i / 256 for i in range(256)] + [1 - 2.0 ** -k for k in range(9, 31)]
            vals = [lo_b - scale * math.log(1 - q) for q in qs]
            d = {"kind": "quantiles", "probabilities": [*qs, 1], "values": [u(v) for v in vals] + [u(vals[-1] + 2 * scale)]}
            notes.append(f"expon{params}: min {_num(lo_b)} plus an exponential of mean {_num(scale)}, written as a "
                         "quantile table (procsim's exponential has no shift)")
        tail = math.exp(-(hi - lo_b) / scale) if scale > 0 else 0.0
    elif name == "norm":
        sd = p[1]
        d = {"kind": "normal", "mean": u(mean), "sd": u(sd)}
        tail = _ncdf((lo - mean) / sd) + 1 - _ncdf((hi - mean) / sd) if sd > 0 else 0.0
    elif name in ("lognorm", "gamma"):
        var = p[1]
        d = {"kind": "lognormal" if name == "lognorm" else "gamma", "mean": u(mean), "sd": u(math.sqrt(max(var, 0)))}
        tail = 0.0
        if name == "lognorm" and var > 0 and mean > 0:
            s2 = math.log(1 + var / mean ** 2)
            mu = math.log(mean) - s2 / 2

            def cdf(x: float) -> float:
                return _ncdf((math.log(x) - mu) / math.sqrt(s2)) if x > 0 else 0.0

            tail = cdf(lo) + 1 - cdf(hi) if hi < math.inf else cdf(lo)
        elif name == "gamma" and mean > 0 and var > 0 and hi < mean - 3 * math.sqrt(var):
            tail = 1.0
    if tail > 1e-3:
        notes.append(f"{name}{params}: Prosimos redraws values outside [{_num(lo)}, {_num(hi)}], "
                     f"{tail:.1%} of the draws; procsim does not (its mean differs)")
    return d, notes


def _ncdf(z: float) -> float:
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


def _dist_values(d: dict[str, Any]) -> tuple[str, list[float]]:
    return str(d.get("distribution_name", "")), [float(v["value"]) if isinstance(v, dict) else float(v)
                                                 for v in d.get("distribution_params", [])]


# -- calendars -------------------------------------------------------------------------------------------------

def _hhmm(t: str, end: bool) -> tuple[str, bool]:
    """'08:30:00.000' -> ('08:30', exact); an end at 23:59:59 is the end of the day."""
    h, m, *rest = (t.split(".")[0] + ":0").split(":")[:3]
    s = int(rest[0]) if rest else 0
    hh, mm = int(h), int(m)
    if end and (hh, mm, s) == (23, 59, 59):
        return "24:00", True
    return f"{hh:02d}:{mm:02d}", s == 0


def calendar_from_periods(periods: list[dict[str, Any]]) -> tuple[dict[str, list[str]] | None, list[str]]:
    """Prosimos time periods (``from``/``to`` weekday, ``beginTime``/``endTime``) as procsim ``weekly`` hours, or
    None for a calendar that is open all week round."""
    notes: list[str] = []
    days: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for per in periods:
        a, b = _DAYS.index(per["from"].upper()), _DAYS.index(per["to"].upper())
        s, ok1 = _hhmm(per["beginTime"], False)
        e, ok2 = _hhmm(per["endTime"], True)
        if not (ok1 and ok2):
            notes.append(f"calendar times {per['beginTime']}-{per['endTime']} rounded to minutes")
        for d in range(a, (b if b >= a else b + 7) + 1):
            if e > s:
                days[d % 7].append((s, e))
            elif e < s:  # over midnight
                days[d % 7].append((s, "24:00"))
                days[(d + 1) % 7].append(("00:00", e))
    weekly: dict[str, list[str]] = {}
    for d in range(7):
        merged: list[list[str]] = []
        for s, e in sorted(days.get(d, [])):
            if merged and s <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        if merged:
            weekly[_SHORT[d]] = [f"{s}-{e}" for s, e in merged]
    if len(weekly) == 7 and all(v == ["00:00-24:00"] for v in weekly.values()):
        return None, notes
    return weekly, notes


# -- emitting the process -------------------------------------------------------------------------------------

def _slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return s if s and not s[0].isdigit() else f"n_{s}"


@dataclass
class Converted:
    """The process file's text and what the conversion could not carry over exactly."""

    yaml: str
    notes: list[str]
    activities: int
    gateways: int
    # node key -> (line, column, BPMN id) of the element it came from, to point the loader's problems at the model
    origin: dict[str, tuple[int, int, str]] = field(default_factory=dict)


class _Params:
    """Prosimos/Simod parameters, with positions of the ids they name (the JSON module gives none)."""

    def __init__(self, data: dict[str, Any], text: str, fname: str) -> None:
        self.data, self.text, self.fname = data, text, fname
        self.problems: list[Problem] = []

    def pos(self, needle: str, *within: str) -> tuple[int, int]:
        """The position of ``needle`` (a JSON string), searched after each of ``within`` in turn (a section, then
        an id in it); the last found when the needle is not."""
        i = j = 0
        for n in (*within, needle):
            k = self.text.find(json.dumps(n), i)
            if k < 0:
                break
            i = j = k
        if not j and self.text.find(json.dumps(needle)) < 0 and not within:
            return 1, 1
        line = self.text.count("\n", 0, j) + 1
        return line, j - (self.text.rfind("\n", 0, j) + 1) + 1

    def bad(self, needle: str, key: str, msg: str, *within: str, code: str = "params_invalid") -> None:
        line, col = self.pos(needle, *within)
        self.problems.append(Problem(self.fname, line, col, key, msg, code))

    def dist(self, d: dict[str, Any], needle: str, key: str, notes: list[str]) -> dict[str, Any] | None:
        name = ""
        values: list[float] = []
        try:
            name, values = _dist_values(d)
            out, n = prosimos_distribution(name, values)
        except (ValueError, TypeError, KeyError) as e:
            self.bad(needle, key, str(e))
            return None
        notes += [f"{key}: {x}" for x in n]
        return out


def convert(bpmn: bytes, bpmn_name: str, params_text: str | None = None, params_name: str = "",
            start: str = DEFAULT_START) -> Converted:
    """The process file for a BPMN document (and Prosimos/Simod parameters as JSON text)."""
    model = _read_model(parse_xml(bpmn, bpmn_name), bpmn_name)
    try:
        _collapse_pass(model)
    except SpecError as e:
        raise SpecError([Problem(bpmn_name, p.line, p.col, p.loc, p.msg, p.code) for p in e.problems]) from None
    params: _Params | None = None
    if params_text is not None:
        try:
            data = json.loads(params_text)
        except json.JSONDecodeError as e:
            raise SpecError([Problem(params_name, e.lineno, e.colno, "", f"not JSON: {e.msg}", "params_invalid")]
                            ) from None
        if not isinstance(data, dict):
            raise SpecError([Problem(params_name, 1, 1, "", "the parameters must be a JSON object", "params_invalid")])
        params = _Params(data, params_text, params_name)
    return _Builder(model, bpmn_name, params, start).build()


class _Builder:
    def __init__(self, m: _Model, fname: str, params: _Params | None, start: str) -> None:
        self.m, self.fname, self.params, self.start = m, fname, params, start
        self.notes: list[str] = []
        self.problems: list[Problem] = []
        self.keys: dict[str, str] = {}
        used: set[str] = set()
        for n in m.nodes.values():
            want = cast(str, n.ext.get("key")) if n.ext and n.ext.get("key") else _slug(n.name or n.id)
            key, k = want, 2
            while key in used:
                key, k = f"{want}_{k}", k + 1
            used.add(key)
            self.keys[n.id] = key
        self.used = used
        self.outs: dict[str, list[_Flow]] = defaultdict(list)
        self.ins: dict[str, list[_Flow]] = defaultdict(list)
        for f in m.flows:
            self.outs[f.src].append(f)
            self.ins[f.dst].append(f)

    def fresh(self, want: str) -> str:
        key, k = want, 2
        while key in self.used:
            key, k = f"{want}_{k}", k + 1
        self.used.add(key)
        return key

    def bad(self, n: _Node, msg: str, code: str = "bpmn_structure") -> None:
        self.problems.append(Problem(self.fname, n.el.line, n.el.col, n.id, msg, code))

    # -- parameters

    def _probabilities(self) -> dict[str, float]:
        out: dict[str, float] = {}
        if self.params is None:
            return out
        P = self.params
        for g in P.data.get("gateway_branching_probabilities", []):
            gid = g.get("gateway_id", "")
            if gid not in self.m.nodes:
                P.bad(gid, "gateway_branching_probabilities", f"gateway '{gid}' is not in the model")
                continue
            for pr in g.get("probabilities", []):
                fid = pr.get("path_id", "")
                if not any(f.id == fid and f.src == gid for f in self.m.flows):
                    P.bad(fid, f"gateway_branching_probabilities.{gid}",
                          f"'{fid}' is not a flow leaving gateway '{gid}'")
                elif "value" in pr:
                    out[fid] = float(pr["value"])
        return out

    def _calendars(self, cal: dict[str, Any]) -> dict[str, str | None]:
        """Prosimos calendar id -> procsim calendar key (None: always open)."""
        out: dict[str, str | None] = {}
        P = self.params
        assert P is not None
        raw = P.data.get("resource_calendars", [])
        items = raw.items() if isinstance(raw, dict) else [(c.get("id", ""), c.get("time_periods", [])) for c in raw]
        for cid, periods in items:
            try:
                weekly, n = calendar_from_periods(periods)
            except (ValueError, KeyError, AttributeError) as e:
                P.bad(cid, f"resource_calendars.{cid}", f"bad time period: {e}")
                continue
            self.notes += n
            if weekly is None:
                out[cid] = None
            else:
                key = _slug(cid)
                cal[key] = {"weekly": weekly}
                out[cid] = key
        return out

    def _resources(self, cal: dict[str, Any], cals: dict[str, str | None]) -> tuple[
            dict[str, Any], dict[str, str], dict[str, dict[str, Any]]]:
        """roles, task id -> role key, task id -> duration distribution."""
        P = self.params
        assert P is not None
        entries: dict[str, dict[str, Any]] = {}
        for prof in P.data.get("resource_profiles", []):
            for r in prof.get("resource_list", []):
                if r.get("calendar") not in cals:
                    P.bad(r.get("id", ""), f"resource_profiles.{r.get('id')}.calendar",
                          f"unknown calendar '{r.get('calendar')}'")
                entries[r.get("id", "")] = r
        people: dict[str, list[str]] = {}
        for rid, r in entries.items():
            n = int(r.get("amount", 1))
            people[rid] = [f"{r['name']}_{i}" for i in range(n)] if n > 1 else [str(r["name"])]
        roles: dict[str, Any] = {}
        role_of: dict[str, str] = {}
        durations: dict[str, dict[str, Any]] = {}
        by_set: dict[tuple[str, ...], str] = {}
        for tr in P.data.get("task_resource_distribution", []):
            tid = tr.get("task_id", "")
            node = self.m.nodes.get(tid)
            if node is None or node.kind != "task":
                P.bad(tid, "task_resource_distribution", f"'{tid}' is not a task of the model")
                continue
            rids: list[str] = []
            comps: list[tuple[float, dict[str, Any]]] = []
            for r in tr.get("resources", []):
                rid = r.get("resource_id", "")
                if rid not in entries:
                    P.bad(rid, f"task_resource_distribution.{tid}", f"unknown resource '{rid}'")
                    continue
                d = P.dist(r, rid, f"task_resource_distribution.{tid}.{rid}", self.notes)
                if d is None:
                    continue
                rids.append(rid)
                comps.append((len(people[rid]), d))
            if not rids:
                continue
            if all(c[1] == comps[0][1] for c in comps):
                durations[tid] = comps[0][1]
            else:
                total = sum(w for w, _ in comps)
                durations[tid] = {"kind": "mixture", "components": [{"weight": round(w / total, 9), "distribution": d}
                                                                    for w, d in comps]}
                self.notes.append(f"task '{node.name or tid}': a duration per resource; procsim draws from their "
                                  "mixture (weighted by the resources' sizes), whoever does the work")
            keyset = tuple(sorted(set(rids)))
            if keyset not in by_set:
                key = self.fresh(_slug(entries[keyset[0]]["id"]) if len(keyset) == 1
                                 else _slug((node.name or tid) + "_team"))
                by_set[keyset] = key
                calset = {cals.get(entries[r].get("calendar", "")) for r in keyset}
                role: dict[str, Any] = {}
                names = [x for r in keyset for x in people[r]]
                if len(calset) == 1:
                    role["members"] = names
                    c = calset.pop()
                    if c is not None:
                        role["calendar"] = c
                else:
                    role["members"] = {x: ({"calendar": cals[entries[r]["calendar"]]}
                                           if cals.get(entries[r]["calendar"]) else {})
                                       for r in keyset for x in people[r]}
                rates = {float(entries[r].get("cost_per_hour", 0) or 0) for r in keyset}
                if max(rates) > 0:
                    role["cost_per_hour"] = max(rates)
                    if len(rates) > 1:
                        self.notes.append(f"role '{key}': resources with different hourly costs; the highest is kept")
                roles[key] = role
            role_of[tid] = by_set[keyset]
        return roles, role_of, durations

    def _batching(self) -> dict[str, dict[str, Any]]:
        """Prosimos's ``batch_processing``: task id -> procsim ``batch``. What procsim cannot express is refused
        (``params_unsupported``) at the rule's position; close readings are noted (docs/grounding.md#batching)."""
        P = self.params
        assert P is not None
        out: dict[str, dict[str, Any]] = {}
        for b in P.data.get("batch_processing") or []:
            tid = str(b.get("task_id", ""))
            where = f"batch_processing.{tid}"
            node = self.m.nodes.get(tid)
            name = (node.name if node is not None else "") or tid

            def bad(needle: str, msg: str, code: str = "params_unsupported") -> None:
                P.bad(needle, where, msg, "batch_processing", tid, code=code)

            if node is None or node.kind != "task":
                P.bad(tid, "batch_processing", f"'{tid}' is not a task of the model", "batch_processing")
                continue
            spec: dict[str, Any] = {}
            typ = b.get("type")
            if typ == "Sequential":
                spec["work"] = "sequential"
            elif typ == "Parallel":
                spec["work"] = "parallel"
            elif typ == "Concurrent":
                bad("type", "type 'Concurrent' is not supported: Prosimos 2.1.0 itself does not run such batches (it "
                    "warns 'not supported' and executes none); use Sequential or Parallel")
                continue
            else:
                bad("type", f"unknown batch type {typ!r} (Prosimos's: Sequential, Parallel, Concurrent)",
                    "params_invalid")
                continue
            try:
                sizes = {int(x["key"]): float(x["value"]) for x in b.get("size_distrib") or []}
                scale = {int(x["key"]): float(x["value"]) for x in b.get("duration_distrib") or []}
            except (KeyError, TypeError, ValueError) as e:
                bad("size_distrib", f"size_distrib and duration_distrib are lists of {{key, value}}: {e}",
                    "params_invalid")
                continue
            rules = b.get("firing_rules") or []
            if rules:
                triggers = self._firing(rules, name, bad)
                if triggers is None:
                    continue
                spec.update(triggers)
            else:
                # Prosimos draws one size for the whole run from size_distrib (a batch then starts at that size)
                big = {k: v for k, v in sizes.items() if k >= 2 and v > 0}
                if not big:
                    bad("firing_rules", "no firing_rules and no size of 2 or more in size_distrib: nothing would "
                        "start a batch")
                    continue
                size = max(sorted(big), key=lambda k: big[k])
                spec["size"] = size
                if len(big) > 1:
                    self.notes.append(f"batch of '{name}': Prosimos draws one batch size per run from size_distrib "
                                      f"{dict(sorted(sizes.items()))}; the likeliest, {size}, is taken")
            if sizes.get(1, 0.0) > 0:
                spec["alone"] = sizes[1]
            if scale.get(1, 1.0) != 1.0:
                self.notes.append(f"batch of '{name}': duration_distrib gives size 1 the factor {scale[1]:g}; "
                                  "Prosimos runs a single case with its plain duration, so does this")
            scale[1] = 1.0
            if any(v != 1.0 for v in scale.values()):
                spec["scale"] = dict(sorted(scale.items()))
            out[tid] = spec
        return out

    def _firing(self, rules: Any, name: str, bad: Any) -> dict[str, Any] | None:
        """Prosimos firing rules (OR of AND groups of ``{attribute, comparison, value}``) as procsim's batch
        triggers, which start a batch at the first that holds: each group must be one trigger (a range of one
        attribute, or a weekday with an hour); groups combine as OR."""
        size: int | None = None
        timeout: float | None = None
        idle: float | None = None
        moments: list[tuple[tuple[str, ...] | None, str]] = []
        days = {d.lower(): s for d, s in zip(_DAYS, _SHORT)}
        ok = True
        for gi, group in enumerate(rules if isinstance(rules, list) else []):
            by: dict[str, list[tuple[str, Any]]] = defaultdict(list)
            for r in group if isinstance(group, list) else []:
                by[str(r.get("attribute"))].append((str(r.get("comparison")), r.get("value")))
            unknown = set(by) - {"size", "large_wt", "ready_wt", "daily_hour", "week_day"}
            if unknown:
                bad(sorted(unknown)[0], f"firing rule {gi + 1}: unknown attribute '{sorted(unknown)[0]}' (Prosimos's: "
                    "size, large_wt, ready_wt, daily_hour, week_day)", "params_invalid")
                ok = False
                continue
            kinds = set(by) - {"week_day", "daily_hour"}
            if len(kinds) + bool(set(by) & {"week_day", "daily_hour"}) > 1:
                bad(sorted(by)[0], f"firing rule {gi + 1} joins {' AND '.join(sorted(by))}: procsim starts a batch "
                    "at the first of its triggers (size, timeout, idle, schedule), so a conjunction of different "
                    "kinds cannot be expressed; write them as separate rules (OR) if that is what is meant")
                ok = False
                continue

            def bounds(attr: str) -> tuple[float | None, float | None, str]:
                lo = hi = None
                ops = ""
                for op, v in by[attr]:
                    x = float(v)
                    # Prosimos reads '>' as at least one more (a case, a second), '<' as one less
                    step = 1 if attr != "daily_hour" else 0
                    if op in ("=", ">=", ">"):
                        x_lo = x + (step if op == ">" else 0)
                        lo = x_lo if lo is None else max(lo, x_lo)
                    elif op in ("<", "<="):
                        x_hi = x - (step if op == "<" else 0)
                        hi = x_hi if hi is None else min(hi, x_hi)
                    else:
                        raise ValueError(f"unknown comparison '{op}'")
                    ops += op
                return lo, hi, ops

            try:
                if "size" in by:
                    lo, hi, _ = bounds("size")
                    n = int(lo if lo is not None else hi or 0)
                    if n < 1:
                        raise ValueError("a size rule needs a size of 1 or more")
                    size = n if size is None else min(size, n)
                for attr in ("large_wt", "ready_wt"):
                    if attr in by:
                        lo, hi, _ = bounds(attr)
                        if lo is None:
                            bad(attr, f"firing rule {gi + 1}: {attr} with only an upper bound ({hi:g} s) is not "
                                "supported: procsim starts a batch when a wait reaches a length, not before it")
                            ok = False
                            continue
                        if hi is not None:
                            self.notes.append(f"batch of '{name}': {attr} between {lo:g} and {hi:g} s; the batch "
                                              f"starts at {lo:g} s (the upper bound is not used)")
                        if attr == "large_wt":
                            timeout = lo if timeout is None else min(timeout, lo)
                        else:
                            idle = lo if idle is None else min(idle, lo)
                wd: tuple[str, ...] | None = None
                if "week_day" in by:
                    vals = []
                    for op, v in by["week_day"]:
                        if op != "=" or str(v).lower() not in days:
                            raise ValueError(f"week_day takes '=' and a day name, not {op} {v!r}")
                        vals.append(days[str(v).lower()])
                    wd = tuple(sorted(set(vals), key=_SHORT.index))
                if "daily_hour" in by:
                    lo, hi, ops = bounds("daily_hour")
                    if lo is None:
                        bad("daily_hour", f"firing rule {gi + 1}: daily_hour {ops} {hi:g} is not supported: Prosimos "
                            "then runs batches from midnight until that hour; procsim's schedule starts batches at "
                            "moments, not over a period")
                        ok = False
                        continue
                    if not 0 <= lo <= 24:
                        raise ValueError(f"daily_hour {lo:g} is not an hour of the day")
                    moments.append((wd, f"{int(lo):02d}:00"))
                    self.notes.append(f"batch of '{name}': daily_hour {ops} {lo:g}: the batch starts at {int(lo):02d}:00"
                                      " with every case waiting (Prosimos also starts cases that come later that day,"
                                      " two at a time)" + ("; the upper bound is not used" if hi is not None else ""))
                elif wd is not None:
                    moments.append((wd, "00:00"))
                    self.notes.append(f"batch of '{name}': week_day {', '.join(wd)}: the batch starts at 00:00 that "
                                      "day with every case waiting (Prosimos also starts cases that come later that "
                                      "day, two at a time)")
            except (TypeError, ValueError) as e:
                bad(sorted(by)[0] if by else "firing_rules", f"firing rule {gi + 1}: {e}", "params_invalid")
                ok = False
        if not ok:
            return None
        out: dict[str, Any] = {}
        if size is not None:
            out["size"] = size
        if timeout is not None:
            out["timeout"] = _secs(timeout)
        if idle is not None:
            out["idle"] = _secs(idle)
        if moments:
            times = sorted({t for _, t in moments})
            wds = {w for w, _ in moments}
            if len(times) == 1 or len(wds) == 1:
                sched: dict[str, Any] = {"time": times[0] if len(times) == 1 else times}
                if None not in wds:
                    sched["weekdays"] = sorted({d for w in wds if w for d in w}, key=_SHORT.index)
                out["schedule"] = sched
            else:
                bad("daily_hour", "the rules name different hours on different weekdays; procsim's schedule is one "
                    "set of weekdays with one set of times")
                return None
        if not out:
            bad("firing_rules", "the firing rules start no batch", "params_invalid")
            return None
        return out

    # -- the flow

    def build(self) -> Converted:
        m = self.m
        P = self.params
        ext = m.process or {}
        doc: dict[str, Any] = {}
        doc["process"] = ext.get("process") or {"name": m.name, "timezone": "UTC", "start": self.start}
        calendars: dict[str, Any] = dict(ext.get("calendars") or {})
        roles: dict[str, Any] = dict(ext.get("roles") or {})
        arrivals: dict[str, Any] | None = ext.get("arrivals")
        role_of: dict[str, str] = {}
        durations: dict[str, dict[str, Any]] = {}
        probs = self._probabilities()
        batches = self._batching() if P is not None else {}
        events_dist: dict[str, dict[str, Any]] = {}
        if P is not None:
            cals = self._calendars(calendars)
            r, role_of, durations = self._resources(calendars, cals)
            roles.update(r)
            ad = P.data.get("arrival_time_distribution")
            if ad is not None:
                d = P.dist(ad, "arrival_time_distribution", "arrival_time_distribution", self.notes)
                if d is not None:
                    arrivals = {"interarrival": d}
                    ac = P.data.get("arrival_time_calendar")
                    if ac:
                        weekly, cal_notes = calendar_from_periods(ac)
                        self.notes += cal_notes
                        if weekly is not None:
                            calendars["arrival_calendar"] = {"weekly": weekly}
                            arrivals["calendar"] = "arrival_calendar"
            for ev in P.data.get("event_distribution", []):
                eid = ev.get("event_id", "")
                if eid not in m.nodes:
                    P.bad(eid, "event_distribution", f"'{eid}' is not an event of the model")
                    continue
                d = P.dist(ev, eid, f"event_distribution.{eid}", self.notes)
                if d is not None:
                    events_dist[eid] = d
            for k in sorted(P.data):
                if k in ("case_attributes", "prioritisation_rules", "branch_rules",
                         "event_attributes", "global_attributes", "multitask") and P.data[k]:
                    self.notes.append(f"parameters: '{k}' is not converted")
                elif k == "model_type" and P.data[k] != "CRISP":
                    self.notes.append(f"parameters: model_type {P.data[k]} (fuzzy calendars) is read as crisp")
            self.problems += P.problems
        if arrivals is None:
            arrivals = {"interarrival": {"kind": "exponential", "mean": "1h"}}
            self.notes.append("no arrival distribution: one case an hour on average (exponential gaps)")
        if calendars:
            doc["calendars"] = calendars
        if not roles:
            roles = {"performer": {"members": 1}}  # the language wants a role; automatic tasks use none
        doc["roles"] = roles
        doc["arrivals"] = arrivals
        for k in ("attributes",):
            if ext.get(k):
                doc[k] = ext[k]
        if m.process is None:
            self._or_joins()
        events: dict[str, Any] = {}
        acts: dict[str, Any] = {}
        gws: dict[str, Any] = {}
        waits: dict[str, Any] = {}
        starts = [n for n in m.nodes.values() if n.kind == "start"]
        if len(starts) != 1:
            at = starts[1] if len(starts) > 1 else None
            self.problems.append(Problem(self.fname, at.el.line if at else 1, at.el.col if at else 1,
                                         at.id if at else "", f"the process needs exactly one start event (it "
                                         f"has {len(starts)})", "bpmn_structure"))
        no_duration: list[str] = []
        tables = {"events": events, "activities": acts, "gateways": gws, "waits": waits}
        for n in m.nodes.values():
            key = self.keys[n.id]
            outs, ins = self.outs[n.id], self.ins[n.id]
            written = (n.ext or {}).get("spec")
            section = (n.ext or {}).get("section")
            if isinstance(written, dict) and section in tables:
                if _same_flow(written, [self.keys[f.dst] for f in outs]):
                    tables[section][key] = written  # procsim's own node, its flow unchanged: as it was written
                    continue
                # the flow was edited in a modeler: the node's own settings, the flow from the model
                self.notes.append(f"'{key}': its flows differ from procsim's export; they are taken from the model")
                if section == "waits" and n.kind == "task":
                    n.kind = "timer"
            x = {k: v for k, v in (written or {}).items() if k not in ("next", "to", "branches", "type")}
            if n.kind in ("start", "task", "timer") or (n.kind == "end" and outs):
                nxt = self._next(n, outs, gws, events)
            if n.kind == "start":
                events[key] = {"type": "start", "next": nxt, **x}
            elif n.kind == "end":
                events[key] = {"type": "end", **x}
                if outs:
                    self.bad(n, "an end event has an outgoing flow")
            elif n.kind == "task":
                a: dict[str, Any] = {}
                if n.name and n.name != key:
                    a["name"] = n.name
                a.update(x)
                if n.id in role_of:
                    a["role"] = role_of[n.id]
                if n.id in durations:
                    a["duration"] = durations[n.id]
                if n.id in batches:
                    a["batch"] = batches[n.id]
                if "duration" not in a:
                    a["duration"] = "0s"
                    no_duration.append(n.name or n.id)
                a["next"] = nxt
                acts[key] = a
            elif n.kind == "timer":
                w: dict[str, Any] = {}
                if n.name and n.name != key:
                    w["name"] = n.name
                w.update(x)
                if n.id in events_dist:
                    w["duration"] = events_dist[n.id]
                if "duration" not in w and "until" not in w:
                    w["duration"] = _iso_duration(n, self)
                w["next"] = nxt
                waits[key] = w
            else:
                self._gateway(n, key, outs, ins, probs, gws, x)
        if no_duration:
            self.notes.append(f"no duration for {len(no_duration)} task(s) ({', '.join(no_duration[:5])}"
                              f"{', ...' if len(no_duration) > 5 else ''}): 0s, automatic")
        if self.problems:
            raise SpecError(self.problems)
        if m.process is None:
            self._bound_loops(tables)
        order = ext.get("order") or {}
        for sec, table in tables.items():
            if table or sec in ("events", "activities"):
                # the sections in the order procsim wrote them (an activity's place decides nothing, but the
                # order of roles, nodes and branches is kept so the same seed gives the same log)
                rank = {k: i for i, k in enumerate(order.get(sec, []))}
                doc[sec] = dict(sorted(table.items(), key=lambda kv: rank.get(kv[0], len(rank))))
        for k, v in ext.items():
            if k not in doc and k not in ("events", "activities", "gateways", "waits", "order"):
                doc[k] = v
        origin = {self.keys[n.id]: (n.el.line, n.el.col, n.id) for n in m.nodes.values()}
        return Converted(_dump(doc, self.notes, self.fname), sorted(set(self.notes), key=self.notes.index),
                         len(acts), len(gws), origin)

    def _or_joins(self) -> None:
        """An inclusive join that closes a parallel split waits for every branch (each is always taken): it is a
        parallel join. One that closes an exclusive split sees exactly one branch come: it is an exclusive merge.
        Both rewrites give the BPMN semantics exactly (a join closes a split when the split dominates it and it
        post-dominates the split). An inclusive join that closes an inclusive split stays one (procsim's OR
        block); any other, BPMN's general OR join, is left to the loader, which refuses it at the gateway."""
        m = self.m
        g = nx.DiGraph()
        g.add_nodes_from(m.nodes)
        g.add_edges_from((f.src, f.dst) for f in m.flows)
        start = next((n.id for n in m.nodes.values() if n.kind == "start"), None)
        if start is None:
            return
        exit_ = "\0exit"
        rev = g.reverse(copy=True)
        rev.add_node(exit_)
        rev.add_edges_from((exit_, n) for n in g if g.out_degree(n) == 0)
        try:
            ipdom = nx.immediate_dominators(rev, exit_)
            idom = nx.immediate_dominators(g, start)
        except nx.NetworkXError:
            return
        for sid, s in m.nodes.items():
            if s.kind not in ("and", "xor") or g.out_degree(sid) < 2:
                continue
            jid = ipdom.get(sid)
            j = m.nodes.get(jid) if jid is not None else None
            if j is None or j.kind != "or" or g.in_degree(jid) < 2 or g.out_degree(jid) != 1:
                continue
            d = jid
            while d != sid and idom.get(d, d) != d:
                d = idom[d]
            if d != sid:
                continue  # something enters the block past the split
            j.kind = s.kind
            what = ("parallel", "parallel join") if s.kind == "and" else ("exclusive", "merge")
            self.notes.append(f"inclusive join '{j.name or j.id}' closes the {what[0]} split '{s.name or s.id}': "
                              f"it is a {what[1]} (the same behaviour)")

    def _bound_loops(self, tables: dict[str, dict[str, Any]]) -> None:
        """BPMN loops have no bound; procsim wants one on a branch of every cycle. Each way back (an edge to a node
        that dominates its source) gets a ``max`` on the xor branch that takes it, large enough that a case reaches
        the bound with probability below 1e-4 (at most MAX_LOOP_REPEATS). Cycles this does not cover (an
        irreducible flow) are left to the loader, which names them."""
        g = nx.DiGraph()
        for sec in ("events", "activities", "waits"):
            for k, v in tables[sec].items():
                if v.get("next") is not None:
                    g.add_edge(k, v["next"])
        for k, v in tables["gateways"].items():
            for t in ([v["next"]] if v.get("next") else []) + list(v.get("to") or []):
                g.add_edge(k, t)
            for b in v.get("branches") or []:
                g.add_edge(k, b["to"])
        start = next((k for k, e in tables["events"].items() if e.get("type") == "start"), None)
        if start is None or start not in g:
            return
        idom = nx.immediate_dominators(g, start)

        def dominates(a: str, b: str) -> bool:
            while b != a and idom.get(b, b) != b:
                b = idom[b]
            return a == b

        preds = {n: list(g.predecessors(n)) for n in g}

        def bound(src: str, dst: str) -> bool:
            gw = tables["gateways"].get(src, {})
            if gw.get("type") != "xor" or not gw.get("branches"):
                return False
            free = [b for b in gw["branches"] if b.get("max") is None and b.get("when") is None]
            b = next((b for b in free if b["to"] == dst), None)
            if b is None or len(free) < 2:
                return False  # the gateway's last free branch: a case must always be able to go on
            p = float(b.get("probability") or 0.0)
            b["max"] = MAX_LOOP_REPEATS if p >= 1 else max(3, min(MAX_LOOP_REPEATS, math.ceil(
                math.log(1e-4) / math.log(p)) if 0 < p < 1 else 3))
            g.remove_edge(src, dst)
            self.notes.append(f"loop back from '{src}' to '{dst}' (probability {p:g}) bounded at {b['max']} times "
                              "per case")
            return True

        back = [(u, v) for u, v in sorted(g.edges) if dominates(v, u)]
        def prob(u: str, v: str) -> float:
            return max((float(b.get("probability") or 0) for b in tables["gateways"].get(u, {}).get("branches") or []
                        if b["to"] == v), default=0.0)

        for u, v in sorted(back, key=lambda e: -prob(*e)):  # ways back leaving an xor split, the likeliest first
            bound(u, v)
        for u, v in back:  # ways back at the end of a straight run of nodes: the branch into the run
            if not g.has_edge(u, v):
                continue
            src, dst, seen = u, v, set()
            while src not in tables["gateways"] or not tables["gateways"][src].get("branches"):
                if len(preds.get(src, [])) != 1 or src in seen:
                    break
                seen.add(src)
                src, dst = preds[src][0], src
            bound(src, dst)
        while True:  # what is left: any xor branch of the cycle, the likeliest first
            try:
                cycle = nx.find_cycle(g)
            except nx.NetworkXNoCycle:
                return
            options = sorted(((-float(b.get("probability") or 0), u, v) for u, v in cycle
                              for b in tables["gateways"].get(u, {}).get("branches") or [] if b["to"] == v))
            if not any(bound(u, v) for _, u, v in options):
                g.remove_edge(*cycle[-1][:2])  # nothing to bound here: the loader names this cycle

    def _next(self, n: _Node, outs: list[_Flow], gws: dict[str, Any], events: dict[str, Any]) -> str:
        """The one node after ``n``: several outgoing flows are an implicit AND split; none, an implicit end."""
        if len(outs) == 1:
            return self.keys[outs[0].dst]
        if not outs:
            key = self.fresh(self.keys[n.id] + "_end")
            events[key] = {"type": "end"}
            self.notes.append(f"'{n.name or n.id}' has no outgoing flow: it ends the case (an implicit end event)")
            return key
        key = self.fresh(self.keys[n.id] + "_split")
        gws[key] = {"type": "and", "to": [self.keys[f.dst] for f in outs]}
        return key

    def _gateway(self, n: _Node, key: str, outs: list[_Flow], ins: list[_Flow], probs: dict[str, float],
                 gws: dict[str, Any], x: dict[str, Any]) -> None:
        if not outs:
            self.bad(n, "a gateway without outgoing flows")
            return
        kind = n.kind
        if len(outs) == 1:
            gws[key] = {"type": kind, "next": self.keys[outs[0].dst], **x}
            return
        if len(ins) > 1 and kind != "xor":  # a join and a split in one: the join first
            split = self.fresh(key + "_split")
            gws[key] = {"type": kind, "next": split, **x}
            key, x = split, {}
        if kind == "and":
            gws[key] = {"type": "and", "to": [self.keys[f.dst] for f in outs], **x}
        elif kind == "or":
            gws[key] = {"type": "or", "branches": self._or_branches(n, outs, probs), **x}
        else:
            gws[key] = {"type": "xor", "branches": self._branches(n, outs, probs), **x}

    def _or_branches(self, n: _Node, outs: list[_Flow], probs: dict[str, float]) -> list[dict[str, Any]]:
        """An inclusive split's branches: each flow's probability is its own chance (Prosimos's reading)."""
        given = [probs.get(f.id) for f in outs]
        if any(p is None for p in given):
            self.notes.append(f"inclusive gateway '{n.name or n.id}': no probability for some branches; 0.5 each")
        return [{"to": self.keys[f.dst], "probability": 0.5 if p is None else p} for f, p in zip(outs, given)]

    def _branches(self, n: _Node, outs: list[_Flow], probs: dict[str, float]) -> list[dict[str, Any]]:
        given = [probs.get(f.id) for f in outs]
        if any(p is None for p in given):
            if any(p is not None for p in given) or self.params is not None:
                self.notes.append(f"gateway '{n.name or n.id}': a probability is missing for some branches; "
                                  "the missing share is split equally among them")
            known = sum(p for p in given if p is not None)
            miss = [i for i, p in enumerate(given) if p is None]
            rest = max(0.0, 1 - known) / len(miss)
            given = [p if p is not None else rest for p in given]
        total = sum(p for p in given if p is not None)
        if total <= 0:
            given, total = [1.0] * len(outs), float(len(outs))
        if abs(total - 1) > 1e-9:
            self.notes.append(f"gateway '{n.name or n.id}': probabilities sum to {total:g}; normalised")
        vals = [round((p or 0) / total, 12) for p in given]
        vals[-1] = round(1 - sum(vals[:-1]), 12)
        return [{"to": self.keys[f.dst], "probability": v} for f, v in zip(outs, vals)]


def _same_flow(written: dict[str, Any], targets: list[str]) -> bool:
    """Whether a node's spec as procsim wrote it names exactly the targets of its flows in the model."""
    named = ([written["next"]] if written.get("next") is not None else []) + list(written.get("to") or []) + [
        b.get("to") for b in written.get("branches") or [] if isinstance(b, dict)]
    return set(named) == set(targets) and (len(targets) == len(set(targets)))


def _iso_duration(n: _Node, b: _Builder) -> str:
    """A timer's ``timeDuration`` (ISO 8601 ``P1DT2H30M``) as a procsim duration."""
    td = None
    for c in n.el.children:
        if c.tag == "timerEventDefinition":
            td = c.find("timeDuration")
    text = td.text.strip() if td is not None else ""
    m = re.fullmatch(r"P(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?"
                     r"(?:(\d+(?:\.\d+)?)S)?)?", text)
    if not text or m is None or text in ("P", "PT"):
        b.notes.append(f"timer '{n.name or n.id}': no duration (no event_distribution, no ISO 8601 timeDuration); 0s")
        return "0s"
    parts = [f"{v}{u}" for v, u in zip(m.groups(), ("w", "d", "h", "m", "s")) if v]
    return " ".join(parts)


def _dump(doc: dict[str, Any], notes: list[str], source: str) -> str:
    from io import StringIO

    from ruamel.yaml import YAML

    yaml = YAML(typ="rt", pure=True)  # keeps the order written here: process first, a node's name first
    yaml.default_flow_style = None
    yaml.width = 4096  # a long member list stays on one line instead of folding names
    buf = StringIO()
    yaml.dump(doc, buf)
    head = [f"# Converted by 'procsim convert' from {Path(source).name}."]
    if notes:
        head.append("# Not carried over exactly:")
        head += [f"#   - {x}" for x in dict.fromkeys(notes)]
    return "\n".join(head) + "\n" + buf.getvalue()


_FLOW_CODES = ("unbalanced_and", "unbalanced_or", "unbounded_loop", "dead_end", "unreachable", "end_events")


def _at_model(p: Problem, c: Converted, fname: str) -> Problem:
    key = p.loc.split(".")[1] if p.loc.count(".") >= 1 else ""
    line, col, eid = c.origin.get(key, (1, 1, key))
    msg = p.msg.replace(f"'{key}'", f"'{eid}'") if key else p.msg
    if p.code == "unbalanced_or":
        msg += (" (procsim's OR join waits for the branches its own OR split started; an inclusive join that closes "
                "no single split, BPMN's general OR join that waits for every branch that can still reach it, is "
                "not supported)")
    return Problem(fname, line, col, eid, f"procsim cannot run this flow: {msg}", "bpmn_unsupported")


def convert_to_dir(bpmn: Path, out: Path, params: Path | None = None, start: str = DEFAULT_START,
                   root: Path | None = None) -> tuple[Path, Converted]:
    """Convert ``bpmn`` (and ``params``), check that the result loads (rule files and templates inside ``root``,
    default the output's project folder), write ``out/process.yaml``."""
    from procsim.spec import load_process

    def read(p: Path, limit: int) -> bytes:
        try:
            if p.stat().st_size > limit:
                raise SpecError([Problem(str(p), 1, 1, "", f"the file has {p.stat().st_size:,} bytes; at most "
                                         f"{limit:,} are read", "bpmn_syntax")])
            return p.read_bytes()
        except OSError as e:
            raise ProcsimError(f"{p}: cannot read: {e.strerror}") from None

    data = read(bpmn, BPMN_MAX_BYTES)
    ptext = None
    if params is not None:
        raw = read(params, BPMN_MAX_BYTES)
        try:
            ptext = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise SpecError([Problem(str(params), 1, e.start + 1, "", "not UTF-8", "params_invalid")]) from None
    c = convert(data, str(bpmn), ptext, str(params) if params else "", start)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ProcsimError(f"{out}: cannot create the folder: {e.strerror}") from None
    target = out / "process.yaml"
    # an exclusive, unique temporary (never through a planted link), loaded before it takes the final name
    tmp = out / f".process.yaml.{os.getpid()}-{secrets.token_hex(4)}.part"
    try:
        with open(tmp, "x", encoding="utf-8") as f:
            f.write(c.yaml)
        try:
            load_process(tmp, root)
        except SpecError as e:
            # the flow procsim cannot run (a parallel or inclusive join that closes no block, a loop without an
            # xor branch to bound): said at the model's element, the model's problem
            flow = [p for p in e.problems if p.code in _FLOW_CODES]
            if flow and len(flow) == len(e.problems):
                tmp.unlink(missing_ok=True)
                raise SpecError([_at_model(p, c, str(bpmn)) for p in flow]) from None
            raise ProcsimError(f"convert made a process file that does not load (kept as {tmp}):\n{e}") from None
        tmp.replace(target)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise ProcsimError(f"{target}: cannot write: {e.strerror}") from None
    return target, c
