"""Business documents: the ``documents:`` section checked at load, and one rendering per business object.

A document is one object record (``procsim.objects.ObjectRecord``) rendered by a sandboxed jinja2 template:
the same records the OCEL sinks write, so documents and the object-centric log agree by construction. The
template context holds the object's fields (final values), ``number``, ``created_at`` (the creating event's
time: a document is never dated before the activity that made it), ``updated_at`` (the last change, or
``created_at``), ``items`` (line items), ``totals``
(computed here from the items in Decimal cents: line totals, tax, gross), ``refs`` (the referenced objects by
type: number and fields), ``case`` (the case attributes) and the helpers ``money``, ``date``, ``datetime``,
``number``, ``percent``. Every template is rendered once at load with a sample context built from the
declared fields, so a field the object does not have is a load error with the template's name and line.
"""

from __future__ import annotations

import datetime as dt
import traceback
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import jinja2.meta
import jinja2.nodes

from procsim.documents.render import CENT, RenderError, cents, environment, render
from procsim.errors import Problem
from procsim.spec.paths import TEMPLATE_SUFFIX, check_input, project_root

if TYPE_CHECKING:
    from procsim.objects import ObjectRecord
    from procsim.spec import LoadedProcess

CONTEXT_NAMES = ("number", "document", "object_type", "case_id", "event_id", "created_at", "updated_at", "items",
                 "totals",
                 "refs", "case", "currency", "locale")
_SAMPLES: dict[str, Any] = {"float": 1234.5, "integer": 3, "string": "text", "boolean": True,
                            "time": dt.datetime(2026, 1, 5, 9, 30, tzinfo=dt.timezone.utc)}


class Document:
    """One compiled ``documents:`` entry."""

    __slots__ = ("name", "otype", "template", "path", "ext", "when", "tax_rate", "refers", "stem_suffix")

    def __init__(self, name: str, otype: str, template: jinja2.Template, path: str, when: dict[str, Any],
                 tax_rate: str | None, refers: list[str], stem_suffix: str) -> None:
        self.name = name
        self.otype = otype
        self.template = template
        self.path = path  # as the user wrote it (messages)
        self.ext = Path(path).name.removesuffix(".j2").rpartition(".")[2] or "txt"
        self.when = when
        self.tax_rate = tax_rate
        self.refers = refers
        self.stem_suffix = stem_suffix  # "" or "-<name>" when several documents render the same object type


class DocumentSet:
    """The compiled documents of a process, by object type, and the context each object renders with."""

    def __init__(self, locale: str, by_type: dict[str, list[Document]]) -> None:
        self.locale = locale
        self.by_type = by_type

    def context(self, doc: Document, obj: ObjectRecord, by_id: dict[str, ObjectRecord]) -> dict[str, Any]:
        values = obj.current()
        items = []
        net = Decimal("0.00")
        line_tax: Decimal | None = None  # drawn line items (procsim.lineitems) carry their own rounded tax
        for it in obj.items:
            iv = it.current()
            qty, price = iv.get("quantity"), iv.get("unit_price")
            if "line_net" in iv:
                total = cents(iv["line_net"])
                for k in ("unit_price", "line_net", "line_tax", "line_gross"):
                    iv[k] = cents(iv[k])
                line_tax = (line_tax or Decimal("0.00")) + iv["line_tax"]
            elif "line_total" in iv:
                total = cents(iv["line_total"])
            elif qty is not None and price is not None:
                total = cents(Decimal(str(price)) * Decimal(str(qty)))
            else:
                total = Decimal(0)
            iv["line_total"] = total
            iv["number"] = it.id
            items.append(iv)
            net += total
        rate = Decimal(str(values.get(doc.tax_rate, 0) or 0)) if doc.tax_rate else Decimal(0)
        tax = cents(net * rate)
        if line_tax is not None:
            # taxed per line, rounded per line: the total tax is the sum of the printed line taxes; one rate
            # when every line has it, else None (print the rate per line)
            tax = line_tax
            rates = {Decimal(str(it["tax_rate"])) for it in items}
            rate = rates.pop() if len(rates) == 1 else None  # type: ignore[assignment]
        refs: dict[str, Any] = dict.fromkeys(doc.refers)
        for target, qualifier in obj.links:
            if qualifier == "refers to" and target in by_id:
                t = by_id[target]
                refs[t.type] = {**t.current(), "number": t.id, "created_at": dt.datetime.fromisoformat(t.time)}
        case = by_id.get(obj.case_id)
        created = dt.datetime.fromisoformat(obj.time)
        ctx = dict(values)
        ctx.update(number=obj.id, document=doc.name, object_type=obj.type, case_id=obj.case_id,
                   event_id=obj.event_id, created_at=created,
                   updated_at=dt.datetime.fromisoformat(obj.changes[-1][0]) if obj.changes else created, items=items,
                   totals={"net": net, "tax_rate": rate, "tax": tax, "gross": net + tax}, refs=refs,
                   case=case.current() if case is not None else {}, locale=self.locale)
        ctx.setdefault("currency", values.get("currency") or None)
        return ctx

    def wanted(self, doc: Document, obj: ObjectRecord) -> bool:
        if not doc.when:
            return True
        values = obj.current()
        return all(values.get(k) == v for k, v in doc.when.items())

    def render(self, doc: Document, ctx: dict[str, Any]) -> str:
        try:
            return render(doc.template, ctx)
        except (jinja2.TemplateError, ArithmeticError, TypeError, ValueError, KeyError) as e:
            line = _template_line(e, doc.template.filename)
            where = f"{doc.path}:{line}" if line else doc.path
            raise RenderError(f"{where}: documents.{doc.name}: rendering {ctx['number']} failed: "
                              f"{_message(e)}") from None


def _message(e: BaseException) -> str:
    return str(e) if isinstance(e, jinja2.TemplateError) else f"{type(e).__name__}: {e}"


def _template_line(e: BaseException, filename: str | None) -> int | None:
    """The template line an error was raised at (jinja rewrites tracebacks to point into the template)."""
    line = None
    for frame in traceback.extract_tb(e.__traceback__):
        if filename and frame.filename == filename:
            line = frame.lineno
    return line


def _sample(fields: list[tuple[str, str]]) -> dict[str, Any]:
    return {n: _SAMPLES.get(t, "text") for n, t in fields}


def check_documents(loaded: LoadedProcess, types: dict[str, str]) -> list[Problem]:
    """Check the ``documents:`` section (objects, template files, syntax, fields used) and attach the compiled
    set to the spec (``spec._documents``), for the ``documents`` sink."""
    from procsim.objects import CASE_TYPE, ObjectModel
    from procsim.errors import suggest as _suggest

    spec, smap = loaded.spec, loaded.smap
    problems: list[Problem] = []
    if not spec.documents:
        return problems
    base = loaded.path.resolve().parent
    root = loaded.root or project_root(loaded.path)
    env = environment(spec.process.locale)
    try:
        otypes = dict(ObjectModel(loaded, types).object_types)
    except Exception:  # noqa: BLE001 - the object checks report what is wrong with the objects
        otypes = {}
    by_type: dict[str, list[Document]] = {}
    counts: dict[str, int] = {}
    for d in spec.documents.values():
        counts[d.object] = counts.get(d.object, 0) + 1
    for name, d in spec.documents.items():
        loc = ("documents", name)
        o = spec.objects.get(d.object)
        if o is None:
            problems.append(smap.problem(loc + ("object",), f"unknown object '{d.object}'"
                                         f"{_suggest(d.object, spec.objects)}", "unknown_object"))
            continue
        fields = otypes.get(d.object, [])
        fnames = [f for f, _ in fields]
        for k in d.when:
            if k not in fnames:
                problems.append(smap.problem(loc + ("when", k), f"'{k}' is not a field of {d.object}"
                                             f"{_suggest(k, fnames)}", "unknown_field", at_key=True))
        if d.tax_rate is not None and d.tax_rate not in fnames:
            problems.append(smap.problem(loc + ("tax_rate",), f"'{d.tax_rate}' is not a field of {d.object}"
                                         f"{_suggest(d.tax_rate, fnames)}", "unknown_field"))
        tpath, why, code = check_input(base, d.template, root, what="template", suffix=TEMPLATE_SUFFIX)
        if tpath is None:
            problems.append(smap.problem(loc + ("template",), why,
                                         "template_not_found" if code == "not_found" else code))
            continue
        display = _display(tpath)
        try:
            source = tpath.read_text(encoding="utf-8")
            tree = env.parse(source, name=display, filename=str(tpath))
            compiled = env.compile(source, name=display, filename=str(tpath))
            template = env.template_class.from_code(env, compiled, env.make_globals(None))
        except jinja2.TemplateSyntaxError as e:
            problems.append(Problem(display, e.lineno or 1, 1, f"documents.{name}", e.message or str(e),
                                    "template_syntax"))
            continue
        except (OSError, UnicodeDecodeError) as e:
            problems.append(smap.problem(loc + ("template",), f"cannot read template {d.template}: {e}",
                                         "template_unreadable"))
            continue
        known = set(fnames) | set(CONTEXT_NAMES) | set(env.globals)
        bad = False
        for var in sorted(jinja2.meta.find_undeclared_variables(tree)):
            if var not in known:
                line = next((n.lineno for n in tree.find_all(jinja2.nodes.Name) if n.name == var), 1)
                problems.append(Problem(display, line, 1, f"documents.{name}", f"'{var}' is not a field of "
                                        f"{d.object}{_suggest(var, sorted(known))}", "unknown_field"))
                bad = True
        lines = o.lines
        item_fields = otypes.get(lines.item if lines is not None else f"{d.object}_line", []) if (
            lines is not None or o.line_items) else []
        doc = Document(name, d.object, template, d.template, dict(d.when), d.tax_rate, list(o.refers_to),
                       "" if counts[d.object] == 1 else f"-{name}")
        if not bad:
            problems += _try_sample(doc, display, fields, item_fields, otypes, spec, env.globals, CASE_TYPE)
        by_type.setdefault(d.object, []).append(doc)
    spec._documents = DocumentSet(spec.process.locale, by_type)
    return problems


def _try_sample(doc: Document, display: str, fields: list[tuple[str, str]], item_fields: list[tuple[str, str]],
                otypes: dict[str, list[tuple[str, str]]], spec: Any, helpers: Any, case_type: str) -> list[Problem]:
    """Render once with sample values of every declared field: a field the object lacks fails here."""
    items = [{**_sample(item_fields), "line": k, "number": f"X-1/{k}", "line_total": CENT * 100 * k}
             for k in (1, 2)] if item_fields else []
    net = sum((i["line_total"] for i in items), Decimal(0))
    refs = {r: {**_sample(otypes.get(r, [])), "number": "X-2",
                "created_at": _SAMPLES["time"]} for r in doc.refers}
    ctx = {**_sample(fields), "number": "X-1", "document": doc.name, "object_type": doc.otype, "case_id": "C1",
           "event_id": "E1", "created_at": _SAMPLES["time"], "updated_at": _SAMPLES["time"], "items": items,
           "totals": {"net": net, "tax_rate": Decimal("0.19"), "tax": cents(net * Decimal("0.19")),
                      "gross": net + cents(net * Decimal("0.19"))},
           "refs": refs, "case": _sample(otypes.get(case_type, [])), "locale": spec.process.locale}
    ctx.setdefault("currency", None)
    try:
        render(doc.template, ctx)
    except (jinja2.TemplateError, ArithmeticError, TypeError, ValueError, KeyError) as e:
        line = _template_line(e, doc.template.filename) or 1
        msg = _message(e)
        if isinstance(e, jinja2.UndefinedError):
            msg += f" (the fields of {doc.otype}: {', '.join(n for n, _ in fields) or 'none'})"
        return [Problem(display, line, 1, f"documents.{doc.name}", msg, "template_error")]
    return []


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


__all__ = ["DocumentSet", "Document", "check_documents", "RenderError"]
