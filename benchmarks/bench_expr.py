"""Nanoseconds per evaluation of typical rule expressions (a benchmark to run by hand, not a test).

    python benchmarks/bench_expr.py

Prints ``fn`` (the bare fast path callers use in loops) and ``call`` (``Compiled.__call__``, which wraps
errors) for each expression, plus a small decision table.
"""

from __future__ import annotations

import timeit

from procsim.rules.expr import compile_expr
from procsim.rules.tables import compile_table

NAMES = {"amount": "number", "country": "string", "doc": {"po": {"total": "number"}}, "vip": "bool"}
ENV = {"amount": 12_500, "country": "DE", "doc": {"po": {"total": 980.0}}, "vip": False}
EXPRESSIONS = [
    "amount > 10000 and country == 'DE'",
    "country in ['DE', 'AT', 'CH']",
    "1000 < amount <= 50000",
    "doc.po.total * 0.02 + 5",
    "vip or amount >= 5000 and country != 'US'",
    "round(amount * 0.19, 2)",
]


def per_call_ns(fn: object, n: int = 200_000) -> float:
    best = min(timeit.repeat(lambda: fn(ENV), number=n, repeat=5))  # type: ignore[operator]
    return best / n * 1e9


def main() -> None:
    width = max(len(s) for s in EXPRESSIONS)
    for src in EXPRESSIONS:
        c = compile_expr(src, NAMES)
        print(f"{src:<{width}}  fn {per_call_ns(c.fn):6.0f} ns   call {per_call_ns(c):6.0f} ns")
    table = compile_table(
        "discount",
        ["amount", "country"],
        ["rate"],
        [["< 1000", "-", 0.0], ["[1000..10000)", "'DE', 'AT'", 0.02], ["[1000..10000)", "-", 0.01], [">= 10000", "-", "= 0.03"]],
        names=NAMES,
    )
    print(f"{'decision table, 4 rows, hit first':<{width}}  evaluate {per_call_ns(table.evaluate):6.0f} ns")


if __name__ == "__main__":
    main()
