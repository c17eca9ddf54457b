"""The recorder's output order: rows by (time, case), stable among a case's own events."""

from __future__ import annotations

from operator import itemgetter

from hypothesis import given
from hypothesis import strategies as st

from procsim.records import _in_output_order
from procsim.rows import EventRow

# (time, case, a tag that tells equal (time, case) rows apart: stability is visible)
rows = st.lists(st.tuples(st.integers(0, 6).map(float), st.integers(0, 4), st.integers(0, 10**6)), max_size=60)


def _events(batch: list[tuple[float, int, int]]) -> list[EventRow]:
    return [EventRow(t, c, None, 0, None, None, None, "", str(tag), ()) for t, c, tag in batch]


@given(rows)
def test_rows_in_time_order_are_sorted_by_time_then_case_stably(batch: list[tuple[float, int, int]]) -> None:
    batch.sort(key=itemgetter(0))  # as the simulation records them: in time order, ties in any case order
    assert _in_output_order(_events(batch)) == _events(sorted(batch, key=itemgetter(0, 1)))


@given(rows)
def test_rows_out_of_time_order_are_still_sorted(batch: list[tuple[float, int, int]]) -> None:
    assert _in_output_order(_events(batch)) == _events(sorted(batch, key=itemgetter(0, 1)))
