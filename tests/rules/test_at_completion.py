"""Issue 12, the rule fix on ``resource``: tables and ``set`` rules run when an activity completes see who did
it (``resource``, with ``resource.<attribute>``) and the role they worked in; null without a role."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pandas as pd
import pytest

from procsim.errors import SpecError
from procsim.run import run
from procsim.spec import load_process

PROCESS = """\
process:
  name: Invoice approval
  timezone: Europe/Berlin
  start: 2026-03-02T08:00:00+01:00
  case_prefix: INV-
roles:
  clerk: {members: 2}
  manager:
    attributes: {payment_limit: 1000}
    members:
      Ann Fast: {attributes: {payment_limit: 50000}}
      Bob Slow: {attributes: {payment_limit: 5000}}
      Cid Mid: {}
  treasury: {members: [Tia Pay, Tom Pay]}
arrivals:
  interarrival: {kind: exponential, mean: 20m}
attributes:
  amount: {distribution: {kind: lognormal, mean: 3000, sd: 4000}, round: 2}
  approved_by: {value: ''}
  approver_role: {value: ''}
  paid_by: {value: 'nobody'}
  over_limit: {value: false}
  limit_seen: {value: 0}
  needs_second_approval: {value: false}
rules: [rules.yaml]
events:
  start: {type: start, next: register}
  done: {type: end}
activities:
  register: {role: clerk, duration: 5m, next: approve}
  approve: {role: manager, duration: {kind: lognormal, mean: 20m, sd: 10m}, next: book}
  book: {duration: 1m, next: pay}
  pay:
    role: treasury
    duration: 30m
    batch: {size: 5, timeout: 1d}
    next: done
"""


def setup(write_process, rules: str, process: str = PROCESS) -> Path:
    write_process(textwrap.dedent(rules).lstrip("\n"), "rules.yaml")
    return write_process(process)


def events(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "events.csv", keep_default_na=False)


def completes(ev: pd.DataFrame, activity: str) -> pd.DataFrame:
    return ev[(ev["activity"] == activity) & (ev["lifecycle"] == "complete")].set_index("case_id")


def errors(path: Path) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_process(path)
    return str(info.value).splitlines()


def test_set_resource_at_approve_is_the_member_in_the_log(write_process, tmp_path):
    p = setup(write_process, """
        rules:
          - id: who_approved
            set: {approved_by: resource, approver_role: role}
            at: approve
        """)
    run(p, tmp_path / "o", seed=7, cases=2000, formats=["csv"])
    ev = events(tmp_path / "o")
    done = completes(ev, "approve")
    assert len(done) == 2000
    assert set(done["resource"]) == {"Ann Fast", "Bob Slow", "Cid Mid"}
    # the value set at completion is on the complete event itself and on every later event of the case
    assert (done["approved_by"] == done["resource"]).all()
    assert (done["approver_role"] == "manager").all()
    later = completes(ev, "pay")
    assert (later["approved_by"] == done.loc[later.index, "resource"]).all()
    cases = pd.read_csv(tmp_path / "o" / "cases.csv", keep_default_na=False).set_index("case_id")
    assert (cases.loc[done.index, "approved_by"] == done["resource"]).all()
    # before approve completes, nobody has approved
    reg = completes(ev, "register")
    assert (reg["approved_by"] == "").all()


def test_member_attribute_condition_at_completion_acts_for_those_members_only(write_process, tmp_path):
    p = setup(write_process, """
        rules:
          - id: above_limit
            when: resource.payment_limit < amount
            set: {over_limit: true, limit_seen: resource.payment_limit}
            at: approve
        """)
    run(p, tmp_path / "o", seed=3, cases=2000, formats=["csv"])
    done = completes(events(tmp_path / "o"), "approve")
    limit = done["resource"].map({"Ann Fast": 50000, "Bob Slow": 5000, "Cid Mid": 1000})
    over = done["amount"] > limit
    assert over.sum() > 100 and (~over).sum() > 100  # both outcomes happen
    assert (done["over_limit"].astype(str) == over.map({True: "True", False: "False"})).all()
    assert (done["rules"] == "above_limit").eq(over).all()
    # the attribute read is the approving member's own (the role's 1000 for Cid, who has none of his own)
    assert (done.loc[over, "limit_seen"].astype(float) == limit[over]).all()
    assert (done.loc[~over, "limit_seen"].astype(float) == 0).all()
    # each member crosses their own limit: not one manager's limit for all
    assert set(done.loc[over, "resource"]) == {"Ann Fast", "Bob Slow", "Cid Mid"}


def test_a_role_less_activity_gives_null(write_process, tmp_path):
    p = setup(write_process, """
        rules:
          - id: who_booked
            set: {paid_by: "resource if resource != null else 'automatic'", approver_role: "role or 'none'"}
            at: book
        """)
    run(p, tmp_path / "o", seed=1, cases=300, formats=["csv"])
    done = completes(events(tmp_path / "o"), "book")
    assert len(done) == 300
    assert (done["paid_by"] == "automatic").all() and (done["approver_role"] == "none").all()


def test_a_batched_activity_gives_the_batchs_member(write_process, tmp_path):
    p = setup(write_process, """
        rules:
          - id: who_paid
            set: {paid_by: resource, approver_role: role}
            at: pay
        """)
    run(p, tmp_path / "o", seed=5, cases=500, formats=["csv"])
    ev = events(tmp_path / "o")
    done = completes(ev, "pay")
    assert len(done) == 500
    assert set(done["resource"]) == {"Tia Pay", "Tom Pay"}
    assert (done["paid_by"] == done["resource"]).all() and (done["approver_role"] == "treasury").all()
    # and the batches really are batches: several cases, one member each
    by_batch = done.groupby("batch")["paid_by"]
    assert by_batch.nunique().max() == 1 and by_batch.size().max() == 5


def test_a_table_at_completion_reads_the_member(write_process, tmp_path):
    p = setup(write_process, """
        tables:
          - id: limits
            at: approve
            inputs: [resource.payment_limit]
            outputs: [limit_seen]
            rows:
              - [">= 10000", 3]
              - ["-", 1]
        """)
    run(p, tmp_path / "o", seed=2, cases=300, formats=["csv"])
    done = completes(events(tmp_path / "o"), "approve")
    expected = done["resource"].map({"Ann Fast": 3, "Bob Slow": 1, "Cid Mid": 1})
    assert (done["limit_seen"].astype(int) == expected).all()
    assert set(done["resource"]) == {"Ann Fast", "Bob Slow", "Cid Mid"}


def test_a_condition_on_resource_at_a_role_less_completion_is_refused(write_process):
    p = setup(write_process, """
        rules:
          - id: r
            when: resource == 'Ann Fast'
            set: {over_limit: true}
            at: book
          - id: s
            when: resource.payment_limit > 1
            set: {over_limit: true}
          - id: ok
            when: resource == 'Ann Fast'
            set: {over_limit: true}
            at: approve
        """)
    assert errors(p) == [
        "rules.yaml:3:11: rules[0].when: this condition never holds for the set action: 'resource' is null "
        "('book' has no role: nobody does the work) when 'book' completes (set rules with 'at' run then) "
        "[never_holds]",
        "rules.yaml:7:11: rules[1].when: this condition never holds for the set action: 'resource' is null "
        "(it is set only in assign.allow, in duration rules and when an activity completes) when the case "
        "starts [never_holds]",
    ]


def test_a_role_condition_at_completion_is_judged_by_the_activitys_role(write_process):
    p = setup(write_process, """
        rules:
          - id: r
            when: role == 'clerk' and amount > 1
            set: {over_limit: true}
            at: approve
          - id: s
            when: role == 'manager' or amount > 1
            set: {over_limit: true}
            at: approve
        """)
    with pytest.raises(SpecError) as info:
        load_process(p)
    assert str(info.value).splitlines() == [
        "rules.yaml:3:11: rules[0].when: this condition never holds for the set action: 'role' is 'manager' "
        "when 'approve' completes (set rules with 'at' run then) [never_holds]"]


MISSING = [
    ("""
     rules:
       - id: r
         when: resource.payment_limit > amount
         set: {over_limit: true}
         at: pay
     """, "rules.yaml:3:11: rules[0].when: 'resource.payment_limit' is read for the members of role 'treasury', "
          "but 'Tia Pay', 'Tom Pay' have no attribute 'payment_limit' (give it in the role's attributes, or to each "
          "member) [missing_member_attribute]"),
    ("""
     rules:
       - id: r
         set: {limit_seen: resource.payment_limit}
         at: pay
     """, "rules.yaml:3:23: rules[0].set.limit_seen: 'resource.payment_limit' is read for the members of role "
          "'treasury', but 'Tia Pay', 'Tom Pay' have no attribute 'payment_limit' (give it in the role's "
          "attributes, or to each member) [missing_member_attribute]"),
    ("""
     tables:
       - id: t
         at: pay
         inputs: [resource.payment_limit]
         outputs: [limit_seen]
         rows: [["-", 1]]
     """, "rules.yaml:4:14: tables[0].inputs[0]: 'resource.payment_limit' is read for the members of role "
          "'treasury', but 'Tia Pay', 'Tom Pay' have no attribute 'payment_limit' (give it in the role's "
          "attributes, or to each member) [missing_member_attribute]"),
]


@pytest.mark.parametrize("rules, message", MISSING)
def test_every_member_who_can_have_done_it_must_have_the_attribute(write_process, rules, message):
    p = setup(write_process, rules)
    assert errors(p) == [message]


def test_the_attribute_types_are_checked_at_completion(write_process):
    p = setup(write_process, """
        rules:
          - id: r
            when: resource.payment_limit == 'high'
            set: {over_limit: true}
            at: approve
        """)
    assert errors(p)[0] == "rules.yaml:3:37: rules[0].when: cannot compare number with string [type_error]"


def test_the_example_in_rules_md_works(write_process, tmp_path):
    from conftest import REPO

    doc = (REPO / "docs" / "rules.md").read_text(encoding="utf-8")
    sample = doc.split("Who approved, and whether", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    p = setup(write_process, sample)
    run(p, tmp_path / "o", seed=4, cases=500, formats=["csv"])
    done = completes(events(tmp_path / "o"), "approve")
    limit = done["resource"].map({"Ann Fast": 50000, "Bob Slow": 5000, "Cid Mid": 1000})
    assert (done["approved_by"] == done["resource"]).all()
    over = done["amount"] > limit
    assert over.any() and (~over).any()
    assert (done["needs_second_approval"].astype(str) == over.map({True: "True", False: "False"})).all()


def test_role_at_completion_is_the_role_an_assign_rule_chose(write_process, tmp_path):
    # 'approve' belongs to 'manager', but an assign rule hands large amounts to 'treasury': at completion
    # `role` is the role the member worked in, so `role == 'treasury'` is not refused as never holding there
    p = setup(write_process, """
        rules:
          - id: large_to_treasury
            when: amount > 8000
            assign: {activity: approve, role: treasury}
          - id: treasury_approved
            when: role == 'treasury'
            set: {approver_role: role, approved_by: resource}
            at: approve
        """)
    assert load_process(p).warnings == []
    run(p, tmp_path / "o", seed=6, cases=1000, formats=["csv"])
    done = completes(events(tmp_path / "o"), "approve")
    moved = done["amount"] > 8000
    assert moved.sum() > 30 and (~moved).sum() > 300
    assert (done["role"] == moved.map({True: "treasury", False: "manager"})).all()
    assert (done["approver_role"] == moved.map({True: "treasury", False: ""})).all()
    assert (done.loc[moved, "approved_by"] == done.loc[moved, "resource"]).all()
    assert set(done.loc[moved, "resource"]) == {"Tia Pay", "Tom Pay"}


def test_a_role_less_activity_an_assign_rule_gives_a_role_has_a_member(write_process, tmp_path):
    # 'book' is automatic unless an assign rule hands it to a clerk: then a member did it, and a condition on
    # `resource` (at completion or in a duration rule) is the case's to decide, not refused
    p = setup(write_process, """
        rules:
          - id: clerks_book_large
            when: amount > 8000
            assign: {activity: book, role: clerk}
          - id: booked_by_hand
            when: resource != null
            set: {paid_by: resource, approver_role: role}
            at: book
          - id: hand_booking_is_slow
            when: role == 'clerk'
            duration: {activity: book, scale: 10}
        """)
    assert load_process(p).warnings == []
    run(p, tmp_path / "o", seed=6, cases=1000, formats=["csv"])
    done = completes(events(tmp_path / "o"), "book")
    by_hand = done["amount"] > 8000
    assert by_hand.sum() > 30
    assert (done.loc[by_hand, "paid_by"] == done.loc[by_hand, "resource"]).all()
    assert (done.loc[by_hand, "approver_role"] == "clerk").all()
    assert (done.loc[~by_hand, "paid_by"] == "nobody").all() and (done.loc[~by_hand, "resource"] == "").all()
