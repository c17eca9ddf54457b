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
from procsim.exceptions.base import INJECTED, REGISTRY, CaseExc, Effect, ExceptionType, Plan


def _known_type(v: Any) -> Any:
    """An unknown ``type`` gets a did-you-mean instead of pydantic's list of every tag."""
    if isinstance(v, dict) and isinstance(v.get("type"), str) and v["type"] not in REGISTRY:
        raise ValueError(f"unknown exception type '{v['type']}'"
                         + suggest(v["type"], REGISTRY, f" (choose from: {', '.join(REGISTRY)})"))
    return v


REGISTRY.load_plugins()  # third-party exception types (entry points) join the union


def _build_union() -> Any:
    return Annotated[Union[tuple(REGISTRY.values())], Field(discriminator="type"),  # noqa: UP007
                     BeforeValidator(_known_type)]


if TYPE_CHECKING:
    ExceptionSpec = ExceptionType
else:
    ExceptionSpec = _build_union()

__all__ = ["INJECTED", "REGISTRY", "CaseExc", "Effect", "ExceptionSpec", "ExceptionType", "Plan"]
