"""The samples README.md and docs/ show are what the commands produce: these tests fail when they drift.

Timings in a sample ("in 0.64 s (6,459 events/s)") vary from run to run and are left out of the comparison.
"""

from __future__ import annotations

import re
import shutil

from typer.testing import CliRunner

from conftest import REPO
from pinned import require_pinned
from procsim.cli import app

runner = CliRunner()
TIMING = re.compile(r" in [\d.]+ s \([\d,]+ events/s\)")


def _block(text: str, after: str, lang: str) -> str:
    """The first ```lang block after the text ``after``."""
    m = re.search(re.escape(after) + r".*?```" + lang + r"\n(.*?)```", text, re.S)
    assert m, f"no {lang} block after {after!r}"
    return m.group(1)


def test_readme_payment_advice_sample(tmp_path, monkeypatch):
    require_pinned()  # the names and amounts come from faker and numpy
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    command = "procsim run processes/procure_to_pay.yaml --cases 60 --seed 7 --out dr --format csv,documents"
    assert f"`{command}` writes, among\nothers, `dr/documents/PAY-000001.md`" in readme
    for folder in ("processes", "rules", "templates"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, command.split()[1:] + ["--quiet"])
    assert result.exit_code == 0, result.output
    shown = _block(readme, "dr/documents/PAY-000001.md", "markdown")
    assert (tmp_path / "dr" / "documents" / "PAY-000001.md").read_text(encoding="utf-8") == shown


def test_output_md_console_sample(tmp_path, monkeypatch):
    require_pinned()
    language = (REPO / "docs" / "process-language.md").read_text(encoding="utf-8")
    (tmp_path / "invoice.yaml").write_text(_block(language, "## A complete example", "yaml"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    validate = runner.invoke(app, ["validate", "invoice.yaml"])
    assert "$ procsim validate invoice.yaml\n" + validate.output in _block(language, "## A complete example\n",
                                                                            "console")
    shown = _block((REPO / "docs" / "output.md").read_text(encoding="utf-8"), "# Output", "console")
    command, _, expected = shown.partition("\n")
    assert command == "$ procsim run invoice.yaml --seed 1 --out out --format csv,parquet,xes"
    result = runner.invoke(app, command.split()[2:])
    assert result.exit_code == 0, result.output
    assert TIMING.sub("", result.output) == TIMING.sub("", expected)
