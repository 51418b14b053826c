"""``POST admin/audits/ageout`` (``catalog.embedded.audit_ageout``), over the in-process HTTP client, each test on a
fresh store whose entities get audit events of chosen ages.

Expected behaviour: Atlas's ``AdminResource.ageoutAuditData`` with ``AtlasAuditReductionService`` (criteria to agings,
minimum TTL 7 days and count 50, default TTL 90 days), ``AuditReductionEntityRetrievalTask`` (which entities) and the
audit repositories' ``deleteEventsV2`` (which events: newest ``auditCount`` kept, older than the TTL removed, create
events kept unless allowed).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.datastructures import QueryParams
from starlette.testclient import TestClient

from catalog.embedded import audit
from catalog.embedded.audit_ageout import AuditReductionCriteria, ageout, agings
from catalog.embedded.routes import AtlasRequest
from catalog.embedded.store import EmbeddedStore
from tests.embedded.conftest import embedded_store, in_process_api

DAY = 86_400_000
AGEOUT = "/api/atlas/admin/audits/ageout"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EmbeddedStore]:
    yield from embedded_store(tmp_path)


@pytest.fixture
def api(store: EmbeddedStore) -> Iterator[TestClient]:
    yield from in_process_api(store)


@pytest.fixture
def guids(api: TestClient) -> dict[str, str]:
    """A DataSet and a Process (each with its ENTITY_CREATE event, now)."""
    r = api.post("/api/atlas/v2/entity/bulk", json={"entities": [
        {"typeName": "DataSet", "guid": "-1", "attributes": {"qualifiedName": "ds@test", "name": "ds"}},
        {"typeName": "Process", "guid": "-2", "attributes": {"qualifiedName": "job@test", "name": "job"}}]})
    assert r.status_code == 200, r.text
    made = r.json()["guidAssignments"]
    return {"ds": made["-1"], "job": made["-2"]}


def add_events(store: EmbeddedStore, guid: str, action: str, *ages_in_days: float) -> None:
    now = audit.now_ms()
    with store.db.write() as conn:
        for age in ages_in_days:
            audit.record(conn, guid, action, f"{action} {age} days ago", "admin", now - int(age * DAY))


def events(store: EmbeddedStore, guid: str) -> list[tuple[str, int]]:
    """(action, age in whole days) of the entity's events, oldest first."""
    now = audit.now_ms()
    rows = store.db.reader().execute("SELECT action, ts FROM entity_audit WHERE entity_guid = ? ORDER BY ts, idx",
                                     (guid,)).fetchall()
    return [(a, round((now - ts) / DAY)) for a, ts in rows]


def post(api: TestClient, body: Any, status: int = 200, **params: str) -> Any:
    r = api.post(AGEOUT, json=body, params=params)
    assert r.status_code == status, r.text
    return r.json() if r.content else None


def error(api: TestClient, body: Any, code: str, **params: str) -> str:
    r = api.post(AGEOUT, json=body, params=params)
    assert (r.status_code, r.json()["errorCode"]) == (int(code.split("-")[1]), code), r.text
    return str(r.json()["errorMessage"])


# -- default aging --------------------------------------------------------------------------------------------
def test_default_ttl_ages_out_old_events_but_creations(api: TestClient, store: EmbeddedStore,
                                                       guids: dict[str, str]) -> None:
    ds = guids["ds"]
    add_events(store, ds, "ENTITY_UPDATE", 100, 100, 40, 10)
    add_events(store, ds, "ENTITY_IMPORT_CREATE", 200)
    before = audit.now_ms()
    [task] = post(api, {"auditAgingEnabled": True, "defaultAgeoutEnabled": True, "defaultAgeoutTTLInDays": 30})
    assert events(store, ds) == [("ENTITY_IMPORT_CREATE", 200), ("ENTITY_UPDATE", 10), ("ENTITY_CREATE", 0)]
    assert task["type"] == "AUDIT_REDUCTION_ENTITY_RETRIEVAL" and task["status"] == "COMPLETE"
    assert task["createdBy"] == "admin" and task["attemptCount"] == 0
    assert before <= task["startTime"] <= task["endTime"] <= audit.now_ms()
    assert task["parameters"] == {"auditAgingType": "DEFAULT", "ttl": 30, "auditCount": 0, "entityTypes": [],
                                  "actionTypes": [], "createEventsAgeoutAllowed": False, "subTypesIncluded": False}
    r = api.get(f"/api/atlas/v2/entity/{ds}/audit")  # the entity audit reads what is left
    assert [e["action"] for e in r.json()] == ["ENTITY_CREATE", "ENTITY_UPDATE", "ENTITY_IMPORT_CREATE"]


def test_ttl_and_count_have_minimums(api: TestClient, store: EmbeddedStore, guids: dict[str, str]) -> None:
    ds = guids["ds"]
    add_events(store, ds, "ENTITY_UPDATE", *(0.5 + i / 100 for i in range(60)), 3, 10)
    [task] = post(api, {"auditAgingEnabled": True, "defaultAgeoutEnabled": True, "defaultAgeoutTTLInDays": 1,
                        "defaultAgeoutAuditCount": 5})
    assert (task["parameters"]["ttl"], task["parameters"]["auditCount"]) == (7, 50)
    left = events(store, ds)
    assert left.count(("ENTITY_CREATE", 0)) == 1
    assert len([e for e in left if e[0] == "ENTITY_UPDATE"]) == 50  # the newest 50; 3 and 10 days old are out


def test_count_alone_when_the_ttl_is_ignored(api: TestClient, store: EmbeddedStore, guids: dict[str, str]) -> None:
    ds = guids["ds"]
    add_events(store, ds, "LABEL_ADD", *range(300, 240, -1))  # 60 events, 241..300 days old
    [task] = post(api, {"auditAgingEnabled": True, "defaultAgeoutEnabled": True, "ignoreDefaultAgeoutTTL": True,
                        "defaultAgeoutAuditCount": 50})
    assert task["parameters"]["ttl"] == 0
    left = events(store, ds)
    assert len(left) == 51 and left[0] == ("LABEL_ADD", 290) and left[-1] == ("ENTITY_CREATE", 0)
    # ignoring the TTL without a count ages nothing out: no aging at all
    assert post(api, {"auditAgingEnabled": True, "defaultAgeoutEnabled": True, "ignoreDefaultAgeoutTTL": True}) == []


def test_creations_age_out_when_allowed(api: TestClient, store: EmbeddedStore, guids: dict[str, str]) -> None:
    ds = guids["ds"]
    add_events(store, ds, "ENTITY_CREATE", 120)
    post(api, {"auditAgingEnabled": True, "defaultAgeoutEnabled": True, "createEventsAgeoutAllowed": True})
    assert events(store, ds) == [("ENTITY_CREATE", 0)]  # 90 days by default


# -- custom and sweep -----------------------------------------------------------------------------------------
def test_custom_types_get_their_own_ttl_and_leave_the_default(api: TestClient, store: EmbeddedStore,
                                                              guids: dict[str, str]) -> None:
    ds, job = guids["ds"], guids["job"]
    for guid in (ds, job):
        add_events(store, guid, "ENTITY_UPDATE", 120, 30, 3)
    tasks = post(api, {"auditAgingEnabled": True, "defaultAgeoutEnabled": True, "customAgeoutEntityTypes": "Process",
                       "customAgeoutTTLInDays": 10})
    assert [(t["parameters"]["auditAgingType"], t["parameters"]["entityTypes"]) for t in tasks] == [
        ("CUSTOM", ["Process"]), ("DEFAULT", ["Process"])]  # DEFAULT: every type but these
    assert events(store, job) == [("ENTITY_UPDATE", 3), ("ENTITY_CREATE", 0)]
    assert events(store, ds) == [("ENTITY_UPDATE", 30), ("ENTITY_UPDATE", 3), ("ENTITY_CREATE", 0)]


def test_custom_types_with_subtypes_and_prefixes(api: TestClient, store: EmbeddedStore,
                                                 guids: dict[str, str]) -> None:
    ds, job = guids["ds"], guids["job"]
    for guid in (ds, job):
        add_events(store, guid, "ENTITY_UPDATE", 30)
    post(api, {"auditAgingEnabled": True, "customAgeoutEntityTypes": "Asset", "customAgeoutTTLInDays": 10})
    assert len(events(store, ds)) == 2  # no entity is an Asset itself
    post(api, {"auditAgingEnabled": True, "customAgeoutEntityTypes": "Asset", "customAgeoutTTLInDays": 10,
               "subTypesIncluded": True})
    assert events(store, ds) == [("ENTITY_CREATE", 0)] and events(store, job) == [("ENTITY_CREATE", 0)]
    add_events(store, ds, "ENTITY_UPDATE", 30)
    add_events(store, job, "ENTITY_UPDATE", 30)
    post(api, {"auditAgingEnabled": True, "customAgeoutEntityTypes": "Proc*, nosuchtype",
               "customAgeoutTTLInDays": 10})
    assert len(events(store, ds)) == 2 and events(store, job) == [("ENTITY_CREATE", 0)]


def test_custom_actions_keep_their_newest_events(api: TestClient, store: EmbeddedStore,
                                                 guids: dict[str, str]) -> None:
    ds = guids["ds"]
    add_events(store, ds, "ENTITY_UPDATE", *range(1, 56))
    add_events(store, ds, "LABEL_ADD", *range(1, 56))
    [task] = post(api, {"auditAgingEnabled": True, "customAgeoutActionTypes": "ENTITY_UPD*",
                        "customAgeoutAuditCount": 50})
    assert task["parameters"]["actionTypes"] == ["ENTITY_UPDATE"]
    left = events(store, ds)
    assert len([e for e in left if e[0] == "ENTITY_UPDATE"]) == 50
    assert len([e for e in left if e[0] == "LABEL_ADD"]) == 55


def test_sweep_removes_every_event_of_its_actions(api: TestClient, store: EmbeddedStore,
                                                  guids: dict[str, str]) -> None:
    ds, job = guids["ds"], guids["job"]
    for guid in (ds, job):
        add_events(store, guid, "LABEL_ADD", 1)
        add_events(store, guid, "LABEL_DELETE", 2)
        add_events(store, guid, "PROPAGATED_CLASSIFICATION_ADD", 3)
        add_events(store, guid, "CLASSIFICATION_ADD", 4)
        add_events(store, guid, "ENTITY_UPDATE", 5)
    tasks = post(api, {"auditAgingEnabled": True, "auditSweepoutEnabled": True, "defaultAgeoutEnabled": True,
                       "sweepoutActionTypes": "LABEL*,*CLASSIFICATION_ADD"})
    sweep, default = (t["parameters"] for t in tasks)
    assert sweep["auditAgingType"] == "SWEEP" and sweep["actionTypes"] == [
        "CLASSIFICATION_ADD", "LABEL_ADD", "LABEL_DELETE", "PROPAGATED_CLASSIFICATION_ADD"]
    assert default["auditAgingType"] == "DEFAULT" and "LABEL_ADD" not in default["actionTypes"]
    for guid in (ds, job):
        assert events(store, guid) == [("ENTITY_UPDATE", 5), ("ENTITY_CREATE", 0)]


def test_agings_follow_atlas_service() -> None:
    c = AuditReductionCriteria(auditAgingEnabled=True, auditSweepoutEnabled=True, sweepoutEntityTypes="hive_table",
                               customAgeoutEntityTypes="hive_table, hive_db", customAgeoutAuditCount=60,
                               defaultAgeoutEnabled=True)
    sweep, custom, default = agings(c)
    assert (sweep["auditAgingType"], sweep["entityTypes"], sweep["ttl"], sweep["auditCount"]) == (
        "SWEEP", ["hive_table"], 0, 0)
    assert (custom["auditAgingType"], custom["entityTypes"], custom["auditCount"]) == ("CUSTOM", ["hive_db"], 60)
    assert (default["entityTypes"], default["ttl"], default["actionTypes"]) == (["hive_db", "hive_table"], 90, [])
    assert agings(AuditReductionCriteria(auditAgingEnabled=True, customAgeoutEntityTypes="x")) == []  # no TTL/count


# -- nothing to do, bad input ---------------------------------------------------------------------------------
def test_disabled_aging_does_nothing(store: EmbeddedStore, guids: dict[str, str]) -> None:
    add_events(store, guids["ds"], "ENTITY_UPDATE", 400)
    for query, body in (("", b'{"defaultAgeoutEnabled": true}'),
                        ("useAuditConfig=true", b'{"auditAgingEnabled": true}')):
        assert ageout(store, AtlasRequest({}, QueryParams(query), body, "admin")) is None
    assert len(events(store, guids["ds"])) == 2


def test_disabled_aging_answers_no_content(api: TestClient, store: EmbeddedStore, guids: dict[str, str]) -> None:
    add_events(store, guids["ds"], "ENTITY_UPDATE", 400)
    assert post(api, {"auditAgingEnabled": False, "defaultAgeoutEnabled": True}, 204) is None
    assert post(api, {"auditAgingEnabled": True, "defaultAgeoutEnabled": True}, 204, useAuditConfig="true") is None
    assert len(events(store, guids["ds"])) == 2


def test_bad_criteria_are_refused_before_anything_is_removed(api: TestClient, store: EmbeddedStore,
                                                             guids: dict[str, str]) -> None:
    add_events(store, guids["ds"], "ENTITY_UPDATE", 400)
    enabled = {"auditAgingEnabled": True, "defaultAgeoutEnabled": True}
    assert "auditAgingEnabled" in error(api, {"auditAgingEnabled": "maybe"}, "ATLAS-400-00-029")
    assert "defaultAgeoutAuditCount" in error(api, {**enabled, "defaultAgeoutAuditCount": 2**31}, "ATLAS-400-00-029")
    assert "customAgeoutEntityTypes" in error(api, {**enabled, "customAgeoutEntityTypes": ["a"]}, "ATLAS-400-00-029")
    error(api, [enabled], "ATLAS-400-00-029")
    message = error(api, {**enabled, "customAgeoutActionTypes": "NOPE", "customAgeoutTTLInDays": 8},
                    "ATLAS-400-00-01A")
    assert message.endswith("No enum constant org.apache.atlas.model.audit.EntityAuditEventV2.EntityAuditActionV2.NOPE")
    error(api, {**enabled, "auditSweepoutEnabled": True, "sweepoutActionTypes": "X*"}, "ATLAS-400-00-01A")
    error(api, enabled, "ATLAS-400-00-01A", useAuditConfig="maybe")
    r = api.post(AGEOUT)
    assert (r.status_code, r.json()["errorCode"]) == (400, "ATLAS-400-00-029")  # no body
    assert len(events(store, guids["ds"])) == 2
    # nulls are Java's defaults, unknown fields are ignored
    assert post(api, {**enabled, "defaultAgeoutTTLInDays": None, "customAgeoutEntityTypes": None, "extra": 1})
    assert events(store, guids["ds"]) == [("ENTITY_CREATE", 0)]
