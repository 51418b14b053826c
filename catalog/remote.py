"""The catalog behind its REST API (``/api/v1``), as a :class:`catalog.backend.CatalogBackend`.

Error bodies (``{code, message, problems}``) come back as the catalog errors they were raised as, so a caller
handles a remote catalog exactly like the in-process one.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from catalog.backend import BuildRequest, BuildResult, DatasetRef, DeploymentRecord, DriftRecord, WriteResult
from catalog.errors import (
    CatalogError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthorized,
    Unresolved,
    UpstreamUnavailable,
)
from catalog.sync.snapshot import ResolvedBuild

T = TypeVar("T")
_WRITE_RESULT = TypeAdapter(WriteResult)
_BUILD_RESULT = TypeAdapter(BuildResult)
_DATASET_REFS = TypeAdapter(list[DatasetRef])


class HttpClient(Protocol):
    """What is used of an HTTP client (httpx's, or any with its interface, such as an in-process test client)."""

    def request(self, method: str, url: str, *, json: Any = ..., headers: dict[str, str] | None = ...) -> Any: ...

    def close(self) -> None: ...

_BY_CODE: dict[str, type[CatalogError]] = {
    cls.code: cls for cls in (InvalidInput, NotFound, Conflict, Unauthorized, Forbidden, UpstreamUnavailable)}


class RemoteCatalog:
    def __init__(self, base_url: str, token: str | None, *, timeout_s: float = 60.0,
                 client: HttpClient | None = None) -> None:
        """``client``: an httpx client to use instead of one of its own (e.g. one bound to an ASGI app in tests);
        the caller closes it."""
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._owned = client is None
        self._client: HttpClient = client or httpx.Client(base_url=self.base_url, timeout=timeout_s)
        self._headers = headers

    def record_build(self, request: BuildRequest) -> BuildResult:
        return self._call("POST", "/api/v1/builds", request, _BUILD_RESULT, "BuildResult")

    def record_resolved_build(self, resolved: ResolvedBuild) -> BuildResult:
        return self._call("POST", "/api/v1/builds/resolved", resolved, _BUILD_RESULT, "BuildResult")

    def record_deployment(self, record: DeploymentRecord) -> WriteResult:
        return self._call("PUT", f"/api/v1/deployments/{_seg(record.crn)}", record, _WRITE_RESULT, "WriteResult")

    def record_drift(self, record: DriftRecord) -> WriteResult:
        return self._call("PUT", f"/api/v1/deployments/{_seg(record.crn)}/drift", record, _WRITE_RESULT,
                          "WriteResult")

    def build_inputs(self, build_crn: str) -> list[DatasetRef]:
        return self._call("GET", f"/api/v1/builds/{_seg(build_crn)}/inputs", None, _DATASET_REFS,
                          "list of DatasetRef")

    def close(self) -> None:
        if self._owned:
            self._client.close()

    def _call(self, method: str, path: str, body: BaseModel | None, result: TypeAdapter[T], what: str) -> T:
        try:
            if body is None:
                resp = self._client.request(method, path, headers=self._headers)
            else:
                resp = self._client.request(method, path, json=body.model_dump(mode="json"), headers=self._headers)
        except httpx.TransportError as e:
            raise UpstreamUnavailable(f"catalog API at {self.base_url} is not reachable: {type(e).__name__}: {e}"
                                      ) from e
        if resp.status_code >= 400:
            raise _error(resp)
        try:
            return result.validate_python(resp.json())
        except (ValueError, ValidationError) as e:
            raise UpstreamUnavailable(f"catalog API at {self.base_url} answered {method} {path} with something "
                                      f"that is not a {what}: {e}") from e


def _seg(crn: str) -> str:
    """A CRN in a path: its ``:`` and ``/`` as they are (the API's routes take the rest of the path), anything that
    would end the path or change it (``?``, ``#``, ``%``, spaces...) escaped."""
    return quote(crn, safe=":/@")


def _error(resp: Any) -> CatalogError:
    try:
        data: Any = resp.json()
    except ValueError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("code"), str):
        text = resp.text.strip()[:300] or resp.reason_phrase
        if resp.status_code >= 500 or resp.status_code in (408, 429):
            return UpstreamUnavailable(f"catalog API answered HTTP {resp.status_code}: {text}")
        return InvalidInput(f"catalog API answered HTTP {resp.status_code}: {text}")
    code, message = data["code"], str(data.get("message") or "")
    problems = [str(p) for p in data.get("problems") or []]
    if code == Unresolved.code:
        return Unresolved(problems or [message])
    if resp.status_code >= 500 and code not in _BY_CODE:
        return UpstreamUnavailable(f"catalog API: {message}")
    return _BY_CODE.get(code, InvalidInput)(message)
