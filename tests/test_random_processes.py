"""Random valid processes (sequences of activities, XOR choices by probability or condition, AND blocks, bounded
loops, calls of a sub-process; roles with generated or named members, with or without a working calendar): the
simulation's invariants hold on each.

Every case passes every block of the generated sequence, so the log must show, per case: a plain activity once, one
branch of an XOR, both branches of an AND (before what follows the join), a loop's activity 1 to 1 + max times,
a call's copy once per call. On every event: the role the process gives the activity, the resource a member of it
(named members) and free (no one does two things at once), work started in working hours.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from procsim.run import run
from procsim.sim.build import _calendars
from procsim.spec import load_process
from test_invariants import pair_instances

ORIGIN = pd.Timestamp("2026-03-02T08:00:00+01:00")


@dataclass
class Flow:
    """A generated process: its YAML sections and what each case must show."""

    roles: dict[str, str] = field(default_factory=dict)  # role -> YAML value
    activities: dict[str, str] = field(default_factory=dict)
    gateways: dict[str, str] = field(default_factory=dict)
    calls: dict[str, str] = field(default_factory=dict)
    role_of: dict[str, str] = field(default_factory=dict)  # activity label -> role
    once: list[str] = field(default_factory=list)  # labels each case does exactly once
    one_of: list[list[str]] = field(default_factory=list)  # XOR: exactly one of these (none when a branch skips)
    skippable: list[bool] = field(default_factory=list)
    both: list[tuple[str, str, str | None]] = field(default_factory=list)  # AND: a, b, the first label after it
    loops: list[tuple[str, int]] = field(default_factory=list)  # label, max
    n_calls: int = 0
    office: list[tuple[str, str]] = field(default_factory=list)  # roles with a calendar: (role, calendar)

    def act(self, name: str, role: str, minutes: int, nxt: str) -> None:
        self.activities[name] = f"{{role: {role}, duration: {{kind: exponential, mean: {minutes}m}}, next: {nxt}}}"
        self.role_of[name] = role


BLOCKS = ("act", "xor", "and", "loop", "call")


@st.composite
def processes(draw: st.DrawFn) -> tuple[str, Flow]:
    flow = Flow()
    n_roles = draw(st.integers(1, 3))
    roles = [f"r{i}" for i in range(n_roles)]
    for r in roles:
        members = draw(st.one_of(st.integers(1, 3).map(str),
                                 st.integers(1, 3).map(lambda n, r=r: "[" + ", ".join(f"{r.upper()}_{k}"
                                                                                      for k in range(n)) + "]")))
        cal = draw(st.sampled_from(["", ", calendar: office", ", calendar: lunch"]))
        flow.roles[r] = f"{{members: {members}{cal}}}"
        if cal:
            flow.office.append((r, cal.rsplit(" ", 1)[1]))
    kinds = draw(st.lists(st.sampled_from(BLOCKS), min_size=1, max_size=5))
    minutes = st.integers(1, 90)
    role = st.sampled_from(roles)
    # built back to front: each block leads to the entry of the next
    nxt = "done"
    after: str | None = None  # the first activity label after the block being built (for AND ordering)
    for k, kind in reversed(list(enumerate(kinds))):
        if kind == "act":
            name = f"a{k}"
            flow.act(name, draw(role), draw(minutes), nxt)
            flow.once.append(name)
            entry, first = name, name
        elif kind == "xor":
            n = draw(st.integers(2, 3))
            names = [f"x{k}_{i}" for i in range(n)]
            for name in names:
                flow.act(name, draw(role), draw(minutes), nxt)
            skip = draw(st.booleans())
            targets = names + ([nxt] if skip else [])
            if draw(st.booleans()):  # by condition: the last branch is the default
                limits = sorted(draw(st.lists(st.integers(1, 999), min_size=len(targets) - 1,
                                              max_size=len(targets) - 1, unique=True)), reverse=True)
                branches = [f"{{to: {t}, when: 'amount > {lim}'}}" for t, lim in zip(targets, limits)]
                branches.append(f"{{to: {targets[-1]}}}")
            else:
                p = round(1 / len(targets), 4)
                probs = [p] * (len(targets) - 1) + [round(1 - p * (len(targets) - 1), 4)]
                branches = [f"{{to: {t}, probability: {q}}}" for t, q in zip(targets, probs)]
            flow.gateways[f"g{k}"] = "{type: xor, branches: [" + ", ".join(branches) + "]}"
            flow.one_of.append(names)
            flow.skippable.append(skip)
            entry, first = f"g{k}", None
        elif kind == "and":
            a, b = f"p{k}_a", f"p{k}_b"
            flow.act(a, draw(role), draw(minutes), f"j{k}")
            flow.act(b, draw(role), draw(minutes), f"j{k}")
            flow.gateways[f"s{k}"] = f"{{type: and, to: [{a}, {b}]}}"
            flow.gateways[f"j{k}"] = f"{{type: and, next: {nxt}}}"
            flow.both.append((a, b, after))
            entry, first = f"s{k}", None
        elif kind == "loop":
            name, most = f"l{k}", draw(st.integers(1, 3))
            flow.act(name, draw(role), draw(minutes), f"b{k}")
            back = draw(st.sampled_from([0.2, 0.5, 0.8]))
            flow.gateways[f"b{k}"] = (f"{{type: xor, branches: [{{to: {nxt}, probability: {round(1 - back, 2)}}}, "
                                      f"{{to: {name}, probability: {back}, max: {most}}}]}}")
            flow.loops.append((name, most))
            entry, first = name, name
        else:
            flow.calls[f"c{k}"] = f"{{subprocess: review, next: {nxt}}}"
            flow.n_calls += 1
            entry, first = f"c{k}", "read"
        nxt = entry
        after = first
    flow.role_of["read"] = roles[0]
    text = f"""\
process: {{name: Random, timezone: Europe/Berlin, start: 2026-03-02T08:00:00+01:00}}
calendars:
  office: {{days: [mon, tue, wed, thu, fri], hours: ["08:00-17:00"]}}
  lunch: {{days: [mon, tue, wed, thu, fri, sat], hours: ["07:30-12:00", "12:45-16:15"]}}
roles:
{"".join(f"  {r}: {v}" + chr(10) for r, v in flow.roles.items())}arrivals:
  interarrival: {{kind: exponential, mean: {draw(st.integers(5, 120))}m}}
attributes:
  amount: {{distribution: {{kind: uniform, low: 0, high: 1000}}}}
events:
  start: {{type: start, next: {nxt}}}
  done: {{type: end}}
"""
    text += ("activities:\n" + "".join(f"  {n}: {v}\n" for n, v in flow.activities.items())
             if flow.activities else "activities: {}\n")
    if flow.gateways:
        text += "gateways:\n" + "".join(f"  {n}: {v}\n" for n, v in flow.gateways.items())
    if flow.calls:
        text += "calls:\n" + "".join(f"  {n}: {v}\n" for n, v in flow.calls.items())
        text += (f"subprocesses:\n  review:\n    events: {{b: {{type: start, next: read}}, e: {{type: end}}}}\n"
                 f"    activities: {{read: {{role: {roles[0]}, duration: 20m, next: e}}}}\n")
    return text, flow


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generated=processes(), seed=st.integers(0, 2**32 - 1), cases=st.integers(1, 15))
def test_invariants_hold_on_random_processes(generated, seed, cases):
    text, flow = generated
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "p.yaml"
        path.write_text(text)
        loaded = load_process(path)
        run(loaded, Path(d) / "out", seed=seed, cases=cases, formats=["parquet"])
        events = pd.read_parquet(Path(d) / "out" / "events.parquet")
        case_rows = pd.read_csv(Path(d) / "out" / "cases.csv")

    assert len(case_rows) == cases and set(case_rows["status"]) == {"completed"}
    key = list(zip(events["timestamp"], events["case_id"]))
    assert key == sorted(key)
    # every activity is done by the role the process gives it; named members only
    assert (events["role"] == events["activity"].map(flow.role_of)).all(), text
    named = {r: v[v.index("[") + 1:v.index("]")].split(", ") for r, v in flow.roles.items() if "[" in v}
    for r, members in named.items():
        assert set(events.loc[events["role"] == r, "resource"]) <= set(members)
    inst = pair_instances(events)
    for _, work in inst.sort_values(["resource", "start", "end"]).groupby("resource"):
        assert (work["start"].to_numpy()[1:] >= work["end"].to_numpy()[:-1]).all()
    cals = _calendars(loaded.spec)
    for r, cal in flow.office:
        starts = inst.loc[inst["activity"].map(flow.role_of) == r, "start"]
        if starts.empty:  # no case reached this role's activities (an empty object column cannot subtract)
            continue
        secs = (starts - ORIGIN).dt.total_seconds()
        assert all(cals[cal].is_working(round(s, 3)) or cals[cal].is_working(round(s, 3) + 0.001) for s in secs)
    # what each case must show, block by block
    for case in case_rows["case_id"]:
        ci = inst[inst["case_id"] == case]
        done = Counter(ci["activity"])
        for label in flow.once:
            assert done[label] == 1, (label, text)
        for names, skip in zip(flow.one_of, flow.skippable):
            taken = sum(done[n] for n in names)
            assert taken == 1 or (skip and taken == 0), (names, text)
        for a, b, after in flow.both:
            assert done[a] == done[b] == 1
            if after is not None and after != "read":
                joined = ci.loc[ci["activity"].isin([a, b]), "end"].max()
                assert ci.loc[ci["activity"] == after, "start"].min() >= joined
        for label, most in flow.loops:
            assert 1 <= done[label] <= 1 + most
        assert done["read"] == flow.n_calls
