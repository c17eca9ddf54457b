"""Errors procsim raises: one root, and spec errors that carry their source spans.

Business exceptions (injected rare events) live in the simulation and are *not* these:
everything here is a Python error whose ``str()`` is the message a user should read.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field


class ProcsimError(Exception):
    """Root of every error procsim raises on purpose. ``str(e)`` is the user's message."""

    exit_code: int = 1


@dataclass(frozen=True, order=True)
class Problem:
    """One problem in a user's input, pinned to ``file:line:col`` (1-based).

    ``loc`` is the dotted key path (``activities.approve.duration``); ``code`` a short stable
    identifier tests and tools can match on; ``source``/``caret`` optionally quote an expression
    with a caret under the offending column.
    """

    file: str
    line: int
    col: int
    loc: str
    msg: str
    code: str = "invalid"
    source: str | None = field(default=None, compare=False)
    caret: int | None = field(default=None, compare=False)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}: "
        head = f"{where}{self.loc}: {self.msg}" if self.loc else f"{where}{self.msg}"
        text = f"{head} [{self.code}]"
        if self.source is not None and self.caret is not None:
            text += f"\n    {self.source}\n    {' ' * self.caret}^"
        return text


class SpecError(ProcsimError):
    """Bad user input (YAML, rules, templates, flags): every problem at once, exit code 2."""

    exit_code = 2

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(set(problems))
        super().__init__("\n".join(str(p) for p in self.problems))


class UsageError(ProcsimError):
    """A bad command-line flag or argument (exit code 2)."""

    exit_code = 2


class SimulationError(ProcsimError):
    """A failure while running a valid spec (a rule that fails on a value at run time, ...)."""

    exit_code = 1


def suggest(word: str, options: Iterable[str], otherwise: str = "") -> str:
    """``"; did you mean 'x'?"`` for the option most like ``word`` (difflib ratio >= 0.6), else ``otherwise``.

    The one did-you-mean of procsim: every message naming an unknown key, name, node, format ... ends with it.
    The result does not depend on the order of ``options`` (difflib breaks ties by the text).
    """
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else otherwise
