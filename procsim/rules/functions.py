"""The functions rule expressions may call: one registry, :data:`FUNCTIONS`.

This module owns that registry. Every entry is a *pure* function of plain values (numbers, strings,
bools, lists, records, timezone-aware datetimes) returning a plain value - never a module, type, function
or other object that could lead anywhere - plus its parameter and result types so
:func:`procsim.rules.expr.compile_expr` can check argument counts and types at load. Because entries are
pure, calls whose arguments are all constants are evaluated once at compile time.

Adding a function is one :func:`register_function` decorator; an import-time check (:func:`_check_registry`)
refuses a malformed entry. Third-party functions are published as entry points in the group
``procsim.functions`` (name = the function's name, object = the decorated function; :mod:`procsim.registry`);
they must be pure like the built-in ones, since constant calls are folded at compile time. Rounding is half away from zero (``round(2.5) == 3``, ``round(0.125, 2) == 0.13``),
as business users expect, not Python's banker's rounding.
"""

from __future__ import annotations

import math
import re
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any, Final

from procsim.registry import Registry
from procsim.rules.kinds import MAX_SEQUENCE, TYPES, ExprRuntimeError, runtime_kind

__all__ = ["FUNCTIONS", "Function", "P", "Param", "register_function"]

_REQUIRED: Final = object()


@dataclass(frozen=True)
class Param:
    """One parameter: accepted type names (``("number",)``, ``("string", "list")``, ``("any",)``).

    A ``variadic`` parameter is last and takes ``min_count`` or more arguments.
    """

    name: str
    types: tuple[str, ...]
    default: Any = _REQUIRED
    variadic: bool = False
    min_count: int = 0

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED


@dataclass(frozen=True)
class Function:
    """A registry entry. ``result`` is a type name, or ``"same"``: the common type of the arguments."""

    name: str
    impl: Callable[..., Any]
    params: tuple[Param, ...]
    result: str
    doc: str


FUNCTIONS: Registry[Function] = Registry("function", "procsim.functions", "Expression functions (rules)")


def register_function(name: str, params: tuple[Param, ...], result: str,
                      doc: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: register ``impl`` as the expression function ``name`` (a pure function of plain values)."""
    def deco(impl: Callable[..., Any]) -> Callable[..., Any]:
        FUNCTIONS.add(name, Function(name, impl, params, result, doc))
        return impl

    return deco


_register = register_function


def P(name: str, types_: str, default: Any = _REQUIRED, *, variadic: bool = False, min_count: int = 0) -> Param:
    return Param(name, tuple(types_.split("|")), default, variadic, min_count)


def _fail(fname: str, msg: str) -> ExprRuntimeError:
    return ExprRuntimeError(f"{fname}(): {msg}")


_kind = runtime_kind


def _num(fname: str, v: Any) -> int | float:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return v
    raise _fail(fname, f"needs a number, got {_kind(v)}")


def _str(fname: str, v: Any) -> str:
    if isinstance(v, str):
        return v
    raise _fail(fname, f"needs a string, got {_kind(v)}")


def _dt(fname: str, v: Any) -> datetime:
    if not isinstance(v, datetime):
        raise _fail(fname, f"needs a datetime, got {_kind(v)}")
    if v.utcoffset() is None:
        raise _fail(fname, "needs a timezone-aware datetime")
    return v


def _numbers(fname: str, xs: tuple[Any, ...]) -> list[int | float]:
    items = xs[0] if len(xs) == 1 and isinstance(xs[0], (list, tuple)) else xs
    if not items:
        raise _fail(fname, "needs at least one value")
    return [_num(fname, x) for x in items]


# ---------------------------------------------------------------------------------------- numbers


@_register("abs", (P("x", "number"),), "number", "Absolute value.")
def _abs(x: Any) -> int | float:
    return abs(_num("abs", x))


@_register("min", (P("values", "number|list", variadic=True, min_count=1),), "number", "Smallest of the numbers, or of one list.")
def _min(*xs: Any) -> int | float:
    return min(_numbers("min", xs))


@_register("max", (P("values", "number|list", variadic=True, min_count=1),), "number", "Largest of the numbers, or of one list.")
def _max(*xs: Any) -> int | float:
    return max(_numbers("max", xs))


@_register("sum", (P("values", "number|list", variadic=True, min_count=1),), "number", "Sum of the numbers, or of one list.")
def _sum(*xs: Any) -> int | float:
    items = xs[0] if len(xs) == 1 and isinstance(xs[0], (list, tuple)) else xs
    vals = [_num("sum", x) for x in items]
    # fsum: exact, so the result does not depend on the order of the values
    return math.fsum(vals) if any(isinstance(v, float) for v in vals) else sum(vals)


# Enough precision for any finite float quantized to 12 decimals (1.8e308 has 309 integer digits).
_ROUND_CTX: Final = Context(prec=340)
_QUANTA: Final = {n: Decimal(1).scaleb(-n) for n in range(-12, 13)}
_POW10: Final = [10**n for n in range(13)]


@_register("round", (P("x", "number"), P("ndigits", "number", 0)), "number", "Round half away from zero; int when ndigits <= 0.")
def _round(x: Any, ndigits: Any = 0) -> int | float:
    v = _num("round", x)
    if type(ndigits) is not int or not -12 <= ndigits <= 12:
        raise _fail("round", "ndigits must be an integer from -12 to 12")
    if isinstance(v, int):
        if ndigits >= 0:
            return v
        q: int = 10**-ndigits
        r = (abs(v) + q // 2) // q * q
        return r if v >= 0 else -r
    if not math.isfinite(v):
        raise _fail("round", f"cannot round {v!r}")
    if ndigits >= 0:
        # Fast path (~10x): scaled by 10**ndigits, a value whose fraction is clearly off .5 rounds the same in
        # binary as in its decimal repr (the two differ by < 1e-15 relative, the margin below). Then k / 10**n,
        # a correctly rounded division of exact integers, is the float nearest the decimal result, the same
        # float as float(Decimal(...)). Near-ties and huge values take the exact Decimal path.
        scale = _POW10[ndigits]
        a = abs(v) * scale
        if a < 1e15:
            k = math.floor(a)
            frac = a - k
            if abs(frac - 0.5) > a * 1e-15 + 1e-9:
                k += frac > 0.5
                if v < 0:
                    k = -k
                return int(k) if ndigits == 0 else float(k / scale)
    d = Decimal(repr(v)).quantize(_QUANTA[ndigits], rounding=ROUND_HALF_UP, context=_ROUND_CTX)
    return int(d) if ndigits <= 0 else float(d)


@_register("floor", (P("x", "number"),), "number", "Largest integer <= x.")
def _floor(x: Any) -> int:
    return math.floor(_num("floor", x))


@_register("ceil", (P("x", "number"),), "number", "Smallest integer >= x.")
def _ceil(x: Any) -> int:
    return math.ceil(_num("ceil", x))


@_register("clamp", (P("x", "number"), P("lo", "number"), P("hi", "number")), "number", "x limited to [lo, hi].")
def _clamp(x: Any, lo: Any, hi: Any) -> int | float:
    v, a, b = _num("clamp", x), _num("clamp", lo), _num("clamp", hi)
    if a > b:
        raise _fail("clamp", f"lo ({a!r}) is greater than hi ({b!r})")
    return a if v < a else b if v > b else v


_NUMBER_TEXT: Final = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


@_register("number", (P("x", "number|string|bool"),), "number", "A number from a number, bool or numeric string ('12', '1.5').")
def _number(x: Any) -> int | float:
    if isinstance(x, bool):
        return int(x)
    if isinstance(x, (int, float)):
        return x
    if isinstance(x, str):
        s = x.strip()
        # a strict grammar: Python's int()/float() would also take '1_000', 'nan', 'infinity', non-ASCII digits
        if len(s) <= 100 and _NUMBER_TEXT.fullmatch(s):
            if s.lstrip("+-").isdigit():
                return int(s)
            f = float(s)
            if math.isfinite(f):
                return f
        raise _fail("number", f"cannot convert {x[:40]!r} to a number")
    raise _fail("number", f"cannot convert {_kind(x)} to a number")


def _text(x: Any) -> str:
    if x is None:
        return ""
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, str):
        return x
    if isinstance(x, datetime):
        return x.isoformat()
    if isinstance(x, (int, float)):
        return repr(x)
    if isinstance(x, (list, tuple)):
        return "[" + ", ".join(_text(v) for v in x) + "]"
    raise _fail("text", f"cannot convert {_kind(x)} to text")


@_register("text", (P("x", "any"),), "string", "Text for a value: 'true'/'false', '' for null, ISO 8601 for datetimes.")
def _text_fn(x: Any) -> str:
    s = _text(x)
    if len(s) > MAX_SEQUENCE:
        raise _fail("text", f"result is too long ({len(s)} characters; at most {MAX_SEQUENCE})")
    return s


# ---------------------------------------------------------------------------------------- strings


@_register("len", (P("x", "string|list|record"),), "number", "Length of a string, list or record.")
def _len(x: Any) -> int:
    if isinstance(x, (str, list, tuple, Mapping)):
        return len(x)
    raise _fail("len", f"needs a string, list or record, got {_kind(x)}")


@_register("lower", (P("s", "string"),), "string", "Lower-case text.")
def _lower(s: Any) -> str:
    return _str("lower", s).lower()


@_register("upper", (P("s", "string"),), "string", "Upper-case text.")
def _upper(s: Any) -> str:
    return _str("upper", s).upper()


@_register("trim", (P("s", "string"),), "string", "Text without leading and trailing whitespace.")
def _trim(s: Any) -> str:
    return _str("trim", s).strip()


@_register("startswith", (P("s", "string"), P("prefix", "string")), "bool", "Whether s starts with prefix.")
def _startswith(s: Any, prefix: Any) -> bool:
    return _str("startswith", s).startswith(_str("startswith", prefix))


@_register("endswith", (P("s", "string"), P("suffix", "string")), "bool", "Whether s ends with suffix.")
def _endswith(s: Any, suffix: Any) -> bool:
    return _str("endswith", s).endswith(_str("endswith", suffix))


@_register("contains", (P("container", "string|list|record"), P("item", "any")), "bool", "Substring, list element or record field.")
def _contains(container: Any, item: Any) -> bool:
    if isinstance(container, str):
        return _str("contains", item) in container
    if isinstance(container, (list, tuple, Mapping)):
        return item in container
    raise _fail("contains", f"needs a string, list or record, got {_kind(container)}")


@_register("concat", (P("values", "any", variadic=True, min_count=1),), "string", "The values as text, joined.")
def _concat(*xs: Any) -> str:
    s = "".join(_text(x) for x in xs)
    if len(s) > MAX_SEQUENCE:
        raise _fail("concat", f"result is too long ({len(s)} characters; at most {MAX_SEQUENCE})")
    return s


@_register("coalesce", (P("values", "any", variadic=True, min_count=1),), "same", "The first value that is not null.")
def _coalesce(*xs: Any) -> Any:
    for x in xs:
        if x is not None:
            return x
    return None


# ------------------------------------------------------------------------------ dates and times


@_register("weekday", (P("t", "datetime"),), "number", "Day of the week, 0 = Monday.")
def _weekday(t: Any) -> int:
    return _dt("weekday", t).weekday()


@_register("hour", (P("t", "datetime"),), "number", "Hour 0-23 in the datetime's own time zone.")
def _hour(t: Any) -> int:
    return _dt("hour", t).hour


@_register("minute", (P("t", "datetime"),), "number", "Minute 0-59.")
def _minute(t: Any) -> int:
    return _dt("minute", t).minute


@_register("day", (P("t", "datetime"),), "number", "Day of the month 1-31.")
def _day(t: Any) -> int:
    return _dt("day", t).day


@_register("month", (P("t", "datetime"),), "number", "Month 1-12.")
def _month(t: Any) -> int:
    return _dt("month", t).month


@_register("year", (P("t", "datetime"),), "number", "Year (e.g. 2026).")
def _year(t: Any) -> int:
    return _dt("year", t).year


@_register("date_str", (P("t", "datetime"),), "string", "The date as 'YYYY-MM-DD' in the datetime's own time zone.")
def _date_str(t: Any) -> str:
    return _dt("date_str", t).date().isoformat()


def _elapsed(fname: str, a: Any, b: Any) -> float:
    # via UTC: Python subtracts datetimes sharing a tzinfo as wall-clock times, ignoring DST changes
    return (_dt(fname, b).astimezone(timezone.utc) - _dt(fname, a).astimezone(timezone.utc)).total_seconds()


@_register("days_between", (P("a", "datetime"), P("b", "datetime")), "number", "Elapsed days from a to b (fractional; negative when b is earlier).")
def _days_between(a: Any, b: Any) -> float:
    return _elapsed("days_between", a, b) / 86_400


@_register("hours_between", (P("a", "datetime"), P("b", "datetime")), "number", "Elapsed hours from a to b (fractional; negative when b is earlier).")
def _hours_between(a: Any, b: Any) -> float:
    return _elapsed("hours_between", a, b) / 3_600


@_register("duration", (P("text", "string"),), "number", "Seconds in a duration string: duration('2h') == 7200.")
def _duration(text: Any) -> float:
    # the one duration grammar of procsim lives in spec.units; imported late so that spec may import rules
    from procsim.spec.units import parse_duration

    try:
        return float(parse_duration(_str("duration", text)))
    except ValueError as exc:
        raise _fail("duration", str(exc)) from None


# ------------------------------------------------------------------------------ registry check

_RESULT_TYPES: Final = TYPES | {"same"}


def _check_registry() -> None:
    """Refuse a malformed registry at import (runs under ``python -O`` too, so no ``assert``)."""
    for key, f in FUNCTIONS.items():
        problems = []
        if not isinstance(f, Function) or f.name != key or not key.isidentifier() or key.startswith("_"):
            problems.append("name must be a public identifier equal to its key")
        elif isinstance(f.impl, (type, types.ModuleType)) or not callable(f.impl):
            problems.append("impl must be a plain function")
        elif f.result not in _RESULT_TYPES:
            problems.append(f"unknown result type {f.result!r}")
        elif not f.doc:
            problems.append("missing doc")
        for i, p in enumerate(f.params if isinstance(f, Function) else ()):
            if not p.types or not set(p.types) <= TYPES:
                problems.append(f"parameter {p.name!r} has unknown types {p.types!r}")
            if p.variadic and (i != len(f.params) - 1 or not p.required):
                problems.append(f"variadic parameter {p.name!r} must be last and have no default")
            if not p.variadic and p.min_count:
                problems.append(f"min_count on non-variadic parameter {p.name!r}")
            if i and p.required and not f.params[i - 1].required and not p.variadic:
                problems.append(f"required parameter {p.name!r} after one with a default")
        if problems:
            raise RuntimeError(f"procsim.rules.functions: bad registry entry {key!r}: {'; '.join(problems)}")


FUNCTIONS.load_plugins()
_check_registry()
