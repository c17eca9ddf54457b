"""The report of each bundled example in a real browser (Debian's headless Chromium, over the DevTools protocol):
no console errors, the process map and every chart rendered at their size and drew something, the
frequency/time toggle switches, and the numbers the page shows equal those pandas computes from the log."""

from __future__ import annotations

import base64
from pathlib import Path

import pandas as pd
import pytest

from cdp import Browser, chromium, png_pixels
from conftest import REPO

pytestmark = pytest.mark.skipif(
    chromium() is None, reason="Debian's chromium is not installed (apt-get install chromium; .ci/run installs it "
                               "where apt is available)")

EXAMPLES = sorted(p.stem for p in (REPO / "processes").glob("*.yaml"))


@pytest.fixture(scope="module")
def browser() -> Browser:
    with Browser() as b:
        yield b  # type: ignore[misc]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from procsim.report import write_report
    from procsim.run import run

    out = {}
    for name in EXAMPLES:
        d = tmp_path_factory.mktemp(name)
        run(REPO / "processes" / f"{name}.yaml", d, seed=7, cases=200, formats=("csv", "documents"))
        write_report(d)
        out[name] = d
    return out


def _visible_nonblank(png: bytes) -> float:
    """Share of pixels that differ from the most common colour (the background)."""
    width, _, rows = png_pixels(png)
    bpp = len(rows[0]) // width
    counts: dict[bytes, int] = {}
    total = 0
    for r in rows:
        for i in range(0, len(r), bpp):
            px = r[i:i + 3]
            counts[px] = counts.get(px, 0) + 1
            total += 1
    return 1 - max(counts.values()) / total


def test_console_errors_are_caught(browser: Browser, tmp_path: Path) -> None:
    """The check below can fail: a page that breaks its own content policy shows up as a console error."""
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'\">"
                   "<img src=\"https://example.invalid/x.png\"><p>x</p>")
    browser.console.clear()
    browser.open(bad.as_uri())
    browser.evaluate("new Promise(r => setTimeout(r, 200))")
    assert any(c["level"] == "error" for c in browser.console)
    empty = browser.call("Page.captureScreenshot", format="png",
                         clip={"x": 0, "y": 300, "width": 400, "height": 200, "scale": 0.5})["data"]
    assert _visible_nonblank(base64.b64decode(empty)) == 0  # and the pixel check below sees a blank box as blank


@pytest.mark.parametrize("name", EXAMPLES)
def test_report_renders_without_errors_and_shows_the_logs_numbers(name: str, browser: Browser,
                                                                   runs: dict[str, Path]) -> None:
    from procsim.eventlog import read_log
    from procsim.profile import profile

    run_dir = runs[name]
    browser.console.clear()
    browser.open((run_dir / "report.html").as_uri())
    browser.evaluate("new Promise(r => setTimeout(r, 200))")
    assert [c for c in browser.console if c["level"] in ("error", "warning")] == []

    charts = browser.evaluate("""[...document.querySelectorAll('svg.chart, svg.processmap')].map(s => {
        const r = s.getBoundingClientRect();
        return {name: s.dataset.chart || 'processmap', w: r.width, h: r.height, x: r.x, y: r.y + scrollY,
                aw: +s.getAttribute('width'), ah: +s.getAttribute('height'),
                marks: s.querySelectorAll('rect.bar, polyline, g.box, g.node, g.edge').length};
    })""")
    names = {c["name"] for c in charts}
    assert {"processmap", "arrivals-day", "arrivals-week", "wip", "cycle-week", "workload", "utilisation",
            "spread", "variants"} <= names
    for c in charts:
        assert c["marks"] > 0, c
        if c["name"] == "processmap":  # drawn at its own size inside a scrolling box
            assert (c["w"], c["h"]) == (c["aw"], c["ah"]), c
        else:  # charts may shrink to the column, never grow or vanish
            assert 0.5 * c["aw"] <= c["w"] <= c["aw"] + 0.5 and c["h"] > 0, c
    # pixels: every chart drew something, not a blank box (screenshot clipped to the chart, half scale)
    for c in charts:
        if c["name"] == "processmap" or c["name"] in ("arrivals-day", "workload", "variants"):
            w, h = min(c["w"], 1300), min(c["h"], 600)
            png = browser.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                               clip={"x": c["x"], "y": c["y"], "width": w, "height": h, "scale": 0.5})["data"]
            assert _visible_nonblank(base64.b64decode(png)) > 0.01, c["name"]

    log = read_log(run_dir)
    df = log.df
    shown = browser.evaluate("""Object.fromEntries([...document.querySelectorAll('svg.processmap g.node.box')]
        .map(g => [g.dataset.id, [+g.dataset.count, g.querySelector('.view-freq').textContent]]))""")
    want = df["activity"].value_counts()
    assert {k: v[0] for k, v in shown.items()} == want.to_dict()
    assert all(text == f"{want[k]:,}" for k, (_, text) in shown.items())
    week = browser.evaluate("[...document.querySelectorAll('svg[data-chart=\"arrivals-week\"] rect.bar')]"
                            ".reduce((s, r) => s + +r.dataset.value, 0)")
    assert week == df["case_id"].nunique()
    starts = df["start_time"].fillna(df["end_time"]).groupby(df["case_id"]).min()
    per_day = starts.dt.tz_convert("UTC").dt.strftime("%Y-%m-%d").value_counts()
    days = browser.evaluate("Object.fromEntries([...document.querySelectorAll('svg[data-chart=\"arrivals-day\"] "
                            "rect.bar')].map(r => [r.dataset.label, +r.dataset.value]).filter(x => x[1] > 0))")
    assert days == per_day.to_dict()
    workload = browser.evaluate("Object.fromEntries([...document.querySelectorAll('svg[data-chart=\"workload\"] "
                                "rect.bar')].map(r => [r.dataset.label, +r.dataset.value]))")
    counts = df["resource"].value_counts()
    assert workload == {k: counts[k] for k in workload} and len(workload) == min(30, len(counts))
    assert min(workload.values()) >= counts.iloc[min(30, len(counts)) - 1]
    top = pd.Series(df.groupby("case_id")["activity"].agg("→".join)).value_counts(normalize=True)
    shares = browser.evaluate("[...document.querySelectorAll('svg[data-chart=\"variants\"] rect.bar')]"
                              ".map(r => +r.dataset.value)")
    assert shares == pytest.approx(sorted(top.to_numpy(), reverse=True)[:10])
    cells = browser.evaluate("Object.fromEntries([...document.querySelectorAll('td[data-key]')]"
                             ".map(td => [td.dataset.key, td.dataset.value]))")
    for k, v in profile(log).items():
        assert (cells[k] == "nan") if v != v else float(cells[k]) == pytest.approx(v), k


def test_frequency_time_toggle(browser: Browser, runs: dict[str, Path]) -> None:
    browser.open((runs["procure_to_pay"] / "report.html").as_uri())
    shown = ("(cls) => [...document.querySelectorAll('svg.processmap ' + cls)]"
             ".filter(e => getComputedStyle(e).display !== 'none').length")
    assert browser.evaluate(f"({shown})('.view-freq')") > 0
    assert browser.evaluate(f"({shown})('.view-time')") == 0
    browser.evaluate("document.querySelector('label[for=\"time-l0\"]').click()")
    assert browser.evaluate(f"({shown})('.view-freq')") == 0
    assert browser.evaluate(f"({shown})('.view-time')") > 0


def test_dark_mode_and_print(browser: Browser, runs: dict[str, Path]) -> None:
    browser.open((runs["order_to_cash"] / "report.html").as_uri())
    bg = "getComputedStyle(document.body).backgroundColor"
    browser.call("Emulation.setEmulatedMedia", features=[{"name": "prefers-color-scheme", "value": "dark"}])
    dark = browser.evaluate(bg)
    browser.call("Emulation.setEmulatedMedia", features=[{"name": "prefers-color-scheme", "value": "light"}])
    light = browser.evaluate(bg)
    assert (light, dark) == ("rgb(255, 255, 255)", "rgb(20, 23, 28)")
    browser.call("Emulation.setEmulatedMedia", media="print",
                 features=[{"name": "prefers-color-scheme", "value": "dark"}])
    assert browser.evaluate(bg) == "rgb(255, 255, 255)"  # prints on white whatever the screen's setting
    assert browser.evaluate("getComputedStyle(document.querySelector('nav')).display") == "none"
    pdf = browser.call("Page.printToPDF")["data"]
    assert len(pdf) > 1000
    browser.call("Emulation.setEmulatedMedia", media="", features=[])
