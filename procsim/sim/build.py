"""Compiling a validated spec into the simulation's ``Model``: samplers, pools, calendars, attribute makers.

Everything that can fail on the user's input is checked at load, with positions, by
``procsim.spec.checks.check_model``; ``build_model`` then only assembles trusted pieces.
"""

from __future__ import annotations

import copy
import datetime as dt
import threading
from bisect import bisect_right
from pathlib import Path
from collections.abc import Callable
from itertools import accumulate
from typing import TYPE_CHECKING, Any, cast
from zoneinfo import ZoneInfo

import numpy as np

from procsim.errors import SimulationError
from procsim.graph import and_blocks, start_node
from procsim.rules.expr import ExprError, compile_at, compile_expr  # noqa: F401 - compile_at: re-exported (it lived here)
from procsim.sim.arrivals import Burst, DayFactors, RateProfile, Replay, read_replay
from procsim.sim.calendar import WorkCalendar
from procsim.sim.engine import (ACT, AND_JOIN, AND_SPLIT, END, OR_SPLIT, PASS, WAIT, XOR, Activity, Gateway, Model,
                                Node)
from procsim.lineitems import LineDrawer, LineFit
from procsim.sim.streams import (STREAM_ARRIVAL_DAYS, STREAM_BATCH, STREAM_BATCH_ALONE, STREAM_DATA, STREAM_NAMES,
                                 STREAM_POOLS, STREAM_SAMPLES, CaseStreams, stream)
from procsim.spec.models import MONTHS, SEASONS, WEEKDAYS, AttributeSpec, MomentSpec, ProcessSpec
from procsim.sim.people import member_weights, people_setup, policy_code
from procsim.masterdata import World
from procsim.schemes import SchemePlan

if TYPE_CHECKING:
    from procsim.spec import LoadedProcess

# Names an attribute's expression may use besides the attributes declared before it.
CONTEXT_NAMES: dict[str, str] = {"case_id": "string"}


def attribute_types(spec: ProcessSpec) -> dict[str, str]:
    """Declared type of each attribute, for expressions and output columns."""
    out: dict[str, str] = {}
    for name, a in spec.attributes.items():
        kind = a.kind(spec)
        if kind == "any" and a.expr is not None:
            try:
                kind = compile_expr(a.expr, expr_names(out)).type
            except ExprError:
                kind = "any"
        if kind == "number" and a.integer:
            kind = "integer"
        out[name] = kind if kind in ("number", "integer", "string", "bool") else "any"
    return out


def expr_names(types: dict[str, str]) -> dict[str, str]:
    return {**CONTEXT_NAMES, **{k: ("number" if v == "integer" else v) for k, v in types.items()}}


# Fakers are slow to make (~50 ms a locale), so they are kept, but per thread: every use reseeds its Faker
# (seed_instance) and draws at once, and two runs in threads of one process (dask workers) must not reseed
# the same instance under each other.
_FAKERS = threading.local()


def faker_for(locale: str) -> Any:
    from faker import Faker

    cache: dict[str, Any] | None = getattr(_FAKERS, "by_locale", None)
    if cache is None:
        cache = _FAKERS.by_locale = {}
    if locale not in cache:
        cache[locale] = Faker(locale)
    return cache[locale]


def moments(spec: ProcessSpec, m: MomentSpec, cals: dict[str, WorkCalendar]) -> Any:
    from procsim.sim.waits import Moments

    return Moments(tz=ZoneInfo(spec.process.timezone), origin=spec.process.start,
                   weekdays={WEEKDAYS.index(d) for d in m.weekdays} if m.weekdays is not None else None,
                   day=m.day, times=list(m.time),
                   working=cals[m.next_working_day] if m.next_working_day is not None else None)


def exception_names(types: dict[str, str]) -> dict[str, str]:
    """Names an exception's 'when' may use: the attributes, case_id, the activity and the elapsed time."""
    return {**expr_names(types), "activity": "string", "elapsed": "duration"}


def build_exceptions(loaded: LoadedProcess, acts: dict[str, Activity], role_index: dict[str, int],
                     names: dict[str, list[str]]) -> Any:
    from procsim.exceptions import Plan

    spec = loaded.spec
    types = attribute_types(spec)
    enames = exception_names(types)
    entries = [*spec.exceptions, *spec.near_misses]
    conds = [compile_expr(x.when, enames, expect="bool").fn if x.when else None for x in entries]
    return Plan(entries, conds, acts, role_index, names, types, new_activity=Activity)


def sample_cases(loaded: LoadedProcess, n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` cases' attributes as the simulation would draw them (for load-time checks of rules)."""
    make = AttributeMaker(loaded.spec, seed, STREAM_SAMPLES, expr_positions(loaded))
    out = []
    history: dict[str, list[Any]] = {a: [] for a in loaded.spec.activities}
    for i in range(n):
        attrs = make(i, f"sample-{i}")
        attrs.update(activity=None, resource=None, role=None, elapsed=0.0, history=history,
                     now=loaded.spec.process.start)
        out.append(attrs)
    return out


def _calendars(spec: ProcessSpec) -> dict[str, WorkCalendar]:
    tz = ZoneInfo(spec.process.timezone)
    return {name: WorkCalendar(c.week(), c.holidays, tz=tz, origin=spec.process.start,
                               holiday_country=c.holiday_country, holiday_subdiv=c.holiday_subdiv, name=name)
            for name, c in spec.calendars.items()}


def _rate(spec: ProcessSpec, cals: dict[str, WorkCalendar], seed: int = 0,
          extra: list[Callable[[dt.date], float]] | None = None) -> RateProfile | None:
    a = spec.arrivals
    if a.weekday is None and a.hour is None and a.calendar is None and not a.moves() and not extra:
        return None
    return RateProfile(tz=ZoneInfo(spec.process.timezone), origin=spec.process.start,
                       weekday={WEEKDAYS.index(d): f for d, f in (a.weekday or {}).items()},
                       hour=dict(a.hour or {}), calendar=cals.get(a.calendar) if a.calendar else None,
                       day=_day_factors(spec, cals, seed, extra or []) if a.moves() or extra else None)


def _day_factors(spec: ProcessSpec, cals: dict[str, WorkCalendar], seed: int,
                 extra: list[Callable[[dt.date], float]]) -> DayFactors:
    a = spec.arrivals
    month = [1.0] * 12
    for m, f in (a.month or {}).items():
        month[MONTHS.index(m)] *= f
    for s, f in (a.season or {}).items():
        for mi in SEASONS[s]:
            month[mi - 1] *= f
    holiday = None
    if a.holidays is not None:
        cname = a.holidays.calendar or a.calendar
        cal = cals.get(cname) if cname else None
        holiday = (a.holidays.factor, cal.is_holiday if cal is not None else (lambda d: False))
    origin = spec.process.start.astimezone(ZoneInfo(spec.process.timezone)).date()
    return DayFactors(origin=origin, month=month, trend=a.trend,
                      month_end=(a.month_end.days, a.month_end.factor) if a.month_end else None,
                      quarter_end=(a.quarter_end.days, a.quarter_end.factor) if a.quarter_end else None,
                      holiday=holiday, bursts=[Burst(b.start, b.end, b.factor, b.name) for b in a.bursts],
                      noise=a.noise, noise_seed=int(stream(seed, STREAM_ARRIVAL_DAYS).integers(2**63)), extra=extra)


def member_names(spec: ProcessSpec, seed: int) -> dict[str, list[str]]:
    """Named members per role; generated names come from a seeded faker in the process locale, unique overall."""
    fake = faker_for(spec.process.locale)
    fake.seed_instance(int(stream(seed, STREAM_NAMES).integers(2**63)))
    taken: set[str] = set()
    out: dict[str, list[str]] = {}
    for role, r in spec.roles.items():
        listed = r.names()
        if listed is not None:
            out[role] = listed
            taken.update(listed)
    for role, r in spec.roles.items():
        if isinstance(r.members, int):
            names = []
            for _ in range(r.members):
                # first + last name: faker's name() adds titles and suffixes ("Dr.", "MBA.") to some
                name = f"{fake.first_name()} {fake.last_name()}"
                while name in taken:
                    name = f"{fake.first_name()} {fake.last_name()}"
                taken.add(name)
                names.append(name)
            out[role] = names
    return out


ATTRIBUTE_BLOCK = 256  # cases whose attributes are drawn together, a column at a time


class AttributeValueError(SimulationError):
    """A derived attribute's expression failed on a case's values (division by zero, a number too large for a
    log column): the process file is at fault, so exit code 2, with the attribute's position and the case."""

    exit_code = 2


_INT64 = (-(2**63), 2**63 - 1)


class AttributeMaker:
    """Case attributes, drawn ``ATTRIBUTE_BLOCK`` cases at a time: ``maker(case index, case id) -> attrs``.

    Cases start in index order, so the attributes of cases ``[k*B, (k+1)*B)`` are drawn together from the data
    stream of block ``k`` (``CaseStreams(seed, purpose)``), attribute by attribute in declaration order: one numpy
    call per faker pool or choice column instead of one per case and attribute, and no generator per case.
    A case's attributes still depend only on (seed, its index): never on durations, routing or other streams.
    Derived (``expr``) attributes are computed per case from the attributes above them.
    """

    def __init__(self, spec: ProcessSpec, seed: int, purpose: int, where: dict[str, str] | None = None,
                 world: World | None = None) -> None:
        self.where = where or {}  # attribute -> "file:line:col" of its expr, for messages
        if world is None and spec.master_data:
            world = World(spec, seed, member_names(spec, seed))
        self.world = world
        # schemes across cases act on the data of their cases (procsim.schemes; bound to the run's cases later)
        self.schemes = (SchemePlan(spec, seed, world, member_names(spec, seed) if any(
            x.same_person for x in spec.schemes) else None) if spec.schemes and world is not None else None)
        # per attribute: ("col", draw a block) | ("expr", fn(attrs)) | ("const", value) | ("master", (reference
        # attribute, field)); then its post-processing
        self.steps: list[tuple[str, str, Any, Callable[[Any], Any] | None]] = []
        types: dict[str, str] = {}
        for k, (name, a) in enumerate(spec.attributes.items()):
            if a.master is not None and world is not None:
                ref, _, field = a.master.partition(".")
                kind, payload = ("master", (ref, field)) if field else ("col", world.picker(ref))
            else:
                kind, payload = _attribute_draw(spec, a, seed, k, expr_names(types))
            types[name] = a.kind(spec)
            post = _post(a)
            if kind == "const" and post is not None:
                payload, post = post(payload), None
            self.steps.append((name, kind, payload, post))
        self.streams = CaseStreams(seed, purpose)
        # line items' totals (net, tax, gross) go into their attributes before any derived one is computed
        li = spec.line_items
        self.lines = LineDrawer(li, seed, world) if li is not None and li.totals else None
        # materials from master data: the case's reference to that type is its first line's material
        self.line_ref = next((n for n, a in spec.attributes.items() if li is not None and li.master is not None
                              and a.master == li.master), None) if self.lines is not None else None
        # the lines a scheme or near miss changes to set the amount (the documents show the same lines)
        self.fit = LineFit(self.lines) if self.lines is not None else None
        self._block = -1
        self._rows: list[dict[str, Any]] = []  # per case of the block: its drawn and constant attributes
        # derived attributes, computed per case in declaration order (each reads only attributes above it)
        self._exprs = [(name, payload, post) for name, kind, payload, post in self.steps if kind == "expr"]
        # fields of master-data objects, read per case at its start (they read only drawn references)
        self._masters = [(name, payload[0], payload[1]) for name, kind, payload, _ in self.steps if kind == "master"]

    def _draw_block(self, block: int) -> None:
        self._block, self._rows = block, self._block_rows(block)

    def _drawn(self, idx: int) -> dict[str, Any]:
        """Case ``idx``'s drawn attributes (what a scheme repeats in another case), without moving the cache."""
        block, j = divmod(idx, ATTRIBUTE_BLOCK)
        return (self._rows if block == self._block else self._block_rows(block))[j]

    def _block_rows(self, block: int) -> list[dict[str, Any]]:
        rng = self.streams.get(block)
        names: list[str] = []
        cols: list[list[Any]] = []
        for name, kind, payload, post in self.steps:
            if kind == "col":
                col = payload(rng, ATTRIBUTE_BLOCK)
                cols.append([post(v) for v in col] if post is not None else col)
            elif kind == "const":
                cols.append([payload] * ATTRIBUTE_BLOCK)
            else:
                continue
            names.append(name)
        self.streams.put(rng)
        # one dict per case, made here in bulk (C-level zips) rather than key by key when the case starts
        return [dict(zip(names, values)) for values in zip(*cols)] if cols else [{} for _ in range(ATTRIBUTE_BLOCK)]

    def __call__(self, idx: int, case_id: str, now: float | None = None) -> dict[str, Any]:
        block, j = divmod(idx, ATTRIBUTE_BLOCK)
        if block != self._block:
            self._draw_block(block)
        attrs = {"case_id": case_id, **self._rows[j]}
        if self.lines is not None:
            attrs.update(self.lines.case_attributes(idx, self.line_ref))
        if self.schemes is not None and idx in self.schemes.by_case:
            self.schemes.apply(idx, attrs, now, self._drawn, self.fit)
        if self._masters:
            value = cast(World, self.world).value  # there are master steps only with a world
            for name, ref, field in self._masters:
                attrs[name] = value(attrs[ref], field, now)
        for name, fn, post in self._exprs:
            try:
                v = fn(attrs)
                v = post(v) if post is not None else v
            except Exception as e:  # noqa: BLE001 - the expression is the user's: name it and the case
                from procsim.rules.expr import describe_error

                raise self._error(name, case_id, describe_error(e)) from None
            if type(v) is int and not _INT64[0] <= v <= _INT64[1]:
                raise self._error(name, case_id, f"{v} does not fit a 64-bit integer (the logs' integer columns)")
            attrs[name] = v
        return attrs

    def _error(self, name: str, case_id: str, msg: str) -> AttributeValueError:
        where = self.where.get(name)
        return AttributeValueError(f"{where + ': ' if where else ''}attributes.{name}.expr: {msg} in case {case_id}")


def expr_positions(loaded: LoadedProcess) -> dict[str, str]:
    """``file:line:col`` of every derived attribute's expression."""
    out = {}
    for name, a in loaded.spec.attributes.items():
        if a.expr is not None:
            line, col = loaded.smap.value_pos(("attributes", name, "expr"))
            out[name] = f"{loaded.smap.file}:{line}:{col}"
    return out


def _attribute_draw(spec: ProcessSpec, a: AttributeSpec, seed: int, k: int,
                    names: dict[str, str]) -> tuple[str, Any]:
    """How an attribute is made: a block drawer ``(rng, n) -> n values``, an expression, or a constant."""
    if a.faker is not None:
        # faker costs ~100 us a call: draw a seeded pool once, then pick from it per case
        fake = faker_for(spec.process.locale)
        fake.seed_instance(int(stream(seed, STREAM_POOLS, k).integers(2**63)))
        provider = getattr(fake, a.faker)
        pool = [_plain(provider(**a.args)) for _ in range(a.pool)]
        n = len(pool)
        return "col", lambda rng, size: [pool[i] for i in (rng.random(size) * n).astype(np.intp).tolist()]
    if a.distribution is not None:
        sample = a.distribution.sampler()
        return "col", lambda rng, size: [sample(rng) for _ in range(size)]
    if a.choice is not None:
        values = list(a.choice)
        cum = np.array(list(accumulate(a.choice.values())))
        total = float(cum[-1])
        last = len(values) - 1
        return "col", lambda rng, size: [
            values[i] for i in np.minimum(np.searchsorted(cum, rng.random(size) * total, side="right"), last).tolist()]
    if a.expr is not None:
        return "expr", compile_expr(a.expr, names).fn
    return "const", a.value


def _post(a: AttributeSpec) -> Callable[[Any], Any] | None:
    """Clamping, rounding and integer conversion of a drawn or derived value (None: nothing to do)."""
    lo, hi, digits, integer = a.min, a.max, a.round, a.integer
    if lo is None and hi is None and digits is None and not integer:
        return None

    def post(v: Any) -> Any:
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            if lo is not None and v < lo:
                v = lo
            if hi is not None and v > hi:
                v = hi
            if integer:
                return int(round(v))
            if digits is not None:
                return round(float(v), digits)
        return v

    return post


def _plain(v: Any) -> Any:
    """Faker returns dates, Decimals and the like; keep what a log can hold."""
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    return str(v)


def build_model(loaded: LoadedProcess, seed: int) -> Model:
    spec, g = loaded.spec, loaded.graph
    cals = _calendars(spec)
    names = member_names(spec, seed)
    role_index = {role: i for i, role in enumerate(spec.roles)}
    pools = [(role, names[role], cals[r.calendar] if r.calendar else None) for role, r in spec.roles.items()]
    order = list(spec.events) + list(spec.activities) + list(spec.gateways) + list(spec.waits)
    index = {n: i for i, n in enumerate(order)}
    ends = [n for n, e in spec.events.items() if e.type == "end"]
    blocks = and_blocks(g, ends)
    types = attribute_types(spec)
    enames = expr_names(types)
    world = World(spec, seed, names) if spec.master_data else None  # drawn once: every case shares it
    nodes: list[Node] = []
    batches: list[Any] = []
    for n in order:
        if n in spec.events:
            ev = spec.events[n]
            nodes.append(Node(END, n) if ev.type == "end" else Node(PASS, n, index[ev.next]))  # type: ignore[index]
        elif n in spec.activities:
            a = spec.activities[n]
            per_hour = a.cost.per_hour if a.cost.per_hour is not None else (
                spec.roles[a.role].cost_per_hour if a.role else 0.0)
            act = Activity(n, a.name or n, role_index[a.role] if a.role else -1,
                           _immediate(a.duration.sampler(), a.immediate), index[a.next],
                           a.cost.fixed, per_hour / 3600.0, a.on_shift_end == "pause", a.priority, a.role)
            if a.duration_after:
                act.after = {prev: _immediate(d.sampler(), a.immediate) for prev, d in a.duration_after.items()}
            if a.batch is not None:
                act.batch = len(batches)
                batches.append(_batch_plan(spec, act, a.batch, cals, seed, len(batches)))
            if a.assignment is not None and a.role is not None:
                code, given = policy_code(a.assignment)
                r, members = spec.roles[a.role], names[a.role]
                weights = member_weights(r, members, [r.settings(m) for m in members], seed, role_index[a.role])
                act.policy = (code, [given.get(m, w) for m, w in zip(members, weights)])
            nodes.append(Node(ACT, n, index[a.next], act=act))
        elif n in spec.waits:
            w = spec.waits[n]
            nodes.append(Node(WAIT, n, index[w.next], wait=_wait(spec, n, w, index[w.next], cals)))
        else:
            gw = spec.gateways[n]
            if gw.branches is not None:
                conds: list[Callable[[dict[str, Any]], Any] | None] = [
                    compile_expr(b.when, enames, expect="bool").fn if b.when else None for b in gw.branches]
                if gw.type == "or":  # each branch's own chance, drawn independently (procsim.sim.engine)
                    gate = Gateway(n, [index[b.to] for b in gw.branches], [b.probability or 0.0 for b in gw.branches],
                                   conds, [None] * len(gw.branches), [b.to for b in gw.branches],
                                   join=index[blocks[n]])
                    nodes.append(Node(OR_SPLIT, n, gw=gate))
                    continue
                gate = Gateway(n, [index[b.to] for b in gw.branches], _fallback_probs(gw.branches),
                               conds, [b.max for b in gw.branches], [b.to for b in gw.branches])
                nodes.append(Node(XOR, n, gw=gate))
            elif gw.to is not None:
                gate = Gateway(n, [index[t] for t in gw.to], [], [], [], join=index[blocks[n]])
                nodes.append(Node(AND_SPLIT, n, gw=gate))
            else:
                assert gw.next is not None
                kind = AND_JOIN if gw.type in ("and", "or") else PASS
                nodes.append(Node(kind, n, index[gw.next]))
    _skip_passes(nodes)
    drifts = None
    if spec.drift:
        from procsim.drift import Drifts

        drifts = Drifts(list(spec.drift), ZoneInfo(spec.process.timezone), spec.process.start, seed, spec)
        drifts.apply(nodes, list(spec.roles), lambda x: compile_expr(x, enames, expect="bool").fn)
    rate = _rate(spec, cals, seed, drifts.day_factors() if drifts is not None else None)
    xplan = None
    if spec.exceptions or spec.near_misses:
        xplan = build_exceptions(loaded, {n.id: n.act for n in nodes if n.act is not None}, role_index, names)
    rules = loaded.rules
    history: list[str] | None = None  # who did which activity in each case: kept only for what rules read
    if rules is not None and rules.uses_history:
        keys = rules.history_keys
        history = [a for a in spec.activities if keys is None or a in keys]
    maker = AttributeMaker(spec, seed, STREAM_DATA, expr_positions(loaded), world)
    if xplan is not None:
        xplan.lines = maker.fit  # near misses that set the amount go through the line items
    return Model(nodes=nodes, start=index[start_node(spec)], pools=pools, history_keys=history,
                 interarrival=spec.arrivals.interarrival.sampler() if spec.arrivals.interarrival else _no_gap,
                 rate=rate, replay=_replay(loaded, rate) if spec.arrivals.replay else None,
                 make_attributes=maker, attr_names=list(spec.attributes),
                 case_prefix=spec.process.case_prefix, hooks=_run_rules(loaded.rules),
                 exceptions=xplan, batches=batches, drift=drifts, people=people_setup(spec, names, seed),
                 world=world, schemes=maker.schemes, line_fit=maker.fit)


def _no_gap(rng: np.random.Generator) -> float:
    raise AssertionError("replayed arrivals draw no gaps")


def replay_path(loaded: LoadedProcess) -> Path:
    assert loaded.spec.arrivals.replay is not None
    return (loaded.path.parent / loaded.spec.arrivals.replay).resolve()  # the file the load checks vouched for


def _replay(loaded: LoadedProcess, rate: RateProfile | None) -> Replay:
    spec = loaded.spec
    periods = read_replay(str(replay_path(loaded)), ZoneInfo(spec.process.timezone), spec.process.start)
    return Replay(periods, rate)


def _skip_passes(nodes: list[Node]) -> None:
    """Point every edge past pass-through nodes (start events, XOR joins): the walk never stops at them."""

    def through(i: int) -> int:
        seen = set()
        while nodes[i].kind == PASS and i not in seen:
            seen.add(i)
            i = nodes[i].next
        return i

    for node in nodes:
        if node.next >= 0:
            node.next = through(node.next)
        if node.act is not None:
            node.act.next = through(node.act.next)
        if node.wait is not None:
            node.wait.next = through(node.wait.next)
        if node.gw is not None:
            node.gw.targets = [through(t) for t in node.gw.targets]


def _immediate(sample: Callable[[np.random.Generator], float], share: float
               ) -> Callable[[np.random.Generator], float]:
    """A sampler that is 0 for a ``share`` of the draws (work done at once), else ``sample``'s value."""
    if share <= 0.0:
        return sample  # no extra draw: processes without 'immediate' keep their streams
    return lambda rng: 0.0 if rng.random() < share else sample(rng)


def _wait(spec: ProcessSpec, name: str, w: Any, nxt: int, cals: dict[str, WorkCalendar]) -> Any:
    from procsim.sim.waits import Wait, moment, timer

    if w.until is not None:
        until = moment(moments(spec, w.until, cals))
    else:
        until = timer(w.duration.sampler(), cals[w.calendar] if w.calendar is not None else None)
    return Wait(name, w.name or name, nxt, until, w.log)


def _batch_plan(spec: ProcessSpec, act: Activity, b: Any, cals: dict[str, WorkCalendar], seed: int, k: int) -> Any:
    from procsim.sim.batching import BatchPlan

    return BatchPlan(act, b.size, b.timeout, moments(spec, b.schedule, cals) if b.schedule is not None else None,
                     stream(seed, STREAM_BATCH, k), b.idle, b.work, dict(b.scale) if b.scale else None, b.alone,
                     stream(seed, STREAM_BATCH_ALONE, k) if b.alone > 0 else None)


def _run_rules(rs: Any) -> Any:
    """This run's own copy of the compiled rules: ``bind`` sets the members and node indices of one run on it, and
    the loaded process (shared by runs in one process, one after another or at once) must stay as loaded."""
    return copy.copy(rs) if _has_rules(rs) else None


def _has_rules(rs: Any) -> bool:
    return rs is not None and bool(rs.start_sets or rs.after_sets or rs.routes or rs.by_activity or rs.durations
                                   or rs.raises_start)


def _fallback_probs(branches: list[Any]) -> list[float]:
    """Probabilities of the branches without 'when'; a lone default branch without one gets 1."""
    rest = [b for b in branches if b.when is None]
    if len(rest) == 1 and rest[0].probability is None:
        return [0.0 if b.when is not None else 1.0 for b in branches]
    return [b.probability or 0.0 for b in branches]
