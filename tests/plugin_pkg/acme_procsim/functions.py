"""A third-party expression function."""

from __future__ import annotations

from procsim.rules.functions import P, register_function


@register_function("acme_triple", (P("x", "number"),), "number", "Three times x (a test function).")
def acme_triple(x: float) -> float:
    return 3 * x
