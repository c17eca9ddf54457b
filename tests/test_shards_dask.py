"""Shards on dask.distributed (issue #14): the same bytes as the local pool, and a worker lost mid-run costs
nothing: its shard is recomputed, never duplicated, never lost."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from conftest import MINI
from procsim.run import run

distributed = pytest.importorskip("distributed")

FORMATS = ["csv", "parquet", "xes"]
MERGED = ("events.csv", "events.parquet", "events.xes", "cases.csv")


def _bytes(folder) -> dict[str, bytes]:
    return {n: (folder / n).read_bytes() for n in MERGED}


def test_dask_local_cluster_same_bytes_as_pool(write_process, tmp_path):
    p = write_process(MINI)
    run(p, tmp_path / "pool", seed=4, cases=90, replications=3, workers=1, formats=FORMATS)
    run(p, tmp_path / "dask", seed=4, cases=90, replications=3, dask="local:2", formats=FORMATS)
    assert _bytes(tmp_path / "dask") == _bytes(tmp_path / "pool")


def test_worker_killed_mid_run_shard_recomputed(write_process, tmp_path):
    p = write_process(MINI)
    run(p, tmp_path / "ref", seed=8, cases=1600, replications=4, workers=1, formats=FORMATS)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        out = tmp_path / "dask"
        killed: list[int] = []

        def kill_one_busy_worker() -> None:
            # as soon as a shard is running (its folder exists), kill the worker process running one
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not killed:
                busy = {w: ts for w, ts in client.processing().items() if ts}
                if busy and out.exists() and any(d.is_dir() for s in out.iterdir() if s.is_dir()
                                                  for d in s.iterdir()):
                    pids = client.run(os.getpid, workers=[next(iter(busy))])
                    pid = next(iter(pids.values()))
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                time.sleep(0.05)

        killer = threading.Thread(target=kill_one_busy_worker)
        killer.start()
        res = run(p, out, seed=8, cases=1600, replications=4, dask=cluster.scheduler_address, formats=FORMATS)
        killer.join()
    assert killed, "no worker was killed: the test did not test a lost worker"
    assert _bytes(out) == _bytes(tmp_path / "ref")
    assert res.cases == 1600


def test_a_failing_shard_on_dask_fails_the_run_cleanly(write_process, tmp_path):
    from procsim.errors import ProcsimError

    p = write_process(MINI.replace("  region:\n", "  ratio:\n    expr: \"1000 / (amount - amount)\"\n  region:\n"))
    with pytest.raises(ProcsimError, match=r"attributes\.ratio\.expr: division by zero in case R0"):
        run(p, tmp_path / "out", cases=40, replications=2, dask="local:1")
    assert list((tmp_path / "out").iterdir()) == []
