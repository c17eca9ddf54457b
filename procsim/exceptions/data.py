"""Data exceptions, applied when the case starts: a value out of its range or of the wrong kind, and an
inconsistent pair. Every event of the case carries the changed data, so every event is labelled."""

from __future__ import annotations

from typing import Any, Literal

from procsim.exceptions.base import CaseExc, ExceptionType, Plan


def _num(v: Any) -> float:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else 0.0


class OutOfRange(ExceptionType):
    """``attribute`` (a number) becomes ``value``, or its value times ``factor`` (default 100)."""

    type: Literal["out_of_range"] = "out_of_range"
    attribute: str
    factor: float = 100.0
    value: float | None = None
    phase = "start"
    family = "data"
    default_category = "data"
    default_severity = "medium"
    default_difficulty = "one_field"
    attribute_fields = ("attribute",)
    number_fields = ("attribute",)

    def on_case(self, case: Any, st: CaseExc, plan: Plan) -> bool:
        new = self.value if self.value is not None else round(_num(case.attrs.get(self.attribute)) * self.factor, 2)
        if plan.types.get(self.attribute) == "integer":
            new = int(round(new))
        st.change(case, self.label, self.attribute, new)
        st.stick(self.label)
        return True


class WrongKind(ExceptionType):
    """``attribute`` (text) holds a value of another kind, ``value`` (default the number -1).
    Number and bool attributes are typed columns that cannot hold text, so only text attributes qualify."""

    type: Literal["wrong_kind"] = "wrong_kind"
    attribute: str
    value: Any = -1
    phase = "start"
    family = "data"
    default_category = "data"
    default_severity = "low"
    default_difficulty = "one_field"
    attribute_fields = ("attribute",)

    def check(self, spec: Any, types: dict[str, str]) -> list[tuple[tuple[Any, ...], str, str]]:
        t = types.get(self.attribute)
        if t is not None and t not in ("string", "any"):
            return [(("attribute",), f"'{self.attribute}' is a {t} column, which cannot hold another kind; "
                     "wrong_kind needs a text attribute (use out_of_range for numbers)", "not_text")]
        return []

    def on_case(self, case: Any, st: CaseExc, plan: Plan) -> bool:
        st.change(case, self.label, self.attribute, self.value)
        st.stick(self.label)
        return True


class InconsistentPair(ExceptionType):
    """``attribute`` disagrees with ``reference`` (an invoice amount that differs from the order amount):
    it becomes the reference times a factor drawn uniformly in [low, high]."""

    type: Literal["inconsistent_pair"] = "inconsistent_pair"
    attribute: str
    reference: str
    low: float = 1.05
    high: float = 1.3
    phase = "start"
    family = "data"
    default_category = "data"
    default_severity = "high"
    default_difficulty = "cross_document"
    attribute_fields = ("attribute", "reference")
    number_fields = ("attribute", "reference")

    def check(self, spec: Any, types: dict[str, str]) -> list[tuple[tuple[Any, ...], str, str]]:
        if self.high < self.low or abs(self.low - 1.0) < 1e-12 and abs(self.high - 1.0) < 1e-12:
            return [(("high",), "need low <= high and a range other than exactly 1", "bad_range")]
        return []

    def on_case(self, case: Any, st: CaseExc, plan: Plan) -> bool:
        f = self.low + (self.high - self.low) * st.rng.random()
        if abs(f - 1.0) < 1e-9:
            f = self.high
        st.change(case, self.label, self.attribute, round(_num(case.attrs.get(self.reference)) * f, 2))
        st.stick(self.label)
        return True
