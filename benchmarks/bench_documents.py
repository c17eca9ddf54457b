"""Documents per second: rendering and writing business documents (run by hand, not a test).

    python benchmarks/bench_documents.py                  # 2,000 cases of each example, best of 3
    python benchmarks/bench_documents.py --cases 500 --repeat 1

For each example process the run writes ``--format documents``; the time counted is the time spent inside the
documents sink's ``write_cases`` (building each context, rendering, writing the JSON and the rendering, the
index row), so the simulation and object derivation are left out. Beside it: the time in building contexts and
rendering alone (``DocumentSet.context`` + ``DocumentSet.render``; the rest is mostly creating two files per
document, which the file system decides), and the whole run's time.
Target (from the issue): at least 2,000 documents/s. The script prints PASS/MISS and always exits 0.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

from procsim.documents import DocumentSet, check_documents
from procsim.errors import SpecError
from procsim.run import run
from procsim.sim.build import attribute_types
from procsim.sinks.documents import DocumentsSink
from procsim.spec import load_process

HERE = Path(__file__).resolve().parent
PROCESSES = ("procure_to_pay", "order_to_cash", "loan_application")
TARGET = 2_000.0


def bench(name: str, cases: int, repeat: int) -> tuple[int, float, float, float]:
    """(documents, best seconds inside the sink, best seconds rendering, best whole-run seconds)."""
    loaded = load_process(HERE.parent / "processes" / f"{name}.yaml")
    problems = check_documents(loaded, attribute_types(loaded.spec))
    if problems:
        raise SpecError(problems)
    original = DocumentsSink.write_cases
    spent = [0.0]

    def timed(self: DocumentsSink, batch: object) -> None:
        t0 = time.perf_counter()
        original(self, batch)  # type: ignore[arg-type]
        spent[0] += time.perf_counter() - t0

    ctx_fn, render_fn = DocumentSet.context, DocumentSet.render
    rendering = [0.0]

    def timed_ctx(self: DocumentSet, *a: object) -> object:
        t0 = time.perf_counter()
        out = ctx_fn(self, *a)  # type: ignore[arg-type]
        rendering[0] += time.perf_counter() - t0
        return out

    def timed_render(self: DocumentSet, *a: object) -> str:
        t0 = time.perf_counter()
        out = render_fn(self, *a)  # type: ignore[arg-type]
        rendering[0] += time.perf_counter() - t0
        return out

    best_sink = best_render = best_run = float("inf")
    docs = 0
    DocumentsSink.write_cases = timed  # type: ignore[method-assign]
    DocumentSet.context, DocumentSet.render = timed_ctx, timed_render  # type: ignore[method-assign, assignment]
    try:
        for _ in range(repeat):
            with tempfile.TemporaryDirectory() as tmp:
                spent[0] = rendering[0] = 0.0
                t0 = time.perf_counter()
                run(loaded, tmp, seed=1, cases=cases, formats=["documents"])
                best_run = min(best_run, time.perf_counter() - t0)
                best_sink = min(best_sink, spent[0])
                best_render = min(best_render, rendering[0])
                with (Path(tmp) / "documents" / "index.csv").open(encoding="utf-8") as f:
                    docs = sum(1 for _ in csv.reader(f)) - 1
    finally:
        DocumentsSink.write_cases = original  # type: ignore[method-assign]
        DocumentSet.context, DocumentSet.render = ctx_fn, render_fn  # type: ignore[method-assign]
    return docs, best_sink, best_render, best_run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    total_docs, total_s, total_r = 0, 0.0, 0.0
    for name in PROCESSES:
        docs, sink_s, render_s, run_s = bench(name, args.cases, args.repeat)
        total_docs += docs
        total_s += sink_s
        total_r += render_s
        rate = docs / sink_s if sink_s else float("inf")
        print(f"{name:18s} {docs:7,d} documents  {sink_s:6.3f} s in the sink  {rate:9,.0f} documents/s  "
              f"(rendering alone {docs / render_s:,.0f}/s; whole run {run_s:.2f} s)")
    rate = total_docs / total_s if total_s else float("inf")
    verdict = "PASS" if rate >= TARGET else "MISS"
    print(f"all                {total_docs:7,d} documents  {total_s:6.3f} s  {rate:9,.0f} documents/s: {verdict} "
          f"against {TARGET:,.0f}/s (rendering alone {total_docs / total_r:,.0f}/s)")


if __name__ == "__main__":
    main()
