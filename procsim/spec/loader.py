"""Reading YAML (1.2, ruamel.yaml) into plain Python data plus a source map of positions.

This module owns the translation of every problem in a YAML file, including pydantic's error data,
into ``Problem``s that name ``file:line:col`` and the key path. Nothing past the loader sees YAML.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.composer import Composer, ComposerError, MaxDepthExceededError
from ruamel.yaml.constructor import ConstructorError, RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.events import AliasEvent
from ruamel.yaml.nodes import MappingNode, Node, SequenceNode

from procsim.errors import Problem, SpecError, suggest
from procsim.limits import YAML_MAX_ALIASES, YAML_MAX_BYTES, YAML_MAX_DEPTH, YAML_MAX_NODES

Loc = tuple[str | int, ...]


@dataclass
class SourceMap:
    """Positions (1-based line, col) of every key and value of one YAML document."""

    file: str
    text: str
    values: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Loc, tuple[int, int]] = field(default_factory=dict)

    def value_pos(self, loc: Sequence[str | int]) -> tuple[int, int]:
        """Position of the value at ``loc``, or of its nearest ancestor that has one."""
        loc = tuple(loc)
        while loc:
            if loc in self.values:
                return self.values[loc]
            loc = loc[:-1]
        return self.values.get((), (1, 1))

    def key_pos(self, loc: Sequence[str | int]) -> tuple[int, int]:
        loc = tuple(loc)
        if loc in self.keys:
            return self.keys[loc]
        return self.value_pos(loc)

    def line_text(self, line: int) -> str:
        lines = self.text.splitlines()
        return lines[line - 1] if 0 < line <= len(lines) else ""

    def problem(self, loc: Sequence[str | int], msg: str, code: str = "invalid", *, at_key: bool = False,
                offset: int | None = None) -> Problem:
        """A problem at ``loc``; ``offset`` points inside a one-line scalar (an expression) with a caret."""
        line, col = self.key_pos(loc) if at_key else self.value_pos(loc)
        if offset is None:
            return Problem(self.file, line, col, dotted(loc), msg, code)
        text = self.line_text(line)
        start = col - 1
        quoted = start < len(text) and text[start] in "'\""
        inner = start + (1 if quoted else 0)
        if start < len(text) and text[start] in "|>":
            # a block scalar: its text starts on a later line; point at the indicator
            return Problem(self.file, line, col, dotted(loc), msg, code)
        source = self._scalar_text(text, inner, quoted)
        return Problem(self.file, line, inner + offset + 1, dotted(loc), msg, code,
                       source=source, caret=offset)

    @staticmethod
    def _scalar_text(text: str, start: int, quoted: bool) -> str:
        rest = text[start:]
        if quoted:
            q = text[start - 1]
            end = rest.find(q)
            return rest if end < 0 else rest[:end]
        cut = rest.find(" #")
        return (rest if cut < 0 else rest[:cut]).rstrip().rstrip(",}]").rstrip()


def dotted(loc: Iterable[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _plain(node: Any, loc: Loc, smap: SourceMap) -> Any:
    """Convert ruamel's round-trip nodes to plain Python types, recording positions."""
    if isinstance(node, CommentedMap):
        out: dict[Any, Any] = {}
        for k in node:
            key = _plain_scalar(k)
            kloc = loc + (key if isinstance(key, (str, int)) else str(key),)
            try:
                kl, kc = node.lc.key(k)
                vl, vc = node.lc.value(k)
            except (KeyError, TypeError):
                # a key merged in with '<<: *anchor' has no position of its own here: point at the mapping
                kl, kc = vl, vc = node.lc.line, node.lc.col
            smap.keys[kloc] = (kl + 1, kc + 1)
            smap.values[kloc] = (vl + 1, vc + 1)
            out[key] = _plain(node[k], kloc, smap)
        return out
    if isinstance(node, CommentedSeq):
        items = []
        for i, item in enumerate(node):
            il, ic = node.lc.item(i)
            smap.values[loc + (i,)] = (il + 1, ic + 1)
            items.append(_plain(item, loc + (i,), smap))
        return items
    return _plain_scalar(node)


def _plain_scalar(v: Any) -> Any:
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, dt.datetime):
        return dt.datetime(v.year, v.month, v.day, v.hour, v.minute, v.second, v.microsecond, tzinfo=v.tzinfo)
    if isinstance(v, dt.date):
        return dt.date(v.year, v.month, v.day)
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        return float(v)
    if isinstance(v, str):
        return str(v)
    return v


class _LimitError(ComposerError):
    """A YAML document beyond one of the bounds in ``procsim.limits``."""


class _BoundedComposer(Composer):
    """ruamel's composer with a budget: nodes after alias expansion, alias uses and depth.

    An alias is a reference, so a few hundred bytes of nested anchors ("billion laughs") describe billions of
    nodes; converting them to plain data (or validating them) would take minutes and gigabytes. Each composed
    node's expanded size and height are memoised, so the check costs one addition per node and refuses the
    alias that crosses a bound at its own line, before anything is expanded.
    """

    def compose_document(self) -> Any:
        self._sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded nodes, expanded height)
        self._total = 0
        self._aliases = 0
        return super().compose_document()

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.parser.check_event(AliasEvent):
            event = self.parser.peek_event()
            target = self.anchors.get(event.anchor)
            if target is not None:
                self._aliases += 1
                size, height = self._sizes.get(id(target), (-1, 0))
                why = None
                if size < 0:
                    why = f"alias *{event.anchor} refers to a node that contains it (a recursive structure)"
                elif self._aliases > YAML_MAX_ALIASES:
                    why = f"more than {YAML_MAX_ALIASES:,} aliases in one file"
                elif self._total + size > YAML_MAX_NODES:
                    why = (f"alias *{event.anchor} would expand the file beyond {YAML_MAX_NODES:,} values "
                           "(nested aliases multiply)")
                elif self.depth + height > YAML_MAX_DEPTH:
                    why = f"alias *{event.anchor} would nest values deeper than {YAML_MAX_DEPTH} levels"
                if why is not None:
                    raise _LimitError(None, None, why, event.start_mark)
                self._total += size
            return super().compose_node(parent, index)
        node = super().compose_node(parent, index)
        self._total += 1
        if self._total > YAML_MAX_NODES:
            raise _LimitError(None, None, f"more than {YAML_MAX_NODES:,} values in one file", node.start_mark)
        self._sizes[id(node)] = _expanded(node, self._sizes)
        return node


def _expanded(node: Node, sizes: dict[int, tuple[int, int]]) -> tuple[int, int]:
    """(expanded nodes, height) of a just-composed node; its children are composed, hence memoised."""
    if isinstance(node, MappingNode):
        children = [c for pair in node.value for c in pair]
    elif isinstance(node, SequenceNode):
        children = list(node.value)
    else:
        return 1, 1
    size, height = 1, 0
    for c in children:
        # a child still missing is an ancestor reached through an alias: the alias check refused it already
        s, h = sizes.get(id(c), (1, 1))
        size += s
        height = max(height, h)
    return size, height + 1


class _Constructor(RoundTripConstructor):
    """Round-trip construction whose value errors (``2026-02-30``) name the value's position."""

    def construct_yaml_timestamp(self, node: Any, values: Any = None) -> Any:
        try:
            return super().construct_yaml_timestamp(node, values)
        except (ValueError, OverflowError) as e:
            raise ConstructorError(None, None, f"invalid date or time {node.value!r}: {e}",
                                   node.start_mark) from None


_Constructor.add_constructor("tag:yaml.org,2002:timestamp", _Constructor.construct_yaml_timestamp)


def _decode_problem(name: str, data: bytes, e: UnicodeDecodeError) -> Problem:
    """A non-UTF-8 byte, at its line and column."""
    before = data[:e.start]
    line = before.count(b"\n") + 1
    col = len(before) - (before.rfind(b"\n") + 1) + 1
    return Problem(name, line, col, "", f"not UTF-8 text: byte 0x{data[e.start]:02x} cannot be decoded "
                   "(save the file as UTF-8)", "not_utf8")


def read_yaml(path: Path, display: str | None = None) -> tuple[Any, SourceMap]:
    """Parse one YAML 1.2 file. Syntax errors (and duplicate keys) raise SpecError with a position."""
    name = display or str(path)
    try:
        with path.open("rb") as fh:
            data = fh.read(YAML_MAX_BYTES + 1)
    except FileNotFoundError:
        raise SpecError([Problem(name, 1, 1, "", "file not found", "not_found")]) from None
    except OSError as e:
        raise SpecError([Problem(name, 1, 1, "", f"cannot read file: {e}", "unreadable")]) from None
    if len(data) > YAML_MAX_BYTES:
        raise SpecError([Problem(name, 1, 1, "", f"file larger than {YAML_MAX_BYTES:,} bytes", "too_large")])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SpecError([_decode_problem(name, data, e)]) from None
    smap = SourceMap(name, text)
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    yaml.Composer = _BoundedComposer
    yaml.Constructor = _Constructor
    yaml.max_depth = YAML_MAX_DEPTH
    try:
        raw = yaml.load(text)
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        msg = (e.problem or e.context or "invalid YAML").strip()
        if "duplicate key" in msg:
            # ruamel quotes both values in full; the key is what the user needs
            msg = msg.replace("found ", "").split(" with value")[0]
        elif isinstance(e, MaxDepthExceededError):
            msg = f"values nested deeper than {YAML_MAX_DEPTH} levels"
        code = "yaml_limit" if isinstance(e, (_LimitError, MaxDepthExceededError)) else "yaml_syntax"
        raise SpecError([Problem(name, line, col, "", f"YAML: {msg}", code)]) from None
    except Exception as e:  # ruamel raises a few unmarked errors (e.g. bad tags); still the user's input
        raise SpecError([Problem(name, 1, 1, "", f"YAML: {e}", "yaml_syntax")]) from None
    smap.values[()] = (1, 1)
    return _plain(raw, (), smap), smap


# -- pydantic error data -> problems ------------------------------------------------------------

_MESSAGES: dict[str, str] = {
    "missing": "required key is missing",
    "extra_forbidden": "unknown key",
}


def _known_fields(model: type[BaseModel] | None, data: Any, loc: Loc, raw_loc: Loc = ()) -> list[str]:
    """Field names allowed at ``loc`` (for did-you-mean), found by walking the model's annotations."""
    import typing

    from pydantic.fields import FieldInfo

    def fields_of(tp: Any) -> dict[str, FieldInfo] | None:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            return dict(tp.model_fields)
        return None

    def candidates(tp: Any) -> list[Any]:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            return candidates(typing.get_args(tp)[0])
        if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
            out = []
            for a in typing.get_args(tp):
                out += candidates(a)
            return out
        return [tp]

    tag_model = None
    for part in raw_loc[:-1]:
        if isinstance(part, str) and part in _UNION_TAGS:
            tag_model = _UNION_TAGS[part]
    if tag_model is not None and raw_loc and raw_loc[-2:-1] and raw_loc[-2] in _UNION_TAGS:
        return list(tag_model.model_fields)
    tps: list[Any] = [model]
    for part in loc[:-1]:
        nxt: list[Any] = []
        for tp in tps:
            for c in candidates(tp):
                f = fields_of(c)
                if f is not None and isinstance(part, str) and part in f:
                    nxt.append(f[part].annotation)
                    continue
                origin = typing.get_origin(c)
                args = typing.get_args(c)
                if origin is dict and len(args) == 2:
                    nxt.append(args[1])
                elif origin in (list, tuple) and args:
                    nxt.append(args[0])
        tps = nxt
    names: list[str] = []
    for tp in tps:
        for c in candidates(tp):
            f = fields_of(c)
            if f:
                names += [n for n in f if n not in names]
    return names


def problems_from_validation(err: ValidationError, smap: SourceMap, model: type[BaseModel] | None = None,
                             data: Any = None, prefix: Loc = ()) -> list[Problem]:
    """Translate pydantic's error data into positioned problems (one per error)."""
    out: list[Problem] = []
    for e in err.errors(include_url=False):
        raw_loc: Loc = tuple(e["loc"])
        # drop pydantic's union-member / validator tags from the path the user sees
        loc = tuple(p for p in raw_loc if not (isinstance(p, str) and ("[" in p or p in _UNION_TAGS)))
        full = prefix + loc
        code = e["type"]
        msg = _MESSAGES.get(code, e["msg"])
        if code == "value_error" and msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        elif code == "assertion_error" and msg.startswith("Assertion failed, "):
            msg = msg[len("Assertion failed, "):]
        if code == "extra_forbidden":
            known = _known_fields(model, data, loc, raw_loc) if model is not None else []
            close = suggest(str(loc[-1]), known)
            if any(ch in str(loc[-1]) for ch in "()[]*/+<>=!'\""):
                # YAML split an unquoted expression at a comma inside {...}: the tail became a key
                msg += "; it looks like part of an expression: inside {...} a comma ends the value, so put the " \
                       "expression in quotes"
            elif close:
                msg += close
            elif known:
                msg += f" (expected one of: {', '.join(known)})"
            out.append(smap.problem(full, msg, code, at_key=True))
        elif code == "missing":
            out.append(smap.problem(full[:-1], f"required key '{full[-1]}' is missing", code, at_key=True)
                       if full else smap.problem(full, msg, code))
        else:
            out.append(smap.problem(full, msg, code))
    return out


# pydantic inserts the tag of a discriminated-union member into loc; those are distribution kinds etc.
_UNION_TAGS: dict[str, type[BaseModel]] = {}


def register_union_tags(tags: Mapping[str, type[BaseModel]]) -> None:
    """Tags pydantic puts into error locations for discriminated unions (tag -> member model)."""
    _UNION_TAGS.update(tags)


def validate(model: type[BaseModel], data: Any, smap: SourceMap, *, prefix: Loc = (),
             context: Mapping[str, Any] | None = None) -> tuple[BaseModel | None, list[Problem]]:
    try:
        return model.model_validate(data, context=dict(context or {})), []
    except ValidationError as err:
        return None, problems_from_validation(err, smap, model, data, prefix)
