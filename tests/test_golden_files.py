"""Golden files: small outputs of every kind kept in tests/golden/ and compared byte for byte (XES, OCEL 2.0 JSON,
the Parquet schema, two rendered documents). A change shows as a readable diff of the file.

When an output changes on purpose, rewrite them with ``PROCSIM_UPDATE_GOLDEN=1 python -m pytest
tests/test_golden_files.py`` and say why in the commit message. Taken with the versions in constraints.txt.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import MINI
from pinned import require_pinned
from procsim.run import run

GOLDEN = Path(__file__).resolve().parent / "golden"
PROCESS = MINI + """\
objects:
  request:
    created_by: register
    number: "REQ-{n:04d}"
    fields: {amount: amount, region: region, clerk: resource}
  decision:
    created_by: decide
    number: "DEC-{n:04d}"
    fields: {boss: resource}
    refers_to: [request]
documents:
  request_form: {object: request, template: request.md.j2}
  decision_letter: {object: decision, template: decision.html.j2}
"""
TEMPLATES = {
    "request.md.j2": "# Request {{ number }}\n\nDate: {{ date(created_at) }}\nAmount: {{ money(amount) }}\n"
                     "Region: {{ region }}, clerk {{ clerk }}\n",
    "decision.html.j2": "<h1>Decision {{ number }}</h1>\n<p>{{ datetime(created_at) }} by {{ boss }}"
                        "{% if refs.request %} on {{ refs.request.number }}{% endif %}</p>\n",
}
FILES = {"events.xes": "events.xes", "ocel.json": "ocel.json", "documents/REQ-0001.md": "REQ-0001.md",
         "documents/DEC-0001.html": "DEC-0001.html"}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("golden")
    for name, text in TEMPLATES.items():
        (d / name).write_text(text, encoding="utf-8")
    (d / "p.yaml").write_text(PROCESS, encoding="utf-8")
    run(d / "p.yaml", d / "out", seed=1, cases=3, formats=["parquet", "xes", "ocel-json", "documents"])
    return d / "out"


def _compare(got: bytes, name: str) -> None:
    path = GOLDEN / name
    if os.environ.get("PROCSIM_UPDATE_GOLDEN"):
        path.write_bytes(got)
    assert got.decode("utf-8") == path.read_text(encoding="utf-8"), f"{name} differs from tests/golden/{name}"


@pytest.mark.parametrize("produced", sorted(FILES))
def test_file_matches_its_golden_copy(outputs, produced):
    require_pinned()
    _compare((outputs / produced).read_bytes(), FILES[produced])


def test_parquet_schema_matches_its_golden_copy(outputs):
    require_pinned("pyarrow")
    schema = pq.read_schema(outputs / "events.parquet")
    text = schema.to_string(show_field_metadata=True, show_schema_metadata=False) + "\n"
    _compare(text.encode("utf-8"), "events.parquet.schema.txt")
