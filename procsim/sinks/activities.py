"""``activities.csv`` (``--format activities``): one row per activity instance, the shape Prosimos, Simod and
Apromore read and write: ``case_id, activity, enabled_time, start_time, end_time, resource``.

Owns pairing a case's start and complete events into instances and deriving when each instance was enabled.
The event log has no enabled event, so the sink derives it from the flow: an instance is enabled by the latest
completion, at or before its start, of an activity that precedes it in the process graph (through gateways,
unlogged waits and joins: the latest of an AND join's branches), or by the case's arrival when the start event
precedes it. Queueing for a member and waiting for working time therefore lie between ``enabled_time`` and
``start_time``; an unlogged timer wait before an activity counts as waiting too (the log never shows it).

Rows are written per finished case (in the order cases.csv lists them), each case's instances by start time.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from typing import Any, BinaryIO

import networkx as nx

from procsim.records import CaseBatch, EventBatch
from procsim.sinks.base import Sink, SinkContext

HEADER = ("case_id", "activity", "enabled_time", "start_time", "end_time", "resource")

# per open case: (time s, iso text, activity label, lifecycle, resource) in output order
_Event = tuple[float, str, str, str, str]


def enabling_labels(spec: Any, graph: nx.DiGraph | None) -> tuple[dict[str, set[str]], set[str]]:
    """For each logged label (activity or logged wait): the logged labels that can enable it, and the labels the
    case's arrival enables (reached from the start event through unlogged nodes only)."""
    preds: dict[str, set[str]] = defaultdict(set)
    from_start: set[str] = set()
    if graph is None:
        return preds, from_start

    def label(n: str) -> str | None:
        kind = graph.nodes[n].get("kind")
        if kind == "activity":
            a = spec.activities[n]
            return a.name or n
        if kind == "wait":
            w = spec.waits[n]
            return (w.name or n) if w.log else None
        return None

    for n in graph.nodes:
        src = label(n)
        if src is None and graph.nodes[n].get("kind") != "start":
            continue
        # walk forward through unlogged nodes to the logged ones this node's completion enables
        seen: set[str] = set()
        todo = list(graph.successors(n))
        while todo:
            m = todo.pop()
            if m in seen:
                continue
            seen.add(m)
            dst = label(m)
            if dst is not None:
                (preds[dst].add(src) if src is not None else from_start.add(dst))
            else:
                todo.extend(graph.successors(m))
    return preds, from_start


class ActivitiesCsvSink(Sink):
    """``activities.csv``: one row per activity instance (case_id, activity, enabled_time, start_time, end_time,
    resource), the shape Prosimos, Simod and Apromore use."""

    format = "activities"
    filename = "activities.csv"

    def __init__(self, ctx: SinkContext) -> None:
        super().__init__(ctx)
        self._file: BinaryIO = self.temp.open("wb")
        self._open: dict[str, list[_Event]] = defaultdict(list)
        self._preds, self._from_start = enabling_labels(ctx.extra.get("spec"), ctx.extra.get("graph"))
        self._write_rows([HEADER])

    def _write_rows(self, rows: list[tuple[Any, ...]]) -> None:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rows)
        self._file.write(buf.getvalue().encode())

    def write_events(self, batch: EventBatch) -> None:
        t = batch.table
        iso = batch.iso
        times = batch.times.tolist()
        for i, (case, act, life, res) in enumerate(zip(t.column("case_id").to_pylist(),
                                                       t.column("activity").to_pylist(),
                                                       t.column("lifecycle").to_pylist(),
                                                       t.column("resource").to_pylist())):
            self._open[case].append((times[i], str(iso[i]), act, life, res or ""))

    def write_cases(self, batch: CaseBatch) -> None:
        ids = batch.table.column("case_id").to_pylist()
        starts = batch.start.tolist()
        start_iso = batch.start_iso.to_pylist()
        rows: list[tuple[Any, ...]] = []
        for case, t0, iso0 in zip(ids, starts, start_iso):
            rows += self._instances(case, t0, iso0, self._open.pop(case, []))
        if rows:
            self._write_rows(rows)

    def _instances(self, case: str, t0: float, iso0: str, events: list[_Event]) -> list[tuple[Any, ...]]:
        """Pair each start with the next complete of the same activity; derive the enabled time."""
        opened: dict[str, list[list[Any]]] = defaultdict(list)
        done: list[tuple[float, str, str]] = []  # completions so far: (time, iso, label)
        out: list[list[Any]] = []
        for t, iso, act, life, res in events:
            if life == "start":
                enabled_t, enabled_iso = (t0, iso0) if act in self._from_start else (None, "")
                preds = self._preds.get(act, ())
                for ct, ciso, clabel in reversed(done):
                    if ct <= t and clabel in preds:
                        if enabled_t is None or ct >= enabled_t:
                            enabled_t, enabled_iso = ct, ciso
                        break
                if enabled_t is None:
                    enabled_t, enabled_iso = t0, iso0  # enabled by nothing the log shows (an inserted activity)
                if enabled_t > t:  # recorded times (procsim.recording) may round a start before the arrival
                    enabled_iso = iso
                row = [t, case, act, enabled_iso, iso, "", res]
                opened[act].append(row)
                out.append(row)
            else:
                done.append((t, iso, act))
                if opened[act]:
                    opened[act].pop(0)[5] = iso
                else:  # a completion whose start an exception left out of the log
                    out.append([t, case, act, "", "", iso, res])
        out.sort(key=lambda r: r[0])
        return [tuple(r[1:]) for r in out]

    def _finish(self) -> None:
        self._file.close()
