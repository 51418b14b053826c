"""Reading a ``.json`` lineage file as strict JSON (RFC 8259) into the same nodes the YAML reader builds.

PyYAML reads most JSON, but as YAML 1.1: it also takes comments, trailing commas, single quotes, bare words and
``.nan``, so a ``.json`` file that ``json.load``, an editor or CML would refuse could pass lint. This reader is
strict, and tolerant where it can be: a comment, a trailing comma, a single-quoted string, NaN or Infinity, a
Python-style ``True``/``None``, a malformed number, unquoted text, a bad escape is reported and then read as the
author meant it, so one run lists every such problem along with what the walker finds in the content. Only text it
cannot read on from (a missing comma or colon, an unterminated string, more than one value) ends the search.

Hostile input gets the YAML reader's limits (:data:`MAX_DEPTH` levels, :data:`MAX_NODES` values) and at most
:data:`MAX_PROBLEMS` problems; it is read iteratively and in time linear in its size.
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_right
from dataclasses import dataclass, field

from catalog.lineagefile.problems import printable, quoted
from catalog.lineagefile.yamlnodes import (
    BOOL_TAG,
    FLOAT_TAG,
    INT_TAG,
    MAP_TAG,
    MAX_DEPTH,
    MAX_NODES,
    NULL_TAG,
    SEQ_TAG,
    STR_TAG,
    Mapping,
    Node,
    Scalar,
    Sequence,
)

__all__ = ["MAX_PROBLEMS", "JsonError", "JsonProblem", "compose"]

#: Most problems reported before reading stops; a real file has a handful, 1 MiB of ``//`` lines has 500 000.
MAX_PROBLEMS = 1000

_WHITESPACE = re.compile(r"[ \t\n\r]*")  # the only whitespace JSON has
_LINE_BREAK = re.compile(r"\r\n?|\n")
_LINE_END = re.compile(r"[\r\n]")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
#: A run of text that is neither structure, quotes nor whitespace: a literal, a number, or unquoted text.
_WORD = re.compile(r"[^\s,:\[\]{}\"']+")
#: The characters of a string up to its end, an escape or a raw control character.
_STRING_RUN = {'"': re.compile(r'[^"\\\x00-\x1f]*'), "'": re.compile(r"[^'\\\x00-\x1f]*")}
_HEX4 = re.compile(r"[0-9a-fA-F]{4}")
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_NON_FINITE = frozenset({"nan", "inf", "infinity", ".nan", ".inf"})
#: Literals of other languages that people write in JSON, and JSON's spelling of them.
_FOREIGN_LITERALS = {"True": "true", "TRUE": "true", "False": "false", "FALSE": "false", "None": "null",
                     "NULL": "null", "Null": "null", "nil": "null", "undefined": "null"}
_LITERAL_TAGS = {"true": BOOL_TAG, "false": BOOL_TAG, "null": NULL_TAG}
_UNPAIRED_SURROGATE = "invalid escape: unpaired UTF-16 surrogate (\\uD800-\\uDFFF)"


@dataclass(frozen=True, slots=True)
class JsonProblem:
    """Something that is not strict JSON, at a 1-based line and column (in characters)."""

    line: int
    column: int
    message: str


class JsonError(Exception):
    """Text that cannot be read on from; ``problems`` holds everything found up to and including what stopped it."""

    def __init__(self, problems: list[JsonProblem]) -> None:
        super().__init__("\n".join(problem.message for problem in problems))
        self.problems = problems


def compose(text: str) -> tuple[Node | None, list[JsonProblem]]:
    """The JSON value in ``text`` as nodes (``None`` if there is none), and what in it is not strict JSON.

    :class:`JsonError` when the text cannot be read as one value even leniently.
    """
    reader = _Reader(text)
    return reader.document(), reader.problems


@dataclass(slots=True)
class _Open:
    """An object or array whose closing bracket has not been read yet."""

    mapping: bool
    line: int
    column: int
    children: list[Node] = field(default_factory=list)

    @property
    def closer(self) -> str:
        return "}" if self.mapping else "]"

    @property
    def what(self) -> str:
        return "object" if self.mapping else "array"


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.problems: list[JsonProblem] = []
        self.values = 0
        # Offsets where lines start, for positions by bisection; an array holds 1 MiB of line breaks in 8 MiB.
        self.line_starts = array("q", [0])
        self.line_starts.extend(match.end() for match in _LINE_BREAK.finditer(text))

    # --- positions and problems ----------------------------------------------------------------------------------

    def where(self, index: int) -> tuple[int, int]:
        line = bisect_right(self.line_starts, index)
        return line, index - self.line_starts[line - 1] + 1

    def report(self, index: int, message: str) -> None:
        if len(self.problems) >= MAX_PROBLEMS:
            raise self.fail(index, f"more than {MAX_PROBLEMS} problems; fix these first")
        self.problems.append(JsonProblem(*self.where(index), message))

    def fail(self, index: int, message: str) -> JsonError:
        return JsonError([*self.problems, JsonProblem(*self.where(index), message)])

    def found(self) -> str:
        """What is at the current position, for "expected ..., found <this>"."""
        if self.pos >= len(self.text):
            return "the end of the file"
        word = _WORD.match(self.text, self.pos)
        return quoted(word[0] if word else self.text[self.pos])

    # --- structure -----------------------------------------------------------------------------------------------

    def document(self) -> Node | None:
        self.skip()
        if self.pos >= len(self.text):
            return None
        root = self.value()
        self.skip()
        if self.pos < len(self.text):
            raise self.fail(self.pos, f"expected a single JSON value, found more after it: {self.found()}")
        return root

    def value(self) -> Node:
        """One value and everything in it, iteratively (a stack of open collections, never recursion)."""
        stack: list[_Open] = []
        node = self.start(stack, key=False)
        while True:
            if node is None:  # just opened: its end, or its first member
                self.skip()
                top = stack[-1]
                node = self.close(stack) if self.peek() == top.closer else self.start(stack, key=top.mapping)
                continue
            if not stack:
                return node
            top = stack[-1]
            top.children.append(node)
            self.skip()
            char = self.peek()
            if top.mapping and len(top.children) % 2:
                if char != ":":
                    raise self.fail(self.pos, f"expected ':' after an object key, found {self.found()}")
                self.pos += 1
                self.skip()
                node = self.start(stack, key=False)
            elif char == ",":
                comma = self.pos
                self.pos += 1
                self.skip()
                if self.peek() == top.closer:
                    last = "member of the object" if top.mapping else "item of the array"
                    self.report(comma, f"trailing comma after the last {last}; JSON does not allow one")
                    node = self.close(stack)
                else:
                    node = self.start(stack, key=top.mapping)
            elif char == top.closer:
                node = self.close(stack)
            else:
                member = "an object member" if top.mapping else "an array item"
                raise self.fail(self.pos, f"expected ',' or {top.closer!r} after {member}, found {self.found()} "
                                          f"(in the {top.what} opened at {top.line}:{top.column})")

    def start(self, stack: list[_Open], key: bool) -> Node | None:
        """The scalar at the current position, or None after opening an object or array (pushed on ``stack``)."""
        index = self.pos
        line, column = self.where(index)
        char = self.peek()
        self.values += 1
        if self.values > MAX_NODES:
            raise self.fail(index, f"more than {MAX_NODES} JSON values; lineage files are small")
        if char in ('"', "'"):
            return Scalar(STR_TAG, self.string(char), line, column)
        if char in ("[", "{") and not key:
            if len(stack) >= MAX_DEPTH:
                raise self.fail(index, f"nesting deeper than {MAX_DEPTH} levels")
            stack.append(_Open(char == "{", line, column))
            self.pos += 1
            return None
        word = _WORD.match(self.text, index)
        if word is None:
            expected = "an object key (a string in double quotes)" if key else "a JSON value"
            raise self.fail(index, f"expected {expected}, found {self.found()}")
        self.pos = word.end()
        return Scalar(self.word_tag(index, word[0], key), word[0], line, column)

    def close(self, stack: list[_Open]) -> Node:
        done = stack.pop()
        self.pos += 1
        if done.mapping:
            pairs = tuple(zip(done.children[::2], done.children[1::2], strict=True))
            return Mapping(MAP_TAG, pairs, done.line, done.column)
        return Sequence(SEQ_TAG, tuple(done.children), done.line, done.column)

    def skip(self) -> None:
        """Past whitespace; comments and non-JSON whitespace are reported and skipped too."""
        text = self.text
        while True:
            blank = _WHITESPACE.match(text, self.pos)
            assert blank is not None  # the pattern matches the empty string
            self.pos = blank.end()
            if text.startswith(("//", "#"), self.pos):
                self.report(self.pos, "comments are not allowed in JSON")
                line_end = _LINE_END.search(text, self.pos)
                self.pos = line_end.start() if line_end else len(text)
            elif text.startswith("/*", self.pos):
                end = text.find("*/", self.pos + 2)
                if end < 0:
                    raise self.fail(self.pos, "unterminated /* comment (and comments are not allowed in JSON)")
                self.report(self.pos, "comments are not allowed in JSON")
                self.pos = end + 2
            elif self.pos < len(text) and text[self.pos].isspace():
                self.report(self.pos, f"character U+{ord(text[self.pos]):04X} is not whitespace in JSON "
                                      "(only spaces, tabs and line breaks are)")
                self.pos += 1
            else:
                return

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    # --- scalars -------------------------------------------------------------------------------------------------

    def word_tag(self, index: int, word: str, key: bool) -> str:
        """The tag of an unquoted word; what is not a JSON literal or number is reported, then read as meant."""
        if key:
            self.report(index, f"object keys are strings in double quotes in JSON: {quoted(word)}")
            return STR_TAG
        if word in _LITERAL_TAGS:
            return _LITERAL_TAGS[word]
        if number := _NUMBER.fullmatch(word):
            return INT_TAG if number[1] is None and number[2] is None else FLOAT_TAG
        if word.lstrip("+-").lower() in _NON_FINITE:
            self.report(index, f"{word} is not a JSON number (JSON has no NaN or Infinity); "
                               f"quote it if it is text: {quoted(word)}")
            return FLOAT_TAG
        if word in _FOREIGN_LITERALS:
            meant = _FOREIGN_LITERALS[word]
            self.report(index, f"{word} is not JSON; write {meant} (or {quoted(word)} for text)")
            return _LITERAL_TAGS[meant]
        if word[0] in "+-.0123456789":
            self.report(index, f"invalid JSON number {quoted(word)}: JSON numbers are written like -12.5e3, without "
                               "leading zeros, '+', hex digits or a '.' at either end; quote it if it is text")
            return FLOAT_TAG
        self.report(index, f"unquoted text {quoted(word)}; JSON strings are in double quotes")
        return STR_TAG

    def string(self, quote: str) -> str:
        """A quoted string's value, the current position on its opening quote."""
        text = self.text
        start = self.pos
        if quote == "'":
            self.report(start, "strings are in double quotes in JSON, not single quotes")
        self.pos += 1
        run = _STRING_RUN[quote]
        parts: list[str] = []
        while True:
            chunk = run.match(text, self.pos)
            assert chunk is not None  # the pattern matches the empty string
            parts.append(chunk[0])
            self.pos = chunk.end()
            char = self.peek()
            if char == quote:
                self.pos += 1
                return "".join(parts)
            if char == "\\":
                parts.append(self.escape(quote))
            elif char in ("", "\n", "\r"):
                # Most likely a missing closing quote: reading on would turn the rest of the file inside out.
                where = "the end of the file" if not char else "the end of the line (write \\n for a line break)"
                raise self.fail(start, f"unterminated string: no closing quote before {where}")
            else:  # a raw tab: decode() lets no other control character through
                self.report(self.pos, f"control character U+{ord(char):04X} in a string; write it as \\t")
                parts.append(char)
                self.pos += 1

    def escape(self, quote: str) -> str:
        """The character an escape stands for, the current position on its backslash."""
        index = self.pos
        char = self.text[index + 1 : index + 2]
        self.pos = index + 2
        if char in _ESCAPES:
            return _ESCAPES[char]
        if char == "u":
            return self.unicode_escape(index)
        if char == "'" and quote == "'":  # the single quotes are reported already
            return char
        if not char:
            self.pos = index + 1  # the string's loop reports the missing closing quote
            return ""
        self.report(index, f'invalid escape "\\{printable(char)}" in a string; JSON has \\" \\\\ \\/ \\b \\f \\n '
                           "\\r \\t and \\uXXXX")
        return char

    def unicode_escape(self, index: int) -> str:
        hex_digits = _HEX4.match(self.text, index + 2)
        if hex_digits is None:
            self.report(index, "invalid escape \\u: expected 4 hex digits")
            return ""
        self.pos = hex_digits.end()
        code = int(hex_digits[0], 16)
        if 0xDC00 <= code <= 0xDFFF:
            self.report(index, _UNPAIRED_SURROGATE)
            return "\ufffd"
        if 0xD800 <= code <= 0xDBFF:
            # json.dumps writes characters beyond U+FFFF as a pair of escaped UTF-16 surrogates.
            low = _HEX4.match(self.text, self.pos + 2) if self.text.startswith("\\u", self.pos) else None
            low_code = int(low[0], 16) if low else 0
            if low is None or not 0xDC00 <= low_code <= 0xDFFF:
                self.report(index, _UNPAIRED_SURROGATE)
                return "\ufffd"
            self.pos = low.end()
            return chr(0x10000 + ((code - 0xD800) << 10) + (low_code - 0xDC00))
        return chr(code)
