"""One run, end to end: load -> build -> simulate -> records -> sinks -> manifest.

Owns the output folder's life cycle: every sink writes under a temporary name and is renamed only when
the whole run succeeded; the manifest is written last, so its presence means the run is complete.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa

from procsim.version import __version__, output_versions
from procsim.errors import ProcsimError, UsageError, suggest
from procsim.objects import ObjectModel
from procsim.schemes import SCHEMES_CSV
from procsim.outdir import REPORT, RemoteOut, RunFolder, os_error, parse_out
from procsim.recording import Recording, Window, build_recording, parse_window
from procsim.exceptions.quality import Quality
from procsim.records import NEAR_LABEL_SCHEMA, CaseBatch, EventBatch, Recorder, exception_meta, exception_table
from procsim.sim.build import attribute_types, build_model
from procsim.sim.engine import Simulation
from procsim.sim.streams import STREAM_RECORDING
from procsim.sim.streams import stream
from procsim.shards import (LAYOUTS, MERGEABLE, Shard, ShardTask, apply_unit, parse_dask, plan_shards, progress_callback,
                            run_shards, shard_run_process)
from procsim.sinks import REGISTRY, Sink, SinkContext, chosen_formats
from procsim.spec import LoadedProcess, load_process
from procsim.targets.stream import StreamOptions
from procsim.spec.limits import BeyondTimeError, check_run
from procsim.timebase import TimeBase
from procsim.writer import Writer

DEFAULT_CASES = 1000
DRIFT_CSV = "drift.csv"  # the ground truth of a process's drift section (procsim.drift)
OBJECT_FORMATS = ("ocel-json", "ocel-sqlite", "documents")


@dataclass
class RunResult:
    out_dir: Path | str  # a str: the fsspec URL the files were copied to (procsim.outdir.RemoteOut)
    files: list[Path] | list[str]
    cases: int
    events: int
    wall_time_s: float
    manifest: dict[str, Any] = field(default_factory=dict)


def parse_formats(text: str | Sequence[str]) -> list[str]:
    """``"csv,parquet"`` -> ['csv', 'parquet'], checked against the sink registry (did-you-mean on typos)."""
    items = [t.strip() for t in (text.split(",") if isinstance(text, str) else text) if t.strip()]
    known = chosen_formats()
    bad = []
    for f in items:
        if f not in known:
            bad.append(f"unknown format '{f}'" + suggest(f, known) + f" (choose from: {', '.join(known)})")
    if bad:
        raise UsageError("\n".join(bad))
    if not items:
        raise UsageError(f"--format needs at least one of: {', '.join(known)}")
    return list(dict.fromkeys(items))


def has_exceptions(loaded: LoadedProcess) -> bool:
    """Whether a run can produce exceptions (injected ones, schemes across cases, or rules that raise): then
    labels.csv and exceptions.csv are written."""
    rs = loaded.rules
    return (bool(loaded.spec.exceptions or loaded.spec.near_misses or loaded.spec.schemes)
            or (rs is not None and bool(rs.raises_start or rs.raises_at)))


def run(process: str | Path | LoadedProcess, out: str | Path, *, seed: int = 0, cases: int | None = None,
        horizon: float | None = None, formats: Sequence[str] = ("csv",), labels_in_log: bool = True,
        on_progress: Callable[[int, int | None], None] | None = None, flush_every: int = 50_000,
        root: str | Path | None = None, force: bool = False, window: str | Window | None = None,
        on_notice: Callable[[str], None] | None = None, streaming: StreamOptions | None = None,
        replications: int = 1, workers: int | None = None, dask: str | None = None,
        shard: Shard | None = None, report: bool = False, parquet_layout: str = "file") -> RunResult:
    """Simulate ``process`` and write the chosen formats plus ``cases.csv`` and ``manifest.json`` into ``out``.

    ``root`` is the project folder the process may read from (``procsim.spec.paths``); ``force`` lets a run
    add its files to a non-empty folder procsim did not make (``procsim.outdir``); ``window`` is an extraction
    window (``procsim.recording``); ``on_notice`` hears about large but legitimate runs before they start;
    ``streaming`` also delivers the events to targets while the run goes (``procsim.targets.stream``).

    ``replications`` > 1 runs that many independent replications as shards (``procsim.shards``): ``cases`` is
    the total, split evenly; ``workers`` local processes run them (default: one per core; 1: in this process),
    or the dask cluster ``dask`` ('local:N' or a scheduler address). ``shard`` is set only for one shard's run.
    ``parquet_layout`` 'dataset' writes a sharded run's Parquet files as a folder of the shards' files (no merge)."""
    t0 = time.perf_counter()
    dest = parse_out(out)
    if isinstance(dest, RemoteOut):
        # the run goes into a local staging folder, then its files are copied to the URL, the manifest last
        if streaming is not None:
            raise UsageError(f"--out {out}: streaming targets keep their delivery state beside the files; give a "
                             "local folder with --to, --pace, --start or --resume")
        if report:
            raise UsageError(f"--out {out}: --report writes into a local folder; run 'procsim report' on a copy")
        dest.check(force)
        import tempfile

        with tempfile.TemporaryDirectory(prefix="procsim-stage-") as stage:
            staged = run(process, Path(stage) / "out", seed=seed, cases=cases, horizon=horizon, formats=formats,
                         labels_in_log=labels_in_log, on_progress=on_progress, flush_every=flush_every, root=root,
                         window=window, on_notice=on_notice, replications=replications, workers=workers,
                         dask=dask, parquet_layout=parquet_layout)
            urls = dest.publish(Path(stage) / "out")
        return RunResult(dest.url, urls, staged.cases, staged.events, time.perf_counter() - t0, staged.manifest)
    out = dest
    loaded = process if isinstance(process, LoadedProcess) else load_process(process, root)
    if streaming is not None:
        loaded, flush_every = streaming.prepare(loaded, flush_every)
    formats = parse_formats(formats)
    spec = loaded.spec
    if isinstance(window, str):
        try:
            window = parse_window(window)
        except ValueError as e:
            raise UsageError(f"--window: {e}") from None
    tz = ZoneInfo(spec.process.timezone)
    if seed < 0:
        raise UsageError("--seed must be zero or a positive number")
    if horizon is not None and horizon <= 0:
        raise UsageError("--horizon must be a positive duration")
    recording = build_recording(spec.recording, window, tz=tz, origin=spec.process.start,
                                rng=stream(seed, STREAM_RECORDING))
    until = None
    if recording is not None and recording.window is not None:
        # the extract ends at the window's end: arrivals and work stop there, what runs on is cut
        if cases is not None or horizon is not None:
            raise UsageError("an extraction window sets how long the simulation runs: give --cases or --horizon "
                             "without a window, not with one")
        if recording.we <= 0:
            raise UsageError(f"the window ends {recording.window.end.isoformat()}, before the simulation starts "
                             f"({spec.process.start.isoformat()})")
        until = horizon = recording.we
    if cases is None and horizon is None:
        cases, horizon = spec.process.cases, spec.process.horizon
        if cases is None and horizon is None and spec.arrivals.replay is None:  # a replay ends with its file
            cases = DEFAULT_CASES
    if cases is not None and cases <= 0:
        raise UsageError("--cases must be a positive number")
    notice = check_run(loaded, cases, horizon, from_flags=(cases, horizon) != (spec.process.cases,
                                                                                 spec.process.horizon))
    if notice is not None and on_notice is not None:
        on_notice(notice)
    labels = has_exceptions(loaded)
    out_dir = Path(out)
    shards = (plan_shards(seed, cases, replications, spec.units)
              if shard is None and (replications != 1 or spec.units) else None)  # a shard is one run
    if workers is not None and workers < 1:
        raise UsageError("--workers must be a positive number")
    if shards is None and dask is not None:
        raise UsageError("--dask runs the shards of a run on a cluster: give --replications R (R > 1) too, or "
                         "declare units in the process")
    if dask is not None:
        parse_dask(dask)
    if parquet_layout not in LAYOUTS:
        raise UsageError(f"--parquet-layout {parquet_layout}: choose from {', '.join(LAYOUTS)}")
    if parquet_layout == "dataset":
        if shards is None:
            raise UsageError("--parquet-layout dataset partitions Parquet by shard: give --replications R (R > 1) "
                             "too, or declare units in the process")
        if not any(f in ("parquet", "labels-parquet") for f in formats):
            raise UsageError("--parquet-layout dataset needs a Parquet format: --format parquet or labels-parquet")
    if shards is not None:
        if streaming is not None:
            raise UsageError("a sharded run (--replications, units) cannot be combined with --to, --pace, --start "
                             "or --resume: targets get one run's events in time order while it runs, and shards are "
                             "separate simulations of the same period running side by side (fed shard after shard, "
                             "time would jump back at every shard); stream a run without --replications, or load "
                             "the merged files (docs/scaling.md)")
        bad = [f for f in formats if f not in MERGEABLE]
        if bad:
            raise UsageError(f"--format {','.join(bad)} is not merged across shards yet; a sharded run "
                             f"writes {', '.join(f for f in MERGEABLE if f not in ('cases', 'labels'))}")
        taken = [c for c in shards[0].columns if c in spec.attributes]
        if taken:
            raise UsageError(f"a sharded run adds the column '{taken[0]}', and the process has an attribute of "
                             "that name: rename the attribute")
    kinds = [*formats, "cases", *(["labels", "exceptions"] if labels else []),
             *(["field-labels"] if spec.data_quality else [])]
    # locked, its ownership read and stale temporaries cleared before anything is simulated or written
    entries = [REGISTRY[f].entry or REGISTRY[f].filename for f in kinds] + ([DRIFT_CSV] if spec.drift else []) + (
        [SCHEMES_CSV] if spec.schemes else [])
    folder = RunFolder(out_dir, entries, force=force)
    folder.report = report
    try:
        if shards is not None:
            files, manifest, n_cases, n_events = run_shards(
                loaded, folder, shards, run_one=_shard_run, horizon=horizon, formats=formats, kinds=kinds,
                labels_in_log=labels_in_log, window=window, flush_every=flush_every, workers=workers, dask=dask,
                seed=seed, cases=cases, on_progress=on_progress, t0=t0, parquet_layout=parquet_layout)
            return RunResult(out_dir, files, n_cases, n_events, manifest["wall_time_s"], manifest)
        return _run(loaded, folder, seed=seed, cases=cases, horizon=horizon, formats=formats, kinds=kinds,
                    labels=labels, labels_in_log=labels_in_log, on_progress=on_progress, flush_every=flush_every,
                    t0=t0, tz=tz, recording=recording, until=until, streaming=streaming, shard=shard)
    except BaseException as e:
        folder.discard_temporaries()
        if isinstance(e, OSError):  # the file-level handlers name the file; this names at least the folder
            raise os_error(e, out_dir) from None
        raise
    finally:
        folder.release()


def _run(loaded: LoadedProcess, folder: RunFolder, *, seed: int, cases: int | None, horizon: float | None,
         formats: list[str], kinds: list[str], labels: bool, labels_in_log: bool,
         on_progress: Callable[[int, int | None], None] | None, flush_every: int, t0: float, tz: ZoneInfo,
         recording: Recording | None, until: float | None, streaming: StreamOptions | None = None,
         shard: Shard | None = None) -> RunResult:
    spec = loaded.spec
    out_dir = folder.out
    model = build_model(loaded, seed)
    if model.schemes is not None:  # the instances' cases are chosen among the cases the run will have
        model.schemes.bind(cases if cases is not None else spec.process.cases or 1000)
    tb = TimeBase(spec.process.start, tz)
    types = attribute_types(spec)
    if shard is not None:
        _add_shard(model, types, shard)
    sinks: list[Sink] = []

    writer = Writer()

    def emit_events(batch: EventBatch) -> None:
        writer.submit(_write_events, sinks, batch)

    def emit_cases(batch: CaseBatch) -> None:
        writer.submit(_write_cases, sinks, batch)

    # objects are derived only for the formats that write them: other runs pay nothing for them
    objects = (ObjectModel(loaded, types, seed, model.world, model.line_fit)
               if any(f in OBJECT_FORMATS for f in formats) else None)
    if objects is not None and labels and labels_in_log:
        objects.carry_exceptions()  # objects named by an exception instance carry its id (OCEL exception_id)
    tail: list[Any] = []  # exceptions.csv's rows known once the run is over: the scheme instances

    def spell_rows() -> Any:
        t = rec.spell_rows()
        return pa.concat_tables([t, exception_table(tail)]) if tail else t

    rec = Recorder(tb, list(types), list(types.values()), emit_events, emit_cases, flush_every=flush_every,
                   labels=labels or "labels-parquet" in formats, objects=objects, batches=bool(model.batches),
                   recording=recording, id_prefix=f"{shard.tag}-" if shard is not None else "",
                   exc_meta=exception_meta([*spec.exceptions, *spec.near_misses]),
                   quality=Quality(spec.data_quality, list(types), seed) if spec.data_quality else None)
    ctx = SinkContext(out_dir=out_dir, timebase=tb, process_name=spec.process.name, attr_names=tuple(types),
                      attr_types=tuple(types.values()), labels_in_log=labels_in_log,
                      extra={"event_schema": rec.event_schema, "case_schema": rec.case_schema, "spec": spec,
                             "objects": objects, "batches": rec.batches, "graph": loaded.graph,
                             "exc_meta": rec.exc_meta, "labelled": labels, "spell_rows": spell_rows}
                      | ({"label_schema": NEAR_LABEL_SCHEMA} if spec.near_misses else {}), temp_tag=folder.tag)
    if objects is not None and shard is not None:  # object ids unique across the shards, as case and event ids
        objects.event_prefix, objects.id_prefix = rec.event_prefix, f"{shard.tag}-"
    with writer:
        # sinks are made, fed and closed on the writer thread (procsim.writer): output overlaps the simulation
        try:
            for f in kinds:
                sinks.append(writer.call(_make, REGISTRY[f], ctx))
            if streaming is not None:
                sinks += streaming.open(ctx, loaded, seed, cases, horizon)
            progress = (lambda done: on_progress(done, cases)) if on_progress else None
            sim = Simulation(model, seed, rec, n_cases=cases, horizon=horizon, on_case_done=progress, until=until)
            if streaming is not None:
                streaming.pace.attach(sim.env, rec, writer.drain)
            try:
                sim.run()
            except OverflowError:
                raise BeyondTimeError() from None
            writer.drain()
            if model.schemes is not None and labels:  # one exceptions.csv row per scheme instance, at the end
                tail += model.schemes.exception_rows(
                    sim.case_id, rec.n_cases, model.world.employee_of if objects is not None else None)
                if objects is not None:
                    objects.mark([(r[0], r[3], r[10]) for r in tail])
            # from here the files change: the old manifest goes first, so none ever vouches for other bytes
            folder.begin_commit([*(s.entry or s.filename for s in sinks if s.filename),  # targets have no file
                                 *([DRIFT_CSV] if model.drift else []), *([SCHEMES_CSV] if model.schemes else [])])
            files: list[Path] = writer.call(_close, sinks)
        except BaseException:
            writer.settle()
            writer.call(_abort, sinks)
            raise
    if model.drift is not None:
        # the ground truth of every change, for scoring drift detectors (procsim.drift)
        files.append(folder.add_file(DRIFT_CSV, model.drift.csv_text(tb.iso_one)))
    if model.schemes is not None:  # the ground truth of the schemes: instance x case, with the supplier
        files.append(folder.add_file(SCHEMES_CSV, model.schemes.csv_text(sim.case_id, rec.n_cases)))
    digests = {name: h for s in sinks for name, h in s.digests.items()}
    # with recorded times the log shows cases as the extract saw them (a case finished after it: running)
    completed = rec.n_completed if recording is not None else sim.finished
    wall = time.perf_counter() - t0
    manifest = {
        "procsim_version": __version__,
        "output_versions": output_versions(),
        "process": spec.process.name,
        "process_version": spec.process.version,
        "seed": seed,
        "cases_requested": cases,
        "horizon_s": horizon,
        "formats": formats,
        "labels_in_log": labels_in_log,
        **({"report": REPORT} if folder.report else {}),
        "inputs": {k: {"sha256": v} for k, v in sorted(loaded.inputs.items())},
        "rules": loaded.rules.catalogue if loaded.rules is not None else {},
        "exceptions": [x.model_dump(mode="json", exclude_defaults=True) | {"name": x.label, "type": x.type}
                       for x in spec.exceptions],
        **({"near_misses": [x.model_dump(mode="json", exclude_defaults=True) | {"name": x.label, "type": x.type}
                            for x in spec.near_misses]} if spec.near_misses else {}),
        **({"data_quality": [x.model_dump(mode="json", exclude_defaults=True) for x in spec.data_quality]}
           if spec.data_quality else {}),
        "counts": {"cases": rec.n_cases, "events": rec.n_events,
                   "cases_completed": completed, "cases_running": rec.n_cases - completed}
        | ({"ocel_events": objects.n_events, "objects": objects.n_objects, "event_object_links": objects.n_links,
            "object_object_links": objects.n_object_links} if objects is not None else {}),
        "simulated_period": {
            "origin": tb.iso_one(0.0),
            "first_event": tb.iso_one(rec.t_min) if rec.t_min is not None else None,
            "last_event": tb.iso_one(rec.t_max) if rec.t_min is not None else None,
        },
        "files": {p.name: {"sha256": digests.get(p.name) or _sha(p), "bytes": p.stat().st_size} for p in files},
        "wall_time_s": round(wall, 3),
    } | (streaming.manifest() if streaming is not None else {})
    if recording is not None:
        manifest["recording"] = recording.manifest(tb.iso_one)
    if model.drift is not None:
        manifest["drift"] = model.drift.rows(tb.iso_one)
    if model.people is not None:  # what each member was like in this run: the ground truth behind the log
        from procsim.sim.people import describe

        manifest["people"] = describe(model.pools, model.people)
    # earlier runs' files of other formats go, then the manifest: it lists exactly what is in the folder
    manifest_path = folder.finish_commit(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return RunResult(out_dir, files + [manifest_path], rec.n_cases, rec.n_events, wall, manifest)


def _add_shard(model: Any, types: dict[str, str], shard: Shard) -> None:
    """A shard's cases carry its columns (after the attributes, in events and cases) and its tag in their ids."""
    columns = shard.columns
    for name, value in columns.items():
        types[name] = "integer" if isinstance(value, int) else "string"
    model.attr_names = [*model.attr_names, *columns]
    make = model.make_attributes
    model.make_attributes = lambda idx, case_id, now=None: make(idx, case_id, now) | columns
    model.case_prefix = f"{shard.tag}-{model.case_prefix}"
    if shard.arrival_factor != 1.0:
        # gaps shrink by the factor: the rate scales, and so does a shaped rate (calendar, intensity) everywhere
        gap, factor = model.interarrival, shard.arrival_factor
        model.interarrival = lambda rng: gap(rng) / factor


def _shard_run(task: ShardTask, loaded: LoadedProcess | None = None,
               on_progress: Callable[[int, int | None], None] | None = None) -> dict[str, Any]:
    """One shard of a sharded run, on a worker (the process reloaded there) or here; returns its manifest, with
    what the shard cost where it ran (``cost``: CPU seconds of the process, seconds spent reloading the process,
    the worker's pid) for the merged manifest."""
    import os

    cpu0, t_load = time.process_time(), time.perf_counter()
    if loaded is None:
        loaded = shard_run_process(task)
        on_progress = progress_callback(task.shard)
    t_load = time.perf_counter() - t_load
    s = task.shard
    if s.unit is not None:
        loaded = apply_unit(loaded, s.unit)
    # a window sets how long each shard runs (the parent turned it into a horizon: not passed twice)
    windowed = task.window is not None
    result = run(loaded, task.out, seed=s.seed, cases=None if windowed else s.cases,
                 horizon=None if windowed else task.horizon, formats=task.formats,
                 labels_in_log=task.labels_in_log, window=task.window, flush_every=task.flush_every,
                 on_progress=on_progress, shard=s)
    return result.manifest | {"cost": {"cpu_s": round(time.process_time() - cpu0, 3), "load_s": round(t_load, 3),
                                       "worker": os.getpid()}}


def _write_events(sinks: list[Sink], batch: EventBatch) -> None:
    for s in sinks:
        try:
            s.write_events(batch)
        except OSError as e:  # a full disk, a size limit: the machine's failure, named with its file
            raise os_error(e, _name(s)) from None


def _write_cases(sinks: list[Sink], batch: CaseBatch) -> None:
    for s in sinks:
        try:
            s.write_cases(batch)
        except OSError as e:
            raise os_error(e, _name(s)) from None


def _make(cls: type[Sink], ctx: SinkContext) -> Sink:
    try:
        return cls(ctx)
    except OSError as e:
        raise os_error(e, ctx.out_dir / (cls.entry or cls.filename)) from None


def _close(sinks: list[Sink]) -> list[Path]:
    out = []
    for s in sinks:
        try:
            out += s.close()
        except OSError as e:
            raise os_error(e, _name(s)) from None
    return out


def _name(s: Sink) -> Path:
    return s.ctx.out_dir / (s.entry or s.filename)


def _abort(sinks: list[Sink]) -> None:
    for s in sinks:
        try:
            s.abort()
        except Exception:  # noqa: BLE001 - cleaning up after a failure; the first error is what matters
            pass


def _sha(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


__all__ = ["run", "RunResult", "parse_formats", "ProcsimError"]
