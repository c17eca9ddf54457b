"""``procsim compare REAL SIM``: how far a simulated log is from a real one.

Owns putting two logs side by side: every distance of :mod:`procsim.distances`, and, when the realism profile
(``procsim.profile``, issue #12) is installed, both logs' profiles. The result is a :class:`Comparison` that prints
as a text table or JSON; an HTML report can take the same object (the report's hook: :meth:`Comparison.as_dict`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from procsim.distances import DISTANCES, all_distances
from procsim.profile import profile
from procsim.eventlog import ActivityLog, ColumnMap, read_log

__all__ = ["Comparison", "compare", "compare_logs"]


@dataclass
class Comparison:
    """Distances (``key -> value``), and both logs' realism profiles when available (else a note why not)."""

    real: str
    sim: str
    real_cases: int
    sim_cases: int
    distances: dict[str, float]
    profile_real: dict[str, float] | None = None
    profile_sim: dict[str, float] | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        def clean(d: dict[str, float] | None) -> dict[str, float | None] | None:
            return None if d is None else {k: (None if not math.isfinite(v) else v) for k, v in d.items()}

        return {"real": self.real, "sim": self.sim, "real_cases": self.real_cases, "sim_cases": self.sim_cases,
                "distances": clean(self.distances), "profile": None if self.profile_real is None else
                {"real": clean(self.profile_real), "sim": clean(self.profile_sim)}, "notes": self.notes}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2)

    def to_text(self) -> str:
        lines = [f"real: {self.real} ({self.real_cases} cases)", f"sim:  {self.sim} ({self.sim_cases} cases)", ""]
        w = max(len(d.title) for d in DISTANCES)
        lines.append(f"{'distance':<{w}}  {'value':>10}  unit")
        for d in DISTANCES:
            lines.append(f"{d.title:<{w}}  {_fmt(self.distances.get(d.key, math.nan)):>10}  {d.unit}")
        if self.profile_real is not None and self.profile_sim is not None:
            keys = list(self.profile_real) + [k for k in self.profile_sim if k not in self.profile_real]
            kw = max([len(k) for k in keys] + [len("profile metric")])
            lines += ["", f"{'profile metric':<{kw}}  {'real':>10}  {'sim':>10}"]
            for k in keys:
                lines.append(f"{k:<{kw}}  {_fmt(self.profile_real.get(k, math.nan)):>10}  "
                             f"{_fmt(self.profile_sim.get(k, math.nan)):>10}")
        for n in self.notes:
            lines.append(f"note: {n}")
        return "\n".join(lines) + "\n"


def _fmt(v: float) -> str:
    if not math.isfinite(v):
        return "n/a"
    return f"{v:.4f}" if abs(v) < 100 else f"{v:.1f}"


def compare_logs(real: ActivityLog, sim: ActivityLog, with_profile: bool = True, seed: int = 0) -> Comparison:
    """Compare two logs already read."""
    c = Comparison(real.source, sim.source, int(real.df["case_id"].nunique()), int(sim.df["case_id"].nunique()),
                   all_distances(real, sim))
    if c.real_cases > 2000 or c.sim_cases > 2000:
        c.notes.append("CFLD paired an evenly spaced sample of 2000 cases of each log")
    if not real.has_start or not sim.has_start:
        c.notes.append("a log records completions only: its instants count each end as the start")
    if with_profile:
        c.profile_real = dict(profile(real, seed=seed))
        c.profile_sim = dict(profile(sim, seed=seed))
    return c


def compare(real: Path, sim: Path, columns: ColumnMap | None = None, with_profile: bool = True) -> Comparison:
    """Read both logs (the column mapping applies to each that is a table) and compare them."""
    return compare_logs(read_log(real, columns), read_log(sim, columns), with_profile=with_profile)
