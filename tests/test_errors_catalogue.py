"""docs/errors.md: every error code procsim emits is there, and each example there gives its code and message.

An example is the fenced blocks under a code's heading: ``yaml`` lines merged into ``MINI`` (a ``~`` value
deletes a key), ``yaml raw`` a whole process file, a block with ``file=NAME`` a file next to the process,
(``encoding=latin-1``: written in that encoding), ``json table`` the arguments of ``procsim.rules.tables.compile_table`` (codes a rule file's schema catches
first), and ``text`` the problem expected, without its ``file:line:col:`` prefix. ``repeat=N`` writes a block's
text N times (a file over the size limit); ``<folder>`` in the expected text stands for the example's folder (the
project folder a message names). A process that loads gives its warnings (``always_holds``) instead. An example with an ``xml bpmn`` block (and
optionally ``json params``) is given to ``procsim convert`` instead of loaded.
"""

from __future__ import annotations

import ast
import io
import json
import re
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from conftest import MINI, REPO
from procsim.convert import convert_to_dir
from procsim.errors import SpecError
from procsim.rules.tables import TableError, compile_table
from procsim.spec import load_process

CATALOGUE = REPO / "docs" / "errors.md"
CODE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
# calls whose string arguments include a problem's code
EMITTERS = {"problem", "Problem", "ExprError", "fail", "TableError", "PydanticCustomError"}


def codes_in_source() -> set[str]:
    found: set[str] = set()
    for path in (REPO / "procsim").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                f = node.func
                name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
                if name in EMITTERS:
                    args = list(node.args) + [k.value for k in node.keywords if k.arg == "code"]
                    found |= {a.value for a in args if isinstance(a, ast.Constant) and isinstance(a.value, str)
                              and CODE.match(a.value)}
                    # a code chosen by a condition: "negative_duration" if ... else "unit_missing"
                    found |= {c.value for a in args if isinstance(a, ast.IfExp) for c in (a.body, a.orelse)
                              if isinstance(c, ast.Constant) and isinstance(c.value, str) and CODE.match(c.value)}
            # an exception type's check(): [(where, message, code)]
            elif (isinstance(node, ast.Tuple) and len(node.elts) == 3 and isinstance(node.elts[0], ast.Tuple)
                  and isinstance(node.elts[2], ast.Constant) and isinstance(node.elts[2].value, str)):
                found.add(node.elts[2].value)
            # a path check's refusal: return None, message, code
            elif (isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple) and len(node.value.elts) == 3
                  and isinstance(node.value.elts[0], ast.Constant) and node.value.elts[0].value is None
                  and isinstance(node.value.elts[2], ast.Constant) and isinstance(node.value.elts[2].value, str)):
                found.add(node.value.elts[2].value)
            # a code kept in a variable first: code = "yaml_limit" if ... else "yaml_syntax"
            elif (isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["code"]
                  and isinstance(node.value, (ast.Constant, ast.IfExp))):
                found |= {c.value for c in ast.walk(node.value)
                          if isinstance(c, ast.Constant) and isinstance(c.value, str) and CODE.match(c.value)}
    # the pydantic codes the loader words itself
    from procsim.spec.loader import _MESSAGES

    return found | set(_MESSAGES)


def catalogue() -> dict[str, list[tuple[str, str]]]:
    """code -> its fenced blocks (info string, text), in order."""
    out: dict[str, list[tuple[str, str]]] = {}
    code = None
    for m in re.finditer(r"^## `([a-z0-9_]+)`$|^```([^\n]*)\n(.*?)^```$", CATALOGUE.read_text(encoding="utf-8"),
                         re.M | re.S):
        if m.group(1):
            code = m.group(1)
            assert code not in out, f"{code} is in the catalogue twice"
            out[code] = []
        elif code is not None:
            out[code].append((m.group(2).strip(), m.group(3)))
    return out


def test_every_code_in_the_source_is_in_the_catalogue():
    assert sorted(codes_in_source() - set(catalogue())) == []


def test_the_scan_finds_codes():
    # the scan itself must be able to fail: it finds codes of each kind of emitter
    assert {"unknown_role", "yaml_syntax", "unknown_name", "overlap", "finite_number", "same_role",
            "extra_forbidden", "negative_duration", "outside_project", "yaml_limit"} <= codes_in_source()


def _merge(base: dict, patch: dict) -> dict:
    for k, v in patch.items():
        if v is None:
            base.pop(k, None)
        elif isinstance(v, dict) and isinstance(base.get(k), dict):
            _merge(base[k], v)
        else:
            base[k] = v
    return base


def _problems(blocks: list[tuple[str, str]], folder: Path) -> list[str]:
    """The problems (``msg [code]`` lines, position dropped) the example gives."""
    process = MINI
    if any(info.split()[:2] == ["xml", "bpmn"] for info, _ in blocks):
        return _convert_problems(blocks, folder)
    for info, text in blocks:
        words = info.split()
        name = next((w[5:] for w in words if w.startswith("file=")), None)
        if words[:2] == ["json", "table"]:
            try:
                compile_table("t1", names={"region": "string", "amount": "number"}, **json.loads(text))
            except TableError as e:
                return [f"{e.msg} [{e.code}]"]
            return []
        text *= int(next((w[7:] for w in words if w.startswith("repeat=")), "1"))
        if name is not None:
            encoding = next((w[9:] for w in words if w.startswith("encoding=")), "utf-8")
            (folder / name).write_text(text, encoding=encoding)
        elif "raw" in words:
            process = text
        elif words[0] == "yaml":
            yaml = YAML(typ="safe", pure=True)
            out = io.StringIO()
            yaml.dump(_merge(yaml.load(MINI), yaml.load(text) or {}), out)
            process = out.getvalue()
    (folder / "p.yaml").write_text(process, encoding="utf-8")
    try:
        problems = load_process(folder / "p.yaml").warnings
    except SpecError as e:
        problems = e.problems
    return [re.sub(r"^[^:\n]+:\d+:\d+: ", "", str(p)) for p in problems]


def _convert_problems(blocks: list[tuple[str, str]], folder: Path) -> list[str]:
    """``procsim convert``'s problems for a BPMN example (``xml bpmn``) and its parameters (``json params``)."""
    bpmn = next(t for i, t in blocks if i.split()[:2] == ["xml", "bpmn"])
    params = next((t for i, t in blocks if i.split()[:2] == ["json", "params"]), None)
    (folder / "m.bpmn").write_text(bpmn, encoding="utf-8")
    if params is not None:
        (folder / "p.json").write_text(params, encoding="utf-8")
    try:
        convert_to_dir(folder / "m.bpmn", folder / "out", folder / "p.json" if params is not None else None)
    except SpecError as e:
        return [re.sub(r"^[^:\n]+:\d+:\d+: ", "", str(p)) for p in e.problems]
    return []


@pytest.mark.parametrize("code", sorted(catalogue()))
def test_the_example_gives_its_code_and_message(code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = catalogue()[code]
    expected = [text for info, text in blocks if info == "text"]
    assert len(expected) == 1, f"{code}: one 'text' block with the message"
    got = _problems([b for b in blocks if b[0] != "text"], tmp_path)
    assert any(p.endswith(f"[{code}]") or f"[{code}]\n" in p for p in got), f"{code} not among {got}"
    assert expected[0].rstrip("\n").replace("<folder>", str(tmp_path.resolve())) in got
