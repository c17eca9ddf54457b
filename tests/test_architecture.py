"""The layers of the package, enforced on the import graph (imports inside functions included).

The layer list is the one in docs/architecture.md: a module may import modules of its own layer or of the layers
below it, never one above it, and no two modules may import each other, directly or through others.
Imports under ``if TYPE_CHECKING:`` are left out: they only name types for annotations and never run.
"""

from __future__ import annotations

import grimp
import networkx as nx
import pytest

# Bottom first. A module belongs to the layer of the longest entry it equals or lies under; an entry for a
# package's ``__init__`` alone is written with a trailing '='.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("foundations", ("procsim.errors", "procsim.limits", "procsim.version", "procsim.registry", "procsim.spec.units",
                     "procsim.timebase", "procsim.sim.streams", "procsim.rows")),
    ("distributions", ("procsim.distributions",)),
    ("exception catalogue", ("procsim.exceptions", "procsim.drift", "procsim.recording")),
    ("spec", ("procsim.spec.base", "procsim.spec.loader", "procsim.spec.loaded", "procsim.spec.models", "procsim.spec.schema",
              "procsim.spec.paths", "procsim.spec.people", "procsim.spec.limits")),
    ("graph", ("procsim.graph",)),
    ("rules", ("procsim.rules",)),
    ("records and objects", ("procsim.records", "procsim.objects", "procsim.lineitems", "procsim.masterdata",
                             "procsim.schemes")),
    ("sim", ("procsim.sim",)),
    ("documents", ("procsim.documents",)),
    ("load", ("procsim.spec=", "procsim.spec.checks", "procsim.spec.subprocesses")),
    ("outputs", ("procsim.sinks", "procsim.writer", "procsim.pnml", "procsim.export", "procsim.explain",
                 "procsim.outdir", "procsim.targets")),
    # reading logs back (any log, not only ours): profile, report and the SVG drawing they share
    ("log analysis", ("procsim.eventlog", "procsim.profile", "procsim.layout", "procsim.charts", "procsim.graph_svg",
                      "procsim.report", "procsim.profile_cli", "procsim.distances", "procsim.compare",
                      "procsim.mining", "procsim.bpmn")),
    ("run", ("procsim=", "procsim.run", "procsim.init", "procsim.plugins", "procsim.shards")),
    # from a log back to a process: discover writes a process file and loads it, fidelity runs it
    ("grounding", ("procsim.discover", "procsim.fidelity", "procsim.convert")),
    ("cli", ("procsim.cli", "procsim.__main__", "procsim.cli_grounding")),
]


def layer_of(module: str) -> int:
    best, rank = -1, -1
    for i, (_, entries) in enumerate(LAYERS):
        for e in entries:
            if e.endswith("="):
                hit, size = module == e[:-1], len(e)
            else:
                hit, size = module == e or module.startswith(e + "."), len(e)
            if hit and size > best:
                best, rank = size, i
    return rank


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("procsim", cache_dir=None, exclude_type_checking_imports=True)


def _edges(graph: grimp.ImportGraph) -> list[tuple[str, str]]:
    return [(m, t) for m in sorted(graph.modules) for t in sorted(graph.find_modules_directly_imported_by(m))]


def test_every_module_has_a_layer(graph):
    assert sorted(m for m in graph.modules if layer_of(m) < 0) == []


def test_no_module_imports_a_layer_above_it(graph):
    bad = []
    for m, t in _edges(graph):
        if layer_of(t) > layer_of(m):
            for d in graph.get_import_details(importer=m, imported=t):
                bad.append(f"{m}:{d['line_number']} ({LAYERS[layer_of(m)][0]}) imports {t} "
                           f"({LAYERS[layer_of(t)][0]}): {d['line_contents']}")
    assert not bad, "\n" + "\n".join(bad)


def test_no_import_cycles(graph):
    g = nx.DiGraph(_edges(graph))
    cycles = sorted(sorted(c) for c in nx.strongly_connected_components(g) if len(c) > 1)
    assert not cycles, "\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_layer_check_catches_an_upward_import():
    # the check itself must be able to fail: a spec module importing the simulator is refused
    assert layer_of("procsim.spec.models") < layer_of("procsim.sim.engine")
    assert layer_of("procsim.spec") > layer_of("procsim.sim.build")  # the loader runs every stage's checks
    assert layer_of("procsim.spec.units") == 0
    assert layer_of("procsim.sinks.csv") == layer_of("procsim.sinks")
    assert layer_of("procsim") > layer_of("procsim.sinks")


def test_loading_a_spec_does_not_load_the_simulator():
    # checked in a fresh interpreter: the test session has imported everything already
    import subprocess
    import sys

    code = ("import sys, procsim.spec.models, procsim.graph, procsim.rules.engine; "
            "print(sorted(m for m in sys.modules if m.startswith(('procsim.sim.engine', 'procsim.sim.build', "
            "'simpy', 'procsim.records', 'procsim.documents'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _sources_with(text: str) -> list[str]:
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "procsim"
    return sorted(str(p.relative_to(root.parent)) for p in root.rglob("*.py") if text in p.read_text("utf-8"))


def test_one_did_you_mean_one_strict_base_one_expression_helper():
    assert _sources_with("get_close_matches") == ["procsim/errors.py"]
    assert _sources_with("class Strict(") == ["procsim/spec/base.py"]
    assert _sources_with("offset=e.offset)") == ["procsim/rules/expr.py"]


def test_suggest():
    from procsim.errors import suggest

    assert suggest("duraton", ["role", "duration", "next"]) == "; did you mean 'duration'?"
    # the answer does not depend on the order of the options: ties go by the text
    assert suggest("abc", ["abx", "aby"]) == suggest("abc", ["aby", "abx"]) == "; did you mean 'aby'?"
    assert suggest("zzz", ["duration"]) == ""
    assert suggest("zzz", ["duration"], " (one of: duration)") == " (one of: duration)"


def test_the_public_api():
    # what `import procsim` promises: every name in __all__ is there (the heavy ones load on first use)
    import procsim

    assert sorted(procsim.__all__) == ["ProcsimError", "SpecError", "__version__", "load_process", "run"]
    from procsim.spec import load_process
    from procsim.version import __version__

    assert procsim.load_process is load_process and procsim.__version__ == __version__
    # not checked: `procsim.run` is the function only until the submodule procsim.run is imported; then Python
    # binds the module to that name (a known defect: the module or the function needs another name)
