"""Master data: objects shared by many cases (suppliers, customers, materials, employees, bank accounts).

A process declares object types under ``master_data:``. Each type's objects are drawn ONCE per run, from a
stream of their own (``sim.streams.STREAM_MASTER``), so a supplier has one country, one IBAN, one payment term
in every case that refers to it; a process without the section draws nothing and keeps its bytes. Cases refer
to objects through attributes (``supplier_id: {master: supplier}``), chosen by the type's popularity (``zipf``:
the object numbered k with weight 1/k^exponent, so a few get many cases; or ``uniform``), and copy their fields
(``supplier_country: {master: supplier_id.country}``) as they are when the case starts.

Fields listed under ``changes`` change over time: each object's changes are a Poisson process on the simulation
clock drawn from the object's own stream, generated lazily in time order, so a value at time t depends only on
(seed, type, object, field, t), never on which cases asked first. In OCEL output the changes are object
attribute changes with their timestamps.

Employees (``roles: [buyer, ...]``) are the members of those roles, as the people model names them: one object
per member, and each event a member performs links to it.

This module owns drawing the objects, their load-time checks (called from ``procsim.spec.checks``) and
turning them into ``ObjectRecord``s for OCEL sinks (``procsim.objects`` links events and cases to them).
"""

from __future__ import annotations

from bisect import bisect_right
from itertools import accumulate
from typing import TYPE_CHECKING, Any

import numpy as np

from procsim.errors import Problem
from procsim.limits import MAX_MASTER_CHANGES, MAX_MASTER_DRAWS
from procsim.errors import suggest as _suggest
from procsim.objects import CASE_TYPE, OCEL_TYPES, ObjectRecord, _pattern_prefix
from procsim.sim.streams import STREAM_MASTER, stream
from procsim.spec.models import MasterFieldSpec, MasterTypeSpec, ProcessSpec
from procsim.spec.paths import number_problem

if TYPE_CHECKING:
    from procsim.spec import LoadedProcess

YEAR_S = 365.25 * 86400.0
EMPLOYEE_FIELDS = ("name", "role")  # the fields every employee object has, before the declared ones
MAX_REDRAWS = 20  # a change draws until the value differs (a choice of few values may repeat)

_FAKERS: dict[str, Any] = {}


def _faker(locale: str) -> Any:
    from faker import Faker

    if locale not in _FAKERS:
        _FAKERS[locale] = Faker(locale)
    return _FAKERS[locale]


def _plain(v: Any) -> Any:
    """Faker returns dates, Decimals and the like; keep what a log can hold."""
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v)


def type_fields(t: MasterTypeSpec) -> list[str]:
    return ([f for f in EMPLOYEE_FIELDS if f not in t.fields] if t.roles is not None else []) + list(t.fields)


# -- checks ------------------------------------------------------------------------------------------------


def check_master_data(loaded: LoadedProcess) -> list[Problem]:
    """Names (roles, activities, fields, types), number patterns, faker providers, and the ``master`` attributes
    that refer to them (a reference names a type; a field reads a reference declared anywhere)."""
    spec, smap = loaded.spec, loaded.smap
    problems: list[Problem] = []
    fake = None
    try:
        fake = _faker(spec.process.locale)
    except AttributeError:
        pass  # the locale's own check reports it
    prefixes: dict[str, str] = {spec.process.case_prefix: "the case ids (process.case_prefix)"}
    for oname, o in spec.objects.items():
        p = _pattern_prefix(o.number)
        if p:
            prefixes[p] = f"objects.{oname}"
    for tname, t in spec.master_data.items():
        loc: tuple[Any, ...] = ("master_data", tname)
        if tname == CASE_TYPE or tname in spec.objects or any(
                o.lines is not None and o.lines.item == tname for o in spec.objects.values()):
            problems.append(smap.problem(loc, f"'{tname}' is already an object type; give the master-data type "
                                         "a name of its own", "duplicate_type", at_key=True))
        unsafe = number_problem(t.number)
        prefix = _pattern_prefix(t.number) if unsafe is None else ""
        if unsafe is not None:
            problems.append(smap.problem(loc + ("number",), unsafe, "unsafe_number"))
        elif not prefix:
            problems.append(smap.problem(loc + ("number",), f"number pattern {t.number!r} needs text of its own "
                                         "and exactly one field '{n...}', like 'SUP-{n:05d}'", "bad_number"))
        else:
            for other, who in prefixes.items():
                if prefix.startswith(other) or other.startswith(prefix):
                    problems.append(smap.problem(loc + ("number",), f"number prefix '{prefix}' overlaps '{other}' "
                                                 f"of {who}; ids must be unique per run", "number_clash"))
                    break
            prefixes[prefix] = f"master_data.{tname}"
        for i, r in enumerate(t.roles or []):
            if r not in spec.roles:
                problems.append(smap.problem(loc + ("roles", i), f"unknown role '{r}'{_suggest(r, spec.roles)}",
                                             "unknown_role"))
        for i, a in enumerate(t.used_by):
            if a not in spec.activities:
                problems.append(smap.problem(loc + ("used_by", i), f"unknown activity '{a}'"
                                             f"{_suggest(a, spec.activities)}", "unknown_activity"))
        for fname, f in t.fields.items():
            if f.faker is not None and fake is not None:
                provider = getattr(fake, f.faker, None) if not f.faker.startswith("_") else None
                if provider is None or not callable(provider) or f.faker.startswith("seed"):
                    problems.append(smap.problem(loc + ("fields", fname, "faker"),
                                                 f"unknown faker provider '{f.faker}'", "unknown_provider"))
                else:
                    try:
                        provider(**f.args)
                    except Exception as e:  # noqa: BLE001 - any failure here is the user's arguments
                        problems.append(smap.problem(loc + ("fields", fname, "args"),
                                                     f"faker '{f.faker}' rejects these args: {e}", "bad_args"))
        names = type_fields(t)
        for fname in t.changes:
            if fname not in t.fields:
                why = (" (an employee's name and role come from the roles and do not change)"
                       if fname in EMPLOYEE_FIELDS and t.roles is not None else "")
                problems.append(smap.problem(loc + ("changes", fname), f"unknown field '{fname}'"
                                             f"{_suggest(fname, names) if not why else ''}{why}", "unknown_field",
                                             at_key=True))
    # what drawing the world costs at the start of every run (and of validate, which samples cases)
    draws = sum((t.count or 0) * sum(f.faker is not None for f in t.fields.values()) for t in spec.master_data.values())
    changes = sum((t.count or 0) * sum(c.rate for c in t.changes.values()) for t in spec.master_data.values())
    if draws > MAX_MASTER_DRAWS or changes > MAX_MASTER_CHANGES:
        problems.append(smap.problem(("master_data",), f"{draws:,} faker values and {changes:,.0f} changes a year "
                                     f"for master data; at most {MAX_MASTER_DRAWS:,} and {MAX_MASTER_CHANGES:,} "
                                     "(docs/limits.md): fewer objects, fields or changes", "too_many_objects",
                                     at_key=True))
    # references first: a field may read any of them, wherever declared (references are drawn with the case's
    # other columns, fields are read after them)
    seen: dict[str, str] = {}  # valid reference attributes -> their type
    for aname, attr in spec.attributes.items():
        if attr.master is None or "." in attr.master:
            continue
        loc = ("attributes", aname, "master")
        ref = attr.master
        if ref not in spec.master_data:
            problems.append(smap.problem(loc, f"unknown master-data type '{ref}'"
                                         f"{_suggest(ref, spec.master_data)}", "unknown_master"))
        elif spec.master_data[ref].roles is not None:
            problems.append(smap.problem(loc, f"'{ref}' are the members of roles: events link to them by who "
                                         "did the work, a case does not draw one", "not_drawn"))
        else:
            seen[aname] = ref
    for aname, attr in spec.attributes.items():
        if attr.master is None or "." not in attr.master:
            continue
        loc = ("attributes", aname, "master")
        ref, _, field = attr.master.partition(".")
        if ref not in seen:
            rattr = spec.attributes.get(ref)
            if rattr is not None and rattr.master is not None and "." not in rattr.master:
                continue  # a reference, but a wrong one: reported there
            problems.append(smap.problem(loc, f"'{ref}' is not a reference to master data (like '{ref}: {{master: "
                                         f"{next(iter(spec.master_data), 'supplier')}}}')"
                                         + (_suggest(ref, seen) if rattr is None else ""), "unknown_reference"))
            continue
        t = spec.master_data[seen[ref]]
        if field not in type_fields(t):
            problems.append(smap.problem(loc, f"type '{seen[ref]}' has no field '{field}'"
                                         f"{_suggest(field, type_fields(t))}", "unknown_field"))
    for oname, o in spec.objects.items():
        for i, r in enumerate(o.refers_to):
            if r in spec.master_data and spec.master_data[r].roles is None and r not in seen.values():
                problems.append(smap.problem(("objects", oname, "refers_to", i), f"no attribute refers to a "
                                             f"'{r}' (declare one like 'x: {{master: {r}}}')", "unreferenced"))
    return problems


# -- the world ---------------------------------------------------------------------------------------------


class MasterObject:
    """One object: values at the start of the run, then changes (sim time, field, value) generated lazily."""

    __slots__ = ("id", "type", "values", "changes", "created", "_next", "_rngs", "_horizon")

    def __init__(self, oid: str, otype: str, values: dict[str, Any]) -> None:
        self.id = oid
        self.type = otype
        self.values = values
        self.created = 0.0  # sim time it exists from (a scheme's ghost vendor: later than the run's start)
        self.changes: list[tuple[float, str, Any]] = []
        self._next: list[float] = []  # per changing field: the time of its next change
        self._rngs: list[np.random.Generator] = []
        self._horizon = 0.0  # changes are generated up to here


class _Type:
    __slots__ = ("name", "spec", "objects", "cum", "changing", "index")

    def __init__(self, name: str, spec: MasterTypeSpec, index: int) -> None:
        self.name = name
        self.spec = spec
        self.index = index
        self.objects: list[MasterObject] = []
        self.cum: list[float] = []
        self.changing = [(f, c.rate / YEAR_S) for f, c in spec.changes.items()]


class World:
    """The run's master data: every object of every type, drawn once from the seed."""

    def __init__(self, spec: ProcessSpec, seed: int, members: dict[str, list[str]] | None = None) -> None:
        self.seed = seed
        self.locale = spec.process.locale
        self.types: dict[str, _Type] = {}
        self.by_id: dict[str, MasterObject] = {}
        self.employee_of: dict[str, str] = {}  # member name -> employee object id
        for k, (tname, t) in enumerate(spec.master_data.items()):
            typ = self.types[tname] = _Type(tname, t, k)
            rng = stream(seed, STREAM_MASTER, k)
            if t.roles is not None:
                people = [(m, r) for r in t.roles for m in (members or {}).get(r, [])]
                people = list({m: (m, r) for m, r in people}.values())  # a member of two roles: one employee
                rows: list[dict[str, Any]] = [{"name": m, "role": r} for m, r in people]
            else:
                rows = [{} for _ in range(t.count or 0)]
            for fname, f in t.fields.items():
                col = self._draw(f, rng, len(rows))
                for row, v in zip(rows, col):
                    row[fname] = v
            for n, row in enumerate(rows, 1):
                o = MasterObject(t.number.format(n=n), tname, {f: v for f, v in row.items() if v is not None})
                if typ.changing:
                    o._rngs = [stream(seed, STREAM_MASTER, k, n, j) for j in range(len(typ.changing))]
                    o._next = [float(g.exponential(1.0 / r)) for g, (_, r) in zip(o._rngs, typ.changing)]
                typ.objects.append(o)
                self.by_id[o.id] = o
                if t.roles is not None:
                    self.employee_of[row["name"]] = o.id
            pop = t.popular()
            weights = [1.0 / (n ** pop.exponent) if pop.kind == "zipf" else 1.0
                       for n in range(1, len(rows) + 1)]
            typ.cum = list(accumulate(weights))

    def _draw(self, f: MasterFieldSpec, rng: np.random.Generator, size: int) -> list[Any]:
        if f.faker is not None:
            fake = _faker(self.locale)
            fake.seed_instance(int(rng.integers(2**63)))
            provider = getattr(fake, f.faker)
            out = [_plain(provider(**f.args)) for _ in range(size)]
        elif f.choice is not None:
            values = list(f.choice)
            cum = list(accumulate(f.choice.values()))
            last = len(values) - 1
            out = [values[min(bisect_right(cum, u * cum[-1]), last)] for u in rng.random(size).tolist()]
        elif f.distribution is not None:
            sample = f.distribution.sampler()
            out = [sample(rng) for _ in range(size)]
        else:
            out = [f.value] * size
        if f.round is not None:
            out = [round(float(v), f.round) if isinstance(v, (int, float)) and not isinstance(v, bool) else v
                   for v in out]
        return out

    # -- per case --------------------------------------------------------------------------------------

    def picker(self, tname: str) -> Any:
        """A block drawer ``(rng, n) -> n object ids`` by the type's popularity (one uniform draw each)."""
        typ = self.types[tname]
        ids = [o.id for o in typ.objects]
        cum = np.array(typ.cum)
        total, last = float(cum[-1]) if len(cum) else 0.0, len(ids) - 1

        def pick(rng: np.random.Generator, size: int) -> list[Any]:
            u = rng.random(size) * total
            return [ids[i] for i in np.minimum(np.searchsorted(cum, u, side="right"), last).tolist()]

        return pick

    def value(self, oid: str, field: str, t: float | None) -> Any:
        """Field ``field`` of object ``oid`` as it is at sim time ``t`` (None: at the start of the run)."""
        o = self.by_id.get(oid)
        if o is None:
            return None
        v = o.values.get(field)
        if t is None or not o.changes and not o._rngs:
            return v
        if o._rngs:
            self._advance(o, t)
        for when, f, new in o.changes:
            if when > t:
                break
            if f == field:
                v = new
        return v

    def _advance(self, o: MasterObject, t: float) -> None:
        """Generate ``o``'s changes up to ``t`` (in time order; each field's own stream)."""
        if t <= o._horizon:
            return
        typ = self.types[o.type]
        fresh: list[tuple[float, str, Any]] = []
        current = dict(o.values)
        for _, f, v in o.changes:
            current[f] = v
        for j, (fname, rate) in enumerate(typ.changing):
            g = o._rngs[j]
            spec = typ.spec.fields[fname]
            while o._next[j] <= t:
                new = current.get(fname)
                for _ in range(MAX_REDRAWS):
                    new = self._draw(spec, g, 1)[0]
                    if new != current.get(fname):
                        break
                fresh.append((o._next[j], fname, new))
                current[fname] = new
                o._next[j] += float(g.exponential(1.0 / rate))
        # fields are generated one after the other: merge them into time order (stable: field order on ties)
        o.changes.extend(sorted(fresh, key=lambda c: c[0]))
        o._horizon = t

    def add(self, tname: str, n: int, rng: np.random.Generator) -> MasterObject:
        """A new object of type ``tname``, numbered ``n`` (above the population), its fields drawn from ``rng``;
        its changes are set by the caller (a scheme's ghost vendor)."""
        typ = self.types[tname]
        values = {f: self._draw(spec, rng, 1)[0] for f, spec in typ.spec.fields.items()}
        o = MasterObject(typ.spec.number.format(n=n), tname, {f: v for f, v in values.items() if v is not None})
        typ.objects.append(o)
        self.by_id[o.id] = o
        return o

    def redraw(self, o: MasterObject, field: str, rng: np.random.Generator) -> Any:
        """A new value of ``field`` for ``o``, different from its first one when the field allows it."""
        spec = self.types[o.type].spec.fields[field]
        new = o.values.get(field)
        for _ in range(MAX_REDRAWS):
            new = self._draw(spec, rng, 1)[0]
            if new != o.values.get(field):
                break
        return new

    # -- output ----------------------------------------------------------------------------------------

    def records(self, end: float, iso: Any, keep: set[str]) -> list[ObjectRecord]:
        """The objects in ``keep`` as OCEL objects: values at the run's origin, changes up to ``end`` (type by
        type, in number order)."""
        out: list[ObjectRecord] = []
        start = iso(0.0)
        for typ in self.types.values():
            for o in typ.objects:
                if o.id not in keep:
                    continue
                if o._rngs:
                    self._advance(o, end)
                rec = ObjectRecord(o.id, o.type, iso(o.created) if o.created else start, list(o.values.items()),
                                   "", "")
                rec.changes = [(iso(when), f, v) for when, f, v in o.changes if when <= end]
                out.append(rec)
        return out

    def ocel_types(self, spec: ProcessSpec) -> list[tuple[str, list[tuple[str, str]]]]:
        """(type, [(field, OCEL attribute type)]) per master-data type."""
        out = []
        for tname, t in spec.master_data.items():
            fields = []
            for f in type_fields(t):
                kind = t.fields[f].kind() if f in t.fields else "string"
                fields.append((f, OCEL_TYPES.get(kind, "string")))
            out.append((tname, fields))
        return out
