"""``procsim fidelity``: split by case start, discover, simulate the test period, distances with a noise floor."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from procsim.distances import DISTANCES
from procsim.eventlog import read_log
from procsim.fidelity import fidelity_log, split_by_start
from procsim.run import run

from conftest import REPO, SHARED


@pytest.fixture(scope="module")
def p2p_log(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("fid")
    # procure-to-pay as bundled before issue #12 (what discover models today: see tests/test_discover.py)
    run(REPO / "benchmarks" / "procure_to_pay_plain.yaml", out / "src", seed=5, cases=250, root=REPO)
    return read_log(out / "src")


def test_split_is_by_case_start(p2p_log) -> None:  # type: ignore[no-untyped-def]
    tr, te, starts = split_by_start(p2p_log, 0.8)
    a, b = set(tr.df["case_id"]), set(te.df["case_id"])
    assert not a & b and len(a) == 200 and len(b) == 50
    assert starts.loc[list(a)].max() <= starts.loc[list(b)].min()


def test_protocol_on_a_simulated_log_reports_every_distance_and_repeats(p2p_log) -> None:  # type: ignore[no-untyped-def]  # noqa: E501
    r = fidelity_log(p2p_log, replications=2, seed=1)
    assert (r.train_cases, r.test_cases) == (200, 50)
    for d in DISTANCES:
        assert len(r.values[d.key]) == 2 and all(math.isfinite(v) for v in r.values[d.key])
        assert math.isfinite(r.floor[d.key])
    # the rediscovered model simulates the test period: control flow and cycle times close to the real ones
    assert r.mean("cfld") < 0.2 and r.mean("ngd_2") < 0.1
    assert r.mean("car") < 3 * r.floor["car"] + 24  # it starts where the test period starts
    again = fidelity_log(p2p_log, replications=2, seed=1)
    assert again.values == r.values  # same seed, same numbers
    data = json.loads(r.to_json())
    assert set(data["distances"]) == {d.key for d in DISTANCES}
    assert {"mean", "sd", "values", "noise_floor"} <= set(data["distances"]["cfld"])
    assert all(d.title in r.to_text() for d in DISTANCES)


def test_cli_on_receipt_text_and_json() -> None:
    p = SHARED / "data" / "logs" / "receipt.xes.gz"
    if not p.is_file():
        pytest.skip(f"{p} is absent")
    r = subprocess.run([sys.executable, "-m", "procsim", "fidelity", str(p), "--replications", "2", "--json"],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["train_cases"] + data["test_cases"] == 1434 and data["replications"] == 2
    assert all(v["mean"] is not None for v in data["distances"].values())


def test_bad_flags_exit_2(tmp_path: Path) -> None:
    p = SHARED / "data" / "logs" / "running-example.xes"
    if not p.is_file():
        pytest.skip(f"{p} is absent")
    for args in (["--replications", "0"], ["--train", "0.99"]):
        r = subprocess.run([sys.executable, "-m", "procsim", "fidelity", str(p), *args], capture_output=True,
                           text=True, check=False)
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
