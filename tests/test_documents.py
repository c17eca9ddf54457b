"""Documents: rendering, index, totals, references, dates, exception effects, sandbox, load errors, determinism."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from procsim.documents import check_documents
from procsim.documents.render import Formatter, cents
from procsim.errors import ProcsimError, SpecError
from procsim.run import run
from procsim.sim.build import attribute_types
from procsim.spec import LoadedProcess, load_process

ROOT = Path(__file__).resolve().parents[1]
P2P = ROOT / "processes" / "procure_to_pay.yaml"


def load(path: Path) -> LoadedProcess:
    lp = load_process(path)
    problems = check_documents(lp, attribute_types(lp.spec))
    if problems:
        raise SpecError(problems)
    return lp


def index(out: Path) -> list[dict[str, str]]:
    with (out / "documents" / "index.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def data(out: Path, row: dict[str, str]) -> dict:
    return json.loads((out / "documents" / f"{row['document_id']}.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def p2p_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("p2p")
    run(load(P2P), out, seed=7, cases=150, formats=["csv", "documents"])
    return out


def test_index_and_files(p2p_run: Path) -> None:
    rows = index(p2p_run)
    with (p2p_run / "documents" / "index.csv").open(encoding="utf-8") as f:
        assert f.readline().strip() == "document_id,type,case_id,event_id,path,created_at"
    assert {r["type"] for r in rows} == {"purchase_order", "goods_receipt", "supplier_invoice", "payment_advice"}
    ids = [r["document_id"] for r in rows]
    assert len(ids) == len(set(ids))
    for r in rows:
        assert (p2p_run / r["path"]).is_file()
        assert (p2p_run / "documents" / f"{r['document_id']}.json").is_file()
    files = sorted(p.name for p in (p2p_run / "documents").iterdir())
    assert len(files) == 2 * len(rows) + 1  # data + rendering per document, plus the index
    assert not (p2p_run / ".documents.part").exists()
    manifest = json.loads((p2p_run / "manifest.json").read_text())
    assert "index.csv" in manifest["files"]
    assert Path(rows[0]["path"]).suffix == {"purchase_order": ".html", "goods_receipt": ".html",
                                            "supplier_invoice": ".html", "payment_advice": ".md"}[rows[0]["type"]]


def test_totals_add_up(p2p_run: Path) -> None:
    fmt = Formatter("de_DE")
    orders = [r for r in index(p2p_run) if r["type"] == "purchase_order"]
    assert orders
    for r in orders:
        d = data(p2p_run, r)
        items = d["items"]
        assert items
        for it in items:
            assert Decimal(it["line_total"]) == cents(Decimal(str(it["unit_price"])) * it["quantity"])
        net = sum(Decimal(it["line_total"]) for it in items)
        t = d["totals"]
        assert Decimal(t["net"]) == net == cents(d["fields"]["net_total"])
        # VAT rounded per line (procsim.lineitems): the total is the sum of the printed line taxes
        assert Decimal(t["tax"]) == sum(Decimal(it["line_tax"]) for it in items) == cents(d["fields"]["tax_total"])
        assert Decimal(t["gross"]) == net + Decimal(t["tax"])
        html = (p2p_run / r["path"]).read_text(encoding="utf-8")
        for value in (t["net"], t["tax"], t["gross"]):
            assert fmt.money(Decimal(value), "EUR") in html


def test_references_and_dates(p2p_run: Path) -> None:
    rows = index(p2p_run)
    by_id = {r["document_id"]: r for r in rows}
    with (p2p_run / "events.csv").open(encoding="utf-8", newline="") as f:
        events = {e["event_id"]: e for e in csv.DictReader(f)}
    made_by = {"purchase_order": "Create purchase order", "goods_receipt": "Receive goods",
               "supplier_invoice": "Record invoice", "payment_advice": "Execute payment"}
    for r in rows:
        ev = events[r["event_id"]]
        assert ev["case_id"] == r["case_id"] and ev["lifecycle"] == "complete"
        assert ev["activity"] == made_by[r["type"]]
        assert dt.datetime.fromisoformat(r["created_at"]) >= dt.datetime.fromisoformat(ev["timestamp"])
        d = data(p2p_run, r)
        for ref in d["refs"].values():
            if ref in by_id:
                assert dt.datetime.fromisoformat(by_id[ref]["created_at"]) <= dt.datetime.fromisoformat(
                    r["created_at"])
    invoices = [r for r in rows if r["type"] == "supplier_invoice"]
    assert invoices
    for r in invoices:
        po = data(p2p_run, r)["refs"]["purchase_order"]
        assert po is not None and by_id[po]["case_id"] == r["case_id"]
        assert f"Your order: {po} of " in (p2p_run / r["path"]).read_text(encoding="utf-8")


def test_formatting_per_locale() -> None:
    assert Formatter("de_DE").money(1234567.5) == "1.234.567,50\u00a0€"
    assert Formatter("en_US").money(-1234.565) == "-$1,234.57"
    assert Formatter("en_GB").money(0.5) == "£0.50"
    assert Formatter("en_US").money(10, "EUR") == "€10.00"
    when = dt.datetime(2026, 3, 9, 14, 5)
    assert [Formatter(x).date(when) for x in ("de_DE", "en_US", "en_GB")] == ["09.03.2026", "Mar 9, 2026",
                                                                             "9 Mar 2026"]
    assert Formatter("de_DE").percent(0.19) == "19\u00a0%"


def test_all_examples_render(tmp_path: Path) -> None:
    expect = {"order_to_cash": {"order_confirmation", "delivery_note", "customer_invoice"},
              "loan_application": {"loan_offer", "rejection_letter"}}
    for name, types in expect.items():
        out = tmp_path / name
        run(load(ROOT / "processes" / f"{name}.yaml"), out, seed=3, cases=150, formats=["documents"])
        rows = index(out)
        assert {r["type"] for r in rows} == types
        for r in rows:
            if r["type"] == "rejection_letter":
                assert data(out, r)["fields"]["status"] == "declined"
                assert (out / r["path"]).read_text(encoding="utf-8").startswith("From: ")
            if r["type"] == "customer_invoice":
                d = data(out, r)
                assert d["refs"]["sales_order"] is not None
                assert f"Order: {d['refs']['sales_order']} of" in (out / r["path"]).read_text(encoding="utf-8")


def test_exceptions_alter_documents(tmp_path: Path) -> None:
    out = tmp_path / "x"
    run(load(ROOT / "processes" / "procure_to_pay_exceptions.yaml"), out, seed=11, cases=1500,
        formats=["documents"])
    with (out / "labels.csv").open(encoding="utf-8", newline="") as f:
        labels = {r["case_id"]: r["exceptions"] for r in csv.DictReader(f)}
    rows = index(out)
    per_case: dict[str, dict[str, list[dict]]] = {}
    for r in rows:
        per_case.setdefault(r["case_id"], {}).setdefault(r["type"], []).append(data(out, r))
    # a label is drawn at the case's start; a rejected requisition never gets to an order or invoice
    billed = [c for c in labels if {"supplier_invoice", "purchase_order"} <= per_case.get(c, {}).keys()]
    dup = [c for c in billed if "duplicate_invoice" in labels[c]]
    differs = [c for c in billed if "invoice_amount_differs" in labels[c]]
    assert dup and differs
    for c in dup:
        invoices = per_case[c]["supplier_invoice"]
        assert len(invoices) >= 2 and len({i["document_id"] for i in invoices}) == len(invoices)
    for c in differs:
        inv = per_case[c]["supplier_invoice"][0]["fields"]
        po = per_case[c]["purchase_order"][0]["fields"]
        # the pair is off by 2 % to 20 %, either way
        assert abs(inv["net_amount"] / po["net_total"] - 1) > 0.015
    plain = [c for c in billed if not labels[c]]
    assert plain
    for c in plain:
        assert per_case[c]["supplier_invoice"][0]["fields"]["net_amount"] == \
            per_case[c]["purchase_order"][0]["fields"]["net_total"]


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    def digest(out: Path) -> str:
        h = hashlib.sha256()
        for p in sorted((out / "documents").iterdir()):
            h.update(p.name.encode() + b"\0" + p.read_bytes())
        return h.hexdigest()

    lp = load(P2P)
    run(lp, tmp_path / "a", seed=5, cases=60, formats=["documents"], flush_every=50)
    run(lp, tmp_path / "b", seed=5, cases=60, formats=["documents"])
    run(lp, tmp_path / "c", seed=6, cases=60, formats=["documents"])
    assert digest(tmp_path / "a") == digest(tmp_path / "b") != digest(tmp_path / "c")


# -- load-time checks -------------------------------------------------------------------------------------------

def process_with(tmp_path: Path, template: str, *, obj: str = "purchase_order", extra: str = "") -> Path:
    """A copy of procure_to_pay whose only document uses ``template`` (written next to it)."""
    text = P2P.read_text(encoding="utf-8").split("\ndocuments:")[0]
    (tmp_path / "rules").mkdir(exist_ok=True)
    shutil.copy(ROOT / "rules" / "procure_to_pay.yaml", tmp_path / "rules")  # the process's rules, '../rules'
    (tmp_path / "processes").mkdir(exist_ok=True)
    (tmp_path / "processes" / "t.html.j2").write_text(template, encoding="utf-8")
    p = tmp_path / "processes" / "p.yaml"
    p.write_text(text + f"\ndocuments:\n  doc:\n    object: {obj}\n    template: t.html.j2\n{extra}",
                 encoding="utf-8")
    return p


def load_error(path: Path) -> str:
    with pytest.raises(SpecError) as e:
        load(path)
    return str(e.value)


@pytest.fixture
def tmp_path(tmp_path: Path) -> Path:  # noqa: F811 - the folder every test here may chdir into
    (tmp_path / "processes").mkdir()
    return tmp_path


def test_missing_field_is_a_load_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path / "processes")
    msg = load_error(process_with(tmp_path, "<p>{{ number }}</p>\n<p>{{ suplier }}</p>\n"))
    assert msg == "t.html.j2:2:1: documents.doc: 'suplier' is not a field of purchase_order; did you mean " \
                  "'supplier'? [unknown_field]"
    msg = load_error(process_with(tmp_path, "{% for i in items %}\n{{ i.price }}\n{% endfor %}\n"))
    assert msg.startswith("t.html.j2:2:1: documents.doc: 'dict object' has no attribute 'price' (the fields of "
                          "purchase_order: supplier, supplier_country, buyer, status, currency, payment_terms, "
                          "net_total, tax_total, gross_total) [template_error]")


def test_template_syntax_error_names_file_and_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path / "processes")
    msg = load_error(process_with(tmp_path, "<h1>{{ number }}</h1>\n\n{% for x in items %}\n{{ x.line }\n"))
    assert msg.startswith("t.html.j2:4:1: documents.doc: ")
    assert msg.endswith("[template_syntax]")


def test_unknown_object_and_missing_template(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path / "processes")
    p = process_with(tmp_path, "{{ number }}", obj="purchase_ordr")
    text = p.read_text(encoding="utf-8")
    line = text.splitlines().index("    object: purchase_ordr") + 1
    assert load_error(p) == (f"p.yaml:{line}:13: documents.doc.object: unknown object 'purchase_ordr'; did you "
                             "mean 'purchase_order'? [unknown_object]")
    p.write_text(text.replace("purchase_ordr", "purchase_order").replace("t.html.j2", "nope.html.j2"),
                 encoding="utf-8")
    assert load_error(p) == (f"p.yaml:{line + 1}:15: documents.doc.template: template 'nope.html.j2' not "
                             "found (paths are relative to the process file) [template_not_found]")


@pytest.mark.parametrize("attack", ["{{ ''.__class__ }}", "{{ cycler.__init__.__globals__ }}",
                                    "{{ ''.__class__.__mro__[1].__subclasses__() }}", "{{ 'x' * 10**9 }}",
                                    "{{ items.append(1) }}"])
def test_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, attack: str) -> None:
    monkeypatch.chdir(tmp_path / "processes")
    msg = load_error(process_with(tmp_path, f"<p>{{{{ number }}}}</p>\n{attack}\n"))
    assert msg.startswith("t.html.j2:2:1: documents.doc: ")
    assert "[template_error]" in msg
    assert any(w in msg for w in ("unsafe", "not safely", "over 1,000,000"))


def test_render_error_at_run_time_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path / "processes")
    # the sample payment_terms ('text', 4 characters) renders; the real ones ('net30', 5) divide by zero
    lp = load(process_with(tmp_path, "{{ number }}\n{{ 1 / (payment_terms|length - 5) }}\n"))
    out = tmp_path / "out"
    with pytest.raises(ProcsimError) as e:
        run(lp, out, seed=1, cases=20, formats=["csv", "documents"])
    assert e.value.exit_code == 1
    assert str(e.value).startswith("t.html.j2:2: documents.doc: rendering PO-")
    assert "ZeroDivisionError" in str(e.value)
    assert not (out / "documents").exists() and not (out / ".documents.part").exists()
    assert not (out / "manifest.json").exists()


def test_rerun_replaces_documents(tmp_path: Path) -> None:
    lp = load(P2P)
    out = tmp_path / "o"
    run(lp, out, seed=1, cases=40, formats=["documents"])
    first = len(index(out))
    run(lp, out, seed=1, cases=10, formats=["documents"])
    # the first run's documents are gone: the folder holds the second run's files only
    rows = index(out)
    assert len(rows) < first
    assert {p.name for p in (out / "documents").iterdir()} == (
        {"index.csv"} | {r["path"].removeprefix("documents/") for r in rows} | {r["document_id"] + ".json" for r in rows})
    shutil.rmtree(out)


def test_output_size_and_time_caps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path / "processes")
    big = "{{ number }}\n{% for i in range(99999) %}0123456789abcdef{% endfor %}\n"
    # a cap is about the whole document, not a line: reported at line 1
    assert load_error(process_with(tmp_path, big)) == ("t.html.j2:1:1: documents.doc: output over 1,000,000 "
                                                       "characters [template_error]")
    import importlib

    # the module, not the function of the same name that procsim.documents exports
    monkeypatch.setattr(importlib.import_module("procsim.documents.render"), "MAX_SECONDS", 0.0)
    slow = "{{ number }}\n{% for i in range(1000) %}{{ i }}{% endfor %}\n"
    assert load_error(process_with(tmp_path, slow)).endswith("documents.doc: rendering took over 0 s "
                                                             "[template_error]")


def test_two_documents_of_one_object_type(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path / "processes")
    extra = "  copy:\n    object: purchase_order\n    template: c.md.j2\n"
    p = process_with(tmp_path, "<p>{{ number }}</p>\n", extra=extra)
    (p.parent / "c.md.j2").write_text("# {{ number }} for {{ supplier }}\n", encoding="utf-8")
    out = tmp_path / "out"
    run(load(p), out, seed=2, cases=20, formats=["documents"])
    rows = index(out)
    pos = sorted(r["document_id"] for r in rows if r["type"] == "doc")
    assert pos and sorted(r["document_id"] for r in rows if r["type"] == "copy") == [f"{x[:-4]}-copy" for x in pos]
    assert pos[0].endswith("-doc")
    first = next(r for r in rows if r["type"] == "copy")
    assert first["path"] == f"documents/{first['document_id']}.md"
    assert (out / first["path"]).read_text(encoding="utf-8").startswith(f"# {first['document_id'][:-5]} for ")


def test_when_and_tax_rate_name_object_fields(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path / "processes")
    p = process_with(tmp_path, "{{ number }}\n", extra="    when: {stauts: sent}\n    tax_rate: tax_totl\n")
    lines = p.read_text(encoding="utf-8").splitlines()
    w, t = lines.index("    when: {stauts: sent}") + 1, lines.index("    tax_rate: tax_totl") + 1
    assert load_error(p) == (
        f"p.yaml:{w}:12: documents.doc.when.stauts: 'stauts' is not a field of purchase_order; did you mean "
        f"'status'? [unknown_field]\n"
        f"p.yaml:{t}:15: documents.doc.tax_rate: 'tax_totl' is not a field of purchase_order; did you mean "
        f"'tax_total'? [unknown_field]")


def test_benchmark_runs() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("_bench_documents", ROOT / "benchmarks" / "bench_documents.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    docs, sink_s, render_s, run_s = mod.bench("procure_to_pay", 30, 1)
    # figures only: how long things took is measured by the benchmark, never asserted by a test
    assert docs > 0 and all(isinstance(x, float) and x > 0 for x in (render_s, sink_s, run_s))
