"""Hive identifier checks: the only gate between caller input and the SQL text sent to HiveServer2."""

from __future__ import annotations

import re

from catalog.resolve.errors import InvalidIdentifier

__all__ = ["MAX_IDENTIFIER_LENGTH", "quote", "split_table_name", "validate_identifier"]

#: Hive's metastore limit for database and table names.
MAX_IDENTIFIER_LENGTH = 128
# ASCII only: explicit ranges (not \w, which admits Unicode letters and digits); fullmatch, so no trailing "\n".
_IDENTIFIER = re.compile(r"[A-Za-z0-9_]+")


def validate_identifier(value: object, what: str = "identifier") -> str:
    """``value`` lower-cased if it is a plain Hive identifier, else :class:`InvalidIdentifier`."""
    if not isinstance(value, str) or len(value) > MAX_IDENTIFIER_LENGTH or not _IDENTIFIER.fullmatch(value):
        raise InvalidIdentifier(str(value), what)
    return value.lower()


def quote(identifier: str) -> str:
    """Backtick-quote an identifier that :func:`validate_identifier` accepted (defence in depth)."""
    return f"`{validate_identifier(identifier)}`"


def split_table_name(name: str) -> tuple[str, str]:
    """``db.table`` or an Atlas qualifiedName ``db.table@namespace`` -> validated, lower-cased ``(db, table)``."""
    if not isinstance(name, str):
        raise InvalidIdentifier(str(name), "table name")
    base, at, namespace = name.partition("@")
    if at and not namespace:
        raise InvalidIdentifier(name, "qualified name (empty namespace after '@')")
    parts = base.split(".")
    if len(parts) != 2:
        raise InvalidIdentifier(name, "table name (expected db.table)")
    return validate_identifier(parts[0], "database name"), validate_identifier(parts[1], "table name")
