"""``http://`` and ``https://`` web hooks: events POSTed as JSON, signed, with idempotency keys, retried.

Delivery is at-least-once: a message is removed from the spool only after a 2xx answer, and a sender thread
retries with exponential backoff while the target is down (connection refused, timeouts, 5xx, 408, 429). Each
message carries ``Idempotency-Key: RUN:FIRST-LAST`` (``RUN:EVENT`` for single events), ``X-Procsim-Run`` and
``X-Procsim-Signature: sha256=HEX`` (HMAC-SHA256 of the body with the ``--secret-env`` secret); every event
holds its ``event_id``, so a receiver dedupes per event with (run, event_id) and sees each event once.
Progress (events acknowledged) is kept in the target's state folder, so ``--resume`` sends only the rest.

Options (URL query): ``batch`` (events per request; 1 sends single events), ``timeout`` (s per request),
``max_backoff`` (s), ``give_up`` (s without any delivery before the run fails), ``spool_mb``, ``queue``
(messages kept in memory before spilling to disk), ``ca`` (https: a PEM file of the certificates to trust
instead of the system's, for a system under test with a private certificate authority). A certificate that
does not verify fails the run at once: retrying cannot help.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import os
import ssl
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa

from procsim.errors import ProcsimError, UsageError
from procsim.sinks.base import SinkContext
from procsim.targets.base import Options, TargetContext, json_lines, public_url, read_state, write_state
from procsim.targets.spool import Message, SpoolingTarget

_RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}


@dataclass(frozen=True)
class HttpOptions(Options):
    batch: int = 500
    timeout: float = 10.0
    max_backoff: float = 5.0
    give_up: float = 300.0
    spool_mb: float = 256.0
    queue: int = 8
    ca: str = ""  # https: a PEM file of trusted certificates (instead of the system's)

    def __post_init__(self) -> None:
        if self.batch < 1:
            raise ValueError("option 'batch' must be at least 1")
        if self.ca and not os.path.isfile(self.ca):
            raise ValueError(f"option 'ca': no such file '{self.ca}'")
        if self.spool_mb <= 0 or self.queue < 1:
            raise ValueError("option 'spool_mb' must be positive and 'queue' at least 1")


class HttpTarget(SpoolingTarget):
    """HTTP(S) webhook: JSON batches or single events, HMAC-SHA256 signed, idempotency keys, retries, spool."""

    schemes = ("http", "https")
    options_type = HttpOptions
    thread_name = "procsim-http"

    def __init__(self, ctx: SinkContext, tctx: TargetContext, options: Options) -> None:
        super().__init__(ctx, tctx, options)
        assert isinstance(options, HttpOptions)
        self.opt = options
        parts = urlsplit(tctx.url)
        if not parts.hostname:
            raise UsageError(f"--to {public_url(tctx.url)}: no host")
        self.https = parts.scheme == "https"
        if options.ca and not self.https:
            raise UsageError(f"--to {public_url(tctx.url)}: option 'ca' is for https:// URLs")
        self.tls: ssl.SSLContext | None = None
        if self.https:
            try:
                self.tls = ssl.create_default_context(cafile=options.ca or None)
            except (OSError, ssl.SSLError) as e:
                raise UsageError(f"--to {public_url(tctx.url)}: option 'ca': cannot read certificates from "
                                 f"'{options.ca}' ({e})") from None
        self.host, self.port = parts.hostname, parts.port
        self.path = (parts.path or "/")
        self.auth: str | None = None
        if parts.username:
            import base64

            pair = f"{parts.username}:{parts.password or ''}".encode()
            self.auth = "Basic " + base64.b64encode(pair).decode()
        self.state = tctx.state_dir / "delivered.json"
        old = read_state(self.state)
        if tctx.resume and old.get("run") == tctx.run_key:
            self.skip = int(old.get("events", 0))
        self.acked = self.skip
        write_state(self.state, {"run": tctx.run_key, "events": self.acked})
        self.last_error: str | None = None
        self.requests = 0
        self._conn: http.client.HTTPConnection | None = None
        self._start_sender(options.queue, options.spool_mb)

    # -- the writer thread's side ------------------------------------------------------------------

    def deliver(self, table: pa.Table) -> None:
        self._check()
        lines = json_lines(table)
        ids = table.column("event_id").to_pylist()
        key = self.tctx.run_key
        size = self.opt.batch
        for i in range(0, len(lines), size):
            part = lines[i:i + size]
            if size == 1:
                msg: Message = (f"{key}:{ids[i]}", part[0], 1)
            else:
                body = b'{"run":"' + key.encode() + b'","events":[' + b",".join(part) + b"]}"
                msg = (f"{key}:{ids[i]}-{ids[i + len(part) - 1]}", body, len(part))
            self.spool.put(msg)  # blocks while the spool is full: back-pressure on the simulation

    def _finish(self) -> None:
        self._stop_sender()
        if self._conn is not None:
            self._conn.close()
        self._check()

    def report(self) -> dict[str, Any]:
        return super().report() | {"requests": self.requests}

    # -- the sender thread ---------------------------------------------------------------------------

    def _send(self, msg: Message) -> None:
        """POST one message until a 2xx answer, with backoff; ProcsimError when retrying cannot help."""
        delay, since = 0.05, time.monotonic()
        while True:
            problem = self._post(msg)
            if problem is None:
                return
            if problem.startswith("!"):  # the target refused the message itself: retrying cannot help
                raise ProcsimError(f"--to {public_url(self.tctx.url)}: {problem[1:]}")
            self.retries += 1
            self.last_error = problem
            if self.error is not None:  # aborted meanwhile
                raise ProcsimError(self.error)
            if time.monotonic() - since > self.opt.give_up:
                raise ProcsimError(f"--to {public_url(self.tctx.url)}: no delivery for {self.opt.give_up:g} s "
                                   f"({problem}); {self.acked} events were delivered: run again with --resume "
                                   "to send the rest")
            time.sleep(delay)
            delay = min(delay * 2, self.opt.max_backoff)

    def _sent(self, msg: Message) -> None:
        self.delivered += msg[2]
        self.acked += msg[2]
        write_state(self.state, {"run": self.tctx.run_key, "events": self.acked})

    def _post(self, msg: Message) -> str | None:
        """None when the target took it; a retryable problem; or '!problem' when retrying cannot help."""
        key, body, n = msg
        headers = {"Content-Type": "application/json", "Idempotency-Key": key, "X-Procsim-Run": self.tctx.run_key,
                   "X-Procsim-Events": str(n), "Content-Length": str(len(body))}
        if self.tctx.secret is not None:
            sig = hmac.new(self.tctx.secret, body, hashlib.sha256).hexdigest()
            headers["X-Procsim-Signature"] = f"sha256={sig}"
        if self.auth is not None:
            headers["Authorization"] = self.auth
        try:
            if self._conn is None:
                if self.tls is not None:
                    self._conn = http.client.HTTPSConnection(self.host, self.port, timeout=self.opt.timeout,
                                                             context=self.tls)
                else:
                    self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.opt.timeout)
            self.requests += 1
            self._conn.request("POST", self.path, body=body, headers=headers)
            resp = self._conn.getresponse()
            resp.read()
        except ssl.SSLCertVerificationError as e:
            if self._conn is not None:
                self._conn.close()
            self._conn = None
            return (f"!TLS: the server's certificate does not verify ({e.verify_message}); for a private "
                    "certificate authority give ?ca=PATH (a PEM file)")
        except (OSError, http.client.HTTPException) as e:
            if self._conn is not None:
                self._conn.close()
            self._conn = None  # a fresh connection on the next try
            return f"{type(e).__name__}: {e}"
        if 200 <= resp.status < 300:
            return None
        if resp.status in _RETRY_STATUS:
            return f"HTTP {resp.status}"
        return f"!HTTP {resp.status} {resp.reason} for {key}"
