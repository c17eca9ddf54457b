"""``procsim explain RUN_DIR CASE_ID``: a case's path through the process with the rules that decided it.

Reads only what a run wrote (events, cases, manifest), so it works on any finished output folder.
"""

from __future__ import annotations

import json
import re
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


def _manifest(path: Path) -> dict[str, Any]:
    """The run's manifest; a damaged one is the folder's fault (exit 2, its position), not a bug."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise UsageError(f"{path}:{e.lineno}:{e.colno}: not valid JSON ({e.msg}): a damaged manifest") from None
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"{path}: cannot read the manifest ({e})") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: not a procsim manifest (a JSON object was expected)")
    return data


# C0 and C1 control characters (ESC starts ANSI/OSC sequences that recolour, retitle or rewrite a terminal)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _safe(text: str) -> str:
    """Text from the run's files (names from someone's process file) with control characters escaped."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def explain(run_dir: str | Path, case_id: str) -> str:
    """The text ``procsim explain`` prints."""
    try:
        return _explain(Path(run_dir), case_id)
    except (KeyError, ValueError, TypeError, OSError) as e:
        # the folder's files are damaged or not procsim's: say which folder, not "a bug in procsim"
        what = f"column or key {e}" if isinstance(e, KeyError) else str(e)
        raise UsageError(_safe(f"{run_dir}: not a complete procsim run folder ({type(e).__name__}: {what})")) \
            from None


def _explain(d: Path, case_id: str) -> str:
    if not (d / "manifest.json").exists():
        raise UsageError(f"{d}: no manifest.json: not a complete procsim run")
    manifest = _manifest(d / "manifest.json")
    catalogue: dict[str, dict[str, str]] = manifest.get("rules", {})
    if not isinstance(catalogue, dict) or not isinstance(manifest.get("files", {}), dict):
        raise UsageError(f"{d / 'manifest.json'}: not a procsim manifest ('rules' and 'files' are not mappings)")
    try:
        cases = pd.read_csv(d / "cases.csv", dtype=str, keep_default_na=False)
    except (OSError, ValueError) as e:
        raise UsageError(f"{d / 'cases.csv'}: cannot read the cases: {e}") from None
    if "case_id" not in cases.columns:
        raise UsageError(f"{d / 'cases.csv'}: no case_id column (is this a procsim output folder?)")
    row = cases[cases["case_id"] == case_id]
    if row.empty:
        raise UsageError(_safe(f"no case '{case_id}' in {d}" + suggest(case_id, cases["case_id"].tolist())))
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
    # newlines and tabs of the layout stay; everything else that could drive the terminal is escaped
    return "\n".join(_safe(line.replace("\n", "\\n")) for line in lines) + "\n"
