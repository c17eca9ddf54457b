"""Reading event logs procsim did not necessarily write: one table of activity instances.

Owns the bridge from outside logs (XES, CSV, Parquet, and procsim's own run folders) to the one shape that
``profile``, ``compare``, ``discover`` and ``report`` work on: an :class:`ActivityLog`, a pandas DataFrame with one
row per activity instance and the columns

``case_id`` (str), ``activity`` (str), ``start_time`` and ``end_time`` (``datetime64[ns, UTC]``; ``start_time`` is
NaT when the log only records completions), ``resource`` (str, or None when unknown),

sorted by ``end_time``, then ``case_id`` (stable). Case (trace) attributes, when the source has them, are in
:attr:`ActivityLog.case_attributes`, indexed by ``case_id``.

Lifecycle pairing: sources with one row per lifecycle transition (XES ``lifecycle:transition``, a CSV/Parquet
``lifecycle`` column, procsim's ``events.*``) are paired per case and activity in order (the n-th ``start`` of an
activity in a case with its n-th ``complete``); a ``complete`` with no open ``start`` is an instance whose start is
unknown (NaT); transitions other than start/complete (``schedule``, ``assign``, ``ate_abort`` ...) are ignored, and a
start that never completes is dropped. Events without a lifecycle count as completions.

Reading is procsim's own (the standard library's XML parser, pandas for tables): pm4py is never imported here.
"""

from __future__ import annotations

import gzip
import json
import xml.etree.ElementTree as ET
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Iterator, cast

import numpy as np
import pandas as pd

from procsim.errors import UsageError

__all__ = ["ActivityLog", "ColumnMap", "read_log", "COLUMNS"]

COLUMNS = ["case_id", "activity", "start_time", "end_time", "resource"]

# Column names seen in the wild, tried in order when the user names none (XES keys, pm4py's dataframe names,
# Prosimos/Simod/Apromore's activity-instance CSVs, procsim's own).
_GUESS = {
    "case": ["case_id", "case:concept:name", "caseid", "case", "CaseID", "Case ID", "Case_ID"],
    "activity": ["activity", "concept:name", "Activity", "task", "Activity_Name"],
    "start": ["start_time", "start_timestamp", "StartTimestamp", "start", "Start Timestamp"],
    "end": ["end_time", "end_timestamp", "EndTimestamp", "complete_timestamp", "time:timestamp", "timestamp",
            "Complete Timestamp", "end", "Timestamp"],
    "resource": ["resource", "org:resource", "Resource", "user"],
    "lifecycle": ["lifecycle", "lifecycle:transition", "Lifecycle", "event_type"],
}

_RUN_COLUMNS = {"case_id", "activity", "timestamp", "resource", "lifecycle"}  # of a procsim events.csv
_START = {"start"}
_COMPLETE = {"complete", "completed", "end"}


@dataclass(frozen=True)
class ColumnMap:
    """Which source columns hold the case id, activity, start/end time, resource and lifecycle (``None``: guess).

    With a ``lifecycle`` column, ``end`` names the single timestamp column of each transition.
    """

    case: str | None = None
    activity: str | None = None
    start: str | None = None
    end: str | None = None
    resource: str | None = None
    lifecycle: str | None = None


@dataclass
class ActivityLog:
    """One row per activity instance (see the module docstring for the columns)."""

    df: pd.DataFrame
    case_attributes: pd.DataFrame = field(default_factory=pd.DataFrame)
    source: str = ""

    @property
    def has_start(self) -> bool:
        """True when at least some instances know their start time."""
        return bool(self.df["start_time"].notna().any())

    def __len__(self) -> int:
        return len(self.df)


def read_log(path: str | Path, columns: ColumnMap | None = None) -> ActivityLog:
    """Read ``path``: an ``.xes``/``.xes.gz`` file, a ``.csv``/``.csv.gz``/``.parquet`` table, or a procsim run
    folder (its ``events.parquet`` or ``events.csv``). Bad paths and unmapped columns are :class:`UsageError`
    (exit 2) naming the file and the columns it has."""
    p = Path(path)
    cm = columns or ColumnMap()
    if p.is_dir():
        return _read_run_dir(p)
    if not p.is_file():
        raise UsageError(f"{p}: no such file or folder")
    name = p.name.lower()
    if name.endswith((".xes", ".xes.gz")):
        return _read_xes(p)
    if name.endswith(".parquet"):
        return _from_table(pd.read_parquet(p), cm, str(p))
    if name.endswith((".csv", ".csv.gz")):
        return _from_table(pd.read_csv(p, dtype=str, keep_default_na=False), cm, str(p))
    raise UsageError(f"{p}: unknown log format (expected .xes, .xes.gz, .csv, .csv.gz, .parquet or a run folder)")


# -- procsim run folders -------------------------------------------------------------------------------------


def _read_run_dir(d: Path) -> ActivityLog:
    files: dict[str, Any] = {}
    manifest = d / "manifest.json"
    if manifest.is_file():
        try:
            files = json.loads(manifest.read_text(encoding="utf-8")).get("files", {}) or {}
        except (ValueError, OSError, AttributeError):
            raise UsageError(f"{manifest}: not a valid procsim manifest") from None
    # prefer what the manifest vouches for; an older run's file in the same folder must not be read
    for fname in ("events.parquet", "events.csv"):
        if (d / fname).is_file() and (not files or fname in files):
            if fname.endswith(".parquet"):
                df = pd.read_parquet(d / fname, columns=None)
            else:  # only the columns read below: a wide log parses several times faster
                df = pd.read_csv(d / fname, dtype=str, keep_default_na=False, usecols=lambda c: c in _RUN_COLUMNS)
            log = _from_table(df, ColumnMap(case="case_id", activity="activity", end="timestamp",
                                            resource="resource", lifecycle="lifecycle"), str(d / fname))
            cases = d / "cases.csv"
            if cases.is_file():
                ca = pd.read_csv(cases, dtype=str, keep_default_na=False).set_index("case_id")
                log.case_attributes = ca
            return log
    raise UsageError(f"{d}: no events.parquet or events.csv (is this a procsim output folder?)")


# -- tables --------------------------------------------------------------------------------------------------


def _pick(df: pd.DataFrame, given: str | None, role: str, source: str, required: bool) -> str | None:
    if given is not None:
        if given not in df.columns:
            raise UsageError(f"{source}: no column '{given}' for the {role}; columns: {', '.join(map(str, df.columns))}")
        return given
    for c in _GUESS[role]:
        if c in df.columns:
            return c
    if required:
        raise UsageError(f"{source}: cannot tell which column holds the {role}; name it with --{role} "
                         f"(columns: {', '.join(map(str, df.columns))})")
    return None


def _to_utc(s: pd.Series, source: str, col: str) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(s):
        t = s
    else:
        s = s.replace("", None)
        try:
            t = pd.to_datetime(s, utc=True, format="ISO8601")  # the common case, parsed in C
        except (ValueError, TypeError):
            try:
                t = pd.to_datetime(s, utc=True, format="mixed")
            except (ValueError, TypeError) as e:
                raise UsageError(f"{source}: column '{col}' is not a timestamp ({e})") from None
    if getattr(t.dt, "tz", None) is None:
        t = t.dt.tz_localize("UTC")  # naive timestamps are taken as UTC
    return t.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")


def _from_table(df: pd.DataFrame, cm: ColumnMap, source: str) -> ActivityLog:
    case = _pick(df, cm.case, "case", source, True)
    act = _pick(df, cm.activity, "activity", source, True)
    res = _pick(df, cm.resource, "resource", source, False)
    life = _pick(df, cm.lifecycle, "lifecycle", source, False) if cm.start is None else cm.lifecycle
    if life is not None and cm.start is None and (cm.end is not None or _pick(df, None, "start", source, False) is None):
        end = _pick(df, cm.end, "end", source, True)
        assert end is not None
        rows = pd.DataFrame({"case_id": df[case].astype(str), "activity": df[act].astype(str),
                             "t": _to_utc(df[end], source, end),
                             "lifecycle": df[life].astype(str).str.lower(),
                             "resource": _resource(df, res)})
        return ActivityLog(_pair(rows), source=source)
    start = _pick(df, cm.start, "start", source, False)
    end = _pick(df, cm.end, "end", source, True)
    assert end is not None
    out = pd.DataFrame({
        "case_id": df[case].astype(str),
        "activity": df[act].astype(str),
        "start_time": _to_utc(df[start], source, start) if start else pd.Series(pd.NaT, index=df.index,
                                                                                 dtype="datetime64[ns, UTC]"),
        "end_time": _to_utc(df[end], source, end),
        "resource": _resource(df, res),
    })
    return ActivityLog(_finish(out), source=source)


def _resource(df: pd.DataFrame, col: str | None) -> pd.Series:
    if col is None:
        return pd.Series([None] * len(df), index=df.index, dtype=object)
    s = df[col].astype(object)
    return s.where(s.notna() & (s.astype(str) != ""), None).map(lambda v: v if v is None else str(v))


def _pair(rows: pd.DataFrame) -> pd.DataFrame:
    """Pair start and complete transitions (see the module docstring), vectorised: a million events in seconds.

    Per (case, activity), in time order, a complete takes the oldest open start (FIFO) if there is one. With
    ``S`` the starts seen before the ``j``-th complete, the completes matched so far follow
    ``m_j = min(m_(j-1) + 1, S_j)``, i.e. ``m_j = j + min(0, min_(i<=j) (S_i - i))``: complete ``j`` takes start
    number ``m_j`` when ``m_j > m_(j-1)`` and has no start otherwise. (:func:`_pair_loop` is the plain loop this
    must equal; tests compare the two.)
    """
    rows = rows.sort_values("t", kind="stable").reset_index(drop=True)
    lc = rows["lifecycle"].astype(str)
    is_s = lc.isin(_START).to_numpy()
    is_c = (lc.isin(_COMPLETE) | lc.isin(("", "none", "nan"))).to_numpy()
    keep = is_s | is_c
    r = rows[keep].reset_index(drop=True)
    is_s, is_c = is_s[keep], is_c[keep]
    g = r.groupby(["case_id", "activity"], sort=False).ngroup().to_numpy()
    order = np.lexsort((np.arange(len(r)), g))  # per (case, activity), in time order
    gs, ss, cs = g[order], is_s[order].astype(np.int64), is_c[order].astype(np.int64)
    grp = pd.Series(gs)
    n_start = pd.Series(ss).groupby(gs).cumsum().to_numpy()  # starts up to here (the start number, at a start)
    n_comp = pd.Series(cs).groupby(gs).cumsum().to_numpy()  # completes up to here (j, at a complete)
    comp = cs == 1
    d = np.where(comp, n_start - n_comp, np.iinfo(np.int64).max)
    cmin = pd.Series(d).groupby(gs).cummin().to_numpy()
    m = n_comp + np.minimum(0, cmin)
    cpos = np.flatnonzero(comp)
    mc, gc = m[cpos], gs[cpos]
    prev_m = np.where(np.r_[True, gc[1:] != gc[:-1]], 0, np.r_[0, mc[:-1]])
    matched = mc > prev_m
    spos = np.flatnonzero(ss == 1)
    start_at = pd.Series(order[spos], index=pd.MultiIndex.from_arrays([gs[spos], n_start[spos]]))
    src = np.full(len(cpos), -1, dtype=np.int64)
    if matched.any():
        src[matched] = start_at.reindex(pd.MultiIndex.from_arrays([gc[matched], mc[matched]])).to_numpy()
    crow = order[cpos]
    back = np.argsort(crow, kind="stable")  # completes back in time order, as the loop emits them
    crow, src = crow[back], src[back]
    t = r["t"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")  # not Timestamp objects
    res = r["resource"].to_numpy(dtype=object)
    st = np.where(src >= 0, t[np.maximum(src, 0)], np.datetime64("NaT", "ns"))
    cres = res[crow]
    sres = np.where(src >= 0, res[np.maximum(src, 0)], None)
    out = pd.DataFrame({"case_id": r["case_id"].to_numpy()[crow], "activity": r["activity"].to_numpy()[crow],
                        "start_time": st, "end_time": t[crow],
                        "resource": np.where(pd.isna(cres), sres, cres)})
    out["start_time"] = pd.to_datetime(out["start_time"], utc=True).astype("datetime64[ns, UTC]")
    out["end_time"] = pd.to_datetime(out["end_time"], utc=True).astype("datetime64[ns, UTC]")
    return _finish(out)


def _pair_loop(rows: pd.DataFrame) -> pd.DataFrame:
    """The plain pairing loop (the definition :func:`_pair` is tested against)."""
    rows = rows.sort_values("t", kind="stable")
    open_: dict[tuple[str, str], deque[tuple[Any, Any]]] = defaultdict(deque)
    out: list[tuple[str, str, Any, Any, Any]] = []
    for c, a, t, lc, r in zip(rows["case_id"], rows["activity"], rows["t"], rows["lifecycle"], rows["resource"]):
        if lc in _START:
            open_[(c, a)].append((t, r))
        elif lc in _COMPLETE or lc in ("", "none", "nan"):
            q = open_.get((c, a))
            if q:
                st, sr = q.popleft()
                out.append((c, a, st, t, r if r is not None else sr))
            else:
                out.append((c, a, pd.NaT, t, r))
    df = pd.DataFrame(out, columns=COLUMNS)
    df["start_time"] = pd.to_datetime(df["start_time"], utc=True).astype("datetime64[ns, UTC]")
    df["end_time"] = pd.to_datetime(df["end_time"], utc=True).astype("datetime64[ns, UTC]")
    return _finish(df)


def _finish(df: pd.DataFrame) -> pd.DataFrame:
    df = df.dropna(subset=["end_time"])
    df = df.sort_values(["end_time", "case_id"], kind="stable").reset_index(drop=True)
    r = df["resource"].astype(object)
    df["resource"] = r.where(r.notna(), None)  # unknown resources are None, never NaN
    return df[COLUMNS]


# -- XES -----------------------------------------------------------------------------------------------------


def _open(p: Path) -> IO[bytes]:
    return cast("IO[bytes]", gzip.open(p, "rb")) if p.name.lower().endswith(".gz") else open(p, "rb")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xes_value(el: ET.Element) -> Any:
    kind = _local(el.tag)
    v = el.get("value")
    if v is None:
        return None
    if kind == "int":
        try:
            return int(v)
        except ValueError:
            return v
    if kind == "float":
        try:
            return float(v)
        except ValueError:
            return v
    if kind == "boolean":
        return v.lower() == "true"
    return v


def _iter_traces(p: Path) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    try:
        with _open(p) as fh:
            depth = 0
            trace_attrs: dict[str, Any] = {}
            events: list[dict[str, Any]] = []
            for ev, el in ET.iterparse(fh, events=("start", "end")):
                tag = _local(el.tag)
                if ev == "start":
                    depth += 1
                    if tag == "trace":
                        trace_attrs, events = {}, []
                    continue
                depth -= 1
                if tag == "event":
                    events.append({c.get("key"): _xes_value(c) for c in el if c.get("key") is not None})
                    el.clear()
                elif tag == "trace":
                    for c in el:
                        if _local(c.tag) != "event" and c.get("key") is not None:
                            trace_attrs[c.get("key")] = _xes_value(c)
                    yield trace_attrs, events
                    el.clear()
    except (ET.ParseError, OSError, EOFError) as e:
        raise UsageError(f"{p}: not a readable XES file ({e})") from None


def _read_xes(p: Path) -> ActivityLog:
    rows: dict[str, list[Any]] = {"case_id": [], "activity": [], "t": [], "lifecycle": [], "resource": []}
    attrs: list[dict[str, Any]] = []
    for i, (ta, events) in enumerate(_iter_traces(p)):
        cid = str(ta.get("concept:name", f"trace-{i + 1}"))
        attrs.append({"case_id": cid, **{k: v for k, v in ta.items() if k != "concept:name"}})
        for e in events:
            if "time:timestamp" not in e or "concept:name" not in e:
                continue
            rows["case_id"].append(cid)
            rows["activity"].append(str(e["concept:name"]))
            rows["t"].append(e["time:timestamp"])
            rows["lifecycle"].append(str(e.get("lifecycle:transition", "complete")).lower())
            r = e.get("org:resource")
            rows["resource"].append(None if r is None else str(r))
    if not rows["case_id"]:
        raise UsageError(f"{p}: no events with concept:name and time:timestamp")
    df = pd.DataFrame(rows)
    df["t"] = _to_utc(df["t"], str(p), "time:timestamp")
    ca = pd.DataFrame(attrs).drop_duplicates("case_id").set_index("case_id") if attrs else pd.DataFrame()
    return ActivityLog(_pair(df), case_attributes=ca, source=str(p))
