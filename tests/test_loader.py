"""The spec stage: YAML 1.2 reading, pydantic validation and the exact text of every user-facing error."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import MINI
from procsim.errors import SpecError
from procsim.spec import load_process
from procsim.spec.loader import read_yaml


def errors_of(path: Path) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_process(path)
    assert info.value.exit_code == 2
    return str(info.value).splitlines()


def test_minimal_process_loads(write_process):
    loaded = load_process(write_process(MINI))
    assert list(loaded.spec.activities) == ["register", "check_a", "check_b", "decide"]
    assert loaded.graph.number_of_edges() == 10


def test_yaml_1_2_keeps_no_and_leading_zeros_as_strings(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("country: NO\nzip: 012345\nflag: yes\non: off\n")
    data, _ = read_yaml(path)
    assert data == {"country": "NO", "zip": 12345, "flag": "yes", "on": "off"}
    # YAML 1.2: 012345 is a decimal with a leading zero, not octal 5349
    assert data["zip"] != 5349


def test_every_schema_problem_at_once_with_positions(write_process):
    bad = (MINI.replace("duration: {kind: exponential, mean: 10m}", "duraton: {kind: exponential, mean: 10m}")
           .replace("mean: 20m}", "mean: -5m}")
           .replace("{to: done, probability: 0.8}", "{to: done, probability: 0.7}")
           .replace("duration: 15m", "duration: 15 parsecs")
           .replace("members: 2", "members: two"))
    lines = errors_of(write_process(bad))
    assert lines == [
        "p.yaml:11:14: roles.clerk.members: members is a number of people, a list of their names, or a mapping of "
        "names to their own settings, not 'two' "
        "[value_error]",
        "p.yaml:17:43: arrivals.interarrival.mean: negative duration '-5m' [value_error]",
        "p.yaml:28:3: activities.register: required key 'duration' is missing [missing]",
        "p.yaml:30:5: activities.register.duraton: unknown key; did you mean 'duration'? [extra_forbidden]",
        "p.yaml:34:15: activities.check_a.duration.value: invalid duration '15 parsecs': use a number with a unit, "
        "like '15m', '2h' or '1d 4h' [value_error]",
        "p.yaml:52:5: gateways.ok: branch probabilities must sum to 1 (they sum to 0.9) [value_error]",
    ]


def test_unknown_key_inside_a_distribution_suggests_that_kinds_fields(write_process):
    lines = errors_of(write_process(MINI.replace("{kind: triangular, low: 5m, mode: 10m, high: 30m}",
                                                 "{kind: triangular, low: 5m, mod: 10m, high: 30m}")))
    assert lines[-1] == ("p.yaml:42:43: activities.decide.duration.mod: unknown key; did you mean 'mode'? "
                         "[extra_forbidden]")


def test_bare_number_duration_needs_a_unit(write_process):
    assert errors_of(write_process(MINI.replace("duration: 15m", "duration: 15"))) == [
        "p.yaml:34:15: activities.check_a.duration: durations need a unit, like '15m' or '2h' [unit_missing]"]


def test_duplicate_key_and_syntax_errors(write_process):
    dup = MINI.replace("region:\n    choice", "region:\n    choice: {a: 1}\n    choice")
    assert errors_of(write_process(dup)) == ['p.yaml:24:5: YAML: duplicate key "choice" [yaml_syntax]']
    broken = MINI.replace("name: Mini", "name: [Mini")
    assert errors_of(write_process(broken)) == [
        "p.yaml:3:11: YAML: expected ',' or ']', but got ':' [yaml_syntax]"]


def test_missing_file_and_non_mapping(tmp_path):
    assert errors_of(tmp_path / "nope.yaml")[0].endswith("nope.yaml:1:1: file not found [not_found]")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    assert "a process file is a mapping" in errors_of(tmp_path / "list.yaml")[0]


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("timezone: Europe/Berlin", "timezone: Europe/Berlln",
     "p.yaml:3:13: process.timezone: unknown time zone 'Europe/Berlln' (use an IANA name like 'Europe/Berlin') "
     "[value_error]"),
    ("start: 2026-03-02T08:00:00+01:00", "start: 2026-03-02T08:00:00",
     "p.yaml:4:10: process.start: start needs a UTC offset, like 2026-01-05T08:00:00+01:00 [value_error]"),
    ('hours: ["08:00-12:00", "13:00-17:00"]', 'hours: ["08:00-12:00", "17:00-13:00"]',
     "p.yaml:8:28: calendars.office.hours[1]: invalid time range '17:00-13:00': the end must be after the start "
     "[value_error]"),
    ("choice: {north: 0.5, south: 0.5}", "choice: {north: 0.5, south: 0.6}",
     "p.yaml:23:5: attributes.region: choice weights must sum to 1 (they sum to 1.1) [value_error]"),
    ("members: [Ann, Bob]", "members: [Ann, Ann]",
     "p.yaml:14:14: roles.boss.members: duplicate member names: Ann [value_error]"),
])
def test_field_errors(write_process, old, new, expected):
    assert old in MINI
    assert errors_of(write_process(MINI.replace(old, new))) == [expected]


def test_expression_error_has_a_caret(write_process):
    bad = MINI.replace("{to: done, probability: 0.8}", "{to: done, when: \"ammount > 500 and region == 'north'\"}")
    bad = bad.replace("{to: decide, probability: 0.2, max: 2}", "{to: decide, probability: 1.0}")
    text = "\n".join(errors_of(write_process(bad)))
    # the structural problem and the expression problem are reported together
    assert text == ("p.yaml:40:3: activities.decide: unbounded loop decide -> ok -> decide: give the branch that "
                    "goes back a 'max' [unbounded_loop]\n"
                    "p.yaml:54:27: gateways.ok.branches[0].when: unknown name 'ammount'; "
                    "did you mean 'amount'? [unknown_name]\n"
                    "    ammount > 500 and region == 'north'\n"
                    "    ^")


def test_unknown_faker_provider(write_process):
    bad = MINI.replace("attributes:\n", "attributes:\n  supplier:\n    faker: compnay\n")
    assert errors_of(write_process(bad)) == [
        "p.yaml:20:12: attributes.supplier.faker: unknown faker provider 'compnay' [unknown_provider]"]


def test_expression_split_by_a_flow_mapping_comma_gets_a_hint(write_process):
    bad = MINI.replace("    round: 2\n  region:", "    round: 2\n  net: {expr: round(amount / 1.19, 2)}\n  region:")
    assert errors_of(write_process(bad)) == [
        "p.yaml:22:36: attributes.net.2): unknown key; it looks like part of an expression: inside {...} a comma "
        "ends the value, so put the expression in quotes [extra_forbidden]"]


def test_schema_and_structure_problems_are_reported_together(write_process):
    # schema: a misspelt calendar key, a missing duration; structure: an unknown role, an unreachable activity
    bad = (MINI.replace('hours: ["08:00-12:00"', 'huors: ["08:00-12:00"')
           .replace("duration: {kind: exponential, mean: 10m}", "")
           .replace("role: boss\n    duration: {kind: triangular", "role: bos\n    duration: {kind: triangular")
           .replace("gateways:\n", "  archive:\n    role: clerk\n    duration: 5m\n    next: done\ngateways:\n"))
    assert errors_of(write_process(bad)) == [
        "p.yaml:8:5: calendars.office.huors: unknown key; did you mean 'hours'? [extra_forbidden]",
        "p.yaml:28:3: activities.register: required key 'duration' is missing [missing]",
        "p.yaml:41:11: activities.decide.role: unknown role 'bos'; did you mean 'boss'? [unknown_role]",
        "p.yaml:44:3: activities.archive: 'archive' cannot be reached from the start event 'start' [unreachable]",
    ]


def test_structure_is_not_checked_when_the_flow_itself_is_broken(write_process):
    # a misspelt 'next' would make every later node look unreachable: only the schema problem is reported
    lines = errors_of(write_process(MINI.replace("    next: split", "    nxt: split")))
    assert lines == [
        "p.yaml:28:3: activities.register: required key 'next' is missing [missing]",
        "p.yaml:31:5: activities.register.nxt: unknown key; did you mean 'next'? [extra_forbidden]",
    ]


@pytest.mark.parametrize(("old", "new", "expected"), [
    # a key that is no name (YAML reads 1 as a number) in a flow section: the schema problem only, no crash
    ("  done: {type: end}\n", "  done: {type: end}\n  1: {type: end}\n",
     ["p.yaml:27:6: events[1]: Input should be a valid string [string_type]"]),
    # ... elsewhere: the structure is still checked, around it
    ("roles:\n", "roles:\n  7: {members: 1}\n",
     ["p.yaml:10:6: roles[7]: Input should be a valid string [string_type]"]),
    # a whole flow section missing (misspelt): no echo of it as unknown nodes
    ("activities:\n", "activitiez:\n",
     ["p.yaml:1:1: required key 'activities' is missing [missing]",
      "p.yaml:27:1: activitiez: unknown key; did you mean 'activities'? [extra_forbidden]"]),
])
def test_the_structure_check_after_a_schema_problem_stays_quiet_where_it_must(write_process, old, new, expected):
    assert errors_of(write_process(MINI.replace(old, new))) == expected
