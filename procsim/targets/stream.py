"""What ``procsim run`` needs to stream: the ``--to`` targets, ``--pace``, ``--start`` and ``--resume``, in one
object the run calls at three points (prepare the process, open the targets, describe them in the manifest).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from procsim.errors import UsageError
from procsim.sinks.base import SinkContext
from procsim.spec import LoadedProcess
from procsim.targets.base import Target, read_state, write_state
from procsim.targets.pacing import Pace, parse_pace

STREAM_FLUSH = 5_000  # events per hand-over at --pace max: a consumer sees events while the run goes


@dataclass
class StreamOptions:
    urls: Sequence[str] = ()
    pace: Pace = field(default_factory=lambda: Pace(None))
    start: str | None = None  # 'now' or an ISO 8601 time with offset: the simulated calendar's origin
    resume: bool = False
    secret_env: str | None = None
    out_dir: Path | None = None  # where --resume finds the recorded start
    targets: list[Target] = field(default_factory=list)
    _start_iso: str = ""
    mail_to: str | None = None  # envelope recipient of smtp targets
    _record_start: bool = False

    @classmethod
    def from_flags(cls, urls: Sequence[str], pace: str, start: str | None, resume: bool,
                   secret_env: str | None, out_dir: Path, mail_to: str | None = None) -> StreamOptions:
        from procsim.targets import check_urls

        bad = []
        for check in (lambda: check_urls(urls), lambda: parse_pace(pace)):
            try:
                check()  # bad flags fail before anything is loaded, every one at once
            except UsageError as e:
                bad.append(str(e))
        if bad:
            raise UsageError("\n".join(bad))
        return cls(list(urls), parse_pace(pace), start, resume, secret_env, Path(out_dir), mail_to=mail_to)

    def prepare(self, loaded: LoadedProcess, flush_every: int) -> tuple[LoadedProcess, int]:
        """Shift the calendar for --start; smaller hand-overs when events go to targets."""
        spec = loaded.spec
        if self.start is not None:
            zone = ZoneInfo(spec.process.timezone)
            start = self._start(zone)
            spec = spec.model_copy(update={"process": spec.process.model_copy(update={"start": start})})
            loaded = dataclasses.replace(loaded, spec=spec)
            if loaded.rules is not None:
                loaded.rules.origin = start  # rules read 'now' from the same origin
        self._start_iso = spec.process.start.isoformat()
        return loaded, (min(flush_every, STREAM_FLUSH) if self.urls else flush_every)

    def _start(self, zone: ZoneInfo) -> dt.datetime:
        state = self.out_dir / ".targets" / "run.json" if self.out_dir is not None else None
        if self.resume and state is not None and read_state(state).get("start"):
            # a resumed run replays the same calendar, or its events would not be the ones delivered before
            return dt.datetime.fromisoformat(read_state(state)["start"])
        if self.start == "now":
            start = dt.datetime.now(zone).replace(microsecond=0)
        else:
            try:
                start = dt.datetime.fromisoformat(str(self.start))
            except ValueError:
                raise UsageError(f"--start '{self.start}': give 'now' or a time like 2026-01-05T08:00:00+01:00") \
                    from None
            if start.tzinfo is None:
                raise UsageError(f"--start '{self.start}': needs a UTC offset, like 2026-01-05T08:00:00+01:00")
            start = start.astimezone(zone)
        self._record_start = True  # written by open(): the output folder is not ours to write before the run has it
        return start

    def open(self, ctx: SinkContext, loaded: LoadedProcess, seed: int, cases: int | None,
             horizon: float | None) -> list[Target]:
        from procsim.targets import open_targets, run_key

        key = run_key(loaded.inputs, seed, cases, horizon, self._start_iso)
        if self._record_start and self.out_dir is not None:
            state = self.out_dir / ".targets" / "run.json"
            state.parent.mkdir(parents=True, exist_ok=True)
            write_state(state, {"start": self._start_iso})
        self.targets = open_targets(self.urls, ctx, key, resume=self.resume, secret_env=self.secret_env,
                                    mail_to=self.mail_to)
        return list(self.targets)

    def manifest(self) -> dict[str, Any]:
        from procsim.targets import manifest_entry

        return {"stream": {"pace": "max" if self.pace.factor is None else f"{self.pace.factor:g}x",
                           "start": self._start_iso, "resume": self.resume,
                           "targets": manifest_entry(self.targets)}}
