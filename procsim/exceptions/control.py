"""Control-flow exceptions: skipped, inserted, repeated and swapped activities, duplicated and missing events,
and work done by a role that may not do it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from procsim.distributions import DurationDistribution, Fixed
from procsim.exceptions.base import COMPLETE, START, CaseExc, Effect, ExceptionType, Plan

LIFECYCLE_BITS = {"start": START, "complete": COMPLETE, "both": START | COMPLETE}



def insert_after(exc: Any, eff: Effect, plan: Plan) -> bool:
    """Insert activity ``exc.insert`` (by ``exc.role``, for ``exc.duration``) right after ``exc.activity``: the
    effect of insert_activity and of the new_supplier near miss (its onboarding). The activity is made once per
    exception and kept in ``plan.cache``."""
    act = plan.cache.get(id(exc))
    if act is None:
        assert plan.new_activity is not None  # set by procsim.sim.build.build_exceptions
        pool = plan.role_index[exc.role] if exc.role else -1
        act = plan.cache[id(exc)] = plan.new_activity(f"{exc.activity}>{exc.insert}", exc.insert, pool,
                                                      exc.duration.sampler(), -1, 0.0, 0.0, True, 0, exc.role)
    eff.inserts.append((act, exc.label))
    return True

class SkipActivity(ExceptionType):
    """The activity is not done at all (payment without goods receipt): no events; labels.csv names it."""

    type: Literal["skip_activity"] = "skip_activity"
    activity: str
    family = "control"
    default_category = "control_flow"
    default_severity = "medium"
    default_difficulty = "control_flow"
    flow = True
    activity_fields = ("activity",)

    def apply(self, eff: Effect, case: Any, st: CaseExc, plan: Plan) -> bool:
        eff.skip = True
        st.omitted.append(plan.acts[self.activity].label)
        return True


class InsertActivity(ExceptionType):
    """An unexpected activity named ``insert`` right after ``activity`` (by ``role``, or the system without one)."""

    type: Literal["insert_activity"] = "insert_activity"
    activity: str
    insert: str = "Unexpected activity"
    role: str | None = None
    duration: DurationDistribution = Fixed(value=600.0)
    family = "control"
    default_category = "control_flow"
    default_severity = "low"
    default_difficulty = "control_flow"
    flow = True
    activity_fields = ("activity",)
    role_fields = ("role",)

    def apply(self, eff: Effect, case: Any, st: CaseExc, plan: Plan) -> bool:
        return insert_after(self, eff, plan)


class Rework(ExceptionType):
    """The activity is done again ``times`` times right after itself; the repetitions are labelled."""

    type: Literal["rework"] = "rework"
    activity: str
    times: Annotated[int, Field(ge=1, le=100)] = 1
    family = "control"
    default_category = "control_flow"
    default_severity = "low"
    default_difficulty = "control_flow"
    flow = True
    activity_fields = ("activity",)

    def apply(self, eff: Effect, case: Any, st: CaseExc, plan: Plan) -> bool:
        eff.repeats += [self.label] * self.times
        return True


class SwapOrder(ExceptionType):
    """``activity`` is done after ``after`` instead of before it (maverick buying: invoice before the order).
    If the case never reaches ``after``, the activity is done at the end of the case."""

    type: Literal["swap_order"] = "swap_order"
    activity: str
    after: str
    family = "control"
    default_category = "compliance"
    default_severity = "medium"
    default_difficulty = "control_flow"
    flow = True
    activity_fields = ("activity", "after")

    def check(self, spec: Any, types: dict[str, str]) -> list[tuple[tuple[Any, ...], str, str]]:
        if self.after == self.activity:
            return [(("after",), "'after' must be another activity", "same_activity")]
        return []

    def apply(self, eff: Effect, case: Any, st: CaseExc, plan: Plan) -> bool:
        if self.after in st.who:
            return False  # 'after' is already done: nothing to swap with
        eff.defer = self.after
        eff.tag(self.label)
        return True


class DuplicateEvent(ExceptionType):
    """An event of the activity is written twice (a logging duplicate); the copy is labelled."""

    type: Literal["duplicate_event"] = "duplicate_event"
    activity: str
    lifecycle: Literal["start", "complete", "both"] = "complete"
    family = "control"
    default_category = "data"
    default_severity = "low"
    default_difficulty = "control_flow"
    flow = True
    activity_fields = ("activity",)

    def apply(self, eff: Effect, case: Any, st: CaseExc, plan: Plan) -> bool:
        eff.dup |= LIFECYCLE_BITS[self.lifecycle]
        eff.dup_label = self.label
        return True


class MissingEvent(ExceptionType):
    """An event of the activity is not written (a logging gap): the work happened, the log does not show it."""

    type: Literal["missing_event"] = "missing_event"
    activity: str
    lifecycle: Literal["start", "complete", "both"] = "complete"
    family = "control"
    default_category = "data"
    default_severity = "low"
    default_difficulty = "control_flow"
    flow = True
    activity_fields = ("activity",)

    def apply(self, eff: Effect, case: Any, st: CaseExc, plan: Plan) -> bool:
        eff.missing |= LIFECYCLE_BITS[self.lifecycle]
        label = plan.acts[self.activity].label
        st.omitted.append(label if self.lifecycle == "both" else f"{label}/{self.lifecycle}")
        return True


class WrongRole(ExceptionType):
    """The activity is done by a member of ``role``, which may not do it."""

    type: Literal["wrong_role"] = "wrong_role"
    activity: str
    role: str
    family = "control"
    default_category = "compliance"
    default_severity = "high"
    default_difficulty = "one_field"
    activity_fields = ("activity",)
    role_fields = ("role",)

    def fields(self) -> tuple[str, ...]:
        return ("resource",)  # who did it is what is wrong

    def check(self, spec: Any, types: dict[str, str]) -> list[tuple[tuple[Any, ...], str, str]]:
        a = spec.activities.get(self.activity)
        if a is not None and a.role == self.role:
            return [(("role",), f"'{self.role}' is the role that does '{self.activity}': name another role",
                     "same_role")]
        return []

    def apply(self, eff: Effect, case: Any, st: CaseExc, plan: Plan) -> bool:
        eff.pool = plan.role_index[self.role]
        eff.allowed = None
        eff.tag(self.label)
        return True
