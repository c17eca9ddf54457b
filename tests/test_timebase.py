"""TimeBase: sim seconds -> epoch ms and local ISO strings, vectorised, agreeing with datetime to the ms."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from procsim.timebase import TimeBase

BERLIN = ZoneInfo("Europe/Berlin")
ORIGIN = datetime(2026, 1, 5, 8, 0, tzinfo=BERLIN)
TB = TimeBase(ORIGIN, BERLIN)
ORIGIN_MS = 1_767_596_400_000  # 2026-01-05T07:00:00Z
SPRING = (datetime(2026, 3, 29, 1, tzinfo=timezone.utc) - ORIGIN).total_seconds()
AUTUMN = (datetime(2026, 10, 25, 1, tzinfo=timezone.utc) - ORIGIN).total_seconds()


def test_epoch_ms_rounds_half_to_even() -> None:
    got = TB.epoch_ms(np.array([0.0, 0.0005, 0.0015, 0.0025, -0.0015, 1.25, 86400.0]))
    assert got.dtype == np.int64
    assert (got - ORIGIN_MS).tolist() == [0, 0, 2, 2, -2, 1250, 86_400_000]
    assert TB.to_datetime(0.0025) == datetime(2026, 1, 5, 8, 0, 0, 2000, tzinfo=BERLIN)


def test_iso_examples() -> None:
    assert TB.iso_one(793.1234) == "2026-01-05T08:13:13.123+01:00"
    assert TB.iso([793.1234, 0.0]).tolist() == ["2026-01-05T08:13:13.123+01:00", "2026-01-05T08:00:00.000+01:00"]
    assert TB.iso([SPRING - 0.001, SPRING]).tolist() == ["2026-03-29T01:59:59.999+01:00",
                                                         "2026-03-29T03:00:00.000+02:00"]
    assert TB.iso([AUTUMN - 0.001, AUTUMN]).tolist() == ["2026-10-25T02:59:59.999+02:00",
                                                         "2026-10-25T02:00:00.000+01:00"]


def test_utc_zone_and_other_origins() -> None:
    utc = TimeBase(ORIGIN, ZoneInfo("UTC"))
    assert utc.iso([0.0, 3600.5]).tolist() == ["2026-01-05T07:00:00.000+00:00", "2026-01-05T08:00:00.500+00:00"]
    assert utc.iso_one(0.0) == "2026-01-05T07:00:00.000+00:00"
    ny = TimeBase(datetime(2026, 3, 8, 1, 59, 59, tzinfo=ZoneInfo("America/New_York")), ZoneInfo("America/New_York"))
    assert ny.iso([0.0, 1.0]).tolist() == ["2026-03-08T01:59:59.000-05:00", "2026-03-08T03:00:00.000-04:00"]
    # A historical offset with seconds is written as datetime writes it.
    lmt = TimeBase(datetime(1890, 1, 1, tzinfo=BERLIN), BERLIN)
    assert lmt.iso([0.0]).tolist() == ["1890-01-01T00:00:00.000+00:53:28"] == [lmt.iso_one(0.0)]


def test_shapes_and_bad_input() -> None:
    assert TB.iso(np.zeros((2, 3))).shape == (2, 3)
    assert TB.iso(np.zeros(0)).shape == (0,)
    assert TB.epoch_ms(np.zeros((2, 3))).shape == (2, 3)
    with pytest.raises(ValueError) as exc:
        TB.epoch_ms([0.0, float("nan")])
    assert str(exc.value) == "timestamps must be finite"
    with pytest.raises(ValueError) as exc:
        TimeBase(datetime(2026, 1, 5), BERLIN)
    assert str(exc.value) == "time base origin must be timezone-aware, got 2026-01-05T00:00:00"


around_dst = st.one_of(*(st.floats(min_value=c - 3 * 86400, max_value=c + 3 * 86400) for c in (SPRING, AUTUMN)),
                       st.floats(min_value=-1e8, max_value=4e8))


@settings(max_examples=200, deadline=None)
@given(st.lists(around_dst, min_size=1, max_size=50))
def test_iso_matches_datetime(ts: list[float]) -> None:
    tb = TimeBase(ORIGIN, BERLIN)  # fresh: the offset table must be built and widened correctly from any start
    got = tb.iso(np.array(ts))
    want = [tb.to_datetime(t).isoformat(timespec="milliseconds") for t in ts]
    assert got.tolist() == want
    assert [tb.iso_one(t) for t in ts] == want
    assert TB.iso(np.array(ts)).tolist() == want  # shared, already widened table
    ms = tb.epoch_ms(np.array(ts))
    assert [(tb.to_datetime(t) - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(milliseconds=1)
            for t in ts] == ms.tolist()


def test_pandas_round_trip() -> None:
    ts = np.random.default_rng(5).uniform(-86400.0, 400 * 86400.0, 5000)
    parsed = pd.to_datetime(pd.Series(TB.iso(ts)), format="ISO8601", utc=True)
    assert (parsed.astype("datetime64[ms, UTC]").astype("int64").to_numpy() == TB.epoch_ms(ts)).all()




@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata",
                                  "America/Santiago", "Europe/Moscow", "Pacific/Apia"])
def test_many_zones_over_a_century(zone: str) -> None:
    tz = ZoneInfo(zone)
    tb = TimeBase(datetime(2000, 1, 1, tzinfo=tz), tz)
    ts = np.random.default_rng(2).uniform(-3e9, 1.5e9, 3000)
    assert tb.iso(ts).tolist() == [tb.iso_one(t) for t in ts]


def test_iso_array_is_the_same_text_as_arrow() -> None:
    ts = np.random.default_rng(3).uniform(-86400.0, 400 * 86400.0, 2000)
    arr = TB.iso_array(ts)
    assert arr.type == pa.string() and arr.null_count == 0
    assert arr.to_pylist() == TB.iso(ts).tolist() == [TB.iso_one(t) for t in ts]
    assert TB.iso_array(np.zeros(0)).to_pylist() == []


def test_iso_with_offsets_of_two_widths() -> None:
    # Berlin left local mean time (+00:53:28) for CET on 1893-04-01: one batch holds both widths
    tb = TimeBase(datetime(1893, 3, 30, tzinfo=BERLIN), BERLIN)
    ts = [0.0, 5 * 86400.0, 86400.5]
    want = ["1893-03-30T00:00:00.000+00:53:28", "1893-04-04T00:06:32.000+01:00", "1893-03-31T00:00:00.500+00:53:28"]
    assert tb.iso(ts).tolist() == want == [tb.iso_one(t) for t in ts]
    assert tb.iso_array(ts).to_pylist() == want
