"""The HTTP target against a real local server (the standard library's) that goes down mid-run."""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from conftest import REPO
from procsim.run import RunResult, run
from procsim.targets.stream import StreamOptions

O2C = REPO / "processes" / "order_to_cash.yaml"
SECRET = "s3cret-for-tests"


class Receiver:
    """What a real receiver keeps: each event once (deduped by run and event id), the order it arrived in."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: dict[tuple[str, str], dict[str, Any]] = {}
        self.order: list[tuple[str, str]] = []
        self.bad_signatures = 0
        self.duplicates = 0
        self.requests = 0

    def take(self, headers: Any, body: bytes) -> int:
        sig = headers.get("X-Procsim-Signature", "")
        want = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        with self.lock:
            self.requests += 1
            if not hmac.compare_digest(sig, want):
                self.bad_signatures += 1
                return 401
            doc = json.loads(body)
            run_id = headers["X-Procsim-Run"]
            for e in doc["events"] if "events" in doc else [doc]:
                k = (run_id, e["event_id"])
                if k in self.events:
                    self.duplicates += 1
                    continue
                self.events[k] = e
                self.order.append(k)
        return 200


class Server(ThreadingHTTPServer):
    """Remembers its connections so that stopping it is a real outage, keep-alive connections included."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, receiver: Receiver, delay: float = 0.0) -> None:
        self.receiver = receiver
        self.conns: list[socket.socket] = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - the standard library's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(delay)  # a slow system under test
                status = receiver.take(self.headers, body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", port), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        self.conns.append(sock)
        return sock, addr

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        for s in self.conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_an_outage_mid_run_loses_and_duplicates_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("PROCSIM_TEST_SECRET", SECRET)
    port = free_port()
    receiver = Receiver()
    server = Server(port, receiver)
    out = tmp_path / "out"
    # 200 cases span about 58 simulated days: at 1,000,000x the run streams for about 5 s
    opts = StreamOptions.from_flags([f"http://127.0.0.1:{port}/hook?batch=20&queue=2&max_backoff=0.5"],
                                    "1000000x", None, False, "PROCSIM_TEST_SECRET", out)
    box: dict[str, Any] = {}

    def go() -> None:
        try:
            box["result"] = run(O2C, out, cases=200, streaming=opts)
        except BaseException as e:  # noqa: BLE001 - handed to the test's thread
            box["error"] = e

    runner = threading.Thread(target=go)
    runner.start()
    deadline = time.monotonic() + 60
    while len(receiver.order) < 300 and time.monotonic() < deadline:  # the stream has begun
        time.sleep(0.01)
    server.stop()
    time.sleep(0.2)  # a request that was being answered as the server stopped
    got_before = len(receiver.order)
    time.sleep(2.8)
    assert runner.is_alive(), "the run should still be going when the target comes back"
    during = len(receiver.order)
    server = Server(port, receiver)
    runner.join(timeout=120)
    server.stop()
    assert "error" not in box, box.get("error")
    result: RunResult = box["result"]

    rows = csv_rows(out / "events.csv")
    assert 0 < got_before < len(rows) and during == got_before  # the outage was real
    assert receiver.bad_signatures == 0
    assert len(receiver.events) == len(rows) == result.events  # every event exactly once
    assert {e for _, e in receiver.events} == {r["event_id"] for r in rows}
    for (_, eid), e in receiver.events.items():
        assert e["timestamp"] is not None
    by_case: dict[str, list[str]] = {}
    for _, eid in receiver.order:
        by_case.setdefault(receiver.events[(_, eid)]["case_id"], []).append(eid)
    want: dict[str, list[str]] = {}
    for r in rows:
        want.setdefault(r["case_id"], []).append(r["event_id"])
    assert by_case == want  # in order per case
    (entry,) = result.manifest["stream"]["targets"]
    assert entry["events_delivered"] == len(rows)
    assert entry["retries"] > 0 and entry["spooled_to_disk"] > 0
    assert "s3cret" not in json.dumps(result.manifest)


def test_single_events_carry_the_event_id_as_idempotency_key(tmp_path, monkeypatch):
    monkeypatch.setenv("PROCSIM_TEST_SECRET", SECRET)
    keys: list[str] = []
    receiver = Receiver()
    take = receiver.take

    def spy(headers: Any, body: bytes) -> int:
        keys.append(headers["Idempotency-Key"])
        return take(headers, body)

    receiver.take = spy  # type: ignore[method-assign]
    port = free_port()
    server = Server(port, receiver)
    out = tmp_path / "out"
    try:
        result = run(O2C, out, cases=10, streaming=StreamOptions.from_flags(
            [f"http://127.0.0.1:{port}/hook?batch=1"], "max", None, False, "PROCSIM_TEST_SECRET", out))
    finally:
        server.stop()
    run_id = result.manifest["stream"]["targets"][0]
    assert len(keys) == result.events
    assert keys == [f"{rid}:{e}" for rid, e in receiver.order]
    assert run_id["requests"] == result.events


def test_a_slow_target_slows_the_run_within_the_spool_bound(tmp_path, monkeypatch):
    monkeypatch.setenv("PROCSIM_TEST_SECRET", SECRET)
    port = free_port()
    receiver = Receiver()
    server = Server(port, receiver, delay=0.01)
    out = tmp_path / "out"
    bound = int(0.05 * (1 << 20))
    try:
        result = run(O2C, out, cases=60, streaming=StreamOptions.from_flags(
            [f"http://127.0.0.1:{port}/hook?batch=10&queue=2&spool_mb=0.05"], "max", None, False,
            "PROCSIM_TEST_SECRET", out))
    finally:
        server.stop()
    (entry,) = result.manifest["stream"]["targets"]
    assert entry["spooled_to_disk"] > 0  # the target fell behind
    assert 0 < entry["spool_peak_bytes"] <= bound  # ... and the queue stayed inside its bound (back-pressure)
    rows = csv_rows(out / "events.csv")
    assert [e for _, e in receiver.order] == [r["event_id"] for r in rows]  # nothing lost, in order
    assert receiver.duplicates == 0 and receiver.bad_signatures == 0


def test_a_killed_run_resumes_where_the_receiver_left_off(tmp_path):
    """A paced CLI run is SIGKILLed mid-stream and run again with --resume: the receiver (deduping by run and
    event id, as the docs tell a receiver to) ends with every event once, and in the log's order; the resumed
    run sends at most the one batch whose answer the kill cut off (acknowledged by the server, not yet recorded)
    again, and nothing from before it."""
    import os
    import signal
    import subprocess
    import sys

    port = free_port()
    receiver = Receiver()
    server = Server(port, receiver)
    out = tmp_path / "out"
    env = os.environ | {"PROCSIM_TEST_SECRET": SECRET}
    args = [sys.executable, "-m", "procsim", "run", str(O2C), "-o", str(out), "--cases", "300", "-q", "--to",
            f"http://127.0.0.1:{port}/hook?batch=20", "--secret-env", "PROCSIM_TEST_SECRET"]
    try:
        # paced so that it is still running when killed: about 9 s for the run's ~85 simulated days
        proc = subprocess.Popen([*args, "--pace", "1000000x"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                env=env)
        deadline = time.monotonic() + 120
        while len(receiver.order) < 1500 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL, "the run ended before it was killed"
        before = len(receiver.order)
        assert before >= 1500 and not (out / "manifest.json").exists()
        done = subprocess.run([*args, "--resume"], capture_output=True, text=True, timeout=300, check=False,
                              env=env)
        assert done.returncode == 0, done.stderr
    finally:
        server.stop()
    rows = csv_rows(out / "events.csv")
    assert [e for _, e in receiver.order] == [r["event_id"] for r in rows]  # no gap, no duplicate, in order
    assert receiver.duplicates <= 20 and receiver.bad_signatures == 0  # at most the batch the kill cut off
    (entry,) = json.loads((out / "manifest.json").read_text())["stream"]["targets"]
    assert entry["events_skipped_on_resume"] >= before - 20
    assert entry["events_skipped_on_resume"] + entry["events_delivered"] == len(rows)


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (the openssl command line), as a test system's private CA."""
    import subprocess

    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


class TlsServer(Server):
    """The same receiver behind TLS (the standard library's ssl module)."""

    def __init__(self, port: int, receiver: Receiver, cert: Path, key: Path) -> None:
        import ssl

        self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.tls.load_cert_chain(cert, key)
        super().__init__(port, receiver)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        return self.tls.wrap_socket(sock, server_side=True), addr


def test_https_with_a_private_certificate_authority(tmp_path, monkeypatch):
    """https:// to a real TLS server whose certificate is self-signed: with ?ca= (the certificate) every event
    arrives once and every signature verifies; without it the run stops at once and says why, instead of
    retrying for give_up seconds."""
    import shutil

    import pytest

    from procsim.errors import ProcsimError

    if shutil.which("openssl") is None:
        pytest.skip("no openssl command to make a certificate")
    monkeypatch.setenv("PROCSIM_TEST_SECRET", SECRET)
    cert, key = make_certificate(tmp_path)
    port = free_port()
    receiver = Receiver()
    server = TlsServer(port, receiver, cert, key)
    url = f"https://127.0.0.1:{port}/hook?batch=50"
    try:
        out = tmp_path / "out"
        result = run(O2C, out, cases=40, streaming=StreamOptions.from_flags(
            [f"{url}&ca={cert}"], "max", None, False, "PROCSIM_TEST_SECRET", out))
        rows = csv_rows(out / "events.csv")
        assert [e for _, e in receiver.order] == [r["event_id"] for r in rows]
        assert receiver.duplicates == 0 and receiver.bad_signatures == 0
        (entry,) = result.manifest["stream"]["targets"]
        assert entry["events_delivered"] == len(rows) and entry["retries"] == 0
        started = time.monotonic()
        with pytest.raises(ProcsimError, match="certificate does not verify.*give [?]ca=PATH"):
            run(O2C, tmp_path / "untrusted", cases=40, streaming=StreamOptions.from_flags(
                [url], "max", None, False, "PROCSIM_TEST_SECRET", tmp_path / "untrusted"))
        assert time.monotonic() - started < 60  # not retried until give_up (300 s)
    finally:
        server.stop()


def test_a_missing_ca_file_is_a_usage_error(tmp_path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "procsim", "run", str(O2C), "-o", str(tmp_path), "--cases", "5",
                           "--to", f"https://127.0.0.1:1/hook?ca={tmp_path / 'nope.pem'}"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    assert f"option 'ca': no such file '{tmp_path / 'nope.pem'}'" in done.stderr and "Traceback" not in done.stderr
