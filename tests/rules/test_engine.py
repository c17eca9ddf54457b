"""The rule engine inside the simulation: each action's effect on the log, load-time checks, explain."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from conftest import MINI
from procsim.errors import SimulationError, SpecError
from procsim.explain import explain
from procsim.run import run
from procsim.sim.build import _calendars
from procsim.spec import load_process

PROCESS = MINI.replace("attributes:\n", "attributes:\n  discount: {value: 0.0}\n  tier: {value: none}\n"
                       "  score: {value: 0}\n") + "rules: [rules.yaml]\n"


def setup(write_process, rules: str, process: str = PROCESS) -> Path:
    write_process(textwrap.dedent(rules).lstrip("\n"), "rules.yaml")
    return write_process(process)


def simulate(path: Path, tmp: Path, cases: int = 60, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    run(path, tmp / "out", seed=seed, cases=cases, formats=["csv"])
    events = pd.read_csv(tmp / "out" / "events.csv", keep_default_na=False)
    cases_ = pd.read_csv(tmp / "out" / "cases.csv", keep_default_na=False)
    return events, cases_


def spec_errors(path: Path) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_process(path)
    return str(info.value).splitlines()


def test_route_overrides_probabilities_and_is_recorded(write_process, tmp_path):
    p = setup(write_process, """
        rules:
          - id: big_goes_round_again
            when: amount > 500
            route: {gateway: ok, to: decide}
        """)
    events, cases = simulate(p, tmp_path)
    decides = events[(events.activity == "decide") & (events.lifecycle == "start")].groupby("case_id").size()
    big = set(cases.loc[cases.amount > 500, "case_id"])
    # a rule-routed big case loops until the branch's max (2) is used up: 3 decides
    assert (decides[sorted(big)] == 3).all()
    second = events[(events.activity == "decide") & events.case_id.isin(big)].groupby("case_id").nth(2)
    assert (second.rules == "big_goes_round_again").all()


def test_set_with_expressions_and_after_an_activity(write_process, tmp_path):
    p = setup(write_process, """
        rules:
          - id: discount
            when: region == 'north'
            set: {discount: "round(amount * 0.02, 2)"}
          - id: tiering
            at: register
            set: {tier: "'gold' if amount > 800 else 'std'"}
        """)
    events, cases = simulate(p, tmp_path)
    north = cases[cases.region == "north"]
    assert (north.discount == (north.amount * 0.02).round(2)).all()
    assert (cases.loc[cases.region == "south", "discount"] == 0).all()
    assert set(cases.tier) == {"gold", "std"}
    # before 'register' completes the case still shows the declared value: events carry snapshots
    first = events.groupby("case_id").first()
    assert set(first.tier) == {"none"}
    done = events[(events.activity == "register") & (events.lifecycle == "complete")]
    assert done.rules.str.contains("tiering").all()


def test_duration_scale_and_replace(write_process, tmp_path):
    p = setup(write_process, """
        rules:
          - id: slow_south
            when: region == 'south'
            duration: {activity: check_a, scale: 3}
          - id: fixed_register
            duration: {activity: register, distribution: {kind: fixed, value: 7m}}
        """)
    events, cases = simulate(p, tmp_path)
    loaded = load_process(p)
    office = _calendars(loaded.spec)["office"]
    origin = pd.Timestamp(loaded.spec.process.start)
    events["t"] = (pd.to_datetime(events.timestamp, utc=True) - origin).dt.total_seconds()
    inst = events.pivot_table(index=["case_id", "activity"], columns="lifecycle", values="t", aggfunc="first")
    # working minutes between start and complete: a task a shift end paused still holds its work time
    minutes = pd.Series([office.working_between(s, e) / 60 for s, e in zip(inst["start"], inst["complete"])],
                        index=inst.index).round(2)
    assert (minutes.xs("register", level="activity") == 7).all()
    check = minutes.xs("check_a", level="activity")
    south = set(cases.loc[cases.region == "south", "case_id"])
    assert (check[check.index.isin(south)] == 45).all()
    assert (check[~check.index.isin(south)] == 15).all()


def test_four_eyes_assignment(write_process, tmp_path):
    # decide is done by a boss, possibly several times; check_b too: never the same boss for one case
    p = setup(write_process, """
        rules:
          - id: four_eyes
            assign: {activity: decide, allow: resource not in history.check_b}
        """)
    events, _ = simulate(p, tmp_path, cases=80)
    done = events[events.lifecycle == "complete"]
    checkers = done[done.activity == "check_b"].set_index("case_id").resource
    deciders = done[done.activity == "decide"]
    assert len(deciders) > 80
    assert all(r != checkers[c] for c, r in zip(deciders.case_id, deciders.resource))
    assert deciders.rules.str.contains("four_eyes").all()


def test_assign_named_member_and_other_role(write_process, tmp_path):
    p = setup(write_process, """
        rules:
          - id: only_ann_for_big
            when: amount > 900
            assign: {activity: check_b, members: [Ann]}
          - id: clerks_decide_small
            when: amount < 50
            assign: {activity: decide, role: clerk}
        """)
    events, cases = simulate(p, tmp_path, cases=120)
    big = set(cases.loc[cases.amount > 900, "case_id"])
    small = set(cases.loc[cases.amount < 50, "case_id"])
    assert big and small
    checks = events[(events.activity == "check_b") & events.case_id.isin(big)]
    assert set(checks.resource) == {"Ann"}
    decides = events[(events.activity == "decide") & events.case_id.isin(small)]
    assert set(decides.role) == {"clerk"}


def test_queue_priority_lets_urgent_cases_wait_less(write_process, tmp_path):
    # one overloaded clerk: high-priority cases jump the queue for 'register'
    busy = PROCESS.replace("members: 2", "members: 1").replace("mean: 20m}", "mean: 6m}")
    p = setup(write_process, """
        rules:
          - id: rush
            when: region == 'north'
            queue: {value: 5, activity: register}
        """, busy)
    events, cases = simulate(p, tmp_path, cases=150)
    events["ts"] = pd.to_datetime(events.timestamp, utc=True)
    start = events[(events.activity == "register") & (events.lifecycle == "start")].set_index("case_id").ts
    arrival = pd.to_datetime(cases.set_index("case_id").start, utc=True)
    wait = (start - arrival.reindex(start.index)).dt.total_seconds()
    north = cases.set_index("case_id").region.reindex(wait.index) == "north"
    assert wait[north].mean() * 3 < wait[~north].mean()


def test_deadline_escalates_waiting_work(write_process, tmp_path):
    busy = (PROCESS.replace("members: [Ann, Bob]", "members: [Ann]").replace("mean: 20m}", "mean: 8m}")
            .replace("activities:\n", "activities:\n  escalate:\n    role: clerk\n    duration: 5m\n    next: done\n"))
    p = setup(write_process, """
        rules:
          - id: too_slow
            deadline: {activity: decide, within: 1h, escalate_to: escalate}
        """, busy)
    events, cases = simulate(p, tmp_path, cases=100)
    esc = events[events.activity == "escalate"]
    assert len(esc) > 0
    escalated = set(esc.case_id)
    # an escalated case never started the 'decide' it was waiting for after the escalation
    assert cases.set_index("case_id").loc[sorted(escalated), "status"].eq("completed").all()
    assert load_process(p).graph.has_edge("decide", "escalate")


def test_raise_labels_case_and_events(write_process, tmp_path):
    p = setup(write_process, """
        rules:
          - id: flag_big
            when: amount > 950
            raise: {exception: big_spender}
          - id: flag_at_decide
            when: region == 'south' and amount < 30
            raise: {exception: tiny_south, at: decide}
        """)
    events, cases = simulate(p, tmp_path, cases=200)
    flagged = cases[cases.exceptions.str.contains("big_spender")]
    assert set(flagged.case_id) == set(cases.loc[cases.amount > 950, "case_id"])
    ev = events[events.case_id.isin(flagged.case_id)]
    assert ev.exception.str.contains("big_spender").all()
    assert not events[~events.case_id.isin(flagged.case_id)].exception.str.contains("big_spender").any()


def test_tables_set_values_with_hit_policies(write_process, tmp_path):
    p = setup(write_process, """
        tables:
          - id: tiers
            hit: first
            inputs: [amount]
            outputs: [tier]
            rows:
              - [">= 700", gold]
              - ["[300..700)", silver]
              - ["-", bronze]
          - id: scoring
            hit: collect
            aggregate: sum
            inputs: [amount, region]
            outputs: [score]
            rows:
              - ["> 500", "-", 2]
              - ["-", "'north'", 1]
        """)
    _, cases = simulate(p, tmp_path, cases=100)
    expect_tier = cases.amount.map(lambda a: "gold" if a >= 700 else "silver" if a >= 300 else "bronze")
    assert (cases.tier == expect_tier).all()
    expect_score = (cases.amount > 500) * 2 + (cases.region == "north") * 1
    assert (cases.score == expect_score).all()
    assert cases.rules.str.contains("tiers#").all()


def test_routing_table(write_process, tmp_path):
    p = setup(write_process, """
        tables:
          - id: loop_small
            gateway: ok
            inputs: [amount]
            outputs: [to]
            rows:
              - ["< 200", decide]
        """)
    events, cases = simulate(p, tmp_path, cases=100)
    small = set(cases.loc[cases.amount < 200, "case_id"])
    n = events[(events.activity == "decide") & (events.lifecycle == "start")].groupby("case_id").size()
    assert (n[sorted(small)] == 3).all()


def test_load_time_errors_point_into_the_rule_file(write_process):
    p = setup(write_process, """
        rules:
          - id: typo
            when: ammount > 5
            route: {gateway: ok, to: register}
          - id: bad_set
            set: {dicount: 1}
          - id: bad_act
            duration: {activity: chek_a, scale: 2}
        """)
    assert spec_errors(p) == [
        "rules.yaml:3:11: rules[0].when: unknown name 'ammount'; did you mean 'amount'? [unknown_name]",
        "    ammount > 5",
        "    ^",
        "rules.yaml:4:30: rules[0].route.to: 'register' is not a branch of gateway 'ok' (its branches go to: "
        "done, decide) [not_a_branch]",
        "rules.yaml:6:11: rules[1].set.dicount: unknown attribute 'dicount'; did you mean 'discount'? "
        "(declare it in the process's attributes) [unknown_attribute]",
        "rules.yaml:8:26: rules[2].duration.activity: unknown activity 'chek_a'; did you mean 'check_a'? "
        "[unknown_activity]",
    ]


def test_unknown_rule_key_and_missing_action(write_process):
    p = setup(write_process, """
        rules:
          - id: a
            wen: amount > 5
            route: {gateway: ok, to: done}
          - id: b
            when: amount > 5
        """)
    assert spec_errors(p) == [
        "rules.yaml:3:5: rules[0].wen: unknown key; did you mean 'when'? [extra_forbidden]",
        "rules.yaml:5:5: rules[1]: a rule needs at least one action: route, set, duration, assign, queue, "
        "deadline, raise [value_error]",
    ]


def test_conflicting_routes_are_found_at_load(write_process):
    p = setup(write_process, """
        rules:
          - id: north_done
            when: region == 'north'
            route: {gateway: ok, to: done}
          - id: big_again
            when: amount > 500
            route: {gateway: ok, to: decide}
          - id: south_small_done
            when: region == 'south' and amount < 100
            route: {gateway: ok, to: done}
        """)
    lines = spec_errors(p)
    assert len(lines) == 1
    assert lines[0].startswith("rules.yaml:4:12: rules[0].route: rules 'north_done' and 'big_again' (priority 0) "
                               "route gateway 'ok' to different branches ('done', 'decide') and both hold for a "
                               "case with amount=")
    assert lines[0].endswith("region='north'; give one a higher priority or make the conditions exclusive "
                             "[route_conflict]")


def test_priorities_resolve_conflicts(write_process, tmp_path):
    p = setup(write_process, """
        rules:
          - id: north_done
            when: region == 'north'
            priority: 1
            route: {gateway: ok, to: done}
          - id: big_again
            when: amount > 500
            route: {gateway: ok, to: decide}
        """)
    events, cases = simulate(p, tmp_path, cases=80)
    north_big = set(cases.loc[(cases.region == "north") & (cases.amount > 500), "case_id"])
    n = events[(events.activity == "decide") & (events.lifecycle == "start")].groupby("case_id").size()
    assert north_big and (n[sorted(north_big)] == 1).all()


def test_rules_keep_runs_deterministic(write_process, tmp_path):
    p = setup(write_process, """
        rules:
          - id: four_eyes
            assign: {activity: decide, allow: resource not in history.check_b}
          - id: slow_south
            when: region == 'south'
            duration: {activity: check_a, scale: 3}
        """)
    run(p, tmp_path / "a", seed=9, cases=50, formats=["csv"])
    run(p, tmp_path / "b", seed=9, cases=50, formats=["csv"])
    for name in ("events.csv", "cases.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_explain_prints_path_and_rules(write_process, tmp_path):
    p = setup(write_process, """
        rules:
          - id: four_eyes
            description: The decider differs from the checker.
            assign: {activity: decide, allow: resource not in history.check_b}
        """)
    run(p, tmp_path / "out", seed=2, cases=10, formats=["parquet"])
    text = explain(tmp_path / "out", "C000003")
    lines = text.splitlines()
    assert lines[0].startswith("case C000003: completed at end event 'done', ")
    assert lines[1].startswith("  attributes: discount=0, tier=none, score=0, amount=")
    assert "  path (by start time):" in lines
    assert any(line.endswith("[rules: four_eyes]") and " decide by " in line for line in lines)
    assert lines[-1] == "    four_eyes  (rules.yaml:2): The decider differs from the checker."
    done = subprocess.run([sys.executable, "-m", "procsim", "explain", str(tmp_path / "out"), "C00003"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "no case 'C00003'" in done.stderr and "did you mean 'C000003'?" in done.stderr


def test_role_and_escalation_ids_are_visible(write_process, tmp_path):
    busy = (PROCESS.replace("members: [Ann, Bob]", "members: [Ann]").replace("mean: 20m}", "mean: 8m}")
            .replace("activities:\n", "activities:\n  escalate:\n    role: clerk\n    duration: 5m\n    next: done\n"))
    p = setup(write_process, """
        rules:
          - id: too_slow
            deadline: {activity: decide, within: 1h, escalate_to: escalate}
          - id: bosses_first
            when: role == 'boss'
            queue: {value: 3}
        """, busy)
    events, _ = simulate(p, tmp_path, cases=100)
    esc = events[events.activity == "escalate"]
    assert len(esc) > 0 and esc.rules.str.contains("too_slow").all()
    boss_work = events[events.role == "boss"]
    assert boss_work.rules.str.contains("bosses_first").all()
    assert not events[events.role == "clerk"].rules.str.contains("bosses_first").any()


def test_raise_rules_stay_out_of_the_rules_column(write_process, tmp_path):
    p = setup(write_process, """
        rules:
          - id: flag_big
            when: amount > 500
            raise: {exception: big}
        """)
    events, cases = simulate(p, tmp_path)
    assert (events.exception.str.contains("big")).any()
    assert not events.rules.str.contains("flag_big").any()
    assert not cases.rules.str.contains("flag_big").any()


def test_more_load_time_checks(write_process):
    p = setup(write_process, """
        rules:
          - id: bare_number
            duration: {activity: register, distribution: {kind: exponential, mean: 300}}
        tables:
          - id: scores
            hit: collect
            inputs: [amount]
            outputs: [score]
            rows:
              - ["> 5", 1]
        """)
    assert spec_errors(p) == [
        "rules.yaml:3:50: rules[0].duration.distribution: 'mean' needs a unit, like '15m' [unit_missing]",
        "rules.yaml:6:10: tables[0].hit: a table that sets attributes with hit: collect needs an 'aggregate' "
        "(sum, min, max or count) to get one value [collect_needs_aggregate]",
    ]
    q = setup(write_process, "rules: []\n", PROCESS.replace("  score: {value: 0}\n", "  status: {value: 0}\n"))
    assert spec_errors(q) == ["p.yaml:21:3: attributes.status: 'status' is a column procsim writes itself; call "
                              "the attribute something else [reserved_name]"]


@pytest.mark.parametrize(("rules", "history", "context"), [
    # four eyes reads one activity's history and the candidate resource: only that is kept and set
    ("""
        rules:
          - id: four_eyes
            assign: {activity: decide, allow: resource not in history.check_b}
        """, ["check_b"], {"resource"}),
    # a table's test cell and output expression are read too; history read whole keeps every activity
    ("""
        rules:
          - id: slow_late
            when: elapsed > duration('2h')
            duration: {activity: decide, scale: 2}
        tables:
          - id: t
            inputs: [amount]
            outputs: [score]
            rows:
              - ["> len(history.check_a)", "= len(history)"]
        """, ["register", "check_a", "check_b", "decide"], {"elapsed"}),
    ("""
        rules:
          - id: r
            set: {score: 1}
        """, None, set()),
])
def test_the_run_keeps_only_the_history_and_context_rules_read(write_process, rules, history, context):
    from procsim.sim.build import build_model

    loaded = load_process(setup(write_process, rules))
    assert loaded.rules.context == context
    assert build_model(loaded, 1).history_keys == history


def test_a_condition_failing_at_run_time_names_its_rule(write_process, tmp_path):
    # 'score' is 0 in every case: the load-time sample cases cannot see it, the run can
    p = setup(write_process, """
        rules:
          - id: ratio_check
            when: amount / score > 1
            duration: {activity: decide, scale: 2}
        """)
    with pytest.raises(SimulationError) as info:
        run(p, tmp_path / "o", seed=1, cases=5, formats=["csv"])
    assert str(info.value) == "division by zero (in rule 'ratio_check': when: amount / score > 1)"
