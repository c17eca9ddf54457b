"""``smtp://host:port``: the run's rendered documents sent as real e-mails (needs ``--format documents``).

Documents are rendered from the finished cases' objects, as the documents sink does (the same DocumentSet and
context, so the text is the same as in ``documents/``). An ``.eml`` template is an e-mail already: it is sent
as written. Any other document (an invoice in HTML, a payment advice in Markdown) becomes an e-mail with a
short text body and the document attached, plus its data as ``.json``. Every message carries
``X-Procsim-Document`` and ``X-Procsim-Run``; the envelope goes to ``?to=`` (or ``--mail-to``), from
``?from=``, and a ``Message-ID`` made from the document id and the run key, so a re-sent e-mail is recognisably
the same one.

The writer thread renders each e-mail and hands its bytes to a spool (``procsim.targets.spool``); a sender
thread sends them in order, retrying errors with exponential backoff on a new connection. While the server is
away the e-mails wait in the spool (memory, then ``spool.bin`` in the target's folder under ``--out``) and the
simulation goes on; only a full spool holds it up. Each accepted e-mail's document id is appended to
``delivered.txt`` there, so ``--resume`` sends only the others. Options: ``to``, ``from``, ``tls``
(STARTTLS, the server's certificate verified against the system's authorities or ``ca``), ``ca`` (a PEM file
of the certificates to trust instead), ``give_up``, ``max_backoff``, ``spool_mb``, ``queue``.
"""

from __future__ import annotations

import json
import os
import re
import smtplib
import ssl
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa

from procsim.errors import ProcsimError, UsageError
from procsim.records import CaseBatch
from procsim.sinks.base import SinkContext
from procsim.targets.base import Options, TargetContext, public_url
from procsim.targets.spool import Message, SpoolingTarget

_MIME = {"html": ("text", "html"), "md": ("text", "markdown"), "txt": ("text", "plain")}


@dataclass(frozen=True)
class SmtpOptions(Options):
    to: str = ""
    sender: str = field(default="procsim@localhost", metadata={"query": "from"})
    tls: bool = False
    ca: str = ""  # with tls: a PEM file of trusted certificates (instead of the system's)
    give_up: float = 300.0
    max_backoff: float = 5.0
    spool_mb: float = 64.0
    queue: int = 16

    def __post_init__(self) -> None:
        if self.spool_mb <= 0 or self.queue < 1:
            raise ValueError("option 'spool_mb' must be positive and 'queue' at least 1")
        if self.ca and not os.path.isfile(self.ca):
            raise ValueError(f"option 'ca': no such file '{self.ca}'")
        if self.ca and not self.tls:
            raise ValueError("option 'ca' goes with tls=true")

    @classmethod
    def parse(cls, url: str, query: str) -> Options:
        # 'from' is a Python keyword: the URL says from=, the field is 'sender'
        return super().parse(url, "&".join("sender" + p[4:] if p.startswith("from=") else p
                                           for p in query.split("&") if p))


class SmtpTarget(SpoolingTarget):
    """SMTP: each rendered document as an e-mail with its attachment."""

    schemes = ("smtp",)
    options_type = SmtpOptions
    thread_name = "procsim-smtp"

    def __init__(self, ctx: SinkContext, tctx: TargetContext, options: Options) -> None:
        super().__init__(ctx, tctx, options)
        assert isinstance(options, SmtpOptions)
        self.opt = options
        self.to = options.to or tctx.env.get("mail_to", "")
        if not self.to:
            raise UsageError(f"--to {public_url(tctx.url)}: say who gets the e-mails: --mail-to ADDRESS "
                             "(or ?to=ADDRESS)")
        spec = ctx.extra.get("spec")
        self.docs = getattr(spec, "_documents", None) if spec is not None else None
        if ctx.extra.get("objects") is None or self.docs is None:
            raise UsageError(f"--to {public_url(tctx.url)}: e-mail needs the rendered documents: add "
                             "--format documents (and a process with documents)")
        parts = urlsplit(tctx.url)
        self.host, self.port = parts.hostname or "localhost", parts.port or 25
        self.login = (parts.username, parts.password or "") if parts.username else None
        self.tls: ssl.SSLContext | None = None
        if options.tls:
            try:  # verified: smtplib's own default for starttls() checks no certificate
                self.tls = ssl.create_default_context(cafile=options.ca or None)
            except (OSError, ssl.SSLError) as e:
                raise UsageError(f"--to {public_url(tctx.url)}: option 'ca': cannot read certificates from "
                                 f"'{options.ca}' ({e})") from None
        self.conn: smtplib.SMTP | None = None
        self.mails = 0
        self.mails_skipped = 0
        self.done_ids = self._open_delivered()
        self._start_sender(options.queue, options.spool_mb)

    def _open_delivered(self) -> set[str]:
        """The documents already accepted by the server in an earlier run with the same key (on --resume); the
        file is opened without following links (the output folder's rule) and appended to from here on."""
        path = self.tctx.state_dir / "delivered.txt"
        head = f"# procsim smtp delivered run={self.tctx.run_key}\n"
        done: set[str] = set()
        if self.tctx.resume:
            try:
                fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_NOFOLLOW)
            except FileNotFoundError:
                fd = -1
            if fd >= 0:
                self._log = os.fdopen(fd, "r+", encoding="utf-8")
                lines = self._log.read().split("\n")
                if lines[0] + "\n" == head:
                    done = {x for x in lines[1:-1] if x}  # the last piece: a line the kill may have cut
                    if lines[-1]:
                        self._log.write("\n")
                    return done
                self._log.close()
        path.unlink(missing_ok=True)
        self._log = os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644), "w",
                              encoding="utf-8")
        self._log.write(head)
        self._log.flush()
        return done

    def deliver(self, table: pa.Table) -> None:
        """Events do not go by e-mail; documents do (``write_cases``)."""

    def write_cases(self, batch: CaseBatch) -> None:
        objects = batch.objects
        if not objects or self.docs is None or not self.docs.by_type:
            return
        by_id = {o.id: o for o in objects}
        for obj in objects:
            for doc in self.docs.by_type.get(obj.type, ()):
                if not self.docs.wanted(doc, obj):
                    continue
                stem = obj.id + doc.stem_suffix
                if stem in self.done_ids:  # accepted before the run was interrupted (--resume)
                    self.mails_skipped += 1
                    continue
                ctx = self.docs.context(doc, obj, by_id)
                text = self.docs.render(doc, ctx)
                self._check()
                # blocks while the spool is full: back-pressure
                msg = self._message(doc, stem, text, obj)
                # CRLF line ends, as on the wire: smtplib sends bytes as they are
                self.spool.put((stem, msg.as_bytes(policy=msg.policy.clone(linesep="\r\n")), 1))
        self.cases_delivered += batch.table.num_rows

    def _message(self, doc: Any, stem: str, text: str, obj: Any) -> EmailMessage:
        if doc.ext == "eml":
            # as bytes: the parser then decodes the body by its declared charset
            msg = message_from_bytes(text.encode("utf-8"), _class=EmailMessage, policy=policy.default)
            if not msg.is_multipart():
                # a template writes 8-bit text ('£'); SMTP wants it transfer-encoded
                msg.set_content(msg.get_content(), subtype=msg.get_content_subtype(), charset="utf-8")
            if "To" in msg and "@" not in str(msg["To"]):
                del msg["To"]  # a name only (the template's addressee): the envelope decides
        else:
            msg = EmailMessage()
            msg["Subject"] = f"{doc.name.replace('_', ' ')} {stem}"
            msg.set_content(f"{doc.name.replace('_', ' ').capitalize()} {stem} for case {obj.case_id} "
                            "is attached.\n")
            main, sub = _MIME.get(doc.ext, ("text", "plain"))
            # text with its charset (utf-8): bytes would be read back as ASCII and mangle '€'
            msg.add_attachment(text, subtype=sub, charset="utf-8", filename=f"{stem}.{doc.ext}")
            data = {"document_id": stem, "type": doc.name, "case_id": obj.case_id, "event_id": obj.event_id}
            msg.add_attachment(json.dumps(data).encode(), maintype="application", subtype="json",
                               filename=f"{stem}.json")
        if "From" not in msg:
            msg["From"] = self.opt.sender
        if "To" not in msg:
            msg["To"] = self.to
        msg["X-Procsim-Document"] = stem
        msg["X-Procsim-Run"] = self.tctx.run_key
        if "Message-ID" not in msg:
            # the same document of the same run: the same id, so a receiver can drop a re-sent copy
            msg["Message-ID"] = f"<{re.sub(r'[^A-Za-z0-9._-]', '-', stem)}.{self.tctx.run_key}@procsim>"
        return msg

    def _sent(self, msg: Message) -> None:
        """The server took the e-mail: noted before it leaves the spool."""
        self._log.write(msg[0] + "\n")
        self._log.flush()  # in the OS's hands: a SIGKILL of the run does not lose it

    def _send(self, msg: Message) -> None:
        """On the sender thread: send one e-mail, retrying on a new connection (see the module's text)."""
        stem, body, _ = msg
        delay, since = 0.05, time.monotonic()
        while True:
            try:
                if self.conn is None:
                    self.conn = smtplib.SMTP(self.host, self.port, timeout=30)  # every failure below drops it
                    if self.tls is not None:
                        self.conn.starttls(context=self.tls)
                    if self.login is not None:
                        self.conn.login(*self.login)
                self.conn.sendmail(self.opt.sender, [self.to], body)
                self.mails += 1
                return
            except smtplib.SMTPResponseException as e:
                if e.smtp_code < 500:
                    problem = f"{e.smtp_code} {e.smtp_error!r}"
                else:
                    raise ProcsimError(f"--to {public_url(self.tctx.url)}: the server refused "
                                       f"{stem}: {e.smtp_code} {e.smtp_error!r}") from None
            except ssl.SSLCertVerificationError as e:
                self._drop()
                raise ProcsimError(f"--to {public_url(self.tctx.url)}: the server's certificate does not verify "
                                   f"({e.verify_message}); for a private certificate authority give ?ca=PATH "
                                   "(a PEM file)") from None
            except (OSError, smtplib.SMTPException) as e:
                problem = f"{type(e).__name__}: {e}"
            self._drop()
            if time.monotonic() - since > self.opt.give_up:
                raise ProcsimError(f"--to {public_url(self.tctx.url)}: no delivery for {self.opt.give_up:g} s "
                                   f"({problem})")
            self.retries += 1
            if self.error is not None:  # aborted meanwhile
                raise ProcsimError(self.error)
            time.sleep(delay)
            delay = min(delay * 2, self.opt.max_backoff)

    def _drop(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:  # noqa: BLE001 - the connection is gone either way
                pass
        self.conn = None

    def _finish(self) -> None:
        self._stop_sender()
        if self.conn is not None:
            try:
                self.conn.quit()
            except (OSError, smtplib.SMTPException):
                pass
        self._drop()
        self._log.close()
        self._check()

    def abort(self) -> None:
        super().abort()
        self._drop()

    def report(self) -> dict[str, Any]:
        return super().report() | {"emails": self.mails, "emails_skipped_on_resume": self.mails_skipped}
