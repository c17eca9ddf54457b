"""The exception catalogue: importing this package registers every type (family by family: control flow,
time, data, business), then third-party types published as entry points in the group ``procsim.exceptions``
(:mod:`procsim.registry`), and builds the YAML union ``ExceptionSpec`` (discriminated by ``type``) from the registry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import BeforeValidator, Field

from procsim.errors import suggest
from procsim.exceptions import control  # noqa: F401, I001 - imported for registration, in catalogue order
from procsim.exceptions import timing  # noqa: F401
from procsim.exceptions import data  # noqa: F401
from procsim.exceptions import business  # noqa: F401
from procsim.exceptions import documents  # noqa: F401
from procsim.exceptions import nearmiss  # noqa: F401
from procsim.exceptions.base import INJECTED, NEAR_REGISTRY, REGISTRY, CaseExc, Effect, ExceptionType, Plan


def _known_type(v: Any) -> Any:
    """An unknown ``type`` gets a did-you-mean instead of pydantic's list of every tag."""
    if isinstance(v, dict) and isinstance(v.get("type"), str) and v["type"] not in REGISTRY:
        raise ValueError(f"unknown exception type '{v['type']}'"
                         + suggest(v["type"], REGISTRY, f" (choose from: {', '.join(REGISTRY)})"))
    return v


def _known_near(v: Any) -> Any:
    if isinstance(v, dict) and isinstance(v.get("type"), str) and v["type"] not in NEAR_REGISTRY:
        raise ValueError(f"unknown near-miss type '{v['type']}'"
                         + suggest(v["type"], NEAR_REGISTRY, f" (choose from: {', '.join(NEAR_REGISTRY)})"))
    return v


REGISTRY.load_plugins()  # third-party exception types and near misses (entry points) join the unions
NEAR_REGISTRY.load_plugins()


def _build_union(registry: dict[str, type[ExceptionType]] = REGISTRY, known: Any = _known_type) -> Any:
    return Annotated[Union[tuple(registry.values())], Field(discriminator="type"),  # noqa: UP007
                     BeforeValidator(known)]


if TYPE_CHECKING:
    ExceptionSpec = ExceptionType
    NearMissSpec = ExceptionType
else:
    ExceptionSpec = _build_union()
    NearMissSpec = _build_union(NEAR_REGISTRY, _known_near)

__all__ = ["INJECTED", "NEAR_REGISTRY", "REGISTRY", "CaseExc", "Effect", "ExceptionSpec", "ExceptionType",
           "NearMissSpec", "Plan"]
