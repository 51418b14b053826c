"""``POST admin/checkstate`` (``catalog.embedded.checkstate``), over the in-process HTTP client, on a fresh store per
test whose copies of entity data are then damaged directly in SQLite.

Expected behaviour: Atlas's ``AdminResource.checkState`` / ``EntityStateChecker``: an AtlasCheckStateResult counting
the entities scanned, OK, fixed, partially fixed and not fixed, listing (by guid) only those with issues, each an
AtlasEntityState; ``entityGuids`` before ``entityTypes``, ``"*"`` every entity type, unknown types skipped, unknown
guids 404.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from catalog.embedded.store import EmbeddedStore
from tests.embedded.conftest import embedded_store, in_process_api, ok

CHECK = "/api/atlas/admin/checkstate"
QN = "Referenceable.qualifiedName"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EmbeddedStore]:
    yield from embedded_store(tmp_path)


@pytest.fixture
def api(store: EmbeddedStore) -> Iterator[TestClient]:
    yield from in_process_api(store)


@pytest.fixture
def guids(api: TestClient) -> dict[str, str]:
    """DataSets one, two, three (three deleted), a Process reading one and three; two classified."""
    ok(api.post("/api/atlas/v2/types/typedefs", json={"classificationDefs": [{"name": "Sensitive"}]}))
    made = ok(api.post("/api/atlas/v2/entity/bulk", json={"entities": [
        {"typeName": "DataSet", "guid": f"-{i}", "attributes": {"qualifiedName": f"{n}@test", "name": n}}
        for i, n in ((1, "one"), (2, "two"), (3, "three"))] + [
        {"typeName": "Process", "guid": "-4", "attributes": {"qualifiedName": "job@test", "name": "job",
                                                            "inputs": [{"guid": "-1"}, {"guid": "-3"}]}}]}))
    out = {n: made["guidAssignments"][g] for g, n in (("-1", "one"), ("-2", "two"), ("-3", "three"), ("-4", "job"))}
    ok(api.post(f"/api/atlas/v2/entity/guid/{out['two']}/classifications", json=[{"typeName": "Sensitive"}]), 204)
    ok(api.delete(f"/api/atlas/v2/entity/guid/{out['three']}"))
    return out


def check(api: TestClient, **body: Any) -> Any:
    return ok(api.post(CHECK, json=body))


def damage(store: EmbeddedStore, *statements: tuple[str, tuple[Any, ...]]) -> None:
    with store.db.write() as conn:
        for sql, args in statements:
            conn.execute(sql, args)


def by_unique(api: TestClient, qn: str) -> int:
    return api.get("/api/atlas/v2/entity/uniqueAttribute/type/DataSet", params={"attr:qualifiedName": qn}).status_code


def test_a_consistent_store_is_ok(api: TestClient, guids: dict[str, str]) -> None:
    got = check(api, entityTypes=["*"])
    assert got == {"entitiesScanned": 4, "entitiesOk": 4, "entitiesFixed": 0, "entitiesPartiallyFixed": 0,
                   "entitiesNotFixed": 0, "state": "OK"}


def test_issues_are_reported_then_fixed(api: TestClient, store: EmbeddedStore, guids: dict[str, str]) -> None:
    one, two, three, job = guids["one"], guids["two"], guids["three"], guids["job"]
    damage(store,
           ("UPDATE entity SET qualified_name = 'wrong' WHERE guid = ?", (one,)),
           ("DELETE FROM uattr WHERE guid = ?", (one,)),
           ("INSERT INTO uattr(attr, value, guid) VALUES (?, 'ghost@test', ?)", (QN, one)),
           ("UPDATE classification SET body = json_set(body, '$.entityStatus', 'DELETED') WHERE entity_guid = ?",
            (two,)),
           ("INSERT INTO propagated_classification VALUES (?, 'Sensitive', 'gone-guid')", (two,)),
           ("DELETE FROM entity WHERE guid = ?", (three,)))  # purged, its relationship to the job left behind
    assert by_unique(api, "one@test") == 404  # the damaged index hides the entity

    got = check(api, entityTypes=["DataSet", "Process"])
    assert (got["entitiesScanned"], got["entitiesOk"], got["entitiesNotFixed"], got["state"]) == (3, 0, 3, "NOT_FIXED")
    assert got["entities"][one] == {
        "guid": one, "typeName": "DataSet", "name": "one@test", "status": "ACTIVE", "state": "NOT_FIXED",
        "issues": ["incorrect property: qualifiedName index has 'wrong', the entity has 'one@test'",
                   f"incorrect property: unique attribute index has missing values: [{QN}=one@test]",
                   f"incorrect property: unique attribute index has unassigned values: [{QN}=ghost@test]"]}
    assert got["entities"][two]["issues"] == [
        f"incorrect property: classification Sensitive has entityStatus 'DELETED'; the entity is {two} (ACTIVE)",
        "incorrect property: propagated classification Sensitive from gone-guid has no source classification"]
    [issue] = got["entities"][job]["issues"]
    assert issue.endswith(f"(dataset_process_inputs) refers to missing entity {three}")
    assert check(api, entityTypes=["DataSet", "Process"]) == got  # reporting changed nothing

    fixed = check(api, entityTypes=["DataSet", "Process"], fixIssues=True)
    assert (fixed["entitiesFixed"], fixed["state"]) == (3, "FIXED")
    assert {e["state"] for e in fixed["entities"].values()} == {"FIXED"}
    assert check(api, entityTypes=["*"])["state"] == "OK"
    assert by_unique(api, "one@test") == 200 and by_unique(api, "ghost@test") == 404
    job_entity = ok(api.get(f"/api/atlas/v2/entity/guid/{job}"))["entity"]
    assert [i["guid"] for i in job_entity["relationshipAttributes"]["inputs"]] == [one]
    [tag] = ok(api.get(f"/api/atlas/v2/entity/guid/{two}/classifications"))["list"]
    assert tag["entityStatus"] == "ACTIVE"


def test_what_can_not_be_fixed_is_reported(api: TestClient, store: EmbeddedStore, guids: dict[str, str]) -> None:
    one, two = guids["one"], guids["two"]
    damage(store,  # two claims one's qualifiedName, and carries a classification of a type that is gone
           ("UPDATE entity SET body = json_set(body, '$.attributes.qualifiedName', 'one@test'), "
            "qualified_name = 'one@test' WHERE guid = ?", (two,)),
           ("UPDATE uattr SET value = 'one@test' WHERE guid = ?", (two,)),
           ("INSERT INTO classification VALUES (?, 'Gone', '{\"typeName\": \"Gone\", \"entityGuid\": \"x\"}')",
            (one,)))
    got = check(api, entityGuids=[one, two], fixIssues=True)
    assert (got["entitiesPartiallyFixed"], got["entitiesNotFixed"], got["state"]) == (1, 1, "PARTIALLY_FIXED")
    assert got["entities"][one]["state"] == "PARTIALLY_FIXED"  # its classification's entityGuid is fixed
    assert got["entities"][one]["issues"] == [
        f"unique attribute {QN}='one@test' is also held by entity {two} (DataSet)",
        "classification Gone: classification-type not found",
        f"incorrect property: classification Gone has entityGuid 'x', entityStatus None; the entity is {one} (ACTIVE)"]
    assert got["entities"][two]["issues"] == [
        f"unique attribute {QN}='one@test' is also held by entity {one} (DataSet)"]
    assert got["entities"][two]["state"] == "NOT_FIXED"
    assert check(api, entityGuids=[two])["state"] == "NOT_FIXED"


def test_which_entities_are_scanned(api: TestClient, guids: dict[str, str]) -> None:
    assert check(api, entityGuids=[guids["one"]])["entitiesScanned"] == 1
    assert check(api, entityGuids=[guids["one"]], entityTypes=["*"])["entitiesScanned"] == 1  # guids win
    assert check(api, entityTypes=["DataSet"])["entitiesScanned"] == 3  # the deleted one too
    assert check(api, entityTypes=["Asset", "NoSuchType", "Sensitive"])["entitiesScanned"] == 0  # exact types only
    empty = {"entitiesScanned": 0, "entitiesOk": 0, "entitiesFixed": 0, "entitiesPartiallyFixed": 0,
             "entitiesNotFixed": 0, "state": "OK"}
    assert check(api) == empty
    assert ok(api.post(CHECK)) == empty  # no body: Jersey's null request
    r = api.post(CHECK, json={"entityGuids": [guids["one"], "no-such-guid"], "fixIssues": True})
    assert (r.status_code, r.json()["errorCode"]) == (404, "ATLAS-404-00-005")


@pytest.mark.parametrize("body", [{"entityGuids": "one"}, {"entityTypes": [1]}, {"fixIssues": "maybe"}, [], "x"])
def test_bad_requests(api: TestClient, body: Any) -> None:
    r = api.post(CHECK, json=body)
    assert (r.status_code, r.json()["errorCode"]) == (400, "ATLAS-400-00-029"), r.text
    r = api.post(CHECK, content=b"{not json", headers={"content-type": "application/json"})
    assert (r.status_code, r.json()["errorCode"]) == (400, "ATLAS-400-00-029")
