"""Concept drift with ground truth: the ``drift`` section, its schedule, its effect on the run and its record.

This module owns the drift models (validated, frozen), each drift's schedule (``share(t)``: how much of the
new process is in force at simulated time ``t``), wiring the changes into the compiled model, and the ground
truth written to ``drift.csv`` and ``manifest.json``, so drift detectors can be scored.

Types: ``sudden`` (the new process from ``start``, back to the old one at ``end`` if given), ``gradual`` (each
case arriving between ``start`` and ``end`` follows the new process with a probability rising linearly from
0 to 1; a case keeps its version to the end), ``incremental`` (parameters move linearly from old to new
between ``start`` and ``end``) and ``recurring`` (the new process for ``active`` at the beginning of every
``period`` from ``start``, until ``end`` if given).

Changes: an activity's duration (``scale`` it, or a new ``duration``), an activity ``remove``d (skipped while
the drift is in force) or ``add``ed (skipped while it is not), a gateway's branch ``probabilities`` or
``conditions``, a role's
``members`` (how many of the role's people work; the others are held away, each after finishing their task),
and the ``arrivals`` rate (a factor per day).

The simulation sees each change as a small hook: a sampler that wraps the activity's own, a ``skip``
predicate on the activity, a ``drift`` function on the gateway that sets the probabilities for the decision
at hand, a process that holds members of a role, a factor in the arrival profile's ``DayFactors``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal
from zoneinfo import ZoneInfo

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from procsim.distributions import DurationDistribution
from procsim.spec.units import Duration, format_duration

if TYPE_CHECKING:
    from procsim.errors import Problem
    from procsim.spec import LoadedProcess

__all__ = ["DRIFT_COLUMNS", "DriftChange", "DriftSpec", "Drifts"]

Identifier = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
NodeRef = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")]
Factor = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Moment = dt.datetime | dt.date

DRIFT_COLUMNS = ("drift", "type", "start", "end", "period", "active", "target_kind", "target", "change", "old", "new",
                 "description")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DriftChange(_Strict):
    """One thing a drift changes: name exactly one of ``activity``, ``gateway``, ``role``, ``arrivals``."""

    activity: NodeRef | None = None
    gateway: NodeRef | None = None
    role: Identifier | None = None
    arrivals: Factor | None = None  # the arrival rate, times this factor
    scale: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    duration: DurationDistribution | None = None
    remove: bool = False
    add: bool = False
    probabilities: dict[NodeRef, Factor] | None = None
    conditions: dict[NodeRef, str] | None = None  # branch target -> its new 'when'
    members: Annotated[int, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _shape(self) -> DriftChange:
        targets = [k for k in ("activity", "gateway", "role", "arrivals") if getattr(self, k) is not None]
        if len(targets) != 1:
            raise ValueError("a change names exactly one of 'activity', 'gateway', 'role', 'arrivals'"
                             + (f" (got {', '.join(targets)})" if targets else ""))
        what = {"activity": ("scale", "duration", "remove", "add"), "gateway": ("probabilities", "conditions"),
                "role": ("members",), "arrivals": ()}[targets[0]]
        given = [k for k in ("scale", "duration", "remove", "add", "probabilities", "conditions", "members")
                 if k in self.model_fields_set and getattr(self, k) not in (None, False)]
        wrong = [k for k in given if k not in what]
        an = "an" if targets[0][0] == "a" else "a"
        if wrong:
            raise ValueError(f"'{wrong[0]}' does not go with '{targets[0]}'"
                             + (f" ({an} {targets[0]} change takes {', '.join(what)})" if what else ""))
        if what and len(given) != 1:
            raise ValueError(f"{an} {targets[0]} change needs exactly one of {', '.join(repr(w) for w in what)}"
                             + (f" (got {', '.join(given)})" if given else ""))
        if self.probabilities is not None:
            total = sum(self.probabilities.values())
            if abs(total - 1.0) > 1e-6:
                raise ValueError(f"probabilities must sum to 1 (they sum to {total:g})")
        return self

    @property
    def target_kind(self) -> str:
        return next(k for k in ("activity", "gateway", "role", "arrivals") if getattr(self, k) is not None)

    @property
    def target(self) -> str:
        v = getattr(self, self.target_kind)
        return "" if self.target_kind == "arrivals" else str(v)

    @property
    def change(self) -> str:
        if self.arrivals is not None:
            return "rate"
        return next(k for k in ("scale", "duration", "remove", "add", "probabilities", "conditions", "members")
                    if getattr(self, k) not in (None, False))


class DriftSpec(_Strict):
    """A change of the process over time, with its schedule (see the module docstring)."""

    name: Identifier
    type: Literal["sudden", "gradual", "incremental", "recurring"]
    start: Moment
    end: Moment | None = None
    period: Duration | None = None
    active: Duration | None = None
    changes: list[DriftChange] = Field(min_length=1)
    description: str = ""

    @model_validator(mode="after")
    def _schedule(self) -> DriftSpec:
        if self.type in ("gradual", "incremental") and self.end is None:
            raise ValueError(f"a {self.type} drift needs an 'end': the transition runs from 'start' to 'end'")
        if self.type == "recurring":
            if self.period is None or self.active is None:
                raise ValueError("a recurring drift needs a 'period' and how long it is 'active' in each")
            if not 0 < self.active < self.period:
                raise ValueError("'active' must be longer than 0 and shorter than 'period'")
        elif self.period is not None or self.active is not None:
            raise ValueError("'period' and 'active' go with a recurring drift")
        if self.end is not None and _naive(self.end) <= _naive(self.start):
            raise ValueError("'end' must be after 'start'")
        return self


def _naive(m: Moment) -> dt.datetime:
    if isinstance(m, dt.datetime):
        return m.replace(tzinfo=None) if m.tzinfo is None else m.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return dt.datetime.combine(m, dt.time(0))


def _sim(m: Moment, tz: ZoneInfo, origin: dt.datetime) -> float:
    """A moment in simulation seconds: a date is its local midnight, a naive datetime is local time."""
    if isinstance(m, dt.datetime):
        aware = m if m.tzinfo is not None else m.replace(tzinfo=tz)
    else:
        aware = dt.datetime.combine(m, dt.time(0), tz)
    return (aware - origin).total_seconds()


class Drift:
    """One drift at run time: its schedule in simulation seconds and, for gradual drift, each case's version."""

    def __init__(self, spec: DriftSpec, tz: ZoneInfo, origin: dt.datetime, rng: np.random.Generator) -> None:
        self.spec = spec
        self.kind = spec.type
        self.s = _sim(spec.start, tz, origin)
        self.e = _sim(spec.end, tz, origin) if spec.end is not None else math.inf
        self.period = float(spec.period or 0.0)
        self.active = float(spec.active or 0.0)
        self.rng = rng
        # gradual: the version of each running case, by its flow stream (unique among running cases; a
        # recycled stream is overwritten when its next case starts)
        self.case_new: dict[int, bool] = {}

    def share(self, t: float) -> float:
        """How much of the new process is in force at ``t`` (0 old .. 1 new)."""
        s, e = self.s, self.e
        if t < s:
            return 0.0
        k = self.kind
        if k == "sudden":
            return 1.0 if t < e else 0.0
        if k == "recurring":
            return 1.0 if t < e and (t - s) % self.period < self.active else 0.0
        return 1.0 if t >= e else (t - s) / (e - s)

    def case_started(self, rng: Any, t: float) -> None:
        self.case_new[id(rng)] = bool(self.rng.random() < self.share(t))

    def now_share(self, rng: Any, t: float) -> float:
        """The share for one case at ``t``: its version (gradual) or the schedule's."""
        if self.kind == "gradual":
            return 1.0 if self.case_new.get(id(rng), False) else 0.0
        return self.share(t)


class Drifts:
    """Every drift of a run, wired into the compiled model (``apply``) and written as ground truth."""

    def __init__(self, specs: list[DriftSpec], tz: ZoneInfo, origin: dt.datetime, seed: int,
                 process: Any = None) -> None:
        from procsim.sim.streams import STREAM_DRIFT
        from procsim.sim.streams import stream

        self.tz = tz
        self.origin = origin
        self.drifts = [Drift(d, tz, origin, stream(seed, STREAM_DRIFT, i)) for i, d in enumerate(specs)]
        self.gradual = [d for d in self.drifts if d.kind == "gradual"]
        self.clock: Callable[[], float] = lambda: 0.0
        self.staffing: list[tuple[Drift, str, int]] = []
        self.process = process  # the ProcessSpec, for the old values drift.csv shows

    # -- wiring ----------------------------------------------------------------------------------------

    def day_factors(self) -> list[Callable[[dt.date], float]]:
        """Arrival-rate changes as factors per local date (the share at the day's local noon)."""
        out = []
        for d in self.drifts:
            for c in d.spec.changes:
                if c.arrivals is not None:
                    out.append(self._day_factor(d, float(c.arrivals)))
        return out

    def _day_factor(self, d: Drift, f: float) -> Callable[[dt.date], float]:
        tz, origin = self.tz, self.origin

        def factor(day: dt.date) -> float:
            # a gradual drift of the rate is its mixture over cases: the interpolated rate
            s = d.share(_sim(dt.datetime.combine(day, dt.time(12)), tz, origin))
            return 1.0 + (f - 1.0) * s

        return factor

    def apply(self, nodes: list[Any], pool_names: list[str],
              compile_when: Callable[[str], Callable[[dict[str, Any]], Any]] | None = None) -> None:
        """Wrap samplers, set skip predicates and gateway hooks on the compiled nodes."""
        by_id = {n.id: n for n in nodes}
        gw_changes: dict[str, list[tuple[Drift, dict[str, Any], bool]]] = {}
        for d in self.drifts:
            for c in d.spec.changes:
                if c.activity is not None:
                    act = by_id[c.activity].act
                    if c.scale is not None or c.duration is not None:
                        act.sample = self._sampler(d, act.sample, c)
                    else:
                        act.skip = self._skip(d, act.skip, c.add)
                elif c.gateway is not None and c.probabilities is not None:
                    gw_changes.setdefault(c.gateway, []).append((d, dict(c.probabilities), False))
                elif c.gateway is not None and c.conditions is not None:
                    assert compile_when is not None
                    gw_changes.setdefault(c.gateway, []).append(
                        (d, {to: compile_when(x) for to, x in c.conditions.items()}, True))
                elif c.role is not None and c.members is not None:
                    self.staffing.append((d, c.role, c.members))
        for g, changes in gw_changes.items():
            gw = by_id[g].gw
            gw.drift = self._gateway(gw, changes)
        self.pool_names = pool_names

    def _sampler(self, d: Drift, old: Callable[[np.random.Generator], float],
                 c: DriftChange) -> Callable[[np.random.Generator], float]:
        clock = self.clock_fn
        if c.scale is not None:
            f = float(c.scale)

            def scaled(rng: np.random.Generator) -> float:
                s = d.now_share(rng, clock())
                x = old(rng)
                return x if s == 0.0 else x * (1.0 + (f - 1.0) * s)

            return scaled
        assert c.duration is not None
        new = c.duration.sampler()

        def replaced(rng: np.random.Generator) -> float:
            s = d.now_share(rng, clock())
            if s == 0.0:
                return old(rng)
            if s == 1.0:
                return new(rng)
            return (1.0 - s) * old(rng) + s * new(rng)  # incremental: the old and new durations blended

        return replaced

    def _skip(self, d: Drift, before: Callable[[Any, float], bool] | None,
              add: bool) -> Callable[[Any, float], bool]:
        def skip(case: Any, t: float) -> bool:
            if before is not None and before(case, t):
                return True
            s = d.now_share(case.rng, t)
            on = s == 1.0 or (s > 0.0 and d.rng.random() < s)  # incremental: in force with probability s
            return not on if add else on

        return skip

    def _gateway(self, gw: Any, changes: list[tuple[Drift, dict[str, Any], bool]]) -> Callable[[Any, float], None]:
        from itertools import accumulate

        base_probs = list(gw.probs)
        base_conds = list(gw.conditions)
        targets = gw.target_ids
        probs_changes = [(d, [new.get(t, 0.0) if gw.conditions[k] is None else 0.0 for k, t in enumerate(targets)])
                         for d, new, conds in changes if not conds]
        cond_changes = [(d, [new.get(t) for t in targets]) for d, new, conds in changes if conds]

        def set_probs(case: Any, t: float) -> None:
            probs = base_probs
            for d, new in probs_changes:
                s = d.now_share(case.rng, t)
                if s:
                    probs = [(1.0 - s) * p + s * q for p, q in zip(probs, new)]
            gw.probs = probs
            gw.cum = list(accumulate(probs))
            if cond_changes:
                conds = base_conds
                for d, new in cond_changes:
                    s = d.now_share(case.rng, t)
                    # a condition is in force or not: incremental drift uses the new one with probability s
                    if s == 1.0 or (s > 0.0 and d.rng.random() < s):
                        conds = [n if n is not None else c for c, n in zip(conds, new)]
                gw.conditions = conds

        return set_probs

    def clock_fn(self) -> float:
        return self.clock()

    # -- run time ----------------------------------------------------------------------------------------

    def bind(self, sim: Any) -> None:
        """Called by the simulation: the clock, and the staffing processes."""
        env = sim.env
        self.clock = lambda: env._now
        for d, role, n in self.staffing:
            i = self.pool_names.index(role)
            env.process(_staffing(env, sim.pools[i], d, n))

    def case_started(self, case: Any, t: float) -> None:
        for d in self.gradual:
            d.case_started(case.rng, t)

    # -- ground truth ------------------------------------------------------------------------------------

    def rows(self, iso: Callable[[float], str]) -> list[dict[str, str]]:
        out = []
        for d in self.drifts:
            sp = d.spec
            for c in sp.changes:
                old, new = _old_new(c, self.process)
                out.append({
                    "drift": sp.name, "type": sp.type, "start": iso(d.s),
                    "end": iso(d.e) if d.e != math.inf else "",
                    "period": format_duration(sp.period) if sp.period else "",
                    "active": format_duration(sp.active) if sp.active else "",
                    "target_kind": c.target_kind, "target": c.target, "change": c.change, "old": old, "new": new,
                    "description": sp.description})
        return out

    def csv_text(self, iso: Callable[[float], str]) -> str:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=DRIFT_COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(self.rows(iso))
        return buf.getvalue()


def _old_new(c: DriftChange, process: Any) -> tuple[str, str]:
    """What the change does, as text: the value before and after (factors are relative to 1)."""
    if c.arrivals is not None:
        return "1", repr(float(c.arrivals))
    if c.scale is not None:
        return "1", repr(float(c.scale))
    if c.duration is not None:
        old = process.activities[c.activity].duration.model_dump(mode="json") if process is not None else None
        return (json.dumps(old, sort_keys=True) if old is not None else "",
                json.dumps(c.duration.model_dump(mode="json"), sort_keys=True))
    if c.conditions is not None:
        old = {b.to: b.when for b in process.gateways[c.gateway].branches or [] if b.to in c.conditions} \
            if process is not None else None
        return (json.dumps(old, sort_keys=True) if old is not None else "",
                json.dumps(c.conditions, sort_keys=True))
    if c.probabilities is not None:
        old = {b.to: b.probability for b in process.gateways[c.gateway].branches or [] if b.when is None} \
            if process is not None else None
        return (json.dumps(old, sort_keys=True) if old is not None else "",
                json.dumps(c.probabilities, sort_keys=True))
    if c.members is not None:
        members = process.roles[c.role].members if process is not None else None
        old = "" if members is None else str(members if isinstance(members, int) else len(members))
        return old, str(c.members)
    return ("present", "removed") if c.remove else ("absent", "added")


def _staffing(env: Any, pool: Any, d: Drift, n: int) -> Any:
    """Hold all but ``n`` members of the pool away while the drift is in force.

    A held member finishes the task at hand first (the hold queues for that member at top priority). An
    incremental or gradual change of staffing steps one member at a time as the share crosses each step.
    """
    held: list[tuple[int, Any]] = []  # (member, its request) held now or waiting for the member
    total = len(pool.members)
    away_max = total - n
    if away_max <= 0:
        return
    # the moments the number held away changes: the schedule's edges, and for a transition each step
    steps: list[float] = [d.s]
    if d.kind == "recurring":
        k = 0
        while d.s + k * d.period < d.e:  # a recurring change of staffing has an end (procsim.spec.checks.check_drift)
            steps += [d.s + k * d.period, d.s + k * d.period + d.active]
            k += 1
    elif d.kind != "sudden":
        steps += [d.s + (d.e - d.s) * (j - 0.5) / away_max for j in range(1, away_max + 1)]
    if math.isfinite(d.e):
        steps.append(d.e)
    for t in sorted(set(steps)):
        if t > env._now:
            yield env.timeout(t - env._now)
        want = round(away_max * d.share(env._now))
        while len(held) < want:
            m = total - 1 - len(held)  # the last-listed members are held first
            req = pool.request(10**9, (m,))
            held.append((m, req))
        while len(held) > want:
            m, req = held.pop()
            if req.triggered:
                pool.release(m)
            else:
                pool.cancel(req)
