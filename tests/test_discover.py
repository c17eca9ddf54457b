"""``procsim discover``: the process file it writes loads, runs, and simulates close to its source log."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from ruamel.yaml import YAML

from procsim.discover import _working_seconds, discover, write_checked
from procsim.distances import all_distances
from procsim.eventlog import ActivityLog, read_log
from procsim.run import run
from procsim.spec import load_process

from conftest import REPO, SHARED


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "procsim", *args], capture_output=True, text=True, check=False)


PLAIN = REPO / "benchmarks" / "procure_to_pay_plain.yaml"


def _mine_and_run(log: ActivityLog, tmp: Path, seed: int = 3) -> tuple[Path, ActivityLog]:
    path = write_checked(discover(log), tmp / "mined")
    run(path, tmp / "sim", seed=seed)
    return path, read_log(tmp / "sim")


@pytest.fixture(scope="module")
def p2p(tmp_path_factory: pytest.TempPathFactory) -> tuple[ActivityLog, ActivityLog]:
    out = tmp_path_factory.mktemp("disc")
    # the procure-to-pay process as bundled before issue #12 (no waits, batches or member speeds): what discover
    # models today, so the rediscovered process can be held close to it. The realistic example is measured, not
    # asserted, in test_realistic_example_is_discovered_and_runs below.
    for seed in (1, 2):
        run(PLAIN, out / f"src{seed}", seed=seed, cases=300, root=REPO)
    return read_log(out / "src1"), read_log(out / "src2")


def test_procure_to_pay_rediscovered_validates_runs_and_is_close(p2p: tuple[ActivityLog, ActivityLog],
                                                                   tmp_path: Path) -> None:
    src, other_seed = p2p
    path, sim = _mine_and_run(src, tmp_path)
    loaded = load_process(path)  # the loader's own validation
    # one name per activity of the log (written-out loop passes and states are extra nodes with the same name)
    assert {a.name for a in loaded.spec.activities.values()} == set(src.df["activity"])
    assert set(sim.df["activity"]) <= set(src.df["activity"])
    assert sim.df["case_id"].nunique() == src.df["case_id"].nunique()
    d = all_distances(src, sim)
    noise = all_distances(src, other_seed)  # the same model, another seed: the floor
    assert d["cfld"] < 0.15 and d["ngd_2"] < 0.06 and d["ngd_3"] < 0.15
    for k in ("ctd", "red", "car"):
        assert d[k] < 5 * noise[k] + 5, (k, d[k], noise[k])


def test_roles_are_the_source_roles_with_their_members(p2p: tuple[ActivityLog, ActivityLog]) -> None:
    src = p2p[0]
    d = discover(src)
    managers = {"Dana Keller", "Jonas Brandt", "Miriam Vogel"}
    assert any(set(m) == managers for m in d.roles.values())
    # the resources of one role never show up in another
    members = [r for m in d.roles.values() for r in m]
    assert len(members) == len(set(members)) == src.df["resource"].dropna().nunique()


# bounds: the figures measured when this was written, with room for the random streams (the running example has
# 6 cases, so one odd trace moves its distances a lot); receipt tightened from 0.1 / 0.3 when its unstructured
# part got states (measured 0.040 / 0.041)
@pytest.mark.parametrize(("name", "max_ngd_2", "max_cfld"), [("running-example.xes", 0.45, 0.55),
                                                          ("receipt.xes.gz", 0.06, 0.08)])
def test_real_logs_discovered_validate_and_run(name: str, max_ngd_2: float, max_cfld: float,
                                               tmp_path: Path) -> None:
    p = SHARED / "data" / "logs" / name
    if not p.is_file():
        pytest.skip(f"{p} is absent")
    real = read_log(p)
    path, sim = _mine_and_run(real, tmp_path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# ") and "discovered by 'procsim discover'" in text
    assert sim.df["case_id"].nunique() == real.df["case_id"].nunique()
    # every activity the log does often is simulated
    common = real.df["activity"].value_counts()
    common = set(common[common >= 0.01 * len(real.df)].index)
    assert common <= set(sim.df["activity"])
    d = all_distances(real, sim)
    assert d["ngd_2"] < max_ngd_2 and d["cfld"] < max_cfld, d


def _log(rows: list[tuple[str, str, str | None, str, str | None]]) -> ActivityLog:
    df = pd.DataFrame(rows, columns=["case_id", "activity", "start_time", "end_time", "resource"])
    df["start_time"] = pd.to_datetime(df["start_time"], utc=True)
    df["end_time"] = pd.to_datetime(df["end_time"], utc=True)
    return ActivityLog(df.sort_values(["end_time", "case_id"]).reset_index(drop=True))


def test_loop_bound_is_the_most_repetitions_seen(tmp_path: Path) -> None:
    rows = []
    for c, reps in enumerate([1, 2, 3, 1, 2] * 4):
        t = pd.Timestamp("2026-03-02 09:00", tz="UTC") + pd.Timedelta(hours=c)
        seq = ["a"] + ["b"] * reps + ["c"]
        for i, x in enumerate(seq):
            rows.append((str(c), x, None, str(t + pd.Timedelta(minutes=5 * (i + 1))), None))
    for miner in ("dfg", "tree"):
        d = discover(_log(rows), miner=miner)
        data = YAML(typ="safe").load(d.yaml)
        loop = [b for g in data["gateways"].values() for b in g["branches"] if "max" in b]
        assert len(loop) == 1 and loop[0]["max"] == 2  # three b in a row: the arc b->b taken twice
    path = write_checked(d, tmp_path / "m")
    run(path, tmp_path / "s", seed=1, cases=200)
    sim = read_log(tmp_path / "s").df
    assert sim[sim["activity"] == "b"].groupby("case_id").size().max() <= 3  # the first b plus at most 2 loops


def test_starts_are_estimated_from_enablement_and_resource_availability() -> None:
    # one clerk, back-to-back: b is enabled at 9:10 but the clerk is busy until 9:30, so b took 9:30-9:50
    rows = [("1", "a", None, "2026-03-02 09:10", "x"), ("2", "a", None, "2026-03-02 09:30", "ann"),
            ("1", "b", None, "2026-03-02 09:50", "ann")]
    from procsim.discover import _prepare

    df, estimated = _prepare(_log(rows))
    assert estimated
    b = df[df["activity"] == "b"].iloc[0]
    assert b["start"] == pd.Timestamp("2026-03-02 09:30", tz="UTC")
    assert b["enabled"] == pd.Timestamp("2026-03-02 09:10", tz="UTC")


def test_working_seconds_skip_the_night_and_the_weekend() -> None:
    cal = ([0, 1, 2, 3, 4], list(range(8, 17)))  # mon-fri 08:00-17:00
    s = pd.Series(pd.to_datetime(["2026-03-06 16:30", "2026-03-02 09:00"], utc=True))  # a friday, a monday
    e = pd.Series(pd.to_datetime(["2026-03-09 08:15", "2026-03-02 09:20"], utc=True))
    assert list(_working_seconds(s, e, cal)) == [45 * 60, 20 * 60]
    assert list(_working_seconds(s, e, None)) == [(e[0] - s[0]).total_seconds(), 1200]


def test_cli_writes_process_yaml_and_refuses_bad_input(tmp_path: Path) -> None:
    p = SHARED / "data" / "logs" / "running-example.xes"
    if not p.is_file():
        pytest.skip(f"{p} is absent")
    r = cli("discover", str(p), "-o", str(tmp_path / "m"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "m" / "process.yaml").is_file()
    r = cli("validate", str(tmp_path / "m" / "process.yaml"))
    assert r.returncode == 0, r.stderr
    r = cli("discover", str(tmp_path / "nope.csv"), "-o", str(tmp_path / "x"))
    assert r.returncode == 2 and "nope.csv: no such file or folder" in r.stderr
    r = cli("discover", str(p), "--noise", "1.5")
    assert r.returncode == 2 and "--noise" in r.stderr and "Traceback" not in r.stderr


def test_tree_miner_finds_parallel_blocks_loops_and_choices(tmp_path: Path) -> None:
    # a, then b and c in either order (parallel), then d or e, with d sometimes repeated through f
    rows = []
    rng = np.random.default_rng(4)
    for c in range(120):
        t = pd.Timestamp("2026-03-02 09:00", tz="UTC") + pd.Timedelta(hours=c)
        mid = ["b", "c"] if rng.random() < 0.5 else ["c", "b"]
        tail = ["d"] if rng.random() < 0.7 else ["e"]
        if tail == ["d"] and rng.random() < 0.3:
            tail = ["d", "f", "d"]
        for i, x in enumerate(["a", *mid, *tail]):
            rows.append((str(c), x, None, str(t + pd.Timedelta(minutes=5 * (i + 1))), None))
    d = discover(_log(rows))
    data = YAML(typ="safe").load(d.yaml)
    gws = data["gateways"]
    ands = [g for g in gws.values() if g["type"] == "and" and "to" in g]
    assert len(ands) == 1 and sorted(ands[0]["to"]) == ["b", "c"]
    loops = [b for g in gws.values() for b in g.get("branches", []) if "max" in b]
    assert len(loops) == 1 and loops[0]["max"] == 1 and loops[0]["to"] == "f"
    path = write_checked(d, tmp_path / "m")
    run(path, tmp_path / "s", seed=2, cases=300)
    sim = read_log(tmp_path / "s")
    traces = sim.df.sort_values(["case_id", "start_time"]).groupby("case_id")["activity"].agg("".join)
    assert traces.str.match(r"^a(bc|cb)(e|d(fd)?)$").all()
    assert {"abcd", "abce", "abcdfd"} <= set(traces.str.replace("cb", "bc"))
    # b and c really run side by side: each starts before the other ends
    bc = sim.df[sim.df["activity"].isin(["b", "c"])].pivot(index="case_id", columns="activity",
                                                            values=["start_time", "end_time"])
    assert ((bc["start_time"]["b"] < bc["end_time"]["c"]) & (bc["start_time"]["c"] < bc["end_time"]["b"])).all()


def test_dfg_miner_is_kept_as_an_option(p2p: tuple[ActivityLog, ActivityLog], tmp_path: Path) -> None:
    d = discover(p2p[0], miner="dfg")
    assert "type: and" not in d.yaml
    run(write_checked(d, tmp_path / "m"), tmp_path / "s", seed=1, cases=50)


def test_same_log_same_file_whatever_the_hash_seed(tmp_path: Path) -> None:
    p = SHARED / "data" / "logs" / "receipt.xes.gz"
    if not p.is_file():
        pytest.skip(f"{p} is absent")
    texts = []
    for seed in ("1", "2"):
        out = tmp_path / seed
        r = subprocess.run([sys.executable, "-m", "procsim", "discover", str(p), "-o", str(out)], capture_output=True,
                           text=True, check=False, env={**os.environ, "PYTHONHASHSEED": seed})
        assert r.returncode == 0, r.stderr
        texts.append((out / "process.yaml").read_bytes())
    assert texts[0] == texts[1]


def test_realistic_example_is_discovered_and_runs(tmp_path: Path) -> None:
    """The bundled example with waits, batches and people who differ: discover writes a process that loads and
    runs with every activity; how close it gets is a figure for benchmarks (discover models no waits, batches or
    member speeds yet), so only the control flow is held to a bound here."""
    run(REPO / "processes" / "procure_to_pay.yaml", tmp_path / "src", seed=1, cases=300)
    src = read_log(tmp_path / "src")
    path, sim = _mine_and_run(src, tmp_path)
    assert set(load_process(path).spec.activities) and set(sim.df["activity"]) <= set(src.df["activity"])
    assert all_distances(src, sim)["ngd_2"] < 0.1  # 0.03 measured; another seed of the source: 0.06


def test_discover_never_writes_through_a_planted_link(tmp_path: Path) -> None:
    """Its temporary is exclusive and unique (issue #11): a link planted at the old fixed name is left alone."""
    log = read_log(REPO.parent / "shared" / "data" / "logs" / "running-example.xes") \
        if (REPO.parent / "shared" / "data" / "logs" / "running-example.xes").exists() else None
    if log is None:
        pytest.skip("../shared/data/logs not present")
    out = tmp_path / "mined"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("mine")
    (out / ".process.yaml.part").symlink_to(victim)
    path = write_checked(discover(log), out)
    assert victim.read_text() == "mine" and path.read_text(encoding="utf-8").startswith("#")
    assert sorted(p.name for p in out.iterdir()) == [".process.yaml.part", "process.yaml"]
