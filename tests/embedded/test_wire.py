"""Wire-level details of the embedded Atlas REST API, checked through an in-process ASGI client (HTTP Basic auth).

What the official client never shows but a compatible server must get right (spec §1, §1a, §1b, §8):
trailing slashes, Python-style query booleans, explicit nulls in requests, no nulls in responses,
epoch-millisecond dates, JSON error bodies, authentication — and the JSON *shape* of a few key
responses, compared with golden files in ``golden/`` (keys at every level + value types; guids and
timestamps are normalised away because only types are recorded).

Golden files hold Apache Atlas's shape (hand-checked against spec §1a and real Atlas 2.x responses),
not whatever the server happens to return.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from catalog.embedded.store import EmbeddedStore
from tests.conftest import ATLAS_PASSWORD, ATLAS_USER
from tests.embedded.conftest import AUTH, in_process_api

GOLDEN = Path(__file__).parent / "golden"
GUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
PLACEHOLDER_RE = re.compile(r"^-\d+$")
T0 = 1704164645000  # 2024-01-02T03:04:05.000Z


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------
class Api:
    """The Atlas API app (``/api/atlas/v2``) through Starlette's in-process client, with Basic auth."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    @staticmethod
    def path(path: str) -> str:
        return f"/api/atlas/v2/{path.lstrip('/')}"

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        kwargs.setdefault("auth", AUTH)
        return self.client.request(method, self.path(path), **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        r = self.request(method, path, **kwargs)
        assert r.status_code == 200, (method, path, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/json"), r.headers
        return r.json()


@pytest.fixture(scope="module")
def api(store: EmbeddedStore) -> Iterator[Api]:
    # A store of its own (conftest's): the golden shapes are Atlas's stock typedefs, which other suites extend on
    # the shared session store (catalog extension attributes), depending on test order. No default credentials:
    # some tests send none.
    yield from map(Api, in_process_api(store, auth=None))


def suffix() -> str:
    return uuid.uuid4().hex[:10]


def nulls_in(value: Any, path: str = "$") -> list[str]:
    """JSON paths of every null anywhere in ``value``."""
    if value is None:
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in nulls_in(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in nulls_in(v, f"{path}[{i}]")]
    return []


def assert_error(r: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json"), (r.headers, r.text)
    body = r.json()
    assert isinstance(body, dict) and set(body) >= {"errorCode", "errorMessage"}, body
    assert isinstance(body["errorMessage"], str) and body["errorMessage"]
    assert re.match(rf"^ATLAS-{status}-\d\d-[0-9A-F]{{3}}$", body["errorCode"]), body
    if code is not None:
        assert body["errorCode"] == code, body
    return body


def hive_bulk(uid: str, ncols: int = 1) -> dict[str, Any]:
    """hive_db + hive_table + columns, referencing each other by placeholder guid."""
    ents: list[dict[str, Any]] = [
        {"typeName": "hive_db", "guid": "-1",
         "attributes": {"qualifiedName": f"w_{uid}@cm", "name": f"w_{uid}", "clusterName": "cm",
                        "description": "db"}},
        {"typeName": "hive_table", "guid": "-2",
         "attributes": {"qualifiedName": f"w_{uid}.t@cm", "name": "t", "createTime": T0, "owner": "alice",
                        "description": "a table"},
         "relationshipAttributes": {"db": {"guid": "-1", "typeName": "hive_db"}}},
    ]
    for i in range(ncols):
        ents.append({"typeName": "hive_column", "guid": f"-{10 + i}",
                     "attributes": {"qualifiedName": f"w_{uid}.t.c{i}@cm", "name": f"c{i}", "type": "int"},
                     "relationshipAttributes": {"table": {"guid": "-2", "typeName": "hive_table",
                                                          "relationshipType": "hive_table_columns"}}})
    return {"entities": ents}


@pytest.fixture(scope="module")
def hive(api: Api) -> dict[str, Any]:
    uid = suffix()
    emr = api.ok("POST", "entity/bulk", json=hive_bulk(uid))
    ga = emr["guidAssignments"]
    return {"uid": uid, "emr": emr, "db": ga["-1"], "table": ga["-2"], "column": ga["-10"],
            "table_qn": f"w_{uid}.t@cm"}


# ------------------------------------------------------------------------------------------------
# shapes / golden files
# ------------------------------------------------------------------------------------------------
def _is_guid_key(k: str) -> bool:
    return bool(GUID_RE.match(k) or PLACEHOLDER_RE.match(k))


def shape(value: Any) -> Any:
    """The JSON shape: dict keys kept (guid-valued keys folded into "<guid>": [value shapes]); list ->
    sorted list of distinct element shapes; scalars -> type names."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        guid_keyed: list[Any] = []
        for k, v in value.items():
            if _is_guid_key(k):
                guid_keyed.append(shape(v))
            else:
                out[k] = shape(v)
        if guid_keyed:
            out["<guid>"] = _distinct(guid_keyed)
        return out
    if isinstance(value, list):
        return _distinct([shape(v) for v in value])
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    raise TypeError(type(value))


def _distinct(shapes: list[Any]) -> list[Any]:
    return [json.loads(s) for s in sorted({json.dumps(x, sort_keys=True) for x in shapes})]


def shape_diff(expected: Any, actual: Any, path: str = "$") -> list[str]:
    """Human-readable differences between two shapes."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        out = []
        for k in sorted(set(expected) | set(actual)):
            if k not in actual:
                out.append(f"{path}.{k}: missing (expected {json.dumps(expected[k], sort_keys=True)})")
            elif k not in expected:
                out.append(f"{path}.{k}: unexpected (got {json.dumps(actual[k], sort_keys=True)})")
            else:
                out += shape_diff(expected[k], actual[k], f"{path}.{k}")
        return out
    if isinstance(expected, list) and isinstance(actual, list):
        if expected == actual:
            return []
        if len(expected) == len(actual) == 1:
            return shape_diff(expected[0], actual[0], f"{path}[*]")
        exp = {json.dumps(x, sort_keys=True) for x in expected}
        act = {json.dumps(x, sort_keys=True) for x in actual}
        return [f"{path}[]: expected element shape {e}" for e in sorted(exp - act)] + \
               [f"{path}[]: unexpected element shape {a}" for a in sorted(act - exp)]
    if expected != actual:
        return [f"{path}: expected {json.dumps(expected)}, got {json.dumps(actual)}"]
    return []


def assert_golden(name: str, body: Any) -> None:
    expected = json.loads((GOLDEN / f"{name}.json").read_text(encoding="utf-8"))
    diff = shape_diff(expected, shape(body))
    assert not diff, f"wire shape of {name} differs from Atlas's:\n  " + "\n  ".join(diff)


def test_shape_helper() -> None:
    body = {"a": [1, 2], "b": {"11111111-2222-3333-4444-555555555555": {"x": True}, "-12": {"x": False}},
            "c": [{"k": "v"}, {"k": "w", "z": 1.5}], "d": []}
    assert shape(body) == {"a": ["int"], "b": {"<guid>": [{"x": "bool"}]},
                           "c": [{"k": "str", "z": "float"}, {"k": "str"}], "d": []}
    assert shape_diff(shape(body), shape(body)) == []
    assert shape_diff({"a": "int"}, {"a": "str", "b": "int"}) == ['$.a: expected "int", got "str"',
                                                                  '$.b: unexpected (got "int")']


# ------------------------------------------------------------------------------------------------
# paths, query parameters, request bodies
# ------------------------------------------------------------------------------------------------
def test_paths_with_and_without_trailing_slash(api: Api, hive: dict[str, Any]) -> None:
    for path in ("types/typedef/name/hive_table", "types/typedef/name/hive_table/",
                 "types/entitydef/name/hive_table", "types/entitydef/name/hive_table/"):
        assert api.ok("GET", path)["name"] == "hive_table", path
    for path in ("types/typedefs", "types/typedefs/"):
        assert "hive_table" in {d["name"] for d in api.ok("GET", path, params={"type": "ENTITY"})["entityDefs"]}
    for path in ("types/typedefs/headers", "types/typedefs/headers/"):
        assert isinstance(api.ok("GET", path), list)
    for path in (f"entity/guid/{hive['table']}", f"entity/guid/{hive['table']}/"):
        assert api.ok("GET", path)["entity"]["guid"] == hive["table"]
    for path in ("entity/uniqueAttribute/type/hive_table", "entity/uniqueAttribute/type/hive_table/"):
        assert api.ok("GET", path, params={"attr:qualifiedName": hive["table_qn"]})["entity"]["guid"] \
            == hive["table"]
    for path in (f"lineage/{hive['table']}", f"lineage/{hive['table']}/"):
        assert api.ok("GET", path)["baseEntityGuid"] == hive["table"]
    for path in ("search/basic", "search/basic/"):
        assert api.ok("GET", path, params={"typeName": "hive_db", "limit": 1})["queryType"] == "BASIC"
    # writes: POST entity and entity/, entity/bulk and entity/bulk/
    uid = suffix()
    for i, path in enumerate(("entity", "entity/")):
        body = {"entity": {"typeName": "hive_db", "guid": "-1",
                           "attributes": {"qualifiedName": f"slash{i}_{uid}@cm", "name": "s", "clusterName": "c"}}}
        assert list(api.ok("POST", path, json=body)["guidAssignments"]) == ["-1"]
    for i, path in enumerate(("entity/bulk", "entity/bulk/")):
        bulk_body = {"entities": [{"typeName": "hive_db", "guid": "-1", "attributes": {
            "qualifiedName": f"bslash{i}_{uid}@cm", "name": "s", "clusterName": "c"}}]}
        assert list(api.ok("POST", path, json=bulk_body)["guidAssignments"]) == ["-1"]


@pytest.mark.parametrize("true_value", ["True", "true", "TRUE"])
@pytest.mark.parametrize("false_value", ["False", "false"])
def test_query_booleans_are_case_insensitive(api: Api, hive: dict[str, Any], true_value: str,
                                             false_value: str) -> None:
    full = api.ok("GET", f"entity/guid/{hive['table']}",
                  params={"minExtInfo": false_value, "ignoreRelationships": false_value})
    assert full["entity"]["relationshipAttributes"]["db"]["guid"] == hive["db"]
    assert hive["column"] in full["referredEntities"]
    bare = api.ok("GET", f"entity/guid/{hive['table']}",
                  params={"minExtInfo": false_value, "ignoreRelationships": true_value})
    assert not bare["entity"].get("relationshipAttributes")
    assert bare["entity"]["attributes"]["qualifiedName"] == hive["table_qn"]
    res = api.ok("GET", "search/basic", params={"typeName": "hive_table", "query": hive["uid"],
                                                "excludeDeletedEntities": true_value})
    assert [e["guid"] for e in res["entities"]] == [hive["table"]]


def test_explicit_nulls_in_requests_are_absent_values(api: Api) -> None:
    """The official client serialises every unset model field as null (spec §1c)."""
    uid = suffix()
    entity_nulls = {"homeId": None, "relationshipAttributes": None, "classifications": None, "meanings": None,
                    "customAttributes": None, "businessAttributes": None, "labels": None, "status": None,
                    "isIncomplete": None, "provenanceType": None, "proxy": None, "version": None,
                    "createdBy": None, "updatedBy": None, "createTime": None, "updateTime": None}
    body = {"entity": {"typeName": "hive_db", "guid": "-1",
                       "attributes": {"qualifiedName": f"nulls_{uid}@cm", "name": "n", "clusterName": "cm",
                                      "description": None, "owner": None, "location": None, "parameters": None},
                       **entity_nulls},
            "referredEntities": None}
    emr = api.ok("POST", "entity/", json=body)
    guid = emr["guidAssignments"]["-1"]
    e = api.ok("GET", f"entity/guid/{guid}")["entity"]
    assert e["status"] == "ACTIVE"
    assert e["attributes"]["clusterName"] == "cm"
    assert not {"description", "owner", "location", "parameters"} & set(e["attributes"])
    # null references in a bulk request, null referredEntities, null AtlasObjectId fields
    table: dict[str, Any] = {
        "typeName": "hive_table", "guid": "-5",
        "attributes": {"qualifiedName": f"nulls_{uid}.t@cm", "name": "t", "comment": None}, **entity_nulls}
    table["relationshipAttributes"] = {"db": {"guid": guid, "typeName": None, "uniqueAttributes": None}}
    bulk_body = {"entities": [table], "referredEntities": None}
    emr = api.ok("POST", "entity/bulk/", json=bulk_body)
    t = api.ok("GET", f"entity/guid/{emr['guidAssignments']['-5']}")["entity"]
    assert t["relationshipAttributes"]["db"]["guid"] == guid
    # a typedef exactly as the client serialises it: every optional field null
    name = f"w_nulls_{uid}"
    typedef = {
        "enumDefs": None, "structDefs": None, "classificationDefs": None, "relationshipDefs": None,
        "businessMetadataDefs": None,
        "entityDefs": [{
            "category": "ENTITY", "guid": None, "createdBy": None, "updatedBy": None, "createTime": None,
            "updateTime": None, "version": None, "name": name, "description": None, "typeVersion": None,
            "serviceType": None, "options": None, "superTypes": ["DataSet"], "subTypes": None,
            "relationshipAttributeDefs": None, "businessAttributeDefs": None,
            "attributeDefs": [{"name": "a", "typeName": "string", "isOptional": True, "cardinality": None,
                               "valuesMinCount": None, "valuesMaxCount": None, "isUnique": None,
                               "isIndexable": None, "includeInNotification": None, "defaultValue": None,
                               "description": None, "searchWeight": -1, "indexType": None, "constraints": None,
                               "options": None, "displayName": None}]}],
    }
    created = api.ok("POST", "types/typedefs/", json=typedef)
    assert [d["name"] for d in created["entityDefs"]] == [name]
    assert not nulls_in(created), nulls_in(created)
    got = api.ok("GET", f"types/typedef/name/{name}")
    a = got["attributeDefs"][0]
    assert (a["name"], a["typeName"], a["isOptional"]) == ("a", "string", True)
    assert a["cardinality"] == "SINGLE"  # Java default when null
    assert a["isUnique"] is False and a["isIndexable"] is False


def test_no_nulls_anywhere_in_responses(api: Api, hive: dict[str, Any]) -> None:
    responses = {
        "EntityMutationResponse": hive["emr"],
        "typedef hive_table": api.ok("GET", "types/typedef/name/hive_table"),
        "typedef ml_model_deployment": api.ok("GET", "types/entitydef/name/ml_model_deployment"),
        "typedef hive_table_db": api.ok("GET", "types/relationshipdef/name/hive_table_db"),
        "typedefs": api.ok("GET", "types/typedefs/"),
        "typedef headers": api.ok("GET", "types/typedefs/headers"),
        "entity": api.ok("GET", f"entity/guid/{hive['table']}"),
        "entity by unique attribute": api.ok("GET", "entity/uniqueAttribute/type/hive_table",
                                             params={"attr:qualifiedName": hive["table_qn"]}),
        "entities bulk": api.ok("GET", "entity/bulk", params=[("guid", hive["table"]), ("guid", hive["db"])]),
        "entity header": api.ok("GET", f"entity/guid/{hive['db']}/header"),
        "lineage": api.ok("GET", f"lineage/{hive['table']}"),
        "basic search": api.ok("GET", "search/basic", params={"typeName": "hive_table", "query": hive["uid"]}),
        "faceted search": api.ok("POST", "search/basic", json={
            "typeName": "DataSet", "query": None, "classification": None, "limit": 10, "offset": 0,
            "entityFilters": {"attributeName": "qualifiedName", "operator": "startsWith",
                              "attributeValue": f"w_{hive['uid']}"}}),
        "no-hit search": api.ok("GET", "search/basic", params={"typeName": "hive_table", "query": "zz" + suffix()}),
        "classifications": api.ok("GET", f"entity/guid/{hive['table']}/classifications"),
    }
    for name, body in responses.items():
        assert not nulls_in(body), f"{name}: nulls at {nulls_in(body)}"
    assert "entities" not in responses["no-hit search"]


def test_dates_are_epoch_millis(api: Api) -> None:
    uid = suffix()
    body = {"entities": [
        {"typeName": "ml_project", "guid": "-1", "attributes": {"qualifiedName": f"d_{uid}@cm", "name": "p",
                                                               "createTime": "2024-01-02T03:04:05.000Z"}},
        {"typeName": "ml_model_build", "guid": "-2",
         "attributes": {"qualifiedName": f"d_{uid}.b@cm", "name": "b", "version": 1, "createTime": str(T0 + 1)},
         "relationshipAttributes": {"project": {"guid": "-1"}}},
        {"typeName": "ml_model_deployment", "guid": "-3",
         "attributes": {"qualifiedName": f"d_{uid}.d@cm", "name": "d", "createTime": "2024-01-02T03:04:05.000Z",
                        "deployedTime": str(T0 + 2), "status": "deploying", "cpuMillicores": 250},
         "relationshipAttributes": {"build": {"guid": "-2"}}},
    ]}
    emr = api.ok("POST", "entity/bulk", json=body)
    ga = emr["guidAssignments"]
    p = api.ok("GET", f"entity/guid/{ga['-1']}")["entity"]
    b = api.ok("GET", f"entity/guid/{ga['-2']}")["entity"]
    d = api.ok("GET", f"entity/guid/{ga['-3']}")["entity"]
    assert p["attributes"]["createTime"] == T0
    assert b["attributes"]["createTime"] == T0 + 1
    assert (d["attributes"]["createTime"], d["attributes"]["deployedTime"]) == (T0, T0 + 2)
    for e in (p, b, d):
        assert type(e["createTime"]) is int and type(e["updateTime"]) is int
        assert e["createTime"] > 1_600_000_000_000  # epoch ms, not seconds
    # epoch-ms numbers stay numbers; headers carry createTime as a number too
    assert [h["attributes"]["createTime"] for h in emr["mutatedEntities"]["CREATE"]
            if h["typeName"] == "ml_model_deployment"] == [T0]
    hdr = api.ok("GET", f"entity/guid/{ga['-3']}/header")
    assert hdr["attributes"]["createTime"] == T0
    # typedef timestamps
    td = api.ok("GET", "types/typedef/name/ml_model_build")
    assert type(td["createTime"]) is int and type(td["updateTime"]) is int
    # an invalid date is a validation error (404 ATLAS-404-00-007), not a 500
    bad = {"entity": {"typeName": "ml_project", "guid": "-1", "attributes": {
        "qualifiedName": f"d_bad_{uid}@cm", "name": "p", "createTime": "yesterday"}}}
    assert_error(api.post("entity", json=bad), 404, "ATLAS-404-00-007")


# ------------------------------------------------------------------------------------------------
# errors and auth
# ------------------------------------------------------------------------------------------------
def test_errors_are_json(api: Api) -> None:
    assert_error(api.get(f"entity/guid/{uuid.uuid4()}"), 404, "ATLAS-404-00-005")
    assert_error(api.get("entity/uniqueAttribute/type/hive_table", params={"attr:qualifiedName": "nope"}),
                 404, "ATLAS-404-00-009")
    assert_error(api.get(f"types/typedef/name/nope_{suffix()}"), 404, "ATLAS-404-00-001")
    assert_error(api.get(f"types/typedef/guid/{uuid.uuid4()}"), 404, "ATLAS-404-00-002")
    assert_error(api.get(f"lineage/{uuid.uuid4()}"), 404, "ATLAS-404-00-005")
    assert_error(api.post("search/basic", json={"limit": 10}), 400, "ATLAS-400-00-047")
    # validation failure of an entity: 404 (sic) ATLAS-404-00-007
    body = {"entity": {"typeName": "ml_model_build", "guid": "-1",
                       "attributes": {"qualifiedName": f"e_{suffix()}", "name": "x", "version": 1}}}
    assert_error(api.post("entity", json=body), 404, "ATLAS-404-00-007")


def test_malformed_json_is_400(api: Api) -> None:
    for path in ("entity", "entity/bulk", "types/typedefs", "search/basic"):
        r = api.post(path, content=b'{"entity": {"typeName": ', headers={"Content-Type": "application/json"})
        assert_error(r, 400)


def test_unknown_path_is_404_json(api: Api) -> None:
    assert_error(api.get("no/such/api"), 404)
    assert_error(api.get("entity/guid"), 404)


def test_authentication(api: Api) -> None:
    url = api.path("types/typedef/name/hive_table")
    for auth in ((ATLAS_USER, "wrong-password"), ("someone", ATLAS_PASSWORD)):
        r = api.client.get(url, auth=auth)
        assert_error(r, 401, "ATLAS-401-00-001")
        assert "basic" in r.headers.get("www-authenticate", "").lower()
    assert_error(api.client.get(url), 401)
    assert_error(api.client.get(url, headers={"Authorization": "Bearer a-token"}), 401)
    r = api.client.post(api.path("entity"), json={"entity": {"typeName": "hive_db"}})
    assert r.status_code == 401
    assert api.client.get(url, auth=AUTH).status_code == 200


# ------------------------------------------------------------------------------------------------
# golden shapes
# ------------------------------------------------------------------------------------------------
def test_golden_typedef_ml_model_deployment(api: Api) -> None:
    body = api.ok("GET", "types/typedef/name/ml_model_deployment")
    assert body["name"] == "ml_model_deployment"
    assert_golden("typedef_ml_model_deployment", body)
    assert_golden("typedef_ml_model_deployment", api.ok("GET", "types/entitydef/name/ml_model_deployment"))


def test_golden_entity_mutation_response(api: Api) -> None:
    emr = api.ok("POST", "entity/bulk", json=hive_bulk(suffix()))
    assert sorted(emr["guidAssignments"]) == ["-1", "-10", "-2"]
    assert_golden("entity_mutation_response", emr)


def test_golden_entity_get(api: Api, hive: dict[str, Any]) -> None:
    body = api.ok("GET", f"entity/guid/{hive['table']}")
    assert_golden("entity_get_hive_table", body)


def test_golden_lineage(api: Api) -> None:
    uid = suffix()
    body = {"entities": [
        {"typeName": "hive_table", "guid": "-1", "attributes": {"qualifiedName": f"gl_{uid}.a@cm", "name": "a",
                                                               "createTime": T0, "owner": "alice"}},
        {"typeName": "hive_table", "guid": "-2", "attributes": {"qualifiedName": f"gl_{uid}.b@cm", "name": "b",
                                                               "createTime": T0, "owner": "alice"}},
        {"typeName": "ml_model_train_build_process", "guid": "-3",
         "attributes": {"qualifiedName": f"gl_{uid}.p@cm", "name": "p", "userName": "alice",
                        "inputs": [{"guid": "-1"}], "outputs": [{"guid": "-2"}]}},
    ]}
    ga = api.ok("POST", "entity/bulk", json=body)["guidAssignments"]
    lin = api.ok("GET", f"lineage/{ga['-2']}", params={"direction": "BOTH", "depth": 3})
    assert set(lin["guidEntityMap"]) == {ga["-1"], ga["-2"], ga["-3"]}
    assert_golden("lineage_both", lin)


# ------------------------------------------------------------------------------------------------
# one error body, with Atlas's own codes for Atlas's own meanings
# ------------------------------------------------------------------------------------------------
def test_error_codes_mean_what_they_mean_in_atlas(api: Api) -> None:
    """Each failure carries the AtlasErrorCode Atlas uses for it (intg/.../AtlasErrorCode.java), never a code that
    means something else there."""
    uid = suffix()
    # An unknown path: Atlas's servlet container answers it without a code; ours is EMPTY_RESULTS, not
    # RELATIONSHIP_ALREADY_DELETED (404-00-00F).
    body = assert_error(api.get("no/such/api"), 404, "ATLAS-404-00-004")
    assert "/api/atlas/v2/no/such/api" in body["errorMessage"]
    assert_error(api.request("PATCH", "entity/bulk", json={}), 405, "ATLAS-405-00-001")
    cyclic = {"entityDefs": [{"name": f"a_{uid}", "superTypes": [f"b_{uid}"], "attributeDefs": []},
                             {"name": f"b_{uid}", "superTypes": [f"a_{uid}"], "attributeDefs": []}]}
    assert_error(api.post("types/typedefs", json=cyclic), 400, "ATLAS-400-00-002")  # CIRCULAR_REFERENCE
    unnamed = {"entityDefs": [{"name": f"u_{uid}", "superTypes": [], "attributeDefs": [{"typeName": "string"}]}]}
    assert_error(api.post("types/typedefs", json=unnamed), 400, "ATLAS-400-00-011")  # INVALID_TYPE_DEFINITION
    as_classification = {"classificationDefs": [{"name": "hive_table", "superTypes": [], "attributeDefs": []}]}
    assert_error(api.request("PUT", "types/typedefs", json=as_classification), 400,
                 "ATLAS-400-00-010")  # TYPE_MATCH_FAILED
    for bad in ({"limit": -1}, {"offset": -5}):
        body = assert_error(api.post("search/basic", json={"typeName": "hive_table", **bad}), 400,
                            "ATLAS-400-00-029")  # BAD_REQUEST, as DiscoveryREST says it
        assert body["errorMessage"] == "Limit/offset should be non-negative"
    # out of range is the default limit, as Atlas's QueryParams normalises it
    assert api.ok("POST", "search/basic", json={"typeName": "hive_table", "limit": 10**6}) is not None


def test_removing_a_classification_an_entity_does_not_have_is_answered_as_atlas_does(api: Api) -> None:
    uid = suffix()
    ga = api.ok("POST", "entity/bulk", json=hive_bulk(uid))["guidAssignments"]
    table, tag, other = ga["-2"], f"C_{uid}", f"O_{uid}"
    api.ok("POST", "types/typedefs", json={"classificationDefs": [
        {"name": n, "superTypes": [], "attributeDefs": []} for n in (tag, other)]})
    by_unique = ("entity/uniqueAttribute/type/hive_table/classification/{}", {"attr:qualifiedName": f"w_{uid}.t@cm"})
    # EntityGraphMapper.deleteClassification: none at all, then another one only
    assert_error(api.request("DELETE", f"entity/guid/{table}/classification/{tag}"), 404, "ATLAS-404-00-003")
    assert_error(api.request("DELETE", by_unique[0].format(tag), params=by_unique[1]), 404, "ATLAS-404-00-003")
    assert api.post(f"entity/guid/{table}/classifications", json=[{"typeName": other}]).status_code == 204
    assert_error(api.request("DELETE", f"entity/guid/{table}/classification/{tag}"), 400, "ATLAS-400-00-06D")
    assert_error(api.request("DELETE", by_unique[0].format(tag), params=by_unique[1]), 400, "ATLAS-400-00-06D")
    # EntityREST checks the name is a classification type first on the guid route only; the guid comes next
    body = assert_error(api.request("DELETE", f"entity/guid/{table}/classification/nope_{uid}"), 400,
                        "ATLAS-400-00-014")
    assert body["errorMessage"] == f"Type CLASSIFICATION with name nope_{uid} does not exist"
    assert_error(api.request("DELETE", f"entity/guid/{uuid.uuid4()}/classification/{tag}"), 404, "ATLAS-404-00-005")
    # and what is there goes, with no body
    r = api.request("DELETE", f"entity/guid/{table}/classification/{other}")
    assert (r.status_code, r.content) == (204, b"")
    assert api.ok("GET", f"entity/guid/{table}/classifications")["list"] == []


def test_an_internal_failure_is_an_atlas_500_with_an_id(api: Api, store: EmbeddedStore,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    def broken(params: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(store, "search", broken)
    body = assert_error(api.post("search/basic", json={"typeName": "hive_table"}), 500, "ATLAS-500-00-001")
    assert "disk on fire" not in body["errorMessage"]  # the cause is logged, not sent
    error_id = re.search(r"\(ID ([0-9a-f]+)\)", body["errorMessage"])
    assert error_id and error_id.group(1) in caplog.text and "disk on fire" in caplog.text
