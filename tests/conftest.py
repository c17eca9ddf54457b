"""Shared test helpers: a minimal valid process, and paths to the repository and shared data."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

MINI = """\
process:
  name: Mini
  timezone: Europe/Berlin
  start: 2026-03-02T08:00:00+01:00
calendars:
  office:
    days: [mon, tue, wed, thu, fri]
    hours: ["08:00-12:00", "13:00-17:00"]
roles:
  clerk:
    members: 2
    calendar: office
  boss:
    members: [Ann, Bob]
    calendar: office
arrivals:
  interarrival: {kind: exponential, mean: 20m}
attributes:
  amount:
    distribution: {kind: uniform, low: 10, high: 1000}
    round: 2
  region:
    choice: {north: 0.5, south: 0.5}
events:
  start: {type: start, next: register}
  done: {type: end}
activities:
  register:
    role: clerk
    duration: {kind: exponential, mean: 10m}
    next: split
  check_a:
    role: clerk
    duration: 15m
    next: join
  check_b:
    role: boss
    duration: {kind: uniform, low: 5m, high: 25m}
    next: join
  decide:
    role: boss
    duration: {kind: triangular, low: 5m, mode: 10m, high: 30m}
    next: ok
gateways:
  split:
    type: and
    to: [check_a, check_b]
  join:
    type: and
    next: decide
  ok:
    type: xor
    branches:
      - {to: done, probability: 0.8}
      - {to: decide, probability: 0.2, max: 2}
"""


@pytest.fixture
def write_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str, str], Path]:
    """Write YAML text (dedented) to tmp_path/<name> and return its path; the test runs in tmp_path,
    so messages name the file as a user would see it (``p.yaml:3:5: ...``)."""
    monkeypatch.chdir(tmp_path)

    def write(text: str, name: str = "p.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write

