"""round(): the fast float path gives exactly what rounding the decimal repr half away from zero gives."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal

from hypothesis import example, given, settings
from hypothesis import strategies as st

from procsim.rules.functions import _round


def _decimal_round(v: float, n: int) -> int | float:
    d = Decimal(repr(v)).quantize(Decimal(1).scaleb(-n), rounding=ROUND_HALF_UP, context=Context(prec=400))
    return int(d) if n <= 0 else float(d)


@settings(max_examples=3000, deadline=None)
@given(st.one_of(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e17, max_value=1e17),
                 # values with few decimals and exact ties one digit further: the cases people check by hand
                 st.builds(lambda i, k, tie: i / 10**k + tie * 5 / 10 ** (k + 1),
                           st.integers(-10**9, 10**9), st.integers(0, 6), st.booleans())),
       st.integers(0, 12))
@example(2.675, 2)
@example(0.125, 2)
@example(-2.5, 0)
@example(1e15 + 0.5, 0)
def test_fast_path_matches_decimal_rounding(v: float, n: int) -> None:
    got, want = _round(v, n), _decimal_round(v, n)
    assert got == want and type(got) is type(want)
