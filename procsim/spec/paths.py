"""Which files a process may read, and which names it may give the files a run writes.

Process files are shared and downloaded: a process names rule files and templates, and it names the objects
whose numbers become document file names. This module owns the two load-time checks that keep such a file
inside its lanes:

- every file a process names resolves (symlinks followed) to a regular file inside the *project folder*:
  the folder of the process file, or its parent when that folder is called ``processes`` (this repository's
  layout: ``processes/``, ``rules/``, ``templates/`` side by side), or a folder the user names with
  ``--root``;
- a ``number:`` pattern makes safe file names: no path separators, no leading dot, no control characters,
  no more than ``MAX_NAME`` characters.

The messages are ``Problem`` texts; the callers pin them to ``file:line:col`` and the key.
"""

from __future__ import annotations

import re
import stat
import string
from pathlib import Path

MAX_NAME = 100  # characters of an object number: a document file name adds a suffix and an extension
TEMPLATE_SUFFIX = ".j2"
_UNSAFE = re.compile(r"[/\\\x00-\x1f\x7f:*?\"<>|]")  # separators, control characters, what Windows refuses
# the width and precision of a format spec, read before formatting anything (a width of 10**9 would be built)
_SPEC = re.compile(r"^(?:.?[<>=^])?[-+ ]?z?#?0?(?P<width>\d*)[,_]?(?:\.(?P<precision>\d+))?[a-zA-Z%]?$")


def project_root(process_file: Path, root: Path | None = None) -> Path:
    """The folder a process may read from, resolved: ``root`` when given, else the process file's folder or,
    when that folder is named ``processes``, its parent."""
    if root is not None:
        return root.resolve()
    folder = process_file.resolve().parent
    return folder.parent if folder.name == "processes" else folder


def check_input(base: Path, name: str, root: Path, *, what: str, suffix: str | None = None
                ) -> tuple[Path | None, str, str]:
    """Resolve ``name`` (relative to ``base``) to a readable regular file inside ``root``.

    Returns ``(path, "", "")`` or ``(None, message, code)``. The path is the resolved one: what is read is
    the file that was checked.
    """
    if "\x00" in name:
        return None, f"{what} '{name!r}' holds a NUL character", "bad_path"
    if suffix is not None and not name.endswith(suffix):
        why = f"{what} '{name}' must be a '{suffix}' file (a template is chosen by its extension)"
        return None, why, "bad_suffix"
    given = base / name
    try:
        # outside or not is decided before existence: a process cannot probe which files exist elsewhere
        real = given.resolve()
    except (OSError, RuntimeError) as e:  # a symlink loop, a name too long, ...
        return None, f"{what} '{name}' cannot be opened: {getattr(e, 'strerror', None) or e}", "unreadable"
    if not real.is_relative_to(root):
        link = " (through a symbolic link)" if given.absolute() != real and _under(given, root) else ""
        why = (f"{what} '{name}' is outside the project folder {root}{link}; a process reads only files inside "
               "its project (give --root to widen it on purpose)")
        return None, why, "outside_project"
    try:
        mode = real.stat().st_mode
    except FileNotFoundError:
        return None, f"{what} '{name}' not found (paths are relative to the process file)", "not_found"
    except OSError as e:  # a name too long, a folder that may not be listed, ...
        return None, f"{what} '{name}' cannot be opened: {e.strerror or e}", "unreadable"
    if stat.S_ISDIR(mode):
        return None, f"{what} '{name}' is a folder, not a file", "not_a_file"
    if not stat.S_ISREG(mode):  # a FIFO would block the load, a device could be endless
        return None, f"{what} '{name}' is not a regular file", "not_a_file"
    return real, "", ""


def _under(path: Path, root: Path) -> bool:
    import os.path

    return Path(os.path.normpath(path.absolute())).is_relative_to(root)


def number_problem(pattern: str) -> str | None:
    """Why an object ``number:`` pattern would not make a safe file name, or None. The count is unknown at
    load, so the pattern is checked as written and formatted with a small and a large number."""
    try:
        parts = list(string.Formatter().parse(pattern))
    except ValueError:
        return None  # not a pattern at all: the object checks say so
    for literal, field, spec, _ in parts:
        if field is None:
            continue
        m = _SPEC.match(spec or "")
        if m is None:
            return None  # a bad spec: the object checks say so
        width = int(m["width"] or 0) + int(m["precision"] or 0)
        if width > MAX_NAME:
            return f"number pattern {pattern!r} makes ids over {MAX_NAME} characters; ids are file names"
    try:
        samples = [pattern.format(n=n) for n in (1, 10**12)]
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return None  # reported by the object checks
    for text in samples:
        bad = _UNSAFE.search(text)
        if bad is not None:
            return (f"number pattern {pattern!r} makes ids with {_describe(bad.group())}; ids are file names "
                    "(documents/<id>.<ext>): use letters, digits, '-', '_' and '.'")
        if text.startswith("."):
            return f"number pattern {pattern!r} makes ids starting with '.'; ids are file names and would be hidden"
        if text.strip() != text or not text.strip():
            return f"number pattern {pattern!r} makes ids with leading or trailing spaces; ids are file names"
        if len(text) > MAX_NAME:
            return f"number pattern {pattern!r} makes ids over {MAX_NAME} characters; ids are file names"
    return None


def _describe(ch: str) -> str:
    if ch in "/\\":
        return f"a path separator {ch!r}"
    if ord(ch) < 32 or ord(ch) == 127:
        return f"a control character {ch!r}"
    return f"the character {ch!r}"


__all__ = ["MAX_NAME", "TEMPLATE_SUFFIX", "project_root", "check_input", "number_problem"]
