"""The versions the golden files and hashes were taken with (constraints.txt), for tests that pin output bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from procsim.version import output_versions

CONSTRAINTS = Path(__file__).resolve().parents[1] / "constraints.txt"


def pinned() -> dict[str, str]:
    """package -> exact version, from constraints.txt."""
    out = {}
    for line in CONSTRAINTS.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            out[name.strip().lower()] = version.strip()
    return out


def require_pinned(*names: str) -> None:
    """Skip, saying why, when an installed version differs from the one the expected bytes were taken with."""
    want = pinned()
    have = output_versions()
    differ = [f"{n} {have[n]} (golden: {want[n]})" for n in (names or tuple(want)) if have.get(n) != want[n]]
    if differ:
        pytest.skip("the expected bytes were taken with constraints.txt; installed: " + ", ".join(differ)
                    + " -> pip install -c constraints.txt -e '.[test]' to check them")
