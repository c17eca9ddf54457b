"""The PostgreSQL target against a real throwaway cluster (PostgreSQL 15's initdb/pg_ctl, run as 'postgres')."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import REPO

psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed (pip install procsim[stream])")

BIN = Path("/usr/lib/postgresql/15/bin")
O2C = REPO / "processes" / "order_to_cash.yaml"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    if not (BIN / "initdb").exists() or shutil.which("runuser") is None:
        pytest.skip(f"PostgreSQL binaries not found in {BIN} (or no runuser): cannot start a throwaway cluster")
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    root = Path(tempfile.mkdtemp(prefix="procsim-pg-"))
    data = root / "data"
    port = _free_port()
    if as_pg:
        shutil.chown(root, "postgres", "postgres")
    subprocess.run([*as_pg, str(BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
                   check=True, capture_output=True)
    subprocess.run([*as_pg, str(BIN / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-o",
                    f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
                   check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_pg, str(BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, check=False)
        shutil.rmtree(root, ignore_errors=True)


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def query(url: str, sql: str, *args: object) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, args).fetchall()


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "procsim", "run", *args], capture_output=True, text=True,
                          timeout=300, check=False)


def test_events_cases_and_labels_land_once_even_when_sent_twice(pg_url, tmp_path):
    url = f"{pg_url}?prefix=t1_"
    done = cli(str(REPO / "processes" / "procure_to_pay_exceptions.yaml"), "-o", str(tmp_path), "--cases", "300",
               "-q", "--to", url)
    assert done.returncode == 0, done.stderr
    events, cases, labels = rows(tmp_path / "events.csv"), rows(tmp_path / "cases.csv"), rows(tmp_path / "labels.csv")
    got = query(pg_url, "SELECT event_id, case_id, activity, seq FROM t1_events ORDER BY seq")
    assert [(e["event_id"], e["case_id"], e["activity"]) for e in events] == [g[:3] for g in got]
    assert [g[3] for g in got] == list(range(1, len(events) + 1))
    assert query(pg_url, "SELECT count(*) FROM t1_cases") == [(len(cases),)]
    assert query(pg_url, "SELECT count(*) FROM t1_labels WHERE is_exception") == [
        (sum(1 for x in labels if x["is_exception"] == "true"),)]
    # attributes as jsonb, typed core columns: the first event's timestamp is the CSV's instant
    (ts, attrs), = query(pg_url, "SELECT ts, attributes FROM t1_events WHERE event_id = 'E1'")
    import datetime as dt

    assert ts == dt.datetime.fromisoformat(events[0]["timestamp"])
    assert isinstance(attrs, dict) and attrs
    # the same run again (same key): nothing is duplicated
    again = cli(str(REPO / "processes" / "procure_to_pay_exceptions.yaml"), "-o", str(tmp_path), "--cases", "300",
                "-q", "--to", url)
    assert again.returncode == 0, again.stderr
    assert query(pg_url, "SELECT count(*), count(DISTINCT event_id) FROM t1_events") == [(len(events),) * 2]
    assert query(pg_url, "SELECT count(*) FROM t1_cases") == [(len(cases),)]


def test_a_killed_run_resumes_without_gaps_or_duplicates(pg_url, tmp_path):
    url = f"{pg_url}?prefix=t2_"
    args = [str(O2C), "-o", str(tmp_path), "--cases", "400", "-q", "--to", url]
    # paced so that it is still running when killed: about 10 s for the run's ~115 simulated days
    proc = subprocess.Popen([sys.executable, "-m", "procsim", "run", *args, "--pace", "1000000x"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    have = 0
    while time.monotonic() < deadline:
        time.sleep(0.2)
        try:
            have = query(pg_url, "SELECT count(*) FROM t2_events")[0][0]
        except psycopg.Error:
            continue  # the table is not there yet
        if have > 1000:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert not (tmp_path / "manifest.json").exists()
    done = cli(*args, "--resume")
    assert done.returncode == 0, done.stderr
    events = rows(tmp_path / "events.csv")
    assert have < len(events)  # the kill really cut the delivery short
    got = query(pg_url, "SELECT seq, event_id FROM t2_events ORDER BY seq")
    assert [s for s, _ in got] == list(range(1, len(events) + 1))  # no gaps, no duplicates
    assert [e for _, e in got] == [e["event_id"] for e in events]
    import json

    (entry,) = json.loads((tmp_path / "manifest.json").read_text())["stream"]["targets"]
    assert entry["events_skipped_on_resume"] >= have
    assert entry["events_skipped_on_resume"] + entry["events_delivered"] == len(events)
    assert entry["url"] == url  # no password in this URL; see test_stream for the redaction
