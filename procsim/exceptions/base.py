"""Rare-exception injection: the base class of every exception type, its registry, and the run-time plan.

An exception type is one pydantic class with a ``type`` literal, its parameters, and its effect. Subclasses
register themselves by ``type``; ``procsim.exceptions`` builds the YAML union from the registry (as
``procsim.distributions`` does for ``kind``). Types belong to one of three phases:

* ``start``: the case is chosen when it starts (data exceptions change attributes then, or arm an effect);
* ``activity``: the effect applies to one execution of ``activity`` (chosen per case, then applied at the
  first execution reached, or per execution with ``per: activity``);
* ``global``: a scheduled spell for the whole run (system outage, resource absence); no rate.

Randomness: every case draws its exception decisions from a stream of its own (``STREAM_EXC``), so adding
or removing an exception never reshuffles attributes, durations or routing of any case. In ``count`` mode
the cases are chosen up front from a stream per exception (``STREAM_EXC_PICK``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, get_args, get_origin

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from procsim.registry import Registry
from procsim.sim.streams import STREAM_EXC, STREAM_EXC_PICK, CaseStreams, stream

if TYPE_CHECKING:
    from procsim.records import Case
    from procsim.sim.engine import Activity

REGISTRY: Registry[type[ExceptionType]] = Registry("exception type", "procsim.exceptions", "Exception types")
# near misses (procsim.exceptions.nearmiss): legitimate cases that look suspicious
NEAR_REGISTRY: Registry[type[ExceptionType]] = Registry("near-miss type", "procsim.near_misses", "Near misses")

# What a label says beyond the name (exceptions.csv): declared per type below, overridable per exception.
CATEGORIES = ("control_flow", "time", "data", "fraud", "compliance")
SEVERITIES = ("low", "medium", "high", "critical")
# what a detector needs to see to find it, easiest first: the sequence of activities; one value; two values that
# should agree; durations and gaps (judged against what is normal, which varies); only several cases together.
# benchmarks/bench_detect.py measures the order (the mean recall of three simple detectors falls along it).
DIFFICULTIES = ("control_flow", "one_field", "cross_document", "timing", "several_cases")
Category = Literal["control_flow", "time", "data", "fraud", "compliance"]
Severity = Literal["low", "medium", "high", "critical"]
Difficulty = Literal["control_flow", "one_field", "cross_document", "timing", "several_cases"]
INJECTED = "@exceptions"  # the 'source' of an injected exception in Case.exceptions (rule ids cannot look like it)

START, COMPLETE = 1, 2  # lifecycle bits for missing / duplicated events


def _require_type(schema: dict[str, Any]) -> None:
    schema["required"] = ["type", *(r for r in schema.get("required", []) if r != "type")]


class ExceptionType(BaseModel):
    """Fields every exception shares: ``name`` (defaults to ``type``), ``rate`` or ``count``, ``per``, ``when``."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_require_type)

    type: str
    name: str | None = None
    rate: Annotated[float, Field(ge=0, le=1)] | None = None
    count: Annotated[int, Field(ge=0)] | None = None
    per: Literal["case", "activity"] = "case"
    when: str | None = None
    description: str = ""
    # the label's metadata in exceptions.csv; None: the type's default (default_category ... below)
    category: Category | None = None
    severity: Severity | None = None
    difficulty: Difficulty | None = None
    money: str | None = None  # a number attribute: the money at stake (monetary impact in exceptions.csv)

    phase: ClassVar[str] = "activity"
    default_category: ClassVar[str] = "control_flow"
    default_severity: ClassVar[str] = "medium"
    default_difficulty: ClassVar[str] = "control_flow"
    near: ClassVar[bool] = False  # a near miss: legitimate, labelled is_exception=false
    family: ClassVar[str] = ""
    activity_fields: ClassVar[tuple[str, ...]] = ()  # parameters naming activities (checked at load)
    role_fields: ClassVar[tuple[str, ...]] = ()
    attribute_fields: ClassVar[tuple[str, ...]] = ()
    number_fields: ClassVar[tuple[str, ...]] = ()  # attribute parameters that must name a number attribute
    flow: ClassVar[bool] = False  # the effect adds, removes, repeats or reorders activity events

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        ann = cls.model_fields["type"].annotation
        if ann is str:
            return  # an intermediate base (NearMiss): its subclasses register
        tags = get_args(ann) if get_origin(ann) is Literal else ()
        if len(tags) != 1:
            raise TypeError(f"{cls.__name__}.type must be Literal['<name>']")
        (NEAR_REGISTRY if cls.near else REGISTRY).add(tags[0], cls)

    @model_validator(mode="after")
    def _how_often(self) -> ExceptionType:
        if self.phase == "global":
            if self.rate is not None or self.count is not None or self.when is not None or self.per != "case":
                raise ValueError(f"'{self.type}' is a scheduled spell: it takes no 'rate', 'count', 'per' or 'when'")
        elif (self.rate is None) == (self.count is None):
            raise ValueError("give exactly one of 'rate' (a probability) or 'count' (an exact number of cases)")
        elif self.per == "activity" and self.phase != "activity":
            raise ValueError(f"'{self.type}' changes the case's data at its start: use 'per: case'")
        return self

    @property
    def label(self) -> str:
        return self.name or self.type

    def meta(self) -> tuple[str, str, str]:
        """(category, severity, detection difficulty): as declared, else the type's defaults."""
        return (self.category or self.default_category, self.severity or self.default_severity,
                self.difficulty or self.default_difficulty)

    def fields(self) -> tuple[str, ...]:
        """The attributes (fields) the exception changes or compares, for exceptions.csv."""
        return tuple(dict.fromkeys(a for f in self.attribute_fields if (a := getattr(self, f, None))))

    def target(self) -> str | None:
        """The activity whose execution this exception alters (activity phase)."""
        return getattr(self, "activity", None)

    def alters_control_flow(self) -> bool:
        """Whether the effect changes which activity events a case has, or their order (for conformance)."""
        return self.flow

    def check(self, spec: Any, types: dict[str, str]) -> list[tuple[tuple[Any, ...], str, str]]:
        """Type-specific checks beyond names: (field path, message, code)."""
        return []

    # -- run time ---------------------------------------------------------------------------------

    def on_case(self, case: Case, st: CaseExc, plan: Plan) -> bool:
        """The case was chosen at its start: data types change it here; others arm their activity."""
        target = self.target()
        assert target is not None
        st.armed.setdefault(target, []).append(self)
        return False  # labelled only when the effect happens

    def apply(self, eff: Effect, case: Case, st: CaseExc, plan: Plan) -> bool:
        """Change this execution's plan; False when the effect cannot happen here (nothing is labelled)."""
        return False

    def start_global(self, sim: Any, plan: Plan) -> None:
        """Global spells: start their SimPy process."""

    def observe(self, case: Case, plan: Plan) -> None:
        """Called for every case after its start (whether chosen or not); most types ignore it."""


@dataclass(eq=False)
class Effect:
    """What the exceptions hitting one activity execution do to it."""

    label: str = ""  # names on this execution's events
    skip: bool = False
    defer: str | None = None  # do it after this activity instead (swapped order)
    pool: int | None = None
    allowed: Any = None
    wait: float = 0.0  # idle time before the activity
    scale: float = 1.0
    add: float = 0.0
    missing: int = 0  # lifecycle bits not written
    dup: int = 0  # lifecycle bits written twice (the copy labelled dup_label)
    dup_label: str = ""
    repeats: list[str] = field(default_factory=list)  # one label per repetition after the activity
    inserts: list[tuple[Activity, str]] = field(default_factory=list)
    after: list[Callable[[], None]] = field(default_factory=list)
    raised: list[str] = field(default_factory=list)  # the exceptions this execution newly put on the case

    def tag(self, name: str) -> None:
        self.label = f"{self.label};{name}" if self.label else name


class CaseExc:
    """A case's exception state: its random stream, armed effects, performers, sticky labels, omissions."""

    __slots__ = ("rng", "armed", "who", "sticky", "omitted", "deferred", "changed", "related")

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.armed: dict[str, list[ExceptionType]] = {}
        self.who: dict[str, tuple[int, int]] = {}  # activity -> (pool, member) of its last execution
        self.sticky = ""  # labels of every later event (data changed)
        self.omitted: list[str] = []  # events that should exist but do not (skipped activity, logging gap)
        self.deferred: dict[str, list[tuple[str, str]]] = {}  # after activity -> [(activity, label)]
        # label -> (attribute, old value, new value) of the data an exception changed (monetary impact)
        self.changed: dict[str, tuple[str, Any, Any]] = {}
        self.related: dict[str, list[str]] = {}  # label -> ids of other cases it involves (a near miss's twin)

    def change(self, case: Any, name: str, attribute: str, value: Any) -> None:
        """Set a case attribute on behalf of exception ``name``, remembering the value it had."""
        old = self.changed[name][1] if name in self.changed else case.attrs.get(attribute)
        case.set(attribute, value)
        self.changed[name] = (attribute, old, value)

    def stick(self, name: str) -> None:
        if name not in self.sticky.split(";"):
            self.sticky = f"{self.sticky};{name}" if self.sticky else name


class Plan:
    """The compiled ``exceptions:`` section, asked by the simulation at case start and before activities."""

    def __init__(self, entries: list[ExceptionType], conds: list[Callable[[Any], Any] | None],
                 acts: dict[str, Activity], role_index: dict[str, int], pool_members: dict[str, list[str]],
                 types: dict[str, str], *, new_activity: Callable[..., Activity] | None = None) -> None:
        self.entries = entries
        self.new_activity = new_activity  # the engine's Activity class, for the activities an exception inserts
        self.conds = conds
        self.acts = acts
        self.role_index = role_index
        self.pool_members = pool_members
        self.types = types
        self.per_case = [k for k, x in enumerate(entries) if x.phase != "global" and x.per == "case"]
        self.per_act: dict[str, list[int]] = {}
        for k, x in enumerate(entries):
            if x.phase == "activity" and x.per == "activity":
                self.per_act.setdefault(x.target() or "", []).append(k)
        self.globals = [x for x in entries if x.phase == "global"]
        # entries that watch every case as it starts (a near miss copying an earlier case's value)
        self.observers = [x for x in entries if type(x).observe is not ExceptionType.observe]
        self.chosen: list[frozenset[int] | None] = [None] * len(entries)
        self.pending = [0] * len(entries)
        self.seed = 0
        self.streams = CaseStreams(0, 0)  # per-case decision streams: replaced by bind()
        self.outages: list[tuple[float, float, str]] = []
        self.absent: dict[int, str] = {}  # pool index -> name of the absence spell going on
        self.cache: dict[int, Any] = {}  # per exception entry: objects built once (inserted activities)
        # procsim.lineitems.LineFit (set by the simulation's build) or None: an amount that is the net total of
        # the case's line items is set through its lines, so tax, gross and the documents follow
        self.lines: Any = None

    def bind(self, seed: int, n_cases: int | None) -> None:
        from procsim.errors import UsageError

        self.seed = seed
        self.streams = CaseStreams(seed, STREAM_EXC)
        self.pending = [0] * len(self.entries)
        self.outages.clear()
        self.absent.clear()
        for k, x in enumerate(self.entries):
            if x.count is None:
                continue
            if n_cases is None:
                raise UsageError(f"exception '{x.label}' has 'count: {x.count}', which needs a number of cases "
                                 "(--cases), not a --horizon or an extraction --window; use 'rate' with those")
            n = min(x.count, n_cases)
            picks = stream(seed, STREAM_EXC_PICK, k).choice(n_cases, size=n, replace=False)
            self.chosen[k] = frozenset(int(i) for i in picks)

    def set_amount(self, case: Case, st: CaseExc, name: str, attribute: str, value: Any) -> None:
        """Set ``attribute`` on behalf of ``name``; when it is the net total of the case's line items, the
        lines are changed to add up to it to the cent, and the tax and gross totals follow them."""
        fit = self.lines
        if fit is not None and fit.covers(attribute) and isinstance(value, (int, float)):
            totals = fit.to_net(case.idx, value)
            value = totals.pop(attribute)
            for k, v in totals.items():
                case.set(k, v)
        st.change(case, name, attribute, value)

    def _holds(self, k: int, case: Case, act: str | None, now: float) -> bool:
        cond = self.conds[k]
        if cond is None:
            return True
        env = case.attrs
        env["activity"] = act
        env["elapsed"] = now - case.start
        return bool(cond(env))

    def case_started(self, case: Case, now: float) -> CaseExc:
        st = CaseExc(self.streams.get(case.idx))
        rng = st.rng
        for k in self.per_case:
            x = self.entries[k]
            u = rng.random()  # drawn whatever happens, so one exception's outcome never shifts another's
            chosen = self.chosen[k]
            if chosen is not None:
                hit = case.idx in chosen or self.pending[k] > 0
                if hit and not self._holds(k, case, None, now):
                    if case.idx in chosen:
                        self.pending[k] += 1  # the condition does not hold: the next matching case takes it
                    continue
                if hit and case.idx not in chosen:
                    self.pending[k] -= 1
            else:
                hit = u < (x.rate or 0.0) and self._holds(k, case, None, now)
            if hit and x.on_case(case, st, self):
                case.raise_exception(x.label, INJECTED)
        for x in self.observers:
            x.observe(case, self)
        return st

    def effect(self, case: Case, act: Activity, now: float) -> Effect | None:
        st: CaseExc = case.exc
        armed = st.armed.pop(act.id, None)
        ks = self.per_act.get(act.id)
        if armed is None and ks is None:
            return None
        eff = Effect()
        hit = False
        for x in armed or ():
            if x.apply(eff, case, st, self):
                self._raise(case, eff, x.label)
                hit = True
        for k in ks or ():
            x = self.entries[k]
            u = st.rng.random()
            chosen = self.chosen[k]
            if chosen is not None:
                # count mode per activity: the chosen cases, at their first execution where 'when' holds
                ok = case.idx in chosen and not any(n == x.label for n, _ in case.exceptions)
            else:
                ok = u < (x.rate or 0.0)
            if ok and self._holds(k, case, act.id, now) and x.apply(eff, case, st, self):
                self._raise(case, eff, x.label)
                hit = True
        return eff if hit else None

    @staticmethod
    def _raise(case: Case, eff: Effect, label: str) -> None:
        if (label, INJECTED) not in case.exceptions:
            eff.raised.append(label)
        case.raise_exception(label, INJECTED)

    @staticmethod
    def withdraw(case: Case, eff: Effect) -> None:
        """The activity was not done after all (a deadline escalated it): neither was what its exceptions do,
        so the case is not labelled with them, unless one already changed its data (a sticky label)."""
        st: CaseExc = case.exc
        sticky = set(st.sticky.split(";")) if st.sticky else set()
        gone = {x for x in eff.raised if x not in sticky}
        if gone:
            case.exceptions[:] = [(n, src) for n, src in case.exceptions if not (src == INJECTED and n in gone)]
