"""Published escapes from Python expression sandboxes must fail at compile time and run nothing.

The payloads are the usual ones from write-ups of ``eval``-based "safe" evaluators (attribute walks to
``object.__subclasses__``, frames via generators, ``str.format`` attribute lookups, builtins, resource
exhaustion). Each must raise :class:`ExprError` from ``compile_expr``; an audit hook checks that nothing
but the AST-only ``compile`` event of :func:`ast.parse` happened meanwhile.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import procsim
import procsim.rules.functions  # noqa: F401  (imported up front: a first import inside the audit window runs code)
from procsim.rules.expr import MAX_SEQUENCE, ExprError, ExprRuntimeError, compile_expr

NAMES = {"x": "any", "s": "string", "n": "number", "a": "list", "doc": {"total": "number"}}

_events: list[str] = []
_recording = False


def _hook(event: str, args: tuple[object, ...]) -> None:
    if _recording:
        _events.append(event)


sys.addaudithook(_hook)  # hooks cannot be removed; this one only records while _compile_audited runs


def _compile_audited(src: str) -> tuple[ExprError | None, list[str]]:
    """Compile with the audit hook recording; pytest's own machinery stays outside the window."""
    global _recording
    _events.clear()
    error = None
    _recording = True
    try:
        compile_expr(src, NAMES)
    except ExprError as e:
        error = e
    finally:
        _recording = False
    return error, list(_events)


ESCAPES = [
    "().__class__.__mro__[1].__subclasses__()",
    "().__class__.__bases__[0].__subclasses__()[59]()._module.__builtins__['__import__']('os').system('id')",
    "x.__class__",
    "x.__class__.__base__",
    "x._private",
    "doc.__dict__",
    "__import__('os')",
    "__import__('os').system('id')",
    "__builtins__",
    "__builtins__['eval']('1')",
    "(lambda: 1)()",
    "lambda: 1",
    "(lambda f: f(f))(lambda f: f(f))",
    "[c for c in ()]",
    "{c for c in ()}",
    "{c: 1 for c in ()}",
    "(g for g in ()).gi_frame.f_globals",
    "(g for g in ()).gi_frame.f_back",
    "'{0.__class__}'.format(1)",
    "'{0.__globals__}'.format(x)",
    "s.format(x)",
    "s.upper()",
    "getattr(x, 'y')",
    "setattr(x, 'y', 1)",
    "delattr(x, 'y')",
    "hasattr(x, 'y')",
    "open('/etc/passwd')",
    "open('/etc/passwd').read()",
    "eval('1')",
    "exec('1')",
    "compile('1', '', 'eval')",
    "globals()",
    "locals()",
    "vars()",
    "vars(x)",
    "dir()",
    "type(1)",
    "type(x)('y', (), {})",
    "object()",
    "super()",
    "breakpoint()",
    "help()",
    "input()",
    "print(1)",
    "memoryview(b'x')",
    "bytearray(10**9)",
    "range(10**9)",
    "9**9**9",
    "2**x",
    "n**n",
    "2**9",
    "2**-1",
    "2**0.5",
    "'a'*10**9",
    "'a'*10**8",
    "[0]*10**8",
    "len('x' * 10**8)",
    "1 << 10**8",
    "'%999999999d' % 1",
    "s % x",
    "f'{x}'",
    "f'{x.__class__}'",
    "x.y.__globals__",
    "x.y.gi_frame.__class__",
    "os.system",
    "os.system('id')",
    "(x:=1)",
    "[y := 1]",
    "*x",
    "[*a]",
    "upper(*a)",
    "max(**x)",
    "max(1, key=open)",
    "a[::-1].__len__",
    "a[::-1]",
    "a[0:1]",
    "a[n]",
    "x['__class__'].__init__",
    "{}",
    "{'a': 1}",
    "{1, 2}",
    "b'bytes'",
    "1j",
    "...",
    "~n",
    "n @ n",
    "n | 1",
    "x is None",
    "import os",
    "yield 1",
    "await x",
    "x if (y := 1) else 2",
    "[s for s in a if s.__class__]",
    "round(n, ndigits=__import__('os'))",
    "upper(s).__class__",
    "(1).real",
    "len",
    "upper",
    "_",
    "a" * 1001,
    "1" + " + 1" * 400,
    "-" * 300 + "1",
    "(" * 300 + "1" + ")" * 300,
    "x\x00",
]


@pytest.mark.parametrize("src", ESCAPES)
def test_escape_is_rejected_at_compile_time(src: str) -> None:
    error, events = _compile_audited(src)
    assert error is not None, f"{src!r} compiled"
    assert error.code in {
        "syntax", "forbidden", "unknown_name", "unknown_function", "unknown_field", "bad_argument",
        "type_error", "too_long", "too_deep", "value_error",
    }
    assert 0 <= error.offset <= max(len(src), 1000)
    # ast.parse raises the 'compile' audit event (it compiles to an AST only); nothing else may happen
    assert [e for e in events if e != "compile"] == []


def test_audit_hook_sees_what_it_must_catch() -> None:
    global _recording
    _events.clear()
    _recording = True
    try:
        open(__file__).close()  # noqa: SIM115
    finally:
        _recording = False
    assert "open" in _events


@pytest.mark.parametrize(
    ("src", "message", "code"),
    [
        ("().__class__.__mro__[1].__subclasses__()", "names starting with '_' are not allowed: '__subclasses__'", "forbidden"),
        ("x.__class__", "names starting with '_' are not allowed: '__class__'", "forbidden"),
        ("__import__('os')", "names starting with '_' are not allowed: '__import__'", "forbidden"),
        ("(lambda: 1)()", "lambda expressions are not allowed", "forbidden"),
        ("[c for c in ()]", "comprehensions are not allowed", "forbidden"),
        ("(g for g in ()).gi_frame.f_globals", "generator expressions are not allowed", "forbidden"),
        ("'{0.__class__}'.format(1)", "method calls are not allowed ('.format(...)'); use a function like upper(s)", "forbidden"),
        ("getattr(x, 'y')", "unknown function 'getattr'", "unknown_function"),
        ("open('/etc/passwd')", "unknown function 'open'", "unknown_function"),
        ("eval('1')", "unknown function 'eval'", "unknown_function"),
        ("9**9**9", "'**' needs a constant integer exponent from 0 to 8", "forbidden"),
        ("'a'*10**8", f"result of '*' is too long (100000000 items; at most {MAX_SEQUENCE})", "value_error"),
        ("f'{x}'", "f-strings are not allowed", "forbidden"),
        ("(x:=1)", "assignment expressions (:=) are not allowed", "forbidden"),
        ("os.system", "unknown name 'os'; did you mean 's'?", "unknown_name"),
        ("sys.modules", "unknown name 'sys'", "unknown_name"),
        ("x is None", "'is' is not supported; use == or !=", "forbidden"),
        ("a[::-1]", "slices are not allowed", "forbidden"),
        ("a[n]", "a subscript must be a constant string or integer", "forbidden"),
        ("n | 1", "operator '|' is not supported", "forbidden"),
        ("upper(*a)", "starred arguments (*x) are not allowed", "forbidden"),
        ("s % x", "unsupported operand types for '%': string and any", "type_error"),
        ("b'x'", "bytes literals are not allowed", "forbidden"),
    ],
)
def test_exact_messages(src: str, message: str, code: str) -> None:
    with pytest.raises(ExprError) as info:
        compile_expr(src, NAMES)
    assert (info.value.msg, info.value.code) == (message, code)


def test_offsets_point_at_the_offender() -> None:
    with pytest.raises(ExprError) as info:
        compile_expr("n > 1 and x.__class__", NAMES)
    assert info.value.offset == len("n > 1 and x.")
    with pytest.raises(ExprError) as info:
        compile_expr("n + 2**n", NAMES)
    assert info.value.offset == len("n + 2**")


# --------------------------------------------------------------------------------- run-time guards


def test_huge_repetition_raises_expr_runtime_error_not_memory_error() -> None:
    c = compile_expr("s * n", NAMES)
    with pytest.raises(ExprRuntimeError) as info:
        c({"s": "ab", "n": 10**12})
    assert str(info.value) == f"result of '*' is too long (2000000000000 items; at most {MAX_SEQUENCE}) (in expression: s * n)"
    with pytest.raises(ExprRuntimeError, match=r"^result of '\*' is too long"):
        compile_expr("n * a", NAMES)({"n": 10**9, "a": [0]})
    with pytest.raises(ExprRuntimeError, match=r"^result of '\*' is too long"):
        compile_expr("x * n", NAMES)({"x": "a", "n": MAX_SEQUENCE + 1})
    assert len(compile_expr("s * n", NAMES)({"s": "a", "n": MAX_SEQUENCE})) == MAX_SEQUENCE


def test_huge_concatenation_raises() -> None:
    c = compile_expr("x + x", NAMES)
    with pytest.raises(ExprRuntimeError, match=r"^result of '\+' is too long \(120000 items"):
        c({"x": "a" * 60_000})
    with pytest.raises(ExprRuntimeError, match=r"^concat\(\): result is too long"):
        compile_expr("concat(x, x)", NAMES)({"x": "a" * 60_000})


def test_huge_powers_raise() -> None:
    c = compile_expr("((((x ** 8) ** 8) ** 8) ** 8) ** 8", NAMES)
    with pytest.raises(ExprRuntimeError, match=r"^result of '\*\*' is too large"):
        c({"x": 10**6})
    assert c({"x": 1.0}) == 1.0
    with pytest.raises(ExprError, match=r"^result of '\*\*' is too large"):
        compile_expr("((((((9 ** 8) ** 8) ** 8) ** 8) ** 8) ** 8) ** 8", NAMES)


def test_printf_formatting_is_refused_at_run_time() -> None:
    with pytest.raises(ExprRuntimeError, match=r"^'%' needs numbers, got string"):
        compile_expr("x % n", NAMES)({"x": "%999999999d", "n": 1})


def test_dotted_access_only_reads_mappings() -> None:
    class Obj:
        secret = "s3cr3t"

    c = compile_expr("x.secret", NAMES)
    with pytest.raises(ExprRuntimeError) as info:
        c({"x": Obj()})
    assert str(info.value) == "cannot read field 'secret' of 'x': not a record (got Obj) (in expression: x.secret)"
    with pytest.raises(ExprRuntimeError, match=r"^cannot read field 'real' of 'x': not a record \(got number\)"):
        compile_expr("x.real", NAMES)({"x": 1})
    with pytest.raises(ExprRuntimeError, match=r"^cannot read field '__class__' of 'x': not a record \(got string\)"):
        compile_expr("x['__class__']", NAMES)({"x": "abc"})
    assert compile_expr("x.secret", NAMES)({"x": {"secret": 1}}) == 1


def test_indexing_only_reads_sequences_and_mappings() -> None:
    with pytest.raises(ExprRuntimeError, match=r"^cannot index 'x': not a list \(got Obj\)"):

        class Obj:
            def __getitem__(self, i: int) -> int:
                raise AssertionError("must not be called")

        compile_expr("x[0]", NAMES)({"x": Obj()})


def test_functions_refuse_objects() -> None:
    with pytest.raises(ExprRuntimeError, match=r"^text\(\): cannot convert function to text"):
        compile_expr("text(x)", NAMES)({"x": lambda: 1})
    with pytest.raises(ExprRuntimeError, match=r"^len\(\): needs a string, list or record, got type"):
        compile_expr("len(x)", NAMES)({"x": int})


def test_package_never_calls_eval_or_exec() -> None:
    root = Path(procsim.__file__).parent
    offenders = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                f = node.func
                name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "builtins" else None
                if name in ("eval", "exec"):
                    offenders.append(f"{path.relative_to(root)}:{node.lineno}")
    assert offenders == []


def test_rules_package_compiles_no_code_objects() -> None:
    root = Path(procsim.__file__).parent / "rules"
    for path in sorted(root.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in ("compile", "eval", "exec", "__import__"), f"{path.name}:{node.lineno}"
