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
    from procsim.profile import profile

    assert set(data["profile"]) == {"real", "sim"}
    for side, path in (("real", a), ("sim", b)):
        for k, v in profile(read_log(path)).items():
            assert data["profile"][side][k] == (None if v != v else pytest.approx(v)), k  # nan -> null


def test_text_table_names_every_distance(two_runs: tuple[Path, Path]) -> None:
    r = cli("compare", str(two_runs[0]), str(two_runs[1]))
    assert r.returncode == 0, r.stderr
    for d in DISTANCES:
        assert d.title in r.stdout


def test_profile_side_by_side(two_runs: tuple[Path, Path]) -> None:
    from procsim.profile import METRICS

    c = cmp.compare(two_runs[0], two_runs[1])
    assert c.profile_real is not None and c.profile_sim is not None
    text = c.to_text()
    key = METRICS[0].key
    row = next(line for line in text.splitlines() if line.startswith(key))
    assert f"{c.profile_real[key]:.4f}" in row and f"{c.profile_sim[key]:.4f}" in row


def test_report_puts_both_logs_and_the_distances_on_one_page(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "compare.html"
    r = cli("compare", str(two_runs[0]), str(two_runs[1]), "--report", str(out))
    assert r.returncode == 0, r.stderr
    html = out.read_text(encoding="utf-8")
    assert html.count('class="graph processmap"') == 2  # one process map per log
    assert 'class="which">real<' in html and 'class="which">simulated<' in html
    data = json.loads(cli("compare", str(two_runs[0]), str(two_runs[1]), "--json").stdout)
    for k in data["distances"]:
        assert f"<td>{k}</td>" in html
    assert not list(tmp_path.glob(".*.part"))


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
