"""Event rows are named (issue #16): from where the simulation makes them to where the recorder turns them into
the sinks' Arrow batches and the objects link them, each row is an ``EventRow`` read by field name.

The recorder is spied on, not replaced: the real ``_emit_event_batch`` and ``ObjectModel.link`` run, and the
batch they produce is checked against the rows they were handed, field by field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from procsim.objects import ObjectModel
from procsim.records import LIFECYCLE, EventBatch, Recorder
from procsim.rows import NEW_ROW, EventRow, new_row
from procsim.run import run

ROOT = Path(__file__).resolve().parent.parent
FIELDS = ("time", "case", "activity", "lifecycle", "resource", "role", "cost", "rules", "exception", "snapshot")


def test_an_event_row_is_a_named_tuple_of_the_ten_fields_in_order() -> None:
    assert EventRow._fields == FIELDS
    values = (1.5, 3, "act", 1, "Ann", "clerk", 2.25, "r1", "late", ("x", 2))
    for row in (EventRow(*values), new_row(values), NEW_ROW(EventRow, values)):
        assert type(row) is EventRow
        assert tuple(row) == values  # still a tuple underneath: zip(*batch) gives the columns
        assert [getattr(row, f) for f in FIELDS] == list(values)


def _spy(monkeypatch: pytest.MonkeyPatch) -> tuple[list[tuple[list[EventRow], dict[int, str], Any]], list[list[Any]]]:
    """Record every batch of rows the recorder emits (with the case ids and the batch it made of them) and every
    batch of rows the object model links."""
    emitted: list[tuple[list[EventRow], dict[int, str], Any]] = []
    linked: list[list[Any]] = []
    emit = Recorder._emit_event_batch
    link = ObjectModel.link

    def spy_emit(self: Recorder, batch: list[EventRow]) -> None:
        ids = dict(self.case_ids)
        made: list[EventBatch] = []
        forward = self.emit_events

        def catch(b: EventBatch) -> None:
            made.append(b)
            forward(b)

        self.emit_events = catch
        try:
            emit(self, batch)
        finally:
            self.emit_events = forward
        emitted.append((list(batch), ids, made[0]))

    def spy_link(self: ObjectModel, rows: Any, first: int, case_ids: dict[int, str]) -> Any:
        linked.append(list(rows))
        return link(self, rows, first, case_ids)

    monkeypatch.setattr(Recorder, "_emit_event_batch", spy_emit)
    monkeypatch.setattr(ObjectModel, "link", spy_link)
    return emitted, linked


@pytest.mark.parametrize("process", ["procure_to_pay", "procure_to_pay_exceptions"])
def test_rows_reaching_the_recorder_and_objects_are_event_rows_read_by_name(
        process: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # procure_to_pay: batched payment runs, a logged wait, recorded (floored) times, data-quality faults (their
    # rows replaced with the recorded values), objects; the exceptions example: duplicated and left-out events
    emitted, linked = _spy(monkeypatch)
    run(ROOT / "processes" / f"{process}.yaml", tmp_path / "out", seed=7, cases=600,
        formats=["csv", "ocel-json"], flush_every=2_000)
    assert len(emitted) > 1 and linked
    rows = [r for batch, _, _ in emitted for r in batch]
    assert all(type(r) is EventRow for r in rows)
    assert all(type(r) is EventRow for batch in linked for r in batch)
    for batch, ids, made in emitted:
        t = made.table
        # the batch's columns are the rows' fields of the same names
        assert t.column("case_id").to_pylist() == [ids[r.case] for r in batch]
        assert t.column("activity").to_pylist() == [r.activity.label for r in batch]
        assert t.column("lifecycle").to_pylist() == [LIFECYCLE[r.lifecycle] for r in batch]
        assert t.column("resource").to_pylist() == [r.resource for r in batch]
        assert t.column("role").to_pylist() == [r.role for r in batch]
        assert t.column("cost").to_pylist() == [r.cost for r in batch]
        assert t.column("rules").to_pylist() == [r.rules for r in batch]
        assert made.times.tolist() == [r.time for r in batch]
        first_attr = t.column_names.index("exception") + 1 + ("batch" in t.column_names)
        assert all(len(r.snapshot) == t.num_columns - first_attr for r in batch)
    if process == "procure_to_pay":
        assert any(getattr(r.activity, "batch_id", None) for r in rows)  # a payment run's rows
        assert any(r.resource is None and r.lifecycle == 0 for r in rows)  # a logged wait
    else:
        dups = [r for r in rows if "goods_receipt_logged_twice" in r.exception.split(";")]
        assert dups  # the copy a duplicated event adds is an EventRow as well (made by _replace)
