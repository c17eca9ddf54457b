"""The process language: pydantic models of a process file (``extra="forbid"``, frozen).

This module owns the *shape* of the YAML. Cross-references (roles, calendars, nodes) and structure are
checked in ``procsim.spec.checks`` and ``procsim.graph``, where the source map gives them positions.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (BeforeValidator, Field, PrivateAttr, WithJsonSchema, field_validator,
                      model_validator)

from procsim.distributions import DistributionSpec, DurationDistribution
from procsim.drift import DriftSpec
from procsim.exceptions import ExceptionSpec, NearMissSpec
from procsim.exceptions.quality import QualityFault
from procsim.limits import MAX_CASES, MAX_MASTER_OBJECTS, MAX_MEMBERS, MAX_YEAR, MIN_YEAR
from procsim.spec.base import Strict
from procsim.spec.units import Duration

Identifier = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
# a node of the process: a name, or a call's copy of a sub-process's node ('review_order.read')
NodeRef = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def parse_time_range(v: Any) -> tuple[float, float]:
    """``"08:00-12:30"`` -> seconds of the day (start, end); ``24:00`` is allowed as an end."""
    if isinstance(v, (list, tuple)) and len(v) == 2:
        return (float(v[0]), float(v[1]))
    if not isinstance(v, str):
        raise ValueError(f"expected a time range like '08:00-12:00', got {v!r}")
    m = _RANGE.match(v)
    if not m:
        raise ValueError(f"invalid time range {v!r}: write it like '08:00-12:00'")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2):
        raise ValueError(f"invalid time range {v!r}: hours 0-24, minutes 0-59")
    start, end = h1 * 3600 + m1 * 60, h2 * 3600 + m2 * 60
    if end <= start:
        raise ValueError(f"invalid time range {v!r}: the end must be after the start")
    return (float(start), float(end))


TimeRange = Annotated[tuple[float, float], BeforeValidator(parse_time_range),
                      WithJsonSchema({"type": "string", "pattern": r"^\s*\d{1,2}:\d{2}\s*-\s*\d{1,2}:\d{2}\s*$",
                                      "examples": ["08:00-12:00"]})]


class ProcessMeta(Strict):
    """Who the process is and when it runs."""

    name: str
    version: str = "1"
    description: str = ""
    locale: str = "en_US"
    timezone: str = "UTC"
    start: dt.datetime
    cases: Annotated[int, Field(gt=0)] | None = None
    horizon: Duration | None = None
    case_prefix: str = "C"

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (use an IANA name like 'Europe/Berlin')") from None
        return v

    @field_validator("start")
    @classmethod
    def _aware(cls, v: dt.datetime) -> dt.datetime:
        if v.tzinfo is None:
            raise ValueError("start needs a UTC offset, like 2026-01-05T08:00:00+01:00")
        if not MIN_YEAR <= v.year <= MAX_YEAR:
            # calendars, holidays and timestamps are computed around the start: keep them far from datetime's
            # limits (year 1 and 9999), where date arithmetic overflows
            raise ValueError(f"start in year {v.year}: the start must lie in the years {MIN_YEAR} to {MAX_YEAR}")
        return v

    @field_validator("cases")
    @classmethod
    def _not_too_many(cls, v: int | None) -> int | None:
        if v is not None and v > MAX_CASES:
            raise ValueError(f"{v:,} cases: a run has at most {MAX_CASES:,} (see docs/limits.md)")
        return v

    @model_validator(mode="after")
    def _offset_matches_zone(self) -> ProcessMeta:
        zone = ZoneInfo(self.timezone)
        mine, theirs = self.start.utcoffset(), self.start.astimezone(zone).utcoffset()
        if mine != theirs:
            raise ValueError(f"start {self.start.isoformat()} has offset {_offset(mine)}, but {self.timezone} is at "
                             f"{_offset(theirs)} then; write the start in the process's time zone")
        return self

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, v: Any) -> Any:
        return str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v


def _offset(d: dt.timedelta | None) -> str:
    total = int((d or dt.timedelta()).total_seconds())
    sign = "-" if total < 0 else "+"
    total = abs(total)
    # local mean time offsets have seconds (Berlin was +00:53:28): show them, or two offsets look equal
    secs = f":{total % 60:02d}" if total % 60 else ""
    return f"{sign}{total // 3600:02d}:{total % 3600 // 60:02d}{secs}"


class CalendarSpec(Strict):
    """Working time: either ``weekly`` per day, or ``days`` with the same ``hours`` each day."""

    weekly: dict[Weekday, list[TimeRange]] | None = None
    days: list[Weekday] | None = None
    hours: list[TimeRange] | None = None
    holidays: list[dt.date] = []
    holiday_country: str | None = None
    holiday_subdiv: str | None = None

    @model_validator(mode="after")
    def _one_form(self) -> CalendarSpec:
        if self.weekly is not None and (self.days is not None or self.hours is not None):
            raise ValueError("give either 'weekly', or 'days' with 'hours', not both")
        if self.weekly is None and (self.days is None or self.hours is None):
            raise ValueError("a calendar needs 'weekly', or 'days' with 'hours'")
        return self

    @field_validator("holiday_country")
    @classmethod
    def _country(cls, v: str | None) -> str | None:
        if v is None:
            return v
        import holidays

        if v not in holidays.list_supported_countries():
            raise ValueError(f"no holiday set for country {v!r} (use an ISO code like 'DE', 'US', 'FR')")
        return v

    def week(self) -> dict[int, list[tuple[float, float]]]:
        """Working intervals per weekday index (0 = Monday)."""
        if self.weekly is not None:
            return {WEEKDAYS.index(d): list(r) for d, r in self.weekly.items()}
        assert self.days is not None and self.hours is not None
        return {WEEKDAYS.index(d): list(self.hours) for d in self.days}


class AbsenceSpec(Strict):
    """Time a member is away, drawn per member and year of the run (seeded): vacation in ``vacation_blocks``
    blocks of working days, sick spells of ``sick_spell`` working days on average."""

    vacation: Annotated[float, Field(ge=0, le=200)] = 0.0  # working days a year
    vacation_blocks: Annotated[int, Field(ge=1, le=50)] = 2
    sick: Annotated[float, Field(ge=0, le=200)] = 0.0  # working days a year, on average
    sick_spell: Annotated[float, Field(ge=1, le=60)] = 2.0  # working days per sick spell, on average


ASSIGNMENT_POLICIES = ("idle_longest", "random", "weighted", "worklist")


class AssignmentSpec(Strict):
    """Which member takes a task: ``idle_longest`` (the default), ``random``, or ``weighted`` (by ``weights``, a
    member's share when several are free; members not listed weigh their ``weight``, else 1) among the free
    members; ``worklist``: a member drawn by weight when the task arrives, who alone may do it (it waits for them)."""

    policy: Literal["idle_longest", "random", "weighted", "worklist"] = "idle_longest"
    weights: dict[str, Annotated[float, Field(ge=0)]] = {}

    @model_validator(mode="before")
    @classmethod
    def _short(cls, v: Any) -> Any:
        return {"policy": v} if isinstance(v, str) else v

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> Any:
        # the short form 'assignment: weighted' is a policy name alone (_short): editors must accept it too
        return {"anyOf": [{"type": "string", "enum": list(ASSIGNMENT_POLICIES)}, handler(core_schema)]}

    @model_validator(mode="after")
    def _weights_need_weighted(self) -> AssignmentSpec:
        if self.weights and self.policy not in ("weighted", "worklist"):
            raise ValueError("'weights' goes with policy: weighted or worklist")
        return self


class LearningSpec(Strict):
    """A learning curve: a member's first execution of an activity takes ``initial`` times as long; the extra
    time halves with every ``tasks`` executions of that activity by that member."""

    initial: Annotated[float, Field(ge=1, le=100)]
    tasks: Annotated[float, Field(gt=0)]


# a member attribute's value (seniority, approval limit, location): rules read it as ``resource.<name>``
def _member_value(v: Any) -> Any:
    if isinstance(v, (bool, int, str)) or (isinstance(v, float) and v == v and abs(v) != float("inf")):
        return v
    raise ValueError(f"a member attribute is a number, a text or true/false, not {v!r}")


MemberValue = Annotated[Any, BeforeValidator(_member_value),
                        WithJsonSchema({"type": ["number", "string", "boolean"]})]


def member_value_kind(v: Any) -> str:
    """The rule language's type of a member attribute's value: number, string or bool."""
    return "bool" if isinstance(v, bool) else "string" if isinstance(v, str) else "number"


class MultitaskSpec(Strict):
    """A member holding up to ``tasks`` activity instances at once; each still takes its own duration, times
    ``1 + slowdown * (n - 1)`` when it starts while the member holds ``n`` tasks (this one included)."""

    tasks: Annotated[int, Field(ge=1, le=100)]
    slowdown: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)] = 0.0

    @model_validator(mode="before")
    @classmethod
    def _short(cls, v: Any) -> Any:
        return {"tasks": v} if isinstance(v, int) and not isinstance(v, bool) else v

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> Any:
        # the short form 'multitask: 2' is the number of tasks alone (_short): editors must accept it too
        return {"anyOf": [{"type": "integer", "minimum": 1, "maximum": 100}, handler(core_schema)]}


class MemberSpec(Strict):
    """One named member's own settings: all optional, the role's apply otherwise."""

    speed: Annotated[float, Field(gt=0)] | None = None  # work takes (drawn duration) / speed
    calendar: str | None = None
    absences: AbsenceSpec | None = None
    weight: Annotated[float, Field(ge=0)] | None = None  # for assignment: weighted
    learning: LearningSpec | None = None
    multitask: MultitaskSpec | None = None  # up to k tasks at once (default: one)
    attributes: dict[Identifier, MemberValue] = {}  # read by rules as resource.<name>; over the role's
    description: str = ""

    @model_validator(mode="before")
    @classmethod
    def _empty(cls, v: Any) -> Any:
        return {} if v is None else v

    def changes_the_run(self) -> bool:
        """Whether a setting changes what the simulation does (attributes and one task at a time do not)."""
        return self.model_copy(update={"attributes": {}, "description": "", "multitask": (
            None if self.multitask is not None and self.multitask.tasks == 1 else self.multitask)}) != MemberSpec()


class RoleSpec(Strict):
    """A pool of people who can do the same work; each does one thing at a time (across all their roles:
    the same name in several roles is one person)."""

    members: int | list[str] | dict[str, MemberSpec]
    calendar: str | None = None
    cost_per_hour: Annotated[float, Field(ge=0)] = 0.0
    description: str = ""
    speed: Annotated[float, Field(gt=0)] | DistributionSpec | None = None  # per member, drawn once per run
    weight: Annotated[float, Field(ge=0)] | DistributionSpec | None = None  # for weighted/worklist, likewise
    absences: AbsenceSpec | None = None
    assignment: AssignmentSpec | None = None
    learning: LearningSpec | None = None
    multitask: MultitaskSpec | None = None  # every member holds up to k tasks at once (default: one)
    attributes: dict[Identifier, MemberValue] = {}  # every member's, unless the member gives its own

    @field_validator("members", mode="before")
    @classmethod
    def _form(cls, v: Any) -> Any:
        ok = (isinstance(v, int) and not isinstance(v, bool)) or (
            isinstance(v, list) and all(isinstance(m, str) for m in v)) or (
            isinstance(v, dict) and all(isinstance(m, str) for m in v))
        if not ok:
            raise ValueError(f"members is a number of people, a list of their names, or a mapping of names to "
                             f"their own settings, not {v!r}")
        return v

    def names(self) -> list[str] | None:
        """The named members (None: generated ones)."""
        if isinstance(self.members, int):
            return None
        return list(self.members)

    def settings(self, name: str) -> MemberSpec | None:
        return self.members.get(name) if isinstance(self.members, dict) else None

    def has_people_settings(self) -> bool:
        """Whether the role uses a feature of people who differ (else it runs exactly as before them)."""
        return (isinstance(self.members, dict) and any(m.changes_the_run() for m in self.members.values())) or (
            self.speed is not None or self.weight is not None or self.absences is not None
            or self.assignment is not None or self.learning is not None
            or (self.multitask is not None and self.multitask.tasks > 1))

    def multitask_of(self, name: str) -> MultitaskSpec | None:
        """A member's multitasking: their own, else the role's (None: one task at a time)."""
        own = self.settings(name)
        return own.multitask if own is not None and own.multitask is not None else self.multitask

    def attributes_of(self, name: str) -> dict[str, Any]:
        """A member's attributes: the role's, overridden by the member's own."""
        own = self.settings(name)
        return {**self.attributes, **(own.attributes if own is not None else {})}

    @field_validator("members")
    @classmethod
    def _unique(cls, v: int | list[str] | dict[str, MemberSpec]) -> int | list[str] | dict[str, MemberSpec]:
        if isinstance(v, dict) and not v:
            raise ValueError("a role needs at least one member")
        if isinstance(v, int) and not 0 < v <= MAX_MEMBERS:
            # checked here, not with Field(gt=0): in the union pydantic would report the list form and its own
            # type names ("constrained-int") too
            raise ValueError(f"members must be 1 to {MAX_MEMBERS:,} people, not {v}" if v > 0 else
                             "a role needs at least one member")
        if isinstance(v, (list, dict)) and len(v) > MAX_MEMBERS:
            raise ValueError(f"members lists {len(v):,} people; a role has at most {MAX_MEMBERS:,}")
        if isinstance(v, list):
            if not v:
                raise ValueError("a role needs at least one member")
            dup = sorted({m for m in v if v.count(m) > 1})
            if dup:
                raise ValueError(f"duplicate member names: {', '.join(dup)}")
        return v


MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
Month = Literal["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
# meteorological seasons of the northern hemisphere: winter is December to February
SEASONS = {"winter": (12, 1, 2), "spring": (3, 4, 5), "summer": (6, 7, 8), "autumn": (9, 10, 11)}
Season = Literal["winter", "spring", "summer", "autumn"]
Factor = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class PeakSpec(Strict):
    """The last ``days`` calendar days of a month (or quarter) get ``factor`` times the arrivals."""

    days: Annotated[int, Field(ge=1, le=28)]
    factor: Factor


class HolidayDipSpec(Strict):
    """Arrivals times ``factor`` on the holidays of ``calendar`` (default: the arrival calendar)."""

    factor: Factor
    calendar: str | None = None


class BurstSpec(Strict):
    """A campaign: arrivals times ``factor`` from local date ``start`` to ``end`` (both included)."""

    name: str = ""
    start: dt.date
    end: dt.date
    factor: Factor

    @model_validator(mode="after")
    def _order(self) -> BurstSpec:
        if self.end < self.start:
            raise ValueError(f"end {self.end.isoformat()} is before start {self.start.isoformat()}")
        return self


class ArrivalSpec(Strict):
    """When new cases arrive: gaps drawn from ``interarrival``, shaped by calendar and intensity.

    Over the year: ``month`` and ``season`` factors, a ``trend`` (growth per year), ``month_end`` and
    ``quarter_end`` peaks, a dip on ``holidays``, ``bursts`` (campaigns) and day-to-day ``noise`` (the
    coefficient of variation of a random factor per day). All multiply (procsim.sim.arrivals.DayFactors).
    """

    interarrival: DurationDistribution | None = None
    replay: str | None = None  # a CSV of arrival counts per day or hour, relative to the process file
    calendar: str | None = None
    weekday: dict[Weekday, Annotated[float, Field(ge=0)]] | None = None
    hour: dict[Annotated[int, Field(ge=0, le=23)], Annotated[float, Field(ge=0)]] | None = None
    month: dict[Month, Factor] | None = None
    season: dict[Season, Factor] | None = None
    trend: Annotated[float, Field(gt=-1, le=10, allow_inf_nan=False)] = 0.0
    month_end: PeakSpec | None = None
    quarter_end: PeakSpec | None = None
    holidays: HolidayDipSpec | None = None
    bursts: list[BurstSpec] = []
    noise: Annotated[float, Field(ge=0, le=3, allow_inf_nan=False)] = 0.0

    @model_validator(mode="after")
    def _source(self) -> ArrivalSpec:
        if (self.interarrival is None) == (self.replay is None):
            raise ValueError("arrivals need exactly one of 'interarrival' (gaps drawn from a distribution) and "
                             "'replay' (counts per day or hour from a CSV file)")
        return self

    def moves(self) -> bool:
        """Whether any factor over the year is set (then arrivals go through ``DayFactors``)."""
        return bool(self.month or self.season or self.trend or self.month_end or self.quarter_end
                    or self.holidays or self.bursts or self.noise)



def _check_choice_and_args(choice: dict[Any, float] | None, args: Any, faker: str | None) -> None:
    """What an attribute and a master-data field share: choice weights summing to 1, ``args`` only with ``faker``."""
    if choice is not None:
        if not choice:
            raise ValueError("'choice' needs at least one value")
        total = sum(choice.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"choice weights must sum to 1 (they sum to {total:g})")
    if args and faker is None:
        raise ValueError("'args' goes with 'faker'")

class AttributeSpec(Strict):
    """A case attribute: exactly one of ``faker``, ``distribution``, ``choice``, ``expr``, ``value``, ``master``
    (``master: supplier``: the id of a master-data object drawn for the case; ``master: ref.field``: a field of
    the object the attribute ``ref`` refers to, as it was when the case started; procsim.masterdata)."""

    faker: str | None = None
    args: dict[str, Any] = {}
    pool: Annotated[int, Field(gt=0, le=1_000_000)] = 2000
    distribution: DistributionSpec | None = None
    choice: dict[Any, Annotated[float, Field(ge=0)]] | None = None
    expr: str | None = None
    value: Any = None
    round: Annotated[int, Field(ge=0, le=12)] | None = None
    integer: bool = False
    min: float | None = None
    max: float | None = None
    master: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")] | None = None
    description: str = ""

    @model_validator(mode="after")
    def _one_source(self) -> AttributeSpec:
        given = [k for k in ("faker", "distribution", "choice", "expr", "master") if getattr(self, k) is not None]
        if "value" in self.model_fields_set:
            given.append("value")
        if len(given) != 1:
            raise ValueError(
                "an attribute needs exactly one of 'faker', 'distribution', 'choice', 'expr', 'value', 'master'"
                + (f" (got {', '.join(given)})" if given else ""))
        _check_choice_and_args(self.choice, self.args, self.faker)
        return self

    def kind(self, spec: ProcessSpec | None = None) -> str:
        """Declared type for expressions and output columns: number, string, bool or any (a ``master``
        attribute's type needs the ``spec``: the id is a string, a field has the field's type)."""
        if self.master is not None:
            return master_kind(spec, self.master) if spec is not None else "any"
        if self.distribution is not None:
            return "number"
        if self.faker is not None:
            return "string"
        if self.choice is not None:
            return _kind_of(list(self.choice))
        if "value" in self.model_fields_set:
            return _kind_of([self.value])
        return "any"


def _kind_of(values: list[Any]) -> str:
    if all(isinstance(v, bool) for v in values):
        return "bool"
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return "number"
    if all(isinstance(v, str) for v in values):
        return "string"
    return "any"


_CLOCK = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")


def parse_clock(v: Any) -> float:
    """``"10:00"`` -> seconds of the day; ``24:00`` is the end of the day."""
    m = _CLOCK.match(v) if isinstance(v, str) else None
    if not m:
        raise ValueError(f"expected a time of day like '10:00', got {v!r}")
    h, mi = int(m.group(1)), int(m.group(2))
    if h > 24 or mi > 59 or (h == 24 and mi):
        raise ValueError(f"invalid time of day {v!r}: hours 0-24, minutes 0-59")
    return float(h * 3600 + mi * 60)


_CLOCK_SCHEMA = {"type": "string", "pattern": r"^\s*\d{1,2}:\d{2}\s*$", "examples": ["10:00"]}
ClockTime = Annotated[float, BeforeValidator(parse_clock), WithJsonSchema(_CLOCK_SCHEMA)]


class MomentSpec(Strict):
    """Calendar moments in the process's time zone (a wait's ``until``, a batch's ``schedule``): the dates that
    match ``weekdays`` and ``day`` (of the month; ``last`` is its last day) at each of ``time``; or, with
    ``next_working_day``, the start of that calendar's next working day."""

    weekdays: list[Weekday] | None = None
    day: Annotated[int, Field(ge=1, le=31)] | Literal["last"] | None = None
    time: Annotated[list[ClockTime], WithJsonSchema(  # one time, or a list of them
        {"anyOf": [_CLOCK_SCHEMA, {"type": "array", "items": _CLOCK_SCHEMA}], "default": "00:00"})] = [0.0]
    next_working_day: Identifier | None = None

    @field_validator("time", mode="before")
    @classmethod
    def _one_or_more(cls, v: Any) -> Any:
        return [v] if isinstance(v, (str, int, float)) else v

    @model_validator(mode="after")
    def _form(self) -> MomentSpec:
        if self.next_working_day is not None and (self.weekdays is not None or self.day is not None
                                                  or "time" in self.model_fields_set):
            raise ValueError("'next_working_day' stands alone: it is the start of the calendar's next working day")
        if not self.time:
            raise ValueError("'time' needs at least one time of day")
        if self.weekdays is not None and not self.weekdays:
            raise ValueError("'weekdays' needs at least one day")
        return self


class BatchSpec(Strict):
    """An activity that processes the cases waiting for it together: the batch starts when ``size`` cases wait,
    when the first of them has waited ``timeout``, when no case has joined for ``idle``, or at the next
    ``schedule`` moment, whichever comes first. ``work`` says how the batch's member works through it, ``scale``
    multiplies its durations by the batch's size, ``alone`` is the share of cases that find no batch open and are
    done at once, by themselves (Prosimos's batching, docs/process-language.md#batches)."""

    size: Annotated[int, Field(ge=1)] | None = None
    timeout: Duration | None = None
    idle: Duration | None = None
    schedule: MomentSpec | None = None
    work: Literal["together", "parallel", "sequential"] = "together"
    scale: dict[Annotated[int, Field(ge=1)], Annotated[float, Field(gt=0)]] | None = None
    alone: Annotated[float, Field(ge=0, le=1)] = 0.0

    @model_validator(mode="after")
    def _trigger(self) -> BatchSpec:
        if self.size is None and self.timeout is None and self.schedule is None and self.idle is None:
            raise ValueError("a batch needs a trigger: 'size', 'timeout', 'idle' or 'schedule'")
        if self.scale is not None and not self.scale:
            raise ValueError("'scale' needs at least one size: factor")
        return self


class CostSpec(Strict):
    fixed: Annotated[float, Field(ge=0)] = 0.0
    per_hour: Annotated[float, Field(ge=0)] | None = None


class ActivitySpec(Strict):
    """A unit of work: who does it, how long it takes, what follows."""

    name: str | None = None
    description: str = ""
    role: str | None = None
    duration: DurationDistribution
    cost: CostSpec = CostSpec()
    on_shift_end: Literal["pause", "continue"] = "pause"
    priority: int = 0
    assignment: AssignmentSpec | None = None  # overrides the role's
    next: str
    # the duration when the case's previous activity was the key (the last activity it completed)
    duration_after: dict[NodeRef, DurationDistribution] = {}
    immediate: Annotated[float, Field(ge=0, le=1)] = 0.0  # share of instances done in no time (auto-complete)
    batch: BatchSpec | None = None  # cases processed together (procsim.sim.batching)


class WaitSpec(Strict):
    """Time a case waits without anyone working on it: a ``duration`` (a timer, or an external party's response
    time, counted in ``calendar``'s working time if given) or ``until`` a calendar moment. ``log`` writes start
    and complete events (no resource) under ``name``."""

    name: str | None = None
    description: str = ""
    duration: DurationDistribution | None = None
    calendar: Identifier | None = None
    until: MomentSpec | None = None
    log: bool = False
    next: str

    @model_validator(mode="after")
    def _one_kind(self) -> WaitSpec:
        if (self.duration is None) == (self.until is None):
            raise ValueError("a wait needs exactly one of 'duration' (how long) and 'until' (a calendar moment)")
        if self.calendar is not None and self.duration is None:
            raise ValueError("'calendar' goes with 'duration': the wait counts that calendar's working time")
        return self


class Branch(Strict):
    """One outgoing path of an XOR gateway."""

    to: str
    probability: Annotated[float, Field(ge=0, le=1)] | None = None
    when: str | None = None
    max: Annotated[int, Field(ge=0)] | None = None
    label: str = ""


class GatewaySpec(Strict):
    """XOR (one branch), AND (all branches) or OR (the branches whose condition holds or whose independent draw
    succeeds, at least one). A split lists ``branches`` (xor, or) or ``to`` (and); a join has ``next``."""

    type: Literal["xor", "and", "or"]
    branches: list[Branch] | None = None
    to: list[str] | None = None
    next: str | None = None
    description: str = ""

    @model_validator(mode="after")
    def _shape(self) -> GatewaySpec:
        forms = [k for k in ("branches", "to", "next") if getattr(self, k) is not None]
        if len(forms) != 1:
            raise ValueError("a gateway needs exactly one of 'branches' (xor split), 'to' (and split), "
                             "'next' (join)")
        if self.type == "xor" and self.to is not None:
            raise ValueError("an xor split lists 'branches' (with probabilities or conditions), not 'to'")
        if self.type == "and" and self.branches is not None:
            raise ValueError("an and split lists 'to', not 'branches'")
        if self.to is not None and len(self.to) < 2:
            raise ValueError("an and split needs at least two targets in 'to'")
        if self.type == "or" and self.to is not None:
            raise ValueError("an or split lists 'branches' (each with a probability or a condition), not 'to'")
        if self.type == "or" and self.branches is not None:
            if len(self.branches) < 2:
                raise ValueError("an or split needs at least two branches")
            for b in self.branches:
                if b.max is not None:
                    raise ValueError("an or split's branches take no 'max' (a loop goes back through an xor split)")
                if (b.when is None) == (b.probability is None):
                    raise ValueError("each branch of an or split has either a 'probability' (its own chance, drawn "
                                     "independently) or a 'when'")
            if len({b.to for b in self.branches}) < len(self.branches):
                raise ValueError("the branches of an or split lead to different nodes")
            return self
        if self.branches is not None:
            if len(self.branches) < 2:
                raise ValueError("an xor split needs at least two branches")
            if any(b.when is not None and b.probability is not None for b in self.branches):
                raise ValueError("a branch with 'when' takes no probability: it is taken whenever its condition "
                                 "holds; probabilities share out the branches without 'when'")
            rest = [b for b in self.branches if b.when is None]
            if not rest:
                raise ValueError("an xor split needs at least one branch without 'when', taken when no condition "
                                 "holds")
            if any(b.probability is None for b in rest):
                if len(rest) == 1:
                    pass  # the one default branch: probability 1 implied
                else:
                    raise ValueError("every branch without 'when' needs a probability")
            else:
                total = sum(b.probability or 0.0 for b in rest)
                if abs(total - 1.0) > 1e-6:
                    raise ValueError(f"branch probabilities must sum to 1 (they sum to {total:g})")
        return self


class EventSpec(Strict):
    """A start event (with ``next``) or an end event."""

    type: Literal["start", "end"]
    next: str | None = None
    description: str = ""

    @model_validator(mode="after")
    def _next(self) -> EventSpec:
        if self.type == "start" and self.next is None:
            raise ValueError("a start event needs 'next'")
        if self.type == "end" and self.next is not None:
            raise ValueError("an end event has no 'next'")
        return self


class LinesSpec(Strict):
    """Line items of an object: ``count`` lines, each an object of type ``item`` with its own ``fields``
    (expressions that may also read ``line``, the 1-based line number, and ``lines``, the count); ``sums``
    gives the object fields that total an item field, so an order's total is the sum of its lines."""

    count: str
    item: Identifier
    fields: dict[Identifier, str] = {}
    sums: dict[Identifier, Identifier] = {}  # object field -> item field it totals (rounded to cents)


class MaterialSpec(Strict):
    """One entry of the ``line_items`` catalogue: what is bought or sold, its unit, its unit price (a
    distribution, rounded half up to cents when drawn) and, if it differs from the section's, its tax rate."""

    description: str
    unit: str = "pc"
    price: DistributionSpec
    tax_rate: Annotated[float, Field(ge=0, le=1)] | None = None
    weight: Annotated[float, Field(gt=0)] = 1.0


class LineItemsSpec(Strict):
    """Line items drawn per case (``procsim.lineitems``): ``count`` lines (weights by number of lines), each a
    material of ``materials`` (keyed by material number, drawn by weight) with an integer ``quantity`` (a
    distribution, rounded, at least 1); money is exact decimal cents, tax rounded half up per line; ``totals``
    names the case attributes that receive the sums (net, tax, gross) and the number of lines (lines) before
    any derived attribute is computed."""

    count: dict[Annotated[int, Field(ge=1, le=100)], Annotated[float, Field(ge=0)]]
    materials: dict[Identifier, MaterialSpec] = {}
    # or the materials are the objects of a master-data type (fields description, unit, price, [tax_rate]),
    # chosen by its popularity: one source of truth for OCEL material objects, lines and documents
    master: Identifier | None = None
    quantity: DistributionSpec
    tax_rate: Annotated[float, Field(ge=0, le=1)] = 0.0
    totals: dict[Literal["net", "tax", "gross", "lines"], Identifier] = {}
    description: str = ""

    @model_validator(mode="after")
    def _weights(self) -> LineItemsSpec:
        if not self.count or sum(self.count.values()) <= 0:
            raise ValueError("'count' needs at least one number of lines with a weight above 0")
        if self.master is not None and self.materials:
            raise ValueError("the materials come either from 'materials' (a catalogue) or from 'master' (a "
                             "master-data type), not both")
        if self.master is None and not self.materials:
            raise ValueError("'materials' needs at least one material (or name a master-data type in 'master')")
        return self


class ObjectSpec(Strict):
    """A business object (OCEL 2.0 object type): which activity's completion creates it, which ones update it
    or use it, its number pattern, its fields (expressions over the case attributes) and its links."""

    created_by: NodeRef | list[NodeRef]  # one activity, or several (e.g. card payment or cash receipt)
    updated_by: list[NodeRef] = []
    used_by: list[NodeRef] = []
    number: str
    fields: dict[Identifier, str] = {}
    refers_to: list[Identifier] = []
    lines: LinesSpec | None = None
    # the case's drawn line items (``line_items:``) as this document shows them (procsim.lineitems)
    line_items: Literal["order", "receipt", "invoice", "payment"] | None = None
    description: str = ""

    def creators(self) -> list[str]:
        return [self.created_by] if isinstance(self.created_by, str) else list(self.created_by)


class MasterFieldSpec(Strict):
    """A field of a master-data object: exactly one of ``faker`` (with ``args``), ``choice``, ``distribution``,
    ``value``; numbers may be rounded."""

    faker: str | None = None
    args: dict[str, Any] = {}
    choice: dict[Any, Annotated[float, Field(ge=0)]] | None = None
    distribution: DistributionSpec | None = None
    value: Any = None
    round: Annotated[int, Field(ge=0, le=12)] | None = None
    description: str = ""

    @model_validator(mode="after")
    def _one_source(self) -> MasterFieldSpec:
        given = [k for k in ("faker", "choice", "distribution") if getattr(self, k) is not None]
        if "value" in self.model_fields_set:
            given.append("value")
        if len(given) != 1:
            raise ValueError("a master-data field needs exactly one of 'faker', 'choice', 'distribution', 'value'"
                             + (f" (got {', '.join(given)})" if given else ""))
        _check_choice_and_args(self.choice, self.args, self.faker)
        return self

    def kind(self) -> str:
        if self.distribution is not None:
            return "number"
        if self.faker is not None:
            return "string"
        if self.choice is not None:
            return _kind_of(list(self.choice))
        return _kind_of([self.value])


class PopularitySpec(Strict):
    """How often each object is chosen for a case: ``uniform``, or ``zipf`` (the object numbered k is chosen
    with weight 1/k^exponent: a few objects get many cases, as suppliers and customers do in real data)."""

    kind: Literal["uniform", "zipf"] = "zipf"
    exponent: Annotated[float, Field(ge=0, le=5)] = 1.0


class MasterChangeSpec(Strict):
    """A field that changes over time: ``rate`` changes per object and year (a Poisson process on the
    simulation clock); each change draws a new value the way the field's first one was drawn."""

    rate: Annotated[float, Field(gt=0, le=52)]


class MasterTypeSpec(Strict):
    """A master-data object type (procsim.masterdata): ``count`` objects drawn once per run, or one object per
    member of ``roles`` (employees); numbered by ``number``; chosen per case by ``popularity``; linked to the
    events of ``used_by`` activities; fields that change at ``changes`` rates."""

    count: Annotated[int, Field(gt=0, le=MAX_MASTER_OBJECTS)] | None = None
    roles: list[Identifier] | None = None
    number: str
    popularity: PopularitySpec | Literal["uniform", "zipf"] = "zipf"
    fields: dict[Identifier, MasterFieldSpec] = {}
    changes: dict[Identifier, MasterChangeSpec] = {}
    used_by: list[NodeRef] = []
    description: str = ""

    @model_validator(mode="after")
    def _count_or_roles(self) -> MasterTypeSpec:
        if (self.count is None) == (self.roles is None):
            raise ValueError("a master-data type needs exactly one of 'count' (objects drawn once per run) and "
                             "'roles' (one object per member: employees)")
        return self

    def popular(self) -> PopularitySpec:
        return self.popularity if isinstance(self.popularity, PopularitySpec) else PopularitySpec(
            kind=self.popularity)


class SchemeSpec(Strict):
    """A scheme across cases (procsim.schemes): ``count`` instances, each a group of ``cases`` cases that share
    one supplier (the master object the reference attribute ``supplier`` names) and whose ``amount`` the scheme
    sets: ``split_purchase`` (amounts just under ``limit``), ``kickback`` (prices ``factor`` above the market),
    ``ghost_vendor`` (a supplier created for the scheme, its ``bank`` field changed, paid, then dormant),
    ``duplicate_payment`` (the same amount paid to the same supplier in several cases). The cases of an
    instance start ``spacing`` arrivals apart; each activity in ``same_person`` is done by one member of its
    role in all of them (the one requester who splits, the one approver who takes the kickback)."""

    type: Literal["split_purchase", "kickback", "ghost_vendor", "duplicate_payment"]
    name: Identifier | None = None
    count: Annotated[int, Field(ge=1, le=1000)] = 1
    supplier: Identifier
    amount: Identifier
    cases: Annotated[int, Field(ge=2, le=1000)] | None = None
    spacing: Annotated[int, Field(ge=1, le=10_000)] = 1
    limit: Annotated[float, Field(gt=0)] | None = None
    low: Annotated[float, Field(gt=0, lt=1)] = 0.9
    factor: Annotated[float, Field(gt=1, le=10)] = 1.3
    bank: Identifier = "iban"
    same_person: list[Identifier] = []
    description: str = ""

    @model_validator(mode="after")
    def _limit(self) -> SchemeSpec:
        if (self.type == "split_purchase") != (self.limit is not None):
            raise ValueError("'limit' (the approval limit the parts stay under) goes with split_purchase, and "
                             "only with it")
        return self

    @property
    def label(self) -> str:
        return self.name or self.type

    def group(self) -> int:
        """Cases per instance: given, or the type's usual number."""
        return self.cases or {"split_purchase": 3, "kickback": 12, "ghost_vendor": 3, "duplicate_payment": 2}[
            self.type]


class DocumentSpec(Strict):
    """A business document: one rendering (by a jinja2 template, path relative to the process file) per object
    of type ``object``; ``when`` keeps only objects whose final field values equal the given ones; ``tax_rate``
    names the object field holding the tax rate (a fraction) the totals of its line items use."""

    object: Identifier
    template: str
    when: dict[Identifier, str | bool | int | float] = {}
    tax_rate: Identifier | None = None
    description: str = ""


class CallSpec(Strict):
    """A node that runs a sub-process from its start event to an end event, then goes on to ``next``."""

    subprocess: Identifier
    next: str
    description: str = ""


class SubprocessSpec(Strict):
    """A fragment of flow defined once and used by reference from ``calls`` (a BPMN call activity's target):
    its own start event, end events, activities, gateways and calls of other sub-processes, with the process's
    roles and calendars."""

    description: str = ""
    events: dict[Identifier, EventSpec]
    activities: dict[Identifier, ActivitySpec] = {}
    gateways: dict[Identifier, GatewaySpec] = {}
    calls: dict[Identifier, CallSpec] = {}
    waits: dict[Identifier, WaitSpec] = {}


def parse_batch_time(v: Any) -> float:
    """``"18:00"`` (or seconds) -> seconds after local midnight: a recording batch time (hours 0-23)."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    m = _CLOCK.match(v) if isinstance(v, str) else None
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise ValueError(f"expected a local time like '18:00', got {v!r}")
    return float(int(m.group(1)) * 3600 + int(m.group(2)) * 60)


BatchTime = Annotated[float, BeforeValidator(parse_batch_time),
                      WithJsonSchema({"type": "string", "pattern": r"^\s*\d{1,2}:\d{2}\s*$", "examples": ["18:00"]})]
Granularity = Annotated[Duration, Field(gt=0, le=86400)]


class RecordSpec(Strict):
    """How a system records an activity's events: timestamps cut to ``granularity`` (1s, 1m, 1h, 1d), and
    completions entered ``delay`` later and/or at the next of the local ``batch`` times (an end-of-day run)."""

    granularity: Granularity | None = None
    delay: DurationDistribution | None = None
    batch: Annotated[list[BatchTime], Field(min_length=1)] | None = None


class WindowSpec(Strict):
    """An extraction window of local dates (both included): what a log extracted on ``end`` shows.

    Cases still running at the end are cut; cases begun before ``start`` keep their events inside the window
    (``started_before: partial``) or are left out (``drop``). The time before ``start`` is the warm-up.
    """

    start: dt.date
    end: dt.date
    started_before: Literal["partial", "drop"] = "partial"

    @model_validator(mode="after")
    def _order(self) -> WindowSpec:
        if self.end < self.start:
            raise ValueError(f"end {self.end.isoformat()} is before start {self.start.isoformat()}")
        return self


class RecordingSpec(RecordSpec):
    """Logs as systems record them (procsim.recording): system-wide settings, per-activity ones that replace
    them, and an extraction window."""

    activities: dict[NodeRef, RecordSpec] = {}
    window: WindowSpec | None = None


UnitName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_]{0,31}$")]


class UnitSpec(Strict):
    """An organisational unit (company code, plant, region): a simulation of its own, sharing no resources with
    the other units (``docs/scaling.md``). Unset fields are the process's own."""

    description: str = ""
    arrival_factor: Annotated[float, Field(gt=0, le=1000)] = 1.0  # times the process's arrival rate
    staff: dict[Identifier, Annotated[int, Field(ge=1, le=MAX_MEMBERS)]] = {}  # role -> number of members
    calendars: dict[Identifier, CalendarSpec] = {}  # a calendar of the process, as this unit keeps it


class ProcessSpec(Strict):
    """A whole process file."""

    process: ProcessMeta
    calendars: dict[Identifier, CalendarSpec] = {}
    roles: dict[Identifier, RoleSpec]
    arrivals: ArrivalSpec
    attributes: dict[Identifier, AttributeSpec] = {}
    events: dict[Identifier, EventSpec]
    activities: dict[Identifier, ActivitySpec]
    gateways: dict[Identifier, GatewaySpec] = {}
    waits: dict[Identifier, WaitSpec] = {}  # waits that hold nobody (timers, external parties, calendar moments)
    subprocesses: dict[Identifier, SubprocessSpec] = {}
    calls: dict[Identifier, CallSpec] = {}  # expanded into the sections above at load (procsim.spec.subprocesses)
    rules: list[str] = []
    exceptions: list[ExceptionSpec] = []  # rare injected exceptions with ground-truth labels (procsim.exceptions)
    near_misses: list[NearMissSpec] = []  # legitimate cases that look suspicious (procsim.exceptions.nearmiss)
    data_quality: list[QualityFault] = []  # faults in recorded values, per field (procsim.exceptions.quality)
    objects: dict[Identifier, ObjectSpec] = {}  # business objects for object-centric output (procsim.objects)
    master_data: dict[Identifier, MasterTypeSpec] = {}  # objects shared by many cases (procsim.masterdata)
    schemes: list[SchemeSpec] = []  # fraud schemes spanning cases, with ground truth (procsim.schemes)
    documents: dict[Identifier, DocumentSpec] = {}  # rendered business documents (procsim.documents)
    line_items: LineItemsSpec | None = None  # line items drawn per case, money in exact cents (procsim.lineitems)
    recording: RecordingSpec | None = None  # granularity, recording delays, extraction window (procsim.recording)
    drift: list[DriftSpec] = []  # the process changing over time, with ground truth (procsim.drift)
    units: dict[UnitName, UnitSpec] = {}  # organisational units, each its own simulation (procsim.shards)
    # the compiled documents, set by procsim.documents.check_documents at load (templates need the file's folder)
    _documents: Any = PrivateAttr(None)
    # call node -> procsim.spec.subprocesses.Expansion, set when the calls are expanded at load
    _calls: Any = PrivateAttr(default_factory=dict)


def master_kind(spec: ProcessSpec, master: str) -> str:
    """The type of an attribute ``master: X`` (an object id: a string) or ``master: ref.field`` (the field's)."""
    ref, _, field = master.partition(".")
    if not field:
        return "string"
    r = spec.attributes.get(ref)
    t = spec.master_data.get(r.master) if r is not None and r.master is not None else None
    if t is None:
        return "any"
    if field in t.fields:
        return t.fields[field].kind()
    return "string" if t.roles is not None and field in ("name", "role") else "any"


def written_gateways(spec: ProcessSpec) -> list[tuple[tuple[str, ...], str, GatewaySpec]]:
    """``(where, name, gateway)`` for each gateway as the user wrote it: the process's own (not the copies calls
    expand into) and each sub-process's at its own lines, so a check runs once per written gateway."""
    copies = {n for x in spec._calls.values() for n in x.nodes}
    out: list[tuple[tuple[str, ...], str, GatewaySpec]] = [
        (("gateways",), g, gw) for g, gw in spec.gateways.items() if g not in copies]
    for s, sub in spec.subprocesses.items():
        out += [(("subprocesses", s, "gateways"), g, gw) for g, gw in sub.gateways.items()]
    return out
