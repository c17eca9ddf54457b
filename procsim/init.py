"""``procsim init [EXAMPLE] DIR``: a ready project (processes, rules, templates) from the bundled examples.

Owns finding the examples and copying one (the process and the rule and template files it names) or all of
them. A built package carries them as ``procsim/examples/`` (copied there by the build, ``setup.py``); a clone
or an editable install reads the repository's own ``processes/``, ``rules/`` and ``templates/``. Nothing is
overwritten: a file that is already there is an error.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ruamel.yaml import YAML

from procsim.errors import ProcsimError, UsageError, suggest

__all__ = ["ALIASES", "examples_root", "init_project", "list_examples"]

FOLDERS = ("processes", "rules", "templates")
# short names for the examples (the file stem works too)
ALIASES = {"p2p": "procure_to_pay", "o2c": "order_to_cash", "loan": "loan_application",
           "p2p-exceptions": "procure_to_pay_exceptions"}


def examples_root() -> Path:
    """The folder holding ``processes/``, ``rules/`` and ``templates/`` of the bundled examples."""
    here = Path(__file__).resolve().parent
    for root in (here / "examples", here.parent):  # the installed package, else the repository
        if (root / "processes" / "procure_to_pay.yaml").is_file():
            return root
    raise ProcsimError(f"the bundled examples are missing (looked in {here / 'examples'}); reinstall procsim")


def list_examples() -> list[str]:
    return sorted(p.stem for p in (examples_root() / "processes").glob("*.yaml"))


def _referenced(process: Path) -> list[Path]:
    """The rule files and templates a process names (paths relative to the process file)."""
    data = YAML(typ="safe").load(process.read_text(encoding="utf-8")) or {}
    names = [str(r) for r in data.get("rules") or []]
    names += [str(d["template"]) for d in (data.get("documents") or {}).values()
              if isinstance(d, dict) and d.get("template")]
    return [(process.parent / n).resolve() for n in names]


def init_project(example: str | None, dest: Path) -> list[Path]:
    """Copy ``example`` (all examples when None) into ``dest``; returns the files written, in order."""
    root = examples_root()
    known = list_examples()
    if example is None:
        sources = [f for folder in FOLDERS for f in sorted((root / folder).glob("*")) if f.is_file()]
    else:
        stem = ALIASES.get(example, example)
        if stem not in known:
            options = sorted(set(known) | set(ALIASES))
            raise UsageError(f"unknown example '{example}'" + suggest(example, options)
                             + f" (choose from: {', '.join(options)})")
        process = root / "processes" / f"{stem}.yaml"
        sources = [process] + [p for p in _referenced(process) if p.is_file()]
    targets = [dest / src.resolve().relative_to(root.resolve()) for src in sources]
    there = [str(t) for t in targets if t.exists()]
    if there:
        raise UsageError("these files exist already (procsim init never overwrites):\n  " + "\n  ".join(there))
    for src, target in zip(sources, targets):
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
    return targets
