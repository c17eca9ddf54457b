"""PNML export: pm4py reads a sound workflow net, and token replay of simulated logs fits every case.

pm4py is AGPL and a test extra only, so it is imported inside the tests (it prints a banner on import).
Replay runs on the ``complete`` events: the net has one transition per activity (see procsim/pnml.py).
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from collections import deque
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from conftest import REPO
from procsim.pnml import WorkflowNet, process_net, process_to_pnml
from procsim.run import run
from procsim.spec import load_process

EXAMPLES = ["procure_to_pay", "order_to_cash", "loan_application"]


def pm4py() -> Any:
    return pytest.importorskip("pm4py")


def read_net(text: str, tmp: Path) -> tuple[Any, Any, Any]:
    path = tmp / "model.pnml"
    path.write_text(text, encoding="utf-8")
    return pm4py().read_pnml(str(path))


def complete_events(events_csv: Path) -> pd.DataFrame:
    df = pd.read_csv(events_csv, keep_default_na=False)
    df = df[df.lifecycle == "complete"]
    return pm4py().format_dataframe(df, case_id="case_id", activity_key="activity", timestamp_key="timestamp")


def fit_by_case(df: pd.DataFrame, net: Any, im: Any, fm: Any) -> dict[str, bool]:
    log = pm4py().convert_to_event_log(df)  # an EventLog keeps each result next to its case id
    diag = pm4py().conformance.conformance_diagnostics_token_based_replay(log, net, im, fm)
    assert len(diag) == len(log)
    return {t.attributes["concept:name"]: d["trace_is_fit"] for t, d in zip(log, diag)}


def assert_sound(net: WorkflowNet, limit: int = 200_000) -> None:
    """Soundness by the definition, on the reachability graph (pm4py's woflan ignores arc weights):
    from every reachable marking the final one is reachable, a token in the sink means it is the final
    marking, and every transition can fire."""
    index = {p: i for i, p in enumerate(net.places)}
    trans = [([(index[p], w) for p, w in t.inputs], [(index[p], w) for p, w in t.outputs]) for t in net.transitions]
    start = tuple(1 if p == net.source else 0 for p in net.places)
    final = tuple(1 if p == net.sink else 0 for p in net.places)
    sink = index[net.sink]
    seen, back, fired = {start: 0}, [[]], set()
    todo = deque([start])
    while todo:
        m = todo.popleft()
        assert m[sink] == 0 or m == final, f"improper completion: {m}"
        for k, (ins, outs) in enumerate(trans):
            if all(m[p] >= w for p, w in ins):
                fired.add(k)
                n = list(m)
                for p, w in ins:
                    n[p] -= w
                for p, w in outs:
                    n[p] += w
                key = tuple(n)
                if key not in seen:
                    assert len(seen) < limit, "reachability graph too large (unbounded?)"
                    seen[key] = len(seen)
                    back.append([])
                    todo.append(key)
                back[seen[key]].append(seen[m])
    assert fired == set(range(len(trans))), "dead transitions"
    assert final in seen
    ok, todo_i = {seen[final]}, deque([seen[final]])
    while todo_i:
        for j in back[todo_i.popleft()]:
            if j not in ok:
                ok.add(j)
                todo_i.append(j)
    assert len(ok) == len(seen), "some reachable marking cannot complete"


def check_workflow_net(net: Any, im: Any, fm: Any, woflan: bool = True) -> None:
    sources = [p for p in net.places if not p.in_arcs]
    sinks = [p for p in net.places if not p.out_arcs]
    assert [p.name for p in sources] == ["source"] and [p.name for p in sinks] == ["sink"]
    assert {p.name: n for p, n in im.items()} == {"source": 1}
    assert {p.name: n for p, n in fm.items()} == {"sink": 1}
    if not woflan:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # woflan takes ~0.1 s on these nets
        assert pm4py().check_soundness(net, im, fm)[0]


def flow_near_misses(loaded: Any, out: Path) -> set[str]:
    """The cases of a run labelled with a near miss that changes the flow (docs/exceptions.md#near-misses)."""
    flow = {x.label for x in loaded.spec.near_misses if x.alters_control_flow()}
    if not flow or not (out / "labels.csv").is_file():
        return set()
    lab = pd.read_csv(out / "labels.csv", keep_default_na=False)
    return {c for c, n in zip(lab.case_id, lab.near_miss) if set(n.split(";")) & flow}


@pytest.mark.parametrize("name", EXAMPLES)
def test_examples_are_sound_workflow_nets_that_fit_their_simulated_logs(name: str, tmp_path: Path) -> None:
    loaded = load_process(REPO / "processes" / f"{name}.yaml")
    net, im, fm = read_net(process_to_pnml(loaded), tmp_path)
    check_workflow_net(net, im, fm)
    assert_sound(process_net(loaded))
    labels = {a.name or i for i, a in loaded.spec.activities.items()}
    labels |= {w.name or i for i, w in loaded.spec.waits.items() if w.log}  # a logged wait is visible too
    assert sorted(t.label for t in net.transitions if t.label is not None) == sorted(labels)
    run(loaded, tmp_path / "out", seed=1, cases=300, formats=["csv"])
    df = complete_events(tmp_path / "out" / "events.csv")
    fit = fit_by_case(df, net, im, fm)
    assert len(fit) == 300
    # near misses that change the flow (legitimate rework, an onboarding) are outside the model on purpose
    legit = flow_near_misses(loaded, tmp_path / "out")
    assert [c for c, ok in fit.items() if not ok and c not in legit] == []
    # the log does exercise a loop (an activity twice in a case), so the fit is not vacuous
    assert df.groupby(["case:concept:name", "concept:name"]).size().max() > 1


def test_escalations_and_xes_replay_on_complete_events(tmp_path: Path) -> None:
    loaded = load_process(REPO / "processes" / "procure_to_pay.yaml")
    net, im, fm = read_net(process_to_pnml(loaded), tmp_path)
    # seed 5: a run whose cases include escalated approvals (11 of 300)
    run(loaded, tmp_path / "out", seed=5, cases=300, formats=["xes"])
    log = pm4py().read_xes(str(tmp_path / "out" / "events.xes"))
    done = log[log["lifecycle:transition"] == "complete"]
    escalated = set(done.loc[done["concept:name"] == "Escalated approval", "case:concept:name"])
    approved = set(done.loc[done["concept:name"] == "Approve purchase requisition", "case:concept:name"])
    assert escalated and not escalated & approved  # the deadline skipped the approval in these cases
    legit = flow_near_misses(loaded, tmp_path / "out")  # outside the model on purpose
    diag = pm4py().conformance.conformance_diagnostics_token_based_replay(
        done[~done["case:concept:name"].isin(legit)], net, im, fm)
    assert len(diag) == 300 - len(legit) and all(d["trace_is_fit"] for d in diag)
    # both lifecycles against one transition per activity: nothing fits (hence the filter)
    diag = pm4py().conformance.conformance_diagnostics_token_based_replay(log, net, im, fm)
    assert not any(d["trace_is_fit"] for d in diag)


def test_swapped_activities_do_not_fit(tmp_path: Path) -> None:
    path = REPO / "processes" / "loan_application.yaml"
    net, im, fm = read_net(process_to_pnml(load_process(path)), tmp_path)
    run(path, tmp_path / "out", seed=1, cases=300, formats=["csv"])
    df = complete_events(tmp_path / "out" / "events.csv").sort_values(["case:concept:name", "time:timestamp"])
    cases = sorted(df["case:concept:name"].unique())
    broken = set(cases[::3])
    for case in broken:
        # the first two activities of a case, in each other's place: the second cannot come first
        i, j = df.index[df["case:concept:name"] == case][:2]
        df.loc[i, "concept:name"], df.loc[j, "concept:name"] = df.loc[j, "concept:name"], df.loc[i, "concept:name"]
    fit = fit_by_case(df, net, im, fm)
    assert {c for c, ok in fit.items() if not ok} == broken


def test_p2p_net_shape_and_determinism() -> None:
    loaded = load_process(REPO / "processes" / "procure_to_pay.yaml")
    assert process_to_pnml(loaded) == process_to_pnml(load_process(REPO / "processes" / "procure_to_pay.yaml"))
    net = process_net(loaded)
    # gateways fuse into places: only the AND split/join, the unlogged waits (delivery, backorder) and xor edges
    # into a shared place stay silent
    assert [t.id for t in net.transitions if t.label is None] == [
        "tau.fulfil", "tau.fulfilled", "tau.delivery", "tau.backorder", "tau.needs_approval.create_purchase_order",
        "tau.approval_decision.create_purchase_order", "tau.inspection_result.backorder"]
    by_id = {t.id: t for t in net.transitions}
    # the escalation is a choice at the approval's place: approve, or escalate instead
    assert by_id["t.escalate_approval"].inputs == by_id["t.approve_requisition"].inputs == (("p.needs_approval", 1),)
    # the goods branch reaches the join from the inspection's decision (the xor fuses into its place)
    assert by_id["tau.fulfilled"].inputs == (("p.inspection_result", 1), ("p.fulfilled.1", 1))
    assert net.places[0] == "source" and net.places[-1] == "sink"


TRICKY = """\
process:
  name: 'Tricky <&> "net"'
  timezone: UTC
  start: 2026-03-02T08:00:00+00:00
roles:
  clerk: {members: 1}
arrivals:
  interarrival: {kind: exponential, mean: 6m}
events:
  start: {type: start, next: split}
  done: {type: end}
  dropped: {type: end}
activities:
  a: {name: 'A & <a> "1"', role: clerk, duration: 3m, next: merge}
  b: {role: clerk, duration: 4m, next: merge}
  c: {role: clerk, duration: 2m, next: join}
  d: {role: clerk, duration: 2m, next: choice}
gateways:
  split: {type: and, to: [a, b, c]}
  merge: {type: xor, next: join}
  join: {type: and, next: d}
  choice:
    type: xor
    branches:
      - {to: done, probability: 0.5}
      - {to: dropped, probability: 0.3}
      - {to: d, probability: 0.2, max: 2}
rules: [rules.yaml]
"""


def test_shared_branches_escalation_to_next_and_escaping(write_process, tmp_path: Path) -> None:
    write_process("rules:\n  - id: hurry\n    deadline: {activity: c, within: 5m, escalate_to: join}\n", "rules.yaml")
    path = write_process(TRICKY)
    loaded = load_process(path)
    text = process_to_pnml(loaded)
    assert "<text>Tricky &lt;&amp;&gt; &quot;net&quot;</text>" in text
    net, im, fm = read_net(text, tmp_path)
    check_workflow_net(net, im, fm, woflan=False)  # woflan ignores the join's arc weight
    assert_sound(process_net(loaded))
    assert "A & <a> \"1\"" in {t.label for t in net.transitions}
    # branches a and b meet at 'merge' before the join: the join waits for 3 tokens in one place
    (join,) = [t for t in net.transitions if t.name == "tau.join"]
    assert [(a.source.name, a.weight) for a in join.in_arcs] == [("p.merge", 3)]
    run(loaded, tmp_path / "out", seed=3, cases=200, formats=["csv"])
    df = complete_events(tmp_path / "out" / "events.csv")
    per_case = df.groupby("case:concept:name")["concept:name"].agg(list)
    assert any("c" not in acts for acts in per_case)  # the deadline fired: c skipped to its own next
    fit = fit_by_case(df, net, im, fm)
    assert all(fit.values())
    # hand-made traces: x lost its parallel branch 'a'; y loops on d (its 'max' is not in the net);
    # z skipped c through the escalation
    rows = [("x", "b"), ("x", "d"), ("y", "A & <a> \"1\""), ("y", "b"), ("y", "c"), ("y", "d"), ("y", "d"),
            ("z", "b"), ("z", "A & <a> \"1\""), ("z", "d")]
    hand = pd.DataFrame(rows, columns=["case_id", "activity"])
    hand["timestamp"] = pd.date_range("2026-03-02", periods=len(rows), freq="min", tz="UTC")
    hand = pm4py().format_dataframe(hand, case_id="case_id", activity_key="activity", timestamp_key="timestamp")
    assert fit_by_case(hand, net, im, fm) == {"x": False, "y": True, "z": True}


def test_cli_writes_pnml(tmp_path: Path) -> None:
    out = tmp_path / "x.pnml"
    done = subprocess.run([sys.executable, "-m", "procsim", "graph", str(REPO / "processes" / "procure_to_pay.yaml"),
                           "--format", "pnml", "-o", str(out)], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    net, im, fm = pm4py().read_pnml(str(out))
    assert len([t for t in net.transitions if t.label]) == 18  # 17 activities and the logged supplier wait
    assert out.read_text(encoding="utf-8") == process_to_pnml(load_process(REPO / "processes" / "procure_to_pay.yaml"))
