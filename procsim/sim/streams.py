"""Random streams: from the one root seed, a stream per purpose (arrivals, pools...) and per case.

``stream(seed, *key)`` is numpy's ``SeedSequence(seed, spawn_key=key)`` feeding a PCG64: right for the few
run-wide streams. For per-case streams it is too slow: building a SeedSequence and a PCG64 costs 8-12 us,
two of them per case about as much as simulating two activities. So ``CaseStreams`` asks SeedSequence once
per purpose for a 256-bit key, and a case's PCG64 state and increment are ``blake2b(case index, key=that key)``:
keyed hashing gives unrelated, well-mixed states for neighbouring case numbers, and a stream still depends only
on (seed, purpose, case), never on what other cases drew. Generators of finished cases are handed back and
reused with their whole state overwritten, so a run allocates about as many as cases run at once.
"""

from __future__ import annotations

from hashlib import blake2b

import numpy as np

__all__ = ["stream", "CaseStreams", "shard_seed"]

# The purposes (spawn keys) of the run's streams. Here, not in the engine, because the exception catalogue
# draws from them too and sits below the engine.
STREAM_DATA, STREAM_FLOW, STREAM_ARRIVALS, STREAM_POOLS, STREAM_NAMES, STREAM_EXC, STREAM_EXC_PICK = range(7)
STREAM_SAMPLES = 99  # the sample cases load-time checks draw (procsim.sim.build.sample_cases)
STREAM_ARRIVAL_DAYS = 101  # day-to-day arrival noise (procsim.sim.arrivals.DayFactors)
STREAM_RECORDING = 102  # recording delays (procsim.recording)
STREAM_DRIFT = 103  # gradual drift's case versions, incremental removals (procsim.drift)
STREAM_SHARD = 104  # the root seed of each shard of a sharded run (shard_seed)
STREAM_LINES = 105  # a case's line items (procsim.lineitems): processes without line_items never draw from it
STREAM_LINE_EXC = 106  # which line and how much a document exception changes (procsim.lineitems)
STREAM_QUALITY = 107  # data-quality faults: which cases, which positions (procsim.exceptions.quality)
STREAM_MASTER = 108  # master data: objects drawn once per run, their changes over time (procsim.masterdata)
STREAM_SCHEMES = 109  # schemes across cases: their cases, suppliers and amounts (procsim.schemes)
STREAM_SCHEME_PEOPLE = 111  # the one member a scheme instance pins to each of its same_person activities
# 112: reserved for schemes (issue #17); rescaling line items to a scheme's amount draws nothing
STREAM_BATCH = 40  # a batched activity's durations (procsim.sim.batching), one stream per activity
STREAM_BATCH_ALONE = 115  # whether a case a batched activity's `alone` share names is done by itself (per activity)


def stream(seed: int, *key: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


def shard_seed(seed: int, unit: int, replication: int) -> int:
    """The root seed of one shard (organisational unit x replication) of a run whose root seed is ``seed``.

    A shard is a whole run of its own: every stream above is derived from this seed, so the shards' arrivals,
    staff names and case data are independent, and a shard's bytes depend only on (seed, unit, replication),
    never on how many workers ran the shards. A run that is not sharded uses ``seed`` itself, unchanged."""
    state = np.random.SeedSequence(seed, spawn_key=(STREAM_SHARD, unit, replication)).generate_state(2, np.uint32)
    return (int(state[0]) << 31) | (int(state[1]) >> 1)  # 62 bits: fits every integer column and JSON reader


class CaseStreams:
    """Per-case generators for one purpose: ``get(case index)`` -> a Generator in its own state."""

    __slots__ = ("_key", "_free")

    def __init__(self, seed: int, purpose: int) -> None:
        self._key = np.random.SeedSequence(seed, spawn_key=(purpose,)).generate_state(8, np.uint32).tobytes()
        self._free: list[np.random.Generator] = []

    def state(self, idx: int) -> dict[str, object]:
        """The PCG64 state of case ``idx``'s stream (as ``BitGenerator.state`` takes it)."""
        h = blake2b(idx.to_bytes(8, "little"), key=self._key, digest_size=32).digest()
        return {"bit_generator": "PCG64",
                "state": {"state": int.from_bytes(h[:16], "little"), "inc": int.from_bytes(h[16:], "little") | 1},
                "has_uint32": 0, "uinteger": 0}

    def get(self, idx: int) -> np.random.Generator:
        """Case ``idx``'s generator, at the start of its stream."""
        g = self._free.pop() if self._free else np.random.Generator(np.random.PCG64(0))
        g.bit_generator.state = self.state(idx)
        return g

    def put(self, g: np.random.Generator) -> None:
        """Hand back a generator nobody draws from any more (its case finished)."""
        self._free.append(g)
