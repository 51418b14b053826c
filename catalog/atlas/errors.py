"""Errors raised by the typed Atlas client, rooted in the catalog's error root.

Each class is also the catalog error it means for a caller of the catalog (an entity Atlas does not have is a
``NotFound``; Atlas down, or refusing the catalog's own credentials, is ``UpstreamUnavailable``), so an Atlas
failure reaches the API as the right status without a second mapping. ``status`` and ``error_code`` keep what
Atlas said.
"""

from __future__ import annotations

from catalog.errors import CatalogError, Conflict, InvalidInput, NotFound, UpstreamUnavailable


class AtlasClientError(CatalogError):
    """An Atlas call failed. ``status`` is the HTTP status (0 when no response), ``error_code`` Atlas's code."""

    def __init__(self, message: str, *, status: int = 0, error_code: str | None = None) -> None:
        code = f" {error_code}" if error_code else ""
        super().__init__(f"{message} (HTTP {status}{code})" if status else message)
        self.status = status
        self.error_code = error_code


class AtlasNotFound(AtlasClientError, NotFound):
    pass


class AtlasConflict(AtlasClientError, Conflict):
    pass


class AtlasBadRequest(AtlasClientError, InvalidInput):
    pass


class AtlasAuthError(AtlasClientError, UpstreamUnavailable):
    """Atlas refused the catalog's own credentials: a configuration problem upstream, not the caller's input."""


class AtlasUnavailable(AtlasClientError, UpstreamUnavailable):
    """No answer, a timeout, or a 5xx: the caller may retry later (the outbox does)."""


class AtlasBadAnswer(AtlasUnavailable):
    """A 2xx answer that is not Atlas's JSON (an HTML login page of a proxy, another service on the port, a
    truncated body): nothing usable came back, as when nothing answers."""


class InvalidAtlasUrl(InvalidInput):
    """The Atlas URL cannot be used at all (scheme, host, port, no such store): a configuration error, raised before
    any call."""


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
    else:
        cls = AtlasUnavailable  # 5xx, no answer, or a status Atlas never sends (a proxy in the way)
    return cls(message, status=status, error_code=error_code)
