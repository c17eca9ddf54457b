"""The bounds of procsim.limits leave ordinary input alone: aliases, templates and values below them work as before.

The bad-input corpus (test_badinputs.py) shows that inputs beyond a bound are refused; these tests show the other
side, in-process: the checks do not change what a template renders or what a YAML file means.
"""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest

from procsim.documents.render import environment, render
from procsim.errors import SpecError
from procsim.limits import YAML_MAX_ALIASES, YAML_MAX_NODES
from procsim.spec.loader import read_yaml


def _yaml(tmp_path: Path, text: str) -> object:
    p = tmp_path / "x.yaml"
    p.write_text(text, encoding="utf-8")
    return read_yaml(p, "x.yaml")[0]


def test_aliases_and_merge_keys_below_the_bounds_mean_what_they_say(tmp_path: Path) -> None:
    data = _yaml(tmp_path, "base: &b {days: [mon, tue], hours: ['08:00-12:00']}\n"
                           "a: *b\n"
                           "c: {<<: *b, days: [sat]}\n"
                           "l: &l [1, 2]\n"
                           "m: [*l, *l]\n")
    assert data == {"base": {"days": ["mon", "tue"], "hours": ["08:00-12:00"]},
                    "a": {"days": ["mon", "tue"], "hours": ["08:00-12:00"]},
                    "c": {"days": ["sat"], "hours": ["08:00-12:00"]},
                    "l": [1, 2], "m": [[1, 2], [1, 2]]}


def test_the_node_bound_counts_expanded_values(tmp_path: Path) -> None:
    # 1,000 values used 150 times: 150,000 values expanded, under the bound; 250 times is over it
    base = "a: &a [" + ", ".join(["1"] * 999) + "]\n"
    ok = _yaml(tmp_path, base + "b: [" + ", ".join(["*a"] * 150) + "]\n")
    assert isinstance(ok, dict) and len(ok["b"]) == 150 and ok["b"][149][998] == 1
    assert 250 * 1000 > YAML_MAX_NODES
    with pytest.raises(SpecError) as e:
        _yaml(tmp_path, base + "b: [" + ", ".join(["*a"] * 250) + "]\n")
    assert str(e.value).startswith("x.yaml:2:")
    assert "[yaml_limit]" in str(e.value)


def test_the_alias_bound_counts_uses(tmp_path: Path) -> None:
    ok = _yaml(tmp_path, "a: &a x\nb: [" + ", ".join(["*a"] * YAML_MAX_ALIASES) + "]\n")
    assert isinstance(ok, dict) and len(ok["b"]) == YAML_MAX_ALIASES


def _plain(env: jinja2.Environment, source: str, name: str, ctx: dict[str, object]) -> str:
    code = env.compile(source, name=name, filename=name)
    template = env.template_class.from_code(env, code, env.make_globals(None))
    return render(template, ctx)


@pytest.mark.parametrize(("source", "expected"), [
    ("{{ 'ab' ~ 1 ~ none }}", "ab1None"),
    ("{{ 'x' * 3 }}|{{ [1] * 2 }}|{{ 2 ** 10 }}|{{ 3 * 4 }}|{{ 'a' + 'b' }}|{{ '%05.1f' % 3.14159 }}", "xxx|[1, 1]|1024|12|ab|003.1"),
    ("{{ '{:>6}|{}'.format('r', 2) }}|{{ '{a}'.format_map({'a': 1}) }}", "     r|2|1"),
    ("{{ 'a-b'|replace('-', '+') }}|{{ [1, 2]|join(',') }}|{{ 'x'|center(5) }}|{{ '%s=%d'|format('n', 3) }}",
     "a+b|1,2|  x  |n=3"),
    ("{{ 'a\\nb'|indent(2, true) }}|{{ [[1], [2]]|sum(start=[]) }}|{{ [1, 2, 3]|sum }}|{{ range(4)|batch(3)|list }}",
     "  a\n  b|[1, 2]|6|[[0, 1, 2], [3]]"),
    ("{% for x in [3, 4] %}{{ loop.index }}/{{ loop.length }}{{ ',' if not loop.last }}{% else %}-{% endfor %}",
     "1/2,2/2"),
    ("{% for k, v in {'a': 1}.items() %}{{ k }}{{ v }}{% endfor %}{% for x in [] %}x{% else %}empty{% endfor %}",
     "a1empty"),
    ("{% macro f(n) %}{{ n }}{% if n %}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(10) }}", "109876543210"),
    ("{% set ns = namespace(s='') %}{% for i in range(3) %}{% set ns.s = ns.s ~ i %}{% endfor %}{{ ns.s }}", "012"),
    ("{{ 'ab'.center(6, '*') }}|{{ '-'.join(['a', 'b']) }}|{{ 'aXa'.replace('a', 'bb') }}", "**ab**|a-b|bbXbb"),
])
def test_ordinary_templates_render_as_before(source: str, expected: str) -> None:
    assert _plain(environment("en_US"), source, "t.md.j2", {}) == expected


def test_concatenation_keeps_html_escaping() -> None:
    env = environment("en_US")
    assert _plain(env, "{{ '<b>' ~ x }}", "t.html.j2", {"x": "&"}) == "&lt;b&gt;&amp;"
    assert _plain(env, "{{ '<b>' ~ x }}", "t.md.j2", {"x": "&"}) == "<b>&"


def test_the_deadline_is_per_render(monkeypatch: pytest.MonkeyPatch) -> None:
    """A slow document fails; the next one has its own budget (the deadline is reset at each render)."""
    import importlib

    mod = importlib.import_module("procsim.documents.render")
    env = environment("en_US")
    source = "{% for i in range(300) %}{{ i }}{% endfor %}"
    monkeypatch.setattr(mod, "MAX_SECONDS", 0.0)
    with pytest.raises(jinja2.TemplateError, match="rendering took over 0 s"):
        _plain(env, source, "t.md.j2", {})
    monkeypatch.setattr(mod, "MAX_SECONDS", 60.0)
    assert _plain(env, source, "t.md.j2", {}).startswith("0123")
