"""The delivery contract: a target is a sink that delivers the run's ordered event stream to a system.

A file sink (``procsim.sinks``) writes a file and renames it at the end; a target sends every batch it is given
to a system under test (a pipe, a web hook, a database) while the simulation runs. Both are fed by the same
calls on the writer thread (``procsim.writer``), in output order, so a target sees exactly the events the files
hold. A target returns no files from ``close``; instead it reports what it delivered for the manifest.

Each target is named by a URL (``--to``); its options are a typed dataclass filled from the URL's query
(``http://host/hook?batch=200``), checked with a clear message naming the bad key.
"""

from __future__ import annotations

import dataclasses
import json
from abc import abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from procsim.errors import UsageError
from procsim.outdir import write_whole
from procsim.records import CaseBatch, EventBatch
from procsim.registry import Registry
from procsim.sinks.base import Sink, SinkContext

SCHEMES: Registry[type[Target]] = Registry("delivery target", "procsim.targets", "Delivery targets (--to)")


@dataclass(frozen=True)
class TargetContext:
    """What a target knows beyond the sink context: who it is, where its state lives, how to resume."""

    url: str  # as given, credentials included: never logged or written (see ``public_url``)
    run_key: str  # stable for the same inputs, seed and size: re-sent events carry the same idempotency keys
    state_dir: Path  # OUT/.targets/<slug>: spool and delivery state, kept between runs for --resume
    resume: bool = False
    secret: bytes | None = None  # the HMAC key (from --secret-env), for targets that sign
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Options:
    """Base of a target's options: fields filled from the URL query, each converted to the field's type."""

    @classmethod
    def parse(cls, url: str, query: str) -> Options:
        fields = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        bad = []
        for key, raw in parse_qsl(query, keep_blank_values=True):
            f = fields.get(key)
            if f is None:
                known = ", ".join(sorted(fields)) or "none"
                bad.append(f"--to {public_url(url)}: unknown option '{key}' (choose from: {known})")
                continue
            try:
                values[key] = _convert(raw, f.type)
            except ValueError as e:
                bad.append(f"--to {public_url(url)}: option '{key}': {e}")
        if bad:
            raise UsageError("\n".join(bad))
        try:
            return cls(**values)
        except ValueError as e:
            raise UsageError(f"--to {public_url(url)}: {e}") from None


def _convert(raw: str, typ: Any) -> Any:
    name = typ if isinstance(typ, str) else getattr(typ, "__name__", str(typ))
    if name.startswith("int"):
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"'{raw}' is not a whole number") from None
    if name.startswith("float"):
        try:
            return float(raw)
        except ValueError:
            raise ValueError(f"'{raw}' is not a number") from None
    if name.startswith("bool"):
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"'{raw}' is not true or false")
    return raw


def public_url(url: str) -> str:
    """The URL without its password, for messages and the manifest (credentials are never written)."""
    if ":" not in url or url.startswith("jsonl:"):
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host += f":{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))


class Target(Sink):
    """A sink without a file: ``deliver`` gets the event rows of each batch (after any resume skip)."""

    schemes: ClassVar[tuple[str, ...]] = ()
    options_type: ClassVar[type[Options]] = Options
    filename: ClassVar[str] = ""  # no file: the run's folder bookkeeping (procsim.outdir) leaves targets out
    entry: ClassVar[str | None] = None

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        for s in cls.__dict__.get("schemes", ()):
            SCHEMES.add(s, cls)

    def __init__(self, ctx: SinkContext, tctx: TargetContext, options: Options) -> None:
        # no super().__init__: a target has no file name
        self.ctx = ctx
        self.tctx = tctx
        self.options = options
        self.digests: dict[str, str] = {}
        self.seen = 0  # events handed to this target by the run, including those skipped on resume
        self.skip = 0  # events the target already holds (resume): not sent again
        self.delivered = 0  # events the target acknowledged in this run
        self.retries = 0
        self.cases_delivered = 0

    # -- the sink calls ---------------------------------------------------------------------------

    def write_events(self, batch: EventBatch) -> None:
        n = batch.table.num_rows
        first = self.seen
        self.seen += n
        if self.seen <= self.skip:
            return
        table = event_table(batch, self.ctx.labels_in_log)
        if first < self.skip:
            table = table.slice(self.skip - first)
        self.deliver(table)

    @abstractmethod
    def deliver(self, table: pa.Table) -> None:
        """Send these events (in output order, timestamps as ISO text); may block (back-pressure)."""

    def write_cases(self, batch: CaseBatch) -> None:  # noqa: B027 - optional for a target
        """Targets that keep cases (a database) override this."""

    def _finish(self) -> None:
        """Deliver what is still pending and release connections."""

    def close(self) -> list[Path]:
        self._finish()
        return []

    def abort(self) -> None:
        try:
            self._finish()
        except Exception:  # noqa: BLE001 - cleaning up after a failure; the first error is what matters
            pass

    def report(self) -> dict[str, Any]:
        """What the manifest records for this target (never credentials)."""
        return {"url": public_url(self.tctx.url), "type": type(self).__name__,
                "options": dataclasses.asdict(self.options), "events_delivered": self.delivered,
                "events_skipped_on_resume": self.skip, "cases_delivered": self.cases_delivered,
                "retries": self.retries}


def event_table(batch: EventBatch, labels_in_log: bool) -> pa.Table:
    """The batch with ISO text timestamps (as in events.csv); without the label column for blind tests."""
    table = batch.table.set_column(batch.table.schema.get_field_index("timestamp"), "timestamp", batch.iso_text)
    if not labels_in_log:
        table = table.drop_columns(["exception"])
    return table


def json_lines(table: pa.Table) -> list[bytes]:
    """One compact JSON object per event, keys in column order (numbers stay numbers, nulls null)."""
    return [x.encode() for x in json_text(table).to_pylist()]


def json_text(table: pa.Table) -> pa.Array:
    """The rows as JSON object text, built column-wise with Arrow kernels (several times faster than
    ``json.dumps`` per row, which matters at 100,000 events/s). A string column without nulls is joined
    between constant pieces that carry its quotes (``,"activity":"`` ... ``","lifecycle":``), and escaped only
    when a scan of its bytes finds a quote or a backslash: most columns then cost no kernel of their own."""
    if table.num_rows == 0:
        return pa.array([], pa.string())
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    parts: list[Any] = []
    text = "{"  # the constant text since the last column's values
    for i, (name, col) in enumerate(zip(table.column_names, table.columns)):
        arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        text += ("" if i == 0 else ",") + dumps(name) + ":"
        if arr.null_count == 0 and (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
            control, quote = _special_bytes(arr)
            if not control:
                if quote:
                    arr = pc.replace_substring(pc.replace_substring(arr, "\\", "\\\\"), '"', '\\"')
                parts += [text + '"', arr]
                text = '"'
                continue
        parts += [text, _json_values(arr, dumps)]
        text = ""
    parts.append(text + "}")
    return pc.binary_join_element_wise(*parts, "")


def _special_bytes(arr: pa.Array) -> tuple[bool, bool]:
    """Whether the string array's text holds control characters, and whether quotes or backslashes (a scan of
    its data buffer, about 4 ns a value against 60-70 for a regular-expression kernel)."""
    _, offsets, data = arr.buffers()
    if data is None or len(arr) == 0:
        return False, False
    kind = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    bounds = np.frombuffer(offsets, kind, count=len(arr) + 1, offset=arr.offset * np.dtype(kind).itemsize)
    # (a null's slot may hold bytes too: at worst they send the array down the slower path)
    raw = np.frombuffer(data, np.uint8)[int(bounds[0]):int(bounds[-1])]
    return bool((raw < 0x20).any()), bool(((raw == 0x22) | (raw == 0x5C)).any())


def _json_values(arr: pa.Array, dumps: Any) -> pa.Array:
    t = arr.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        control, quote = _special_bytes(arr)
        if control:
            # rare control characters: the encoder's own escaping
            return pa.array(["null" if v is None else dumps(v) for v in arr.to_pylist()], pa.string())
        text = pc.replace_substring(pc.replace_substring(arr, "\\", "\\\\"), '"', '\\"') if quote else arr
        return pc.fill_null(pc.binary_join_element_wise('"', text, '"', ""), "null")
    if pa.types.is_boolean(t) or pa.types.is_integer(t):
        return pc.fill_null(pc.cast(arr, pa.string()), "null")
    if pa.types.is_floating(t):
        finite = pc.is_finite(arr)  # NaN and infinities are not JSON: null
        return pc.fill_null(pc.if_else(finite, pc.cast(arr, pa.string()), pa.scalar(None, pa.string())), "null")
    return pa.array(["null" if v is None else dumps(v if isinstance(v, (str, int, float, bool)) else str(v))
                     for v in arr.to_pylist()], pa.string())


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Atomically replace a small JSON state file (delivery progress for --resume)."""
    write_whole(path, json.dumps(state))


def read_state(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
