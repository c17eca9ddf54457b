"""The Kafka target against librdkafka's built-in mock cluster (test.mock.num.brokers): every message consumed back."""

from __future__ import annotations

import csv
import json

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
