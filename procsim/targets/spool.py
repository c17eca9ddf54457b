"""An ordered, bounded queue of messages for a target: in memory while the target keeps up, on disk when not;
and ``SpoolingTarget``, the sender thread that empties it (HTTP, PostgreSQL and SMTP targets).

While the target is down the run goes on and messages pile up in ``spool.bin`` (length-prefixed records) up to
``max_bytes``; then ``put`` blocks, which blocks the writer thread and so the simulation (back-pressure: memory
stays bounded and nothing is dropped). Order is kept because a message goes to memory only while the disk part
is empty: everything on disk is newer than everything in memory.
"""

from __future__ import annotations

import os
import struct
import threading
from abc import abstractmethod
from collections import deque
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

from procsim.errors import ProcsimError
from procsim.sinks.base import SinkContext
from procsim.targets.base import Options, Target, TargetContext

__all__ = ["Spool", "Message", "SpoolingTarget"]

_HEAD = struct.Struct(">II")  # length of the header (key), length of the body

Message = tuple[str, bytes, int]  # (idempotency key, body, events in it)


class Spool:
    def __init__(self, folder: Path, mem_items: int = 8, max_bytes: int = 256 << 20) -> None:
        self.path = folder / "spool.bin"
        self.mem_items = mem_items
        self.max_bytes = max_bytes
        self._cv = threading.Condition()
        self._mem: deque[Message] = deque()
        self._file: BinaryIO | None = None
        self._read = self._write = 0  # offsets of the disk part
        self._disk_items = 0
        self.pending_bytes = 0
        self.spilled = 0  # messages that went through the disk
        self.peak_bytes = 0
        self.closed = False

    def put(self, msg: Message) -> None:
        size = len(msg[1]) + len(msg[0])
        with self._cv:
            # back-pressure: wait for room (a single message larger than the bound still goes, alone)
            # (closed: the sender stopped on an error; the caller learns it from the target, never waits forever)
            while self.pending_bytes and self.pending_bytes + size > self.max_bytes and not self.closed:
                self._cv.wait()
            if self._disk_items == 0 and len(self._mem) < self.mem_items:
                self._mem.append(msg)
            else:
                self._spill(msg)
            self.pending_bytes += size
            self.peak_bytes = max(self.peak_bytes, self.pending_bytes)
            self._cv.notify_all()

    def _spill(self, msg: Message) -> None:
        if self._file is None:
            # never through a link planted at the fixed name (the output folder's rule, issue #11)
            self._file = os.fdopen(os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600),
                                   "w+b")
        key = msg[0].encode()
        self._file.seek(self._write)
        self._file.write(_HEAD.pack(len(key), len(msg[1])) + key + msg[1] + struct.pack(">I", msg[2]))
        self._write = self._file.tell()
        self._disk_items += 1
        self.spilled += 1

    def empty(self) -> bool:
        """Nothing waiting: every message put has been popped (handed over by the sender)."""
        with self._cv:
            return not self._mem and not self._disk_items

    def head(self, timeout: float | None = None) -> Message | None:
        """The oldest message (left in place until ``pop``); None once closed and empty, or on timeout."""
        with self._cv:
            while not self._mem and not self._disk_items:
                if self.closed or not self._cv.wait(timeout):
                    return None
            if self._mem:
                return self._mem[0]
            assert self._file is not None
            self._file.seek(self._read)
            klen, blen = _HEAD.unpack(self._file.read(_HEAD.size))
            key = self._file.read(klen).decode()
            body = self._file.read(blen)
            (n,) = struct.unpack(">I", self._file.read(4))
            return key, body, n

    def pop(self) -> None:
        with self._cv:
            if self._mem:
                key, body, _ = self._mem.popleft()
            else:
                assert self._file is not None
                self._file.seek(self._read)
                klen, blen = _HEAD.unpack(self._file.read(_HEAD.size))
                self._read += _HEAD.size + klen + blen + 4
                self._disk_items -= 1
                key, body = "k" * klen, b"b" * blen
                if not self._disk_items:  # empty again: start the file over instead of growing it
                    self._read = self._write = 0
                    self._file.truncate(0)
            self.pending_bytes -= len(body) + len(key)
            self._cv.notify_all()

    def close(self) -> None:
        """No more messages: ``head`` returns None once the rest is delivered."""
        with self._cv:
            self.closed = True
            self._cv.notify_all()

    def discard(self) -> None:
        with self._cv:
            if self._file is not None:
                self._file.close()
                self._file = None
            self.path.unlink(missing_ok=True)


class SpoolingTarget(Target):
    """A target whose writer thread formats messages into a ``Spool`` and whose sender thread delivers them in
    order: ``_send`` delivers one message (retrying as its protocol wants) or raises ``ProcsimError``;
    ``_sent`` records it, and only then does it leave the spool. The first error stops the sender; the writer
    thread raises it at its next batch (``_check``) or at the end (``_finish``)."""

    thread_name: ClassVar[str] = "procsim-target"

    def __init__(self, ctx: SinkContext, tctx: TargetContext, options: Options) -> None:
        super().__init__(ctx, tctx, options)
        self.error: str | None = None  # set by the sender thread (or abort): the writer thread raises it

    def _start_sender(self, queue: int, spool_mb: float) -> None:
        self.spool = Spool(self.tctx.state_dir, queue, int(spool_mb * (1 << 20)))
        self._sender = threading.Thread(target=self._send_all, name=self.thread_name, daemon=True)
        self._sender.start()

    @abstractmethod
    def _send(self, msg: Message) -> None:
        """Deliver one message, retrying while that can help; ProcsimError when it cannot."""

    def _sent(self, msg: Message) -> None:  # noqa: B027 - optional
        """Record a delivered message (called before it leaves the spool)."""

    def _send_all(self) -> None:
        while self.error is None:
            msg = self.spool.head()
            if msg is None:
                return
            try:
                self._send(msg)
            except ProcsimError as e:
                self.error = str(e)
                self.spool.close()  # a writer waiting for room goes on, and raises the error
                return
            self._sent(msg)
            self.spool.pop()

    def _check(self) -> None:
        if self.error is not None:
            raise ProcsimError(self.error)

    def _stop_sender(self, timeout: float | None = None) -> None:
        """No more messages: wait for the sender to deliver the rest (or to stop on its error)."""
        self.spool.close()
        self._sender.join(timeout)
        self.spool.discard()

    def abort(self) -> None:
        self.error = self.error or "aborted"
        self._stop_sender(timeout=5)

    def report(self) -> dict[str, Any]:
        return super().report() | {"spooled_to_disk": self.spool.spilled, "spool_peak_bytes": self.spool.peak_bytes}
