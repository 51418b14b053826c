"""Problems found in a lineage file, and the exception that carries them."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

__all__ = ["LineageFileError", "Problem", "printable", "quoted"]

#: Longest part of a user-supplied value shown in a message; values can be up to 1 MiB long.
_SHOW_CHARS = 80


def printable(text: str) -> str:
    """``text`` with control, format and separator characters escaped (``\\u2028``), so it prints on one line.

    Messages go to terminals and editors: a raw newline would split a problem over two lines, and C1 or bidi
    control characters could rewrite what the terminal shows.
    """
    if text.isprintable():  # fast path: no C*, Z* (except plain space) characters
        return text
    out: list[str] = []
    for char in text:
        if char == " " or unicodedata.category(char)[0] not in "CZ":
            out.append(char)
        elif ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return "".join(out)


def quoted(value: str) -> str:
    """``value`` in double quotes for a message: escaped like :func:`printable`, long values shortened."""
    shown = value if len(value) <= _SHOW_CHARS else value[:_SHOW_CHARS]
    body = printable(shown.replace("\\", "\\\\").replace('"', '\\"'))
    if len(value) > _SHOW_CHARS:
        return f'"{body}..." ({len(value)} characters)'
    return f'"{body}"'


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem at a 1-based line and column; problems about a whole file point at 1:1."""

    path: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        # The compiler-style format editors, pre-commit and CI logs link to the position.
        return f"{printable(self.path)}:{self.line}:{self.column}: {self.message}"


class LineageFileError(Exception):
    """A lineage file that cannot be used; ``problems`` lists everything found, in file order."""

    def __init__(self, problems: list[Problem]) -> None:
        if not problems:
            raise ValueError("LineageFileError needs at least one problem")
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))
