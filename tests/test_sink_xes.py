"""XES sink: schema-valid, readable by pm4py with the same events as the CSV, escaped, deterministic."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from lxml import etree

import procsim.sinks.xes  # noqa: F401 - registers the format even before the package imports it
from procsim.records import Case, Recorder
from procsim.rows import EventRow
from procsim.run import run
from procsim.sinks.base import SinkContext
from procsim.sinks.xes import XesSink, escape
from procsim.timebase import TimeBase

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
XSD = SHARED / "data" / "schemas" / "xes-ieee-1849-2016.xsd"
NS = "{http://www.xes-standard.org/}"


def _validate(path: Path) -> None:
    if not XSD.exists():
        pytest.skip(f"XES schema not found at {XSD} (the shared data folder is not next to the repository)")
    doc = etree.parse(str(path))
    # the XSD has no target namespace: compare the log's structure without ours
    for el in doc.iter():
        if isinstance(el.tag, str) and el.tag.startswith(NS):
            el.tag = el.tag[len(NS):]
    etree.cleanup_namespaces(doc)
    schema = etree.XMLSchema(etree.parse(str(XSD)))
    assert schema.validate(doc), str(schema.error_log)


def _read_xes(path: Path) -> pd.DataFrame:
    import pm4py  # AGPL, test-only; prints a banner on import

    return pm4py.read_xes(str(path))


def _traces(path: Path) -> list[tuple[dict[str, str], list[dict[str, str]]]]:
    """(trace attributes, [event attributes]) per trace, as key -> value text after XML parsing."""
    root = etree.parse(str(path)).getroot()
    out = []
    for tr in root.iter(f"{NS}trace"):
        attrs = {a.get("key"): a.get("value") for a in tr if a.tag != f"{NS}event"}
        events = [{a.get("key"): a.get("value") for a in ev} for ev in tr.iter(f"{NS}event")]
        out.append((attrs, events))
    return out


@pytest.fixture(scope="module")
def p2p(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("p2p")
    run(REPO / "processes" / "procure_to_pay.yaml", out, seed=3, cases=60, formats=["xes", "csv"])
    return out


def test_p2p_xes_is_valid_against_the_ieee_schema(p2p: Path) -> None:
    assert not (p2p / ".events.xes.part").exists()
    head = (p2p / "events.xes").read_bytes()[:120]
    assert head.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<log xes.version="1.0" ')
    _validate(p2p / "events.xes")


def test_pm4py_reads_the_same_events_as_the_csv(p2p: Path) -> None:
    csv = pd.read_csv(p2p / "events.csv", keep_default_na=False, na_values=[""])
    cases = pd.read_csv(p2p / "cases.csv")
    df = _read_xes(p2p / "events.xes")
    assert len(df) == len(csv) > 0
    # traces in case-row order, events of a trace in time order
    assert list(dict.fromkeys(df["case:concept:name"])) == list(cases["case_id"])
    assert df.groupby("case:concept:name", sort=False)["time:timestamp"].apply(
        lambda s: s.is_monotonic_increasing).all()
    x = df.set_index("procsim:event_id").loc[csv["event_id"]]
    assert list(x["case:concept:name"]) == list(csv["case_id"])
    assert list(x["concept:name"]) == list(csv["activity"])
    assert list(x["lifecycle:transition"]) == list(csv["lifecycle"])
    assert (x["time:timestamp"].to_numpy() == pd.to_datetime(csv["timestamp"], utc=True).to_numpy()).all()
    assert list(x["org:resource"].fillna("")) == list(csv["resource"].fillna(""))
    assert x["cost:total"].fillna(-1).tolist() == csv["cost"].fillna(-1).tolist()
    # case attributes are trace attributes, typed
    first = df.drop_duplicates("case:concept:name").set_index("case:concept:name").loc[cases["case_id"]]
    for name in ("supplier", "supplier_country", "category", "amount", "net_amount", "urgent", "status"):
        assert list(first[f"case:{name}"]) == list(cases[name]), name
    assert first["case:amount"].dtype == "float64" and first["case:urgent"].dtype == "bool"
    assert "NO" in set(first["case:supplier_country"])  # YAML 1.2 string, not a boolean


def test_same_seed_gives_a_byte_identical_file(p2p: Path, tmp_path: Path) -> None:
    run(REPO / "processes" / "procure_to_pay.yaml", tmp_path, seed=3, cases=60, formats=["xes"])
    assert (tmp_path / "events.xes").read_bytes() == (p2p / "events.xes").read_bytes()


# -- the sink API directly ------------------------------------------------------------------------------

NASTY = 'Müller & Söhne <"GmbH"> \'s\tfirst\nline\x01'
NASTY_READ = 'Müller & Söhne <"GmbH"> \'s\tfirst\nline\ufffd'  # what XML 1.0 can hold of it

# case-level rules/exceptions columns are newer than the event ones; the trace carries them when present
CASE_LABELS = "exceptions" in Recorder(TimeBase(datetime(2026, 1, 1, tzinfo=ZoneInfo("UTC")), ZoneInfo("UTC")),
                                       (), (), print, print).case_schema.names
ATTRS = ("note", "amount", "qty", "vip")
TYPES = ("string", "number", "integer", "bool")


def _tiny(out: Path, *, labels: bool, tz: str = "Europe/Berlin", start: datetime | None = None,
          orphan: bool = False) -> Path:
    """Drive the real Recorder into an XesSink: two cases, one with awkward text, one label, one rule."""
    zone = ZoneInfo(tz)
    tb = TimeBase(start or datetime(2026, 3, 2, 9, tzinfo=zone), zone)
    sinks: list[XesSink] = []
    rec = Recorder(tb, ATTRS, TYPES, lambda b: sinks[0].write_events(b), lambda b: sinks[0].write_cases(b),
                   flush_every=3)
    ctx = SinkContext(out_dir=out, timebase=tb, process_name="Tiny & <small>", attr_names=ATTRS,
                      attr_types=TYPES, labels_in_log=labels,
                      extra={"event_schema": rec.event_schema, "case_schema": rec.case_schema})
    sink = XesSink(ctx)
    sinks.append(sink)
    a = Case(0, "C-1&2", ATTRS, {"note": NASTY, "amount": 12.5, "qty": 3, "vip": True}, 0.0)
    if CASE_LABELS:
        a.raise_exception("duplicate_invoice", "rule dup")
    b = Case(1, "C-2", ATTRS, {"note": None, "amount": float("nan"), "qty": None, "vip": False}, 5.0)
    for c in (a, b):
        rec.open_case(c)
    nasty, check = SimpleNamespace(id="nasty", label=NASTY), SimpleNamespace(id="check", label="Check")  # activities
    rows = [
        EventRow(0.0, 0, nasty, 0, "Jörg \"J\" O'Neil", "clerk", None, "", "", a.snapshot()),
        EventRow(5.0, 1, check, 0, None, None, None, "", "", b.snapshot()),
        EventRow(10.0, 0, nasty, 1, "Jörg \"J\" O'Neil", "clerk", 1.5, "r1 & r2", "", a.snapshot()),
        EventRow(20.0, 1, check, 1, None, None, 0.0, "", "late_delivery <x>", b.snapshot()),
    ]
    for i, row in enumerate(rows):
        rec.add(row)
        if i == 2:
            a.end, a.status, a.cost = 10.0, "completed", 1.5
            rec.close_case(a)
    b.end, b.status = 20.0, "completed"
    if orphan:
        rec.finish([])  # b's row is never handed on: its events must still be written at the end
        sink.close()
        return out / "events.xes"
    rec.close_case(b)
    rec.finish([])
    sink.close()
    return out / "events.xes"


def test_awkward_text_round_trips_and_validates(tmp_path: Path) -> None:
    path = _tiny(tmp_path, labels=True)
    _validate(path)
    (ta, ea), (tb, eb) = _traces(path)
    assert ta == {"concept:name": "C-1&2", "status": "completed", "cost:total": "1.5", "note": NASTY_READ,
                  "amount": "12.5", "qty": "3", "vip": "true"} | (
                      {"exceptions": "duplicate_invoice"} if CASE_LABELS else {})
    assert tb == {"concept:name": "C-2", "status": "completed", "cost:total": "0", "amount": "NaN",
                  "vip": "false"}
    assert ea[0] == {"concept:name": NASTY_READ, "lifecycle:transition": "start",
                     "time:timestamp": "2026-03-02T09:00:00.000+01:00", "org:resource": "Jörg \"J\" O'Neil",
                     "org:role": "clerk", "procsim:event_id": "E1"}
    assert ea[1]["rules"] == "r1 & r2" and ea[1]["cost:total"] == "1.5" and "exception" not in ea[1]
    assert eb[1] == {"concept:name": "Check", "lifecycle:transition": "complete",
                     "time:timestamp": "2026-03-02T09:00:20.000+01:00", "cost:total": "0",
                     "procsim:event_id": "E4", "exception": "late_delivery <x>",
                     "procsim:exception_id": "C-2/late_delivery <x>"}
    log_attrs = {a.get("key"): a.get("value") for a in etree.parse(str(path)).getroot().findall(f"{NS}string")}
    assert log_attrs == {"lifecycle:model": "standard", "concept:name": "Tiny & <small>"}
    df = _read_xes(path)
    assert list(df["concept:name"]) == [NASTY_READ, NASTY_READ, "Check", "Check"]
    assert df["case:note"].iloc[0] == NASTY_READ
    assert "exception" in df.columns


def test_labels_off_leaves_no_exception_key(tmp_path: Path) -> None:
    path = _tiny(tmp_path, labels=False)
    _validate(path)
    assert b"exception" not in path.read_bytes()  # neither the event's nor the case's
    assert "exception" not in _read_xes(path).columns


def test_events_of_a_case_without_case_row_are_written_at_the_end(tmp_path: Path) -> None:
    path = _tiny(tmp_path, labels=True, orphan=True)
    _validate(path)
    traces = _traces(path)
    assert [t[0]["concept:name"] for t in traces] == ["C-1&2", "C-2"]
    assert traces[1][0] == {"concept:name": "C-2"}
    assert [e["procsim:event_id"] for e in traces[1][1]] == ["E2", "E4"]


def test_offsets_with_seconds_are_written_in_utc(tmp_path: Path) -> None:
    # Amsterdam kept local mean time (+00:19:32) until 1937: not an xs:dateTime offset
    start = datetime(1930, 3, 3, 9, tzinfo=ZoneInfo("Europe/Amsterdam"))
    path = _tiny(tmp_path, labels=True, tz="Europe/Amsterdam", start=start)
    _validate(path)
    stamp = _traces(path)[0][1][0]["time:timestamp"]
    assert stamp == "1930-03-03T08:40:28.000+00:00"
    assert datetime.fromisoformat(stamp) == start


def test_escape() -> None:
    assert escape('a&b<c>d"e\'f') == "a&amp;b&lt;c&gt;d&quot;e'f"
    assert escape("x\ty\nz\r\x00\ud800\ufffe") == "x&#9;y&#10;z&#13;\ufffd\ufffd\ufffd"
    assert escape("Grüße") == "Grüße"
