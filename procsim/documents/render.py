"""Rendering documents: the jinja2 sandbox, its limits, and money/date formatting in the process locale.

Templates are user input: they run in an ``ImmutableSandboxedEnvironment`` (no attribute of a Python internal,
no mutation of the data), with ``StrictUndefined`` (a missing field is an error, never an empty string in a
document), autoescaping for HTML, and caps on output size and render time. The time cap is checked while
the template runs (every call, operator, filter and loop step), not only when output appears, and every operation
that could build a large string, list or number (``*``, ``**``, ``+``, ``~``, ``%``, ``format``, ``center``,
``replace``, ``join``, ``indent``, ``wordwrap``, the same ``str`` methods ...) has the size of its result checked
*before* it is built, so a one-line template cannot allocate gigabytes or hang: the bounds are in
``procsim.limits`` and docs/limits.md.
Money, numbers, percentages and dates follow the process locale through babel (CLDR data), for every locale
Faker has; babel is a pinned dependency because its data decides the bytes of every document.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import math
import re
import time
from collections.abc import Callable, Iterable, Iterator
from copy import copy
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any, cast

import jinja2
import jinja2.nodes as jn
from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time
from babel.numbers import format_currency, get_territory_currencies
from jinja2.exceptions import SecurityError, TemplateRuntimeError, TemplateSyntaxError
from jinja2.runtime import Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEscapeFormatter, SandboxedFormatter
from jinja2.utils import _PassArg
from markupsafe import Markup

from procsim.errors import ProcsimError
from procsim.limits import (TEMPLATE_MAX_DEPTH, TEMPLATE_MAX_NESTING, TEMPLATE_MAX_OUTPUT, TEMPLATE_MAX_RANGE,
                            TEMPLATE_MAX_SECONDS, TEMPLATE_MAX_SIZE, TEMPLATE_MAX_STEPS)

MAX_OUTPUT = TEMPLATE_MAX_OUTPUT  # characters of one rendered document
MAX_SECONDS = TEMPLATE_MAX_SECONDS  # render time of one document (read at each render: tests lower it)
_MAX_SIZE = TEMPLATE_MAX_SIZE  # the longest string or list, the most characters, any one operation may build
_MAX_INT_BITS = 33_220  # about 10,000 decimal digits: the largest integer '*' or '**' may build
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


def _too_big(what: str) -> SecurityError:
    return SecurityError(f"{what} would be over {_MAX_SIZE:,} characters long (the limit of one template "
                         "value)")


def _weight(x: Any, seen: dict[int, int] | None = None) -> int:
    """Characters (or items) a value stands for once it is turned into text: nested lists count their items'
    weights, so a list holding a list many times is as heavy as its text would be. Memoised by identity: the
    cost is that of the objects that exist, never of the text they would expand to."""
    if isinstance(x, (str, bytes, bytearray)):
        return len(x)
    if isinstance(x, bool) or x is None:
        return 1
    if isinstance(x, int):
        return max(1, x.bit_length() * 3 // 10)
    if not isinstance(x, (list, tuple, dict, set, frozenset)):
        return 1
    seen = {} if seen is None else seen
    key = id(x)
    if key in seen:
        return seen[key]
    seen[key] = 1  # a container reached again while being weighed (cannot happen in a template; be safe)
    items: Iterable[Any] = (v for kv in x.items() for v in kv) if isinstance(x, dict) else x
    total = 2
    for item in items:
        total += 2 + _weight(item, seen)
        if total > _MAX_SIZE:
            break  # heavy enough to refuse; no need to weigh the rest
    seen[key] = total
    return total


def _check(size: int, what: str) -> None:
    if size > _MAX_SIZE:
        raise _too_big(what)


def _check_value(x: Any, what: str) -> None:
    if isinstance(x, (list, tuple, dict, set, frozenset)):
        _check(_weight(x), what)


# a printf conversion: flags, width and precision ('*' takes them from the arguments)
_PERCENT = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")
_SPEC_NUMBER = re.compile(r"\d+")


def _check_percent(fmt: Any, args: Any) -> None:
    """``fmt % args``: no width or precision (written or taken by '*') beyond the size limit."""
    if not isinstance(fmt, (str, bytes)):
        return
    text = fmt if isinstance(fmt, str) else fmt.decode("latin-1")
    star = False
    for m in _PERCENT.finditer(text):
        for g in m.groups():
            if g == "*":
                star = True
            elif g is not None and len(g) > 7 or (g is not None and int(g) > _MAX_SIZE):
                raise _too_big("a '%' format width or precision")
    values = args if isinstance(args, tuple) else (args,)
    total = len(text)
    for v in values:
        if star and isinstance(v, int) and abs(v) > _MAX_SIZE:
            raise _too_big("a '%' format width or precision")
        total += _weight(v)
    if isinstance(args, dict):
        total += _weight(args)
    _check(total, "a '%' formatted text")


def _check_format_spec(spec: str) -> None:
    for number in _SPEC_NUMBER.findall(spec):
        if len(number) > 7 or int(number) > _MAX_SIZE:
            raise _too_big("a format width or precision")


class _CheckedFormatter(SandboxedFormatter):
    """``str.format``/``format_map`` in the sandbox, with each field's width checked before it is padded."""

    def format_field(self, value: Any, format_spec: str) -> Any:
        _check_format_spec(format_spec)
        _check_value(value, "a formatted value")
        return super().format_field(value, format_spec)


class _CheckedEscapeFormatter(_CheckedFormatter, SandboxedEscapeFormatter):
    pass


def _materialise(iterable: Any, env: _Env) -> list[Any]:
    out = []
    for k, x in enumerate(iterable):
        if not k & 1023:
            env.tick()
        out.append(x)
        if k > _MAX_SIZE:
            raise _too_big("a sequence")
    return out


def _joined_size(items: list[Any], sep: Any) -> int:
    return sum(_weight(x) for x in items) + max(0, len(items) - 1) * len(sep)


def _str_method_check(env: _Env, obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Sizes a ``str``/``bytes`` method (or ``int.to_bytes``) would build, checked before the call; returns the
    arguments to call with (an iterable to ``join`` is read once, here)."""
    name = getattr(obj, "__name__", "")
    owner = getattr(obj, "__self__", None)
    if isinstance(owner, int) and name == "to_bytes":
        length = args[0] if args else kwargs.get("length", 1)
        if isinstance(length, int) and length > _MAX_SIZE:
            raise _too_big("int.to_bytes()")
        return args
    if not isinstance(owner, (str, bytes, bytearray)):
        return args
    n = len(owner)
    if name in ("center", "ljust", "rjust", "zfill") and args and isinstance(args[0], int):
        _check(args[0], f"{name}()")
    elif name == "expandtabs":
        tab = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(tab, int):
            tabs = owner.count("\t") if isinstance(owner, str) else owner.count(b"\t")
            _check(n + tabs * tab, "expandtabs()")
    elif name == "replace" and len(args) >= 2:
        _check(_replaced_size(owner, args[0], args[1], args[2] if len(args) > 2 else kwargs.get("count", -1)),
               "replace()")
    elif name == "join" and args:
        items = _materialise(args[0], env)
        _check(_joined_size(items, owner), "join()")
        return (items,) + args[1:]
    elif name == "translate" and args and isinstance(args[0], dict):
        longest = max((_weight(v) for v in args[0].values()), default=1)
        _check(n * max(1, longest), "translate()")
    return args


def _replaced_size(s: Any, old: Any, new: Any, count: Any) -> int:
    if not isinstance(old, (str, bytes)) or not isinstance(new, (str, bytes)) or type(old) is not type(s) and \
            not (isinstance(s, str) and isinstance(old, str)):
        return len(s)
    hits = cast(Any, s).count(old) if old else len(s) + 1  # s is str or bytes, of old's type
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    return len(s) + hits * (len(new) - len(old))


class _Env(ImmutableSandboxedEnvironment):
    """The sandbox with a budget: a render deadline checked as the template runs, macro depth, loop steps, and
    the size of what an operation would build checked before it is built."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.deadline = math.inf  # set by render(); outside it only the size checks apply
        self.depth = 0
        self.steps = 0
        # lipsum draws unseeded random text of any length: neither deterministic nor bounded
        self.globals.pop("lipsum", None)
        # builtin sum() concatenates lists one by one (quadratic, and not interruptible): a linear one instead
        self.filters["sum"] = _sum
        for name, fn in list(self.filters.items()):
            self.filters[name] = self._checked_filter(name, fn)
        # every {{ value }} is weighed before it is turned into text: a list nested from references to one big
        # string is small in memory but gigabytes as text
        self.finalize = self._finalize
        self.filters["_procsim_loop"] = self._loop
        self.filters["_procsim_concat"] = self._concat

    # -- time -------------------------------------------------------------------------------------------
    def tick(self) -> None:
        if time.perf_counter() > self.deadline:
            raise SecurityError(f"rendering took over {MAX_SECONDS:g} s")

    def start(self) -> None:
        self.deadline = time.perf_counter() + MAX_SECONDS
        self.depth = 0
        self.steps = 0

    def stop(self) -> None:
        self.deadline = math.inf

    # -- the template's code: loops and '~' go through checked helpers ------------------------------------
    def _parse(self, source: str, name: str | None, filename: str | None) -> jn.Template:
        try:
            tree = super()._parse(source, name, filename)
        except RecursionError:
            raise TemplateSyntaxError(f"the template is nested more than {TEMPLATE_MAX_NESTING} levels deep", 1,
                                      name, filename) from None
        # jinja's compiler and its tools recurse once or more per level: refuse deep trees before they do
        stack: list[tuple[jn.Node, int]] = [(tree, 0)]
        while stack:
            node, depth = stack.pop()
            if depth > TEMPLATE_MAX_NESTING:
                raise TemplateSyntaxError(f"the template is nested more than {TEMPLATE_MAX_NESTING} levels deep",
                                          node.lineno or 1, name, filename)
            stack.extend((child, depth + 1) for child in node.iter_child_nodes())
        # a loop over a long iterable runs no call, filter or operator per step: wrap its iterable so the
        # deadline and the step budget are checked as it runs. '~' compiles to a plain join: route it through
        # a filter that checks the joined size first.
        for loop in tree.find_all(jn.For):
            loop.iter = jn.Filter(loop.iter, "_procsim_loop", [], [], None, None, lineno=loop.iter.lineno)
        for concat in list(tree.find_all(jn.Concat)):
            parts = jn.List(list(concat.nodes), lineno=concat.lineno)
            concat.nodes = [jn.Filter(parts, "_procsim_concat", [], [], None, None, lineno=concat.lineno)]
        return tree

    def compile(self, source: Any, name: str | None = None, filename: str | None = None, raw: bool = False,
                defer_init: bool = False) -> Any:
        try:
            return super().compile(source, name, filename, raw, defer_init)  # type: ignore[call-overload]
        except (RecursionError, MemoryError, SyntaxError) as e:
            # jinja's parser and Python's compiler recurse: a template nested thousands deep is the user's
            msg = "the template is nested too deeply" if not isinstance(e, SyntaxError) else str(e.msg)
            raise TemplateSyntaxError(msg, 1, name, filename) from None

    def _loop(self, iterable: Any) -> Iterator[Any]:
        for x in iterable:
            self.steps += 1
            if not self.steps & 255:
                self.tick()
                if self.steps > TEMPLATE_MAX_STEPS:
                    raise SecurityError(f"more than {TEMPLATE_MAX_STEPS:,} loop steps in one document")
            yield x

    def _finalize(self, value: Any) -> Any:
        self.tick()
        _check_value(value, "a value written to the document")
        return value

    @jinja2.pass_eval_context
    def _concat(self, eval_ctx: Any, items: list[Any]) -> str:
        self.tick()
        _check(sum(_weight(x) for x in items), "a '~' concatenation")
        from jinja2.runtime import markup_join, str_join

        return markup_join(items) if eval_ctx.autoescape else str_join(items)

    # -- calls, operators, filters ----------------------------------------------------------------------
    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        __self.tick()
        if isinstance(__obj, Macro):
            if __self.depth >= TEMPLATE_MAX_DEPTH:
                raise SecurityError(f"macros call each other more than {TEMPLATE_MAX_DEPTH} deep (a macro that "
                                    "calls itself without end?)")
            __self.depth += 1
            try:
                return super().call(__context, __obj, *args, **kwargs)
            finally:
                __self.depth -= 1
        args = _str_method_check(__self, __obj, args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        owner: Any = value.__self__
        formatter = (_CheckedEscapeFormatter(self, escape=owner.escape) if isinstance(owner, Markup)
                     else _CheckedFormatter(self))
        is_map = value.__name__ == "format_map"

        def checked(*args: Any, **kwargs: Any) -> str:
            self.tick()
            if is_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument, a mapping")
                kwargs = args[0]
                args = ()
            _check(len(owner), "a format string")
            return cast(str, type(owner)(formatter.vformat(owner, args, kwargs)))  # owner is a str (or Markup)

        return functools.update_wrapper(checked, value)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        self.tick()
        if operator == "**":
            if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1 and \
                    right * left.bit_length() > _MAX_INT_BITS:
                raise SecurityError("a power in a template would have more than 10,000 digits")
        elif operator == "*":
            if isinstance(left, int) and isinstance(right, int) and not isinstance(left, bool) and \
                    not isinstance(right, bool):
                if left.bit_length() + right.bit_length() > _MAX_INT_BITS:
                    raise SecurityError("a product in a template would have more than 10,000 digits")
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, (str, bytes, list, tuple)) and isinstance(n, int) and n > 0:
                    _check(_weight(seq) * n, "a repeated string or list")
        elif operator == "+":
            if isinstance(left, (str, bytes, list, tuple)) and isinstance(right, (str, bytes, list, tuple)):
                _check(_weight(left) + _weight(right), "a '+' concatenation")
        elif operator == "%":
            _check_percent(left, right)
        return super().call_binop(context, operator, left, right)

    def _checked_filter(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        skip = 1 if _PassArg.from_obj(fn) is not None else 0
        pre = _FILTER_CHECKS.get(name)
        env = self

        @functools.wraps(fn)
        def checked(*args: Any, **kwargs: Any) -> Any:
            env.tick()
            if len(args) > skip:
                _check_value(args[skip], f"the value given to '{name}'")
            if pre is not None:
                args = args[:skip] + pre(env, list(args[skip:]), kwargs)
            return fn(*args, **kwargs)

        return checked


def _arg(args: list[Any], kwargs: dict[str, Any], i: int, key: str, default: Any) -> Any:
    return args[i] if len(args) > i else kwargs.get(key, default)


def _pre_center(env: _Env, args: list[Any], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    width = _arg(args, kwargs, 1, "width", 80)
    if isinstance(width, int):
        _check(width, "center()")
    return tuple(args)


def _pre_indent(env: _Env, args: list[Any], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    text = str(args[0]) if args else ""
    width = _arg(args, kwargs, 1, "width", 4)
    w = width if isinstance(width, int) else len(str(width))
    _check(len(text) + (text.count("\n") + 1) * max(0, w), "indent()")
    return tuple(args)


def _pre_wordwrap(env: _Env, args: list[Any], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    text = str(args[0]) if args else ""
    wrap = _arg(args, kwargs, 4, "wrapstring", None)
    _check(len(text) * (1 + len(str(wrap or "\n"))), "wordwrap()")
    return tuple(args)


def _pre_replace(env: _Env, args: list[Any], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    if len(args) >= 3:
        s = args[0] if isinstance(args[0], str) else str(args[0])
        count = _arg(args, kwargs, 3, "count", None)
        _check(_replaced_size(s, str(args[1]), str(args[2]), -1 if count is None else count), "replace()")
    return tuple(args)


def _pre_join(env: _Env, args: list[Any], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    if args:
        args[0] = _materialise(args[0], env)
        _check(_joined_size(args[0], str(_arg(args, kwargs, 1, "d", ""))), "join()")
    return tuple(args)


def _pre_format(env: _Env, args: list[Any], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    if args:
        _check_percent(args[0], dict(kwargs) if kwargs else tuple(args[1:]))
    return tuple(args)


@jinja2.pass_environment
def _sum(environment: Any, iterable: Any, attribute: str | int | None = None, start: Any = 0) -> Any:
    """jinja's ``sum`` filter, with sizes checked and lists joined in linear time."""
    from jinja2.filters import make_attrgetter

    if attribute is not None:
        iterable = map(make_attrgetter(environment, attribute), iterable)
    items = _materialise(iterable, environment) if isinstance(environment, _Env) else list(iterable)
    if isinstance(start, (list, tuple)) and all(isinstance(x, type(start)) for x in items):
        _check(_weight(start) + sum(_weight(x) for x in items), "sum()")
        return type(start)(itertools.chain(start, *items))
    if any(isinstance(x, (str, list, tuple)) for x in items):
        _check(_weight(start) + sum(_weight(x) for x in items), "sum()")
    if any(isinstance(x, int) and x.bit_length() > _MAX_INT_BITS for x in items):
        raise _too_big("sum()")
    return sum(items, start)


def _pre_count(key: str, i: int, limit: int, what: str) -> Callable[[_Env, list[Any], dict[str, Any]],
                                                                    tuple[Any, ...]]:
    def pre(env: _Env, args: list[Any], kwargs: dict[str, Any]) -> tuple[Any, ...]:
        n = _arg(args, kwargs, i, key, 0)
        if isinstance(n, int) and n > limit:
            raise SecurityError(f"{what} above {limit:,} in a template")
        return tuple(args)

    return pre


_FILTER_CHECKS: dict[str, Callable[[_Env, list[Any], dict[str, Any]], tuple[Any, ...]]] = {
    "center": _pre_center,
    "indent": _pre_indent,
    "wordwrap": _pre_wordwrap,
    "replace": _pre_replace,
    "join": _pre_join,
    "format": _pre_format,
    "batch": _pre_count("linecount", 1, _MAX_SIZE, "a batch size"),
    "slice": _pre_count("slices", 1, TEMPLATE_MAX_RANGE, "a number of slices"),
    "tojson": _pre_count("indent", 1, 64, "a JSON indent"),
    "truncate": _pre_count("leeway", 4, _MAX_SIZE, "a truncate leeway"),
}


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
    """Render with the size and time caps; chunks are checked as they stream out, and the sandbox checks the
    deadline while the template runs. Any Python error the template provokes (an index out of range in
    ``format_map``, too deep a recursion, ...) becomes a ``TemplateRuntimeError`` that keeps its traceback, so
    callers report it at the template's line as the user's error."""
    env = template.environment
    checked = isinstance(env, _Env)
    if checked:
        cast(_Env, env).start()
    parts: list[str] = []
    size = 0
    t0 = time.perf_counter()
    try:
        for k, chunk in enumerate(template.generate(context)):
            parts.append(chunk)
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise SecurityError(f"output over {MAX_OUTPUT:,} characters")
            if not k & 63 and time.perf_counter() - t0 > MAX_SECONDS:
                raise SecurityError(f"rendering took over {MAX_SECONDS:g} s")
    except (jinja2.TemplateError, ArithmeticError, TypeError, ValueError, KeyError):
        raise
    except RecursionError as e:
        raise TemplateRuntimeError("recursion too deep").with_traceback(e.__traceback__) from None
    except MemoryError as e:
        raise TemplateRuntimeError("out of memory").with_traceback(e.__traceback__) from None
    except (LookupError, AttributeError) as e:
        raise TemplateRuntimeError(f"{type(e).__name__}: {e}").with_traceback(e.__traceback__) from None
    finally:
        if checked:
            cast(_Env, env).stop()
    return "".join(parts)
