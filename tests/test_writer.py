"""The writer thread: calls run in order on one thread, errors reach the caller, a failed run leaves nothing."""

from __future__ import annotations

import threading

import pytest

from conftest import MINI
from procsim.outdir import OutputError
from procsim.run import run
from procsim.sinks.csv import CsvSink
from procsim.writer import Writer


def test_calls_run_in_submission_order_on_one_other_thread():
    seen: list[tuple[int, str]] = []
    with Writer(depth=2) as w:
        for i in range(50):
            w.submit(lambda i=i: seen.append((i, threading.current_thread().name)))
        assert w.call(len, seen) == 50  # call runs after everything submitted before it
    assert [i for i, _ in seen] == list(range(50))
    names = {n for _, n in seen}
    assert len(names) == 1 and names != {threading.current_thread().name}


def test_a_failing_call_is_raised_at_a_later_submission():
    def boom() -> None:
        raise OSError("disk full")

    with Writer(depth=1) as w:
        w.submit(boom)
        with pytest.raises(OSError, match="disk full"):
            for _ in range(3):
                w.submit(lambda: None)


def test_a_sink_failing_on_the_writer_thread_fails_the_run_and_leaves_no_output(write_process, tmp_path,
                                                                                monkeypatch):
    def fail(self, batch):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(CsvSink, "write_events", fail)
    out = tmp_path / "o"
    # the machine's failure, not a bug: one line naming the file and the cause (procsim.outdir.OutputError)
    with pytest.raises(OutputError, match=r"o/events\.csv: cannot write: No space left on device \(the disk is full\)"):
        run(write_process(MINI), out, seed=1, cases=200, formats=["csv", "parquet"], flush_every=50)
    assert sorted(p.name for p in out.iterdir()) == []  # no part files, no parquet, no manifest
