"""Durations as people write them (``15m``, ``2h``, ``1d 4h``) and the pydantic types that accept them.

This module owns the duration grammar, its inverse (:func:`format_duration`) and the two annotated
float types specs use:

* :data:`Duration`: a time span that must carry a unit (or be ``0``): ``sla: 4h``.
* :data:`Quantity`: a number *or* a duration string, e.g. a distribution parameter that is a time in
  one process and an amount in another.

A value written with a unit is returned as :class:`Seconds`, a ``float`` subclass, so later checks
(:func:`procsim.distributions.check_units`) can tell ``mean: 30m`` from ``mean: 30``. pydantic's float
validator returns a plain ``float`` even for a subclass, so both types use a wrap validator that puts
the marker back after pydantic has checked the number.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from fractions import Fraction
from typing import Annotated, Any, Final

from pydantic import GetJsonSchemaHandler, PlainSerializer, ValidatorFunctionWrapHandler, WrapValidator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError

from procsim.limits import MAX_DURATION_S

__all__ = [
    "Duration",
    "Quantity",
    "Seconds",
    "format_duration",
    "parse_duration",
    "parse_quantity",
]


class Seconds(float):
    """Seconds that were written with a unit. Arithmetic returns plain ``float``: the marker is about input."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Seconds({float(self)!r})"


# Unit spellings -> seconds. Lower case only: an upper-case 'M' reads as "month" to many people, and a
# silent 1-minute value would be worse than an error.
_UNITS: Final[dict[str, int | Fraction]] = {
    **dict.fromkeys(("ms", "msec", "msecs", "millisecond", "milliseconds"), Fraction(1, 1000)),
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), 86_400),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks"), 604_800),
}
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
# Longest spelling first so that 'ms' is not read as 'm' followed by garbage.
_UNIT = "(?:" + "|".join(sorted(_UNITS, key=lambda u: (-len(u), u))) + ")"
_ZERO = r"(?:0+(?:\.0*)?|\.0+)"  # a unitless string is allowed only when it is zero
# ASCII: '\d' would otherwise accept digits of every script.
_PART = re.compile(rf"({_NUMBER})\s*({_UNIT})(?![a-z])\s*", re.ASCII)
_ZERO_RE = re.compile(_ZERO, re.ASCII)
_NUMBER_RE = re.compile(_NUMBER, re.ASCII)
# The same grammar as an ECMA-262 pattern, so editors using the JSON Schema flag typos while typing.
DURATION_PATTERN: Final[str] = rf"^\s*(?:{_ZERO}|(?:{_NUMBER}\s*{_UNIT}(?![a-z])\s*)+)\s*$"

_HINT: Final[str] = "use a number with a unit, like '15m', '2h' or '1d 4h'"
_NEEDS_UNIT: Final[str] = "durations need a unit, like '15m' or '2h'"


def parse_duration(value: str | int | float) -> float:
    """Return the seconds in ``value``: a duration string (``'1d 4h'``) or a number of seconds.

    Strings need a unit on every number (``'15'`` is an error; ``'0'`` is allowed). The sum is exact
    (rational arithmetic) and rounded once, so ``parse_duration(format_duration(x)) == x``.
    """
    if isinstance(value, bool):  # bool is an int, but ``duration: true`` is never meant as 1 second
        raise ValueError(f"invalid duration {value!r}: {_HINT}")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ValueError(f"invalid duration {value!r}: {_HINT}")
        if value < 0:
            raise ValueError(f"negative duration {value!r}")
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"invalid duration {value!r}: {_HINT}")
    text = value.strip()
    negative = text.startswith("-")
    body = text[1:].lstrip() if negative else text
    if _ZERO_RE.fullmatch(body):
        return 0.0
    if not body:
        raise ValueError(f"invalid duration {value!r}: {_HINT}")
    pos, total = 0, Fraction(0)
    while pos < len(body):
        part = _PART.match(body, pos)
        if part is None:
            hint = _NEEDS_UNIT if _NUMBER_RE.fullmatch(body) else _HINT
            raise ValueError(f"invalid duration {value!r}: {hint}")
        total += Fraction(part[1]) * _UNITS[part[2]]
        pos = part.end()
    if negative and total:
        raise ValueError(f"negative duration {value!r}")
    if total > MAX_DURATION_S:
        # nothing a process does lasts a century; beyond that, dates overflow and runs never end
        raise ValueError(f"duration {value!r} is longer than {MAX_DURATION_S // (365 * 86_400)} years, the longest "
                         "procsim accepts")
    try:
        return float(total)
    except OverflowError:
        raise ValueError(f"invalid duration {value!r}: too large") from None


def _plain(d: Decimal) -> str:
    """A decimal without exponent or trailing zeros (``1E-5`` would not parse back)."""
    text = format(d, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_duration(seconds: float) -> str:
    """Compact text for ``seconds``: ``'1d 4h'``, ``'15m'``, ``'1.5s'``, ``'500ms'``, ``'0'``.

    Days are the largest unit (``'10d'``, not ``'1w 3d'``: business calendars count days). A sub-second
    rest without whole seconds is written in ``ms``. Negative values get a leading ``-`` (for messages;
    :func:`parse_duration` rejects them). Exact inverse of :func:`parse_duration` for every finite float.
    """
    if not math.isfinite(seconds):
        raise ValueError(f"cannot format {seconds!r} as a duration")
    if seconds < 0:
        return "-" + format_duration(-seconds)
    # Split the shortest decimal that round-trips (repr), not the binary value: 123456.789 gives
    # '36.789s' rather than '36.78900000000431s', and parsing that decimal exactly rounds back to the float.
    exact = Decimal(repr(float(seconds)))
    whole = int(exact)
    frac = exact - whole
    rest, secs = divmod(whole, 60)
    rest, mins = divmod(rest, 60)
    days, hours = divmod(rest, 24)
    parts = [f"{n}{u}" for n, u in ((days, "d"), (hours, "h"), (mins, "m")) if n]
    if frac and not secs:
        parts.append(f"{_plain(frac * 1000)}ms")
    elif frac or secs:
        parts.append(f"{_plain(secs + frac)}s")
    return " ".join(parts) or "0"


def parse_quantity(v: Any) -> Any:
    """Number or duration: a string becomes :class:`Seconds`; anything else passes to pydantic unchanged."""
    if isinstance(v, str):
        return Seconds(parse_duration(v))
    return v


def _need_unit(v: Any) -> Any:
    if isinstance(v, (Seconds, str)):
        return parse_quantity(v)
    if isinstance(v, (int, float)) and not isinstance(v, bool) and v == 0:
        return Seconds(0.0)  # zero is zero in every unit
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        raise ValueError(_NEEDS_UNIT)
    return v  # let pydantic report the wrong type


def _keep_unit(parse: Any) -> WrapValidator:
    def validate(v: Any, handler: ValidatorFunctionWrapHandler) -> float:
        if isinstance(v, bool):
            raise ValueError(f"expected a number or a duration like '15m', got {v!r}")
        q = parse(v)
        out: float = handler(q)  # pydantic's own float checks and constraints; returns a plain float
        if not math.isfinite(out):
            raise PydanticCustomError("finite_number", "Input should be a finite number")
        return Seconds(out) if isinstance(q, Seconds) else out

    return WrapValidator(validate)


def _serialize(v: float) -> float | str:
    # JSON output writes unit-carrying values back as durations, so a dumped spec validates again.
    return format_duration(v) if isinstance(v, Seconds) else v


_JSON_KEYWORDS: Final[dict[str, str]] = {
    "gt": "exclusiveMinimum", "ge": "minimum", "lt": "exclusiveMaximum", "le": "maximum", "multiple_of": "multipleOf"
}


class _NumberOrString:
    """JSON Schema ``number | string``: editors then offer and accept ``'15m'``, and constraints stay visible.

    ``number`` is pydantic's own schema for the float (with ``exclusiveMinimum`` and friends), or ``None``
    to take it as is; a hook rather than ``WithJsonSchema`` so ``Field(gt=0)`` still shows up.
    """

    def __init__(self, number: dict[str, Any] | None = None) -> None:
        self.number = number

    def __get_pydantic_json_schema__(self, core: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        number = dict(self.number) if self.number is not None else handler(core)
        # A constraint placed after the wrap validator (``Annotated[Quantity, Field(gt=0)]``) reaches the
        # schema under its pydantic name; rename it to the JSON Schema keyword.
        number = {_JSON_KEYWORDS.get(k, k): v for k, v in number.items()}
        return {"anyOf": [number, {"type": "string", "pattern": DURATION_PATTERN}]}


_SER = PlainSerializer(_serialize, return_type=Any, when_used="json")

Duration = Annotated[float, _keep_unit(_need_unit), _SER, _NumberOrString({"type": "number", "const": 0})]
"""Seconds written with a unit (``'15m'``) or ``0``; bare numbers are rejected. Validates to :class:`Seconds`."""

Quantity = Annotated[float, _keep_unit(parse_quantity), _SER, _NumberOrString()]
"""A plain number, or a duration string validated to :class:`Seconds`."""
