"""``procsim graph --format bpmn``: BPMN 2.0 with a diagram, read back by a real consumer (pm4py, tests only)."""

from __future__ import annotations

import re

import subprocess
import sys
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from procsim.bpmn import to_bpmn
from procsim.eventlog import read_log
from procsim.run import run
from procsim.spec import load_process

from test_pnml import flow_near_misses
from conftest import REPO

NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
      "dc": "http://www.omg.org/spec/DD/20100524/DC", "di": "http://www.omg.org/spec/DD/20100524/DI"}
EXAMPLES = ["procure_to_pay", "order_to_cash", "loan_application"]


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_element_has_a_shape_and_every_flow_an_edge(name: str) -> None:
    loaded = load_process(REPO / "processes" / f"{name}.yaml")
    root = ET.fromstring(to_bpmn(loaded))
    proc = root.find("bpmn:process", NS)
    assert proc is not None
    nodes = [e for e in proc if not e.tag.endswith(("sequenceFlow", "extensionElements"))]
    flows = proc.findall("bpmn:sequenceFlow", NS)
    ids = [e.get("id") for e in proc if e.get("id")]
    assert len(ids) == len(set(ids))
    g = loaded.graph
    assert len(nodes) == g.number_of_nodes()
    assert len(flows) == sum(1 for *_, d in g.edges(data=True) if not d.get("escalation"))
    shapes = {s.get("bpmnElement"): s for s in root.iter(f"{{{NS['bpmndi']}}}BPMNShape")}
    edges = {s.get("bpmnElement"): s for s in root.iter(f"{{{NS['bpmndi']}}}BPMNEdge")}
    assert set(shapes) == {e.get("id") for e in nodes} and set(edges) == {f.get("id") for f in flows}
    boxes = [(float(b.get("x")), float(b.get("y"))) for b in root.iter(f"{{{NS['dc']}}}Bounds")]
    assert len(set(boxes)) == len(boxes)  # no two shapes on top of each other
    for e in edges.values():
        assert len(e.findall("di:waypoint", NS)) >= 2
    # the branch data travels on the flows
    named = " | ".join(f.get("name") or "" for f in flows)
    for gw in loaded.spec.gateways.values():
        for b in gw.branches or []:
            if b.probability is not None:
                assert f"p={b.probability:g}" in named
            if b.max is not None:
                assert f"max {b.max}" in named


@pytest.mark.parametrize("name", EXAMPLES)
def test_pm4py_reads_it_and_the_simulated_log_fits(name: str, tmp_path: Path) -> None:
    pm4py = pytest.importorskip("pm4py")
    out = tmp_path / "p.bpmn"
    r = subprocess.run([sys.executable, "-m", "procsim", "graph", str(REPO / "processes" / f"{name}.yaml"),
                        "--format", "bpmn", "-o", str(out)], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        text = out.read_text(encoding="utf-8")
        loaded = load_process(REPO / "processes" / f"{name}.yaml")
        unlogged = [w for w in loaded.spec.waits.values() if not w.log]
        assert text.count("<bpmn:intermediateCatchEvent ") == text.count("<bpmn:timerEventDefinition ") == len(unlogged)
        # pm4py's BPMN -> Petri net conversion keeps tasks, start/end events and gateways and drops intermediate
        # events (with their flows); an unlogged wait is a timer event that is silent in the log, so for the
        # replay it becomes what pm4py makes silent: a pass-through gateway
        text = re.sub(r"<bpmn:timerEventDefinition [^>]*/>\s*", "", text)
        text = text.replace("bpmn:intermediateCatchEvent", "bpmn:exclusiveGateway")
        out.write_text(text, encoding="utf-8")
        net, im, fm = pm4py.convert_to_petri_net(pm4py.read_bpmn(str(out)))
        run(REPO / "processes" / f"{name}.yaml", tmp_path / "run", seed=3, cases=60)
        df = read_log(tmp_path / "run").df.rename(columns={"case_id": "case:concept:name", "activity": "concept:name",
                                                            "end_time": "time:timestamp"})
        df = df.sort_values(["case:concept:name", "start_time", "time:timestamp"], kind="stable")
        # near misses that change the flow (legitimate rework, an onboarding) are outside the model on purpose
        df = df[~df["case:concept:name"].isin(flow_near_misses(loaded, tmp_path / "run"))]
        fit = pm4py.fitness_token_based_replay(df, net, im, fm, show_progress_bar=False) \
            if "show_progress_bar" in pm4py.fitness_token_based_replay.__code__.co_varnames \
            else pm4py.fitness_token_based_replay(df, net, im, fm)
    assert fit["log_fitness"] == pytest.approx(1.0)
