"""The example processes in processes/: each loads, shows off the language, and runs to completion.

These files are what new users copy from, so the test pins what makes them good teaching material (an
and block, a bounded rework loop, several calendars, every kind of attribute, a data-driven decision) and
that a short run really visits every activity and finishes every case.
"""

from __future__ import annotations

import csv
from pathlib import Path

import networkx as nx
import pytest

from procsim.run import run
from procsim.spec import LoadedProcess, load_process

PROCESSES = sorted((Path(__file__).resolve().parent.parent / "processes").glob("*.yaml"))


def test_there_are_examples() -> None:
    names = {p.name for p in PROCESSES}
    assert {"procure_to_pay.yaml", "order_to_cash.yaml", "loan_application.yaml"} <= names


@pytest.fixture(scope="module", params=PROCESSES, ids=lambda p: p.stem)
def loaded(request: pytest.FixtureRequest) -> LoadedProcess:
    return load_process(request.param)


def test_structure(loaded: LoadedProcess) -> None:
    spec, g = loaded.spec, loaded.graph
    assert len(spec.activities) >= 10

    ands = [gw for gw in spec.gateways.values() if gw.type == "and"]
    assert any(gw.to is not None and len(gw.to) >= 2 for gw in ands), "no and split"
    assert any(gw.next is not None for gw in ands), "no and join"

    # a rework loop: a bounded xor branch whose target leads back to the gateway itself
    loops = [(name, b.to) for name, gw in spec.gateways.items() if gw.type == "xor"
             for b in gw.branches or [] if b.max is not None and nx.has_path(g, b.to, name)]
    assert loops, "no bounded loop"

    # a decision on data: a branch condition, or a route rule in the process's rule files
    assert any(b.when is not None for gw in spec.gateways.values() for b in gw.branches or []) or (
        loaded.rules is not None and loaded.rules.routes), "no data-driven decision"

    assert len(spec.roles) >= 3
    for name, role in spec.roles.items():
        assert role.calendar in spec.calendars, f"role {name} has no calendar"
    assert len({r.calendar for r in spec.roles.values()}) >= 2

    a = spec.arrivals
    assert a.calendar in spec.calendars and a.weekday and a.hour

    attrs = spec.attributes.values()
    for source in ("faker", "distribution", "choice", "expr"):
        assert any(getattr(x, source) is not None for x in attrs), f"no '{source}' attribute"

    kinds = {act.duration.kind for act in spec.activities.values()}
    assert len(kinds) >= 5, kinds
    assert any(act.cost.fixed > 0 for act in spec.activities.values())
    assert any(r.cost_per_hour > 0 for r in spec.roles.values())


def test_run_visits_every_activity_and_completes(loaded: LoadedProcess, tmp_path: Path) -> None:
    # 400 cases: the escalation (nobody starts an approval within 2 days) needs a backlog to build up first
    result = run(loaded.path, tmp_path, seed=1, cases=400, formats=["csv"])
    assert result.cases == 400

    with (tmp_path / "events.csv").open(newline="", encoding="utf-8") as f:
        seen = {row["activity"] for row in csv.DictReader(f)}
    expected = {act.name or key for key, act in loaded.spec.activities.items()}
    assert sorted(expected - seen) == []

    with (tmp_path / "cases.csv").open(newline="", encoding="utf-8") as f:
        cases = list(csv.DictReader(f))
    assert len(cases) == 400
    assert {c["status"] for c in cases} == {"completed"}
    ends = {n for n, e in loaded.spec.events.items() if e.type == "end"}
    assert {c["end_event"] for c in cases} == ends
