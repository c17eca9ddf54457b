"""Rendering documents: the jinja2 sandbox, its limits, and money/date formatting in the process locale.

Templates are user input: they run in an ``ImmutableSandboxedEnvironment`` (no attribute of a Python internal,
no mutation of the data), with ``StrictUndefined`` (a missing field is an error, never an empty string in a
document), autoescaping for HTML, and caps on output size and render time. Multiplying strings or lists and
powers are capped too, so a one-line template cannot allocate gigabytes before the size check sees it.
Money, numbers, percentages and dates follow the process locale through babel (CLDR data), for every locale
Faker has; babel is a pinned dependency because its data decides the bytes of every document.
"""

from __future__ import annotations

import datetime as dt
import time
from copy import copy
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any

import jinja2
from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time
from babel.numbers import format_currency, get_territory_currencies
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from procsim.errors import ProcsimError

MAX_OUTPUT = 1_000_000  # characters of one rendered document
MAX_SECONDS = 2.0  # render time of one document
_MAX_REPEAT = 100_000  # the longest string or list a template may build with '*'
CENT = Decimal("0.01")

# Faker locales CLDR does not know under that name: the CLDR locale that formats as they would
_CLDR_NAMES = {"ar_AA": "ar", "dk_DK": "da_DK", "es_CA": "es_ES", "fr_QC": "fr_CA", "ng_NG": "en_NG",
               "no_NO": "nb_NO"}
# the currency a locale's documents use by default is its country's on this day: fixed, so that the bytes do not
# depend on the day procsim runs (a country that changes its currency would change them)
_CURRENCY_DAY = dt.date(2026, 1, 1)


@lru_cache(maxsize=None)
def cldr_locale(name: str) -> Locale:
    """The babel locale for a Faker locale: itself, its CLDR name, else its language, else en_US."""
    for candidate in (_CLDR_NAMES.get(name, name), name.split("_")[0], "en_US"):
        try:
            return Locale.parse(candidate)
        except (UnknownLocaleError, ValueError):
            continue
    raise AssertionError("en_US is always known")  # pragma: no cover


def default_currency(name: str) -> str:
    """The currency of the locale's country (ISO 4217), EUR when the locale names no country."""
    loc = cldr_locale(name)
    territory = loc.territory or (name.split("_")[1] if "_" in name else None)
    found = get_territory_currencies(territory, start_date=_CURRENCY_DAY) if territory else []
    return found[0] if found else "EUR"


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
        self.cldr = cldr_locale(locale)
        self.currency = default_currency(locale)

    def _fixed(self, pattern: Any, x: Decimal, digits: int) -> str:
        # the locale's pattern (grouping, symbols, sign, where '%' goes) with exactly ``digits`` decimals, rounded
        # half up here (a percent pattern multiplies by 100 after: round two places further)
        p = copy(pattern)
        p.frac_prec = (digits, digits)
        places = digits + (2 if p.scale == 2 else 0)
        return str(p.apply(x.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP), self.cldr))

    def number(self, x: Any, digits: int = 2) -> str:
        return self._fixed(self.cldr.decimal_formats[None], Decimal(str(x)), digits)

    def money(self, x: Any, currency: str | None = None) -> str:
        """The amount rounded half up to cents, in the currency's own digits (JPY has none) and place."""
        return str(format_currency(cents(x), currency or self.currency, locale=self.cldr))

    def date(self, d: Any) -> str:
        """CLDR's medium date: unambiguous in every locale (``09.03.2026``, ``Mar 9, 2026``, ``9 mars 2026``)."""
        return str(format_date(_as_datetime(d).date(), format="medium", locale=self.cldr))

    def datetime(self, d: Any) -> str:
        when = _as_datetime(d)  # the wall-clock time written, as for the date: no conversion
        return f"{self.date(when)} {format_time(when.time(), format='short', locale=self.cldr)}"

    def percent(self, x: Any, digits: int = 0) -> str:
        return self._fixed(self.cldr.percent_formats[None], Decimal(str(x)), digits)


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
