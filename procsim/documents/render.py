"""Rendering documents: the jinja2 sandbox, its limits, and money/date formatting in the process locale.

Templates are user input: they run in an ``ImmutableSandboxedEnvironment`` (no attribute of a Python internal,
no mutation of the data), with ``StrictUndefined`` (a missing field is an error, never an empty string in a
document), autoescaping for HTML, and caps on output size and render time. Multiplying strings or lists and
powers are capped too, so a one-line template cannot allocate gigabytes before the size check sees it.
Formatting is written here for the locales the examples use (babel is used when it is installed).
"""

from __future__ import annotations

import datetime as dt
import time
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from procsim.errors import ProcsimError

MAX_OUTPUT = 1_000_000  # characters of one rendered document
MAX_SECONDS = 2.0  # render time of one document
_MAX_REPEAT = 100_000  # the longest string or list a template may build with '*'
CENT = Decimal("0.01")

try:  # optional: full CLDR formatting when babel is installed
    import babel.dates as _bdates  # type: ignore[import-not-found, unused-ignore]
    import babel.numbers as _bnumbers  # type: ignore[import-not-found, unused-ignore]
except ImportError:  # pragma: no cover - depends on the environment
    _bnumbers = _bdates = None

# locale -> (thousands separator, decimal mark, symbol after the amount, date pattern)
_LOCALES: dict[str, tuple[str, str, bool, str]] = {
    "de_DE": (".", ",", True, "%d.%m.%Y"),
    "de_AT": (".", ",", True, "%d.%m.%Y"),
    "fr_FR": ("\u202f", ",", True, "%d/%m/%Y"),
    "en_US": (",", ".", False, "%m/%d/%Y"),
    "en_GB": (",", ".", False, "%d/%m/%Y"),
}
_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "CHF": "CHF"}
_DEFAULT_CURRENCY = {"de_DE": "EUR", "de_AT": "EUR", "fr_FR": "EUR", "en_US": "USD", "en_GB": "GBP"}


class RenderError(ProcsimError):
    """A document failed to render at run time (exit code 1; no document folder is left)."""


def cents(x: Any) -> Decimal:
    """A number as Decimal rounded to cents, half up (as an accountant rounds)."""
    d = x if isinstance(x, Decimal) else Decimal(str(x))
    return d.quantize(CENT, rounding=ROUND_HALF_UP)


class Formatter:
    """``money(x, currency)`` and ``date(d)`` for one locale."""

    def __init__(self, locale: str) -> None:
        self.locale = locale
        self.currency = _DEFAULT_CURRENCY.get(locale, "EUR")
        self.sep, self.dec, self.after, self.datefmt = _LOCALES.get(locale, _LOCALES["en_US"])

    def number(self, x: Any, digits: int = 2) -> str:
        d = Decimal(str(x)).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
        sign = "-" if d < 0 else ""
        whole, _, frac = f"{abs(d):f}".partition(".")
        groups = []
        while len(whole) > 3:
            groups.append(whole[-3:])
            whole = whole[:-3]
        groups.append(whole)
        out = self.sep.join(reversed(groups))
        return sign + (out + self.dec + frac if frac else out)

    def money(self, x: Any, currency: str | None = None) -> str:
        cur = currency or self.currency
        if _bnumbers is not None:
            return str(_bnumbers.format_currency(cents(x), cur, locale=self.locale))
        sym = _SYMBOLS.get(cur, cur)
        text = self.number(cents(x))
        if self.after:
            return f"{text}\u00a0{sym}"
        neg = text.startswith("-")
        body = text[1:] if neg else text
        return ("-" if neg else "") + (sym + body if len(sym) == 1 else f"{sym}\u00a0{body}")

    def date(self, d: Any) -> str:
        when = _as_datetime(d)
        if _bdates is not None:
            return str(_bdates.format_date(when.date(), format="short" if self.locale == "en_US" else "medium",
                                           locale=self.locale))
        return when.strftime(self.datefmt)

    def datetime(self, d: Any) -> str:
        when = _as_datetime(d)
        return f"{when.strftime(self.datefmt)} {when.strftime('%H:%M')}"

    def percent(self, x: Any, digits: int = 0) -> str:
        return self.number(Decimal(str(x)) * 100, digits) + ("\u00a0%" if self.after else "%")


def _as_datetime(d: Any) -> dt.datetime:
    if isinstance(d, dt.datetime):
        return d
    if isinstance(d, dt.date):
        return dt.datetime(d.year, d.month, d.day)
    if isinstance(d, str):
        return dt.datetime.fromisoformat(d)
    raise TypeError(f"date() needs a date or an ISO 8601 text, got {type(d).__name__}")


def _autoescape(name: str | None) -> bool:
    # templates are compiled under their display path: escape HTML and XML ones
    return bool(name) and name.removesuffix(".j2").endswith((".html", ".htm", ".xml"))  # type: ignore[union-attr]


class _Env(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            if isinstance(right, (int, float)) and abs(right) > 100:
                raise SecurityError("exponent above 100 in a template")
            return left**right
        for seq, n in ((left, right), (right, left)):
            if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > _MAX_REPEAT:
                raise SecurityError(f"a template may not build sequences over {_MAX_REPEAT:,} long")
        return left * right


def environment(locale: str) -> jinja2.Environment:
    """The sandbox for one process, with the helpers for ``locale``. No loader: a template cannot include or
    extend files (it is one self-contained file next to the process)."""
    env = _Env(undefined=jinja2.StrictUndefined,
               autoescape=_autoescape,
               trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, auto_reload=False)
    fmt = Formatter(locale)
    env.globals.update(money=fmt.money, date=fmt.date, datetime=fmt.datetime, num=fmt.number,
                       percent=fmt.percent)
    return env


def render(template: jinja2.Template, context: dict[str, Any]) -> str:
    """Render with the size and time caps; chunks are checked as they stream out."""
    parts: list[str] = []
    size = 0
    t0 = time.perf_counter()
    for k, chunk in enumerate(template.generate(context)):
        parts.append(chunk)
        size += len(chunk)
        if size > MAX_OUTPUT:
            raise SecurityError(f"output over {MAX_OUTPUT:,} characters")
        if not k & 63 and time.perf_counter() - t0 > MAX_SECONDS:
            raise SecurityError(f"rendering took over {MAX_SECONDS:g} s")
    return "".join(parts)
