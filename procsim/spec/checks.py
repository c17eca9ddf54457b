"""Load-time checks that need more than the schema and the graph: faker providers, expressions, calendars,
the locale, the rule files, the exceptions, objects and documents of a process.

Owns coordinating them: ``procsim.spec.load_process`` calls ``check_model`` once the graph is built. Each
stage's own checks stay with the stage (``procsim.objects.check_objects``, ``procsim.documents.check_documents``,
``procsim.rules.engine.compile_rules``); this module sits above all of them, so none of them imports the loader.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from procsim.distributions import check_units
from procsim.documents import check_documents
from procsim.lineitems import check_line_items
from procsim.errors import Problem
from procsim.errors import suggest as _suggest
from procsim.exceptions.quality import TEXT_ONLY
from procsim.masterdata import check_master_data
from procsim.objects import check_objects
from procsim.schemes import check_schemes
from procsim.records import CORE_CASE_COLUMNS, CORE_EVENT_COLUMNS
from procsim.rules.engine import RESERVED, compile_rules
from procsim.rules.expr import compile_at
from procsim.sim.arrivals import read_replay
from procsim.sim.build import (_calendars, _rate, attribute_types, exception_names, expr_names,
                               faker_for, moments, replay_path, sample_cases)
from procsim.sim.calendar import WorkCalendar
from procsim.spec.loaded import LoadedProcess, display_path, sha256
from procsim.spec.paths import check_input, project_root
from procsim.spec.people import check_people
from procsim.spec.models import ProcessSpec, written_gateways

__all__ = ["check_exceptions", "check_model", "check_org_units", "check_quality"]


def check_model(loaded: LoadedProcess, *, rules: bool = True) -> list[Problem]:
    """Checks that need more than the schema: faker providers, expressions, calendars, locale; then
    (with ``rules``, once the graph is sound) compiles the rule files into ``loaded.rules``."""
    spec, smap = loaded.spec, loaded.smap
    problems: list[Problem] = []
    try:
        fake = faker_for(spec.process.locale)
    except AttributeError:
        problems.append(smap.problem(("process", "locale"), f"unknown locale '{spec.process.locale}'",
                                     "unknown_locale"))
        fake = None
    types: dict[str, str] = {}
    for name, a in spec.attributes.items():
        if a.faker is not None and fake is not None:
            provider = getattr(fake, a.faker, None) if not a.faker.startswith("_") else None
            if provider is None or not callable(provider) or a.faker in ("seed", "seed_instance", "seed_locale"):
                problems.append(smap.problem(("attributes", name, "faker"),
                                             f"unknown faker provider '{a.faker}'", "unknown_provider"))
            else:
                try:
                    provider(**a.args)
                except Exception as e:  # noqa: BLE001 - any failure here is the user's arguments
                    problems.append(smap.problem(("attributes", name, "args"),
                                                 f"faker '{a.faker}' rejects these args: {e}", "bad_args"))
        if a.expr is not None:
            c = compile_at(smap, ("attributes", name, "expr"), a.expr, expr_names(types), problems)
            types[name] = c.type if c is not None else "any"
        else:
            types[name] = a.kind(spec)
    for name in spec.attributes:
        if name in RESERVED:
            problems.append(smap.problem(("attributes", name), f"'{name}' is a name the simulation provides to "
                                         "rules; call the attribute something else", "reserved_name", at_key=True))
        elif name in CORE_EVENT_COLUMNS or name in CORE_CASE_COLUMNS or (name == "batch" and _batched(spec)):
            problems.append(smap.problem(("attributes", name), f"'{name}' is a column procsim writes itself; call "
                                         "the attribute something else", "reserved_name", at_key=True))
    names = expr_names(attribute_types(spec))
    # a sub-process's conditions once, at its own lines, not once per copy
    for where, gname, gw in written_gateways(spec):
        for i, b in enumerate(gw.branches or []):
            if b.when is not None:
                compile_at(smap, where + (gname, "branches", i, "when"), b.when, names, problems, expect="bool")
    problems += check_people(spec, smap)
    tz = ZoneInfo(spec.process.timezone)
    origin = spec.process.start
    for cname, cspec in spec.calendars.items():
        try:
            cal = WorkCalendar(cspec.week(), cspec.holidays, tz=tz, origin=origin,
                               holiday_country=cspec.holiday_country, holiday_subdiv=cspec.holiday_subdiv, name=cname)
            cal.next_working(0.0)
        except ValueError as e:
            problems.append(smap.problem(("calendars", cname), str(e), "bad_calendar", at_key=True))
    problems += _check_moments(spec, smap)
    arr = spec.arrivals
    if arr.holidays is not None:
        hname = arr.holidays.calendar or arr.calendar
        if hname is None:
            problems.append(smap.problem(("arrivals", "holidays"), "a holiday dip needs a calendar whose holidays "
                                         "it follows: give 'calendar' here or in 'arrivals'", "no_calendar",
                                         at_key=True))
        elif arr.holidays.calendar is not None and hname not in spec.calendars:  # arrivals.calendar: graph checks
            problems.append(smap.problem(("arrivals", "holidays", "calendar"), f"unknown calendar '{hname}'"
                                         f"{_suggest(hname, spec.calendars)}", "unknown_calendar"))
    if arr.replay is not None:
        # like rule files and templates: a regular file inside the project, symlinks resolved (procsim.spec.paths)
        path, why, code = check_input(loaded.path.parent, arr.replay, loaded.root or project_root(loaded.path),
                                      what="replay file")
        if path is None:
            problems.append(smap.problem(("arrivals", "replay"), why, code))
        else:
            try:
                read_replay(str(path), tz, origin)
                loaded.inputs[display_path(path)] = sha256(path)
            except OSError as e:
                problems.append(smap.problem(("arrivals", "replay"), f"cannot read {display_path(path)} "
                                             f"({e.strerror})", "unreadable"))
            except (ValueError, UnicodeDecodeError) as e:
                problems.append(smap.problem(("arrivals", "replay"), f"{display_path(path)}: {e}", "bad_replay"))
    if spec.units:
        problems += check_org_units(spec, smap)
    if spec.recording is not None:
        problems += check_recording(loaded)
    if spec.drift:
        problems += check_drift(loaded)
    if arr.weekday is not None or arr.hour is not None:
        try:
            _rate(spec, {})
        except ValueError as e:
            problems.append(smap.problem(("arrivals",), str(e), "bad_intensity", at_key=True))
    if spec.master_data or any(a.master is not None for a in spec.attributes.values()):
        problems += check_master_data(loaded)
    if spec.schemes:
        problems += check_schemes(loaded, attribute_types(spec))
    if rules and not problems:
        loaded.rules, rproblems = compile_rules(loaded, loaded.rule_sources, attribute_types(spec),
                                                samples=lambda n: sample_cases(loaded, n))
        problems += rproblems
        if _batched(spec):
            problems += _check_batched_rules(loaded)
    if spec.exceptions or spec.near_misses:
        problems += check_exceptions(loaded, attribute_types(spec))
    if spec.data_quality:
        problems += check_quality(loaded, attribute_types(spec))
    if spec.objects:
        problems += check_objects(loaded, attribute_types(spec))
    problems += check_line_items(loaded, attribute_types(spec))
    if spec.documents:
        problems += check_documents(loaded, attribute_types(spec))
    return problems


def check_org_units(spec: ProcessSpec, smap: Any) -> list[Problem]:
    """Each unit's staff names roles with a number of members, its calendars are the process's, arrivals that
    replay a file are not scaled."""
    problems: list[Problem] = []
    tz = ZoneInfo(spec.process.timezone)
    for uname, u in spec.units.items():
        for role in u.staff:
            where = ("units", uname, "staff", role)
            if role not in spec.roles:
                problems.append(smap.problem(where, f"unknown role '{role}'{_suggest(role, spec.roles)}",
                                             "unknown_role", at_key=True))
            elif not isinstance(spec.roles[role].members, int):
                problems.append(smap.problem(where, f"role '{role}' lists its members by name: a unit can set the "
                                             "number of members only of a role given as 'members: N'",
                                             "named_members", at_key=True))
        for cname, cspec in u.calendars.items():
            where = ("units", uname, "calendars", cname)
            if cname not in spec.calendars:
                problems.append(smap.problem(where, f"unknown calendar '{cname}'{_suggest(cname, spec.calendars)}",
                                             "unknown_calendar", at_key=True))
                continue
            try:
                cal = WorkCalendar(cspec.week(), cspec.holidays, tz=tz, origin=spec.process.start,
                                   holiday_country=cspec.holiday_country, holiday_subdiv=cspec.holiday_subdiv,
                                   name=cname)
                cal.next_working(0.0)
            except ValueError as e:
                problems.append(smap.problem(where, str(e), "bad_calendar", at_key=True))
        if spec.arrivals.replay is not None and u.arrival_factor != 1.0:
            problems.append(smap.problem(("units", uname, "arrival_factor"), "the arrivals replay a file: a unit "
                                         "cannot scale them (give each unit its own process file)",
                                         "replay_factor"))
    return problems


def _batched(spec: ProcessSpec) -> bool:
    """Whether an activity is batched: then the event log has a ``batch`` column."""
    return any(a.batch is not None for a in spec.activities.values())


BATCH_FIXED = "a batched activity's duration, member and start belong to its batch"


def _check_batched_rules(loaded: LoadedProcess) -> list[Problem]:
    """Rules that would change one case's duration, member, priority or deadline cannot act on a batch."""
    batched = {n for n, a in loaded.spec.activities.items() if a.batch is not None}
    problems: list[Problem] = []
    for src in loaded.rule_sources:
        for i, rule in enumerate(src.content.rules):
            for action in ("duration", "assign", "queue", "deadline"):
                a = getattr(rule, action)
                names = ([a.activity] if isinstance(a.activity, str) else a.activity or []) if a is not None else []
                for n in names:
                    if n in batched:
                        problems.append(src.smap.problem(("rules", i, action, "activity"), f"'{n}' is batched: "
                                                         f"{BATCH_FIXED}, so a '{action}' rule cannot change them "
                                                         "for one case", "batched_activity"))
    return problems


def _check_moments(spec: ProcessSpec, smap: Any) -> list[Problem]:
    """Every wait's ``until`` and batch's ``schedule`` must come round (not 'February 30th on a Monday')."""
    problems: list[Problem] = []
    found = [(("waits", n, "until"), w.until) for n, w in spec.waits.items() if w.until is not None] + [
        (("activities", n, "batch", "schedule"), a.batch.schedule) for n, a in spec.activities.items()
        if a.batch is not None and a.batch.schedule is not None]
    if not found:
        return problems
    try:
        cals = _calendars(spec)
    except ValueError:
        return problems  # a bad calendar is reported on its own
    for loc, m in found:
        if m.next_working_day is not None and m.next_working_day not in cals:
            continue  # an unknown calendar: reported by the graph checks
        try:
            moments(spec, m, cals).next(0.0)
        except ValueError:
            problems.append(smap.problem(loc, "this moment does not come in the three years after the start",
                                         "bad_moment", at_key=True))
    return problems


def check_recording(loaded: LoadedProcess) -> list[Problem]:
    """The activities a recording setting names, and the units of its delays."""
    spec, smap = loaded.spec, loaded.smap
    rs = spec.recording
    assert rs is not None
    problems: list[Problem] = []
    for where, r in [(("recording",), rs), *((("recording", "activities", a), r) for a, r in rs.activities.items())]:
        if len(where) == 3 and where[2] not in spec.activities:
            problems.append(smap.problem(where, f"unknown activity '{where[2]}'{_suggest(where[2], spec.activities)}",
                                         "unknown_activity", at_key=True))
        if r.delay is not None:
            for msg in check_units(r.delay, need_units=True):
                problems.append(smap.problem(where + ("delay",), msg, "unit_missing"))
    return problems


def check_drift(loaded: LoadedProcess) -> list[Problem]:
    """Names (activities, gateways and their branches, roles) and units, with positions."""
    spec, smap = loaded.spec, loaded.smap
    problems: list[Problem] = []
    seen: set[str] = set()
    for i, d in enumerate(spec.drift):
        if d.name in seen:
            problems.append(smap.problem(("drift", i, "name"), f"drift name '{d.name}' is used twice",
                                         "duplicate_name"))
        seen.add(d.name)
        for j, c in enumerate(d.changes):
            loc = ("drift", i, "changes", j)
            if c.activity is not None and c.activity not in spec.activities:
                problems.append(smap.problem(loc + ("activity",), f"unknown activity '{c.activity}'"
                                             f"{_suggest(c.activity, spec.activities)}", "unknown_activity"))
            if c.role is not None:
                role = spec.roles.get(c.role)
                if role is None:
                    problems.append(smap.problem(loc + ("role",), f"unknown role '{c.role}'"
                                                 f"{_suggest(c.role, spec.roles)}", "unknown_role"))
                else:
                    n = role.members if isinstance(role.members, int) else len(role.members)
                    if c.members is not None and c.members > n:
                        problems.append(smap.problem(loc + ("members",), f"role '{c.role}' has {n} members; a drift "
                                                     "can only hold some of them away: declare the larger team in "
                                                     "the role and let a drift ending at the date shrink it before",
                                                     "too_many_members"))
                    if d.type == "recurring" and d.end is None:
                        problems.append(smap.problem(("drift", i, "type"), "a recurring change of staffing needs "
                                                     "an 'end'", "no_end"))
            if c.gateway is not None:
                gw = spec.gateways.get(c.gateway)
                if gw is None or gw.branches is None:
                    problems.append(smap.problem(loc + ("gateway",), f"unknown xor split '{c.gateway}'"
                                                 f"{_suggest(c.gateway, spec.gateways)}", "unknown_gateway"))
                elif c.probabilities is not None:
                    rest = [b.to for b in gw.branches if b.when is None]
                    extra = [t for t in c.probabilities if t not in rest]
                    missing = [t for t in rest if t not in c.probabilities]
                    if extra or missing:
                        problems.append(smap.problem(loc + ("probabilities",), "give a probability for each branch "
                                                     f"without 'when' of '{c.gateway}': {', '.join(rest)}",
                                                     "bad_branches"))
                elif c.conditions is not None:
                    names = expr_names(attribute_types(spec))
                    with_when = [b.to for b in gw.branches if b.when is not None]
                    for to, expr in c.conditions.items():
                        if to not in with_when:
                            problems.append(smap.problem(loc + ("conditions", to), f"'{to}' is not a branch of "
                                                         f"'{c.gateway}' with a 'when'; a drift changes existing "
                                                         "conditions" + (f" ({', '.join(with_when)})"
                                                                         if with_when else ""),
                                                         "bad_branches", at_key=True))
                        else:
                            compile_at(smap, loc + ("conditions", to), expr, names, problems, expect="bool")
            if c.duration is not None:
                for msg in check_units(c.duration, need_units=True):
                    problems.append(smap.problem(loc + ("duration",), msg, "unit_missing"))
    return problems


def check_quality(loaded: LoadedProcess, types: dict[str, str]) -> list[Problem]:
    """``data_quality:``: each field is a case attribute, and a fault that makes text names a text one."""
    problems: list[Problem] = []
    for i, f in enumerate(loaded.spec.data_quality):
        loc = ("data_quality", i)
        t = types.get(f.field)
        if t is None:
            problems.append(loaded.smap.problem(loc + ("field",), f"unknown attribute '{f.field}'"
                                                f"{_suggest(f.field, types)}", "unknown_attribute"))
        elif f.fault in TEXT_ONLY and t not in ("string", "any"):
            problems.append(loaded.smap.problem(loc + ("fault",), f"'{f.field}' is a {t} column, which cannot "
                                                f"hold a {f.fault} (text); use 'missing', or a text attribute",
                                                "not_text"))
    return problems


def check_exceptions(loaded: LoadedProcess, types: dict[str, str]) -> list[Problem]:
    """Names (activities, roles, attributes) with did-you-mean, conditions, and each type's own checks."""
    spec, smap = loaded.spec, loaded.smap
    problems: list[Problem] = []
    names = exception_names(types)
    seen: dict[str, tuple[str, int]] = {}
    entries = [("exceptions", i, x) for i, x in enumerate(spec.exceptions)]
    entries += [("near_misses", i, x) for i, x in enumerate(spec.near_misses)]
    for section, i, x in entries:
        loc: tuple[str | int, ...] = (section, i)
        prev = seen.setdefault(x.label, (section, i))
        if prev != (section, i):
            problems.append(smap.problem(loc + (("name",) if x.name else ("type",)), f"exception name '{x.label}' "
                                         f"is used twice (also {prev[0]}[{prev[1]}]); give each a 'name'",
                                         "duplicate_name"))
        if x.money is not None and types.get(x.money) not in ("number", "integer"):
            problems.append(smap.problem(loc + ("money",), f"'money' must name a number attribute, not '{x.money}'"
                                         f"{_suggest(x.money, types) if x.money not in types else ''}",
                                         "not_a_number"))
        for a in getattr(x, "attributes", None) or {}:
            if a not in types:
                problems.append(smap.problem(loc + ("attributes", a), f"unknown attribute '{a}'"
                                             f"{_suggest(a, types)}", "unknown_attribute"))
        for f in x.activity_fields:
            a = getattr(x, f)
            if a not in spec.activities:
                problems.append(smap.problem(loc + (f,), f"unknown activity '{a}'{_suggest(a, spec.activities)}",
                                             "unknown_activity"))
        for f in x.role_fields:
            r = getattr(x, f)
            if r is not None and r not in spec.roles:
                problems.append(smap.problem(loc + (f,), f"unknown role '{r}'{_suggest(r, spec.roles)}",
                                             "unknown_role"))
        for f in x.attribute_fields:
            a = getattr(x, f)
            if a not in types:
                problems.append(smap.problem(loc + (f,), f"unknown attribute '{a}'{_suggest(a, types)}",
                                             "unknown_attribute"))
            elif f in x.number_fields and types[a] not in ("number", "integer"):
                problems.append(smap.problem(loc + (f,), f"'{a}' is a {types[a]} attribute; '{x.type}' needs a "
                                             "number", "not_a_number"))
        if x.type in ("sod_violation", "wrong_role", "early_event", "late_event"):
            target = getattr(x, "activity")  # these four types all name their activity so
            act = spec.activities.get(target)
            if act is not None and act.batch is not None:
                problems.append(smap.problem(loc + ("activity",), f"'{target}' is batched: {BATCH_FIXED}, so "
                                             f"'{x.type}' cannot change them for one case", "batched_activity"))
        if x.when is not None:
            compile_at(smap, loc + ("when",), x.when, names, problems, expect="bool")
        duration = getattr(x, "duration", None)
        if duration is not None and not isinstance(duration, float) and "duration" in x.model_fields_set:
            for msg in check_units(duration, need_units=True):
                problems.append(smap.problem(loc + ("duration",), msg,
                                             "negative_duration" if "negative" in msg else "unit_missing"))
        if not problems:
            for where, msg, code in x.check(spec, types):
                problems.append(smap.problem(loc + where, msg, code))
    return problems
