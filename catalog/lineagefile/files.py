"""Lineage files on disk: finding a project's file, reading it safely, linting paths."""

from __future__ import annotations

import stat
from pathlib import Path

from catalog.lineagefile.models import LineageFile
from catalog.lineagefile.parser import MAX_FILE_BYTES, parse_lineage, too_big_message
from catalog.lineagefile.problems import LineageFileError, Problem

__all__ = ["LINEAGE_FILE_NAMES", "find_lineage_file", "lint_paths", "load_lineage_file"]

#: A project's lineage file, in order of preference: CML's AMPs write lineage.yml, its docs say lineage.yaml.
LINEAGE_FILE_NAMES: tuple[str, ...] = ("lineage.yml", "lineage.yaml")


def find_lineage_file(directory: Path) -> Path | None:
    """The lineage file in ``directory``, or ``None``. Both names present is an error: which one is meant?"""
    present = [directory / name for name in LINEAGE_FILE_NAMES if (directory / name).is_file()]
    if len(present) > 1:
        names = " and ".join(LINEAGE_FILE_NAMES)
        raise LineageFileError([Problem(str(present[1]), 1, 1, f"both {names} exist in this directory; keep one")])
    return present[0] if present else None


def load_lineage_file(path: Path) -> LineageFile:
    """Read and parse one lineage file; :class:`LineageFileError` for files that cannot be read or used."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise LineageFileError([Problem(str(path), 1, 1, "no such file or directory")]) from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path, which no file name can hold
        raise LineageFileError([Problem(str(path), 1, 1, f"cannot read: {_reason(exc)}")]) from None
    if stat.S_ISDIR(info.st_mode):
        raise LineageFileError([Problem(str(path), 1, 1, "expected a lineage file, got a directory")])
    if not stat.S_ISREG(info.st_mode):  # a FIFO or device would block or never end
        raise LineageFileError([Problem(str(path), 1, 1, "expected a regular file")])
    if info.st_size > MAX_FILE_BYTES:
        raise LineageFileError([Problem(str(path), 1, 1, too_big_message(info.st_size))])
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_FILE_BYTES + 1)  # a file growing since stat() is still caught by parse_lineage
    except OSError as exc:
        raise LineageFileError([Problem(str(path), 1, 1, f"cannot read: {_reason(exc)}")]) from None
    return parse_lineage(data, str(path))


def _reason(exc: OSError | ValueError) -> str:
    # strerror alone: str(OSError) repeats the path, which the problem already starts with (and may be 4 KiB long).
    return (exc.strerror if isinstance(exc, OSError) else None) or str(exc)


def lint_paths(paths: list[Path]) -> list[Problem]:
    """Every problem in the given lineage files; a directory stands for its lineage file."""
    problems: list[Problem] = []
    for path in paths:
        try:
            if _is_dir(path):
                found = find_lineage_file(path)
                if found is None:
                    names = " or ".join(LINEAGE_FILE_NAMES)
                    problems.append(Problem(str(path), 1, 1, f"no {names} in this directory"))
                    continue
                path = found
            load_lineage_file(path)
        except LineageFileError as exc:
            problems.extend(exc.problems)
    return problems


def _is_dir(path: Path) -> bool:
    """Whether ``path`` is a directory; False when it cannot even be looked at (a name too long, a symlink loop),
    which :func:`load_lineage_file` then reports."""
    try:
        return path.is_dir()
    except OSError:
        return False
