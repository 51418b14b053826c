"""Errors raised by the typed Atlas client: one root, Atlas's errorCode and HTTP status kept."""

from __future__ import annotations


class AtlasClientError(Exception):
    """An Atlas call failed. ``status`` is the HTTP status (0 when no response), ``error_code`` Atlas's code."""

    def __init__(self, message: str, *, status: int = 0, error_code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_code = error_code

    def __str__(self) -> str:
        code = f" {self.error_code}" if self.error_code else ""
        status = f" (HTTP {self.status}{code})" if self.status else ""
        return f"{self.message}{status}"


class AtlasNotFound(AtlasClientError):
    pass


class AtlasConflict(AtlasClientError):
    pass


class AtlasBadRequest(AtlasClientError):
    pass


class AtlasAuthError(AtlasClientError):
    pass


class AtlasUnavailable(AtlasClientError):
    """No answer, a timeout, or a 5xx: the caller may retry later (the outbox does)."""


def error_for(status: int, message: str, error_code: str | None) -> AtlasClientError:
    # Atlas reports entity validation failures (ATLAS-404-00-007) as 404: they are bad requests, not absences.
    if error_code in ("ATLAS-404-00-007", "ATLAS-404-00-00A"):
        return AtlasBadRequest(message, status=status, error_code=error_code)
    cls: type[AtlasClientError]
    if status in (401, 403):
        cls = AtlasAuthError
    elif status == 404:
        cls = AtlasNotFound
    elif status == 409:
        cls = AtlasConflict
    elif 400 <= status < 500:
        cls = AtlasBadRequest
    elif status >= 500 or status == 0:
        cls = AtlasUnavailable
    else:
        cls = AtlasClientError
    return cls(message, status=status, error_code=error_code)
