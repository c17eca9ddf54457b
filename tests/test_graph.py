"""Structural checks on the process graph: references, reachability, AND balance, loop bounds."""

from __future__ import annotations

import pytest

from conftest import MINI
from procsim.errors import SpecError
from procsim.spec import load_process


def problems(write_process, text: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_process(write_process(text))
    return str(info.value).splitlines()


def test_unknown_references_with_suggestions_all_at_once(write_process):
    bad = (MINI.replace("next: join\n  check_b", "next: joinn\n  check_b")
           .replace("calendar: office\n  boss", "calendar: ofice\n  boss")
           .replace("role: boss\n    duration: {kind: uniform", "role: bos\n    duration: {kind: uniform"))
    assert problems(write_process, bad) == [
        "p.yaml:12:15: roles.clerk.calendar: unknown calendar 'ofice'; did you mean 'office'? [unknown_calendar]",
        "p.yaml:35:11: activities.check_a.next: unknown node 'joinn'; did you mean 'join'? [unknown_node]",
        "p.yaml:37:11: activities.check_b.role: unknown role 'bos'; did you mean 'boss'? [unknown_role]",
    ]


def test_unbounded_loop(write_process):
    bad = MINI.replace("{to: decide, probability: 0.2, max: 2}", "{to: decide, probability: 0.2}")
    assert problems(write_process, bad) == [
        "p.yaml:40:3: activities.decide: unbounded loop decide -> ok -> decide: give the branch that goes back "
        "a 'max' [unbounded_loop]"]


def test_and_split_must_be_closed_by_an_and_join(write_process):
    bad = MINI.replace("  join:\n    type: and\n    next: decide", "  join:\n    type: xor\n    next: decide")
    assert problems(write_process, bad) == [
        "p.yaml:45:3: gateways.split: and split 'split' is not closed by an and join that all its branches reach "
        "(every branch must meet again at one join gateway) [unbalanced_and]"]


def test_and_branch_leaving_the_block_is_rejected(write_process):
    # check_b jumps to the end: the split's branches no longer meet at the join
    bad = MINI.replace("duration: {kind: uniform, low: 5m, high: 25m}\n    next: join",
                       "duration: {kind: uniform, low: 5m, high: 25m}\n    next: done")
    lines = problems(write_process, bad)
    assert any("[unbalanced_and]" in line and "gateways.split" in line for line in lines)


def test_unreachable_and_dead_end_nodes(write_process):
    bad = MINI + "  orphan:\n    type: xor\n    next: done\n"
    assert problems(write_process, bad) == [
        "p.yaml:56:3: gateways.orphan: 'orphan' cannot be reached from the start event 'start' [unreachable]"]
    loop_only = MINI.replace("{to: done, probability: 0.8}", "{to: register, probability: 0.8}")
    lines = problems(write_process, loop_only)
    assert "p.yaml:26:3: events.done: 'done' cannot be reached from the start event 'start' [unreachable]" in lines
    # nothing after 'ok' leads to the end any more: every node is a dead end, and the loop back has no bound
    assert "p.yaml:25:3: events.start: no path leads from 'start' to an end event [dead_end]" in lines
    assert "p.yaml:51:3: gateways.ok: no path leads from 'ok' to an end event [dead_end]" in lines
    assert sum("[dead_end]" in line for line in lines) == 8
    assert [line for line in lines if "[unbounded_loop]" in line] == [
        "p.yaml:32:3: activities.check_a: unbounded loop check_a -> join -> decide -> ok -> register -> split -> "
        "check_a: give the branch that goes back a 'max' [unbounded_loop]"]


def test_start_and_end_events(write_process):
    no_end = MINI.replace("  done: {type: end}\n", "").replace("{to: done,", "{to: register,")
    lines = problems(write_process, no_end)
    assert lines[0] == "p.yaml:24:1: events: a process needs at least one end event [end_events]"


def test_node_names_are_one_namespace(write_process):
    bad = MINI.replace("  ok:\n    type: xor", "  register:\n    type: xor\n    next: done\n  ok:\n    type: xor")
    lines = problems(write_process, bad)
    assert lines[0].endswith("gateways.register: node 'register' is already defined in activities "
                             "[duplicate_node]")


def test_default_branch_required(write_process):
    bad = MINI.replace("{to: done, probability: 0.8}", "{to: done, probability: 0.8, max: 1}")
    lines = problems(write_process, bad)
    assert lines == ["p.yaml:54:7: gateways.ok.branches: at least one branch must have neither 'max' nor 'when', "
                     "so the case can go on when the others are used up [no_default_branch]"]
