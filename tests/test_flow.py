"""Waits that hold nobody, batched activities, durations after a previous activity and zero-time instances."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from procsim.errors import SpecError
from procsim.export import to_dot
from procsim.pnml import process_to_pnml
from procsim.run import run
from procsim.sim.build import _calendars
from procsim.sim.calendar import WorkCalendar
from procsim.sim.waits import Moments
from procsim.spec import load_process
from test_pnml import complete_events, fit_by_case, read_net
from test_sink_xes import _read_xes, _validate

BERLIN = ZoneInfo("Europe/Berlin")

HEAD = """\
process:
  name: Flow
  timezone: Europe/Berlin
  start: 2026-03-23T08:00:00+01:00     # a Monday; Berlin moves to summer time on Sunday 29 March
calendars:
  office:
    days: [mon, tue, wed, thu, fri]
    hours: ["08:00-12:00", "13:00-17:00"]
    holiday_country: DE
"""


def events(out: Path) -> pd.DataFrame:
    ev = pd.read_csv(out / "events.csv", keep_default_na=False)
    ev["t"] = pd.to_datetime(ev.timestamp, utc=True)
    return ev


def local(ts: pd.Series) -> pd.Series:
    return ts.dt.tz_convert("Europe/Berlin")


def errors_of(path: Path) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_process(path)
    return str(info.value).splitlines()


# -- waits -----------------------------------------------------------------------------------------------------------

WAITING = HEAD + """\
roles:
  clerk: {members: 1}
arrivals:
  interarrival: 1h
events:
  start: {type: start, next: order}
  done: {type: end}
activities:
  order: {role: clerk, duration: 20m, next: supplier}
  receive: {role: clerk, duration: 20m, next: done}
waits:
  supplier:
    name: Wait for supplier
    duration: 3h
    log: true
    next: receive
"""


def test_a_wait_holds_nobody_and_lasts_its_duration(write_process, tmp_path):
    run(load_process(write_process(WAITING)), tmp_path / "o", seed=1, cases=6, formats=["csv"])
    ev = events(tmp_path / "o")
    waits = ev[ev.activity == "Wait for supplier"]
    assert len(waits) == 12
    # no resource, no role, no cost: nobody works on a wait
    assert (waits.resource == "").all() and (waits.role == "").all() and (waits.cost == "").all()
    span = waits.pivot(index="case_id", columns="lifecycle", values="t")
    assert (span.complete - span.start == pd.Timedelta(hours=3)).all()
    # the one clerk takes the next case's order while the first case waits for its supplier
    first = span.loc["C000001"]
    orders = ev[(ev.activity == "order") & (ev.lifecycle == "start") & (ev.case_id != "C000001")]
    during = orders[(orders.t > first.start) & (orders.t < first.complete)]
    assert len(during) == 3 and set(during.resource) == set(ev[ev.activity == "order"].resource)
    # receiving starts as soon as the wait is over (the clerk finishes the 11:00 order at 11:20)
    recv = ev[(ev.case_id == "C000001") & (ev.activity == "receive") & (ev.lifecycle == "start")].t.iloc[0]
    assert recv == first.complete


def test_an_unlogged_wait_is_not_in_the_log_but_takes_its_time(write_process, tmp_path):
    run(load_process(write_process(WAITING.replace("    log: true\n", ""))), tmp_path / "o", seed=1, cases=3,
        formats=["csv"])
    ev = events(tmp_path / "o")
    assert set(ev.activity) == {"order", "receive"}
    c1 = ev[ev.case_id == "C000001"].set_index(["activity", "lifecycle"]).t
    assert c1["receive", "start"] - c1["order", "complete"] == pd.Timedelta(hours=3)
    cases = pd.read_csv(tmp_path / "o" / "cases.csv")
    assert (cases.events == 4).all()


def test_a_party_wait_counts_the_partys_working_time(write_process, tmp_path):
    # ordered at 16:20 on a Monday: 3 hours of office time are 40 minutes that day and 2h20 on Tuesday
    text = (WAITING.replace("    duration: 3h\n", "    duration: 3h\n    calendar: office\n")
            .replace("  start: 2026-03-23T08:00:00+01:00", "  start: 2026-03-23T16:00:00+01:00"))
    run(load_process(write_process(text)), tmp_path / "o", seed=1, cases=1, formats=["csv"])
    ev = events(tmp_path / "o")
    w = ev[ev.activity == "Wait for supplier"].set_index("lifecycle").t
    assert str(local(pd.Series([w["start"]])).iloc[0]) == "2026-03-23 16:20:00+01:00"
    assert str(local(pd.Series([w["complete"]])).iloc[0]) == "2026-03-24 10:20:00+01:00"


UNTIL = HEAD + """\
roles:
  clerk: {members: 3}
arrivals:
  interarrival: {kind: exponential, mean: 7h}
events:
  start: {type: start, next: register}
  done: {type: end}
activities:
  register: {role: clerk, duration: 10m, next: friday}
  pay: {duration: 1m, next: month_end}
  close: {duration: 1m, next: next_day}
  book: {duration: 1m, next: done}
waits:
  friday: {until: {weekdays: [fri], time: "10:00"}, log: true, next: pay}
  month_end: {until: {day: last, time: "24:00"}, log: true, next: close}
  next_day: {until: {next_working_day: office}, log: true, next: book}
"""


def test_waits_until_land_on_their_calendar_moments_across_dst(write_process, tmp_path):
    run(load_process(write_process(UNTIL)), tmp_path / "o", seed=2, cases=60, formats=["csv"])
    ev = events(tmp_path / "o")
    done = ev[ev.lifecycle == "complete"].copy()
    done["local"] = local(done.t)
    fri = done[done.activity == "friday"].local
    # Friday 10:00 local, before the switch (+01:00) and after it (+02:00)
    assert (fri.dt.weekday == 4).all() and (fri.dt.hour == 10).all() and (fri.dt.minute == 0).all()
    assert {str(t.utcoffset()) for t in fri} == {"1:00:00", "2:00:00"}
    # each case waited for the first Friday 10:00 at or after its registration
    reg = done[done.activity == "register"].set_index("case_id").local
    for cid, t in done[done.activity == "friday"].set_index("case_id").local.items():
        assert t >= reg[cid] and t - reg[cid] < pd.Timedelta(days=7)
    # the end of the month is midnight starting the 1st
    me = done[done.activity == "month_end"].local
    assert (me.dt.day == 1).all() and (me.dt.hour == 0).all()
    assert set(me.dt.strftime("%Y-%m-%dT%H:%M%z")) >= {"2026-04-01T00:00+0200"}
    # the next working day of the office after 1 April 00:00 (a Wednesday) is Thursday 2 April at 08:00; after
    # 1 May (a holiday, a Friday) it is Monday 4 May
    nd = done[done.activity == "next_day"].local.dt.strftime("%Y-%m-%dT%H:%M%z")
    assert set(nd) <= {"2026-04-02T08:00+0200", "2026-05-04T08:00+0200", "2026-06-02T08:00+0200"}
    assert "2026-04-02T08:00+0200" in set(nd)


def test_moments_are_wall_clock_times_in_the_process_zone():
    origin = dt.datetime(2026, 3, 23, 8, tzinfo=BERLIN)
    base = origin.timestamp()

    def at(m: Moments, when: dt.datetime) -> str:
        return dt.datetime.fromtimestamp(base + m.next(when.timestamp() - base), BERLIN).isoformat()

    runs = Moments(tz=BERLIN, origin=origin, weekdays={1, 4}, times=[36000.0])  # Tue and Fri 10:00
    assert at(runs, dt.datetime(2026, 3, 27, 9, 59, tzinfo=BERLIN)) == "2026-03-27T10:00:00+01:00"
    assert at(runs, dt.datetime(2026, 3, 27, 10, 0, tzinfo=BERLIN)) == "2026-03-27T10:00:00+01:00"  # at: now
    assert at(runs, dt.datetime(2026, 3, 27, 10, 1, tzinfo=BERLIN)) == "2026-03-31T10:00:00+02:00"  # after DST
    # 02:30 on 29 March does not exist in Berlin: the moment is the switch itself (03:00 summer time)
    gap = Moments(tz=BERLIN, origin=origin, times=[9000.0])
    assert at(gap, dt.datetime(2026, 3, 29, 1, tzinfo=BERLIN)) == "2026-03-29T03:00:00+02:00"
    # day 31 in April is its last day
    late = Moments(tz=BERLIN, origin=origin, day=31, times=[43200.0])
    assert at(late, dt.datetime(2026, 4, 1, tzinfo=BERLIN)) == "2026-04-30T12:00:00+02:00"
    office = WorkCalendar({d: [(28800.0, 61200.0)] for d in range(5)}, [dt.date(2026, 4, 3)], tz=BERLIN,
                          origin=origin)
    nwd = Moments(tz=BERLIN, origin=origin, working=office)
    # Thursday afternoon -> Friday is a holiday -> Monday
    assert at(nwd, dt.datetime(2026, 4, 2, 15, tzinfo=BERLIN)) == "2026-04-06T08:00:00+02:00"


def test_routes_and_deadlines_may_lead_to_a_wait(write_process, tmp_path):
    text = WAITING.replace("  order: {role: clerk, duration: 20m, next: supplier}",
                           "  order: {role: clerk, duration: 20m, next: stock}") + """\
gateways:
  stock:
    type: xor
    branches:
      - {to: supplier, probability: 0.5}
      - {to: receive, probability: 0.5}
rules: [r.yaml]
"""
    write_process("""
        rules:
          - id: always_order
            route: {gateway: stock, to: supplier}
        """, "r.yaml")
    run(load_process(write_process(text)), tmp_path / "o", seed=1, cases=5, formats=["csv"])
    ev = events(tmp_path / "o")
    assert (ev[ev.activity == "Wait for supplier"].groupby("case_id").size() == 2).all()
    assert ev.case_id.nunique() == 5
    # the route fired at the gateway before the wait: its id is shown on the activity after the wait
    assert (ev[ev.activity == "receive"].rules == "always_order").all()


def test_the_net_fits_a_log_with_logged_and_silent_waits(write_process, tmp_path):
    text = UNTIL.replace("  month_end: {until: {day: last, time: \"24:00\"}, log: true,",
                         "  month_end: {until: {day: last, time: \"24:00\"},")
    loaded = load_process(write_process(text))
    pnml = process_to_pnml(loaded)
    assert 'id="tau.month_end"' in pnml and 'id="t.friday"' in pnml
    net, im, fm = read_net(pnml, tmp_path)
    run(loaded, tmp_path / "o", seed=1, cases=40, formats=["csv"])
    fit = fit_by_case(complete_events(tmp_path / "o" / "events.csv"), net, im, fm)
    assert len(fit) == 40 and all(fit.values())
    dot = to_dot(loaded)
    assert '"friday" [shape=doublecircle, label="wait", xlabel="friday: until a moment"];' in dot
    assert '"month_end" [shape=doublecircle, label="wait", xlabel="month_end: until a moment", style=dashed];' in dot


def test_bad_waits_point_at_their_lines(write_process):
    bad = (WAITING.replace("    duration: 3h\n", "    duration: 3\n    calendar: ofice\n")
           .replace("    next: receive\n", "    next: recieve\n")
           + "  twice: {duration: 1h, until: {weekdays: [mon]}, next: done}\n")
    assert errors_of(write_process(bad)) == [
        "p.yaml:27:10: waits.twice: a wait needs exactly one of 'duration' (how long) and 'until' (a calendar "
        "moment) [value_error]",
    ]
    bad = bad.replace("  twice: {duration: 1h, until: {weekdays: [mon]}, next: done}\n",
                      "  twice: {until: {weekdays: [mon], time: \"25:00\"}, next: done}\n")
    assert errors_of(write_process(bad)) == [
        "p.yaml:27:42: waits.twice.until.time[0]: invalid time of day '25:00': hours 0-24, minutes 0-59 "
        "[value_error]",
    ]
    bad = bad.replace("time: \"25:00\"", "time: \"10:00\"")
    assert errors_of(write_process(bad)) == [
        "p.yaml:23:15: waits.supplier.duration: durations need a unit, like '15m' or '2h' [unit_missing]",
        "p.yaml:24:15: waits.supplier.calendar: unknown calendar 'ofice'; did you mean 'office'? "
        "[unknown_calendar]",
        "p.yaml:26:11: waits.supplier.next: unknown node 'recieve'; did you mean 'receive'? [unknown_node]",
    ]


# -- batching --------------------------------------------------------------------------------------------------------

BATCHED = HEAD + """\
roles:
  clerk: {members: 3, calendar: office}
  treasury: {members: 2}
arrivals:
  interarrival: {kind: exponential, mean: 40m}
  calendar: office
events:
  start: {type: start, next: invoice}
  done: {type: end}
activities:
  invoice: {role: clerk, duration: {kind: exponential, mean: 20m}, next: pay, cost: {fixed: 1}}
  pay:
    role: treasury
    duration: 30m
    cost: {fixed: 0.5, per_hour: 60}
    next: done
    batch: {schedule: {weekdays: [tue, fri], time: "10:00"}}
"""


def _batches(ev: pd.DataFrame) -> pd.DataFrame:
    return ev[ev.batch != ""]


def test_a_batch_shares_its_times_its_member_and_its_id(write_process, tmp_path):
    run(load_process(write_process(BATCHED)), tmp_path / "o", seed=4, cases=200, formats=["csv", "parquet"])
    ev = events(tmp_path / "o")
    assert (ev[ev.activity == "invoice"].batch == "").all()
    pay = _batches(ev)
    assert len(pay) == 400 and (ev[ev.activity == "pay"].batch != "").all()
    per = pay.groupby(["batch", "lifecycle"]).agg(times=("t", "nunique"), who=("resource", "nunique"),
                                                  n=("case_id", "nunique"))
    assert (per.times == 1).all() and (per.who == 1).all()
    sizes = pay[pay.lifecycle == "start"].groupby("batch").size()
    assert sizes.max() > 5  # several cases per run, not one each
    # 30 minutes of work at 60/h shared out: each case pays its 0.5 fixed plus its share of 30
    done = pay[pay.lifecycle == "complete"].copy()
    done["n"] = done.batch.map(sizes)
    assert (done.cost.astype(float) - (0.5 + 30 / done.n).round(2)).abs().max() < 1e-9
    # the batch ids are the activity and a running number, in the order the runs started
    starts = pay[pay.lifecycle == "start"].drop_duplicates("batch").sort_values("t")
    assert list(starts.batch) == [f"pay#{k}" for k in range(1, len(starts) + 1)]
    table = pq.read_table(tmp_path / "o" / "events.parquet")
    assert table.schema.names[10] == "batch" and table.column("batch").null_count == 400


def test_the_schedule_runs_on_its_weekdays_and_takes_everyone_waiting(write_process, tmp_path):
    run(load_process(write_process(BATCHED)), tmp_path / "o", seed=4, cases=200, formats=["csv"])
    ev = events(tmp_path / "o")
    starts = local(_batches(ev)[lambda d: d.lifecycle == "start"].t)
    # two treasurers, around the clock: every run starts at the moment of the schedule
    assert set(starts.dt.strftime("%a %H:%M")) == {"Tue 10:00", "Fri 10:00"}
    assert {str(t.utcoffset()) for t in starts} == {"1:00:00", "2:00:00"}
    arrived = ev[(ev.activity == "invoice") & (ev.lifecycle == "complete")].set_index("case_id").t
    began = _batches(ev)[lambda d: d.lifecycle == "start"].set_index("case_id").t
    runs = sorted(set(began))
    for cid, t in began.items():
        # the first run at or after the case arrived took it
        assert t == next(r for r in runs if r >= arrived[cid])


def test_a_batch_starts_when_size_cases_wait(write_process, tmp_path):
    text = BATCHED.replace("batch: {schedule: {weekdays: [tue, fri], time: \"10:00\"}}",
                           "batch: {size: 5, timeout: 30d}")
    run(load_process(write_process(text)), tmp_path / "o", seed=5, cases=52, formats=["csv"])
    ev = events(tmp_path / "o")
    arrived = ev[(ev.activity == "invoice") & (ev.lifecycle == "complete")].set_index("case_id").t
    starts = _batches(ev)[lambda d: d.lifecycle == "start"]
    sizes = starts.groupby("batch").size()
    assert sorted(sizes.values.tolist()) == [2] + [5] * 10
    for bid, grp in starts.groupby("batch"):
        if len(grp) == 5:
            # the fifth case's arrival starts it (two treasurers: one is always free by then)
            assert grp.t.iloc[0] == max(arrived[c] for c in grp.case_id)
        else:
            # the last two wait for the timeout
            assert grp.t.iloc[0] == min(arrived[c] for c in grp.case_id) + pd.Timedelta(days=30)


def test_a_batch_starts_at_its_timeout(write_process, tmp_path):
    text = BATCHED.replace("batch: {schedule: {weekdays: [tue, fri], time: \"10:00\"}}", "batch: {timeout: 4h}")
    run(load_process(write_process(text)), tmp_path / "o", seed=6, cases=120, formats=["csv"])
    ev = events(tmp_path / "o")
    arrived = ev[(ev.activity == "invoice") & (ev.lifecycle == "complete")].set_index("case_id").t
    starts = _batches(ev)[lambda d: d.lifecycle == "start"]
    for _, grp in starts.groupby("batch"):
        first = min(arrived[c] for c in grp.case_id)
        assert grp.t.iloc[0] == first + pd.Timedelta(hours=4)
        assert all(arrived[c] <= first + pd.Timedelta(hours=4) for c in grp.case_id)
    assert starts.groupby("batch").size().max() > 1


def test_xes_and_ocel_carry_the_batch_and_other_logs_have_no_batch_column(write_process, tmp_path):
    text = BATCHED + """\
objects:
  payment: {created_by: pay, number: "PAY-{n:04d}"}
"""
    run(load_process(write_process(text)), tmp_path / "o", seed=4, cases=30,
        formats=["csv", "xes", "ocel-json", "ocel-sqlite"])
    xes = (tmp_path / "o" / "events.xes").read_text()
    assert xes.count('<string key="procsim:batch" value="pay#') == 60
    _validate(tmp_path / "o" / "events.xes")
    log = _read_xes(tmp_path / "o" / "events.xes")
    csv = events(tmp_path / "o")
    # pm4py reads the same batch ids, per event, as the CSV has
    by_event = csv.set_index("event_id").batch
    assert (log["procsim:batch"].fillna("") == log["procsim:event_id"].map(by_event)).all()
    ocel = json.loads((tmp_path / "o" / "ocel.json").read_text())
    with_batch = [e for e in ocel["events"] if any(a["name"] == "batch" for a in e["attributes"])]
    assert len(with_batch) == 30  # one OCEL event per activity instance (its completion)
    import sqlite3

    db = sqlite3.connect(tmp_path / "o" / "ocel.sqlite")
    table = db.execute("SELECT ocel_type_map FROM event_map_type WHERE ocel_type = 'pay'").fetchone()[0]
    ids = db.execute(f'SELECT batch FROM "event_{table}"').fetchall()
    assert len(ids) == 30 and all(b.startswith("pay#") for (b,) in ids)
    db.close()
    plain = write_process(WAITING, "plain.yaml")
    run(load_process(plain), tmp_path / "p", seed=1, cases=3, formats=["csv", "parquet"])
    assert "batch" not in pd.read_csv(tmp_path / "p" / "events.csv").columns
    assert "batch" not in pq.read_table(tmp_path / "p" / "events.parquet").schema.names


def test_bad_batches_point_at_their_lines(write_process):
    bad = BATCHED.replace("batch: {schedule: {weekdays: [tue, fri], time: \"10:00\"}}", "batch: {work: together}")
    assert errors_of(write_process(bad)) == [
        "p.yaml:26:12: activities.pay.batch: a batch needs a trigger: 'size', 'timeout', 'idle' or 'schedule' "
        "[value_error]",
    ]
    bad = BATCHED.replace("{weekdays: [tue, fri], time: \"10:00\"}", "{next_working_day: ofice}") + """\
attributes:
  batch: {value: x}
"""
    assert errors_of(write_process(bad)) == [
        "p.yaml:26:42: activities.pay.batch.schedule.next_working_day: unknown calendar 'ofice'; did you mean "
        "'office'? [unknown_calendar]",
        "p.yaml:28:3: attributes.batch: 'batch' is a column procsim writes itself; call the attribute something "
        "else [reserved_name]",
    ]


# -- durations after a previous activity, and zero-time instances ---------------------------------------------------

AFTER = HEAD + """\
roles:
  clerk: {members: 20}
arrivals:
  interarrival: 30m
events:
  start: {type: start, next: route}
  done: {type: end}
activities:
  by_phone: {role: clerk, duration: 5m, next: record}
  by_mail: {role: clerk, duration: 5m, next: record}
  record:
    role: clerk
    duration: 10m
    duration_after: {by_mail: 1h}
    next: done
gateways:
  route:
    type: xor
    branches:
      - {to: by_phone, probability: 0.5}
      - {to: by_mail, probability: 0.5}
"""


def test_a_duration_after_applies_only_after_that_activity(write_process, tmp_path):
    run(load_process(write_process(AFTER)), tmp_path / "o", seed=1, cases=200, formats=["csv"])
    ev = events(tmp_path / "o")
    took = ev[ev.activity == "record"].pivot(index="case_id", columns="lifecycle", values="t")
    took = (took.complete - took.start).dt.total_seconds()
    came = ev[ev.activity.isin(["by_phone", "by_mail"]) & (ev.lifecycle == "complete")].set_index("case_id").activity
    assert set(took[came[took.index] == "by_mail"]) == {3600.0}
    assert set(took[came[took.index] == "by_phone"]) == {600.0}
    assert 60 < (came == "by_mail").sum() < 140


def test_an_immediate_share_of_instances_takes_no_time(write_process, tmp_path):
    text = AFTER.replace("    duration_after: {by_mail: 1h}\n",
                         "    duration_after: {by_mail: {kind: exponential, mean: 1h}}\n    immediate: 0.4\n")
    run(load_process(write_process(text)), tmp_path / "o", seed=2, cases=1000, formats=["csv"])
    ev = events(tmp_path / "o")
    took = ev[ev.activity == "record"].pivot(index="case_id", columns="lifecycle", values="t")
    zero = (took.complete == took.start)
    # binomial(1000, 0.4): 4.5 standard deviations either side
    assert 330 < zero.sum() < 470
    assert (ev[ev.activity != "record"].groupby(["case_id", "activity"]).t.nunique() == 2).all()


def test_same_seed_same_bytes_with_every_new_feature(write_process, tmp_path):
    text = BATCHED.replace("next: pay, cost: {fixed: 1}}", "next: wait, cost: {fixed: 1}}") + """\
    immediate: 0.2
    duration_after: {invoice: 45m}
waits:
  wait: {duration: {kind: exponential, mean: 2h}, calendar: office, log: true, next: pay}
"""
    loaded = load_process(write_process(text))
    digests = []
    for k in range(2):
        out = tmp_path / f"o{k}"
        run(loaded, out, seed=9, cases=150, formats=["csv", "parquet", "xes"])
        digests.append({f: hashlib.sha256((out / f).read_bytes()).hexdigest()
                        for f in ("events.csv", "events.parquet", "events.xes", "cases.csv")})
    assert digests[0] == digests[1]


def test_rules_and_exceptions_that_would_change_one_case_of_a_batch_are_refused(write_process):
    write_process("""
        rules:
          - id: slow_pay
            duration: {activity: pay, scale: 2}
        """, "r.yaml")
    bad = BATCHED + """\
rules: [r.yaml]
exceptions:
  - {type: late_event, activity: pay, delay: 1d, rate: 0.1}
"""
    assert errors_of(write_process(bad)) == [
        "p.yaml:29:34: exceptions[0].activity: 'pay' is batched: a batched activity's duration, member and start "
        "belong to its batch, so 'late_event' cannot change them for one case [batched_activity]",
        "r.yaml:4:26: rules[0].duration.activity: 'pay' is batched: a batched activity's duration, member and "
        "start belong to its batch, so a 'duration' rule cannot change them for one case [batched_activity]",
    ]


def test_an_exception_that_skips_a_batched_activity_leaves_the_case_out_of_its_batch(write_process, tmp_path):
    text = BATCHED + """\
exceptions:
  - {type: skip_activity, activity: pay, rate: 0.3}
"""
    run(load_process(write_process(text)), tmp_path / "o", seed=3, cases=100, formats=["csv"])
    ev = events(tmp_path / "o")
    labels = pd.read_csv(tmp_path / "o" / "labels.csv", keep_default_na=False)
    skipped = set(labels[labels.exceptions == "skip_activity"].case_id)
    paid = set(ev[ev.activity == "pay"].case_id)
    assert 15 < len(skipped) < 45 and paid == set(ev.case_id) - skipped
    assert (ev[ev.activity == "pay"].exception == "").all()


def test_the_benchmark_variants_run_and_use_their_features(tmp_path):
    import importlib.util
    import sys

    path = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_flow.py"
    spec = importlib.util.spec_from_file_location("_bench_flow", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    paths = mod.write_variants(tmp_path, ["all"])
    run(load_process(paths["all"]), tmp_path / "o", seed=1, cases=150, formats=["csv"])
    ev = events(tmp_path / "o")
    assert (ev[ev.activity == "Execute payment"].batch != "").all()
    assert (ev.activity == "Supplier confirms order").sum() > 0
    sent = ev[ev.activity == "Send purchase order"].pivot(index="case_id", columns="lifecycle", values="t")
    assert 0 < (sent.start == sent.complete).mean() < 1


PROPERTY = HEAD + """\
roles:
  clerk: {{members: {clerks}, calendar: office}}
arrivals:
  interarrival: {{kind: exponential, mean: {gap}m}}
events:
  start: {{type: start, next: register}}
  done: {{type: end}}
activities:
  register: {{role: clerk, duration: {{kind: exponential, mean: 20m}}, immediate: 0.2, next: hold}}
  pay:
    role: clerk
    duration: {{kind: uniform, low: 10m, high: 90m}}
    batch: {{size: {size}, timeout: {timeout}h{schedule}}}
    next: file
  file: {{role: clerk, duration: 15m, duration_after: {{pay: 5m}}, next: done}}
waits:
  hold: {{duration: {{kind: exponential, mean: {hold}h}}, log: {log}, next: pay}}
"""


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), clerks=st.integers(1, 3), gap=st.integers(5, 120), size=st.integers(1, 8),
       timeout=st.integers(1, 72), schedule=st.booleans(), hold=st.integers(1, 48), log=st.booleans(),
       cases=st.integers(1, 60))
def test_batches_and_waits_keep_every_guarantee(tmp_path_factory, seed, clerks, gap, size, timeout, schedule, hold,
                                                log, cases):
    d = tmp_path_factory.mktemp("prop")
    text = PROPERTY.format(clerks=clerks, gap=gap, size=size, timeout=timeout, hold=hold, log=str(log).lower(),
                           schedule=", schedule: {weekdays: [tue, fri], time: \"10:00\"}" if schedule else "")
    (d / "p.yaml").write_text(text)
    loaded = load_process(d / "p.yaml")
    run(loaded, d / "o", seed=seed, cases=cases, formats=["csv"])
    ev = events(d / "o")
    cases_csv = pd.read_csv(d / "o" / "cases.csv")
    assert len(cases_csv) == cases and set(cases_csv.status) == {"completed"}
    assert list(zip(ev.t, ev.case_id)) == sorted(zip(ev.t, ev.case_id))
    assert (ev.groupby("case_id").t.apply(lambda s: s.is_monotonic_increasing)).all()
    assert (ev[ev.activity == "hold"].resource == "").all() and (log or not (ev.activity == "hold").any())
    pay = ev[ev.activity == "pay"]
    assert pay.groupby("case_id").size().eq(2).all() and pay.case_id.nunique() == cases
    assert (pay[pay.lifecycle == "start"].groupby("batch").size() <= size).all()
    # one piece of work per batch: no member holds two at once, and work starts in office hours
    work = ev[ev.resource != ""].copy()
    work["unit"] = work.batch.where(work.batch != "", work.case_id + "/" + work.activity)
    span = work.groupby(["unit", "resource", "lifecycle"]).t.first().unstack()
    for _, w in span.sort_values(["start", "complete"]).groupby(level="resource"):
        assert (w.start.to_numpy()[1:] >= w.complete.to_numpy()[:-1]).all()
    cal = _calendars(loaded.spec)["office"]
    origin = pd.Timestamp("2026-03-23T08:00:00+01:00")
    secs = (span.start - origin).dt.total_seconds()
    assert all(cal.is_working(round(s, 3)) or cal.is_working(round(s, 3) + 0.001) for s in secs)
    # file takes 5 minutes of working time after pay, its only predecessor
    f = ev[ev.activity == "file"].pivot(index="case_id", columns="lifecycle", values="t")
    worked = [cal.working_between((a - origin).total_seconds(), (b - origin).total_seconds())
              for a, b in zip(f.start, f.complete)]
    assert all(abs(w - 300) < 0.01 for w in worked)


SUB_WAIT = WAITING.replace("  order: {role: clerk, duration: 20m, next: supplier}",
                           "  order: {role: clerk, duration: 20m, next: first}") + """\
subprocesses:
  ask:
    events:
      begin: {type: start, next: send}
      end: {type: end}
    activities:
      send: {role: clerk, duration: 5m, next: reply}
    waits:
      reply: {name: Wait for reply, duration: 1h, log: true, next: end}
calls:
  first: {subprocess: ask, next: second}
  second: {subprocess: ask, next: supplier}
"""


def test_a_sub_process_may_wait_and_each_call_waits_on_its_own(write_process, tmp_path):
    loaded = load_process(write_process(SUB_WAIT))
    assert {"first.reply", "second.reply"} <= set(loaded.spec.waits)
    run(loaded, tmp_path / "o", seed=1, cases=4, formats=["csv"])
    ev = events(tmp_path / "o")
    replies = ev[ev.activity == "Wait for reply"]
    assert (replies.groupby("case_id").size() == 4).all()
    span = replies.assign(k=replies.groupby(["case_id", "lifecycle"]).cumcount()).pivot(
        index=["case_id", "k"], columns="lifecycle", values="t")
    assert (span.complete - span.start == pd.Timedelta(hours=1)).all()
    dot = to_dot(loaded)
    assert 'subgraph "cluster_first" {' in dot and '"first.reply" [shape=doublecircle' in dot
    bad = SUB_WAIT.replace("duration: 1h, log: true, next: end}", "duration: 1, log: true, next: ende}")
    assert errors_of(write_process(bad)) == [
        "p.yaml:34:47: subprocesses.ask.waits.reply.duration: durations need a unit, like '15m' or '2h' "
        "[unit_missing]",
        "p.yaml:34:67: subprocesses.ask.waits.reply.next: unknown node 'ende' in sub-process 'ask' (a sub-process "
        "leads only to its own nodes); did you mean 'end'? [unknown_node]",
    ]


def test_a_deadline_may_escalate_to_a_wait(write_process, tmp_path):
    write_process("""
        rules:
          - id: no_time_to_order
            deadline: {activity: order, within: 30m, escalate_to: supplier}
        """, "r.yaml")
    text = WAITING.replace("order: {role: clerk, duration: 20m,", "order: {role: clerk, duration: 90m,") + (
        "rules: [r.yaml]\n")
    run(load_process(write_process(text)), tmp_path / "o", seed=1, cases=8, formats=["csv"])
    ev = events(tmp_path / "o")
    ordered = set(ev[ev.activity == "order"].case_id)
    waited = set(ev[ev.activity == "Wait for supplier"].case_id)
    assert waited == set(ev.case_id) and ordered < waited
    # the escalated cases show the deadline on the activity after the wait
    skipped = ev[(ev.activity == "receive") & ~ev.case_id.isin(ordered)]
    assert len(skipped) > 0 and (skipped.rules == "no_time_to_order").all()


def test_cases_that_arrive_at_the_moment_of_the_run_go_with_it(write_process, tmp_path):
    # half the invoices wait for Friday 10:00 before they reach the payment run of Tuesday and Friday 10:00
    text = BATCHED.replace("next: pay, cost: {fixed: 1}}", "next: route, cost: {fixed: 1}}") + """\
gateways:
  route:
    type: xor
    branches:
      - {to: pay, probability: 0.5}
      - {to: friday, probability: 0.5}
waits:
  friday: {until: {weekdays: [fri], time: "10:00"}, log: true, next: pay}
"""
    run(load_process(write_process(text)), tmp_path / "o", seed=8, cases=150, formats=["csv"])
    ev = events(tmp_path / "o")
    came = ev[(ev.activity == "friday") & (ev.lifecycle == "complete")].set_index("case_id").t
    began = _batches(ev)[lambda d: d.lifecycle == "start"].set_index("case_id")
    assert len(came) > 30
    # each of them is in the run that starts that very moment, with the cases that were waiting already
    assert (began.t[came.index] == came).all()
    runs = set(began.batch[came.index])
    assert began[~began.index.isin(came.index)].batch.isin(runs).any()


def test_a_rule_that_raises_at_a_batched_activity_labels_its_events(write_process, tmp_path):
    write_process("""
        rules:
          - id: big_payment
            when: "case_id >= 'C000050'"
            raise: {exception: late_cases, at: pay}
        """, "r.yaml")
    run(load_process(write_process(BATCHED + "rules: [r.yaml]\n")), tmp_path / "o", seed=4, cases=80,
        formats=["csv"])
    ev = events(tmp_path / "o")
    pay = ev[ev.activity == "pay"]
    late = pay.case_id >= "C000050"
    assert (pay[late].exception == "late_cases").all() and (pay[~late].exception == "").all()
    assert (ev[ev.activity == "invoice"].exception == "").all()
