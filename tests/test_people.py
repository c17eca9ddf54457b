"""People who differ (issue 12): member speed, own calendars and part-time, absences, members in several roles,
and assignment policies; each feature's effect on the log is pinned here."""

from __future__ import annotations

import textwrap
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from procsim.errors import SpecError
from procsim.run import run
from procsim.sim.build import build_model
from procsim.spec import load_process

BASE = """\
process:
  name: People
  timezone: Europe/Berlin
  start: 2026-03-02T08:00:00+01:00
calendars:
  office: {days: [mon, tue, wed, thu, fri], hours: ["08:00-12:00", "13:00-17:00"]}
  early_week: {days: [mon, tue, wed], hours: ["09:00-13:00"]}
roles:
ROLES
arrivals:
  interarrival: INTERARRIVAL
events:
  start: {type: start, next: FIRST}
  done: {type: end}
activities:
ACTIVITIES
"""


def process(roles: str, activities: str, first: str = "work", interarrival: str = "{kind: exponential, mean: 2h}"
            ) -> str:
    ind = lambda t: textwrap.indent(textwrap.dedent(t).strip("\n"), "  ")  # noqa: E731
    return (BASE.replace("ROLES", ind(roles)).replace("ACTIVITIES", ind(activities)).replace("FIRST", first)
            .replace("INTERARRIVAL", interarrival))


def events(out: Path) -> pd.DataFrame:
    ev = pd.read_csv(out / "events.csv", keep_default_na=False)
    ev["t"] = pd.to_datetime(ev["timestamp"], utc=True, format="ISO8601")
    return ev


def work(ev: pd.DataFrame) -> pd.DataFrame:
    """One row per activity instance: who, start, end, minutes."""
    ev = ev.assign(n=ev.groupby(["case_id", "activity", "lifecycle"]).cumcount())
    s = ev[ev["lifecycle"] == "start"].set_index(["case_id", "activity", "n"])
    c = ev[ev["lifecycle"] == "complete"].set_index(["case_id", "activity", "n"])
    w = pd.DataFrame({"resource": s["resource"], "role": s["role"], "start": s["t"], "end": c["t"]}).reset_index()
    w["minutes"] = (w["end"] - w["start"]).dt.total_seconds() / 60
    return w


def gini(x: list[float]) -> float:
    n, mean = len(x), sum(x) / len(x)
    return sum(abs(a - b) for a in x for b in x) / (2 * n * n * mean)


def test_speed_factor_per_member(write_process, tmp_path):
    p = write_process(process("""
        clerk:
          members:
            Ann: {speed: 1.5}
            Bob: {}
        """, """
        work: {role: clerk, duration: 30m, next: review}
        review: {role: clerk, duration: {kind: lognormal, mean: 20m, sd: 10m}, next: done}
        """, interarrival="{kind: exponential, mean: 50m}"))
    run(p, tmp_path / "o", seed=3, cases=2000, formats=["csv"])
    w = work(events(tmp_path / "o"))
    fixed = w[w["activity"] == "work"].groupby("resource")["minutes"]
    # speed 1.5: the same work in 1/1.5 of the time; the default speed is 1
    assert fixed.min().round(6).to_dict() == {"Ann": 20.0, "Bob": 30.0}
    assert fixed.max().round(6).to_dict() == {"Ann": 20.0, "Bob": 30.0}
    drawn = w[w["activity"] == "review"].groupby("resource")["minutes"]
    mean, sd, n = drawn.mean(), drawn.std(), drawn.count()
    ratio = mean["Bob"] / mean["Ann"]
    se = ratio * ((sd / mean) ** 2 / n).sum() ** 0.5
    assert n.min() > 500 and abs(ratio - 1.5) < 3 * se, (ratio, se)


def test_speed_drawn_once_per_member_and_run(write_process, tmp_path):
    p = write_process(process("""
        clerk:
          members: 5
          speed: {kind: lognormal, mean: 1, sd: 0.4}
        """, """
        work: {role: clerk, duration: 1h, next: done}
        """, interarrival="{kind: exponential, mean: 20m}"))
    run(p, tmp_path / "a", seed=5, cases=400, formats=["csv"])
    run(p, tmp_path / "b", seed=5, cases=400, formats=["csv"])
    run(p, tmp_path / "c", seed=6, cases=400, formats=["csv"])
    assert (tmp_path / "a" / "events.csv").read_bytes() == (tmp_path / "b" / "events.csv").read_bytes()
    w = work(events(tmp_path / "a"))
    per = w.groupby("resource")["minutes"]
    assert (per.max() - per.min()).max() < 1e-4  # timestamps in ms; one speed per member for the whole run
    speeds = sorted(60 / per.mean())
    assert len(speeds) == 5 and speeds[-1] / speeds[0] > 1.2  # members differ
    # the manifest holds each member's drawn speed: the ground truth behind the log
    import json

    truth = json.loads((tmp_path / "a" / "manifest.json").read_text())["people"]["clerk"]
    assert truth["assignment"] == "idle_longest"
    for m, mins in per.mean().items():
        assert abs(truth["members"][m]["speed"] - 60 / mins) < 1e-3
    other = work(events(tmp_path / "c")).groupby("resource")["minutes"].mean()
    assert sorted(other.round(6)) != sorted(per.mean().round(6))  # another seed, other people


def test_weighted_assignment_gives_the_configured_share(write_process, tmp_path):
    p = write_process(process("""
        clerk:
          members:
            Ann: {weight: 8}
            Bob: {}
            Cid: {}
          assignment: weighted
        """, """
        work: {role: clerk, duration: 1m, next: done}
        """))
    run(p, tmp_path / "o", seed=1, cases=3000, formats=["csv"])
    w = work(events(tmp_path / "o"))
    share = w["resource"].value_counts(normalize=True)
    # light load: all three are almost always free, so each gets its weight's share: 8/10, 1/10, 1/10
    se = (0.8 * 0.2 / len(w)) ** 0.5
    assert abs(share["Ann"] - 0.8) < 4 * se and abs(share["Bob"] - 0.1) < 0.03 and abs(share["Cid"] - 0.1) < 0.03
    assert gini(list(w["resource"].value_counts())) >= 0.30


def test_worklists_keep_the_share_under_load(write_process, tmp_path):
    # busy bosses (about 80% utilised): weighted choice among the free ones would even out; worklists do not
    p = write_process(process("""
        clerk:
          members: 6
          weight: {kind: exponential, mean: 1}
          assignment: worklist
        boss:
          members: [Ann, Bob]
          assignment: {policy: worklist, weights: {Ann: 3, Bob: 1}}
        """, """
        work: {role: clerk, duration: {kind: exponential, mean: 20m}, next: sign}
        sign: {role: boss, duration: {kind: exponential, mean: 8m}, next: done}
        """, interarrival="{kind: exponential, mean: 10m}"))
    run(p, tmp_path / "o", seed=2, cases=3000, formats=["csv"])
    w = work(events(tmp_path / "o"))
    sign = w[w["activity"] == "sign"]["resource"].value_counts(normalize=True)
    assert abs(sign["Ann"] - 0.75) < 4 * (0.75 * 0.25 / 3000) ** 0.5
    counts = w[w["activity"] == "work"]["resource"].value_counts()
    assert len(counts) == 6 and gini(list(counts)) >= 0.30, counts  # drawn weights: uneven workloads


def test_policies_per_role_and_per_activity(write_process, tmp_path):
    p = write_process(process("""
        clerk:
          members: [Ann, Bob, Cid]
          assignment: random
        """, """
        work: {role: clerk, duration: 10m, next: special}
        special:
          role: clerk
          duration: 10m
          assignment: {policy: weighted, weights: {Cid: 1, Ann: 0, Bob: 0}}
          next: done
        """))
    run(p, tmp_path / "o", seed=2, cases=1500, formats=["csv"])
    w = work(events(tmp_path / "o"))
    plain = w[w["activity"] == "work"]["resource"].value_counts(normalize=True)
    assert (plain - 1 / 3).abs().max() < 0.05  # random: even
    # the activity's own policy: whenever Cid is free, Cid does it
    assert (w[w["activity"] == "special"]["resource"] == "Cid").mean() > 0.9


def test_default_policy_is_unchanged_idle_longest(write_process, tmp_path):
    # speed 1 everywhere spelled out: the setup exists, but nothing differs from a plain role
    plain = process("""
        clerk: {members: [Ann, Bob, Cid], calendar: office}
        """, "work: {role: clerk, duration: {kind: exponential, mean: 30m}, next: done}\n",
        interarrival="{kind: exponential, mean: 15m}")
    same = plain.replace("members: [Ann, Bob, Cid]", "members: {Ann: {speed: 1}, Bob: {}, Cid: {}}")
    run(write_process(plain, "a.yaml"), tmp_path / "a", seed=4, cases=300, formats=["csv"])
    run(write_process(same, "b.yaml"), tmp_path / "b", seed=4, cases=300, formats=["csv"])
    assert (tmp_path / "a" / "events.csv").read_bytes() == (tmp_path / "b" / "events.csv").read_bytes()


def test_members_in_several_roles_are_never_double_booked(write_process, tmp_path):
    p = write_process(process("""
        clerk: {members: [Ann, Bob], calendar: office}
        expert: {members: [Ann, Cid], calendar: office}
        """, """
        work: {role: clerk, duration: {kind: exponential, mean: 40m}, next: split}
        check: {role: expert, duration: {kind: exponential, mean: 50m}, next: join}
        note: {role: clerk, duration: 20m, next: join}
        close: {role: expert, duration: 15m, next: done}
        """ + """
        """, interarrival="{kind: exponential, mean: 35m}").replace("activities:", """gateways:
  split: {type: and, to: [check, note]}
  join: {type: and, next: close}
activities:"""))
    run(p, tmp_path / "o", seed=9, cases=600, formats=["csv"])
    w = work(events(tmp_path / "o"))
    assert set(w.loc[w["resource"] == "Ann", "role"]) == {"clerk", "expert"}  # Ann works in both roles
    for who, rows in w.groupby("resource"):
        rows = rows.sort_values("start")
        overlap = (rows["start"].iloc[1:].to_numpy() < rows["end"].iloc[:-1].to_numpy())
        assert not overlap.any(), who


def test_part_time_member_works_only_in_own_calendar(write_process, tmp_path):
    p = write_process(process("""
        clerk:
          calendar: office
          members:
            Ann: {calendar: early_week}
            Bob: {}
        """, "work: {role: clerk, duration: {kind: exponential, mean: 45m}, next: done}\n",
        interarrival="{kind: exponential, mean: 40m}"))
    run(p, tmp_path / "o", seed=1, cases=800, formats=["csv"])
    ev = events(tmp_path / "o")
    local = ev["t"].dt.tz_convert(ZoneInfo("Europe/Berlin"))
    ann = ev["resource"] == "Ann"
    assert ann.sum() > 100
    # starts inside Mon-Wed 09:00-13:00; completions inside it too (or at its end: work pauses off shift)
    mins = local.dt.hour * 60 + local.dt.minute + local.dt.second / 60
    assert local[ann].dt.weekday.max() <= 2
    assert ((mins[ann] >= 9 * 60) & (mins[ann] <= 13 * 60)).all()
    bob = ev["resource"] == "Bob"
    assert local[bob].dt.weekday.max() >= 3  # Bob works the whole office week


def test_absent_members_do_no_work_on_their_absence_days(write_process, tmp_path):
    p = write_process(process("""
        clerk:
          members: [Ann, Bob, Cid]
          calendar: office
          absences: {vacation: 25, vacation_blocks: 3, sick: 10, sick_spell: 3}
        """, "work: {role: clerk, duration: {kind: exponential, mean: 90m}, next: done}\n",
        interarrival="{kind: exponential, mean: 45m}"))
    loaded = load_process(p)
    people = build_model(loaded, 3).people
    away = people[0].absences
    assert set(away) == {"Ann", "Bob", "Cid"} and away["Ann"] != away["Bob"]
    first_year = {m: [d for d in days if d.isoformat() < "2027-03-02"] for m, days in away.items()}
    # 25 vacation days (blocks may overlap sick spells) plus about 10 sick days, all on working days
    assert all(25 <= len(d) <= 60 for d in first_year.values()), {m: len(d) for m, d in first_year.items()}
    assert all(d.weekday() < 5 for days in away.values() for d in days)
    run(loaded, tmp_path / "o", seed=3, cases=3000, formats=["csv"])
    ev = events(tmp_path / "o")
    local_day = ev["t"].dt.tz_convert(ZoneInfo("Europe/Berlin")).dt.date
    import json

    truth = json.loads((tmp_path / "o" / "manifest.json").read_text())["people"]["clerk"]["members"]
    assert {m: truth[m]["absences"] for m in away} == {m: [d.isoformat() for d in days] for m, days in away.items()}
    for m, days in away.items():
        mine = ev["resource"] == m
        assert mine.sum() > 500
        assert not local_day[mine].isin(set(days)).any(), m
    # absences hold work up: the same run without them finishes sooner
    p2 = write_process(p.read_text().replace("      absences:", "      #absences:").replace(
        "  absences: {", "  #absences: {"), "p2.yaml")
    run(p2, tmp_path / "n", seed=3, cases=3000, formats=["csv"])
    assert events(tmp_path / "n")["t"].max() < ev["t"].max()


@pytest.mark.parametrize("roles, activities, message", [
    ("""
     clerk:
       members:
         Ann: {calendar: part_tme}
     """, "work: {role: clerk, duration: 10m, next: done}",
     "p.yaml:11:23: roles.clerk.members.Ann.calendar: unknown calendar 'part_tme' [unknown_calendar]"),
    ("""
     clerk:
       members: [Ann, Bob]
       assignment: {policy: weighted, weights: {Anne: 2}}
     """, "work: {role: clerk, duration: 10m, next: done}",
     "p.yaml:11:46: roles.clerk.assignment.weights.Anne: 'Anne' is not a member of role 'clerk'; did you mean "
     "'Ann'? [unknown_member]"),
    ("""
     clerk:
       members: 3
       assignment: {policy: weighted, weights: {Ann: 2}}
     """, "work: {role: clerk, duration: 10m, next: done}",
     "p.yaml:11:45: roles.clerk.assignment.weights: role 'clerk' has generated members; list their names in the "
     "role to weigh them [unnamed_members]"),
    ("""
     clerk: {members: 2}
     """, "work: {duration: 10m, assignment: random, next: done}",
     "p.yaml:16:37: activities.work.assignment: 'work' has no role: nobody to assign (give it a 'role') [no_role]"),
    ("""
     clerk:
       members: [Ann]
       assignment: {policy: random, weights: {Ann: 2}}
     """, "work: {role: clerk, duration: 10m, next: done}",
     "p.yaml:11:17: roles.clerk.assignment: 'weights' goes with policy: weighted or worklist [value_error]"),
    ("""
     clerk:
       members: 2
       absences: {vacation: -1}
     """, "work: {role: clerk, duration: 10m, next: done}",
     "p.yaml:11:26: roles.clerk.absences.vacation: Input should be greater than or equal to 0 "
     "[greater_than_equal]"),
])
def test_people_settings_are_validated_with_positions(write_process, roles, activities, message):
    p = write_process(process(roles, activities))
    with pytest.raises(SpecError) as info:
        load_process(p)
    assert str(info.value).splitlines() == [message]


def test_the_documented_example_runs(write_process, tmp_path):
    from conftest import REPO

    text = (REPO / "docs" / "process-language.md").read_text()
    block = text.split("### People who differ", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    head = ("process: {name: Doc, timezone: Europe/Berlin, start: 2026-03-02T08:00:00+01:00}\n"
            "arrivals: {interarrival: {kind: exponential, mean: 30m}}\n"
            "events: {start: {type: start, next: approve}, done: {type: end}}\n")
    p = write_process(head + block)
    run(p, tmp_path / "o", seed=1, cases=300, formats=["csv"])
    w = work(events(tmp_path / "o"))
    assert set(w["resource"]) == {"Ann Weber", "Bob Klein", "Eva Roth"}
    # Bob's own weight for 'release' (5 against 6 + 1) and his part-time calendar: he does some, not most
    assert 0 < (w[w["activity"] == "release"]["resource"] == "Bob Klein").mean() < 0.6


def test_learning_curve_shortens_each_member_s_work(write_process, tmp_path):
    p = write_process(process("""
        clerk:
          members:
            Ann: {}
            Bob: {learning: {initial: 3, tasks: 5}}
          learning: {initial: 2, tasks: 10}
        """, """
        work: {role: clerk, duration: 10m, next: other}
        other: {role: clerk, duration: 10m, next: done}
        """, interarrival="{kind: exponential, mean: 3h}"))
    run(p, tmp_path / "o", seed=1, cases=200, formats=["csv"])
    w = work(events(tmp_path / "o")).sort_values("start")
    for who, initial, tasks in (("Ann", 2, 10), ("Bob", 3, 5)):
        for act in ("work", "other"):  # counted per member and activity
            mins = w[(w["resource"] == who) & (w["activity"] == act)]["minutes"].to_numpy()
            expect = [10 * (1 + (initial - 1) * 2 ** (-k / tasks)) for k in range(len(mins))]
            assert len(mins) > 20
            assert max(abs(a - b) for a, b in zip(mins, expect)) < 1e-4, (who, act)
