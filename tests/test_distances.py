"""procsim.distances gives log-distance-measures' numbers (the reference implementation of Simod's evaluation)."""

from __future__ import annotations

import datetime
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from procsim.distances import DISTANCES, all_distances, cfld, ngram_distance
from procsim.eventlog import ActivityLog, read_log

from conftest import REPO, SHARED

ldm = pytest.importorskip("log_distance_measures", reason="log-distance-measures (test extra) is the reference")

from log_distance_measures.absolute_event_distribution import absolute_event_distribution_distance  # noqa: E402
from log_distance_measures.case_arrival_distribution import case_arrival_distribution_distance  # noqa: E402
from log_distance_measures.circadian_event_distribution import circadian_event_distribution_distance  # noqa: E402
from log_distance_measures.config import EventLogIDs  # noqa: E402
from log_distance_measures.control_flow_log_distance import control_flow_log_distance  # noqa: E402
from log_distance_measures.cycle_time_distribution import cycle_time_distribution_distance  # noqa: E402
from log_distance_measures.n_gram_distribution import n_gram_distribution_distance  # noqa: E402
from log_distance_measures.relative_event_distribution import relative_event_distribution_distance  # noqa: E402

IDS = EventLogIDs(case="case_id", activity="activity", start_time="start_time", end_time="end_time",
                  resource="resource")


def _reference(a: ActivityLog, b: ActivityLog) -> dict[str, float]:
    """The library on the same logs; an unknown start takes the end (procsim's documented convention)."""
    def prep(log: ActivityLog) -> pd.DataFrame:
        df = log.df.copy()
        df["start_time"] = df["start_time"].fillna(df["end_time"])
        # the library orders a trace by (start, end) with an unstable sort: give it our stable order
        return df.sort_values(["case_id", "start_time", "end_time"], kind="stable").reset_index(drop=True)

    x, y = prep(a), prep(b)
    return {
        "cfld": control_flow_log_distance(x, IDS, y, IDS, parallel=False),
        "ngd_2": n_gram_distribution_distance(x, IDS, y, IDS, n=2),
        "ngd_3": n_gram_distribution_distance(x, IDS, y, IDS, n=3),
        "aed": absolute_event_distribution_distance(x, IDS, y, IDS),
        "red": relative_event_distribution_distance(x, IDS, y, IDS),
        "ced": circadian_event_distribution_distance(x, IDS, y, IDS),
        "ctd": cycle_time_distribution_distance(x, IDS, y, IDS, bin_size=datetime.timedelta(hours=1)),
        "car": case_arrival_distribution_distance(x, IDS, y, IDS),
    }


def _cases(log: ActivityLog, ids: list[str]) -> ActivityLog:
    return ActivityLog(log.df[log.df["case_id"].isin(ids)].reset_index(drop=True))


@pytest.fixture(scope="module")
def p2p_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[ActivityLog, ActivityLog]:
    from procsim.run import run

    out = tmp_path_factory.mktemp("dist")
    logs = []
    for seed in (1, 2):
        run(REPO / "processes" / "procure_to_pay.yaml", out / str(seed), seed=seed, cases=120)
        logs.append(read_log(out / str(seed)))
    return logs[0], logs[1]


def _assert_equal(ours: dict[str, float], ref: dict[str, float]) -> None:
    assert set(ours) == set(ref) == {d.key for d in DISTANCES}
    for k in ref:
        assert ours[k] == pytest.approx(ref[k], rel=1e-9, abs=1e-9), k


def test_equal_to_library_on_two_simulations_with_start_times(p2p_runs: tuple[ActivityLog, ActivityLog]) -> None:
    a, b = p2p_runs
    ours = all_distances(a, b)
    _assert_equal(ours, _reference(a, b))
    assert 0 < ours["cfld"] < 1 and ours["ctd"] > 0  # two different seeds: not identical logs


def test_equal_to_library_on_real_receipt_halves() -> None:
    path = SHARED / "data" / "logs" / "receipt.xes.gz"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    log = read_log(path)
    cases = sorted(log.df["case_id"].unique())
    a, b = _cases(log, cases[:150]), _cases(log, cases[150:280])  # unequal sizes: a rectangular assignment
    _assert_equal(all_distances(a, b), _reference(a, b))


def test_equal_to_library_on_running_example_vs_simulation(p2p_runs: tuple[ActivityLog, ActivityLog]) -> None:
    path = SHARED / "data" / "logs" / "running-example.xes"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    a = read_log(path)  # completions only: starts are unknown
    _assert_equal(all_distances(a, p2p_runs[0]), _reference(a, p2p_runs[0]))


def test_a_log_is_at_distance_zero_from_itself(p2p_runs: tuple[ActivityLog, ActivityLog]) -> None:
    a = p2p_runs[0]
    assert all(v == 0 for v in all_distances(a, a).values())


def _log(traces: dict[str, list[str]]) -> ActivityLog:
    rows = []
    t0 = pd.Timestamp("2026-01-05 08:00", tz="UTC")
    for c, acts in traces.items():
        for i, x in enumerate(acts):
            rows.append((c, x, pd.NaT, t0 + pd.Timedelta(minutes=10 * i), None))
    df = pd.DataFrame(rows, columns=["case_id", "activity", "start_time", "end_time", "resource"])
    df["start_time"] = pd.to_datetime(df["start_time"], utc=True)
    return ActivityLog(df)


def test_cfld_and_ngrams_by_hand() -> None:
    a = _log({"1": list("abc"), "2": list("abd")})
    b = _log({"x": list("abd"), "y": list("acb")})
    # best pairing: abd-abd (0) and abc-acb (one transposition of 3): (0 + 1/3) / 2
    assert cfld(a, b) == pytest.approx(1 / 6)
    # 2-grams of a: -a ab bc c- -a ab bd d- ; of b: -a ab bd d- -a ac cb b-
    # differences: ab 2-1, bc 1, c- 1, ac 1, cb 1, b- 1 -> 6 of 16
    assert ngram_distance(a, b, 2) == pytest.approx(6 / 16)


def test_cfld_samples_above_the_cap_and_stays_close() -> None:
    rng = np.random.default_rng(3)
    traces_a = {str(i): list(rng.choice(list("abcde"), size=rng.integers(2, 6))) for i in range(300)}
    traces_b = {str(i): list(rng.choice(list("abcde"), size=rng.integers(2, 6))) for i in range(300)}
    a, b = _log(traces_a), _log(traces_b)
    exact = cfld(a, b)
    approx = cfld(a, b, max_cases=150)
    assert approx != exact and abs(approx - exact) < 0.1
    assert not math.isnan(exact)
