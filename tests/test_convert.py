"""``procsim convert``: BPMN 2.0 (+ Prosimos/Simod parameters) to a process that loads and runs.

Distributions are compared by their moments with Prosimos's own reading of the parameters (pix-framework's
DurationDistribution, as Prosimos 2.1.0 uses it); a purchasing model in Prosimos's format (tests/data/purchasing,
see its PROVENANCE.md) is converted and run; bad models give every problem at once with positions.
"""

from __future__ import annotations

import math
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import TypeAdapter

from procsim.convert import convert, convert_to_dir, prosimos_distribution
from procsim.errors import SpecError
from procsim.run import run
from procsim.spec import load_process
from procsim.spec.models import DurationDistribution

from conftest import REPO

PURCHASING = REPO / "tests" / "data" / "purchasing"
_DIST = TypeAdapter(DurationDistribution)


def _moments(d: dict, n: int = 200_000) -> tuple[float, float]:
    """Mean and variance of procsim's draws from the distribution."""
    draw = _DIST.validate_python(d).sampler()
    rng = np.random.default_rng(7)
    x = np.array([draw(rng) for _ in range(n)])
    return float(x.mean()), float(x.var())


# (Prosimos name, params, its mean, its variance): pix-framework's reading of each
CASES = [
    ("fix", [120.0], 120.0, 0.0),
    ("norm", [3600.0, 600.0, 0.0, 36000.0], 3600.0, 600.0 ** 2),
    ("expon", [900.0, 0.0, 1e9], 900.0, 900.0 ** 2),
    ("expon", [900.0, 300.0, 1e9], 900.0, 600.0 ** 2),  # min + exponential of mean - min
    ("uniform", [60.0, 180.0], 120.0, 120.0 ** 2 / 12),
    ("lognorm", [1000.0, 250_000.0, 0.0, 1e9], 1000.0, 250_000.0),
    ("gamma", [1000.0, 250_000.0, 0.0, 1e9], 1000.0, 250_000.0),
    ("triang", [0.25, 100.0, 400.0], (100 + 200 + 500) / 3,
     (100 ** 2 + 200 ** 2 + 500 ** 2 - 100 * 200 - 100 * 500 - 200 * 500) / 18),
]


@pytest.mark.parametrize("name,params,mean,var", CASES, ids=[f"{c[0]}{i}" for i, c in enumerate(CASES)])
def test_distribution_has_prosimos_mean_and_variance(name, params, mean, var) -> None:
    d, notes = prosimos_distribution(name, params)
    assert notes == [] or name == "expon"
    m, v = _moments(d)
    assert m == pytest.approx(mean, rel=0.01, abs=1e-9)
    assert v == pytest.approx(var, rel=0.03, abs=1e-9)


def test_distribution_parameters_are_exact() -> None:
    assert prosimos_distribution("norm", [17396, 1739.6, 0, 52188])[0] == {"kind": "normal", "mean": "17396s",
                                                                          "sd": "1739.6s"}
    assert prosimos_distribution("gamma", [100, 400, 0, 1e6])[0] == {"kind": "gamma", "mean": "100s", "sd": "20s"}
    assert prosimos_distribution("lognorm", [100, 400, 0, 1e6])[0] == {"kind": "lognormal", "mean": "100s",
                                                                       "sd": "20s"}
    assert prosimos_distribution("expon", [60, 0, 1e6])[0] == {"kind": "exponential", "mean": "60s"}


def test_empty_bounds_use_prosimos_fallback() -> None:
    # arrivals like those of Prosimos's padua example: expon with max 0 below min 180; Prosimos fills with
    # min + (max - min) / 2 = 90 s
    d, notes = prosimos_distribution("expon", [1800, 180, 0, 5400])
    assert d == {"kind": "fixed", "value": "90s"} and "fallback" in notes[0]


def test_heavy_truncation_is_reported() -> None:
    _, notes = prosimos_distribution("norm", [100, 100, 0, 150])
    assert notes and "redraws" in notes[0]


def test_the_purchasing_model_converts_loads_and_runs(tmp_path: Path) -> None:
    # a model in the shape Prosimos and Simod write (tests/data/purchasing, written for procsim)
    path, c = convert_to_dir(PURCHASING / "process_model.bpmn", tmp_path / "imp",
                             PURCHASING / "simulation_params.json")
    spec = load_process(path).spec
    assert len(spec.activities) == 11 and c.activities == 11
    roles = {k: r.members for k, r in spec.roles.items()}
    assert sorted(len(m) for m in roles.values()) == [1, 1, 2, 2, 6]
    assert spec.roles["buyer"].calendar == "office" and spec.calendars["office"].weekly is not None
    assert spec.activities["request_quotes"].duration.mean == 3600
    assert spec.waits["wait_for_delivery"].duration.mean == 86400
    assert sorted(b.probability for b in spec.gateways["catalogue_item"].branches) == [0.4, 0.6]
    assert spec.gateways["checks_needed"].type == "or" and spec.gateways["checks_done"].type == "or"
    pay = spec.activities["pay_invoice"].batch
    assert pay is not None and (pay.size, pay.work, pay.scale) == (5, "sequential", {1: 1.0, 5: 0.6})
    out = tmp_path / "sim"
    run(path, out, seed=1, cases=3000, formats=("csv",))
    ev = pd.read_csv(out / "events.csv", keep_default_na=False)
    done = ev[ev.lifecycle == "complete"]
    share = done.activity.value_counts() / done.case_id.nunique()
    # branch probabilities of the parameters, within sampling noise of 3,000 cases
    assert share["Order from catalogue"] == pytest.approx(0.6, abs=0.03)
    assert share["Clarify with supplier"] == pytest.approx(0.15, abs=0.02)
    # OR split: quality by its own 0.7, budget by 0.3, and when neither is drawn (0.21) one by the probabilities
    assert share["Check quality"] == pytest.approx(0.7 + 0.21 * 0.7, abs=0.03)
    assert share["Check budget"] == pytest.approx(0.3 + 0.21 * 0.3, abs=0.03)
    assert share["Pay invoice"] == 1.0
    paid = ev[(ev.activity == "Pay invoice") & (ev.lifecycle == "start")]
    assert (paid.groupby("batch").size() == 5).all()  # 3,000 cases: 600 batches of five


BPMN_HEAD = '<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p" name="P">'
BPMN_TAIL = "</process></definitions>"


def _flows(*pairs: str) -> str:
    return "".join(f'<sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}"/>'
                   for i, (a, b) in enumerate(p.split(">") for p in pairs))


def test_unsupported_elements_are_all_named_with_positions(tmp_path: Path) -> None:
    text = ('<?xml version="1.0"?>\n<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL">\n'
            '<process id="p">\n<startEvent id="s"/>\n<callActivity id="c"/>\n'
            '<intermediateCatchEvent id="m"><messageEventDefinition/></intermediateCatchEvent>\n'
            '<task id="t"><multiInstanceLoopCharacteristics/></task>\n'
            '<sequenceFlow id="f" sourceRef="s" targetRef="t"/>\n</process>\n</definitions>\n')
    with pytest.raises(SpecError) as e:
        convert(text.encode(), "m.bpmn")
    got = [(p.line, p.loc, p.code) for p in e.value.problems]
    assert got == [(5, "c", "bpmn_unsupported"), (6, "m", "bpmn_unsupported"), (7, "t", "bpmn_unsupported")]
    assert str(e.value).startswith("m.bpmn:5:1: c: 'callActivity' is not supported")


@pytest.mark.parametrize("doc", [
    '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><definitions>&b;</definitions>',
    '<?xml version="1.0"?><!DOCTYPE d SYSTEM "file:///etc/passwd"><definitions/>',
    '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><definitions>&x;</definitions>',
])
def test_doctype_and_entities_are_refused(doc: str) -> None:
    with pytest.raises(SpecError) as e:
        convert(doc.encode(), "m.bpmn")
    assert e.value.problems[0].code == "bpmn_syntax" and "DOCTYPE" in e.value.problems[0].msg


def test_malformed_xml_is_positioned() -> None:
    with pytest.raises(SpecError) as e:
        convert(b"<definitions>\n  <process>\n</definitions>", "m.bpmn")
    p = e.value.problems[0]
    assert (p.line, p.code) == (3, "bpmn_syntax") and "not well-formed" in p.msg


def test_subprocess_timer_and_implicit_split(tmp_path: Path) -> None:
    text = (BPMN_HEAD +
            '<startEvent id="s"/><task id="a" name="A"/>'
            '<subProcess id="sp" name="Sub"><startEvent id="ss"/><task id="b" name="B"/><endEvent id="se"/>'
            '<sequenceFlow id="g1" sourceRef="ss" targetRef="b"/><sequenceFlow id="g2" sourceRef="b" targetRef="se"/>'
            '</subProcess>'
            '<intermediateCatchEvent id="w" name="Cool off"><timerEventDefinition><timeDuration>PT2H30M'
            '</timeDuration></timerEventDefinition></intermediateCatchEvent>'
            '<task id="c" name="C"/><task id="d" name="D"/><parallelGateway id="j"/><endEvent id="e"/>'
            + _flows("s>a", "a>sp", "sp>w", "w>c", "w>d", "c>j", "d>j", "j>e") + BPMN_TAIL)
    path, c = convert_to_dir_text(text, tmp_path)
    spec = load_process(path).spec
    assert spec.activities["a"].next == "sub_b" or spec.activities["a"].next == "b"
    assert spec.waits["cool_off"].duration.value == 2.5 * 3600
    nxt = spec.waits["cool_off"].next
    assert spec.gateways[nxt].to == ["c", "d"]  # two flows out of the timer: an AND split
    out = tmp_path / "sim"
    run(path, out, seed=2, cases=20, formats=("csv",))
    ev = pd.read_csv(out / "events.csv")
    assert Counter(ev[ev.lifecycle == "complete"].activity) == {"A": 20, "B": 20, "C": 20, "D": 20}


def convert_to_dir_text(text: str, tmp_path: Path, params: str | None = None) -> tuple[Path, object]:
    (tmp_path / "m.bpmn").write_text(text, encoding="utf-8")
    p = None
    if params is not None:
        p = tmp_path / "p.json"
        p.write_text(params, encoding="utf-8")
    return convert_to_dir(tmp_path / "m.bpmn", tmp_path / "imp", p)


def test_cli_exit_codes(tmp_path: Path) -> None:
    bad = tmp_path / "bad.bpmn"
    bad.write_text(BPMN_HEAD + '<startEvent id="s"/><complexGateway id="x"/>' + _flows("s>x") + BPMN_TAIL)
    r = subprocess.run([sys.executable, "-m", "procsim", "convert", str(bad), "-o", str(tmp_path / "o")],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "bad.bpmn:1:" in r.stderr and "x: 'complexGateway' is not supported" in r.stderr
    assert not (tmp_path / "o" / "process.yaml").exists()


def test_inclusive_gateways_become_or_gateways(tmp_path: Path) -> None:
    text = (BPMN_HEAD + '<startEvent id="s"/><inclusiveGateway id="split"/><task id="a" name="A"/>'
            '<task id="b" name="B"/><inclusiveGateway id="join"/><task id="c" name="C"/><endEvent id="e"/>'
            '<sequenceFlow id="fa" sourceRef="split" targetRef="a"/><sequenceFlow id="fb" sourceRef="split" '
            'targetRef="b"/>' + _flows("s>split", "a>join", "b>join", "join>c", "c>e") + BPMN_TAIL)
    params = ('{"gateway_branching_probabilities": [{"gateway_id": "split", "probabilities": '
              '[{"path_id": "fa", "value": 0.9}, {"path_id": "fb", "value": 0.4}]}]}')
    path, _ = convert_to_dir_text(text, tmp_path, params)
    spec = load_process(path).spec
    g = spec.gateways["split"]
    assert g.type == "or" and [(b.to, b.probability) for b in g.branches] == [("a", 0.9), ("b", 0.4)]
    assert spec.gateways["join"].type == "or" and spec.gateways["join"].next == "c"
    out = tmp_path / "sim"
    run(path, out, seed=4, cases=2000, formats=("csv",))
    ev = pd.read_csv(out / "events.csv")
    n = Counter(ev[ev.lifecycle == "complete"].activity)
    assert n["C"] == 2000
    # each branch by its own chance; none drawn (0.1 x 0.6): one by the probabilities
    assert n["A"] / 2000 == pytest.approx(0.9 + 0.06 * 0.9 / 1.3, abs=0.02)
    assert n["B"] / 2000 == pytest.approx(0.4 + 0.06 * 0.4 / 1.3, abs=0.025)


SIMOD = REPO / "tests" / "data" / "simod_bpic2012"


def test_a_model_simod_discovered_converts_and_runs(tmp_path: Path) -> None:
    if not SIMOD.exists():
        pytest.skip("the vendored Simod output is absent")
    path, c = convert_to_dir(SIMOD / "bpic2012_train.bpmn", tmp_path / "imp", SIMOD / "bpic2012_train.json")
    spec = load_process(path).spec
    import xml.etree.ElementTree as ET

    root = ET.parse(SIMOD / "bpic2012_train.bpmn").getroot()
    tasks = {t.get("name") for t in root.iter("{http://www.omg.org/spec/BPMN/20100524/MODEL}task")}
    assert {a.name or k for k, a in spec.activities.items()} == tasks
    # split-miner loops have no bound: each got one on the branch that goes back
    bounded = [b for g in spec.gateways.values() for b in g.branches or [] if b.max is not None]
    assert bounded and sum("bounded at" in n for n in c.notes) == len(bounded)
    # each task's duration is Simod's fitted distribution, mapped with the same mean and variance
    import json

    params = json.loads((SIMOD / "bpic2012_train.json").read_text())
    names = {t.get("id"): t.get("name") for t in root.iter("{http://www.omg.org/spec/BPMN/20100524/MODEL}task")}
    by_name = {a.name or k: a for k, a in spec.activities.items()}
    checked = 0
    for tr in params["task_resource_distribution"]:
        r = tr["resources"][0]
        if all(x["distribution_name"] == r["distribution_name"] and x["distribution_params"] ==
               r["distribution_params"] for x in tr["resources"]):
            want, _ = prosimos_distribution(r["distribution_name"], [v["value"] for v in r["distribution_params"]])
            got = _DIST.validate_python(want)
            assert by_name[names[tr["task_id"]]].duration == got
            checked += 1
    assert checked >= 10
    run(path, tmp_path / "sim", seed=1, cases=200, formats=("activities",))
    acts = pd.read_csv(tmp_path / "sim" / "activities.csv")
    assert acts.case_id.nunique() == 200 and set(acts.activity) <= tasks


def test_a_parallel_join_that_closes_no_block_is_named_in_the_model(tmp_path: Path) -> None:
    # a -> AND split (b, c); b -> end; c -> AND join <- ... : the join closes no block
    text = (BPMN_HEAD + '<startEvent id="s"/><parallelGateway id="ps"/><task id="b" name="B"/><task id="c" name="C"/>'
            '<exclusiveGateway id="x"/><parallelGateway id="pj"/><endEvent id="e"/><endEvent id="e2"/>'
            + _flows("s>ps", "ps>b", "ps>c", "b>x", "x>pj", "x>e2", "c>pj", "pj>e") + BPMN_TAIL)
    with pytest.raises(SpecError) as e:
        convert_to_dir_text(text, tmp_path)
    assert {p.code for p in e.value.problems} == {"bpmn_unsupported"}
    assert any(p.loc in ("ps", "pj") and "procsim cannot run this flow" in p.msg for p in e.value.problems)
    assert not (tmp_path / "imp" / "process.yaml").exists()


def _or_join_model(split: str) -> str:
    return (BPMN_HEAD + f'<startEvent id="s"/><{split} id="split"/><task id="a" name="A"/><task id="b" name="B"/>'
            '<inclusiveGateway id="join"/><task id="c" name="C"/><endEvent id="e"/>'
            + _flows("s>split", "split>a", "split>b", "a>join", "b>join", "join>c", "c>e") + BPMN_TAIL)


@pytest.mark.parametrize("split, kind", [("parallelGateway", "and"), ("exclusiveGateway", "xor")])
def test_an_inclusive_join_closing_a_parallel_or_exclusive_split_takes_its_kind(split, kind, tmp_path: Path) -> None:
    # BPMN's OR join waits for every branch that can still reach it: after an AND split both always come (an AND
    # join), after an XOR split exactly one does (a merge); the rewrite is exact
    path, c = convert_to_dir_text(_or_join_model(split), tmp_path)
    spec = load_process(path).spec
    assert spec.gateways["join"].type == kind and spec.gateways["join"].next == "c"
    assert any("inclusive join 'join' closes the" in n for n in c.notes)  # type: ignore[attr-defined]
    run(path, tmp_path / "sim", seed=2, cases=300, formats=("csv",))
    ev = pd.read_csv(tmp_path / "sim" / "events.csv")
    n = Counter(ev[ev.lifecycle == "complete"].activity)
    assert n["C"] == 300 and n["A"] + n["B"] == (600 if kind == "and" else 300)


def test_a_general_or_join_is_refused_at_the_gateway_saying_why(tmp_path: Path) -> None:
    # an OR split whose branch b may leave for its own end: the OR join after a and b closes no block, so BPMN's
    # join would have to know whether b's token can still come; procsim refuses it at the model's gateway
    text = ('<?xml version="1.0"?>\n' + BPMN_HEAD + '\n<startEvent id="s"/>\n<inclusiveGateway id="split"/>\n'
            '<task id="a" name="A"/>\n<task id="b" name="B"/>\n<exclusiveGateway id="x"/>\n'
            '<inclusiveGateway id="join"/>\n<endEvent id="e"/>\n<endEvent id="e2"/>\n'
            + _flows("s>split", "split>a", "split>b", "b>x", "x>join", "x>e2", "a>join", "join>e") + BPMN_TAIL)
    with pytest.raises(SpecError) as e:
        convert_to_dir_text(text, tmp_path)
    probs = {p.loc: p for p in e.value.problems}
    assert set(probs) <= {"split", "join"} and "join" in probs
    j = probs["join"]
    assert (j.code, j.line, j.col) == ("bpmn_unsupported", 8, 1)
    assert "or join 'join' does not close an or split" in j.msg
    assert "general OR join that waits for every branch that can still reach it, is not supported" in j.msg
    assert not (tmp_path / "imp" / "process.yaml").exists()
