"""The Kafka target against librdkafka's built-in mock cluster (test.mock.num.brokers): every message consumed back."""

from __future__ import annotations

import csv
import json
from typing import Any

import pytest

from conftest import REPO
from procsim.run import run
from procsim.targets.stream import StreamOptions

ck = pytest.importorskip("confluent_kafka", reason="confluent-kafka is not installed")

O2C = REPO / "processes" / "order_to_cash.yaml"


def test_every_event_arrives_once_keyed_by_case_in_case_order(tmp_path):
    # a client with test.mock.num.brokers starts an in-process 3-broker cluster; its metadata names the brokers
    holder = ck.Producer({"test.mock.num.brokers": 3, "logger": lambda *a: None})  # the mock creates topics
    brokers = ",".join(f"{b.host}:{b.port}" for b in holder.list_topics(timeout=10).brokers.values())
    out = tmp_path / "out"
    result = run(O2C, out, cases=150, streaming=StreamOptions.from_flags([f"kafka://{brokers}/o2c"], "max", None,
                                                                       False, None, out))
    consumer = ck.Consumer({"bootstrap.servers": brokers, "group.id": "t", "auto.offset.reset": "earliest"})
    consumer.subscribe(["o2c"])
    got: list[tuple[str, dict, str]] = []
    misses = 0
    while len(got) < result.events and misses < 20:
        msg = consumer.poll(1.0)
        if msg is None:
            misses += 1
            continue
        assert msg.error() is None, msg.error()
        headers = dict(msg.headers())
        got.append((msg.key().decode(), json.loads(msg.value()), headers["idempotency-key"].decode()))
    consumer.close()
    with (out / "events.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert sorted(e["event_id"] for _, e, _ in got) == sorted(r["event_id"] for r in rows)  # each exactly once
    assert all(k == e["case_id"] for k, e, _ in got)
    assert len({h for _, _, h in got}) == len(rows)
    by_case: dict[str, list[str]] = {}
    for k, e, _ in got:
        by_case.setdefault(k, []).append(e["event_id"])
    want: dict[str, list[str]] = {}
    for r in rows:
        want.setdefault(r["case_id"], []).append(r["event_id"])
    assert by_case == want  # one partition per case: its events in order
    (entry,) = result.manifest["stream"]["targets"]
    assert entry["events_delivered"] == len(rows)


def test_switching_between_direct_and_spooled_delivery_keeps_every_event_once_in_case_order(tmp_path):
    """The writer thread produces directly while the spool is empty; when librdkafka's queue is full (here
    kept at 40 messages) the rest of the batch and the batches after it go through the spool and the sender
    thread, until the sender has drained it; then the writer produces directly again. Paced, so that the
    hand-overs (about 50 events each) come 50 ms apart and the spool drains between them: the run switches
    both ways many times, and the topic still holds every event once, in order per case."""
    holder = ck.Producer({"test.mock.num.brokers": 3, "logger": lambda *a: None})
    brokers = ",".join(f"{b.host}:{b.port}" for b in holder.list_topics(timeout=10).brokers.values())
    out = tmp_path / "out"
    result = run(O2C, out, cases=150, streaming=StreamOptions.from_flags(
        [f"kafka://{brokers}/switch?queue_max=40"], "1000000x", None, False, None, out))
    (entry,) = result.manifest["stream"]["targets"]
    assert entry["events_produced_directly"] > 0 and entry["events_through_spool"] > 0
    assert entry["events_produced_directly"] + entry["events_through_spool"] == result.events
    assert entry["switches_to_spool"] >= 2  # to the spool, back to direct, and to the spool again
    assert entry["events_delivered"] == result.events
    rows = csv_rows(out / "events.csv")
    got = consume(brokers, "switch", "check", len(rows) + 1, patience=6)  # one more than due: would catch a dup
    ids = [json.loads(m.value())["event_id"] for m in got]
    assert len(ids) == len(set(ids)) == len(rows) and set(ids) == {r["event_id"] for r in rows}
    assert per_case(got) == per_case_in_log(rows)  # across every switch, each case's events in order


def test_an_unpaced_run_produces_every_event_from_the_writer_thread(tmp_path):
    """With room in librdkafka's queue (the default 100,000 messages) nothing goes through the spool: no
    thread hand-off and no Arrow IPC copy per batch (the cost that took the rate below 100,000 events/s)."""
    holder = ck.Producer({"test.mock.num.brokers": 3, "logger": lambda *a: None})
    brokers = ",".join(f"{b.host}:{b.port}" for b in holder.list_topics(timeout=10).brokers.values())
    out = tmp_path / "out"
    result = run(O2C, out, cases=100, streaming=StreamOptions.from_flags([f"kafka://{brokers}/direct"], "max",
                                                                        None, False, None, out))
    (entry,) = result.manifest["stream"]["targets"]
    assert entry["events_produced_directly"] == entry["events_delivered"] == result.events
    assert entry["events_through_spool"] == entry["switches_to_spool"] == entry["spooled_to_disk"] == 0


def per_case(messages: list[Any]) -> dict[str, list[str]]:
    """The consumed messages' event ids per key (case), in the order the topic holds them."""
    out: dict[str, list[str]] = {}
    for m in messages:
        out.setdefault(m.key().decode(), []).append(json.loads(m.value())["event_id"])
    return out


def per_case_in_log(rows: list[dict[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for r in rows:
        out.setdefault(r["case_id"], []).append(r["event_id"])
    return out


def csv_rows(path: Any) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def consume(brokers: str, topic: str, group: str, want: int, patience: int = 15) -> list[Any]:
    consumer = ck.Consumer({"bootstrap.servers": brokers, "group.id": group, "auto.offset.reset": "earliest",
                            "logger": lambda *a: None})
    consumer.subscribe([topic])
    got, misses = [], 0
    try:
        while len(got) < want and misses < patience:
            msg = consumer.poll(1.0)
            if msg is None:
                misses += 1
                continue
            assert msg.error() is None, msg.error()
            got.append(msg)
    finally:
        consumer.close()
    return got


def test_a_killed_run_resumes_without_gaps_or_duplicates_at_the_consumer(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    holder = ck.Producer({"test.mock.num.brokers": 3, "logger": lambda *a: None})
    brokers = ",".join(f"{b.host}:{b.port}" for b in holder.list_topics(timeout=10).brokers.values())
    out = tmp_path / "out"
    args = [sys.executable, "-m", "procsim", "run", str(O2C), "-o", str(out), "--cases", "300", "-q", "--to",
            f"kafka://{brokers}/resume"]
    # paced so that it is still running when killed: about 9 s for the run's ~85 simulated days
    proc = subprocess.Popen([*args, "--pace", "1000000x"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    watcher = ck.Consumer({"bootstrap.servers": brokers, "group.id": "watch", "auto.offset.reset": "earliest",
                           "logger": lambda *a: None})
    watcher.subscribe(["resume"])
    seen, deadline = 0, time.monotonic() + 120
    while seen < 1500 and time.monotonic() < deadline and proc.poll() is None:
        msg = watcher.poll(0.2)
        seen += msg is not None and msg.error() is None
    watcher.close()
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the run ended before it was killed"
    assert (out / ".targets").is_dir() and not (out / "manifest.json").exists()
    done = subprocess.run([*args, "--resume"], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    with (out / "events.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    got = consume(brokers, "resume", "check", len(rows) + 1, patience=8)  # one more than due: would catch a dup
    ids = [json.loads(m.value())["event_id"] for m in got]
    assert len(ids) == len(set(ids)) == len(rows)  # no duplicates
    assert set(ids) == {r["event_id"] for r in rows}  # no gaps
    assert per_case(got) == per_case_in_log(rows)  # in order per case across the kill
    (entry,) = json.loads((out / "manifest.json").read_text())["stream"]["targets"]
    assert entry["events_skipped_on_resume"] >= seen > 0
    assert entry["events_skipped_on_resume"] + entry["events_delivered"] == len(rows)


def test_resume_reads_back_what_the_state_file_missed(tmp_path):
    """A kill between the broker's acknowledgement and the state file's rewrite: the state says less than the
    topic holds. Here the state is rolled back to 'nothing acknowledged' after a complete run; --resume reads
    the partitions back from the run's start and sends nothing again."""
    holder = ck.Producer({"test.mock.num.brokers": 3, "logger": lambda *a: None})
    brokers = ",".join(f"{b.host}:{b.port}" for b in holder.list_topics(timeout=10).brokers.values())
    out = tmp_path / "out"

    def go(resume: bool) -> Any:
        return run(O2C, out, cases=40, streaming=StreamOptions.from_flags([f"kafka://{brokers}/back"], "max", None,
                                                                         resume, None, out))

    first = go(False)
    (state,) = (out / ".targets").glob("*/delivered.json")
    saved = json.loads(state.read_text())
    assert sum(n for n, _ in saved["acked"].values()) > 0
    state.write_text(json.dumps(saved | {"acked": {}}))
    again = go(True)
    (entry,) = again.manifest["stream"]["targets"]
    assert entry["events_delivered"] == 0 and entry["events_skipped_on_resume"] == first.events
    got = consume(brokers, "back", "check", first.events + 1, patience=6)
    assert len(got) == first.events


CLUSTER = """
import sys, time
import confluent_kafka as ck
holder = ck.Producer({"test.mock.num.brokers": 3, "logger": lambda *a: None})
print(",".join(f"{b.host}:{b.port}" for b in holder.list_topics(timeout=10).brokers.values()), flush=True)
time.sleep(600)
"""


def test_brokers_away_mid_run_fill_the_spool_and_every_event_arrives_once(tmp_path):
    """The mock cluster runs in a child process, frozen with SIGSTOP for 3 s mid-run (its brokers answer
    nothing: a hung cluster, as a network partition looks to a client) and thawed with SIGCONT. librdkafka's
    own queue is kept small (queue_max), so the batches behind it go to the disk spool while the run goes on."""
    import signal
    import subprocess
    import sys
    import threading
    import time

    cluster = subprocess.Popen([sys.executable, "-c", CLUSTER], stdout=subprocess.PIPE, text=True)
    try:
        assert cluster.stdout is not None
        brokers = cluster.stdout.readline().strip()
        out = tmp_path / "out"
        opts = StreamOptions.from_flags([f"kafka://{brokers}/outage?queue_max=500&queue=1"], "1000000x", None,
                                        False, None, out)
        box: dict[str, Any] = {}

        def go() -> None:
            try:
                box["result"] = run(O2C, out, cases=200, streaming=opts)
            except BaseException as e:  # noqa: BLE001 - handed to the test's thread
                box["error"] = e

        runner = threading.Thread(target=go)
        runner.start()
        state = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the stream has begun: some events acknowledged
            time.sleep(0.05)
            found = list((out / ".targets").glob("*/delivered.json")) if (out / ".targets").is_dir() else []
            if found and json.loads(found[0].read_text()).get("acked"):
                state = found[0]
                break
        assert state is not None
        cluster.send_signal(signal.SIGSTOP)
        try:
            time.sleep(3)
            assert runner.is_alive(), "the run should still be going when the brokers come back"
        finally:
            cluster.send_signal(signal.SIGCONT)
        runner.join(timeout=180)
        assert "error" not in box, box.get("error")
        result = box["result"]
        with (out / "events.csv").open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        got = consume(brokers, "outage", "check", len(rows) + 1, patience=8)
        ids = [json.loads(m.value())["event_id"] for m in got]
        assert sorted(ids) == sorted(r["event_id"] for r in rows)  # every event exactly once
        (entry,) = result.manifest["stream"]["targets"]
        assert entry["events_delivered"] == len(rows)
        assert entry["retries"] > 0 and entry["spooled_to_disk"] > 0  # librdkafka's queue filled; the spool took the rest
    finally:
        cluster.kill()
        cluster.wait()
