"""``procsim fidelity LOG``: the evaluation protocol of the business-process-simulation literature in one command.

Owns the protocol (Camargo et al. 2020; Chapela-Campa et al. 2023, as Simod evaluates): the log's cases are
ordered by their start; the first ``train`` share is discovered (:mod:`procsim.discover`); the model then
simulates the test period, starting at the first test case's start with as many cases as the test part has,
``replications`` times with different seeds; each distance of :mod:`procsim.distances` between the test part and
each simulation is reported as mean and standard deviation. Next to it, the log's own noise floor: the same
distances between the last ``train`` share's last 20% of cases and the test part (two real samples of the process,
close in time: a simulation cannot be expected to beat it by much). And the resource metrics of the realism
profile (:data:`RESOURCE_METRICS`, see docs/metrics.md) of the test part and of each simulation.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from procsim.distances import DISTANCES, all_distances
from procsim.errors import UsageError
from procsim.eventlog import ActivityLog, ColumnMap, read_log
from procsim.profile import METRICS, profile

__all__ = ["FidelityResult", "RESOURCE_METRICS", "fidelity", "fidelity_log", "split_by_start"]

# the realism profile's resource metrics, compared between the test part and the simulations (issue #13)
RESOURCE_METRICS = ("resource_eta2", "workload_gini")


@dataclass
class FidelityResult:
    """Per distance: the replications' values, their mean and sd, and the real log's noise floor."""

    source: str
    train_cases: int
    test_cases: int
    replications: int
    values: dict[str, list[float]]
    floor: dict[str, float]
    discover_seconds: float
    simulate_seconds: float
    notes: list[str] = field(default_factory=list)
    real_profile: dict[str, float] = field(default_factory=dict)  # RESOURCE_METRICS of the test part
    sim_profiles: list[dict[str, float]] = field(default_factory=list)  # ... of each simulation

    def sim_metric(self, key: str) -> float:
        """The mean of a resource metric over the simulations (nan where none has it)."""
        v = [p[key] for p in self.sim_profiles if math.isfinite(p.get(key, math.nan))]
        return float(np.mean(v)) if v else math.nan

    def mean(self, key: str) -> float:
        v = [x for x in self.values[key] if math.isfinite(x)]
        return float(np.mean(v)) if v else math.nan

    def sd(self, key: str) -> float:
        v = [x for x in self.values[key] if math.isfinite(x)]
        return float(np.std(v, ddof=1)) if len(v) > 1 else 0.0

    def as_dict(self) -> dict[str, Any]:
        def f(x: float) -> float | None:
            return x if math.isfinite(x) else None

        return {"source": self.source, "train_cases": self.train_cases, "test_cases": self.test_cases,
                "replications": self.replications, "discover_seconds": round(self.discover_seconds, 3),
                "simulate_seconds": round(self.simulate_seconds, 3),
                "distances": {d.key: {"mean": f(self.mean(d.key)), "sd": f(self.sd(d.key)),
                                      "values": [f(x) for x in self.values[d.key]],
                                      "noise_floor": f(self.floor[d.key])} for d in DISTANCES},
                "resource_metrics": {k: {"real": f(self.real_profile.get(k, math.nan)),
                                         "simulated": [f(p.get(k, math.nan)) for p in self.sim_profiles]}
                                     for k in RESOURCE_METRICS},
                "notes": self.notes}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2)

    def to_text(self) -> str:
        w = max(len(d.title) for d in DISTANCES)
        lines = [f"{self.source}: discovered from {self.train_cases} cases in {self.discover_seconds:.1f} s, "
                 f"test period {self.test_cases} cases, {self.replications} simulations "
                 f"({self.simulate_seconds:.1f} s)", "",
                 f"{'distance':<{w}}  {'mean':>10}  {'sd':>9}  {'noise floor':>11}  unit"]
        for d in DISTANCES:
            lines.append(f"{d.title:<{w}}  {_fmt(self.mean(d.key)):>10}  {_fmt(self.sd(d.key)):>9}  "
                         f"{_fmt(self.floor[d.key]):>11}  {d.unit}")
        labels = {m.key: m.label for m in METRICS}
        for k in RESOURCE_METRICS:
            lines.append(f"{labels[k]}: test part {_fmt(self.real_profile.get(k, math.nan))}, "
                         f"simulations {_fmt(self.sim_metric(k))}")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines) + "\n"


def _fmt(v: float) -> str:
    if not math.isfinite(v):
        return "n/a"
    return f"{v:.4f}" if abs(v) < 100 else f"{v:.1f}"


def _subset(log: ActivityLog, cases: pd.Index) -> ActivityLog:
    df = log.df[log.df["case_id"].isin(cases)].reset_index(drop=True)
    ca = log.case_attributes
    if not ca.empty:
        ca = ca[ca.index.isin(cases)]
    return ActivityLog(df, ca, log.source)


def split_by_start(log: ActivityLog, train: float) -> tuple[ActivityLog, ActivityLog, pd.Series]:
    """The first ``train`` share of cases by start (ties by case id), the rest, and every case's start."""
    t = log.df["start_time"].fillna(log.df["end_time"])
    starts = t.groupby(log.df["case_id"]).min().rename("first")
    order = starts.reset_index().sort_values(["first", "case_id"], kind="stable")
    ids = pd.Index(order["case_id"])
    n_train = int(math.floor(train * len(ids)))
    if n_train < 2 or len(ids) - n_train < 2:
        raise UsageError(f"{log.source}: {len(ids)} cases are too few to split into training and test parts")
    return _subset(log, ids[:n_train]), _subset(log, ids[n_train:]), starts


def fidelity_log(log: ActivityLog, replications: int = 5, seed: int = 0, train: float = 0.8,
                 noise: float = 0.2, miner: str = "auto", waits: bool = True) -> FidelityResult:
    """Run the protocol on a log already read (see the module docstring)."""
    from procsim.discover import discover_checked
    from procsim.run import run

    tr, te, starts = split_by_start(log, train)
    test_ids = te.df["case_id"].unique()
    n_test = len(test_ids)
    first_test = starts.loc[test_ids].min()
    train_ids = tr.df["case_id"].unique()
    tail = starts.loc[train_ids].sort_values(kind="stable")
    tail_log = _subset(log, pd.Index(tail.index[-max(2, int(round(0.2 * len(tail)))):]))
    values: dict[str, list[float]] = {k.key: [] for k in DISTANCES}
    profiles: list[dict[str, float]] = []
    t_sim = 0.0
    with tempfile.TemporaryDirectory(prefix="procsim-fidelity-") as tmp:
        t0 = time.perf_counter()
        path = discover_checked(tr, Path(tmp) / "model", miner=miner, noise=noise,
                                name=f"Discovered from {Path(log.source).name or 'log'} (training part)",
                                start=first_test, cases=n_test, waits=waits)
        t_disc = time.perf_counter() - t0
        ss = np.random.SeedSequence(seed)
        for i, child in enumerate(ss.spawn(replications)):
            t1 = time.perf_counter()
            out = Path(tmp) / f"sim{i}"
            run(path, out, seed=int(child.generate_state(1)[0]), cases=n_test)
            t_sim += time.perf_counter() - t1
            sim = read_log(out)
            for k, v in all_distances(te, sim).items():
                values[k].append(v)
            prof = profile(sim)
            profiles.append({k: prof[k] for k in RESOURCE_METRICS})
    floor = all_distances(tail_log, te)
    notes = [f"noise floor: the training part's last {tail_log.df['case_id'].nunique()} cases against the test part"]
    if not log.has_start:
        notes.append("the log records completions only: starts were estimated for discovery, and the "
                     "distances count each real end as its start")
    real = profile(te)
    return FidelityResult(log.source, len(train_ids), n_test, replications, values, floor, t_disc, t_sim, notes,
                          {k: real[k] for k in RESOURCE_METRICS}, profiles)


def fidelity(path: Path, columns: ColumnMap | None = None, replications: int = 5, seed: int = 0,
             train: float = 0.8, miner: str = "auto", waits: bool = True) -> FidelityResult:
    """Read ``path`` and run the protocol on it."""
    return fidelity_log(read_log(path, columns), replications=replications, seed=seed, train=train, miner=miner,
                        waits=waits)
