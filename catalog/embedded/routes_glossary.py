"""GlossaryREST's routes (``/v2/glossary``): glossaries, terms, categories, term assignments, the import of terms
from a file (:mod:`glossary_import`), the glossary search and exports to a file (:mod:`glossary_export`).

Routes with a fixed segment (``term``, ``terms``, ``category``, ``categories``) come before ``{glossaryGuid}`` ones,
as Jersey prefers literal path segments. ``limit``/``offset`` are read as Java ints (Atlas's ``Integer.parseInt``
answers a malformed one with a 500; here it is a 400); ``sort`` is ``DESC`` for descending, anything else ascending.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from catalog.embedded import glossary as gl
from catalog.embedded import glossary_categories as categories
from catalog.embedded import glossary_export, glossary_import
from catalog.embedded import glossary_terms as terms
from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.routes_extra import Route, optional_body
from catalog.embedded.store import EmbeddedStore

if TYPE_CHECKING:
    from catalog.embedded.routes import AtlasRequest

G = "/v2/glossary"
Lister = Callable[[EmbeddedStore, str, int, int, bool], Any]


def _page(req: AtlasRequest) -> tuple[int, int, bool]:
    return req.qint("offset", 0), req.qint("limit", -1), req.query.get("sort") == "DESC"


def _listing(fn: Lister, param: str) -> Callable[[EmbeddedStore, AtlasRequest], Any]:
    def handler(store: EmbeddedStore, req: AtlasRequest) -> Any:
        offset, limit, descending = _page(req)
        return fn(store, req.param(param), offset, limit, descending)
    return handler


def list_glossaries(store: EmbeddedStore, req: AtlasRequest) -> Any:
    offset, limit, descending = _page(req)
    return gl.list_all(store, limit, offset, descending)


def _anchored(req: AtlasRequest) -> Any:
    """GlossaryREST refuses a term or category without an anchor before the service sees it."""
    body = req.json()
    if isinstance(body, dict) and body.get("anchor") is None:
        raise AtlasError(ErrorCode.MISSING_MANDATORY_ANCHOR)
    return body


def _assignments(fn: Callable[[EmbeddedStore, str, Any, str], None]) -> Callable[[EmbeddedStore, AtlasRequest], None]:
    def handler(store: EmbeddedStore, req: AtlasRequest) -> None:
        fn(store, req.param("termGuid"), optional_body(req), req.user)
    return handler


ROUTES: list[Route] = [
    ("GET", G, list_glossaries, 200),
    ("POST", G, lambda s, r: gl.create(s, r.json(), r.user), 200),
    # the import of terms from a file (and its template)
    ("GET", G + "/import/template", glossary_import.template, 200),
    ("POST", G + "/import", glossary_import.import_data, 200),
    # the search of terms and categories, and exports of them to a file
    ("POST", G + "/search", glossary_export.search, 200),
    ("POST", G + "/download/create_file", glossary_export.create_file, 204),
    ("POST", G + "/create_file", glossary_export.create_file, 204),
    ("GET", G + "/download/status", glossary_export.status, 200),
    ("GET", G + "/download/{filename}", glossary_export.download, 200),
    # terms
    ("POST", G + "/term", lambda s, r: terms.create(s, _anchored(r), r.user), 200),
    ("POST", G + "/terms", lambda s, r: terms.create_many(s, r.json(), r.user), 200),
    ("GET", G + "/term/{termGuid}", lambda s, r: terms.get(s, r.param("termGuid")), 200),
    ("PUT", G + "/term/{termGuid}", lambda s, r: terms.update(s, r.param("termGuid"), r.json(), r.user), 200),
    ("PUT", G + "/term/{termGuid}/partial",
     lambda s, r: terms.partial_update(s, r.param("termGuid"), gl.partial_body(optional_body(r)), r.user), 200),
    ("DELETE", G + "/term/{termGuid}", lambda s, r: terms.delete(s, r.param("termGuid"), r.user), 204),
    ("GET", G + "/terms/{termGuid}/related", lambda s, r: terms.related_terms(s, r.param("termGuid")), 200),
    ("GET", G + "/terms/{termGuid}/assignedEntities", _listing(terms.assigned_entities, "termGuid"), 200),
    ("POST", G + "/terms/{termGuid}/assignedEntities", _assignments(terms.assign), 204),
    ("DELETE", G + "/terms/{termGuid}/assignedEntities", _assignments(terms.dissociate), 204),
    ("PUT", G + "/terms/{termGuid}/assignedEntities", _assignments(terms.dissociate), 204),
    # categories
    ("POST", G + "/category", lambda s, r: categories.create(s, _anchored(r), r.user), 200),
    ("POST", G + "/categories", lambda s, r: categories.create_many(s, r.json(), r.user), 200),
    ("GET", G + "/category/{categoryGuid}", lambda s, r: categories.get(s, r.param("categoryGuid")), 200),
    ("PUT", G + "/category/{categoryGuid}",
     lambda s, r: categories.update(s, r.param("categoryGuid"), r.json(), r.user), 200),
    ("PUT", G + "/category/{categoryGuid}/partial",
     lambda s, r: categories.partial_update(s, r.param("categoryGuid"), gl.partial_body(optional_body(r)),
                                            r.user), 200),
    ("DELETE", G + "/category/{categoryGuid}",
     lambda s, r: categories.delete(s, r.param("categoryGuid"), r.user), 204),
    ("GET", G + "/category/{categoryGuid}/terms", _listing(categories.terms, "categoryGuid"), 200),
    ("GET", G + "/category/{categoryGuid}/related",
     lambda s, r: categories.related(s, r.param("categoryGuid")), 200),
    # one glossary
    ("GET", G + "/{glossaryGuid}", lambda s, r: gl.get(s, r.param("glossaryGuid")), 200),
    ("GET", G + "/{glossaryGuid}/detailed", lambda s, r: gl.detailed(s, r.param("glossaryGuid")), 200),
    ("PUT", G + "/{glossaryGuid}", lambda s, r: gl.update(s, r.param("glossaryGuid"), r.json(), r.user), 200),
    ("PUT", G + "/{glossaryGuid}/partial",
     lambda s, r: gl.partial_update(s, r.param("glossaryGuid"), optional_body(r), r.user), 200),
    ("DELETE", G + "/{glossaryGuid}", lambda s, r: gl.delete(s, r.param("glossaryGuid"), r.user), 204),
    ("GET", G + "/{glossaryGuid}/terms", _listing(gl.glossary_terms, "glossaryGuid"), 200),
    ("GET", G + "/{glossaryGuid}/terms/headers", _listing(gl.term_headers, "glossaryGuid"), 200),
    ("GET", G + "/{glossaryGuid}/categories", _listing(gl.glossary_categories, "glossaryGuid"), 200),
    ("GET", G + "/{glossaryGuid}/categories/headers", _listing(gl.category_headers, "glossaryGuid"), 200),
]
