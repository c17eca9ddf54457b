"""procsim.report, procsim.layout and procsim.graph_svg: the HTML page holds what the log says, is
self-contained, and ``procsim report`` / ``run --report`` / ``graph -o x.svg`` work through the real entry point.
(The page in a real browser: tests/test_report_browser.py.)"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest

from conftest import MINI, REPO
from procsim.eventlog import read_log
from procsim.layout import NODE_H, NODE_W, Edge, Node, layout, to_svg
from procsim.report import END, START, build_report, dfg, load_extras
from test_profile import make_log


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "procsim", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300, check=False)


@pytest.fixture(scope="module")
def p2p(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from procsim.run import run

    out = tmp_path_factory.mktemp("p2p")
    run(REPO / "processes" / "procure_to_pay_exceptions.yaml", out, seed=3, cases=300, formats=("csv", "documents"))
    return out


def _attr_map(html: str, cls: str, attr: str) -> dict[str, str]:
    return dict(re.findall(rf'<g class="{cls}"[^>]*data-id="([^"]*)"[^>]*{attr}="([^"]*)"', html))


def test_dfg_counts_equal_pandas() -> None:
    rows = [("c1", "A", 0, 1, "x"), ("c1", "B", 2, 4, "y"), ("c1", "B", 5, 6, "y"),
            ("c2", "A", 0, 3, "x"), ("c2", "C", 3, 3, None)]
    nodes, edges = dfg(make_log(rows))
    assert nodes["count"].to_dict() == {"A": 2, "B": 2, "C": 1}
    assert nodes.loc["B", "proc_h"] == pytest.approx(1.5 / 60)  # B took 2 and 1 minutes
    assert nodes.loc["B", "wait_h"] == pytest.approx(1 / 60)  # waited 1 min after A and 1 min after B
    got = {(r.src, r.dst): r.count for r in edges.itertuples()}
    assert got == {(START, "A"): 2, ("A", "B"): 1, ("B", "B"): 1, ("A", "C"): 1, ("B", END): 1, ("C", END): 1}


def test_report_is_self_contained_and_shows_the_logs_numbers(p2p: Path) -> None:
    log = read_log(p2p)
    html = build_report(log, load_extras(p2p))
    assert "<script" not in html.lower()
    assert not re.search(r'(src|href)="(https?:)?//', html), "no network reference"
    assert "default-src 'none'" in html  # and the browser is told so
    counts = dict(re.findall(r'<g class="node box" data-id="([^"]*)" data-count="(\d+)"', html))
    assert {k: int(v) for k, v in counts.items()} == log.df["activity"].value_counts().to_dict()
    week = re.search(r'data-chart="arrivals-week".*?</svg>', html, re.S)
    assert week is not None
    assert sum(float(v) for v in re.findall(r'data-value="([^"]+)"', week.group(0))) == log.df["case_id"].nunique()
    labels = pd.read_csv(p2p / "labels.csv", keep_default_na=False)
    n_exc = int((labels["is_exception"].astype(str).str.lower() == "true").sum())
    assert f"{n_exc:,} of 300 cases" in html
    for section in ("map", "time", "people", "variants", "exceptions", "profile", "documents", "facts"):
        assert f'<section id="{section}">' in html
    assert 'data-chart="documents"' in html and "<iframe sandbox=" in html
    assert 'data-chart="role-workload"' in html  # roles read from events.csv


def test_two_logs_side_by_side_with_distances(p2p: Path) -> None:
    a = read_log(p2p)
    b = make_log([("c1", "A", 0, 1, "x"), ("c1", "B", 2, 4, "y"), ("c2", "A", 0, 3, "x")])
    html = build_report([a, b], [load_extras(p2p), None], names=["sim", "tiny"], distances={"emd": 0.25})
    assert html.count('class="graph processmap"') == 2
    assert 'class="which">sim<' in html and 'class="which">tiny<' in html
    assert re.search(r'data-key="cases" data-log="1" data-value="2.0"', html)
    assert "<td>emd</td><td>0.25</td>" in html


def test_drift_and_window_are_marked(tmp_path: Path) -> None:
    """A real run with a drift section and an extraction window: the report marks both where they are."""
    from procsim.init import init_project
    from procsim.run import run

    init_project("p2p", tmp_path / "proj")
    path = tmp_path / "proj" / "processes" / "procure_to_pay.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count("\ndrift:\n") == 1  # the example has its own drift (in 2027): ours goes first, in the window
    path.write_text(text.replace("\ndrift:\n", "\ndrift:\n  - {name: faster_approval, type: sudden, "
                                 "start: 2026-02-02, changes: [{activity: approve_requisition, scale: 0.5}]}\n"),
                    encoding="utf-8")
    run_dir = tmp_path / "run"
    run(path, run_dir, seed=3, window="2026-01-12..2026-03-01")
    drift = pd.read_csv(run_dir / "drift.csv", dtype=str, keep_default_na=False)
    row = drift.iloc[0]
    label = " ".join(str(row[c]) for c in ("type", "target", "change") if str(row[c]))
    html = build_report(read_log(run_dir), load_extras(run_dir))
    assert html.count(f'data-marker="drift {label}"') >= 4  # a line on each time chart
    assert 'class="band"' in html and 'data-marker="window"' in html


def test_cli_report_writes_and_prints_the_path(p2p: Path) -> None:
    done = cli("report", str(p2p))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(p2p / "report.html")
    assert (p2p / "report.html").read_text().startswith("<!DOCTYPE html>")


def test_cli_report_bad_folder_exits_2(tmp_path: Path) -> None:
    done = cli("report", str(tmp_path / "nope"))
    assert done.returncode == 2
    assert done.stderr.startswith(f"{tmp_path / 'nope'}: no such file or folder")
    done = cli("report", str(tmp_path))
    assert done.returncode == 2 and "no events.parquet or events.csv" in done.stderr
    assert "Traceback" not in done.stderr


def test_run_with_report(write_process, tmp_path: Path) -> None:
    write_process(MINI)
    done = cli("run", "p.yaml", "--cases", "30", "--out", "o", "--report", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(Path("o") / "report.html")
    html = (tmp_path / "o" / "report.html").read_text()
    assert 'data-count="30"' in html  # the start node: 30 cases
    assert "the model's own graph" in html  # p.yaml is where the manifest says
    assert json.loads((tmp_path / "o" / "manifest.json").read_text())["report"] == "report.html"
    # a later run into the folder without --report: the older page described the older log, so it goes
    again = cli("run", "p.yaml", "--cases", "20", "--out", "o", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert not (tmp_path / "o" / "report.html").exists()
    assert "report" not in json.loads((tmp_path / "o" / "manifest.json").read_text())
    # a page the user put there themselves is theirs: never removed
    (tmp_path / "o" / "report.html").write_text("mine", encoding="utf-8")
    third = cli("run", "p.yaml", "--cases", "20", "--out", "o", cwd=tmp_path)
    assert third.returncode == 0, third.stderr
    assert (tmp_path / "o" / "report.html").read_text(encoding="utf-8") == "mine"


def test_layout_is_layered_deterministic_and_overlap_free() -> None:
    nodes = [Node(x, x) for x in "SABCDE"]
    edges = [Edge("S", "A"), Edge("A", "B"), Edge("A", "C"), Edge("B", "D"), Edge("C", "D"), Edge("D", "A"),
             Edge("D", "E"), Edge("B", "B")]
    lay = layout(nodes, edges)
    xs = {k: v[0] for k, v in lay.pos.items()}
    assert xs["S"] < xs["A"] < xs["B"] == xs["C"] < xs["D"] < xs["E"]
    assert ("D", "A") in lay.back
    boxes = list(lay.pos.values())
    for i, (x1, y1) in enumerate(boxes):
        for x2, y2 in boxes[i + 1:]:
            assert abs(x1 - x2) >= NODE_W or abs(y1 - y2) >= NODE_H
    assert to_svg(nodes, edges) == to_svg(nodes, edges)
    ET.fromstring(to_svg(nodes, edges))  # well-formed XML


def test_graph_svg_without_graphviz_has_every_node(write_process, tmp_path: Path) -> None:
    write_process(MINI)
    done = cli("graph", "p.yaml", "-o", "p.svg", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    root = ET.fromstring((tmp_path / "p.svg").read_text())
    ids = {g.get("data-id") for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("data-id")}
    from procsim.spec import load_process

    assert ids == set(load_process(tmp_path / "p.yaml").graph.nodes)


RECEIPT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "logs" / "receipt.xes.gz"


@pytest.mark.skipif(not RECEIPT.is_file(), reason="../shared/data/logs/receipt.xes.gz is not there")
def test_cli_report_of_a_real_log_file(tmp_path: Path) -> None:
    done = cli("report", str(RECEIPT), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "receipt.xes.gz.report.html"
    html = (tmp_path / "receipt.xes.gz.report.html").read_text()
    log = read_log(RECEIPT)
    counts = dict(re.findall(r'<g class="node box" data-id="([^"]*)" data-count="(\d+)"', html))
    assert {k: int(v) for k, v in counts.items()} == log.df["activity"].value_counts().to_dict()
    assert "No start times in this log" in html  # receipt records completions only
    assert "No labels.csv or exceptions.csv" in html


def test_report_is_deterministic(p2p: Path) -> None:
    log, extras = read_log(p2p), load_extras(p2p)
    assert build_report(log, extras) == build_report(log, extras)


def test_report_never_writes_through_a_planted_link(p2p: Path, tmp_path: Path) -> None:
    """The page's temporary is exclusive and unique (issue #11): a link planted at the old fixed name is left alone."""
    import shutil

    from procsim.report import write_report

    run_dir = tmp_path / "run"
    shutil.copytree(p2p, run_dir)
    victim = tmp_path / "victim.txt"
    victim.write_text("mine")
    (run_dir / ".report.html.part").symlink_to(victim)
    out = write_report(run_dir)
    assert victim.read_text() == "mine"
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in run_dir.glob(".report.html.*.part")] == []


def test_exceptions_show_category_severity_impact_and_near_misses(tmp_path: Path) -> None:
    # the bundled procure_to_pay declares near misses; exceptions.csv feeds both tables
    from procsim.run import run

    out = tmp_path / "p2p"
    run(REPO / "processes" / "procure_to_pay.yaml", out, seed=3, cases=1500, formats=("csv",))
    html = build_report(read_log(out), load_extras(out))
    exc = pd.read_csv(out / "exceptions.csv", keep_default_na=False)
    real, near = exc[exc.is_exception], exc[~exc.is_exception]
    assert len(real) and len(near)
    table = re.search(r'<table class="exc">.*?</table>', html, re.S)
    assert table is not None
    assert "<th>category</th><th>severity</th><th>difficulty</th><th>monetary impact</th>" in table.group(0)
    first = real.iloc[0]
    assert (f"<td>{first['name']}</td><td>{(real.name == first['name']).sum():,}</td><td>{first['type']}</td>"
            f"<td>{first.category}</td><td>{first.severity}</td><td>{first.difficulty}</td>") in table.group(0)
    cat = re.search(r'<table class="exc-cat">.*?</table>', html, re.S)
    assert cat is not None
    for (c, sv), n in real.groupby(["category", "severity"]).size().items():
        assert f"<td>{c}</td><td>{sv}</td><td>{n:,}</td>" in cat.group(0)
    assert '<h3 id="near-misses">Near misses</h3>' in html
    chart = re.search(r'data-chart="near-misses".*?</svg>', html, re.S)
    assert chart is not None
    assert sum(float(v) for v in re.findall(r'data-value="([^"]+)"', chart.group(0))) == len(near)
    nm = re.search(r'<table class="near">.*?</table>', html, re.S)
    assert nm is not None
    for name, n in near.groupby("name").size().items():
        assert f"<td>{name}</td><td>{n:,}</td>" in nm.group(0)
    assert f"{near.case_ids.str.split(';').str[0].nunique():,} cases are near misses" in html
