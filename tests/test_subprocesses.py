"""Sub-processes used by reference: one fragment, two calls (one inside an AND branch), run and checked per call."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from conftest import MINI
from procsim.errors import SpecError
from procsim.export import to_dot
from procsim.pnml import process_to_pnml
from procsim.run import run
from procsim.spec import load_process
from test_pnml import complete_events, fit_by_case, read_net

FRAGMENT = """\
subprocesses:
  review:
    description: Read the file; fix it once if needed
    events:
      begin: {type: start, next: read}
      finished: {type: end}
    activities:
      read: {role: clerk, duration: 10m, next: verdict}
      fix: {name: Fix document, role: clerk, duration: 5m, next: read}
    gateways:
      verdict:
        type: xor
        branches:
          - {to: finished, probability: 0.5}
          - {to: fix, probability: 0.5, max: 1}
calls:
  review_a: {subprocess: review, next: join}
  review_b: {subprocess: review, next: decide}
"""
# check_a -> review_a -> join (inside the AND block); join -> review_b -> decide (after it)
SUB = (MINI.replace("    next: join\n  check_b:", "    next: review_a\n  check_b:", 1)
       .replace("  join:\n    type: and\n    next: decide", "  join:\n    type: and\n    next: review_b") + FRAGMENT)


def errors_of(path: Path) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_process(path)
    return str(info.value).splitlines()


def test_each_call_runs_its_own_copy_of_the_fragment(write_process, tmp_path):
    loaded = load_process(write_process(SUB))
    copies = {n for n in loaded.graph.nodes if "." in n}
    assert copies == {f"{c}.{n}" for c in ("review_a", "review_b") for n in ("finished", "read", "fix", "verdict")}
    run(loaded, tmp_path / "o", seed=3, cases=300, formats=["csv"])
    ev = pd.read_csv(tmp_path / "o" / "events.csv")
    done = ev[ev.lifecycle == "complete"]
    # the log names a copied activity as the fragment does: the same task wherever it is called from
    assert set(done.activity) == {"register", "check_a", "check_b", "decide", "read", "Fix document"}
    per_case = done.groupby("case_id").activity.value_counts().unstack(fill_value=0)
    # each call reads once, plus once more after its (at most one) fix: the loop bound counts per call
    assert (per_case["read"] == 2 + per_case["Fix document"]).all()
    assert per_case["Fix document"].max() == 2 and (per_case["Fix document"] == 0).any()
    for _, case in ev.sort_values(["timestamp", "lifecycle"]).groupby("case_id"):
        acts = list(case[case.lifecycle == "complete"].activity)
        # review_a follows check_a, review_b follows both checks and precedes decide
        first_read, last_read = acts.index("read"), len(acts) - 1 - acts[::-1].index("read")
        assert acts.index("check_a") < first_read and max(acts.index("check_a"), acts.index("check_b")) < last_read
        assert last_read < acts.index("decide")


def test_rules_name_a_copy_by_call_and_node(write_process, tmp_path):
    write_process("""
        rules:
          - id: slow_second_review
            duration: {activity: review_b.read, scale: 3}
        """, "rules.yaml")
    loaded = load_process(write_process(SUB + "rules: [rules.yaml]\n"))
    run(loaded, tmp_path / "o", seed=3, cases=200, formats=["csv"])
    ev = pd.read_csv(tmp_path / "o" / "events.csv", keep_default_na=False)
    reads = ev[(ev.activity == "read") & (ev.lifecycle == "start")]
    ruled = reads[reads.rules == "slow_second_review"].groupby("case_id").size()
    plain = reads[reads.rules == ""].groupby("case_id").size()
    # review_b's reads (1 or 2 per case) carry the rule, review_a's do not
    assert len(ruled) == len(plain) == 200
    assert ruled.between(1, 2).all() and plain.between(1, 2).all()


def test_the_exported_net_fits_the_log(write_process, tmp_path):
    loaded = load_process(write_process(SUB))
    net, im, fm = read_net(process_to_pnml(loaded), tmp_path)
    run(loaded, tmp_path / "o", seed=1, cases=150, formats=["csv"])
    fit = fit_by_case(complete_events(tmp_path / "o" / "events.csv"), net, im, fm)
    assert len(fit) == 150 and all(fit.values())


def test_the_picture_draws_each_call_with_its_copy(write_process):
    dot = to_dot(load_process(write_process(SUB)))
    assert '"review_a" [shape=box, style="rounded,bold", label="review_a\\n(sub-process review)"];' in dot
    assert 'subgraph "cluster_review_b" {' in dot
    assert '"review_b.finished" [shape=point, xlabel="finished"];' in dot
    assert '"review_b.finished" -> "decide";' in dot


def test_bad_calls_and_fragments_point_at_their_lines(write_process):
    bad = (SUB.replace("review_b: {subprocess: review,", "review_b: {subprocess: reveiw,")
           .replace("fix: {name: Fix document, role: clerk, duration: 5m, next: read}",
                    "fix: {name: Fix document, role: clerk, duration: 5m, next: decide}"))
    assert errors_of(write_process(bad)) == [
        "p.yaml:64:66: subprocesses.review.activities.fix.next: unknown node 'decide' in sub-process 'review' "
        "(a sub-process leads only to its own nodes) [unknown_node]",
        "p.yaml:73:26: calls.review_b.subprocess: unknown sub-process 'reveiw'; did you mean 'review'? "
        "[unknown_subprocess]",
    ]


def test_a_fragment_is_checked_once_as_a_process_of_its_own(write_process):
    # without its 'max' the fix loop is unbounded: reported once, at the fragment, whatever the number of calls
    lines = errors_of(write_process(SUB.replace("{to: fix, probability: 0.5, max: 1}", "{to: fix, probability: 0.5}")))
    assert lines == [
        "p.yaml:64:7: subprocesses.review.activities.fix: unbounded loop fix -> read -> verdict -> fix: give the "
        "branch that goes back a 'max' [unbounded_loop]",
    ]


EXTRA = {
    # a sub-process nobody calls is checked too
    "lonely": ("  lonely:\n    events:\n      s: {type: start, next: a}\n      e: {type: end}\n      e2: {type: end}\n"
               "    activities:\n      a: {role: nobody, duration: 1m, next: e}\n",
               ["p.yaml:75:7: subprocesses.lonely.events.e2: 'e2' cannot be reached from the start event 's' "
                "[unreachable]",
                "p.yaml:77:17: subprocesses.lonely.activities.a.role: unknown role 'nobody' [unknown_role]"]),
    # an AND split must be closed inside the fragment, not by whatever join follows a call
    "forked": ("  forked:\n    events:\n      s: {type: start, next: sp}\n      e1: {type: end}\n      e2: {type: end}\n"
               "    activities:\n      x: {role: clerk, duration: 1m, next: e1}\n"
               "      y: {role: clerk, duration: 1m, next: e2}\n    gateways:\n      sp: {type: and, to: [x, y]}\n",
               ["p.yaml:80:7: subprocesses.forked.gateways.sp: and split 'sp' is not closed by an and join that all "
                "its branches reach (every branch must meet again at one join gateway) [unbalanced_and]"]),
}


@pytest.mark.parametrize("name", sorted(EXTRA))
def test_more_fragment_problems(write_process, name):
    fragment, expected = EXTRA[name]
    assert errors_of(write_process(SUB.replace("calls:\n", fragment + "calls:\n"))) == expected


def test_a_call_with_an_unknown_next_is_reported_once_at_the_call(write_process):
    bad = SUB.replace("review_b: {subprocess: review, next: decide}", "review_b: {subprocess: review, next: decid}")
    assert errors_of(write_process(bad)) == [
        "p.yaml:73:40: calls.review_b.next: unknown node 'decid'; did you mean 'decide'? [unknown_node]"]


def test_a_bounded_loop_back_to_the_fragments_start_runs_again_from_its_first_node(write_process, tmp_path):
    loop = SUB.replace("fix: {name: Fix document, role: clerk, duration: 5m, next: read}",
                       "fix: {name: Fix document, role: clerk, duration: 5m, next: begin}")
    run(write_process(loop), tmp_path / "o", seed=2, cases=100, formats=["csv"])
    ev = pd.read_csv(tmp_path / "o" / "events.csv")
    per_case = ev[ev.lifecycle == "complete"].groupby("case_id").activity.value_counts().unstack(fill_value=0)
    assert (per_case["read"] == 2 + per_case["Fix document"]).all() and per_case["Fix document"].max() == 2


def test_a_fragment_needs_an_end_and_a_call_a_free_name(write_process):
    bad = (SUB.replace("calls:\n", "  spinning:\n    events:\n      s: {type: start, next: a}\n    activities:\n"
                                   "      a: {role: clerk, duration: 1m, next: s}\ncalls:\n")
           + "  decide: {subprocess: review, next: done}\n")
    assert errors_of(write_process(bad)) == [
        "p.yaml:72:5: subprocesses.spinning.events: a sub-process needs at least one end event [end_events]",
        "p.yaml:79:3: calls.decide: node 'decide' is already defined in activities [duplicate_node]",
    ]


def test_a_schema_problem_elsewhere_leaves_the_calls_standing(write_process):
    # the structure is checked from the raw YAML: a call is a node there too, not an unknown name
    lines = errors_of(write_process(SUB.replace('hours: ["08:00', 'huors: ["08:00').replace(
        "review_b: {subprocess: review, next: decide}", "review_b: {subprocess: review, next: decid}")))
    assert lines == [
        "p.yaml:8:5: calendars.office.huors: unknown key; did you mean 'hours'? [extra_forbidden]",
        "p.yaml:73:40: calls.review_b.next: unknown node 'decid'; did you mean 'decide'? [unknown_node]",
    ]


def test_validate_counts_a_fragment_once_however_often_it_is_called(write_process, tmp_path):
    from test_cli import cli

    write_process(SUB)
    done = cli("validate", "p.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "p.yaml: ok (6 activities, 4 gateways, 1 sub-process, 2 calls, 2 roles, 2 attributes)\n"


def test_exceptions_objects_and_routes_name_a_copy(write_process, tmp_path):
    # every later stage sees the copies as ordinary nodes: an injected skip, an object, a routing rule
    write_process("""
        rules:
          - id: second_review_always_fixes
            route: {gateway: review_b.verdict, to: review_b.fix}
        """, "rules.yaml")
    process = SUB + """\
exceptions:
  - {type: skip_activity, activity: review_a.read, count: 5}
objects:
  review_note:
    number: "RN-{n:05d}"
    created_by: review_b.fix
rules: [rules.yaml]
"""
    run(write_process(process), tmp_path / "o", seed=4, cases=60, formats=["csv", "ocel-json"])
    ev = pd.read_csv(tmp_path / "o" / "events.csv", keep_default_na=False)
    labels = pd.read_csv(tmp_path / "o" / "labels.csv", keep_default_na=False)
    done = ev[ev.lifecycle == "complete"]
    fixes = done[done.activity == "Fix document"].groupby("case_id").size()
    # review_b always fixes once (its loop bound), review_a half the time
    assert len(fixes) == 60 and fixes.between(1, 2).all()
    assert (labels.omitted == "read").sum() == 5  # named as in the log
    import json

    ocel = json.loads((tmp_path / "o" / "ocel.json").read_text())
    notes = [o for o in ocel["objects"] if o["type"] == "review_note"]
    assert len(notes) == 60


NESTED = SUB.replace("calls:\n", """\
  double_check:
    events:
      s: {type: start, next: first}
      e: {type: end}
    activities:
      sign: {name: Sign off, role: boss, duration: 5m, next: e}
    calls:
      first: {subprocess: review, next: sign}
calls:
""").replace("review_b: {subprocess: review, next: decide}", "review_b: {subprocess: double_check, next: decide}")


def test_a_sub_process_may_call_another(write_process, tmp_path):
    loaded = load_process(write_process(NESTED))
    assert {"review_b.first", "review_b.first.read", "review_b.first.fix", "review_b.sign"} <= set(loaded.graph.nodes)
    run(loaded, tmp_path / "o", seed=3, cases=150, formats=["csv"])
    ev = pd.read_csv(tmp_path / "o" / "events.csv")
    per_case = ev[ev.lifecycle == "complete"].groupby("case_id").activity.value_counts().unstack(fill_value=0)
    assert (per_case["read"] == 2 + per_case["Fix document"]).all() and (per_case["Sign off"] == 1).all()
    for _, case in ev[ev.lifecycle == "complete"].sort_values(["timestamp"], kind="stable").groupby("case_id"):
        acts = list(case.activity)
        assert acts.index("Sign off") < acts.index("decide")  # the inner review, then the sign-off, then on
    dot = to_dot(loaded)
    # the inner call's box is drawn inside its caller's
    assert '    subgraph "cluster_review_b.first" {\n      label="review_b.first: review"; style=dashed;' in dot


def test_sub_processes_cannot_call_themselves(write_process):
    looping = NESTED.replace("""    gateways:
      verdict:""", """    calls:
      again: {subprocess: double_check, next: finished}
    gateways:
      verdict:""").replace("- {to: finished, probability: 0.5}", "- {to: again, probability: 0.5}")
    assert errors_of(write_process(looping)) == [
        "p.yaml:66:27: subprocesses.review.calls.again.subprocess: sub-process 'review' calls 'double_check', which "
        "leads back to 'review': a sub-process cannot call itself [call_cycle]",
        "p.yaml:80:27: subprocesses.double_check.calls.first.subprocess: sub-process 'double_check' calls 'review', "
        "which leads back to 'double_check': a sub-process cannot call itself [call_cycle]",
    ]


def test_a_sub_process_of_calls_only_and_its_call_problems_by_their_key(write_process, tmp_path):
    only_calls = SUB.replace("calls:\n", """\
  twice:
    events:
      s: {type: start, next: x}
      e: {type: end}
    calls:
      x: {subprocess: review, next: y}
      y: {subprocess: review, next: e}
calls:
""").replace("review_b: {subprocess: review, next: decide}", "review_b: {subprocess: twice, next: decide}")
    run(write_process(only_calls), tmp_path / "o", seed=5, cases=40, formats=["csv"])
    ev = pd.read_csv(tmp_path / "o" / "events.csv")
    reads = ev[(ev.activity == "read") & (ev.lifecycle == "complete")].groupby("case_id").size()
    assert len(reads) == 40 and reads.between(3, 6).all()  # review_a once, review_b's two calls: 1-2 reads each
    # a problem on a call inside a sub-process names the call as written
    stuck = only_calls.replace("y: {subprocess: review, next: e}", "y: {subprocess: review, next: y}")
    assert errors_of(write_process(stuck)) == [
        "p.yaml:73:7: subprocesses.twice.events.s: no path leads from 's' to an end event [dead_end]",
        "p.yaml:74:7: subprocesses.twice.events.e: 'e' cannot be reached from the start event 's' [unreachable]",
        "p.yaml:76:7: subprocesses.twice.calls.x: no path leads from 'x' to an end event [dead_end]",
        "p.yaml:77:7: subprocesses.twice.calls.y: no path leads from 'y' to an end event [dead_end]",
        "p.yaml:77:7: subprocesses.twice.calls.y: unbounded loop y -> y: give the branch that goes back a 'max' "
        "[unbounded_loop]",
    ]


def test_a_condition_in_a_sub_process_is_checked_once_at_its_line(write_process):
    bad = SUB.replace("- {to: finished, probability: 0.5}", "- {to: finished, when: amout > 5}").replace(
        "- {to: fix, probability: 0.5, max: 1}", "- {to: fix, when: amount > 500, max: 1}\n          - {to: finished}")
    assert errors_of(write_process(bad)) == [
        "p.yaml:69:34: subprocesses.review.gateways.verdict.branches[0].when: unknown name 'amout'; did you mean "
        "'amount'? [unknown_name]",
        "    amout > 5",
        "    ^",
    ]


def test_expansion_leaves_the_written_spec_as_the_user_wrote_it(write_process):
    from ruamel.yaml import YAML

    path = write_process(SUB)
    raw = YAML(typ="safe").load(path.read_text())
    loaded = load_process(path)
    written = loaded.written
    assert written is not None and written is not loaded.spec
    # exactly the YAML's nodes: the calls are calls, no copies anywhere
    assert sorted(written.activities) == sorted(raw["activities"])
    assert sorted(written.gateways) == sorted(raw["gateways"])
    assert sorted(written.calls) == ["review_a", "review_b"]
    assert written._calls == {}
    # the spec that runs has the copies, and says what each call became
    assert set(loaded.spec.activities) == set(raw["activities"]) | {
        f"{c}.{n}" for c in ("review_a", "review_b") for n in ("read", "fix")}
    assert {"review_a", "review_b", "review_a.verdict", "review_b.finished"} <= set(loaded.spec.gateways)
    assert sorted(loaded.spec._calls) == ["review_a", "review_b"]
    # what both share is the same frozen models: nothing was copied that did not need to be
    assert loaded.spec.activities["register"] is written.activities["register"]
