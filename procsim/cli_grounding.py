"""The commands that ground procsim in real logs and models: ``compare``, ``discover``, ``fidelity``, ``convert``.

Owns their flags only; the work is in :mod:`procsim.compare`, :mod:`procsim.discover`, :mod:`procsim.fidelity`
and :mod:`procsim.convert`.
:func:`register` adds them to the main Typer app (``procsim/cli.py`` calls it once).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from procsim.errors import ProcsimError, UsageError

MINERS = ("auto", "tree", "states", "holdout", "dfg")  # discover's control-flow miners (docs/discover.md)

if TYPE_CHECKING:
    from procsim.eventlog import ColumnMap

CaseOpt = Annotated[Optional[str], typer.Option("--case", help="Column of the case id (tables; default: guessed)")]
ActOpt = Annotated[Optional[str], typer.Option("--activity", help="Column of the activity")]
StartOpt = Annotated[Optional[str], typer.Option("--start", help="Column of the start time")]
EndOpt = Annotated[Optional[str], typer.Option("--end", help="Column of the end (or only) time")]
ResOpt = Annotated[Optional[str], typer.Option("--resource", help="Column of the resource")]
LifeOpt = Annotated[Optional[str], typer.Option("--lifecycle", help="Column of the lifecycle transition")]
LogArg = Annotated[Path, typer.Argument(help="An event log: .xes(.gz), .csv(.gz), .parquet or a procsim run folder",
                                        show_default=False)]


def _columns(case: str | None, activity: str | None, start: str | None, end: str | None, resource: str | None,
             lifecycle: str | None) -> ColumnMap:
    from procsim.eventlog import ColumnMap

    return ColumnMap(case=case, activity=activity, start=start, end=end, resource=resource, lifecycle=lifecycle)


def register(app: typer.Typer, _fail: Callable[[ProcsimError], None]) -> None:
    """Add ``compare``, ``discover`` and ``fidelity`` to ``app``; ``_fail`` is the CLI's way out on an error (passed
    in, so that this module need not import ``procsim.cli``, which imports it)."""

    @app.command()
    def compare(
        real: LogArg,
        sim: LogArg,
        json_: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")] = False,
        case: CaseOpt = None, activity: ActOpt = None, start: StartOpt = None, end: EndOpt = None,
        resource: ResOpt = None, lifecycle: LifeOpt = None,
        report: Annotated[Optional[Path], typer.Option("--report", help="Also write both logs side by side, "
                                                       "with the distances, as one HTML page (see 'procsim "
                                                       "report')")] = None,
    ) -> None:
        """Distances between a real and a simulated log (CFLD, n-grams, AED, RED, CED, CTD, CAR), and both
        logs' realism profiles side by side."""
        from procsim.compare import compare_logs
        from procsim.eventlog import read_log

        try:
            cols = _columns(case, activity, start, end, resource, lifecycle)
            logs = [read_log(real, cols), read_log(sim, cols)]
            c = compare_logs(logs[0], logs[1])
            if report is not None:
                from procsim.report import save_comparison

                save_comparison(logs, [real, sim], c.distances, report)
        except ProcsimError as e:
            _fail(e)
            return
        typer.echo(c.to_json() + "\n" if json_ else c.to_text(), nl=False)
        if report is not None:
            typer.echo(str(report), err=True)

    @app.command()
    def discover(
        log: LogArg,
        out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write process.yaml into")] = Path("mined"),
        noise: Annotated[float, typer.Option(help="Filter: drop directly-follows arcs below this share of their "
                                                   "source's most frequent arc (0-1)")] = 0.2,
        miner: Annotated[str, typer.Option(help="auto: states where the log supports its transition system, "
                                                "else tree; tree: inductive miner (AND, XOR, loops); states: the "
                                                "log's transition system; holdout: tree or states, whichever scores "
                                                "better on a hold-out of the log; dfg: directly-follows choices "
                                                "only")] = "auto",
        waits: Annotated[bool, typer.Option("--waits/--no-waits", help="Write the log's extraneous delays (time "
                                            "nobody worked on the case) as waits")] = True,
        case: CaseOpt = None, activity: ActOpt = None, start: StartOpt = None, end: EndOpt = None,
        resource: ResOpt = None, lifecycle: LifeOpt = None,
    ) -> None:
        """Discover a runnable, commented process file from an event log."""
        from procsim.discover import discover_to_dir

        try:
            if not 0 <= noise < 1:
                raise UsageError("--noise: must be at least 0 and below 1")
            if miner not in MINERS:
                raise UsageError(f"--miner: '{miner}' is not one of: {', '.join(MINERS)}")
            path = discover_to_dir(log, out, _columns(case, activity, start, end, resource, lifecycle),
                                   noise=noise, miner=miner, waits=waits)
        except ProcsimError as e:
            _fail(e)
            return
        typer.echo(f"wrote {path}", err=True)

    @app.command()
    def fidelity(
        log: LogArg,
        json_: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")] = False,
        replications: Annotated[int, typer.Option(help="Simulations of the test period")] = 5,
        seed: Annotated[int, typer.Option(help="Root seed of the replications")] = 0,
        train: Annotated[float, typer.Option(help="Share of cases (by start) to discover from")] = 0.8,
        miner: Annotated[str, typer.Option(help="auto, tree, states, holdout or dfg (see 'procsim discover "
                                                "--help')")] = "auto",
        waits: Annotated[bool, typer.Option("--waits/--no-waits", help="Discover waits (see 'procsim discover "
                                            "--help')")] = True,
        case: CaseOpt = None, activity: ActOpt = None, start: StartOpt = None, end: EndOpt = None,
        resource: ResOpt = None, lifecycle: LifeOpt = None,
    ) -> None:
        """The literature's protocol: discover on the first 80% of cases, simulate the last 20%, report each
        distance as mean +- sd over replications next to the real log's own noise floor."""
        from procsim.fidelity import fidelity as do_fidelity

        try:
            if replications < 1:
                raise UsageError("--replications: must be at least 1")
            if not 0.1 <= train <= 0.95:
                raise UsageError("--train: must be between 0.1 and 0.95")
            if miner not in MINERS:
                raise UsageError(f"--miner: '{miner}' is not one of: {', '.join(MINERS)}")
            r = do_fidelity(log, _columns(case, activity, start, end, resource, lifecycle),
                            replications=replications, seed=seed, train=train, miner=miner,
                            waits=waits)
        except ProcsimError as e:
            _fail(e)
            return
        typer.echo(r.to_json() + "\n" if json_ else r.to_text(), nl=False)

    @app.command()
    def convert(
        model: Annotated[Path, typer.Argument(help="A BPMN 2.0 file (.bpmn)", show_default=False)],
        params: Annotated[Optional[Path], typer.Option("--params", help="Prosimos/Simod simulation parameters "
                                                       "(JSON)")] = None,
        out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write process.yaml into")] = Path("imported"),
        start: Annotated[str, typer.Option(help="The process's start (the parameters have none)")] =
        "2026-01-05T00:00:00+00:00",
        root: Annotated[Optional[Path], typer.Option("--root", help="Project folder the rule files and templates "
                                                     "of a procsim-exported model must lie in (as for 'run')")] = None,
    ) -> None:
        """A BPMN model (and Prosimos/Simod parameters) as a procsim process folder that loads and runs."""
        from procsim.convert import convert_to_dir

        try:
            path, c = convert_to_dir(model, out, params, start, root)
        except ProcsimError as e:
            _fail(e)
            return
        for note in c.notes:
            typer.echo(f"note: {note}", err=True)
        typer.echo(f"wrote {path} ({c.activities} activities, {c.gateways} gateways)", err=True)
