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
from procsim.sim.streams import STREAM_SCHEME_PEOPLE, STREAM_SCHEMES, stream
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
        for j, act in enumerate(x.same_person):
            where = loc + ("same_person", j)
            act_spec = spec.activities.get(act)
            if act_spec is None:
                problems.append(smap.problem(where, f"unknown activity '{act}'{_suggest(act, spec.activities)}",
                                             "unknown_activity"))
            elif act_spec.role is None:
                problems.append(smap.problem(where, f"'{act}' has no role: nobody to pin to the scheme's cases",
                                             "no_role"))
            elif act_spec.batch is not None:
                problems.append(smap.problem(where, f"'{act}' is batched: one run does the work of many cases, "
                                             "nobody can be pinned to it", "batched_activity"))
        if x.amount not in spec.attributes:
            problems.append(smap.problem(loc + ("amount",), f"unknown attribute '{x.amount}'"
                                         f"{_suggest(x.amount, spec.attributes)}", "unknown_attribute"))
        elif types.get(x.amount) not in ("number", "integer"):
            problems.append(smap.problem(loc + ("amount",), f"'{x.amount}' is a {types.get(x.amount)}; a scheme "
                                         "sets an amount: a number attribute", "not_a_number"))
    return problems


_TRIES = 64  # draws of an instance's first case before it settles for the cases still free

class _Instance:
    __slots__ = ("k", "scheme", "sid", "cases", "supplier", "u", "lead", "ghost", "people")

    def __init__(self, k: int, scheme: SchemeSpec, sid: str) -> None:
        self.k = k
        self.scheme = scheme
        self.sid = sid
        self.cases: list[int] = []
        self.supplier = ""
        self.u: list[float] = []  # one uniform per case (split amounts)
        self.lead = -1  # the case whose drawn amount the others repeat (duplicate payment)
        self.ghost: Any = None  # the ghost vendor's MasterObject
        self.people: dict[str, tuple[str, int, str]] = {}  # same_person activity -> (role, member index, name)


class SchemePlan:
    """The run's scheme instances: which cases, which supplier, what they do to the cases' data."""

    def __init__(self, spec: ProcessSpec, seed: int, world: World,
                 members: dict[str, list[str]] | None = None) -> None:
        self.spec = spec
        self.seed = seed
        self.world = world
        self.members = members or {}  # role -> member names, as the simulation's pools hold them
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
                if x.same_person:  # a stream of its own: the cases, suppliers and amounts stay as they were
                    prng = stream(self.seed, STREAM_SCHEME_PEOPLE, k, i)
                    for act in x.same_person:
                        role = str(self.spec.activities[act].role)
                        names = self.members.get(role, [])
                        if names:
                            m = int(prng.integers(len(names)))
                            inst.people[act] = (role, m, names[m])
                inst.lead = inst.cases[0]
                self.instances.append(inst)
                for c in inst.cases:
                    self.by_case[c] = inst

    def apply(self, idx: int, attrs: dict[str, Any], now: float | None, base: Any, fit: Any = None) -> None:
        """Set case ``idx``'s data when it belongs to an instance; ``base(i)`` gives case i's drawn data;
        ``fit`` (procsim.lineitems.LineFit) changes the case's line items when the amount is their net total."""
        inst = self.by_case.get(idx)
        if inst is None:
            return
        x = inst.scheme
        attrs[x.supplier] = inst.supplier
        amount = attrs.get(x.amount)
        if fit is not None and fit.covers(x.amount):
            # the amount is the sum of the lines: the scheme changes the lines, the totals follow them
            if x.type == "split_purchase":
                assert x.limit is not None
                attrs.update(fit.to_net(idx, round(x.limit * (x.low + (0.999 - x.low)
                                                              * inst.u[inst.cases.index(idx)]), 2)))
            elif x.type == "kickback":
                attrs.update(fit.scale(idx, x.factor))  # every unit price above the market
            elif x.type == "duplicate_payment" and idx != inst.lead:
                attrs.update(fit.copy(idx, inst.lead))  # the same invoice, line for line
        elif x.type == "split_purchase":
            assert x.limit is not None
            attrs[x.amount] = round(x.limit * (x.low + (0.999 - x.low) * inst.u[inst.cases.index(idx)]), 2)
        elif x.type == "kickback" and isinstance(amount, (int, float)):
            attrs[x.amount] = round(amount * x.factor, 2)
        elif x.type == "duplicate_payment" and idx != inst.lead:
            lead = base(inst.lead).get(x.amount)
            if lead is not None:  # a drawn amount (a derived one is computed from the case's own data)
                attrs[x.amount] = lead
        if x.type == "ghost_vendor" and now is not None and idx == inst.lead and not inst.ghost.created:
            # created a day before its first case, bank details switched an hour before it: every case pays
            # the new account
            o = inst.ghost
            o.created = max(0.0, now - GHOST_LEAD)
            new = self.world.redraw(o, x.bank, stream(self.seed, STREAM_SCHEMES, inst.k, 10_000 + idx))
            o.changes.append((max(o.created, now - GHOST_SWITCH), x.bank, new))

    def people(self, idx: int) -> dict[str, tuple[str, int]] | None:
        """Case ``idx``'s pinned activities: activity id -> (role, member index), or None."""
        inst = self.by_case.get(idx)
        if inst is None or not inst.people:
            return None
        return {act: (role, m) for act, (role, m, _) in inst.people.items()}

    def exception_rows(self, case_id: Any, n_started: int, employee_of: dict[str, str] | None
                       ) -> list[tuple[Any, ...]]:
        """exceptions.csv's rows of the instances (one each, in EXCEPTION_SCHEMA's order): fraud, seen only
        across several cases, no event of its own; objects (when the run keeps them, ``employee_of`` given):
        the supplier and the employees pinned to the instance's activities."""
        rows: list[tuple[Any, ...]] = []
        for inst in self.instances:
            cases = [case_id(c) for c in inst.cases if c < n_started]
            if not cases:
                continue
            x = inst.scheme
            objs = [inst.supplier] + [employee_of[name] for _, _, name in inst.people.values()
                                      if name in employee_of] if employee_of is not None else []
            fields = [x.supplier, x.amount] + (["resource"] if inst.people else [])
            rows.append((inst.sid, x.label, x.type, True, "fraud", "high", "several_cases", None, ";".join(cases),
                         "", ";".join(dict.fromkeys(objs)), ";".join(fields)))
        return rows

    def csv_text(self, case_id: Any, n_started: int) -> str:
        """``schemes.csv``: scheme_id, scheme, type, case_id, object_id, object_type, resources per instance x
        started case (resources: ``activity=member`` of the pinned activities, ";"-joined)."""
        rows = ["scheme_id,scheme,type,case_id,object_id,object_type,resources"]
        for inst in self.instances:
            tname = self.refs[inst.scheme.supplier]
            who = _csv(";".join(f"{act}={name}" for act, (_, _, name) in inst.people.items()))
            for c in inst.cases:
                if c < n_started:
                    rows.append(f"{inst.sid},{inst.scheme.label},{inst.scheme.type},{case_id(c)},{inst.supplier},"
                                f"{tname},{who}")
        return "\n".join(rows) + "\n"


def _csv(v: str) -> str:
    """A CSV field: quoted when it holds a comma, quote or line break."""
    return '"' + v.replace('"', '""') + '"' if any(ch in v for ch in ',"\n\r') else v

