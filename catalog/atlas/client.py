"""The typed Atlas v2 client: the only code in mlcatalog that speaks Atlas's REST protocol.

Built on httpx. Over the network it talks to any Atlas (``http(s)://host:port[/prefix]``, HTTP Basic auth, a
timeout on every call); handed a transport it talks to whatever answers there, e.g. the embedded store in the
same process (:mod:`catalog.atlas.connect`, ``atlas+embedded:``) or an ``httpx.MockTransport`` in tests. Errors
become typed :class:`AtlasClientError` subclasses carrying the HTTP status and Atlas's errorCode; explicit nulls
are never sent (typed models only serialise what is set).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from http import HTTPStatus
from typing import Any, Self

import httpx
import orjson

from catalog.atlas.errors import AtlasClientError, AtlasUnavailable, error_for
from catalog.atlas.models import (
    Classification,
    Direction,
    Entity,
    EntityHeader,
    EntitySpec,
    Lineage,
    MutationResult,
    SearchResult,
    TypeDef,
    typesdef_from_atlas,
    typesdef_to_atlas,
)
from catalog.redact import redact_text, redact_url

BASE_URI = "api/atlas/"
V2 = BASE_URI + "v2/"
SEARCH_CHUNK = 250  # qualifiedNames per "in" filter: few requests, each still small for a real Atlas
#: Atlas's answers to removing a classification an entity does not have: NO_CLASSIFICATIONS_FOUND_FOR_ENTITY (it has
#: none), CLASSIFICATION_NOT_ASSOCIATED_WITH_ENTITY (it has others).
NOT_ASSOCIATED = frozenset({"ATLAS-404-00-003", "ATLAS-400-00-06D"})


class AtlasCatalogClient:
    def __init__(self, url: str, user: str, password: str, *, timeout_s: float = 30.0, verify: bool | str = True,
                 transport: httpx.BaseTransport | None = None, label: str | None = None,
                 on_close: Callable[[], None] | None = None) -> None:
        """``url``: the Atlas base URL (Knox-style prefixes kept); ``label``: how messages name this Atlas."""
        self.url = label or redact_url(url.rstrip("/"))  # messages name this Atlas; they never carry its password
        self._on_close = on_close
        self._http = httpx.Client(base_url=url.rstrip("/") + "/", auth=(user, password), timeout=timeout_s,
                                  verify=verify, transport=transport,
                                  headers={"Accept": "application/json"})

    def close(self) -> None:
        self._http.close()
        if self._on_close is not None:
            self._on_close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing -----------------------------------------------------------------------------------
    def call(self, path: str, method: str, *, params: dict[str, Any] | None = None, body: Any = None,
             status: HTTPStatus = HTTPStatus.OK, base: str = V2) -> Any:
        """A call (path relative to ``/api/atlas/v2/``); the parsed JSON answer, or None when it has no body."""
        headers = {"Content-Type": "application/json"} if body is not None else None
        content = orjson.dumps(body) if body is not None else None
        try:
            resp = self._http.request(method, base + path.lstrip("/"), params=_params(params), content=content,
                                      headers=headers)
        except httpx.TransportError as e:
            raise AtlasUnavailable(redact_text(f"Atlas at {self.url} is not reachable: {type(e).__name__}: {e}")) from e
        if resp.status_code != status:
            raise _error(resp, method, path)
        if status == HTTPStatus.NO_CONTENT or not resp.content:
            return None
        return orjson.loads(resp.content)

    # -- health -------------------------------------------------------------------------------------
    def ping(self) -> None:
        self.call("admin/version", "GET", base=BASE_URI)

    # -- typedefs -----------------------------------------------------------------------------------
    def get_typedefs(self, names: list[str] | None = None) -> dict[str, TypeDef]:
        out: dict[str, TypeDef] = {}
        if names is None:
            raw = self.call("types/typedefs", "GET")
            return {d.name: d for d in typesdef_from_atlas(raw)}
        for name in names:
            try:
                raw = self.call(f"types/typedef/name/{name}", "GET")
            except AtlasClientError as e:
                if e.status == 404:
                    continue
                raise
            out[name] = TypeDef.from_atlas(str(raw.get("category")), raw)
        return out

    def create_typedefs(self, defs: list[TypeDef]) -> None:
        if defs:
            self.call("types/typedefs", "POST", body=typesdef_to_atlas(defs))

    def update_typedefs(self, defs: list[TypeDef]) -> None:
        if defs:
            self.call("types/typedefs", "PUT", body=typesdef_to_atlas(defs))

    # -- entities -----------------------------------------------------------------------------------
    def upsert(self, specs: list[EntitySpec]) -> MutationResult:
        """Create-or-update in one request (Atlas resolves by qualifiedName)."""
        if not specs:
            return MutationResult()
        raw = self.call("entity/bulk", "POST", body={"entities": [s.to_atlas() for s in specs]})
        return MutationResult.from_atlas(raw or {})

    def partial_update(self, type_name: str, qualified_name: str, attributes: dict[str, Any]) -> MutationResult:
        raw = self.call(f"entity/uniqueAttribute/type/{type_name}", "PUT",
                        params={"attr:qualifiedName": qualified_name},
                        body={"entity": {"typeName": type_name, "attributes": attributes}})
        return MutationResult.from_atlas(raw or {})

    def get_entity(self, guid: str) -> Entity:
        raw = self.call(f"entity/guid/{guid}", "GET", params={"minExtInfo": "true"})
        return Entity.from_atlas(raw["entity"])

    def find_entity(self, type_name: str, qualified_name: str) -> Entity | None:
        try:
            raw = self.call(f"entity/uniqueAttribute/type/{type_name}", "GET",
                            params={"attr:qualifiedName": qualified_name, "minExtInfo": "true"})
        except AtlasClientError as e:
            if e.status == 404:
                return None
            raise
        return Entity.from_atlas(raw["entity"])

    def delete(self, guid: str) -> MutationResult:
        return MutationResult.from_atlas(self.call(f"entity/guid/{guid}", "DELETE") or {})

    def classifications(self, guid: str) -> list[Classification]:
        raw = self.call(f"entity/guid/{guid}/classifications", "GET")
        return [Classification.from_atlas(c) for c in (raw or {}).get("list") or []]

    def add_classification(self, guid: str, classification: Classification) -> None:
        """Associate a classification with the entity. Atlas refuses one it already has (400 ATLAS-400-00-01A)."""
        self.call(f"entity/guid/{guid}/classifications", "POST", status=HTTPStatus.NO_CONTENT,
                  body=[{"typeName": classification.type_name, "attributes": classification.attributes,
                         "propagate": classification.propagate}])

    def remove_classification(self, guid: str, name: str, *, missing_ok: bool = False) -> bool:
        """Remove the classification ``name`` associated with the entity itself; True when one was removed.

        Atlas answers a removal of a classification the entity does not have with 404 ATLAS-404-00-003 (it has
        none at all) or 400 ATLAS-400-00-06D (it has others); ``missing_ok`` makes both a False instead. An unknown
        entity (404 ATLAS-404-00-005) or classification type (400 ATLAS-400-00-014) is raised either way."""
        try:
            self.call(f"entity/guid/{guid}/classification/{name}", "DELETE", status=HTTPStatus.NO_CONTENT)
        except AtlasClientError as e:
            if missing_ok and e.error_code in NOT_ASSOCIATED:
                return False
            raise
        return True

    # -- lineage and search -------------------------------------------------------------------------
    def lineage(self, guid: str, direction: Direction = "BOTH", depth: int = 3) -> Lineage:
        raw = self.call(f"lineage/{guid}", "GET", params={"direction": direction, "depth": depth})
        return Lineage.from_atlas(raw)

    def search(self, *, type_name: str | None = None, classification: str | None = None, query: str | None = None,
               filters: dict[str, Any] | None = None, attributes: list[str] | None = None,
               exclude_deleted: bool = True, limit: int = 100, offset: int = 0) -> SearchResult:
        params: dict[str, Any] = {"excludeDeletedEntities": exclude_deleted, "limit": limit, "offset": offset}
        for key, value in (("typeName", type_name), ("classification", classification), ("query", query),
                           ("entityFilters", filters), ("attributes", attributes)):
            if value is not None:
                params[key] = value
        raw = self.call("search/basic", "POST", body=params) or {}
        return SearchResult(entities=[EntityHeader.from_atlas(h) for h in raw.get("entities") or []],
                            approximate_count=int(raw.get("approximateCount", -1)))

    def search_all(self, *, page_size: int = 1000, **kwargs: Any) -> Iterator[EntityHeader]:
        offset = 0
        while True:
            page = self.search(limit=page_size, offset=offset, **kwargs)
            yield from page.entities
            if len(page.entities) < page_size:
                return
            offset += page_size

    def find_by_qualified_names(self, type_name: str, qualified_names: list[str],
                                attributes: list[str] | None = None) -> dict[str, EntityHeader]:
        """ACTIVE entities of ``type_name`` (and subtypes) by qualifiedName, in few requests."""
        out: dict[str, EntityHeader] = {}
        wanted = sorted(set(qualified_names))
        for i in range(0, len(wanted), SEARCH_CHUNK):
            chunk = wanted[i : i + SEARCH_CHUNK]
            members = set(chunk)
            flt = {"attributeName": "qualifiedName", "operator": "in", "attributeValue": chunk}
            for h in self.search_all(type_name=type_name, filters=flt, attributes=attributes):
                if h.qualified_name in members:
                    out[h.qualified_name] = h
        return out

    def find_by_prefix(self, type_name: str, prefix: str, attributes: list[str] | None = None
                       ) -> dict[str, EntityHeader]:
        flt = {"attributeName": "qualifiedName", "operator": "startsWith", "attributeValue": prefix}
        return {h.qualified_name: h for h in self.search_all(type_name=type_name, filters=flt, attributes=attributes)
                if h.qualified_name and h.qualified_name.startswith(prefix)}


def _params(params: dict[str, Any] | None) -> dict[str, Any] | None:
    """Query values as Atlas's Jersey reads them: booleans as ``true``/``false``."""
    if not params:
        return None
    return {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in params.items()}


def _error(resp: httpx.Response, method: str, path: str) -> AtlasClientError:
    code: str | None = None
    message = resp.reason_phrase or "request failed"
    try:
        err = resp.json()
    except ValueError:
        err = None
    if isinstance(err, dict):
        code = err.get("errorCode")
        message = str(err.get("errorMessage") or err.get("error") or message)
    elif resp.text.strip():
        message = resp.text.strip().splitlines()[0][:300]
    return error_for(resp.status_code, f"{method} {path}: {message}", code)
