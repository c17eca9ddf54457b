"""Injected exceptions: each type's effect and labels, count and rate accuracy, labels files, determinism."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pandas as pd
import pytest

from conftest import MINI
from procsim.errors import SpecError, UsageError
from procsim.run import run
from procsim.spec import load_process

PAIR = MINI.replace("events:\n", "  invoice_amount:\n    expr: amount\nevents:\n", 1)


def simulate(write_process, tmp_path: Path, exceptions: str, *, cases: int = 120, seed: int = 3,
             base: str = PAIR, **kw) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Run ``base`` with an ``exceptions:`` section; (events, labels, cases) with empty strings for no label."""
    p = write_process(base + "exceptions:\n" + exceptions)
    out = tmp_path / "out"
    run(p, out, seed=seed, cases=cases, **kw)
    ev = pd.read_csv(out / "events.csv", keep_default_na=False)
    lab = pd.read_csv(out / "labels.csv", keep_default_na=False)
    cs = pd.read_csv(out / "cases.csv", keep_default_na=False)
    return ev, lab, cs


def hit(lab: pd.DataFrame, name: str) -> list[str]:
    return lab[lab["exceptions"].str.split(";").apply(lambda xs: name in xs)]["case_id"].tolist()


def labelled(ev: pd.DataFrame, name: str) -> pd.DataFrame:
    return ev[ev["exception"].str.split(";").apply(lambda xs: name in xs)]


def check_labels_match_events(ev: pd.DataFrame, lab: pd.DataFrame) -> None:
    """labels.csv lists exactly the ids of the labelled events, case by case."""
    want = ev[ev["exception"] != ""].groupby("case_id")["event_id"].apply(set).to_dict()
    got = {r.case_id: set(r.event_ids.split(";")) for r in lab.itertuples() if r.event_ids}
    assert got == want


def test_skip_activity(write_process, tmp_path):
    ev, lab, cs = simulate(write_process, tmp_path, "  - {type: skip_activity, activity: check_a, count: 6}\n")
    cases = hit(lab, "skip_activity")
    assert len(cases) == 6
    assert not ev[ev.case_id.isin(cases) & (ev.activity == "check_a")].size
    assert (ev[~ev.case_id.isin(cases)].groupby("case_id")["activity"].apply(lambda a: "check_a" in set(a))).all()
    assert set(lab.set_index("case_id").loc[cases, "omitted"]) == {"check_a"}
    assert (lab.set_index("case_id").loc[cases, "is_exception"]).all()
    assert set(cs.set_index("case_id").loc[cases, "exceptions"]) == {"skip_activity"}


def test_insert_activity(write_process, tmp_path):
    ev, lab, _ = simulate(write_process, tmp_path, "  - {type: insert_activity, name: call, activity: register, "
                          "insert: Call customer, role: clerk, duration: 5m, count: 4}\n")
    calls = ev[ev.activity == "Call customer"]
    assert sorted(set(calls.case_id)) == sorted(hit(lab, "call")) and len(calls) == 8
    assert set(calls.exception) == {"call"} and set(calls.role) == {"clerk"}
    for cid in set(calls.case_id):
        acts = ev[(ev.case_id == cid) & (ev.lifecycle == "complete")]["activity"].tolist()
        assert acts[acts.index("register") + 1] == "Call customer"
    check_labels_match_events(ev, lab)


@pytest.mark.parametrize("kind", ["rework", "duplicate_activity"])
def test_rework_and_duplicate_activity_repeat_with_the_same_data(write_process, tmp_path, kind):
    ev, lab, _ = simulate(write_process, tmp_path, f"  - {{type: {kind}, activity: register, times: 2, count: 5}}\n")
    cases = hit(lab, kind)
    assert len(cases) == 5
    for cid, g in ev[ev.activity == "register"].groupby("case_id"):
        n = len(g)
        assert n == (6 if cid in cases else 2)
        if cid in cases:
            assert g.exception.tolist() == ["", "", kind, kind, kind, kind]
            assert g.amount.nunique() == 1  # a duplicate payment pays the same amount
    check_labels_match_events(ev, lab)


def test_swap_order(write_process, tmp_path):
    ev, lab, _ = simulate(write_process, tmp_path, "  - {type: swap_order, name: maverick, activity: register, "
                          "after: check_a, count: 4}\n")
    cases = hit(lab, "maverick")
    assert len(cases) == 4
    for cid in cases:
        done = ev[(ev.case_id == cid) & (ev.lifecycle == "complete")].activity.tolist()
        assert done.index("check_a") < done.index("register")
        assert set(ev[(ev.case_id == cid) & (ev.activity == "register")].exception) == {"maverick"}


def test_duplicate_event(write_process, tmp_path):
    ev, lab, cs = simulate(write_process, tmp_path, "  - {type: duplicate_event, activity: check_b, count: 5}\n")
    cases = hit(lab, "duplicate_event")
    assert len(cases) == 5
    for cid in cases:
        g = ev[(ev.case_id == cid) & (ev.activity == "check_b") & (ev.lifecycle == "complete")]
        assert len(g) == 2 and g.exception.tolist() == ["", "duplicate_event"]
        assert g.drop(columns=["event_id", "exception"]).drop_duplicates().shape[0] == 1
    assert cs.set_index("case_id").events.sum() == len(ev)
    check_labels_match_events(ev, lab)


def test_missing_event(write_process, tmp_path):
    ev, lab, cs = simulate(write_process, tmp_path, "  - {type: missing_event, activity: check_b, "
                           "lifecycle: start, count: 5}\n")
    cases = hit(lab, "missing_event")
    assert len(cases) == 5
    for cid in cases:
        g = ev[(ev.case_id == cid) & (ev.activity == "check_b")]
        assert g.lifecycle.tolist() == ["complete"]
    assert set(lab.set_index("case_id").loc[cases, "omitted"]) == {"check_b/start"}
    assert set(lab.set_index("case_id").loc[cases, "event_ids"]) == {""}
    assert cs.set_index("case_id").events.sum() == len(ev)


def test_wrong_role(write_process, tmp_path):
    ev, lab, _ = simulate(write_process, tmp_path, "  - {type: wrong_role, activity: check_a, role: boss, "
                          "per: activity, rate: 0.2}\n")
    bad = labelled(ev, "wrong_role")
    assert len(bad) > 0 and set(bad.activity) == {"check_a"} and set(bad.role) == {"boss"}
    assert set(ev[(ev.activity == "check_a") & (ev.exception == "")].role) == {"clerk"}
    check_labels_match_events(ev, lab)


def durations(ev: pd.DataFrame, activity: str) -> pd.DataFrame:
    g = ev[ev.activity == activity].copy()
    g["t"] = pd.to_datetime(g.timestamp, format="ISO8601", utc=True)
    s = g[g.lifecycle == "start"].set_index("case_id")
    c = g[g.lifecycle == "complete"].set_index("case_id")
    return pd.DataFrame({"d": (c.t - s.t).dt.total_seconds(), "exception": c.exception})


def test_early_and_late_events(write_process, tmp_path):
    ev, lab, _ = simulate(write_process, tmp_path, "  - {type: early_event, activity: check_a, count: 4}\n"
                          "  - {type: late_event, activity: check_b, delay: 3d, count: 4}\n")
    a, b = durations(ev, "check_a"), durations(ev, "check_b")
    assert len(a[a.exception == "early_event"]) == 4 and (a[a.exception == "early_event"].d < 60).all()
    assert (a[a.exception == ""].d >= 15 * 60 - 1e-3).all()  # check_a normally takes 15 min (working time)
    late = b[b.exception == "late_event"]
    assert len(late) == 4 and (late.d >= 3 * 86400).all() and (b[b.exception == ""].d < 3 * 86400).all()


def test_stuck_case_with_a_condition(write_process, tmp_path):
    ev, lab, cs = simulate(write_process, tmp_path, "  - {type: stuck_case, activity: decide, wait: 2w, "
                           "when: 'amount > 500', count: 3}\n")
    cases = hit(lab, "stuck_case")
    assert len(cases) == 3 and (cs.set_index("case_id").loc[cases, "amount"] > 500).all()
    t = ev.assign(t=pd.to_datetime(ev.timestamp, format="ISO8601", utc=True))
    for cid in cases:
        g = t[t.case_id == cid]
        decide = g[(g.activity == "decide") & (g.lifecycle == "start")].t.iloc[0]
        before = g[(g.activity.isin(["check_a", "check_b"])) & (g.lifecycle == "complete")].t.max()
        assert (decide - before).total_seconds() >= 14 * 86400


def test_system_outage_releases_a_burst(write_process, tmp_path):
    ev, lab, _ = simulate(write_process, tmp_path, "  - {type: system_outage, name: erp_down, start: 1d 2h, "
                          "duration: 5h}\n", cases=150)
    t = pd.to_datetime(ev.timestamp, format="ISO8601", utc=True)
    origin = pd.Timestamp("2026-03-02T08:00:00+01:00")
    s, e = origin + pd.Timedelta(hours=26), origin + pd.Timedelta(hours=31)
    assert not ((t >= s) & (t < e)).any()  # nothing starts or completes in the window
    burst = labelled(ev, "erp_down")
    assert len(burst) > 3 and (pd.to_datetime(burst.timestamp, format="ISO8601", utc=True) == e).all()
    # an event at the window's end is the burst, or work that started right after it
    assert (ev[t == e].exception.str.contains("erp_down") | (ev[t == e].lifecycle == "start")).all()
    check_labels_match_events(ev, lab)


def test_resource_absence(write_process, tmp_path):
    ev, lab, _ = simulate(write_process, tmp_path, "  - {type: resource_absence, role: boss, member: Ann, "
                          "start: 1d, duration: 2d}\n", cases=150)
    t = pd.to_datetime(ev.timestamp, format="ISO8601", utc=True)
    origin = pd.Timestamp("2026-03-02T08:00:00+01:00")
    s, e = origin + pd.Timedelta(days=1), origin + pd.Timedelta(days=3)
    ann = ev[(ev.resource == "Ann") & (ev.lifecycle == "start")]
    ts = t[ann.index]
    # Ann may finish the task in hand, then starts nothing until she is back
    late_start = ts[(ts > s + pd.Timedelta(hours=2)) & (ts < e)]
    assert late_start.empty
    waited = labelled(ev, "resource_absence")
    assert len(waited) > 0 and set(waited.role) == {"boss"}
    check_labels_match_events(ev, lab)


def test_data_exceptions(write_process, tmp_path):
    ev, lab, cs = simulate(write_process, tmp_path, "  - {type: out_of_range, attribute: amount, count: 3}\n"
                           "  - {type: wrong_kind, attribute: region, value: 42, count: 3}\n"
                           "  - {type: inconsistent_pair, name: invoice_differs, attribute: invoice_amount, "
                           "reference: amount, count: 3}\n")
    c = cs.set_index("case_id")
    out = hit(lab, "out_of_range")
    assert len(out) == 3 and (c.loc[out, "amount"] > 1000).all()
    assert (c.drop(index=out).amount <= 1000).all()
    wk = hit(lab, "wrong_kind")
    assert set(c.loc[wk, "region"]) == {"42"} and set(c.drop(index=wk).region) <= {"north", "south"}
    inc = hit(lab, "invoice_differs")
    ratio = c.loc[inc, "invoice_amount"] / c.loc[inc, "amount"]
    assert len(inc) == 3 and ((ratio > 1.04) & (ratio < 1.31)).all()
    ok = c.drop(index=inc)
    assert (ok.invoice_amount == ok.amount).all() or set(out) - set(inc)
    # the data is on every event: every event of those cases is labelled
    for name, cases in (("out_of_range", out), ("wrong_kind", wk), ("invoice_differs", inc)):
        assert ev[ev.case_id.isin(cases)].exception.str.contains(name).all()
    check_labels_match_events(ev, lab)


def test_sod_violation(write_process, tmp_path):
    ev, lab, _ = simulate(write_process, tmp_path, "  - {type: sod_violation, activity: decide, same_as: check_b, "
                          "count: 6}\n")
    cases = hit(lab, "sod_violation")
    assert len(cases) == 6
    for cid in cases:
        g = ev[(ev.case_id == cid) & (ev.lifecycle == "start")]
        first_decide = g[g.activity == "decide"].iloc[0]
        assert first_decide.resource == g[g.activity == "check_b"].resource.iloc[0]
        assert first_decide.exception == "sod_violation"


def test_price_change_after_approval(write_process, tmp_path):
    ev, lab, _ = simulate(write_process, tmp_path, "  - {type: price_change, activity: register, "
                          "attribute: amount, count: 4}\n")
    cases = hit(lab, "price_change")
    assert len(cases) == 4
    for cid in cases:
        g = ev[ev.case_id == cid]
        reg = g[g.activity == "register"]
        later = g[g.activity != "register"]
        assert reg.exception.tolist() == ["", ""] and set(later.exception) == {"price_change"}
        ratio = later.amount.iloc[0] / reg.amount.iloc[0]
        assert 1.09 < ratio < 1.51


def test_split_order(write_process, tmp_path):
    ev, lab, cs = simulate(write_process, tmp_path, "  - {type: split_order, activity: decide, attribute: amount, "
                           "limit: 500, parts: 3, count: 4}\n")
    cases = hit(lab, "split_order")
    c = cs.set_index("case_id")
    assert len(cases) == 4 and ((c.loc[cases, "amount"] >= 450) & (c.loc[cases, "amount"] < 500)).all()
    for cid in cases:
        assert len(ev[(ev.case_id == cid) & (ev.activity == "decide") & (ev.exception == "split_order")]) >= 6


def test_several_exceptions_hit_one_case(write_process, tmp_path):
    ev, lab, _ = simulate(write_process, tmp_path, "  - {type: rework, activity: register, rate: 1}\n"
                          "  - {type: duplicate_event, activity: decide, rate: 1}\n")
    assert set(lab.exceptions) == {"rework;duplicate_event"} and lab.is_exception.all()


def binomial_interval(n: int, p: float, level: float = 0.999) -> tuple[int, int]:
    """The central interval holding ``level`` of Binomial(n, p), exactly from the pmf (log space)."""
    tail = (1 - level) / 2
    logs = [math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * math.log(p)
            + (n - k) * math.log1p(-p) for k in range(n + 1)]
    pmf = [math.exp(v) for v in logs]
    acc, lo = 0.0, 0
    while acc + pmf[lo] <= tail:
        acc += pmf[lo]
        lo += 1
    acc, hi = 0.0, n
    while acc + pmf[hi] <= tail:
        acc += pmf[hi]
        hi -= 1
    return lo, hi


def test_rates_lie_inside_the_binomial_interval(write_process, tmp_path):
    n = 3000
    ev, lab, _ = simulate(write_process, tmp_path, "  - {type: rework, activity: register, rate: 0.02}\n"
                          "  - {type: out_of_range, attribute: amount, rate: 0.05}\n"
                          "  - {type: duplicate_event, activity: check_a, per: activity, rate: 0.01}\n"
                          "  - {type: wrong_role, activity: decide, role: clerk, per: activity, rate: 0.1}\n",
                          cases=n, seed=8)
    for name, p in (("rework", 0.02), ("out_of_range", 0.05)):
        lo, hi = binomial_interval(n, p)
        assert lo <= len(hit(lab, name)) <= hi, name
    lo, hi = binomial_interval(n, 0.01)  # check_a runs once per case
    assert lo <= len(labelled(ev, "duplicate_event")) <= hi
    decides = ev[(ev.activity == "decide") & (ev.lifecycle == "start")]
    lo, hi = binomial_interval(len(decides), 0.1)
    assert lo <= (decides.exception == "wrong_role").sum() <= hi


def test_count_is_exact_and_horizon_rejects_it(write_process, tmp_path):
    for cases in (7, 40):
        _, lab, _ = simulate(write_process, tmp_path, "  - {type: rework, activity: register, count: 7}\n",
                             cases=cases)
        assert len(hit(lab, "rework")) == 7
    with pytest.raises(UsageError, match="'count: 7', which needs a number of cases"):
        run(tmp_path / "p.yaml", tmp_path / "h", horizon=86400.0)


def test_labels_left_out_of_the_log(write_process, tmp_path):
    text = "  - {type: rework, activity: register, count: 5}\n"
    ev, lab, cs = simulate(write_process, tmp_path, text, formats=["csv", "parquet", "xes", "labels-parquet"],
                           labels_in_log=False)
    out = tmp_path / "out"
    assert "exception" not in ev.columns and "exceptions" not in cs.columns
    assert "exception" not in pd.read_parquet(out / "events.parquet").columns
    xes = (out / "events.xes").read_text()
    assert "rework" not in xes and 'key="exception' not in xes
    assert len(hit(lab, "rework")) == 5
    pd.testing.assert_frame_equal(pd.read_parquet(out / "labels.parquet").fillna(""),
                                  lab.astype({"event_ids": str, "omitted": str}), check_dtype=False)


def test_labels_in_xes(write_process, tmp_path):
    simulate(write_process, tmp_path, "  - {type: rework, activity: register, count: 5}\n", formats=["csv", "xes"])
    xes = (tmp_path / "out" / "events.xes").read_text()
    assert xes.count('<string key="exception" value="rework"/>') == 10
    assert xes.count('<string key="exceptions" value="rework"/>') == 5


def test_same_seed_same_bytes_and_no_reshuffling(write_process, tmp_path):
    text = ("  - {type: insert_activity, activity: register, rate: 0.1}\n"
            "  - {type: system_outage, start: 1d, duration: 3h}\n  - {type: out_of_range, attribute: amount, "
            "count: 3}\n")
    for d in ("a", "b"):
        p = write_process(PAIR + "exceptions:\n" + text)
        run(p, tmp_path / d, seed=5, cases=60, formats=["csv"])
    for name in ("events.csv", "cases.csv", "labels.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    # an exception that never fires changes nothing: its decisions come from streams of their own
    run(write_process(PAIR), tmp_path / "plain", seed=5, cases=60, formats=["csv"])
    run(write_process(PAIR + "exceptions:\n  - {type: rework, activity: register, rate: 0}\n"), tmp_path / "zero",
        seed=5, cases=60, formats=["csv"])
    assert (tmp_path / "plain" / "events.csv").read_bytes() == (tmp_path / "zero" / "events.csv").read_bytes()
    assert not (tmp_path / "plain" / "labels.csv").exists()


def load_error(write_process, text: str) -> str:
    with pytest.raises(SpecError) as e:
        load_process(write_process(PAIR + "exceptions:\n" + text))
    return str(e.value)


def test_load_errors_point_at_the_entry(write_process):
    msg = load_error(write_process, "  - {type: skip_activity, activity: chek_a, rate: 0.1}\n")
    assert "p.yaml:59:37:" in msg
    assert "exceptions[0].activity: unknown activity 'chek_a'; did you mean 'check_a'?" in msg
    msg = load_error(write_process, "  - {type: skip_activity, activity: check_a, rate: 0.1, count: 2}\n")
    assert "give exactly one of 'rate' (a probability) or 'count' (an exact number of cases)" in msg
    msg = load_error(write_process, "  - {type: wrong_role, activity: check_a, role: bos, rate: 0.1}\n")
    assert "unknown role 'bos'; did you mean 'boss'?" in msg
    msg = load_error(write_process, "  - {type: out_of_range, attribute: region, rate: 0.1}\n")
    assert "'region' is a string attribute; 'out_of_range' needs a number" in msg
    msg = load_error(write_process, "  - {type: rework, activity: check_a, rate: 0.1, when: 'amont > 3'}\n")
    assert "exceptions[0].when" in msg
    msg = load_error(write_process, "  - {type: system_outage, start: 1d, duration: 1h, rate: 0.1}\n")
    assert "'system_outage' is a scheduled spell: it takes no 'rate', 'count', 'per' or 'when'" in msg
    msg = load_error(write_process, "  - {type: skip_activty, activity: check_a, rate: 0.1}\n")
    assert "p.yaml:59:5: exceptions[0]: unknown exception type 'skip_activty'; did you mean 'skip_activity'?" in msg


def test_every_type_is_used_in_an_example_process():
    from procsim.exceptions import REGISTRY

    examples = sorted((Path(__file__).resolve().parents[1] / "processes").glob("*.yaml"))
    used = {x.type for p in examples for x in load_process(p).spec.exceptions}
    assert sorted(set(REGISTRY) - used) == []


def test_p2p_duplicate_payment_pays_the_same_amount_to_the_same_supplier(tmp_path):
    path = Path(__file__).resolve().parents[1] / "processes" / "procure_to_pay_exceptions.yaml"
    text = path.read_text().replace("name: duplicate_payment, activity: execute_payment, rate: 0.003",
                                    "name: duplicate_payment, activity: execute_payment, count: 5")
    (tmp_path / "processes").mkdir()
    (tmp_path / "rules").mkdir()  # the process names its rule file relative to itself
    rules = path.parents[1] / "rules" / "procure_to_pay.yaml"
    (tmp_path / "rules" / rules.name).write_text(rules.read_text())
    # a copy, not a link: a link out of the project folder is refused (procsim.spec.paths)
    shutil.copytree(path.parents[1] / "templates", tmp_path / "templates")
    p = tmp_path / "processes" / "p2p.yaml"
    p.write_text(text)
    run(p, tmp_path / "o", seed=2, cases=300, formats=["csv"])
    ev = pd.read_csv(tmp_path / "o" / "events.csv", keep_default_na=False)
    lab = pd.read_csv(tmp_path / "o" / "labels.csv", keep_default_na=False)
    cases = hit(lab, "duplicate_payment")
    assert len(cases) == 5
    pay = ev[ev.case_id.isin(cases) & (ev.activity == "Execute payment") & (ev.lifecycle == "complete")]
    for _, g in pay.groupby("case_id"):
        assert len(g) == 2 and g.exception.str.contains("duplicate_payment").tolist() == [False, True]
        assert g.amount.nunique() == 1 and g.supplier.nunique() == 1


def test_labels_parquet_is_a_format_and_cases_without_exceptions_have_no_labels_file(write_process, tmp_path):
    from procsim.run import parse_formats

    assert parse_formats("csv,labels-parquet") == ["csv", "labels-parquet"]
    with pytest.raises(UsageError, match="unknown format 'labels'"):
        parse_formats("labels")
    run(write_process(PAIR), tmp_path / "o", seed=1, cases=10, formats=["csv", "labels-parquet"])
    got = pd.read_parquet(tmp_path / "o" / "labels.parquet")
    assert len(got) == 10 and not got.is_exception.any()


def test_control_flow_types_are_marked_for_conformance():
    from procsim.exceptions import REGISTRY

    assert sorted(k for k, c in REGISTRY.items() if c.flow) == [
        "duplicate_activity", "duplicate_event", "insert_activity", "missing_event", "rework", "skip_activity",
        "split_order", "swap_order"]


def test_overlapping_outages_hold_events_to_the_last_end(write_process, tmp_path):
    ev, lab, _ = simulate(write_process, tmp_path, "  - {type: system_outage, name: a, start: 1d 2h, duration: 2h}\n"
                          "  - {type: system_outage, name: b, start: 1d 3h, duration: 3h}\n", cases=150)
    t = pd.to_datetime(ev.timestamp, format="ISO8601", utc=True)
    origin = pd.Timestamp("2026-03-02T08:00:00+01:00")
    s, e = origin + pd.Timedelta(hours=26), origin + pd.Timedelta(hours=30)
    assert not ((t >= s) & (t < e)).any()
    held = ev[ev.exception != ""]
    assert len(held) > 3 and (pd.to_datetime(held.timestamp, format="ISO8601", utc=True) == e).all()


def test_cli_no_labels_in_log_and_labels_parquet(write_process, tmp_path):
    import subprocess
    import sys

    write_process(PAIR + "exceptions:\n  - {type: rework, activity: register, count: 3}\n")
    done = subprocess.run([sys.executable, "-m", "procsim", "run", "p.yaml", "--cases", "20", "--out", "out", "-q",
                           "--format", "csv,labels-parquet", "--no-labels-in-log"], cwd=tmp_path,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "cases.csv", "events.csv", "exceptions.csv", "labels.csv", "labels.parquet", "manifest.json"]
    assert "exception" not in (tmp_path / "out" / "events.csv").read_text().splitlines()[0].split(",")
    lab = pd.read_parquet(tmp_path / "out" / "labels.parquet")
    assert lab.is_exception.sum() == 3 and set(lab[lab.is_exception].exceptions) == {"rework"}


@pytest.mark.parametrize("kind", ["rework", "late_event"])
def test_an_exception_on_an_activity_a_deadline_skips_labels_nothing(write_process, tmp_path, kind):
    # check_a is escalated past whenever nobody starts it within a minute: then it is not done, nor reworked or
    # delayed, and the case is not labelled with an exception that touched no event
    write_process("rules:\n  - id: dl\n    deadline: {activity: check_a, within: 1m, escalate_to: join}\n",
                  "rules.yaml")
    extra = {"rework": "", "late_event": ", delay: 30m"}[kind]
    ev, lab, _ = simulate(write_process, tmp_path, f"  - {{type: {kind}, activity: check_a, rate: 0.5{extra}}}\n",
                          base=PAIR + "rules: [rules.yaml]\n", cases=200, formats=["csv"])
    escalated = set(ev.case_id) - set(ev[(ev.activity == "check_a") & (ev.lifecycle == "complete")].case_id)
    assert escalated and set(hit(lab, kind))  # both happen in this run
    assert set(hit(lab, kind)) == set(labelled(ev, kind).case_id)
    check_labels_match_events(ev, lab)
