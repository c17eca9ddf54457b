"""Document exceptions: deviations that break a three-way match. The simulation only labels the execution of
``activity`` (the events of the invoice's recording, of the goods' receipt); what the deviation is, which line
and how much, is decided when the labelled event makes its document, by ``procsim.lineitems`` (its own stream),
which also records the fields it changed. They need the process's ``line_items:`` section and an object with the
matching ``line_items`` role made by ``activity`` (checked at load)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from procsim.exceptions.base import CaseExc, Effect, ExceptionType, Plan


def _label(x: ExceptionType, eff: Effect) -> bool:
    eff.tag(x.label)
    return True


class InvoicePriceChange(ExceptionType):
    """The invoice made by ``activity`` bills one line at a unit price ``low`` to ``high`` times the order's
    (rounded half up to cents; never equal to it): the invoice's line and totals, and the payment, differ
    from the order."""

    type: Literal["invoice_price_change"] = "invoice_price_change"
    activity: str
    low: Annotated[float, Field(gt=0)] = 1.02
    high: Annotated[float, Field(gt=0)] = 1.15
    family = "business"
    # seen only by comparing documents (the invoice's lines against the order's): a three-way match
    default_category = "fraud"
    default_severity = "high"
    default_difficulty = "cross_document"
    activity_fields = ("activity",)

    def apply(self, eff: Effect, case: Any, st: CaseExc, plan: Plan) -> bool:
        return _label(self, eff)

    @model_validator(mode="after")
    def _range(self) -> InvoicePriceChange:
        if self.high < self.low:
            raise ValueError("need low <= high")
        return self


class ShortDelivery(ExceptionType):
    """The goods received for the case fall short on one line: its last goods receipt records 1 to half of
    what it received of that line fewer (the invoice still bills the ordered quantity)."""

    type: Literal["short_delivery"] = "short_delivery"
    activity: str
    family = "business"
    default_category = "compliance"  # paid for what was not received
    default_severity = "medium"
    default_difficulty = "cross_document"  # the receipt's quantities against the order's and the invoice's
    activity_fields = ("activity",)

    def apply(self, eff: Effect, case: Any, st: CaseExc, plan: Plan) -> bool:
        return _label(self, eff)
