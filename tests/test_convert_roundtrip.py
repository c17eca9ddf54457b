"""procsim -> BPMN (``graph --format bpmn``) -> ``convert`` -> procsim: the same simulation, byte for byte, for
the bundled examples (their flow travels as BPMN, their parameters in procsim's extension elements); an edited
flow is taken from the model."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from procsim.bpmn import to_bpmn
from procsim.convert import convert_to_dir
from procsim.run import run
from procsim.spec import load_process

from conftest import REPO

EXAMPLES = ["procure_to_pay", "order_to_cash", "loan_application", "procure_to_pay_exceptions"]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("project")
    for sub in ("processes", "rules", "templates"):
        shutil.copytree(REPO / sub, d / sub)
    return d


@pytest.mark.parametrize("name", EXAMPLES)
def test_round_trip_gives_the_same_log(project: Path, name: str) -> None:
    original = project / "processes" / f"{name}.yaml"
    bpmn = project / f"{name}.bpmn"
    bpmn.write_text(to_bpmn(load_process(original)), encoding="utf-8")
    path, _ = convert_to_dir(bpmn, project / f"imported_{name}", root=project)
    a, b = project / f"a_{name}", project / f"b_{name}"
    run(original, a, seed=5, cases=150, formats=("csv",))
    run(path, b, seed=5, cases=150, formats=("csv",), root=project)
    for f in ("events.csv", "cases.csv"):
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
    # the flow came from the BPMN: the converted spec has the same graph
    g1, g2 = load_process(original).graph, load_process(path, project).graph
    assert sorted(g1.edges) == sorted(g2.edges)


def test_an_edited_flow_is_taken_from_the_model(project: Path) -> None:
    original = project / "processes" / "order_to_cash.yaml"
    xml = to_bpmn(load_process(original))
    loaded = load_process(original)
    # insert a task in the "modeler": activity -> New check -> what followed it
    act = next(n for n, a in loaded.spec.activities.items() if loaded.graph.nodes[a.next]["kind"] == "activity")
    nxt = loaded.spec.activities[act].next
    xml, k = re.subn(f'sourceRef="n_{act}" targetRef="n_{nxt}" />',
                     f'sourceRef="n_{act}" targetRef="new_check" />'
                     f'<bpmn:task id="new_check" name="New check" />'
                     f'<bpmn:sequenceFlow id="new_flow" sourceRef="new_check" targetRef="n_{nxt}" />', xml)
    assert k == 1
    bpmn = project / "edited.bpmn"
    bpmn.write_text(xml, encoding="utf-8")
    path, c = convert_to_dir(bpmn, project / "imported_edited", root=project)
    spec = load_process(path, project).spec
    assert spec.activities[act].next == "new_check" and spec.activities["new_check"].next == nxt
    assert spec.activities[act].duration == loaded.spec.activities[act].duration  # its own settings kept
    assert any(f"'{act}'" in n for n in c.notes)
