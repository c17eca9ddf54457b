"""The command line: ``procsim run | validate | graph | explain | schema | init | plugins | profile | report |
compare | discover | fidelity``.

Click's conventions: usage errors exit 2 with a "did you mean"; bad input files exit 2 with every problem
as ``file:line:col: key: message``; failures while running exit 1. No Python traceback reaches the user
for either.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
import typer.core

from procsim.errors import ProcsimError, UsageError
from procsim.registry import PluginError

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Generate realistic enterprise process data from YAML processes.")

ProcessArg = Annotated[Path, typer.Argument(help="A process file, e.g. processes/procure_to_pay.yaml",
                                            show_default=False)]
RootOpt = Annotated[Optional[Path], typer.Option(help="Project folder the process may read rule files and "
                                                 "templates from (default: the process file's folder, or its "
                                                 "parent when that is 'processes/')", show_default=False)]


def _fail(e: ProcsimError) -> None:
    typer.echo(str(e), err=True)
    if isinstance(e, UsageError):
        typer.echo("Try 'procsim --help' for help.", err=True)
    raise typer.Exit(e.exit_code)


class _RunCommand(typer.core.TyperCommand):
    """``procsim run``: the help of ``--format`` and ``--to`` is written from the registries when it is shown.

    Typer builds option help when this module is imported, and filling the registries imports every sink
    (pandas, pyarrow: ~0.8 s), which every other command would then pay; so the two lists are put in here, at
    the moment the help is rendered, from what is registered then (third-party formats and targets included)."""

    def format_help(self, ctx: Any, formatter: Any) -> None:  # typer's own (vendored) click types
        from procsim.sinks import REGISTRY, chosen_formats
        from procsim.targets import known_schemes
        from procsim.registry import summary_of

        said = "; ".join(f"{f}: {summary_of(REGISTRY[f]).replace('``', '').rstrip('.')}" for f in chosen_formats())
        helps = {"format": f"Comma-separated output formats. {said}. 'procsim plugins' shows where each comes from.",
                 "to": ("Also deliver events to a target while running (repeatable), a URL with one of the schemes "
                        f"{', '.join(known_schemes())}, e.g. jsonl:- or kafka://host:9092/topic (docs/streaming.md)")}
        for param in self.params:
            if param.name in helps:
                setattr(param, "help", helps[param.name])  # options have help; click's Parameter type does not
        super().format_help(ctx, formatter)


@app.command(cls=_RunCommand)
def run(
    process: ProcessArg,
    out: Annotated[str, typer.Option("--out", "-o", help="Output folder, or an fsspec URL (file:///path, "
                                     "memory://..., s3://bucket/prefix with the s3 extra; docs/scaling.md)")] = "out",
    cases: Annotated[Optional[int], typer.Option(help="Number of cases (default: the process's 'cases', "
                                                      "else 1000)")] = None,
    horizon: Annotated[Optional[str], typer.Option(help="Stop arrivals after this simulated time, e.g. '30d'")]
    = None,
    seed: Annotated[int, typer.Option(help="Root seed: the same seed gives byte-identical files")] = 0,
    format: Annotated[str, typer.Option("--format", "-f", help="Comma-separated output formats (listed in "
                                        "'procsim run --help')")] = "csv",
    labels_in_log: Annotated[bool, typer.Option("--labels-in-log/--no-labels-in-log",
                                                help="Write exception labels into the event log "
                                                     "(labels.csv is written either way)")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary")] = False,
    report: Annotated[bool, typer.Option("--report", help="Also write OUT/report.html (see 'procsim report')")]
    = False,
    root: RootOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Write into a non-empty folder procsim did not make "
                                        "(files procsim did not write are never replaced or removed)")] = False,
    window: Annotated[Optional[str], typer.Option(help="Extraction window of local dates, e.g. "
                                                       "2026-03-01..2026-09-30 (the time before is warm-up)")] = None,
    to: Annotated[Optional[list[str]], typer.Option("--to", help="Also deliver events to targets while running "
                                                    "(listed in 'procsim run --help')")] = None,
    pace: Annotated[str, typer.Option(help="max, realtime or a speed-up like 3600x")] = "max",
    start: Annotated[Optional[str], typer.Option(help="Shift the calendar: 'now' or an ISO time with offset")]
    = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue delivery where the targets left off")] = False,
    secret_env: Annotated[Optional[str], typer.Option(help="Environment variable holding the HMAC secret for "
                                                      "http targets")] = None,
    mail_to: Annotated[Optional[str], typer.Option(help="Who gets the e-mails of smtp:// targets")] = None,
    replications: Annotated[int, typer.Option(help="Independent replications, run as shards; --cases is the "
                                              "total over all of them, split evenly (docs/scaling.md)")] = 1,
    workers: Annotated[Optional[int], typer.Option(help="Local processes running the shards (default: one per "
                                                   "core; 1: in this process)")] = None,
    dask: Annotated[Optional[str], typer.Option(help="Run the shards on dask: local:N or tcp://scheduler:8786")]
    = None,
    parquet_layout: Annotated[str, typer.Option(help="Parquet of a sharded run: 'file' (one merged file) or "
                                                "'dataset' (a folder of the shards' files, no merge)")] = "file",
) -> None:
    """Simulate a process and write its event log, cases and manifest."""
    from procsim.run import parse_formats
    from procsim.run import run as do_run
    from procsim.spec.units import parse_duration

    try:
        formats = parse_formats(format)
        h = None
        if horizon is not None:
            try:
                h = parse_duration(horizon)
            except ValueError as e:
                raise UsageError(f"--horizon: {e}") from None
        if cases is not None and h is not None:
            raise UsageError("give --cases or --horizon, not both")
        from procsim.spec import load_process

        loaded = load_process(process, root)
        for w in loaded.warnings:  # conditions that always hold: worth a look, not a reason to stop
            typer.echo(str(w), err=True)
        from procsim.targets.stream import StreamOptions

        stream = (StreamOptions.from_flags(to or [], pace, start, resume, secret_env, Path(out), mail_to)
                  if to or pace != "max" or start or resume else None)
        progress = _Progress(quiet)
        restore = _on_sigterm()
        try:
            result = do_run(loaded, out, seed=seed, cases=cases, horizon=h, formats=formats,
                            labels_in_log=labels_in_log, on_progress=progress.update, force=force,
                            window=window, on_notice=None if quiet else lambda m: typer.echo(m, err=True), streaming=stream,
                            replications=replications, workers=workers, dask=dask, report=report,
                            parquet_layout=parquet_layout)
        finally:
            progress.close()
            restore()
    except ProcsimError as e:
        _fail(e)
        return
    except KeyboardInterrupt as e:
        terminated = isinstance(e, _Terminated)
        typer.echo(f"{'terminated' if terminated else 'interrupted'}: no output was completed", err=True)
        raise typer.Exit(143 if terminated else 130) from None
    if not quiet:
        rate = result.events / result.wall_time_s if result.wall_time_s else 0.0
        typer.echo(f"{result.cases} cases, {result.events} events in {result.wall_time_s:.2f} s "
                   f"({rate:,.0f} events/s) -> {result.out_dir}", err=True)
        for p in result.files:
            typer.echo(f"  {p}", err=True)
    if report:
        from procsim.profile_cli import write_run_report

        try:
            path = write_run_report(Path(result.out_dir))
        except ProcsimError as e:
            _fail(e)
        if not quiet:
            typer.echo(str(path))


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that a run cleans up its temporaries the same way."""


def _on_sigterm() -> Callable[[], None]:
    """Turn SIGTERM into ``_Terminated`` for the run; returns the function that puts the old handler back."""
    import signal

    def handler(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second TERM must not cut the clean-up short
        raise _Terminated()

    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # signal handlers belong to the main thread (an embedding application's choice)
    old = signal.signal(signal.SIGTERM, handler)

    def restore() -> None:
        signal.signal(signal.SIGTERM, old)

    return restore


class _Progress:
    """A rich progress bar that appears only once a run has taken more than a moment."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet or not sys.stderr.isatty()
        self.t0 = time.perf_counter()
        self.bar: Progress | None = None
        self.task: TaskID | None = None

    def update(self, done: int, total: int | None) -> None:
        if self.quiet or done % 200:
            return
        if self.bar is None:
            if time.perf_counter() - self.t0 < 0.5:
                return
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

            self.bar = Progress("simulating", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                                transient=True)
            self.bar.start()
            self.task = self.bar.add_task("cases", total=total)
        assert self.task is not None  # set together with the bar
        self.bar.update(self.task, completed=done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


@app.command()
def validate(processes: Annotated[list[Path], typer.Argument(help="Process files", show_default=False)],
             root: RootOpt = None) -> None:
    """Check process files (schema, references, structure, expressions); print every problem."""
    from procsim.errors import SpecError
    from procsim.spec import load_process

    problems: list[str] = []
    for p in processes:
        try:
            loaded = load_process(p, root)
        except SpecError as e:
            problems.append(str(e))
            continue
        except ProcsimError as e:
            _fail(e)
        for w in loaded.warnings:
            typer.echo(str(w), err=True)
        spec = loaded.spec
        # counted as written: a sub-process's nodes once, however many calls run a copy of them
        copies = {n for x in spec._calls.values() for n in x.nodes}
        acts = sum(1 for a in spec.activities if a not in copies) + sum(
            len(s.activities) for s in spec.subprocesses.values())
        gws = sum(1 for g in spec.gateways if g not in copies and g not in spec.calls) + sum(
            len(s.gateways) for s in spec.subprocesses.values())
        ns, nc = len(spec.subprocesses), len(spec.calls) + sum(len(s.calls) for s in spec.subprocesses.values())
        subs = (f", {ns} sub-process{'es' if ns != 1 else ''}, {nc} call{'s' if nc != 1 else ''}"
                if ns or nc else "")
        typer.echo(f"{loaded.smap.file}: ok ({acts} activities, {gws} gateways{subs}, "
                   f"{len(spec.roles)} roles, {len(spec.attributes)} attributes)")
    if problems:
        typer.echo("\n".join(problems), err=True)
        raise typer.Exit(2)


@app.command()
def graph(
    process: ProcessArg,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="File to write: .dot, .svg, .png"
                                                   " (.pnml, .bpmn with --format); stdout when left out")] = None,
    format: Annotated[Optional[str], typer.Option("--format", "-f", help="dot, svg, png, pnml or bpmn "
                                                  "(default: from the output's suffix, else dot)")] = None,
    root: RootOpt = None,
) -> None:
    """Draw the process: DOT text; SVG from procsim's own layout; PNG through Graphviz when it is installed."""
    from procsim.export import to_dot
    from procsim.spec import load_process

    try:
        if output is not None and output.is_dir():
            raise UsageError(f"--output {output}: is a folder; give a file, like {output / 'process.svg'}")
        fmt = (format or (output.suffix.lstrip(".") if output else "dot")).lower()
        if fmt not in ("dot", "svg", "png", "pnml", "bpmn"):
            raise UsageError(f"unknown graph format '{fmt}' (choose from: dot, svg, png, pnml, bpmn)")
        loaded = load_process(process, root)
        if fmt == "pnml":
            from procsim.export import to_pnml

            text = to_pnml(loaded)
        elif fmt == "bpmn":
            from procsim.bpmn import to_bpmn

            text = to_bpmn(loaded)
        else:
            text = to_dot(loaded)
        if fmt in ("dot", "pnml", "bpmn"):
            if output is None:
                typer.echo(text, nl=False)
            else:
                _write_atomic(output, text.encode())
            return
        if output is None:
            raise UsageError(f"--format {fmt} needs --output FILE")
        if fmt == "svg":  # drawn by procsim's own layout: no Graphviz needed
            from procsim.graph_svg import process_svg

            _write_atomic(output, process_svg(loaded, standalone=True).encode())
            return
        dot = shutil.which("dot")
        if dot is None:
            fallback = output.with_suffix(".dot")
            _write_atomic(fallback, text.encode())
            typer.echo(f"Graphviz 'dot' is not installed, so no {fmt.upper()}: wrote the DOT text to {fallback} "
                       "(install graphviz, e.g. 'apt-get install graphviz', for SVG/PNG)", err=True)
            raise typer.Exit(1)
        done = subprocess.run([dot, f"-T{fmt}"], input=text.encode(), capture_output=True, check=False)
        if done.returncode != 0:
            typer.echo(f"Graphviz failed: {done.stderr.decode(errors='replace').strip()}", err=True)
            raise typer.Exit(1)
        _write_atomic(output, done.stdout)
    except ProcsimError as e:
        _fail(e)


def _write_atomic(path: Path, data: bytes) -> None:
    import secrets

    path.parent.mkdir(parents=True, exist_ok=True)
    # unique and created exclusively ("x": O_EXCL): a file or link planted under the name is never written through
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.part")
    try:
        with open(tmp, "xb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        from procsim.outdir import os_error

        raise os_error(e, path) from None


@app.command()
def explain(
    run_dir: Annotated[Path, typer.Argument(help="An output folder of 'procsim run'", show_default=False)],
    case_id: Annotated[str, typer.Argument(help="A case id from cases.csv", show_default=False)],
) -> None:
    """Print a case's path through the process with the rules that decided each step."""
    from procsim.explain import explain as do_explain

    try:
        typer.echo(do_explain(run_dir, case_id), nl=False)
    except ProcsimError as e:
        _fail(e)


@app.command()
def schema() -> None:
    """Print the JSON Schema (draft-07) of process files, for editor completion."""
    from procsim.spec.schema import process_json_schema

    typer.echo(json.dumps(process_json_schema(), indent=2))


def _version(value: bool) -> None:
    if value:
        from procsim.version import __version__

        typer.echo(f"procsim {__version__}")
        raise typer.Exit()


@app.callback()
def _options(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                   help="Show the version and exit")] = False) -> None:
    """Generate realistic enterprise process data from YAML processes."""


@app.command()
def init(args: Annotated[list[str], typer.Argument(metavar="[EXAMPLE] DIR", show_default=False,
                                                   help="An example (p2p, o2c, loan, p2p-exceptions; all when left "
                                                        "out) and the folder to write the project into")]) -> None:
    """Write a ready project (processes, rules, templates) from a bundled example."""
    from procsim.init import init_project

    try:
        if len(args) > 2:
            raise UsageError(f"init takes [EXAMPLE] DIR, got {len(args)} arguments")
        files = init_project(None if len(args) == 1 else args[0], Path(args[-1]))
    except ProcsimError as e:
        _fail(e)
    for f in files:
        typer.echo(f"wrote {f}")


@app.command()
def plugins(as_json: Annotated[bool, typer.Option("--json", help="As JSON")] = False) -> None:
    """List every extension point and what is registered in it: distributions, exception types, rule actions,
    expression functions, output formats and delivery targets, built-in and from installed packages."""
    from procsim.plugins import load_registries, render_json, render_text

    regs, missing = load_registries()
    typer.echo(render_json(regs, missing) if as_json else render_text(regs, missing).rstrip())


from procsim.profile_cli import profile_command, report_command  # noqa: E402 - logic in its own module

app.command("profile")(profile_command)
app.command("report")(report_command)

from procsim.cli_grounding import register as _register_grounding  # noqa: E402 - compare, discover, fidelity

_register_grounding(app, _fail)


def main() -> None:
    """Entry point. A ProcsimError prints its message; a bug prints one line (PROCSIM_DEBUG=1: the traceback)."""
    try:
        app()
    except ProcsimError as e:  # pragma: no cover - commands catch their own; this is the last net
        typer.echo(str(e), err=True)
        sys.exit(e.exit_code)
    except PluginError as e:  # an installed package's extension is broken: say which, no traceback
        typer.echo(f"procsim: {e}", err=True)
        sys.exit(1)
    except Exception as e:  # noqa: BLE001 - a bug in procsim, not the user's input
        if os.environ.get("PROCSIM_DEBUG"):
            raise
        typer.echo(f"internal error: {type(e).__name__}: {e} (a bug in procsim; PROCSIM_DEBUG=1 shows the "
                   "traceback)", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
