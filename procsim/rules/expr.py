"""procsim's rule-expression language: parsing, checking and compiling one expression to a closure.

This module owns the language. A source string is parsed with :func:`ast.parse` (``mode="eval"``), every
node is checked against a whitelist, names, fields, function calls and (where known) types are checked
against the declared environment, and the tree is turned *once* into nested Python closures. Nothing is
ever handed to ``eval``/``exec``/``compile``; there is no attribute access at all (``a.b`` is the item
lookup ``a["b"]`` on a Mapping), no method calls, and calls reach only :data:`procsim.rules.functions.FUNCTIONS`.

Semantics worth knowing:

* ``and``/``or`` behave like Python's (they return an operand); ``not`` and comparisons return bools.
* ``true``/``false``/``null`` are spellings of ``True``/``False``/``None`` and cannot be used as names.
* ``**`` takes only a constant integer exponent 0..8; ``+``/``*`` refuse to build strings or lists longer
  than :data:`MAX_SEQUENCE`; ``%`` is arithmetic only (never printf formatting).
* Sub-expressions made only of constants are folded at compile time, so ``duration('2x')`` or ``1/0``
  is a compile-time :class:`ExprError` (code ``value_error``).
* ``duration`` values are numbers of seconds and mix freely with ``number``.

Offsets (:attr:`ExprError.offset`) are 0-based *character* indices into the source string. Sources are
meant to be one line; a newline (e.g. from a folded YAML string) is read as a space, so offsets stay
indices into the string exactly as given.

Speed: :attr:`Compiled.fn` is the bare fast path (no ``try`` anywhere; names are ``operator.itemgetter``
calls, comparisons with constants are single closures) and raises raw Python errors; calling the
:class:`Compiled` itself wraps every failure into :class:`ExprRuntimeError`. Callers that use ``fn`` in a
loop should wrap the loop once with :func:`describe_error`.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any, Final, TypeAlias

from procsim.errors import ProcsimError
from procsim.errors import suggest as _suggest  # the one did-you-mean
from procsim.rules.kinds import MAX_SEQUENCE, TYPES, ExprRuntimeError, Member, MemberFields, runtime_kind

__all__ = [
    "MAX_DEPTH",
    "MAX_SEQUENCE",
    "TYPES",
    "Compiled",
    "ExprError",
    "ExprRuntimeError",
    "Type",
    "compare_problem",
    "compile_expr",
    "runtime_kind",
    "describe_error",
    "type_name",
]

Type: TypeAlias = str | Mapping[str, "Type"]
"""A declared type: a name from :data:`TYPES`, or a Mapping of field name -> Type (a record)."""

MAX_DEPTH: Final = 200  # nesting limit: keeps compile (2 frames a level) below Python's recursion limit
_MAX_POW_BITS: Final = 1 << 16  # ``b ** e`` on ints refuses results over ~65k bits (``(9**8)**8...``)

Env: TypeAlias = Mapping[str, Any]
Fn: TypeAlias = Callable[[Env], Any]


class ExprError(ProcsimError):
    """A problem found while compiling an expression; ``str(e)`` is :attr:`msg`.

    ``offset`` is the 0-based column in the source where a caret belongs, ``code`` a stable identifier:
    ``syntax``, ``unknown_name``, ``unknown_field``, ``unknown_function``, ``bad_argument``, ``type_error``,
    ``forbidden``, ``too_long``, ``too_deep``, ``value_error``.
    """

    exit_code = 2

    def __init__(self, msg: str, offset: int = 0, code: str = "invalid") -> None:
        super().__init__(msg, offset, code)
        self.msg, self.offset, self.code = msg, offset, code

    def __str__(self) -> str:
        return self.msg


def describe_error(exc: BaseException) -> str:
    """A short user-facing text for a failure raised while evaluating a :attr:`Compiled.fn`."""
    if isinstance(exc, ExprRuntimeError):
        return exc.msg
    if isinstance(exc, ZeroDivisionError):
        return "division by zero"
    if isinstance(exc, KeyError):
        return f"missing value for {exc.args[0]!r}" if exc.args else "missing value"
    if isinstance(exc, IndexError):
        return "index out of range"
    if isinstance(exc, RecursionError):
        return "expression nested too deeply"
    if isinstance(exc, MemoryError):
        return "out of memory"
    if isinstance(exc, (TypeError, ValueError, OverflowError, ArithmeticError)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


@dataclass(frozen=True)
class Compiled:
    """A compiled expression. ``fn(env)`` is the fast path (raw Python errors); ``self(env)`` wraps them."""

    source: str
    fn: Fn
    names: frozenset[str]
    type: str
    # names read only through constant fields ('history.approve_requisition'), with those fields: the simulation
    # keeps only what rules read (a name read whole, or passed on, is not listed)
    fields: Mapping[str, frozenset[str]] = dataclass_field(default_factory=dict)

    def __call__(self, env: Env) -> Any:
        try:
            return self.fn(env)
        except Exception as exc:  # one handler for the whole tree, never per node
            raise ExprRuntimeError(describe_error(exc), self.source) from exc


# --------------------------------------------------------------------------------------------- types


def type_name(t: Type) -> str:
    """The name of a type for messages and checks (a record type is ``"record"``; ``resource`` with member
    attributes is a ``"string"`` that has fields)."""
    return t if isinstance(t, str) else "string" if isinstance(t, MemberFields) else "record"


_NUMERIC: Final = frozenset({"number", "duration"})


def _family(t: Type) -> str:
    name = type_name(t)
    return "number" if name in _NUMERIC else name


def compare_problem(left: Type, right: Type, ordering: bool) -> str | None:
    """Why ``left <op> right`` is a type error, or None when fine/unknown (``ordering``: < <= > >=)."""
    a, b = _family(left), _family(right)
    if a == "any" or b == "any":
        return None
    if a != b:
        return f"cannot compare {type_name(left)} with {type_name(right)}"
    if ordering and a == "record":
        return "cannot order records"
    return None


def _common(types: Sequence[Type]) -> Type:
    """The type all of ``types`` share, else ``"any"`` (numbers and durations share ``number``)."""
    first = types[0]
    if all(t == first for t in types):
        return first
    if all(type_name(t) in _NUMERIC for t in types):
        return "number"
    return "any"


# ------------------------------------------------------------------------------- guarded operators

_SEQ: Final = (str, list, tuple)


def _too_long(op: str, n: int) -> ExprRuntimeError:
    return ExprRuntimeError(f"result of '{op}' is too long ({n} items; at most {MAX_SEQUENCE})")


def _add(a: Any, b: Any) -> Any:
    if isinstance(a, _SEQ) and isinstance(b, _SEQ) and len(a) + len(b) > MAX_SEQUENCE:
        raise _too_long("+", len(a) + len(b))
    return a + b


def _mul(a: Any, b: Any) -> Any:
    if isinstance(a, _SEQ) and isinstance(b, int) and len(a) * b > MAX_SEQUENCE:
        raise _too_long("*", len(a) * b)
    if isinstance(b, _SEQ) and isinstance(a, int) and len(b) * a > MAX_SEQUENCE:
        raise _too_long("*", len(b) * a)
    return a * b


def _mod(a: Any, b: Any) -> Any:
    if isinstance(a, (str, bytes)):  # printf-style formatting can build huge strings; not part of the language
        raise ExprRuntimeError("'%' needs numbers, got string")
    return a % b


def _pow_fn(base: Fn, exp: int) -> Fn:
    def f(env: Env) -> Any:
        b = base(env)
        if type(b) is int and b.bit_length() * exp > _MAX_POW_BITS:
            raise ExprRuntimeError(f"result of '**' is too large ({b.bit_length() * exp} bits)")
        return b**exp

    return f


_ARITH: Final[dict[type[ast.operator], tuple[str, Callable[[Any, Any], Any]]]] = {
    ast.Add: ("+", operator.add),
    ast.Sub: ("-", operator.sub),
    ast.Mult: ("*", operator.mul),
    ast.Div: ("/", operator.truediv),
    ast.FloorDiv: ("//", operator.floordiv),
    ast.Mod: ("%", operator.mod),
}
# Used whenever the operand types are not both known to be numbers.
_GUARDED: Final[dict[str, Callable[[Any, Any], Any]]] = {"+": _add, "*": _mul, "%": _mod}


def _in(a: Any, b: Any) -> bool:
    return a in b


def _not_in(a: Any, b: Any) -> bool:
    return a not in b


_CMP: Final[dict[type[ast.cmpop], tuple[str, Callable[[Any, Any], Any]]]] = {
    ast.Eq: ("==", operator.eq),
    ast.NotEq: ("!=", operator.ne),
    ast.Lt: ("<", operator.lt),
    ast.LtE: ("<=", operator.le),
    ast.Gt: (">", operator.gt),
    ast.GtE: (">=", operator.ge),
    ast.In: ("in", _in),
    ast.NotIn: ("not in", _not_in),
}

# Comparison closures specialised per operator: one Python frame per comparison on the hot path.
_CMP_CONST: Final[dict[str, Callable[[Fn, Any], Fn]]] = {
    "==": lambda f, c: lambda env: f(env) == c,
    "!=": lambda f, c: lambda env: f(env) != c,
    "<": lambda f, c: lambda env: f(env) < c,
    "<=": lambda f, c: lambda env: f(env) <= c,
    ">": lambda f, c: lambda env: f(env) > c,
    ">=": lambda f, c: lambda env: f(env) >= c,
    "in": lambda f, c: lambda env: f(env) in c,
    "not in": lambda f, c: lambda env: f(env) not in c,
}
_CMP_FN: Final[dict[str, Callable[[Fn, Fn], Fn]]] = {
    "==": lambda f, g: lambda env: f(env) == g(env),
    "!=": lambda f, g: lambda env: f(env) != g(env),
    "<": lambda f, g: lambda env: f(env) < g(env),
    "<=": lambda f, g: lambda env: f(env) <= g(env),
    ">": lambda f, g: lambda env: f(env) > g(env),
    ">=": lambda f, g: lambda env: f(env) >= g(env),
    "in": lambda f, g: lambda env: f(env) in g(env),
    "not in": lambda f, g: lambda env: f(env) not in g(env),
}

_RANGES: Final[dict[tuple[str, str], Callable[[Any, Fn, Any], Fn]]] = {
    ("<", "<"): lambda lo, f, hi: lambda env: lo < f(env) < hi,
    ("<", "<="): lambda lo, f, hi: lambda env: lo < f(env) <= hi,
    ("<=", "<"): lambda lo, f, hi: lambda env: lo <= f(env) < hi,
    ("<=", "<="): lambda lo, f, hi: lambda env: lo <= f(env) <= hi,
}


def _binop_fn(op: Callable[[Any, Any], Any], left: _Node, right: _Node) -> Fn:
    lf, rf = left.fn, right.fn
    if right.is_const:
        c = right.const
        return lambda env: op(lf(env), c)
    if left.is_const:
        c = left.const
        return lambda env: op(c, rf(env))
    return lambda env: op(lf(env), rf(env))


def _field_fn(inner: Fn, key: Any, path: str) -> Fn:
    """``inner(env)[key]``, but only on a Mapping (a record) - never ``getattr``."""

    def f(env: Env) -> Any:
        v = inner(env)
        if type(v) is dict or isinstance(v, Mapping):
            return v[key]
        raise ExprRuntimeError(f"cannot read field {key!r} of '{path}': not a record (got {runtime_kind(v)})")

    return f


def _member_fn(inner: Fn, key: str, path: str) -> Fn:
    """``resource.<key>``: the attribute of the member at hand (``Member.attrs``), never ``getattr``."""

    def f(env: Env) -> Any:
        v = inner(env)
        if type(v) is Member:
            try:
                return v.attrs[key]
            except KeyError:
                raise ExprRuntimeError(f"member '{v}' has no attribute {key!r}") from None
        if v is None:
            raise ExprRuntimeError(f"cannot read {path}.{key}: '{path}' is null here (nobody does the work yet)")
        raise ExprRuntimeError(f"cannot read {path}.{key}: {v!r} is not a member with attributes")

    return f


def _index_fn(inner: Fn, key: int, path: str) -> Fn:
    def f(env: Env) -> Any:
        v = inner(env)
        if isinstance(v, _SEQ) or isinstance(v, Mapping):
            return v[key]
        raise ExprRuntimeError(f"cannot index '{path}': not a list (got {runtime_kind(v)})")

    return f


def _call_fn(impl: Callable[..., Any], args: Sequence[_Node]) -> Fn:
    fns = [a.fn for a in args]
    if not fns:
        return lambda env: impl()
    if len(fns) == 1:
        (a,) = fns
        return lambda env: impl(a(env))
    if len(fns) == 2:
        a, b = fns
        return lambda env: impl(a(env), b(env))
    if len(fns) == 3:
        a, b, c = fns
        return lambda env: impl(a(env), b(env), c(env))
    tfns = tuple(fns)
    return lambda env: impl(*[g(env) for g in tfns])


def _bool_fn(is_and: bool, fns: Sequence[Fn]) -> Fn:
    if len(fns) == 2:
        a, b = fns
        return (lambda env: a(env) and b(env)) if is_and else (lambda env: a(env) or b(env))
    first, rest = fns[0], tuple(fns[1:])

    def f(env: Env) -> Any:
        v = first(env)
        for g in rest:
            if (not v) if is_and else v:
                return v
            v = g(env)
        return v

    return f


# ------------------------------------------------------------------------------------- compiler

_NO: Final = object()  # "not a constant" marker


@dataclass(slots=True)
class _Node:
    fn: Fn
    type: Type
    const: Any = _NO
    # for list/tuple literals: element types, and the values when all are constants (for ``in``)
    elts: tuple[Type, ...] | None = None
    members: tuple[Any, ...] | None = None

    @property
    def is_const(self) -> bool:
        return self.const is not _NO


def _fixed(n: _Node) -> bool:
    """A constant, or a list literal of constants: safe to fold."""
    return n.is_const or n.members is not None


def _const(value: Any, t: Type) -> _Node:
    return _Node(lambda env: value, t, value)


_CONST_NAMES: Final = {"true": (True, "bool"), "false": (False, "bool"), "null": (None, "any")}

_FORBIDDEN: Final[dict[type[ast.AST], str]] = {
    ast.Lambda: "lambda expressions are not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "generator expressions are not allowed",
    ast.NamedExpr: "assignment expressions (:=) are not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.FormattedValue: "f-strings are not allowed",
    ast.Starred: "starred expressions (*x) are not allowed",
    ast.Slice: "slices are not allowed",
    ast.Dict: "dict literals are not allowed",
    ast.Set: "set literals are not allowed",
    ast.Await: "await is not allowed",
    ast.Yield: "yield is not allowed",
    ast.YieldFrom: "yield is not allowed",
}


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        return f"{_dotted(node.value)}[{node.slice.value!r}]"
    return "value"


class _Compiler:
    def __init__(self, text: str, shift: int, names: Mapping[str, Type]) -> None:
        self.names = names
        self.read: dict[str, None] = {}  # insertion-ordered set of names read
        self.reads: dict[str, int] = {}  # name -> times read
        self.field_reads: dict[str, dict[str, None]] = {}  # name -> the constant fields read from it, in order
        self.n_field_reads: dict[str, int] = {}  # name -> times read as the base of a constant field
        self.shift = shift
        # ast columns are UTF-8 byte offsets; map them to character offsets for non-ASCII sources.
        self.encoded = None if text.isascii() else text.encode("utf-8")

    # -- positions
    def col(self, node: ast.AST, byte_col: int | None = None) -> int:
        b = getattr(node, "col_offset", 0) if byte_col is None else byte_col
        if self.encoded is not None:
            b = len(self.encoded[:b].decode("utf-8", errors="ignore"))
        return self.shift + b

    def fail(self, node: ast.AST, msg: str, code: str) -> ExprError:
        return ExprError(msg, self.col(node), code)

    def fold(self, node: ast.AST, n: _Node) -> _Node:
        """Evaluate a node made only of constants now: faster later, and errors surface at load."""
        try:
            value = n.fn({})
        except Exception as exc:
            raise self.fail(node, describe_error(exc), "value_error") from None
        if isinstance(value, list):  # keep handing out fresh lists, never one shared mutable constant
            values = tuple(value)
            return _Node(lambda env: list(values), n.type, _NO, None, values)
        return _const(value, n.type)

    # -- dispatch
    def c(self, node: ast.AST, depth: int) -> _Node:
        if depth > MAX_DEPTH:
            raise self.fail(node, "expression is nested too deeply", "too_deep")
        method = _DISPATCH.get(type(node))  # the whitelist: a node type without an entry is refused
        if method is None:
            msg = _FORBIDDEN.get(type(node), f"'{type(node).__name__}' is not allowed in expressions")
            raise self.fail(node, msg, "forbidden")
        return method(self, node, depth + 1)

    def c_Constant(self, node: ast.Constant, depth: int) -> _Node:
        v = node.value
        if isinstance(v, bool):
            return _const(v, "bool")
        if isinstance(v, (int, float)):
            return _const(v, "number")
        if isinstance(v, str):
            return _const(v, "string")
        if v is None:
            return _const(None, "any")
        raise self.fail(node, f"{type(v).__name__} literals are not allowed", "forbidden")

    def c_Name(self, node: ast.Name, depth: int) -> _Node:
        name = node.id
        if name.startswith("_"):
            raise self.fail(node, f"names starting with '_' are not allowed: '{name}'", "forbidden")
        if name in _CONST_NAMES:
            value, t = _CONST_NAMES[name]
            return _const(value, t)
        if name not in self.names:
            from procsim.rules.functions import FUNCTIONS

            if name in FUNCTIONS:
                raise self.fail(node, f"unknown name '{name}' ('{name}' is a function: call it)", "unknown_name")
            raise self.fail(node, f"unknown name '{name}'{_suggest(name, list(self.names))}", "unknown_name")
        self.read[name] = None
        self.reads[name] = self.reads.get(name, 0) + 1
        return _Node(operator.itemgetter(name), self.names[name])

    def note_field(self, base: ast.expr, key: str) -> None:
        """``base.key`` or ``base['key']`` was compiled: when ``base`` is a plain name, remember the field."""
        if isinstance(base, ast.Name) and base.id in self.reads:
            self.field_reads.setdefault(base.id, {})[key] = None
            self.n_field_reads[base.id] = self.n_field_reads.get(base.id, 0) + 1

    def only_fields(self) -> dict[str, frozenset[str]]:
        """Names every read of which was a constant field, with the fields read."""
        return {n: frozenset(keys) for n, keys in self.field_reads.items() if self.n_field_reads[n] == self.reads[n]}

    def c_Attribute(self, node: ast.Attribute, depth: int) -> _Node:
        attr = node.attr
        # the attribute name ends where the node ends (there may be spaces around the dot)
        attr_col = self.col(node, (node.end_col_offset or 0) - len(attr.encode("utf-8")))
        if attr.startswith("_"):
            raise ExprError(f"names starting with '_' are not allowed: '{attr}'", attr_col, "forbidden")
        inner = self.c(node.value, depth)
        path = _dotted(node.value)
        n = self.field(inner, attr, path, attr_col, node)
        self.note_field(node.value, attr)
        return n

    def field(self, inner: _Node, key: str, path: str, col: int, node: ast.AST) -> _Node:
        t = inner.type
        if isinstance(t, MemberFields):
            if key not in t:
                raise ExprError(f"unknown member attribute '{key}' of '{path}'{_suggest(key, list(t))} (give it "
                                "in the role's or the members' attributes)", col, "unknown_field")
            return _Node(_member_fn(inner.fn, key, path), t[key])
        if isinstance(t, Mapping):
            if key not in t:
                raise ExprError(f"unknown field '{key}' of '{path}'{_suggest(key, list(t))}", col, "unknown_field")
            ft: Type = t[key]
        elif t == "any":
            ft = "any"
        else:
            raise ExprError(f"'{path}' is a {t}, not a record: it has no field '{key}'", col, "type_error")
        n = _Node(_field_fn(inner.fn, key, path), ft)
        return self.fold(node, n) if inner.is_const else n

    def c_Subscript(self, node: ast.Subscript, depth: int) -> _Node:
        inner = self.c(node.value, depth)
        key = self.c(node.slice, depth)
        if not key.is_const or not isinstance(key.const, (int, str)) or isinstance(key.const, bool):
            raise self.fail(node.slice, "a subscript must be a constant string or integer", "forbidden")
        path = _dotted(node.value)
        if isinstance(key.const, str):
            n = self.field(inner, key.const, path, self.col(node.slice), node)
            self.note_field(node.value, key.const)
            return n
        t = type_name(inner.type)
        if t not in ("list", "string", "any"):
            raise self.fail(node.slice, f"cannot index a {t} with a number", "type_error")
        n = _Node(_index_fn(inner.fn, key.const, path), "string" if t == "string" else "any")
        return self.fold(node, n) if inner.is_const else n

    def c_UnaryOp(self, node: ast.UnaryOp, depth: int) -> _Node:
        operand = self.c(node.operand, depth)
        f = operand.fn
        if isinstance(node.op, ast.Not):
            n = _Node(lambda env: not f(env), "bool")
        elif isinstance(node.op, ast.USub) and _family(operand.type) == "number":
            n = _Node(lambda env: -f(env), operand.type)
        elif isinstance(node.op, (ast.USub, ast.UAdd)):
            sym = "-" if isinstance(node.op, ast.USub) else "+"
            t = type_name(operand.type)
            if t not in ("number", "duration", "any"):
                raise self.fail(node, f"bad operand type for unary '{sym}': {t}", "type_error")
            op = operator.neg if sym == "-" else operator.pos
            n = _Node(lambda env: op(f(env)), "number" if t == "any" else operand.type)
        else:
            raise self.fail(node, "operator '~' is not supported", "forbidden")
        return self.fold(node, n) if operand.is_const else n

    def c_BinOp(self, node: ast.BinOp, depth: int) -> _Node:
        left = self.c(node.left, depth)
        if isinstance(node.op, ast.Pow):
            right = self.c(node.right, depth)
            e = right.const
            if not right.is_const or type(e) is not int or not 0 <= e <= 8:
                raise self.fail(node.right, "'**' needs a constant integer exponent from 0 to 8", "forbidden")
            lt = type_name(left.type)
            if lt not in ("number", "any"):
                raise self.fail(node.left, f"unsupported operand types for '**': {lt} and number", "type_error")
            n = _Node(_pow_fn(left.fn, e), "number")
            return self.fold(node, n) if left.is_const else n
        if type(node.op) not in _ARITH:
            names = {ast.BitOr: "|", ast.BitAnd: "&", ast.BitXor: "^", ast.LShift: "<<", ast.RShift: ">>", ast.MatMult: "@"}
            raise self.fail(node, f"operator '{names.get(type(node.op), '?')}' is not supported", "forbidden")
        right = self.c(node.right, depth)
        sym, op = _ARITH[type(node.op)]
        t = self.arith_type(sym, left.type, right.type, node)
        if t != "number" or _family(left.type) != "number" or _family(right.type) != "number":
            op = _GUARDED.get(sym, op)
        n = _Node(_binop_fn(op, left, right), t)
        return self.fold(node, n) if _fixed(left) and _fixed(right) else n

    def arith_type(self, sym: str, lt: Type, rt: Type, node: ast.BinOp) -> Type:
        a, b = _family(lt), _family(rt)
        num = ("number", "any")
        if a in num and b in num:
            if a == b == "any":
                return "any"
            if sym in ("+", "-") and type_name(lt) == type_name(rt) == "duration":
                return "duration"
            return "number"
        for seq in ("string", "list"):
            if sym == "+" and {a, b} <= {seq, "any"}:
                return seq
            if sym == "*" and ((a == seq and b in num) or (b == seq and a in num)):
                return seq
        msg = f"unsupported operand types for '{sym}': {type_name(lt)} and {type_name(rt)}"
        raise self.fail(node.right, msg, "type_error")

    def c_BoolOp(self, node: ast.BoolOp, depth: int) -> _Node:
        parts = [self.c(v, depth) for v in node.values]
        n = _Node(_bool_fn(isinstance(node.op, ast.And), [p.fn for p in parts]), _common([p.type for p in parts]))
        return self.fold(node, n) if all(p.is_const for p in parts) else n

    def c_Compare(self, node: ast.Compare, depth: int) -> _Node:
        operands = [self.c(node.left, depth)]
        syms: list[str] = []
        ops: list[Callable[[Any, Any], Any]] = []
        for cop, cnode in zip(node.ops, node.comparators):
            if type(cop) not in _CMP:
                raise self.fail(cnode, "'is' is not supported; use == or !=", "forbidden")
            sym, op = _CMP[type(cop)]
            right = self.c(cnode, depth)
            self.check_compare(sym, operands[-1], right, cnode)
            syms.append(sym)
            ops.append(op)
            operands.append(right)
        if len(syms) == 1:
            left, right = operands
            if syms[0] in ("in", "not in") and right.members is not None:
                members: Any = right.members
                # a hash lookup for long literal lists, when the left side cannot be unhashable
                if len(members) >= 8 and _family(left.type) in ("number", "string", "bool"):
                    if all(isinstance(m, (int, float, str)) for m in members):
                        members = frozenset(members)
                n = _Node(_CMP_CONST[syms[0]](left.fn, members), "bool")
            elif right.is_const:
                n = _Node(_CMP_CONST[syms[0]](left.fn, right.const), "bool")
            else:
                n = _Node(_CMP_FN[syms[0]](left.fn, right.fn), "bool")
        elif syms in (["<", "<"], ["<", "<="], ["<=", "<"], ["<=", "<="]) and operands[0].is_const and operands[2].is_const:
            # the range pattern ``lo < x <= hi``: one frame instead of a loop
            lo, mid, hi = operands[0].const, operands[1].fn, operands[2].const
            n = _Node(_RANGES[(syms[0], syms[1])](lo, mid, hi), "bool")
        else:
            first = operands[0].fn
            pairs = tuple(zip(ops, (o.fn for o in operands[1:])))

            def chained(env: Env) -> bool:
                a = first(env)
                for op, g in pairs:
                    b = g(env)
                    if not op(a, b):
                        return False
                    a = b
                return True

            n = _Node(chained, "bool")
        return self.fold(node, n) if all(o.is_const for o in operands) else n

    def check_compare(self, sym: str, left: _Node, right: _Node, rnode: ast.expr) -> None:
        if sym in ("in", "not in"):
            rt = type_name(right.type)
            if rt not in ("list", "string", "record", "any"):
                raise self.fail(rnode, f"'{sym}' needs a list, string or record on the right, got {rt}", "type_error")
            if right.elts is not None and isinstance(rnode, (ast.List, ast.Tuple)):
                for elt, et in zip(rnode.elts, right.elts):
                    problem = compare_problem(left.type, et, False)
                    if problem:
                        raise self.fail(elt, problem, "type_error")
            elif rt == "string" and _family(left.type) not in ("string", "any"):
                raise self.fail(rnode, f"cannot look for a {type_name(left.type)} in a string", "type_error")
            return
        problem = compare_problem(left.type, right.type, sym not in ("==", "!="))
        if problem:
            raise self.fail(rnode, problem, "type_error")

    def c_IfExp(self, node: ast.IfExp, depth: int) -> _Node:
        test, body, orelse = (self.c(x, depth) for x in (node.test, node.body, node.orelse))
        if test.is_const:  # fold the branch away; the other branch was still checked above
            return body if test.const else orelse
        t, b, o = test.fn, body.fn, orelse.fn
        return _Node(lambda env: b(env) if t(env) else o(env), _common([body.type, orelse.type]))

    def c_List(self, node: ast.List | ast.Tuple, depth: int) -> _Node:
        elts = [self.c(e, depth) for e in node.elts]
        types = tuple(e.type for e in elts)
        if all(e.is_const for e in elts):
            values = tuple(e.const for e in elts)
            if isinstance(node, ast.Tuple):
                return _Node(lambda env: values, "list", values, types, values)
            # a fresh list per evaluation: a shared one could be mutated by whoever receives it
            return _Node(lambda env: list(values), "list", _NO, types, values)
        fns = tuple(e.fn for e in elts)
        if isinstance(node, ast.Tuple):
            return _Node(lambda env: tuple([f(env) for f in fns]), "list", _NO, types)
        return _Node(lambda env: [f(env) for f in fns], "list", _NO, types)


    def c_Call(self, node: ast.Call, depth: int) -> _Node:
        from procsim.rules.functions import FUNCTIONS, Function

        func = node.func
        if isinstance(func, ast.Attribute):
            if func.attr.startswith("_"):
                raise self.fail(func, f"names starting with '_' are not allowed: '{func.attr}'", "forbidden")
            raise self.fail(func, f"method calls are not allowed ('.{func.attr}(...)'); use a function like upper(s)", "forbidden")
        if not isinstance(func, ast.Name):
            self.c(func, depth)  # reports lambdas etc. by their own name
            raise self.fail(func, "only named functions can be called", "forbidden")
        name = func.id
        if name.startswith("_"):
            raise self.fail(func, f"names starting with '_' are not allowed: '{name}'", "forbidden")
        fdef: Function | None = FUNCTIONS.get(name)
        if fdef is None:
            raise self.fail(func, f"unknown function '{name}'{_suggest(name, sorted(FUNCTIONS))}", "unknown_function")
        for a in node.args:
            if isinstance(a, ast.Starred):
                raise self.fail(a, "starred arguments (*x) are not allowed", "forbidden")
        args = [(self.c(a, depth), a) for a in node.args]  # (compiled, where to point the caret)
        params = fdef.params
        variadic = params[-1] if params and params[-1].variadic else None
        fixed = params[:-1] if variadic else params
        if variadic is None and len(args) > len(fixed):
            s = "s" * (len(fixed) != 1)
            raise self.fail(node, f"{name}() takes at most {len(fixed)} argument{s} ({len(args)} given)", "bad_argument")
        slots: list[tuple[_Node, ast.AST] | None] = [*args[: len(fixed)]]
        slots += [None] * (len(fixed) - len(slots))
        pnames = [p.name for p in fixed]
        for kw in node.keywords:
            if kw.arg is None:
                raise self.fail(kw, "'**' arguments are not allowed", "forbidden")
            if kw.arg not in pnames:
                raise self.fail(kw, f"{name}() got an unknown argument '{kw.arg}'{_suggest(kw.arg, pnames)}", "bad_argument")
            i = pnames.index(kw.arg)
            if slots[i] is not None:
                raise self.fail(kw, f"{name}() got argument '{kw.arg}' twice", "bad_argument")
            slots[i] = (self.c(kw.value, depth), kw.value)
        final: list[_Node] = []
        for p, slot in zip(fixed, slots):
            if slot is None:
                if p.required:
                    raise self.fail(node, f"{name}() missing argument '{p.name}'", "bad_argument")
                final.append(_const(p.default, "any"))
            else:
                self.check_arg(name, p.name, p.types, *slot)
                final.append(slot[0])
        if variadic is not None:
            rest = args[len(fixed):]
            least = len(fixed) + variadic.min_count
            if len(rest) < variadic.min_count:
                raise self.fail(node, f"{name}() needs at least {least} argument{'s' * (least != 1)}", "bad_argument")
            for arg, where in rest:
                self.check_arg(name, variadic.name, variadic.types, arg, where)
                final.append(arg)
        result: Type = fdef.result
        if result == "same":
            result = _common([a.type for a in final]) if final else "any"
        n = _Node(_call_fn(fdef.impl, final), result)
        return self.fold(node, n) if all(a.is_const for a in final) else n

    def check_arg(self, fname: str, pname: str, types: tuple[str, ...], arg: _Node, node: ast.AST) -> None:
        t = _family(arg.type)
        if t == "any" or "any" in types or t in {"number" if x == "duration" else x for x in types}:
            return
        want = " or ".join(types)
        raise self.fail(node, f"argument '{pname}' of {fname}() must be {want}, got {type_name(arg.type)}", "type_error")


_DISPATCH: Final[dict[type[ast.AST], Callable[[_Compiler, Any, int], _Node]]] = {
    ast.Constant: _Compiler.c_Constant,
    ast.Name: _Compiler.c_Name,
    ast.Attribute: _Compiler.c_Attribute,
    ast.Subscript: _Compiler.c_Subscript,
    ast.UnaryOp: _Compiler.c_UnaryOp,
    ast.BinOp: _Compiler.c_BinOp,
    ast.BoolOp: _Compiler.c_BoolOp,
    ast.Compare: _Compiler.c_Compare,
    ast.IfExp: _Compiler.c_IfExp,
    ast.List: _Compiler.c_List,
    ast.Tuple: _Compiler.c_List,
    ast.Call: _Compiler.c_Call,
}


def compile_expr(source: str, names: Mapping[str, Type], *, expect: str | None = None, max_len: int = 1000) -> Compiled:
    """Check ``source`` against the declared ``names`` and compile it to a :class:`Compiled`.

    Raises :class:`ExprError` for anything outside the language, unknown names/fields/functions, type
    errors visible at compile time, and (with ``expect``) a result type that cannot be ``expect``.
    """
    if not isinstance(source, str):
        raise ExprError(f"an expression must be a string, got {type(source).__name__}", 0, "syntax")
    if len(source) > max_len:
        raise ExprError(f"expression is too long ({len(source)} characters; at most {max_len})", max_len, "too_long")
    # Flatten line breaks to spaces (same length, so offsets stay indices into ``source``) and drop the
    # leading blanks that eval-mode parsing rejects as an indent.
    flat = source.translate({10: 32, 13: 32, 12: 32, 11: 32})
    text = flat.lstrip()
    shift = len(flat) - len(text)
    if not text.strip():
        raise ExprError("empty expression", 0, "syntax")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        col = shift + (exc.offset - 1 if exc.offset and exc.offset > 0 else len(text))
        raise ExprError(exc.msg or "invalid syntax", min(col, len(source)), "syntax") from None
    except (ValueError, RecursionError, MemoryError):
        raise ExprError("invalid syntax", 0, "syntax") from None
    comp = _Compiler(text, shift, names)
    node = comp.c(tree.body, 0)
    if expect is not None and expect != "any":
        got = type_name(node.type)
        if got != "any" and _family(got) != _family(expect):
            raise ExprError(f"expected a {expect} expression, got {got}", shift, "type_error")
    result_type = type_name(node.type)
    return Compiled(source, node.fn, frozenset(comp.read), result_type, comp.only_fields())


def compile_at(smap: Any, loc: tuple[Any, ...], source: str, names: Mapping[str, Any], problems: list[Any],
               expect: str | None = None) -> Compiled | None:
    """Compile one expression, turning its error into a positioned problem with a caret.

    ``smap`` is the source map of the file the expression is in (``procsim.spec.loader.SourceMap``), ``loc`` its
    key path; the problem is appended to ``problems`` and None returned.
    """
    try:
        return compile_expr(source, names, expect=expect)
    except ExprError as e:
        problems.append(smap.problem(loc, e.msg, e.code, offset=e.offset))
        return None
