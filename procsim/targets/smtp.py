"""``smtp://host:port``: the run's rendered documents sent as real e-mails (needs ``--format documents``).

Documents are rendered from the finished cases' objects, as the documents sink does (the same DocumentSet and
context, so the text is the same as in ``documents/``). An ``.eml`` template is an e-mail already: it is sent
as written. Any other document (an invoice in HTML, a payment advice in Markdown) becomes an e-mail with a
short text body and the document attached, plus its data as ``.json``. Every message carries
``X-Procsim-Document`` and ``X-Procsim-Run``; the envelope goes to ``?to=`` (or ``--mail-to``), from
``?from=``. Errors talking to the server are retried with exponential backoff on a new connection (the
simulation waits meanwhile). Options: ``to``, ``from``, ``tls`` (STARTTLS), ``give_up``, ``max_backoff``.
"""

from __future__ import annotations

import json
import smtplib
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
from procsim.targets.base import Options, Target, TargetContext, public_url

_MIME = {"html": ("text", "html"), "md": ("text", "markdown"), "txt": ("text", "plain")}


@dataclass(frozen=True)
class SmtpOptions(Options):
    to: str = ""
    sender: str = field(default="procsim@localhost", metadata={"query": "from"})
    tls: bool = False
    give_up: float = 300.0
    max_backoff: float = 5.0

    @classmethod
    def parse(cls, url: str, query: str) -> Options:
        # 'from' is a Python keyword: the URL says from=, the field is 'sender'
        return super().parse(url, "&".join("sender" + p[4:] if p.startswith("from=") else p
                                           for p in query.split("&") if p))


class SmtpTarget(Target):
    """SMTP: each rendered document as an e-mail with its attachment."""

    schemes = ("smtp",)
    options_type = SmtpOptions

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
        self.conn: smtplib.SMTP | None = None
        self.mails = 0

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
                ctx = self.docs.context(doc, obj, by_id)
                text = self.docs.render(doc, ctx)
                stem = obj.id + doc.stem_suffix
                self._send(self._message(doc, stem, text, obj))
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
        return msg

    def _send(self, msg: EmailMessage) -> None:
        delay, since = 0.05, time.monotonic()
        while True:
            try:
                if self.conn is None:
                    conn = smtplib.SMTP(self.host, self.port, timeout=30)
                    if self.opt.tls:
                        conn.starttls()
                    if self.login is not None:
                        conn.login(*self.login)
                    self.conn = conn
                self.conn.send_message(msg, from_addr=self.opt.sender, to_addrs=[self.to])
                self.mails += 1
                return
            except smtplib.SMTPResponseException as e:
                if e.smtp_code < 500:
                    problem = f"{e.smtp_code} {e.smtp_error!r}"
                else:
                    raise ProcsimError(f"--to {public_url(self.tctx.url)}: the server refused "
                                       f"{msg['X-Procsim-Document']}: {e.smtp_code} {e.smtp_error!r}") from None
            except (OSError, smtplib.SMTPException) as e:
                problem = f"{type(e).__name__}: {e}"
            self._drop()
            if time.monotonic() - since > self.opt.give_up:
                raise ProcsimError(f"--to {public_url(self.tctx.url)}: no delivery for {self.opt.give_up:g} s "
                                   f"({problem})")
            self.retries += 1
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
        if self.conn is not None:
            try:
                self.conn.quit()
            except (OSError, smtplib.SMTPException):
                pass
        self._drop()

    def report(self) -> dict[str, Any]:
        return super().report() | {"emails": self.mails}
