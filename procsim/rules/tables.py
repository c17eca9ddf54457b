"""DMN-style decision tables: compiling compact rows to closures, and the hit policies.

This module owns decision tables. A table has input expressions (compiled with
:func:`procsim.rules.expr.compile_expr`), output names, and rows of *input cells* (DMN unary tests) then
*output cells*. Every cell is compiled once at load to a closure ``test(value, env) -> bool``; evaluating
a table computes each input once and walks the rows.

Input cells (a cell string may have spaces anywhere between tokens):

=========================  ==========================================================
``-``, ``*``, ``""``, null  matches anything
``1000``, ``'DE'``, true    equality (YAML numbers and bools too); any expression works: ``limit``
``> 1000``, ``<= 5``        comparison; also ``>=``, ``<``, ``!= 'DE'``, ``= 'DE'``
``[1000..5000]``            range; ``(`` / ``)`` or ``]a..`` / ``..b[`` exclude an end (DMN)
``'DE', 'AT'``              any of the tests (each item may be any form above)
``not('DE', 'AT')``         none of the tests
=========================  ==========================================================

Output cells are literals (YAML scalars; a plain string is a string), or an expression after ``=``:
``"= amount * 0.02"``. Hit policies: ``first``, ``unique`` (two matching rows is a run-time error, and two
rows with identical input cells a load error), ``priority`` (the match whose first output comes earliest
in ``priorities`` wins; ties go to the earlier row), ``collect`` (all matches, optionally aggregated with
``sum``/``min``/``max``/``count`` over the single output into ``{output: value}``).

Indices: :attr:`TableError.row`/:attr:`~TableError.col` and :meth:`DecisionTable.matching_rows` are 0-based;
messages meant for people count rows from 1. :attr:`TableError.offset` is the 0-based character offset
inside the cell's string (0 for non-string cells), or inside the input expression when ``row`` is None.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeAlias, cast

from procsim.errors import ProcsimError, suggest
from procsim.rules.expr import Compiled, ExprError, ExprRuntimeError, Type, compare_problem, compile_expr, describe_error

__all__ = ["AGGREGATES", "HIT_POLICIES", "Aggregate", "DecisionTable", "HitPolicy", "TableError", "compile_table"]

HitPolicy: TypeAlias = Literal["first", "unique", "priority", "collect"]
Aggregate: TypeAlias = Literal[None, "sum", "min", "max", "count"]
HIT_POLICIES: Final = ("first", "unique", "priority", "collect")
AGGREGATES: Final = ("sum", "min", "max", "count")

Env: TypeAlias = Mapping[str, Any]
Test: TypeAlias = Callable[[Any, Env], bool]


class TableError(ProcsimError):
    """A problem in a table found at load. ``row``/``col`` are 0-based (None: not about one row/cell)."""

    exit_code = 2

    def __init__(self, msg: str, row: int | None = None, col: int | None = None, offset: int = 0, code: str = "invalid") -> None:
        super().__init__(msg, row, col, offset, code)
        self.msg, self.row, self.col, self.offset, self.code = msg, row, col, offset, code

    def __str__(self) -> str:
        return self.msg


@dataclass(frozen=True, slots=True)
class _Row:
    tests: tuple[tuple[int, Test], ...]  # (input index, test); cells matching anything are left out
    outputs: tuple[tuple[str, Any, Callable[[Env], Any] | None], ...]  # (name, constant, expression fn)
    const: dict[str, Any] | None  # all outputs when every one is a constant
    rank: int | None  # priority rank of a constant first output


@dataclass(frozen=True)
class DecisionTable:
    """A compiled decision table; build with :func:`compile_table`."""

    id: str
    hit: HitPolicy
    aggregate: Aggregate
    inputs: tuple[Compiled, ...]
    outputs: tuple[str, ...]
    priorities: tuple[Any, ...] | None = None
    _rows: tuple[_Row, ...] = field(default=(), repr=False, compare=False)
    _rank: Mapping[Any, int] = field(default_factory=dict, repr=False, compare=False)
    _fns: tuple[Callable[[Env], Any], ...] = field(default=(), repr=False, compare=False)
    reads: tuple[Compiled, ...] = field(default=(), repr=False, compare=False)  # every expression in the table
    # when every row's first output is a constant: per row, that value and its (priority rank, row) key
    _const_values: tuple[Any, ...] | None = field(init=False, default=None, repr=False, compare=False)
    _const_ranks: tuple[tuple[int, int], ...] | None = field(init=False, default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self._rows and all(row.const is not None for row in self._rows):
            first = self.outputs[0]
            object.__setattr__(self, "_const_values", tuple(row.const[first] for row in self._rows))  # type: ignore[index]
        if self._rows and all(row.rank is not None for row in self._rows):
            object.__setattr__(self, "_const_ranks", tuple((row.rank, i) for i, row in enumerate(self._rows)))

    def evaluate(self, env: Env) -> dict[str, Any] | list[dict[str, Any]] | None:
        """The table's result for ``env``: a dict (first/unique/priority/aggregated collect), a list of
        dicts (collect), or None when no row matches (for every hit policy)."""
        return self.evaluate_traced(env)[0]

    def matching_rows(self, env: Env) -> list[int]:
        """0-based indices of every row whose input tests all hold, whatever the hit policy."""
        return self._match(env, False)

    def evaluate_traced(self, env: Env) -> tuple[dict[str, Any] | list[dict[str, Any]] | None, list[int]]:
        """``(result, rows)``: the result of :meth:`evaluate` and the rows that produced it (the fired rows)."""
        hit = self.hit
        rows = self._match(env, hit == "first")
        if not rows:
            return None, []
        if hit == "first":
            return self._output(rows[0], env), rows
        if hit == "unique":
            if len(rows) > 1:
                listed = ", ".join(str(i + 1) for i in rows[:-1]) + f" and {rows[-1] + 1}"
                both = "both" if len(rows) == 2 else "all"
                raise ExprRuntimeError(f"hit policy unique, but rows {listed} {both} match", where=f"table '{self.id}'")
            return self._output(rows[0], env), rows
        if hit == "priority":
            ranks = self._const_ranks
            if ranks is not None:
                best = min(rows, key=ranks.__getitem__)
            else:
                best = min(rows, key=lambda i: (self._row_rank(i, env), i))
            return self._output(best, env), [best]
        name = self.outputs[0]
        if self.aggregate is None:
            return [self._output(i, env) for i in rows], rows
        if self.aggregate == "count":
            return {name: len(rows)}, rows
        consts = self._const_values
        if consts is not None:
            values = [consts[i] for i in rows]
        else:
            values = [self._output(i, env)[name] for i in rows]
        try:
            if self.aggregate == "sum":
                # fsum is exact, so the total does not depend on row order; ints stay ints
                total: Any = math.fsum(values) if any(isinstance(v, float) for v in values) else sum(values)
            else:
                total = min(values) if self.aggregate == "min" else max(values)
        except Exception as exc:
            raise ExprRuntimeError(describe_error(exc), where=f"table '{self.id}', aggregate {self.aggregate}") from exc
        return {name: total}, rows

    # -- internals

    def _match(self, env: Env, first_only: bool) -> list[int]:
        i = -1
        try:
            vals = [f(env) for f in self._fns]
            out: list[int] = []
            for i, row in enumerate(self._rows):
                for j, test in row.tests:
                    if not test(vals[j], env):
                        break
                else:
                    out.append(i)
                    if first_only:
                        break
            return out
        except Exception as exc:
            raise self._runtime(exc, env, i) from exc

    def _runtime(self, exc: Exception, env: Env, row: int) -> ExprRuntimeError:
        if row >= 0:
            return ExprRuntimeError(describe_error(exc), where=f"table '{self.id}', row {row + 1}")
        for c in self.inputs:  # error path only: find which input failed
            try:
                c.fn(env)
            except Exception:
                return ExprRuntimeError(describe_error(exc), where=f"table '{self.id}', input: {c.source}")
        return ExprRuntimeError(describe_error(exc), where=f"table '{self.id}'")

    def _output(self, i: int, env: Env) -> dict[str, Any]:
        row = self._rows[i]
        if row.const is not None:
            return dict(row.const)
        out: dict[str, Any] = {}
        for name, value, fn in row.outputs:
            if fn is None:
                out[name] = value
                continue
            try:
                out[name] = fn(env)
            except Exception as exc:
                raise ExprRuntimeError(describe_error(exc), where=f"table '{self.id}', row {i + 1}, output '{name}'") from exc
        return out

    def _row_rank(self, i: int, env: Env) -> int:
        rank = self._rows[i].rank
        if rank is not None:
            return rank
        value = self._output(i, env)[self.outputs[0]]
        try:
            return self._rank[value]
        except (KeyError, TypeError):
            raise ExprRuntimeError(f"output {value!r} is not in priorities", where=f"table '{self.id}', row {i + 1}") from None


# ----------------------------------------------------------------------------------- cell parsing


def _split_top(text: str, sep: str) -> list[tuple[str, int]]:
    """Split ``text`` at ``sep`` outside quotes and brackets; each piece with its start offset."""
    pieces: list[tuple[str, int]] = []
    depth, quote, start, i = 0, "", 0, 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth <= 0 and text.startswith(sep, i):
            pieces.append((text[start:i], start))
            start = i + len(sep)
            i = start
            continue
        i += 1
    pieces.append((text[start:], start))
    return pieces


_COMPARE: Final = re.compile(r"\s*(<=|>=|!=|==|<|>|=)")
_NOT: Final = re.compile(r"\s*not\s*\((.*)\)\s*", re.S)
_OPS: Final[dict[str, Callable[[Any, Any], Any]]] = {
    "=": operator.eq, "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}
# one closure per operator with a constant endpoint: the common case, kept to a single frame
_CONST_TESTS: Final[dict[str, Callable[[Any], Test]]] = {
    "=": lambda c: lambda v, env: v == c,
    "!=": lambda c: lambda v, env: v != c,
    "<": lambda c: lambda v, env: v < c,
    "<=": lambda c: lambda v, env: v <= c,
    ">": lambda c: lambda v, env: v > c,
    ">=": lambda c: lambda v, env: v >= c,
}
_CONST_TESTS["=="] = _CONST_TESTS["="]


_NO: Final = object()  # "not a constant" marker


def _const_key(value: Any) -> tuple[Any, ...]:
    # bools apart from numbers: 'true' and '1' are different cells even though True == 1
    return ("const", type(value) is bool, value) if _hashable(value) else ("const", "repr", repr(value))


class _CellCompiler:
    """Compiles the cells of one input column; raises ExprError with offsets inside the cell."""

    def __init__(self, input_: Compiled, names: Mapping[str, Type], seen: list[Compiled]) -> None:
        self.input, self.names, self.seen = input_, names, seen

    def endpoint(self, text: str, start: int, ordering: bool) -> tuple[Compiled, Any, tuple[Any, ...]]:
        """Compile one endpoint expression; returns (compiled, constant or _NO, canonical key)."""
        try:
            c = compile_expr(text, self.names)
        except ExprError as e:
            msg = e.msg
            word = text.strip()
            if e.code == "unknown_name" and word.isidentifier() and "did you mean" not in msg:
                msg += f"; strings need quotes: '{word}'"
            raise ExprError(msg, start + e.offset, e.code) from None
        self.seen.append(c)
        problem = compare_problem(self.input.type, c.type, ordering)
        if problem:
            raise ExprError(problem, start + len(text) - len(text.lstrip()), "type_error")
        if not c.names:  # constant: compile_expr folded it, evaluating it cannot fail
            value = c.fn({})
            return c, value, _const_key(value)
        return c, _NO, ("expr", " ".join(text.split()))

    def cell(self, text: str) -> tuple[Test | None, tuple[Any, ...]]:
        """A whole input cell: None test means 'matches anything'."""
        if text.strip() in ("", "-", "*"):
            return None, ("any",)
        m = _NOT.fullmatch(text)
        if m:
            inner, key = self.items(m.group(1), m.start(1))
            return (lambda v, env: not inner(v, env)), ("not", key)
        return self.items(text, 0)

    def items(self, text: str, base: int) -> tuple[Test, tuple[Any, ...]]:
        pieces = _split_top(text, ",")
        parsed = [self.item(t, base + s) for t, s in pieces]
        if len(parsed) == 1:
            return parsed[0][:2]
        tests = tuple(p[0] for p in parsed)
        key = ("any-of", tuple(sorted((p[1] for p in parsed), key=repr)))
        consts = tuple(p[2] for p in parsed)
        if all(c is not _NO for c in consts):  # a list of literals: one membership test
            return (lambda v, env: v in consts), key
        return (lambda v, env: any(t(v, env) for t in tests)), key

    def item(self, text: str, start: int) -> tuple[Test, tuple[Any, ...], Any]:
        """One unary test; the third value is the constant of a plain equality test, else _NO."""
        body = text.strip()
        lead = start + len(text) - len(text.lstrip())
        if not body:
            raise ExprError("empty test", start, "syntax")
        if body[0] in "[(]" and body[-1] in "])[":
            parts = _split_top(body[1:-1], "..")
            if len(parts) == 2:
                return self.range(body, parts, lead)
        m = _COMPARE.match(text)
        if m:
            sym = m.group(1)
            equal = sym in ("=", "==")
            ep, value, key = self.endpoint(text[m.end():], start + m.end(), not equal and sym != "!=")
            kind = "" if equal else sym  # '= x' is the same test as 'x'
            if value is not _NO:
                return _CONST_TESTS[sym](value), (kind, key), (value if equal else _NO)
            op, f = _OPS[sym], ep.fn
            return (lambda v, env: op(v, f(env))), (kind, key), _NO
        ep, value, key = self.endpoint(text, start, False)
        if value is not _NO:
            return _CONST_TESTS["="](value), ("", key), value
        f = ep.fn
        return (lambda v, env: v == f(env)), ("", key), _NO

    def range(self, body: str, parts: list[tuple[str, int]], lead: int) -> tuple[Test, tuple[Any, ...], Any]:
        lo_closed, hi_closed = body[0] == "[", body[-1] == "]"
        (lo_text, lo_at), (hi_text, hi_at) = parts
        lo, lo_v, lo_key = self.endpoint(lo_text, lead + 1 + lo_at, True)
        hi, hi_v, hi_key = self.endpoint(hi_text, lead + 1 + hi_at, True)
        key = ("range", lo_closed, lo_key, hi_key, hi_closed)
        lower = operator.le if lo_closed else operator.lt
        upper = operator.le if hi_closed else operator.lt
        if lo_v is not _NO and hi_v is not _NO:
            try:
                empty = not lower(lo_v, hi_v) if lo_closed and hi_closed else not lo_v < hi_v
            except TypeError:
                raise ExprError(f"range ends cannot be compared: {lo_v!r} and {hi_v!r}", lead, "type_error") from None
            if empty:
                raise ExprError(f"empty range: {body}", lead, "range")
            a, b = lo_v, hi_v
            test: Test
            if lo_closed and hi_closed:
                test = lambda v, env: a <= v <= b  # noqa: E731
            elif lo_closed:
                test = lambda v, env: a <= v < b  # noqa: E731
            elif hi_closed:
                test = lambda v, env: a < v <= b  # noqa: E731
            else:
                test = lambda v, env: a < v < b  # noqa: E731
            return test, key, _NO
        lf, hf = lo.fn, hi.fn
        return (lambda v, env: lower(lf(env), v) and upper(v, hf(env))), key, _NO


# ----------------------------------------------------------------------------------------- compile


def _choice(word: Any, choices: Sequence[str]) -> str:
    return suggest(str(word), choices, f" (one of: {', '.join(choices)})")


def compile_table(
    id: str,
    inputs: list[str],
    outputs: list[str],
    rows: list[list[Any]],
    hit: str = "first",
    aggregate: str | None = None,
    priorities: list[Any] | None = None,
    *,
    names: Mapping[str, Type],
) -> DecisionTable:
    """Check and compile a decision table; raises :class:`TableError` for the first problem found."""
    if hit not in HIT_POLICIES:
        raise TableError(f"unknown hit policy '{hit}'{_choice(hit, HIT_POLICIES)}", code="hit")
    if aggregate is not None and aggregate not in AGGREGATES:
        raise TableError(f"unknown aggregate '{aggregate}'{_choice(aggregate, AGGREGATES)}", code="aggregate")
    if aggregate is not None and hit != "collect":
        raise TableError(f"aggregate '{aggregate}' needs hit policy collect, not {hit}", code="aggregate")
    if not outputs:
        raise TableError("a table needs at least one output", code="outputs")
    for k, name in enumerate(outputs):
        if not isinstance(name, str) or not name.isidentifier():
            raise TableError(f"output name {name!r} must be an identifier", col=len(inputs) + k, code="outputs")
        if name in outputs[:k]:
            raise TableError(f"output '{name}' is listed twice", col=len(inputs) + k, code="outputs")
    if aggregate is not None and len(outputs) != 1:
        raise TableError(f"aggregate '{aggregate}' needs exactly one output, got {len(outputs)}", code="aggregate")
    rank: dict[Any, int] = {}
    if hit == "priority":
        if not priorities:
            raise TableError("hit policy priority needs a list of priorities (values of the first output, most important first)", code="priority")
        for k, p in enumerate(priorities):
            try:
                if p in rank:
                    raise TableError(f"priority {p!r} is listed twice", code="priority")
                rank[p] = k
            except TypeError:
                raise TableError(f"priority {p!r} must be a string, number or bool", code="priority") from None
    elif priorities is not None:
        raise TableError(f"priorities are only used with hit policy priority, not {hit}", code="priority")
    if not rows:
        raise TableError("a table needs at least one row", code="empty")

    compiled_inputs: list[Compiled] = []
    for k, src in enumerate(inputs):
        try:
            compiled_inputs.append(compile_expr(src, names))
        except ExprError as e:
            raise TableError(e.msg, None, k, e.offset, e.code) from None
    seen = list(compiled_inputs)  # every expression of the table, for what it reads
    columns = [_CellCompiler(c, names, seen) for c in compiled_inputs]
    n_in, width = len(inputs), len(inputs) + len(outputs)

    built: list[_Row] = []
    keys: dict[tuple[Any, ...], int] = {}
    for r, row in enumerate(rows):
        if not isinstance(row, (list, tuple)):
            raise TableError(f"row {r + 1} must be a list of cells", r, code="row")
        if len(row) != width:
            raise TableError(
                f"row {r + 1} has {len(row)} cells; expected {width} ({n_in} inputs, {len(outputs)} outputs)", r, code="row_length"
            )
        tests: list[tuple[int, Test]] = []
        row_key: list[tuple[Any, ...]] = []
        for k in range(n_in):
            test, key = _input_cell(columns[k], row[k], r, k)
            row_key.append(key)
            if test is not None:
                tests.append((k, test))
        outs = tuple(_output_cell(row[n_in + k], name, r, n_in + k, names, aggregate, seen)
                     for k, name in enumerate(outputs))
        const = {name: value for name, value, fn in outs} if all(fn is None for _, _, fn in outs) else None
        row_rank = None
        if hit == "priority" and outs[0][2] is None:
            row_rank = rank.get(outs[0][1]) if _hashable(outs[0][1]) else None
            if row_rank is None:
                raise TableError(f"output {outs[0][1]!r} is not in priorities", r, n_in, code="priority")
        if hit == "unique":
            tkey = tuple(row_key)
            if tkey in keys:
                raise TableError(
                    f"row {r + 1} has the same input tests as row {keys[tkey] + 1}; hit policy unique lets only one row match",
                    r, None, 0, "overlap",
                )
            keys[tkey] = r
        built.append(_Row(tuple(tests), outs, const, row_rank))
    return DecisionTable(
        id, cast(HitPolicy, hit), cast(Aggregate, aggregate), tuple(compiled_inputs), tuple(outputs),
        tuple(priorities) if priorities is not None else None, tuple(built), rank, tuple(c.fn for c in compiled_inputs),
        tuple(seen),
    )


def _hashable(v: Any) -> bool:
    try:
        hash(v)
    except TypeError:
        return False
    return True


def _input_cell(column: _CellCompiler, cell: Any, r: int, k: int) -> tuple[Test | None, tuple[Any, ...]]:
    if cell is None:
        return None, ("any",)
    try:
        if isinstance(cell, str):
            return column.cell(cell)
        if isinstance(cell, (bool, int, float)):
            t = "bool" if isinstance(cell, bool) else "number"
            problem = compare_problem(column.input.type, t, False)
            if problem:
                raise ExprError(problem, 0, "type_error")
            return _CONST_TESTS["="](cell), ("", _const_key(cell))
    except ExprError as e:
        raise TableError(e.msg, r, k, e.offset, e.code) from None
    raise TableError(f"an input cell must be a string, number, bool or null, got {type(cell).__name__}", r, k, 0, "cell")


def _output_cell(
    cell: Any, name: str, r: int, k: int, names: Mapping[str, Type], aggregate: str | None, seen: list[Compiled]
) -> tuple[str, Any, Callable[[Env], Any] | None]:
    numeric = aggregate in ("sum", "min", "max")
    if isinstance(cell, str) and cell.lstrip().startswith("="):
        at = cell.index("=") + 1
        try:
            c = compile_expr(cell[at:], names)
        except ExprError as e:
            raise TableError(e.msg, r, k, at + e.offset, e.code) from None
        seen.append(c)
        if numeric and c.type not in ("number", "duration", "any"):
            raise TableError(f"aggregate '{aggregate}' needs numbers, got {c.type}", r, k, at, "type_error")
        if not c.names:  # constant: folded by compile_expr, so evaluating it cannot fail
            value = c.fn({})
            if not isinstance(value, list):  # a list would be shared by every result; keep it per call
                return name, value, None
        return name, None, c.fn
    if cell is not None and not isinstance(cell, (str, bool, int, float)):
        raise TableError(f"an output cell must be a string, number, bool or null (use '= [...]' for a list), got {type(cell).__name__}", r, k, 0, "cell")
    if numeric and (isinstance(cell, bool) or not isinstance(cell, (int, float))):
        raise TableError(f"aggregate '{aggregate}' needs numbers, got {cell!r}", r, k, 0, "type_error")
    return name, cell, None
