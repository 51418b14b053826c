"""The catalog's one error root. Codes are stable strings; only the API layer maps them to HTTP."""

from __future__ import annotations


class CatalogError(Exception):
    code = "internal"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(CatalogError):
    code = "invalid_input"


class NotFound(CatalogError):
    code = "not_found"


class Conflict(CatalogError):
    code = "conflict"


class Unresolved(CatalogError):
    """A lineage input (Hive table, S3 prefix) could not be found; one line per item in ``problems``."""

    code = "unresolved"

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class Unauthorized(CatalogError):
    code = "unauthorized"


class Forbidden(CatalogError):
    code = "forbidden"


class UpstreamUnavailable(CatalogError):
    code = "upstream_unavailable"


# The one code → HTTP status table of mlcatalog's own API (catalog/api/errors.py answers with it).
HTTP_STATUS: dict[str, int] = {
    "invalid_input": 400,
    "unresolved": 422,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "unknown_prediction": 404,
    "method_not_allowed": 405,
    "request_timeout": 408,
    "conflict": 409,
    "too_large": 413,
    "upstream_unavailable": 503,
    "internal": 500,
}
