"""Functional tests of the rule-expression language and its function registry."""

from __future__ import annotations

import operator
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from procsim.rules.expr import Compiled, ExprError, ExprRuntimeError, compile_expr
from procsim.rules.functions import FUNCTIONS, Function, Param

BERLIN = ZoneInfo("Europe/Berlin")
NAMES = {
    "amount": "number",
    "n": "number",
    "country": "string",
    "name": "string",
    "vip": "bool",
    "tags": "list",
    "x": "any",
    "sla": "duration",
    "created": "datetime",
    "due": "datetime",
    "doc": {"po": {"total": "number", "currency": "string"}, "lines": "list"},
}
ENV = {
    "amount": 12_500,
    "n": 4,
    "country": "DE",
    "name": "Müller",
    "vip": False,
    "tags": ["rush", "eu"],
    "x": None,
    "sla": 7200,
    "created": datetime(2024, 3, 1, 9, 30, tzinfo=BERLIN),  # a Friday
    "due": datetime(2024, 3, 4, 21, 30, tzinfo=BERLIN),
    "doc": {"po": {"total": 980.5, "currency": "EUR"}, "lines": [{"qty": 2}, {"qty": 5}]},
}


def ev(src: str, env: dict[str, object] | None = None, names: dict[str, object] | None = None) -> object:
    return compile_expr(src, NAMES if names is None else names)({**ENV, **(env or {})})


def err(src: str, names: dict[str, object] | None = None, **kw: object) -> ExprError:
    with pytest.raises(ExprError) as info:
        compile_expr(src, NAMES if names is None else names, **kw)  # type: ignore[arg-type]
    return info.value


# ------------------------------------------------------------------------------------ evaluation


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        ("1", 1),
        ("1.5", 1.5),
        ("'DE'", "DE"),
        ('"DE"', "DE"),
        ("True", True),
        ("true", True),
        ("false", False),
        ("None", None),
        ("null", None),
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("7 / 2", 3.5),
        ("7 // 2", 3),
        ("-7 % 3", 2),
        ("2 ** 8", 256),
        ("-amount", -12_500),
        ("+n", 4),
        ("amount > 10000 and country == 'DE'", True),
        ("amount > 10000 and country == 'AT'", False),
        ("1 < n <= 4", True),
        ("1 < n < 4", False),
        ("0 <= n < 10 != 11", True),
        ("vip or amount", 12_500),  # Python semantics: or returns an operand
        ("x or 'none'", "none"),
        ("vip and amount", False),
        ("not vip", True),
        ("not amount", False),
        ("country in ['DE', 'AT']", True),
        ("country not in ('DE', 'AT')", False),
        ("'rush' in tags", True),
        ("'ü' in name", True),
        ("n in [1, 2, 3, 4, 5, 6, 7, 8, 9]", True),  # long literal list: hashed
        ("'po' in doc", True),
        ("'big' if amount > 10000 else 'small'", "big"),
        ("[1, n]", [1, 4]),
        ("(1, n)", (1, 4)),
        ("[1, 2]", [1, 2]),
        ("tags + ['x']", ["rush", "eu", "x"]),
        ("name + '!'", "Müller!"),
        ("'ab' * 2", "abab"),
        ("3 * 'ab'", "ababab"),
        ("doc.po.total", 980.5),
        ("doc . po . currency", "EUR"),
        ("doc['po']['total'] * 2", 1961.0),
        ("doc.lines[1]['qty']", 5),
        ("tags[-1]", "eu"),
        ("name[0]", "M"),
        ("sla + 60", 7260),
        ("x == null", True),
        ("2 ** 0", 1),
        ("1 == 1.0", True),
    ],
)
def test_evaluates_like_python(src: str, expected: object) -> None:
    result = ev(src)
    assert result == expected
    assert type(result) is type(expected)


def test_names_read_and_types() -> None:
    c = compile_expr("amount > 10000 and doc.po.currency == 'EUR' and round(n) > 1", NAMES)
    assert c.names == frozenset({"amount", "doc", "n"})
    assert c.type == "bool"
    assert compile_expr("amount * 2", NAMES).type == "number"
    assert compile_expr("sla + sla", NAMES).type == "duration"
    assert compile_expr("sla * 2", NAMES).type == "number"
    assert compile_expr("name + 'x'", NAMES).type == "string"
    assert compile_expr("doc.po", NAMES).type == "record"
    assert compile_expr("x", NAMES).type == "any"
    assert compile_expr("x + 1", NAMES).type == "number"
    assert compile_expr("'a' if vip else 'b'", NAMES).type == "string"
    assert compile_expr("'a' if vip else 1", NAMES).type == "any"
    assert compile_expr("coalesce(x, 'n/a')", NAMES).type == "any"
    assert compile_expr("coalesce(name, 'n/a')", NAMES).type == "string"
    assert compile_expr("[1, 2]", NAMES).type == "list"
    assert compile_expr("true", NAMES).names == frozenset()


def test_fields_lists_names_read_only_through_constant_fields() -> None:
    assert compile_expr("doc.po.currency == 'EUR' and len(doc['lines']) > 0", NAMES).fields == {
        "doc": frozenset({"po", "lines"})}
    assert compile_expr("amount > 1", NAMES).fields == {}
    # read whole once (here passed to a function), so every field may matter: not listed
    assert compile_expr("doc.po != null and len(doc) > 1", NAMES).fields == {}
    assert compile_expr("doc", NAMES).fields == {}


def test_compiled_is_frozen_and_fn_is_the_raw_fast_path() -> None:
    c = compile_expr("amount / n", NAMES)
    assert isinstance(c, Compiled)
    assert c.source == "amount / n"
    with pytest.raises(AttributeError):
        c.source = "1"  # type: ignore[misc]
    assert c.fn({"amount": 10, "n": 4}) == 2.5
    with pytest.raises(ZeroDivisionError):
        c.fn({"amount": 10, "n": 0})
    with pytest.raises(ExprRuntimeError) as info:
        c({"amount": 10, "n": 0})
    assert str(info.value) == "division by zero (in expression: amount / n)"
    assert info.value.msg == "division by zero"
    assert info.value.source == "amount / n"


@pytest.mark.parametrize(
    ("src", "env", "message"),
    [
        ("amount // n", {"n": 0}, "division by zero (in expression: amount // n)"),
        ("amount % n", {"n": 0}, "division by zero (in expression: amount % n)"),
        ("amount > 1", {"amount": None}, "'>' not supported between instances of 'NoneType' and 'int' (in expression: amount > 1)"),
        ("doc.po.total", {"doc": {"po": {}}}, "missing value for 'total' (in expression: doc.po.total)"),
        ("tags[5]", {}, "index out of range (in expression: tags[5])"),
        ("x % 2", {"x": "%s"}, "'%' needs numbers, got string (in expression: x % 2)"),
    ],
)
def test_runtime_errors_name_the_expression(src: str, env: dict[str, object], message: str) -> None:
    with pytest.raises(ExprRuntimeError) as info:
        ev(src, env)
    assert str(info.value) == message


def test_missing_variable_at_runtime() -> None:
    c = compile_expr("amount + 1", NAMES)
    with pytest.raises(ExprRuntimeError, match=r"^missing value for 'amount' \(in expression: amount \+ 1\)$"):
        c({})


def test_env_may_be_any_mapping() -> None:
    c = compile_expr("doc.po.total > 100", NAMES)
    assert c(MappingProxyType({"doc": MappingProxyType({"po": {"total": 101}})})) is True


def test_and_or_short_circuit() -> None:
    # the right side would fail; short-circuiting means it is never evaluated
    assert ev("n != 0 and amount / n > 1", {"n": 0}) is False
    assert ev("n == 0 or amount / n > 1", {"n": 0}) is True
    assert ev("vip and n and amount / 0", {}) is False
    assert ev("x or vip or 7", {}) == 7
    assert ev("amount / n if n else -1", {"n": 0}) == -1


def test_constant_folding_reports_value_errors_at_load() -> None:
    e = err("amount > 1 / 0")
    assert (e.msg, e.code, e.offset) == ("division by zero", "value_error", 9)
    e = err("duration('2 parsecs')")
    assert e.code == "value_error"
    assert e.msg.startswith("duration(): invalid duration '2 parsecs'")
    assert compile_expr("duration('1h 30m') + 1", NAMES)({}) == 5401.0


def test_list_literal_results_are_fresh_lists() -> None:
    c = compile_expr("[1, 2]", NAMES)
    a = c({})
    a.append(3)
    assert c({}) == [1, 2]


# ---------------------------------------------------------------------------- compile-time errors


def test_unknown_name_with_suggestion() -> None:
    e = err("amount > 10000 and ammount < 5")
    assert (e.msg, e.code, e.offset) == ("unknown name 'ammount'; did you mean 'amount'?", "unknown_name", 19)


def test_unknown_name_without_suggestion() -> None:
    e = err("qqq + 1")
    assert (e.msg, e.code, e.offset) == ("unknown name 'qqq'", "unknown_name", 0)


def test_function_used_as_a_name() -> None:
    assert err("len > 1").msg == "unknown name 'len' ('len' is a function: call it)"


def test_unknown_field() -> None:
    e = err("doc.totl > 1", names={"doc": {"total": "number"}})
    assert (e.msg, e.code, e.offset) == ("unknown field 'totl' of 'doc'; did you mean 'total'?", "unknown_field", 4)
    e = err("doc.po.totl")
    assert (e.msg, e.offset) == ("unknown field 'totl' of 'doc.po'; did you mean 'total'?", 7)
    e = err("doc['po']['qq']")
    assert (e.msg, e.offset) == ("unknown field 'qq' of 'doc['po']'", 10)


def test_field_of_a_scalar() -> None:
    e = err("amount.total")
    assert (e.msg, e.code, e.offset) == ("'amount' is a number, not a record: it has no field 'total'", "type_error", 7)


def test_type_errors() -> None:
    e = err("amount > 'x'")
    assert (e.msg, e.code, e.offset) == ("cannot compare number with string", "type_error", 9)
    assert err("country == 1").msg == "cannot compare string with number"
    assert err("vip == 1").msg == "cannot compare bool with number"
    assert err("1 < amount < 'z'").msg == "cannot compare number with string"
    assert err("amount in ['a', 'b']").msg == "cannot compare number with string"
    assert err("amount in 5").msg == "'in' needs a list, string or record on the right, got number"
    assert err("amount in name").msg == "cannot look for a number in a string"
    assert err("created < 5").msg == "cannot compare datetime with number"
    assert err("doc.po < doc.po").msg == "cannot order records"
    e = err("amount + 'x'")
    assert (e.msg, e.offset) == ("unsupported operand types for '+': number and string", 9)
    assert err("name - 'x'").msg == "unsupported operand types for '-': string and string"
    assert err("name * name").msg == "unsupported operand types for '*': string and string"
    assert err("name % 2").msg == "unsupported operand types for '%': string and number"
    assert err("created - due").msg == "unsupported operand types for '-': datetime and datetime"
    assert err("-name").msg == "bad operand type for unary '-': string"
    assert err("name ** 2").msg == "unsupported operand types for '**': string and number"
    # 'any' operands are not checked at compile time; numbers and durations mix
    compile_expr("x > 'a' and x + 1 > 2 and sla > 60 and sla + amount > 0", NAMES)


def test_expect() -> None:
    assert compile_expr("amount > 1", NAMES, expect="bool").type == "bool"
    compile_expr("x", NAMES, expect="bool")  # unknown type: checked at run time by the caller
    e = err("amount * 2", expect="bool")
    assert (e.msg, e.code, e.offset) == ("expected a bool expression, got number", "type_error", 0)
    assert err("name", expect="number").msg == "expected a number expression, got string"
    compile_expr("sla", NAMES, expect="number")


def test_syntax_errors_have_offsets() -> None:
    e = err("amount > ")
    assert (e.msg, e.code, e.offset) == ("invalid syntax", "syntax", 9)
    e = err("amount >> > 3")
    assert e.code == "syntax"
    e = err("(amount > 3")
    assert (e.msg, e.offset) == ("'(' was never closed", 0)
    e = err("")
    assert (e.msg, e.code, e.offset) == ("empty expression", "syntax", 0)
    e = err("   ")
    assert e.msg == "empty expression"


def test_offsets_are_characters_not_bytes() -> None:
    # ast reports UTF-8 byte columns; 'Müller' has a two-byte character
    e = err("name == 'Müller' and ammount > 1")
    assert e.offset == "name == 'Müller' and ammount > 1".index("ammount")
    e = err("'é' + (")
    assert e.offset == 6


def test_leading_whitespace_and_newlines_keep_offsets() -> None:
    e = err("   ammount > 1")
    assert e.offset == 3
    src = "amount > 1 and\n  ammount < 5"
    e = err(src)
    assert e.offset == src.index("ammount")
    assert compile_expr("amount > 1 and\n country == 'DE'", NAMES)(ENV) is True


def test_length_limit() -> None:
    src = "amount + " * 120 + "1"
    e = err(src)
    assert (e.msg, e.code, e.offset) == (f"expression is too long ({len(src)} characters; at most 1000)", "too_long", 1000)
    assert compile_expr(src, NAMES, max_len=2000)({"amount": 1}) == 121
    assert err("amount > 1", max_len=5).code == "too_long"


def test_nesting_limit() -> None:
    e = err("-" * 250 + "1")
    assert (e.msg, e.code) == ("expression is nested too deeply", "too_deep")
    assert err("1" + " + 1" * 240).code == "too_deep"
    deep = "[" * 190 + "vip" + "]" * 190  # the parser allows 200 nested brackets
    value = compile_expr(deep, NAMES)({"vip": True})
    for _ in range(190):
        (value,) = value
    assert value is True
    assert err("not " * 240 + "vip").code == "too_deep"
    assert compile_expr("-" * 198 + "amount", NAMES)({"amount": 1}) == 1


def test_non_string_source() -> None:
    assert err(5).msg == "an expression must be a string, got int"  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------ functions


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        ("abs(-3)", 3),
        ("abs(-2.5)", 2.5),
        ("min(3, 1, 2)", 1),
        ("max(3, 1, 2)", 3),
        ("min([4, 2])", 2),
        ("max(n)", 4),
        ("sum([1, 2, 3])", 6),
        ("sum(0.1, 0.2, 0.3)", 0.6),
        ("round(2.5)", 3),
        ("round(-2.5)", -3),
        ("round(0.125, 2)", 0.13),
        ("round(2.675, 2)", 2.68),
        ("round(1250, -2)", 1300),
        ("round(amount * 0.19, ndigits=1)", 2375.0),
        ("round(7)", 7),
        ("floor(2.7)", 2),
        ("ceil(2.1)", 3),
        ("clamp(amount, 0, 10000)", 10000),
        ("clamp(-1, 0, 10)", 0),
        ("clamp(5, 0, 10)", 5),
        ("len(name)", 6),
        ("len(tags)", 2),
        ("len(doc)", 2),
        ("lower(country)", "de"),
        ("upper(name)", "MÜLLER"),
        ("trim('  a ')", "a"),
        ("startswith(name, 'Mü')", True),
        ("endswith(name, 'x')", False),
        ("contains(name, 'll')", True),
        ("contains(tags, 'eu')", True),
        ("contains(doc.po, 'total')", True),
        ("concat('PO-', n, '-', vip, x)", "PO-4-false"),
        ("number('12')", 12),
        ("number(' -1.5 ')", -1.5),
        ("number('1e3')", 1000.0),
        ("number(true)", 1),
        ("number(amount)", 12_500),
        ("text(1.5)", "1.5"),
        ("text(true)", "true"),
        ("text(null)", ""),
        ("text(tags)", "[rush, eu]"),
        ("text(created)", "2024-03-01T09:30:00+01:00"),
        ("coalesce(x, null, 'fallback')", "fallback"),
        ("coalesce(x)", None),
        ("weekday(created)", 4),
        ("hour(created)", 9),
        ("minute(created)", 30),
        ("day(created)", 1),
        ("month(created)", 3),
        ("year(created)", 2024),
        ("date_str(created)", "2024-03-01"),
        ("days_between(created, due)", 3.5),
        ("hours_between(created, due)", 84.0),
        ("hours_between(due, created)", -84.0),
        ("duration('2h')", 7200.0),
        ("duration('1d 4h')", 100_800.0),
        ("sla > duration('1h')", True),
    ],
)
def test_functions(src: str, expected: object) -> None:
    result = ev(src)
    assert result == expected
    assert type(result) is type(expected)


def test_days_between_across_a_dst_change_uses_elapsed_time() -> None:
    a = datetime(2024, 3, 30, 12, tzinfo=BERLIN)
    b = datetime(2024, 3, 31, 12, tzinfo=BERLIN)  # clocks went forward: 23 hours elapsed
    assert ev("hours_between(created, due)", {"created": a, "due": b}) == 23.0
    utc = datetime(2024, 3, 31, 10, tzinfo=timezone.utc)
    assert ev("hours_between(created, due)", {"created": b, "due": utc}) == 0.0


@pytest.mark.parametrize(
    ("src", "env", "message"),
    [
        ("weekday(created)", {"created": datetime(2024, 1, 1)}, "weekday(): needs a timezone-aware datetime"),
        ("hour(x)", {"x": "2024-01-01"}, "hour(): needs a datetime, got string"),
        ("number(x)", {"x": "12abc"}, "number(): cannot convert '12abc' to a number"),
        ("number(x)", {"x": "1_000"}, "number(): cannot convert '1_000' to a number"),
        ("number(x)", {"x": "nan"}, "number(): cannot convert 'nan' to a number"),
        ("number(x)", {"x": [1]}, "number(): cannot convert list to a number"),
        ("min(x)", {"x": []}, "min(): needs at least one value"),
        ("max(x, 1)", {"x": "a"}, "max(): needs a number, got string"),
        ("clamp(1, 5, amount)", {"amount": 0}, "clamp(): lo (5) is greater than hi (0)"),
        ("round(1.5, n)", {"n": 20}, "round(): ndigits must be an integer from -12 to 12"),
        ("upper(x)", {"x": 1}, "upper(): needs a string, got number"),
        ("text(x)", {"x": object()}, "text(): cannot convert object to text"),
        ("len(x)", {"x": 3}, "len(): needs a string, list or record, got number"),
    ],
)
def test_function_runtime_errors(src: str, env: dict[str, object], message: str) -> None:
    with pytest.raises(ExprRuntimeError) as info:
        ev(src, env)
    assert info.value.msg == message
    assert str(info.value) == f"{message} (in expression: {src})"


def test_function_compile_errors() -> None:
    e = err("uper(name)")
    assert (e.msg, e.code, e.offset) == ("unknown function 'uper'; did you mean 'upper'?", "unknown_function", 0)
    assert err("zzz(1)").msg == "unknown function 'zzz'"
    assert err("upper(name, 1)").msg == "upper() takes at most 1 argument (2 given)"
    assert err("clamp(1, 2)").msg == "clamp() missing argument 'hi'"
    assert err("min()").msg == "min() needs at least 1 argument"
    e = err("round(amount, digits=2)")
    assert (e.msg, e.code, e.offset) == ("round() got an unknown argument 'digits'; did you mean 'ndigits'?", "bad_argument", 14)
    assert err("round(amount, 2, ndigits=2)").msg == "round() got argument 'ndigits' twice"
    e = err("upper(amount)")
    assert (e.msg, e.code, e.offset) == ("argument 's' of upper() must be string, got number", "type_error", 6)
    assert err("min(1, name)").msg == "argument 'values' of min() must be number or list, got string"
    assert err("weekday(amount)").msg == "argument 't' of weekday() must be datetime, got number"
    assert compile_expr("round(sla)", NAMES).type == "number"  # durations are numbers of seconds


def test_registry_is_well_formed_and_returns_plain_values() -> None:
    assert {"abs", "min", "max", "round", "len", "lower", "upper", "startswith", "endswith", "contains", "concat",
            "number", "text", "coalesce", "clamp", "weekday", "hour", "day", "month", "year", "date_str",
            "days_between", "hours_between", "duration"} <= set(FUNCTIONS)
    for name, f in FUNCTIONS.items():
        assert isinstance(f, Function) and f.name == name and not name.startswith("_")
        assert all(isinstance(p, Param) for p in f.params)
        assert not isinstance(f.impl, type)


def test_registry_check_refuses_bad_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    from procsim.rules import functions

    bad = dict(functions.FUNCTIONS)
    bad["oops"] = Function("oops", dict, (), "number", "returns a type")
    monkeypatch.setattr(functions, "FUNCTIONS", bad)
    with pytest.raises(RuntimeError, match="bad registry entry 'oops': impl must be a plain function"):
        functions._check_registry()
    bad["oops"] = Function("oops", abs, (Param("a", ("number",), 1), Param("b", ("number",))), "number", "doc")
    with pytest.raises(RuntimeError, match="required parameter 'b' after one with a default"):
        functions._check_registry()
    bad["oops"] = Function("oops", abs, (Param("a", ("numbr",)),), "number", "doc")
    with pytest.raises(RuntimeError, match="unknown types"):
        functions._check_registry()


# ---------------------------------------------------------------------------------- properties

INTS = st.integers(min_value=-10**12, max_value=10**12)
ARITH = {"+": operator.add, "-": operator.sub, "*": operator.mul, "//": operator.floordiv, "%": operator.mod}
CMPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq, "!=": operator.ne}
TWO = {"a": "number", "b": "number"}


@given(a=INTS, b=INTS, op=st.sampled_from(sorted(ARITH)))
def test_integer_arithmetic_agrees_with_python(a: int, b: int, op: str) -> None:
    c = compile_expr(f"a {op} b", TWO)
    if b == 0 and op in ("//", "%"):
        with pytest.raises(ExprRuntimeError, match="^division by zero"):
            c({"a": a, "b": b})
    else:
        assert c({"a": a, "b": b}) == ARITH[op](a, b)


@given(a=INTS, b=INTS, op=st.sampled_from(sorted(ARITH)))
def test_constant_folding_agrees_with_evaluation(a: int, b: int, op: str) -> None:
    if b == 0 and op in ("//", "%"):
        return
    folded = compile_expr(f"({a}) {op} ({b})", {})
    assert folded.names == frozenset()
    assert folded({}) == ARITH[op](a, b)


@given(a=INTS, b=INTS, c=INTS, op1=st.sampled_from(sorted(CMPS)), op2=st.sampled_from(sorted(CMPS)))
def test_chained_comparisons_agree_with_python(a: int, b: int, c: int, op1: str, op2: str) -> None:
    names = {"a": "number", "b": "number", "c": "number"}
    expected = CMPS[op1](a, b) and CMPS[op2](b, c)
    assert compile_expr(f"a {op1} b {op2} c", names)({"a": a, "b": b, "c": c}) is expected
    # the constant-ends specialisation (lo < x <= hi) must agree too
    assert compile_expr(f"{a} {op1} b {op2} {c}", names)({"b": b}) is expected


@given(a=st.floats(allow_nan=False, allow_infinity=False, width=32), b=st.integers(0, 8))
def test_power_agrees_with_python(a: float, b: int) -> None:
    assert compile_expr(f"a ** {b}", {"a": "number"})({"a": a}) == a**b


@given(x=st.floats(min_value=-1e9, max_value=1e9, allow_nan=False), nd=st.integers(0, 6))
def test_round_is_half_away_from_zero_on_the_decimal_repr(x: float, nd: int) -> None:
    from decimal import ROUND_HALF_UP, Decimal

    got = compile_expr("round(x, n)", {"x": "number", "n": "number"})({"x": x, "n": nd})
    want = Decimal(repr(x)).quantize(Decimal(1).scaleb(-nd), rounding=ROUND_HALF_UP)
    assert Decimal(repr(got)) == want if nd else got == int(want)


@given(xs=st.lists(st.integers(-100, 100), max_size=12), v=st.integers(-100, 100))
def test_membership_agrees_with_python(xs: list[int], v: int) -> None:
    lit = "[" + ", ".join(map(str, xs)) + "]"
    assert compile_expr(f"v in {lit}", {"v": "number"})({"v": v}) is (v in xs)
    assert compile_expr(f"v not in {lit}", {"v": "number"})({"v": v}) is (v not in xs)


def test_timedelta_values_are_allowed_for_any_typed_names() -> None:
    # the language adds nothing for 'any' values: Python's operators decide
    assert ev("x + x", {"x": timedelta(hours=1)}) == timedelta(hours=2)
