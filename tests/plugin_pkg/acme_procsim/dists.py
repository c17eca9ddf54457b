"""A third-party distribution: imports only procsim.distributions and the units below it (it loads while that module loads)."""

from __future__ import annotations

from typing import Literal

from procsim.distributions import Distribution, Sampler
from procsim.spec.units import Quantity


class Twice(Distribution):
    """Always twice ``value`` (a test distribution)."""

    kind: Literal["acme_twice"] = "acme_twice"
    value: Quantity
    unit_fields = ("value",)

    def sampler(self) -> Sampler:
        v = 2 * float(self.value)
        return lambda rng: v

    def expected_value(self) -> float:
        return 2 * float(self.value)

    def min_value(self) -> float:
        return 2 * float(self.value)
