"""``kafka://HOST:PORT[,HOST:PORT]/TOPIC``: one message per event, key = case id, by an idempotent producer.

The key keeps a case's events in one partition, hence in order; ``enable.idempotence`` makes the producer's own
retries (a broker restart, a lost connection) never write a message twice. Each message carries the header
``idempotency-key: RUN:EVENT_ID`` for consumers that dedupe across runs (a ``--resume`` re-sends a Kafka
target's events from the start: Kafka has no cheap "what do you hold" to ask). When librdkafka's local queue is
full, ``produce`` waits for deliveries, which holds up the simulation (back-pressure). Options: ``linger_ms``,
``compression`` (none, gzip, snappy, lz4, zstd), ``give_up`` (s for the final flush), ``tls`` (true: SSL).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa

from procsim.errors import ProcsimError, UsageError
from procsim.sinks.base import SinkContext
from procsim.targets.base import Options, Target, TargetContext, json_text, public_url

try:
    import confluent_kafka
except ImportError as e:  # reported by check_urls as a missing package
    raise ImportError("confluent-kafka is not installed", name="confluent_kafka") from e


@dataclass(frozen=True)
class KafkaOptions(Options):
    linger_ms: int = 5
    compression: str = "none"
    give_up: float = 300.0
    tls: bool = False

    def __post_init__(self) -> None:
        if self.compression not in ("none", "gzip", "snappy", "lz4", "zstd"):
            raise ValueError("option 'compression' must be none, gzip, snappy, lz4 or zstd")


class KafkaTarget(Target):
    """Kafka topic: an idempotent producer, the case id as key so a case's events stay in order."""

    schemes = ("kafka",)
    options_type = KafkaOptions

    def __init__(self, ctx: SinkContext, tctx: TargetContext, options: Options) -> None:
        super().__init__(ctx, tctx, options)
        assert isinstance(options, KafkaOptions)
        self.opt = options
        parts = urlsplit(tctx.url)
        self.topic = parts.path.strip("/")
        if not parts.netloc or not self.topic:
            raise UsageError(f"--to {public_url(tctx.url)}: give brokers and a topic, like kafka://localhost:9092/events")
        conf: dict[str, Any] = {"bootstrap.servers": parts.netloc.rsplit("@", 1)[-1], "enable.idempotence": True,
                                "acks": "all", "linger.ms": options.linger_ms,
                                "compression.type": options.compression}
        if parts.username:
            conf |= {"security.protocol": "SASL_SSL" if options.tls else "SASL_PLAINTEXT",
                     "sasl.mechanisms": "PLAIN", "sasl.username": parts.username,
                     "sasl.password": parts.password or ""}
        elif options.tls:
            conf["security.protocol"] = "SSL"
        self.failed: str | None = None
        self.producer = confluent_kafka.Producer(conf)

    def _report(self, err: Any, msg: Any) -> None:
        if err is None:
            self.delivered += 1
        elif self.failed is None:
            self.failed = f"--to {public_url(self.tctx.url)}: {err.str()}"

    def deliver(self, table: pa.Table) -> None:
        if self.failed:
            raise ProcsimError(self.failed)
        values = json_text(table).to_pylist()
        keys = table.column("case_id").to_pylist()
        ids = table.column("event_id").to_pylist()
        run = self.tctx.run_key
        produce, poll = self.producer.produce, self.producer.poll
        for v, k, i in zip(values, keys, ids):
            while True:
                try:
                    produce(self.topic, value=v, key=k, headers=[("idempotency-key", f"{run}:{i}")],
                            on_delivery=self._report)
                    break
                except BufferError:  # the local queue is full: wait for the brokers (back-pressure)
                    self.retries += 1
                    poll(0.05)
        poll(0)

    def _finish(self) -> None:
        deadline = time.monotonic() + self.opt.give_up
        while self.producer.flush(1.0) and time.monotonic() < deadline:
            pass
        left = len(self.producer)
        if self.failed:
            raise ProcsimError(self.failed)
        if left:
            raise ProcsimError(f"--to {public_url(self.tctx.url)}: {left} events not acknowledged after "
                               f"{self.opt.give_up:g} s")

    def abort(self) -> None:
        self.producer.purge()
