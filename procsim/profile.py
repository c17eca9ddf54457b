"""The realism profile of an event log: a handful of numbers that tell a real log from a too-clean one.

Owns :func:`profile` (an :class:`~procsim.eventlog.ActivityLog` in, ``dict[str, float]`` out), the statistics it
needs (Kruskal-Wallis H, the two-sample Kolmogorov-Smirnov statistic, Jensen-Shannon divergence, Gini) written
with numpy so that procsim needs no scipy, and :data:`METRICS`, the one table of metric keys, labels and formats
that the CLI, the HTML report and ``docs/metrics.md`` share. Every metric is defined in ``docs/metrics.md`` exactly
as computed here; a metric that cannot be computed for a log (say, processing times when the log records only
completions) is ``nan``, never a made-up number.

Only reads logs: the simulator is never imported here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from procsim.eventlog import ActivityLog

__all__ = ["METRICS", "Metric", "profile", "kruskal_h", "ks_statistic", "js_divergence", "gini", "case_table",
           "variants"]

SAMPLE_CASES = 200  # cases per variant sample (the definition)
VARIANT_SAMPLES = 10  # samples averaged: one sample of 200 moves by a few variants from seed to seed
RANDOM_HALVES = 20  # random splits the drift ratios divide by
MIN_PER_RESOURCE = 5  # instances a resource needs in an activity to count in the resource metrics
TOP_ACTIVITIES = 5  # activities the workload Gini looks at
RESOLUTIONS = [(86400.0, "1 d"), (3600.0, "1 h"), (60.0, "1 min"), (1.0, "1 s"), (0.001, "1 ms")]


@dataclass(frozen=True)
class Metric:
    """One line of the profile: its key in the dict, a label for people, a format, and the issue's real band."""

    key: str
    label: str
    fmt: str
    real_min: float | None = None  # issue #12's "done when" lower bound (or upper, see real_max)
    real_max: float | None = None


METRICS: list[Metric] = [
    Metric("cases", "cases", ",.0f"),
    Metric("instances", "activity instances", ",.0f"),
    Metric("activities", "distinct activities", ",.0f"),
    Metric("resources", "distinct resources", ",.0f"),
    Metric("variants_200", "distinct variants among 200 random cases", ".1f", real_min=25),
    Metric("top10_share", "share of cases in the 10 most frequent variants", ".3f", real_max=0.90),
    Metric("events_per_case_cv", "events per case, coefficient of variation", ".3f", real_min=0.25),
    Metric("cycle_p99_p50", "cycle time p99 / p50", ".2f", real_min=5),
    Metric("resource_eta2", "resource effect on processing time (Kruskal-Wallis eta², median over activities)",
           ".3f", real_min=0.02),
    Metric("slowest_fastest", "slowest / fastest resource, median processing time (median over activities)",
           ".2f", real_min=1.5),
    Metric("workload_gini", "workload Gini among the resources of one activity (median, top 5 activities)",
           ".3f", real_min=0.30),
    Metric("drift_cycle_time", "drift of cycle time: KS first vs second half / random halves", ".2f", real_min=2),
    Metric("drift_control_flow", "drift of control flow: JS of directly-follows, halves / random halves", ".2f",
           real_min=1.3),
    Metric("shared_timestamps", "completions sharing a timestamp", ".3f", real_min=0.01),
    Metric("weekly_arrivals_dispersion", "weekly arrival counts, variance / mean", ".1f", real_min=3),
    Metric("zero_duration_share", "activity instances taking zero time (of those with a start)", ".3f"),
    Metric("timestamp_resolution_s", "timestamp resolution, seconds (coarsest unit all completions fit)", "g"),
    Metric("median_cycle_time_h", "median cycle time, hours", ".1f"),
    Metric("log_span_days", "log span, days (first to last timestamp)", ".0f"),
]


# -- statistics (numpy only; tests check them against scipy) ------------------------------------------------


def format_value(value: float, fmt: str) -> str:
    """A metric as people read it; ``n/a`` when the log cannot tell (``nan``)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return format(value, fmt)


def kruskal_h(groups: list[np.ndarray]) -> float:
    """Kruskal-Wallis H with the tie correction (as scipy.stats.kruskal); 0 when every value is equal."""
    sizes = np.array([len(g) for g in groups], dtype=float)
    values = np.concatenate(groups).astype(float)
    n = len(values)
    ranks = pd.Series(values).rank(method="average").to_numpy()
    bounds = np.cumsum(sizes).astype(int)
    sums = np.add.reduceat(ranks, np.r_[0, bounds[:-1]])
    h = 12.0 / (n * (n + 1)) * float(np.sum(sums ** 2 / sizes)) - 3.0 * (n + 1)
    _, counts = np.unique(values, return_counts=True)
    tie = 1.0 - float(np.sum(counts.astype(float) ** 3 - counts)) / (n ** 3 - n)
    return 0.0 if tie <= 0 else h / tie


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov D: the largest gap between the two empirical CDFs."""
    a, b = np.sort(a), np.sort(b)
    both = np.concatenate([a, b])
    fa = np.searchsorted(a, both, side="right") / len(a)
    fb = np.searchsorted(b, both, side="right") / len(b)
    return float(np.max(np.abs(fa - fb)))


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence in bits (0 .. 1) of two count vectors, each normalised to sum 1."""
    p = p / p.sum()
    q = q / q.sum()
    m = (p + q) / 2

    def kl(x: np.ndarray) -> float:
        nz = x > 0
        return float(np.sum(x[nz] * np.log2(x[nz] / m[nz])))

    return (kl(p) + kl(q)) / 2


def gini(x: np.ndarray) -> float:
    """Gini coefficient of non-negative values: mean absolute difference over twice the mean (0 = all equal)."""
    x = np.sort(np.asarray(x, dtype=float))
    n = len(x)
    if n == 0 or x.sum() == 0:
        return 0.0
    # sum_i sum_j |xi - xj| = 2 * sum_i (2i - n - 1) x_(i), i = 1..n over the sorted values
    i = np.arange(1, n + 1)
    return float(np.sum((2 * i - n - 1) * x) / (n * n * x.mean()))


# -- per case ------------------------------------------------------------------------------------------------


def case_table(log: ActivityLog) -> pd.DataFrame:
    """One row per case (indexed by case id, sorted): ``start`` (earliest start, or completion when no start is
    known), ``end`` (latest completion), ``cycle_s`` (seconds) and ``n`` (activity instances)."""
    df = log.df
    first = df["start_time"].fillna(df["end_time"])
    g = pd.DataFrame({"case_id": df["case_id"], "s": first, "e": df["end_time"]}).groupby("case_id", sort=True)
    out = pd.DataFrame({"start": g["s"].min(), "end": g["e"].max(), "n": g.size()})
    out["cycle_s"] = (out["end"] - out["start"]).dt.total_seconds()
    return out


def variants(log: ActivityLog) -> pd.Series:
    """Each case's variant: its activities in completion order (the log's order), joined by ``→``; indexed by
    case id, sorted."""
    df = log.df
    cc, cases = pd.factorize(df["case_id"], sort=True)
    ac, acts = pd.factorize(df["activity"], sort=True)
    order = np.lexsort((np.arange(len(df)), cc))
    # a case's activity codes as bytes: hashing a million events' worth of these is fast, joining strings is not
    pieces = np.split(ac[order].astype(np.int32), np.flatnonzero(np.diff(cc[order])) + 1) if len(df) else []
    codes, uniq = pd.factorize(pd.Series([p.tobytes() for p in pieces], dtype=object))
    names = np.asarray(acts, dtype=object)
    texts = np.array(["→".join(names[np.frombuffer(k, dtype=np.int32)]) for k in uniq], dtype=object)
    return pd.Series(texts[codes] if len(codes) else [], index=pd.Index(cases, name="case_id"), dtype=object,
                     name="activity")


def _nan_if_empty(values: list[float]) -> float:
    return float(np.median(values)) if values else math.nan


def profile(log: ActivityLog, seed: int = 0) -> dict[str, float]:
    """Every realism metric of ``log`` (keys as in :data:`METRICS`; definitions in docs/metrics.md).

    Deterministic: the random samples and halves come from ``numpy.random.default_rng(seed)``; the same log and
    seed give the same numbers. Metrics that need something the log lacks are ``nan``.
    """
    df = log.df
    rng = np.random.default_rng(seed)
    out: dict[str, float] = {m.key: math.nan for m in METRICS}
    cases = case_table(log)
    out["cases"] = float(len(cases))
    out["instances"] = float(len(df))
    out["activities"] = float(df["activity"].nunique())
    out["resources"] = float(df["resource"].dropna().nunique())
    if len(cases) == 0:
        return out
    var = variants(log)
    out.update(_variant_metrics(var, rng))
    n = cases["n"].to_numpy(dtype=float)
    out["events_per_case_cv"] = float(n.std() / n.mean())
    cyc = cases["cycle_s"].to_numpy(dtype=float)
    p50, p99 = np.quantile(cyc, [0.5, 0.99])
    out["cycle_p99_p50"] = float(p99 / p50) if p50 > 0 else math.nan
    out["median_cycle_time_h"] = float(p50 / 3600)
    out.update(_resource_metrics(df))
    out.update(_drift_metrics(log, cases, rng))
    ends = df["end_time"]
    out["shared_timestamps"] = float(ends.duplicated(keep=False).mean())
    out["weekly_arrivals_dispersion"] = _weekly_dispersion(cases["start"])
    timed = df["start_time"].notna()
    if timed.any():
        out["zero_duration_share"] = float((df.loc[timed, "end_time"] == df.loc[timed, "start_time"]).mean())
    out["timestamp_resolution_s"] = _resolution(ends)
    first = min(cases["start"].min(), ends.min())
    out["log_span_days"] = float((ends.max() - first).total_seconds() / 86400)
    return out


def _variant_metrics(var: pd.Series, rng: np.random.Generator) -> dict[str, float]:
    codes = pd.factorize(var.to_numpy())[0]
    k = min(SAMPLE_CASES, len(codes))
    distinct = [len(np.unique(codes[rng.choice(len(codes), size=k, replace=False)])) for _ in range(VARIANT_SAMPLES)]
    counts = np.sort(np.bincount(codes))[::-1]
    return {"variants_200": float(np.mean(distinct)), "top10_share": float(counts[:10].sum() / counts.sum())}


def _resource_metrics(df: pd.DataFrame) -> dict[str, float]:
    out: dict[str, float] = {}
    known = df[df["resource"].notna()]
    timed = known[known["start_time"].notna()]
    dur = (timed["end_time"] - timed["start_time"]).dt.total_seconds()
    etas: list[float] = []
    ratios: list[float] = []
    for _, grp in pd.DataFrame({"a": timed["activity"], "r": timed["resource"], "d": dur}).groupby("a", sort=True):
        by = {r: g["d"].to_numpy(dtype=float) for r, g in grp.groupby("r", sort=True)}
        by = {r: v for r, v in by.items() if len(v) >= MIN_PER_RESOURCE}
        if len(by) < 2:
            continue
        groups = list(by.values())
        nn, kk = sum(len(g) for g in groups), len(groups)
        if nn > kk:
            etas.append(max(0.0, (kruskal_h(groups) - kk + 1) / (nn - kk)))
        med = [float(np.median(g)) for g in groups]
        if min(med) > 0:
            ratios.append(max(med) / min(med))
    out["resource_eta2"] = _nan_if_empty(etas)
    out["slowest_fastest"] = _nan_if_empty(ratios)
    counts = known.groupby(["activity", "resource"], sort=True).size()
    multi = counts.groupby(level=0).size()
    top = (known[known["activity"].isin(multi[multi >= 2].index)]["activity"].value_counts()
           .sort_index().sort_values(ascending=False, kind="stable").index[:TOP_ACTIVITIES])
    out["workload_gini"] = _nan_if_empty([gini(counts.loc[a].to_numpy()) for a in top])
    return out


def _drift_metrics(log: ActivityLog, cases: pd.DataFrame, rng: np.random.Generator) -> dict[str, float]:
    """First vs second half of the cases by start time, each divided by the mean over random halves."""
    nc = len(cases)
    if nc < 4:
        return {}
    order = np.argsort(cases["start"].to_numpy(), kind="stable")
    first_half = np.zeros(nc, dtype=bool)
    first_half[order[: nc // 2]] = True
    splits = [first_half]
    for _ in range(RANDOM_HALVES):
        m = np.zeros(nc, dtype=bool)
        m[rng.permutation(nc)[: nc // 2]] = True
        splits.append(m)
    cyc = cases["cycle_s"].to_numpy(dtype=float)
    ks = [ks_statistic(cyc[m], cyc[~m]) for m in splits]
    # directly-follows pairs, with a start and an end marker per case, coded as integers once
    df = log.df
    case_code = pd.Categorical(df["case_id"], categories=cases.index).codes
    act_codes, _ = pd.factorize(df["activity"], sort=True)
    na = int(act_codes.max()) + 1 if len(act_codes) else 0
    order_ev = np.lexsort((np.arange(len(df)), case_code))  # per case, in the log's (completion) order
    c, a = case_code[order_ev], act_codes[order_ev]
    new_case = np.r_[True, c[1:] != c[:-1]]
    prev = np.where(new_case, na, np.r_[na, a[:-1]])  # na = the start marker
    last = np.r_[c[1:] != c[:-1], True]
    pair = np.r_[prev * (na + 2) + a, a[last] * (na + 2) + na + 1]  # na + 1 = the end marker
    pair_case = np.r_[c, c[last]]
    size = (na + 2) ** 2
    js: list[float] = []
    for m in splits:
        sel = m[pair_case]
        js.append(js_divergence(np.bincount(pair[sel], minlength=size).astype(float),
                                np.bincount(pair[~sel], minlength=size).astype(float)))
    out: dict[str, float] = {}
    base_ks, base_js = float(np.mean(ks[1:])), float(np.mean(js[1:]))
    out["drift_cycle_time"] = ks[0] / base_ks if base_ks > 0 else math.nan
    out["drift_control_flow"] = js[0] / base_js if base_js > 0 else math.nan
    return out


def _weekly_dispersion(starts: pd.Series) -> float:
    """Cases started per calendar week (Monday 00:00 UTC); the partial first and last weeks are left out."""
    days = starts.dt.tz_convert("UTC").dt.tz_localize(None).dt.floor("D")
    week = (days - pd.to_timedelta(days.dt.weekday, unit="D")).to_numpy()
    per_week = pd.Series(1, index=week).groupby(level=0).sum()
    full = pd.date_range(per_week.index.min(), per_week.index.max(), freq="7D")
    counts = per_week.reindex(full, fill_value=0).to_numpy(dtype=float)
    if len(counts) >= 4:
        counts = counts[1:-1]
    if len(counts) < 2 or counts.mean() == 0:
        return math.nan
    return float(counts.var(ddof=1) / counts.mean())


def _resolution(ends: pd.Series) -> float:
    ns = ends.astype("int64").to_numpy()
    for seconds, _ in RESOLUTIONS:
        if np.all(ns % int(round(seconds * 1e9)) == 0):
            return seconds
    return 1e-9
