"""The output folder of a run: one writer at a time, and procsim replaces or removes only what it wrote.

``--out`` is often a folder the user already has. This module owns what a run may do there:

- **ownership**: the files an earlier run wrote are the ones its ``manifest.json`` lists (and, while a run
  is committing, the ones the journal ``.procsim-pending.json`` lists). Only those may be replaced or removed.
  A non-empty folder with neither, and with no procsim temporaries or lock file, is not a procsim run folder:
  it is refused unless ``force``; even then a name this run would write that procsim did not write (a user's
  own ``events.csv``) is refused rather than replaced.
- **one writer**: an exclusive ``flock`` on ``.procsim.lock``, taken before anything is written and held until
  the manifest is in place; a second run into the folder fails at once (exit 2) instead of interleaving rows.
- **temporaries**: ``.<name>.<pid>-<random>.part``, unique per run and created exclusively (``O_EXCL``: a
  planted symlink is never followed); stale ones an earlier run left (kill -9) are removed under the lock.
- **commit order**: journal (old and new names) -> old manifest removed -> renames -> old files of other
  formats removed -> new manifest -> journal removed. At every moment a ``manifest.json`` present describes
  the bytes beside it, and a crash leaves the ownership readable for the next run.
- **environment errors**: an ``OSError`` while writing becomes an ``OutputError`` (exit 1) naming the file
  and the cause (disk full, file too large, read-only, permission), never "a bug in procsim".
"""

from __future__ import annotations

import csv
import errno
import json
import os
import re
import secrets
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from procsim.errors import ProcsimError, UsageError

try:  # POSIX; on other systems the folder is not locked (documented)
    import fcntl
except ImportError:  # pragma: no cover - depends on the platform
    fcntl = None  # type: ignore[assignment]

LOCK = ".procsim.lock"
JOURNAL = ".procsim-pending.json"
MANIFEST = "manifest.json"
REPORT = "report.html"  # written after the commit by `run --report`; the manifest says a report goes with it
DOCUMENTS = "documents"
# a Parquet dataset partitioned by shard (``--parquet-layout dataset``): ``events.parquet/part-00003-DE01-R02.parquet``;
# the manifest lists its parts ({"layout": "dataset", "parts": {name: {sha256, bytes}}})
PART = re.compile(r"^part-\d{5}-[A-Za-z0-9_.-]+\.parquet$")
# procsim's temporaries: this version's (".events.csv.123-9f3a1c2b.part", a SQLite journal beside one) and the
# fixed names earlier versions used for their outputs (".events.csv.part"): only these are ever cleared as stale
TEMP = re.compile(r"^\.(?:[^/\\]+\.\d+-[0-9a-f]{8}\.part(?:-journal|-wal|-shm)?"
                  r"|(?:events|cases|labels|ocel|manifest|documents)[\w.]*\.part(?:-journal)?)$")


class FolderError(ProcsimError):
    """The output folder is not procsim's to write, or another run is writing it (exit code 2)."""

    exit_code = 2


class OutputError(ProcsimError):
    """The machine, not the input, stopped the run: a full disk, a file size limit, a folder that cannot be
    written (exit code 1). The message names the file and the cause."""

    exit_code = 1


_CAUSES = {errno.ENOSPC: "the disk is full", errno.EFBIG: "the file grew over the size limit",
           errno.EDQUOT: "the disk quota is used up", errno.EROFS: "the file system is read-only",
           errno.EACCES: "permission denied", errno.EPERM: "permission denied"}


def os_error(e: OSError, path: Path | str) -> OutputError:
    """A plain one-line message for an ``OSError`` met while writing ``path``."""
    code = e.errno
    if code is None:  # pyarrow's IO errors carry the errno only in their text
        m = re.search(r"\[errno (\d+)\]", str(e), re.IGNORECASE)
        code = int(m.group(1)) if m else None
    reason = os.strerror(code) if code is not None else (str(e).splitlines() or ["input/output error"])[0]
    hint = _CAUSES.get(code) if code is not None else None
    hint = f" ({hint})" if hint and hint.lower() != reason.lower() else ""
    return OutputError(f"{path}: cannot write: {reason}{hint}")


class RunFolder:
    """An output folder opened for one run: locked, its ownership read, stale temporaries cleared.

    Use as a context manager; ``release`` (or leaving the block) unlocks it."""

    def __init__(self, out: Path, entries: Iterable[str], *, force: bool = False) -> None:
        self.out = out
        self.report = False  # set by a run that writes report.html after its commit (manifest "report")
        self.tag = f"{os.getpid()}-{secrets.token_hex(4)}"  # temporaries unique per run (not in any output)
        self._fd: int | None = None
        self.entries = list(dict.fromkeys([*entries, MANIFEST]))
        # the Parquet datasets an earlier run wrote here: name -> its parts (None: known only from the journal)
        self.datasets: dict[str, set[str] | None] = {}
        if out.exists() and not out.is_dir():
            raise UsageError(f"--out {out}: a file is in the way; give a folder")
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise os_error(e, out) from None
        self.real = out.resolve()
        ours = self._looks_ours()
        if not ours and not force:
            raise FolderError(f"--out {out}: the folder is not empty and procsim did not make it; choose an empty "
                             "or new folder, or give --force to add procsim's files to it (files procsim did not "
                             "write are never replaced or removed)")
        self._lock()
        try:
            self.owned = self._owned() if ours else set()
            self._check_conflicts()
            if ours:
                self._clear_stale()
        except BaseException:
            self.release()
            raise

    # -- opening ---------------------------------------------------------------------------------------

    def _looks_ours(self) -> bool:
        names = os.listdir(self.real)
        if not names or LOCK in names or JOURNAL in names:
            return True
        if MANIFEST in names and self._read_manifest() is not None:
            return True
        return all(TEMP.match(n) for n in names)

    def _read_manifest(self) -> dict[str, Any] | None:
        p = self.real / MANIFEST
        if p.is_symlink() or not p.is_file():
            return None
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            return None
        if not isinstance(data, dict) or "procsim_version" not in data or not isinstance(data.get("files"), dict):
            return None
        return data

    def _lock(self) -> None:
        path = self.real / LOCK
        while True:
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0),
                             0o644)
            except OSError as e:
                if e.errno == errno.ELOOP:
                    raise FolderError(f"{path}: is a symbolic link; procsim did not make it") from None
                raise os_error(e, path) from None
            if fcntl is None:  # pragma: no cover - no flock on this platform
                self._fd = fd
                return
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                os.close(fd)
                if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise FolderError(f"--out {self.out}: another procsim run is writing into this folder; wait "
                                     "for it to finish or choose another --out") from None
                raise os_error(e, path) from None
            # the run before may have removed the lock file between our open and our lock: lock the file
            # that is there now, or two runs could each hold a lock on a different file
            try:
                same = os.path.samestat(os.fstat(fd), os.lstat(path))
            except FileNotFoundError:
                same = False
            if same:
                self._fd = fd
                return
            os.close(fd)

    def release(self) -> None:
        """Remove the lock file and unlock (in that order: see ``_lock``)."""
        if self._fd is None:
            return
        try:
            (self.real / LOCK).unlink(missing_ok=True)
        except OSError:
            pass  # a lock file left behind is harmless: the next run takes it over
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> RunFolder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _owned(self) -> set[str]:
        owned: set[str] = set()
        m = self._read_manifest()
        if m is not None:
            files = {n: meta for n, meta in m["files"].items() if isinstance(n, str) and _plain(n)}
            owned |= {MANIFEST, *files}
            if m.get("report") == REPORT:  # the page `run --report` wrote beside this log: stale without it
                owned.add(REPORT)
            if DOCUMENTS in (m.get("formats") or ()):
                owned.discard("index.csv")  # the documents index is listed by its name inside documents/
                owned.add(DOCUMENTS)
            for n, meta in list(files.items()):
                parts = meta.get("parts") if isinstance(meta, dict) else None
                if isinstance(parts, dict):  # a dataset: ours while every part has the size procsim wrote
                    del files[n]
                    names = {k for k in parts if isinstance(k, str) and PART.match(k)}
                    d = self.real / n
                    if d.is_dir() and not d.is_symlink() and all(
                            _size(d / k) == (parts[k].get("bytes") if isinstance(parts[k], dict) else None)
                            for k in names if os.path.lexists(d / k)):
                        self.datasets[n] = names
                    else:
                        owned.discard(n)
            # a file whose size is no longer the one procsim wrote was changed by someone: it is theirs now
            # (the size, not the sha256: reading gigabytes back at every start would cost seconds)
            for n, meta in files.items():
                size = meta.get("bytes") if isinstance(meta, dict) else None
                p = self.real / DOCUMENTS / n if n == "index.csv" and DOCUMENTS in owned else self.real / n
                try:
                    changed = isinstance(size, int) and p.lstat().st_size != size
                except OSError:
                    changed = False  # gone: nothing to protect
                if changed:
                    owned.discard(DOCUMENTS if p.parent.name == DOCUMENTS and n == "index.csv" else n)
        j = self.real / JOURNAL
        if j.is_file() and not j.is_symlink():
            try:
                listed = json.loads(j.read_text(encoding="utf-8")).get("owned", [])
            except (OSError, UnicodeDecodeError, ValueError, AttributeError):
                listed = []
            owned |= {n for n in listed if isinstance(n, str) and _plain(n)}
            for n in owned - {DOCUMENTS}:  # a dataset the journal names, its parts unknown: procsim's part names
                d = self.real / n
                if n not in self.datasets and d.is_dir() and not d.is_symlink():
                    self.datasets[n] = None
        return owned

    def _check_conflicts(self) -> None:
        problems = []
        for name in self.entries:
            p = self.real / name
            if not os.path.lexists(p):
                continue
            if p.is_symlink():
                problems.append(f"{self.out / name}: is a symbolic link; procsim did not make it")
            elif name not in self.owned:
                problems.append(f"{self.out / name}: exists and procsim did not write it")
            elif name in self.datasets or (name != DOCUMENTS and p.is_dir()):
                foreign = self._foreign_parts(name)
                if foreign:
                    shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
                    problems.append(f"{self.out / name}: holds files procsim did not write ({shown})")
            elif name == DOCUMENTS:
                foreign = self._foreign_documents()
                if foreign:
                    shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
                    problems.append(f"{self.out / name}: holds files procsim did not write ({shown})")
        if problems:
            raise FolderError("\n".join(problems) + "\nmove them elsewhere or choose another --out (procsim "
                             "replaces only files an earlier procsim run wrote)")

    def _documents_of(self) -> set[str] | None:
        """The names an earlier run wrote into ``documents/`` (its index and, per document, the file and its
        JSON), or None when the index cannot be read."""
        index = self.real / DOCUMENTS / "index.csv"
        if index.is_symlink() or not index.is_file():
            return None
        names = {"index.csv"}
        try:
            with index.open(encoding="utf-8", newline="") as f:
                for row in csv.DictReader(f):
                    rel = (row.get("path") or "").removeprefix(f"{DOCUMENTS}/")
                    if _plain(rel):
                        names.add(rel)
                        names.add(f"{row.get('document_id') or ''}.json")
        except (OSError, UnicodeDecodeError, csv.Error):
            return None
        return names

    def _foreign_documents(self) -> list[str]:
        ours = self._documents_of() or set()
        with os.scandir(self.real / DOCUMENTS) as it:  # the entry types come with the listing: no stat per file
            return sorted(e.name for e in it if e.name not in ours or not e.is_file(follow_symlinks=False))

    def _foreign_parts(self, name: str) -> list[str]:
        """The entries of a dataset folder that are not its parts (all of them when it is not a dataset of ours)."""
        ours = self.datasets.get(name)
        with os.scandir(self.real / name) as it:
            return sorted(e.name for e in it if not e.is_file(follow_symlinks=False) or (
                name not in self.datasets or (e.name not in ours if ours is not None else not PART.match(e.name))))

    def _remove_dataset(self, name: str) -> None:
        """Remove an earlier run's dataset folder: its parts, then the folder (kept if anything else is in it)."""
        d = self.real / name
        ours = self.datasets.get(name)
        for e in sorted(os.listdir(d)):
            p = d / e
            if (e in ours if ours is not None else bool(PART.match(e))) and p.is_file() and not p.is_symlink():
                p.unlink()
        try:
            d.rmdir()
        except OSError:
            pass  # files of the user's own are in it: it stays, with them (the rename onto it then fails)
        self.datasets.pop(name, None)

    def _clear_stale(self) -> None:
        # under the lock: no other run is writing, so every procsim temporary here is a leftover
        for n in sorted(os.listdir(self.real)):
            if not TEMP.match(n):
                continue
            p = self.real / n
            try:
                _remove(p)
            except OSError as e:
                raise os_error(e, p) from None

    # -- writing ---------------------------------------------------------------------------------------

    def discard_temporaries(self) -> None:
        """Remove every temporary of this run (after a failure, once the writer has stopped): the sinks remove
        their own, this catches one a sink made but an interrupt kept from being known."""
        mark = f".{self.tag}.part"
        try:
            names = [n for n in os.listdir(self.real) if mark in n]
        except OSError:
            return
        for n in names:
            try:
                _remove(self.real / n)
            except OSError:
                pass  # cleaning up after a failure: the first error is what the user sees

    def temp(self, name: str) -> Path:
        """This run's temporary name for ``name`` (not created)."""
        assert _plain(name), name
        return self.out / f".{name}.{self.tag}.part"

    def begin_commit(self, written: Iterable[str], datasets: Iterable[str] = ()) -> None:
        """Before the first rename: record old and new names in the journal, then remove the old manifest
        (from here until the new one is written, the folder has none: it no longer describes the files).

        ``datasets`` are the names this run writes as folders (Parquet datasets): a file of an earlier run's under
        such a name, and an earlier run's dataset under any name this run writes, go before the renames."""
        self.written = set(written) | {MANIFEST}
        dirs = set(datasets)
        try:
            moved = self.out.resolve() != self.real
        except OSError:
            moved = True
        if moved:  # the folder was replaced (by a link elsewhere, say) while the run wrote: rename nothing
            raise OutputError(f"--out {self.out}: the folder was moved or replaced during the run")
        names = sorted(self.owned | self.written)
        self._write(JOURNAL, json.dumps({"owned": names}) + "\n")
        try:
            (self.real / MANIFEST).unlink(missing_ok=True)
        except OSError as e:
            raise os_error(e, self.out / MANIFEST) from None
        for name in sorted((self.written & self.owned) - {MANIFEST, DOCUMENTS}):
            p = self.real / name
            try:
                if name in self.datasets:
                    self._remove_dataset(name)
                elif name in dirs and (p.is_symlink() or p.is_file()):
                    p.unlink()
            except OSError as e:
                raise os_error(e, self.out / name) from None

    def finish_commit(self, manifest_text: str) -> Path:
        """After the renames: remove what earlier runs wrote that this one did not, write the manifest, drop
        the journal."""
        for name in sorted(self.owned - self.written):
            p = self.real / name
            try:
                if name == DOCUMENTS:
                    self._remove_documents(p)
                elif name in self.datasets:
                    self._remove_dataset(name)
                elif p.is_symlink() or p.is_file():
                    p.unlink()
            except OSError as e:
                raise os_error(e, self.out / name) from None
        path = self._write(MANIFEST, manifest_text)
        try:
            (self.real / JOURNAL).unlink(missing_ok=True)
        except OSError as e:
            raise os_error(e, self.out / JOURNAL) from None
        return path

    def add_file(self, name: str, text: str) -> Path:
        """Write a small output of this run's (named in ``begin_commit``) in one piece, exclusively, during the
        commit."""
        assert name in self.written, name
        return self._write(name, text)

    def _remove_documents(self, folder: Path) -> None:
        if folder.is_symlink() or not folder.is_dir():
            return
        ours = self._documents_of()
        if ours is None:
            return
        for n in sorted(ours - {"index.csv"}) + ["index.csv"]:  # the index last: it says what is ours
            p = folder / n
            if p.is_symlink() or p.is_file():
                p.unlink()
        try:
            folder.rmdir()
        except OSError:
            pass  # files of the user's own are in it: it stays, with them

    def _write(self, name: str, text: str) -> Path:
        final = self.out / name
        tmp = self.temp(name)
        try:
            with open(tmp, "x", encoding="utf-8") as f:  # "x": O_EXCL, never through a planted link
                f.write(text)
            os.replace(tmp, final)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise os_error(e, final) from None
        return final


def write_whole(path: Path, text: str) -> Path:
    """Write a small text file whole or not at all: an exclusive temporary unique to this process (never through a
    planted link, never one another process uses), renamed when complete. OSError is the caller's to report."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.part")
    try:
        with open(tmp, "x", encoding="utf-8") as f:  # "x": O_EXCL
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _remove(p: Path) -> None:
    """Remove a temporary: a folder (documents/ being written) with its contents, anything else (a link too) alone."""
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p)
    else:
        p.unlink()


def _size(p: Path) -> int | None:
    try:
        return p.lstat().st_size
    except OSError:
        return None


def _plain(name: str) -> bool:
    """A bare file name: no separator, not '.' or '..', no NUL."""
    return bool(name) and name not in (".", "..") and not any(c in name for c in "/\\\x00")


__all__ = ["RunFolder", "FolderError", "OutputError", "os_error", "LOCK", "JOURNAL", "TEMP", "PART", "parse_out",
           "RemoteOut"]


# -- --out as an fsspec URL ---------------------------------------------------------------------------------


def parse_out(out: str | Path) -> Path | RemoteOut:
    """``--out``: a local folder (a path, or a ``file://`` URL: everything above holds), or another fsspec URL
    (``memory://``, ``s3://`` with the ``s3`` extra, ...) as a ``RemoteOut``. A bad URL is a UsageError."""
    if isinstance(out, Path) or "://" not in out:
        return Path(out)
    from urllib.parse import urlparse

    scheme = out.split("://", 1)[0].lower()
    if scheme == "file":
        u = urlparse(out)
        if u.netloc not in ("", "localhost") or not u.path:
            raise UsageError(f"--out {out}: a file:// URL names a local folder: file:///absolute/path")
        return Path(u.path)
    try:
        import fsspec  # type: ignore[import-untyped]  # fsspec ships no type information
    except ImportError:
        raise UsageError(f"--out {out}: an URL output needs fsspec: pip install 'procsim[s3]' (or fsspec)") from None
    try:
        fs, path = fsspec.core.url_to_fs(out)
    except ImportError as e:
        extra = " pip install 'procsim[s3]'" if scheme in ("s3", "s3a") else ""
        raise UsageError(f"--out {out}: the '{scheme}' file system needs a package that is not installed ({e})."
                         f"{extra}") from None
    except (ValueError, KeyError) as e:
        raise UsageError(f"--out {out}: not an output location procsim can write ({e}); give a folder, file:///path, "
                         "memory://name or s3://bucket/prefix") from None
    path = path.rstrip("/")
    if not path:
        raise UsageError(f"--out {out}: give a folder inside the location, e.g. {scheme}://bucket/run1")
    return RemoteOut(out.rstrip("/"), fs, path)


class RemoteOut:
    """An fsspec location a run's files are copied to: the run writes into a local staging folder (with every
    rule of ``RunFolder``), then ``publish`` uploads them, the manifest last.

    What holds: only names an earlier procsim run listed in its manifest there are replaced or removed (a
    non-empty location without a procsim manifest is refused unless ``force``; even then a file procsim did not
    write under a name this run writes is refused); the old manifest goes first and the new one comes last, so a
    manifest present vouches for the files beside it. What does not: there is no lock (two runs into one location
    may interleave), and the files do not appear all at once (each object is whole when it appears)."""

    def __init__(self, url: str, fs: Any, path: str) -> None:
        self.url = url
        self.fs = fs
        self.path = path

    def _manifest(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.fs.cat_file(f"{self.path}/{MANIFEST}").decode("utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            return None
        if not isinstance(data, dict) or "procsim_version" not in data or not isinstance(data.get("files"), dict):
            return None
        return data

    def _names(self) -> set[str]:
        try:
            listing = self.fs.ls(self.path, detail=False)
        except (FileNotFoundError, NotADirectoryError):
            return set()
        except OSError as e:
            raise OutputError(f"--out {self.url}: cannot read the location ({e})") from None
        return {str(n).rstrip("/").rsplit("/", 1)[-1] for n in listing} - {""}

    def _owned(self, m: dict[str, Any] | None) -> set[str]:
        if m is None:
            return set()
        owned = {MANIFEST} | {n for n in m["files"] if isinstance(n, str) and _plain(n)}
        if m.get("report") == REPORT:
            owned.add(REPORT)
        if DOCUMENTS in (m.get("formats") or ()):
            owned.discard("index.csv")
            owned.add(DOCUMENTS)
        return owned

    def check(self, force: bool) -> None:
        """Before the run: refuse a location that is not procsim's (as ``RunFolder`` does for a folder)."""
        names = self._names()
        if names and self._manifest() is None and not force:
            raise FolderError(f"--out {self.url}: the location is not empty and procsim did not write it; choose "
                             "an empty or new one, or give --force to add procsim's files (files procsim did not "
                             "write are never replaced or removed)")

    def publish(self, stage: Path) -> list[str]:
        """Upload the staged run: refuse names procsim did not write, remove the old manifest, put every file
        (folders whole), remove what the earlier run wrote that this one did not, put the manifest last."""
        names = self._names()
        owned = self._owned(self._manifest())
        written = sorted(n for n in os.listdir(stage) if n != MANIFEST and n != LOCK)
        foreign = [n for n in written if n in names and n not in owned]
        if foreign:
            raise FolderError("\n".join(f"{self.url}/{n}: exists and procsim did not write it" for n in foreign)
                              + "\nmove them elsewhere or choose another --out (procsim replaces only files an "
                              "earlier procsim run wrote)")
        fs, root = self.fs, self.path
        try:
            fs.makedirs(root, exist_ok=True)
            if MANIFEST in names:
                fs.rm_file(f"{root}/{MANIFEST}")
            for n in written:
                local, remote = stage / n, f"{root}/{n}"
                if n in names:  # an earlier run's: replaced whole (a folder's old files never mixed in)
                    fs.rm(remote, recursive=True)
                if local.is_dir():
                    for p in sorted(local.rglob("*")):
                        rel = p.relative_to(local).as_posix()
                        if p.is_dir():
                            fs.makedirs(f"{remote}/{rel}", exist_ok=True)
                        elif p.is_file():
                            fs.makedirs(remote, exist_ok=True)
                            fs.put_file(str(p), f"{remote}/{rel}")
                else:
                    fs.put_file(str(local), remote)
            for n in sorted((owned & names) - set(written) - {MANIFEST}):
                fs.rm(f"{root}/{n}", recursive=True)
            fs.put_file(str(stage / MANIFEST), f"{root}/{MANIFEST}")
        except OSError as e:
            raise OutputError(f"--out {self.url}: cannot write: {e}") from None
        return [f"{self.url}/{n}" for n in written] + [f"{self.url}/{MANIFEST}"]
