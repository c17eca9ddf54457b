"""``procsim compare``: every distance as a table and JSON, the profile side by side when it is installed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import procsim.compare as cmp
from procsim.distances import DISTANCES, all_distances
from procsim.eventlog import read_log

from conftest import REPO


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "procsim", *args], capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from procsim.run import run

    out = tmp_path_factory.mktemp("cmp")
    for seed in (1, 2):
        run(REPO / "processes" / "procure_to_pay.yaml", out / str(seed), seed=seed, cases=80)
    return out / "1", out / "2"


def test_json_has_every_distance_equal_to_the_library_functions(two_runs: tuple[Path, Path]) -> None:
    a, b = two_runs
    r = cli("compare", str(a), str(b), "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert list(data["distances"]) == [d.key for d in DISTANCES]
    expected = all_distances(read_log(a), read_log(b))
    for k, v in expected.items():
        assert data["distances"][k] == pytest.approx(v)
    assert data["real_cases"] == data["sim_cases"] == 80
    if cmp.load_profile() is None:
        assert data["profile"] is None and any("procsim.profile" in n for n in data["notes"])
    else:
        assert set(data["profile"]) == {"real", "sim"}


def test_text_table_names_every_distance(two_runs: tuple[Path, Path]) -> None:
    r = cli("compare", str(two_runs[0]), str(two_runs[1]))
    assert r.returncode == 0, r.stderr
    for d in DISTANCES:
        assert d.title in r.stdout


def test_profile_side_by_side_when_available(two_runs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    # stands in for procsim.profile (another branch) only to check the layout: events per case of each log
    def fake_profile(log, seed=0):  # type: ignore[no-untyped-def]
        return {"events_per_case": len(log.df) / log.df["case_id"].nunique()}

    monkeypatch.setattr(cmp, "load_profile", lambda: fake_profile)
    c = cmp.compare(two_runs[0], two_runs[1])
    assert c.profile_real is not None and c.profile_sim is not None
    text = c.to_text()
    row = next(line for line in text.splitlines() if line.startswith("events_per_case"))
    assert f"{c.profile_real['events_per_case']:.4f}" in row and f"{c.profile_sim['events_per_case']:.4f}" in row


def test_column_flags_map_a_csv(tmp_path: Path, two_runs: tuple[Path, Path]) -> None:
    df = read_log(two_runs[0]).df.rename(columns={"case_id": "Case", "activity": "Task", "start_time": "Begin",
                                                 "end_time": "Finish", "resource": "Who"})
    f = tmp_path / "renamed.csv"
    df.to_csv(f, index=False)
    r = cli("compare", str(f), str(two_runs[0]), "--json", "--case", "Case", "--activity", "Task",
            "--start", "Begin", "--end", "Finish", "--resource", "Who")
    assert r.returncode == 0, r.stderr
    assert all(v == pytest.approx(0) for v in json.loads(r.stdout)["distances"].values())


def test_bad_input_exits_2_without_traceback(tmp_path: Path, two_runs: tuple[Path, Path]) -> None:
    r = cli("compare", str(tmp_path / "missing.xes"), str(two_runs[0]))
    assert r.returncode == 2 and "missing.xes: no such file or folder" in r.stderr
    f = tmp_path / "x.csv"
    pd.DataFrame({"a": ["1"], "b": ["x"]}).to_csv(f, index=False)
    r = cli("compare", str(f), str(two_runs[0]), "--case", "nope")
    assert r.returncode == 2 and "no column 'nope' for the case" in r.stderr
    assert "Traceback" not in r.stderr
