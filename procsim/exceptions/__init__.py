"""The exception catalogue: importing this package registers every type and builds the YAML union
``ExceptionSpec`` (discriminated by ``type``) from the registry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import Field

from procsim.exceptions import business, control, data, timing  # noqa: F401 - imported for registration
from procsim.exceptions.base import INJECTED, REGISTRY, CaseExc, Effect, ExceptionType, Plan


def _build_union() -> Any:
    return Annotated[Union[tuple(REGISTRY.values())], Field(discriminator="type")]  # noqa: UP007


if TYPE_CHECKING:
    ExceptionSpec = ExceptionType
else:
    ExceptionSpec = _build_union()

__all__ = ["INJECTED", "REGISTRY", "CaseExc", "Effect", "ExceptionSpec", "ExceptionType", "Plan"]
