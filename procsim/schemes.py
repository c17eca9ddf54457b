"""Schemes across cases: fraud patterns no single case shows, with a scheme id linking their cases and objects.

A process declares them under ``schemes:``; each instance is a group of cases that start ``spacing`` arrivals
apart (consecutive arrivals: within a short window) and share one supplier, the master object their reference
attribute names (procsim.masterdata):

* ``split_purchase``: several orders to one supplier, each just under the approval ``limit``;
* ``kickback``: one supplier paid prices ``factor`` above the market across many cases;
* ``ghost_vendor``: a supplier created for the scheme (not one of the population, so nobody else ever orders
  from it), its ``bank`` field changed before it is paid in its cases, then dormant;
* ``duplicate_payment``: the same amount paid to the same supplier in several cases.

The scheme acts on the cases' data when they start (``AttributeMaker`` asks ``apply``), so the flow, the
objects, OCEL links and documents follow from that data as for any case. Which cases: ``bind(n)`` draws every
instance's first case from a stream of its own (``STREAM_SCHEMES``); a case already taken by an earlier instance
is left to it. Amounts depend only on (seed, scheme, instance) and the data the cases would draw anyway, so a
case's attributes still depend on nothing but its index. Ground truth: ``schemes.csv``, one row per scheme
instance x case, with the supplier object it touches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from procsim.errors import Problem
from procsim.errors import suggest as _suggest
from procsim.masterdata import World
from procsim.sim.streams import STREAM_SCHEMES, stream
from procsim.spec.models import ProcessSpec, SchemeSpec

if TYPE_CHECKING:
    from procsim.spec import LoadedProcess

SCHEMES_CSV = "schemes.csv"
GHOST_LEAD = 86400.0  # a ghost vendor is created a day before its first case ...
GHOST_SWITCH = 3600.0  # ... and its bank details change an hour before it


def check_schemes(loaded: LoadedProcess, types: dict[str, str]) -> list[Problem]:
    """The attributes a scheme names: a master-data reference (whose type has the ``bank`` field, for a ghost
    vendor) and a number."""
    spec, smap = loaded.spec, loaded.smap
    problems: list[Problem] = []
    for i, x in enumerate(spec.schemes):
        loc: tuple[Any, ...] = ("schemes", i)
        a = spec.attributes.get(x.supplier)
        if a is None or a.master is None or "." in a.master:
            refs = [n for n, b in spec.attributes.items() if b.master is not None and "." not in b.master]
            problems.append(smap.problem(loc + ("supplier",), f"'{x.supplier}' is not an attribute that refers to "
                                         f"master data (like 'supplier_id: {{master: supplier}}')"
                                         f"{_suggest(x.supplier, refs)}", "not_a_reference"))
        elif x.type == "ghost_vendor":
            t = spec.master_data.get(a.master)
            if t is not None and x.bank not in t.fields:
                problems.append(smap.problem(loc + ("bank",), f"type '{a.master}' has no field '{x.bank}'"
                                             f"{_suggest(x.bank, t.fields)}", "unknown_field"))
        if x.amount not in spec.attributes:
            problems.append(smap.problem(loc + ("amount",), f"unknown attribute '{x.amount}'"
                                         f"{_suggest(x.amount, spec.attributes)}", "unknown_attribute"))
        elif types.get(x.amount) not in ("number", "integer"):
            problems.append(smap.problem(loc + ("amount",), f"'{x.amount}' is a {types.get(x.amount)}; a scheme "
                                         "sets an amount: a number attribute", "not_a_number"))
    return problems


_TRIES = 64  # draws of an instance's first case before it settles for the cases still free

class _Instance:
    __slots__ = ("k", "scheme", "sid", "cases", "supplier", "u", "lead", "ghost")

    def __init__(self, k: int, scheme: SchemeSpec, sid: str) -> None:
        self.k = k
        self.scheme = scheme
        self.sid = sid
        self.cases: list[int] = []
        self.supplier = ""
        self.u: list[float] = []  # one uniform per case (split amounts)
        self.lead = -1  # the case whose drawn amount the others repeat (duplicate payment)
        self.ghost: Any = None  # the ghost vendor's MasterObject


class SchemePlan:
    """The run's scheme instances: which cases, which supplier, what they do to the cases' data."""

    def __init__(self, spec: ProcessSpec, seed: int, world: World) -> None:
        self.spec = spec
        self.seed = seed
        self.world = world
        self.instances: list[_Instance] = []
        self.by_case: dict[int, _Instance] = {}
        self.refs = {x.supplier: spec.attributes[x.supplier].master for x in spec.schemes}

    def bind(self, n_cases: int) -> None:
        """Choose every instance's cases among the first ``n_cases`` (instances that do not fit are dropped)."""
        self.instances.clear()
        self.by_case.clear()
        ghosts: dict[str, int] = {}
        for k, x in enumerate(self.spec.schemes):
            tname = str(self.refs[x.supplier])
            typ = self.world.types[tname]
            span = (x.group() - 1) * x.spacing + 1
            for i in range(x.count):
                rng = stream(self.seed, STREAM_SCHEMES, k, i)
                if span > n_cases:
                    break
                # an instance gets the cases it declares: a start whose cases an earlier instance holds is drawn
                # again (a bounded number of times; after that it keeps the free ones, or is dropped below)
                for _ in range(_TRIES):
                    first = int(rng.integers(0, n_cases - span + 1))
                    if not any(c in self.by_case for c in range(first, first + span, x.spacing)):
                        break
                inst = _Instance(k, x, f"{x.label}#{i + 1}")
                inst.cases = [c for c in range(first, first + span, x.spacing) if c not in self.by_case]
                inst.u = rng.random(len(inst.cases)).tolist()
                if x.type == "ghost_vendor":
                    ghosts[tname] = ghosts.get(tname, len(typ.objects)) + 1
                    inst.ghost = self.world.add(tname, ghosts[tname], rng)
                    inst.supplier = inst.ghost.id
                else:
                    inst.supplier = self.world.picker(tname)(rng, 1)[0]
                if len(inst.cases) < 2:
                    continue  # its cases went to earlier instances: no scheme left
                inst.lead = inst.cases[0]
                self.instances.append(inst)
                for c in inst.cases:
                    self.by_case[c] = inst

    def apply(self, idx: int, attrs: dict[str, Any], now: float | None, base: Any) -> None:
        """Set case ``idx``'s data when it belongs to an instance; ``base(i)`` gives case i's drawn data."""
        inst = self.by_case.get(idx)
        if inst is None:
            return
        x = inst.scheme
        attrs[x.supplier] = inst.supplier
        amount = attrs.get(x.amount)
        if x.type == "split_purchase":
            assert x.limit is not None
            attrs[x.amount] = round(x.limit * (x.low + (0.999 - x.low) * inst.u[inst.cases.index(idx)]), 2)
        elif x.type == "kickback" and isinstance(amount, (int, float)):
            attrs[x.amount] = round(amount * x.factor, 2)
        elif x.type == "duplicate_payment" and idx != inst.lead:
            lead = base(inst.lead).get(x.amount)
            if lead is not None:  # a drawn amount (a derived one is computed from the case's own data)
                attrs[x.amount] = lead
        elif x.type == "ghost_vendor" and now is not None and idx == inst.lead and not inst.ghost.created:
            # created a day before its first case, bank details switched an hour before it: every case pays
            # the new account
            o = inst.ghost
            o.created = max(0.0, now - GHOST_LEAD)
            new = self.world.redraw(o, x.bank, stream(self.seed, STREAM_SCHEMES, inst.k, 10_000 + idx))
            o.changes.append((max(o.created, now - GHOST_SWITCH), x.bank, new))

    def csv_text(self, case_id: Any, n_started: int) -> str:
        """``schemes.csv``: scheme_id, scheme, type, case_id, object_id, object_type per instance x started case."""
        rows = ["scheme_id,scheme,type,case_id,object_id,object_type"]
        for inst in self.instances:
            tname = self.refs[inst.scheme.supplier]
            for c in inst.cases:
                if c < n_started:
                    rows.append(f"{inst.sid},{inst.scheme.label},{inst.scheme.type},{case_id(c)},{inst.supplier},"
                                f"{tname}")
        return "\n".join(rows) + "\n"

