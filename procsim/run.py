"""One run, end to end: load -> build -> simulate -> records -> sinks -> manifest.

Owns the output folder's life cycle: every sink writes under a temporary name and is renamed only when
the whole run succeeded; the manifest is written last, so its presence means the run is complete.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from procsim import __version__
from procsim.errors import ProcsimError, UsageError
from procsim.objects import ObjectModel
from procsim.records import CaseBatch, EventBatch, Recorder
from procsim.sim.build import attribute_types, build_model
from procsim.sim.engine import Simulation
from procsim.sinks import REGISTRY, Sink, SinkContext
from procsim.spec import LoadedProcess, load_process
from procsim.targets.stream import StreamOptions
from procsim.timebase import TimeBase
from procsim.writer import Writer

DEFAULT_CASES = 1000
OBJECT_FORMATS = ("ocel-json", "ocel-sqlite", "documents")


@dataclass
class RunResult:
    out_dir: Path
    files: list[Path]
    cases: int
    events: int
    wall_time_s: float
    manifest: dict[str, Any] = field(default_factory=dict)


def parse_formats(text: str | Sequence[str]) -> list[str]:
    """``"csv,parquet"`` -> ['csv', 'parquet'], checked against the sink registry (did-you-mean on typos)."""
    import difflib

    items = [t.strip() for t in (text.split(",") if isinstance(text, str) else text) if t.strip()]
    known = sorted(f for f in REGISTRY if f not in ("cases", "labels"))
    bad = []
    for f in items:
        if f not in known:
            close = difflib.get_close_matches(f, known, n=1, cutoff=0.6)
            bad.append(f"unknown format '{f}'" + (f"; did you mean '{close[0]}'?" if close else "")
                       + f" (choose from: {', '.join(known)})")
    if bad:
        raise UsageError("\n".join(bad))
    if not items:
        raise UsageError(f"--format needs at least one of: {', '.join(known)}")
    return list(dict.fromkeys(items))


def has_exceptions(loaded: LoadedProcess) -> bool:
    """Whether a run can produce exceptions (injected ones, or rules that raise): then labels.csv is written."""
    rs = loaded.rules
    return bool(loaded.spec.exceptions) or (rs is not None and bool(rs.raises_start or rs.raises_at))


def run(process: str | Path | LoadedProcess, out: str | Path, *, seed: int = 0, cases: int | None = None,
        horizon: float | None = None, formats: Sequence[str] = ("csv",), labels_in_log: bool = True,
        on_progress: Callable[[int, int | None], None] | None = None, flush_every: int = 50_000,
        stream: StreamOptions | None = None) -> RunResult:
    """Simulate ``process`` and write the chosen formats plus ``cases.csv`` and ``manifest.json`` into ``out``;
    ``stream`` also delivers the events to targets while the run goes (procsim.targets.stream)."""
    t0 = time.perf_counter()
    loaded = process if isinstance(process, LoadedProcess) else load_process(process)
    if stream is not None:
        loaded, flush_every = stream.prepare(loaded, flush_every)
    formats = parse_formats(formats)
    spec = loaded.spec
    if cases is None and horizon is None:
        cases, horizon = spec.process.cases, spec.process.horizon
        if cases is None and horizon is None:
            cases = DEFAULT_CASES
    if cases is not None and cases <= 0:
        raise UsageError("--cases must be a positive number")
    if seed < 0:
        raise UsageError("--seed must be zero or a positive number")
    out_dir = Path(out)
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out {out_dir}: a file is in the way; give a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"--out {out_dir}: cannot create the folder ({e.strerror})") from None
    manifest_path = out_dir / "manifest.json"
    # an old manifest would vouch for files this run is about to replace
    manifest_path.unlink(missing_ok=True)

    model = build_model(loaded, seed)
    tb = TimeBase(spec.process.start, ZoneInfo(spec.process.timezone))
    types = attribute_types(spec)
    sinks: list[Sink] = []

    writer = Writer()

    def emit_events(batch: EventBatch) -> None:
        writer.submit(_write_events, sinks, batch)

    def emit_cases(batch: CaseBatch) -> None:
        writer.submit(_write_cases, sinks, batch)

    labels = has_exceptions(loaded)
    # objects are derived only for the formats that write them: other runs pay nothing for them
    objects = ObjectModel(loaded, types) if any(f in OBJECT_FORMATS for f in formats) else None
    rec = Recorder(tb, list(types), list(types.values()), emit_events, emit_cases, flush_every=flush_every,
                   labels=labels or "labels-parquet" in formats, objects=objects)
    ctx = SinkContext(out_dir=out_dir, timebase=tb, process_name=spec.process.name, attr_names=tuple(types),
                      attr_types=tuple(types.values()), labels_in_log=labels_in_log,
                      extra={"event_schema": rec.event_schema, "case_schema": rec.case_schema, "spec": spec,
                             "objects": objects})
    with writer:
        # sinks are made, fed and closed on the writer thread (procsim.writer): output overlaps the simulation
        try:
            for f in [*formats, "cases", *(["labels"] if labels else [])]:
                sinks.append(writer.call(REGISTRY[f], ctx))
            if stream is not None:
                sinks += stream.open(ctx, loaded, seed, cases, horizon)
            progress = (lambda done: on_progress(done, cases)) if on_progress else None
            sim = Simulation(model, seed, rec, n_cases=cases, horizon=horizon, on_case_done=progress)
            if stream is not None:
                stream.pace.attach(sim.env, rec, writer.drain)
            sim.run()
            files: list[Path] = writer.call(_close, sinks)
        except BaseException:
            writer.settle()
            writer.call(_abort, sinks)
            raise
    # an earlier run's output of another format would look like part of this run: remove it
    written = {p.name for p in files}
    for name in sorted(_outputs() - written):
        (out_dir / name).unlink(missing_ok=True)
    if "documents" not in formats and (out_dir / "documents" / "index.csv").is_file():
        shutil.rmtree(out_dir / "documents")  # an earlier run's documents (their index says they are ours)
    digests = {name: h for s in sinks for name, h in s.digests.items()}
    wall = time.perf_counter() - t0
    manifest = {
        "procsim_version": __version__,
        "process": spec.process.name,
        "process_version": spec.process.version,
        "seed": seed,
        "cases_requested": cases,
        "horizon_s": horizon,
        "formats": formats,
        "labels_in_log": labels_in_log,
        "inputs": {k: {"sha256": v} for k, v in sorted(loaded.inputs.items())},
        "rules": loaded.rules.catalogue if loaded.rules is not None else {},
        "exceptions": [x.model_dump(mode="json", exclude_defaults=True) | {"name": x.label, "type": x.type}
                       for x in spec.exceptions],
        "counts": {"cases": rec.n_cases, "events": rec.n_events,
                   "cases_completed": sim.finished, "cases_running": rec.n_cases - sim.finished}
        | ({"objects": objects.n_objects, "event_object_links": objects.n_links,
            "object_object_links": objects.n_object_links} if objects is not None else {}),
        "simulated_period": {
            "origin": tb.iso_one(0.0),
            "first_event": tb.iso_one(rec.t_min) if rec.t_min is not None else None,
            "last_event": tb.iso_one(rec.t_max) if rec.t_min is not None else None,
        },
        "files": {p.name: {"sha256": digests.get(p.name) or _sha(p), "bytes": p.stat().st_size} for p in files},
        "wall_time_s": round(wall, 3),
    } | (stream.manifest() if stream is not None else {})
    tmp = out_dir / ".manifest.json.part"
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, manifest_path)
    return RunResult(out_dir, files + [manifest_path], rec.n_cases, rec.n_events, wall, manifest)


def _write_events(sinks: list[Sink], batch: EventBatch) -> None:
    for s in sinks:
        s.write_events(batch)


def _write_cases(sinks: list[Sink], batch: CaseBatch) -> None:
    for s in sinks:
        s.write_cases(batch)


def _close(sinks: list[Sink]) -> list[Path]:
    return [p for s in sinks for p in s.close()]


def _abort(sinks: list[Sink]) -> None:
    for s in sinks:
        try:
            s.abort()
        except Exception:  # noqa: BLE001 - cleaning up after a failure; the first error is what matters
            pass


def _outputs() -> frozenset[str]:
    return frozenset(cls.filename for cls in REGISTRY.values())


def _sha(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


__all__ = ["run", "RunResult", "parse_formats", "ProcsimError"]
