"""Near misses: legitimate cases that look suspicious, declared in a process's ``near_misses:`` section.

A detector that flags every amount just under an approval limit, every second invoice with the same amount,
every late payment or every rework has a false-positive rate; near misses make it measurable. They run on the
exception machinery (per-case decisions from the same per-case stream, ``rate`` or ``count``, ``when``) but
their types live in a registry of their own (``NEAR_REGISTRY``), and the recorder writes them as
``near_miss=<name>`` with ``is_exception=false``: never in the log's ``exception`` column, never in
``cases.csv``'s ``exceptions``.

Every near miss may also set case attributes when it is chosen (``attributes:``), the paper trail that makes it
legitimate: agreed extended payment terms, a documented reason for the rework, an onboarding status.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field

from procsim.distributions import DurationDistribution, Fixed
from procsim.exceptions.base import CaseExc, Effect, ExceptionType, Plan
from procsim.exceptions.control import insert_after
from procsim.spec.units import Duration

# words for the names of new suppliers (a name no earlier case used: see NewSupplier)
_FIRST = ("Nordlicht", "Bergmann", "Havel", "Altmark", "Seeblick", "Kranich", "Lindenhof", "Feldstein", "Isartal",
          "Morgenrot", "Weidenau", "Sonnfeld", "Rheinblick", "Eichwald", "Talbach", "Hansen")
_SECOND = ("Technik", "Handel", "Logistik", "Service", "Systeme", "Werke", "Versand", "Industriebedarf")
_FORMS = ("GmbH", "AG", "KG", "GmbH & Co. KG", "e.K.", "Ltd.", "S.A.")


class NearMiss(ExceptionType):
    """What every near miss shares with an exception (name, rate/count, when) plus ``attributes``."""

    type: str
    attributes: dict[str, Any] = {}  # case attributes set when the case is chosen (the legitimate paper trail)
    near: ClassVar[bool] = True
    family = "near_miss"
    phase = "start"

    def set_attributes(self, case: Any, st: CaseExc) -> None:
        for k, v in self.attributes.items():
            st.change(case, self.label, k, v)

    def fields(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([*super().fields(), *self.attributes]))


class BelowLimit(NearMiss):
    """An amount just under an approval limit (between ``low`` x ``limit`` and the limit), in a case that
    goes the ordinary way: one order, approved as the rules require, not split."""

    type: Literal["below_limit"] = "below_limit"
    attribute: str
    limit: Annotated[float, Field(gt=0)]
    low: Annotated[float, Field(gt=0, lt=1)] = 0.95
    attribute_fields = ("attribute",)
    number_fields = ("attribute",)
    default_category = "fraud"
    default_severity = "low"
    default_difficulty = "one_field"

    def on_case(self, case: Any, st: CaseExc, plan: Plan) -> bool:
        f = self.low + (0.999 - self.low) * st.rng.random()
        plan.set_amount(case, st, self.label, self.attribute, round(self.limit * f, 2))
        self.set_attributes(case, st)
        st.stick(self.label)
        return True


class SameAmount(NearMiss):
    """The case's ``attribute`` equals that of the case started just before it: two invoices with the same
    amount for different orders (exceptions.csv names both cases)."""

    type: Literal["same_amount"] = "same_amount"
    attribute: str
    attribute_fields = ("attribute",)
    number_fields = ("attribute",)
    default_category = "fraud"
    default_severity = "low"
    default_difficulty = "several_cases"

    def on_case(self, case: Any, st: CaseExc, plan: Plan) -> bool:
        prev = plan.cache.get(id(self))
        if prev is None:
            return False  # the first case has no earlier one to match
        plan.set_amount(case, st, self.label, self.attribute, prev[1])
        st.related[self.label] = [prev[0]]
        self.set_attributes(case, st)
        st.stick(self.label)
        return True

    def observe(self, case: Any, plan: Plan) -> None:
        plan.cache[id(self)] = (case.id, case.attrs.get(self.attribute))


class ExtendedTerms(NearMiss):
    """``activity`` (the payment or its approval) waits ``delay`` before it is done: late, but within payment
    terms agreed for this case (set them with ``attributes``, e.g. ``{payment_terms: net60}``)."""

    type: Literal["extended_terms"] = "extended_terms"
    activity: str
    delay: Duration
    activity_fields = ("activity",)
    default_category = "time"
    default_severity = "low"
    default_difficulty = "timing"

    def on_case(self, case: Any, st: CaseExc, plan: Plan) -> bool:
        self.set_attributes(case, st)
        st.armed.setdefault(self.activity, []).append(self)
        return False  # labelled when the late execution happens

    def apply(self, eff: Effect, case: Any, st: CaseExc, plan: Plan) -> bool:
        eff.wait += self.delay  # the case waits (the agreed date), nobody works longer
        eff.tag(self.label)
        return True


class LegitimateRework(NearMiss):
    """``activity`` is done again ``times`` times right after itself, for a documented reason (``attributes``)."""

    type: Literal["legitimate_rework"] = "legitimate_rework"
    activity: str
    times: Annotated[int, Field(ge=1, le=100)] = 1
    activity_fields = ("activity",)
    flow = True  # a conformance check against the model flags it: the false positive it is there for
    default_category = "control_flow"
    default_severity = "low"
    default_difficulty = "control_flow"

    def on_case(self, case: Any, st: CaseExc, plan: Plan) -> bool:
        self.set_attributes(case, st)
        st.armed.setdefault(self.activity, []).append(self)
        return False

    def apply(self, eff: Effect, case: Any, st: CaseExc, plan: Plan) -> bool:
        eff.repeats += [self.label] * self.times
        return True


class NewSupplier(NearMiss):
    """A supplier no earlier case used (``attribute`` gets a new name), onboarded properly: ``insert`` (by
    ``role``, or the system) is done right after ``activity``."""

    type: Literal["new_supplier"] = "new_supplier"
    attribute: str
    activity: str
    insert: str = "Onboard supplier"
    role: str | None = None
    duration: DurationDistribution = Fixed(value=1800.0)
    attribute_fields = ("attribute",)
    activity_fields = ("activity",)
    role_fields = ("role",)
    flow = True  # the onboarding is an activity the model does not have
    default_category = "fraud"
    default_severity = "low"
    default_difficulty = "several_cases"

    def check(self, spec: Any, types: dict[str, str]) -> list[tuple[tuple[Any, ...], str, str]]:
        t = types.get(self.attribute)
        if t is not None and t not in ("string", "any"):
            return [(("attribute",), f"'{self.attribute}' is a {t} attribute; a supplier's name is text", "not_text")]
        return []

    def on_case(self, case: Any, st: CaseExc, plan: Plan) -> bool:
        r = st.rng
        name = (f"{_FIRST[int(r.integers(len(_FIRST)))]} {_SECOND[int(r.integers(len(_SECOND)))]} "
                f"{_FORMS[int(r.integers(len(_FORMS)))]}")
        st.change(case, self.label, self.attribute, name)
        self.set_attributes(case, st)
        st.stick(self.label)
        st.armed.setdefault(self.activity, []).append(self)
        return True

    def apply(self, eff: Effect, case: Any, st: CaseExc, plan: Plan) -> bool:
        return insert_after(self, eff, plan)
