"""Batching as Prosimos and Simod write it (``batch_processing``), and the batch settings procsim gained for it.

The language: ``idle`` (Prosimos's ``ready_wt``: start when no case has joined for so long), ``size`` alone (the
cases still waiting at the end run as a last batch, as in Prosimos), ``work: parallel | sequential`` (Prosimos's
batch types), ``scale`` (its ``duration_distrib``) and ``alone`` (the share of cases its ``size_distrib`` runs by
themselves). Then ``procsim convert`` on parameter files with ``batch_processing``: what maps, what is refused
with its position, and the simulated log, where batched instances share times as the rule says.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from procsim.convert import convert_to_dir
from procsim.errors import SpecError
from procsim.run import run
from procsim.sim.batching import BatchPlan
from procsim.spec import load_process

PROCESS = """\
process:
  name: Batches
  timezone: UTC
  start: 2026-03-02T00:00:00+00:00
roles:
  clerk: {members: 50}
  treasury: {members: 1}
arrivals:
  interarrival: {kind: exponential, mean: 1h}
events:
  start: {type: start, next: invoice}
  done: {type: end}
activities:
  invoice: {role: clerk, duration: 1m, next: pay}
  pay:
    role: treasury
    duration: 10m
    cost: {fixed: 1, per_hour: 60}
    next: done
    batch: BATCH
"""


def _run(tmp_path: Path, batch: str, cases: int = 300, seed: int = 3) -> pd.DataFrame:
    p = tmp_path / "p.yaml"
    p.write_text(PROCESS.replace("BATCH", batch), encoding="utf-8")
    run(load_process(p), tmp_path / "o", seed=seed, cases=cases, formats=["csv"])
    ev = pd.read_csv(tmp_path / "o" / "events.csv", keep_default_na=False)
    ev["t"] = pd.to_datetime(ev.timestamp, utc=True)
    return ev


def _arrived(ev: pd.DataFrame) -> pd.Series:
    return ev[(ev.activity == "invoice") & (ev.lifecycle == "complete")].set_index("case_id").t


def _pay(ev: pd.DataFrame, lifecycle: str) -> pd.DataFrame:
    return ev[(ev.activity == "pay") & (ev.lifecycle == lifecycle)].set_index("case_id")


def test_idle_starts_a_batch_when_no_case_has_joined_for_so_long(tmp_path: Path) -> None:
    ev = _run(tmp_path, "{idle: 90m}")
    arrived, start = _arrived(ev), _pay(ev, "start")
    assert len(start) == 300
    sizes = start.groupby("batch").size()
    assert sizes.max() > 2 and (sizes == 1).any()
    for _, grp in start.groupby("batch"):
        times = sorted(arrived[c] for c in grp.index)
        # the last case to join plus 90 minutes; between the cases of a batch, less than 90 minutes
        assert grp.t.iloc[0] == times[-1] + pd.Timedelta(minutes=90)
        assert all(b - a < pd.Timedelta(minutes=90) for a, b in zip(times, times[1:]))


def test_size_alone_runs_the_last_cases_at_the_end(tmp_path: Path) -> None:
    ev = _run(tmp_path, "{size: 7}", cases=100)
    start = _pay(ev, "start")
    assert start.index.nunique() == 100 and (_pay(ev, "complete").index.nunique() == 100)
    sizes = start.groupby("batch").size()
    assert sorted(sizes.tolist()) == [2] + [7] * 14  # 100 = 14 x 7 + the 2 left when nothing else can happen
    last = start[start.batch.map(sizes) == 2]
    assert last.t.iloc[0] == _arrived(ev).max()  # right after the last case reached it
    cases = pd.read_csv(tmp_path / "o" / "cases.csv")
    assert set(cases.status) == {"completed"}


def test_sequential_work_does_the_cases_one_after_another(tmp_path: Path) -> None:
    ev = _run(tmp_path, "{size: 4, timeout: 1d, work: sequential, scale: {1: 1.0, 4: 0.5}}")
    start, done = _pay(ev, "start"), _pay(ev, "complete")
    seen = 0
    for bid, grp in start.groupby("batch"):
        n = len(grp)
        f = 0.5 if n >= 3 else 1.0  # the nearest size given: 1 for 1 and 2, 4 for 3 and 4
        order = grp.sort_values("t")
        ends = done.loc[order.index].t
        # each case its own 10 minutes x the factor, the next one starting when it ends, one member for all
        assert ((ends.values - order.t.values) == np.timedelta64(int(600 * f), "s")).all()
        assert (order.t.values[1:] == ends.values[:-1]).all()
        assert grp.resource.nunique() == 1
        seen += n
    assert seen == 300
    # each case pays its fixed cost and its own working time
    assert set(done.cost.astype(float)) <= {1 + 10.0, 1 + 5.0}


def test_parallel_work_starts_every_case_at_once_and_shares_the_member(tmp_path: Path) -> None:
    ev = _run(tmp_path, "{size: 3, timeout: 6h, work: parallel, scale: {3: 0.8}}")
    start, done = _pay(ev, "start"), _pay(ev, "complete")
    for _, grp in start.groupby("batch"):
        n = len(grp)
        assert grp.t.nunique() == 1
        # 10 minutes x 0.8 (the only size given) x the n cases that share the member's attention
        span = done.loc[grp.index].t - grp.t
        assert (span == pd.Timedelta(seconds=600 * 0.8 * n)).all()
    assert sorted(start.groupby("batch").size().unique().tolist())[-1] == 3


def test_alone_is_the_share_of_cases_done_by_themselves(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    every = _run(tmp_path / "a", "{timeout: 8h, alone: 1}")
    assert (_pay(every, "start").groupby("batch").size() == 1).all()
    began = _pay(every, "start").t
    arrived = _arrived(every).loc[began.index]
    # at once: when the one treasurer is free the case starts as it arrives (no waiting for others)
    assert (began >= arrived).all() and (began == arrived).mean() > 0.8
    (tmp_path / "b").mkdir()
    half = _run(tmp_path / "b", "{timeout: 8h, alone: 0.5}", cases=600)
    sizes = _pay(half, "start").groupby("batch").size()
    # a case that finds no batch open is done alone with probability 0.5; otherwise it opens a batch
    assert 0.35 < (sizes == 1).mean() < 0.75 and sizes.max() > 2


def test_the_duration_factor_is_taken_at_the_nearest_size() -> None:
    plan = BatchPlan(act=None, size=None, timeout=None, schedule=None, rng=np.random.default_rng(0),
                     scale={1: 1.0, 3: 0.8, 6: 0.5})
    assert [plan.factor(n) for n in (1, 2, 3, 4, 5, 6, 9)] == [1.0, 1.0, 0.8, 0.8, 0.5, 0.5, 0.5]
    assert BatchPlan(None, None, None, None, np.random.default_rng(0)).factor(5) == 1.0


def test_a_batch_needs_a_trigger(tmp_path: Path) -> None:
    p = tmp_path / "p.yaml"
    p.write_text(PROCESS.replace("BATCH", "{work: parallel}"), encoding="utf-8")
    with pytest.raises(SpecError) as e:
        load_process(p)
    assert "a batch needs a trigger: 'size', 'timeout', 'idle' or 'schedule'" in str(e.value)
