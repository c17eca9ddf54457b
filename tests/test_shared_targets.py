"""Two branches of one XOR split may lead to the same node: each keeps its condition and its own 'max'."""

from __future__ import annotations

import textwrap

import pandas as pd
import pytest

from conftest import MINI
from procsim.errors import SpecError
from procsim.export import to_dot
from procsim.run import run
from procsim.spec import load_process

TWO_WAYS_BACK = MINI.replace("""      - {to: done, probability: 0.8}
      - {to: decide, probability: 0.2, max: 2}""", """      - {to: decide, when: "amount > 900", max: 1}
      - {to: decide, when: "region == 'north'", max: 1}
      - {to: done}""")


def test_each_branch_to_a_shared_node_keeps_its_condition_and_bound(write_process, tmp_path):
    loaded = load_process(write_process(TWO_WAYS_BACK))
    run(loaded, tmp_path / "o", seed=1, cases=300, formats=["csv"])
    ev = pd.read_csv(tmp_path / "o" / "events.csv")
    cases = pd.read_csv(tmp_path / "o" / "cases.csv").set_index("case_id")
    decides = ev[(ev.activity == "decide") & (ev.lifecycle == "complete")].groupby("case_id").size()
    # once, plus once more for each condition that holds (each branch's own max: 1)
    expected = 1 + (cases.amount > 900).astype(int) + (cases.region == "north").astype(int)
    assert (decides.sort_index() == expected.sort_index()).all()
    assert set(decides) == {1, 2, 3}
    # the picture shows both branches on the one edge
    assert '"ok" -> "decide" [label="amount > 900, max 1 | region == \'north\', max 1"];' in to_dot(loaded)


def test_a_shared_edge_is_a_bounded_loop_only_if_every_branch_on_it_is(write_process):
    p = write_process(TWO_WAYS_BACK.replace("""{to: decide, when: "region == 'north'", max: 1}""",
                                            """{to: decide, when: "region == 'north'"}"""))
    with pytest.raises(SpecError) as info:
        load_process(p)
    assert str(info.value) == ("p.yaml:40:3: activities.decide: unbounded loop decide -> ok -> decide: give the "
                               "branch that goes back a 'max' [unbounded_loop]")


def test_a_route_rule_takes_an_available_branch_to_its_target(write_process, tmp_path):
    # the rule sends every case back to decide: first through the first branch, then (its max used up) the second
    write_process(textwrap.dedent("""
        rules:
          - id: always_again
            route: {gateway: ok, to: decide}
        """).lstrip(), "rules.yaml")
    p = write_process(TWO_WAYS_BACK + "rules: [rules.yaml]\n")
    run(p, tmp_path / "o", seed=1, cases=50, formats=["csv"])
    ev = pd.read_csv(tmp_path / "o" / "events.csv")
    decides = ev[(ev.activity == "decide") & (ev.lifecycle == "complete")].groupby("case_id").size()
    assert (decides == 3).all() and len(decides) == 50
