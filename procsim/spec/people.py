"""Load-time checks of people who differ (roles' members, speeds, calendars, assignment): file:line:col each.

The shapes are in ``procsim.spec.models`` (``RoleSpec``, ``MemberSpec``, ``AbsenceSpec``, ``AssignmentSpec``);
this module checks what the shapes cannot: names that must exist (calendars, members), and weights that need
named members. What the features do at run time lives in ``procsim.sim.people``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from procsim.errors import Problem
from procsim.errors import suggest as _suggest

if TYPE_CHECKING:
    from procsim.spec.loader import SourceMap
    from procsim.spec.models import AssignmentSpec, ProcessSpec

__all__ = ["check_people"]


def _weights(a: AssignmentSpec | None, role: str, names: list[str] | None, smap: SourceMap,
             where: tuple[str, ...]) -> list[Problem]:
    if a is None or not a.weights:
        return []
    if names is None:
        return [smap.problem(where + ("weights",), f"role '{role}' has generated members; list their names in the "
                             "role to weigh them", "unnamed_members")]
    return [smap.problem(where + ("weights", m), f"'{m}' is not a member of role '{role}'{_suggest(m, names)}",
                         "unknown_member", at_key=True) for m in a.weights if m not in names]


def _attribute_types(spec: ProcessSpec, smap: SourceMap) -> list[Problem]:
    """A member attribute has one type (number, string, bool) in every role and member that gives it: rules read
    it as ``resource.<name>`` and are type-checked once."""
    from procsim.spec.models import member_value_kind

    first: dict[str, tuple[str, str]] = {}  # attribute -> (its type, where it was first given)
    problems: list[Problem] = []

    def see(name: str, value: object, where: tuple[str, ...], who: str) -> None:
        kind = member_value_kind(value)
        if name not in first:
            first[name] = (kind, who)
        elif first[name][0] != kind:
            problems.append(smap.problem(where, f"member attribute '{name}' is a {kind} here but a "
                                         f"{first[name][0]} in {first[name][1]}; give it one type everywhere",
                                         "member_attribute_type"))

    for role, r in spec.roles.items():
        for a, v in r.attributes.items():
            see(a, v, ("roles", role, "attributes", a), f"role '{role}'")
        if isinstance(r.members, dict):
            for m, own in r.members.items():
                for a, v in own.attributes.items():
                    see(a, v, ("roles", role, "members", m, "attributes", a), f"member '{m}' of role '{role}'")
    return problems


def _shared_multitaskers(spec: ProcessSpec, smap: SourceMap) -> list[Problem]:
    """Multitasking counts one member's tasks in one role: a person in several roles does one thing at a time."""
    owners: dict[str, list[str]] = {}
    for role, r in spec.roles.items():
        for m in r.names() or []:
            owners.setdefault(m, []).append(role)
    problems: list[Problem] = []
    for role, r in spec.roles.items():
        for m in r.names() or []:
            mt = r.multitask_of(m)
            if len(owners[m]) > 1 and mt is not None and mt.tasks > 1:
                own = r.settings(m)
                where = (("roles", role, "members", m, "multitask") if own is not None and own.multitask is not None
                         else ("roles", role, "multitask"))
                others = ", ".join(f"'{o}'" for o in owners[m] if o != role)
                problems.append(smap.problem(where, f"'{m}' is also a member of {others}: a member in several roles "
                                             "does one task at a time (give multitask only to members of one role)",
                                             "multitask_shared_member"))
    return problems


def check_people(spec: ProcessSpec, smap: SourceMap) -> list[Problem]:
    problems: list[Problem] = _attribute_types(spec, smap) + _shared_multitaskers(spec, smap)
    for role, r in spec.roles.items():
        names = r.names()
        if isinstance(r.members, dict):
            for m, own in r.members.items():
                if own.calendar is not None and own.calendar not in spec.calendars:
                    problems.append(smap.problem(("roles", role, "members", m, "calendar"), f"unknown calendar "
                                                 f"'{own.calendar}'{_suggest(own.calendar, spec.calendars)}",
                                                 "unknown_calendar"))
        problems += _weights(r.assignment, role, names, smap, ("roles", role, "assignment"))
    for name, act in spec.activities.items():
        if act.assignment is None:
            continue
        if act.role is None:
            problems.append(smap.problem(("activities", name, "assignment"), f"'{name}' has no role: nobody to "
                                         "assign (give it a 'role')", "no_role"))
        elif act.role in spec.roles:
            problems += _weights(act.assignment, act.role, spec.roles[act.role].names(), smap,
                                 ("activities", name, "assignment"))
    return problems
