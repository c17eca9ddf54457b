"""Turning simulation seconds into output timestamps (epoch milliseconds, ISO 8601 local time), vectorised.

Every output is at millisecond resolution, rounded half-to-even from ``t * 1000``: ``epoch_ms``, ``iso``,
``iso_one`` and ``to_datetime`` all round the same way, so a CSV and a Parquet file of one run agree to the ms.

``iso`` finds each timestamp's UTC offset with ``numpy.searchsorted`` over the zone's offset changes in the
covered range. Those are found by sampling ``utcoffset`` every 6 hours and bisecting each change to the second
(every transition in the tz database is at a whole second, and no zone changes offset twice within 6 hours);
the table is cached and widened as later timestamps arrive.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pyarrow as pa

__all__ = ["TimeBase"]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_STEP = 6 * 3600  # seconds between utcoffset samples
_PAD = 31 * 86400  # widen the offset table beyond the request so a growing run rarely rescans


def _offset_text(off: timedelta) -> str:
    """The offset as ``datetime.isoformat`` writes it: +HH:MM, with :SS only when non-zero."""
    sec = round(off.total_seconds())
    sign = "-" if sec < 0 else "+"
    h, r = divmod(abs(sec), 3600)
    m, s = divmod(r, 60)
    return f"{sign}{h:02d}:{m:02d}:{s:02d}" if s else f"{sign}{h:02d}:{m:02d}"


_MIN_MS = (datetime(1, 1, 2, tzinfo=timezone.utc) - _EPOCH) // timedelta(milliseconds=1)
_MAX_MS = (datetime(9999, 12, 30, tzinfo=timezone.utc) - _EPOCH) // timedelta(milliseconds=1)
_DAY_MS = 86_400_000
_tables: list[npt.NDArray[np.bytes_]] = []  # built on first use: 'HH:MM:SS' per second of day, '.mmm' per ms


def _time_tables() -> list[npt.NDArray[np.bytes_]]:
    if not _tables:
        _tables.append(np.array([f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60)
                                 for s in range(60)], dtype="S8"))
        _tables.append(np.array([f".{k:03d}" for k in range(1000)], dtype="S4"))
    return _tables


class TimeBase:
    """Simulation seconds since ``origin`` -> aware datetimes, UTC epoch ms and local ISO strings in ``tz``."""

    __slots__ = ("origin", "tz", "_origin_ms", "_frac_ms", "_lo", "_hi", "_tr", "_off_ms", "_off_txt",
                 "_d0", "_dtab")

    def __init__(self, origin: datetime, tz: ZoneInfo) -> None:
        if origin.tzinfo is None or origin.utcoffset() is None:
            raise ValueError(f"time base origin must be timezone-aware, got {origin.isoformat()}")
        self.origin = origin
        self.tz = tz
        us = (origin - _EPOCH) // timedelta(microseconds=1)
        ms, rem = divmod(us, 1000)
        self._origin_ms = ms
        self._frac_ms = rem / 1000.0  # a sub-ms origin joins the rounding
        self._lo = self._hi = 0  # covered range of the offset table, UTC epoch seconds (empty)
        self._tr = np.empty(0, dtype=np.int64)  # UTC epoch ms where a new offset starts
        self._off_ms = np.empty(0, dtype=np.int64)  # offset of each segment (len(_tr) + 1)
        self._off_txt = np.empty(0, dtype=np.bytes_)  # ASCII offset text per segment, NUL-padded to one width
        self._d0 = 0  # local day number (days since 1970-01-01) of _dtab[0]
        self._dtab = np.empty(0, dtype="S11")  # 'YYYY-MM-DDT' per local day

    # -- scalars ----------------------------------------------------------------------------------------------

    def _ms(self, t: float) -> int:
        # Python's round() and numpy.rint are both round-half-even on the same float: scalar == vector.
        return int(round(t * 1000.0 + self._frac_ms)) + self._origin_ms

    def to_datetime(self, t: float) -> datetime:
        """The aware datetime in ``tz`` of sim time ``t``, rounded to the millisecond like every output."""
        return (_EPOCH + timedelta(milliseconds=self._ms(t))).astimezone(self.tz)

    def iso_one(self, t: float) -> str:
        return self.to_datetime(t).isoformat(timespec="milliseconds")

    # -- vectors ----------------------------------------------------------------------------------------------

    def epoch_ms(self, ts: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Float sim seconds -> int64 UTC epoch milliseconds (round half to even)."""
        a = np.asarray(ts, dtype=np.float64)
        if not np.isfinite(a).all():
            raise ValueError("timestamps must be finite")
        x = a * 1000.0
        if self._frac_ms:
            x += self._frac_ms
        out = np.rint(x).astype(np.int64)
        out += self._origin_ms
        return out

    def _offset_at(self, sec: int) -> timedelta:
        off = datetime.fromtimestamp(sec, self.tz).utcoffset()
        assert off is not None
        return off

    def _cover(self, lo: int, hi: int) -> None:
        """Make the offset table cover UTC epoch seconds ``[lo, hi]``."""
        if self._off_ms.size and self._lo <= lo and hi <= self._hi:
            return
        if self._off_ms.size:
            lo, hi = min(lo, self._lo), max(hi, self._hi)
        lo -= _PAD
        hi += _PAD
        tr: list[int] = []
        offs = [self._offset_at(lo)]
        x = lo
        while x < hi:
            y = min(x + _STEP, hi)
            oy = self._offset_at(y)
            if oy != offs[-1]:
                a, b = x, y  # offset at a is the old one, at b the new one
                while b - a > 1:
                    m = (a + b) // 2
                    if self._offset_at(m) == offs[-1]:
                        a = m
                    else:
                        b = m
                tr.append(b * 1000)
                offs.append(oy)
            x = y
        self._lo, self._hi = lo, hi
        self._tr = np.array(tr, dtype=np.int64)
        self._off_ms = np.array([round(o.total_seconds() * 1000) for o in offs], dtype=np.int64)
        self._off_txt = np.array([_offset_text(o).encode() for o in offs], dtype=np.bytes_)

    def _days(self, lo: int, hi: int) -> None:
        """Make the date table cover local day numbers ``[lo, hi]``."""
        d0, n = self._d0, self._dtab.size
        if n and d0 <= lo and hi < d0 + n:
            return
        if n:
            lo, hi = min(lo, d0), max(hi, d0 + n - 1)
        lo, hi = max(lo - 31, _MIN_MS // _DAY_MS), min(hi + 31, _MAX_MS // _DAY_MS)
        first = _EPOCH.date() + timedelta(days=lo)
        self._dtab = np.array([(first + timedelta(days=k)).isoformat() + "T" for k in range(hi - lo + 1)],
                              dtype="S11")
        self._d0 = lo

    def iso(self, ts: npt.ArrayLike) -> npt.NDArray[np.str_]:
        """Sim seconds -> local ISO 8601 strings with offset, ms precision: '2026-01-05T08:13:22.123+01:00'."""
        rec, width = self._iso_bytes(ts)
        return rec.astype(f"U{width}")

    def iso_array(self, ts: npt.ArrayLike) -> pa.StringArray:
        """``iso`` as an Arrow string array (1-d), made from the ASCII bytes without a copy when every offset
        has the same width (always, but for historical offsets with seconds): text sinks hand it straight to
        Arrow, and no step of it holds the GIL for long (the sinks' thread shares it with the simulation)."""
        rec, width = self._iso_bytes(np.ravel(ts))
        n = rec.size
        if n and (rec.view(np.uint8).reshape(n, width)[:, -1] != 0).all():
            offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
            return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(rec)])
        return pa.array(rec.astype(f"U{width}"), pa.string())  # NUL-padded (narrower) offsets: trimmed

    def _iso_bytes(self, ts: npt.ArrayLike) -> tuple[npt.NDArray[np.bytes_], int]:
        """The ISO text as fixed-width ASCII records, and their width.

        Built from lookup tables (date per local day, 'HH:MM:SS' per second of day, '.mmm', offset per zone
        segment) as one record array viewed as bytes: ``numpy.datetime_as_string`` plus concatenation is ~5x
        slower. A narrower offset than the widest of the zone is NUL-padded.
        """
        ms = self.epoch_ms(ts)
        shape = ms.shape
        ms = ms.ravel()
        if ms.size == 0:
            return np.empty(shape, dtype="S29"), 29
        if ms.min() < _MIN_MS or ms.max() > _MAX_MS:
            raise ValueError("timestamps must fall in the years 1..9999")
        self._cover(int(ms.min()) // 1000, int(ms.max()) // 1000 + 1)
        if self._tr.size:
            idx = np.searchsorted(self._tr, ms, side="right")
            local = ms + self._off_ms[idx]
            off = self._off_txt[idx]
        else:
            local = ms + self._off_ms[0]
            off = self._off_txt[0]
        days, tod = np.divmod(local, _DAY_MS)
        sec, msec = np.divmod(tod, 1000)
        self._days(int(days.min()), int(days.max()))
        ttab, mtab = _time_tables()
        width = self._off_txt.itemsize
        rec = np.empty(ms.size, dtype=[("d", "S11"), ("t", "S8"), ("m", "S4"), ("o", f"S{width}")])
        rec["d"] = self._dtab[days - self._d0]
        rec["t"] = ttab[sec]
        rec["m"] = mtab[msec]
        rec["o"] = off
        return rec.view(f"S{23 + width}").reshape(shape), 23 + width

    def __repr__(self) -> str:
        return f"TimeBase(origin={self.origin.isoformat()!r}, tz={self.tz.key!r})"
