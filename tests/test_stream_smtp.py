"""The SMTP target against a real local SMTP server (aiosmtpd): each document arrives as an e-mail and parses."""

from __future__ import annotations

import csv
import socket
import subprocess
import sys
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from conftest import REPO

aiosmtpd = pytest.importorskip("aiosmtpd.controller", reason="aiosmtpd is not installed (test extra)")


class Keep:
    def __init__(self) -> None:
        self.mails: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.mails.append((list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("process", ["procure_to_pay", "loan_application"])
def test_every_document_arrives_as_an_email_carrying_it(tmp_path, process):
    keep = Keep()
    port = free_port()
    controller = aiosmtpd.Controller(keep, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        done = subprocess.run([sys.executable, "-m", "procsim", "run", str(REPO / "processes" / f"{process}.yaml"),
                               "-o", str(tmp_path), "--cases", "30", "-q", "--format", "documents",
                               "--to", f"smtp://127.0.0.1:{port}", "--mail-to", "ap@example.com"],
                              capture_output=True, text=True, timeout=300, check=False)
    finally:
        controller.stop()
    assert done.returncode == 0, done.stderr
    with (tmp_path / "documents" / "index.csv").open(newline="", encoding="utf-8") as f:
        index = list(csv.DictReader(f))
    assert index and len(keep.mails) == len(index)
    by_doc = {}
    for rcpt, raw in keep.mails:
        assert rcpt == ["ap@example.com"]
        msg = message_from_bytes(raw, policy=policy.default)
        by_doc[str(msg["X-Procsim-Document"])] = msg
    assert set(by_doc) == {r["document_id"] for r in index}
    for row in index:
        msg = by_doc[row["document_id"]]
        written = (tmp_path / row["path"]).read_text(encoding="utf-8")
        if row["path"].endswith(".eml"):
            # the rendered e-mail itself: its body is the document's body
            doc = message_from_bytes(written.encode(), policy=policy.default)
            assert msg["Subject"] == doc["Subject"]
            assert msg.get_content().replace("\r\n", "\n").strip() == doc.get_content().strip()
        else:
            (attachment,) = [p for p in msg.iter_attachments() if p.get_filename() == Path(row["path"]).name]
            # the very document of documents/ (text parts travel with CRLF line ends, as mail does)
            assert attachment.get_content().replace("\r\n", "\n") == written
    # a process without --format documents cannot mail documents: a clear usage error
    bad = subprocess.run([sys.executable, "-m", "procsim", "run", str(REPO / "processes" / f"{process}.yaml"),
                          "-o", str(tmp_path / "x"), "--cases", "3", "--to", f"smtp://127.0.0.1:{port}",
                          "--mail-to", "a@b.c"], capture_output=True, text=True, timeout=120, check=False)
    assert bad.returncode == 2 and "--format documents" in bad.stderr and "Traceback" not in bad.stderr
