"""The ``procsim profile`` and ``procsim report`` commands (registered in :mod:`procsim.cli`).

Owns their options, the terminal table and the JSON shape of ``profile``; the numbers come from
:mod:`procsim.profile`, the page from :mod:`procsim.report`. Bad input (a missing file, a column that is not
there) exits 2 with the message :mod:`procsim.eventlog` wrote, never a traceback.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Optional

import typer

from procsim.errors import ProcsimError, UsageError

__all__ = ["profile_command", "report_command", "write_run_report", "profile_json"]

LogArg = Annotated[Path, typer.Argument(help="A procsim output folder or an event log (.xes, .xes.gz, .csv, "
                                              ".csv.gz, .parquet)", show_default=False)]


def _fail(e: ProcsimError) -> None:
    typer.echo(str(e), err=True)
    if isinstance(e, UsageError):
        typer.echo("Try 'procsim --help' for help.", err=True)
    raise typer.Exit(e.exit_code)


def profile_json(sources: list[str], profiles: list[dict[str, float]]) -> str:
    """``{"logs": [{"source": ..., "metrics": {...}}, ...]}``; metrics that cannot be computed are ``null``."""
    logs = [{"source": s, "metrics": {k: (None if math.isnan(v) else v) for k, v in p.items()}}
            for s, p in zip(sources, profiles)]
    return json.dumps({"logs": logs}, indent=2, allow_nan=False)


def profile_command(
    log: LogArg,
    other: Annotated[Optional[Path], typer.Argument(help="A second log, shown side by side",
                                                    show_default=False)] = None,
    case: Annotated[Optional[str], typer.Option(help="Column of the case id (CSV/Parquet)")] = None,
    activity: Annotated[Optional[str], typer.Option(help="Column of the activity")] = None,
    start: Annotated[Optional[str], typer.Option(help="Column of the start time")] = None,
    end: Annotated[Optional[str], typer.Option(help="Column of the completion time (with --lifecycle: the "
                                                    "one timestamp column)")] = None,
    resource: Annotated[Optional[str], typer.Option(help="Column of the resource")] = None,
    lifecycle: Annotated[Optional[str], typer.Option(help="Column of the lifecycle transition "
                                                          "(start/complete)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the random samples and halves")] = 0,
) -> None:
    """Print the realism profile of a log (or two side by side): variants, spread, drift, people, time."""
    from procsim.eventlog import ColumnMap, read_log
    from procsim.profile import METRICS, format_value, profile

    cm = ColumnMap(case=case, activity=activity, start=start, end=end, resource=resource, lifecycle=lifecycle)
    try:
        paths = [log] + ([other] if other is not None else [])
        logs = [read_log(p, cm) for p in paths]
    except ProcsimError as e:
        _fail(e)
        return
    profiles = [profile(x, seed=seed) for x in logs]
    names = [str(p) for p in paths]
    if as_json:
        typer.echo(profile_json(names, profiles))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="realism profile", title_justify="left")
    table.add_column("metric", no_wrap=True)
    for n in names:
        table.add_column(n, justify="right", overflow="fold")
    table.add_column("real band (issue #12)", justify="right")
    for m in METRICS:
        band = (f">= {m.real_min:g}" if m.real_min is not None else
                f"<= {m.real_max:g}" if m.real_max is not None else "")
        table.add_row(m.label, *(format_value(p[m.key], m.fmt) for p in profiles), band)
    Console(width=240, soft_wrap=False).print(table)


def report_command(
    run_dir: Annotated[Path, typer.Argument(help="A procsim output folder (or an event log file)",
                                            show_default=False)],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="HTML file to write (default: "
                                                   "RUN_DIR/report.html; for a log file NAME.report.html "
                                                   "here)")] = None,
) -> None:
    """Write a self-contained HTML report of a run (process map, time, people, variants, exceptions, profile)."""
    try:
        typer.echo(str(write_run_report(run_dir, output)))
    except ProcsimError as e:
        _fail(e)


def write_run_report(run_dir: Path, output: Path | None = None) -> Path:
    """``procsim report``'s work, also called by ``procsim run --report``."""
    from procsim.report import write_report

    return write_report(run_dir, output)
