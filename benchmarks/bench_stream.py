"""Events per second into each streaming target (run by hand, not a test).

    python benchmarks/bench_stream.py                         # 2,000 cases of order_to_cash: jsonl, http
    python benchmarks/bench_stream.py --pg postgresql://postgres@127.0.0.1:5432/postgres
    python benchmarks/bench_stream.py --cases 500 --repeat 1
    python benchmarks/bench_stream.py --only kafka --repeat 5   # one target (and the baseline)

One run records its event and case batches (a capturing target); then each target gets those same batches,
fresh (a new target each time), and the time from the first batch to ``close`` returning (everything
acknowledged) is counted; opening the target (connecting, creating tables, reading the topic's offsets) is
printed apart. A new Kafka producer asks for its producer id only 500 ms after it starts (librdkafka's
idempotence timer, when no broker connection is up yet): in a run that overlaps the simulation, so a Kafka
replay starts its clock 0.6 s after opening the target. The
timestamps' ISO text is made once in the recording run, as the file sinks share it in a real run. The HTTP
receiver is a ThreadingHTTPServer in a child process (it would otherwise compete for this process's GIL).
Baseline: the same batches into ``events.csv`` (the CSV sink), in the same process: the ratio says what a
target costs against the file format everyone already uses. Targets (issue #15): jsonl >= 100,000 events/s,
http (batched) >= 5,000, PostgreSQL >= 50,000, Kafka (librdkafka's mock cluster, in this process) >= 100,000. The script prints PASS/MISS and always exits 0.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from procsim.records import CaseBatch, EventBatch
from procsim.run import run
from procsim.sinks import REGISTRY
from procsim.sinks.base import SinkContext
from procsim.targets import open_targets
from procsim.targets.base import Options, Target, TargetContext
from procsim.targets.stream import StreamOptions

HERE = Path(__file__).resolve().parent
GOALS = {"jsonl": 100_000.0, "http": 5_000.0, "postgresql": 50_000.0, "kafka": 100_000.0}

SERVER = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
s = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
print("ready", flush=True)
s.serve_forever()
"""


class Capture(Target):
    """Keeps the batches it is given (for replaying them into the real targets)."""

    schemes = ("capture",)
    options_type = Options
    kept: list[tuple[str, Any]] = []
    context: list[SinkContext] = []

    def __init__(self, ctx: SinkContext, tctx: TargetContext, options: Options) -> None:
        super().__init__(ctx, tctx, options)
        Capture.context.append(ctx)

    def write_events(self, batch: EventBatch) -> None:
        batch.iso_text  # noqa: B018 - made here, once, as in a real run
        Capture.kept.append(("events", batch))

    def deliver(self, table: Any) -> None:  # pragma: no cover - write_events is overridden
        pass

    def write_cases(self, batch: CaseBatch) -> None:
        batch.start_iso, batch.end_iso  # noqa: B018
        Capture.kept.append(("cases", batch))


CPU: dict[str, list[float]] = {}  # per target: (client CPU s, server CPU s) of each replay


def server_cpu(pg: str | None) -> float:
    """CPU seconds of a local PostgreSQL server and its finished backends (the postmaster's own and its reaped
    children's times in /proc), or NaN when the server is not on this machine."""
    if not pg:
        return float("nan")
    import psycopg

    try:
        with psycopg.connect(pg.split("?")[0], autocommit=True) as c:
            folder = c.execute("SHOW data_directory").fetchone()[0]
        pid = int((Path(folder) / "postmaster.pid").read_text().split()[0])
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, ValueError, psycopg.Error):
        return float("nan")
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # utime stime cutime cstime


OPEN: dict[str, list[float]] = {}  # per target: seconds to open it (connect, create tables, read the topic)
KAFKA_START = 0.6  # s: librdkafka's idempotent producer asks for its producer id 500 ms after it starts


def replay(make: Any, name: str = "", pg: str | None = None) -> float:
    t = time.perf_counter()
    sink = make()
    OPEN.setdefault(name, []).append(time.perf_counter() - t)
    if name == "kafka":
        # In a run the producer's start (its id request: librdkafka tries once no broker connection is up yet,
        # when it starts, and again 500 ms later) overlaps the simulation's first batches, which wait in its
        # queue; a replay has no simulation, so it lets that time pass before the clock starts.
        time.sleep(KAFKA_START)
    s0, c0 = server_cpu(pg), time.process_time()
    t0 = time.perf_counter()
    for kind, batch in Capture.kept:
        (sink.write_events if kind == "events" else sink.write_cases)(batch)
    sink.close()
    took = time.perf_counter() - t0
    c1 = time.process_time()
    time.sleep(0.2 if pg else 0)  # the backend exits after the close: let the postmaster reap it
    CPU.setdefault(name, []).append((c1 - c0, server_cpu(pg) - s0))
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--process", type=Path, default=HERE.parent / "processes" / "order_to_cash.yaml")
    ap.add_argument("--cases", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--pg", help="a PostgreSQL URL to measure too (tables procsim_bench_*; they are emptied)")
    ap.add_argument("--only", action="append", choices=sorted(GOALS),
                    help="measure only this target (repeatable; the events.csv baseline always runs)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="procsim-bench-stream-"))
    result = run(args.process, tmp / "rec", cases=args.cases, streaming=StreamOptions(["capture:"]))
    events = result.events
    ctx = Capture.context[0]
    print(f"{args.process.name}: {result.cases} cases, {events} events; best of {args.repeat}")

    def best(make: Any, name: str = "", pg: str | None = None) -> float:
        return min(replay(make, name, pg) for _ in range(args.repeat))

    base = best(lambda: REGISTRY["csv"](ctx), "events.csv")
    rows = [("events.csv (baseline)", base, None)]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    server.stdout.readline()
    urls = {"jsonl": f"jsonl:{tmp / 'events.jsonl'}", "http": f"http://127.0.0.1:{port}/hook?batch=500"}
    holder = None
    try:
        import confluent_kafka as ck

        # librdkafka's in-process mock cluster (3 brokers); the target connects to it like to a real one
        holder = ck.Producer({"test.mock.num.brokers": 3, "logger": lambda *a: None})
        brokers = ",".join(f"{b.host}:{b.port}" for b in holder.list_topics(timeout=10).brokers.values())
        urls["kafka"] = f"kafka://{brokers}/bench"
    except ImportError:
        print("confluent-kafka not installed: no kafka row")
    if args.pg:
        import psycopg

        urls["postgresql"] = args.pg + ("&" if "?" in args.pg else "?") + "prefix=procsim_bench_"
    if args.only:
        urls = {k: v for k, v in urls.items() if k in args.only}
    try:
        for name, url in urls.items():
            if name == "postgresql":
                with psycopg.connect(args.pg.split("?")[0], autocommit=True) as c:
                    c.execute("DROP TABLE IF EXISTS procsim_bench_events, procsim_bench_cases, "
                              "procsim_bench_labels")

            def make(url: str = url) -> Target:
                (t,) = open_targets([url], ctx, f"bench{time.perf_counter_ns()}")
                return t

            rows.append((name, best(make, name, args.pg if name == "postgresql" else None), GOALS[name]))
    finally:
        server.terminate()
    print(f"{'target':<24}{'open s':>8}{'seconds':>10}{'events/s':>14}{'vs csv':>9}  goal")
    for name, sec, goal in rows:
        rate = events / sec
        verdict = "" if goal is None else f"{goal:>9,.0f} {'PASS' if rate >= goal else 'MISS'}"
        opened = min(OPEN.get(name.split()[0], [0.0]))
        print(f"{name:<24}{opened:>8.3f}{sec:>10.3f}{rate:>14,.0f}{base / sec:>9.2f}  {verdict}")
    # CPU seconds are what the machine's load does not change much: wall time on a shared machine is noisy
    print(f"load average {os.getloadavg()[0]:.1f}; CPU seconds per replay (client process, local server):")
    for name, cpus in CPU.items():
        client = min(c for c, _ in cpus)
        line = f"  {name:<22}client {client:.3f} s ({events / client:,.0f} events/CPU-s)"
        server = min(s for _, s in cpus)
        if server == server:  # not NaN
            line += f", server {server:.3f} s ({events / server:,.0f} events/CPU-s)"
        print(line)


if __name__ == "__main__":
    main()
