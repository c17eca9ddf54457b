"""``documents/``: one rendered business document per object, its data as JSON, and ``documents/index.csv``.

Documents are rendered from the finished cases' objects (``CaseBatch.objects``), the very records the OCEL
sinks write. Everything goes into ``.documents.part/`` and is renamed to ``documents/`` at ``close``, so a
folder named ``documents`` is always complete; a render error stops the run and ``abort`` removes the part.
``filename`` is the index: the run's clean-up and the manifest see one file (``index.csv``, with its hash),
not thousands.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from procsim.documents import DocumentSet
from procsim.errors import ProcsimError
from procsim.records import CaseBatch
from procsim.sinks.base import Sink, SinkContext

INDEX_COLUMNS = ("document_id", "type", "case_id", "event_id", "path", "created_at")
FOLDER = "documents"


def _json_default(v: Any) -> Any:
    if isinstance(v, Decimal):
        return str(v)
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v)


# one line, by the C encoder (an indent would switch to the pure-Python one, at twice the cost of a render)
_dumps = json.JSONEncoder(ensure_ascii=False, default=_json_default).encode
# O_EXCL: every file is new in this run's own folder, so one that exists (or a link) is never written through
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)


def _write(path: Path, text: str) -> None:
    # two files per document: the bare system calls, without a buffered text wrapper each time
    fd = os.open(path, _FLAGS, 0o644)
    try:
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)


class DocumentsSink(Sink):
    """``documents/``: the business documents rendered from the run's templates, listed in ``index.csv``."""

    format = "documents"
    filename = "index.csv"
    entry = FOLDER

    def __init__(self, ctx: SinkContext) -> None:
        super().__init__(ctx)
        spec = ctx.extra.get("spec")
        docs = getattr(spec, "_documents", None) if spec is not None else None
        if spec is not None and spec.documents and not isinstance(docs, DocumentSet):
            raise ProcsimError("documents: the process was loaded without its document checks "
                               "(procsim.documents.check_documents)")
        self.docs = docs if isinstance(docs, DocumentSet) else DocumentSet("en_US", {})
        self.folder = ctx.out_dir / FOLDER
        self.temp = self.claim(FOLDER, folder=True)  # a new, empty folder of this run's: nothing planted in it
        self._index: IO[str] = (self.temp / "index.csv").open("x", encoding="utf-8", newline="")
        self._csv = csv.writer(self._index, lineterminator="\n")
        self._csv.writerow(INDEX_COLUMNS)
        self.n_documents = 0

    def write_cases(self, batch: CaseBatch) -> None:
        objects = batch.objects
        if not objects or not self.docs.by_type:
            return
        by_type = self.docs.by_type
        by_id = {o.id: o for o in objects}
        rows = []
        temp = self.temp
        for obj in objects:
            for doc in by_type.get(obj.type, ()):
                if not self.docs.wanted(doc, obj):
                    continue
                ctx = self.docs.context(doc, obj, by_id)
                text = self.docs.render(doc, ctx)
                stem = obj.id + doc.stem_suffix
                name = f"{stem}.{doc.ext}"
                if not _safe_name(name):  # numbers are checked at load; this guards every path written
                    raise ProcsimError(f"documents.{doc.name}: {name!r} is not a safe file name")
                data = {"document_id": stem, "type": doc.name, "object_type": obj.type, "template": doc.path,
                        "case_id": obj.case_id, "event_id": obj.event_id, "created_at": obj.time,
                        "fields": {k: v for k, v in ctx.items() if k not in _NOT_FIELDS}, "items": ctx["items"],
                        "totals": ctx["totals"],
                        "refs": {k: (r["number"] if r else None) for k, r in ctx["refs"].items()},
                        "case": ctx["case"]}
                if obj.discrepancies:  # a document exception's ground truth: the fields it changed
                    data["discrepancies"] = [{"exception": label, "fields": fields}
                                             for label, fields in obj.discrepancies]
                _write(temp / f"{stem}.json", _dumps(data) + "\n")
                _write(temp / name, text)
                rows.append((stem, doc.name, obj.case_id, obj.event_id, f"{FOLDER}/{name}", obj.time))
        self._csv.writerows(rows)
        self.n_documents += len(rows)

    def _finish(self) -> None:
        if not self._index.closed:
            self._index.close()

    def close(self) -> list[Path]:
        self._finish()
        if self.folder.is_symlink():
            raise ProcsimError(f"{self.folder}: is a symbolic link; procsim did not make it")
        if self.folder.exists():
            # an earlier run's documents (procsim.outdir checked at the start that it holds only those):
            # replaced whole, never mixed
            shutil.rmtree(self.folder)
        os.replace(self.temp, self.folder)
        return [self.folder / "index.csv"]

    def abort(self) -> None:
        self._finish()
        shutil.rmtree(self.temp, ignore_errors=True)


def _safe_name(name: str) -> bool:
    return (0 < len(name) <= 255 and not name.startswith(".") and "/" not in name and "\\" not in name
            and not any(ord(c) < 32 or ord(c) == 127 for c in name))


_NOT_FIELDS = frozenset(("number", "document", "object_type", "case_id", "event_id", "created_at", "updated_at",
                         "items", "totals", "refs", "case", "locale"))
