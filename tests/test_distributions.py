"""Distribution models, the registry-built union, samplers and unit checks."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

# procsim.spec.units first: procsim/spec/__init__.py imports procsim.distributions, so importing
# procsim.distributions before procsim.spec is circular (see test_distributions_import_alone).
from procsim.spec.units import Seconds  # isort: skip
from procsim.distributions import (
    REGISTRY,
    Distribution,
    DistributionSpec,
    DurationDistribution,
    Empirical,
    Exponential,
    Fixed,
    Gamma,
    Lognormal,
    Normal,
    Triangular,
    Uniform,
    Weibull,
    check_units,
    parse_distribution_shorthand,
)

SPEC: TypeAdapter[Any] = TypeAdapter(DistributionSpec)
DURATION: TypeAdapter[Any] = TypeAdapter(DurationDistribution)
N = 20_000

# One of each kind, with a unit on every time parameter, spread so each sampler path is exercised.
EXAMPLES: list[dict[str, Any]] = [
    {"kind": "fixed", "value": "15m"},
    {"kind": "uniform", "low": "10m", "high": "50m"},
    {"kind": "triangular", "low": "1h", "mode": "2h", "high": "6h"},
    {"kind": "normal", "mean": "30m", "sd": "10m"},
    {"kind": "normal", "mean": "5m", "sd": "10m"},  # heavy truncation: expected_value well above mean
    {"kind": "normal", "mean": "30m", "sd": "10m", "truncate": False},
    {"kind": "lognormal", "mean": "2h", "sd": "1h"},
    {"kind": "exponential", "mean": "20m"},
    {"kind": "gamma", "mean": "1d", "sd": "6h"},
    {"kind": "weibull", "shape": 1.5, "scale": "3h"},
    {"kind": "empirical", "values": ["5m", "10m", "1h"], "weights": [5, 0, 2]},
    {"kind": "empirical", "values": ["5m", "10m", "1h"]},
    {"kind": "quantiles", "probabilities": [0, 0.5, 0.9, 1], "values": ["5m", "20m", "1h", "4h"]},
    {"kind": "mixture", "components": [{"weight": 9, "distribution": {"kind": "lognormal", "mean": "20m", "sd": "10m"}},
                                       {"weight": 1, "distribution": {"kind": "exponential", "mean": "4h"}},
                                       {"weight": 0, "distribution": "1m"}]},
]


def _draw(dist: Distribution, seed: int = 7, n: int = N) -> np.ndarray:
    sample, rng = dist.sampler(), np.random.default_rng(seed)
    return np.array([sample(rng) for _ in range(n)])


def test_registry_lists_every_kind_in_order() -> None:
    assert list(REGISTRY) == [
        "fixed", "uniform", "triangular", "normal", "lognormal", "exponential", "gamma", "weibull", "empirical",
        "quantiles", "mixture",
    ]
    assert get_args(get_args(DistributionSpec)[0]) == tuple(REGISTRY.values())
    assert {d["kind"] for d in EXAMPLES} == set(REGISTRY)


def test_distribution_after_union_is_refused() -> None:
    with pytest.raises(TypeError) as info:

        class Late(Distribution):
            kind: Literal["late"] = "late"

    assert str(info.value) == (
        "distribution 'late' (Late) defined after DistributionSpec was built; publish it as an entry point in "
        "the group 'procsim.distributions' named 'late' so it is loaded before"
    )
    assert "late" not in REGISTRY


def test_kind_must_be_one_literal() -> None:
    with pytest.raises(TypeError, match=r"^Bad\.kind must be Literal\['<name>'\] with exactly one string$"):

        class Bad(Distribution):
            kind: str = "bad"


def test_distributions_import_alone() -> None:
    # A fresh interpreter importing only procsim.distributions must work (no import cycle).
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-c", "import procsim.distributions"], cwd=root, capture_output=True, text=True
    )
    if result.returncode and "circular import" in result.stderr:
        pytest.xfail("procsim/spec/__init__.py imports procsim.distributions at import time (cycle via units)")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("data", EXAMPLES, ids=lambda d: d["kind"])
def test_sample_mean_matches_expected_value(data: dict[str, Any]) -> None:
    dist = SPEC.validate_python(data)
    draws = _draw(dist)
    # Four standard errors: a fixed seed makes this deterministic, the width keeps it meaningful.
    tolerance = 4 * draws.std() / math.sqrt(N) + 1e-9
    assert abs(draws.mean() - dist.expected_value()) <= tolerance


@pytest.mark.parametrize("data", EXAMPLES, ids=lambda d: d["kind"])
def test_same_seed_same_draws_and_python_floats(data: dict[str, Any]) -> None:
    dist = SPEC.validate_python(data)
    sample, a, b = dist.sampler(), np.random.default_rng(3), np.random.default_rng(3)
    first = [sample(a) for _ in range(200)]
    assert first == [sample(b) for _ in range(200)]
    assert all(type(x) is float for x in first)
    assert first != [sample(np.random.default_rng(4)) for _ in range(200)] or data["kind"] == "fixed"


@pytest.mark.parametrize("data", EXAMPLES, ids=lambda d: d["kind"])
def test_draws_respect_min_value(data: dict[str, Any]) -> None:
    dist = SPEC.validate_python(data)
    assert _draw(dist, n=2000).min() >= dist.min_value()


@settings(max_examples=50, deadline=None)
@given(mean=st.floats(0, 1e4), sd=st.floats(1e-3, 1e4), seed=st.integers(0, 2**32))
def test_truncated_normal_never_negative(mean: float, sd: float, seed: int) -> None:
    draws = _draw(Normal(mean=mean, sd=sd), seed=seed, n=500)
    assert draws.min() >= 0.0


def test_truncated_normal_mean_is_the_truncated_mean() -> None:
    dist = Normal(mean=0, sd=1)
    assert dist.expected_value() == pytest.approx(math.sqrt(2 / math.pi))  # half-normal
    assert Normal(mean=0, sd=1, truncate=False).expected_value() == 0.0
    assert dist.min_value() == 0.0
    assert Normal(mean=0, sd=1, truncate=False).min_value() == -math.inf


def test_samplers_agree_with_numpy() -> None:
    # The hand-inlined formulas must draw exactly what numpy's methods would.
    for dist, reference in [
        (Uniform(low=1, high=3.5), lambda r: r.uniform(1, 3.5)),
        (Triangular(low=1, mode=2, high=4), lambda r: r.triangular(1, 2, 4)),
        (Triangular(low=1, mode=1, high=4), lambda r: r.triangular(1, 1, 4)),
        (Normal(mean=2, sd=3, truncate=False), lambda r: r.normal(2, 3)),
    ]:
        sample, a, b = dist.sampler(), np.random.default_rng(11), np.random.default_rng(11)
        assert [sample(a) for _ in range(1000)] == [reference(b) for _ in range(1000)]


def test_degenerate_parameters_are_constants() -> None:
    rng = np.random.default_rng(0)
    for dist in [
        Triangular(low=5, mode=5, high=5),
        Normal(mean=5, sd=0),
        Lognormal(mean=5, sd=0),
        Gamma(mean=5, sd=0),
        Uniform(low=5, high=5),
        Empirical(values=[5]),
        Fixed(value=5),
    ]:
        sample = dist.sampler()
        assert [sample(rng) for _ in range(3)] == [5.0, 5.0, 5.0]
        assert dist.expected_value() == 5.0
        assert dist.min_value() == 5.0


def test_lognormal_matches_mean_and_sd_of_the_value() -> None:
    draws = _draw(Lognormal(mean=100, sd=30), n=100_000)
    assert draws.mean() == pytest.approx(100, rel=0.01)
    assert draws.std() == pytest.approx(30, rel=0.03)


def test_gamma_matches_mean_and_sd() -> None:
    draws = _draw(Gamma(mean=100, sd=30), n=100_000)
    assert draws.mean() == pytest.approx(100, rel=0.01)
    assert draws.std() == pytest.approx(30, rel=0.03)


def test_empirical_weights_are_normalised_and_zero_weights_never_drawn() -> None:
    draws = _draw(Empirical(values=[1, 2, 3, 4], weights=[0, 3, 0, 1]))
    assert set(np.unique(draws)) == {2.0, 4.0}
    assert (draws == 2.0).mean() == pytest.approx(0.75, abs=0.02)
    assert Empirical(values=[1, 2], weights=[0, 5]).min_value() == 2.0
    only_last = _draw(Empirical(values=[1, 2], weights=[0, 1e-300]), n=100)
    assert set(only_last) == {2.0}


def test_weibull_mean() -> None:
    assert Weibull(shape=1, scale=10).expected_value() == pytest.approx(10)  # exponential
    assert Weibull(shape=0.001, scale=1).expected_value() == math.inf


# -- validation through the discriminated union ------------------------------------------------


def _errors(adapter: TypeAdapter[Any], value: Any) -> list[tuple[str, tuple[Any, ...], str]]:
    with pytest.raises(ValidationError) as info:
        adapter.validate_python(value)
    return [(e["type"], e["loc"], e["msg"]) for e in info.value.errors()]


def test_union_picks_class_and_keeps_units() -> None:
    dist = SPEC.validate_python({"kind": "lognormal", "mean": "30m", "sd": 120})
    assert isinstance(dist, Lognormal)
    assert repr(dist) == "Lognormal(kind='lognormal', mean=Seconds(1800.0), sd=120.0)"
    assert isinstance(dist.mean, Seconds) and not isinstance(dist.sd, Seconds)


def test_shorthand() -> None:
    assert parse_distribution_shorthand("15m") == {"kind": "fixed", "value": "15m"}
    assert parse_distribution_shorthand(2.5) == {"kind": "fixed", "value": 2.5}
    assert parse_distribution_shorthand(True) is True
    assert parse_distribution_shorthand({"kind": "exponential"}) == {"kind": "exponential"}
    assert repr(DURATION.validate_python("15m")) == "Fixed(kind='fixed', value=Seconds(900.0))"
    assert repr(DURATION.validate_python(3)) == "Fixed(kind='fixed', value=3.0)"
    assert isinstance(DURATION.validate_python({"kind": "exponential", "mean": "1h"}), Exponential)
    assert repr(DURATION.validate_json('"1d 4h"')) == "Fixed(kind='fixed', value=Seconds(100800.0))"


def test_unknown_kind_is_pydantic_union_tag_error() -> None:
    assert _errors(SPEC, {"kind": "poisson", "mean": 3}) == [
        (
            "union_tag_invalid",
            (),
            "Input tag 'poisson' found using 'kind' does not match any of the expected tags: 'fixed', 'uniform', "
            "'triangular', 'normal', 'lognormal', 'exponential', 'gamma', 'weibull', 'empirical', 'quantiles', 'mixture'",
        )
    ]
    assert _errors(SPEC, {"mean": 3}) == [
        ("union_tag_not_found", (), "Unable to extract tag using discriminator 'kind'")
    ]


def test_extra_key_rejected() -> None:
    assert _errors(SPEC, {"kind": "exponential", "mean": "1h", "men": 2}) == [
        ("extra_forbidden", ("exponential", "men"), "Extra inputs are not permitted")
    ]


GT0 = "Input should be greater than 0"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (
            {"kind": "uniform", "low": "2h", "high": "1h"},
            ("value_error", ("uniform",), "Value error, need low <= high, got low=2h, high=1h"),
        ),
        (
            {"kind": "triangular", "low": 1, "mode": 5, "high": 3},
            ("value_error", ("triangular",), "Value error, need low <= mode <= high, got low=1.0, mode=5.0, high=3.0"),
        ),
        (
            {"kind": "normal", "mean": -1, "sd": 1},
            (
                "value_error",
                ("normal",),
                "Value error, mean must be >= 0 when truncate is true (the default), got -1.0",
            ),
        ),
        (
            {"kind": "normal", "mean": "1h", "sd": -1},
            ("greater_than_equal", ("normal", "sd"), "Input should be greater than or equal to 0"),
        ),
        ({"kind": "lognormal", "mean": 0, "sd": 1}, ("greater_than", ("lognormal", "mean"), GT0)),
        ({"kind": "exponential", "mean": "0"}, ("greater_than", ("exponential", "mean"), GT0)),
        (
            {"kind": "gamma", "mean": "1h", "sd": "-5m"},
            ("value_error", ("gamma", "sd"), "Value error, negative duration '-5m'"),
        ),
        (
            {"kind": "weibull", "shape": "2h", "scale": 1},
            (
                "float_parsing",
                ("weibull", "shape"),
                "Input should be a valid number, unable to parse string as a number",
            ),
        ),
        ({"kind": "weibull", "shape": 0, "scale": 1}, ("greater_than", ("weibull", "shape"), GT0)),
        (
            {"kind": "empirical", "values": [1, 2], "weights": [1]},
            ("value_error", ("empirical",), "Value error, need one weight per value, got 1 for 2"),
        ),
        (
            {"kind": "empirical", "values": [1, 2], "weights": [0, 0]},
            ("value_error", ("empirical",), "Value error, weights must not all be 0"),
        ),
        (
            {"kind": "empirical", "values": [1, 2], "weights": [-1, 2]},
            ("greater_than_equal", ("empirical", "weights", 0), "Input should be greater than or equal to 0"),
        ),
        (
            {"kind": "empirical", "values": []},
            ("too_short", ("empirical", "values"), "List should have at least 1 item after validation, not 0"),
        ),
        (
            {"kind": "fixed", "value": float("nan")},
            ("finite_number", ("fixed", "value"), "Input should be a finite number"),
        ),
    ],
)
def test_validation_errors(data: dict[str, Any], error: tuple[str, tuple[Any, ...], str]) -> None:
    assert _errors(SPEC, data) == [error]


def test_models_are_frozen() -> None:
    dist = Exponential(mean=5)
    with pytest.raises(ValidationError):
        dist.mean = 6  # type: ignore[misc]


def test_json_round_trip_keeps_units() -> None:
    dist = SPEC.validate_python({"kind": "empirical", "values": ["1h 30m", 45, "500ms"], "weights": [1, 2, 3]})
    text = SPEC.dump_json(dist)
    assert text == b'{"kind":"empirical","values":["1h 30m",45.0,"500ms"],"weights":[1.0,2.0,3.0]}'
    again = SPEC.validate_json(text)
    assert again == dist
    assert check_units(again, need_units=True) == ["'values[1]' needs a unit, like '15m'"]


def test_json_schema_requires_kind_and_allows_shorthand() -> None:
    schema = DURATION.json_schema()
    assert [branch.get("type") for branch in schema["anyOf"]] == ["string", "number", None]
    assert schema["anyOf"][2]["discriminator"]["propertyName"] == "kind"
    assert schema["$defs"]["Weibull"]["required"] == ["kind", "shape", "scale"]
    assert schema["$defs"]["Fixed"]["additionalProperties"] is False
    assert schema["$defs"]["Weibull"]["properties"]["scale"]["anyOf"][0] == {"type": "number", "exclusiveMinimum": 0}


# -- check_units --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "need", "messages"),
    [
        ("15m", True, []),
        (0, True, []),
        (15, True, ["'value' needs a unit, like '15m'"]),
        ({"kind": "lognormal", "mean": "30m", "sd": 300}, True, ["'sd' needs a unit, like '15m'"]),
        ({"kind": "weibull", "shape": 2, "scale": "2h"}, True, []),  # shape is dimensionless
        ({"kind": "uniform", "low": 0, "high": "1h"}, True, []),
        (
            {"kind": "empirical", "values": ["5m", 10, 0, 20]},
            True,
            ["'values[1]' needs a unit, like '15m'", "'values[3]' needs a unit, like '15m'"],
        ),
        (
            {"kind": "normal", "mean": "30m", "sd": "10m", "truncate": False},
            True,
            ["can draw negative durations; remove 'truncate: false'"],
        ),
        ({"kind": "normal", "mean": 30, "sd": 10}, False, []),
        (
            {"kind": "gamma", "mean": "1h", "sd": 10},
            False,
            ["'mean' has a time unit, but this value is not a duration"],
        ),
        ({"kind": "fixed", "value": "0"}, False, []),
    ],
)
def test_check_units(data: Any, need: bool, messages: list[str]) -> None:
    assert check_units(DURATION.validate_python(data), need_units=need) == messages


def test_quantiles_reproduce_their_table_and_interpolate() -> None:
    q = SPEC.validate_python({"kind": "quantiles", "probabilities": [0, 0.5, 0.9, 1],
                              "values": ["5m", "20m", "1h", "4h"]})
    x = _draw(q, n=100_000)
    assert x.min() >= 300 and x.max() <= 14400
    assert np.quantile(x, [0.25, 0.5, 0.7, 0.9, 0.95]) == pytest.approx([750, 1200, 2400, 3600, 9000], rel=0.03)
    # uniform between neighbouring points: half the draws in [5m, 20m) fall below 12.5m
    low = x[x < 1200]
    assert (low < 750).mean() == pytest.approx(0.5, abs=0.02)


def test_mixture_matches_its_moments_and_has_a_heavy_tail() -> None:
    m = SPEC.validate_python({"kind": "mixture", "components": [
        {"weight": 0.9, "distribution": {"kind": "lognormal", "mean": "20m", "sd": "10m"}},
        {"weight": 0.1, "distribution": {"kind": "lognormal", "mean": "4h", "sd": "2h"}}]})
    x = _draw(m, n=100_000)
    # mean 0.9*20m + 0.1*4h; second moment from each component's mean^2 + sd^2
    mean = 0.9 * 1200 + 0.1 * 14400
    second = 0.9 * (1200**2 + 600**2) + 0.1 * (14400**2 + 7200**2)
    assert x.mean() == pytest.approx(mean, rel=0.02)
    assert x.std() == pytest.approx(math.sqrt(second - mean**2), rel=0.03)
    assert (x > 3 * 3600).mean() == pytest.approx(0.1 * 0.67, abs=0.01)  # only the slow component gets there
    assert np.quantile(x, 0.99) / np.median(x) > 10


def test_mixture_and_quantile_errors_and_nested_units() -> None:
    assert _errors(SPEC, {"kind": "quantiles", "probabilities": [0, 0.5], "values": ["1m", "2m", "3m"]}) == [
        ("value_error", ("quantiles",), "Value error, need one value per probability, got 3 values for 2 probabilities")]
    assert _errors(SPEC, {"kind": "quantiles", "probabilities": [0.1, 1], "values": ["1m", "2m"]}) == [
        ("value_error", ("quantiles",), "Value error, probabilities must run from 0 to 1, got 0.1 .. 1.0")]
    assert _errors(SPEC, {"kind": "quantiles", "probabilities": [0, 1], "values": ["3m", "2m"]}) == [
        ("value_error", ("quantiles",), "Value error, values must not fall: values[1] = 2m after 3m")]
    assert _errors(SPEC, {"kind": "mixture", "components": [{"weight": 0, "distribution": "1m"}]}) == [
        ("value_error", ("mixture",), "Value error, component weights must not all be 0")]
    m = SPEC.validate_python({"kind": "mixture", "components": [
        {"weight": 1, "distribution": {"kind": "exponential", "mean": 20}}, {"weight": 1, "distribution": "1h"}]})
    assert check_units(m, need_units=True) == ["'components[0].distribution.mean' needs a unit, like '15m'"]
    assert check_units(m, need_units=False) == ["'components[1].distribution.value' has a time unit, but this value "
                                                "is not a duration"]


def test_mixture_and_quantiles_in_a_process(write_process, tmp_path: Path) -> None:
    from conftest import MINI

    from procsim.run import run

    text = MINI.replace("    distribution: {kind: uniform, low: 10, high: 1000}",
                        "    distribution: {kind: mixture, components: [{weight: 1, distribution: 5}, "
                        "{weight: 1, distribution: {kind: quantiles, probabilities: [0, 1], values: [100, 200]}}]}")
    text = text.replace("    duration: 15m\n", "    duration: {kind: quantiles, probabilities: [0, 0.5, 1], "
                        "values: [10m, 12m, 20m]}\n")
    run(write_process(text), tmp_path / "out", seed=1, cases=1000)
    import pandas as pd

    cases = pd.read_csv(tmp_path / "out" / "cases.csv")
    amount = cases["amount"]
    assert ((amount == 5) | amount.between(100, 200)).all()
    assert (amount == 5).mean() == pytest.approx(0.5, abs=0.08)
    e = pd.read_csv(tmp_path / "out" / "events.csv")
    e["ts"] = pd.to_datetime(e["timestamp"], utc=True)
    a = e[e.activity == "check_a"].pivot_table(index="case_id", columns="lifecycle", values="ts", aggfunc="first")
    work = (a["complete"] - a["start"]).dt.total_seconds()
    in_shift = work[work < 3600]  # a check that ran into the lunch break or the evening pauses
    assert in_shift.between(600 - 1, 1200 + 1).all()
    assert np.quantile(in_shift, [0.25, 0.5, 0.75]) == pytest.approx([660, 720, 960], rel=0.05)
