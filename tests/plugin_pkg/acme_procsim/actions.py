"""A third-party rule action."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from procsim.rules.actions import CompileContext, RuleAction


class _TagValue(BaseModel):
    model_config = {"extra": "forbid"}
    attribute: str
    value: str


class Tag(RuleAction):
    """Set a text attribute to a constant at case start (a test action)."""

    key = "acme_tag"
    model = _TagValue

    def compile(self, ctx: CompileContext, value: Any, cr: Any, loc: tuple[Any, ...]) -> None:
        if value.attribute not in ctx.types:
            ctx.problem(loc + ("acme_tag", "attribute"), f"unknown attribute '{value.attribute}'", "unknown_attribute")
            return
        cr.sets.append((value.attribute, lambda env, v=value.value: v))
        ctx.rs.start_sets.append(cr)
