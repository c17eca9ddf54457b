"""Decision tables: unary-test cells, output cells, hit policies, load-time and run-time errors."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from procsim.rules.expr import Compiled, ExprRuntimeError
from procsim.rules.tables import DecisionTable, TableError, compile_table

NAMES = {"amount": "number", "country": "string", "limit": "number", "vip": "bool", "x": "any", "customer": {"tier": "string"}}


def table(rows: list[list[Any]], inputs: list[str] | None = None, outputs: list[str] | None = None, **kw: Any) -> DecisionTable:
    return compile_table("t", inputs or ["amount", "country"], outputs or ["rate"], rows, names=NAMES, **kw)


def terr(rows: list[list[Any]], inputs: list[str] | None = None, outputs: list[str] | None = None, **kw: Any) -> TableError:
    with pytest.raises(TableError) as info:
        table(rows, inputs, outputs, **kw)
    return info.value


DISCOUNT = [
    ["< 1000", "-", 0.0],
    ["[1000..10000)", "'DE', 'AT'", 0.02],
    ["[1000..10000)", "not('US', 'CA')", "= amount / 100000"],
    [">= limit", "*", 0.03],
]


def env(amount: Any, country: str = "DE", **more: Any) -> dict[str, Any]:
    return {"amount": amount, "country": country, "limit": 10_000, "vip": False, **more}


@pytest.mark.parametrize(
    ("amount", "country", "expected", "matching"),
    [
        (500, "DE", {"rate": 0.0}, [0]),
        (1000, "AT", {"rate": 0.02}, [1, 2]),
        (9999, "FR", {"rate": 0.09999}, [2]),
        (5000, "US", None, []),
        (10_000, "US", {"rate": 0.03}, [3]),
    ],
)
def test_first_hit_policy(amount: int, country: str, expected: dict[str, Any] | None, matching: list[int]) -> None:
    t = table(DISCOUNT)
    assert t.evaluate(env(amount, country)) == expected
    assert t.matching_rows(env(amount, country)) == matching
    assert t.evaluate_traced(env(amount, country)) == (expected, matching[:1])


def test_table_shape() -> None:
    t = table(DISCOUNT)
    assert (t.id, t.hit, t.aggregate, t.outputs, t.priorities) == ("t", "first", None, ("rate",), None)
    assert all(isinstance(c, Compiled) for c in t.inputs)
    assert [c.source for c in t.inputs] == ["amount", "country"]
    with pytest.raises(AttributeError):
        t.hit = "unique"  # type: ignore[misc]


def test_results_are_fresh_dicts() -> None:
    t = table([["-", "-", 1]])
    r = t.evaluate(env(1))
    assert isinstance(r, dict)
    r["rate"] = 99
    assert t.evaluate(env(1)) == {"rate": 1}


@pytest.mark.parametrize(
    ("cell", "hits", "misses"),
    [
        ("-", [None, 0, 5], []),
        ("*", [1], []),
        ("", [1], []),
        (None, [1], []),
        (5, [5, 5.0], [4, 6]),
        ("5", [5], [4]),
        ("= 5", [5], [4]),
        ("== 5", [5], [4]),
        ("!= 5", [4, 6], [5]),
        ("< 5", [4], [5, 6]),
        ("<= 5", [5], [6]),
        ("> 5", [6], [5]),
        (">=5", [5, 6], [4]),
        ("[1..5]", [1, 3, 5], [0, 6]),
        ("(1..5]", [2, 5], [1, 6]),
        ("[1..5)", [1, 4], [5]),
        ("(1..5)", [2, 4], [1, 5]),
        ("]1..5[", [2, 4], [1, 5]),
        ("[1.5..2.5]", [1.5, 2, 2.5], [1.4, 2.6]),
        ("[-5..-1]", [-5, -1], [0, -6]),
        ("1, 3, 5", [1, 3, 5], [2, 4]),
        ("< 0, > 10", [-1, 11], [0, 5, 10]),
        ("[1..2], [8..9]", [1, 2, 8, 9], [5]),
        ("not(1, 2)", [0, 3], [1, 2]),
        ("not(< 0)", [0, 5], [-1]),
        ("not([1..5])", [0, 6], [1, 5]),
        ("> limit", [10_001], [10_000]),
        ("[limit - 10..limit]", [9_990, 10_000], [9_989, 10_001]),
        ("limit", [10_000], [1]),
        ("abs(-3), 4", [3, 4], [-3]),
    ],
)
def test_numeric_unary_tests(cell: Any, hits: list[Any], misses: list[Any]) -> None:
    t = compile_table("t", ["x"], ["hit"], [[cell, True]], names=NAMES)
    for v in hits:
        assert t.evaluate({"x": v, "limit": 10_000}) == {"hit": True}, v
    for v in misses:
        assert t.evaluate({"x": v, "limit": 10_000}) is None, v


@pytest.mark.parametrize(
    ("cell", "hits", "misses"),
    [
        ("'DE'", ["DE"], ["AT", "de"]),
        ('"DE"', ["DE"], ["AT"]),
        ("'DE', 'AT'", ["DE", "AT"], ["CH"]),
        ("'a,b', 'c'", ["a,b", "c"], ["a", "b"]),
        ("not('DE')", ["AT"], ["DE"]),
        ("!= 'DE'", ["AT"], ["DE"]),
        ("['A'..'M']", ["A", "Berlin", "M"], ["Munich", "Z"]),
        ("'..'", [".."], ["x"]),
    ],
)
def test_string_unary_tests(cell: str, hits: list[str], misses: list[str]) -> None:
    t = compile_table("t", ["country"], ["hit"], [[cell, True]], names=NAMES)
    for v in hits:
        assert t.evaluate({"country": v}) == {"hit": True}, v
    for v in misses:
        assert t.evaluate({"country": v}) is None, v


def test_bool_and_record_inputs() -> None:
    t = compile_table(
        "t", ["vip", "customer.tier"], ["lane"],
        [[True, "-", "fast"], ["false", "'gold'", "priority"], ["-", "-", "normal"]], names=NAMES,
    )
    assert t.evaluate({"vip": True, "customer": {"tier": "x"}}) == {"lane": "fast"}
    assert t.evaluate({"vip": False, "customer": {"tier": "gold"}}) == {"lane": "priority"}
    assert t.evaluate({"vip": False, "customer": {"tier": "x"}}) == {"lane": "normal"}


def test_output_cells() -> None:
    t = compile_table(
        "t", ["amount"], ["a", "b", "c", "d", "e", "f"],
        [["-", 1, "manager", True, None, "= amount * 2", "= [1, 2]"]], names=NAMES,
    )
    r = t.evaluate({"amount": 5})
    assert r == {"a": 1, "b": "manager", "c": True, "d": None, "e": 10, "f": [1, 2]}
    assert isinstance(r, dict)
    r["f"].append(3)
    assert t.evaluate({"amount": 5})["f"] == [1, 2]  # type: ignore[index]
    t = compile_table("t", ["amount"], ["fee"], [["-", "= duration('1h') / 60"]], names=NAMES)
    assert t.evaluate({"amount": 1}) == {"fee": 60.0}


# ---------------------------------------------------------------------------------- hit policies


def test_unique() -> None:
    t = table([["< 1000", "-", 1], ["[1000..5000]", "'DE'", 2], ["[4000..9000]", "-", 3]], hit="unique")
    assert t.evaluate(env(10)) == {"rate": 1}
    assert t.evaluate(env(4500, "AT")) == {"rate": 3}
    assert t.evaluate(env(99_999)) is None
    with pytest.raises(ExprRuntimeError) as info:
        t.evaluate(env(4500, "DE"))
    assert str(info.value) == "hit policy unique, but rows 2 and 3 both match (in table 't')"
    t = table([["-", "-", 1], ["> 0", "-", 2], ["> 1", "-", 3]], hit="unique")
    with pytest.raises(ExprRuntimeError, match=r"^hit policy unique, but rows 1, 2 and 3 all match \(in table 't'\)$"):
        t.evaluate(env(5))


@pytest.mark.parametrize(
    ("rows", "row"),
    [
        ([["> 1", "'DE'", 1], [">1", "'DE'", 2]], 1),
        ([["-", "'DE', 'AT'", 1], ["*", "'AT','DE'", 2]], 1),
        ([[5, "-", 1], ["= 5", None, 2]], 1),
        ([["[1..2]", "-", 1], ["< 0", "-", 2], ["[1 .. 2]", "", 3]], 2),
    ],
)
def test_unique_refuses_identical_input_cells(rows: list[list[Any]], row: int) -> None:
    e = terr(rows, hit="unique")
    assert (e.code, e.row, e.col) == ("overlap", row, None)
    assert e.msg.endswith("; hit policy unique lets only one row match")


def test_unique_identical_looking_but_different_cells_are_fine() -> None:
    table([[1, "-", 1], [True, "-", 2]], inputs=["x", "country"], hit="unique")
    table([["[1..2]", "-", 1], ["(1..2]", "-", 2]], hit="unique")


def test_priority() -> None:
    rows = [["> 100", "-", "review"], ["> 1000", "-", "reject"], ["-", "'US'", "= 'review' if vip else 'approve'"], ["-", "-", "approve"]]
    t = table(rows, outputs=["decision"], hit="priority", priorities=["reject", "review", "approve"])
    assert t.priorities == ("reject", "review", "approve")
    assert t.evaluate(env(5000)) == {"decision": "reject"}
    assert t.evaluate_traced(env(5000)) == ({"decision": "reject"}, [1])
    assert t.evaluate(env(500)) == {"decision": "review"}
    assert t.evaluate(env(5, "US", vip=True)) == {"decision": "review"}
    assert t.evaluate_traced(env(5, "US")) == ({"decision": "approve"}, [2])  # tie: the earlier row wins
    assert t.matching_rows(env(5000)) == [0, 1, 3]


def test_priority_errors() -> None:
    e = terr([["-", "-", "x"]], hit="priority")
    assert (e.code, e.msg) == ("priority", "hit policy priority needs a list of priorities (values of the first output, most important first)")
    e = terr([["-", "-", "a"], ["-", "-", "maybe"]], hit="priority", priorities=["a", "b"])
    assert (e.code, e.row, e.col, e.msg) == ("priority", 1, 2, "output 'maybe' is not in priorities")
    assert terr([["-", "-", "a"]], hit="priority", priorities=["a", "a"]).msg == "priority 'a' is listed twice"
    assert terr([["-", "-", "a"]], priorities=["a"]).msg == "priorities are only used with hit policy priority, not first"
    t = table([["-", "-", "= country"]], hit="priority", priorities=["DE"])
    with pytest.raises(ExprRuntimeError, match=r"^output 'FR' is not in priorities \(in table 't', row 1\)$"):
        t.evaluate(env(1, "FR"))


def test_collect() -> None:
    rows = [["> 0", "-", 1], ["> 10", "-", 2.5], ["> 100", "'DE'", 4], ["-", "'XX'", 0]]
    t = table(rows, hit="collect")
    assert t.evaluate(env(50)) == [{"rate": 1}, {"rate": 2.5}]
    assert t.evaluate_traced(env(500)) == ([{"rate": 1}, {"rate": 2.5}, {"rate": 4}], [0, 1, 2])
    assert t.evaluate(env(-1)) is None
    for agg, expected in [("sum", 7.5), ("min", 1), ("max", 4), ("count", 3)]:
        assert table(rows, hit="collect", aggregate=agg).evaluate(env(500)) == {"rate": expected}
        assert table(rows, hit="collect", aggregate=agg).evaluate(env(-1)) is None
    assert table(rows, hit="collect", aggregate="sum").evaluate(env(5)) == {"rate": 1}
    assert type(table([["-", "-", 1], ["-", "-", 2]], hit="collect", aggregate="sum").evaluate(env(5))["rate"]) is int  # type: ignore[index]


def test_collect_sum_is_exact_and_order_free() -> None:
    t = table([["-", "-", 0.1]] * 10, hit="collect", aggregate="sum")
    assert t.evaluate(env(1)) == {"rate": 1.0}


def test_aggregate_errors() -> None:
    assert terr([["-", "-", 1]], hit="first", aggregate="sum").msg == "aggregate 'sum' needs hit policy collect, not first"
    e = terr([["-", "-", 1]], hit="collect", aggregate="avg")
    assert (e.code, e.msg) == ("aggregate", "unknown aggregate 'avg' (one of: sum, min, max, count)")
    e = terr([["-", "-", 1, 2]], outputs=["a", "b"], hit="collect", aggregate="sum")
    assert e.msg == "aggregate 'sum' needs exactly one output, got 2"
    e = terr([["-", "-", 1], ["-", "-", "high"]], hit="collect", aggregate="max")
    assert (e.code, e.row, e.col, e.msg) == ("type_error", 1, 2, "aggregate 'max' needs numbers, got 'high'")
    e = terr([["-", "-", "= country"]], hit="collect", aggregate="sum")
    assert (e.code, e.offset, e.msg) == ("type_error", 1, "aggregate 'sum' needs numbers, got string")
    table([["-", "-", "high"]], hit="collect", aggregate="count")


# ---------------------------------------------------------------------------------- load errors


def test_cell_errors_carry_row_col_and_offset() -> None:
    e = terr([["-", "-", 0], ["> amout", "-", 0]])
    assert (e.msg, e.code, e.row, e.col, e.offset) == ("unknown name 'amout'; did you mean 'amount'?", "unknown_name", 1, 0, 2)
    e = terr([["-", "DE", 0]])
    assert (e.msg, e.row, e.col, e.offset) == ("unknown name 'DE'; strings need quotes: 'DE'", 0, 1, 0)
    e = terr([["-", "'DE', AT", 0]])
    assert (e.msg, e.offset) == ("unknown name 'AT'; strings need quotes: 'AT'", 6)
    e = terr([["> 'x'", "-", 0]])
    assert (e.msg, e.code, e.offset) == ("cannot compare number with string", "type_error", 2)
    e = terr([["[1..'z']", "-", 0]])
    assert (e.msg, e.offset) == ("cannot compare number with string", 4)
    e = terr([["-", 5, 0]])
    assert (e.msg, e.code, e.col) == ("cannot compare string with number", "type_error", 1)
    e = terr([["[5..1]", "-", 0]])
    assert (e.msg, e.code) == ("empty range: [5..1]", "range")
    e = terr([["(1..1]", "-", 0]])
    assert e.code == "range"
    e = terr([["1,,2", "-", 0]])
    assert (e.msg, e.offset) == ("empty test", 2)
    e = terr([["> (1", "-", 0]])
    assert (e.code, e.offset) == ("syntax", 2)
    e = terr([["-", "-", "= amout * 2"]])
    assert (e.msg, e.row, e.col, e.offset) == ("unknown name 'amout'; did you mean 'amount'?", 0, 2, 2)
    e = terr([["-", "-", "=1/0"]])
    assert (e.msg, e.code, e.offset) == ("division by zero", "value_error", 1)
    e = terr([["-", "-", {"a": 1}]])
    assert (e.code, e.col) == ("cell", 2)
    e = terr([[["DE"], "-", 0]])
    assert (e.code, e.col, e.msg) == ("cell", 0, "an input cell must be a string, number, bool or null, got list")


def test_table_errors() -> None:
    e = terr([["-", "-", 0], ["-", 0]])
    assert (e.msg, e.code, e.row) == ("row 2 has 2 cells; expected 3 (2 inputs, 1 outputs)", "row_length", 1)
    assert terr(["- - 0"]).msg == "row 1 must be a list of cells"  # type: ignore[list-item]
    assert terr([]).msg == "a table needs at least one row"
    e = terr([["-", "-", 0]], hit="frist")
    assert (e.msg, e.code, e.row, e.col) == ("unknown hit policy 'frist'; did you mean 'first'?", "hit", None, None)
    e = terr([["-", "-", 0]], inputs=["amount", "contry"])
    assert (e.msg, e.code, e.row, e.col, e.offset) == ("unknown name 'contry'; did you mean 'country'?", "unknown_name", None, 1, 0)
    e = terr([["-", "-", 0, 1]], outputs=["rate", "rate"])
    assert (e.msg, e.col) == ("output 'rate' is listed twice", 3)
    with pytest.raises(TableError, match="^a table needs at least one output$"):
        compile_table("t", ["amount"], [], [["-"]], names=NAMES)
    assert terr([["-", "-", 0]], outputs=["a b"]).msg == "output name 'a b' must be an identifier"


# ---------------------------------------------------------------------------------- run time


def test_runtime_errors_name_table_and_row() -> None:
    t = table(DISCOUNT)
    with pytest.raises(ExprRuntimeError) as info:
        t.evaluate(env(None))
    assert str(info.value) == "'<' not supported between instances of 'NoneType' and 'int' (in table 't', row 1)"
    t = compile_table("fees", ["amount / x"], ["fee"], [["-", 1]], names=NAMES)
    with pytest.raises(ExprRuntimeError, match=r"^division by zero \(in table 'fees', input: amount / x\)$"):
        t.evaluate({"amount": 1, "x": 0})
    t = compile_table("fees", ["amount"], ["fee"], [["-", "= 1 / x"]], names=NAMES)
    with pytest.raises(ExprRuntimeError, match=r"^division by zero \(in table 'fees', row 1, output 'fee'\)$"):
        t.evaluate({"amount": 1, "x": 0})
    with pytest.raises(ExprRuntimeError, match=r"^missing value for 'amount' \(in table 'fees', input: amount\)$"):
        t.evaluate({})


# ---------------------------------------------------------------------------------- properties

BRACKETS = {"[": True, "(": False, "]": False}
CLOSERS = {"]": True, ")": False, "[": False}


@given(
    lo=st.integers(-50, 50), width=st.integers(1, 50), v=st.integers(-120, 120),
    left=st.sampled_from(sorted(BRACKETS)), right=st.sampled_from(sorted(CLOSERS)),
)
def test_ranges_agree_with_comparisons(lo: int, width: int, v: int, left: str, right: str) -> None:
    hi = lo + width
    t = compile_table("t", ["x"], ["hit"], [[f"{left}{lo}..{hi}{right}", True]], names=NAMES)
    inside = (lo <= v if BRACKETS[left] else lo < v) and (v <= hi if CLOSERS[right] else v < hi)
    assert (t.evaluate({"x": v}) is not None) is inside
    # the same range with expression endpoints takes the generic path: it must agree
    g = compile_table("t", ["x"], ["hit"], [[f"{left}limit - {width}..limit{right}", True]], names=NAMES)
    assert (g.evaluate({"x": v, "limit": hi}) is not None) is inside


@given(st.lists(st.integers(0, 9), min_size=1, max_size=8), st.integers(0, 9))
def test_first_is_the_first_of_collect(thresholds: list[int], v: int) -> None:
    rows = [[f">= {th}", "-", k] for k, th in enumerate(thresholds)]
    first = table(rows).evaluate(env(v))
    collected = table(rows, hit="collect").evaluate(env(v))
    assert (first is None and collected is None) or (collected is not None and first == collected[0])
    assert table(rows, hit="collect", aggregate="count").evaluate(env(v)) == (None if collected is None else {"rate": len(collected)})
