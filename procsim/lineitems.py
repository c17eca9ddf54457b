"""Line items: a case's order lines drawn from the ``line_items:`` section, money in exact integer cents, and
what each business document (order, goods receipt, invoice, payment) shows of them.

Money never passes through binary floating point on its way to a total. A unit price is drawn, then rounded
half up to whole cents once; a line's net is quantity (an integer) x unit price, exact; its tax is net x rate
rounded half up to cents per line (``ROUND_HALF_UP``, as an accountant rounds: 0.5 cent goes up), and its gross
is net + tax. A document's totals are the sums of its lines' net, tax and gross, so the printed lines add up to
the printed totals to the cent, and the case attributes named in ``totals`` are those same sums.

Randomness: the lines of case ``idx`` come from a stream of their own (``STREAM_LINES``), so a process without
``line_items`` draws nothing and keeps its bytes, and adding line items changes no other attribute's draws.
The documents' deviations (an invoice price that differs from the order's, a short delivery) come from a
second stream (``STREAM_LINE_EXC``), drawn when the event labelled with the exception makes its document.

Several goods receipts in one case (a partial delivery, a replacement for returned goods) share the ordered
quantities: when the case closes, every receipt but the last gets half (rounded down) of what is still
outstanding per line and the last gets the rest, so in a clean case the receipts add up to the order.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, getcontext
from itertools import accumulate
from typing import TYPE_CHECKING, Any

import numpy as np

from procsim.sim.streams import STREAM_LINE_EXC, STREAM_LINES, CaseStreams

from procsim.errors import Problem, suggest

if TYPE_CHECKING:
    from procsim.objects import ObjectRecord
    from procsim.spec import LoadedProcess
    from procsim.spec.models import LineItemsSpec, ProcessSpec

__all__ = ["Line", "LineDrawer", "LineBook", "LineFit", "fit_net", "scale_prices", "check_line_items", "tax_cents", "totals", "as_money", "ROLE_ITEM_FIELDS",
           "ROLE_FIELDS", "DEVIATIONS"]

MAX_QUANTITY = 1_000_000  # units on one line: a drawn quantity is clamped to [1, this]
MAX_PRICE_CENTS = 10**11  # a unit price of at most a billion: clamped to [1 cent, this]
_UNIT = Decimal(1)

# the item fields and object fields each document role adds (name, OCEL type)
ROLE_ITEM_FIELDS: dict[str, list[tuple[str, str]]] = {
    "order": [("line", "integer"), ("material", "string"), ("description", "string"), ("unit", "string"),
              ("quantity", "integer"), ("unit_price", "float"), ("tax_rate", "float"), ("line_net", "float"),
              ("line_tax", "float"), ("line_gross", "float")],
    "receipt": [("line", "integer"), ("material", "string"), ("description", "string"), ("unit", "string"),
                ("ordered", "integer"), ("quantity", "integer")],
    "payment": [],
}
ROLE_ITEM_FIELDS["invoice"] = ROLE_ITEM_FIELDS["order"]
ROLE_FIELDS: dict[str, list[tuple[str, str]]] = {
    "order": [("net_total", "float"), ("tax_total", "float"), ("gross_total", "float")],
    "receipt": [("delivery_date", "time")],
    "invoice": [("net_total", "float"), ("tax_total", "float"), ("gross_total", "float")],
    "payment": [("amount", "float"), ("invoice", "string")],
}
# exception type -> the document role it changes (procsim.exceptions.documents defines the types)
DEVIATIONS = {"invoice_price_change": "invoice", "short_delivery": "receipt"}


def tax_cents(net: int, rate: Decimal) -> int:
    """Tax on ``net`` cents at ``rate``, rounded half up to whole cents."""
    return int((Decimal(net) * rate).quantize(_UNIT, rounding=ROUND_HALF_UP))


def to_cents(x: float) -> int:
    """A drawn amount in currency units, rounded half up to whole cents (through its decimal text, so 2.675
    is 268 cents as written, not 267 as its binary value would round).

    Once per line item, so the common text (``123.456``: no exponent) is read digit by digit, as the decimal
    rounding would: the third decimal decides, and half up means away from zero. Anything else takes
    ``_to_cents_decimal``, the definition (tests/test_lineitems.py checks the two agree)."""
    text = repr(float(x))
    if "e" in text or "n" in text:  # 1e+16, 5e-05, inf, nan
        return _to_cents_decimal(text)
    neg = text[0] == "-"
    whole, _, frac = (text[1:] if neg else text).partition(".")
    cents = int(whole) * 100 + int(frac[:2].ljust(2, "0"))
    if len(frac) > 2 and frac[2] >= "5":
        cents += 1
    return -cents if neg else cents


def _to_cents_decimal(text: str) -> int:
    return int((Decimal(text) * 100).quantize(_UNIT, rounding=ROUND_HALF_UP))


def _tax(rate: Decimal) -> Callable[[int], int]:
    """``tax_cents(net, rate)`` for a fixed rate, in integers: rate = num/den exactly, and half up of a
    non-negative net * num / den is floor((2 * net * num + den) / (2 * den)). The decimal product is exact (and
    so the two agree) while its digits fit the decimal context's precision; beyond that, the definition."""
    num, den = rate.as_integer_ratio()
    coef = int("".join(map(str, rate.as_tuple().digits)))
    limit = 10 ** getcontext().prec
    if num < 0:
        return lambda net: tax_cents(net, rate)

    def tax(net: int) -> int:
        if net < 0 or net * coef >= limit:
            return tax_cents(net, rate)
        return (2 * net * num + den) // (2 * den)

    return tax


def as_money(cents: int) -> float:
    """Cents as the float the logs hold: the nearest double to the decimal, which prints as the decimal."""
    return cents / 100


@dataclass(frozen=True)
class Line:
    """One order line; money in integer cents."""

    line: int
    material: str
    description: str
    unit: str
    quantity: int
    unit_price: int
    tax_rate: Decimal

    @property
    def net(self) -> int:
        return self.quantity * self.unit_price

    @property
    def tax(self) -> int:
        return tax_cents(self.net, self.tax_rate)

    @property
    def gross(self) -> int:
        return self.net + self.tax


def totals(lines: Sequence[Line]) -> tuple[int, int, int]:
    """(net, tax, gross) in cents: the sums of the lines' own rounded values."""
    net = sum(x.net for x in lines)
    tax = sum(x.tax for x in lines)
    return net, tax, net + tax


class _Product:
    """A material of the master data as a line shows it."""

    __slots__ = ("description", "unit")

    def __init__(self, description: str, unit: str) -> None:
        self.description = description
        self.unit = unit


class LineDrawer:
    """``draw(case index)`` -> the case's lines, from its own stream; ``attributes(lines)`` -> the ``totals``.

    With ``master: material`` the materials are that master-data type's objects (``world``), chosen by its
    popularity, each line showing the object's id, ``description``, ``unit``, ``price`` (its list price, to the
    cent) and ``tax_rate`` (else the section's) as the object has them at the start of the run."""

    def __init__(self, spec: LineItemsSpec, seed: int, world: Any = None) -> None:
        self.spec = spec
        self.counts = [n for n, w in spec.count.items() if w > 0]
        self.count_cum = list(accumulate(w for w in spec.count.values() if w > 0))
        self.prices: list[Any]
        if spec.master is not None:
            if world is None:
                raise ValueError("line_items.master needs the run's master data (procsim.masterdata.World)")
            typ = world.types[spec.master]
            self.materials: list[tuple[str, Any]] = [
                (o.id, _Product(str(o.values.get("description", o.id)), str(o.values.get("unit", "pc"))))
                for o in typ.objects]
            self.material_cum = list(typ.cum)
            self.prices = [(lambda rng, v=float(o.values.get("price", 0.0)): v) for o in typ.objects]
            self.rates = [Decimal(repr(float(o.values.get("tax_rate", spec.tax_rate)))) for o in typ.objects]
        else:
            self.materials = list(spec.materials.items())
            self.material_cum = list(accumulate(m.weight for _, m in self.materials))
            self.prices = [m.price.sampler() for _, m in self.materials]
            self.rates = [Decimal(repr(m.tax_rate if m.tax_rate is not None else spec.tax_rate)) for _, m in
                          self.materials]
        self.quantity = spec.quantity.sampler()
        self.streams = CaseStreams(seed, STREAM_LINES)
        self._taxes = [_tax(r) for r in self.rates]

    @staticmethod
    def _pick(cum: list[float], u: float) -> int:
        return min(bisect_right(cum, u * cum[-1]), len(cum) - 1)

    def _draws(self, idx: int) -> list[tuple[int, int, int]]:
        """Case ``idx``'s lines as (material index, quantity, unit price in cents), drawn from its stream."""
        rng = self.streams.get(idx)
        try:
            n = self.counts[self._pick(self.count_cum, rng.random())]
            out = []
            for _ in range(n):
                m = self._pick(self.material_cum, rng.random())
                q = self.quantity(rng)
                qty = min(MAX_QUANTITY, max(1, int(round(q)))) if q == q else 1
                price = min(MAX_PRICE_CENTS, max(1, to_cents(self.prices[m](rng))))
                out.append((m, qty, price))
            return out
        finally:
            self.streams.put(rng)

    def draw(self, idx: int) -> tuple[Line, ...]:
        materials, rates = self.materials, self.rates
        return tuple(Line(k, materials[m][0], materials[m][1].description, materials[m][1].unit, qty, price,
                          rates[m]) for k, (m, qty, price) in enumerate(self._draws(idx), 1))

    def attributes(self, lines: Sequence[Line]) -> dict[str, float]:
        return self._named(totals(lines), len(lines))

    def case_attributes(self, idx: int, ref: str | None = None) -> dict[str, float]:
        """``attributes(draw(idx))`` without making the lines: what a case's attributes need, once per case;
        with ``ref``, also the first line's material id under that name (the case's material).

        Each line's tax is ``tax_cents`` in integers (``_tax``), so the sums are the same to the cent."""
        net = tax = n = 0
        first = -1
        taxes = self._taxes
        for m, qty, price in self._draws(idx):
            if n == 0:
                first = m
            n += 1
            line_net = qty * price
            net += line_net
            tax += taxes[m](line_net)
        out: dict[str, Any] = self._named((net, tax, net + tax), n)
        if ref is not None and n:
            out[ref] = self.materials[first][0]
        return out

    def _named(self, sums: tuple[int, int, int], n: int) -> dict[str, float]:
        by = {"net": sums[0], "tax": sums[1], "gross": sums[2]}
        return {attr: as_money(by[what]) if what != "lines" else n for what, attr in self.spec.totals.items()}


def fit_net(lines: Sequence[Line], target: int) -> tuple[Line, ...]:
    """The lines changed so that their nets add up to exactly ``target`` cents (a scheme or near miss that
    sets the order's amount). Unit prices are scaled by target / net (half up, at least a cent); the cents
    that rounding leaves go onto unit prices, the line with the most units first (whole cents per unit), so a
    quantity-1 line takes any rest; when the quantities share a factor the rest is no multiple of, the line
    with the fewest units is billed as one lot (quantity 1, its whole value as the unit price); a target below
    a cent per unit bills every line as one lot. Materials and tax rates stay; each line's tax is recomputed
    from its net, as for any line. A target below a cent per line leaves the lines as they are."""
    net = sum(x.net for x in lines)
    if not lines or target < 1 or net == target:
        return tuple(lines)
    f = Decimal(target) / Decimal(net)
    prices = [max(1, int((Decimal(x.unit_price) * f).quantize(_UNIT, rounding=ROUND_HALF_UP))) for x in lines]
    rest = target - sum(x.quantity * p for x, p in zip(lines, prices))
    order = sorted(range(len(lines)), key=lambda k: (-lines[k].quantity, k))
    for k in order:  # too much: down by whole cents per unit, rounding the step up, most units first
        if rest >= 0:
            break
        q = lines[k].quantity
        down = min(prices[k] - 1, -(rest // q))
        prices[k] -= down
        rest += q * down
    for k in order:  # what is left to add (or the overshoot of the step above): whole cents per unit
        if rest <= 0:
            break
        q = lines[k].quantity
        prices[k] += rest // q
        rest %= q
    qty = [x.quantity for x in lines]
    if rest > 0:
        k = order[-1]  # the fewest units: one lot worth what the line was worth, plus the rest
        prices[k] = qty[k] * prices[k] + rest
        qty[k] = 1
    elif rest < 0:
        # a target below a cent per unit: every line one lot, worth its share of the target (at least a cent)
        if target < len(lines):
            return tuple(lines)  # below a cent per line: nothing to fit (callers give more)
        qty = [1] * len(lines)
        spare = target - len(lines)
        prices = [1 + spare * x.net // net for x in lines]
        prices[max(range(len(lines)), key=lambda j: lines[j].net)] += target - sum(prices)
    return tuple(Line(x.line, x.material, x.description, x.unit, q, p, x.tax_rate)
                 for x, q, p in zip(lines, qty, prices))


def scale_prices(lines: Sequence[Line], factor: float) -> tuple[Line, ...]:
    """Every unit price times ``factor`` (half up to cents, at least a cent more when the factor is above 1):
    prices above the market, line by line."""
    f = Decimal(repr(float(factor)))
    out = []
    for x in lines:
        p = int((Decimal(x.unit_price) * f).quantize(_UNIT, rounding=ROUND_HALF_UP))
        if f > 1 and p <= x.unit_price:
            p = x.unit_price + 1
        out.append(Line(x.line, x.material, x.description, x.unit, x.quantity, max(1, p), x.tax_rate))
    return tuple(out)


class LineFit:
    """The lines of the cases whose amount a scheme or near miss set: one source of truth for the case's
    total attributes and its documents. ``to_net`` / ``scale`` / ``copy`` change case ``idx``'s lines and
    return the ``totals`` attributes they now give; ``take(idx)`` hands the changed lines to the documents
    (``LineBook``), None when the case kept its drawn ones. Nothing is drawn: a change is a function of the
    drawn lines and the target."""

    def __init__(self, drawer: LineDrawer) -> None:
        self.drawer = drawer
        self.net_attr = drawer.spec.totals.get("net")
        self.lines: dict[int, tuple[Line, ...]] = {}

    def covers(self, attribute: str) -> bool:
        """Whether ``attribute`` is the lines' net total (what a scheme or near miss can set through them)."""
        return attribute == self.net_attr

    def current(self, idx: int) -> tuple[Line, ...]:
        got = self.lines.get(idx)
        return got if got is not None else self.drawer.draw(idx)

    def _set(self, idx: int, lines: tuple[Line, ...]) -> dict[str, float]:
        self.lines[idx] = lines
        return self.drawer.attributes(lines)

    def to_net(self, idx: int, value: float) -> dict[str, float]:
        return self._set(idx, fit_net(self.current(idx), to_cents(value)))

    def scale(self, idx: int, factor: float) -> dict[str, float]:
        return self._set(idx, scale_prices(self.current(idx), factor))

    def copy(self, idx: int, source: int) -> dict[str, float]:
        return self._set(idx, self.current(source))

    def take(self, idx: int) -> tuple[Line, ...] | None:
        return self.lines.pop(idx, None)


def _line_values(x: Line) -> list[tuple[str, Any]]:
    return [("line", x.line), ("material", x.material), ("description", x.description), ("unit", x.unit),
            ("quantity", x.quantity), ("unit_price", as_money(x.unit_price)), ("tax_rate", float(x.tax_rate)),
            ("line_net", as_money(x.net)), ("line_tax", as_money(x.tax)), ("line_gross", as_money(x.gross))]


class _CaseLines:
    __slots__ = ("lines", "rng", "receipts", "short", "invoice")

    def __init__(self, lines: tuple[Line, ...]) -> None:
        self.lines = lines
        self.rng: np.random.Generator | None = None
        self.receipts: list[ObjectRecord] = []
        self.short: list[tuple[str, float, float]] = []  # (label, low, high) of short deliveries to book
        self.invoice: ObjectRecord | None = None  # the last invoice made: what a payment pays


class LineBook:
    """The documents' view of each running case's lines: builds the items and totals of an object with a
    ``line_items`` role, applies the deviations its creating event is labelled with, and books the goods
    receipts when the case closes."""

    def __init__(self, spec: ProcessSpec, seed: int, fit: LineFit | None = None, world: Any = None) -> None:
        assert spec.line_items is not None
        # made when the first case needs it (an ObjectModel that only lists the object types draws nothing)
        self._drawer: LineDrawer | None = fit.drawer if fit is not None else None
        self._make = (spec.line_items, seed, world)
        self.fit = fit  # the cases whose lines a scheme or near miss changed (shared with the simulation)
        self.exc_streams = CaseStreams(seed, STREAM_LINE_EXC)
        # label -> (exception type, low, high) of the document exceptions
        self.deviations: dict[str, tuple[str, float, float]] = {
            x.label: (x.type, float(getattr(x, "low", 0.0)), float(getattr(x, "high", 0.0)))
            for x in spec.exceptions if x.type in DEVIATIONS}
        self.cases: dict[int, _CaseLines] = {}

    def _case(self, idx: int) -> _CaseLines:
        c = self.cases.get(idx)
        if c is None:
            fitted = self.fit.take(idx) if self.fit is not None else None
            c = self.cases[idx] = _CaseLines(fitted if fitted is not None else self.drawer.draw(idx))
        return c

    @property
    def drawer(self) -> LineDrawer:
        if self._drawer is None:
            self._drawer = LineDrawer(*self._make)
        return self._drawer

    def _rng(self, c: _CaseLines, idx: int) -> np.random.Generator:
        if c.rng is None:
            c.rng = self.exc_streams.get(idx)
        return c.rng

    def create(self, role: str, item_type: str, obj: ObjectRecord, idx: int, labels: str) -> int:
        """Fill ``obj`` (just made by an event labelled ``labels``) for its role; returns the items made."""
        c = self._case(idx)
        hits = [self.deviations[n] + (n,) for n in labels.split(";") if n in self.deviations] if labels else []
        if role == "payment":
            inv = c.invoice
            gross = totals(_lines_of(inv))[2] if inv is not None else totals(c.lines)[2]
            obj.values.append(("amount", as_money(gross)))
            if inv is not None:
                obj.values.append(("invoice", inv.id))
            return 0
        lines = list(c.lines)
        if role == "invoice":
            for kind, low, high, label in hits:
                if kind == "invoice_price_change" and lines:
                    rng = self._rng(c, idx)
                    k = int(rng.integers(len(lines)))
                    f = Decimal(repr(low + (high - low) * float(rng.random())))
                    old = lines[k]
                    new = int((Decimal(old.unit_price) * f).quantize(_UNIT, rounding=ROUND_HALF_UP))
                    if new == old.unit_price:
                        new += 1 if f >= 1 else -1
                    before = totals(lines)
                    lines[k] = x = Line(old.line, old.material, old.description, old.unit, old.quantity,
                                        max(1, new), old.tax_rate)
                    # the fields that now differ from the order (a tax can round to the same cents)
                    where = f"{obj.id}/{old.line}"
                    changed = [f"{where}.{f}" for f, a, b in (("unit_price", old.unit_price, x.unit_price),
                                                              ("line_net", old.net, x.net),
                                                              ("line_tax", old.tax, x.tax),
                                                              ("line_gross", old.gross, x.gross)) if a != b]
                    changed += [f"{obj.id}.{f}" for f, a, b in zip(("net_total", "tax_total", "gross_total"),
                                                                   before, totals(lines)) if a != b]
                    obj.discrepancies.append((label, changed))
            c.invoice = obj
        items = obj.items
        for x in lines:
            vals = _line_values(x)
            if role == "receipt":
                vals = vals[:4] + [("ordered", x.quantity), ("quantity", x.quantity)]
            items.append(_item(obj, item_type, x.line, vals))
            obj.links.append((items[-1].id, "contains"))
        if role == "receipt":
            obj.values.append(("delivery_date", obj.time[:10]))
            c.receipts.append(obj)
            c.short += [(label, low, high) for kind, low, high, label in hits if kind == "short_delivery"]
        else:
            net, tax, gross = totals(lines)
            obj.values += [("net_total", as_money(net)), ("tax_total", as_money(tax)),
                           ("gross_total", as_money(gross))]
        return len(lines)

    def close(self, idx: int) -> None:
        """The case finished: share the ordered quantities among its receipts, then book short deliveries."""
        c = self.cases.pop(idx, None)
        if self.fit is not None:
            self.fit.take(idx)  # a case that made no document with lines: its changed lines are not needed
        if c is None:
            return
        if c.receipts:
            for line_no, x in enumerate(c.lines):
                left = x.quantity
                for r in c.receipts:
                    got = left if r is c.receipts[-1] else left // 2
                    _set(r.items[line_no], "quantity", got)
                    left -= got
            last = c.receipts[-1]
            for label, _, _ in c.short:
                rng = self._rng(c, idx)
                k = int(rng.integers(len(last.items)))
                got = _get(last.items[k], "quantity")
                cut = 1 + int(rng.integers(max(1, got // 2)))
                _set(last.items[k], "quantity", max(0, got - cut))
                last.discrepancies.append((label, [f"{last.items[k].id}.quantity"]))
        if c.rng is not None:
            self.exc_streams.put(c.rng)


def _item(obj: ObjectRecord, item_type: str, k: int, vals: list[tuple[str, Any]]) -> ObjectRecord:
    return type(obj)(f"{obj.id}/{k}", item_type, obj.time, vals, obj.case_id, obj.event_id)


def _get(item: ObjectRecord, name: str) -> Any:
    return next(v for f, v in item.values if f == name)


def _set(item: ObjectRecord, name: str, value: Any) -> None:
    item.values = [(f, value if f == name else v) for f, v in item.values]


def _lines_of(obj: ObjectRecord) -> list[Line]:
    """An invoice's lines back from its items (what it billed, deviations included)."""
    out = []
    for it in obj.items:
        v = dict(it.values)
        out.append(Line(v["line"], v["material"], v["description"], v["unit"], v["quantity"],
                        to_cents(v["unit_price"]), Decimal(repr(v["tax_rate"]))))
    return out


def check_line_items(loaded: LoadedProcess, types: dict[str, str]) -> list[Problem]:
    """The ``line_items:`` section and every use of it: ``totals`` name number attributes, an object with a
    ``line_items`` role has no ``lines`` of its own and no field the role adds, and the document exceptions
    have a section to change and an object their activity makes."""
    spec, smap = loaded.spec, loaded.smap
    problems: list[Problem] = []
    li = spec.line_items
    if li is not None:
        for what, attr in li.totals.items():
            where = ("line_items", "totals", what)
            if attr not in types:
                problems.append(smap.problem(where, f"unknown attribute '{attr}'{suggest(attr, types)} (declare it "
                                             "in the process's attributes)", "unknown_attribute"))
            elif what == "lines" and types[attr] not in ("integer", "number", "any"):
                problems.append(smap.problem(where, f"'{attr}' is a {types[attr]} attribute; the number of lines "
                                             "needs an integer", "not_a_number"))
            elif what != "lines" and types[attr] not in ("number", "any"):
                problems.append(smap.problem(where, f"'{attr}' is a {types[attr]} attribute; a total needs a "
                                             "number", "not_a_number"))
    if li is not None and li.master is not None:
        at: tuple[Any, ...] = ("line_items", "master")
        t = spec.master_data.get(li.master)
        if t is None:
            problems.append(smap.problem(at, f"unknown master-data type '{li.master}'"
                                         f"{suggest(li.master, spec.master_data)}", "unknown_master"))
        elif t.roles is not None:
            problems.append(smap.problem(at, f"'{li.master}' are the members of roles, not materials",
                                         "not_drawn"))
        else:
            for f in ("description", "unit", "price"):
                if f not in t.fields:
                    problems.append(smap.problem(at, f"type '{li.master}' has no field '{f}' (a line shows the "
                                                 "material's description, unit and price)"
                                                 f"{suggest(f, t.fields)}", "unknown_field"))
            for f in ("price", "tax_rate"):
                fs = t.fields.get(f)
                if fs is not None and fs.kind() not in ("number", "integer"):
                    problems.append(smap.problem(("master_data", li.master, "fields", f), f"'{f}' of a material "
                                                 "that line items show must be a number", "not_a_number"))
    roles: dict[str, list[str]] = {}  # role -> activities that make an object with it
    for oname, o in spec.objects.items():
        if o.line_items is None:
            continue
        loc = ("objects", oname, "line_items")
        if li is None:
            problems.append(smap.problem(loc, f"objects.{oname} shows line items, but the process has no "
                                         "'line_items:' section to draw them from", "no_line_items"))
        if o.lines is not None:
            problems.append(smap.problem(loc, "an object has either 'lines' (expressions) or 'line_items' (the "
                                         "case's drawn lines), not both", "lines_conflict", at_key=True))
        for f, _ in ROLE_FIELDS[o.line_items]:
            if f in o.fields:
                problems.append(smap.problem(("objects", oname, "fields", f), f"'{f}' is a field line_items: "
                                             f"{o.line_items} adds; call this one something else",
                                             "duplicate_field", at_key=True))
        item = f"{oname}_line"
        if ROLE_ITEM_FIELDS[o.line_items] and (item in spec.objects or any(
                x.lines is not None and x.lines.item == item for x in spec.objects.values())):
            problems.append(smap.problem(loc, f"the items' type '{item}' is already the type of another object; "
                                         "rename that one", "duplicate_type", at_key=True))
        for a in o.creators():
            roles.setdefault(o.line_items, []).append(a)
    for i, x in enumerate(spec.exceptions):
        role = DEVIATIONS.get(x.type)
        if role is None:
            continue
        act = getattr(x, "activity", None)
        if li is None or act not in roles.get(role, []):
            makers = roles.get(role, [])
            problems.append(smap.problem(("exceptions", i, "activity"), f"'{x.type}' changes the {role} that "
                                         f"'{act}' makes, but no object with 'line_items: {role}' is created by "
                                         f"it{' (made by: ' + ', '.join(makers) + ')' if makers else ''}",
                                         "no_line_items"))
    return problems
