"""Load-time checks of values a schema accepts but a run could not survive; and the size of a planned run.

The bounds themselves are in ``procsim.limits`` (documented in docs/limits.md). This module owns applying the
ones that need more than one field at a time: reserved OCEL column names, number widths, arrival intensity on
the arrival calendar's days, exception counts against the number of cases, the arrivals a horizon implies,
dates a horizon would reach. ``check_limits`` runs right after the schema, before anything is compiled or
formatted, so no later check trips over a value it was never meant to see. ``check_run`` runs when the number
of cases or the horizon of a run is known (flags may override the file): impossible sizes are refused, large
ones returned as a notice to announce.
"""

from __future__ import annotations

import datetime as dt
import re
import string
from typing import TYPE_CHECKING

from procsim.errors import Problem, SimulationError, SpecError, UsageError
from procsim.limits import (ANNOUNCE_CASES, MAX_CASES, MAX_LOOP_REPEATS, MAX_MEMBERS_TOTAL, MAX_NUMBER_WIDTH,
                            MAX_YEAR, MIN_INTERARRIVAL_S)
from procsim.spec.loader import SourceMap
from procsim.spec.models import written_gateways

if TYPE_CHECKING:
    from procsim.spec import LoadedProcess
    from procsim.spec.models import ProcessSpec

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WIDTH = re.compile(r"(\d+)")


class BeyondTimeError(SimulationError):
    """A run whose simulated time passed what dates can hold (year 9999): its durations, loops and calendars add
    up to more than any bound on one value can prevent. The process is at fault: exit code 2."""

    exit_code = 2

    def __init__(self) -> None:
        super().__init__("the simulation ran past the year 9999: the process's durations, loops and calendars add "
                         "up to more time than dates can hold (see docs/limits.md)")


def _reserved(name: str) -> bool:
    # OCEL 2.0's own columns (ocel_id, ocel_time, ocel_changed_field ...) share tables with attribute and field
    # columns; SQLite compares column names without case
    return name.lower().startswith("ocel_")


def check_limits(spec: ProcessSpec, smap: SourceMap) -> list[Problem]:
    """Problems with values the schema accepts but a run cannot handle (see the module docstring)."""
    problems: list[Problem] = []
    for name in spec.attributes:
        if _reserved(name):
            problems.append(smap.problem(("attributes", name), f"'{name}': names starting with 'ocel_' are OCEL "
                                         "2.0's own columns; call the attribute something else", "reserved_name",
                                         at_key=True))
    for oname, o in spec.objects.items():
        fields: list[tuple[tuple[str, ...], str]] = [(("objects", oname, "fields", f), f) for f in o.fields]
        if o.lines is not None:
            fields += [(("objects", oname, "lines", "fields", f), f) for f in o.lines.fields]
        for loc, f in fields:
            if _reserved(f):
                problems.append(smap.problem(loc, f"'{f}': names starting with 'ocel_' are OCEL 2.0's own columns; "
                                             "call the field something else", "reserved_name", at_key=True))
        problems += _number_width(o.number, ("objects", oname, "number"), smap)
    problems += _arrival_days(spec, smap)
    problems += _case_span(spec, smap)
    people = sum(r.members if isinstance(r.members, int) else len(r.members) for r in spec.roles.values())
    if people > MAX_MEMBERS_TOTAL:
        problems.append(smap.problem(("roles",), f"the roles have {people:,} members together; at most "
                                     f"{MAX_MEMBERS_TOTAL:,}", "too_many_members", at_key=True))
    for where, gname, gw in written_gateways(spec):
        for i, b in enumerate(gw.branches or []):
            if b.max is not None and b.max > MAX_LOOP_REPEATS:
                problems.append(smap.problem(where + (gname, "branches", i, "max"), f"max: {b.max:,} repetitions"
                                             f" of a loop in one case; at most {MAX_LOOP_REPEATS:,}",
                                             "loop_too_long"))
    if spec.process.cases is not None:
        problems += _counts(spec, smap, spec.process.cases)
    if spec.process.horizon is not None:
        problems += _horizon(spec, smap, spec.process.horizon, flag=False)
    return problems


def _case_span(spec: ProcessSpec, smap: SourceMap) -> list[Problem]:
    """A case doing every activity once per loop repetition, at mean durations, must end before dates do (9999):
    each value may be within its bound and the whole still absurd (a thousand loops of a hundred years)."""
    acts = list(spec.activities.values()) + [a for sub in spec.subprocesses.values() for a in sub.activities.values()]
    loops = [b.max or 0 for gw in list(spec.gateways.values()) + [g for sub in spec.subprocesses.values()
                                                                   for g in sub.gateways.values()]
             for b in gw.branches or []]
    try:
        span = sum(float(a.duration.expected_value()) for a in acts) * (1 + sum(loops))
    except (ValueError, OverflowError, ArithmeticError):
        return []
    years = span / (365.25 * 86_400)
    if spec.process.start.year + years > 9999:
        return [smap.problem(("activities",), f"with every loop taken to its max, one case lasts about {years:,.0f} "
                             "years at the mean durations: beyond the year 9999, which dates cannot hold",
                             "case_too_long", at_key=True)]
    return []


def _number_width(pattern: str, loc: tuple[str, ...], smap: SourceMap) -> list[Problem]:
    try:
        parts = list(string.Formatter().parse(pattern))
    except ValueError:
        return []  # not a pattern at all: the object checks say so
    for _, field, spec, _ in parts:
        if field is None or not spec:
            continue
        for width in _WIDTH.findall(spec):
            if len(width) > 6 or int(width) > MAX_NUMBER_WIDTH:
                return [smap.problem(loc, f"number pattern {pattern!r} asks for {int(width):,} digits; at most "
                                     f"{MAX_NUMBER_WIDTH}", "number_too_wide")]
    return []


def _arrival_days(spec: ProcessSpec, smap: SourceMap) -> list[Problem]:
    """Weekday factors that are 0 on every day the arrival calendar is open: no case could ever arrive."""
    a = spec.arrivals
    if a.weekday is None:
        return []
    open_days = set(range(7))
    if a.calendar is not None and a.calendar in spec.calendars:
        open_days = {d for d, hours in spec.calendars[a.calendar].week().items() if hours}
    factors = {_WEEKDAYS.index(d): f for d, f in a.weekday.items()}
    if open_days and all(factors.get(d, 1.0) == 0 for d in open_days):
        days = ", ".join(_WEEKDAYS[d] for d in sorted(open_days))
        where = f"on the days the arrival calendar '{a.calendar}' is open ({days})" if a.calendar else "on every day"
        return [smap.problem(("arrivals", "weekday"), f"every weekday factor is 0 {where}: no case could ever "
                             "arrive", "no_arrivals", at_key=True)]
    return []


def _counts(spec: ProcessSpec, smap: SourceMap, cases: int, flag: str = "") -> list[Problem]:
    out = []
    for i, x in enumerate(spec.exceptions):
        count = getattr(x, "count", None)
        if count is not None and count > cases:
            src = f" ({flag})" if flag else ""
            out.append(smap.problem(("exceptions", i, "count"), f"count: {count:,} is more than the {cases:,} cases "
                                    f"of the run{src}: an exception affects at most one execution per case",
                                    "count_above_cases"))
    return out


def _mean_gap(spec: ProcessSpec) -> float:
    """The mean gap between arrivals. Replayed counts (``arrivals.replay``) have no gap distribution: the counts in
    the file bound the run, so a day stands in and the checks below stay quiet for them."""
    if spec.arrivals.interarrival is None:
        return 86_400.0
    return float(spec.arrivals.interarrival.expected_value())


def _horizon(spec: ProcessSpec, smap: SourceMap, horizon: float, *, flag: bool) -> list[Problem]:
    where = ("process", "horizon")
    src = "--horizon" if flag else "horizon"
    out = []
    gap = _mean_gap(spec)
    if gap < MIN_INTERARRIVAL_S:
        out.append(smap.problem(("arrivals", "interarrival"), f"a mean gap of {gap:g} s between arrivals with a "
                                f"{src}: arrivals would never stop (at least {MIN_INTERARRIVAL_S:g} s)",
                                "zero_interarrival"))
    elif horizon / gap > MAX_CASES:
        out.append(smap.problem(where if not flag else ("arrivals", "interarrival"),
                                f"{src} with a mean gap of {gap:g} s between arrivals means about "
                                f"{horizon / gap:,.0f} cases; a run has at most {MAX_CASES:,}", "too_many_cases"))
    end = spec.process.start + dt.timedelta(seconds=horizon)
    if end.year > MAX_YEAR:
        out.append(smap.problem(where if not flag else ("process", "start"), f"the {src} ends in {end.year}; a run "
                                f"must end by {MAX_YEAR}", "beyond_max_year"))
    return out


def check_run(loaded: LoadedProcess, cases: int | None, horizon: float | None, *,
              from_flags: bool) -> str | None:
    """Refuse a run that could never finish (``SpecError`` at the file's lines, ``UsageError`` for a flag);
    return a notice for a large one (``None`` otherwise)."""
    spec, smap = loaded.spec, loaded.smap
    if cases is not None and cases > MAX_CASES:
        if from_flags:
            raise UsageError(f"--cases {cases:,}: a run has at most {MAX_CASES:,} cases")
    problems: list[Problem] = []
    if cases is not None and from_flags:
        problems += _counts(spec, smap, cases, "--cases")
    if horizon is not None and from_flags:
        problems += _horizon(spec, smap, horizon, flag=True)
    if problems:
        raise SpecError(problems)
    planned = cases if cases is not None else (horizon or 0.0) / max(_mean_gap(spec), MIN_INTERARRIVAL_S)
    if planned > ANNOUNCE_CASES:
        about = f"{cases:,} cases" if cases is not None else f"about {planned:,.0f} cases (from the horizon)"
        return f"a large run: {about}; this takes a while (Ctrl-C stops it and leaves no partial output)"
    return None
