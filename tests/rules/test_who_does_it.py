"""Issue 19: duration rules see who does the work; conditions that can never hold (or always hold) at their
evaluation point are found at load, from the names each point sets."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from procsim.cli import app
from procsim.errors import SpecError
from procsim.run import run
from procsim.spec import load_process

INVOICE = """\
process:
  name: Invoice approval
  timezone: Europe/Berlin
  start: 2026-03-02T08:00:00+01:00
  case_prefix: INV-
roles:
  clerk: {members: 2}
  manager: {members: [Ann Fast, Bob Slow]}
arrivals:
  interarrival: {kind: exponential, mean: 30m}
attributes:
  amount: {distribution: {kind: lognormal, mean: 2000, sd: 3000}, round: 2}
  risk: {value: 0}
rules: [rules.yaml]
events:
  start: {type: start, next: register}
  done: {type: end}
activities:
  register: {role: clerk, duration: 5m, next: route}
  approve: {role: manager, duration: {kind: lognormal, mean: 20m, sd: 10m}, next: pay}
  pay: {duration: 1m, next: done}
gateways:
  route:
    type: xor
    branches:
      - {to: approve, probability: 0.9}
      - {to: pay, probability: 0.1}
"""


def setup(write_process, rules: str) -> Path:
    write_process(textwrap.dedent(rules).lstrip("\n"), "rules.yaml")
    return write_process(INVOICE)


def errors(path: Path) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_process(path)
    return str(info.value).splitlines()


def work_minutes(out: Path, activity: str) -> pd.DataFrame:
    ev = pd.read_csv(out / "events.csv", keep_default_na=False)
    ev = ev[ev["activity"] == activity]
    ev["t"] = pd.to_datetime(ev["timestamp"], utc=True, format="ISO8601")
    s = ev[ev["lifecycle"] == "start"].set_index("case_id")
    c = ev[ev["lifecycle"] == "complete"].set_index("case_id")
    out_ = pd.DataFrame({"resource": s["resource"], "rules": s["rules"],
                         "minutes": (c["t"] - s["t"]).dt.total_seconds() / 60})
    return out_


def test_bob_is_slow_doubles_his_mean(write_process, tmp_path):
    p = setup(write_process, """
        rules:
          - id: bob_is_slow
            when: resource == 'Bob Slow'
            duration: {activity: approve, scale: 2}
        """)
    run(p, tmp_path / "out", seed=7, cases=2000, formats=["csv"])
    w = work_minutes(tmp_path / "out", "approve")
    by = w.groupby("resource")["minutes"]
    mean, count, sd = by.mean(), by.count(), by.std()
    assert set(mean.index) == {"Ann Fast", "Bob Slow"} and count.min() > 300
    # the ratio of two means: 3 standard errors of it (delta method) as the tolerance
    ratio = mean["Bob Slow"] / mean["Ann Fast"]
    se = ratio * ((sd / mean) ** 2 / count).sum() ** 0.5
    assert abs(ratio - 2.0) < 3 * se, (ratio, se)
    assert abs(mean["Ann Fast"] - 20.0) < 3 * sd["Ann Fast"] / count["Ann Fast"] ** 0.5
    # the rule is recorded on Bob's events only
    assert (w["rules"] == "bob_is_slow").eq(w["resource"] == "Bob Slow").all()


def test_duration_rules_see_role_and_run_when_the_work_starts(write_process, tmp_path):
    p = setup(write_process, """
        rules:
          - id: managers_are_thorough
            when: role == 'manager' and startswith(resource, 'Ann')
            duration: {activity: approve, distribution: 1h}
        """)
    run(p, tmp_path / "out", seed=1, cases=200, formats=["csv"])
    w = work_minutes(tmp_path / "out", "approve")
    assert (w.loc[w["resource"] == "Ann Fast", "minutes"] == 60).all()
    assert (w.loc[w["resource"] == "Bob Slow", "minutes"] != 60).all()


NEVER = [
    ("""
     - id: r
       when: resource == 'Bob Slow'
       queue: {activity: approve, value: 5}
     """, "rules.yaml:3:11: rules[0].when: this condition never holds for the queue action: 'resource' is null "
          "(it is set only in assign.allow, in duration rules and when an activity completes) when queue rules "
          "run for 'approve' (the case reaches it, before it queues) [never_holds]"),
    ("""
     - id: r
       when: resource == 'Bob Slow'
       duration: {activity: pay, scale: 2}
     """, "rules.yaml:3:11: rules[0].when: this condition never holds for the duration action: 'resource' is null "
          "('pay' has no role: nobody does the work) when duration rules run for 'pay' (its work starts) "
          "[never_holds]"),
    ("""
     - id: r
       when: activity == 'approve'
       set: {risk: 1}
     """, "rules.yaml:3:11: rules[0].when: this condition never holds for the set action: 'activity' is null "
          "when the case starts [never_holds]"),
    ("""
     - id: r
       when: role == 'manager' and amount > 100
       route: {gateway: route, to: approve}
     """, "rules.yaml:3:11: rules[0].when: this condition never holds for the route action: 'role' is null at "
          "gateway 'route' [never_holds]"),
    ("""
     - id: r
       when: resource in ['Ann Fast', 'Bob Slow']
       set: {risk: 2}
       at: pay
     """, "rules.yaml:3:11: rules[0].when: this condition never holds for the set action: 'resource' is null "
          "('pay' has no role: nobody does the work) when 'pay' completes (set rules with 'at' run then) "
          "[never_holds]"),
    ("""
     - id: r
       when: activity == 'register'
       duration: {activity: approve, scale: 2}
     """, "rules.yaml:3:11: rules[0].when: this condition never holds for the duration action: 'activity' is "
          "'approve' when duration rules run for 'approve' (its work starts) [never_holds]"),
    ("""
     - id: r
       when: role == 'manager' and amount > 1
       raise: {exception: odd, at: pay}
     """, "rules.yaml:3:11: rules[0].when: this condition never holds for the raise action: 'role' is null ('pay' "
          "has no role) when raise rules run for 'pay' (the case reaches it, before it queues) [never_holds]"),
]


@pytest.mark.parametrize("rules, message", NEVER)
def test_a_condition_that_never_holds_is_refused(write_process, rules, message):
    rules = "rules:\n" + textwrap.indent(textwrap.dedent(rules).strip("\n"), "  ") + "\n"
    p = setup(write_process, rules)
    assert errors(p) == [message]


def test_a_condition_that_holds_at_one_activity_is_judged_there(write_process):
    # the condition refused at 'pay' above may hold at 'approve' (whose role is 'manager'): accepted
    p = setup(write_process, """
        rules:
          - id: r
            when: role == 'manager' and amount > 1
            raise: {exception: odd, at: approve}
        """)
    assert load_process(p).warnings == []


def test_conditions_the_case_decides_are_accepted(write_process):
    p = setup(write_process, """
        rules:
          - id: a
            when: resource == 'Bob Slow' or amount > 5000
            duration: {activity: approve, scale: 2}
          - id: b
            when: resource != 'Bob Slow' and amount > 5000
            queue: {activity: approve, value: 1}
          - id: c
            when: activity == 'approve' and amount > 10
            queue: {value: 3}
        """)
    loaded = load_process(p)
    assert loaded.warnings == []


def test_a_condition_that_always_holds_is_a_warning(write_process, tmp_path):
    p = setup(write_process, """
        rules:
          - id: r
            when: resource == null
            queue: {activity: approve, value: 5}
          - id: s
            when: activity == 'approve' or amount > 1
            duration: {activity: approve, scale: 1.5}
        """)
    expected = [
        "rules.yaml:3:11: rules[0].when: warning: this condition always holds for the queue action: 'resource' is "
        "null (it is set only in assign.allow, in duration rules and when an activity completes) when queue rules "
        "run for 'approve' (the case reaches it, before it queues); leave out 'when' [always_holds]",
        "rules.yaml:6:11: rules[1].when: warning: this condition always holds for the duration action: 'activity' "
        "is 'approve' when duration rules run for 'approve' (its work starts); leave out 'when' [always_holds]",
    ]
    assert [str(w) for w in load_process(p).warnings] == expected
    res = CliRunner().invoke(app, ["validate", str(p)])
    assert res.exit_code == 0
    assert res.stderr.splitlines() == expected
    res = CliRunner().invoke(app, ["run", str(p), "--cases", "5", "-o", str(tmp_path / "o"), "-q"])
    assert res.exit_code == 0, res.output
    assert res.stderr.splitlines() == expected


def test_never_holds_exits_2_without_traceback(write_process):
    p = setup(write_process, """
        rules:
          - id: bob_is_slow
            when: resource == 'Bob Slow'
            queue: {activity: approve, value: 1}
        """)
    res = CliRunner().invoke(app, ["validate", str(p)])
    assert res.exit_code == 2
    assert "Traceback" not in res.output
    assert res.stderr.startswith("rules.yaml:3:11: rules[0].when: this condition never holds")
