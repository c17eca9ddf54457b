"""procsim.profile: each realism metric on small hand-made logs with answers worked out by hand, the statistics
against scipy (a test-only dependency, via pm4py), and ``procsim profile`` through its real entry point."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import REPO, SHARED
from procsim.eventlog import ActivityLog, _finish
from procsim.profile import gini, js_divergence, kruskal_h, ks_statistic, profile

T0 = pd.Timestamp("2024-01-01 08:00", tz="UTC")  # a Monday


def make_log(rows: list[tuple[str, str, float | None, float, str | None]]) -> ActivityLog:
    """rows: (case, activity, start minutes after T0 or None, end minutes after T0, resource)."""
    df = pd.DataFrame({
        "case_id": [r[0] for r in rows],
        "activity": [r[1] for r in rows],
        "start_time": pd.to_datetime([T0 + pd.Timedelta(minutes=r[2]) if r[2] is not None else pd.NaT
                                      for r in rows], utc=True).astype("datetime64[ns, UTC]"),
        "end_time": pd.to_datetime([T0 + pd.Timedelta(minutes=r[3]) for r in rows],
                                   utc=True).astype("datetime64[ns, UTC]"),
        "resource": [r[4] for r in rows],
    })
    return ActivityLog(_finish(df))


# -- statistics against scipy --------------------------------------------------------------------------------


def test_kruskal_h_matches_scipy_with_ties() -> None:
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(3)
    for _ in range(20):
        groups = [rng.integers(0, 8, size=int(rng.integers(3, 15))).astype(float) for _ in range(int(rng.integers(2, 5)))]
        assert kruskal_h(groups) == pytest.approx(stats.kruskal(*groups).statistic, rel=1e-9)


def test_ks_statistic_matches_scipy() -> None:
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(4)
    for _ in range(20):
        a = rng.exponential(size=int(rng.integers(2, 40))).round(1)
        b = rng.exponential(1.5, size=int(rng.integers(2, 40))).round(1)
        assert ks_statistic(a, b) == pytest.approx(stats.ks_2samp(a, b).statistic, abs=1e-12)


def test_js_divergence_matches_scipy() -> None:
    dist = pytest.importorskip("scipy.spatial.distance")
    rng = np.random.default_rng(5)
    for _ in range(20):
        p, q = rng.integers(0, 5, size=9).astype(float), rng.integers(0, 5, size=9).astype(float)
        p[0] += 1  # neither may be all zeros
        q[0] += 1
        assert js_divergence(p, q) == pytest.approx(dist.jensenshannon(p, q, base=2) ** 2, abs=1e-12)


def test_gini_is_the_mean_absolute_difference_over_twice_the_mean() -> None:
    rng = np.random.default_rng(6)
    for _ in range(20):
        x = rng.integers(0, 30, size=int(rng.integers(1, 12))).astype(float)
        if x.sum() == 0:
            continue
        brute = sum(abs(a - b) for a in x for b in x) / (2 * len(x) ** 2 * x.mean())
        assert gini(x) == pytest.approx(brute)
    assert gini(np.array([1.0, 9.0])) == pytest.approx(0.4)
    assert gini(np.array([5.0, 5.0, 5.0])) == 0.0


# -- each metric on a hand-made log --------------------------------------------------------------------------


def test_variants_and_top10_share() -> None:
    rows = []
    for i in range(4):  # four cases of the variant A,B
        rows += [(f"a{i}", "A", None, 10 * i, "r"), (f"a{i}", "B", None, 10 * i + 1, "r")]
    for i in range(11):  # eleven variants of one case each: A then X<i>
        rows += [(f"x{i}", "A", None, 100 + i, "r"), (f"x{i}", f"X{i}", None, 200 + i, "r")]
    p = profile(make_log(rows))
    assert p["cases"] == 15 and p["instances"] == 30
    assert p["variants_200"] == 12  # fewer than 200 cases: every sample is all of them
    assert p["top10_share"] == pytest.approx((4 + 9) / 15)


def test_variants_follow_completion_order_not_row_order() -> None:
    log = make_log([("c", "B", None, 5, None), ("c", "A", None, 1, None), ("d", "A", None, 1, None),
                    ("d", "B", None, 5, None)])
    assert profile(log)["variants_200"] == 1


def test_events_per_case_cv_and_cycle_time_ratio() -> None:
    rows = [("c1", "A", 0, 1, None), ("c2", "A", 0, 1, None), ("c2", "B", 1, 2, None)]
    rows += [("c3", "A", 0, 1, None), ("c3", "B", 1, 2, None), ("c3", "C", 2, 3, None)]
    p = profile(make_log(rows))
    assert p["events_per_case_cv"] == pytest.approx(math.sqrt(2 / 3) / 2)
    # 100 cases with cycle times 1..100 h: p50 = 50.5 h, p99 = 99.01 h (linear interpolation)
    rows = [(f"c{h}", "A", 0, 60 * h, None) for h in range(1, 101)]
    p = profile(make_log(rows))
    assert p["cycle_p99_p50"] == pytest.approx(99.01 / 50.5)
    assert p["median_cycle_time_h"] == pytest.approx(50.5)


def test_resource_effect_and_slowest_fastest() -> None:
    # activity A: ann always takes 10 min, bob 20 min, five times each: ranks separate perfectly,
    # H = 9.0 after the tie correction, eta² = (H - k + 1) / (n - k) = 8 / 8 = 1
    rows = [(f"a{i}", "A", 0, 10, "ann") for i in range(5)] + [(f"b{i}", "A", 0, 20, "bob") for i in range(5)]
    # activity B: same speeds for both; cid has only 2 instances, too few to count
    rows += [(f"a{i}", "B", 30, 30 + 5 + i, "ann") for i in range(5)]
    rows += [(f"b{i}", "B", 30, 30 + 5 + i, "bob") for i in range(5)]
    rows += [("z1", "B", 0, 100, "cid"), ("z2", "B", 0, 200, "cid")]
    p = profile(make_log(rows))
    assert kruskal_h([np.full(5, 10.0), np.full(5, 20.0)]) == pytest.approx(9.0)
    # median over activities: A -> 1.0, B -> 0 (H = 0 for identical samples; eta² clipped at 0)
    assert p["resource_eta2"] == pytest.approx(0.5)
    assert p["slowest_fastest"] == pytest.approx((2.0 + 1.0) / 2)


def test_without_start_times_processing_metrics_are_nan() -> None:
    rows = [(f"a{i}", "A", None, 10 + i, "ann") for i in range(6)] + [(f"b{i}", "A", None, 20 + i, "bob")
                                                                      for i in range(6)]
    p = profile(make_log(rows))
    for key in ("resource_eta2", "slowest_fastest", "zero_duration_share"):
        assert math.isnan(p[key]), key
    assert p["cycle_p99_p50"] != p["cycle_p99_p50"]  # one event per case: every cycle time is 0


def test_workload_gini_median_over_top_activities() -> None:
    rows = []
    # A: ann 9, bob 1 -> 0.4; B: ann 2, bob 2 -> 0; C: ann 3, bob 1 -> 0.25; D only ann (one resource: skipped)
    for act, counts in (("A", {"ann": 9, "bob": 1}), ("B", {"ann": 2, "bob": 2}), ("C", {"ann": 3, "bob": 1}),
                        ("D", {"ann": 20})):
        for r, n in counts.items():
            rows += [(f"{act}{r}{i}", act, None, i, r) for i in range(n)]
    assert profile(make_log(rows))["workload_gini"] == pytest.approx(0.25)


def test_shared_timestamps_zero_durations_and_resolution() -> None:
    rows = [("c1", "A", 0, 5, None), ("c1", "B", 5, 5, None), ("c2", "A", 1, 7, None), ("c2", "B", 7, 9, None)]
    p = profile(make_log(rows))
    assert p["shared_timestamps"] == pytest.approx(2 / 4)  # the two completions at minute 5
    assert p["zero_duration_share"] == pytest.approx(1 / 4)
    assert p["timestamp_resolution_s"] == 60
    log = make_log(rows)
    log.df.loc[0, "end_time"] += pd.Timedelta(seconds=1)
    assert profile(log)["timestamp_resolution_s"] == 1


def test_weekly_arrival_dispersion_drops_partial_first_and_last_week() -> None:
    counts = [7, 2, 4, 6, 8, 1]  # first and last weeks are left out: var([2, 4, 6, 8]) / mean = (20 / 3) / 5
    rows = []
    for w, n in enumerate(counts):
        rows += [(f"w{w}c{i}", "A", None, w * 7 * 24 * 60 + i, None) for i in range(n)]
    assert profile(make_log(rows))["weekly_arrivals_dispersion"] == pytest.approx((20 / 3) / 5)


def test_drift_ratios_see_a_change_between_halves_and_not_without_one() -> None:
    rng = np.random.default_rng(1)
    rows = []
    for i in range(400):
        start = i * 60
        late = i >= 200  # the second half takes twice as long and goes A -> C instead of A -> B
        d = rng.exponential(30) * (2 if late else 1)
        rows += [(f"c{i:03d}", "A", start, start + 5, "r"), (f"c{i:03d}", "C" if late else "B", start + 5,
                                                              start + 5 + d, "r")]
    p = profile(make_log(rows))
    assert p["drift_cycle_time"] > 2 and p["drift_control_flow"] > 20
    shuffled = [(c, "B" if a == "C" else a, s, e, r) for c, a, s, e, r in rows]
    rng.shuffle(order := np.arange(400))
    # same durations, but cases start in a random order: no drift; ratios near 1
    starts = {f"c{i:03d}": int(order[i]) * 60 for i in range(400)}
    moved = [(c, a, s - int(c[1:]) * 60 + starts[c], e - int(c[1:]) * 60 + starts[c], r) for c, a, s, e, r in shuffled]
    q = profile(make_log(moved))
    assert q["drift_cycle_time"] < 2


def test_same_seed_same_profile_and_seed_moves_samples() -> None:
    rows = [(f"c{i}", f"A{i % 300}", None, i, None) for i in range(500)]
    log = make_log(rows)
    assert profile(log, seed=1) == profile(log, seed=1)
    assert profile(log, seed=1)["variants_200"] != profile(log, seed=2)["variants_200"]


def test_drift_of_control_flow_counts_pairs_per_case() -> None:
    # checked against a plain-Python recomputation of the first-vs-second-half divergence
    rng = np.random.default_rng(2)
    rows = []
    for i in range(60):
        acts = ["A"] + list(rng.choice(["B", "C", "D"], size=int(rng.integers(1, 4))))
        rows += [(f"c{i:02d}", a, None, i * 100 + j, None) for j, a in enumerate(acts)]
    log = make_log(rows)
    seqs = log.df.groupby("case_id")["activity"].agg(list)
    pairs = lambda ids: pd.Series([p for c in ids for p in zip(["<s>"] + seqs[c], seqs[c] + ["<e>"])]).value_counts()
    first, second = pairs(seqs.index[:30]), pairs(seqs.index[30:])
    keys = sorted(set(first.index) | set(second.index))
    expected = js_divergence(first.reindex(keys, fill_value=0).to_numpy(float),
                             second.reindex(keys, fill_value=0).to_numpy(float))
    import procsim.profile as prof

    seen: list[float] = []
    real = prof.js_divergence
    prof.js_divergence = lambda p, q: seen.append(real(p, q)) or seen[-1]  # type: ignore[assignment]
    try:
        prof.profile(log)
    finally:
        prof.js_divergence = real
    assert seen[0] == pytest.approx(expected)


# -- the command ---------------------------------------------------------------------------------------------


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "procsim", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300, check=False)


@pytest.fixture(scope="module")
def p2p_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from procsim.run import run

    out = tmp_path_factory.mktemp("p2p")
    run(REPO / "processes" / "procure_to_pay.yaml", out, seed=7, cases=300)
    return out


def test_cli_profiles_a_run_folder_as_json_equal_to_the_function(p2p_run: Path) -> None:
    from procsim.eventlog import read_log

    done = cli("profile", str(p2p_run), "--json")
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)["logs"][0]
    want = profile(read_log(p2p_run))
    assert got["source"] == str(p2p_run)
    assert got["metrics"] == {k: (None if math.isnan(v) else pytest.approx(v)) for k, v in want.items()}
    assert got["metrics"]["cases"] == 300


RECEIPT = SHARED / "data" / "logs" / "receipt.xes.gz"


@pytest.mark.skipif(not RECEIPT.is_file(), reason="../shared/data/logs/receipt.xes.gz is not there")
def test_cli_side_by_side_table_with_a_real_log(p2p_run: Path) -> None:
    done = cli("profile", str(p2p_run), str(RECEIPT))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert str(RECEIPT) in done.stdout and str(p2p_run) in done.stdout
    row = next(x for x in lines if x.startswith("│ cases "))
    assert "300" in row and "1,434" in row  # receipt has 1,434 cases
    assert any(x.startswith("│ resource effect") and "n/a" in x for x in lines)  # receipt has no start times


def test_cli_column_mapping_for_csv(tmp_path: Path) -> None:
    csv = tmp_path / "l.csv"
    csv.write_text("Case,Task,Begin,Done,Who\n1,A,2024-01-01 08:00,2024-01-01 08:10,ann\n"
                   "1,B,2024-01-01 08:10,2024-01-01 08:30,bob\n2,A,2024-01-01 09:00,2024-01-01 09:20,ann\n")
    done = cli("profile", str(csv), "--case", "Case", "--activity", "Task", "--start", "Begin", "--end", "Done",
               "--resource", "Who", "--json")
    assert done.returncode == 0, done.stderr
    m = json.loads(done.stdout)["logs"][0]["metrics"]
    assert (m["cases"], m["instances"], m["resources"], m["timestamp_resolution_s"]) == (2, 3, 2, 60)


def test_cli_bad_input_exits_2_without_traceback(tmp_path: Path) -> None:
    done = cli("profile", str(tmp_path / "missing.xes"))
    assert done.returncode == 2
    assert done.stderr.startswith(f"{tmp_path / 'missing.xes'}: no such file or folder")
    csv = tmp_path / "l.csv"
    csv.write_text("a,b\n1,2\n")
    done = cli("profile", str(csv), "--case", "nope")
    assert done.returncode == 2
    assert done.stderr.startswith(f"{csv}: no column 'nope' for the case; columns: a, b")
    assert "Traceback" not in done.stderr


def test_cli_lifecycle_column_pairs_transitions(tmp_path: Path) -> None:
    csv = tmp_path / "l.csv"
    csv.write_text("case,act,when,tr,who\n1,A,2024-01-01 08:00,start,ann\n1,A,2024-01-01 08:10,complete,ann\n"
                   "2,A,2024-01-01 09:00,start,bob\n2,A,2024-01-01 09:00,complete,bob\n")
    done = cli("profile", str(csv), "--case", "case", "--activity", "act", "--end", "when", "--lifecycle", "tr",
               "--resource", "who", "--json")
    assert done.returncode == 0, done.stderr
    m = json.loads(done.stdout)["logs"][0]["metrics"]
    assert (m["instances"], m["zero_duration_share"]) == (2, 0.5)
