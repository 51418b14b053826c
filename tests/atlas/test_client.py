"""The typed Atlas client: one contract, run against every way it reaches an Atlas (the ``client`` fixture of
tests/atlas/conftest.py: the embedded store in-process, over real HTTP, and a real Atlas when ``ATLAS_URL`` is set).

Then the failures only a fault can show, injected with ``httpx.MockTransport``, and the URL rules.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from catalog.atlas.client import SEARCH_CHUNK, AtlasCatalogClient, any_of
from catalog.atlas.connect import InvalidAtlasUrl, open_atlas
from catalog.atlas.errors import AtlasAuthError, AtlasBadRequest, AtlasNotFound, AtlasUnavailable
from catalog.atlas.models import Classification, EntitySpec, ObjectRef, TypeDef
from catalog.embedded.store import EmbeddedStore
from catalog.errors import InvalidInput, NotFound, UpstreamUnavailable
from tests.servers import free_port
from typedefs import load_bundled_typedefs


def table(name: str, db_guid: str = "-1") -> EntitySpec:
    return EntitySpec(type_name="hive_table", qualified_name=f"{name}@cm", guid="-2",
                      attributes={"name": name.split(".")[-1]},
                      relationships={"db": ObjectRef(guid=db_guid, type_name="hive_db")})


def db(name: str) -> EntitySpec:
    return EntitySpec(type_name="hive_db", qualified_name=f"{name}@cm", guid="-1",
                      attributes={"name": name, "clusterName": "cm"})


def test_ping_and_typedefs(client: AtlasCatalogClient) -> None:
    client.ping()
    defs = client.get_typedefs(["ml_model_build", "no_such_type"])
    assert set(defs) == {"ml_model_build"} and defs["ml_model_build"].category == "ENTITY"
    assert "hive_table" in client.get_typedefs()


def test_upsert_find_search_and_delete(client: AtlasCatalogClient) -> None:
    uid = uuid.uuid4().hex[:8]
    res = client.upsert([db(f"d{uid}"), table(f"d{uid}.t")])
    assert {h.type_name for h in res.created} == {"hive_db", "hive_table"}
    assert set(res.guid_assignments) == {"-1", "-2"}
    again = client.upsert([db(f"d{uid}"), table(f"d{uid}.t")])
    assert again.created == []
    t = client.find_entity("hive_table", f"d{uid}.t@cm")
    assert t is not None and t.guid == res.guid_assignments["-2"]
    assert [r.qualified_name for r in t.relationships["db"]] == [f"d{uid}@cm"]
    assert client.get_entity(t.guid).qualified_name == f"d{uid}.t@cm"
    assert client.find_entity("hive_table", f"nope{uid}@cm") is None
    found = client.find_by_qualified_names("DataSet", [f"d{uid}.t@cm", f"missing{uid}@cm"])
    assert list(found) == [f"d{uid}.t@cm"]
    assert set(client.find_by_prefix("hive_db", f"d{uid}")) == {f"d{uid}@cm"}
    client.delete(t.guid)
    assert client.find_by_qualified_names("hive_table", [f"d{uid}.t@cm"]) == {}


def test_find_by_qualified_names_asks_in_chunks_and_finds_them_all(client: AtlasCatalogClient) -> None:
    uid = uuid.uuid4().hex[:8]
    names = [f"many{uid}_{i}@cm" for i in range(SEARCH_CHUNK + 3)]
    client.upsert([EntitySpec(type_name="hive_db", qualified_name=n, guid=f"-{i + 1}",
                              attributes={"name": n.split("@")[0], "clusterName": "cm"}) for i, n in enumerate(names)])
    found = client.find_by_qualified_names("hive_db", [*names, f"missing{uid}@cm", names[0]], ["clusterName"])
    assert sorted(found) == sorted(names)
    assert {h.attributes.get("clusterName") for h in found.values()} == {"cm"}
    assert list(client.find_by_qualified_names("hive_db", [names[1]])) == [names[1]]


def test_attributes_a_type_lacks_are_left_out_as_values_it_lacks(client: AtlasCatalogClient) -> None:
    """Atlas refuses a search asking for an attribute the type lacks (ATLAS-400-00-023): an Atlas without
    mlcatalog's attribute extensions has none of them, which the client answers as it answers a missing value."""
    uid = uuid.uuid4().hex[:8]
    client.upsert([db(f"x{uid}")])
    asked = ["nope_a", "clusterName", "nope_b"]
    (h,) = client.search_all(type_name="hive_db", attributes=asked, filters=any_of("qualifiedName", [f"x{uid}@cm"]))
    assert h.attributes["clusterName"] == "cm" and not {"nope_a", "nope_b"} & set(h.attributes)
    assert asked == ["nope_a", "clusterName", "nope_b"]  # the caller's list is left alone
    assert set(client.find_by_qualified_names("hive_db", [f"x{uid}@cm"], ["nope_a"])) == {f"x{uid}@cm"}
    with pytest.raises(AtlasBadRequest) as e:  # a filter on one still cannot be answered
        client.search(type_name="hive_db", attributes=["nope_a"], filters={
            "attributeName": "nope_a", "operator": "eq", "attributeValue": "x"})
    assert e.value.error_code == "ATLAS-400-00-023"


def test_classifications_and_lineage(client: AtlasCatalogClient) -> None:
    uid = uuid.uuid4().hex[:8]
    guids = client.upsert([db(f"l{uid}"), table(f"l{uid}.t")]).guid_assignments
    client.create_typedefs([TypeDef(category="CLASSIFICATION", name=f"PII_{uid}")])
    client.add_classification(guids["-2"], Classification(type_name=f"PII_{uid}"))
    assert [c.type_name for c in client.classifications(guids["-2"])] == [f"PII_{uid}"]
    lin = client.lineage(guids["-2"], "BOTH", 3)
    assert lin.base_guid == guids["-2"] and lin.relations == []


def test_removing_a_classification_as_atlas_answers_it(client: AtlasCatalogClient) -> None:
    uid = uuid.uuid4().hex[:8]
    guids = client.upsert([db(f"r{uid}"), table(f"r{uid}.t")]).guid_assignments
    tag, other = f"T_{uid}", f"O_{uid}"
    client.create_typedefs([TypeDef(category="CLASSIFICATION", name=tag),
                            TypeDef(category="CLASSIFICATION", name=other)])
    t = guids["-2"]
    # none at all: Atlas's NO_CLASSIFICATIONS_FOUND_FOR_ENTITY
    with pytest.raises(AtlasNotFound) as none:
        client.remove_classification(t, tag)
    assert none.value.error_code == "ATLAS-404-00-003"
    assert client.remove_classification(t, tag, missing_ok=True) is False
    # another one: CLASSIFICATION_NOT_ASSOCIATED_WITH_ENTITY
    client.add_classification(t, Classification(type_name=other))
    with pytest.raises(AtlasBadRequest) as absent:
        client.remove_classification(t, tag)
    assert absent.value.error_code == "ATLAS-400-00-06D"
    assert client.remove_classification(t, tag, missing_ok=True) is False
    # adding one twice: Atlas refuses the second (INVALID_PARAMETERS)
    client.add_classification(t, Classification(type_name=tag, propagate=False))
    with pytest.raises(AtlasBadRequest) as twice:
        client.add_classification(t, Classification(type_name=tag))
    assert twice.value.error_code == "ATLAS-400-00-01A"
    assert {(c.type_name, c.propagate) for c in client.classifications(t)} == {(tag, False), (other, True)}
    assert client.remove_classification(t, tag) is True
    assert [c.type_name for c in client.classifications(t)] == [other]
    # an unknown entity or classification type is an error even with missing_ok
    with pytest.raises(AtlasNotFound) as entity:
        client.remove_classification(str(uuid.uuid4()), tag, missing_ok=True)
    assert entity.value.error_code == "ATLAS-404-00-005"
    with pytest.raises(AtlasBadRequest) as unknown:
        client.remove_classification(t, f"nope_{uid}", missing_ok=True)
    assert unknown.value.error_code == "ATLAS-400-00-014"


def test_errors_are_typed_catalog_errors_carrying_atlas_codes(client: AtlasCatalogClient) -> None:
    with pytest.raises(AtlasNotFound) as nf:
        client.get_entity(str(uuid.uuid4()))
    assert nf.value.status == 404 and nf.value.error_code == "ATLAS-404-00-005"
    assert isinstance(nf.value, NotFound) and nf.value.code == "not_found"
    with pytest.raises(AtlasBadRequest) as bad:  # a mandatory attribute missing: Atlas says 404-00-007
        client.upsert([EntitySpec(type_name="ml_model_build", qualified_name=f"b{uuid.uuid4()}",
                                  attributes={"name": "b"})])
    assert bad.value.error_code == "ATLAS-404-00-007" and isinstance(bad.value, InvalidInput)
    with pytest.raises(AtlasNotFound) as lin:  # a database is neither a DataSet nor a Process
        uid = uuid.uuid4().hex[:8]
        guids = client.upsert([db(f"e{uid}")]).guid_assignments
        client.lineage(guids["-1"], "INPUT", 0)
    assert lin.value.error_code == "ATLAS-404-00-011"


# -- faults -----------------------------------------------------------------------------------------------------
def mocked(handler: Any) -> AtlasCatalogClient:
    return AtlasCatalogClient("http://atlas.test:21000/gateway/atlas", "admin", "pw",
                              transport=httpx.MockTransport(handler))


@pytest.mark.parametrize(("status", "body", "cls"), [
    (503, b"Service Unavailable", AtlasUnavailable),
    (500, b'{"errorCode": "ATLAS-500-00-001", "errorMessage": "boom"}', AtlasUnavailable),
    (401, b"", AtlasAuthError),
    (403, b'{"errorCode": "ATLAS-403-00-001", "errorMessage": "admin is not authorized"}', AtlasAuthError),
    (302, b"", AtlasUnavailable),  # a login redirect from a proxy in the way
])
def test_outages_and_refused_credentials_are_upstream_unavailable(status: int, body: bytes,
                                                                  cls: type[Exception]) -> None:
    with mocked(lambda r: httpx.Response(status, content=body)) as c, pytest.raises(cls) as e:
        c.get_typedefs()
    assert isinstance(e.value, UpstreamUnavailable)
    assert f"HTTP {status}" in str(e.value)


def test_no_answer_is_unavailable_and_names_the_atlas() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with AtlasCatalogClient(url, "admin", "pw", timeout_s=2) as c, pytest.raises(AtlasUnavailable) as e:
        c.ping()
    assert url in str(e.value) and "not reachable" in str(e.value)


def test_requests_keep_a_knox_prefix_send_basic_auth_and_no_nulls() -> None:
    seen: list[httpx.Request] = []

    def handler(r: httpx.Request) -> httpx.Response:
        seen.append(r)
        return httpx.Response(200, json={"entities": [], "approximateCount": 0})

    with mocked(handler) as c:
        c.search(type_name="hive_table", exclude_deleted=True)
    (r,) = seen
    assert r.url.path == "/gateway/atlas/api/atlas/v2/search/basic"
    assert r.headers["authorization"].startswith("Basic ")
    assert b"null" not in r.content


def test_names_are_asked_for_as_atlas_reads_them() -> None:
    """FilterCriteria.attributeValue is one String to Atlas (a list there is Jackson's 400): many names are an OR
    group of single equalities, SEARCH_CHUNK to a request."""
    bodies: list[dict[str, Any]] = []

    def handler(r: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(r.content))
        return httpx.Response(200, json={})  # Atlas's answer when nothing matches

    names = [f"t{i}@cm" for i in range(SEARCH_CHUNK + 1)]
    with mocked(handler) as c:
        assert c.find_by_qualified_names("DataSet", [*names, names[0]]) == {}
    assert [b["entityFilters"] for b in bodies] == [any_of("qualifiedName", sorted(names)[:SEARCH_CHUNK]),
                                                    any_of("qualifiedName", sorted(names)[SEARCH_CHUNK:])]
    for b in bodies:
        assert b["typeName"] == "DataSet" and b["excludeDeletedEntities"] is True
        leaves = b["entityFilters"].get("criterion") or [b["entityFilters"]]
        assert all(set(c) == {"attributeName", "operator", "attributeValue"} and c["operator"] == "eq"
                   and isinstance(c["attributeValue"], str) for c in leaves)


def test_any_of_is_one_equality_per_value() -> None:
    assert any_of("name", ["a"]) == {"attributeName": "name", "operator": "eq", "attributeValue": "a"}
    assert any_of("name", ["a", "b"]) == {"condition": "OR", "criterion": [
        {"attributeName": "name", "operator": "eq", "attributeValue": "a"},
        {"attributeName": "name", "operator": "eq", "attributeValue": "b"}]}
    with pytest.raises(ValueError, match="no values"):
        any_of("name", [])  # an empty group is no filter at all: it would match everything


def test_classification_requests_on_the_wire() -> None:
    seen: list[httpx.Request] = []

    def handler(r: httpx.Request) -> httpx.Response:
        seen.append(r)
        return httpx.Response(204)

    with mocked(handler) as c:
        c.add_classification("g-1", Classification(type_name="DRIFTING", propagate=False))
        assert c.remove_classification("g-1", "DRIFTING") is True
    add, remove = seen
    assert (add.method, add.url.path) == ("POST", "/gateway/atlas/api/atlas/v2/entity/guid/g-1/classifications")
    assert json.loads(add.content) == [{"typeName": "DRIFTING", "attributes": {}, "propagate": False}]
    assert (remove.method, remove.url.path) == (
        "DELETE", "/gateway/atlas/api/atlas/v2/entity/guid/g-1/classification/DRIFTING")
    assert remove.content == b""


def test_open_atlas_urls(tmp_path: Path) -> None:
    with pytest.raises(InvalidAtlasUrl, match="none is open here"):
        open_atlas("atlas+embedded:")
    with pytest.raises(InvalidAtlasUrl, match="no host"):
        open_atlas("atlas+embedded://host/dir")
    with pytest.raises(InvalidAtlasUrl, match="unsupported"):
        open_atlas("ftp://atlas")
    with pytest.raises(InvalidAtlasUrl, match="no password"):
        open_atlas("http://atlas:21000")
    store = EmbeddedStore(tmp_path / "s", load_bundled_typedefs())
    try:
        with open_atlas("atlas+embedded:", store=store) as c:  # this process's store, left open for its owner
            c.ping()
        assert store.search({"typeName": "hive_table"}).get("entities", []) == []  # still open
    finally:
        store.close()
