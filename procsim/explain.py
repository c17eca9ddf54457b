"""``procsim explain RUN_DIR CASE_ID``: a case's path through the process with the rules that decided it.

Reads only what a run wrote (events, cases, manifest), so it works on any finished output folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from procsim.errors import UsageError, suggest
from procsim.spec.units import format_duration

_CORE = {"event_id", "case_id", "activity", "lifecycle", "timestamp", "resource", "role", "cost", "rules",
         "exception"}
_CASE_CORE = {"case_id", "status", "start", "end", "cycle_time_s", "events", "cost", "end_event", "rules",
              "exceptions"}


def _read_events(run_dir: Path, case_id: str, files: dict[str, Any]) -> pd.DataFrame:
    # only files this run wrote: an older run's file in the same folder must not be read
    parquet, csv = run_dir / "events.parquet", run_dir / "events.csv"
    if "events.parquet" in files:
        df = pd.read_parquet(parquet, filters=[("case_id", "==", case_id)])
        df["timestamp"] = df["timestamp"].map(lambda t: t.isoformat(timespec="milliseconds"))
        return df.astype(object).where(df.notna(), "")
    if "events.csv" in files:
        df = pd.read_csv(csv, dtype=str, keep_default_na=False)
        return df[df["case_id"] == case_id]
    raise UsageError(f"{run_dir}: no events.csv or events.parquet (is this a procsim output folder?)")


def explain(run_dir: str | Path, case_id: str) -> str:
    """The text ``procsim explain`` prints."""
    d = Path(run_dir)
    if not (d / "manifest.json").exists():
        raise UsageError(f"{d}: no manifest.json: not a complete procsim run")
    manifest = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
    catalogue: dict[str, dict[str, str]] = manifest.get("rules", {})
    cases = pd.read_csv(d / "cases.csv", dtype=str, keep_default_na=False)
    row = cases[cases["case_id"] == case_id]
    if row.empty:
        raise UsageError(f"no case '{case_id}' in {d}" + suggest(case_id, cases["case_id"].tolist()))
    case = row.iloc[0].to_dict()
    events = _read_events(d, case_id, manifest.get("files", {}))
    used: list[str] = []

    def rules_text(cell: Any) -> str:
        ids = [r for r in str(cell or "").split(";") if r]
        for r in ids:
            base = r.split("#")[0]
            if base not in used:
                used.append(base)
        return ", ".join(ids)

    cycle = case["cycle_time_s"]
    lines = [f"case {case_id}: {case['status']}" + (f" at end event '{case['end_event']}'" if case["end_event"] else "")
             + f", {case['start']} -> {case['end'] or '(running)'}"
             + (f", cycle time {format_duration(round(float(cycle)))}" if cycle else "")
             + f", cost {case['cost']}"]
    attrs = {k: v for k, v in case.items() if k not in _CASE_CORE}
    if attrs:
        lines.append("  attributes: " + ", ".join(f"{k}={v}" for k, v in attrs.items()))
    if case.get("rules"):
        lines.append(f"  set at the start by: {rules_text(case['rules'])}")
    if case.get("exceptions"):
        lines.append(f"  business exceptions: {case['exceptions']}")
    lines.append("  path (by start time):")
    open_: dict[tuple[str, str], dict[str, Any]] = {}
    done: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
    for ev in events.to_dict("records"):
        key = (ev["activity"], str(ev.get("resource") or ""))
        if ev["lifecycle"] == "start":
            open_[key] = ev
        else:
            done.append((open_.pop(key, ev), ev))
    done += [(start, None) for start in open_.values()]
    done.sort(key=lambda pair: pair[0]["timestamp"])  # ISO text with one offset sorts like time
    for step, (start, end) in enumerate(done, 1):
        ev = end or start
        who = f" by {ev['resource']} ({ev['role']})" if ev.get("resource") else " (automatic)"
        line = f"  {step:>3}. {start['timestamp']}  {ev['activity']}{who}"
        if end is None:
            line += " (started, not completed)"
        fired = rules_text(ev.get("rules"))
        if fired:
            line += f"  [rules: {fired}]"
        if ev.get("exception"):
            line += f"  [exception: {ev['exception']}]"
        lines.append(line)
    if used:
        lines.append("  rules:")
        for r in used:
            info = catalogue.get(r, {})
            where = f"{info['file']}:{info['line']}" if info.get("file") else "?"
            desc = info.get("description") or info.get("when") or ""
            lines.append(f"    {r}  ({where})" + (f": {desc}" if desc else ""))
    return "\n".join(lines) + "\n"
