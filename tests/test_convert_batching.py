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


# -- procsim convert on Prosimos's batch_processing ------------------------------------------------------------------

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <process id="p" name="Pay in batches">
    <startEvent id="s"/>
    <task id="reg" name="Register invoice"/>
    <task id="pay" name="Pay invoice"/>
    <endEvent id="e"/>
    <sequenceFlow id="f1" sourceRef="s" targetRef="reg"/>
    <sequenceFlow id="f2" sourceRef="reg" targetRef="pay"/>
    <sequenceFlow id="f3" sourceRef="pay" targetRef="e"/>
  </process>
</definitions>
"""


def _params(batch: list[dict]) -> dict:
    """Parameters in the shape Prosimos 2 reads (its testing_scripts/assets/*batch*.json), around the clock."""
    week = [{"from": "MONDAY", "to": "SUNDAY", "beginTime": "00:00:00", "endTime": "23:59:59"}]
    return {
        "resource_profiles": [
            {"id": "clerks", "name": "Clerks", "resource_list": [
                {"id": "CLERK", "name": "Clerk", "cost_per_hour": 20, "amount": 20, "calendar": "ALWAYS",
                 "assigned_tasks": ["reg"]}]},
            {"id": "treasury", "name": "Treasury", "resource_list": [
                {"id": "TREASURER", "name": "Treasurer", "cost_per_hour": 60, "amount": 1, "calendar": "ALWAYS",
                 "assigned_tasks": ["pay"]}]}],
        "resource_calendars": [{"id": "ALWAYS", "name": "ALWAYS", "time_periods": week}],
        "arrival_time_distribution": {"distribution_name": "expon",
                                      "distribution_params": [{"value": 3600}, {"value": 0}, {"value": 1e9}]},
        "arrival_time_calendar": week,
        "gateway_branching_probabilities": [],
        "task_resource_distribution": [
            {"task_id": "reg", "resources": [{"resource_id": "CLERK", "distribution_name": "fix",
                                              "distribution_params": [{"value": 60}]}]},
            {"task_id": "pay", "resources": [{"resource_id": "TREASURER", "distribution_name": "fix",
                                              "distribution_params": [{"value": 600}]}]}],
        "batch_processing": batch,
    }


def _convert(tmp_path: Path, batch: list[dict]) -> tuple[Path, object]:
    (tmp_path / "m.bpmn").write_text(BPMN, encoding="utf-8")
    (tmp_path / "p.json").write_text(json.dumps(_params(batch), indent=1), encoding="utf-8")
    return convert_to_dir(tmp_path / "m.bpmn", tmp_path / "imp", tmp_path / "p.json")


def _simulate(path: Path, out: Path, cases: int = 300) -> pd.DataFrame:
    run(load_process(path), out, seed=2, cases=cases, formats=["csv"])
    ev = pd.read_csv(out / "events.csv", keep_default_na=False)
    ev["t"] = pd.to_datetime(ev.timestamp, utc=True)
    return ev


def _batch(task: str = "pay", type_: str = "Parallel", rules: list | None = None, sizes: dict | None = None,
           scale: dict | None = None) -> dict:
    return {"task_id": task, "type": type_, "batch_frequency": 1.0,
            "size_distrib": [{"key": str(k), "value": v} for k, v in (sizes or {1: 0, 2: 1}).items()],
            "duration_distrib": [{"key": str(k), "value": v} for k, v in (scale or {}).items()],
            "firing_rules": rules if rules is not None else []}


def _rule(attr: str, op: str, value: object) -> dict:
    return {"attribute": attr, "comparison": op, "value": value}


def test_a_size_rule_with_parallel_work_and_duration_scaling(tmp_path: Path) -> None:
    # Prosimos's testing_scripts/assets/1_task-batch.json: size = 4, Parallel, duration x 0.5 for four
    path, _ = _convert(tmp_path, [_batch(rules=[[_rule("size", "=", 4)]], sizes={1: 0.0, 4: 1.0}, scale={4: 0.5})])
    pay = load_process(path).spec.activities["pay_invoice"].batch
    assert pay is not None and (pay.size, pay.work, pay.scale, pay.alone) == (4, "parallel", {1: 1.0, 4: 0.5}, 0.0)
    assert pay.timeout is None and pay.idle is None and pay.schedule is None
    ev = _simulate(path, tmp_path / "sim").replace({"activity": {"Pay invoice": "pay"}})
    start, done = _pay(ev, "start"), _pay(ev, "complete")
    sizes = start.groupby("batch").size()
    assert sorted(sizes.unique().tolist()) == [4]  # 300 = 75 x 4: every batch holds four
    for _, grp in start.groupby("batch"):
        # the four start together; each takes 600 s x 0.5 x 4 (Prosimos's Parallel: the batch's whole time)
        assert grp.t.nunique() == 1
        assert ((done.loc[grp.index].t - grp.t) == pd.Timedelta(seconds=1200)).all()


def test_ready_and_large_waiting_times_become_idle_and_timeout(tmp_path: Path) -> None:
    # batch-example-with-batch.json's rule (ready_wt between 2 and 3 hours), OR the oldest has waited 5 hours
    rules = [[_rule("ready_wt", ">", 7200), _rule("ready_wt", "<", 10800)], [_rule("large_wt", ">=", 18000)]]
    path, c = _convert(tmp_path, [_batch(type_="Sequential", rules=rules, sizes={1: 0.25, 3: 0.75},
                                         scale={3: 0.8})])
    pay = load_process(path).spec.activities["pay_invoice"].batch
    assert pay is not None and (pay.idle, pay.timeout, pay.size, pay.work, pay.alone) == (
        7201.0, 18000.0, None, "sequential", 0.25)  # '>' 7200: at least a second more, as Prosimos reads it
    assert any("ready_wt between 7201 and 10799 s" in n for n in c.notes)  # type: ignore[attr-defined]
    ev = _simulate(path, tmp_path / "sim", cases=400).replace({"activity": {"Pay invoice": "pay",
                                                                            "Register invoice": "invoice"}})
    arrived, start = _arrived(ev), _pay(ev, "start")
    firsts = start.groupby("batch").t.min()
    for bid, grp in start.groupby("batch"):
        if len(grp) == 1:
            continue  # a case done alone (the 0.25 of size_distrib), or a batch of one
        joined = sorted(arrived[c] for c in grp.index)
        # the batch starts 2 h (and a second) after the last case joined, or 5 h after the first, whichever is first
        assert firsts[bid] == min(joined[-1] + pd.Timedelta(seconds=7201), joined[0] + pd.Timedelta(hours=5))
    assert (start.groupby("batch").size() > 1).sum() > 20


def test_week_day_and_daily_hour_become_a_schedule(tmp_path: Path) -> None:
    rules = [[_rule("week_day", "=", "Monday"), _rule("daily_hour", ">=", "9")],
             [_rule("week_day", "=", "Thursday"), _rule("daily_hour", ">=", "9")]]
    path, _ = _convert(tmp_path, [_batch(rules=rules)])
    pay = load_process(path).spec.activities["pay_invoice"].batch
    assert pay is not None and pay.schedule is not None
    assert (pay.schedule.weekdays, pay.schedule.time) == (["mon", "thu"], [32400.0])
    ev = _simulate(path, tmp_path / "sim").replace({"activity": {"Pay invoice": "pay"}})
    starts = _pay(ev, "start").t
    # UTC process: every batch starts a Monday or a Thursday at 09:00 (the last, flushed at the end, aside)
    assert set(starts.dt.strftime("%a %H:%M")) == {"Mon 09:00", "Thu 09:00"}


def test_no_firing_rules_take_the_likeliest_size_and_the_alone_share(tmp_path: Path) -> None:
    path, c = _convert(tmp_path, [_batch(type_="Sequential", sizes={1: 0.2, 3: 0.5, 5: 0.3})])
    pay = load_process(path).spec.activities["pay_invoice"].batch
    assert pay is not None and (pay.size, pay.alone, pay.timeout) == (3, 0.2, None)
    assert any("the likeliest, 3, is taken" in n for n in c.notes)  # type: ignore[attr-defined]


def test_what_procsim_cannot_express_is_refused_at_the_rule(tmp_path: Path) -> None:
    batch = [_batch(type_="Concurrent", rules=[[_rule("size", "=", 3)]]),
             _batch(task="reg", rules=[[_rule("size", ">=", 4), _rule("large_wt", ">", 600)],
                                       [_rule("daily_hour", "<", "12")]])]
    with pytest.raises(SpecError) as e:
        _convert(tmp_path, batch)
    text = json.dumps(_params(batch), indent=1).splitlines()
    got = [(p.loc, p.code, p.line, p.msg) for p in e.value.problems]
    assert [g[:2] for g in got] == [("batch_processing.pay", "params_unsupported")] + [
        ("batch_processing.reg", "params_unsupported")] * 2
    # each at its line of the parameter file: the type, the conjunction's first attribute, the daily hour
    assert '"type": "Concurrent"' in text[got[0][2] - 1] and "Prosimos 2.1.0 itself does not run" in got[0][3]
    assert '"large_wt"' in text[got[1][2] - 1] and "joins large_wt AND size" in got[1][3]
    assert '"daily_hour"' in text[got[2][2] - 1] and "daily_hour < 12 is not supported" in got[2][3]
    assert not (tmp_path / "imp" / "process.yaml").exists()
