"""Reading untrusted YAML into a small node tree, without ever constructing Python objects from tags.

``yaml.load`` (even ``safe_load``) is not used: it expands aliases (the "billion laughs" bomb), its composer
recurses once per nesting level, and it keeps two marks per node. Instead we read the parser's *events* and build
:class:`Scalar`/:class:`Sequence`/:class:`Mapping` nodes ourselves, iteratively, refusing anchors and aliases and
stopping at :data:`MAX_DEPTH` levels and :data:`MAX_NODES` nodes. Tags are kept as strings for the caller to check.

libyaml's parser is used when PyYAML has it (always, with PyPI's wheels); PyYAML's pure-Python parser is the
fallback. It is about 20x slower (17 s against 1 s for a 1 MiB flow list) and refuses tabs in JSON indentation.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from typing import Protocol

import yaml
from yaml.events import (
    AliasEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    NodeEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import ScalarNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from catalog.lineagefile.problems import printable

__all__ = [
    "BOOL_TAG",
    "FLOAT_TAG",
    "INT_TAG",
    "MAP_TAG",
    "MAX_DEPTH",
    "MAX_NODES",
    "MERGE_TAG",
    "NULL_TAG",
    "SEQ_TAG",
    "STR_TAG",
    "TIMESTAMP_TAG",
    "VALUE_TAG",
    "Mapping",
    "Node",
    "Scalar",
    "Sequence",
    "YamlError",
    "compose",
    "decode",
]

#: Deepest nesting accepted. A valid lineage file needs 5 levels (list form: list, mapping, model, list, name).
MAX_DEPTH = 16
#: Most nodes accepted. Bounds memory and time whatever a 1 MiB file holds; a large real file has a few thousand.
MAX_NODES = 100_000

_YAML = "tag:yaml.org,2002:"
STR_TAG = _YAML + "str"
INT_TAG = _YAML + "int"
FLOAT_TAG = _YAML + "float"
BOOL_TAG = _YAML + "bool"
NULL_TAG = _YAML + "null"
TIMESTAMP_TAG = _YAML + "timestamp"
SEQ_TAG = _YAML + "seq"
MAP_TAG = _YAML + "map"
#: ``<<`` (YAML 1.1 merge key) and ``=`` (YAML 1.1 value key): resolved implicitly from plain scalars.
MERGE_TAG = _YAML + "merge"
VALUE_TAG = _YAML + "value"

#: Characters YAML does not allow in a stream (the YAML 1.1 printable set, as PyYAML and libyaml check it).
_NON_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
#: A JSON-style escaped surrogate pair, "\ud83d\ude00", not preceded by an escaping backslash.
_ESCAPED_SURROGATE_PAIR = re.compile(
    r"(?<!\\)((?:\\\\)*)\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})"
)
_RESOLVER = Resolver()


@dataclass(frozen=True, slots=True)
class Scalar:
    """A scalar as written (``value`` is the source text for plain scalars) and its resolved tag."""

    tag: str
    value: str
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Sequence:
    tag: str
    items: tuple[Node, ...]
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Mapping:
    """A mapping's pairs in file order, duplicates included (the caller reports them)."""

    tag: str
    pairs: tuple[tuple[Node, Node], ...]
    line: int
    column: int


Node = Scalar | Sequence | Mapping


class YamlError(Exception):
    """Text that cannot be read as one YAML document, at a 1-based line and column."""

    def __init__(self, line: int, column: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.column = column
        self.message = message


def decode(data: bytes | str, refuser: str = "YAML") -> str:
    """The text of a lineage file: UTF-8 (an initial BOM is dropped) holding only characters YAML allows.

    JSON files are held to the same set, which keeps control characters (raw tabs and line breaks aside) out of
    the JSON reader; ``refuser`` names who refuses a character in the message.
    """
    if isinstance(data, bytes):
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise YamlError(1, 1, "expected UTF-8 text, found a UTF-16 byte order mark; save the file as UTF-8")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line_start = data.rfind(b"\n", 0, exc.start) + 1
            column = len(data[line_start : exc.start].decode("utf-8", "replace")) + 1
            line = data.count(b"\n", 0, exc.start) + 1
            raise YamlError(line, column, f"expected UTF-8 text, found byte 0x{data[exc.start]:02x}") from None
    else:
        text = data
    text = text.removeprefix("\ufeff")
    if bad := _NON_PRINTABLE.search(text):
        index = bad.start()
        line = text.count("\n", 0, index) + 1
        column = index - (text.rfind("\n", 0, index) + 1) + 1
        code = ord(bad[0])
        if code < 0x20 or 0x7F <= code <= 0x9F:
            message = f"expected text, found control character U+{code:04X} (is this a binary file?)"
        else:
            message = f"expected text, found character U+{code:04X}, which {refuser} does not allow"
        raise YamlError(line, column, message)
    return text


class _Events(Protocol):
    def check_event(self, *choices: type[Event]) -> bool: ...
    def peek_event(self) -> Event | None: ...
    def get_event(self) -> Event | None: ...
    def dispose(self) -> None: ...


class _PurePythonEvents(Reader, Scanner, Parser):
    def __init__(self, text: str) -> None:
        Reader.__init__(self, text)
        Scanner.__init__(self)
        Parser.__init__(self)


#: Tests switch this off to exercise the pure-Python parser as well.
_USE_LIBYAML: bool = yaml.__with_libyaml__


def _events(text: str) -> _Events:
    if _USE_LIBYAML:
        from yaml._yaml import CParser  # where yaml.cyaml gets it from; only importable with libyaml

        return CParser(text)
    return _PurePythonEvents(text)


def compose(text: str) -> Node | None:
    """The single document in ``text`` as nodes; ``None`` if there is none. :class:`YamlError` otherwise."""
    events = _events(_join_escaped_surrogates(text))
    try:
        return _compose_stream(events)
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc) from None
    except yaml.YAMLError as exc:  # errors without a position (not expected after decode(), but never crash)
        raise YamlError(1, 1, "invalid YAML: " + printable(str(exc).splitlines()[0])) from None
    finally:
        events.dispose()


def _join_escaped_surrogates(text: str) -> str:
    """Rewrite JSON's "\\ud83d\\ude00" escapes as YAML's "\\U0001f600".

    json.dumps writes characters beyond U+FFFF as escaped UTF-16 surrogate pairs; YAML has no such escape and libyaml
    refuses it. The rewrite is 2 characters shorter, so columns later on such a line are off by 2 per pair.
    """
    if "\\u" not in text:
        return text

    def joined(match: re.Match[str]) -> str:
        high, low = int(match[2], 16), int(match[3], 16)
        return f"{match[1]}\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08x}"

    return _ESCAPED_SURROGATE_PAIR.sub(joined, text)


def _syntax_error(exc: yaml.MarkedYAMLError) -> YamlError:
    line, column = _position(exc.problem_mark or exc.context_mark)
    if "maximum nesting depth" in (exc.problem or ""):
        # Newer libyaml builds stop deep flow nesting while scanning ahead, before our own depth check sees it.
        return YamlError(line, column, f"nesting deeper than {MAX_DEPTH} levels")
    message = "invalid YAML: " + (exc.problem or "syntax error")
    if exc.context:
        where = f" started at {':'.join(map(str, _position(exc.context_mark)))}" if exc.context_mark else ""
        message += f" ({exc.context}{where})"
    return YamlError(line, column, printable(message))


def _position(mark: object) -> tuple[int, int]:
    # Marks are 0-based; both yaml.error.Mark and libyaml's Mark have .line and .column.
    line, column = getattr(mark, "line", None), getattr(mark, "column", None)
    if isinstance(line, int) and isinstance(column, int):
        return line + 1, column + 1
    return 1, 1


def _next(events: _Events) -> Event:
    event = events.get_event()
    if event is None:  # the parser returns None only past the stream end, which _compose_stream never reads
        raise YamlError(1, 1, "invalid YAML: unexpected end of the event stream")
    return event


def _compose_stream(events: _Events) -> Node | None:
    _next(events)  # StreamStartEvent
    if events.check_event(StreamEndEvent):
        return None
    _next(events)  # DocumentStartEvent
    root = _compose_node(events)
    _next(events)  # DocumentEndEvent
    if not events.check_event(StreamEndEvent):
        second = events.peek_event()
        line, column = _position(second.start_mark if second is not None else None)
        raise YamlError(line, column, "expected a single YAML document, found another one")
    return root


@dataclass(slots=True)
class _Open:
    """A collection whose end event has not been read yet."""

    mapping: bool
    tag: str
    line: int
    column: int
    children: list[Node] = field(default_factory=list)


def _compose_node(events: _Events) -> Node:
    stack: list[_Open] = []
    count = 0
    while True:
        event = _next(events)
        line, column = _position(event.start_mark)
        if isinstance(event, AliasEvent):
            raise YamlError(
                line, column, f'YAML aliases are not allowed ("*{_name(event.anchor)}"); write the value out'
            )
        if isinstance(event, NodeEvent):
            if event.anchor is not None:
                raise YamlError(
                    line, column, f'YAML anchors are not allowed ("&{_name(event.anchor)}"); write the value out'
                )
            count += 1
            if count > MAX_NODES:
                raise YamlError(line, column, f"more than {MAX_NODES} YAML nodes; lineage files are small")
        node: Node
        if isinstance(event, ScalarEvent):
            node = Scalar(_scalar_tag(event), _text(event.value, line, column), line, column)
        elif isinstance(event, SequenceStartEvent | MappingStartEvent):
            if len(stack) >= MAX_DEPTH:
                raise YamlError(line, column, f"nesting deeper than {MAX_DEPTH} levels")
            mapping = isinstance(event, MappingStartEvent)
            tag = event.tag if event.tag not in (None, "!") else MAP_TAG if mapping else SEQ_TAG
            stack.append(_Open(mapping, tag or "", line, column))
            continue
        elif isinstance(event, SequenceEndEvent | MappingEndEvent) and stack:
            done = stack.pop()
            if done.mapping:
                pairs = tuple(zip(done.children[::2], done.children[1::2], strict=True))
                node = Mapping(done.tag, pairs, done.line, done.column)
            else:
                node = Sequence(done.tag, tuple(done.children), done.line, done.column)
        else:  # a conforming parser never sends anything else inside a document
            raise YamlError(line, column, f"invalid YAML: unexpected {type(event).__name__}")
        if not stack:
            return node
        stack[-1].children.append(node)


def _scalar_tag(event: ScalarEvent) -> str:
    if event.tag not in (None, "!"):
        return event.tag or ""
    # Implicit tags of plain scalars ("5" -> int, "yes" -> bool, "" -> null) by YAML 1.1's rules, as safe_load does.
    return str(_RESOLVER.resolve(ScalarNode, event.value, event.implicit))  # type: ignore[no-untyped-call]


def _text(value: str, line: int, column: int) -> str:
    # "\ud83d\ude00" escapes (what json.dumps writes for characters beyond U+FFFF) arrive as two surrogates: join them.
    if not _SURROGATE.search(value):
        return value
    try:
        return value.encode("utf-16", "surrogatepass").decode("utf-16")
    except UnicodeDecodeError:
        raise YamlError(line, column, "invalid escape: unpaired UTF-16 surrogate (\\uD800-\\uDFFF)") from None


def _name(anchor: str | None) -> str:
    return printable((anchor or "")[:40])
