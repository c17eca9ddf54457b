"""The sink protocol: one module per output format, streaming batches, atomic at the end.

A sink writes under a temporary name (``.name.part``) and renames on ``close``; ``abort`` removes what
it wrote, so an interrupted run never leaves a file that looks complete. Sinks register themselves by
their ``format`` name (third-party formats: entry points in the group ``procsim.sinks``, see
:mod:`procsim.registry`); the CLI's ``--format`` choices come from this registry.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from procsim.records import CaseBatch, EventBatch
from procsim.registry import Registry
from procsim.timebase import TimeBase

REGISTRY: Registry[type[Sink]] = Registry("output format", "procsim.sinks", "Output formats (--format)")


@dataclass(frozen=True)
class SinkContext:
    """What every sink may know about the run (never the simulation itself)."""

    out_dir: Path
    timebase: TimeBase
    process_name: str
    attr_names: tuple[str, ...]
    attr_types: tuple[str, ...]
    labels_in_log: bool = True
    extra: dict[str, Any] = field(default_factory=dict)
    temp_tag: str = ""  # makes temporary names unique per run (procsim.outdir); "" for the fixed old names


def chosen_formats() -> list[str]:
    """The formats ``--format`` accepts, sorted: every registered sink a user may choose."""
    return sorted(name for name, cls in REGISTRY.items() if cls.chosen)


class Sink(ABC):
    format: ClassVar[str]
    filename: ClassVar[str]
    entry: ClassVar[str | None] = None  # the top-level name in the folder, when not ``filename`` (a folder)
    # False for what a run writes when it needs it (cases.csv, the label files), never named in --format
    chosen: ClassVar[bool] = True

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        fmt = cls.__dict__.get("format")
        if fmt:
            REGISTRY.add(fmt, cls)

    def __init__(self, ctx: SinkContext) -> None:
        self.ctx = ctx
        self.final = ctx.out_dir / self.filename
        if self.entry is None:
            self.temp = self.claim(self.filename)
        self.digests: dict[str, str] = {}  # file name -> sha256, for files a sink hashed as it wrote them

    def part(self, label: str) -> Path:
        """The temporary name for ``label`` in the output folder: ``.label.<run tag>.part``."""
        tag = f".{self.ctx.temp_tag}" if self.ctx.temp_tag else ""
        return self.ctx.out_dir / f".{label}{tag}.part"

    def claim(self, label: str, folder: bool = False) -> Path:
        """Create this run's temporary for ``label`` exclusively (``O_EXCL``: an existing file or a planted
        symlink under that name is an error, never written through) and return its path."""
        path = self.part(label)
        if not self.ctx.temp_tag:
            # fixed names (sinks used directly, without procsim.outdir): an older leftover is replaced
            if path.is_dir() and not path.is_symlink():
                import shutil

                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        if folder:
            path.mkdir()
        else:
            open(path, "xb").close()
        return path

    def write_events(self, batch: EventBatch) -> None:  # noqa: B027 - optional hook
        """Called with events in output order."""

    def write_cases(self, batch: CaseBatch) -> None:  # noqa: B027 - optional hook
        """Called with finished cases, each after all its events."""

    @abstractmethod
    def _finish(self) -> None:
        """Flush and close the temporary file."""

    def close(self) -> list[Path]:
        self._finish()
        os.replace(self.temp, self.final)
        return [self.final]

    def abort(self) -> None:
        try:
            self._finish()
        except Exception:  # noqa: BLE001 - cleaning up after a failure; the first error is what matters
            pass
        self.temp.unlink(missing_ok=True)
