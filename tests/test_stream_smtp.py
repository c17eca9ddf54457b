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


P2P = REPO / "processes" / "procure_to_pay.yaml"


def document_ids(out: Path) -> list[str]:
    with (out / "documents" / "index.csv").open(newline="", encoding="utf-8") as f:
        return [r["document_id"] for r in csv.DictReader(f)]


def received(keep: Keep) -> list[tuple[str, str]]:
    """(document id, Message-ID) of each e-mail the server took, in arrival order."""
    out = []
    for _, raw in keep.mails:
        msg = message_from_bytes(raw, policy=policy.default)
        out.append((str(msg["X-Procsim-Document"]), str(msg["Message-ID"])))
    return out


def test_the_server_stopped_mid_run_fills_the_spool_and_gets_every_email_once(tmp_path):
    import threading
    import time

    from procsim.run import run
    from procsim.targets.stream import StreamOptions

    keep = Keep()
    port = free_port()
    controller = aiosmtpd.Controller(keep, hostname="127.0.0.1", port=port)
    controller.start()
    out = tmp_path / "out"
    # 100 cases span about 130 simulated days: at 2,000,000x the run streams for about 6 s
    opts = StreamOptions.from_flags([f"smtp://127.0.0.1:{port}?queue=1&max_backoff=0.3"], "2000000x", None, False,
                                    None, out, mail_to="ap@example.com")
    box: dict[str, object] = {}

    def go() -> None:
        try:
            box["result"] = run(P2P, out, cases=100, formats=["csv", "documents"], streaming=opts)
        except BaseException as e:  # noqa: BLE001 - handed to the test's thread
            box["error"] = e

    runner = threading.Thread(target=go)
    runner.start()
    deadline = time.monotonic() + 60
    while len(keep.mails) < 20 and time.monotonic() < deadline:
        time.sleep(0.02)
    controller.stop()
    try:
        before = len(keep.mails)
        time.sleep(2.5)
        assert runner.is_alive(), "the run should still be going when the server comes back"
        assert len(keep.mails) == before  # the outage was real
    finally:
        controller = aiosmtpd.Controller(keep, hostname="127.0.0.1", port=port)
        controller.start()
    runner.join(timeout=180)
    controller.stop()
    assert "error" not in box, box.get("error")
    got = received(keep)
    ids = document_ids(out)
    assert 0 < before < len(ids)
    assert sorted(d for d, _ in got) == sorted(ids)  # every document once
    assert len({m for _, m in got}) == len(ids)  # one Message-ID per document
    (entry,) = box["result"].manifest["stream"]["targets"]  # type: ignore[attr-defined]
    assert entry["emails"] == len(ids) and entry["retries"] > 0 and entry["spooled_to_disk"] > 0


def test_a_killed_run_resumes_without_resending_delivered_emails(tmp_path):
    import json
    import signal
    import time

    keep = Keep()
    port = free_port()
    controller = aiosmtpd.Controller(keep, hostname="127.0.0.1", port=port)
    controller.start()
    out = tmp_path / "out"
    args = [sys.executable, "-m", "procsim", "run", str(P2P), "-o", str(out), "--cases", "100", "-q",
            "--format", "documents", "--to", f"smtp://127.0.0.1:{port}", "--mail-to", "ap@example.com"]
    try:
        proc = subprocess.Popen([*args, "--pace", "2000000x"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while len(keep.mails) < 60 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        time.sleep(0.137)  # not right after an acknowledgement
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL, "the run ended before it was killed"
        first = len(keep.mails)
        done = subprocess.run([*args, "--resume"], capture_output=True, text=True, timeout=300, check=False)
    finally:
        controller.stop()
    assert done.returncode == 0, done.stderr
    ids = document_ids(out)
    got = received(keep)
    assert 0 < first < len(ids)
    assert {d for d, _ in got} == set(ids)  # no gaps
    # no duplicates: the only e-mail that can come twice is one the server took in the instant between its
    # answer and the delivered-list line (SMTP has no transactions); it would carry the same Message-ID
    assert len(got) - len(ids) <= 1
    assert len({m for _, m in got}) == len(ids)
    (entry,) = json.loads((out / "manifest.json").read_text())["stream"]["targets"]
    assert entry["emails_skipped_on_resume"] >= first - 1
    assert entry["emails_skipped_on_resume"] + entry["emails"] == len(ids)


def test_starttls_verifies_the_server_and_trusts_a_private_ca_with_ca(tmp_path):
    """aiosmtpd requiring STARTTLS with a self-signed certificate (made by the openssl command line): with
    ?tls=true&ca=CERT every document arrives; with tls=true alone the run stops at once, naming the
    certificate (smtplib's starttls() without a context would have accepted any certificate)."""
    import shutil
    import ssl

    if shutil.which("openssl") is None:
        pytest.skip("no openssl command to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    keep = Keep()
    port = free_port()
    controller = aiosmtpd.Controller(keep, hostname="127.0.0.1", port=port, tls_context=tls, require_starttls=True)
    controller.start()

    def go(out: Path, query: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "procsim", "run", str(P2P), "-o", str(out), "--cases", "15",
                               "-q", "--format", "documents", "--to", f"smtp://127.0.0.1:{port}?{query}",
                               "--mail-to", "ap@example.com"], capture_output=True, text=True, timeout=300,
                              check=False)

    try:
        done = go(tmp_path / "a", f"tls=true&ca={cert}")
        assert done.returncode == 0, done.stderr
        assert sorted(d for d, _ in received(keep)) == sorted(document_ids(tmp_path / "a"))
        keep.mails.clear()
        untrusted = go(tmp_path / "b", "tls=true")
        assert untrusted.returncode != 0 and "certificate does not verify" in untrusted.stderr
        assert "Traceback" not in untrusted.stderr and keep.mails == []
    finally:
        controller.stop()
