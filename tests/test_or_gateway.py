"""Inclusive (OR) gateways: the split activates each branch with its own probability (or when its condition
holds), at least one; the join waits for exactly the branches its split activated and fires once per case."""

from __future__ import annotations

import math
from collections import Counter
from itertools import combinations
from pathlib import Path

import pandas as pd
import pytest

from procsim.bpmn import to_bpmn
from procsim.errors import SpecError
from procsim.pnml import process_net
from procsim.run import run
from procsim.spec import load_process

OR = """\
process: {name: OR test, timezone: UTC, start: 2026-01-05T00:00:00+00:00}
roles:
  clerk: {members: 2}
arrivals:
  interarrival: {kind: exponential, mean: 10m}
attributes:
  amount: {distribution: {kind: uniform, low: 0, high: 100}}
events:
  start: {type: start, next: register}
  done: {type: end}
activities:
  register: {role: clerk, duration: 5m, next: checks}
  credit: {role: clerk, duration: {kind: exponential, mean: 20m}, next: checked}
  fraud: {role: clerk, duration: 30m, next: checked}
  legal: {duration: 1h, next: checked}
  decide: {role: clerk, duration: 5m, next: done}
gateways:
  checks:
    type: or
    branches:
      - {to: credit, probability: 0.5}
      - {to: fraud, probability: 0.3}
      - {to: legal, probability: 0.2}
  checked: {type: or, next: decide}
"""
P = {"credit": 0.5, "fraud": 0.3, "legal": 0.2}


def expected_subsets() -> dict[tuple[str, ...], float]:
    """Each branch independently; none drawn: one branch by the probabilities."""
    names = list(P)
    none = math.prod(1 - p for p in P.values())
    out = {}
    for r in range(1, 4):
        for sub in combinations(names, r):
            pr = math.prod(P[n] if n in sub else 1 - P[n] for n in names)
            if r == 1:
                pr += none * P[sub[0]] / sum(P.values())
            out[sub] = pr
    return out


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    d = tmp_path_factory.mktemp("or")
    (d / "p.yaml").write_text(OR)
    run(d / "p.yaml", d / "out", seed=11, cases=4000, formats=("csv",))
    return pd.read_csv(d / "out" / "events.csv")


def test_activated_subsets_follow_the_probabilities(log: pd.DataFrame) -> None:
    done = log[log.lifecycle == "complete"]
    subsets = done[done.activity.isin(list(P))].groupby("case_id").activity.apply(lambda s: tuple(sorted(s)))
    n = len(subsets)
    assert n == 4000  # at least one branch in every case
    seen = Counter(tuple(sorted(s, key=list(P).index)) for s in subsets)
    for sub, p in expected_subsets().items():
        sd = math.sqrt(p * (1 - p) / n)
        assert abs(seen[sub] / n - p) < 4 * sd + 1e-9, (sub, seen[sub] / n, p)
    assert sum(seen.values()) == n and set(seen) <= set(expected_subsets())


def test_the_join_fires_once_after_every_activated_branch(log: pd.DataFrame) -> None:
    log = log.assign(t=pd.to_datetime(log.timestamp, format="ISO8601", utc=True))
    for case, ev in log.groupby("case_id"):
        done = ev[ev.lifecycle == "complete"]
        decide = ev[(ev.activity == "decide") & (ev.lifecycle == "start")]
        assert len(decide) == 1
        branches = done[done.activity.isin(list(P))]
        assert len(branches) >= 1 and branches.activity.is_unique
        assert decide.t.iloc[0] >= branches.t.max()


def test_conditions_activate_their_branches(tmp_path: Path) -> None:
    text = OR.replace("- {to: legal, probability: 0.2}", "- {to: legal, when: 'amount > 50'}")
    (tmp_path / "p.yaml").write_text(text)
    run(tmp_path / "p.yaml", tmp_path / "out", seed=3, cases=300, formats=("csv",))
    ev = pd.read_csv(tmp_path / "out" / "events.csv")
    legal = set(ev[ev.activity == "legal"].case_id)
    big = set(ev[(ev.activity == "register") & (ev.amount > 50)].case_id)
    assert legal == big and 0 < len(legal) < 300


def test_an_or_split_must_be_closed_by_an_or_join(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(OR.replace("checked: {type: or, next: decide}", "checked: {type: and, next: decide}"))
    with pytest.raises(SpecError) as e:
        load_process(tmp_path / "p.yaml")
    assert {p.code for p in e.value.problems} == {"unbalanced_or", "unbalanced_and"}


def test_exports(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(OR)
    loaded = load_process(tmp_path / "p.yaml")
    xml = to_bpmn(loaded)
    assert xml.count("<bpmn:inclusiveGateway") == 2
    net = process_net(loaded)
    # the split's silent transition, and a silent skip for each branch it may leave inactive
    assert sum(1 for t in net.transitions if t.id.startswith("tau.checks.skip.")) == 3
