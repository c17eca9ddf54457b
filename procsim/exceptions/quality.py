"""Data-quality faults: what a value looks like after a person or a system recorded it badly.

A process's ``data_quality:`` section names a case attribute (``field``), a ``fault`` and a per-case ``rate``:

* ``typo``: a keyboard neighbour, two letters swapped, or an OCR confusion (0/O, 1/l, 5/S, rn/m ...);
* ``missing``: no value (the only fault a number, integer or bool column can hold: the others make text);
* ``format``: another casing, stray whitespace, a decimal comma, a date written day-first;
* ``duplicate``: the value as a duplicated master record spells it ("ACME GmbH" vs "Acme GmbH."): the
  variant depends on the value alone, so every case that hits the duplicate of one supplier shows the same
  duplicate record (``duplicate_record`` is what master-data objects will use for their duplicates);
* ``encoding``: UTF-8 read as Windows-1252 (mojibake: "Müller" -> "MÃ¼ller"); a value in plain ASCII has
  nothing to garble and stays as it is (nothing is labelled).

The simulation works with the true value (rules route on it); the records show the recorded one: the event
log, cases.csv, the objects and the documents rendered from them. ``field_labels.csv`` is the ground truth, one
row per case, field and (original, recorded) pair with the events that carry it.

Randomness: whether a case is hit and how is drawn from a stream of its own (``STREAM_QUALITY``) per case, so a
process without faults, or with faults on other fields, keeps its bytes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from hashlib import blake2b
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from procsim.sim.streams import STREAM_QUALITY, CaseStreams

FAULTS = ("typo", "missing", "format", "duplicate", "encoding")
TEXT_ONLY = ("typo", "format", "duplicate", "encoding")  # faults that make text (a typed column cannot hold it)


class QualityFault(BaseModel):
    """One ``data_quality:`` entry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str
    fault: Literal["typo", "missing", "format", "duplicate", "encoding"]
    rate: Annotated[float, Field(ge=0, le=1)]
    description: str = ""


# neighbours on a German (QWERTZ) keyboard, the process examples' locale; letters only, lower case
_ROWS = ("qwertzuiopü", "asdfghjklöä", "yxcvbnm")
_NEIGHBOURS: dict[str, str] = {}
for _r, _row in enumerate(_ROWS):
    for _i, _ch in enumerate(_row):
        near = [_row[j] for j in (_i - 1, _i + 1) if 0 <= j < len(_row)]
        for _o in (_r - 1, _r + 1):
            if 0 <= _o < len(_ROWS):
                near += [_ROWS[_o][j] for j in (_i - 1, _i, _i + 1) if 0 <= j < len(_ROWS[_o])]
        _NEIGHBOURS[_ch] = "".join(near)
_OCR = (("rn", "m"), ("m", "rn"), ("cl", "d"), ("0", "O"), ("O", "0"), ("1", "l"), ("l", "1"), ("5", "S"),
        ("S", "5"), ("8", "B"), ("B", "8"), ("I", "l"), ("e", "c"), ("u", "v"))
_LEGAL = ((" GmbH", " GmbH."), (" AG", " AG."), (" KG", " KG."), (" GmbH & Co. KG", " GmbH&Co.KG"),
          (" e.K.", " eK"), (" Ltd.", " Ltd"), (" SE", " S.E."))


def _pick(u: float, n: int) -> int:
    return min(int(u * n), n - 1)


def typo(value: str, u: Sequence[float]) -> tuple[str, str]:
    """(recorded value, kind) for a typo at a position ``u[1]`` chooses, of the kind ``u[0]`` chooses."""
    kinds = ["keyboard", "transposition", "ocr"]
    start = _pick(u[0], 3)
    for k in kinds[start:] + kinds[:start]:  # a kind that cannot apply to this value passes to the next
        if k == "keyboard":
            pos = [i for i, c in enumerate(value) if c.lower() in _NEIGHBOURS]
            if pos:
                i = pos[_pick(u[1], len(pos))]
                near = _NEIGHBOURS[value[i].lower()]
                c = near[_pick(u[2], len(near))]
                return value[:i] + (c.upper() if value[i].isupper() else c) + value[i + 1:], "typo:keyboard"
        elif k == "transposition":
            pos = [i for i in range(len(value) - 1) if value[i] != value[i + 1] and value[i].isalnum()
                   and value[i + 1].isalnum()]
            if pos:
                i = pos[_pick(u[1], len(pos))]
                return value[:i] + value[i + 1] + value[i] + value[i + 2:], "typo:transposition"
        else:
            hits = [(m.start(), a, b) for a, b in _OCR for m in re.finditer(re.escape(a), value)]
            if hits:
                i, a, b = sorted(hits)[_pick(u[1], len(hits))]
                return value[:i] + b + value[i + len(a):], "typo:ocr"
    return value, "typo"


_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
_DECIMAL = re.compile(r"^-?\d+\.\d+$")


def reformat(value: str, u: Sequence[float]) -> tuple[str, str]:
    """(recorded value, kind): a date day-first, a decimal comma, other casing or stray whitespace."""
    m = _DATE.match(value)
    if m:
        return f"{m.group(3)}.{m.group(2)}.{m.group(1)}{value[10:]}", "format:date"
    if _DECIMAL.match(value):
        return value.replace(".", ","), "format:decimal_separator"
    options = []
    if value.upper() != value:
        options.append((value.upper(), "format:casing"))
    if value.lower() != value:
        options.append((value.lower(), "format:casing"))
    options += [(value + " ", "format:whitespace"), (" " + value, "format:whitespace")]
    if " " in value:
        options.append((value.replace(" ", "  ", 1), "format:whitespace"))
    return options[_pick(u[1], len(options))]


def duplicate_record(value: str) -> str:
    """How a duplicated master record spells ``value``: the same variant for the same value, always (it is
    one record), whoever asks: another casing, a legal form written differently, a trailing full stop."""
    h = blake2b(value.encode(), digest_size=8).digest()
    out = value
    for a, b in _LEGAL:
        if out.endswith(a):
            out = out[: -len(a)] + b
            break
        if out.endswith(b):
            out = out[: -len(b)] + a
            break
    else:
        out = out[:-1] if out.endswith(".") else out + "."
    if h[0] % 2 == 0 or out == value:
        words = out.split(" ")
        k = h[1] % len(words)
        w = words[k]
        words[k] = w.capitalize() if w.isupper() and len(w) > 1 else (w.upper() if len(w) <= 5 else w.lower())
        out = " ".join(words)
    return out


def mojibake(value: str) -> str:
    """UTF-8 bytes read as Windows-1252, as an import with the wrong encoding shows them."""
    return value.encode("utf-8").decode("cp1252", errors="replace")


def apply(fault: str, value: Any, u: Sequence[float]) -> tuple[Any, str]:
    """(recorded value, fault kind) of ``value`` under ``fault``; the value itself when nothing changes."""
    if value is None:
        return None, fault
    if fault == "missing":
        return None, "missing"
    text = value if isinstance(value, str) else str(value)
    if fault == "typo":
        return typo(text, u)
    if fault == "format":
        return reformat(text, u)
    if fault == "duplicate":
        return duplicate_record(text), "duplicate"
    return mojibake(text), "encoding"


class Quality:
    """The run's data-quality faults: which cases they hit (decided when a case opens), and the recorded
    version of an attribute snapshot."""

    def __init__(self, faults: Sequence[QualityFault], attr_names: Sequence[str], seed: int) -> None:
        self.faults = list(faults)
        self.index = [list(attr_names).index(f.field) for f in faults]
        self.streams = CaseStreams(seed, STREAM_QUALITY)
        self.hits: dict[int, list[tuple[int, str, tuple[float, float, float]]]] = {}  # case -> (column, fault, u)

    def open_case(self, idx: int) -> None:
        g = self.streams.get(idx)
        draws = g.random(4 * len(self.faults))  # a fixed number per case: one fault never shifts another's
        self.streams.put(g)
        hit: list[tuple[int, str, tuple[float, float, float]]] = [(self.index[k], f.fault, (float(draws[4 * k + 1]), float(draws[4 * k + 2]), float(draws[4 * k + 3])))
               for k, f in enumerate(self.faults) if draws[4 * k] < f.rate]
        if hit:
            self.hits[idx] = hit

    def recorded(self, idx: int, snap: tuple[Any, ...]) -> tuple[tuple[Any, ...], list[tuple[int, Any, Any, str]]]:
        """The snapshot as recorded, and (column, original, recorded, kind) of each value a fault changed."""
        values = list(snap)
        kinds: dict[int, str] = {}
        for col, fault, u in self.hits[idx]:
            old = values[col]
            new, kind = apply(fault, old, u)
            if new != old:
                values[col] = new
                kinds[col] = f"{kinds[col]}+{kind}" if col in kinds else kind  # two faults on one field
        return tuple(values), [(col, snap[col], values[col], kind) for col, kind in kinds.items()]
