"""Rule actions, one class each: what a rule does (route, set, duration, assign, queue, deadline, raise).

This module owns the registry :data:`ACTIONS` (``key -> action``, in the order a rule's actions are checked)
and each built-in action's load-time work: checking what the action names and compiling it into the rule
set's decision points (:class:`procsim.rules.engine.RuleSet`). :func:`procsim.rules.engine.compile_rules`
does what every rule shares (ids, the catalogue, ``when``) and hands each action present to its class.

A third-party action is one :class:`RuleAction` subclass in its own package, published as an entry point in
the group ``procsim.rule_actions`` named by its ``key`` (:mod:`procsim.registry`); it declares ``model`` (the
pydantic model of its YAML value, checked at load with file:line:col) and compiles into the same decision
points the built-in actions use (``rs.start_sets``/``after_sets`` through ``cr.sets``, ``rs.durations``,
``rs.assigns``, ``rs.queues``, ``rs.raises_start``/``raises_at``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ValidationError

from procsim.distributions import check_units
from procsim.errors import Problem
from procsim.errors import suggest as _suggest
from procsim.registry import Registry
from procsim.spec.loader import problems_from_validation

if TYPE_CHECKING:
    import networkx as nx

    from procsim.rules.engine import CRule, RuleSet
    from procsim.rules.expr import Compiled
    from procsim.rules.models import Rule
    from procsim.spec.loader import SourceMap
    from procsim.spec.models import ProcessSpec

__all__ = ["ACTIONS", "CompileContext", "RuleAction"]

Loc = tuple[Any, ...]


@dataclass
class CompileContext:
    """What an action may use while it is compiled: the process, the rule set being built, the problems."""

    spec: ProcessSpec
    graph: nx.DiGraph
    types: Mapping[str, str]
    rs: RuleSet
    problems: list[Problem]
    sm: SourceMap
    expr: Callable[..., Compiled | None]
    route_items: list[tuple[int, int, Any, SourceMap, Loc]] = field(default_factory=list)
    order: int = 0  # the rule's position among all rules and tables (ties between route rules)

    def problem(self, where: Loc, message: str, code: str, *, at_key: bool = False) -> None:
        self.problems.append(self.sm.problem(where, message, code, at_key=at_key))

    def check_activity(self, name: str, where: Loc) -> bool:
        """True if ``name`` is an activity; otherwise a problem with a did-you-mean."""
        acts = self.spec.activities
        if name not in acts:
            self.problem(where, f"unknown activity '{name}'{_suggest(name, acts)}", "unknown_activity")
            return False
        return True


class RuleAction:
    """One action a rule can take. Subclasses register by ``key`` (the YAML key in a rule)."""

    key: ClassVar[str]
    field: ClassVar[str]  # the attribute of procsim.rules.models.Rule holding a built-in action's value
    model: ClassVar[type[BaseModel] | None] = None  # a third-party action's YAML value (built-ins: in Rule)

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        key = cls.__dict__.get("key")
        if key:
            if "field" not in cls.__dict__:
                cls.field = key
            ACTIONS.add(key, cls())

    def value(self, rule: Rule) -> Any:
        """The action's value in ``rule``, or None when the rule does not take this action."""
        if self.model is not None:
            return rule.plugin_actions.get(self.key)
        return getattr(rule, self.field)

    def parse(self, ctx: CompileContext, raw: Any, loc: Loc) -> Any:
        """A third-party action's YAML value validated by its ``model``; None (and problems) when invalid."""
        if self.model is None:
            return raw
        try:
            return self.model.model_validate(raw)
        except ValidationError as e:
            ctx.problems.extend(problems_from_validation(e, ctx.sm, self.model, raw, prefix=loc + (self.key,)))
            return None

    def compile(self, ctx: CompileContext, value: Any, cr: CRule, loc: Loc) -> None:
        """Check ``value`` (at ``loc + (key,)``) and put ``cr`` where the simulation will ask for it."""
        raise NotImplementedError


ACTIONS: Registry[RuleAction] = Registry("rule action", "procsim.rule_actions", "Rule actions")


class Route(RuleAction):
    """Choose the branch of an XOR gateway (route: {gateway, to}); priorities break overlaps."""

    key = "route"

    def compile(self, ctx: CompileContext, value: Any, cr: CRule, loc: Loc) -> None:
        gws, rule = ctx.spec.gateways, cr.rule
        if value.gateway not in gws or gws[value.gateway].branches is None:
            xors = [k for k, v in gws.items() if v.branches is not None]
            ctx.problem(loc + ("route", "gateway"), f"unknown xor gateway '{value.gateway}'"
                        f"{_suggest(value.gateway, xors)}", "unknown_gateway")
        elif not ctx.graph.has_edge(value.gateway, value.to):
            branch_to = [b.to for b in gws[value.gateway].branches or []]
            ctx.problem(loc + ("route", "to"), f"'{value.to}' is not a branch of gateway "
                        f"'{value.gateway}' (its branches go to: {', '.join(branch_to)})", "not_a_branch")
        else:
            ctx.route_items.append((-rule.priority, ctx.order, cr, ctx.sm, loc))


class Set(RuleAction):
    """Set case attributes from expressions or values, at case start or after the activity named in 'at'."""

    key = "set"

    def compile(self, ctx: CompileContext, value: Any, cr: CRule, loc: Loc) -> None:
        types = ctx.types
        for key, item in value.items():
            if key not in types:
                ctx.problem(loc + ("set", key), f"unknown attribute '{key}'{_suggest(key, types)} "
                            "(declare it in the process's attributes)", "unknown_attribute", at_key=True)
                continue
            if isinstance(item, str):
                c = ctx.expr(item, loc + ("set", key))
                if c is None:
                    continue
                want = types[key]
                want = "number" if want == "integer" else want
                if c.type not in ("any", want) and want != "any" and not (want == "number" and c.type == "duration"):
                    ctx.problem(loc + ("set", key), f"'{key}' is a {want}, but this expression gives a {c.type}",
                                "type_error")
                    continue
                cr.sets.append((key, c.fn))
            else:
                cr.sets.append((key, _constant(item)))
        at = cr.rule.at
        if at is not None:
            if ctx.check_activity(at, loc + ("at",)):
                ctx.rs.after_sets.setdefault(at, []).append(cr)
        else:
            ctx.rs.start_sets.append(cr)


class Duration(RuleAction):
    """Draw the processing time of activities from another distribution while the rule holds."""

    key = "duration"

    def compile(self, ctx: CompileContext, value: Any, cr: CRule, loc: Loc) -> None:
        if value.distribution is not None:
            for msg in check_units(value.distribution, need_units=True):
                ctx.problem(loc + ("duration", "distribution"), msg,
                            "negative_duration" if "negative" in msg else "unit_missing")
            cr.sample = value.distribution.sampler()
        for j, act_id in enumerate(value.activity):
            where = loc + ("duration", "activity", j) if len(value.activity) > 1 else loc + ("duration", "activity")
            if ctx.check_activity(act_id, where):
                ctx.rs.durations.setdefault(act_id, []).append(cr)


class Assign(RuleAction):
    """Say who may do activities: a role, named members, or an 'allow' condition on the candidate."""

    key = "assign"

    def compile(self, ctx: CompileContext, value: Any, cr: CRule, loc: Loc) -> None:
        spec, acts = ctx.spec, ctx.spec.activities
        if value.role is not None and value.role not in spec.roles:
            ctx.problem(loc + ("assign", "role"), f"unknown role '{value.role}'{_suggest(value.role, spec.roles)}",
                        "unknown_role")
        if value.allow is not None:
            c = ctx.expr(value.allow, loc + ("assign", "allow"), "bool")
            cr.allow = c.fn if c else None
        for act in value.activity:
            if not ctx.check_activity(act, loc + ("assign", "activity")):
                continue
            role = value.role or acts[act].role
            if role is None:
                ctx.problem(loc + ("assign", "activity"), f"'{act}' has no role: nobody to choose from (give 'role')",
                            "no_role")
                continue
            fixed = spec.roles[role].names() if role in spec.roles else None
            if value.members is not None and fixed is not None:
                for m in value.members:
                    if m not in fixed:
                        ctx.problem(loc + ("assign", "members"), f"'{m}' is not a member of role '{role}'"
                                    f"{_suggest(m, fixed)}", "unknown_member")
            elif value.members is not None:
                ctx.problem(loc + ("assign", "members"), f"role '{role}' has generated members; list their names "
                            "in the role to name them here", "unnamed_members")
            ctx.rs.assigns.setdefault(act, []).append(cr)


class Queue(RuleAction):
    """Give waiting work a priority (all activities, or the ones listed)."""

    key = "queue"

    def compile(self, ctx: CompileContext, value: Any, cr: CRule, loc: Loc) -> None:
        if value.activity is None:
            ctx.rs.queues.setdefault(None, []).append(cr)
            return
        for act in value.activity:
            if ctx.check_activity(act, loc + ("queue", "activity")):
                ctx.rs.queues.setdefault(act, []).append(cr)


class Deadline(RuleAction):
    """Escalate work that waits longer than a limit to another node."""

    key = "deadline"

    def compile(self, ctx: CompileContext, value: Any, cr: CRule, loc: Loc) -> None:
        acts, rs = ctx.spec.activities, ctx.rs
        if ctx.check_activity(value.activity, loc + ("deadline", "activity")):
            if acts[value.activity].role is None:
                ctx.problem(loc + ("deadline", "activity"), f"'{value.activity}' has no role, so it never waits: "
                            "a deadline cannot fire", "no_role")
            elif value.activity in rs.deadlines:
                ctx.problem(loc + ("deadline", "activity"), f"'{value.activity}' already has a deadline (rule "
                            f"'{rs.deadlines[value.activity].id}')", "duplicate_deadline")
            else:
                rs.deadlines[value.activity] = cr
        if value.escalate_to not in ctx.graph:
            ctx.problem(loc + ("deadline", "escalate_to"), f"unknown node '{value.escalate_to}'"
                        f"{_suggest(value.escalate_to, ctx.graph.nodes)}", "unknown_node")


class Raise(RuleAction):
    """Raise a business exception (labelled) at case start or after an activity."""

    key = "raise"
    field = "raise_"

    def compile(self, ctx: CompileContext, value: Any, cr: CRule, loc: Loc) -> None:
        if value.at is None:
            ctx.rs.raises_start.append(cr)
        elif ctx.check_activity(value.at, loc + ("raise", "at")):
            ctx.rs.raises_at.setdefault(value.at, []).append(cr)


def _constant(v: Any) -> Callable[[Mapping[str, Any]], Any]:
    """A 'set' value given as a plain value rather than an expression."""
    return lambda env: v


BUILTIN_KEYS = tuple(ACTIONS)
"""The actions every procsim knows, in the order a rule's actions are compiled (and listed in messages)."""

ACTIONS.load_plugins()  # third-party actions come after the built-in ones
