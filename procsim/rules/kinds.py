"""The rule language's kinds of values and its run-time error, shared by the compiler and the function registry.

Apart from ``procsim.rules.expr`` because ``procsim.rules.functions`` needs them to type and check its entries,
and ``expr`` needs the finished registry: with both in ``expr`` the two modules would import each other.
``expr`` re-exports every name here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from procsim.errors import SimulationError

__all__ = ["MAX_SEQUENCE", "TYPES", "ExprRuntimeError", "Member", "MemberFields", "runtime_kind"]

TYPES: Final = frozenset({"number", "string", "bool", "datetime", "duration", "list", "record", "any"})
MAX_SEQUENCE: Final = 100_000  # longest string/list that + and * may build


class MemberFields(dict[str, str]):
    """The declared type of ``resource``: a string (the member's name) whose fields are the members' attributes
    (attribute name -> number, string or bool). ``resource.seniority`` reads the attribute, never a Python one."""


class Member(str):
    """The run-time value of ``resource`` when members have attributes: the member's name (so ``resource ==
    'Ann'`` and ``resource in history.approve`` work as before), with ``attrs`` (name -> value) for
    ``resource.<attribute>``. Built once per (role, member) when a run binds its pools."""

    attrs: Mapping[str, Any]

    def __new__(cls, name: str, attrs: Mapping[str, Any]) -> Member:
        m = super().__new__(cls, name)
        m.attrs = attrs
        return m


class ExprRuntimeError(SimulationError):
    """An expression failed on the values it was given. ``msg`` says what, ``where`` in which expression."""

    def __init__(self, msg: str, source: str | None = None, where: str | None = None) -> None:
        super().__init__(msg, source, where)
        self.msg, self.source = msg, source
        self.where = where if where is not None else (None if source is None else f"expression: {source}")

    def __str__(self) -> str:
        return self.msg if self.where is None else f"{self.msg} (in {self.where})"


def runtime_kind(v: Any) -> str:
    """The language's name for the kind of a run-time value, for error messages."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, (list, tuple)):
        return "list"
    if isinstance(v, Mapping):
        return "record"
    if isinstance(v, datetime):
        return "datetime"
    return type(v).__name__
