"""Probability distributions a spec can name, one class per ``kind``, and the YAML union built from them.

This module owns the distribution models (validated, frozen), the registry ``kind -> class``, the
discriminated union :data:`DistributionSpec` generated from that registry, and each distribution's
sampler: a closure ``sampler()(rng) -> float`` built once at load time and called once per event.

Adding a distribution is one class: subclass :class:`Distribution` with a ``kind`` literal, declare
``unit_fields``, implement ``sampler``/``expected_value``/``min_value``; the registry, the union, the JSON
Schema and :func:`check_units` pick it up. A built-in one is defined here; a third party's lives in its own
package and is published as an entry point in the group ``procsim.distributions`` (name = its ``kind``),
which :data:`REGISTRY` loads before the union is built (:mod:`procsim.registry`).

Parameters that carry time are :data:`~procsim.spec.units.Quantity` (``mean: 30m`` or ``mean: 2.5``);
dimensionless ones (shapes, weights) are plain floats, so ``shape: 2h`` is rejected. A parameter written
with a unit is kept as :class:`~procsim.spec.units.Seconds`, which is how :func:`check_units` knows.

Samplers take the per-case ``numpy.random.Generator`` and return Python floats. They draw a fixed number
of variates per call except the truncated normal (rejection), which is fine because every case owns its
stream (architecture: determinism).
"""

from __future__ import annotations

import math
from abc import abstractmethod
from bisect import bisect_right
from collections.abc import Callable
from itertools import accumulate
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Union, get_args, get_origin

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, GetJsonSchemaHandler, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from procsim.registry import BUILTIN, Registry
from procsim.spec.units import DURATION_PATTERN, Quantity, Seconds, format_duration

__all__ = [
    "REGISTRY",
    "Distribution",
    "DistributionSpec",
    "DurationDistribution",
    "Empirical",
    "Exponential",
    "Fixed",
    "Gamma",
    "Lognormal",
    "Mixture",
    "MixtureComponent",
    "Normal",
    "Quantiles",
    "Sampler",
    "Triangular",
    "Uniform",
    "Weibull",
    "check_units",
    "parse_distribution_shorthand",
]

Sampler = Callable[[np.random.Generator], float]

PositiveQuantity = Annotated[Quantity, Field(gt=0)]
NonNegativeQuantity = Annotated[Quantity, Field(ge=0)]
PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Weight = Annotated[float, Field(ge=0, allow_inf_nan=False)]

REGISTRY: Registry[type[Distribution]] = Registry("distribution kind", "procsim.distributions", "Distributions")
"""``kind`` -> class, in definition order (which is also the order of the union and the JSON Schema)."""

_sealed = False  # set once DistributionSpec is built: a later class would silently miss the union

# A truncated normal with mean >= 0 accepts a draw with probability >= 1/2, so 64 rejections in a row
# happen with probability <= 2**-64: the clamp to 0 after the loop is a guard, not a bias you can measure.
_NORMAL_TRIES = range(64)


def _show(v: float) -> str:
    return format_duration(v) if isinstance(v, Seconds) else repr(float(v))


def _const(value: float) -> Sampler:
    return lambda rng: value


def _require_kind(schema: dict[str, Any]) -> None:
    schema["required"] = ["kind", *(r for r in schema.get("required", []) if r != "kind")]


class Distribution(BaseModel):
    """Base of every distribution: a frozen pydantic model whose subclasses register by their ``kind``."""

    # kind has a default so Python code can write Fixed(value=3), but YAML must name it: mark it required.
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_require_kind)

    kind: str
    unit_fields: ClassVar[tuple[str, ...]] = ()
    """Parameters measured in the sampled value's unit (seconds for a duration); shapes and weights are not."""

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        annotation = cls.model_fields["kind"].annotation
        kinds = get_args(annotation) if get_origin(annotation) is Literal else ()
        if len(kinds) != 1 or not isinstance(kinds[0], str):
            raise TypeError(f"{cls.__name__}.kind must be Literal['<name>'] with exactly one string")
        kind = kinds[0]
        if _sealed:
            raise TypeError(
                f"distribution {kind!r} ({cls.__name__}) defined after DistributionSpec was built; publish it "
                f"as an entry point in the group '{REGISTRY.group}' named '{kind}' so it is loaded before"
            )
        unknown = [f for f in cls.unit_fields if f not in cls.model_fields]
        if unknown:
            raise TypeError(f"{cls.__name__}.unit_fields names unknown fields: {', '.join(unknown)}")
        REGISTRY.add(kind, cls)

    def parts(self) -> list[tuple[str, Distribution]]:
        """Distributions nested in this one, with where they sit (``components[0].distribution``)."""
        return []

    @abstractmethod
    def sampler(self) -> Sampler:
        """A closure drawing one value from ``rng``; build once, call per event."""

    @abstractmethod
    def expected_value(self) -> float:
        """The theoretical mean (of the truncated distribution where truncation applies)."""

    @abstractmethod
    def min_value(self) -> float:
        """The lowest value the sampler can return (``-inf`` if unbounded)."""


class Fixed(Distribution):
    """Always ``value``. A bare ``15m`` or number in a duration field means this."""

    kind: Literal["fixed"] = "fixed"
    value: Quantity
    unit_fields: ClassVar[tuple[str, ...]] = ("value",)

    def sampler(self) -> Sampler:
        return _const(float(self.value))

    def expected_value(self) -> float:
        return float(self.value)

    def min_value(self) -> float:
        return float(self.value)


class Uniform(Distribution):
    """Uniform on ``[low, high]``."""

    kind: Literal["uniform"] = "uniform"
    low: Quantity
    high: Quantity
    unit_fields: ClassVar[tuple[str, ...]] = ("low", "high")

    @model_validator(mode="after")
    def _order(self) -> Uniform:
        if not self.low <= self.high:
            raise ValueError(f"need low <= high, got low={_show(self.low)}, high={_show(self.high)}")
        return self

    def sampler(self) -> Sampler:
        low, span = float(self.low), float(self.high - self.low)
        # numpy's own formula (low + span * U) without rng.uniform's argument checks: 3x faster, same draws.
        return lambda rng: low + span * rng.random()

    def expected_value(self) -> float:
        return (self.low + self.high) / 2

    def min_value(self) -> float:
        return float(self.low)


class Triangular(Distribution):
    """Triangular on ``[low, high]`` peaking at ``mode``: the three-point estimate people give."""

    kind: Literal["triangular"] = "triangular"
    low: Quantity
    mode: Quantity
    high: Quantity
    unit_fields: ClassVar[tuple[str, ...]] = ("low", "mode", "high")

    @model_validator(mode="after")
    def _order(self) -> Triangular:
        if not self.low <= self.mode <= self.high:
            raise ValueError(
                f"need low <= mode <= high, got low={_show(self.low)}, mode={_show(self.mode)}, high={_show(self.high)}"
            )
        return self

    def sampler(self) -> Sampler:
        low, mode, high = float(self.low), float(self.mode), float(self.high)
        if low == high:  # numpy rejects a zero-width triangle; it is just a constant
            return _const(low)
        # numpy's random_triangular inverse CDF on one uniform, so draws equal rng.triangular(low, mode, high)
        # at less than half the cost (no argument checks per call).
        base = high - low
        ratio, left, right = (mode - low) / base, (mode - low) * base, (high - mode) * base
        sqrt = math.sqrt

        def draw(rng: np.random.Generator) -> float:
            u = rng.random()
            return low + sqrt(u * left) if u <= ratio else high - sqrt((1.0 - u) * right)

        return draw

    def expected_value(self) -> float:
        return (self.low + self.mode + self.high) / 3

    def min_value(self) -> float:
        return float(self.low)


class Normal(Distribution):
    """Normal with ``mean`` and ``sd``; by default truncated at 0 (a duration or amount cannot be negative).

    Truncation redraws negative values (exact rejection sampling, not ``max(0, x)``, which would pile
    probability onto 0), so ``expected_value`` is the truncated mean, a little above ``mean``. A truncated
    normal needs ``mean >= 0``, which keeps the acceptance rate at 1/2 or more.
    """

    kind: Literal["normal"] = "normal"
    mean: Quantity
    sd: NonNegativeQuantity
    truncate: bool = True
    unit_fields: ClassVar[tuple[str, ...]] = ("mean", "sd")

    @model_validator(mode="after")
    def _truncatable(self) -> Normal:
        if self.truncate and self.mean < 0:
            raise ValueError(f"mean must be >= 0 when truncate is true (the default), got {_show(self.mean)}")
        return self

    def sampler(self) -> Sampler:
        mu, sd = float(self.mean), float(self.sd)
        if sd == 0:
            return _const(mu)
        if not self.truncate:
            # loc + scale * standard_normal() is what rng.normal computes, minus its argument parsing.
            return lambda rng: mu + sd * rng.standard_normal()

        def draw(rng: np.random.Generator) -> float:
            for _ in _NORMAL_TRIES:
                x = mu + sd * rng.standard_normal()
                if x >= 0.0:
                    return x
            return 0.0

        return draw

    def expected_value(self) -> float:
        mu, sd = float(self.mean), float(self.sd)
        if not self.truncate or sd == 0:
            return mu
        a = -mu / sd
        pdf = math.exp(-a * a / 2) / math.sqrt(2 * math.pi)
        return mu + sd * pdf / (0.5 * math.erfc(a / math.sqrt(2)))

    def min_value(self) -> float:
        if self.sd == 0:
            return float(self.mean)
        return 0.0 if self.truncate else -math.inf


class Lognormal(Distribution):
    """Lognormal given the ``mean`` and ``sd`` of the value itself (not of its logarithm).

    Converted once: ``sigma^2 = ln(1 + sd^2/mean^2)``, ``mu = ln(mean) - sigma^2/2``. Right-skewed and
    positive: the usual shape of task times and invoice amounts.
    """

    kind: Literal["lognormal"] = "lognormal"
    mean: PositiveQuantity
    sd: NonNegativeQuantity
    unit_fields: ClassVar[tuple[str, ...]] = ("mean", "sd")

    def sampler(self) -> Sampler:
        mean, sd = float(self.mean), float(self.sd)
        if sd == 0:
            return _const(mean)
        sigma2 = math.log1p((sd / mean) ** 2)
        mu, sigma = math.log(mean) - sigma2 / 2, math.sqrt(sigma2)
        return lambda rng: rng.lognormal(mu, sigma)

    def expected_value(self) -> float:
        return float(self.mean)

    def min_value(self) -> float:
        return float(self.mean) if self.sd == 0 else 0.0


class Exponential(Distribution):
    """Exponential with ``mean`` (memoryless: inter-arrival times of a Poisson process)."""

    kind: Literal["exponential"] = "exponential"
    mean: PositiveQuantity
    unit_fields: ClassVar[tuple[str, ...]] = ("mean",)

    def sampler(self) -> Sampler:
        mean = float(self.mean)
        return lambda rng: rng.exponential(mean)

    def expected_value(self) -> float:
        return float(self.mean)

    def min_value(self) -> float:
        return 0.0


class Gamma(Distribution):
    """Gamma given ``mean`` and ``sd``, the same words as normal and lognormal, so switching ``kind`` keeps
    the parameters. Converted once: ``shape = (mean/sd)^2``, ``scale = sd^2/mean``.
    """

    kind: Literal["gamma"] = "gamma"
    mean: PositiveQuantity
    sd: NonNegativeQuantity
    unit_fields: ClassVar[tuple[str, ...]] = ("mean", "sd")

    def sampler(self) -> Sampler:
        mean, sd = float(self.mean), float(self.sd)
        if sd == 0:
            return _const(mean)
        shape, scale = (mean / sd) ** 2, sd * sd / mean
        return lambda rng: rng.gamma(shape, scale)

    def expected_value(self) -> float:
        return float(self.mean)

    def min_value(self) -> float:
        return float(self.mean) if self.sd == 0 else 0.0


class Weibull(Distribution):
    """Weibull with dimensionless ``shape`` and ``scale`` in the value's unit (time to failure, SLA tails)."""

    kind: Literal["weibull"] = "weibull"
    shape: PositiveFloat
    scale: PositiveQuantity
    unit_fields: ClassVar[tuple[str, ...]] = ("scale",)

    def sampler(self) -> Sampler:
        shape, scale = float(self.shape), float(self.scale)
        return lambda rng: scale * rng.weibull(shape)

    def expected_value(self) -> float:
        try:
            return float(self.scale) * math.gamma(1 + 1 / self.shape)
        except OverflowError:  # shape below ~0.006: a tail so heavy the mean is beyond a float
            return math.inf

    def min_value(self) -> float:
        return 0.0


class Empirical(Distribution):
    """One of ``values``, picked with probability proportional to ``weights`` (equal if omitted).

    Weights need not sum to 1; they must be >= 0 with a positive sum.
    """

    kind: Literal["empirical"] = "empirical"
    values: list[Quantity] = Field(min_length=1)
    weights: list[Weight] | None = None
    unit_fields: ClassVar[tuple[str, ...]] = ("values",)

    @model_validator(mode="after")
    def _weights(self) -> Empirical:
        if self.weights is not None:
            if len(self.weights) != len(self.values):
                raise ValueError(f"need one weight per value, got {len(self.weights)} for {len(self.values)}")
            if not sum(self.weights) > 0:
                raise ValueError("weights must not all be 0")
        return self

    def _cumulative(self) -> list[float]:
        return list(accumulate(self.weights if self.weights is not None else [1.0] * len(self.values)))

    def sampler(self) -> Sampler:
        values = [float(v) for v in self.values]
        if len(values) == 1:
            return _const(values[0])
        cum = self._cumulative()
        total, hi = cum[-1], len(cum) - 1
        # As random.choices does: bisect u*total in the running sums. hi keeps a u*total that rounds up to
        # total on the last item; bisect_right skips zero-weight items (their sum equals the one before).
        return lambda rng: values[bisect_right(cum, rng.random() * total, 0, hi)]

    def expected_value(self) -> float:
        weights = self.weights if self.weights is not None else [1.0] * len(self.values)
        return math.fsum(w * v for w, v in zip(weights, self.values)) / math.fsum(weights)

    def min_value(self) -> float:
        weights = self.weights if self.weights is not None else [1.0] * len(self.values)
        return min(float(v) for w, v in zip(weights, self.values) if w > 0)


class Quantiles(Distribution):
    """A continuous empirical distribution: a quantile table, linearly interpolated between its points.

    ``probabilities`` rise strictly from 0 to 1 and ``values`` (one per probability) never fall; a draw is the
    inverse of the piecewise-linear CDF through the points, so it reproduces the table's quantiles exactly and is
    uniform between neighbouring points. Read the table off a real log's percentiles to keep its tail.
    """

    kind: Literal["quantiles"] = "quantiles"
    probabilities: list[Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]] = Field(min_length=2)
    values: list[Quantity] = Field(min_length=2)
    unit_fields: ClassVar[tuple[str, ...]] = ("values",)

    @model_validator(mode="after")
    def _table(self) -> Quantiles:
        p, v = self.probabilities, self.values
        if len(p) != len(v):
            raise ValueError(f"need one value per probability, got {len(v)} values for {len(p)} probabilities")
        if p[0] != 0 or p[-1] != 1:
            raise ValueError(f"probabilities must run from 0 to 1, got {p[0]!r} .. {p[-1]!r}")
        for i in range(1, len(p)):
            if not p[i] > p[i - 1]:
                raise ValueError(f"probabilities must rise strictly: probabilities[{i}] = {p[i]!r} after {p[i - 1]!r}")
            if not v[i] >= v[i - 1]:
                raise ValueError(f"values must not fall: values[{i}] = {_show(v[i])} after {_show(v[i - 1])}")
        return self

    def sampler(self) -> Sampler:
        ps = [float(x) for x in self.probabilities]
        vs = [float(x) for x in self.values]
        hi = len(ps) - 1

        def draw(rng: np.random.Generator) -> float:
            u = rng.random()
            k = min(bisect_right(ps, u), hi)  # ps[k-1] <= u < ps[k]
            p0, v0 = ps[k - 1], vs[k - 1]
            return v0 + (vs[k] - v0) * (u - p0) / (ps[k] - p0)

        return draw

    def expected_value(self) -> float:
        p, v = self.probabilities, self.values
        return math.fsum((p[i] - p[i - 1]) * (v[i] + v[i - 1]) / 2 for i in range(1, len(p)))

    def min_value(self) -> float:
        return float(self.values[0])


class MixtureComponent(BaseModel):
    """One component of a mixture: a distribution (or a bare duration) and its weight."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weight: Weight
    distribution: DurationDistribution


class Mixture(Distribution):
    """A draw from one of ``components``, picked with probability proportional to its weight.

    The usual way to a heavy tail: most cases are routine, a few need a second look (``0.9`` of a 20-minute
    lognormal, ``0.1`` of a 4-hour one). Components may be any distribution, mixtures included.
    """

    kind: Literal["mixture"] = "mixture"
    components: list[MixtureComponent] = Field(min_length=1)

    @model_validator(mode="after")
    def _weights(self) -> Mixture:
        if not sum(c.weight for c in self.components) > 0:
            raise ValueError("component weights must not all be 0")
        return self

    def parts(self) -> list[tuple[str, Distribution]]:
        return [(f"components[{i}].distribution", c.distribution) for i, c in enumerate(self.components)]

    def sampler(self) -> Sampler:
        samplers = [c.distribution.sampler() for c in self.components]
        if len(samplers) == 1:
            return samplers[0]
        cum = list(accumulate(c.weight for c in self.components))
        total, hi = cum[-1], len(cum) - 1
        # as Empirical: bisect the running sums; zero-weight components are never picked
        return lambda rng: samplers[bisect_right(cum, rng.random() * total, 0, hi)](rng)

    def expected_value(self) -> float:
        total = math.fsum(c.weight for c in self.components)
        return math.fsum(c.weight * c.distribution.expected_value() for c in self.components if c.weight > 0) / total

    def min_value(self) -> float:
        return min(c.distribution.min_value() for c in self.components if c.weight > 0)


def _build_union() -> Any:
    members = tuple(REGISTRY.values())
    return Annotated[Union[members], Field(discriminator="kind")]  # noqa: UP007 - a runtime tuple needs Union[]


REGISTRY.load_plugins()  # third-party distributions join the union (procsim.registry)

if TYPE_CHECKING:
    DistributionSpec = Distribution
else:
    DistributionSpec = _build_union()
    """Any registered distribution, chosen by its ``kind`` (pydantic discriminated union)."""
_sealed = True


def _check_registry() -> None:
    # Hypothesis-style import-time check: registry, union and exports must agree, or importing fails loudly.
    members = get_args(get_args(DistributionSpec)[0])
    if members != tuple(REGISTRY.values()):
        raise ImportError(f"DistributionSpec {members} does not match REGISTRY {tuple(REGISTRY.values())}")
    for kind, cls in REGISTRY.items():
        if cls.model_fields["kind"].default != kind:
            raise ImportError(f"{cls.__name__}.kind needs the default {kind!r}")
        if REGISTRY.origins[kind] == BUILTIN and cls.__name__ not in __all__:
            raise ImportError(f"{cls.__name__} (kind {kind!r}) is missing from procsim.distributions.__all__")


_check_registry()


def parse_distribution_shorthand(v: Any) -> Any:
    """``15m`` or ``2.5`` where a distribution is expected means ``{kind: fixed, value: ...}``."""
    if isinstance(v, (str, int, float)) and not isinstance(v, bool):
        return {"kind": "fixed", "value": v}
    return v


class _ShorthandSchema:
    """JSON Schema: a duration string or a number is allowed next to the distribution objects."""

    def __get_pydantic_json_schema__(self, core: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {"anyOf": [{"type": "string", "pattern": DURATION_PATTERN}, {"type": "number"}, handler(core)]}


if TYPE_CHECKING:
    DurationDistribution = Distribution
else:
    DurationDistribution = Annotated[
        DistributionSpec, BeforeValidator(parse_distribution_shorthand), _ShorthandSchema()
    ]
    """A distribution, or a bare duration/number meaning ``fixed``."""

# a mixture's components name DurationDistribution, which exists only now
MixtureComponent.model_rebuild()
Mixture.model_rebuild()


def check_units(dist: Distribution, *, need_units: bool) -> list[str]:
    """Messages about units in ``dist``'s ``unit_fields`` (empty if all is well).

    ``need_units=True`` (a duration): every non-zero value must have been written with a unit, and the
    distribution must not be able to draw a negative value. ``need_units=False`` (an amount, a count):
    no value may carry a time unit.
    """
    problems: list[str] = []
    for where, part in dist.parts():
        problems += [f"'{where}.{msg[1:]}" if msg.startswith("'") else f"{where}: {msg}"
                     for msg in check_units(part, need_units=need_units)]
    if problems:
        return problems
    for name in type(dist).unit_fields:
        value = getattr(dist, name)
        entries = [(f"{name}[{i}]", v) for i, v in enumerate(value)] if isinstance(value, list) else [(name, value)]
        for label, v in entries:
            if need_units and v != 0 and not isinstance(v, Seconds):
                problems.append(f"'{label}' needs a unit, like '15m'")
            elif not need_units and v != 0 and isinstance(v, Seconds):
                problems.append(f"'{label}' has a time unit, but this value is not a duration")
    if need_units and not problems and dist.min_value() < 0:
        hint = "; remove 'truncate: false'" if isinstance(dist, Normal) else ""
        problems.append(f"can draw negative durations{hint}")
    return problems
