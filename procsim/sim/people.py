"""People who differ: what each member of a role is like in one run, drawn once when the model is built.

Owns per-member speed (a factor per named member, or drawn once per run from the role's distribution),
per-member calendars (a member's own calendar, e.g. part-time, minus that member's absences), absences
(vacation blocks and sick spells drawn per member and year, seeded), the assignment policy of each role, and
which members of different roles are one person (the same name). Roles that use none of this get no setup
at all, so the simulation runs them exactly as before (same bytes).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np

from procsim.sim.calendar import WorkCalendar
from procsim.sim.streams import stream
from procsim.spec.models import ASSIGNMENT_POLICIES, AbsenceSpec, AssignmentSpec, MemberSpec, ProcessSpec, RoleSpec

__all__ = ["PoolPeople", "people_setup", "absence_days", "policy_code", "describe", "YEARS"]

STREAM_PEOPLE = 8  # after procsim.sim.engine's streams (0-6) and the exceptions' pick stream
MIN_SPEED = 0.1  # a drawn speed below this is raised to it: nobody takes ten times as long as the norm
YEARS = 3  # absences are drawn for this many years from the start of the run
_FULL_WEEK = {d: [(0.0, 86400.0)] for d in range(7)}
IDLE_LONGEST, RANDOM, WEIGHTED, WORKLIST = range(4)


def policy_code(a: AssignmentSpec | None) -> tuple[int, dict[str, float]]:
    if a is None:
        return IDLE_LONGEST, {}
    return ASSIGNMENT_POLICIES.index(a.policy), dict(a.weights)


@dataclass(eq=False)
class PoolPeople:
    """What the members of one pool are like in this run (index = the member's index in the pool)."""

    speeds: list[float] | None  # None: everybody 1
    calendars: list[WorkCalendar | None] | None  # None: the pool's calendar for everybody
    policy: int
    weights: list[float]
    persons: list[int] | None  # a global person id per member, when some person is in several roles
    absences: dict[str, list[dt.date]]  # member name -> days away (for the manifest and tests)
    learning: list[tuple[float, float] | None] | None = None  # per member: (initial factor, tasks to halve)
    done: dict[tuple[int, str], int] | None = None  # (member, activity) -> executions so far, for learning
    caps: list[int] | None = None  # per member: tasks held at once (multitask); None: one each
    slowdown: list[float] | None = None  # per member: extra work per other task held when one starts

    def learned(self, member: int, activity: str) -> float:
        """The learning-curve factor of this execution (1 + (initial - 1) * 2^(-done / tasks)), counted."""
        curve: tuple[float, float] | None = self.learning[member]  # type: ignore[index]  # set for pools that learn
        if curve is None:
            return 1.0
        done = self.done if self.done is not None else {}
        self.done = done
        n = done.get((member, activity), 0)
        done[(member, activity)] = n + 1
        factor: float = 1.0 + (curve[0] - 1.0) * 2.0 ** (-n / curve[1])  # float ** float is Any to mypy
        return factor


def absence_days(rng: np.random.Generator, spec: AbsenceSpec, start: dt.date, workdays: set[int],
                 years: int = YEARS) -> list[dt.date]:
    """Days away over ``years`` years from ``start``: vacation blocks and sick spells of working days.

    A block or spell starts on a working day (weekday in ``workdays``) drawn uniformly in its year and covers
    that many consecutive working days (days off in between do not count).
    """
    days: set[dt.date] = set()
    if not workdays:
        return []

    def cover(first: dt.date, n: int) -> None:
        d, left = first, n
        while left > 0:
            if d.weekday() in workdays:
                days.add(d)
                left -= 1
            d += dt.timedelta(days=1)

    for y in range(years):
        y0 = start + dt.timedelta(days=365 * y)
        work = [y0 + dt.timedelta(days=k) for k in range(365) if (y0 + dt.timedelta(days=k)).weekday() in workdays]
        total = int(round(spec.vacation))
        if total:
            sizes = [total // spec.vacation_blocks + (1 if b < total % spec.vacation_blocks else 0)
                     for b in range(spec.vacation_blocks)]
            for size in sizes:
                if size:
                    cover(work[int(rng.integers(len(work)))], size)
        if spec.sick:
            for _ in range(int(rng.poisson(spec.sick / spec.sick_spell))):
                cover(work[int(rng.integers(len(work)))], int(rng.geometric(1.0 / spec.sick_spell)))
    return sorted(days)


def member_weights(r: RoleSpec, members: list[str], own: list[MemberSpec | None], seed: int, k: int) -> list[float]:
    """Each member's weight: their own, else the role's (a number, or drawn once per run), else 1."""
    rng = stream(seed, STREAM_PEOPLE, 2, k)
    sample = r.weight.sampler() if r.weight is not None and not isinstance(r.weight, (int, float)) else None
    out = []
    for o in own:
        if o is not None and o.weight is not None:
            out.append(o.weight)
        elif sample is not None:
            out.append(max(0.0, float(sample(rng))))
        else:
            out.append(float(r.weight) if r.weight is not None else 1.0)  # type: ignore[arg-type]
    return out


def people_setup(spec: ProcessSpec, names: dict[str, list[str]], seed: int) -> list[PoolPeople | None] | None:
    """Per role (in spec order): its members' setup, or None for a role that uses none of the features.

    None overall when no role uses them. Draws come from a stream of their own (one per role for speeds, one
    per person for absences), so they never shift any case's data or flow.
    """
    roles = list(spec.roles.items())
    owners: dict[str, list[str]] = {}
    for role, _ in roles:
        for m in names[role]:
            owners.setdefault(m, []).append(role)
    shared = {m for m, rs in owners.items() if len(rs) > 1}
    if not shared and not any(r.has_people_settings() for _, r in roles):
        return None
    tz = ZoneInfo(spec.process.timezone)
    origin = spec.process.start
    person_id = {m: i for i, m in enumerate(owners)}
    # one person's absences, whatever role they work in: member settings first, then their roles' in order
    away: dict[str, list[dt.date]] = {}
    for m, rs in owners.items():
        a, cal_name = None, None
        for role in rs:
            r = spec.roles[role]
            mine = r.settings(m)
            a = a or (mine.absences if mine is not None else None) or r.absences
            cal_name = cal_name or (mine.calendar if mine is not None else None) or r.calendar
        if a is not None:
            week = spec.calendars[cal_name].week() if cal_name else {d: [] for d in range(5)}
            workdays = {d for d, hours in week.items() if hours}
            away[m] = absence_days(stream(seed, STREAM_PEOPLE, 1, person_id[m]), a, origin.astimezone(tz).date(),
                                   workdays)
    out: list[PoolPeople | None] = []
    for k, (role, r) in enumerate(roles):
        members = names[role]
        if not r.has_people_settings() and not shared.intersection(members) and not away.keys() & set(members):
            out.append(None)
            continue
        own = [r.settings(m) for m in members]
        speeds: list[float] | None = None
        if r.speed is not None or any(o is not None and o.speed is not None for o in own):
            rng = stream(seed, STREAM_PEOPLE, 0, k)
            speed = r.speed
            draw: Callable[[], float]
            if isinstance(speed, (int, float)):
                draw = lambda: float(speed)  # noqa: E731
            elif speed is not None:
                speed_sample = speed.sampler()
                draw = lambda: max(MIN_SPEED, float(speed_sample(rng)))  # noqa: E731
            else:
                draw = lambda: 1.0  # noqa: E731
            speeds = [o.speed if o is not None and o.speed is not None else draw() for o in own]
        cals: list[WorkCalendar | None] | None = None
        if any(m in away for m in members) or any(o is not None and o.calendar is not None for o in own):
            cals = []
            for m, o in zip(members, own):
                cname = o.calendar if o is not None and o.calendar is not None else r.calendar
                c = spec.calendars[cname] if cname else None
                cals.append(WorkCalendar(c.week() if c else _FULL_WEEK, list(c.holidays if c else []) + away.get(m, []),
                                         tz=tz, origin=origin, holiday_country=c.holiday_country if c else None,
                                         holiday_subdiv=c.holiday_subdiv if c else None, name=f"{cname or 'always'}/{m}"))
        policy, given = policy_code(r.assignment)
        weights = member_weights(r, members, own, seed, k)
        weights = [given.get(m, w) for m, w in zip(members, weights)]
        persons = [person_id[m] for m in members] if shared else None
        learning = None
        if r.learning is not None or any(o is not None and o.learning is not None for o in own):
            curves = [o.learning if o is not None and o.learning is not None else r.learning for o in own]
            learning = [(c.initial, c.tasks) if c is not None else None for c in curves]
        caps: list[int] | None = None
        slowdown: list[float] | None = None
        multi = [r.multitask_of(m) for m in members]
        if any(mt is not None and mt.tasks > 1 for mt in multi):
            caps = [mt.tasks if mt is not None else 1 for mt in multi]
            if any(mt is not None and mt.slowdown > 0 for mt in multi):
                slowdown = [mt.slowdown if mt is not None else 0.0 for mt in multi]
        out.append(PoolPeople(speeds, cals, policy, weights, persons, {m: away[m] for m in members if m in away},
                              learning, caps=caps, slowdown=slowdown))
    return out


def describe(pools: Sequence[tuple[str, list[str], object]], people: list[PoolPeople | None]) -> dict[str, object]:
    """The ground truth of a run's people for manifest.json: per role and member, the speed and weight drawn,
    the calendar, and the days away (so a model's estimates of them can be scored)."""
    out: dict[str, object] = {}
    for (role, members, _), pp in zip(pools, people):
        if pp is None:
            continue
        rows: dict[str, object] = {}
        for j, m in enumerate(members):
            row: dict[str, object] = {"speed": round(pp.speeds[j], 6) if pp.speeds is not None else 1.0,
                                      "weight": round(pp.weights[j], 6)}
            cal = pp.calendars[j] if pp.calendars is not None else None
            if cal is not None:
                row["calendar"] = cal.name.split("/")[0]
            if m in pp.absences:
                row["absences"] = [d.isoformat() for d in pp.absences[m]]
            if pp.caps is not None and pp.caps[j] > 1:
                row["multitask"] = pp.caps[j]
                if pp.slowdown is not None and pp.slowdown[j]:
                    row["slowdown"] = pp.slowdown[j]
            rows[m] = row
        out[role] = {"assignment": ASSIGNMENT_POLICIES[pp.policy], "members": rows}
    return out
