"""procsim/ type-checks clean under ``mypy --strict`` (the configuration is [tool.mypy] in pyproject.toml).

Run from the suite so that CI (`.ci/run` runs the suite) checks it on every change; a fresh cache folder per
run, so a stale cache can never hide an error.
"""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO


def test_mypy_strict_is_clean(tmp_path) -> None:
    r = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "cache"), "--no-error-summary"],
                       cwd=REPO, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, "mypy --strict found errors:\n" + r.stdout + r.stderr
