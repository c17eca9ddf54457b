"""Business exceptions (procure-to-pay and order-to-cash flavours) that are more than a renamed control-flow
type: duplicate activities with the same data, segregation-of-duties violations, price changes after an
approval, and orders split just under an approval limit. Maverick buying is ``swap_order`` and payment
without goods receipt is ``skip_activity``, named in the process file."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from procsim.exceptions.base import CaseExc, Effect, ExceptionType, Plan


class DuplicateActivity(ExceptionType):
    """The activity is done a second time with the same data (a duplicate invoice or payment: the same
    amount to the same supplier); the copy's events are labelled."""

    type: Literal["duplicate_activity"] = "duplicate_activity"
    activity: str
    times: Annotated[int, Field(ge=1, le=100)] = 1
    family = "business"
    default_category = "fraud"
    default_severity = "high"
    default_difficulty = "control_flow"
    flow = True
    activity_fields = ("activity",)

    def apply(self, eff: Effect, case: Any, st: CaseExc, plan: Plan) -> bool:
        eff.repeats += [self.label] * self.times
        return True


class SodViolation(ExceptionType):
    """Segregation of duties broken: ``activity`` is done by the very person who did ``same_as`` (the requester
    approves their own request). Nothing happens when ``same_as`` was not done by a person before."""

    type: Literal["sod_violation"] = "sod_violation"
    activity: str
    same_as: str
    family = "business"
    default_category = "compliance"
    default_severity = "high"
    default_difficulty = "cross_document"
    activity_fields = ("activity", "same_as")

    def fields(self) -> tuple[str, ...]:
        return ("resource",)  # who did it is what is wrong

    def check(self, spec: Any, types: dict[str, str]) -> list[tuple[tuple[Any, ...], str, str]]:
        a = spec.activities.get(self.same_as)
        if a is not None and a.role is None:
            return [(("same_as",), f"'{self.same_as}' has no role: nobody to break the rule", "no_role")]
        return []

    def apply(self, eff: Effect, case: Any, st: CaseExc, plan: Plan) -> bool:
        who = st.who.get(self.same_as)
        if who is None or who[0] < 0:
            return False
        eff.pool, eff.allowed = who[0], (who[1],)
        eff.tag(self.label)
        return True


class PriceChange(ExceptionType):
    """Right after ``activity`` (an approval) ``attribute`` changes by a factor in [low, high]; every later
    event carries the new value and is labelled."""

    type: Literal["price_change"] = "price_change"
    activity: str
    attribute: str
    low: float = 1.1
    high: float = 1.5
    family = "business"
    default_category = "fraud"
    default_severity = "high"
    default_difficulty = "cross_document"
    activity_fields = ("activity",)
    attribute_fields = ("attribute",)
    number_fields = ("attribute",)

    def apply(self, eff: Effect, case: Any, st: CaseExc, plan: Plan) -> bool:
        f = self.low + (self.high - self.low) * st.rng.random()

        def change() -> None:
            v = case.attrs.get(self.attribute)
            st.change(case, self.label, self.attribute, round(float(v or 0.0) * f, 2))
            st.stick(self.label)

        eff.after.append(change)
        return True


class SplitOrder(ExceptionType):
    """A purchase split to stay under an approval limit: ``attribute`` is set just under ``limit`` (between
    ``low`` x limit and the limit) when the case starts, and ``activity`` is done ``parts`` times. The case
    is labelled from the first order on, and only if an order is written."""

    type: Literal["split_order"] = "split_order"
    activity: str
    attribute: str
    limit: Annotated[float, Field(gt=0)]
    parts: Annotated[int, Field(ge=2, le=20)] = 2
    low: Annotated[float, Field(gt=0, lt=1)] = 0.9
    phase = "start"
    family = "business"
    default_category = "fraud"
    default_severity = "high"
    default_difficulty = "control_flow"
    flow = True
    activity_fields = ("activity",)
    attribute_fields = ("attribute",)
    number_fields = ("attribute",)

    def on_case(self, case: Any, st: CaseExc, plan: Plan) -> bool:
        f = self.low + (0.999 - self.low) * st.rng.random()
        st.change(case, self.label, self.attribute, round(self.limit * f, 2))
        st.armed.setdefault(self.activity, []).append(self)
        # labelled only when the orders are written: a case rejected before any order split nothing (its
        # value just under the limit is then an ordinary value, not an exception)
        return False

    def apply(self, eff: Effect, case: Any, st: CaseExc, plan: Plan) -> bool:
        st.stick(self.label)
        eff.tag(self.label)
        eff.repeats += [self.label] * (self.parts - 1)
        return True
