"""The typed Atlas v2 client: the only code in mlcatalog that speaks Atlas's REST protocol.

Built on httpx. Over the network it talks to any Atlas (``http(s)://host:port[/prefix]``, HTTP Basic auth, a
timeout on every call); handed a transport it talks to whatever answers there, e.g. the embedded store in the
same process (:mod:`catalog.atlas.connect`, ``atlas+embedded:``) or an ``httpx.MockTransport`` in tests. Errors
become typed :class:`AtlasClientError` subclasses carrying the HTTP status and Atlas's errorCode; explicit nulls
are never sent (typed models only serialise what is set). A URL that cannot be called is an
:class:`InvalidAtlasUrl` when the client is made; an answer that is not Atlas's JSON of the expected shape an
:class:`AtlasBadAnswer`, never a parsing error of the caller's.
"""

from __future__ import annotations

import os
import re
import ssl
from collections.abc import Callable, Iterator
from http import HTTPStatus
from typing import Any, Self, TypeVar
from urllib.parse import urlsplit

import httpx
import orjson

from catalog.atlas.errors import (
    AtlasBadAnswer,
    AtlasBadRequest,
    AtlasClientError,
    AtlasUnavailable,
    InvalidAtlasUrl,
    error_for,
)
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
from catalog.lineagefile.problems import printable
from catalog.redact import redact_text, redact_url

BASE_URI = "api/atlas/"
V2 = BASE_URI + "v2/"
SEARCH_CHUNK = 250  # values per any_of filter: few requests, each still small for a real Atlas
#: Atlas's answers to removing a classification an entity does not have: NO_CLASSIFICATIONS_FOUND_FOR_ENTITY (it has
#: none), CLASSIFICATION_NOT_ASSOCIATED_WITH_ENTITY (it has others).
NOT_ASSOCIATED = frozenset({"ATLAS-404-00-003", "ATLAS-400-00-06D"})
#: Longest text of an answer (an error message, a parse error) a message quotes: answers may be megabytes.
SHOW_CHARS = 300
#: What a model conversion raises on JSON of another shape (a missing key, a list for an object, a bad value).
SHAPE_ERRORS = (KeyError, TypeError, AttributeError, ValueError)
#: The settings that say how an Atlas's certificate is checked, as messages name them (mlcatalog.settings).
CA_BUNDLE_SETTING = "MLCATALOG_ATLAS_CA_BUNDLE or [atlas] ca_bundle"
#: How a client checks the Atlas's TLS certificate: on (the default CAs), off, the PEM file of the CAs to trust
#: instead, or a context made elsewhere.
Verify = bool | str | os.PathLike[str] | ssl.SSLContext

T = TypeVar("T")


class AtlasCatalogClient:
    def __init__(self, url: str, user: str, password: str, *, timeout_s: float = 30.0, verify: Verify = True,
                 transport: httpx.BaseTransport | None = None, label: str | None = None,
                 on_close: Callable[[], None] | None = None) -> None:
        """``url``: the Atlas base URL (a gateway's path prefix, as Knox's ``/gateway/cdp-proxy-api/atlas``, is kept
        for every call); ``verify``: see :data:`Verify`; ``label``: how messages name this Atlas."""
        self.url = label or shown_url(url.rstrip("/"))  # messages name this Atlas; they never carry its password
        self._on_close = on_close
        checked: bool | ssl.SSLContext = True  # httpx reads it only without a transport of the caller's
        if transport is None:
            check_http_url(url)
            checked = tls_context(verify, self.url)
        try:
            # The base ends in "/" and every path is relative: joined, nothing of the prefix is dropped (the official
            # client's urljoin drops its last segment).
            self._http = httpx.Client(base_url=url.rstrip("/") + "/", auth=(user, password), timeout=timeout_s,
                                      verify=checked, transport=transport,
                                      headers={"Accept": "application/json"})
        except (httpx.InvalidURL, ValueError) as e:  # e.g. a transport's URL; http(s) ones were checked above
            raise InvalidAtlasUrl(f"invalid Atlas URL {self.url}: {shown(str(e))}") from None

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
            refused = _certificate_refused(e)
            if refused is not None:
                advice = ("call it by a host name its certificate is for" if "mismatch" in refused.lower() else
                          f"name the PEM file of the CA that signed it with {CA_BUNDLE_SETTING}")
                raise AtlasUnavailable(f"Atlas at {self.url}: TLS certificate verify failed ({shown(refused)}): "
                                       f"{advice}") from e
            raise AtlasUnavailable(f"Atlas at {self.url} is not reachable: {type(e).__name__}: "
                                   f"{shown(redact_text(str(e)))}") from e
        except (httpx.InvalidURL, UnicodeError) as e:  # what the URL check cannot see: a path, the resolver's IDNA
            raise InvalidAtlasUrl(f"Atlas at {self.url}: cannot call {method} {shown(path)}: {shown(str(e))}"
                                  ) from None
        if resp.status_code != status:
            raise _error(resp, method, path)
        if status == HTTPStatus.NO_CONTENT or not resp.content:
            return None
        try:
            return orjson.loads(resp.content)
        except orjson.JSONDecodeError as e:
            raise self._bad_answer(resp.status_code, method, path, f"not JSON ({e})") from None

    def _read(self, path: str, method: str, parse: Callable[[dict[str, Any]], T], *, empty_ok: bool = False,
              **kwargs: Any) -> T:
        """:meth:`call`, then ``parse`` of the JSON object it answers (``empty_ok``: no body or ``null`` is ``{}``).

        Anything but an object, or an object ``parse`` cannot read, is an :class:`AtlasBadAnswer`."""
        raw = self.call(path, method, **kwargs)
        if raw is None and empty_ok:
            raw = {}
        status = int(kwargs.get("status", HTTPStatus.OK))
        if not isinstance(raw, dict):
            raise self._bad_answer(status, method, path, f"{_json_kind(raw)} where an object belongs")
        try:
            return parse(raw)
        except SHAPE_ERRORS as e:
            raise self._bad_answer(status, method, path, f"{type(e).__name__}: {e}") from None

    def _bad_answer(self, status: int, method: str, path: str, why: str) -> AtlasBadAnswer:
        return AtlasBadAnswer(f"the Atlas at {self.url} answered {method} {shown(path)} with something that is not "
                              f"Atlas's JSON: {shown(why)}", status=status)

    # -- health -------------------------------------------------------------------------------------
    def ping(self) -> None:
        self._read("admin/version", "GET", lambda d: None, base=BASE_URI)

    # -- typedefs -----------------------------------------------------------------------------------
    def get_typedefs(self, names: list[str] | None = None) -> dict[str, TypeDef]:
        out: dict[str, TypeDef] = {}
        if names is None:
            return self._read("types/typedefs", "GET", lambda raw: {d.name: d for d in typesdef_from_atlas(raw)})
        for name in names:
            try:
                out[name] = self._read(f"types/typedef/name/{name}", "GET",
                                       lambda raw: TypeDef.from_atlas(str(raw.get("category")), raw))
            except AtlasClientError as e:
                if e.status == 404:
                    continue
                raise
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
        return self._read("entity/bulk", "POST", MutationResult.from_atlas, empty_ok=True,
                          body={"entities": [s.to_atlas() for s in specs]})

    def partial_update(self, type_name: str, qualified_name: str, attributes: dict[str, Any]) -> MutationResult:
        return self._read(f"entity/uniqueAttribute/type/{type_name}", "PUT", MutationResult.from_atlas,
                          empty_ok=True, params={"attr:qualifiedName": qualified_name},
                          body={"entity": {"typeName": type_name, "attributes": attributes}})

    def get_entity(self, guid: str) -> Entity:
        return self._read(f"entity/guid/{guid}", "GET", _entity, params={"minExtInfo": "true"})

    def find_entity(self, type_name: str, qualified_name: str) -> Entity | None:
        try:
            return self._read(f"entity/uniqueAttribute/type/{type_name}", "GET", _entity,
                              params={"attr:qualifiedName": qualified_name, "minExtInfo": "true"})
        except AtlasClientError as e:
            if e.status == 404:
                return None
            raise

    def delete(self, guid: str) -> MutationResult:
        return self._read(f"entity/guid/{guid}", "DELETE", MutationResult.from_atlas, empty_ok=True)

    def classifications(self, guid: str) -> list[Classification]:
        return self._read(f"entity/guid/{guid}/classifications", "GET",
                          lambda raw: [Classification.from_atlas(c) for c in raw.get("list") or []], empty_ok=True)

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
        return self._read(f"lineage/{guid}", "GET", Lineage.from_atlas, params={"direction": direction, "depth": depth})

    def search(self, *, type_name: str | None = None, classification: str | None = None, query: str | None = None,
               filters: dict[str, Any] | None = None, attributes: list[str] | None = None,
               exclude_deleted: bool = True, limit: int = 100, offset: int = 0) -> SearchResult:
        """One page of a basic search, the headers with ``attributes`` where the entities have them. An attribute
        the searched type lacks (an Atlas without mlcatalog's attribute extensions) is left out as a header leaves
        out one without a value: Atlas refuses the search with ATLAS-400-00-023, so it is asked again without it."""
        return self._search(_search_body(type_name, classification, query, filters, exclude_deleted, limit, offset),
                            attributes)[0]

    def _search(self, body: dict[str, Any], attributes: list[str] | None) -> tuple[SearchResult, list[str] | None]:
        """The answer, and the attributes it was asked with."""
        while True:
            try:
                return self._read("search/basic", "POST", _search_result, empty_ok=True,
                                  body={**body, "attributes": attributes} if attributes else body), attributes
            except AtlasBadRequest as e:
                unknown = _unknown_attribute(e)
                if not attributes or unknown not in attributes:
                    raise  # a filter's attribute, or another refusal
                attributes = [a for a in attributes if a != unknown]

    def search_all(self, *, page_size: int = 1000, attributes: list[str] | None = None, type_name: str | None = None,
                   classification: str | None = None, query: str | None = None,
                   filters: dict[str, Any] | None = None, exclude_deleted: bool = True) -> Iterator[EntityHeader]:
        """Every page of :meth:`search`."""
        offset = 0
        while True:
            page, attributes = self._search(_search_body(type_name, classification, query, filters, exclude_deleted,
                                                         page_size, offset), attributes)
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
            for h in self.search_all(type_name=type_name, filters=any_of("qualifiedName", chunk),
                                     attributes=attributes):
                if h.qualified_name in members:
                    out[h.qualified_name] = h
        return out

    def find_by_prefix(self, type_name: str, prefix: str, attributes: list[str] | None = None
                       ) -> dict[str, EntityHeader]:
        flt = {"attributeName": "qualifiedName", "operator": "startsWith", "attributeValue": prefix}
        return {h.qualified_name: h for h in self.search_all(type_name=type_name, filters=flt, attributes=attributes)
                if h.qualified_name and h.qualified_name.startswith(prefix)}


def any_of(attribute: str, values: list[str]) -> dict[str, Any]:
    """A basic-search FilterCriteria matching any of ``values`` (at least one; :data:`SEARCH_CHUNK` at most is
    what Atlas answers quickly). Atlas's attributeValue is one String (a JSON list there is refused), and its ``in``
    has no list to read (its in-memory check wants a collection): so one equality per value, OR-combined."""
    if not values:
        raise ValueError(f"any_of({attribute!r}): no values (an empty group would match every entity)")
    criteria: list[dict[str, Any]] = [{"attributeName": attribute, "operator": "eq", "attributeValue": v}
                                      for v in values]
    return criteria[0] if len(criteria) == 1 else {"condition": "OR", "criterion": criteria}


def shown(text: str) -> str:
    """``text`` fit for a one-line message: control characters escaped, cut to :data:`SHOW_CHARS`."""
    return printable(text if len(text) <= SHOW_CHARS else text[:SHOW_CHARS] + "...")


def shown_url(url: str) -> str:
    """How messages name the Atlas at ``url``: without its password, printable, short."""
    try:
        return shown(redact_url(url))
    except ValueError:  # not even urlsplit can read it (an unclosed "[")
        return shown(redact_text(url))


def tls_context(verify: Verify, label: str) -> bool | ssl.SSLContext:
    """``verify`` as httpx takes it: a CA bundle read now (httpx deprecates a path), so that a missing or unreadable
    one is an :class:`InvalidAtlasUrl` when the client is made rather than an outage at the first call."""
    if isinstance(verify, (bool, ssl.SSLContext)):
        return verify
    path = os.fspath(verify)
    try:
        return ssl.create_default_context(cafile=path)
    except (OSError, ssl.SSLError, ValueError) as e:
        why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise InvalidAtlasUrl(f"cannot use the CA bundle {shown(path)} for the Atlas at {label} ({CA_BUNDLE_SETTING} "
                              f"must be a PEM file of CA certificates): {shown(why)}") from None


def check_http_url(url: str) -> None:
    """Raise :class:`InvalidAtlasUrl` unless ``url`` is an http(s) URL a request can be sent to: a host (a valid IP
    address or a name the resolver can encode), a port in range, no control characters."""
    why = _http_url_problem(url)
    if why:
        raise InvalidAtlasUrl(f"invalid Atlas URL {shown_url(url)}: {why}")


def _http_url_problem(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsing the port is the check (range, digits)
        parsed = httpx.URL(url)
    except (ValueError, httpx.InvalidURL) as e:  # httpx.InvalidURL is no ValueError
        return shown(str(e))
    if parts.scheme.lower() not in ("http", "https"):
        return "expected http(s)://host[:port][/prefix]"
    if not parsed.host:
        return "no host"
    try:
        parsed.raw_host.decode("ascii").encode("idna")  # what the resolver does with it: label lengths
    except UnicodeError as e:
        return f"the host cannot be resolved: {shown(str(e))}"
    return None


def _certificate_refused(e: BaseException) -> str | None:
    """Why the Atlas's certificate was refused, when that is why ``e`` happened (httpx wraps ssl's error)."""
    seen: set[int] = set()
    cause: BaseException | None = e
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return str(cause.verify_message or cause.reason or "certificate verify failed")
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return "certificate verify failed" if "CERTIFICATE_VERIFY_FAILED" in str(e) else None


def _json_kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number")


def _entity(raw: dict[str, Any]) -> Entity:
    return Entity.from_atlas(raw["entity"])


def _search_result(raw: dict[str, Any]) -> SearchResult:
    return SearchResult(entities=[EntityHeader.from_atlas(h) for h in raw.get("entities") or []],
                        approximate_count=int(raw.get("approximateCount", -1)))


def _search_body(type_name: str | None, classification: str | None, query: str | None,
                 filters: dict[str, Any] | None, exclude_deleted: bool, limit: int, offset: int) -> dict[str, Any]:
    """SearchParameters, without the nulls."""
    body: dict[str, Any] = {"excludeDeletedEntities": exclude_deleted, "limit": limit, "offset": offset}
    for key, value in (("typeName", type_name), ("classification", classification), ("query", query),
                       ("entityFilters", filters)):
        if value is not None:
            body[key] = value
    return body


_UNKNOWN_ATTRIBUTE = re.compile(r"Attribute (\S+) not found for type ")


def _unknown_attribute(e: AtlasBadRequest) -> str | None:
    """The attribute an ATLAS-400-00-023 (UNKNOWN_ATTRIBUTE: "Attribute {0} not found for type {1}") names."""
    found = _UNKNOWN_ATTRIBUTE.search(str(e)) if e.error_code == "ATLAS-400-00-023" else None
    return found.group(1) if found else None


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
        code = err.get("errorCode") if isinstance(err.get("errorCode"), str) else None
        message = str(err.get("errorMessage") or err.get("error") or message)
    elif resp.text.strip():
        message = resp.text.strip().splitlines()[0]
    return error_for(resp.status_code, f"{method} {shown(path)}: {shown(message)}", code and shown(code))
