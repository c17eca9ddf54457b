"""Timestamp formatting speed: procsim's vectorised TimeBase.iso against datetime.isoformat per value.

Run by hand: python benchmarks/bench_timebase.py [--n 1000000]. Prints both timings and the ratio.
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from procsim.timebase import TimeBase


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=1_000_000)
    n = ap.parse_args().n
    tz = ZoneInfo("Europe/Berlin")
    tb = TimeBase(datetime(2026, 1, 5, 8, tzinfo=tz), tz)
    ts = np.random.default_rng(1).uniform(0.0, 365 * 86400.0, n)
    tb.iso(ts[:10])
    t0 = time.perf_counter()
    tb.iso(ts)
    ours = time.perf_counter() - t0
    sample = ts[: min(n, 100_000)]
    t0 = time.perf_counter()
    for t in sample:
        tb.to_datetime(float(t)).isoformat(timespec="milliseconds")
    base = (time.perf_counter() - t0) * n / len(sample)
    print(f"{n:,} timestamps: TimeBase.iso {ours:.3f} s, datetime.isoformat loop {base:.3f} s (extrapolated), "
          f"speed-up {base / ours:.1f}x")


if __name__ == "__main__":
    main()
