"""Quick search (GET/POST ``search/quick``), suggestions (``search/suggestions``) and full-text search
(``search/fulltext``), as Atlas's EntityDiscoveryService answers them over its Solr index.

Quick search is a basic search (``query`` gets a trailing ``*`` unless it holds a tokenizer character) plus
``aggregationMetrics``: counts of the matches by ``__typeName``, ``__state``, ``Asset.owner`` and ``ServiceType``
(the types' serviceType), as Solr facets count them (entries with a count of at least one, most frequent first).
Suggestions are the five most frequent values, starting with ``prefixString`` (case-insensitively), of the
suggestion fields (names and qualifiedNames, string attributes of searchWeight 8 or more, classification names,
labels), or of ``fieldName`` alone. Full text matches the words of ``query`` against an entity's string attribute
values, type and classification names, scored by the share of words found.
"""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from typing import Any

from catalog.embedded import search as basic
from catalog.embedded import search_params
from catalog.embedded.entity_read import ENTITY_COLS, EntityRow
from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.typesystem import TypeRegistry

SUGGESTION_COUNT = 5  # AtlasJanusGraphIndexClient.DEFAULT_SUGGESTION_COUNT
MIN_SUGGESTION_WEIGHT = 8  # SolrIndexHelper.MIN_SEARCH_WEIGHT_FOR_SUGGESTIONS
# Atlas's base model patch 003 gives these searchWeight 10 (qualifiedName, name) and 9 (description, owner): they
# are suggestion fields whatever the stored typedefs say.
_ALWAYS_SUGGESTED = ("qualifiedName", "name", "description", "owner")
_COLUMNS = {"qualifiedName": "qualified_name", "name": "name"}
_OWNER = "Asset.owner"
# QuickSearchParameters' fields that carry over into the SearchParameters of the search itself.
_QUICK_TO_BASIC = ("query", "typeName", "excludeDeletedEntities", "includeSubTypes", "limit", "offset",
                   "entityFilters", "attributes", "sortBy", "sortOrder", "excludeHeaderAttributes")


def has_tokenize_char(value: str) -> bool:
    """AtlasStructType.AtlasAttribute.hastokenizeChar: whether the index would split ``value`` into tokens."""
    for i, c in enumerate(value):
        if c.isalnum() or c == "_":
            continue
        if c in ".:'":
            if (i > 0 and not value[i - 1].isalpha()) or (i < len(value) - 1 and not value[i + 1].isalpha()):
                return True
            continue
        return True
    return False


# -- quick search -----------------------------------------------------------------------------------------
def _facet(counts: Counter[str]) -> list[dict[str, Any]]:
    return [{"name": name, "count": n} for name, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            if n > 0]


def _metrics(registry: TypeRegistry, found: list[EntityRow]) -> dict[str, list[dict[str, Any]]]:
    """SearchAggregatorImpl's facets over every match (not just the page)."""
    types = Counter(e.type_name for e in found)
    out = {"__typeName": _facet(types), "__state": _facet(Counter(e.status for e in found))}
    owners = Counter(str(e.attributes["owner"]) for e in found if e.attributes.get("owner") not in (None, ""))
    if owners:
        out[_OWNER] = _facet(owners)
    services: Counter[str] = Counter()
    for type_name, n in types.items():
        t = registry.get(type_name)
        service = t.raw.get("serviceType") if t is not None else None
        if service:
            services[str(service)] += n
    if services:
        out["ServiceType"] = _facet(services)
    return {k: v for k, v in out.items() if v}


def quick_search(conn: sqlite3.Connection, registry: TypeRegistry, quick: dict[str, Any]) -> dict[str, Any]:
    """AtlasQuickSearchResult ``{searchResults, aggregationMetrics}`` of QuickSearchParameters ``quick``."""
    if not quick.get("typeName") and not quick.get("query"):
        raise AtlasError(ErrorCode.INVALID_SEARCH_PARAMS)
    query = quick.get("query")
    if query and not has_tokenize_char(str(query)):
        quick = {**quick, "query": f"{query}*"}
    params = {k: quick[k] for k in _QUICK_TO_BASIC if quick.get(k) is not None}
    params.setdefault("includeSubTypes", False)  # a Java boolean in QuickSearchParameters: absent is false
    scope = basic.resolve_scope(conn, registry, params)
    found = basic.ordered(conn, scope, params)
    page = found[params.get("offset", 0) : params.get("offset", 0) + params["limit"]]
    result: dict[str, Any] = {"queryType": "BASIC", "searchParameters": search_params.echo(params),
                              "approximateCount": len(found)}
    if params.get("query"):
        result["queryText"] = params["query"]
    if page:
        result["entities"], referred = basic.entity_headers(conn, registry, page, params.get("attributes"))
        if referred:
            result["referredEntities"] = referred
    return {"searchResults": result, "aggregationMetrics": _metrics(registry, found)}


# -- suggestions ------------------------------------------------------------------------------------------
def _suggestion_attributes(registry: TypeRegistry) -> set[str]:
    """String attributes of a searchWeight of at least 8, by name (SolrIndexHelper's suggestion fields)."""
    names = set(_ALWAYS_SUGGESTED)
    for t in registry.types.values():
        for a in t.attributes.values():
            raw = next((d for d in (registry.raw_def(a.defined_in) or {}).get("attributeDefs") or []
                        if isinstance(d, dict) and d.get("name") == a.name), {})
            weight = raw.get("searchWeight")
            if a.type_name == "string" and isinstance(weight, int) and weight >= MIN_SUGGESTION_WEIGHT:
                names.add(a.name)
    return names


def _prefix_clause(column: str, prefix: str) -> tuple[str, list[str]]:
    if not prefix:
        return f"{column} IS NOT NULL", []
    low = prefix.lower()
    return f"lower({column}) >= ? AND lower({column}) < ?", [low, low + "\U0010ffff"]


def _column_terms(conn: sqlite3.Connection, column: str, prefix: str) -> Counter[str]:
    clause, args = _prefix_clause(f"e.{column}", prefix)
    return Counter({str(v): n for v, n in conn.execute(
        f"SELECT e.{column}, COUNT(*) FROM entity e WHERE {clause} GROUP BY e.{column}", args) if v})


def _classification_terms(conn: sqlite3.Connection, prefix: str) -> Counter[str]:
    clause, args = _prefix_clause("type_name", prefix)
    return Counter({str(v): n for v, n in conn.execute(
        f"SELECT type_name, COUNT(*) FROM entity_classification WHERE {clause} GROUP BY type_name", args)})


def _label_terms(conn: sqlite3.Connection, prefix: str) -> Counter[str]:
    clause, args = _prefix_clause("j.value", prefix)
    return Counter({str(v): n for v, n in conn.execute(
        "SELECT j.value, COUNT(*) FROM entity e, json_each(e.body, '$.labels') j "
        f"WHERE e.body LIKE '%\"labels\":[\"%' AND {clause} GROUP BY j.value", args)})


def _attribute_terms(conn: sqlite3.Connection, name: str, prefix: str) -> Counter[str]:
    path = "$.attributes." + name
    clause, args = _prefix_clause("v", prefix)
    rows = conn.execute(
        f"SELECT v, COUNT(*) FROM (SELECT json_extract(e.body, ?) AS v FROM entity e) WHERE typeof(v) = 'text' "
        f"AND {clause} GROUP BY v", [path, *args])
    return Counter({str(v): n for v, n in rows})


def suggestions(conn: sqlite3.Connection, registry: TypeRegistry, prefix: str | None, field: str | None
                ) -> dict[str, Any]:
    """AtlasSuggestionsResult ``{suggestions, prefixString, fieldName}``."""
    text = prefix or ""
    counts: Counter[str] = Counter()
    name = field.rsplit(".", 1)[-1] if field else None
    if name == "__labels":
        counts += _label_terms(conn, text)
    elif name in _COLUMNS:
        counts += _column_terms(conn, _COLUMNS[name], text)
    elif name and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        counts += _attribute_terms(conn, name, text)
    else:
        for column in _COLUMNS.values():
            counts += _column_terms(conn, column, text)
        for attr in sorted(_suggestion_attributes(registry) - set(_COLUMNS)):
            counts += _attribute_terms(conn, attr, text)
        counts += _classification_terms(conn, text)
        counts += _label_terms(conn, text)
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:SUGGESTION_COUNT]
    out: dict[str, Any] = {"suggestions": [term for term, _ in top]}
    if prefix is not None:
        out["prefixString"] = prefix
    if field is not None:
        out["fieldName"] = field
    return out


# -- full text --------------------------------------------------------------------------------------------
_LUCENE_WORDS = {"and", "or", "not", "to"}


def _terms(query: str) -> list[str]:
    """The words of a Lucene-style query, without its operators, field names and quotes."""
    words = []
    for raw in re.split(r"\s+", query.lower()):
        word = raw.split(":", 1)[-1] if ":" in raw and not raw.startswith(":") else raw
        word = word.strip("+-!()[]{}\"'~^\\")
        if word and word not in _LUCENE_WORDS:
            words.append(word)
    return list(dict.fromkeys(words))


def _texts(e: EntityRow, tag_names: list[str]) -> list[str]:
    out = [e.type_name.lower(), *(t.lower() for t in tag_names)]
    for v in e.attributes.values():
        for x in v if isinstance(v, list) else [v]:
            if isinstance(x, str):
                out.append(x.lower())
    return out


def _word_matches(word: str, texts: list[str]) -> bool:
    if "*" in word or "?" in word:
        regex = re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in word))
        return any(regex.search(t) for t in texts)
    return any(word in t for t in texts)


def full_text(conn: sqlite3.Connection, registry: TypeRegistry, query: str, exclude_deleted: bool, limit: int,
              offset: int) -> dict[str, Any]:
    """AtlasSearchResult of queryType FULL_TEXT: ``fullTextResult`` ``[{entity, score}]``, best first."""
    words = _terms(query)
    if not words:
        raise AtlasError(ErrorCode.INVALID_PARAMETERS, "query: no word to search for")
    tag_names: dict[str, list[str]] = {}
    for guid, type_name in conn.execute("SELECT entity_guid, type_name FROM entity_classification"):
        tag_names.setdefault(guid, []).append(type_name)
    state = " WHERE e.status = 'ACTIVE'" if exclude_deleted else ""
    cols = ", ".join("e." + c.strip() for c in ENTITY_COLS.split(","))
    scored: list[tuple[float, int, EntityRow]] = []
    for i, row in enumerate(conn.execute(f"SELECT {cols} FROM entity e{state} ORDER BY e.create_time, e.rowid")):
        e = EntityRow.from_row(row)
        texts = _texts(e, tag_names.get(e.guid, []))
        found = sum(1 for w in words if _word_matches(w, texts))
        if found:
            scored.append((found / len(words), i, e))
    scored.sort(key=lambda s: (-s[0], s[1]))
    return {"queryType": "FULL_TEXT", "queryText": query,
            "fullTextResult": [{"entity": basic.plain_header(conn, registry, e), "score": score}
                               for score, _, e in scored[offset : offset + limit]],
            "approximateCount": len(scored)}
