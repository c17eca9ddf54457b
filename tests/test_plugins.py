"""Extension points of one shape (procsim.registry): third-party packages add their own through entry points.

A real package (tests/plugin_pkg/acme_procsim) is made installed the way pip installs one: a dist-info folder
with ``entry_points.txt`` on the path. procsim then runs in a fresh interpreter, so the registries of this test
process stay as built.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import REPO
from procsim.plugins import load_registries, render_markdown
from procsim.registry import PluginError, Registry

PLUGIN_SRC = REPO / "tests" / "plugin_pkg"

ENTRY_POINTS = """\
[procsim.distributions]
acme_twice = acme_procsim.dists:Twice

[procsim.functions]
acme_triple = acme_procsim.functions:acme_triple

[procsim.rule_actions]
acme_tag = acme_procsim.actions:Tag

[procsim.sinks]
acme-count = acme_procsim.sinks:CountSink
"""


def install(tmp: Path, entry_points: str) -> dict[str, str]:
    """A site folder holding the package and its dist-info, as pip would leave them; the env to run with it."""
    site = tmp / "site"
    (site / "acme_procsim-1.0.dist-info").mkdir(parents=True)
    (site / "acme_procsim-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-procsim\n"
                                                                  "Version: 1.0\n", encoding="utf-8")
    (site / "acme_procsim-1.0.dist-info" / "entry_points.txt").write_text(entry_points, encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(PLUGIN_SRC)]))
    return env


def procsim(env: dict[str, str], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "procsim", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=300)


def test_every_extension_says_what_it_is() -> None:
    regs, _ = load_registries()
    assert {r.group for r in regs} >= {"procsim.distributions", "procsim.exceptions", "procsim.near_misses",
                                       "procsim.rule_actions",
                                       "procsim.functions", "procsim.sinks", "procsim.targets"}
    empty = [f"{r.group}:{e.name}" for r in regs for e in r.entries() if not e.summary]
    assert empty == []


def test_docs_tables_are_generated_from_the_registries() -> None:
    text = (REPO / "docs" / "extending.md").read_text(encoding="utf-8")
    m = re.search(r"<!-- generated: procsim plugins -->\n(.*)<!-- end generated -->", text, re.S)
    assert m, "docs/extending.md lost its generated section"
    regs, _ = load_registries()
    assert m.group(1).strip() == render_markdown(regs).strip(), \
        "docs/extending.md is stale: regenerate it with python -m procsim.plugins --markdown"


def test_registry_refuses_a_name_twice_and_suggests_on_lookup() -> None:
    r: Registry[int] = Registry("widget", "procsim.test_widgets", "Widgets")
    r.add("gizmo", 1)
    with pytest.raises(TypeError, match="widget 'gizmo' is defined twice"):
        r.add("gizmo", 2)
    with pytest.raises(KeyError, match="did you mean 'gizmo'"):
        r.lookup("gizmoo")


def test_third_party_extensions_load_from_entry_points_and_run(tmp_path: Path) -> None:
    env = install(tmp_path, ENTRY_POINTS)
    listed = procsim(env, "plugins", "--json")
    assert listed.returncode == 0, listed.stderr
    regs = json.loads(listed.stdout)["registries"]
    origin = {(g, e["name"]): e["origin"] for g, entries in regs.items() for e in entries}
    assert origin[("procsim.distributions", "acme_twice")] == "acme-procsim"
    assert origin[("procsim.functions", "acme_triple")] == "acme-procsim"
    assert origin[("procsim.rule_actions", "acme_tag")] == "acme-procsim"
    assert origin[("procsim.sinks", "acme-count")] == "acme-procsim"
    assert origin[("procsim.distributions", "fixed")] == "procsim"
    # run --help lists the formats from the registry, so the installed one is there with its docstring's summary
    helped = procsim({**env, "COLUMNS": "300"}, "run", "--help")
    assert helped.returncode == 0, helped.stderr
    helptext = " ".join(helped.stdout.replace("│", " ").split())
    doc = (Path(__file__).parent / "plugin_pkg" / "acme_procsim" / "sinks.py").read_text(encoding="utf-8")
    said = re.search(r'class CountSink.*?"""(.*?)"""', doc, re.S)
    assert said is not None
    assert f"acme-count: {' '.join(said.group(1).split()).replace('``', '').rstrip('.')}" in helptext, helptext

    proj = tmp_path / "proj"
    (proj / "rules").mkdir(parents=True)
    (proj / "p.yaml").write_text(textwrap.dedent("""\
        process: {name: Acme, timezone: Europe/Berlin, start: 2026-03-02T08:00:00+01:00}
        roles:
          clerk: {members: 2}
        arrivals:
          interarrival: {kind: exponential, mean: 20m}
        attributes:
          amount: {distribution: {kind: uniform, low: 10, high: 1000}, round: 2}
          tripled: {distribution: {kind: fixed, value: 0}}
          tag: {choice: {none: 1.0}}
        events:
          start: {type: start, next: register}
          done: {type: end}
        activities:
          register: {role: clerk, duration: {kind: acme_twice, value: 10m}, next: done}
        rules: [rules/r.yaml]
        """), encoding="utf-8")
    (proj / "rules" / "r.yaml").write_text(textwrap.dedent("""\
        rules:
          - id: triple
            set: {tripled: "acme_triple(amount)"}
          - id: tag
            acme_tag: {attribute: tag, value: acme}
        """), encoding="utf-8")
    run = procsim(env, "run", str(proj / "p.yaml"), "--cases", "20", "--seed", "3", "--out", str(tmp_path / "out"),
                  "--format", "csv,acme-count", "-q")
    assert run.returncode == 0, run.stderr
    import pandas as pd

    cases = pd.read_csv(tmp_path / "out" / "cases.csv")
    assert ((cases["tripled"] - 3 * cases["amount"]).abs() < 1e-6).all()
    assert set(cases["tag"]) == {"acme"}
    events = pd.read_csv(tmp_path / "out" / "events.csv")
    assert int((tmp_path / "out" / "count.txt").read_text()) == len(events)
    done = events[events["lifecycle"] == "complete"].set_index("case_id")["timestamp"]
    began = events[events["lifecycle"] == "start"].set_index("case_id")["timestamp"]
    took = (pd.to_datetime(done, utc=True) - pd.to_datetime(began, utc=True)).dt.total_seconds()
    assert (took >= 1200).all(), "acme_twice draws twice its value: 20 minutes of work at least"

    # the action's value is checked with its own model, at file:line:col
    (proj / "rules" / "r.yaml").write_text("rules:\n  - id: tag\n    acme_tag: {attribute: tag, colour: red}\n",
                                           encoding="utf-8")
    bad = procsim(env, "validate", str(proj / "p.yaml"))
    assert bad.returncode == 2
    assert re.search(r"r\.yaml:3:\d+: .*colour", bad.stderr + bad.stdout), bad.stderr + bad.stdout
    assert "Traceback" not in bad.stderr


@pytest.mark.parametrize(("entry", "says"), [
    ("[procsim.distributions]\nacme_other = acme_procsim.dists:Twice\n", "did not register a distribution kind named 'acme_other'"),
    ("[procsim.functions]\nabs = acme_procsim.functions:acme_triple\n", "function 'abs' is already defined by procsim"),
    ("[procsim.sinks]\nacme-count = acme_procsim.missing:CountSink\n", "cannot be loaded: ModuleNotFoundError"),
])
def test_a_broken_plugin_is_named_without_a_traceback(tmp_path: Path, entry: str, says: str) -> None:
    env = install(tmp_path, entry)
    r = procsim(env, "plugins")
    assert r.returncode == 1
    assert says in r.stderr and "acme-procsim" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_plugin_error_is_an_import_error() -> None:
    assert issubclass(PluginError, ImportError)
