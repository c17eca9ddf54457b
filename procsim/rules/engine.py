"""The rule engine: rule files compiled once into closures that the simulation calls at its decision points.

Owns: reading rule files (positions through the loader), checking names/targets/conflicts at load,
and at run time answering the simulation's questions — which branch (route), what data (set), how long
(duration), who (assign), how urgent (queue), what if it waits too long (deadline), which business
exception (raise) — each answer carrying the ids of the rules that gave it, for the ``rules`` column.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, cast
from zoneinfo import ZoneInfo

import numpy as np

from procsim.errors import Problem, SimulationError
from procsim.errors import suggest as _suggest  # the one did-you-mean
from procsim.rules.actions import ACTIONS, CompileContext
from procsim.rules.expr import Compiled, ExprRuntimeError, compile_at, describe_error
from procsim.rules.kinds import Member, MemberFields
from procsim.rules.models import Rule, RuleFile, Table
from procsim.rules.reach import Point, decide
from procsim.rules.tables import DecisionTable, TableError, compile_table
from procsim.spec.loader import SourceMap, read_yaml, validate

if TYPE_CHECKING:
    from procsim.records import Case
    from procsim.sim.engine import Activity, Gateway
    from procsim.spec import LoadedProcess

# Names the simulation provides to every expression besides the case attributes.
RUNTIME_NAMES: dict[str, Any] = {
    "case_id": "string", "activity": "string", "resource": "string", "role": "string",
    "now": "datetime", "elapsed": "duration",
}
RESERVED = frozenset(RUNTIME_NAMES) | {"history"}
CONTEXT_NAMES = ("activity", "elapsed", "role", "resource")  # set per decision point, only when some rule reads them
SEP = ";"


@dataclass
class RuleSource:
    """A rule file as read: where it is, its validated content and its source map."""

    path: Path
    content: RuleFile
    smap: SourceMap


def read_rule_files(loaded: LoadedProcess, data: Mapping[str, Any]) -> tuple[list[RuleSource], list[Problem]]:
    """Read every rule file a process names (relative to the process file)."""
    from procsim.spec.loaded import display_path, sha256

    out: list[RuleSource] = []
    problems: list[Problem] = []
    from procsim.spec.paths import check_input, project_root

    root = loaded.root or project_root(loaded.path)
    for i, rel in enumerate(loaded.spec.rules):
        real, why, code = check_input(loaded.path.parent, rel, root, what="rule file")
        if real is None:
            problems.append(loaded.smap.problem(("rules", i), why, code))
            continue
        path = loaded.path.parent / rel  # messages show it as the user wrote it; it resolves to `real`
        from procsim.errors import SpecError

        try:
            raw, smap = read_yaml(real, display_path(path))
        except SpecError as e:
            problems += e.problems
            continue
        content, errs = validate(RuleFile, raw if raw is not None else {}, smap)
        problems += errs
        if content is not None:
            assert isinstance(content, RuleFile)
            out.append(RuleSource(path, content, smap))
            loaded.inputs[smap.file] = sha256(real)
    return out, problems


# -- compiled pieces ------------------------------------------------------------------------------


class Deadline(NamedTuple):
    """A deadline rule that holds for a case: wait at most ``within`` seconds, then go to node ``target``."""

    within: float
    target: int  # node index of the escalation target
    rule: str  # the rule's id, shown on the escalation's events


class ActivityPlan(NamedTuple):
    """What the rules decided when a case reached an activity, before it queues (``RuleSet.plan``)."""

    priority: int
    allowed: Collection[int] | None  # member indexes that may do it; None: anyone of the pool
    pool: int
    fired: str  # ids of the rules that decided, joined by ';' (the ``rules`` column)
    deadline: Deadline | None


@dataclass(eq=False)
class CRule:
    id: str
    when: Callable[[Mapping[str, Any]], Any] | None
    source: str
    rule: Rule
    sets: list[tuple[str, Callable[[Mapping[str, Any]], Any]]] = field(default_factory=list)
    allow: Callable[[Mapping[str, Any]], Any] | None = None
    sample: Callable[[np.random.Generator], float] | None = None
    names: frozenset[str] = frozenset()
    holds: Callable[[Mapping[str, Any]], bool] = field(init=False, repr=False)  # `when` as a bool, errors named

    def __post_init__(self) -> None:
        self.holds = _holds_fn(self.id, self.when, self.source)


def _always(env: Mapping[str, Any]) -> bool:
    return True


def _holds_fn(rid: str, when: Callable[[Mapping[str, Any]], Any] | None, source: str
              ) -> Callable[[Mapping[str, Any]], bool]:
    """A rule's condition as one call (rules are checked at every decision point: no method hop per check)."""
    if when is None:
        return _always

    def holds(env: Mapping[str, Any]) -> bool:
        try:
            return bool(when(env))
        except Exception as e:  # noqa: BLE001 - rule failures become one clear SimulationError
            raise ExprRuntimeError(describe_error(e), where=f"rule '{rid}': when: {source}") from e

    return holds


@dataclass(eq=False)
class CTable:
    id: str
    table: DecisionTable
    gateway: str | None
    at: str | None


class RuleSet:
    """Compiled rules, indexed by the decision point that asks for them."""

    def __init__(self) -> None:
        self.start_sets: list[CRule | CTable] = []
        self.after_sets: dict[str, list[CRule | CTable]] = {}
        self.routes: dict[str, list[CRule | CTable]] = {}  # gateway -> route rules/tables, in priority order
        self.durations: dict[str, list[CRule]] = {}
        self.assigns: dict[str, list[CRule]] = {}
        self.queues: dict[str | None, list[CRule]] = {}
        self.deadlines: dict[str, CRule] = {}
        self.raises_start: list[CRule] = []
        self.raises_at: dict[str, list[CRule]] = {}
        self.by_activity: frozenset[str] = frozenset()
        self.warnings: list[Problem] = []  # conditions that always hold: printed, not refused
        self.tz: ZoneInfo | None = None
        self.origin: Any = None
        self.uses_now = False
        self.uses_history = False
        # the activities whose `history` some rule reads (None: a rule reads history as a whole, keep every one)
        self.history_keys: set[str] | None = set()
        self.context: frozenset[str] = frozenset()  # the CONTEXT_NAMES some expression reads
        self.roles: dict[str, str | None] = {}  # activity -> its role, for the `role` name
        self.catalogue: dict[str, dict[str, str]] = {}
        self.member_index: dict[str, dict[str, int]] = {}  # role -> member name -> index
        self.role_pool: dict[str, int] = {}
        self.node_index: dict[str, int] = {}  # node id -> the simulation's node index (for escalations)
        # role -> its members' attributes by name (the roles' `attributes:`), set at compile; with any, ``resource``
        # is a Member (its name, with .attrs) wherever it is set, so ``resource.<attribute>`` can read them
        self.member_attrs: dict[str, Callable[[str], Mapping[str, Any]]] | None = None
        self.members: dict[str, dict[str, Member]] = {}  # role -> member name -> Member, per bound run
        # per activity: its rules, gathered on first use
        self._parts: dict[str, tuple[list[CRule], list[CRule], list[CRule], CRule | None, list[CRule]]] = {}

    # -- binding a run ----------------------------------------------------------------------------

    def bind(self, pools: list[tuple[str, list[str], Any]], node_index: Mapping[str, int]) -> None:
        """Learn the members of each pool (names are generated per seed) and the nodes' indices."""
        self.node_index = dict(node_index)
        self.role_pool = {name: i for i, (name, _, _) in enumerate(pools)}
        self.member_index = {name: {m: j for j, m in enumerate(members)} for name, members, _ in pools}
        if self.member_attrs is not None:
            attrs = self.member_attrs
            self.members = {name: {m: Member(m, attrs[name](m)) for m in members} for name, members, _ in pools
                            if name in attrs}

    def _resource(self, role: str | None, name: str | None) -> str | None:
        """The value of ``resource``: the name, or with member attributes the Member of that role."""
        if name is None or role is None or not self.members:
            return name
        by_name = self.members.get(role)
        return by_name.get(name, name) if by_name is not None else name

    # -- environment ----------------------------------------------------------------------------

    def _env(self, case: Case, now: float, activity: str | None) -> dict[str, Any]:
        """The case's attributes plus the context names some expression reads (only those: this runs often)."""
        attrs = case.attrs
        context = self.context
        if context:
            if "activity" in context:
                attrs["activity"] = activity
            if "elapsed" in context:
                attrs["elapsed"] = now - case.start
            if "role" in context:
                attrs["role"] = self.roles.get(activity) if activity is not None else None
            if "resource" in context:
                attrs["resource"] = None  # bound per candidate in assign's 'allow' only
        if self.uses_now:
            from datetime import timedelta

            attrs["now"] = (self.origin + timedelta(seconds=now)).astimezone(self.tz)
        if self.uses_history:
            attrs["history"] = case.history
        return attrs

    def note_reads(self, compiled: Iterable[Compiled]) -> None:
        """Learn what these expressions read: the run then provides only that (``_env``, ``history``)."""
        for c in compiled:
            names = c.names
            self.uses_now |= "now" in names
            if "history" in names:
                self.uses_history = True
                keys = c.fields.get("history")
                if keys is None:
                    self.history_keys = None
                elif self.history_keys is not None:
                    self.history_keys |= keys
            if not names.isdisjoint(CONTEXT_NAMES):
                self.context |= names.intersection(CONTEXT_NAMES)

    def _apply_sets(self, items: list[CRule | CTable], case: Case, env: dict[str, Any]) -> list[str]:
        fired = []
        for item in items:
            if isinstance(item, CTable):
                result, rows = _table(item, env)
                if result is None:
                    continue
                if isinstance(result, list):
                    raise SimulationError(f"table '{item.id}' (hit: collect) needs an aggregate to set values")
                for k, v in result.items():
                    case.set(k, str(v) if type(v) is Member else v)
                fired.append(f"{item.id}#{rows[0] + 1}" if len(rows) == 1 else item.id)
            elif item.holds(env):
                for name, fn in item.sets:
                    try:
                        value = fn(env)
                    except Exception as e:  # noqa: BLE001
                        raise ExprRuntimeError(describe_error(e), where=f"rule '{item.id}': set {name}") from e
                    if type(value) is int and not -(2**63) <= value < 2**63:
                        # the logs' integer columns are 64-bit: say so here, not as an Arrow error when writing
                        raise ExprRuntimeError(f"{value} does not fit a 64-bit integer",
                                               where=f"rule '{item.id}': set {name}")
                    if type(value) is Member:  # the member's name, not its attributes (resource at completion)
                        value = str(value)
                    case.set(name, value)
                fired.append(item.id)
        return fired

    # -- decision points --------------------------------------------------------------------------

    def case_started(self, case: Case, now: float) -> None:
        env = self._env(case, now, None)
        fired = self._apply_sets(self.start_sets, case, env)
        for r in self.raises_start:
            if r.holds(env):
                case.raise_exception(r.rule.raise_.exception, r.id)  # type: ignore[union-attr]
        case.rules_fired.extend(fired)

    def after_activity(self, case: Case, act_id: str, now: float, resource: str | None = None,
                       role: str | None = None) -> str:
        """The tables and ``set`` rules with ``at`` = ``act_id``, when it completes: ``resource`` is the member
        who did the work (a batch's member for a batched activity) and ``role`` the role they worked in; both
        null for an activity without a role."""
        items = self.after_sets.get(act_id)
        if not items:
            return ""
        env = self._env(case, now, act_id)
        context = self.context
        if "resource" in context:
            env["resource"] = self._resource(role, resource) if self.members else resource
        if "role" in context:
            env["role"] = role
        try:
            fired = self._apply_sets(items, case, env)
        finally:
            if "resource" in context:
                env["resource"] = None
        case.rules_fired.extend(fired)
        return SEP.join(fired)

    def route(self, case: Case, gw: Gateway, now: float, allowed: Collection[int]) -> tuple[int, str] | None:
        """The branch rules choose among ``allowed`` (branches whose 'max' is not used up), or None."""
        items = self.routes.get(gw.id)
        if not items:
            return None
        env = self._env(case, now, None)
        for item in items:
            if isinstance(item, CTable):
                result, rows = _table(item, env)
                if result is None:
                    continue
                target = result[item.table.outputs[0]] if isinstance(result, dict) else None
                if target not in gw.target_ids:
                    raise SimulationError(f"table '{item.id}' routes gateway '{gw.id}' to '{target}', which is not "
                                          f"one of its branches ({', '.join(dict.fromkeys(gw.target_ids))})")
                k = _branch_to(gw.target_ids, target, allowed)
                if k >= 0:
                    return k, f"{item.id}#{rows[0] + 1}"
            elif item.holds(env):
                k = _branch_to(gw.target_ids, item.rule.route.to, allowed)  # type: ignore[union-attr]
                if k >= 0:
                    return k, item.id
        return None

    def durations_at(self, case: Case, act: Activity, now: float, resource: str | None, role: str | None
                     ) -> tuple[Callable[[np.random.Generator], float], float, str]:
        """(sampler, scale, fired rule ids): the duration rules of ``act``, asked when the work starts.

        They run once the member is known (after the queue and any wait for the shift), so their conditions
        see ``resource`` (null for automatic work) and ``role`` as the role the member works in.
        """
        sample, scale, add = act.sample, 1.0, 0.0
        rules = self.durations.get(act.id)
        if not rules:
            return sample, scale, ""
        env = self._env(case, now, act.id)
        if "resource" in self.context:
            env["resource"] = self._resource(role, resource) if self.members else resource
        if "role" in self.context:
            env["role"] = role
        fired: list[str] = []
        for r in rules:
            if r.holds(env):
                d = r.rule.duration
                assert d is not None
                if r.sample is not None:
                    sample = r.sample
                elif d.scale is not None:
                    scale *= d.scale
                else:
                    add += d.add or 0.0
                fired.append(r.id)
        if "resource" in self.context:
            env["resource"] = None
        if add:
            base, extra = sample, add
            sample = lambda rng: base(rng) + extra / scale  # noqa: E731 - scale applies to the total below
        return sample, scale, SEP.join(fired)

    def plan(self, case: Case, act: Activity, now: float) -> ActivityPlan:
        """What the rules say of ``act`` for this case (:class:`ActivityPlan`), asked when the case reaches it,
        before it queues. Duration rules run later: ``durations_at``.

        Rules that raise a business exception are not listed in the fired ids: the ``exception`` column
        carries them, and ``--no-labels-in-log`` must be able to leave them out entirely.
        """
        env = self._env(case, now, act.id)
        fired: list[str] = []
        parts = self._parts.get(act.id)
        if parts is None:
            parts = self._parts[act.id] = (self.durations.get(act.id, []),
                                           self.queues.get(act.id, []) + self.queues.get(None, []),
                                           self.assigns.get(act.id, []), self.deadlines.get(act.id),
                                           self.raises_at.get(act.id, []))
        _, queues, assigns, dl, raises = parts
        priority = act.priority
        for r in queues:
            if r.holds(env):
                priority = max(priority, r.rule.queue.value)  # type: ignore[union-attr]
                fired.append(r.id)
        pool = act.pool
        allowed: set[int] | None = None
        for r in assigns:
            if not r.holds(env):
                continue
            a = r.rule.assign
            assert a is not None
            if a.role is not None:
                pool = self.role_pool[a.role]
            role = a.role or act.role
            assert role is not None
            index = self.member_index[role]
            candidates = set(index.values()) if allowed is None or a.role is not None else allowed
            if a.members is not None:
                candidates &= {index[m] for m in a.members}
            if r.allow is not None:
                ok = set()
                people = self.members.get(role) if self.members else None
                for name, j in index.items():
                    if j in candidates:
                        env["resource"] = people[name] if people is not None else name
                        try:
                            if r.allow(env):
                                ok.add(j)
                        except Exception as e:  # noqa: BLE001
                            raise ExprRuntimeError(describe_error(e), where=f"rule '{r.id}': allow") from e
                env["resource"] = None
                candidates = ok
            if not candidates:
                raise SimulationError(f"rule '{r.id}' leaves nobody who may do '{act.id}' in case {case.id}")
            allowed = candidates
            fired.append(r.id)
        deadline = None
        if dl is not None and dl.holds(env):
            deadline = Deadline(dl.rule.deadline.within,  # type: ignore[union-attr]
                                self.node_index[dl.rule.deadline.escalate_to], dl.id)  # type: ignore[union-attr]
        for r in raises:
            if r.holds(env):
                case.raise_exception(r.rule.raise_.exception, r.id)  # type: ignore[union-attr]
        return ActivityPlan(priority, allowed, pool, SEP.join(fired), deadline)


def _branch_to(targets: list[str], target: str, allowed: Collection[int]) -> int:
    """The first available branch that leads to ``target`` (two branches may lead to one node), or -1."""
    for k, t in enumerate(targets):
        if t == target and k in allowed:
            return k
    return -1


def _table(t: CTable, env: Mapping[str, Any]) -> tuple[Any, list[int]]:
    try:
        return t.table.evaluate_traced(env)
    except ExprRuntimeError:
        raise
    except Exception as e:  # noqa: BLE001
        raise ExprRuntimeError(describe_error(e), where=f"table '{t.id}'") from e


# -- compiling ----------------------------------------------------------------------------------


def member_attribute_types(spec: Any) -> MemberFields:
    """The type of ``resource``: a string whose fields are every member attribute the roles declare."""
    from procsim.spec.models import member_value_kind

    out = MemberFields()
    for r in spec.roles.values():
        given = [r.attributes] + [m.attributes for m in r.members.values()] if isinstance(r.members, dict) else [
            r.attributes]
        for attrs in given:
            for a, v in attrs.items():
                out.setdefault(a, member_value_kind(v))
    return out


def expression_names(loaded: LoadedProcess, types: Mapping[str, str]) -> dict[str, Any]:
    names: dict[str, Any] = dict(RUNTIME_NAMES)
    names["resource"] = member_attribute_types(loaded.spec)
    names.update({k: ("number" if v == "integer" else v) for k, v in types.items()})
    names["history"] = {a: "list" for a in loaded.spec.activities}
    return names


def compile_rules(loaded: LoadedProcess, sources: list[RuleSource], types: Mapping[str, str], *,
                  samples: Callable[[int], list[dict[str, Any]]]) -> tuple[RuleSet, list[Problem]]:
    """Check and compile every rule and table; returns the rule set and all problems found.

    ``samples(n)`` draws ``n`` cases' attributes as the simulation would (``procsim.sim.build.sample_cases``),
    to search for conflicting route rules; passed in because the simulation sits above the rules.
    """
    spec, g = loaded.spec, loaded.graph
    names = expression_names(loaded, types)
    problems: list[Problem] = []
    rs = RuleSet()
    rs.tz = ZoneInfo(spec.process.timezone)
    rs.roles = {a: act.role for a, act in spec.activities.items()}
    rs.origin = spec.process.start
    acts, gws = spec.activities, spec.gateways
    seen_ids: dict[str, str] = {}
    route_items: list[tuple[int, int, Any, SourceMap, tuple[Any, ...]]] = []
    n = 0
    reassigned = _reassigned(sources)  # activities assign rules may hand to another role

    for src in sources:
        sm = src.smap
        # tables first: they compute base values (rates, scores) that rules may derive from
        for i, t in enumerate(src.content.tables):
            loc: tuple[Any, ...] = ("tables", i)
            if t.id in seen_ids:
                problems.append(sm.problem(loc + ("id",), f"id '{t.id}' is already used in {seen_ids[t.id]}",
                                           "duplicate_id"))
            seen_ids.setdefault(t.id, sm.file)
            rs.catalogue[t.id] = {"file": sm.file, "line": str(sm.value_pos(loc)[0]),
                                  "description": t.description, "when": "decision table"}
            ct = _compile_table(t, names, sm, loc, problems)
            if ct is None:
                continue
            rs.note_reads(ct.table.reads)
            if t.gateway is not None:
                if t.gateway not in gws or gws[t.gateway].branches is None:
                    problems.append(sm.problem(loc + ("gateway",), f"unknown xor gateway '{t.gateway}'"
                                               f"{_suggest(t.gateway, gws)}", "unknown_gateway"))
                    continue
                targets = {b.to for b in gws[t.gateway].branches or []}
                for ri, row in enumerate(t.rows):
                    out = row[-1]
                    if isinstance(out, str) and not out.startswith("=") and out not in targets:
                        problems.append(sm.problem(loc + ("rows", ri, len(row) - 1), f"'{out}' is not a branch of "
                                                   f"gateway '{t.gateway}' (its branches go to: "
                                                   f"{', '.join(sorted(targets))})", "not_a_branch"))
                route_items.append((0, n, ct, sm, loc))
            else:
                if t.hit == "collect" and t.aggregate is None:
                    problems.append(sm.problem(loc + ("hit",), "a table that sets attributes with hit: collect needs "
                                               "an 'aggregate' (sum, min, max or count) to get one value",
                                               "collect_needs_aggregate"))
                for o in t.outputs:
                    if o not in types:
                        problems.append(sm.problem(loc + ("outputs",), f"unknown attribute '{o}'{_suggest(o, types)}"
                                                   " (declare it in the process's attributes)", "unknown_attribute"))
                if t.at is None:
                    rs.start_sets.append(ct)
                elif t.at in acts:
                    rs.after_sets.setdefault(t.at, []).append(ct)
                else:
                    problems.append(sm.problem(loc + ("at",), f"unknown activity '{t.at}'{_suggest(t.at, acts)}",
                                               "unknown_activity"))
            n += 1

        for i, rule in enumerate(src.content.rules):
            loc = ("rules", i)
            if rule.id in seen_ids:
                problems.append(sm.problem(loc + ("id",), f"rule id '{rule.id}' is already used in "
                                           f"{seen_ids[rule.id]}", "duplicate_id"))
            seen_ids.setdefault(rule.id, f"{sm.file}")
            rs.catalogue[rule.id] = {"file": sm.file, "line": str(sm.value_pos(loc)[0]),
                                     "description": rule.description, "when": rule.when or ""}

            def expr(text: str, where: tuple[Any, ...], expect: str | None = None,
                     extra: Mapping[str, Any] | None = None) -> Compiled | None:
                c = compile_at(sm, where, text, {**names, **(extra or {})}, problems, expect=expect)
                if c is None:
                    return None
                rs.note_reads([c])
                return c

            ctx = CompileContext(spec, g, types, rs, problems, sm, expr, route_items, n)
            when = expr(rule.when, loc + ("when",), "bool") if rule.when else None
            if when is not None:
                _check_points(rule, acts, sm, loc + ("when",), problems, rs.warnings, reassigned)
            cr = CRule(rule.id, when.fn if when else None, rule.when or "", rule,
                       names=when.names if when else frozenset())
            for action in ACTIONS.values():  # one class per action (procsim.rules.actions), in registry order
                value = action.value(rule)
                if value is not None and (value := action.parse(ctx, value, loc)) is not None:
                    action.compile(ctx, value, cr, loc)
            n += 1
    if member_attribute_types(spec):
        rs.member_attrs = {role: r.attributes_of for role, r in spec.roles.items()}
        problems += _missing_member_attributes(spec, sources)
    route_items.sort(key=lambda x: (x[0], x[1]))
    for _, _, item, _, _ in route_items:
        gw = item.rule.route.gateway if isinstance(item, CRule) else item.gateway  # type: ignore[union-attr]
        rs.routes.setdefault(gw, []).append(item)
    problems += _route_conflicts(route_items, samples)
    rs.by_activity = frozenset(set(rs.assigns) | set(rs.deadlines) | set(rs.raises_at)
                               | (set(acts) if None in rs.queues else cast("set[str]", set(rs.queues))))
    return rs, problems


def _resource_fields(source: str) -> list[str]:
    """The member attributes an expression reads: ``resource.x`` and ``resource['x']``, in order."""
    import ast

    try:
        tree = ast.parse(source.translate({10: 32, 13: 32}).strip(), mode="eval")
    except SyntaxError:
        return []
    out: dict[str, None] = {}
    for n in ast.walk(tree):
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "resource":
            out[n.attr] = None
        elif (isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name) and n.value.id == "resource"
              and isinstance(n.slice, ast.Constant) and isinstance(n.slice.value, str)):
            out[n.slice.value] = None
    return list(out)


def _missing_member_attributes(spec: Any, sources: list[RuleSource]) -> list[Problem]:
    """``resource.<attribute>`` where a member who may be ``resource`` there has no such attribute.

    ``resource`` is set per candidate in ``assign.allow`` (the members of the rule's role, else the activity's),
    in duration rules and when an activity completes (tables and ``set`` rules with ``at``): the members of the
    activity's role, or of a role an assign rule gives the activity."""
    acts, roles = spec.activities, spec.roles
    reassigned = _reassigned(sources)
    problems: list[Problem] = []

    declared = member_attribute_types(spec)

    def who_did(a: str) -> list[str | None]:
        """The roles whose members may have done ``a`` when it completes (or starts, for duration rules)."""
        return [acts[a].role, *sorted(reassigned.get(a, ()))]

    def check(sm: SourceMap, where: tuple[Any, ...], text: str, role_names: Iterable[str | None]) -> None:
        for attr in _resource_fields(text):
            if attr not in declared:
                continue  # an unknown attribute: the expression's own check reports it, with a did-you-mean
            for role in dict.fromkeys(role_names):
                r = roles.get(role) if role is not None else None
                if r is None:
                    continue
                names = r.names()
                if names is None:
                    who = "" if attr in r.attributes else f"its {r.members} generated members have"
                else:
                    lacking = [m for m in names if attr not in r.attributes_of(m)]
                    shown = ", ".join(f"'{m}'" for m in lacking[:5]) + (
                        f" and {len(lacking) - 5} more" if len(lacking) > 5 else "")
                    who = f"{shown} {'has' if len(lacking) == 1 else 'have'}" if lacking else ""
                if who:
                    problems.append(sm.problem(where, f"'resource.{attr}' is read for the members of role '{role}', "
                                               f"but {who} no attribute '{attr}' (give it in the role's attributes, "
                                               "or to each member)", "missing_member_attribute"))

    for src in sources:
        for i, rule in enumerate(src.content.rules):
            loc: tuple[Any, ...] = ("rules", i)
            if rule.when and rule.duration is not None:
                check(src.smap, loc + ("when",), rule.when, [
                    role for a in rule.duration.activity if a in acts
                    for role in [acts[a].role, *sorted(reassigned.get(a, ()))]])
            if rule.assign is not None and rule.assign.allow is not None:
                check(src.smap, loc + ("assign", "allow"), rule.assign.allow, [
                    rule.assign.role or acts[a].role for a in rule.assign.activity if a in acts])
            if rule.set is not None and rule.at is not None and rule.at in acts:
                done_by = who_did(rule.at)
                if rule.when:
                    check(src.smap, loc + ("when",), rule.when, done_by)
                for key, value in rule.set.items():
                    if isinstance(value, str):
                        check(src.smap, loc + ("set", key), value, done_by)
        for i, t in enumerate(src.content.tables):
            if t.at is not None and t.at in acts:
                done_by = who_did(t.at)
                for j, text in enumerate(t.inputs):
                    check(src.smap, ("tables", i, "inputs", j), text, done_by)
                for r, row in enumerate(t.rows):
                    for c, cell in enumerate(row):
                        if isinstance(cell, str) and "resource" in cell:
                            check(src.smap, ("tables", i, "rows", r, c), cell.lstrip("="), done_by)
    return problems


def _reassigned(sources: list[RuleSource]) -> dict[str, set[str]]:
    """activity -> the roles ``assign`` rules may hand it to (its members then do it, in that role)."""
    out: dict[str, set[str]] = {}
    for src in sources:
        for rule in src.content.rules:
            if rule.assign is not None and rule.assign.role is not None:
                for a in rule.assign.activity:
                    out.setdefault(a, set()).add(rule.assign.role)
    return out


_NO_RESOURCE = "it is set only in assign.allow, in duration rules and when an activity completes"


def rule_points(rule: Rule, acts: Mapping[str, Any], reassigned: Mapping[str, set[str]] | None = None
                ) -> list[tuple[str, Point]]:
    """Where a rule's condition is evaluated: (action, point) for each, with the names each point fixes.

    The table of docs/rules.md ("Order of evaluation") as data: null names, and names known to be a constant
    there (``activity`` at an activity's own rules, ``role`` when the activity's role is fixed). Where a member
    is known (duration rules, completion), an activity that ``assign`` rules may hand to another role
    (``reassigned``) fixes neither ``role`` nor, without a role of its own, ``resource``: the case decides.
    """
    moved = reassigned or {}
    nothing = (("activity", None), ("role", None), ("resource", None))
    start = Point("when the case starts", nothing, (("resource", _NO_RESOURCE),))

    def at_act(a: str, what: str, resource: bool) -> Point:
        role = acts[a].role if a in acts else None
        if resource and a in moved:  # the member may work in another role: only the activity is fixed
            return Point(what, (("activity", a),))
        fixed: list[tuple[str, Any]] = [("activity", a), ("role", role)]
        why = [("role", f"'{a}' has no role")] if role is None else []
        if not resource:
            fixed.append(("resource", None))
            why.append(("resource", _NO_RESOURCE))
        elif role is None:
            fixed.append(("resource", None))
            why.append(("resource", f"'{a}' has no role: nobody does the work"))
        return Point(what, tuple(fixed), tuple(why))

    def reach(action: str, a: str) -> Point:
        return at_act(a, f"when {action} rules run for '{a}' (the case reaches it, before it queues)", False)

    out: list[tuple[str, Point]] = []
    if rule.route is not None:
        out.append(("route", Point(f"at gateway '{rule.route.gateway}'", nothing,
                                   (("resource", _NO_RESOURCE),))))
    if rule.set is not None:
        out.append(("set", start if rule.at is None else
                    at_act(rule.at, f"when '{rule.at}' completes (set rules with 'at' run then)", True)))
    if rule.duration is not None:
        for a in rule.duration.activity:
            out.append(("duration", at_act(a, f"when duration rules run for '{a}' (its work starts)", True)))
    if rule.assign is not None:
        out += [("assign", reach("assign", a)) for a in rule.assign.activity]
    if rule.queue is not None:
        if rule.queue.activity is None:  # every activity: only `resource` is fixed
            out.append(("queue", Point("when queue rules run (the case reaches an activity, before it queues)",
                                       (("resource", None),), (("resource", _NO_RESOURCE),))))
        else:
            out += [("queue", reach("queue", a)) for a in rule.queue.activity]
    if rule.deadline is not None:
        out.append(("deadline", reach("deadline", rule.deadline.activity)))
    if rule.raise_ is not None:
        out.append(("raise", start if rule.raise_.at is None else reach("raise", rule.raise_.at)))
    return out


def _check_points(rule: Rule, acts: Mapping[str, Any], sm: SourceMap, where: tuple[Any, ...],
                  problems: list[Problem], warnings: list[Problem],
                  reassigned: Mapping[str, set[str]] | None = None) -> None:
    """A condition that never holds where it is evaluated is an error; one that always holds, a warning."""
    assert rule.when is not None
    for action, point in rule_points(rule, acts, reassigned):
        holds, names = decide(rule.when, point)
        if holds is False:
            problems.append(sm.problem(where, f"this condition never holds for the {action} action: "
                                       f"{point.reason(names)}", "never_holds"))
        elif holds is True:
            warnings.append(sm.problem(where, f"warning: this condition always holds for the {action} action: "
                                       f"{point.reason(names)}; leave out 'when'", "always_holds"))


def _compile_table(t: Table, names: Mapping[str, Any], sm: SourceMap, loc: tuple[Any, ...],
                   problems: list[Problem]) -> CTable | None:
    try:
        table = compile_table(t.id, t.inputs, t.outputs, t.rows, t.hit, t.aggregate, t.priorities, names=names)
    except TableError as e:
        if e.row is not None and e.col is not None:
            where: tuple[Any, ...] = loc + ("rows", e.row, e.col)
        elif e.row is not None:
            where = loc + ("rows", e.row)
        elif e.col is not None and e.col < len(t.inputs):
            where = loc + ("inputs", e.col)
        else:
            where = loc
        cell = _cell_text(t, e.row, e.col)
        problems.append(sm.problem(where, e.msg, e.code, offset=e.offset if cell else None))
        return None
    return CTable(t.id, table, t.gateway, t.at)


def _cell_text(t: Table, row: int | None, col: int | None) -> str | None:
    if row is None or col is None:
        return None
    try:
        v = t.rows[row][col]
    except IndexError:
        return None
    return v if isinstance(v, str) else None


def _route_conflicts(items: list[tuple[int, int, Any, SourceMap, tuple[Any, ...]]],
                     sample: Callable[[int], list[dict[str, Any]]]) -> list[Problem]:
    """Two route rules of equal priority sending one gateway to different branches, for the same case.

    Overlap of arbitrary conditions is undecidable in general, so it is searched for on 2,000 sample cases
    drawn from the process's own attribute generators: a conflict found is real (the message shows the case
    values), a conflict that only rare values reach may slip through.
    """
    rules = [(p, it, sm, loc) for p, _, it, sm, loc in items if isinstance(it, CRule)]
    if len(rules) < 2:
        return []
    samples = sample(2000)
    problems = []
    for a in range(len(rules)):
        for b in range(a + 1, len(rules)):
            pa_, ra, sma, loca = rules[a]
            pb, rb, _, _ = rules[b]
            x, y = ra.rule.route, rb.rule.route
            assert x is not None and y is not None  # only route rules reach here
            if pa_ != pb or x.gateway != y.gateway or x.to == y.to:
                continue
            for env in samples:
                try:
                    both = (ra.when is None or ra.when(env)) and (rb.when is None or rb.when(env))
                except Exception:  # noqa: BLE001 - a sample the condition cannot judge proves nothing
                    continue
                if both:
                    shown = ", ".join(f"{k}={env[k]!r}" for k in sorted(set(_names(ra) | _names(rb)))
                                      if k in env and k not in RESERVED)
                    problems.append(sma.problem(loca + ("route",), f"rules '{ra.id}' and '{rb.id}' (priority "
                                                f"{-pa_}) route gateway '{x.gateway}' to different branches "
                                                f"('{x.to}', '{y.to}') and both hold for a case with {shown}; "
                                                "give one a higher priority or make the conditions exclusive",
                                                "route_conflict"))
                    break
    return problems


def _names(r: CRule) -> set[str]:
    return set(r.names)
