"""No state shared between runs in one process: runs one after another, in either order, or at once in threads,
give the bytes each gives alone in a fresh interpreter (issue #14: shards of one run share worker processes)."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from procsim.run import run
from procsim.spec import load_process

REPO = Path(__file__).resolve().parents[1]
LOAN = REPO / "processes" / "loan_application.yaml"  # rules (bound per run), faker attributes in en_GB
O2C = REPO / "processes" / "order_to_cash.yaml"  # faker attributes in en_US
FILES = ("events.csv", "cases.csv")


def _alone(process: Path, seed: int, out: Path) -> dict[str, bytes]:
    # a fresh interpreter: no Faker, no rule binding, no collector setting left by an earlier run
    subprocess.run([sys.executable, "-m", "procsim", "run", str(process), "--cases", "60", "--seed", str(seed),
                    "--out", str(out), "--quiet"], check=True, cwd=REPO)
    return {n: (out / n).read_bytes() for n in FILES}


def _here(loaded, seed: int, out: Path) -> dict[str, bytes]:
    run(loaded, out, seed=seed, cases=60)
    return {n: (out / n).read_bytes() for n in FILES}


def test_runs_in_one_process_match_runs_alone(tmp_path):
    alone = {("loan", 1): _alone(LOAN, 1, tmp_path / "a1"), ("loan", 2): _alone(LOAN, 2, tmp_path / "a2"),
             ("o2c", 1): _alone(O2C, 1, tmp_path / "a3")}
    loan, o2c = load_process(LOAN), load_process(O2C)  # one loaded process shared by its runs, as on a worker
    order = [("loan", 2), ("o2c", 1), ("loan", 1), ("loan", 2), ("o2c", 1)]
    for k, key in enumerate(order):
        got = _here(loan if key[0] == "loan" else o2c, key[1], tmp_path / f"b{k}")
        assert got == alone[key], (k, key)


def test_runs_in_threads_at_once_match_runs_alone(tmp_path):
    alone = {s: _alone(LOAN, s, tmp_path / f"a{s}") for s in (1, 2)}
    loan = load_process(LOAN)
    got: dict[int, dict[str, bytes]] = {}

    def one(s: int) -> None:
        got[s] = _here(loan, s, tmp_path / f"t{s}")

    threads = [threading.Thread(target=one, args=(s,)) for s in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == alone
