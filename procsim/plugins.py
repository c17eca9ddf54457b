"""``procsim plugins``: every extension point and what is registered in it, generated from the registries.

This module owns loading every registry (:mod:`procsim.registry`) and rendering them: as text for the
terminal, as JSON, and as the Markdown table that docs/extending.md carries (a test regenerates it, so the
docs cannot drift from the code). Delivery targets whose client package is not installed are listed with
the package they need instead of being imported.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

from procsim.registry import Entry, Registry, all_registries

__all__ = ["load_registries", "render_json", "render_markdown", "render_text"]

# the modules that own an extension point, in the order the sections are shown
_OWNERS = ("procsim.distributions", "procsim.exceptions", "procsim.rules.actions", "procsim.rules.functions",
           "procsim.sinks", "procsim.targets")
_LAZY_TARGETS = ("http", "postgres", "kafka", "smtp")  # need optional client packages (procsim[stream])


def load_registries() -> tuple[list[Registry[Any]], list[str]]:
    """Every registry, filled; and the optional target modules that could not be imported (missing packages)."""
    for name in _OWNERS:
        importlib.import_module(name)
    missing = []
    for mod in _LAZY_TARGETS:
        try:
            importlib.import_module(f"procsim.targets.{mod}")
        except ImportError as e:
            missing.append(f"{mod} (needs {e.name}: pip install 'procsim[stream]')")
    order = {r: i for i, r in enumerate(_group_order())}
    regs = sorted(all_registries(), key=lambda r: order.get(r.group, len(order)))
    return regs, missing


def _group_order() -> list[str]:
    return ["procsim.distributions", "procsim.exceptions", "procsim.near_misses", "procsim.rule_actions",
            "procsim.functions",
            "procsim.sinks", "procsim.targets"]


def _entries(r: Registry[Any]) -> list[Entry]:
    # targets with client packages register when first imported, in whatever order a program imported them:
    # listed by name so the listing (and docs/extending.md) does not depend on that order
    entries = list(r.entries())
    return sorted(entries, key=lambda e: e.name) if r.group == "procsim.targets" else entries


def render_text(regs: list[Registry[Any]], missing: list[str]) -> str:
    lines: list[str] = []
    for r in regs:
        lines.append(f"{r.title} (entry point group '{r.group}')")
        width = max((len(n) for n in r), default=0)
        for e in _entries(r):
            origin = "" if e.origin == "procsim" else f"  [{e.origin}]"
            lines.append(f"  {e.name.ljust(width)}  {e.summary}{origin}")
        if r.group == "procsim.targets" and missing:
            lines += [f"  not installed: {m}" for m in missing]
        lines.append("")
    return "\n".join(lines)


def render_json(regs: list[Registry[Any]], missing: list[str]) -> str:
    data = {r.group: [{"name": e.name, "summary": e.summary, "origin": e.origin} for e in _entries(r)] for r in regs}
    return json.dumps({"registries": data, "not_installed": missing}, indent=2)


def render_markdown(regs: list[Registry[Any]], *, builtin_only: bool = True) -> str:
    """The tables of docs/extending.md: one per extension point (built-in entries only, for the docs)."""
    out: list[str] = []
    for r in regs:
        out += [f"### {r.title}", "", f"Entry point group: `{r.group}`", "", "| name | what it is |", "|---|---|"]
        for e in _entries(r):
            if builtin_only and e.origin != "procsim":
                continue
            out.append(f"| `{e.name}` | {e.summary.replace('|', '/')} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":  # python -m procsim.plugins --markdown: rewrite the tables of docs/extending.md
    import re
    import sys
    from pathlib import Path

    if sys.argv[1:] != ["--markdown"]:
        sys.exit("usage: python -m procsim.plugins --markdown")
    doc = Path(__file__).resolve().parents[1] / "docs" / "extending.md"
    regs, _ = load_registries()
    text = re.sub(r"(<!-- generated: procsim plugins -->\n).*(<!-- end generated -->)",
                  lambda m: m.group(1) + "\n" + render_markdown(regs) + "\n" + m.group(2),
                  doc.read_text(encoding="utf-8"), flags=re.S)
    doc.write_text(text, encoding="utf-8")
