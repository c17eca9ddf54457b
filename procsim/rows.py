"""One recorded event as the simulation makes it and the recorder, the recorded-time transform and the objects
read it: ``EventRow``, a named tuple (a foundation: the recording layer below the records reads rows too).

The simulation makes a few million of these per run. Calling the class runs its generated Python ``__new__``
(about 0.7 us here); ``NEW_ROW(EventRow, (time, case, ...))``, ``tuple.__new__`` bound once, is one C call
(about 0.2 us; a plain tuple 0.05 us). The hot paths use that; everything reads rows by field name.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any, NamedTuple

__all__ = ["EventRow", "new_row", "NEW_ROW", "ROW_TIME", "ROW_CASE", "ROW_TIME_CASE"]


class EventRow(NamedTuple):
    """One event of the simulation, in the order the fields are listed (the rows are tuples underneath)."""

    time: float  # simulation seconds (after ``procsim.recording``: the recorded time)
    case: int  # the case's index (its id is the recorder's ``case_ids[case]``)
    # the simulation's Activity (its ``id`` tells copies of one sub-process apart, its ``label`` is logged), a
    # logged Wait, or a batch's BatchRun (which adds ``batch_id``)
    activity: Any
    lifecycle: int  # index into LIFECYCLE: 0 start, 1 complete
    resource: str | None
    role: str | None
    cost: float | None  # on completions of work that costs
    rules: str  # ids of the rules behind the event, ';'-joined
    exception: str  # exception and near-miss labels, ';'-joined
    snapshot: tuple[Any, ...]  # the case's attribute values (in ``Recorder.attr_names`` order) at the event


def new_row(values: tuple[float, int, Any, int, str | None, str | None, float | None, str, str, tuple[Any, ...]]
            ) -> EventRow:
    """``EventRow`` from its ten values in field order; the hot path binds ``NEW_ROW`` instead (no Python call)."""
    return NEW_ROW(EventRow, values)


NEW_ROW = tuple.__new__  # NEW_ROW(EventRow, (...)): an EventRow without the class's Python __new__
ROW_TIME = attrgetter("time")
ROW_CASE = attrgetter("case")
ROW_TIME_CASE = attrgetter("time", "case")
