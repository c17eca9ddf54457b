"""``events.xes``: IEEE 1849 XES, streamed as text with memory bounded by the open cases.

XES nests events inside their trace, but events arrive in time order across all cases and a case's row
(its trace attributes) only after its last event. So each event is rendered to its final XML text as it
arrives - column-wise in Arrow, which keeps the per-event Python work to one list append - and parked
under its case id; when the case row arrives, the whole ``<trace>`` is written and the buffer dropped.
Traces appear in case-row order, events inside a trace in time order.

A trace holds ``concept:name`` (the case id), ``status``, ``cost:total``, the case-level ``rules`` and
``exceptions`` when non-empty, and the case attributes typed as declared. An event holds ``concept:name``,
``lifecycle:transition``, ``time:timestamp`` (local time with its offset), ``org:resource`` and ``org:role``
and ``cost:total`` when known, ``procsim:event_id`` (joins with the flat logs), and ``rules`` and
``exception`` and ``procsim:exception_id`` (the instances in exceptions.csv) when non-empty, and
``procsim:batch`` (the batch id) on the events of a batched activity. With
``labels_in_log`` off no exception attribute is written at all.

Output is valid against the IEEE 1849-2016 XSD once the ``http://www.xes-standard.org/`` namespace is
stripped (the XSD has no target namespace). ``xes.version`` is ``1.0`` because the XSD types it as a
decimal. Every value is escaped for an XML attribute, and characters XML 1.0 cannot hold become U+FFFD.
"""

from __future__ import annotations

import re
from datetime import timezone
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from procsim.records import CaseBatch, EventBatch, exception_ids
from procsim.sinks.base import Sink, SinkContext

__all__ = ["XesSink", "escape"]

# Characters XML 1.0 cannot hold (Char production), plus the ones an attribute value must escape.
# RE2 (Arrow) never sees surrogates: Arrow strings are valid UTF-8.
_ARROW_INVALID = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x{FFFE}\x{FFFF}]"
_ARROW_SPECIAL = r"[&<>\"\t\n\r\x00-\x08\x0b\x0c\x0e-\x1f\x{FFFE}\x{FFFF}]"
_PY_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# '&' first, so the entities added after it are not escaped again; \t \n \r as references because
# attribute-value normalisation would otherwise turn them into spaces.
_ENTITIES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"),
             ("\t", "&#9;"), ("\n", "&#10;"), ("\r", "&#13;"))

_EXTENSIONS = (("Concept", "concept"), ("Time", "time"), ("Lifecycle", "lifecycle"),
               ("Organizational", "org"), ("Cost", "cost"))

_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<log xes.version="1.0" xes.features="" xmlns="http://www.xes-standard.org/">\n'
    + "".join(f'\t<extension name="{n}" prefix="{p}" uri="http://www.xes-standard.org/{p}.xesext"/>\n'
              for n, p in _EXTENSIONS)
    + '\t<global scope="trace">\n'
      '\t\t<string key="concept:name" value="__INVALID__"/>\n'
      '\t</global>\n'
      '\t<global scope="event">\n'
      '\t\t<string key="concept:name" value="__INVALID__"/>\n'
      '\t\t<string key="lifecycle:transition" value="complete"/>\n'
      '\t\t<date key="time:timestamp" value="1970-01-01T00:00:00.000+00:00"/>\n'
      '\t\t<string key="procsim:event_id" value="__INVALID__"/>\n'
      '\t</global>\n'
      '\t<classifier name="Activity" keys="concept:name"/>\n'
      '\t<classifier name="Activity_Lifecycle" keys="concept:name lifecycle:transition"/>\n'
      '\t<classifier name="Resource" keys="org:resource"/>\n'
      '\t<string key="lifecycle:model" value="standard"/>\n'
)

# An offset with seconds (+HH:MM:SS, historic local mean time) is not an xs:dateTime.
_SECONDS_OFFSET = r"[+-]\d\d:\d\d:\d\d$"


def escape(text: str) -> str:
    """``text`` as a double-quoted XML attribute value; characters XML 1.0 cannot hold become U+FFFD."""
    text = _PY_INVALID.sub("\ufffd", text)
    for raw, ent in _ENTITIES:
        if raw in text:
            text = text.replace(raw, ent)
    return text


def _escape_array(arr: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    # one scan decides; most columns (ids, activity names, roles) need no rewriting at all
    if not pc.any(pc.match_substring_regex(arr, _ARROW_SPECIAL)).as_py():
        return arr
    arr = pc.replace_substring_regex(arr, _ARROW_INVALID, "\ufffd")
    for raw, ent in _ENTITIES:
        arr = pc.replace_substring(arr, raw, ent)
    return arr


def _floats(arr: Any) -> Any:
    """xs:double text. Arrow's float-to-string is the shortest text that round-trips (the same text the CSV
    sink writes) and ~4x faster than ``repr`` per value; only the non-finite spellings differ from xs:double."""
    text = pc.cast(arr, pa.string())
    if not pc.all(pc.is_finite(arr)).as_py():  # null-skipping: only NaN/inf make this false
        text = pc.if_else(pc.is_nan(arr), "NaN",
                          pc.if_else(pc.is_inf(arr), pc.if_else(pc.less(arr, 0.0), "-INF", "INF"), text))
    return text


def _piece(prefix: str, values: Any, suffix: str = '"/>\n') -> Any:
    """``prefix + value + suffix`` per row, or "" where the value is null."""
    return pc.binary_join_element_wise(prefix, values, suffix, "").fill_null("")


def _exception_ids(t: pa.Table, meta: dict[str, Any]) -> pa.Array:
    exc = t.column("exception")
    if not pc.any(pc.not_equal(exc, "")).as_py():
        return pa.nulls(t.num_rows, pa.string())
    return pa.array(exception_ids(exc.to_pylist(), t.column("case_id").to_pylist(), meta), pa.string())


def _nonempty(values: Any) -> Any:
    """Empty strings as nulls, so their attribute is left out."""
    return pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)


class XesSink(Sink):
    """``events.xes``: the event log in IEEE XES (lifecycle extension, one trace per case)."""

    format = "xes"
    filename = "events.xes"

    def __init__(self, ctx: SinkContext) -> None:
        super().__init__(ctx)
        self._open: dict[str, list[bytes]] = {}  # case id -> its events' XML (UTF-8), in time order
        self._fh: IO[bytes] | None = open(self.temp, "wb", buffering=1 << 20)
        self._fh.write((_HEAD + f'\t<string key="concept:name" value="{escape(ctx.process_name)}"/>\n').encode())
        # a case attribute of the user's own wins over our run columns of the same name
        names = ctx.attr_names
        self._status = "status" not in names
        case_schema = ctx.extra.get("case_schema")
        cols = case_schema.names if case_schema is not None else []
        # case-level rules and business exceptions, when the recorder has them (written only when non-empty)
        self._batch = bool(ctx.extra.get("batches"))  # the events table has procsim's 'batch' column
        self._case_labels = [k for k in ("rules", "exceptions")
                             if k in cols and k not in names and (k != "exceptions" or ctx.labels_in_log)]

    # -- events ---------------------------------------------------------------------------------------

    def write_events(self, batch: EventBatch) -> None:
        t = batch.table
        n = t.num_rows
        if n == 0:
            return
        iso = batch.iso_text
        # 29 characters hold only '+HH:MM' offsets; anything longer may carry seconds
        wide = pc.max(pc.binary_length(iso)).as_py() > 29
        if wide and pc.any(pc.match_substring_regex(iso, _SECONDS_OFFSET)).as_py():
            iso = _utc_iso(t.column("timestamp"), iso)
        pieces = [
            '\t\t<event>\n\t\t\t<string key="concept:name" value="', _escape_array(t.column("activity")),
            '"/>\n\t\t\t<string key="lifecycle:transition" value="', t.column("lifecycle"),
            '"/>\n\t\t\t<date key="time:timestamp" value="', iso, '"/>\n',
            _piece('\t\t\t<string key="org:resource" value="', _escape_array(t.column("resource"))),
            _piece('\t\t\t<string key="org:role" value="', _escape_array(t.column("role"))),
            _piece('\t\t\t<float key="cost:total" value="', _floats(t.column("cost"))),
            '\t\t\t<string key="procsim:event_id" value="', t.column("event_id"), '"/>\n',
            _piece('\t\t\t<string key="rules" value="', _escape_array(_nonempty(t.column("rules")))),
        ]
        if self.ctx.labels_in_log:
            pieces.append(_piece('\t\t\t<string key="exception" value="',
                                 _escape_array(_nonempty(t.column("exception")))))
            # the exception instances (exceptions.csv's exception_id), so each event joins its ground truth
            pieces.append(_piece('\t\t\t<string key="procsim:exception_id" value="',
                                 _escape_array(_exception_ids(t, self.ctx.extra.get("exc_meta") or {}))))
        if self._batch:  # a process with batched activities: the batch id, where there is one
            pieces.append(_piece('\t\t\t<string key="procsim:batch" value="', _escape_array(t.column("batch"))))
        pieces.append("\t\t</event>\n")
        texts = pc.binary_join_element_wise(*pieces, "")
        if isinstance(texts, pa.ChunkedArray):
            texts = texts.combine_chunks()
        # group the batch by case without a Python object per event: a stable sort by case keeps each
        # case's events in time order, and one list-join per case yields its part of the trace
        enc = pc.dictionary_encode(t.column("case_id").combine_chunks())
        codes = enc.indices.to_numpy(zero_copy_only=False)
        counts = np.bincount(codes, minlength=len(enc.dictionary))
        offsets = np.zeros(len(counts) + 1, dtype=np.int32)
        np.cumsum(counts, out=offsets[1:])
        lists = pa.ListArray.from_arrays(pa.array(offsets), texts.take(np.argsort(codes, kind="stable")))
        chunks = pc.cast(pc.binary_join(lists, ""), pa.binary()).to_pylist()
        open_ = self._open
        for cid, chunk in zip(enc.dictionary.to_pylist(), chunks):
            buf = open_.get(cid)
            if buf is None:
                open_[cid] = [chunk]
            else:
                buf.append(chunk)

    # -- cases ----------------------------------------------------------------------------------------

    def write_cases(self, batch: CaseBatch) -> None:
        t = batch.table
        if t.num_rows == 0 or self._fh is None:
            return
        cids = t.column("case_id")
        pieces: list[Any] = ['\t<trace>\n\t\t<string key="concept:name" value="', _escape_array(cids), '"/>\n']
        if self._status:
            pieces.append(_piece('\t\t<string key="status" value="', _escape_array(t.column("status"))))
        pieces.append(_piece('\t\t<float key="cost:total" value="', _floats(t.column("cost"))))
        for key in self._case_labels:
            pieces.append(_piece(f'\t\t<string key="{key}" value="', _escape_array(_nonempty(t.column(key)))))
        for name in self.ctx.attr_names:
            col = t.column(name)
            key = escape(name)
            typ = col.type
            if pa.types.is_floating(typ):
                pieces.append(_piece(f'\t\t<float key="{key}" value="', _floats(col)))
            elif pa.types.is_integer(typ):
                pieces.append(_piece(f'\t\t<int key="{key}" value="', pc.cast(col, pa.string())))
            elif pa.types.is_boolean(typ):
                pieces.append(_piece(f'\t\t<boolean key="{key}" value="', pc.cast(col, pa.string())))
            else:
                pieces.append(_piece(f'\t\t<string key="{key}" value="', _escape_array(pc.cast(col, pa.string()))))
        heads = pc.cast(pc.binary_join_element_wise(*pieces, ""), pa.binary()).to_pylist()
        pop = self._open.pop
        out: list[bytes] = []
        for cid, head in zip(cids.to_pylist(), heads):
            out.append(head)
            out.extend(pop(cid, ()))
            out.append(b"\t</trace>\n")
        self._fh.write(b"".join(out))

    def _finish(self) -> None:
        fh = self._fh
        if fh is None:
            return
        self._fh = None
        try:
            # events of cases that never got a case row: in order of their first event
            for cid, events in self._open.items():
                fh.write(f'\t<trace>\n\t\t<string key="concept:name" value="{escape(cid)}"/>\n'.encode())
                fh.write(b"".join(events))
                fh.write(b"\t</trace>\n")
            self._open.clear()
            fh.write(b"</log>\n")
        finally:
            fh.close()


def _utc_iso(ts: pa.ChunkedArray, iso: pa.Array) -> pa.Array:
    """Rows whose offset has seconds are rewritten in UTC (same instant, a valid xs:dateTime)."""
    bad = pc.match_substring_regex(iso, _SECONDS_OFFSET).to_pylist()
    values = iso.to_pylist()
    stamps = ts.to_pylist()
    for i, b in enumerate(bad):
        if b:
            values[i] = stamps[i].astimezone(timezone.utc).isoformat(timespec="milliseconds")
    return pa.array(values, pa.string())
