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


class Cluster:
    """A throwaway PostgreSQL cluster: its URL, and pg_ctl to stop and start it (an outage)."""

    def __init__(self, root: Path, port: int, as_pg: list[str]) -> None:
        self.root, self.data, self.port, self.as_pg = root, root / "data", port, as_pg
        self.url = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def start(self) -> None:
        subprocess.run([*self.as_pg, str(BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"), "-w",
                        "-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
                       check=True, capture_output=True)

    def stop(self, mode: str = "fast") -> None:
        subprocess.run([*self.as_pg, str(BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"],
                       capture_output=True, check=False)


@pytest.fixture(scope="module")
def pg_cluster() -> Iterator[Cluster]:
    if not (BIN / "initdb").exists() or shutil.which("runuser") is None:
        pytest.skip(f"PostgreSQL binaries not found in {BIN} (or no runuser): cannot start a throwaway cluster")
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    root = Path(tempfile.mkdtemp(prefix="procsim-pg-"))
    if as_pg:
        shutil.chown(root, "postgres", "postgres")
    cluster = Cluster(root, _free_port(), as_pg)
    subprocess.run([*as_pg, str(BIN / "initdb"), "-D", str(cluster.data), "-U", "postgres", "--auth=trust", "-E",
                    "UTF8"], check=True, capture_output=True)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def pg_url(pg_cluster: Cluster) -> str:
    return pg_cluster.url


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


def test_the_server_stopped_mid_run_fills_the_spool_and_gets_every_event_once(pg_cluster, tmp_path):
    import threading

    from procsim.run import run
    from procsim.targets.stream import StreamOptions

    url = f"{pg_cluster.url}?prefix=t3_&queue=1&max_backoff=0.3"
    out = tmp_path / "out"
    # 200 cases span about 58 simulated days: at 1,000,000x the run streams for about 5 s
    opts = StreamOptions.from_flags([url], "1000000x", None, False, None, out)
    box: dict[str, object] = {}

    def go() -> None:
        try:
            box["result"] = run(O2C, out, cases=200, streaming=opts)
        except BaseException as e:  # noqa: BLE001 - handed to the test's thread
            box["error"] = e

    runner = threading.Thread(target=go)
    runner.start()
    deadline, have = time.monotonic() + 60, 0
    while have < 300 and time.monotonic() < deadline:  # the stream has begun
        time.sleep(0.05)
        try:
            have = query(pg_cluster.url, "SELECT count(*) FROM t3_events")[0][0]
        except psycopg.Error:
            continue
    pg_cluster.stop()  # pg_ctl stop -m fast: the target's connection is cut
    try:
        time.sleep(2.5)
        assert runner.is_alive(), "the run should still be going when the server comes back"
    finally:
        pg_cluster.start()
    runner.join(timeout=180)
    assert "error" not in box, box.get("error")
    result = box["result"]
    events = rows(out / "events.csv")
    got = query(pg_cluster.url, "SELECT seq, event_id FROM t3_events ORDER BY seq")
    assert [s for s, _ in got] == list(range(1, len(events) + 1))  # every event once, no gap
    assert [e for _, e in got] == [e["event_id"] for e in events]
    assert query(pg_cluster.url, "SELECT count(*) FROM t3_cases") == [(len(rows(out / "cases.csv")),)]
    (entry,) = result.manifest["stream"]["targets"]  # type: ignore[attr-defined]
    assert entry["events_delivered"] == len(events)
    # the batches made while the server was away waited on disk; the simulation did not wait for the server
    assert entry["retries"] > 0 and entry["spooled_to_disk"] > 0


def test_ocel_objects_changes_and_links_land_once(pg_url, tmp_path):
    import sqlite3

    url = f"{pg_url}?prefix=t4_"
    args = [str(REPO / "processes" / "procure_to_pay.yaml"), "-o", str(tmp_path), "--cases", "60", "-q",
            "--format", "csv,ocel-sqlite", "--to", url]
    done = cli(*args)
    assert done.returncode == 0, done.stderr
    db = sqlite3.connect(tmp_path / "ocel.sqlite")
    want_objects = db.execute("SELECT ocel_id, ocel_type FROM object ORDER BY ocel_id").fetchall()
    want_e2o = set(db.execute("SELECT ocel_event_id, ocel_object_id, ocel_qualifier FROM event_object").fetchall())
    want_o2o = set(db.execute("SELECT ocel_source_id, ocel_target_id, ocel_qualifier FROM object_object").fetchall())
    want_changes = 0
    for (table,) in db.execute("SELECT 'object_' || ocel_type_map FROM object_map_type").fetchall():
        want_changes += db.execute(f'SELECT count(*) FROM "{table}" WHERE ocel_changed_field IS NOT NULL').fetchone()[0]
    assert want_objects and want_e2o and want_changes  # the example makes objects, links and changes
    got_objects = query(pg_url, "SELECT object_id, type FROM t4_objects ORDER BY object_id")
    assert [tuple(r) for r in got_objects] == want_objects
    assert set(map(tuple, query(pg_url, "SELECT event_id, object_id, qualifier FROM t4_event_objects"))) == want_e2o
    assert set(map(tuple, query(pg_url, "SELECT source_id, target_id, qualifier FROM t4_object_objects"))) == want_o2o
    assert query(pg_url, "SELECT count(*) FROM t4_object_changes") == [(want_changes,)]
    # typed: creation times are instants, attributes JSON objects with numbers as numbers
    got = query(pg_url, "SELECT created, attributes FROM t4_objects")
    assert all(created.tzinfo is not None and isinstance(attrs, dict) for created, attrs in got)
    assert any(isinstance(v, (int, float)) and not isinstance(v, bool) for _, attrs in got for v in attrs.values())
    # the same run again: every table idempotent
    again = cli(*args)
    assert again.returncode == 0, again.stderr
    for table, n in (("objects", len(want_objects)), ("event_objects", len(want_e2o)),
                     ("object_objects", len(want_o2o)), ("object_changes", want_changes)):
        assert query(pg_url, f"SELECT count(*) FROM t4_{table}") == [(n,)], table
    import json

    (entry,) = json.loads((tmp_path / "manifest.json").read_text())["stream"]["targets"]
    assert entry["objects_delivered"] == len(want_objects)


def test_a_run_without_objects_makes_no_object_tables(pg_url, tmp_path):
    done = cli(str(O2C), "-o", str(tmp_path), "--cases", "5", "-q", "--to", f"{pg_url}?prefix=t5_")
    assert done.returncode == 0, done.stderr
    assert query(pg_url, "SELECT count(*) FROM pg_tables WHERE tablename LIKE %s", "t5\\_%") == [(3,)]

