"""One shape for every extension point: a :class:`Registry` of named extensions, open to third parties.

This module owns the registry type that distributions, exception types, rule actions, output formats
(sinks), delivery targets and expression functions all use, and the loading of third-party extensions
from Python entry points. An extension point is:

- a registry (``Registry("distribution", group="procsim.distributions")``) in the module that owns the
  extension point, filled in definition order;
- a way to register: a base class whose subclasses register under a class-level name (``kind``, ``type``,
  ``format``, ``scheme``, ``key``), or for functions a decorator; registering a name twice is refused;
- entry points: a package adds its own with an entry point in the registry's group whose *name* is the
  name it registers and whose *object* is the class or function; loading it imports the package's module,
  which registers through the same base class or decorator as the built-in ones. :meth:`Registry.load_plugins`
  runs once, when the owning module is imported, before anything is built from the registry (the YAML
  unions of distributions and exception types, the ``--format`` choices).

The registries are plain ``dict`` subclasses, so ``name in REGISTRY`` and ``REGISTRY[name]`` stay cheap
on the hot path; what the class adds is the name of what it holds (for messages), the origin of each
entry (built-in or which distribution package), the summary line the CLI help and docs are generated from
(``procsim plugins``, docs/extending.md), and a lookup with a did-you-mean.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Generic, TypeVar

from procsim.errors import suggest

__all__ = ["BUILTIN", "PluginError", "Registry", "all_registries", "summary_of"]

T = TypeVar("T")

BUILTIN = "procsim"
"""The origin of every extension that ships with procsim."""


class PluginError(ImportError):
    """A third-party entry point that cannot be loaded, or that does not register what it is named after."""


@dataclass(frozen=True)
class Entry:
    """What ``procsim plugins`` shows of one extension."""

    name: str
    summary: str
    origin: str


def summary_of(obj: object) -> str:
    """The first paragraph of an extension's docstring, on one line (``doc`` for functions described by data)."""
    doc = getattr(obj, "doc", None)
    if not isinstance(doc, str) or not doc:
        # a class's own docstring, not one inherited from its base (that would describe the base)
        own = (obj if isinstance(obj, type) else type(obj)).__dict__.get("__doc__")
        doc = inspect.cleandoc(own) if isinstance(own, str) else ""
    first = doc.strip().split("\n\n", 1)[0]  # the first paragraph, which may be wrapped over lines
    return " ".join(line.strip() for line in first.splitlines())


_ALL: list[Registry[object]] = []


class Registry(dict[str, T], Generic[T]):
    """Named extensions of one kind, in registration order: built-in first, then third-party ones.

    ``what`` names one entry in messages ("distribution kind", "output format"); ``group`` is the entry
    point group third parties register in; ``title`` heads its section in ``procsim plugins``.
    """

    def __init__(self, what: str, group: str, title: str) -> None:
        super().__init__()
        self.what = what
        self.group = group
        self.title = title
        self.origins: dict[str, str] = {}
        self._loading: str | None = None  # the distribution package whose entry point is being loaded
        self._loaded = False
        _ALL.append(self)  # type: ignore[arg-type]

    def add(self, name: str, value: T) -> T:
        """Register ``value`` under ``name``; a name registered twice is a programming error, refused."""
        if name in self:
            raise TypeError(f"{self.what} {name!r} is defined twice: {_label(self[name])} and {_label(value)}")
        self[name] = value
        self.origins[name] = self._loading or BUILTIN
        return value

    def lookup(self, name: str) -> T:
        """The entry named ``name``; a KeyError that says what exists and what was probably meant."""
        try:
            return self[name]
        except KeyError:
            raise KeyError(f"unknown {self.what} '{name}'"
                           + suggest(name, self, f" (choose from: {', '.join(self)})")) from None

    def load_plugins(self, points: Callable[[str], list[EntryPoint]] | None = None) -> list[str]:
        """Import every entry point of :attr:`group` once; returns the names they registered.

        An entry point must register the name it is published under; one that fails to import or
        registers nothing under its name stops the import of procsim with a message naming the package
        and the entry point, because a silently missing extension would change what a process means.
        """
        if self._loaded:
            return []
        self._loaded = True
        found = points(self.group) if points else list(entry_points(group=self.group))
        added: list[str] = []
        for ep in sorted(found, key=lambda e: (e.name, e.value)):
            package = ep.dist.name if ep.dist is not None else ep.value.split(":")[0]
            where = f"entry point '{ep.name} = {ep.value}' in group '{self.group}' (package {package})"
            if ep.name in self:
                raise PluginError(f"{where}: {self.what} '{ep.name}' is already defined by {self.origins[ep.name]}")
            self._loading = package
            try:
                ep.load()
            except PluginError:
                raise
            except Exception as e:
                raise PluginError(f"{where} cannot be loaded: {type(e).__name__}: {e}") from e
            finally:
                self._loading = None
            if ep.name not in self:
                raise PluginError(f"{where} did not register a {self.what} named '{ep.name}'")
            added.append(ep.name)
        return added

    def entries(self) -> Iterator[Entry]:
        """Every entry with its summary line and origin, in registration order."""
        for name, value in self.items():
            yield Entry(name, summary_of(value), self.origins.get(name, BUILTIN))


def _label(value: object) -> str:
    return getattr(value, "__qualname__", None) or type(value).__name__


def all_registries() -> list[Registry[object]]:
    """Every registry made so far (the modules that own them must have been imported)."""
    return list(_ALL)
