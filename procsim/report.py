"""The HTML report of a run (or of two logs side by side): one self-contained file, no network, no JavaScript.

Owns :func:`build_report` (one or two :class:`~procsim.eventlog.ActivityLog`\\ s plus optional run extras in,
HTML text out), :func:`load_extras` (what a procsim output folder adds: manifest, labels, drift, documents,
roles) and :func:`write_report` (``RUN_DIR/report.html``). Everything is aggregated with pandas before it is
drawn, so a page stays small however long the log: charts are static SVG from :mod:`procsim.charts`, the process
map from :mod:`procsim.layout`, the frequency/time toggle is two radio buttons and CSS. Every number drawn also
sits in a ``data-*`` attribute, so tests check the page against the log.

Only reads logs and output folders: the simulator is never imported here.
"""

from __future__ import annotations


import json
import math
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from procsim.charts import Marker, bar_chart, hbar_chart, line_chart, spread_chart
from procsim.errors import UsageError
from procsim.eventlog import ActivityLog, read_log
from procsim.outdir import os_error, write_whole
from procsim.layout import Edge, Node, to_svg
from procsim.profile import METRICS, format_value, profile, variants

__all__ = ["RunExtras", "load_extras", "build_report", "write_report", "dfg"]

MAX_ACTIVITIES = 40  # process map: the most frequent activities ...
MAX_EDGES = 120  # ... and directly-follows edges; the rest are counted in a note
MIN_EDGE_SHARE = 0.005  # an edge is drawn when this share of the cases takes it (or it is a node's busiest)
TOP_RESOURCES = 30
TOP_VARIANTS = 10
EXAMPLES = 3  # example cases per exception type
PREVIEW_CHARS = 20_000
START, END = "▶ start", "■ end"


@dataclass
class RunExtras:
    """What a procsim output folder adds to its event log (all optional)."""

    run_dir: Path | None = None
    manifest: dict[str, Any] = field(default_factory=dict)
    labels: pd.DataFrame | None = None
    exceptions: pd.DataFrame | None = None
    drift: pd.DataFrame | None = None
    documents: pd.DataFrame | None = None
    roles: dict[str, str] = field(default_factory=dict)  # resource -> role
    model_svg: str | None = None


def _csv(p: Path) -> pd.DataFrame | None:
    return pd.read_csv(p, dtype=str, keep_default_na=False) if p.is_file() else None


def load_extras(run_dir: Path) -> RunExtras:
    """Read the manifest, labels.csv, exceptions.csv, drift.csv, documents/index.csv and the resource roles."""
    ex = RunExtras(run_dir=run_dir)
    m = run_dir / "manifest.json"
    if m.is_file():
        try:
            ex.manifest = json.loads(m.read_text(encoding="utf-8"))
        except ValueError:
            raise UsageError(f"{m}: not a valid procsim manifest") from None
    ex.labels = _csv(run_dir / "labels.csv")
    ex.exceptions = _csv(run_dir / "exceptions.csv")
    ex.drift = _csv(run_dir / "drift.csv")
    ex.documents = _csv(run_dir / "documents" / "index.csv")
    for name in ("events.parquet", "events.csv"):
        p = run_dir / name
        if p.is_file():
            try:
                if name.endswith(".parquet"):
                    ev = pd.read_parquet(p, columns=["resource", "role"])
                else:
                    ev = pd.read_csv(p, usecols=["resource", "role"], dtype=str, keep_default_na=False)
            except (ValueError, KeyError):
                break  # a log without roles: the people section shows resources only
            pairs = ev.dropna().drop_duplicates()
            pairs = pairs[(pairs["resource"] != "") & (pairs["role"] != "")]
            ex.roles = dict(zip(pairs["resource"].astype(str), pairs["role"].astype(str)))
            break
    ex.model_svg = _model_svg(ex.manifest, run_dir)
    return ex


def _model_svg(manifest: dict[str, Any], run_dir: Path) -> str | None:
    """The model's own graph when the process file the manifest names is still where it was (or near the run)."""
    inputs = [k for k in (manifest.get("inputs") or {}) if str(k).endswith((".yaml", ".yml"))]
    if not inputs:
        return None
    for base in (Path.cwd(), run_dir, *run_dir.resolve().parents):
        p = base / inputs[0]
        if p.is_file():
            try:
                from procsim.graph_svg import process_svg
                from procsim.spec import load_process

                return process_svg(load_process(p))
            except Exception:  # noqa: BLE001 - the model picture is a bonus; a changed file must not stop the report
                return None
    return None


# -- aggregation ---------------------------------------------------------------------------------------------


def _hours(s: pd.Series) -> pd.Series:
    out: pd.Series = s.dt.total_seconds() / 3600
    return out


def _dur(h: float) -> str:
    if not math.isfinite(h):
        return "–"
    s = h * 3600
    if s < 60:
        return f"{s:.0f}s"
    if s < 3600:
        return f"{s / 60:.0f}m"
    if h < 48:
        return f"{h:.1f}h"
    return f"{h / 24:.1f}d"


def _med(s: pd.Series) -> float:
    s = s.dropna()
    return float(s.median()) if len(s) else math.nan


def dfg(log: ActivityLog) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The directly-follows graph: ``nodes`` (activity, count, median processing and waiting hours) and ``edges``
    (src, dst, count, median hours from the completion of src to the start of dst, or its completion when no start
    is known), with the ``START``/``END`` markers. Order within a case is the log's (completion) order."""
    df = log.df
    order = np.lexsort((np.arange(len(df)), df["case_id"].to_numpy()))
    d = df.iloc[order]
    case = d["case_id"].to_numpy()
    first = np.r_[True, case[1:] != case[:-1]]
    last = np.r_[case[1:] != case[:-1], True]
    prev_act = pd.Series(np.where(first, START, np.r_[[START], d["activity"].to_numpy()[:-1]]), index=d.index)
    prev_end = d["end_time"].shift(1).where(~first)
    begin = d["start_time"].fillna(d["end_time"])
    nodes = pd.DataFrame({
        "activity": d["activity"],
        "proc_h": _hours(d["end_time"] - d["start_time"]),
        "wait_h": _hours(d["start_time"] - prev_end),
    }).groupby("activity", sort=True).agg(count=("activity", "size"), proc_h=("proc_h", "median"),
                                          wait_h=("wait_h", "median"))
    nodes = nodes.sort_values("count", ascending=False, kind="stable")
    e = pd.DataFrame({"src": prev_act.to_numpy(), "dst": d["activity"].to_numpy(),
                      "gap_h": _hours(begin - prev_end).to_numpy()})
    ends = pd.DataFrame({"src": d["activity"].to_numpy()[last], "dst": END, "gap_h": math.nan})
    edges = (pd.concat([e, ends], ignore_index=True).groupby(["src", "dst"], sort=True)
             .agg(count=("gap_h", "size"), gap_h=("gap_h", "median")).reset_index()
             .sort_values("count", ascending=False, kind="stable"))
    return nodes, edges


def _process_map(log: ActivityLog, key: str) -> str:
    nodes, edges = dfg(log)
    shown = nodes.head(MAX_ACTIVITIES)
    keep = set(shown.index) | {START, END}
    ncases = int(log.df["case_id"].nunique())
    cand = edges[edges["src"].isin(keep) & edges["dst"].isin(keep)]
    # rare edges clutter a real log's map: keep those taken by at least 0.5% of the cases, plus each node's
    # busiest way in and out so that nothing drawn floats unconnected
    strong = cand["count"] >= MIN_EDGE_SHARE * ncases
    first_out = ~cand.duplicated("src")  # cand is sorted by count, descending
    first_in = ~cand.duplicated("dst")
    e = cand[strong | first_out | first_in].head(MAX_EDGES)
    gnodes = [Node(START, "start", "circle", attrs={"data-count": str(ncases)})]
    for act, r in shown.iterrows():
        gnodes.append(Node(str(act), str(act), views={
            "freq": f"{int(r['count']):,}",
            "time": f"wait {_dur(r['wait_h'])} · work {_dur(r['proc_h'])}"},
            attrs={"data-count": str(int(r["count"])), "data-proc-h": f"{r['proc_h']:g}",
                   "data-wait-h": f"{r['wait_h']:g}"}))
    gnodes.append(Node(END, "end", "circle", attrs={"data-count": str(ncases)}))
    gedges = [Edge(str(r["src"]), str(r["dst"]), float(r["count"]),
                   views={"freq": f"{int(r['count']):,}", "time": _dur(r["gap_h"]) if r["dst"] != END else ""},
                   attrs={"data-src": str(r["src"]), "data-dst": str(r["dst"]), "data-count": str(int(r["count"]))})
              for _, r in e.iterrows()]
    svg = to_svg(gnodes, gedges, views=["freq", "time"], title="process map (directly-follows graph)",
                 css_class="graph processmap")
    hidden = []
    if len(nodes) > len(shown):
        hidden.append(f"{len(nodes) - len(shown)} rarer activities")
    if len(cand) > len(e):
        hidden.append(f"{len(cand) - len(e)} rarer edges (taken by fewer than {MIN_EDGE_SHARE:.1%} of the cases)")
    note = f'<p class="note">Not drawn: {", ".join(hidden)}.</p>' if hidden else ""
    toggle = (f'<div class="toggle"><input type="radio" name="view-{key}" id="freq-{key}" checked>'
              f'<label for="freq-{key}">frequency</label>'
              f'<input type="radio" name="view-{key}" id="time-{key}"><label for="time-{key}">time</label>'
              f'<div class="scroll">{svg}</div></div>')
    return toggle + note


def _markers(extras: RunExtras | None, day0: pd.Timestamp, per: str) -> list[Marker]:
    """Drift changes (drift.csv: start, end, type, target, change) and the extraction window (the manifest's
    ``recording.window``)."""
    if extras is None:
        return []
    unit = pd.Timedelta(days=1 if per == "day" else 7)
    out: list[Marker] = []

    def pos(t: Any) -> float | None:
        try:
            ts = pd.Timestamp(t)
        except (ValueError, TypeError):
            return None
        if pd.isna(ts):
            return None
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
        return float((ts - day0) / unit)

    if extras.drift is not None:
        for _, r in extras.drift.iterrows():
            at = pos(r.get("start", r.get("at", "")))
            if at is None:
                continue
            until = pos(r.get("end", "")) if r.get("end", "") else None
            label = " ".join(str(r[c]) for c in ("type", "target", "change") if c in r and str(r[c]) not in ("", "nan"))
            out.append(Marker(at, f"drift {label}".strip(), until if until != at else None))
    # procsim writes the window under 'recording' (procsim.recording); a top-level 'window' is read too
    w = (extras.manifest.get("recording") or {}).get("window") or extras.manifest.get("window")
    if isinstance(w, dict):
        a, b = pos(w.get("start")), pos(w.get("end"))
        if a is not None:
            out.append(Marker(a, "window", b))
    elif isinstance(w, str) and ".." in w:
        a, b = (pos(x) for x in w.split("..", 1))
        if a is not None:
            out.append(Marker(a, "window", b))
    return out


def _over_time(log: ActivityLog, cases: pd.DataFrame, extras: RunExtras | None) -> str:
    start = cases["start"].dt.tz_convert("UTC")
    day = start.dt.floor("D").dt.tz_localize(None)
    d0, d1 = day.min(), day.max()
    days = pd.date_range(d0, d1, freq="D")
    per_day = day.value_counts().reindex(days, fill_value=0)
    monday = day - pd.to_timedelta(day.dt.weekday, unit="D")
    weeks = pd.date_range(monday.min(), monday.max(), freq="7D")
    per_week = monday.value_counts().reindex(weeks, fill_value=0)
    # work in progress at the end of each day: started by then and not yet completed
    ends = cases["end"].dt.tz_convert("UTC").dt.tz_localize(None)
    edges_ = (days + pd.Timedelta(days=1)).to_numpy()
    started = np.searchsorted(np.sort(start.dt.tz_localize(None).to_numpy()), edges_, side="left")
    done = np.searchsorted(np.sort(ends.to_numpy()), edges_, side="left")
    wip = (started - done).astype(float)
    cyc = pd.DataFrame({"w": monday.to_numpy(), "h": cases["cycle_s"].to_numpy() / 3600}).groupby("w")["h"]
    med = cyc.median().reindex(weeks)
    p90 = cyc.quantile(0.9).reindex(weeks)
    day0 = pd.Timestamp(d0).tz_localize("UTC")
    week0 = pd.Timestamp(weeks[0]).tz_localize("UTC") if len(weeks) else day0
    dl = [d.strftime("%Y-%m-%d") for d in days]
    wl = [w.strftime("%Y-%m-%d") for w in weeks]
    parts = [
        "<h3>Arrivals per day</h3>",
        bar_chart("arrivals-day", "cases started per day (UTC)", dl, per_day.astype(float).tolist(), unit="cases",
                  markers=_markers(extras, day0, "day")),
        "<h3>Arrivals per week</h3>",
        bar_chart("arrivals-week", "cases started per week (weeks begin Monday, UTC)", wl,
                  per_week.astype(float).tolist(), unit="cases", markers=_markers(extras, week0, "week")),
        "<h3>Work in progress</h3>",
        line_chart("wip", "cases open at the end of each day", dl, {"open cases": wip.tolist()}, unit="cases",
                   markers=_markers(extras, day0, "day")),
        "<h3>Cycle time by start week</h3>",
        line_chart("cycle-week", "cycle time of the cases started each week, hours", wl,
                   {"median": med.astype(float).tolist(), "p90": p90.astype(float).tolist()}, unit="hours",
                   markers=_markers(extras, week0, "week")),
    ]
    return "\n".join(parts)


def _people(log: ActivityLog, extras: RunExtras | None) -> str:
    df = log.df[log.df["resource"].notna()]
    if df.empty:
        return '<p class="note">The log names no resources.</p>'
    span_h = max((log.df["end_time"].max() - log.df["start_time"].fillna(log.df["end_time"]).min())
                 .total_seconds() / 3600, 1e-9)
    proc_h = _hours(df["end_time"] - df["start_time"])
    per = pd.DataFrame({"r": df["resource"], "h": proc_h}).groupby("r", sort=True).agg(
        workload=("r", "size"), busy_h=("h", "sum"), timed=("h", "count"))
    per = per.sort_values("workload", ascending=False, kind="stable")
    top = per.head(TOP_RESOURCES)
    parts = [f"<h3>Workload per resource</h3><p class=\"note\">activity instances; the {len(top)} busiest of "
             f"{len(per)} resources</p>",
             hbar_chart("workload", "activity instances per resource", [str(x) for x in top.index],
                        top["workload"].astype(float).tolist())]
    if per["timed"].sum() > 0:
        util = (top["busy_h"] / span_h).astype(float)
        parts += ["<h3>Utilisation per resource</h3><p class=\"note\">busy time (sum of processing times) over the "
                  f"log's calendar span of {span_h / 24:,.0f} days, nights and weekends included (an activity "
                  "that lasts days, such as waiting for a supplier done under a role, counts as busy)</p>",
                  hbar_chart("utilisation", "busy share of the log span per resource", [str(x) for x in top.index],
                             util.tolist(), fmt=".3f")]
        q = (pd.DataFrame({"r": df["resource"], "m": proc_h * 60}).dropna().groupby("r")["m"]
             .quantile([0.1, 0.25, 0.5, 0.75, 0.9]).unstack())
        q = q.reindex([x for x in top.index if x in q.index])
        parts += ["<h3>Processing time per resource</h3><p class=\"note\">minutes, log scale: p10–p90 whiskers, "
                  "p25–p75 box, median tick</p>",
                  spread_chart("spread", "processing time per resource, minutes", [str(x) for x in q.index],
                               [tuple(float(v) for v in row) for row in q.to_numpy()], unit="m")]  # type: ignore[misc]
    else:
        parts.append('<p class="note">No start times in this log: utilisation and processing-time spread need '
                     "them.</p>")
    roles = extras.roles if extras else {}
    if roles:
        role = per.index.map(lambda r: roles.get(str(r), "(none)"))
        byrole = per.assign(role=role).groupby("role", sort=True).agg(
            members=("workload", "size"), workload=("workload", "sum"), busy_h=("busy_h", "sum"))
        byrole["util"] = byrole["busy_h"] / (byrole["members"] * span_h)
        byrole = byrole.sort_values("workload", ascending=False, kind="stable")
        parts += ["<h3>Per role</h3>",
                  hbar_chart("role-workload", "activity instances per role", [str(x) for x in byrole.index],
                             byrole["workload"].astype(float).tolist()),
                  _table(["role", "members", "instances", "busy hours", "utilisation (per member)"],
                         [[str(r), f"{int(x['members'])}", f"{int(x['workload']):,}", f"{x['busy_h']:,.0f}",
                           f"{x['util']:.3f}"] for r, x in byrole.iterrows()], cls="roles")]
    return "\n".join(parts)


def _table(head: list[str], rows: list[list[str]], cls: str = "", raw: bool = False) -> str:
    h = "".join(f"<th>{escape(x)}</th>" for x in head)
    body = "".join("<tr>" + "".join(f"<td>{c if raw else escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>'


def _variants(log: ActivityLog) -> str:
    var = variants(log)
    counts = var.value_counts(sort=False).sort_index().sort_values(ascending=False, kind="stable")
    total = float(counts.sum())
    top = counts.head(TOP_VARIANTS)
    labels = [f"#{i + 1} ({v.count('→') + 1} steps)" for i, v in enumerate(top.index)]
    rows = [[f"#{i + 1}", f"{c / total:.3f}", f"{int(c):,}", escape(str(v)).replace("→", " → ")]
            for i, (v, c) in enumerate(top.items())]
    return (f"<p>{len(counts):,} distinct variants among {int(total):,} cases; the {len(top)} most frequent:</p>"
            + hbar_chart("variants", "share of cases per variant", labels, (top / total).tolist(), fmt=".3f")
            + _table(["variant", "share", "cases", "activities in order"], rows, cls="variants", raw=True))


def _case_table(log: ActivityLog, case_id: str) -> str:
    ev = log.df[log.df["case_id"] == case_id]
    rows = [[str(r.activity), "" if pd.isna(r.start_time) else str(r.start_time), str(r.end_time),
             "" if r.resource is None else str(r.resource)] for r in ev.itertuples()]
    return _table(["activity", "start (UTC)", "end (UTC)", "resource"], rows, cls="events")


def _exceptions(log: ActivityLog, extras: RunExtras | None, key: str) -> str:
    if extras is None or (extras.labels is None and extras.exceptions is None):
        return '<p class="note">No labels.csv or exceptions.csv: this process cannot produce exceptions.</p>'
    parts: list[str] = []
    meta: dict[str, dict[str, Any]] = {}
    for e in extras.manifest.get("exceptions") or []:
        if isinstance(e, dict) and e.get("name"):
            meta[str(e["name"])] = e
    if extras.labels is not None:
        lab = extras.labels
        names = lab.loc[lab["exceptions"] != "", ["case_id", "exceptions"]].copy()
        names["exceptions"] = names["exceptions"].str.split(";")
        names = names.explode("exceptions")
        counts = names["exceptions"].value_counts(sort=False).sort_index().sort_values(ascending=False,
                                                                                       kind="stable")
        n_cases = len(lab)
        n_exc = int((lab["is_exception"].str.lower() == "true").sum()) if "is_exception" in lab else len(
            names["case_id"].unique())
        parts.append(f"<p>{n_exc:,} of {n_cases:,} cases ({n_exc / max(n_cases, 1):.2%}) carry an exception.</p>")
        if counts.empty:
            return "\n".join(parts)
        parts.append(hbar_chart("exceptions", "cases per exception type", [str(x) for x in counts.index],
                                counts.astype(float).tolist()))
        inst = _instances(extras.exceptions)
        if inst is not None:
            # exceptions.csv says what the label is: type, category, severity, difficulty, the money at stake
            rows = []
            for n, c in counts.items():
                g = inst[inst["name"] == str(n)]
                first = g.iloc[0] if len(g) else None
                cells = [str(first[k]) if first is not None else "" for k in ("type", "category", "severity",
                                                                              "difficulty")]
                money = pd.to_numeric(g["monetary_impact"], errors="coerce").sum() if len(g) else 0.0
                rows.append([str(n), f"{int(c):,}", *cells, f"{money:,.2f}" if money else ""])
            parts.append(_table(["exception", "cases", "type", "category", "severity", "difficulty",
                                 "monetary impact"], rows, cls="exc"))
        else:
            cols = sorted({k for m in meta.values() for k in m if k in ("category", "severity", "type", "kind")})
            rows = [[str(n), f"{int(c):,}", *(str(meta.get(str(n), {}).get(k, "")) for k in cols)]
                    for n, c in counts.items()]
            parts.append(_table(["exception", "cases", *cols], rows, cls="exc"))
        parts += _examples(log, names.rename(columns={"exceptions": "name"}), counts.index, key)
    inst = _instances(extras.exceptions)
    if inst is not None and len(inst[inst["is_exception"]]):
        real = inst[inst["is_exception"]]
        t = real.groupby(["category", "severity"], sort=True).agg(
            n=("exception_id", "size"), money=("monetary_impact", lambda v: pd.to_numeric(v, errors="coerce").sum()))
        parts.append("<h4>Per category and severity (exceptions.csv)</h4>" + _table(
            ["category", "severity", "instances", "monetary impact"],
            [[str(c), str(sv), f"{int(r.n):,}", f"{r.money:,.2f}" if r.money else ""]
             for (c, sv), r in t.iterrows()], cls="exc-cat"))
    parts.append(_near_misses(log, inst, key))
    return "\n".join(parts)


def _instances(ex: pd.DataFrame | None) -> pd.DataFrame | None:
    """exceptions.csv with ``is_exception`` as a bool, or None when the run has none (or an older layout)."""
    if ex is None or not {"name", "is_exception", "category", "severity", "case_ids"} <= set(ex.columns):
        return None
    return ex.assign(is_exception=ex["is_exception"].str.lower() == "true")


def _examples(log: ActivityLog, names: pd.DataFrame, order: Any, key: str) -> list[str]:
    """A few example cases per name (``names``: case_id, name), each a link to its events."""
    parts = []
    known = set(log.df["case_id"].unique())
    for n in order:
        ids = [c for c in names.loc[names["name"] == n, "case_id"].head(50) if c in known][:EXAMPLES]
        if not ids:
            continue
        parts.append(f"<h4>{escape(str(n))}: example cases</h4>")
        for c in ids:
            anchor = f"{key}-case-{c}"
            parts.append(f'<details id="{escape(anchor)}"><summary><a href="#{escape(anchor)}">'
                         f"{escape(c)}</a></summary>{_case_table(log, c)}</details>")
    return parts


def _near_misses(log: ActivityLog, inst: pd.DataFrame | None, key: str) -> str:
    """Legitimate cases that look suspicious (exceptions.csv rows with is_exception false)."""
    if inst is None:
        return ""
    near = inst[~inst["is_exception"]]
    if near.empty:
        return '<h3 id="near-misses">Near misses</h3><p class="note">This process declares no near misses.</p>'
    near = near.assign(case_id=near["case_ids"].str.split(";").str[0])
    counts = near.groupby("name", sort=True).size().sort_values(ascending=False, kind="stable")
    parts = ['<h3 id="near-misses">Near misses</h3>',
             f"<p>{len(set(near['case_id'])):,} cases are near misses: legitimate, labelled "
             "<code>is_exception=false</code>, the false positives a detector should avoid.</p>",
             hbar_chart("near-misses", "cases per near miss", [str(x) for x in counts.index],
                        counts.astype(float).tolist())]
    rows = []
    for n, c in counts.items():
        first = near[near["name"] == n].iloc[0]
        rows.append([str(n), f"{int(c):,}", str(first["type"]), str(first["category"])])
    parts.append(_table(["near miss", "cases", "type", "looks like"], rows, cls="near"))
    parts += _examples(log, near[["case_id", "name"]], counts.index, f"{key}-near")
    return "\n".join(parts)


def _profile_table(names: list[str], profiles: list[dict[str, float]], distances: dict[str, float] | None) -> str:

    head = "".join(f"<th>{escape(n)}</th>" for n in names)
    rows = []
    for m in METRICS:
        band = (f"≥ {m.real_min:g}" if m.real_min is not None else f"≤ {m.real_max:g}" if m.real_max is not None
                else "")
        cells = "".join(
            f'<td class="num" data-key="{m.key}" data-log="{i}" data-value="{"nan" if math.isnan(p[m.key]) else repr(p[m.key])}">'
            f"{format_value(p[m.key], m.fmt)}</td>" for i, p in enumerate(profiles))
        rows.append(f"<tr><td>{escape(m.label)}</td>{cells}<td class=\"band\">{band}</td></tr>")
    out = (f'<table class="profile"><thead><tr><th>metric</th>{head}<th>real band (issue #12)</th></tr></thead>'
           f"<tbody>{''.join(rows)}</tbody></table><p class=\"note\">Definitions: docs/metrics.md.</p>")
    if distances:
        out += "<h3>Distances</h3>" + _table(["distance", "value"], [[k, format_value(float(v), ".4g")]
                                                                    for k, v in distances.items()], cls="dist")
    return out


def _documents(extras: RunExtras | None) -> str:
    if extras is None or extras.documents is None or extras.run_dir is None:
        return '<p class="note">No documents in this run (<code>--format documents</code> writes them).</p>'
    idx = extras.documents
    counts = idx["type"].value_counts(sort=False).sort_index()
    parts = [hbar_chart("documents", "documents per type", [str(x) for x in counts.index],
                        counts.astype(float).tolist())]
    for t in counts.index:
        row = idx[idx["type"] == t].iloc[0]
        p = extras.run_dir / str(row["path"])
        text = p.read_text(encoding="utf-8", errors="replace")[:PREVIEW_CHARS] if p.is_file() else "(missing)"
        if p.suffix.lower() in (".html", ".htm"):
            body = f'<iframe sandbox="" srcdoc="{escape(text, quote=True)}" title="{escape(str(t))}"></iframe>'
        else:
            body = f"<pre>{escape(text)}</pre>"
        parts.append(f"<details><summary>{escape(str(t))}: {escape(str(row['document_id']))} "
                     f"(case {escape(str(row.get('case_id', '')))})</summary>{body}</details>")
    return "\n".join(parts)


def _facts(log: ActivityLog, extras: RunExtras | None, cases: pd.DataFrame) -> str:
    rows = [["source", log.source], ["cases", f"{len(cases):,}"], ["activity instances", f"{len(log.df):,}"],
            ["first timestamp (UTC)", str(cases["start"].min())], ["last timestamp (UTC)", str(cases["end"].max())]]
    m = extras.manifest if extras else {}
    for k in ("process", "process_version", "seed", "procsim_version", "cases_requested", "horizon_s", "formats",
              "labels_in_log", "wall_time_s", "window"):
        if k in m:
            v = m[k]
            rows.append([k, ", ".join(map(str, v)) if isinstance(v, list) else str(v)])
    for k, v in (m.get("counts") or {}).items():
        rows.append([f"counts.{k}", f"{v:,}" if isinstance(v, int) else str(v)])
    for k, v in (m.get("simulated_period") or {}).items():
        rows.append([f"simulated_period.{k}", str(v)])
    for k, v in (m.get("inputs") or {}).items():
        rows.append([f"input {k}", f"sha256 {v.get('sha256', '') if isinstance(v, dict) else v}"])
    return _table(["fact", "value"], rows, cls="facts")


# -- the page ------------------------------------------------------------------------------------------------

CSS = """
:root { color-scheme: light dark; --bg:#fff; --fg:#1d2330; --muted:#667085; --line:#d0d5dd; --accent:#2f6fde;
  --accent2:#e0672b; --node:#eef3fd; --band:rgba(224,103,43,.12); }
@media (prefers-color-scheme: dark) { :root { --bg:#14171c; --fg:#e6e8eb; --muted:#98a2b3; --line:#3a414d;
  --accent:#7aa7ff; --accent2:#ff9a5c; --node:#1f2a3d; --band:rgba(255,154,92,.15); } }
body { background:var(--bg); color:var(--fg); font:14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
  margin:0 auto; max-width:1500px; padding:1rem 2rem; }
h1 { font-size:1.6rem; } h2 { border-bottom:1px solid var(--line); padding-bottom:.2rem; margin-top:2rem; }
nav a { margin-right:1rem; color:var(--accent); }
.pair { display:grid; grid-template-columns:repeat(var(--n), minmax(0, 1fr)); gap:1.5rem; }
.pair > div { min-width:0; } .scroll { overflow:auto; max-height:80vh; border:1px solid var(--line); }
.note { color:var(--muted); font-size:.9em; }
table { border-collapse:collapse; margin:.5rem 0; font-size:.9em; }
th, td { border-bottom:1px solid var(--line); padding:.2rem .6rem; text-align:left; vertical-align:top; }
td.num { text-align:right; font-variant-numeric:tabular-nums; } td.band { color:var(--muted); }
svg { font:11px system-ui, sans-serif; max-width:100%; height:auto; }
.scroll svg.graph { max-width:none; }
svg text { fill:var(--fg); } svg .tick, svg .unit { fill:var(--muted); }
svg .grid { stroke:var(--line); stroke-width:.6; } svg .bar { fill:var(--accent); }
svg .line { fill:none; stroke:var(--accent); stroke-width:1.6; } svg .line.s1 { stroke:var(--accent2); }
svg .dot { fill:var(--accent); } svg .dot.s1 { fill:var(--accent2); } svg .legend.s1 { fill:var(--accent2); }
svg .marker { stroke:var(--accent2); stroke-dasharray:4,3; } svg .band { fill:var(--band); }
svg .marker-label { fill:var(--accent2); font-size:10px; }
svg .whisker, svg .median { stroke:var(--fg); stroke-width:1.2; }
.graph .node rect, .graph .node circle, .graph .node path { fill:var(--node); stroke:var(--accent); }
.graph .node.circle circle { fill:var(--bg); }
.graph text { text-anchor:middle; } .graph .label { font-weight:600; } .graph .sub { fill:var(--muted); }
.graph .edge path { fill:none; stroke:var(--muted); opacity:.8; } .graph .edge text { fill:var(--muted); font-size:10px; }
.graph .arrowhead { fill:var(--muted); }
.toggle > input { position:absolute; opacity:0; } .toggle > label { display:inline-block; padding:.2rem .8rem;
  border:1px solid var(--line); cursor:pointer; margin:0 .2rem .4rem 0; border-radius:4px; }
.toggle > input:checked + label { background:var(--accent); color:var(--bg); border-color:var(--accent); }
.toggle > input:focus-visible + label { outline:2px solid var(--accent2); }
.toggle:has(> input:nth-of-type(1):checked) .view-time { display:none; }
.toggle:has(> input:nth-of-type(2):checked) .view-freq { display:none; }
iframe { width:100%; height:320px; border:1px solid var(--line); background:#fff; }
pre { white-space:pre-wrap; border:1px solid var(--line); padding:.5rem; max-height:320px; overflow:auto; }
details { margin:.2rem 0; } summary { cursor:pointer; }
@media print { :root { --bg:#fff; --fg:#000; --muted:#444; --line:#bbb; --node:#f2f2f2; color-scheme:light; }
  nav, .toggle > input, .toggle > label { display:none; } .scroll { max-height:none; overflow:visible; border:0; }
  body { max-width:none; padding:0; } section, svg, table { break-inside:avoid; } details > *:not(summary) { display:block; }
  h2 { break-before:page; } h2:first-of-type { break-before:auto; } }
"""


def _section(sid: str, title: str, bodies: list[str], names: list[str]) -> str:
    if len(bodies) == 1:
        inner = bodies[0]
    else:
        inner = '<div class="pair">' + "".join(
            f"<div><h3 class=\"which\">{escape(n)}</h3>{b}</div>" for n, b in zip(names, bodies)) + "</div>"
    return f'<section id="{sid}"><h2>{escape(title)}</h2>{inner}</section>'


def build_report(logs: ActivityLog | list[ActivityLog], extras: RunExtras | list[RunExtras | None] | None = None,
                 *, names: list[str] | None = None, title: str | None = None,
                 distances: dict[str, float] | None = None, seed: int = 0) -> str:
    """The HTML page for one log, or two side by side (e.g. a real log and a simulated one).

    ``extras`` (one per log, or None) add what a run folder knows; ``distances`` (e.g. from ``compare``) are
    listed under the profiles. The page is self-contained: no script, no external style, font or image.
    """
    logs = [logs] if isinstance(logs, ActivityLog) else list(logs)
    if not 1 <= len(logs) <= 2:
        raise ValueError("build_report takes one or two logs")
    exl: list[RunExtras | None] = (list(extras) if isinstance(extras, list)
                                   else [extras] + [None] * (len(logs) - 1))
    exl += [None] * (len(logs) - len(exl))
    names = names or [x.source or f"log {i + 1}" for i, x in enumerate(logs)]
    from procsim.profile import case_table

    tables = [case_table(x) for x in logs]
    keys = [f"l{i}" for i in range(len(logs))]
    profiles = [profile(x, seed=seed) for x in logs]
    sections = []
    maps = []
    for x, e, k in zip(logs, exl, keys):
        body = _process_map(x, k) if len(x.df) else '<p class="note">empty log</p>'
        if e is not None and e.model_svg:
            body += ('<details><summary>the model\'s own graph</summary><div class="scroll">'
                     f"{e.model_svg}</div></details>")
        maps.append(body)
    sections.append(_section("map", "Process map", maps, names))
    sections.append(_section("time", "Over time", [_over_time(x, t, e) for x, t, e in zip(logs, tables, exl)],
                             names))
    sections.append(_section("people", "People", [_people(x, e) for x, e in zip(logs, exl)], names))
    sections.append(_section("variants", "Variants", [_variants(x) for x in logs], names))
    sections.append(_section("exceptions", "Exceptions and labels",
                             [_exceptions(x, e, k) for x, e, k in zip(logs, exl, keys)], names))
    sections.append(f'<section id="profile"><h2>Realism profile</h2>{_profile_table(names, profiles, distances)}'
                    "</section>")
    sections.append(_section("documents", "Documents", [_documents(e) for e in exl], names))
    sections.append(_section("facts", "Run facts", [_facts(x, e, t) for x, e, t in zip(logs, exl, tables)], names))
    head_title = title or ("procsim report: " + " vs ".join(names))
    nav = "".join(f'<a href="#{s}">{t}</a>' for s, t in (
        ("map", "process map"), ("time", "over time"), ("people", "people"), ("variants", "variants"),
        ("exceptions", "exceptions"), ("profile", "profile"), ("documents", "documents"), ("facts", "run facts")))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
            "img-src data:\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(head_title)}</title><style>{CSS}</style></head>"
            f'<body style="--n:{len(logs)}"><h1>{escape(head_title)}</h1><nav>{nav}</nav>'
            + "\n".join(sections) + "\n</body></html>\n")


def write_report(run_dir: Path, out: Path | None = None, *, seed: int = 0) -> Path:
    """Write ``out`` (default ``RUN_DIR/report.html``) for a procsim output folder; returns its path.

    ``run_dir`` may also be an event log file (XES, CSV, Parquet: columns guessed); its page, without the run's
    extras, goes to ``out`` or ``NAME.report.html`` in the current folder (a log's folder may not be writable).
    """
    if run_dir.is_file():
        log = read_log(run_dir)
        html = build_report(log, None, names=[run_dir.name], title=f"procsim report: {run_dir.name}", seed=seed)
        out = out or Path(f"{run_dir.name}.report.html")
    elif run_dir.is_dir():
        log = read_log(run_dir)
        extras = load_extras(run_dir)
        name = str(extras.manifest.get("process") or run_dir)
        html = build_report(log, extras, names=[name], title=f"procsim report: {name}", seed=seed)
        out = out or run_dir / "report.html"
    else:
        raise UsageError(f"{run_dir}: no such file or folder (procsim report takes a procsim output folder or "
                         "an event log)")
    return _write_page(out, html)


def save_comparison(logs: list[ActivityLog], sources: list[Path], distances: dict[str, float], out: Path,
                    *, seed: int = 0) -> Path:
    """``procsim compare REAL SIM --report OUT``: both logs side by side with the distances, written to ``out``
    (a temporary name first, renamed when complete, so a page that exists is whole)."""
    extras = [load_extras(p) if p.is_dir() else None for p in sources]
    html = build_report(logs, extras, names=["real", "simulated"], distances=distances,
                        title=f"{sources[0].name} vs {sources[1].name}", seed=seed)
    return _write_page(out, html)


def _write_page(out: Path, html: str) -> Path:
    """Write the page whole or not at all (procsim.outdir.write_whole); a failure is an environment error naming
    the file."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        return write_whole(out, html)
    except OSError as e:
        raise os_error(e, out) from None
