"""Duration parsing and formatting, and the Duration/Quantity pydantic types."""

from __future__ import annotations

import json
import math
import re
from typing import Annotated, Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import Field, TypeAdapter, ValidationError

from procsim.limits import MAX_DURATION_S

from procsim.spec.units import (
    DURATION_PATTERN,
    Duration,
    Quantity,
    Seconds,
    format_duration,
    parse_duration,
    parse_quantity,
)

HINT = "use a number with a unit, like '15m', '2h' or '1d 4h'"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("15m", 900.0),
        ("2h", 7200.0),
        ("1d 4h", 100_800.0),
        ("1d4h", 100_800.0),
        ("90s", 90.0),
        ("1.5h", 5400.0),
        ("2w", 1_209_600.0),
        ("500ms", 0.5),
        ("0", 0.0),
        ("0.0", 0.0),
        ("-0", 0.0),
        ("1h 30m", 5400.0),
        ("1h30m15s", 5415.0),
        (" 7 min ", 420.0),
        ("2 hours", 7200.0),
        ("3days", 259_200.0),
        ("10 minutes 5 seconds", 605.0),
        ("1 week", 604_800.0),
        ("2hr 30sec", 7230.0),
        (".5h", 1800.0),
        ("1.h", 3600.0),
        ("0.1s", 0.1),  # exact rational sum rounded once: not 0.1 * 1.0 accumulated
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_parse_numbers_are_seconds() -> None:
    assert parse_duration(15) == 15.0
    assert parse_duration(2.5) == 2.5
    assert type(parse_duration(15)) is float


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("15 parsecs", f"invalid duration '15 parsecs': {HINT}"),
        ("-5m", "negative duration '-5m'"),
        ("- 1h 30m", "negative duration '- 1h 30m'"),
        (-5, "negative duration -5"),
        ("15", "invalid duration '15': durations need a unit, like '15m' or '2h'"),
        ("1.5", "invalid duration '1.5': durations need a unit, like '15m' or '2h'"),
        ("", f"invalid duration '': {HINT}"),
        ("-", f"invalid duration '-': {HINT}"),
        ("h", f"invalid duration 'h': {HINT}"),
        ("1h -30m", f"invalid duration '1h -30m': {HINT}"),
        ("+5m", f"invalid duration '+5m': {HINT}"),
        ("2H", f"invalid duration '2H': {HINT}"),  # upper case M could mean month: refuse all upper case
        ("15msx", f"invalid duration '15msx': {HINT}"),
        ("1.5.5h", f"invalid duration '1.5.5h': {HINT}"),
        ("1e3s", f"invalid duration '1e3s': {HINT}"),
        ("١٥m", f"invalid duration '١٥m': {HINT}"),  # only ASCII digits
        (True, f"invalid duration True: {HINT}"),
        (math.inf, f"invalid duration inf: {HINT}"),
        (math.nan, f"invalid duration nan: {HINT}"),
        ("9" * 400 + "w", f"duration '{'9' * 400}w' is longer than 100 years, the longest procsim accepts"),
        ("36501d", "duration '36501d' is longer than 100 years, the longest procsim accepts"),
    ],
)
def test_parse_duration_errors(value: Any, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_duration(value)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0, "0"),
        (900.0, "15m"),
        (100_800.0, "1d 4h"),
        (5400.0, "1h 30m"),
        (1.5, "1.5s"),
        (0.5, "500ms"),
        (90.0, "1m 30s"),
        (1_209_600.0, "14d"),
        (259_200.25, "3d 250ms"),
        (123_456.789, "1d 10h 17m 36.789s"),
        (1e-5, "0.01ms"),
        (-900.0, "-15m"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_format_rejects_non_finite() -> None:
    with pytest.raises(ValueError, match=r"^cannot format inf as a duration$"):
        format_duration(math.inf)


@given(st.floats(min_value=0, max_value=MAX_DURATION_S, allow_infinity=False, allow_nan=False))
def test_format_then_parse_is_exact(x: float) -> None:
    # the domain of durations: up to the bound (procsim.limits); longer ones are refused, as the case above shows
    assert parse_duration(format_duration(x)) == x


_components = st.tuples(
    st.integers(0, 10_000), st.integers(0, 23), st.integers(0, 59), st.integers(0, 59), st.integers(0, 999)
)


@given(_components)
def test_parse_then_format_is_canonical(parts: tuple[int, int, int, int, int]) -> None:
    days, hours, mins, secs, ms = parts
    text = " ".join(
        f"{n}{u}" for n, u in ((days, "d"), (hours, "h"), (mins, "m")) if n
    )
    if secs and ms:
        text += f" {secs}.{ms:03d}".rstrip("0") + "s"
    elif secs:
        text += f" {secs}s"
    elif ms:
        text += f" {ms}ms"
    text = text.strip() or "0"
    expected = days * 86_400 + hours * 3600 + mins * 60 + secs + ms / 1000
    assert parse_duration(text) == pytest.approx(expected, rel=1e-15)
    assert format_duration(parse_duration(text)) == text


@given(st.text(alphabet="0123456789. .hmsdwinour", max_size=12))
def test_json_schema_pattern_agrees_with_parser(text: str) -> None:
    # Editors validate with the pattern, procsim with the parser: they must accept the same strings.
    try:
        parse_duration(text)
        parsed = True
    except ValueError as e:
        # the 100-year bound (procsim.limits) is on the value, not on the syntax the pattern describes
        parsed = "longer than" in str(e)
    assert (re.fullmatch(DURATION_PATTERN, text) is not None) == parsed


def test_seconds_marks_unit_but_arithmetic_does_not() -> None:
    s = Seconds(900.0)
    assert repr(s) == "Seconds(900.0)"
    assert s == 900.0
    assert type(s + 1) is float


def test_parse_quantity() -> None:
    assert repr(parse_quantity("15m")) == "Seconds(900.0)"
    assert type(parse_quantity(2.5)) is float
    assert parse_quantity(None) is None  # left to pydantic to reject


def _errors(adapter: TypeAdapter[Any], value: Any) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as info:
        adapter.validate_python(value)
    return [(e["type"], e["msg"]) for e in info.value.errors()]


def test_duration_type_keeps_seconds_and_needs_units() -> None:
    ta: TypeAdapter[float] = TypeAdapter(Duration)
    assert repr(ta.validate_python("1d 4h")) == "Seconds(100800.0)"
    assert repr(ta.validate_python(Seconds(5.0))) == "Seconds(5.0)"
    assert repr(ta.validate_python(0)) == "Seconds(0.0)"
    assert repr(ta.validate_json('"15m"')) == "Seconds(900.0)"
    assert _errors(ta, 15) == [("value_error", "Value error, durations need a unit, like '15m' or '2h'")]
    assert _errors(ta, "15") == [
        ("value_error", "Value error, invalid duration '15': durations need a unit, like '15m' or '2h'")
    ]
    assert _errors(ta, "-5m") == [("value_error", "Value error, negative duration '-5m'")]
    assert _errors(ta, True) == [("value_error", "Value error, expected a number or a duration like '15m', got True")]
    assert _errors(ta, None) == [("float_type", "Input should be a valid number")]


def test_quantity_type() -> None:
    ta: TypeAdapter[float] = TypeAdapter(Quantity)
    assert repr(ta.validate_python("30m")) == "Seconds(1800.0)"
    assert repr(ta.validate_python(2.5)) == "2.5"
    assert repr(ta.validate_python(3)) == "3.0"
    assert repr(ta.validate_python(["2h"][0])) == "Seconds(7200.0)"
    assert _errors(ta, math.inf) == [("finite_number", "Input should be a finite number")]
    assert _errors(ta, "2 parsecs") == [("value_error", f"Value error, invalid duration '2 parsecs': {HINT}")]


def test_constraints_after_quantity_keep_seconds() -> None:
    ta: TypeAdapter[float] = TypeAdapter(Annotated[Quantity, Field(gt=0)])
    assert repr(ta.validate_python("15m")) == "Seconds(900.0)"
    assert _errors(ta, "0") == [("greater_than", "Input should be greater than 0")]
    assert ta.json_schema()["anyOf"][0] == {"type": "number", "exclusiveMinimum": 0}


def test_json_schema_is_number_or_string() -> None:
    string = {"type": "string", "pattern": DURATION_PATTERN}
    assert TypeAdapter(Quantity).json_schema() == {"anyOf": [{"type": "number"}, string]}
    assert TypeAdapter(Duration).json_schema() == {"anyOf": [{"type": "number", "const": 0}, string]}


def test_json_dump_writes_units_back() -> None:
    ta: TypeAdapter[list[float]] = TypeAdapter(list[Quantity])
    values = ta.validate_python(["1h 30m", 2.5, "500ms"])
    dumped = ta.dump_json(values)
    assert json.loads(dumped) == ["1h 30m", 2.5, "500ms"]
    assert [repr(v) for v in ta.validate_json(dumped)] == ["Seconds(5400.0)", "2.5", "Seconds(0.5)"]
    assert [repr(v) for v in ta.dump_python(values)] == ["Seconds(5400.0)", "2.5", "Seconds(0.5)"]
