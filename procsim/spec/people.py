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


def check_people(spec: ProcessSpec, smap: SourceMap) -> list[Problem]:
    problems: list[Problem] = []
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
