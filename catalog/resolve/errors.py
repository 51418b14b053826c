"""Errors of the resolvers: one root, a stable ``.code`` per kind, and a one-line message.

``str(exc)`` is always a single line (server messages are cut to their first line and a length bound), so it
can go straight into an API error body or a log line. Branch on ``.code`` (or the class), never on the text.
"""

from __future__ import annotations

from typing import ClassVar

from catalog.errors import CatalogError, InvalidInput, UpstreamUnavailable

__all__ = [
    "BucketNotFound",
    "ColumnNotFound",
    "DatabaseNotFound",
    "HiveQueryFailed",
    "HiveUnavailable",
    "HiveUnexpectedOutput",
    "InvalidIdentifier",
    "InvalidS3Uri",
    "InvalidSampleRequest",
    "MissingDependency",
    "PrefixNotFound",
    "ResolveError",
    "S3RequestFailed",
    "S3Unavailable",
    "TableNotFound",
    "is_not_found",
    "one_line",
    "to_catalog_error",
]

_MAX_DETAIL = 300


def one_line(text: object, limit: int = _MAX_DETAIL) -> str:
    """The first non-empty line of ``text``, whitespace-collapsed and cut to ``limit`` characters."""
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    first = " ".join(lines[0].split()) if lines else ""
    return first if len(first) <= limit else first[: limit - 3] + "..."


class ResolveError(Exception):
    """Root of every resolver error. ``code`` is stable (e.g. ``"hive.table_not_found"``)."""

    code: ClassVar[str] = "resolve.error"

    def __init__(self, message: str) -> None:
        self.message = one_line(message, limit=2 * _MAX_DETAIL)
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class InvalidIdentifier(ResolveError):
    """A database/table name that is not ``[A-Za-z0-9_]+`` (raised before anything is sent)."""

    code = "invalid_identifier"

    def __init__(self, value: str, what: str = "identifier") -> None:
        self.value = value
        self.what = what
        super().__init__(f"invalid Hive {what} {value!r}: only letters, digits and '_' are allowed")


class MissingDependency(ResolveError):
    """A client library of a resolver is not installed."""

    code = "resolve.missing_dependency"

    def __init__(self, module: str, install: str) -> None:
        self.module = module
        super().__init__(f"Python module {module!r} is not installed: {install}")


# -- Hive ------------------------------------------------------------------------------------------------------


class DatabaseNotFound(ResolveError):
    code = "hive.database_not_found"

    def __init__(self, db: str) -> None:
        self.db = db
        super().__init__(f"Hive database {db!r} does not exist")


class TableNotFound(ResolveError):
    code = "hive.table_not_found"

    def __init__(self, db: str, table: str) -> None:
        self.db = db
        self.table = table
        super().__init__(f"Hive table {db}.{table} does not exist")


class ColumnNotFound(ResolveError):
    code = "hive.column_not_found"

    def __init__(self, db: str, table: str, column: str) -> None:
        self.db = db
        self.table = table
        self.column = column
        super().__init__(f"Hive table {db}.{table} has no column {column!r}")


class InvalidSampleRequest(ResolveError):
    """A sample that cannot be asked for (a limit out of bounds, no column...); raised before anything is sent."""

    code = "hive.invalid_sample"


class HiveUnavailable(ResolveError):
    """HiveServer2 could not be reached, dropped the connection, timed out or refused the session."""

    code = "hive.unavailable"

    def __init__(self, host: str, port: int, reason: str) -> None:
        self.host = host
        self.port = port
        self.reason = one_line(reason)
        super().__init__(f"HiveServer2 at {host}:{port} unavailable: {self.reason}")


class HiveQueryFailed(ResolveError):
    """HiveServer2 answered a statement with an error other than a missing database/table."""

    code = "hive.query_failed"

    def __init__(self, statement: str, reason: str) -> None:
        self.statement = statement
        self.reason = one_line(reason)
        super().__init__(f"HiveServer2 rejected {one_line(statement, 80)!r}: {self.reason}")


class HiveUnexpectedOutput(ResolveError):
    """HiveServer2 answered, but not in a shape the parser knows."""

    code = "hive.unexpected_output"


# -- S3 --------------------------------------------------------------------------------------------------------


class InvalidS3Uri(ResolveError):
    code = "s3.invalid_uri"

    def __init__(self, uri: str, reason: str) -> None:
        self.uri = uri
        super().__init__(f"invalid S3 URI {one_line(uri, 200)!r}: {reason}")


class BucketNotFound(ResolveError):
    code = "s3.bucket_not_found"

    def __init__(self, bucket: str) -> None:
        self.bucket = bucket
        super().__init__(f"S3 bucket {bucket!r} does not exist")


class PrefixNotFound(ResolveError):
    code = "s3.prefix_not_found"

    def __init__(self, bucket: str, prefix: str) -> None:
        self.bucket = bucket
        self.prefix = prefix
        super().__init__(f"no S3 objects under s3://{bucket}/{prefix}")


class S3Unavailable(ResolveError):
    """The endpoint could not be reached, timed out, failed (5xx), or refused the credentials."""

    code = "s3.unavailable"

    def __init__(self, endpoint: str, reason: str) -> None:
        self.endpoint = endpoint
        self.reason = one_line(reason)
        super().__init__(f"S3 endpoint {endpoint} unavailable: {self.reason}")


class S3RequestFailed(ResolveError):
    """S3 answered with an error that is none of the above (e.g. a 400 for a malformed bucket name)."""

    code = "s3.request_failed"

    def __init__(self, endpoint: str, reason: str) -> None:
        self.endpoint = endpoint
        self.reason = one_line(reason)
        super().__init__(f"S3 request to {endpoint} failed: {self.reason}")


#: What the catalog may record as "declared" when the caller allows unresolved inputs.
NOT_FOUND: tuple[type[ResolveError], ...] = (DatabaseNotFound, TableNotFound, BucketNotFound, PrefixNotFound)


def is_not_found(e: ResolveError) -> bool:
    return isinstance(e, NOT_FOUND)


def to_catalog_error(e: ResolveError) -> CatalogError:
    """The catalog error a resolver failure is to its callers: a server down is an outage; anything else (a bad
    identifier, a failed query, a missing client library) is a problem with what was asked."""
    if isinstance(e, (HiveUnavailable, S3Unavailable)):
        return UpstreamUnavailable(str(e))
    return InvalidInput(str(e))
