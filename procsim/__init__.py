"""procsim: realistic enterprise process data from YAML processes run as SimPy simulations."""

from __future__ import annotations

from procsim.errors import ProcsimError, SpecError
from procsim.version import __version__

__all__ = ["__version__", "ProcsimError", "SpecError", "load_process", "run"]


def __getattr__(name: str) -> object:
    # the heavy imports (simpy, pyarrow, faker) wait until they are used, so `procsim --help` is quick
    if name == "load_process":
        from procsim.spec import load_process

        return load_process
    if name == "run":
        from procsim.run import run

        return run
    raise AttributeError(name)
