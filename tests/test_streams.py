"""Per-case random streams: a stream depends on (seed, purpose, case) only, and reused generators start afresh."""

from __future__ import annotations

import numpy as np

from procsim.sim.streams import CaseStreams


def test_a_case_stream_depends_only_on_seed_purpose_and_case():
    a, b = CaseStreams(7, 1), CaseStreams(7, 1)
    first = a.get(42).random(5)
    # another instance, other cases drawn first: case 42 still gets the same numbers
    for i in range(10):
        b.get(i).random(3)
    assert np.array_equal(b.get(42).random(5), first)
    assert not np.array_equal(CaseStreams(8, 1).get(42).random(5), first)  # another seed
    assert not np.array_equal(CaseStreams(7, 2).get(42).random(5), first)  # another purpose
    assert not np.array_equal(CaseStreams(7, 1).get(43).random(5), first)  # the neighbouring case


def test_a_reused_generator_is_reset_completely():
    s = CaseStreams(3, 0)
    g = s.get(1)
    g.random(7)
    g.integers(2**32)  # leaves a buffered 32-bit half behind in the bit generator
    s.put(g)
    again = s.get(5)
    assert again is g  # handed back and reused
    assert np.array_equal(again.integers(2**32, size=4), CaseStreams(3, 0).get(5).integers(2**32, size=4))


def test_neighbouring_cases_are_uncorrelated():
    s = CaseStreams(0, 0)
    firsts = np.array([s.get(i).random() for i in range(4000)])
    # uniform on [0, 1): mean 1/2, and no lag-1 correlation between consecutive case numbers
    assert abs(firsts.mean() - 0.5) < 0.02
    assert abs(np.corrcoef(firsts[:-1], firsts[1:])[0, 1]) < 0.05

