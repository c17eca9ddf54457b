"""Fuzzing the loader (Hypothesis): mutated example files and random YAML give user errors, never internal ones.

A mutation takes one of the bundled example processes and removes a key, renames it, retypes a value (a mapping
where a list was, a list where a scalar was ...), or puts a random scalar anywhere (huge and negative numbers,
NaN, dates, odd strings). Loading the result may succeed or fail, but a failure must be a ``ProcsimError`` (a
``SpecError`` with positions, a ``UsageError`` ...): anything else would reach a user as "a bug in procsim".
The number of examples is bounded so that this stays a few seconds of the suite.
"""

from __future__ import annotations

import datetime as dt
import io
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from procsim.errors import ProcsimError
from procsim.spec import load_process

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "processes").glob("*.yaml"))
FUZZ = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def _read(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


DATA = {p.name: _read(p) for p in EXAMPLES}


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, prefix + (i,))
    return out


PATHS = {name: _paths(data) for name, data in DATA.items()}

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([0, -1, 2**63, 10**12, 1e308, -0.0]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["", "0s", "1000000000d", "-5m", "{n:09999d}", "amount /", "a" * 300, "\x1b[31m", "ocel_id",
                     "nan", "2026-02-30", "../../etc/passwd", "{{ x }}", "*", "&a"]),
    st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)),
)
values = st.one_of(scalars, st.lists(scalars, max_size=3), st.dictionaries(st.text(max_size=6), scalars, max_size=3))


def _mutate(data: Any, path: tuple[Any, ...], how: str, value: Any, new_key: str) -> Any:
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if how == "remove":
        del parent[last]
    elif how == "rename" and isinstance(parent, dict):
        parent[new_key] = parent.pop(last)
    elif how == "retype":
        old = parent[last]
        parent[last] = [old] if not isinstance(old, list) else {"x": old}
    else:
        parent[last] = value
    return data


def _dump(data: Any) -> str:
    buf = io.StringIO()
    YAML(typ="safe").dump(data, buf)
    return buf.getvalue()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository's layout (processes/, rules/, templates/): the examples' relative paths hold."""
    root = tmp_path_factory.mktemp("fuzz")
    for folder in ("rules", "templates"):
        shutil.copytree(ROOT / folder, root / folder)
    (root / "processes").mkdir()
    return root


def _load_expecting_user_errors(path: Path) -> None:
    try:
        load_process(path)
    except ProcsimError:
        pass  # a user error, with its message: what we want for bad input


@FUZZ
@given(data=st.data())
def test_mutated_examples_give_user_errors(project: Path, data: st.DataObject) -> None:
    import copy

    name = data.draw(st.sampled_from(sorted(DATA)), label="example")
    path = data.draw(st.sampled_from(PATHS[name]), label="path")
    how = data.draw(st.sampled_from(["remove", "rename", "retype", "scalar"]), label="mutation")
    value = data.draw(values, label="value")
    new_key = data.draw(st.text(min_size=1, max_size=10), label="new key")
    mutated = _mutate(copy.deepcopy(DATA[name]), path, how, value, new_key)
    target = project / "processes" / name
    target.write_text(_dump(mutated), encoding="utf-8")
    _load_expecting_user_errors(target)


@FUZZ
@given(text=st.one_of(
    st.text(max_size=200),
    st.lists(st.sampled_from(["process:", "  name: x", "roles:", "- a", "&a [1]", "*a", "{", "}", "[", "]",
                              "  ", ": ", "!!python/object:os.system", "%YAML 1.1", "---", "...", "? x", "\t",
                              "activities: {a: {duration: 5m, next: e}}", "<<: *a", "!!binary AAAA", "|", ">"]),
             max_size=30).map("\n".join)))
def test_random_yaml_gives_user_errors(project: Path, text: str) -> None:
    target = project / "processes" / "random.yaml"
    target.write_text(text, encoding="utf-8", errors="surrogatepass")
    _load_expecting_user_errors(target)


RULES = {p.name: _read(p) for p in sorted((ROOT / "rules").glob("*.yaml"))}
RULE_PATHS = {name: _paths(data) for name, data in RULES.items()}


@FUZZ
@given(data=st.data())
def test_mutated_rule_files_give_user_errors(project: Path, data: st.DataObject) -> None:
    """The same mutations of a bundled rule file, loaded through the example process that names it."""
    import copy

    name = data.draw(st.sampled_from(sorted(RULES)), label="rule file")
    path = data.draw(st.sampled_from(RULE_PATHS[name]), label="path")
    how = data.draw(st.sampled_from(["remove", "rename", "retype", "scalar"]), label="mutation")
    value = data.draw(values, label="value")
    new_key = data.draw(st.text(min_size=1, max_size=10), label="new key")
    mutated = _mutate(copy.deepcopy(RULES[name]), path, how, value, new_key)
    (project / "processes" / name).write_text((ROOT / "processes" / name).read_text(encoding="utf-8"),
                                              encoding="utf-8")
    (project / "rules" / name).write_text(_dump(mutated), encoding="utf-8")
    try:
        _load_expecting_user_errors(project / "processes" / name)
    finally:
        shutil.copyfile(ROOT / "rules" / name, project / "rules" / name)


def test_the_mutations_reach_the_deep_checks(project: Path) -> None:
    """A mutation that keeps the file valid loads: the fuzzing exercises more than the YAML parser."""
    name = "procure_to_pay.yaml"
    data = _mutate(_read(ROOT / "processes" / name), ("process", "name"), "scalar", "Fuzzed", "")
    target = project / "processes" / name
    target.write_text(_dump(data), encoding="utf-8")
    assert load_process(target).spec.process.name == "Fuzzed"
