"""Logs as systems record them: the step between what was simulated and what the event log shows.

Owns the recorded time of each event and the extraction window. The simulation's times are the truth; a
system writes them at a ``granularity`` (1s, 1m, 1h, a local day), enters completions late (a ``delay`` drawn
per completion) or in a ``batch`` at fixed local times (an end-of-day run), and an extract shows only what was
recorded inside its window. Starts are never delayed: a clerk opens a task when they start it.

``Recording.transform`` maps rows (in simulated order) to rows carrying their recorded time, dropping what
falls outside the window; the recorder (procsim.records) sorts them into output order and hands them on only
once no later row can be recorded earlier. Which cases were cut, and where, is kept per case for ``cases.csv``.

A delayed completion may be recorded after the case's next activity started (as in real logs): the output
stays sorted by timestamp, a case's start still comes before its own completion (both use the same
granularity), but the case's events then appear in recorded, not simulated, order.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from procsim.rows import NEW_ROW, ROW_CASE, ROW_TIME, EventRow

__all__ = ["Recording", "Rule", "Window"]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
START, END, BOTH = "start", "end", "both"


@dataclass(frozen=True)
class Rule:
    """How one activity's events are recorded (all optional)."""

    granularity: float = 0.0  # seconds; 0: as simulated (milliseconds)
    delay: Callable[[np.random.Generator], float] | None = None
    batch: tuple[float, ...] = ()  # local seconds of day, sorted


@dataclass(frozen=True)
class Window:
    """Local dates, both included; ``started_before`` is 'partial' or 'drop'."""

    start: date
    end: date
    started_before: str = "partial"


class Recording:
    """Recorded times and the window, for one run. Not thread-safe: used on the simulation's thread."""

    def __init__(self, *, tz: ZoneInfo, origin: datetime, system: Rule, activities: dict[str, Rule],
                 window: Window | None, rng: np.random.Generator) -> None:
        self.tz = tz
        self.origin_s = (origin - _EPOCH).total_seconds()
        self.system = system
        self.rules = activities
        self.window = window
        self.rng = rng
        #: the coarsest granularity: no row recorded later can land more than this before its simulated time
        self.gmax = max([system.granularity, *(r.granularity for r in activities.values())])
        self.ws = self._sim(window.start) if window else -math.inf
        self.we = self._sim(window.end + timedelta(days=1)) if window else math.inf
        self.drop_started = window is not None and window.started_before == "drop"
        self.case_start: dict[int, float] = {}
        self.last: dict[int, float] = {}  # case -> latest recorded time of its kept events
        self.kept: dict[int, int] = {}  # case -> kept events
        self.kept_cost: dict[int, float] = {}
        self.truncated: dict[int, str] = {}  # case -> 'start' | 'end' | 'both'
        self.counts = {"events_dropped": 0, "cases_dropped": 0, "cases_truncated_start": 0,
                       "cases_truncated_end": 0, "completions_delayed": 0}
        self._by_act: dict[str, Rule] = {}
        # one granularity for every event and nothing drawn or batched: ``transform`` maps a batch's times at
        # once (the same floating-point steps as the per-row path, so the same times)
        grains = {system.granularity, *(r.granularity or system.granularity for r in activities.values())}
        plain = all(r.delay is None and not r.batch for r in (system, *activities.values()))
        g = grains.pop()
        self._uniform: float | None = g if plain and not grains and (g == 0.0 or 900.0 % g == 0.0) else None

    def _sim(self, d: date) -> float:
        return datetime.combine(d, time(0), self.tz).timestamp() - self.origin_s

    def rule(self, act_id: str) -> Rule:
        got = self._by_act.get(act_id)
        if got is None:
            own = self.rules.get(act_id)
            s = self.system
            # an activity's own settings replace the system-wide ones field by field
            got = s if own is None else Rule(own.granularity or s.granularity,
                                             own.delay if own.delay is not None else s.delay,
                                             own.batch or s.batch)
            self._by_act[act_id] = got
        return got

    # -- times ---------------------------------------------------------------------------------------

    def _floor(self, t: float, g: float) -> float:
        e = self.origin_s + t
        if 900.0 % g == 0.0:
            # every zone offset in use is a multiple of 15 minutes: the UTC grid is the local grid
            return math.floor(e / g) * g - self.origin_s
        off = datetime.fromtimestamp(e, self.tz).utcoffset()
        o = off.total_seconds() if off is not None else 0.0
        return math.floor((e + o) / g) * g - o - self.origin_s

    def _next_batch(self, t: float, times: Sequence[float]) -> float:
        local = datetime.fromtimestamp(self.origin_s + t, self.tz)
        sec = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
        k = bisect_left(times, sec)
        d = local.date()
        if k == len(times):
            d, k = d + timedelta(days=1), 0
        at = times[k]
        moment = datetime.combine(d, time(int(at // 3600), int(at % 3600 // 60)), self.tz)
        return max(t, moment.timestamp() - self.origin_s)

    # -- rows ----------------------------------------------------------------------------------------

    def open_case(self, idx: int, start: float) -> None:
        self.case_start[idx] = start

    def transform(self, rows: list[EventRow]) -> list[EventRow]:
        """Rows (simulated order) -> kept rows with their recorded time first.

        Once per event, so kept lean: the rule per activity is looked up once per batch, and the window's
        bookkeeping (events and cost kept per case) is done only when there is a window.
        """
        windowed = self.window is not None  # without one nothing is dropped and cases keep their own counts
        if not windowed and self._uniform is not None and rows:
            return self._transform_uniform(rows, self._uniform)
        out: list[EventRow] = []
        ws, we = self.ws, self.we
        drop_started = self.drop_started
        starts, last, kept, cost, trunc = self.case_start, self.last, self.kept, self.kept_cost, self.truncated
        rules: dict[str, Rule] = {}
        origin_s, rng = self.origin_s, self.rng
        floor = math.floor
        new = NEW_ROW
        delayed = dropped = 0
        for row in rows:
            idx = row.case
            aid = row.activity.id
            r = rules.get(aid)
            if r is None:
                r = rules[aid] = self.rule(aid)
            t = row.time
            if row.lifecycle == 1:
                if r.delay is not None:
                    t += r.delay(rng)
                    delayed += 1
                if r.batch:
                    t = self._next_batch(t, r.batch)
            g = r.granularity
            if g:
                if 900.0 % g == 0.0:  # as _floor, without the call
                    t = floor((origin_s + t) / g) * g - origin_s
                else:
                    t = self._floor(t, g)
            if windowed:
                before = starts[idx] < ws
                if t < ws or t >= we or (before and drop_started):
                    dropped += 1
                    if not (before and drop_started):
                        side = END if t >= we else START
                        old = trunc.get(idx, "")
                        trunc[idx] = side if old in ("", side) else BOTH
                    continue
                if before and idx not in trunc:
                    trunc[idx] = START  # begun before the window: its earlier work is not in the extract
                kept[idx] = kept.get(idx, 0) + 1
                c = row.cost
                if c is not None:
                    cost[idx] = cost.get(idx, 0.0) + c
            out.append(new(EventRow, (t, *row[1:])))  # the row with its recorded time
            if t > last.get(idx, -math.inf):
                last[idx] = t
        self.counts["completions_delayed"] += delayed
        self.counts["events_dropped"] += dropped
        return out

    def _transform_uniform(self, rows: list[EventRow], g: float) -> list[EventRow]:
        """``transform`` when every event is floored to one grid ``g`` (0: kept as simulated) and none is dropped."""
        n = len(rows)
        t = np.fromiter(map(ROW_TIME, rows), dtype=np.float64, count=n)
        if g:
            origin_s = self.origin_s
            # as the per-row path: floor((origin + t) / g) * g - origin (math.floor's integer is exact here)
            t = np.floor((origin_s + t) / g) * g - origin_s
            new = NEW_ROW
            out = [new(EventRow, (x,) + row[1:]) for x, row in zip(t.tolist(), rows)]
        else:
            out = list(rows)
        # each case's latest recorded time: the last of its rows once sorted by (case, time)
        idx = np.fromiter(map(ROW_CASE, rows), dtype=np.int64, count=n)
        order = np.lexsort((t, idx))
        idx, t = idx[order], t[order]
        ends = np.empty(n, dtype=bool)
        ends[-1] = True
        np.not_equal(idx[1:], idx[:-1], out=ends[:-1])
        last = self.last
        inf = -math.inf
        for i, x in zip(idx[ends].tolist(), t[ends].tolist()):
            if x > last.get(i, inf):
                last[i] = x
        return out

    def case_last(self, idx: int) -> float:
        return self.last.get(idx, -math.inf)

    def finish_cases(self, cases: list[Any]) -> list[Any]:
        """The cases the log shows, with what the extract knows of them (events, cost, status, end)."""
        out = []
        for c in cases:
            idx = c.idx
            n = self.kept.pop(idx, 0)
            self.last.pop(idx, None)
            self.case_start.pop(idx, None)
            cost = self.kept_cost.pop(idx, 0.0)
            if self.window is None:
                out.append(c)
                continue
            if n == 0:  # nothing of it inside the window
                self.truncated.pop(idx, None)
                self.counts["cases_dropped"] += 1
                continue
            t = self.truncated.get(idx, "")
            if c.status != "completed" or (c.end is not None and c.end >= self.we):
                t = END if t in ("", END) else BOTH
            if t in (END, BOTH):
                # as the system saw it at the extraction: still running
                c.status, c.end, c.end_event = "running", None, ""
                self.counts["cases_truncated_end"] += 1
            if t in (START, BOTH):
                self.counts["cases_truncated_start"] += 1
            if t:
                self.truncated[idx] = t
            if self.window is not None:
                c.events, c.cost = n, cost
            out.append(c)
        return out

    def manifest(self, tb_iso: Callable[[float], str]) -> dict[str, Any]:
        s = self.system
        out: dict[str, Any] = {
            "granularity_s": s.granularity or None,
            "completion_delay": s.delay is not None,
            "batch": [f"{int(b // 3600):02d}:{int(b % 3600 // 60):02d}" for b in s.batch],
            "activities": {a: {"granularity_s": r.granularity or None, "completion_delay": r.delay is not None,
                               "batch": [f"{int(b // 3600):02d}:{int(b % 3600 // 60):02d}" for b in r.batch]}
                           for a, r in sorted((a, self.rule(a)) for a in self.rules)},
            "counts": dict(self.counts),
        }
        if self.window is not None:
            out["window"] = {"start": self.window.start.isoformat(), "end": self.window.end.isoformat(),
                             "started_before": self.window.started_before,
                             "from": tb_iso(self.ws), "until": tb_iso(self.we)}
        return out


def parse_window(text: str) -> Window:
    """``2026-03-01..2026-09-30`` -> a Window (local dates, both included)."""
    a, sep, b = text.partition("..")
    try:
        if not sep:
            raise ValueError
        w = Window(date.fromisoformat(a.strip()), date.fromisoformat(b.strip()))
    except ValueError:
        raise ValueError(f"expected two dates like 2026-03-01..2026-09-30, got {text!r}") from None
    if w.end < w.start:
        raise ValueError(f"the end {w.end.isoformat()} is before the start {w.start.isoformat()}")
    return w


def build_recording(spec: Any, window: Window | None, *, tz: ZoneInfo, origin: datetime,
                    rng: np.random.Generator) -> Recording | None:
    """The run's Recording from the process's ``recording`` section (a RecordingSpec or None) and a window
    given on the command line (which replaces the file's dates, keeping its ``started_before``)."""
    if spec is None and window is None:
        return None

    def rule(r: Any) -> Rule:
        return Rule(float(r.granularity or 0.0), r.delay.sampler() if r.delay is not None else None,
                    tuple(sorted(r.batch or ())))

    system = rule(spec) if spec is not None else Rule()
    acts = {a: rule(r) for a, r in spec.activities.items()} if spec is not None else {}
    w = None
    if spec is not None and spec.window is not None:
        w = Window(spec.window.start, spec.window.end, spec.window.started_before)
    if window is not None:
        w = Window(window.start, window.end, w.started_before if w is not None else window.started_before)
    return Recording(tz=tz, origin=origin, system=system, activities=acts, window=w, rng=rng)
