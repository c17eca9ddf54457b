"""``kafka://HOST:PORT[,HOST:PORT]/TOPIC``: one message per event, key = case id, by an idempotent producer.

The key keeps a case's events in one partition, hence in order; ``enable.idempotence`` makes the producer's own
retries (a broker restart, a lost connection) never write a message twice. Each message carries the header
``idempotency-key: RUN:EVENT_ID``. When librdkafka's local queue is full, ``produce`` waits for deliveries,
which holds up the simulation (back-pressure). Options: ``linger_ms``, ``batch_kb`` (librdkafka's
``batch.size``), ``compression`` (none, gzip, snappy, lz4, zstd), ``give_up`` (s for the final flush), ``tls``
(true: SSL).

Resuming without duplicates: the partition of each event is chosen here, as librdkafka's default partitioner
would (CRC-32 of the key modulo the partition count), so a resumed run puts every event where the first run
did. The delivery state (``delivered.json`` in the target's folder under ``--out``) records, per partition,
the topic's end offset when the run began and the last acknowledged event number and offset; it is rewritten
after every batch. A broker may hold more than the state says (acknowledged after the last write, or in
flight at the kill), so ``--resume`` reads each partition from the recorded offset to its end and collects
this run's ``idempotency-key`` headers: an event is sent again only when it is in neither. Within a partition
the producer keeps order, so what a partition holds of the run is always a prefix of its events.
"""

from __future__ import annotations

import threading
import time
import zlib
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from procsim.errors import ProcsimError, UsageError
from procsim.records import EventBatch
from procsim.sinks.base import SinkContext
from procsim.targets.spool import Spool
from procsim.targets.base import (Options, Target, TargetContext, event_table, json_text, public_url, read_state,
                                  write_state)

try:
    import confluent_kafka
except ImportError as e:  # reported by check_urls as a missing package
    raise ImportError("confluent-kafka is not installed", name="confluent_kafka") from e


@dataclass(frozen=True)
class KafkaOptions(Options):
    linger_ms: int = 5
    batch_kb: int = 1024
    compression: str = "none"
    give_up: float = 300.0
    tls: bool = False
    queue_max: int = 100_000  # librdkafka's queue.buffering.max.messages
    spool_mb: float = 256.0
    queue: int = 8

    def __post_init__(self) -> None:
        if self.spool_mb <= 0 or self.queue < 1 or self.queue_max < 1:
            raise ValueError("options 'spool_mb' must be positive, 'queue' and 'queue_max' at least 1")
        if self.compression not in ("none", "gzip", "snappy", "lz4", "zstd"):
            raise ValueError("option 'compression' must be none, gzip, snappy, lz4 or zstd")
        if self.batch_kb < 1:
            raise ValueError("option 'batch_kb' must be at least 1")


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
                                "batch.size": options.batch_kb * 1024, "compression.type": options.compression,
                                "queue.buffering.max.messages": options.queue_max,
                                # a broker away longer than give_up fails the run (default 300 s, as librdkafka's)
                                "message.timeout.ms": int(options.give_up * 1000)}
        if parts.username:
            conf |= {"security.protocol": "SASL_SSL" if options.tls else "SASL_PLAINTEXT",
                     "sasl.mechanisms": "PLAIN", "sasl.username": parts.username,
                     "sasl.password": parts.password or ""}
        elif options.tls:
            conf["security.protocol"] = "SSL"
        self.conf = conf
        self.failed: str | None = None
        self.producer = confluent_kafka.Producer(conf)
        self.n_parts = self._partitions()
        self.partition_of: dict[str, int] = {}
        # per partition: event numbers produced, how many of them are acknowledged, and the last offset
        self.sent: list[list[int]] = [[] for _ in range(self.n_parts)]
        self.acked_n = [0] * self.n_parts
        self.offset = [-1] * self.n_parts
        self.state = tctx.state_dir / "delivered.json"
        self.held: list[int] = [0] * self.n_parts  # resume: the last event number each partition holds
        self.held_ids: set[str] = set()
        self.events_direct = 0  # produced from the writer thread (the spool was empty)
        self.events_spooled = 0  # went through the spool and the sender thread (librdkafka's queue was full)
        self.spool_episodes = 0  # times the writer switched from producing directly to the spool
        old = read_state(self.state)
        if tctx.resume and old.get("run") == tctx.run_key and old.get("partitions") == self.n_parts:
            self.start = [int(x) for x in old["start"]]
            self._read_back(old)
        else:
            self.start = self._ends()
        self._save()
        self.spool = Spool(tctx.state_dir, options.queue, int(options.spool_mb * (1 << 20)))
        self._sender = threading.Thread(target=self._send_all, name="procsim-kafka", daemon=True)
        self._sender.start()

    # -- the topic ---------------------------------------------------------------------------------

    def _partitions(self) -> int:
        deadline = time.monotonic() + 30
        problem = "no answer"
        while time.monotonic() < deadline:
            try:
                md = self.producer.list_topics(self.topic, timeout=5)
            except confluent_kafka.KafkaException as e:
                problem = str(e.args[0])
                continue
            tmd = md.topics.get(self.topic)
            if tmd is not None and tmd.error is None and tmd.partitions:
                return len(tmd.partitions)
            problem = str(tmd.error) if tmd is not None else "no such topic"
            time.sleep(0.2)  # a topic being created by the broker
        raise ProcsimError(f"--to {public_url(self.tctx.url)}: cannot get the topic's partitions ({problem})")

    def _consumer(self) -> Any:
        conf = {k: v for k, v in self.conf.items() if k.startswith(("bootstrap", "security", "sasl"))}
        return confluent_kafka.Consumer(conf | {"group.id": f"procsim-{self.tctx.run_key}",
                                                "enable.auto.commit": False, "enable.partition.eof": True})

    def _ends(self) -> list[int]:
        c = self._consumer()
        try:
            return [c.get_watermark_offsets(confluent_kafka.TopicPartition(self.topic, p), timeout=10)[1]
                    for p in range(self.n_parts)]
        finally:
            c.close()

    def _read_back(self, old: dict[str, Any]) -> None:
        """What the topic holds of this run beyond the recorded state: each partition from its recorded
        offset (or the run's start) to its end."""
        acked = {int(k): v for k, v in old.get("acked", {}).items()}
        for p in range(self.n_parts):
            self.held[p], self.offset[p] = acked.get(p, (0, -1))
        c = self._consumer()
        try:
            ends = self._ends()
            todo = {p: max(self.offset[p] + 1, self.start[p]) for p in range(self.n_parts)}
            todo = {p: o for p, o in todo.items() if o < ends[p]}
            if not todo:
                return
            c.assign([confluent_kafka.TopicPartition(self.topic, p, o) for p, o in todo.items()])
            prefix = (self.tctx.run_key + ":").encode()
            deadline = time.monotonic() + self.opt.give_up
            while todo and time.monotonic() < deadline:
                msg = c.poll(1.0)
                if msg is None:
                    continue
                if msg.error() is not None:
                    if msg.error().code() == confluent_kafka.KafkaError._PARTITION_EOF:
                        todo.pop(msg.partition(), None)
                        continue
                    raise ProcsimError(f"--to {public_url(self.tctx.url)}: reading back: {msg.error().str()}")
                for k, v in msg.headers() or ():
                    if k == "idempotency-key" and v.startswith(prefix):
                        self.held_ids.add(v[len(prefix):].decode())
                if msg.offset() >= ends[msg.partition()] - 1:
                    todo.pop(msg.partition(), None)
            if todo:
                raise ProcsimError(f"--to {public_url(self.tctx.url)}: could not read back partitions "
                                   f"{sorted(todo)} within {self.opt.give_up:g} s")
        finally:
            c.close()

    def _save(self) -> None:
        acked = {}
        for p in range(self.n_parts):
            n = self.acked_n[p]
            if n:
                acked[p] = (self.sent[p][n - 1], self.offset[p])
            elif self.held[p] or self.offset[p] >= 0:
                acked[p] = (self.held[p], self.offset[p])
        write_state(self.state, {"run": self.tctx.run_key, "topic": self.topic, "partitions": self.n_parts,
                                 "start": self.start, "acked": acked})

    # -- delivery ----------------------------------------------------------------------------------

    def _report(self, err: Any, msg: Any) -> None:
        p = msg.partition()
        if err is None:
            self.delivered += 1
            self.acked_n[p] += 1
            self.offset[p] = msg.offset()
        elif self.failed is None:
            self.failed = f"--to {public_url(self.tctx.url)}: {err.str()}"

    def write_events(self, batch: EventBatch) -> None:
        n = batch.table.num_rows
        first = self.seen
        self.seen += n
        table = event_table(batch, self.ctx.labels_in_log)
        seqs = np.arange(first + 1, first + n + 1, dtype=np.int64)
        parts = self._parts(table.column("case_id"))
        if any(self.held) or self.held_ids:
            # resume: leave out what each partition holds already
            keep = seqs > np.asarray(self.held, dtype=np.int64)[parts]
            if self.held_ids:
                keep &= ~pc.is_in(table.column("event_id"), pa.array(sorted(self.held_ids))).to_numpy(False)
            self.skip += int(n - keep.sum())
            if not keep.all():
                table, seqs, parts = table.filter(pa.array(keep)), seqs[keep], parts[keep]
        if table.num_rows:
            self._produce(table, seqs, parts)

    def _parts(self, keys: Any) -> np.ndarray:
        """Each key's partition, as librdkafka's default partitioner picks it (CRC-32 modulo the count),
        computed once per case."""
        enc = pc.dictionary_encode(keys).combine_chunks()
        cache, n = self.partition_of, self.n_parts
        lookup = []
        for k in enc.dictionary.to_pylist():
            p = cache.get(k)
            if p is None:
                p = cache[k] = zlib.crc32(k.encode()) % n
            lookup.append(p)
        return cast(np.ndarray, np.asarray(lookup, dtype=np.int64)[enc.indices.to_numpy(False)])  # pyarrow is untyped

    def deliver(self, table: pa.Table) -> None:  # pragma: no cover - write_events is overridden
        raise NotImplementedError

    def _produce(self, table: pa.Table, seqs: np.ndarray, parts: np.ndarray) -> None:
        """Hand a batch to librdkafka from the writer thread while the spool is empty (no thread hand-off, no
        copy); the rest of a batch that librdkafka's full queue refuses, and every batch after it until the
        sender has drained the spool, goes through the spool. Order holds: the sender pops a batch only once
        librdkafka has all of it, so an empty spool means everything before is in librdkafka's queue."""
        if self.failed:
            raise ProcsimError(self.failed)
        values = json_text(table)
        keys, ids = table.column("case_id"), table.column("event_id")
        if self.spool.empty():
            n = self._hand_over(values.to_pylist(), keys.to_pylist(), ids.to_pylist(), seqs, parts)
            self.events_direct += n
            if n == table.num_rows:
                self.producer.poll(0)  # delivery reports of earlier batches: the state for --resume
                self._save()
                return
            self.spool_episodes += 1  # librdkafka's queue is full (brokers away or behind): the rest waits
            values, keys, ids, seqs, parts = values[n:], keys[n:], ids[n:], seqs[n:], parts[n:]
        data = pa.table({"value": values, "key": keys,
                         "id": pc.binary_join_element_wise(self.tctx.run_key + ":", ids, ""),
                         "partition": pa.array(parts, pa.int32()), "seq": pa.array(seqs, pa.int64())})
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, data.schema) as w:
            w.write_table(data)
        self.events_spooled += data.num_rows
        self.spool.put(("events", sink.getvalue().to_pybytes(), data.num_rows))  # blocks while full

    def _hand_over(self, values: list[str], keys: list[str], ids: list[str], seqs: np.ndarray,
                   parts: np.ndarray) -> int:
        """``produce`` each message until librdkafka's queue is full; how many it took (a prefix)."""
        produce, topic, report, run = self.producer.produce, self.topic, self._report, self.tctx.run_key + ":"
        plist = parts.tolist()
        self._note_sent(seqs, parts)  # before producing: a delivery report may refer to them
        i = 0
        try:
            for v, k, e, p in zip(values, keys, ids, plist):
                produce(topic, value=v, key=k, partition=p, headers=[("idempotency-key", run + e)],
                        on_delivery=report)
                i += 1
        except BufferError:
            # not produced: off the end of each partition's list again (reports only refer to produced ones)
            for p, c in zip(*np.unique(parts[i:], return_counts=True)):
                del self.sent[int(p)][-int(c):]
        return i

    def _note_sent(self, seqs: np.ndarray, parts: np.ndarray) -> None:
        for p in np.unique(parts).tolist():
            self.sent[p].extend(seqs[parts == p].tolist())

    def _send_all(self) -> None:
        """The sender thread: hand the spool's batches to librdkafka in order. A batch leaves the spool once
        librdkafka has it (its own queue is bounded by queue_max); when the brokers are away that queue fills,
        and the batches behind it wait in the spool instead of holding up the simulation."""
        poll, report = self.producer.poll, self._report
        while self.failed is None:
            item = self.spool.head()
            if item is None:
                return
            data = pa.ipc.open_stream(item[1]).read_all()
            values, keys, ids = (data.column(c).to_pylist() for c in ("value", "key", "id"))
            parts, seqs = data.column("partition").to_numpy(), data.column("seq").to_numpy()
            self._note_sent(seqs, parts)
            for v, k, i, p in zip(values, keys, ids, parts.tolist()):
                while True:
                    try:
                        self.producer.produce(self.topic, value=v, key=k, partition=p,
                                              headers=[("idempotency-key", i)], on_delivery=report)
                        break
                    except BufferError:  # librdkafka's queue is full: wait for the brokers
                        self.retries += 1
                        poll(0.05)
                        if self.failed is not None:
                            self.spool.close()  # a writer waiting for room goes on, and raises the error
                            return
            poll(0)
            self._save()
            self.spool.pop()  # the last pop leaves the spool empty: the writer produces directly again
        self.spool.close()  # failed: a writer waiting for room goes on, and raises the error

    def _finish(self) -> None:
        self.spool.close()
        self._sender.join()
        self.spool.discard()
        deadline = time.monotonic() + self.opt.give_up
        while self.producer.flush(1.0) and time.monotonic() < deadline:
            pass
        left = len(self.producer)
        self._save()
        if self.failed:
            raise ProcsimError(self.failed)
        if left:
            raise ProcsimError(f"--to {public_url(self.tctx.url)}: {left} events not acknowledged after "
                               f"{self.opt.give_up:g} s; run again with --resume to send the rest")

    def abort(self) -> None:
        self.failed = self.failed or "aborted"
        self.spool.close()
        self._sender.join(timeout=5)
        self.spool.discard()
        self.producer.purge()

    def report(self) -> dict[str, Any]:
        return super().report() | {"spooled_to_disk": self.spool.spilled, "spool_peak_bytes": self.spool.peak_bytes,
                                   "events_produced_directly": self.events_direct,
                                   "events_through_spool": self.events_spooled,
                                   "switches_to_spool": self.spool_episodes}
