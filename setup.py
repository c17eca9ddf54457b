"""Build hook: the example processes, rules and templates ship inside the package as ``procsim/examples/``.

The repository keeps them where users of a clone expect them (``processes/``, ``rules/``, ``templates/``);
building copies them into the built package, so ``pip install procsim && procsim init`` has them. All other
configuration is in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

EXAMPLES = {"processes": (".yaml",), "rules": (".yaml",), "templates": (".j2",)}


class BuildWithExamples(build_py):
    def run(self) -> None:
        super().run()
        root = Path(__file__).resolve().parent
        dest = Path(self.build_lib) / "procsim" / "examples"
        for folder, suffixes in EXAMPLES.items():
            for src in sorted((root / folder).glob("*")):
                if src.is_file() and src.name.endswith(suffixes):
                    (dest / folder).mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(src, dest / folder / src.name)


setup(cmdclass={"build_py": BuildWithExamples})
