"""Packaging: the version, the wheel carries the examples, `procsim init`, version bounds and pins, SimPy's
internals that procsim.sim.kernel relies on."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile

import pytest
import simpy
from packaging.requirements import Requirement
from typer.testing import CliRunner

from conftest import REPO
from pinned import pinned
from procsim.cli import app
from procsim.version import OUTPUT_PACKAGES, __version__, output_versions

runner = CliRunner()


def _requirements() -> dict[str, Requirement]:
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    return {r.name.lower(): r for r in reqs}


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output == f"procsim {__version__}\n"
    from importlib.metadata import version

    assert version("procsim") == __version__  # the build reads procsim.version


def test_output_packages_are_bounded_not_pinned_and_the_constraints_pin_them():
    reqs, pins = _requirements(), pinned()
    assert sorted(pins) == sorted(OUTPUT_PACKAGES)
    for name in OUTPUT_PACKAGES:
        spec = reqs[name].specifier
        assert not any(s.operator == "==" for s in spec), f"{name} is pinned in pyproject.toml: use a range"
        assert spec.contains(pins[name]), f"constraints.txt's {name}=={pins[name]} is outside {spec}"
    # SimPy: bounded to the minor version whose internals the kernel uses
    assert reqs["simpy"].specifier.contains("4.1.99") and not reqs["simpy"].specifier.contains("4.2.0")


def test_the_golden_versions(capsys):
    """Says which versions the golden hashes were taken with, and whether they are the installed ones."""
    want, have = pinned(), output_versions()
    with capsys.disabled():
        print("\ngolden bytes taken with: " + ", ".join(f"{n}=={v}" for n, v in want.items())
              + ("" if want == have else " | installed: " + ", ".join(f"{n}=={v}" for n, v in have.items())))
    assert set(have) == set(want)


def test_the_manifest_records_the_output_versions(write_process, tmp_path):
    from conftest import MINI
    from procsim.run import run

    run(write_process(MINI), tmp_path / "o", seed=1, cases=3, formats=["csv"])
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert manifest["output_versions"] == output_versions()
    assert manifest["output_versions"]["numpy"] == __import__("numpy").__version__


def test_simpy_internals_the_kernel_uses():
    """procsim.sim.kernel pushes onto SimPy's queue directly, as Environment.schedule does. If SimPy changes
    how it keeps its queue, this fails (and the kernel must follow) instead of the simulation going wrong."""
    assert simpy.__version__.startswith("4.1."), f"simpy {simpy.__version__}: the kernel was written for 4.1"
    from simpy.events import NORMAL

    from procsim.sim.kernel import _NORMAL

    assert NORMAL == _NORMAL == 1
    env = simpy.Environment(initial_time=5.0)
    assert env._now == 5.0 and env._queue == []
    ev = env.event()
    ev._ok, ev._value = True, None
    env.schedule(ev, delay=2.0)
    env.schedule(env.event(), delay=1.0)
    # the queue is a heap of (time, priority, event id, event); the ids come from env._eid
    assert [(t, p, e is ev) for t, p, _, e in sorted(env._queue)] == [(6.0, NORMAL, False), (7.0, NORMAL, True)]
    ids = sorted(i for _, _, i, _ in env._queue)
    assert ids == [ids[0], ids[0] + 1] and next(env._eid) == ids[0] + 2


def test_init_writes_a_project_that_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["init", "p2p", "demo"])
    assert result.exit_code == 0, result.output
    written = sorted(str(p.relative_to(tmp_path / "demo")) for p in (tmp_path / "demo").rglob("*") if p.is_file())
    assert written == ["processes/procure_to_pay.yaml", "rules/procure_to_pay.yaml",
                       "templates/goods_receipt.html.j2", "templates/payment_advice.md.j2",
                       "templates/purchase_order_lines.html.j2", "templates/supplier_invoice_lines.html.j2"]
    assert (tmp_path / "demo/processes/procure_to_pay.yaml").read_bytes() == \
        (REPO / "processes/procure_to_pay.yaml").read_bytes()
    result = runner.invoke(app, ["run", "demo/processes/procure_to_pay.yaml", "--cases", "30", "--out", "o",
                                 "--format", "csv,documents", "--quiet"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "o" / "documents" / "PAY-000001.md").is_file()


def test_init_all_examples_and_its_refusals(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(app, ["init", "all"]).exit_code == 0
    for folder in ("processes", "rules", "templates"):
        assert sorted(p.name for p in (tmp_path / "all" / folder).iterdir()) == \
            sorted(p.name for p in (REPO / folder).iterdir() if p.is_file())
    again = runner.invoke(app, ["init", "all"])
    assert again.exit_code == 2 and "exist already (procsim init never overwrites)" in again.output
    typo = runner.invoke(app, ["init", "o2d", "x"])
    assert typo.exit_code == 2 and "unknown example 'o2d'; did you mean 'o2c'?" in typo.output
    assert not (tmp_path / "x").exists()


def test_the_wheel_carries_the_examples(tmp_path):
    """Build a wheel from a copy of the sources (offline: the installed setuptools, no build isolation) and
    look inside: the examples are in the package, the repository's folders stay where they are."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md"):
        shutil.copy(REPO / name, src / name)
    for name in ("procsim", "processes", "rules", "templates"):
        shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                           "-q", "-w", str(tmp_path / "dist"), str(src)], capture_output=True, text=True)
    if done.returncode != 0 and "bdist_wheel" in done.stderr:
        pytest.skip("the 'wheel' package is not installed (pip install -e '.[test]' installs it)")
    assert done.returncode == 0, done.stderr
    (wheel,) = (tmp_path / "dist").glob("procsim-*.whl")
    assert wheel.name.startswith(f"procsim-{__version__}-")
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in ("processes", "rules", "templates"):
        for f in (REPO / folder).iterdir():
            if f.is_file():
                assert f"procsim/examples/{folder}/{f.name}" in names
    assert "procsim/py.typed" in names and "procsim/init.py" in names
