"""A sharded run: independent replications of a process run as shards, on local processes or a dask cluster,
then merged into one output folder.

A discrete-event simulation with shared resources is sequential, so a run is split only where the model itself
is independent: replications (``--replications R``) share nothing. Each shard is a whole run of its own (its root
seed from ``procsim.sim.streams.shard_seed``), written into its own folder inside a temporary folder of ``--out``;
the parent merges the shards' files in shard order (never in the order they finished) and commits them through
the ``RunFolder`` like any run, the manifest last. So the bytes depend on the seed and the shards, never on the
number of workers or where they ran; a shard that fails fails the run, and nothing that looks complete is left.

The loaded process is not pickled (its rules are compiled to closures): a worker reloads it from its file and
checks that every input file has the hashes the parent loaded (``ShardTask``). Each worker process keeps the
processes it loaded (one load per worker, not per shard); runs never change a loaded process (test_shared_state).

This module does not import ``procsim.run`` (which calls it): the function that runs one shard is passed in.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import multiprocessing
import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from procsim.errors import ProcsimError, UsageError
from procsim.outdir import DOCUMENTS, REPORT, RunFolder, os_error
from procsim.sim.streams import shard_seed
from procsim.spec import LoadedProcess, load_process
from procsim.version import __version__, output_versions

__all__ = ["Shard", "ShardTask", "ShardError", "plan_shards", "apply_unit", "parse_dask", "run_shards",
           "shard_run_process", "MERGEABLE", "LAYOUTS", "part_name"]

# formats a sharded run can merge (a third-party format is refused up front: its files could not be merged)
MERGEABLE = ("csv", "parquet", "xes", "labels-parquet", "cases", "labels", "ocel-json", "ocel-sqlite", "documents",
             "activities")
LAYOUTS = ("file", "dataset")  # --parquet-layout: one merged file, or a dataset of the shards' files
PROGRESS_EVERY = 500  # cases between a worker's progress messages


class ShardError(ProcsimError):
    """A shard failed for a reason that could not be sent back as itself (exit code 1)."""


@dataclass(frozen=True)
class Shard:
    """One independent part of a run: which unit and replication, its seed, its number of cases, its id prefix."""

    index: int  # position in the merge order
    replication: int  # 1-based
    seed: int
    cases: int | None
    tag: str  # 'DE01-R03', 'R03' or 'DE01': prefixes case and event ids, names the shard folder
    unit: str | None = None
    arrival_factor: float = 1.0  # the unit's arrival rate, relative to the process's
    replicated: bool = False  # more than one replication: the 'replication' column is written

    @property
    def columns(self) -> dict[str, Any]:
        """The shard's columns in events and cases (as if they were case attributes)."""
        return ({"unit": self.unit} if self.unit is not None else {}) | (
            {"replication": self.replication} if self.replicated else {})


def plan_shards(seed: int, cases: int | None, replications: int, units: Mapping[str, Any] | None = None
                ) -> list[Shard]:
    """Units (in the order the process declares them) x R replications. ``cases`` is the total: split over the
    units in proportion to their arrival factors (largest remainders), then evenly over the replications."""
    if replications < 1:
        raise UsageError("--replications must be a positive number")
    unit_list: list[tuple[str | None, float]] = [(n, u.arrival_factor) for n, u in (units or {}).items()] or [
        (None, 1.0)]
    per_unit: list[int | None] = [None] * len(unit_list)
    if cases is not None:
        if cases < replications * len(unit_list):
            raise UsageError(f"--cases {cases} is fewer than one case per shard ({len(unit_list)} unit(s) x "
                             f"{replications} replication(s)): --cases is the total over all shards")
        weights = [f for _, f in unit_list]
        exact = [cases * w / sum(weights) for w in weights]
        split = [int(x) for x in exact]
        for k in sorted(range(len(exact)), key=lambda k: (split[k] - exact[k], k))[:cases - sum(split)]:
            split[k] += 1
        for k, n in enumerate(split):
            if n < replications:
                raise UsageError(f"--cases {cases} leaves unit '{unit_list[k][0]}' fewer cases than replications")
        per_unit = list(split)
    width = max(2, len(str(replications)))
    out: list[Shard] = []
    for u, (uname, factor) in enumerate(unit_list):
        n_unit = per_unit[u]
        for r in range(replications):
            n_cases = None if n_unit is None else n_unit // replications + (1 if r < n_unit % replications else 0)
            rtag = f"R{r + 1:0{width}d}" if replications > 1 else ""
            tag = "-".join(t for t in (uname, rtag) if t)
            out.append(Shard(index=len(out), replication=r + 1, seed=shard_seed(seed, u + 1 if uname else 0, r + 1),
                             cases=n_cases, tag=tag, unit=uname, arrival_factor=factor, replicated=replications > 1))
    return out


def apply_unit(loaded: LoadedProcess, unit: str) -> LoadedProcess:
    """The process as ``unit`` runs it: its staff sizes and calendars in place of the process's (checked at load)."""
    spec = loaded.spec
    u = spec.units[unit]
    roles = {name: r.model_copy(update={"members": u.staff[name]}) if name in u.staff else r
             for name, r in spec.roles.items()}
    calendars = {name: u.calendars.get(name, c) for name, c in spec.calendars.items()}
    return replace(loaded, spec=spec.model_copy(update={"roles": roles, "calendars": calendars}))


@dataclass(frozen=True)
class ShardTask:
    """What a worker needs to run one shard: the process's file and the hashes of every file it read (the worker
    reloads it), the shard, its folder and the run's options."""

    path: str
    root: str | None
    inputs: tuple[tuple[str, str], ...]
    shard: Shard
    out: str
    horizon: float | None
    formats: tuple[str, ...]
    labels_in_log: bool
    window: Any
    flush_every: int


def parse_dask(text: str) -> tuple[str, int | str]:
    """``local:N`` -> ('local', N); ``tcp://host:port`` (or tls://...) -> ('address', text)."""
    if text.startswith("local:"):
        try:
            n = int(text[6:])
        except ValueError:
            n = 0
        if n < 1:
            raise UsageError(f"--dask {text}: give local:N with N workers, e.g. local:4")
        return "local", n
    if "://" in text:
        return "address", text
    raise UsageError(f"--dask {text}: give local:N (a LocalCluster of N workers) or a scheduler address like "
                     "tcp://scheduler:8786")


# -- the worker side --------------------------------------------------------------------------------------

_LOADED: dict[tuple[str, str | None, tuple[tuple[str, str], ...]], LoadedProcess] = {}
_PROGRESS: Any = None  # the pool's progress queue, in a worker process of the local pool


def _init_worker(progress: Any) -> None:
    global _PROGRESS
    _PROGRESS = progress


def shard_run_process(task: ShardTask) -> LoadedProcess:
    """The process of ``task`` as the parent loaded it: reloaded from its files once per worker process."""
    key = (task.path, task.root, task.inputs)
    loaded = _LOADED.get(key)
    if loaded is None:
        loaded = load_process(task.path, task.root)
        if tuple(sorted(loaded.inputs.items())) != task.inputs:
            raise UsageError(f"{task.path}: the process or a file it reads changed while the run went on (or is "
                             "not the same on this worker): run again")
        _LOADED[key] = loaded
    return loaded


def progress_callback(shard: Shard) -> Callable[[int, int | None], None] | None:
    """In a pool worker: a run's progress callback that tells the parent every PROGRESS_EVERY cases."""
    q = _PROGRESS
    if q is None:
        return None

    def tell(done: int, total: int | None) -> None:
        if done % PROGRESS_EVERY == 0:
            q.put((shard.index, done))

    return tell


def _portable(e: BaseException) -> BaseException:
    """An error as it can travel back to the parent: itself if it pickles, else its message."""
    import pickle

    try:
        pickle.loads(pickle.dumps(e))
        return e
    except Exception:  # noqa: BLE001 - any failure to pickle: send the text
        return ShardError(str(e))


def call_shard(run_one: Callable[[ShardTask], dict[str, Any]], task: ShardTask) -> dict[str, Any]:
    """Run one shard from a clean folder (a retried shard starts again, it never continues a dead one's files)."""
    out = Path(task.out)
    if out.exists():
        shutil.rmtree(out)
    try:
        return run_one(task)
    except ProcsimError as e:
        raise _portable(e) from None


# -- the parent side --------------------------------------------------------------------------------------


def run_shards(loaded: LoadedProcess, folder: RunFolder, shards: Sequence[Shard], *, run_one: Callable[..., Any],
               horizon: float | None, formats: Sequence[str], kinds: Sequence[str], labels_in_log: bool,
               window: Any, flush_every: int, workers: int | None, dask: str | None, seed: int,
               cases: int | None, on_progress: Callable[[int, int | None], None] | None, t0: float,
               parquet_layout: str = "file") -> tuple[list[Path], dict[str, Any], int, int]:
    """Run every shard, merge their files into ``folder`` and commit them with the manifest.

    Returns (files, manifest, cases, events)."""
    if not loaded.path.is_file() and (dask is not None or (workers or 0) > 1):
        raise UsageError("a process built in memory cannot be sent to workers: load it from its file")
    cpu0 = time.process_time()
    scratch = folder.temp("shards")  # '.shards.<pid>-<hex>.part': a leftover is cleared like any temporary
    scratch.mkdir()
    inputs = tuple(sorted(loaded.inputs.items()))
    tasks = [ShardTask(path=str(loaded.path), root=str(loaded.root) if loaded.root is not None else None,
                       inputs=inputs, shard=s, out=str(scratch / s.tag), horizon=horizon, formats=tuple(formats),
                       labels_in_log=labels_in_log, window=window, flush_every=flush_every) for s in shards]
    total = cases
    n_workers = min(len(tasks), workers if workers is not None else (os.cpu_count() or 1))
    if dask is not None:
        results = _on_dask(run_one, tasks, dask, on_progress, total)
    elif n_workers <= 1:
        results = []
        done_before = 0
        for t in tasks:
            prog = (lambda d, _t, base=done_before: on_progress(base + d, total)) if on_progress else None
            results.append(run_one(t, loaded=loaded, on_progress=prog))
            done_before += results[-1]["counts"]["cases"]
    else:
        results = _on_pool(run_one, tasks, n_workers, on_progress, total)
    files, manifest, n_cases, n_events = _merge(folder, scratch, shards, results, kinds, t0=t0, seed=seed,
                                                cases=cases, horizon=horizon, formats=formats,
                                                labels_in_log=labels_in_log, loaded=loaded,
                                                parquet_layout=parquet_layout, cpu0=cpu0)
    shutil.rmtree(scratch, ignore_errors=True)
    return files, manifest, n_cases, n_events


def _on_pool(run_one: Callable[..., Any], tasks: list[ShardTask], n_workers: int,
             on_progress: Callable[[int, int | None], None] | None, total: int | None) -> list[dict[str, Any]]:
    # forkserver, not fork: the parent may hold threads (the writer, an embedding application's) and locks a forked
    # child would inherit. The server imports procsim once; each worker forks from it with the imports done
    # (importing procsim and its libraries is ~1.5 s a process on an idle machine, several under load)
    ctx: multiprocessing.context.BaseContext
    if "forkserver" in multiprocessing.get_all_start_methods():
        fs_ctx = multiprocessing.get_context("forkserver")
        fs_ctx.set_forkserver_preload(["procsim.run"])
        ctx = fs_ctx
    else:
        ctx = multiprocessing.get_context("spawn")
    progress = ctx.SimpleQueue() if on_progress is not None else None
    done: dict[int, int] = {}
    with cf.ProcessPoolExecutor(max_workers=n_workers, mp_context=ctx, initializer=_init_worker,
                                initargs=(progress,)) as pool:
        futures = [pool.submit(call_shard, run_one, t) for t in tasks]
        try:
            pending = set(futures)
            while pending:
                finished, pending = cf.wait(pending, timeout=0.25, return_when=cf.FIRST_EXCEPTION)
                for f in finished:
                    f.result()  # raises a shard's error: the others are cancelled below
                if progress is not None and on_progress is not None:
                    while not progress.empty():
                        i, n = progress.get()
                        done[i] = n
                    for k, f in enumerate(futures):
                        if f.done() and not f.exception():
                            done[k] = f.result()["counts"]["cases"]
                    on_progress(sum(done.values()), total)
            return [f.result() for f in futures]
        except cf.process.BrokenProcessPool:
            raise ShardError("a worker process died while running a shard (killed, or out of memory?): the run "
                             "failed and no output was written") from None
        except BaseException:
            for f in futures:
                f.cancel()
            # the running shards are stopped, not awaited: the run has failed
            for p in list(getattr(pool, "_processes", {}).values()):
                p.terminate()
            raise


def _on_dask(run_one: Callable[..., Any], tasks: list[ShardTask], dask: str,
             on_progress: Callable[[int, int | None], None] | None, total: int | None) -> list[dict[str, Any]]:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise UsageError("--dask needs dask.distributed: pip install 'procsim[scale]'") from None
    kind, arg = parse_dask(dask)
    cluster = None
    if kind == "local":
        # processes, one thread each: a shard holds the GIL for its whole run
        cluster = LocalCluster(n_workers=int(arg), threads_per_worker=1, processes=True, dashboard_address=None)  # type: ignore[no-untyped-call]  # distributed ships py.typed but leaves this unannotated
        client = Client(cluster)  # type: ignore[no-untyped-call]  # distributed ships py.typed but leaves this unannotated
    else:
        try:
            client = Client(str(arg), timeout=30)  # type: ignore[no-untyped-call]  # distributed ships py.typed but leaves this unannotated
        except OSError as e:
            raise UsageError(f"--dask {dask}: cannot reach the scheduler ({e})") from None
    try:
        # pure=False: a recomputed shard (its worker was lost) is the same task, run again from a clean folder
        futures = [client.submit(call_shard, run_one, t, key=f"procsim-shard-{Path(t.out).parent.name}-{t.shard.tag}",
                                 pure=False, retries=0) for t in tasks]
        done = 0
        try:
            for f in as_completed(futures):  # type: ignore[no-untyped-call]  # distributed ships py.typed but leaves this unannotated
                res = f.result()
                done += res["counts"]["cases"]
                if on_progress is not None:
                    on_progress(done, total)
            return [f.result() for f in futures]
        except BaseException:
            client.cancel(futures)  # type: ignore[no-untyped-call]  # distributed ships py.typed but leaves this unannotated
            raise
    finally:
        client.close()  # type: ignore[no-untyped-call]  # distributed ships py.typed but leaves this unannotated
        if cluster is not None:
            cluster.close()


# -- merging ----------------------------------------------------------------------------------------------

_XES_END = b"</log>\n"


def _merge(folder: RunFolder, scratch: Path, shards: Sequence[Shard], results: list[dict[str, Any]],
           kinds: Sequence[str], *, t0: float, seed: int, cases: int | None, horizon: float | None,
           formats: Sequence[str], labels_in_log: bool, loaded: LoadedProcess, parquet_layout: str = "file",
           cpu0: float = 0.0) -> tuple[list[Path], dict[str, Any], int, int]:
    from procsim.sinks import REGISTRY

    t_merge = time.perf_counter()
    names = [REGISTRY[k].entry or REGISTRY[k].filename for k in kinds]  # 'documents' (a folder), not its index
    extra = sorted({n for r in results for n in r["files"]} - set(names)
                   - {REGISTRY[k].filename for k in kinds})  # drift.csv
    names += extra
    temps: dict[str, Path] = {}
    hashes: dict[str, str] = {}
    datasets: dict[str, dict[str, dict[str, Any]]] = {}  # name -> part -> {sha256, bytes}
    try:
        for name in names:
            parts = [scratch / s.tag / name for s in shards]
            tmp = folder.temp(name)
            temps[name] = tmp
            if name == DOCUMENTS:
                hashes["index.csv"] = _merge_documents([scratch / s.tag / DOCUMENTS for s in shards], tmp)
            elif name == "ocel.json":
                hashes[name] = _merge_ocel_json(parts, tmp)
            elif name == "ocel.sqlite":
                hashes[name] = _merge_ocel_sqlite(parts, tmp)
            elif name.endswith(".parquet") and parquet_layout == "dataset":
                datasets[name] = _move_parts(parts, tmp, shards, [r["files"][name] for r in results])
            elif name.endswith(".parquet"):
                hashes[name] = _merge_parquet(parts, tmp)
            elif name.endswith(".xes"):
                hashes[name] = _merge_xes(parts, tmp)
            elif name not in names[:len(kinds)] and len({p.read_bytes() for p in parts}) == 1:
                # a ground truth of the process (drift.csv), the same in every shard: once, not once per shard
                hashes[name] = _merge_csv(parts[:1], tmp)
            else:
                hashes[name] = _merge_csv(parts, tmp)
        folder.begin_commit(names, datasets=datasets)
        files = []
        for name in names:
            final = folder.out / name
            if name == DOCUMENTS and final.is_dir() and not final.is_symlink():
                # an earlier run's documents (the folder checked at the start that it holds only those): replaced
                # whole, never mixed, as the documents sink does
                shutil.rmtree(final)
            os.replace(temps.pop(name), final)
            files.append(final / "index.csv" if name == DOCUMENTS else final)
    except OSError as e:
        for t in temps.values():
            if t.is_dir():
                shutil.rmtree(t)
            else:
                t.unlink(missing_ok=True)
        raise os_error(e, folder.out) from None
    n_cases = sum(r["counts"]["cases"] for r in results)
    n_events = sum(r["counts"]["events"] for r in results)
    first = [r["simulated_period"]["first_event"] for r in results if r["simulated_period"]["first_event"]]
    last = [r["simulated_period"]["last_event"] for r in results if r["simulated_period"]["last_event"]]
    r0 = results[0]
    manifest: dict[str, Any] = {
        "procsim_version": __version__,
        "output_versions": output_versions(),
        "process": r0["process"],
        "process_version": r0["process_version"],
        "seed": seed,
        "cases_requested": cases,
        "horizon_s": horizon,
        "formats": list(formats),
        "labels_in_log": labels_in_log,
        **({"report": REPORT} if folder.report else {}),
        "inputs": r0["inputs"],
        "rules": r0["rules"],
        "exceptions": r0["exceptions"],
        "counts": {k: sum(r["counts"][k] for r in results) for k in r0["counts"]},
        "simulated_period": {"origin": r0["simulated_period"]["origin"],
                             # ISO text with the same zone: the earliest / latest compare as text only per offset
                             "first_event": first[0] if first else None, "last_event": last[-1] if last else None},
        "replications": max(s.replication for s in shards),
        "units": [s.unit for s in shards if s.replication == 1 and s.unit is not None],
        "shards": [{"shard": s.tag} | ({"unit": s.unit} if s.unit is not None else {}) | {
                    "replication": s.replication, "seed": s.seed, "cases_requested": s.cases,
                    "counts": r["counts"], "files": {n: v["sha256"] for n, v in r["files"].items()},
                    # where and at what cost it ran: differs between runs, like wall_time_s
                    **({"cost": r["cost"] | {"wall_s": r["wall_time_s"]}} if "cost" in r else {})}
                   for s, r in zip(shards, results)],
        "files": {p.name: {"layout": "dataset", "bytes": sum(v["bytes"] for v in datasets[p.name].values()),
                           "parts": datasets[p.name]} if p.name in datasets else
                  {"sha256": hashes[p.name], "bytes": p.stat().st_size} for p in files},
        "merge_s": round(time.perf_counter() - t_merge, 3),  # the part of the wall time the merge took
        # CPU seconds of the calling process from the first shard's start to here (with --workers 1: the shards'
        # too; with workers: handing out tasks, progress and the merge)
        "client_cpu_s": round(time.process_time() - cpu0, 3),
        "wall_time_s": round(time.perf_counter() - t0, 3),
    }
    path = folder.finish_commit(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return files + [path], manifest, n_cases, n_events


def _copy(src: Path, dst: Any, h: Any, start: int = 0, end: int | None = None) -> None:
    with src.open("rb") as f:
        f.seek(start)
        left = (end if end is not None else src.stat().st_size) - start
        while left > 0:
            chunk = f.read(min(left, 1 << 22))
            if not chunk:
                break
            left -= len(chunk)
            h.update(chunk)
            dst.write(chunk)


def _merge_csv(parts: list[Path], out: Path) -> str:
    """Every shard's rows, in shard order, under the first shard's header (all shards have the same columns)."""
    h = hashlib.sha256()
    with open(out, "xb") as dst:
        for k, p in enumerate(parts):
            with p.open("rb") as f:
                header = f.readline()
            if k == 0:
                h.update(header)
                dst.write(header)
            _copy(p, dst, h, start=len(header))
    return h.hexdigest()


def _merge_xes(parts: list[Path], out: Path) -> str:
    """The first shard's log head, every shard's traces in shard order, one closing tag."""
    h = hashlib.sha256()
    with open(out, "xb") as dst:
        for k, p in enumerate(parts):
            size = p.stat().st_size
            with p.open("rb") as f:
                head = f.read(1 << 16)
            cut = head.find(b"\t<trace>\n")
            if cut < 0:
                cut = size - len(_XES_END)  # a shard without traces
            if k == 0:
                _copy(p, dst, h, 0, cut)
            _copy(p, dst, h, cut, size - len(_XES_END))
        h.update(_XES_END)
        dst.write(_XES_END)
    return h.hexdigest()


def _merge_documents(parts: list[Path], out: Path) -> str:
    """One ``documents/``: every shard's documents moved in (their names carry the shard: 'R02-PO-000001.html'),
    one ``index.csv`` with every shard's rows in shard order. Returns the index's sha256."""
    out.mkdir()
    for p in parts:
        for e in sorted(os.listdir(p)):
            if e != "index.csv":
                os.replace(p / e, out / e)
    return _merge_csv([p / "index.csv" for p in parts], out / "index.csv")


_OCEL_SECTIONS = ('"objectTypes": [', '"eventTypes": [', '"objects": [', '"events": [')


def _ocel_sections(path: Path) -> Any:
    """(section, item line without its separating comma) of an ``ocel.json`` as procsim writes it: one type,
    object or event a line."""
    section = None
    with path.open(encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            head = line.strip()
            if head in _OCEL_SECTIONS:
                section = head.split('"')[1]
            elif head in ("{", "}", "]", "],", ""):
                continue
            else:
                yield section, line[:-1] if line.endswith(",") else line


def _merge_ocel_json(parts: list[Path], out: Path) -> str:
    """One OCEL 2.0 JSON log: the object types (the same in every shard), the event types in the order they first
    occur, then every shard's objects and every shard's events in shard order (ids carry the shard). Streamed
    line by line: no shard's log is held whole."""
    etypes: dict[str, None] = {}
    otypes: list[str] = []
    for k, p in enumerate(parts):
        for section, item in _ocel_sections(p):
            if section == "eventTypes":
                etypes.setdefault(item)
            elif section == "objectTypes" and k == 0:
                otypes.append(item)
            elif section in ("objects", "events"):
                break  # the types come first
    h = hashlib.sha256()
    with open(out, "x", encoding="utf-8") as dst:
        def put(text: str) -> None:
            h.update(text.encode("utf-8"))
            dst.write(text)

        put('{\n "objectTypes": [\n' + ",\n".join(otypes) + '\n ],\n "eventTypes": [\n' + ",\n".join(etypes)
            + "\n ]")
        for key in ("objects", "events"):
            put(f',\n "{key}": [\n')
            first = True
            for p in parts:
                buf = []
                for section, item in _ocel_sections(p):
                    if section == key:
                        buf.append(item)
                        if len(buf) >= 4096:
                            put(("" if first else ",\n") + ",\n".join(buf))
                            first, buf = False, []
                if buf:
                    put(("" if first else ",\n") + ",\n".join(buf))
                    first = False
            put("\n ]")
        put("\n}\n")
    return h.hexdigest()


def _merge_ocel_sqlite(parts: list[Path], out: Path) -> str:
    """One OCEL 2.0 SQLite log: the first shard's database copied, every other shard's rows inserted table by
    table in shard order (an event type first seen in a later shard gets its table then)."""
    import sqlite3

    from procsim.sinks.ocel_sqlite import table_suffix

    shutil.copyfile(parts[0], out)
    db = sqlite3.connect(out)
    try:
        q = _sql_name
        for p in parts[1:]:
            db.execute("ATTACH DATABASE ? AS s", (str(p),))
            for table in ("event", "object", "event_object", "object_object"):
                db.execute(f"INSERT INTO main.{table} SELECT * FROM s.{table}")
            for kind in ("event", "object"):
                mine = dict(db.execute(f"SELECT ocel_type, ocel_type_map FROM main.{kind}_map_type"))
                for typ, suffix in db.execute(f"SELECT ocel_type, ocel_type_map FROM s.{kind}_map_type").fetchall():
                    if typ not in mine:
                        new = table_suffix(typ, mine)
                        sql = db.execute("SELECT sql FROM s.sqlite_master WHERE type = 'table' AND name = ?",
                                         (f"{kind}_{suffix}",)).fetchone()[0]
                        db.execute(sql.replace(q(f"{kind}_{suffix}"), q(f"{kind}_{new}"), 1))
                        db.execute(f"INSERT INTO main.{kind}_map_type VALUES (?, ?)", (typ, new))
                    db.execute(f"INSERT INTO main.{q(kind + '_' + mine[typ])} SELECT * FROM s.{q(kind + '_' + suffix)}")
            db.commit()
            db.execute("DETACH DATABASE s")
    finally:
        db.close()
    h = hashlib.sha256()
    with out.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def _sql_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def part_name(shard: Shard) -> str:
    """A shard's file in a Parquet dataset: its position first, so that the names sort in shard order (readers
    list a dataset's files sorted by name), then its tag."""
    return f"part-{shard.index:05d}-{shard.tag}.parquet"


def _move_parts(parts: list[Path], out: Path, shards: Sequence[Shard], metas: list[dict[str, Any]]
                ) -> dict[str, dict[str, Any]]:
    """A Parquet dataset: the folder ``out`` holding every shard's file as the worker wrote it, renamed (no byte is
    read or written again). Returns part name -> {sha256 (the worker's), bytes}."""
    out.mkdir()
    listed: dict[str, dict[str, Any]] = {}
    for p, s, meta in zip(parts, shards, metas):
        name = part_name(s)
        os.replace(p, out / name)
        listed[name] = {"sha256": meta["sha256"], "bytes": (out / name).stat().st_size}
    return listed


def _merge_parquet(parts: list[Path], out: Path) -> str:
    """One Parquet file: the shards' row groups in shard order (same schema, same compression as a plain run)."""
    import pyarrow.parquet as pq

    writer = None
    try:
        for p in parts:
            pf = pq.ParquetFile(p)
            if writer is None:
                writer = pq.ParquetWriter(str(out), pf.schema_arrow, compression="zstd")
            for g in range(pf.num_row_groups):
                writer.write_table(pf.read_row_group(g), row_group_size=1 << 20)
    finally:
        if writer is not None:
            writer.close()
    h = hashlib.sha256()
    with out.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()
