"""Which context names each rule evaluation point sets, and conditions decided by that alone.

Owns the table of evaluation points (docs/rules.md, "Order of evaluation") as data, and the static check that
refuses a condition that can never hold there (``resource == 'Bob'`` in a queue rule: ``resource`` is null
before the case queues) and warns about one that always holds. The decision is made on the expression's
syntax tree with the names fixed at that point (null, or a known constant such as ``activity``), never by
sampling cases: a condition is decided only when the fixed names alone decide it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from procsim.rules.expr import compile_expr

__all__ = ["Point", "decide"]

_CONSTANT_WORDS = frozenset({"true", "false", "null", "True", "False", "None"})


@dataclass(frozen=True)
class Point:
    """An evaluation point: what runs there (for messages) and the context names it fixes."""

    what: str  # "when the case starts", "when duration rules run for 'approve'" ...
    fixed: tuple[tuple[str, Any], ...]  # (name, value) pairs known at this point: null or a constant
    why: tuple[tuple[str, str], ...] = ()  # (name, reason) added to the message when that name decides

    def reason(self, names: list[str]) -> str:
        fixed, why = dict(self.fixed), dict(self.why)
        if not names:
            return "it reads nothing that changes from case to case"
        parts = []
        for n in names:
            v = fixed[n]
            text = f"'{n}' is null" if v is None else f"'{n}' is {v!r}"
            parts.append(text + (f" ({why[n]})" if n in why else ""))
        return f"{' and '.join(parts)} {self.what}"


def _names(node: ast.AST) -> set[str]:
    """The names an expression reads (not function names, not the constant words)."""
    funcs = {id(n.func) for n in ast.walk(node) if isinstance(n, ast.Call)}
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and id(n) not in funcs
            and n.id not in _CONSTANT_WORDS}


def _field_bases(node: ast.AST) -> list[ast.Name]:
    """The names read through a field (``resource`` in ``resource.seniority`` or ``resource['seniority']``),
    where they are always evaluated: not inside ``and``/``or`` or ``... if ... else ...``, which may skip them."""
    out = []
    todo = [node]
    while todo:
        n = todo.pop()
        if isinstance(n, (ast.Attribute, ast.Subscript)) and isinstance(n.value, ast.Name):
            out.append(n.value)
        if not isinstance(n, (ast.BoolOp, ast.IfExp)):
            todo.extend(ast.iter_child_nodes(n))
    return out


def decide(source: str, point: Point) -> tuple[bool | None, list[str]]:
    """(True: always holds, False: never holds, None: depends on the case), with the fixed names that decided."""
    try:
        tree = ast.parse(source.translate({10: 32, 13: 32}).strip(), mode="eval")
    except SyntaxError:
        return None, []
    fixed = dict(point.fixed)
    used: list[str] = []
    result = _truth(tree.body, fixed, used)
    return result, list(dict.fromkeys(used))


def _truth(node: ast.expr, fixed: dict[str, Any], used: list[str]) -> bool | None:
    if isinstance(node, ast.BoolOp):
        vals = [_truth(v, fixed, used) for v in node.values]
        if isinstance(node.op, ast.And):
            return False if False in vals else (True if all(v is True for v in vals) else None)
        return True if True in vals else (False if all(v is False for v in vals) else None)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        v = _truth(node.operand, fixed, used)
        return None if v is None else not v
    if isinstance(node, ast.IfExp):
        t = _truth(node.test, fixed, used)
        if t is not None:
            return _truth(node.body if t else node.orelse, fixed, used)
        a, b = _truth(node.body, fixed, used), _truth(node.orelse, fixed, used)
        return a if a is not None and a == b else None
    # a field of a name that is null here (resource.seniority before anyone does the work) fails for every
    # case, whatever else the part reads: the condition can never hold there
    nulls = sorted({b.id for b in _field_bases(node) if b.id in fixed and fixed[b.id] is None})
    if nulls:
        used.extend(nulls)
        return False
    names = _names(node)
    if not names <= fixed.keys():
        return None  # reads a case value: the case decides
    # evaluated with the language's own semantics, the fixed names bound to their values
    try:
        value = compile_expr(ast.unparse(node), {n: "any" for n in names}).fn({n: fixed[n] for n in names})
    except Exception:  # noqa: BLE001 - fails at run time too: that is reported there, with the case
        return None
    used.extend(sorted(names))
    return bool(value)
