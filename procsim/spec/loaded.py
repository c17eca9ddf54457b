"""What loading a process produces (``LoadedProcess``) and the file helpers every reader of input files shares.

Apart from the loader (``procsim.spec.load_process``) so that stages below it (rules reading rule files, the
simulation, the sinks) can name it without importing the loader, which runs every stage's checks.
"""

from __future__ import annotations

from procsim.errors import Problem

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import networkx as nx

from procsim.spec.loader import SourceMap

if TYPE_CHECKING:
    from procsim.spec.models import ProcessSpec


@dataclass
class LoadedProcess:
    """A validated process and everything later stages need to point back at the user's files.

    ``spec`` is the process as it runs: every call expanded into copies of its sub-process
    (``procsim.spec.subprocesses``). ``written`` is the process exactly as the user wrote it (the calls as calls).
    """

    path: Path
    spec: "ProcessSpec"
    smap: SourceMap
    graph: nx.DiGraph
    inputs: dict[str, str] = field(default_factory=dict)  # display path -> sha256 of every file read
    rule_sources: list[Any] = field(default_factory=list)  # procsim.rules.engine.RuleSource
    rules: Any = None  # the compiled procsim.rules.engine.RuleSet, set by check_model
    written: "ProcessSpec | None" = None  # as the user wrote it; None only for a LoadedProcess built by hand
    root: Path | None = None  # the project folder rule files and templates must lie in (procsim.spec.paths)
    warnings: list[Problem] = field(default_factory=list)  # printed by validate and run, not refused


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def display_path(path: Path) -> str:
    """Paths in messages as the user would type them: relative to the working directory when possible."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
