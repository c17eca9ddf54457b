"""Member attributes (issue 12): roles and members carry attributes that rules read as ``resource.<attribute>``,
and multitasking (a member holding up to k tasks at once). Each effect is pinned on the log."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from procsim.errors import SpecError
from procsim.run import run
from procsim.spec import load_process
from test_people import events, process, work

LIMITS = """\
process:
  name: Limits
  timezone: Europe/Berlin
  start: 2026-03-02T08:00:00+01:00
roles:
  clerk: {members: 2}
  manager:
    attributes: {approval_limit: 1000, seniority: 1}
    members:
      Ann: {attributes: {approval_limit: 100000, seniority: 5}}
      Bob: {attributes: {approval_limit: 5000, seniority: 3}}
      Cid: {}
arrivals:
  interarrival: {kind: exponential, mean: 15m}
attributes:
  amount: {distribution: {kind: lognormal, mean: 3000, sd: 4000}, round: 2}
rules: [r.yaml]
events:
  start: {type: start, next: register}
  done: {type: end}
activities:
  register: {role: clerk, duration: 10m, next: approve}
  approve: {role: manager, duration: 20m, next: done}
"""


def test_no_member_approves_above_their_limit(write_process, tmp_path):
    write_process("""
        rules:
          - id: within_limit
            assign: {activity: approve, allow: resource.approval_limit >= amount}
        """, "r.yaml")
    run(write_process(LIMITS), tmp_path / "o", seed=3, cases=2000, formats=["csv"])
    ev = events(tmp_path / "o")
    done = ev[(ev["activity"] == "approve") & (ev["lifecycle"] == "complete")]
    assert len(done) == 2000  # every case was approved by somebody
    limit = done["resource"].map({"Ann": 100000, "Bob": 5000, "Cid": 1000})
    assert (done["amount"] <= limit).all()
    # the limits bind: each member approves up to their own limit, and the amounts above it go to someone else
    assert set(done["resource"]) == {"Ann", "Bob", "Cid"}
    assert done.loc[done["resource"] == "Cid", "amount"].max() > 500
    assert done.loc[done["resource"] == "Bob", "amount"].max() > 1000
    assert (done["amount"] > 5000).sum() > 50 and set(done.loc[done["amount"] > 5000, "resource"]) == {"Ann"}
    assert set(done["rules"]) == {"within_limit"}


def test_the_same_run_without_the_rule_lets_anyone_approve(write_process, tmp_path):
    # the control for the test above: the limit, not chance, keeps Cid away from large amounts
    write_process("rules: []\n", "r.yaml")
    run(write_process(LIMITS), tmp_path / "o", seed=3, cases=2000, formats=["csv"])
    ev = events(tmp_path / "o")
    done = ev[(ev["activity"] == "approve") & (ev["lifecycle"] == "complete")]
    assert (done.loc[done["resource"] == "Cid", "amount"] > 1000).any()


def test_duration_rule_reads_the_member_who_does_the_work(write_process, tmp_path):
    write_process("""
        rules:
          - id: seniors_are_quick
            when: resource.seniority >= 3
            duration: {activity: approve, scale: 0.5}
        """, "r.yaml")
    run(write_process(LIMITS), tmp_path / "o", seed=5, cases=500, formats=["csv"])
    w = work(events(tmp_path / "o"))
    minutes = w[w["activity"] == "approve"].groupby("resource")["minutes"]
    assert minutes.min().round(6).to_dict() == {"Ann": 10.0, "Bob": 10.0, "Cid": 20.0}
    assert minutes.max().round(6).to_dict() == {"Ann": 10.0, "Bob": 10.0, "Cid": 20.0}


def test_generated_members_take_the_role_s_attributes(write_process, tmp_path):
    text = (LIMITS.replace("clerk: {members: 2}", "clerk: {members: 2, attributes: {site: Berlin}}\n"
                           "  temp: {members: 2, attributes: {site: Hamburg}}")
            .replace("register: {role: clerk,", "register: {role: temp,"))
    write_process("""
        rules:
          - id: berlin_registers
            assign: {activity: register, role: clerk, allow: resource.site == 'Berlin'}
        """, "r.yaml")
    run(write_process(text), tmp_path / "o", seed=1, cases=200, formats=["csv"])
    ev = events(tmp_path / "o")
    assert set(ev.loc[ev["activity"] == "register", "role"]) == {"clerk"}


def test_attributes_alone_change_no_byte(write_process, tmp_path):
    write_process("rules: []\n", "r.yaml")
    plain = LIMITS.replace("    attributes: {approval_limit: 1000, seniority: 1}\n", "").replace(
        "{attributes: {approval_limit: 100000, seniority: 5}}", "{}").replace(
        "{attributes: {approval_limit: 5000, seniority: 3}}", "{}")
    assert "attributes: {approval" not in plain
    run(write_process(plain, "a.yaml"), tmp_path / "a", seed=2, cases=300, formats=["csv"])
    run(write_process(LIMITS, "b.yaml"), tmp_path / "b", seed=2, cases=300, formats=["csv"])
    assert (tmp_path / "a" / "events.csv").read_bytes() == (tmp_path / "b" / "events.csv").read_bytes()


@pytest.mark.parametrize("rules, message", [
    ("""
     rules:
       - id: typo
         assign: {activity: approve, allow: resource.aproval_limit >= amount}
     """,
     "r.yaml:4:49: rules[0].assign.allow: unknown member attribute 'aproval_limit' of 'resource'; did you mean "
     "'approval_limit'? (give it in the role's or the members' attributes) [unknown_field]"),
    ("""
     rules:
       - id: clerks
         assign: {activity: register, allow: resource.seniority > 1}
     """,
     "r.yaml:4:41: rules[0].assign.allow: 'resource.seniority' is read for the members of role 'clerk', but its 2 "
     "generated members have no attribute 'seniority' (give it in the role's attributes, or to each member) "
     "[missing_member_attribute]"),
    ("""
     rules:
       - id: too_early
         when: resource.seniority >= 3
         queue: {activity: approve, value: 3}
     """,
     "r.yaml:4:11: rules[0].when: this condition never holds for the queue action: 'resource' is null (it is set "
     "only in assign.allow, in duration rules and when an activity completes) when queue rules run for 'approve' "
     "(the case reaches it, before it queues) [never_holds]"),
    ("""
     rules:
       - id: wrong_type
         when: resource.seniority == 'high'
         duration: {activity: approve, scale: 2}
     """,
     "r.yaml:4:33: rules[0].when: cannot compare number with string [type_error]"),
])
def test_member_attributes_in_rules_are_checked_at_load(write_process, rules, message):
    write_process(rules, "r.yaml")
    with pytest.raises(SpecError) as info:
        load_process(write_process(LIMITS))
    assert str(info.value).splitlines()[0] == message


def test_missing_attribute_names_the_members(write_process):
    write_process("""
        rules:
          - id: r
            assign: {activity: approve, allow: resource.grade > 1}
        """, "r.yaml")
    text = LIMITS.replace("Cid: {}", "Cid: {attributes: {grade: 2}}")
    with pytest.raises(SpecError) as info:
        load_process(write_process(text))
    assert str(info.value).splitlines() == [
        "r.yaml:4:40: rules[0].assign.allow: 'resource.grade' is read for the members of role 'manager', but 'Ann', "
        "'Bob' have no attribute 'grade' (give it in the role's attributes, or to each member) "
        "[missing_member_attribute]"]


def test_an_attribute_has_one_type(write_process):
    write_process("rules: []\n", "r.yaml")
    with pytest.raises(SpecError) as info:
        load_process(write_process(LIMITS.replace("Cid: {}", "Cid: {attributes: {seniority: senior}}")))
    assert str(info.value).splitlines() == [
        "p.yaml:12:37: roles.manager.members.Cid.attributes.seniority: member attribute 'seniority' is a string here "
        "but a number in role 'manager'; give it one type everywhere [member_attribute_type]"]


# -- multitasking ---------------------------------------------------------------------------------------------

MULTI = """
    clerk:
      members:
        Ann: {multitask: MT}
        Bob: {}
    """


def concurrency(w: pd.DataFrame) -> dict[str, int]:
    """Per member, the most activity instances open at one instant (a completion at t frees before a start at t)."""
    out = {}
    for who, rows in w.groupby("resource"):
        marks = sorted([(t, 1) for t in rows["start"]] + [(t, -1) for t in rows["end"]])
        level = peak = 0
        for _, d in marks:
            level += d
            peak = max(peak, level)
        out[who] = peak
    return out


def test_a_member_with_k_2_holds_up_to_two_tasks_and_never_three(write_process, tmp_path):
    p = write_process(process(MULTI.replace("MT", "2"), "work: {role: clerk, duration: {kind: exponential, "
                              "mean: 30m}, next: done}", interarrival="{kind: exponential, mean: 12m}"))
    run(p, tmp_path / "o", seed=1, cases=2000, formats=["csv"])
    w = work(events(tmp_path / "o"))
    assert concurrency(w) == {"Ann": 2, "Bob": 1}
    # Ann's second slot does real work: she does well over half the instances
    assert (w["resource"] == "Ann").mean() > 0.6
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert manifest["people"]["clerk"]["members"]["Ann"]["multitask"] == 2


def test_k_3_for_the_whole_role(write_process, tmp_path):
    p = write_process(process("clerk: {members: [Ann, Bob], multitask: 3}", "work: {role: clerk, duration: "
                              "{kind: exponential, mean: 60m}, next: done}",
                              interarrival="{kind: exponential, mean: 12m}"))
    run(p, tmp_path / "o", seed=2, cases=1500, formats=["csv"])
    assert concurrency(work(events(tmp_path / "o"))) == {"Ann": 3, "Bob": 3}


def test_k_1_is_today_s_behaviour_byte_for_byte(write_process, tmp_path):
    acts = "work: {role: clerk, duration: {kind: exponential, mean: 30m}, next: done}"
    plain = process("clerk: {members: [Ann, Bob], calendar: office}", acts,
                    interarrival="{kind: exponential, mean: 12m}")
    one = process("clerk: {members: {Ann: {multitask: 1}, Bob: {}}, calendar: office, multitask: {tasks: 1, "
                  "slowdown: 0.5}}",
                  acts, interarrival="{kind: exponential, mean: 12m}")
    run(write_process(plain, "a.yaml"), tmp_path / "a", seed=6, cases=500, formats=["csv"])
    run(write_process(one, "b.yaml"), tmp_path / "b", seed=6, cases=500, formats=["csv"])
    assert (tmp_path / "a" / "events.csv").read_bytes() == (tmp_path / "b" / "events.csv").read_bytes()
    assert concurrency(work(events(tmp_path / "a"))) == {"Ann": 1, "Bob": 1}


def test_slowdown_stretches_a_task_started_while_holding_another(write_process, tmp_path):
    p = write_process(process(MULTI.replace("MT", "{tasks: 2, slowdown: 0.5}"),
                              "work: {role: clerk, duration: 30m, next: done}",
                              interarrival="{kind: exponential, mean: 25m}"))
    run(p, tmp_path / "o", seed=4, cases=1000, formats=["csv"])
    w = work(events(tmp_path / "o"))
    ann = w[w["resource"] == "Ann"]
    # the tasks Ann held when each started, this one included: open instances at that instant
    held = [int(((ann["start"] <= s) & (ann["end"] > s)).sum()) for s in ann["start"]]
    expect = [30 * (1 + 0.5 * (n - 1)) for n in held]
    assert ann["minutes"].round(6).tolist() == expect
    assert held.count(2) > 50 and held.count(1) > 50
    assert set(w.loc[w["resource"] == "Bob", "minutes"].round(6)) == {30.0}


@pytest.mark.parametrize("roles, message", [
    ("clerk: {members: [Ann], multitask: 0}",
     "p.yaml:9:38: roles.clerk.multitask.tasks: Input should be greater than or equal to 1 [greater_than_equal]"),
    ("""
     clerk: {members: [Ann, Bob], multitask: 2}
     expert: {members: [Ann]}
     """,
     "p.yaml:9:43: roles.clerk.multitask: 'Ann' is also a member of 'expert': a member in several roles does one "
     "task at a time (give multitask only to members of one role) [multitask_shared_member]"),
])
def test_multitask_is_validated_with_positions(write_process, roles, message):
    p = write_process(process(roles, "work: {role: clerk, duration: 10m, next: done}"))
    with pytest.raises(SpecError) as info:
        load_process(p)
    assert str(info.value).splitlines() == [message]


def test_the_documented_attributes_and_rules_run(write_process, tmp_path):
    from conftest import REPO

    language = (REPO / "docs" / "process-language.md").read_text()
    roles = language.split("**Attributes.**", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    rules = (REPO / "docs" / "rules.md").read_text()
    rule = rules.split("without listing names", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    write_process(rule.replace("activity: approve, allow: resource.seniority >= 3",
                               "activity: approve, allow: resource.seniority >= 1"), "r.yaml")
    head = ("process: {name: Doc, timezone: Europe/Berlin, start: 2026-03-02T08:00:00+01:00}\n"
            "arrivals: {interarrival: {kind: exponential, mean: 30m}}\n"
            "attributes: {amount: {distribution: {kind: lognormal, mean: 3000, sd: 5000}, round: 2}}\n"
            "rules: [r.yaml]\n"
            "events: {start: {type: start, next: approve}, done: {type: end}}\n"
            "activities: {approve: {role: buyer, duration: 20m, next: done}}\n")
    run(write_process(head + roles), tmp_path / "o", seed=1, cases=400, formats=["csv"])
    ev = events(tmp_path / "o")
    done = ev[ev["lifecycle"] == "complete"]
    limit = done["resource"].map({"Ann Weber": 50000, "Bob Klein": 5000, "Eva Roth": 1000})
    assert (done["amount"] <= limit).all() and (done["amount"] > 5000).any()


def test_procure_to_pay_payment_limits(tmp_path):
    """The bundled example's managers approve payments from 25,000 EUR only within their payment limit."""
    from conftest import REPO

    run(REPO / "processes" / "procure_to_pay.yaml", tmp_path / "o", seed=7, cases=1500, formats=["csv"])
    ev = pd.read_csv(tmp_path / "o" / "events.csv", keep_default_na=False)
    pay = ev[(ev["activity"] == "Approve payment") & (ev["lifecycle"] == "complete")]
    big = pay[pay["gross_amount"] >= 25000]
    assert len(big) > 20
    assert "Miriam Vogel" not in set(big["resource"]) and "Miriam Vogel" in set(pay["resource"])
    assert big["rules"].str.contains("big_payments_by_senior_managers").all()


@pytest.mark.parametrize("policy", ["random", "weighted", "worklist"])
def test_multitask_holds_under_every_assignment_policy(write_process, tmp_path, policy):
    roles = (f"clerk: {{members: {{Ann: {{multitask: 2, weight: 3}}, Bob: {{}}, Cid: {{multitask: 3}}}}, "
             f"calendar: office, assignment: {policy}}}")
    p = write_process(process(roles, "work: {role: clerk, duration: {kind: exponential, mean: 40m}, next: done}",
                              interarrival="{kind: exponential, mean: 12m}"))
    run(p, tmp_path / "o", seed=8, cases=800, formats=["csv"])
    peaks = concurrency(work(events(tmp_path / "o")))
    assert peaks["Bob"] == 1 and 1 <= peaks["Ann"] <= 2 and 1 <= peaks["Cid"] <= 3
    assert peaks["Ann"] == 2 or peaks["Cid"] >= 2  # the extra slots are used
