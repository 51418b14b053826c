"""Hostile input on the embedded Atlas API: every case is a 4xx in Atlas's error shape, writes nothing, logs little.

A corpus of requests (issue 14, sections 4 and 5) over every Atlas route that reads a body or a query: malformed
and non-UTF-8 JSON, NaN/Infinity, empty bodies, arrays where objects are expected, JSON nested past what the
stack or the encoder take, wrong JSON types for every field of entity, typedef, relationship, classification and
search bodies, numbers past what their type (or the store) holds, NUL bytes and control characters in names,
unknown enum values, Atlas's own length limits. For each: a 4xx with ``{errorCode, errorMessage}`` (Atlas's code
where the case has a known one), the store's tables and type registry exactly as before, at most one log line.

Then the limits themselves: the request body size (413, Atlas's shape, also over real HTTP), the search page
(Atlas's maxlimit/defaultlimit normalisation), and a store poisoned before typedefs were checked still answering
4xx. A few accepted inputs show the rules are Atlas's and no stricter (Jackson's coercions, names Atlas allows).
"""

from __future__ import annotations

import base64
import functools
import gzip
import json
import logging
import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests
from starlette.testclient import TestClient

from catalog.embedded.app import standalone_app
from catalog.embedded.limits import (
    MAX_BODY_BYTES,
    MAX_FILTER_DEPTH,
    MAX_SUPERTYPE_DEPTH,
    MAX_TYPE_NESTING,
    MAX_VALUE_DEPTH,
    PURGE_MAX_GUIDS,
    Limits,
)
from catalog.embedded.store import EmbeddedStore
from tests.conftest import ATLAS_PASSWORD, RunningAtlas
from tests.embedded.conftest import AUTH, ok
from typedefs import load_bundled_typedefs

V2 = "/api/atlas/v2/"
TABLES = ("typedef", "entity", "relationship", "classification", "uattr", "entity_audit")

# The seed: one type of each category, two entities, a relationship between them.
ENUM, STRUCT, TAG, THING, PARENT, KID, LINK = ("hostile_level", "hostile_point", "hostile_tag", "hostile_thing",
                                               "hostile_parent", "hostile_kid", "hostile_link")
THING_ATTRS = {"s": "string", "i": "int", "l": "long", "bi": "biginteger", "bd": "bigdecimal", "d": "date",
               "f": "float", "b": "boolean", "e": ENUM, "st": STRUCT, "a": "array<string>",
               "m": "map<string,string>"}

BAD_REQUEST = "ATLAS-400-00-029"
INVALID_TYPE_DEFINITION = "ATLAS-400-00-011"
CRUD_INVALID = "ATLAS-404-00-007"


def optional(name: str, type_name: str) -> dict[str, Any]:
    return {"name": name, "typeName": type_name, "isOptional": True}


def seed_typedefs() -> dict[str, Any]:
    return {
        "enumDefs": [{"name": ENUM, "elementDefs": [{"value": "LOW", "ordinal": 0}, {"value": "HIGH", "ordinal": 1}]}],
        "structDefs": [{"name": STRUCT, "attributeDefs": [optional("x", "int")]}],
        "classificationDefs": [{"name": TAG, "attributeDefs": [optional("level", "int")]}],
        "entityDefs": [
            {"name": THING, "superTypes": ["DataSet"],
             "attributeDefs": [optional(n, t) for n, t in THING_ATTRS.items()]},
            {"name": PARENT, "superTypes": ["DataSet"], "attributeDefs": []},
            {"name": KID, "superTypes": [PARENT], "attributeDefs": [optional("k", "string")]},
        ],
        "relationshipDefs": [{
            "name": LINK, "relationshipCategory": "ASSOCIATION", "attributeDefs": [optional("weight", "int")],
            "endDef1": {"type": THING, "name": "linkedTo", "cardinality": "SET"},
            "endDef2": {"type": THING, "name": "linkedFrom", "cardinality": "SET"},
        }],
    }


@dataclass(frozen=True)
class Seed:
    guid: str
    other: str
    rel: str

    def fill(self, text: str) -> str:
        return text.format(guid=self.guid, other=self.other, rel=self.rel, thing=THING)


Body = bytes | Callable[[Seed], Any] | Any


@dataclass(frozen=True)
class Case:
    id: str
    method: str
    path: str  # under /api/atlas/v2/ unless it starts with "/"; {guid} {other} {rel} {thing} are filled in
    body: Body = None
    params: dict[str, str] | None = None
    code: str | None = None  # the errorCode expected, when the case has one answer


def encode(body: Body, seed: Seed) -> bytes | None:
    if isinstance(body, bytes):
        return body
    if callable(body):
        body = body(seed)
    return None if body is None else json.dumps(body).encode()  # stdlib: NaN, huge ints and deep nesting pass


def nested_lists(depth: int) -> Any:
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


def nested_filter(levels: int) -> dict[str, Any]:
    crit: dict[str, Any] = {"attributeName": "name", "operator": "=", "attributeValue": "x"}
    for _ in range(levels):
        crit = {"condition": "AND", "criterion": [crit]}
    return crit


def thing(attributes: dict[str, Any]) -> dict[str, Any]:
    """A new hostile_thing with ``attributes``."""
    return {"typeName": THING, "attributes": {"qualifiedName": "hostile-new", "name": "new", **attributes}}


# ------------------------------------------------------------------------------------------------
# the corpus
# ------------------------------------------------------------------------------------------------
BODY_ROUTES = [
    ("POST", "entity"), ("POST", "entity/bulk"), ("POST", "types/typedefs"), ("PUT", "types/typedefs"),
    ("DELETE", "types/typedefs"), ("POST", "search/basic"), ("POST", "relationship"), ("PUT", "relationship"),
    ("POST", "entity/guid/{guid}/classifications"), ("PUT", "entity/guid/{guid}/classifications"),
    ("POST", "entity/bulk/classification"), ("PUT", "entity/uniqueAttribute/type/{thing}?attr:qualifiedName=hostile-1"),
    ("POST", "entity/uniqueAttribute/type/{thing}/classifications?attr:qualifiedName=hostile-1"),
    ("PUT", "/api/atlas/admin/purge"),
    ("POST", "search/quick"), ("POST", "search/relations"), ("POST", "search/saved"), ("PUT", "search/saved"),
    ("POST", "entity/bulk/setClassifications"), ("POST", "glossary"), ("POST", "glossary/term"),
    ("POST", "glossary/category"), ("PUT", "glossary/{guid}"), ("PUT", "glossary/term/{guid}"),
    ("PUT", "glossary/category/{guid}"), ("PUT", "glossary/{guid}/partial"),
    ("POST", "glossary/terms/{guid}/assignedEntities"), ("PUT", "glossary/terms/{guid}/assignedEntities"),
    ("DELETE", "glossary/terms/{guid}/assignedEntities"),
]
MALFORMED = {
    "empty": b"", "blank": b"  \n", "truncated": b'{"entity": {', "non-utf8": b'{"a": "\xff\xfe"}',
    "nan": b"NaN", "infinity": b'{"limit": Infinity}', "overflow": b"[1e999]", "lone-surrogate": b'["\\ud800"]',
    "trailing": b'{"a": 1} {"b": 2}', "nested-2000": b"[" * 2000 + b"]" * 2000,
    "nested-200": b"[" * 200 + b"]" * 200,  # valid JSON, deeper than the body bound (128)
}
WRONG_SHAPE = {"array": b"[]", "string": b'"text"', "number": b"42", "null": b"null", "true": b"true",
               "array-of-arrays": b"[[]]"}


def malformed_cases() -> Iterator[Case]:
    for (method, path) in BODY_ROUTES:
        for name, raw in MALFORMED.items():
            yield Case(f"{name} {method} {path}", method, path, raw, code=BAD_REQUEST)
        for name, raw in WRONG_SHAPE.items():
            yield Case(f"{name} {method} {path}", method, path, raw)
    for name, raw in MALFORMED.items():  # a partial update's body is the value itself: any JSON may be right
        yield Case(f"{name} PUT entity/guid?name=", "PUT", "entity/guid/{guid}", raw, {"name": "s"}, BAD_REQUEST)


# Per attribute type: values that no Atlas type reading accepts.
BAD_VALUES: dict[str, list[Any]] = {
    "s": [{"not": "a string"}, [[1]], nested_lists(MAX_VALUE_DEPTH + 1)],
    "i": [10**30, 2**31, "ten", 1.5, True, "NaN", {"a": 1}],
    "l": [2**63, -(10**20), "1e999", "9" * 30],
    "bi": ["9" * 100, 10**30, "abc", True],
    "bd": ["1e400", "NaN", "Infinity", 10**30, "-1e999"],
    "d": [-(10**20), "9" * 30, "yesterday", {"a": 1}, True],
    "f": ["1e999", "NaN", "-Infinity", "abc"],
    "b": ["yes", 1, {}],
    "e": ["NOPE", 99, {"value": "NOPE"}, ["LOW", ["HIGH"]]],
    "st": ["abc", [1], {"attributes": {"x": "ten"}}],
    "a": [[[1]], {"a": 1}, nested_lists(100)],
    "m": ["abc", [1], {"k": {"n": 1}}],
    "unknown": [nested_lists(500), nested_lists(MAX_VALUE_DEPTH + 1)],
}


def attribute_cases() -> Iterator[Case]:
    for attr, values in BAD_VALUES.items():
        for i, value in enumerate(values):
            body = {"entity": thing({attr: value})}
            yield Case(f"entity attribute {attr}#{i}", "POST", "entity", body)
            yield Case(f"bulk entity attribute {attr}#{i}", "POST", "entity/bulk", {"entities": [thing({attr: value})]})
    yield Case("issue 14.1: an attribute 500 lists deep", "POST", "entity",
               {"entity": thing({"s": nested_lists(500)})}, code=BAD_REQUEST)
    yield Case("a value deeper than the value bound", "POST", "entity",
               {"entity": thing({"unknown": nested_lists(MAX_VALUE_DEPTH + 1)})}, code=BAD_REQUEST)
    yield Case("partial update past the value bound", "PUT", "entity/guid/{guid}",
               nested_lists(MAX_VALUE_DEPTH + 1), {"name": "a"}, BAD_REQUEST)
    yield Case("partial update with a number too large", "PUT", "entity/guid/{guid}", 10**30, {"name": "i"},
               CRUD_INVALID)


# Per entity field: JSON of a type Jackson does not read into it.
ENTITY_FIELDS: dict[str, list[Any]] = {
    "typeName": [["x"], {"a": 1}, 42, True],
    "guid": [["x"], {"a": 1}, True, 1.5],
    "attributes": [["x"], "text", 42],
    "relationshipAttributes": [["x"], "text", {"linkedTo": {"guid": ["x"]}},
                               {"linkedTo": {"typeName": THING, "uniqueAttributes": "abc"}},
                               {"linkedTo": [{"guid": "{other}", "relationshipAttributes": {"attributes": [1]}}]}],
    "classifications": ["text", {"a": 1}, [1, 2], [{"typeName": TAG, "attributes": "abc"}],
                        [{"typeName": TAG, "propagate": "yes"}], [{"typeName": TAG, "attributes": {"level": "x"}}]],
    "customAttributes": ["text", {"k": 1}, {"bad key!": "v"}, {"k" * 51: "v"}, {"k": "v" * 501}],
    "labels": ["text", [1], {"a": 1}, ["bad label!"], ["x" * 51]],
    "businessAttributes": ["text", {"bm": "notobject"}, {"bm": {"a": nested_lists(MAX_VALUE_DEPTH + 1)}}],
    "status": ["WEIRD", 1],
    "provenanceType": ["x", 2**40, 1.5],
    "isProxy": ["yes", 1],
    "version": ["x", 1.5, True],
    "createTime": [{"a": 1}, True],
    "homeId": [5, ["x"]],
}


def with_guids(body: Any) -> Callable[[Seed], Any]:
    """``body`` with the strings "{guid}", "{other}", "{rel}" replaced by the seed's guids."""
    text = json.dumps(body)
    return lambda seed: json.loads(text.replace('"{guid}"', json.dumps(seed.guid)).replace(
        '"{other}"', json.dumps(seed.other)).replace('"{rel}"', json.dumps(seed.rel)))


def entity_field_cases() -> Iterator[Case]:
    for field, values in ENTITY_FIELDS.items():
        for i, value in enumerate(values):
            entity = {**thing({}), field: value}
            yield Case(f"entity field {field}#{i}", "POST", "entity/bulk", with_guids({"entities": [entity]}))
    for i, referred in enumerate([["x"], "text", {"-9": "notobject"}, {"-9": {"typeName": ["x"]}}]):
        yield Case(f"referredEntities#{i}", "POST", "entity/bulk",
                   {"entities": [thing({})], "referredEntities": referred}, code=BAD_REQUEST)
    envelopes: list[dict[str, Any]] = [{"entity": []}, {"entity": "x"}, {"entities": {}}, {"entities": "x"},
                                       {"entity": None}, {"entities": [1]}]
    for i, body in enumerate(envelopes):
        yield Case(f"envelope#{i}", "POST", "entity/bulk" if "entities" in body else "entity", body, code=BAD_REQUEST)
    yield Case("update by unique attribute: entity not an object", "PUT",
               "entity/uniqueAttribute/type/{thing}?attr:qualifiedName=hostile-1", {"entity": ["x"]})


def struct_def(attribute: dict[str, Any], name: str = "hostile_new") -> dict[str, Any]:
    return {"structDefs": [{"name": name, "attributeDefs": [attribute]}]}


def entity_def(name: str, attributes: list[dict[str, Any]], supers: Any = None) -> dict[str, Any]:
    return {"entityDefs": [{"name": name, "superTypes": ["DataSet"] if supers is None else supers,
                            "attributeDefs": attributes}]}


ATTRIBUTE_FIELDS: dict[str, list[Any]] = {
    "name": [5, ["a"], {"a": 1}],
    "typeName": [5, ["string"], "array<" * 2000 + "string" + ">" * 2000,
                 "array<" * (MAX_TYPE_NESTING + 1) + "string" + ">" * (MAX_TYPE_NESTING + 1),
                 "map<string," * (MAX_TYPE_NESTING + 1) + "string" + ">" * (MAX_TYPE_NESTING + 1),
                 "map<string>", "array<string", "nope_type"],
    "isOptional": ["yes", 1], "isUnique": ["no", 0], "isIndexable": [{"a": 1}],
    "cardinality": ["MANY", 1], "valuesMinCount": ["x", 2**40], "valuesMaxCount": [1.5],
    "options": ["abc", {"k": 1}, {"k": ["v"]}], "constraints": ["abc", [1], [{"params": {}}], [{"type": 5}]],
    "defaultValue": [{"a": 1}, [1]], "searchWeight": [1.5, "x"], "indexType": ["WEIRD"], "description": [["x"]],
}


def typedef_cases() -> Iterator[Case]:
    for field, values in ATTRIBUTE_FIELDS.items():
        for i, value in enumerate(values):
            attribute = {"name": "a", "typeName": "string", "isOptional": True, field: value}
            yield Case(f"attribute {field}#{i}", "POST", "types/typedefs", struct_def(attribute))
    yield Case("issue 14.2: array< 2000 deep", "POST", "types/typedefs",
               struct_def(optional("a", "array<" * 2000 + "string" + ">" * 2000)), code=INVALID_TYPE_DEFINITION)
    yield Case("issue 14.2 on update", "PUT", "types/typedefs",
               {"structDefs": [{"name": STRUCT, "attributeDefs": [optional("x", "int"), optional(
                   "y", "array<" * 2000 + "string" + ">" * 2000)]}]}, code=INVALID_TYPE_DEFINITION)
    for i, elements in enumerate(["abc", [1, 2], [{"value": 1, "ordinal": 0}], [{"value": "A"}],
                                  [{"value": "A", "ordinal": "x"}], [{"value": "A", "ordinal": 2**40}],
                                  [{"ordinal": 0}], {"value": "A"}]):
        yield Case(f"issue 14.10: enum elementDefs#{i}", "POST", "types/typedefs",
                   {"enumDefs": [{"name": "hostile_e2", "elementDefs": elements}]}, code=INVALID_TYPE_DEFINITION)
    yield Case("issue 14.10 on update", "PUT", "types/typedefs",
               {"enumDefs": [{"name": ENUM, "elementDefs": "abc"}]}, code=INVALID_TYPE_DEFINITION)
    yield from _naming_cases()
    yield from _hierarchy_cases()
    yield from _relationship_def_cases()
    for i, body in enumerate([{"enumDefs": "abc"}, {"entityDefs": [1]}, {"entityDefs": [{"name": 5}]},
                              {"entityDefs": [{"name": "  "}]}, {"structDefs": {"name": "x"}},
                              {"entityDefs": [{"name": "hostile_n", "typeVersion": 1.0}]},
                              {"entityDefs": [{"name": "hostile_n", "options": "abc"}]},
                              {"entityDefs": [{"name": "hostile_n", "attributeDefs": "abc"}]},
                              {"entityDefs": [{"name": "hostile_n", "attributeDefs": {"name": "a"}}]},
                              {"classificationDefs": [{"name": "hostile_c2", "entityTypes": "abc"}]}]):
        yield Case(f"typedef shape#{i}", "POST", "types/typedefs", body)
    yield Case("delete typedefs: names only, still checked", "DELETE", "types/typedefs", {"entityDefs": [{"name": 5}]},
               code=BAD_REQUEST)


def _naming_cases() -> Iterator[Case]:
    for i, name in enumerate(["a\x00b", "bad\nname", "tab\there", "1abc", "a-b", "a.b", "é", "__", "a\x7f"]):
        yield Case(f"entity type name#{i}", "POST", "types/typedefs", entity_def(name, []), code="ATLAS-400-00-019")
    for i, name in enumerate(["C\x00", "1tag", "-tag"]):
        yield Case(f"classification name#{i}", "POST", "types/typedefs",
                   {"classificationDefs": [{"name": name}]}, code="ATLAS-400-00-019")
    for name in ("name", "description", "servicetype"):
        yield Case(f"reserved type name {name}", "POST", "types/typedefs", entity_def(name, []),
                   code="ATLAS-400-00-102")
    yield Case("NUL in an attribute name", "POST", "types/typedefs", struct_def(optional("a\x00b", "string")),
               code="ATLAS-400-00-09A")
    yield Case("business metadata attribute name", "POST", "types/typedefs",
               {"businessMetadataDefs": [{"name": "hostile_bm", "attributeDefs": [optional("a b!", "string")]}]},
               code="ATLAS-400-00-09A")
    for i, names in enumerate([("a", "a"), ("dup", "DUP")]):
        yield Case(f"duplicate attribute#{i}", "POST", "types/typedefs",
                   entity_def("hostile_dup", [optional(n, "string") for n in names]), code=INVALID_TYPE_DEFINITION)
    yield Case("duplicate business metadata attribute", "POST", "types/typedefs",
               {"businessMetadataDefs": [{"name": "hostile_bm", "attributeDefs": [optional("a", "string")] * 2}]},
               code="ATLAS-400-00-092")


def _hierarchy_cases() -> Iterator[Case]:
    another_parent = "ATLAS-400-00-09E"
    yield Case("subtype redefines qualifiedName as int", "POST", "types/typedefs",
               entity_def("hostile_sub", [optional("qualifiedName", "int")]), code=another_parent)
    yield Case("subtype redefines an inherited attribute, same type", "POST", "types/typedefs",
               entity_def("hostile_sub", [optional("k", "string")], [KID]), code=another_parent)
    yield Case("classification subtype redefines an attribute", "POST", "types/typedefs",
               {"classificationDefs": [{"name": "hostile_subtag", "superTypes": [TAG],
                                        "attributeDefs": [optional("level", "string")]}]}, code=another_parent)
    yield Case("two parents define one attribute", "POST", "types/typedefs",
               {"entityDefs": [
                   {"name": "hostile_p2", "superTypes": ["DataSet"], "attributeDefs": [optional("k", "int")]},
                   {"name": "hostile_both", "superTypes": [KID, "hostile_p2"], "attributeDefs": []}]},
               code=another_parent)
    yield Case("a parent gains an attribute its subtype defines", "PUT", "types/typedefs",
               entity_def(PARENT, [optional("k", "string")]), code=another_parent)
    chain = [{"name": f"hostile_chain{i}", "superTypes": [f"hostile_chain{i - 1}"] if i else ["DataSet"]}
             for i in range(MAX_SUPERTYPE_DEPTH + 1)]
    yield Case("supertypes deeper than the bound", "POST", "types/typedefs", {"entityDefs": chain},
               code=INVALID_TYPE_DEFINITION)
    long_chain = [{"name": f"hostile_long{i}", "superTypes": [f"hostile_long{i - 1}"] if i else ["DataSet"]}
                  for i in range(1500)]
    yield Case("supertypes past the stack", "POST", "types/typedefs", {"entityDefs": long_chain[::-1]},
               code=INVALID_TYPE_DEFINITION)
    for i, supers in enumerate(["abc", [1], [["DataSet"]], ["hostile_nope"], ["hostile_self"]]):
        yield Case(f"superTypes#{i}", "POST", "types/typedefs", entity_def("hostile_self", [], supers))


def _relationship_def_cases() -> Iterator[Case]:
    def rel(**fields: Any) -> dict[str, Any]:
        base = {"name": "hostile_rel2", "relationshipCategory": "ASSOCIATION",
                "endDef1": {"type": THING, "name": "r1", "cardinality": "SINGLE"},
                "endDef2": {"type": THING, "name": "r2", "cardinality": "SET"}}
        return {"relationshipDefs": [{**base, **fields}]}

    yield Case('relationshipCategory "WEIRD"', "POST", "types/typedefs", rel(relationshipCategory="WEIRD"),
               code=INVALID_TYPE_DEFINITION)
    bad_fields: list[dict[str, Any]] = [
        {"relationshipCategory": "association"}, {"propagateTags": "SOMETIMES"}, {"endDef1": "abc"},
        {"endDef1": {"type": THING}}, {"endDef1": {"type": THING, "name": "r1", "cardinality": "MANY"}},
        {"endDef1": {"type": THING, "name": "r1", "isContainer": "yes"}},
        {"endDef1": {"type": THING, "name": "r\x001"}}, {"endDef2": {"type": ["x"], "name": "r2"}},
        {"relationshipLabel": ["x"]}]
    for i, fields in enumerate(bad_fields):
        yield Case(f"relationshipDef#{i}", "POST", "types/typedefs", rel(**fields))


def instance_cases() -> Iterator[Case]:
    ends = {"end1": {"guid": "{other}"}, "end2": {"guid": "{guid}"}}  # no such relationship yet
    relationships = [{"typeName": 5}, {"typeName": LINK, "end1": "abc", "end2": "abc"},
                     {"typeName": LINK, "end1": {"guid": ["x"]}, "end2": {"guid": "{other}"}},
                     {"typeName": LINK, **ends, "attributes": "abc"},
                     {"typeName": LINK, **ends, "attributes": {"weight": "ten"}},
                     {"typeName": LINK, **ends, "attributes": {"weight": 2**40}},
                     {"typeName": LINK, **ends, "propagateTags": "SOMETIMES"},
                     {"typeName": LINK, **ends, "status": "WEIRD"},
                     {"typeName": LINK, **ends, "attributes": {"x": nested_lists(MAX_VALUE_DEPTH + 1)}}]
    for i, body in enumerate(relationships):
        yield Case(f"relationship#{i}", "POST", "relationship", with_guids(body))
    for i, body in enumerate([{"guid": 5}, {"guid": "{rel}", "attributes": "abc"},
                              {"guid": "{rel}", "attributes": {"weight": "ten"}},
                              {"guid": "{rel}", "propagateTags": "X"}, {"guid": "{rel}", "attributes": [1]}]):
        yield Case(f"relationship update#{i}", "PUT", "relationship", with_guids(body))
    classifications = [[{"typeName": TAG, "attributes": "abc"}], [{"typeName": TAG, "attributes": {"level": "ten"}}],
                       [{"typeName": TAG, "propagate": "yes"}], [{"typeName": TAG, "validityPeriods": "abc"}],
                       [{"typeName": TAG, "validityPeriods": [{"startTime": 5}]}], [{"typeName": {"a": 1}}],
                       ["abc"], [], {"typeName": TAG}, [{"typeName": "hostile_nope"}],
                       [{"typeName": TAG, "attributes": {"level": nested_lists(MAX_VALUE_DEPTH + 1)}}]]
    for i, body in enumerate(classifications):
        yield Case(f"classifications#{i}", "POST", "entity/guid/{guid}/classifications", body)
        yield Case(f"classifications update#{i}", "PUT", "entity/guid/{guid}/classifications", body)
        yield Case(f"classifications by unique attribute#{i}", "POST",
                   "entity/uniqueAttribute/type/{thing}/classifications?attr:qualifiedName=hostile-1", body)
    for i, body in enumerate([{"classification": {"typeName": TAG}, "entityGuids": "abc"},
                              {"classification": {"typeName": TAG}, "entityGuids": [1]},
                              {"classification": "abc", "entityGuids": ["{guid}"]},
                              {"classification": {"typeName": TAG, "propagate": 1}, "entityGuids": ["{guid}"]}]):
        yield Case(f"bulk classification#{i}", "POST", "entity/bulk/classification", with_guids(body))
    for i, guids in enumerate([[], [5], ["x" * 5000], [f"g{n}" for n in range(PURGE_MAX_GUIDS + 1)]]):
        yield Case(f"purge#{i}", "PUT", "/api/atlas/admin/purge", guids)


def search_cases() -> Iterator[Case]:
    fields: dict[str, list[Any]] = {
        "limit": ["ten", -1, 2**31, 1.5, True, [1], {"a": 1}, "1e3"],
        "offset": ["x", -5, 2**40, False],
        "typeName": [["a"], 5, "a" * 5000], "classification": [{"a": 1}, "x" * 5000], "query": [{"a": 1}, "q" * 5000],
        "sortBy": [5, "s" * 5000], "sortOrder": ["UP", 5], "excludeDeletedEntities": ["maybe", 2],
        "includeSubTypes": ["x"], "attributes": ["abc", [1], {"a": 1}], "termName": [5],
        "entityFilters": ["abc", [1], nested_filter(130), nested_filter(MAX_FILTER_DEPTH), {"criterion": "abc"},
                          {"criterion": [1]}, {"condition": "XOR", "criterion": []}, {"condition": 5},
                          {"attributeName": "name", "operator": "weird", "attributeValue": "x"},
                          {"attributeName": "name", "operator": 5, "attributeValue": "x"},
                          {"attributeName": ["a"], "operator": "=", "attributeValue": "x"},
                          {"attributeName": "name", "operator": "in", "attributeValue": {"a": 1}},
                          {"attributeName": "name", "operator": "in", "attributeValue": [[1]]}],
        "tagFilters": ["abc", nested_filter(MAX_FILTER_DEPTH)],
    }
    codes = {("limit", 0): BAD_REQUEST, ("entityFilters", 2): BAD_REQUEST, ("entityFilters", 3): BAD_REQUEST,
             ("typeName", 2): "ATLAS-400-00-057", ("query", 1): "ATLAS-400-00-058"}
    for field, values in fields.items():
        for i, value in enumerate(values):
            yield Case(f"search {field}#{i}", "POST", "search/basic", {"typeName": THING, field: value},
                       code=codes.get((field, i)))
    for i, params in enumerate([{"limit": "ten"}, {"limit": "99999999999999999999"}, {"offset": "-1"},
                                {"typeName": "t" * 5000}, {"query": "q" * 5000}, {"excludeDeletedEntities": "maybe"},
                                {"typeName": "\x00"}, {"sortBy": "s" * 5000}]):
        yield Case(f"GET search#{i}", "GET", "search/basic", None, {"typeName": THING, **params})
    dsl = [("(" * 5000 + "x" + ")" * 5000, "ATLAS-400-00-058"),  # longer than atlas.graph.dsl-max-query-str-length
           (f"{THING} where " + "(" * 40 + "s = 'x'" + ")" * 40, "ATLAS-400-00-059"),  # deeper than MAX_DSL_DEPTH
           (f"{THING} where " + "(" * 2000 + "s = 'x'", "ATLAS-400-00-059"),
           (f"{THING} where " + " and ".join(["s = 'x'"] * 300) + " and", "ATLAS-400-00-059"),
           (f"{THING} where s = [" + "[" * 1000, "ATLAS-400-00-059"), (f"{THING} where s = 'x", "ATLAS-400-00-059"),
           ("\x00", "ATLAS-400-00-059"), (f"{THING} limit 99999999999", "ATLAS-400-00-059"),
           (f"{THING} where nope = 1", "ATLAS-400-00-059"), (f"{THING} select max(", "ATLAS-400-00-059")]
    for i, (query, code) in enumerate(dsl):
        yield Case(f"DSL#{i}", "GET", "search/dsl", None, {"query": query}, code)
    yield Case("DSL typeName too long", "GET", "search/dsl", None, {"typeName": "t" * 5000}, "ATLAS-400-00-057")
    searches = [("search/quick", {"query": "q" * 5000}), ("search/fulltext", {"query": "(" * 3000}),
                ("search/relationship", {"guid": "{guid}", "relation": "r" * 5000}),
                ("search/attribute", {"attrName": "", "attrValuePrefix": ""}),
                ("search/saved/execute/guid/nope", {}), ("search/saved/nope", {"user": "other"})]
    for i, (path, params) in enumerate(searches):
        yield Case(f"search GET#{i}", "GET", path, None, params)
    for i, params in enumerate([{"depth": "ten"}, {"depth": "99999999999999999999"}, {"depth": "1.5"}]):
        yield Case(f"lineage#{i}", "GET", "lineage/{guid}", None, params)
    yield Case("GET entity: boolean that is not", "GET", "entity/guid/{guid}", None, {"minExtInfo": "maybe"})
    yield Case("GET typedef: NUL in the name", "GET", "types/typedef/name/a%00b")
    yield Case("GET bulk by unique: index not a number", "GET", "entity/bulk/uniqueAttribute/type/{thing}",
               None, {"attr_x:qualifiedName": "q"})


def path_cases() -> Iterator[Case]:
    """Atlas bounds every path and query parameter (Servlets.validateQueryParamLength); an answer never echoes a
    whole hostile path."""
    long = "g" * 5000
    for method, path in [("GET", f"entity/guid/{long}"), ("DELETE", f"entity/guid/{long}"),
                         ("DELETE", f"types/typedef/name/{long}"), ("GET", f"types/entitydef/name/{long}"),
                         ("POST", f"entity/uniqueAttribute/type/{long}/classifications")]:
        yield Case(f"long path parameter {method} {path[:20]}", method, path, [{"typeName": TAG}],
                   code="ATLAS-400-00-057")
    yield Case("unknown path, 20000 characters", "GET", "x" * 20000, code="ATLAS-404-00-004")
    yield Case("unknown method on a long path", "PATCH", "entity/bulk/" + "x" * 20000)


def audit_label_metadata_cases() -> Iterator[Case]:
    """Audit queries, labels, business metadata (entity values and typedef rules) and bulk headers."""
    for i, params in enumerate([{"auditAction": "WEIRD"}, {"count": "40000"}, {"count": "x"}, {"offset": "1.5"},
                                {"startKey": "garbage"}, {"offset": "99999999999"}]):
        yield Case(f"audit#{i}", "GET", "entity/{guid}/audit", None, params, "ATLAS-400-00-01A")
    yield Case("audit of an unknown entity", "GET", "entity/nope/audit", code="ATLAS-404-00-005")
    labels = [("PUT", ["x" * 51], "ATLAS-400-00-08F"), ("POST", ["x" * 51], "ATLAS-400-00-08F"),
              ("PUT", ["bad label!"], "ATLAS-400-00-090"), ("DELETE", ["a\x00b"], "ATLAS-400-00-090"),
              ("PUT", [1], BAD_REQUEST), ("POST", "text", BAD_REQUEST), ("POST", {"a": 1}, BAD_REQUEST),
              ("PUT", [], "ATLAS-400-00-01A"), ("DELETE", [], "ATLAS-400-00-01A"), ("PUT", b"", "ATLAS-400-00-01A"),
              ("POST", b"[", BAD_REQUEST), ("POST", [["nested"]], BAD_REQUEST)]
    for i, (method, body, code) in enumerate(labels):
        yield Case(f"labels#{i}", method, "entity/guid/{guid}/labels", body, code=code)
    yield Case("labels of an unknown entity", "POST", "entity/guid/nope/labels", ["a"], code="ATLAS-404-00-005")
    yield Case("labels by unique attribute, unknown type", "PUT", "entity/uniqueAttribute/type/nope/labels", ["a"],
               {"attr:qualifiedName": "x"}, "ATLAS-400-00-014")
    yield Case("labels by unique attribute, unknown entity", "PUT", "entity/uniqueAttribute/type/{thing}/labels",
               ["a"], {"attr:qualifiedName": "nope"}, "ATLAS-404-00-009")
    metadata = [({"nope": {"a": 1}}, CRUD_INVALID), ({"bm": "x"}, BAD_REQUEST), ({"bm": [1]}, BAD_REQUEST),
                ({}, "ATLAS-400-00-01A"), ([1], BAD_REQUEST), (b"", "ATLAS-400-00-01A")]
    for i, (body, code) in enumerate(metadata):
        yield Case(f"business metadata#{i}", "POST", "entity/guid/{guid}/businessmetadata", body, code=code)
        if i:  # removing business metadata the entity can not have is nothing to do, as in Atlas
            yield Case(f"business metadata removal#{i}", "DELETE", "entity/guid/{guid}/businessmetadata", body,
                       code=code)
    yield Case("business metadata of an unknown entity", "POST", "entity/guid/nope/businessmetadata/bm",
               {"a": 1}, code="ATLAS-404-00-005")
    yield Case("business metadata, overwrite not a boolean", "POST", "entity/guid/{guid}/businessmetadata",
               {"nope": {}}, {"isOverwrite": "maybe"}, "ATLAS-400-00-01A")

    def bm(attr: dict[str, Any]) -> dict[str, Any]:
        return {"businessMetadataDefs": [{"name": "hostile_bm2", "attributeDefs": [attr]}]}

    applies = {"applicableEntityTypes": json.dumps([THING])}
    for i, (attr, code) in enumerate([
            ({**optional("a", STRUCT), "options": applies}, "ATLAS-400-00-094"),
            ({**optional("a", f"array<{THING}>"), "options": applies}, "ATLAS-400-00-094"),
            ({**optional("a", "string"), "options": applies}, "ATLAS-400-00-02B"),
            ({**optional("a", "string"), "options": {**applies, "maxStrLength": "x"}}, INVALID_TYPE_DEFINITION),
            ({**optional("a", "int"), "options": {"applicableEntityTypes": "[\"hostile_nope\"]"}}, "ATLAS-404-00-001"),
            ({**optional("a", "int"), "options": {"applicableEntityTypes": "not json"}}, INVALID_TYPE_DEFINITION),
            ({**optional("a", "int"), "options": {"applicableEntityTypes": "[1, 2]"}}, INVALID_TYPE_DEFINITION)]):
        yield Case(f"business metadata def#{i}", "POST", "types/typedefs", bm(attr), code=code)
    for i, params in enumerate([{"tagUpdateStartTime": "x"}, {"tagUpdateStartTime": "1e99"},
                                {"tagUpdateStartTime": "9" * 30}]):
        yield Case(f"bulk headers#{i}", "GET", "entity/bulk/headers", None, params, "ATLAS-400-00-01A")
    yield Case("bulk headers from the future", "GET", "entity/bulk/headers", None,
               {"tagUpdateStartTime": str(2**62)}, BAD_REQUEST)
    for i, body in enumerate([{"guidHeaderMap": "abc"}, {"guidHeaderMap": {"x": "abc"}},
                              {"guidHeaderMap": {"x": {"typeName": 5}}},
                              {"guidHeaderMap": {"x": {"typeName": THING, "classifications": "abc"}}}]):
        yield Case(f"setClassifications#{i}", "POST", "entity/bulk/setClassifications", body, code=BAD_REQUEST)


def glossary_cases() -> Iterator[Case]:
    """Glossaries, terms, categories, assignments: shapes Jackson refuses and Atlas's glossary rules. No case gets
    as far as installing the glossary model (the registry must stay as it was)."""
    glossaries = [({"name": "a@b"}, "ATLAS-400-00-083"), ({"name": "a.b"}, "ATLAS-400-00-083"),
                  ({}, "ATLAS-400-00-079"), ({"name": 5}, BAD_REQUEST), ({"name": "g", "terms": "abc"}, BAD_REQUEST),
                  ({"name": "g", "additionalAttributes": {"k": {"n": 1}}}, CRUD_INVALID),
                  ({"name": "g", "additionalAttributes": "abc"}, BAD_REQUEST), ({"qualifiedName": "q"}, CRUD_INVALID),
                  ({"name": "g", "classifications": [1]}, BAD_REQUEST)]
    for i, (body, code) in enumerate(glossaries):
        yield Case(f"glossary#{i}", "POST", "glossary", body, code=code)
    anchor = {"glossaryGuid": "{guid}"}
    terms = [({"name": "t"}, "ATLAS-400-00-072"), ({"name": "t", "anchor": anchor}, "ATLAS-400-00-079"),
             ({"name": "t.x", "anchor": anchor}, "ATLAS-400-00-083"), ({"anchor": anchor}, "ATLAS-400-00-07A"),
             ({"name": "t", "anchor": "abc"}, BAD_REQUEST), ({"name": "t", "anchor": {"glossaryGuid": 5}}, BAD_REQUEST),
             ({"name": "t", "anchor": anchor, "seeAlso": [{"termGuid": "x", "status": "WEIRD"}]}, BAD_REQUEST),
             ({"name": "t", "anchor": anchor, "examples": "abc"}, BAD_REQUEST)]
    for i, (body, code) in enumerate(terms):
        yield Case(f"glossary term#{i}", "POST", "glossary/term", with_guids(body), code=code)
    for i, (body, code) in enumerate([([1], BAD_REQUEST), ([{"name": "t"}], "ATLAS-400-00-072"), ("abc", BAD_REQUEST)]):
        yield Case(f"glossary terms#{i}", "POST", "glossary/terms", body, code=code)
        yield Case(f"glossary categories#{i}", "POST", "glossary/categories", body, code=code)
    categories = [({"name": "c"}, "ATLAS-400-00-072"), ({"name": "c", "anchor": {}}, "ATLAS-400-00-077"),
                  ({"name": "c", "anchor": anchor}, "ATLAS-400-00-00F"),
                  ({"name": "c", "anchor": {"glossaryGuid": "nope"}}, "ATLAS-404-00-005"),
                  ({"name": "c@d", "anchor": anchor}, "ATLAS-400-00-083"),
                  ({"name": "c", "anchor": anchor, "parentCategory": "abc"}, BAD_REQUEST)]
    for i, (body, code) in enumerate(categories):
        yield Case(f"glossary category#{i}", "POST", "glossary/category", with_guids(body), code=code)
    reads = [("GET", "glossary/{guid}", "ATLAS-400-00-00F"), ("GET", "glossary/term/{guid}", "ATLAS-400-00-00F"),
             ("GET", "glossary/nope/detailed", "ATLAS-404-00-005"), ("DELETE", "glossary/{guid}", "ATLAS-400-00-00F"),
             ("DELETE", "glossary/term/nope", "ATLAS-404-00-005"), ("GET", "glossary/category/nope/related",
                                                                      "ATLAS-404-00-005"),
             ("GET", "glossary/terms/{guid}/related", "ATLAS-400-00-00F"),
             ("GET", "glossary/terms/nope/assignedEntities", "ATLAS-404-00-005")]
    for i, (method, path, code) in enumerate(reads):
        yield Case(f"glossary read#{i}", method, path, code=code)
    for i, params in enumerate([{"limit": "ten"}, {"offset": "1.5"}, {"limit": "99999999999"}]):
        yield Case(f"glossary list#{i}", "GET", "glossary", None, params, "ATLAS-400-00-01A")
    updates = [("PUT", "glossary/{guid}", {"name": ""}, BAD_REQUEST), ("PUT", "glossary/{guid}", {"name": "a@b"},
                                                                      "ATLAS-400-00-083"),
               ("PUT", "glossary/{guid}", {"name": "g"}, "ATLAS-400-00-00F"),
               ("PUT", "glossary/{guid}/partial", {}, BAD_REQUEST), ("PUT", "glossary/{guid}/partial", {"name": 5},
                                                                     BAD_REQUEST),
               ("PUT", "glossary/term/{guid}/partial", {"usage": "u"}, "ATLAS-400-00-00F"),
               ("PUT", "glossary/category/nope/partial", {"name": "c"}, "ATLAS-404-00-005"),
               ("POST", "glossary/terms/nope/assignedEntities", [{"guid": "{guid}"}], "ATLAS-404-00-005"),
               ("POST", "glossary/terms/nope/assignedEntities", [{"guid": 5}], BAD_REQUEST),
               ("PUT", "glossary/terms/nope/assignedEntities", [{"guid": "{guid}"}], "ATLAS-404-00-005"),
               ("POST", "glossary/terms/nope/assignedEntities",
                [{"guid": "{guid}", "relationshipAttributes": {"attributes": [1]}}], BAD_REQUEST)]
    for i, (method, path, body, code) in enumerate(updates):
        yield Case(f"glossary update#{i}", method, path, with_guids(body), code=code)


HOOK = "notification/topic/ATLAS_HOOK"


def hook_message(message: Any, **fields: Any) -> str:
    """An AtlasNotificationMessage's text, as Atlas's REST notification client sends each message."""
    return json.dumps({"version": {"version": "1.0.0", "versionParts": [1]}, "msgCompressionKind": "NONE",
                       "msgSplitIdx": 1, "msgSplitCount": 1, "message": message, **fields})


def gzipped(data: bytes) -> str:
    return base64.b64encode(gzip.compress(data)).decode()


@functools.cache
def gzip_bomb() -> str:
    """~40 KB of base64 that inflates to more than twice the request body limit."""
    return gzipped(b" " * (2 * MAX_BODY_BYTES + 1))


def notification_cases() -> Iterator[Case]:
    """Atlas's REST notification endpoint: envelopes, compression and split parts are bounded, each message that
    can not be read or applied is refused (a batch of only bad messages writes nothing)."""
    create = {"type": "ENTITY_CREATE_V2", "user": "hook", "entities": {"entities": [thing({})]}}
    yield Case("hook: unknown topic", "POST", "notification/topic/NOPE", [hook_message(create)],
               code="ATLAS-400-00-101")
    yield Case("hook: topic too long", "POST", "notification/topic/" + "t" * 5000, [hook_message(create)],
               code="ATLAS-400-00-057")
    yield Case("hook: too many messages", "POST", HOOK, ["x"] * 10_001, code=BAD_REQUEST)
    bodies: dict[str, Body] = {
        "empty body": b"", "not UTF-8": b"\xff\xfe", "nested past the parser": b"[" * 5000 + b"]" * 5000,
        "a number": [5], "a list": [[hook_message(create)]], "not JSON": ["{"],
        "nested 200 deep": [hook_message(nested_lists(200))],
        "no type": [hook_message({"user": "u"})], "unknown type": [hook_message({"type": "ENTITY_SHOUT_V2"})],
        "type not applied": [hook_message({"type": "TYPE_CREATE"})],
        "newer version": [hook_message(create, version={"version": "2.0.0"})],
        "version not a number": [hook_message(create, version={"version": "one"})],
        "unknown compression": [hook_message(create, msgCompressionKind="LZ4")],
        "split count huge": [hook_message("abc", msgId="m1", msgSplitIdx=0, msgSplitCount=2**31 - 1)],
        "split count past a long": [hook_message("abc", msgId="m1", msgSplitIdx=0, msgSplitCount=2**70)],
        "split index a string": [hook_message("abc", msgId="m1", msgSplitIdx="first", msgSplitCount=2)],
        "split part without its first": [hook_message("abc", msgId="m2", msgSplitIdx=3, msgSplitCount=5)],
        "split part without msgId": [hook_message("abc", msgSplitIdx=0, msgSplitCount=2)],
        "split parts not base64": [hook_message("!!", msgId="m3", msgSplitIdx=i, msgSplitCount=2) for i in (0, 1)],
        "gzip: not base64": [hook_message("!!!***", msgCompressionKind="GZIP")],
        "gzip: not gzip": [hook_message(base64.b64encode(b"hello").decode(), msgCompressionKind="GZIP")],
        "gzip: truncated": [hook_message(gzipped(json.dumps(create).encode())[:24], msgCompressionKind="GZIP")],
        "gzip: bomb": lambda seed: [hook_message(gzip_bomb(), msgCompressionKind="GZIP")],
        "gzip: nested 300 deep": [hook_message(gzipped(b"[" * 300 + b"]" * 300), msgCompressionKind="GZIP")],
        "gzip: itself compressed": [hook_message(gzipped(hook_message("x", msgCompressionKind="GZIP").encode()),
                                                 msgCompressionKind="GZIP")],
        "entities not a list": [hook_message({"type": "ENTITY_CREATE_V2", "entities": {"entities": "x"}})],
        "delete ids not objects": [hook_message({"type": "ENTITY_DELETE_V2", "entities": ["x"]})],
    }
    for name, body in bodies.items():
        yield Case(f"hook: {name}", "POST", HOOK, body, code=BAD_REQUEST)
    unknown = {"type": "ENTITY_PARTIAL_UPDATE_V2", "entity": {"entity": {"typeName": THING}},
               "entityId": {"typeName": THING, "uniqueAttributes": {"qualifiedName": "nope"}}}
    yield Case("hook: partial update of an unknown entity", "POST", HOOK, [hook_message(unknown)],
               code="ATLAS-404-00-009")
    unknown_type = {"type": "ENTITY_CREATE_V2", "entities": {"entities": [{**thing({}), "typeName": "nope"}]}}
    yield Case("hook: entity of an unknown type", "POST", HOOK, [hook_message(unknown_type)],
               code="ATLAS-400-00-014")
    invalid = {"type": "ENTITY_CREATE_V2", "entities": {"entities": [thing({"i": "not a number"})]}}
    yield Case("hook: invalid entity", "POST", HOOK, [hook_message(invalid)], code=CRUD_INVALID)


CASES = [*malformed_cases(), *attribute_cases(), *entity_field_cases(), *typedef_cases(), *instance_cases(),
         *search_cases(), *path_cases(), *audit_label_metadata_cases(), *glossary_cases(), *notification_cases()]


# ------------------------------------------------------------------------------------------------
# fixtures and checks
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def client(api: TestClient) -> TestClient:
    return api


@pytest.fixture(scope="module")
def seed(client: TestClient) -> Seed:
    ok(client.post(V2 + "types/typedefs", json=seed_typedefs(), auth=AUTH))
    created = ok(client.post(V2 + "entity/bulk", auth=AUTH, json={"entities": [
        {"typeName": THING, "guid": "-1", "attributes": {"qualifiedName": "hostile-1", "name": "one"}},
        {"typeName": THING, "guid": "-2", "attributes": {"qualifiedName": "hostile-2", "name": "two"}}]}))
    guid, other = created["guidAssignments"]["-1"], created["guidAssignments"]["-2"]
    rel = ok(client.post(V2 + "relationship", auth=AUTH, json={
        "typeName": LINK, "end1": {"guid": guid}, "end2": {"guid": other}, "attributes": {"weight": 1}}))
    return Seed(guid, other, rel["guid"])


def snapshot(store: EmbeddedStore) -> dict[str, list[tuple[Any, ...]]]:
    conn = store.db.reader()
    return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in TABLES}


def assert_atlas_error(r: Any, code: str | None = None) -> dict[str, Any]:
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:500])
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body = r.json()
    assert isinstance(body, dict) and set(body) == {"errorCode", "errorMessage"}, body
    assert re.fullmatch(rf"ATLAS-{r.status_code}-\d\d-[0-9A-F]{{3}}", body["errorCode"]), body
    assert isinstance(body["errorMessage"], str) and body["errorMessage"], body
    assert len(body["errorMessage"]) < 2000, "an error never echoes a hostile value whole"
    if code is not None:
        assert body["errorCode"] == code, body
    return body


def send(client: TestClient, seed: Seed, case: Case) -> Any:
    path = seed.fill(case.path)
    url = path if path.startswith("/") else V2 + path
    content = encode(case.body, seed)
    headers = {"content-type": "application/json"} if content is not None else {}
    return client.request(case.method, url, content=content, params=case.params, headers=headers, auth=AUTH)


def test_the_corpus_is_large() -> None:
    assert len(CASES) >= 300
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input_is_a_4xx_that_changes_nothing(case: Case, client: TestClient, store: EmbeddedStore,
                                                      seed: Seed, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="catalog")
    before, registry = snapshot(store), store.registry
    r = send(client, seed, case)
    assert_atlas_error(r, case.code)
    assert store.registry is registry
    assert snapshot(store) == before
    logged = [rec for rec in caplog.records if rec.name.startswith("catalog")]
    assert len(logged) <= 1, caplog.text[:2000]
    assert all(rec.exc_info is None and "\n" not in rec.getMessage() for rec in logged), caplog.text[:2000]


# ------------------------------------------------------------------------------------------------
# the limits
# ------------------------------------------------------------------------------------------------
def test_a_body_over_the_limit_is_413_in_atlas_shape_and_unread(store: EmbeddedStore, seed: Seed) -> None:
    app = standalone_app(store, password=ATLAS_PASSWORD, limits=Limits(max_body_bytes=1000))
    entity = {"entity": thing({"s": "x" * 2000})}
    with TestClient(app, base_url="http://atlas.test") as c:
        before = snapshot(store)
        declared = c.post(V2 + "entity", json=entity, auth=AUTH)
        body = assert_atlas_error(declared, "ATLAS-413-00-001")
        assert "1000 bytes" in body["errorMessage"]
        chunked = c.post(V2 + "entity", content=iter([json.dumps(entity).encode()]), auth=AUTH,
                         headers={"content-type": "application/json"})
        assert "content-length" not in chunked.request.headers
        assert_atlas_error(chunked, "ATLAS-413-00-001")
        assert snapshot(store) == before
        # under the limit the same app answers as usual
        assert c.get(V2 + f"entity/guid/{seed.guid}", auth=AUTH).status_code == 200


def test_the_default_body_limit_is_16_mib(store: EmbeddedStore, seed: Seed) -> None:
    assert Limits().max_body_bytes == MAX_BODY_BYTES == 16 * 1024 * 1024
    with TestClient(standalone_app(store, password=ATLAS_PASSWORD), base_url="http://atlas.test") as c:
        before = snapshot(store)
        huge = orjson.dumps({"entity": thing({"s": "x" * MAX_BODY_BYTES})})
        assert_atlas_error(c.post(V2 + "entity", content=huge, auth=AUTH), "ATLAS-413-00-001")
        assert snapshot(store) == before


def test_a_body_over_the_limit_over_real_http(atlas: RunningAtlas) -> None:
    """uvicorn answers the 413 although the body was never read, and the next request is served."""
    payload = b'{"entity": {"typeName": "DataSet", "attributes": {"name": "' + b"x" * MAX_BODY_BYTES + b'"}}}'
    r = requests.post(f"{atlas.url}{V2}entity", data=payload, auth=AUTH, timeout=60,
                      headers={"content-type": "application/json"})
    assert_atlas_error(r, "ATLAS-413-00-001")
    assert requests.get(f"{atlas.url}/api/atlas/admin/status", auth=AUTH, timeout=10).json() == {"Status": "ACTIVE"}


def test_the_search_page_is_normalised_as_atlas_does(store: EmbeddedStore, seed: Seed) -> None:
    """QueryParams.getNormalizedParams: a limit out of (0, atlas.search.maxlimit] is atlas.search.defaultlimit,
    echoed so in searchParameters; offset pages through the rest."""
    app = standalone_app(store, password=ATLAS_PASSWORD, limits=Limits(search_max_limit=1, search_default_limit=1))
    with TestClient(app, base_url="http://atlas.test") as c:
        for limit in (0, 1, 2, 10**6):
            result = ok(c.post(V2 + "search/basic", auth=AUTH, json={"typeName": THING, "limit": limit}))
            assert result["searchParameters"]["limit"] == 1
            assert len(result["entities"]) == 1
            assert result["approximateCount"] >= 2
        second = ok(c.post(V2 + "search/basic", auth=AUTH, json={"typeName": THING, "limit": "1", "offset": 1}))
        assert second["entities"][0]["guid"] != result["entities"][0]["guid"]
        via_get = ok(c.get(V2 + "search/basic", auth=AUTH, params={"typeName": THING, "limit": "5"}))
        assert via_get["searchParameters"]["limit"] == 1


def test_the_default_search_page_is_atlas_default(client: TestClient, seed: Seed) -> None:
    result = ok(client.post(V2 + "search/basic", auth=AUTH, json={"typeName": THING, "limit": 10**6}))
    assert (result["searchParameters"]["limit"], result["searchParameters"]["offset"]) == (100, 0)
    assert ok(client.post(V2 + "search/basic", auth=AUTH, json={"typeName": THING, "limit": 10000})
              )["searchParameters"]["limit"] == 10000


def test_a_typedef_stored_before_the_checks_gives_4xx_not_500(tmp_path: Path) -> None:
    """A store written by an earlier version may hold an enum whose elementDefs are not a list (issue 14.10): the
    store still opens, and an entity of a type using that enum is refused with Atlas's 404, not a 500."""
    store = EmbeddedStore(tmp_path, load_bundled_typedefs())
    store.typedefs.create({"enumDefs": [{"name": "poisoned", "elementDefs": [{"value": "A", "ordinal": 0}]}],
                           "entityDefs": [entity_def("poisoned_user", [optional("p", "poisoned")])["entityDefs"][0]]},
                          "admin")
    store.close()
    with sqlite3.connect(tmp_path / "atlas.db") as conn:
        body = json.loads(conn.execute("SELECT body FROM typedef WHERE name = 'poisoned'").fetchone()[0])
        conn.execute("UPDATE typedef SET body = ? WHERE name = 'poisoned'",
                     (json.dumps({**body, "elementDefs": "abc"}),))
    conn.close()
    store = EmbeddedStore(tmp_path, load_bundled_typedefs())
    try:
        with TestClient(standalone_app(store, password=ATLAS_PASSWORD), base_url="http://atlas.test") as c:
            r = c.post(V2 + "entity", auth=AUTH, json={"entity": {"typeName": "poisoned_user", "attributes": {
                "qualifiedName": "p1", "name": "p1", "p": "A"}}})
            assert_atlas_error(r, CRUD_INVALID)
    finally:
        store.close()


# ------------------------------------------------------------------------------------------------
# and no stricter than Atlas
# ------------------------------------------------------------------------------------------------
def test_what_atlas_accepts_is_accepted(client: TestClient, seed: Seed) -> None:
    # Jackson reads numbers and booleans from their text, and a number where a string (a guid) is expected
    result = ok(client.post(V2 + "search/basic", auth=AUTH, json={
        "typeName": THING, "limit": "1", "offset": "0", "excludeDeletedEntities": "true", "sortOrder": "descending"}))
    assert result["searchParameters"]["excludeDeletedEntities"] is True
    created = ok(client.post(V2 + "entity/bulk", auth=AUTH, json={"entities": [
        {"typeName": THING, "guid": -5, "attributes": {"qualifiedName": "hostile-coerced", "name": "c", "i": "7",
                                                       "bi": str(2**62), "d": "2024-01-02T03:04:05.000Z"},
         "labels": ["ok_label-1"], "customAttributes": {"team": "data", "owner-1": "x" * 500}}]}))
    assert "-5" in created["guidAssignments"]
    # Atlas's name rules: '.' and non-ASCII letters in classification names, "__" for internal types, spaces
    ok(client.post(V2 + "types/typedefs", auth=AUTH, json={
        "classificationDefs": [{"name": "PII.email", "attributeDefs": []}, {"name": "Données", "attributeDefs": []}],
        "entityDefs": [{"name": "__hostile_internal", "superTypes": [], "attributeDefs": []},
                       {"name": "hostile with space", "superTypes": ["DataSet"], "attributeDefs": []}]}))
    # the deepest attribute type and value the bounds allow
    deep_type = "array<" * MAX_TYPE_NESTING + "string" + ">" * MAX_TYPE_NESTING
    ok(client.post(V2 + "types/typedefs", auth=AUTH, json=entity_def("hostile_deep", [optional("deep", deep_type)])))
    deep_value = json.loads("[" * (MAX_TYPE_NESTING - 1) + '["leaf"]' + "]" * (MAX_TYPE_NESTING - 1))
    created = ok(client.post(V2 + "entity", auth=AUTH, json={"entity": {"typeName": "hostile_deep", "attributes": {
        "qualifiedName": "hostile-deep", "name": "deep", "deep": deep_value}}}))
    guid = created["mutatedEntities"]["CREATE"][0]["guid"]
    assert ok(client.get(V2 + f"entity/guid/{guid}", auth=AUTH))["entity"]["attributes"]["deep"] == deep_value
