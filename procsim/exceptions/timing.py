"""Time exceptions: early and late events, stuck cases, system outages and resource absences."""

from __future__ import annotations

from collections.abc import Generator
from typing import Annotated, Any, Literal

from pydantic import Field

from procsim.exceptions.base import CaseExc, Effect, ExceptionType, Plan
from procsim.spec.units import Duration


class EarlyEvent(ExceptionType):
    """The activity completes far earlier than its duration allows: the work takes ``factor`` of its draw."""

    type: Literal["early_event"] = "early_event"
    activity: str
    factor: Annotated[float, Field(ge=0, lt=1)] = 0.02
    family = "time"
    default_category = "time"
    default_severity = "low"
    default_difficulty = "timing"
    activity_fields = ("activity",)

    def apply(self, eff: Effect, case: Any, st: CaseExc, plan: Plan) -> bool:
        eff.scale *= self.factor
        eff.tag(self.label)
        return True


class LateEvent(ExceptionType):
    """The activity completes ``delay`` later than its duration allows."""

    type: Literal["late_event"] = "late_event"
    activity: str
    delay: Duration
    family = "time"
    default_category = "time"
    default_severity = "low"
    default_difficulty = "timing"
    activity_fields = ("activity",)

    def apply(self, eff: Effect, case: Any, st: CaseExc, plan: Plan) -> bool:
        eff.add += self.delay
        eff.tag(self.label)
        return True


class StuckCase(ExceptionType):
    """The case sits idle for ``wait`` before the activity (a forgotten file)."""

    type: Literal["stuck_case"] = "stuck_case"
    activity: str
    wait: Duration
    family = "time"
    default_category = "time"
    default_severity = "medium"
    default_difficulty = "timing"
    activity_fields = ("activity",)

    def apply(self, eff: Effect, case: Any, st: CaseExc, plan: Plan) -> bool:
        eff.wait += self.wait
        eff.tag(self.label)
        return True


class SystemOutage(ExceptionType):
    """From ``start`` (after the process start) for ``duration`` nothing starts or completes: work due in the
    window is released in a burst at its end. Every event so delayed is labelled."""

    type: Literal["system_outage"] = "system_outage"
    start: Duration
    duration: Duration
    phase = "global"
    family = "time"
    default_category = "time"
    default_severity = "medium"
    default_difficulty = "several_cases"

    def start_global(self, sim: Any, plan: Plan) -> None:
        plan.outages.append((self.start, self.start + self.duration, self.label))


class ResourceAbsence(ExceptionType):
    """A member of ``role`` (``member``, or the first) is away from ``start`` for ``duration``: once their
    task at hand is done they take no work. Events whose work had to queue for the role meanwhile are labelled."""

    type: Literal["resource_absence"] = "resource_absence"
    role: str
    member: str | None = None
    start: Duration
    duration: Duration
    phase = "global"
    family = "time"
    default_category = "time"
    default_severity = "low"
    default_difficulty = "several_cases"
    role_fields = ("role",)

    def check(self, spec: Any, types: dict[str, str]) -> list[tuple[tuple[Any, ...], str, str]]:
        r = spec.roles.get(self.role)
        if self.member is not None and r is not None:
            if r.names() is None:
                return [(("member",), f"role '{self.role}' has generated members; leave 'member' out (the first "
                         "member is away) or list the names in the role", "unnamed_members")]
            if self.member not in (r.names() or []):
                return [(("member",), f"'{self.member}' is not a member of role '{self.role}'", "unknown_member")]
        return []

    def start_global(self, sim: Any, plan: Plan) -> None:
        sim.env.process(self._spell(sim, plan))

    def _spell(self, sim: Any, plan: Plan) -> Generator[Any, Any, None]:
        env = sim.env
        i = plan.role_index[self.role]
        pool = sim.pools[i]
        member = pool.members.index(self.member) if self.member is not None else 0
        yield env.timeout(self.start)
        end = self.start + self.duration
        # the highest priority there is: the absent member is taken out of the pool as soon as they are free
        req = pool.request(10**9, {member})
        got = yield req | env.timeout(self.duration)
        plan.absent[i] = self.label
        if req in got:
            if env.now < end:
                yield env.timeout(end - env.now)
            pool.release(member)
        else:
            pool.cancel(req)
        plan.absent.pop(i, None)
