"""``procsim discover LOG -o DIR``: a runnable, commented process file from an event log.

Owns turning an :class:`~procsim.eventlog.ActivityLog` into procsim's language (see docs/discover.md for the method
and its justification):

- **control flow**: a filtered directly-follows graph in the heuristics-miner / split-miner family. Arcs rarer
  than ``noise`` of their source's outgoing arcs are dropped, except each activity's most frequent incoming and
  outgoing arc (split-miner's filter), and arcs needed so every activity is reachable and can finish. Activities
  are ranked by their mean position in the traces; an arc to an activity of equal or lower rank is a loop back and
  gets ``max`` = the most times one case took it in the log, so every cycle is bounded as the language requires.
  Every activity is followed by an XOR split whose branch probabilities are the arcs' relative frequencies.
  Concurrency is written as interleaving (XOR), not as AND blocks: a documented gap.
- **time**: processing time per activity (start to end); when the log has completions only, a start is estimated
  as the later of the case's previous completion (enablement) and the resource's previous completion (its
  availability), the estimator of Martin, Depaire & Caris (2016). An activity without a resource is automatic, and
  its duration is the whole time from enablement to completion (it holds nobody, so that is where the wait goes).
- **resources**: roles by clustering resources on the activities they do (cosine similarity of activity counts,
  single linkage at ``role_similarity``), with the resources as named members; each activity goes to the role that
  did most of it; a weekly calendar per role from the hours its members were seen working.
- **arrivals**: exponential gaps with the log's mean rate, shaped by weekday and hour-of-day factors.
- **case attributes**: from the trace attributes: numbers as clamped lognormal/normal distributions, few values
  as choices.

Times are UTC (the process's timezone), like the :class:`ActivityLog`. Pure numpy/pandas; no pm4py.
"""

from __future__ import annotations

import json
import keyword
import math
import os
import re
import secrets
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd

from procsim.distances import cfld, ngram_distance
from procsim.errors import ProcsimError, UsageError
from procsim.eventlog import ActivityLog, ColumnMap, read_log
from procsim.run import run

__all__ = ["discover", "discover_to_dir", "Discovered"]

_START, _END = -1, -2
_WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
# columns of procsim's own cases.csv that are bookkeeping, not case attributes
_PROCSIM_CASE_COLUMNS = {"status", "start", "end", "cycle_time_s", "events", "cost", "end_event", "rules",
                         "exceptions", "truncated"}
HOLDOUT_MINERS = ("tree", "states")  # the candidates of miner 'auto' (choose_miner), in order of preference
STATES_SUPPORT = 0.95  # auto: the transition system when this share of the log's events lie in supported states
HOLDOUT_MIN_CASES = 40  # cases a log needs for the hold-out (else: tree)
HOLDOUT_CFLD_CASES = 500  # the hold-out's CFLD pairs evenly spaced samples of this many cases (its cost is quadratic)
MEMBER_MIN_EVENTS = 30  # events a member needs for a calendar of their own
MIN_SPEED_N = 5  # instances of an activity a resource needs for its speed to count (as the profile's metrics)
UNEVEN_GINI = 0.2  # an activity whose work is shared this unevenly goes to its members by their shares
_RESERVED = {"case_id", "activity", "resource", "role", "now", "elapsed", "history", "true", "false", "none",
             "and", "or", "not", "in", "is", "if", "else"}


@dataclass
class Discovered:
    """The process file's text and what discovery measured (for tests and the fidelity report)."""

    yaml: str
    activities: int
    roles: dict[str, list[str]] = field(default_factory=dict)
    arcs: int = 0
    dropped_arcs: int = 0
    estimated_starts: bool = False


# -- helpers -----------------------------------------------------------------------------------------------------


def _ident(label: str, taken: set[str]) -> str:
    s = re.sub(r"[^0-9a-zA-Z]+", "_", label.strip().lower()).strip("_") or "x"
    if s[0].isdigit():
        s = "a_" + s
    if keyword.iskeyword(s) or s in _RESERVED:
        s = s + "_"
    base, i = s, 2
    while s in taken:
        s = f"{base}_{i}"
        i += 1
    taken.add(s)
    return s


def _q(s: str) -> str:
    """A YAML 1.2 double-quoted scalar (JSON's string syntax is a subset of it)."""
    return json.dumps(s, ensure_ascii=False)


def _dur(seconds: float) -> str:
    """Seconds as procsim writes durations: ``2h 5m 30s``; ``0s`` for zero."""
    s = int(round(max(seconds, 0.0)))
    if s == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if s >= size:
            parts.append(f"{s // size}{unit}")
            s %= size
    return " ".join(parts)


def _probs(counts: list[float]) -> list[float]:
    """Probabilities with 6 decimals that sum to 1 within the loader's tolerance."""
    total = sum(counts)
    p = [round(c / total, 6) for c in counts]
    big = max(range(len(p)), key=lambda i: p[i])
    p[big] = round(1.0 - sum(p[i] for i in range(len(p)) if i != big), 6)
    return p


def _duration_yaml(x: np.ndarray) -> tuple[str, str]:
    """A duration distribution for samples ``x`` (seconds) and a comment with what it was fitted to."""
    x = x[np.isfinite(x)]
    x = np.clip(x, 0, None)
    if len(x) == 0:
        return "0s", "no measured instance"
    hi = np.quantile(x, 0.995)
    x = x[x <= hi]  # one forgotten case left open over a holiday must not set the mean
    mean, sd = float(x.mean()), float(x.std())
    med = float(np.median(x))
    note = f"n={len(x)}, median {_dur(med)}, mean {_dur(mean)}"
    if mean < 1:
        return "0s", note
    if sd < 0.01 * mean or sd < 1:
        return f"{_dur(mean)}", note
    return f"{{kind: lognormal, mean: {_dur(mean)}, sd: {_dur(max(sd, 1))}}}", note


# -- the pieces --------------------------------------------------------------------------------------------------


def _prepare(log: ActivityLog) -> tuple[pd.DataFrame, bool]:
    """Instances ordered within each case, with ``enabled`` and an estimated ``start`` where the log has none."""
    df = log.df[["case_id", "activity", "start_time", "end_time", "resource"]].copy()
    df["order_t"] = df["start_time"].fillna(df["end_time"])
    df = df.sort_values(["case_id", "order_t", "end_time"], kind="stable").reset_index(drop=True)
    same = df["case_id"].eq(df["case_id"].shift())
    df["enabled"] = df["end_time"].shift().where(same)
    missing = df["start_time"].isna()
    estimated = bool(missing.any())
    if estimated:
        # the resource's previous completion: when it became free for this instance
        by_res = df[df["resource"].notna()].sort_values(["resource", "end_time"], kind="stable")
        prev_res = by_res["end_time"].shift().where(by_res["resource"].eq(by_res["resource"].shift()))
        df["res_free"] = prev_res.reindex(df.index)
        est = df[["enabled", "res_free"]].max(axis=1)
        # a case's first instance has no enablement: its resource's last completion may be yesterday's, which
        # says nothing about when this work began, so it counts as instantaneous (start = end)
        est = est.where(df["enabled"].notna() & (est <= df["end_time"]), df["end_time"])
        df["start"] = df["start_time"].where(~missing, est)
    else:
        df["start"] = df["start_time"].fillna(df["end_time"])
    return df, estimated


def _roles(df: pd.DataFrame, similarity: float) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Resources clustered by the activities they do; returns role -> members and resource -> role."""
    have = df[df["resource"].notna()]
    if have.empty:
        return {}, {}
    counts = pd.crosstab(have["resource"].astype(str), have["activity"])
    m = counts.to_numpy(dtype=np.float64)
    m = m / np.linalg.norm(m, axis=1, keepdims=True)
    sim = m @ m.T
    n = len(counts)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    ii, jj = np.nonzero(np.triu(sim, 1) >= similarity)
    for i, j in zip(ii.tolist(), jj.tolist()):
        a, b = find(i), find(j)
        if a != b:
            parent[max(a, b)] = min(a, b)
    groups: dict[int, list[str]] = defaultdict(list)
    names = [str(r) for r in counts.index]
    for i, r in enumerate(names):
        groups[find(i)].append(r)
    # a role is named after the activity its members do most
    taken: set[str] = set()
    roles: dict[str, list[str]] = {}
    res_role: dict[str, str] = {}
    for _, members in sorted(groups.items(), key=lambda kv: (-counts.loc[kv[1]].to_numpy().sum(), kv[1][0])):
        top = counts.loc[members].sum(axis=0).idxmax()
        role = _ident(f"{top} team", taken)
        roles[role] = sorted(members)
        for r in members:
            res_role[r] = role
    return roles, res_role


def _calendar(ts: pd.Series) -> tuple[list[int], list[int]] | None:
    """Working days and hours from the instants members were seen working: an hour of the day is working when it
    has at least 5% of the busiest hour's events, a weekday when it has 5% of the busiest weekday's or at least 2
    (and 0.1% of the busiest). None: around the clock."""
    if len(ts) < 30:
        return None  # too little evidence for a calendar of its own
    days = np.bincount(ts.dt.dayofweek.to_numpy(), minlength=7).astype(np.float64)
    hours = np.bincount(ts.dt.hour.to_numpy(), minlength=24).astype(np.float64)
    # a weekday with a few events is still a working day for some: without it the simulation has none that day
    wd = [d for d in range(7) if days[d] >= 0.05 * days.max() or days[d] >= max(2.0, 0.001 * days.max())]
    wh = [h for h in range(24) if hours[h] >= 0.05 * hours.max()]
    if len(wd) == 7 and len(wh) >= 22:
        return None
    return wd, wh


def _assignment(res: pd.Series, members: list[str]) -> str | None:
    """The activity's assignment line when its members shared it unevenly (Gini of their counts >= UNEVEN_GINI):
    weighted by the share of it each did in the log (when several are free; a worklist, which holds a task for
    the member drawn, built backlogs the log does not show: receipt's CTD 31 h -> 41 h)."""
    counts = res[res.isin(members)].value_counts()
    if len(counts) < 2:
        return None
    c = np.sort(counts.to_numpy(dtype=np.float64))
    n = len(members)
    full = np.concatenate([np.zeros(n - len(c)), c])
    gini = float(np.abs(full[:, None] - full[None, :]).sum() / (2 * n * n * full.mean()))
    if gini < UNEVEN_GINI:
        return None
    # members who never did it weigh 0 (a member not listed would weigh 1)
    w = {str(m): int(counts.get(m, 0)) for m in members}
    body = ", ".join(f"{_q(m)}: {k}" for m, k in sorted(w.items(), key=lambda kv: (-kv[1], kv[0])))
    return (f"    assignment: {{policy: weighted, weights: {{{body}}}}}    # who did it in the log "
            f"(Gini {gini:.2f})")


def _member_calendar(ts: pd.Series) -> tuple[list[int], list[int]] | None:
    """A member's own days and hours: as :func:`_calendar`, except that every weekday with an event of the
    member's is a working day, however few (the one who also works on Saturdays); None: too little evidence."""
    if len(ts) < MEMBER_MIN_EVENTS:
        return None
    days = np.bincount(ts.dt.dayofweek.to_numpy(), minlength=7)
    hours = np.bincount(ts.dt.hour.to_numpy(), minlength=24).astype(np.float64)
    wd = [d for d in range(7) if days[d] >= 1]
    wh = [h for h in range(24) if hours[h] >= 0.05 * hours.max()]
    return wd, wh


def _speeds(x: np.ndarray, act: np.ndarray, res: np.ndarray) -> dict[str, float]:
    """Each resource's speed: how much faster than the activity's median it works, as the geometric mean over the
    activities it did at least MIN_SPEED_N times (weighted by those counts) of median(activity) / median(its
    own), clipped to [0.2, 5]; resources without such evidence are left out (speed 1)."""
    f = pd.DataFrame({"x": x, "a": act, "r": res})
    f = f[f["r"].notna() & np.isfinite(f["x"])]
    med_a = f.groupby("a")["x"].median()
    g = f.groupby(["a", "r"])["x"].agg(["median", "size"]).reset_index()
    g = g[(g["size"] >= MIN_SPEED_N)]
    g["ma"] = g["a"].map(med_a)
    g = g[(g["ma"] > 0) & (g["median"] > 0)]
    if g.empty:
        return {}
    g["lr"] = np.log(g["ma"] / g["median"]) * g["size"]
    agg = g.groupby("r")[["lr", "size"]].sum()
    sp = np.exp(agg["lr"] / agg["size"]).clip(0.2, 5.0)
    return {str(r): round(float(v), 3) for r, v in sp.items() if abs(float(v) - 1) >= 0.05}


def _ranges(hours: list[int]) -> list[str]:
    out, i = [], 0
    while i < len(hours):
        j = i
        while j + 1 < len(hours) and hours[j + 1] == hours[j] + 1:
            j += 1
        out.append(f"{hours[i]:02d}:00-{hours[j] + 1:02d}:00")
        i = j + 1
    return out


def _working_seconds(start: pd.Series, end: pd.Series, cal: tuple[list[int], list[int]] | None) -> np.ndarray:
    """Seconds of working time between ``start`` and ``end`` (clock time without a calendar): the engine pauses
    work outside the calendar, so processing time must be measured the same way."""
    # whole seconds since 1970 whatever the column's resolution (a Parquet log may hold seconds, not ns)
    a = np.floor(np.nan_to_num(_epoch(start))).astype(np.int64)
    b = np.floor(np.nan_to_num(_epoch(end))).astype(np.int64)
    if cal is None:
        return cast(np.ndarray, (b - a).astype(np.float64))  # pandas is untyped here
    work = np.zeros(168, dtype=np.float64)
    for d in cal[0]:
        for h in cal[1]:
            work[d * 24 + h] = 3600.0
    cum = np.concatenate([[0.0], np.cumsum(work)])
    week = 7 * 86400
    shift = 3 * 86400  # 1970-01-01 was a Thursday: shift so weeks start on Monday

    def w(t: np.ndarray) -> np.ndarray:
        u = t + shift
        k, off = np.divmod(u, week)
        h, sec = np.divmod(off, 3600)
        return cast(np.ndarray, k * cum[-1] + cum[h] + np.where(work[h] > 0, sec, 0))

    return cast(np.ndarray, (w(b) - w(a)).astype(np.float64))


_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
MONTH_MIN_DAYS = 14  # days of a month the log must cover for its arrival rate to count
WAIT_MIN_MEAN = 600.0  # seconds: mean extraneous delay before an activity for it to get a wait
WAIT_MIN_SHARE = 0.1  # share of an activity's instances that must wait more than a minute for nobody
WAIT_MIN_N = 20  # instances with a start and an enablement an activity needs for a wait
BATCH_TOL = 1.0  # seconds: instances of one activity and resource starting and ending this close are one batch
BATCH_MIN_SHARE = 0.5  # share of an activity's instances in batches of 2 or more for it to be batched
BATCH_MIN_BATCHES = 5  # batches of 2 or more an activity needs
_QUANTILES = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0]


def _month_factors(arrivals: pd.Series) -> tuple[dict[str, float], str] | None:
    """Arrival factors per month of the year (seasonality), written only where the log shows them recur: a month
    counts when at least two years of the log cover MONTH_MIN_DAYS or more of its days, leaving out the log's first
    and last month (a log's edges are partial or ramping up: receipt's first month, October 2010, has 15 cases
    against about 100 in the next ones, its process being introduced). A month seen in one year only cannot be
    told from a trend or a one-off, and gets the factor 1 like the months the log does not cover. A month's factor
    is its rate (cases started / days covered, over its years) over the rate of all counted months; None when
    fewer than two months count or none differs from the average by more than 10% and 3 standard errors
    (Poisson: 1 / sqrt(cases)), so a log with a steady rate gets none. Returns the factors and a comment."""
    if len(arrivals) < 2:
        return None
    days = pd.date_range(arrivals.iloc[0].floor("D"), arrivals.iloc[-1].floor("D"), freq="D")
    covered = pd.Series(1, index=days).groupby([days.year, days.month]).sum()
    counts = arrivals.groupby([arrivals.dt.year, arrivals.dt.month]).size()
    covered = covered.iloc[1:-1]  # the log's first and last month: partial or ramping up
    covered = covered[covered >= MONTH_MIN_DAYS]
    n = counts.reindex(covered.index, fill_value=0).astype(np.float64)
    months = pd.Index([m for _, m in covered.index])
    years = pd.Series(1, index=months).groupby(level=0).size()
    recur = set(years[years >= 2].index)
    if len(recur) < 2:
        return None
    keep = np.array([m in recur for m in months])
    cov_m = covered[keep].groupby(months[keep]).sum().astype(np.float64)
    n_m = n[keep].groupby(months[keep]).sum()
    overall = float(n_m.sum()) / float(cov_m.sum())
    if overall <= 0:
        return None
    rate = (n_m / cov_m) / overall
    if not any(abs(float(r) - 1) > max(0.1, 3 / math.sqrt(max(float(k), 1.0))) for r, k in zip(rate, n_m)):
        return None
    factors = {_MONTHS[int(m) - 1]: round(float(r), 3) for m, r in sorted(rate.items())}
    note = (f"cases per day of each month the log covers in two years or more ({len(factors)} months), against "
            "all of them; other months 1")
    return factors, note


def _batches(df: pd.DataFrame, ready: pd.Series | None = None) -> dict[str, dict[str, float]]:
    """Activities whose instances one resource starts and ends together for several cases (Martin, Depaire, Caris &
    Schepers' simultaneous batch processing): instances of one activity by one resource whose starts and ends lie
    within BATCH_TOL of the previous one's are one batch. An activity is batched when at least BATCH_MIN_SHARE of
    its instances with a logged start are in batches of 2 or more and there are BATCH_MIN_BATCHES such batches.
    Returns, per batched activity: ``size`` (the largest batch: a batch never holds more), ``timeout`` (the median
    time from the first of a batch's cases being enabled to the batch's start), ``batches``, ``share``,
    ``mean_size``, and ``rows`` is left to the caller (the batch of each row: column ``batch_id``)."""
    f = df[df["start_time"].notna() & df["resource"].notna()]
    if f.empty:
        return {}
    f = f.sort_values(["activity", "resource", "start", "end_time"], kind="stable")
    s = _epoch(f["start"])
    e = _epoch(f["end_time"])
    a = f["activity"].to_numpy()
    r = f["resource"].astype(str).to_numpy()
    new = np.ones(len(f), dtype=bool)
    new[1:] = (a[1:] != a[:-1]) | (r[1:] != r[:-1]) | (s[1:] - s[:-1] > BATCH_TOL) | (np.abs(e[1:] - e[:-1])
                                                                                        > BATCH_TOL)
    bid = np.cumsum(new)
    en = (_case_ready(df) if ready is None else ready).loc[f.index]
    g = pd.DataFrame({"a": a, "b": bid, "s": s, "en": _epoch(en)})
    size = g.groupby("b")["a"].transform("size").to_numpy()
    out: dict[str, dict[str, float]] = {}
    total = g.groupby("a").size()
    for act, sub in g[size >= 2].groupby("a"):
        per = sub.groupby("b").agg(n=("a", "size"), s=("s", "first"), en=("en", "min"))
        share = float(len(sub)) / float(total[act])
        if len(per) < BATCH_MIN_BATCHES or share < BATCH_MIN_SHARE:
            continue
        waits = (per["s"] - per["en"]).dropna()
        waits = waits[waits >= 0]
        timeout = float(waits.median()) if len(waits) else 3600.0
        out[str(act)] = {"size": float(per["n"].max()), "timeout": max(timeout, 60.0), "batches": float(len(per)),
                         "share": share, "mean_size": float(per["n"].mean())}
    return out


def _busy(s: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The union of intervals [s, e) as disjoint sorted intervals and the busy time before each."""
    o = np.argsort(s, kind="stable")
    s, e = s[o], e[o]
    reach = np.maximum.accumulate(e)
    new = np.ones(len(s), dtype=bool)
    new[1:] = s[1:] > reach[:-1]
    grp = np.cumsum(new) - 1
    us = s[new]
    ue = np.zeros(len(us))
    np.maximum.at(ue, grp, e)
    ue = np.maximum(ue, us)
    before = np.concatenate([[0.0], np.cumsum(ue - us)[:-1]])
    return us, ue, before


def _busy_until(t: np.ndarray, us: np.ndarray, ue: np.ndarray, before: np.ndarray) -> np.ndarray:
    j = np.searchsorted(us, t, side="right") - 1
    jj = np.clip(j, 0, None)
    got = before[jj] + np.clip(t - us[jj], 0, ue[jj] - us[jj])
    return np.where(j < 0, 0.0, got)


def _epoch(t: pd.Series) -> np.ndarray:
    """Seconds since 1970 (NaN for NaT)."""
    return cast(np.ndarray, (t - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(dtype=np.float64))


def _case_ready(df: pd.DataFrame) -> pd.Series:
    """When each instance was enabled, for waits and batches: the case's latest completion at or before its start
    (under concurrency the previous row by start may be the other branch's work, not the one it waited for); NaT
    for a case's first instance."""
    q = pd.DataFrame({"case_id": df["case_id"].astype(str), "start": df["start"], "row": np.arange(len(df))})
    q = q[q["start"].notna()].sort_values("start", kind="stable")
    ends = pd.DataFrame({"case_id": df["case_id"].astype(str), "ready": df["end_time"], "row_e": np.arange(len(df))})
    ends = ends[ends["ready"].notna()].sort_values("ready", kind="stable")
    m = pd.merge_asof(q, ends, left_on="start", right_on="ready", by="case_id", direction="backward")
    own = m["row"] == m["row_e"]  # an instantaneous instance's own completion is not what enabled it
    got = pd.Series(m.loc[~own, "ready"].array, index=m.loc[~own, "row"].to_numpy())
    out = got.reindex(np.arange(len(df)))
    out.index = df.index
    return out.where(df["enabled"].notna())


def _extraneous(df: pd.DataFrame, act_cal: dict[str, tuple[list[int], list[int]] | None],
                ready: pd.Series | None = None) -> np.ndarray:
    """Each instance's extraneous waiting time, as Lashkevich, Milani, Chapela-Campa, Suvorau & Dumas decompose
    waiting ("Why am I waiting? Data-driven analysis of waiting times in business processes", CAiSE 2023): of the
    time from enablement to the logged start, what is left after the time the instance's resource was busy with
    other work (resource contention) and the time off its role's calendar (unavailability): the case waited and
    nobody was working on anything, e.g. for the customer. NaN where the instance has no logged start or no
    enablement. Chapela-Campa & Dumas ("Enhancing business process simulation models with extraneous activity
    delays", 2022) model such delays as timer events before the activity; discover writes them as waits."""
    out = np.full(len(df), np.nan)
    df = df.assign(enabled=_case_ready(df) if ready is None else ready)
    ok = (df["start_time"].notna() & df["enabled"].notna() & (df["start"] > df["enabled"])).to_numpy()
    zero = (df["start_time"].notna() & df["enabled"].notna()).to_numpy() & ~ok
    out[zero] = 0.0
    if not ok.any():
        return out
    en = _epoch(df["enabled"])
    st = _epoch(df["start"])
    work = np.full(len(df), np.nan)
    okr = np.flatnonzero(ok)
    for act, qi in pd.Series(okr).groupby(df["activity"].to_numpy()[okr]).indices.items():
        sel = okr[qi]
        work[sel] = _working_seconds(df["enabled"].iloc[sel], df["start"].iloc[sel], act_cal.get(str(act)))
    busy = np.zeros(len(df))
    code = pd.factorize(df["resource"].astype(object).where(df["resource"].notna(), None))[0]  # -1: no resource
    known = (code >= 0) & df["start_time"].notna().to_numpy()
    end = _epoch(df["end_time"])
    kr = np.flatnonzero(known)
    work_rows = pd.Series(kr).groupby(code[known]).indices
    qr = np.flatnonzero(ok & (code >= 0))
    for r, qi in pd.Series(qr).groupby(code[qr]).indices.items():
        if r not in work_rows:
            continue
        rr = kr[work_rows[r]]
        us, ue, before = _busy(st[rr], end[rr])
        q = qr[qi]
        busy[q] = _busy_until(st[q], us, ue, before) - _busy_until(en[q], us, ue, before)
    out[ok] = np.clip(work[ok] - busy[ok], 0, None)
    return out


def _wait_note(x: np.ndarray) -> str:
    return (f"{(x > 60).mean():.0%} of {len(x)} instances waited for nobody, mean {_dur(float(x.mean()))}, "
            f"median {_dur(float(np.median(x)))}")


def _quantiles_yaml(x: np.ndarray) -> str:
    """A ``quantiles`` distribution of samples ``x`` (seconds) at _QUANTILES, the top at the 99.5% point (one case
    forgotten over a holiday must not set the tail)."""
    x = np.clip(x[np.isfinite(x)], 0, None)
    v = np.quantile(x, [min(p, 0.995) for p in _QUANTILES])
    v = np.maximum.accumulate(np.round(v))
    return ("{kind: quantiles, probabilities: [" + ", ".join(f"{p:g}" for p in _QUANTILES) + "], values: ["
            + ", ".join(_dur(float(t)) for t in v) + "]}")


@dataclass
class _Flow:
    labels: list[str]
    arcs: dict[tuple[int, int], float]
    max_repeat: dict[tuple[int, int], int]
    rank: dict[int, float]
    dropped: int


def _flow(df: pd.DataFrame, noise: float) -> _Flow:
    """Filtered directly-follows graph with loop bounds (see the module docstring)."""
    labels = sorted(df["activity"].unique())
    code = {a: i for i, a in enumerate(labels)}
    acts = df["activity"].map(code).to_numpy()
    case = pd.factorize(df["case_id"])[0]
    n = len(acts)
    first = np.ones(n, dtype=bool)
    first[1:] = case[1:] != case[:-1]
    last = np.ones(n, dtype=bool)
    last[:-1] = case[1:] != case[:-1]
    src = np.where(first, _START, np.roll(acts, 1))
    pairs = pd.DataFrame({"case": np.concatenate([case, case[last]]),
                          "a": np.concatenate([src, acts[last]]),
                          "b": np.concatenate([acts, np.full(int(last.sum()), _END)])})
    per_case = pairs.groupby(["case", "a", "b"], sort=False).size()
    full = per_case.groupby(level=["a", "b"]).sum()
    max_rep = per_case.groupby(level=["a", "b"]).max()
    arcs_all = {(int(a), int(b)): float(v) for (a, b), v in full.items()}
    # rank: mean position of an activity's first occurrence in its traces
    pos = np.arange(n) - np.maximum.accumulate(np.where(first, np.arange(n), 0))
    firsts = pd.DataFrame({"case": case, "a": acts, "pos": pos}).drop_duplicates(["case", "a"])
    rank = {int(a): float(p) for a, p in firsts.groupby("a")["pos"].mean().items()}
    rank[_START], rank[_END] = -math.inf, math.inf

    out_tot: dict[int, float] = defaultdict(float)
    best_out: dict[int, tuple[float, int]] = {}
    best_in: dict[int, tuple[float, int]] = {}
    for (a, b), c in arcs_all.items():
        out_tot[a] += c
        if c > best_out.get(a, (-1, 0))[0]:
            best_out[a] = (c, b)
        if c > best_in.get(b, (-1, 0))[0]:
            best_in[b] = (c, a)
    keep = {(a, b): c for (a, b), c in arcs_all.items() if c >= noise * out_tot[a]}
    for a, (c, b) in best_out.items():
        keep[(a, b)] = arcs_all[(a, b)]
    for b, (c, a) in best_in.items():
        keep[(a, b)] = arcs_all[(a, b)]

    def fwd(a: int, b: int) -> bool:
        return rank[b] > rank[a] or (rank[b] == rank[a] and b != a and b > a)

    # every activity can finish through forward arcs: from the last-ranked backwards, add the most frequent
    # forward arc of the log (or one to the end) where none is kept
    order = sorted(range(len(labels)), key=lambda a: (rank[a], a), reverse=True)
    for a in order:
        if not any(fwd(a, b) for (x, b) in keep if x == a):
            cands = [(c, b) for (x, b), c in arcs_all.items() if x == a and fwd(a, b)]
            if cands:
                c, b = max(cands)
                keep[(a, b)] = c
            else:
                keep[(a, _END)] = max(1.0, 0.01 * out_tot[a])
    # every activity is reachable from the start (in rank order, so its sources are already reachable)
    reach = {_START}
    changed = True
    while changed:
        changed = False
        for (a, b) in list(keep):
            if a in reach and b not in reach:
                reach.add(b)
                changed = True
        for b in sorted(range(len(labels)), key=lambda x: (rank[x], x)):
            if b in reach:
                continue
            cands = [(c, a) for (a, y), c in arcs_all.items() if y == b and a in reach]
            if cands:
                c, a = max(cands)
                keep[(a, b)] = c
            else:
                keep[(_START, b)] = 1.0
            reach.add(b)
            changed = True
            break
    rep = {k: int(max_rep.get(k, 1)) for k in keep}
    return _Flow(labels, keep, rep, rank, len(arcs_all) - len(keep))


def _attributes(ca: pd.DataFrame, cases: list[str], taken: set[str]) -> list[str]:
    """YAML lines for the case attributes found in the trace attributes."""
    lines: list[str] = []
    if ca is None or ca.empty:
        return lines
    ca = ca.reindex([c for c in cases if c in ca.index])
    for col in ca.columns:
        if str(col).lower() in _PROCSIM_CASE_COLUMNS or str(col).startswith(("concept:", "case:", "time:")):
            continue
        s = ca[col].dropna()
        s = s[s.astype(str) != ""]
        if len(s) < max(2, 0.5 * len(ca)):
            continue
        name = _ident(str(col), taken)
        num = pd.to_numeric(s, errors="coerce")
        if isinstance(s.iloc[0], (bool, np.bool_)) or set(s.astype(str).str.lower()) <= {"true", "false"}:
            b = s.astype(str).str.lower().eq("true")
            p = _probs([float(b.sum()), float((~b).sum())])
            lines += [f"  {name}:    # from {_q(str(col))}",
                      f"    choice: {{true: {p[0]}, false: {p[1]}}}"]
        elif num.notna().all() and num.nunique() > 20:
            x = num.to_numpy(dtype=np.float64)
            integer = bool(np.all(np.equal(np.mod(x, 1), 0)))
            mean, sd = float(x.mean()), float(x.std())
            kind = "lognormal" if x.min() > 0 and sd > 0 else "normal"
            lines += [f"  {name}:    # from {_q(str(col))}: mean {mean:.4g}, sd {sd:.4g}, {len(x)} cases",
                      f"    distribution: {{kind: {kind}, mean: {mean:.6g}, sd: {max(sd, 0.0):.6g}}}",
                      f"    min: {x.min():.6g}", f"    max: {x.max():.6g}",
                      f"    round: {0 if integer else 2}"]
        elif s.astype(str).nunique() <= 30:
            vc = s.astype(str).value_counts()
            p = _probs([float(v) for v in vc.to_numpy()])
            numeric = pd.to_numeric(pd.Series(vc.index), errors="coerce").notna().all()
            body = ", ".join(f"{k if numeric else _q(k)}: {pk}" for k, pk in zip(vc.index, p))
            lines += [f"  {name}:    # from {_q(str(col))}", f"    choice: {{{body}}}"]
        else:
            lines.append(f"  # {_q(str(col))}: {s.astype(str).nunique()} distinct values, not modelled "
                         "(give it a faker provider or a pool)")
    return lines


# -- the whole -----------------------------------------------------------------------------------------------


def discover(log: ActivityLog, noise: float = 0.2, role_similarity: float = 0.7, miner: str = "tree",
             name: str = "Discovered process", start: pd.Timestamp | None = None,
             cases: int | None = None, waits: bool = True) -> Discovered:
    """Discover a process from ``log``; the result's ``yaml`` is a complete process file. ``start`` and ``cases``
    replace the log's first case start and case count as the simulation's start and size (``fidelity`` simulates
    the period after the log). ``miner``: ``tree``, ``states``, ``dfg``, ``auto`` (states when the log supports its
    transition system, :data:`STATES_SUPPORT`; else tree) or ``holdout`` (:func:`choose_miner`). ``waits``: write
    the log's extraneous delays as waits (docs/discover.md)."""
    if log.df.empty:
        raise UsageError(f"{log.source or 'log'}: no activity instances to discover from")
    choice = ""
    if miner == "holdout":
        miner, choice = choose_miner(log, noise, role_similarity)
        choice = f"a hold-out on the log: {choice}" if choice else ""
    df, estimated = _prepare(log)
    if miner == "auto":
        from procsim.mining import state_support

        sup = state_support(Counter(tuple(t) for t in df.groupby("case_id", sort=False)["activity"].agg(tuple)))
        miner = "states" if sup >= STATES_SUPPORT else "tree"
        choice = (f"its support (auto): {sup:.1%} of the log's events lie in states that 20 or more cases pass through (the states "
                  f"when at least {STATES_SUPPORT:.0%}, else the tree)")
    flow = _flow(df, noise / 4)
    roles, res_role = _roles(df, role_similarity)
    labels = flow.labels
    taken: set[str] = {"start", "end"}
    node = {i: _ident(a, taken) for i, a in enumerate(labels)}
    node[_END] = "end"

    # role per activity: the role that did most of its instances; none when most instances have no resource
    act_role: dict[str, str | None] = {}
    for a, g in df.groupby("activity", sort=True):
        r = g["resource"].dropna().astype(str).map(res_role)
        act_role[str(a)] = str(r.value_counts().idxmax()) if len(r) > 0.5 * len(g) else None

    # durations: processing (start to end) for work a role does; enablement to end for automatic activities
    whole = (df["end_time"] - df["enabled"].fillna(df["start"])).dt.total_seconds().to_numpy()
    wait = (df["start"] - df["enabled"]).dt.total_seconds().to_numpy()
    idx = df.groupby("activity", sort=True).indices

    case_ids = list(df.drop_duplicates("case_id")["case_id"])
    arrivals = df.groupby("case_id", sort=False)["start"].min().sort_values()
    n_cases = len(arrivals)
    t0 = arrivals.iloc[0]
    span = (arrivals.iloc[-1] - t0).total_seconds()
    gap = span / max(n_cases - 1, 1) if n_cases > 1 else 3600.0
    wd = np.bincount(arrivals.dt.dayofweek.to_numpy(), minlength=7) / n_cases * 7
    hr = np.bincount(arrivals.dt.hour.to_numpy(), minlength=24) / n_cases * 24

    L: list[str] = []
    L += [f"# {name}: discovered by 'procsim discover' from {log.source or 'an event log'}",
          f"# {len(df)} activity instances, {n_cases} cases, {len(labels)} activities, "
          f"{sum(1 for r in df['resource'] if r is not None)} instances with a resource.",
          "#",
          "@FLOW@",
          "# Durations are processing times in working time"
          + (";\n# starts the log lacks were estimated: the later of the case's previous completion and the"
             " resource's previous one" if estimated else "") + ".",
          "# Roles are resources that do the same activities; calendars are the hours they were seen working;",
          "# each member's speed, own calendar and share of an activity come from what they did in the log.",
          "# Waits that hold nobody are the log's extraneous delays (from when case and resource were ready",
          "# to the start); batches are instances one resource started and ended together for several cases.",
          "",
          "process:",
          f"  name: {_q(name)}",
          "  timezone: UTC                     # the log's timestamps, read as UTC",
          f"  start: {(t0 if start is None else start).strftime('%Y-%m-%dT%H:%M:%S+00:00')}"
          + ("    # the log's first case" if start is None else "    # the period to simulate"),
          f"  cases: {n_cases if cases is None else cases}",
          "  case_prefix: C-",
          ""]

    cal_lines: list[str] = []
    role_lines: list[str] = []
    role_cal: dict[str, tuple[list[int], list[int]] | None] = {}
    everyone = _calendar(pd.concat([df.loc[df["resource"].notna(), "start"],
                                    df.loc[df["resource"].notna(), "end_time"]]))
    for role, members in roles.items():
        mine = df[df["resource"].isin(members)]
        ts = pd.concat([mine["start"], mine["end_time"]])
        role_cal[role] = _calendar(ts) if len(ts) >= 30 else everyone
    # processing time of each instance, in the working time of its activity's role
    proc = np.full(len(df), np.nan)
    for a, rows in idx.items():
        arole = act_role[str(a)]
        if arole is not None:
            sub = df.iloc[rows]
            proc[rows] = _working_seconds(sub["start"], sub["end_time"], role_cal.get(arole))
    res_str = df["resource"].map(lambda r: None if r is None or (isinstance(r, float) and math.isnan(r)) else str(r))
    speed = _speeds(proc, df["activity"].to_numpy(), res_str.to_numpy())
    role_cname: dict[str, str] = {}
    # batching and waits that hold nobody, where the log shows them (docs/discover.md)
    ready = _case_ready(df)
    batched = {a: b for a, b in _batches(df, ready).items() if act_role.get(a) is not None}
    extraneous = (_extraneous(df, {a: role_cal.get(r) if r else None for a, r in act_role.items()}, ready) if waits
                  else np.full(len(df), np.nan))
    waits_of: dict[str, np.ndarray] = {}
    for a, rows in idx.items():
        if not waits:
            break
        if str(a) in batched or act_role[str(a)] is None:
            continue  # a batch's wait is the batch's; an automatic activity's duration holds its wait already
        x = extraneous[rows]
        x = x[np.isfinite(x)]
        if len(x) >= WAIT_MIN_N and x.mean() >= WAIT_MIN_MEAN and (x > 60).mean() >= WAIT_MIN_SHARE:
            waits_of[str(a)] = x
    rows_of = res_str.groupby(res_str, sort=True).indices
    for role, members in roles.items():
        week = role_cal[role]
        mine = df[df["resource"].isin(members)]
        acts = sorted(mine["activity"].value_counts().index[:3])
        role_lines.append(f"  {role}:    # does {', '.join(_q(a) for a in acts)}")
        role_lines.append("    members:    # speed: median time of the activities they did against everyone's; "
                          "calendar: when they were seen working")
        for m in members:
            own: list[str] = []
            if m in speed:
                own.append(f"speed: {speed[m]}")
            mts = df.iloc[rows_of.get(m, []), :][["start", "end_time"]]
            mcal = _member_calendar(pd.concat([mts["start"], mts["end_time"]]))
            if mcal is not None and mcal != week and mcal[0] and mcal[1]:
                mname = _ident(f"{m}_hours", taken)
                cal_lines.append(f"  {mname}:    # {_q(m)}: the days they worked, hours with 5% of their busiest")
                cal_lines.append(f"    days: [{', '.join(_WEEKDAYS[d] for d in mcal[0])}]")
                cal_lines.append(f"    hours: [{', '.join(_q(r) for r in _ranges(mcal[1]))}]")
                own.append(f"calendar: {mname}")
            role_lines.append(f"      {_q(m)}: {{{', '.join(own)}}}    # {len(mts)} instances")
        if week is not None:
            cname = _ident(f"{role}_hours", taken)
            role_cname[role] = cname
            cal_lines.append(f"  {cname}:    # days and hours with at least 5% of the busiest one's events")
            cal_lines.append(f"    days: [{', '.join(_WEEKDAYS[d] for d in week[0])}]")
            cal_lines.append(f"    hours: [{', '.join(_q(r) for r in _ranges(week[1]))}]")
            role_lines.append(f"    calendar: {cname}")
    if cal_lines:
        L += ["calendars:"] + cal_lines + [""]
    if role_lines:
        L += ["roles:"] + role_lines + [""]
    else:
        L += ["roles: {}    # the log names no resources: every activity is automatic", ""]

    L += ["arrivals:",
          f"  # {n_cases} cases between {t0:%Y-%m-%d} and {arrivals.iloc[-1]:%Y-%m-%d}: "
          f"one every {_dur(gap)} on average",
          f"  interarrival: {{kind: exponential, mean: {_dur(max(gap, 1))}}}",
          "  # relative intensity (1 = average) from the share of cases that started on each weekday / in each hour",
          "  weekday: {" + ", ".join(f"{d}: {wd[i]:.3f}" for i, d in enumerate(_WEEKDAYS)) + "}",
          "  hour: {" + ", ".join(f"{h}: {hr[h]:.3f}" for h in range(24)) + "}"]
    months = _month_factors(arrivals)
    if months is not None:
        L += [f"  # {months[1]}",
              "  month: {" + ", ".join(f"{m}: {f}" for m, f in months[0].items()) + "}"]
    L.append("")

    attr_lines = _attributes(log.case_attributes, case_ids, set(taken))
    if attr_lines:
        L += ["attributes:"] + attr_lines + [""]

    L += ["events:", "  start: {type: start, next: %s}" % "first_activity", "  end: {type: end}", ""]
    gw_taken = taken | {"first_activity"}

    def successors(a: int) -> list[tuple[int, float]]:
        return sorted(((b, c) for (x, b), c in flow.arcs.items() if x == a), key=lambda t: (-t[1], t[0]))

    gateways: list[str] = []

    def split(gname: str, a: int, desc: str) -> str:
        succ = successors(a)
        if len(succ) == 1:
            return node[succ[0][0]]
        probs = _probs([c for _, c in succ])
        gateways.append(f"  {gname}:    # {desc}")
        gateways.append("    type: xor")
        gateways.append("    branches:")
        for (b, c), p in zip(succ, probs):
            back = b != _END and a != _START and not (flow.rank[b] > flow.rank[a] or
                                                      (flow.rank[b] == flow.rank[a] and b > a and b != a))
            mx = f", max: {flow.max_repeat.get((a, b), 1)}" if back else ""
            gateways.append(f"      - {{to: {node[b]}, probability: {p}{mx}}}    # {int(c)} times"
                            + ("; a loop back" if back else ""))
        return gname

    next_of: dict[str, str] | None = None
    copies: dict[str, list[tuple[str, str, str]]] = defaultdict(list)  # label -> extra nodes (loop passes, states)
    if miner in ("tree", "states"):
        from procsim.mining import Emitter, Node, inductive

        variants = Counter(tuple(t) for t in df.groupby("case_id", sort=False)["activity"].agg(tuple))
        from procsim.mining import STATE_NOISE

        em = Emitter({a: node[i] for i, a in enumerate(labels)}, set(gw_taken), noise / 4)
        if miner == "states":
            em.state_noise = STATE_NOISE
        entry = em.emit(inductive(variants, noise) if miner == "tree" else Node("dfg", log=variants), "end")
        if set(em.next_of) == set(labels):
            next_of, gateways = em.next_of, em.gateways
            gw_taken |= em.taken
            first = entry
            for cnode, (label, cnext, why) in em.copies.items():
                copies[label].append((cnode, cnext, why))
    if next_of is None:
        first = split("first_activity", _START, "how cases begin")
        flow_note = ["# Control flow (docs/discover.md): the directly-follows graph, arcs below "
                     f"{noise / 4:g} of their source's", f"# outgoing arcs dropped ({flow.dropped} of "
                     f"{flow.dropped + len(flow.arcs)}); each activity is followed by an XOR split with the log's",
                     "# frequencies; loops back carry 'max' = the most times one case took them; parallel work "
                     "shows as interleaving."]
    elif miner == "states":
        flow_note = ["# Control flow (docs/discover.md): the log's transition system: a node per state (last "
                     "activity, what was", "# done, run length) that 20 cases or more pass through, with their "
                     "choices; rarer states follow", "# the directly-follows graph."]
    else:
        flow_note = ["# Control flow (docs/discover.md): a process tree by the inductive miner (IMf, filter "
                     f"{noise:g}): XOR", "# probabilities are the shares of cases in each branch, AND blocks "
                     "where the log shows work in both orders,", "# loops with 'max' = the most repetitions of one "
                     "case; parts with no block structure are directly-follows choices."]
    if choice:
        flow_note.append(f"# This miner was chosen by {choice}.")
    at = L.index("@FLOW@")
    L[at:at + 1] = flow_note
    L[L.index("  start: {type: start, next: first_activity}")] = f"  start: {{type: start, next: {first}}}"

    L.append("activities:")
    wait_lines: list[str] = []
    L.append("  # durations: processing time in the role's working time (the engine pauses work outside it)")
    for i, a in enumerate(labels):
        rows = idx[a]
        arole = act_role[a]
        assign: str | None = None
        if arole is not None:
            # a member's time times their speed: the activity's own duration, which the engine divides by it
            x = proc[rows] * res_str.iloc[rows].map(lambda r: speed.get(r, 1.0) if r else 1.0).to_numpy()
            assign = _assignment(res_str.iloc[rows], roles[arole])
        else:
            x = whole[rows]
        dur, note = _duration_yaml(x)
        nxt = next_of[a] if next_of is not None else split(_ident(f"after_{node[i]}", gw_taken), i, f"after {a}")
        w = wait[rows]
        w = w[np.isfinite(w)]
        bt = batched.get(a)
        batch_line = (f"    batch: {{size: {int(bt['size'])}, timeout: {_dur(bt['timeout'])}}}    # "
                      f"{int(bt['batches'])} batches of {bt['mean_size']:.1f} cases on average ({bt['share']:.0%} of "
                      f"its instances): size the largest, timeout the median wait of a batch's first case"
                      if bt else None)
        # a wait before the activity takes the key the flow refers to; the activity follows it
        keys = [(node[i], nxt, "")] + [(c, cn, why) for c, cn, why in copies.get(a, [])]
        for k, (key, knext, why) in enumerate(keys):
            if a in waits_of:
                work = _ident(f"{key}_work", gw_taken)
                wait_lines.append(f"  {key}:    # before {_q(a)}: " + (_wait_note(waits_of[a]) if k == 0 else
                                                                        f"as {node[i]} ({why})"))
                wait_lines.append(f"    duration: {_quantiles_yaml(waits_of[a])}")
                cn = role_cname.get(arole or "")
                if cn:
                    wait_lines.append(f"    calendar: {cn}    # counted in the role's working time, as measured")
                wait_lines.append(f"    next: {work}")
                key = work
            if k == 0:
                L.append(f"  {key}:")
            else:
                L.append(f"  {key}:    # {why}: as {node[i]}")
            L.append(f"    name: {_q(a)}")
            if arole is not None:
                L.append(f"    role: {arole}")
                if k == 0:
                    L.append(f"    duration: {dur}    # processing time: {note}"
                             + (f"; waited {_dur(float(np.median(w)))} (median) before it" if len(w) else ""))
                else:
                    L.append(f"    duration: {dur}")
                if assign:
                    L.append(assign)
                if batch_line:
                    L.append(batch_line)
            else:
                L.append(f"    duration: {dur}    # no resource: the whole time from enablement, {note}" if k == 0
                         else f"    duration: {dur}")
            L.append(f"    next: {knext}")
    L.append("")
    if wait_lines:
        L += ["waits:    # extraneous delays: time no resource explains (docs/discover.md)"] + wait_lines + [""]
    if gateways:
        L += ["gateways:"] + gateways + [""]
    return Discovered("\n".join(L), len(labels), roles, len(flow.arcs), flow.dropped, estimated)


def choose_miner(log: ActivityLog, noise: float = 0.2, role_similarity: float = 0.7) -> tuple[str, str]:
    """The control-flow miner for ``log`` by a hold-out on it: the first 80% of its cases by start discovered with
    each of HOLDOUT_MINERS, each model simulating the last 20% (same start, same number of cases, seed 0), scored
    by CFLD + 3-gram distance against them; the lower wins (ties: the first). Which structure fits a log best
    differs from log to log (a block-structured tree for receipt, the transition system for BPIC 2012), and a
    hold-out is how to tell without looking at the data the model will be judged on. Returns the miner and a
    line for the file's header; ``tree`` when the log has too few cases to split."""
    t = log.df["start_time"].fillna(log.df["end_time"])
    starts = t.groupby(log.df["case_id"]).min().sort_values(kind="stable")
    n = int(0.8 * len(starts))
    if n < HOLDOUT_MIN_CASES or len(starts) - n < HOLDOUT_MIN_CASES // 4:
        return "tree", ""
    inner = log.df["case_id"].isin(starts.index[:n])
    ca = log.case_attributes
    tr = ActivityLog(log.df[inner].reset_index(drop=True), ca[ca.index.isin(starts.index[:n])] if not ca.empty
                     else ca, log.source)
    te = ActivityLog(log.df[~inner].reset_index(drop=True), ca, log.source)
    scores: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="procsim-discover-") as tmp:
        for m in HOLDOUT_MINERS:
            try:
                d = discover(tr, noise=noise, role_similarity=role_similarity, miner=m,
                             start=starts.iloc[n], cases=len(starts) - n)
                path = Path(tmp) / f"{m}.yaml"
                path.write_text(d.yaml, encoding="utf-8")  # run loads and checks it (once: parsing is the cost)
                run(path, Path(tmp) / f"{m}-sim", seed=0, cases=len(starts) - n)
            except ProcsimError:
                continue  # a model that does not load or run is not a candidate
            sim = read_log(Path(tmp) / f"{m}-sim")
            scores[m] = cfld(te, sim, max_cases=HOLDOUT_CFLD_CASES) + ngram_distance(te, sim, 3)
    if not scores:
        return "tree", ""
    best = min(HOLDOUT_MINERS, key=lambda m: scores.get(m, math.inf))
    line = ", ".join(f"{m} {scores[m]:.3f}" for m in HOLDOUT_MINERS if m in scores)
    return best, (f"CFLD + 3-gram distance of a simulation of the log's last 20% of cases, from a model of the "
                  f"first 80%: {line}")


def discover_to_dir(path: Path, out: Path, columns: ColumnMap | None = None, noise: float = 0.2,
                    miner: str = "auto", waits: bool = True) -> Path:
    """Read ``path``, discover, write ``out/process.yaml`` and check that it loads; returns the file's path."""
    log = read_log(path, columns)
    return discover_checked(log, out, noise=noise, miner=miner, name=f"Discovered from {Path(path).name}",
                            waits=waits)


def discover_checked(log: ActivityLog, out: Path, miner: str = "tree", **kw: object) -> Path:
    """:func:`discover` and :func:`write_checked`; should the chosen miner's model not load (a bug), the
    directly-follows miner's is written instead, so a user always gets a runnable file."""
    if miner != "dfg":
        try:
            return write_checked(discover(log, miner=miner, **kw), out)  # type: ignore[arg-type]
        except ProcsimError:
            pass
    return write_checked(discover(log, miner="dfg", **kw), out)  # type: ignore[arg-type]


def write_checked(d: Discovered, out: Path) -> Path:
    """Write ``d`` to ``out/process.yaml`` and load it with the loader's own validation."""
    from procsim.errors import SpecError
    from procsim.spec import load_process

    out.mkdir(parents=True, exist_ok=True)
    target = out / "process.yaml"
    # an exclusive, unique temporary (never through a planted link), loaded before it takes the final name
    tmp = out / f".process.yaml.{os.getpid()}-{secrets.token_hex(4)}.part"
    with open(tmp, "x", encoding="utf-8") as f:
        f.write(d.yaml)
    try:
        load_process(tmp)
    except SpecError as e:
        raise ProcsimError(f"discover wrote a process file that does not load (a bug in procsim; kept as {tmp}):\n{e}")
    tmp.replace(target)
    return target
