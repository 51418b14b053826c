"""The AdminResource routes Atlas's web UI boots with (``catalog.embedded.routes_admin``): ``admin/session``,
``admin/metrics``, the metrics snapshots (``admin/metricsstats``, ``metricsstat/{t}``, ``metricsstats/range``,
``metricsstats/charts``), the admin audit (``POST admin/audits``), and the root types Atlas special-cases
(``types/entitydef/name/_ALL_ENTITY_TYPES``, ``types/classificationdef/name/_ALL_CLASSIFICATION_TYPES``).

A fresh store per module, so the counts are exact. Expected answers: Atlas's ``AdminResource``, ``MetricsService``,
``AtlasAuditService``/``TypeDefAuditListener`` and ``AtlasTypeDefGraphStore``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import Mount, Router
from starlette.testclient import TestClient

from catalog.embedded import admin_audit, metrics
from catalog.embedded.app import create_app
from catalog.embedded.errors import AtlasError
from catalog.embedded.store import EmbeddedStore
from tests.conftest import ATLAS_PASSWORD
from tests.embedded.conftest import AUTH, ok
from typedefs import load_bundled_typedefs

HOUR = 3_600_000


def error(r: Any, status: int, code: str) -> None:
    assert (r.status_code, r.json().get("errorCode")) == (status, code), r.text


def entity(type_name: str, guid: str, name: str, **attrs: Any) -> dict[str, Any]:
    return {"typeName": type_name, "guid": guid, "attributes": {"qualifiedName": f"{name}@test", "name": name, **attrs}}


@pytest.fixture(scope="module")
def populated(api: TestClient) -> dict[str, str]:
    """2 active DataSets, 1 deleted, a Process; a classification on one DataSet."""
    ok(api.post("/api/atlas/v2/types/typedefs", json={"classificationDefs": [{"name": "Sensitive"}]}))
    made = ok(api.post("/api/atlas/v2/entity/bulk", json={"entities": [
        entity("DataSet", "-1", "one"), entity("DataSet", "-2", "two"), entity("DataSet", "-3", "gone"),
        entity("Process", "-4", "job", inputs=[{"guid": "-1"}], outputs=[{"guid": "-2"}])]}))
    guids = {name: made["guidAssignments"][g] for name, g in (("one", "-1"), ("two", "-2"), ("gone", "-3"),
                                                              ("job", "-4"))}
    ok(api.delete(f"/api/atlas/v2/entity/guid/{guids['gone']}"))
    ok(api.post(f"/api/atlas/v2/entity/guid/{guids['one']}/classifications", json=[{"typeName": "Sensitive"}]), 204)
    return guids


# -- admin/session --------------------------------------------------------------------------------------------
def test_session_names_the_user_and_the_ui_settings(api: TestClient) -> None:
    got = ok(api.get("/api/atlas/admin/session"))
    assert got["userName"] == "admin" and got["groups"] == ["ADMIN"]
    assert got["atlas.entity.create.allowed"] is True and got["atlas.entity.update.allowed"] is True
    assert got["atlas.ui.date.format"] == "MM/DD/YYYY hh:mm:ss A" and got["atlas.ui.default.version"] == "v3"
    assert got["atlas.lineage.on.demand.enabled"] is True and got["atlas.lineage.on.demand.default.node.count"] == 3
    assert got["atlas.relationship.search.enabled"] is False and got["atlas.tasks.enabled"] is False
    assert got["atlas.rest-csrf.enabled"] is True and got["atlas.rest-csrf.custom-header"] == "X-XSRF-HEADER"
    assert set(got["atlas.rest-csrf.methods-to-ignore"].split(",")) == {"GET", "OPTIONS", "HEAD", "TRACE"}
    assert isinstance(got["_csrfToken"], str) and len(got["_csrfToken"]) >= 20
    assert "UTC" in got["timezones"] and "Europe/Paris" in got["timezones"]


def test_session_carries_the_settings_of_the_ui_it_serves(store: EmbeddedStore) -> None:
    app = Router(routes=[Mount("/api/atlas", app=create_app(store, password=ATLAS_PASSWORD, ui_settings={
        "atlas.ui.default.version": "v1"}))])
    with TestClient(app) as client:
        assert ok(client.get("/api/atlas/admin/session", auth=AUTH))["atlas.ui.default.version"] == "v1"


def test_admin_routes_need_credentials(api: TestClient) -> None:
    for path in ("/api/atlas/admin/session", "/api/atlas/admin/metrics", "/api/atlas/admin/metricsstats"):
        error(api.get(path, auth=("admin", "wrong")), 401, "ATLAS-401-00-001")
    error(api.post("/api/atlas/admin/audits", json={}, auth=("nobody", "pw")), 401, "ATLAS-401-00-001")


# -- root types -----------------------------------------------------------------------------------------------
def test_all_entity_types_is_the_root_of_every_entity_type(api: TestClient) -> None:
    got = ok(api.get("/api/atlas/v2/types/entitydef/name/_ALL_ENTITY_TYPES"))
    assert got["name"] == "__ENTITY_ROOT" and got["category"] == "ENTITY"
    names = {a["name"]: a for a in got["attributeDefs"]}
    assert {"__guid", "__typeName", "__state", "__timestamp", "__modificationTimestamp", "__createdBy",
            "__modifiedBy", "__classificationNames", "__labels", "__customAttributes", "__isIncomplete"} <= set(names)
    assert names["__timestamp"]["typeName"] == "date" and names["__guid"]["isUnique"] is True
    assert ok(api.get("/api/atlas/v2/types/entitydef/name/DataSet"))["name"] == "DataSet"
    error(api.get("/api/atlas/v2/types/entitydef/name/_all_entity_types"), 404, "ATLAS-404-00-001")  # exact case


def test_all_classification_types_is_the_root_of_every_classification(api: TestClient, populated: Any) -> None:
    for name in ("_ALL_CLASSIFICATION_TYPES", "_all_classification_types"):  # Atlas ignores the case here
        got = ok(api.get(f"/api/atlas/v2/types/classificationdef/name/{name}"))
        assert got["name"] == "__CLASSIFICATION_ROOT" and got["category"] == "CLASSIFICATION"
        assert {a["name"] for a in got["attributeDefs"]} == {
            "__typeName", "__timestamp", "__modificationTimestamp", "__modifiedBy", "__createdBy", "__entityStatus"}
    assert ok(api.get("/api/atlas/v2/types/classificationdef/name/Sensitive"))["name"] == "Sensitive"
    error(api.get("/api/atlas/v2/types/classificationdef/name/Nope"), 404, "ATLAS-404-00-001")
    error(api.get("/api/atlas/v2/types/classificationdef/name/DataSet"), 404, "ATLAS-404-00-001")


# -- admin/metrics --------------------------------------------------------------------------------------------
def test_metrics_count_the_store(api: TestClient, store: EmbeddedStore, populated: Any) -> None:
    data = ok(api.get("/api/atlas/admin/metrics"))["data"]
    assert set(data) == {"general", "entity", "tag", "system"}
    entity = data["entity"]
    assert entity["entityActive"] == {"DataSet": 2, "Process": 1}
    assert entity["entityDeleted"] == {"DataSet": 1}
    assert entity["entityShell"] == {}
    assert "entityActive-typeAndSubTypes" not in entity  # excludeTypeAndSubTypeEntity defaults to true
    assert data["tag"] == {"tagEntities": {"Sensitive": 1}}
    general = data["general"]
    entity_types = [d for d in store.registry.defs.values()
                    if d["category"] == "ENTITY" and "__internal" not in (d.get("superTypes") or [])]
    assert general["entityCount"] == 4  # active and deleted
    assert general["typeCount"] == len(store.registry.defs)
    assert general["tagCount"] == 1
    assert general["typeUnusedCount"] == len(entity_types) - 2
    assert abs(general["collectionTime"] - time.time() * 1000) < 60_000
    stats = general["stats"]
    assert stats["Server:statusBackendStore"] == "connected" and isinstance(stats["Server:upTime"], str)
    assert not any(k.startswith("Notification:") for k in stats)  # no notification processing here
    assert set(data["system"]) == {"os", "runtime", "memory"}


def test_metrics_with_sub_types(api: TestClient, populated: Any) -> None:
    entity = ok(api.get("/api/atlas/admin/metrics", params={"excludeTypeAndSubTypeEntity": "false"}))["data"]["entity"]
    assert entity["entityActive-typeAndSubTypes"]["DataSet"] == 2
    assert entity["entityActive-typeAndSubTypes"]["Asset"] == 3  # DataSet and Process are both Assets
    assert entity["entityDeleted-typeAndSubTypes"]["Referenceable"] == 1
    error(api.get("/api/atlas/admin/metrics", params={"excludeTypeAndSubTypeEntity": "maybe"}), 400,
          "ATLAS-400-00-01A")


# -- metrics snapshots ----------------------------------------------------------------------------------------
def test_snapshots_are_hourly_and_expire(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path, load_bundled_typedefs())
    try:
        t0 = 1_800_000_000_000 - 1_800_000_000_000 % HOUR + 10
        metrics.ensure_hourly(store, t0)
        metrics.ensure_hourly(store, t0 + 1000)  # same hour: nothing new
        metrics.ensure_hourly(store, t0 + HOUR)
        times = [s["collectionTime"] for s in metrics.all_stats(store.db.reader(), True)]
        assert times == [t0 + HOUR, t0]  # newest first
        metrics.save_snapshot(store, t0 + metrics.TTL_MS + 1)
        times = [s["collectionTime"] for s in metrics.all_stats(store.db.reader(), True)]
        assert times == [t0 + metrics.TTL_MS + 1, t0 + HOUR]  # the first one outlived its 336 hours
    finally:
        store.close()


def test_metricsstats_list_and_read_snapshots(api: TestClient, populated: Any) -> None:
    listed = ok(api.get("/api/atlas/admin/metricsstats"))
    assert listed, "reading them takes this hour's snapshot"
    first = listed[0]
    assert set(first) == {"guid", "metricsId", "collectionTime", "timeToLiveMillis"}  # mininfo defaults to true
    assert first["metricsId"] == f"atlas_metrics_{first['collectionTime']}@default"
    assert first["timeToLiveMillis"] == 336 * HOUR
    full = ok(api.get("/api/atlas/admin/metricsstats", params={"mininfo": "false"}))[0]
    assert full["metrics"]["data"]["entity"]["entityActive"]["DataSet"] == 2
    one = ok(api.get(f"/api/atlas/admin/metricsstat/{first['collectionTime']}"))
    assert one["collectionTime"] == first["collectionTime"] and one["metrics"]["data"]["general"]["entityCount"] == 4
    error(api.get("/api/atlas/admin/metricsstat/12"), 404, "ATLAS-404-00-009")
    error(api.get("/api/atlas/admin/metricsstat/yesterday"), 400, "ATLAS-400-00-01A")


def test_metricsstats_charts_and_range(api: TestClient, store: EmbeddedStore, populated: Any) -> None:
    now = int(time.time() * 1000)
    metrics.save_snapshot(store, now - 2 * HOUR)
    params: dict[str, Any] = {"startTime": now - 3 * HOUR, "endTime": now + HOUR, "typeName": ["DataSet", "hive_table"]}
    charts = ok(api.get("/api/atlas/admin/metricsstats/charts", params=params))
    assert set(charts) == {"DataSet", "hive_table"}
    series = {s["key"]: s["values"] for s in charts["DataSet"]}
    assert list(series) == ["Active", "Deleted", "Shell"]
    times = [t for t, _ in series["Active"]]
    assert times == sorted(times) and times[0] == now - 2 * HOUR  # oldest first, for the stacked area chart
    assert series["Active"][-1][1] == 2 and series["Deleted"][-1][1] == 1
    assert all(n == 0 for _, n in next(s for s in charts["hive_table"] if s["key"] == "Active")["values"])
    ranged = ok(api.get("/api/atlas/admin/metricsstats/range", params=params))
    assert ranged[0]["typeData"]["DataSet"] == {"Active": 2, "Deleted": 1, "Shell": 0} and "metrics" not in ranged[0]
    empty = ok(api.get("/api/atlas/admin/metricsstats/charts",
                       params={"startTime": 1, "endTime": 2, "typeName": "DataSet"}))
    assert empty == {"DataSet": []}
    error(api.get("/api/atlas/admin/metricsstats/charts", params={"endTime": now}), 400, "ATLAS-400-00-029")
    error(api.get("/api/atlas/admin/metricsstats/charts", params={"startTime": now, "endTime": now}), 400,
          "ATLAS-400-00-01A")


# -- admin audits ---------------------------------------------------------------------------------------------
def audits(api: TestClient, **params: Any) -> list[dict[str, Any]]:
    body = {"limit": 100, "offset": 0, "sortBy": "startTime", "sortOrder": "ASCENDING", **params}
    return list(ok(api.post("/api/atlas/admin/audits", json=body)))


def of(api: TestClient, operation: str) -> list[dict[str, Any]]:
    return audits(api, auditFilters={"condition": "AND", "criterion": [
        {"attributeName": "operation", "operator": "eq", "attributeValue": operation}]})


def test_typedef_changes_are_audited(api: TestClient) -> None:
    before = len(of(api, "TYPE_DEF_CREATE"))
    ok(api.post("/api/atlas/v2/types/typedefs", json={
        "classificationDefs": [{"name": "AuditedTag"}],
        "entityDefs": [{"name": "audited_set", "superTypes": ["DataSet"]}]}))
    created = of(api, "TYPE_DEF_CREATE")
    assert len(created) == before + 1
    e = created[-1]
    assert e["userName"] == "admin" and e["resultCount"] == 2 and e["auditRowKind"] == "SINGLE"
    assert sorted(e["params"].split(",")) == ["CLASSIFICATION", "ENTITY"]
    result = json.loads(e["result"])
    assert [d["name"] for d in result["ENTITY"]] == ["audited_set"]
    assert [d["name"] for d in result["CLASSIFICATION"]] == ["AuditedTag"]
    assert e["startTime"] <= e["endTime"] and e["clientId"]
    # a refused create writes nothing
    error(api.post("/api/atlas/v2/types/typedefs", json={"classificationDefs": [{"name": "AuditedTag"}]}), 409,
          "ATLAS-409-00-001")
    assert len(of(api, "TYPE_DEF_CREATE")) == before + 1

    ok(api.put("/api/atlas/v2/types/typedefs", json={"classificationDefs": [{"name": "AuditedTag",
                                                                             "description": "changed"}]}))
    updated = of(api, "TYPE_DEF_UPDATE")[-1]
    assert updated["params"] == "CLASSIFICATION" and json.loads(updated["result"])["CLASSIFICATION"][0][
        "description"] == "changed"
    ok(api.delete("/api/atlas/v2/types/typedef/name/AuditedTag"), 204)
    ok(api.request("DELETE", "/api/atlas/v2/types/typedefs", json={"entityDefs": [{"name": "audited_set"}]}), 204)
    deleted = of(api, "TYPE_DEF_DELETE")
    assert [json.loads(d["result"]).popitem()[1][0]["name"] for d in deleted[-2:]] == ["AuditedTag", "audited_set"]
    error(api.delete("/api/atlas/v2/types/typedef/name/AuditedTag"), 404, "ATLAS-404-00-001")
    assert len(of(api, "TYPE_DEF_DELETE")) == len(deleted)


def test_server_start_and_purge_are_audited(api: TestClient, store: EmbeddedStore) -> None:
    admin_audit.server_started(store, 1_700_000_000_000)
    start = of(api, "SERVER_START")[0]
    assert start["userName"] == "atlas" and start["startTime"] == 1_700_000_000_000 and "params" not in start
    made = ok(api.post("/api/atlas/v2/entity", json={"entity": entity("DataSet", "-1", "purged")}))
    guid = made["guidAssignments"]["-1"]
    ok(api.delete(f"/api/atlas/v2/entity/guid/{guid}"))
    ok(api.put("/api/atlas/admin/purge", json=[guid]))
    purge = of(api, "PURGE")[-1]
    assert (purge["params"], purge["result"], purge["resultCount"]) == (f"[{guid}]", guid, 1)
    ok(api.put("/api/atlas/admin/purge", json=[guid]))  # nothing left to purge: no entry
    assert of(api, "PURGE")[-1] == purge


def test_audit_search_filters_sorts_and_pages(api: TestClient, store: EmbeddedStore) -> None:
    for t in (1_600_000_000_000, 1_600_000_001_000, 1_600_000_002_000):
        admin_audit.server_started(store, t)
    everything = audits(api)
    newest = audits(api, sortOrder="DESCENDING")
    assert [e["guid"] for e in newest] == [e["guid"] for e in reversed(everything)]
    assert [e["startTime"] for e in everything] == sorted(e["startTime"] for e in everything)
    page = audits(api, limit=2, offset=1)
    assert [e["guid"] for e in page] == [e["guid"] for e in everything[1:3]]
    early = audits(api, auditFilters={"condition": "AND", "criterion": [
        {"attributeName": "operation", "operator": "eq", "attributeValue": "SERVER_START"},
        {"attributeName": "startTime", "operator": "lt", "attributeValue": "1600000001500"},
        {"attributeName": "params", "operator": "eq", "attributeValue": ""}]})  # no value: dropped, as Atlas does
    assert [e["startTime"] for e in early] == [1_600_000_000_000, 1_600_000_001_000]
    either = audits(api, auditFilters={"condition": "OR", "criterion": [
        {"attributeName": "operation", "operator": "eq", "attributeValue": "PURGE"},
        {"attributeName": "userName", "operator": "eq", "attributeValue": "atlas"}]})
    assert {e["operation"] for e in either} <= {"PURGE", "SERVER_START"} and len(either) >= 4
    assert audits(api, auditFilters=None, limit="2")[:2] == everything[:2]  # Jackson reads "2" as 2


def test_audit_search_refuses_what_atlas_refuses(api: TestClient) -> None:
    url = "/api/atlas/admin/audits"
    error(api.post(url, json={"sortBy": "nope"}), 400, "ATLAS-400-00-023")
    error(api.post(url, json={"auditFilters": {"attributeName": "typeName", "operator": "eq",
                                               "attributeValue": "x"}}), 400, "ATLAS-400-00-023")
    error(api.post(url, content=b""), 400, "ATLAS-400-00-01A")
    error(api.post(url, json=[1]), 400, "ATLAS-400-00-01A")
    error(api.post(url, json={"limit": "lots"}), 400, "ATLAS-400-00-029")
    error(api.post(url, content=b"{"), 400, "ATLAS-400-00-029")


# -- one admin audit entry: details, purge summary and batches -------------------------------------------------
def _purged(api: TestClient, *names: str) -> tuple[dict[str, Any], list[str]]:
    """Entities made, deleted and purged in one ``PUT admin/purge``: its audit entry and the guids."""
    made = ok(api.post("/api/atlas/v2/entity/bulk", json={"entities": [
        entity("DataSet", f"-{i}", name) for i, name in enumerate(names, 1)]}))
    guids = [made["guidAssignments"][f"-{i}"] for i in range(1, len(names) + 1)]
    ok(api.request("DELETE", "/api/atlas/v2/entity/bulk", params=[("guid", g) for g in guids]))
    ok(api.put("/api/atlas/admin/purge", json=guids))
    return of(api, "PURGE")[-1], guids


def _refused(status: int, code: str, message: str, call: Callable[..., Any], *args: Any) -> None:
    with pytest.raises(AtlasError) as refused:
        call(*args)
    assert (refused.value.http_status, refused.value.code.code, refused.value.message) == (status, code, message)


def test_audit_details_of_a_purge_are_the_purged_entities(api: TestClient, store: EmbeddedStore) -> None:
    """AdminResource.getAuditDetails: the entry's result split at commas, each guid's latest ENTITY_PURGE event's
    entity header, ``limit`` (10) of them from ``offset`` (0)."""
    entry, guids = _purged(api, "p_one", "p_two", "p_three")
    order = entry["result"].split(",")
    assert sorted(order) == sorted(guids)
    conn = store.db.reader()
    headers = admin_audit.details(conn, entry["guid"], 10, 0)
    assert [h["guid"] for h in headers] == order
    by_guid = {h["guid"]: h for h in headers}
    assert {by_guid[g]["attributes"]["qualifiedName"] for g in guids} == {f"p_{n}@test" for n in ("one", "two",
                                                                                                  "three")}
    assert all(h["typeName"] == "DataSet" and h["status"] == "DELETED" and h["isIncomplete"] is False
               for h in headers)
    assert [h["guid"] for h in admin_audit.details(conn, entry["guid"], 2, 1)] == order[1:]
    assert [h["guid"] for h in admin_audit.details(conn, entry["guid"], 1, 2)] == order[2:]
    assert admin_audit.details(conn, entry["guid"], 10, 3) == admin_audit.details(conn, entry["guid"], 10, 9) == []
    assert admin_audit.details(conn, entry["guid"], 0, 0) == []


def test_audit_details_of_other_entries(api: TestClient, store: EmbeddedStore) -> None:
    """An entry without a result has none; one whose operation is no entity audit action (a typedef change) is
    Atlas's 500 from AuditOperation.toEntityAuditActionV2; an unknown guid is INSTANCE_GUID_NOT_FOUND."""
    conn = store.db.reader()
    admin_audit.server_started(store, 1_650_000_000_000)
    start = of(api, "SERVER_START")[-1]
    assert admin_audit.details(conn, start["guid"], 10, 0) == []
    ok(api.post("/api/atlas/v2/types/typedefs", json={"classificationDefs": [{"name": "DetailedTag"}]}))
    created = of(api, "TYPE_DEF_CREATE")[-1]
    _refused(500, "ATLAS-500-00-001", "Invalid operation for Entity Audit Event V2: TYPE_DEF_CREATE",
             admin_audit.details, conn, created["guid"], 10, 0)
    _refused(404, "ATLAS-404-00-005", "Given instance guid no-such-entry is invalid/not found",
             admin_audit.details, conn, "no-such-entry", 10, 0)
    _refused(400, "ATLAS-400-00-01A", "invalid parameters: offset=-1 must not be negative",
             admin_audit.details, conn, start["guid"], 10, -1)


def test_purge_summary_and_batches_need_a_batched_purge(api: TestClient, store: EmbeddedStore) -> None:
    """AdminResource.loadPurgeAuditEntry: only SUMMARY and BATCH entries (Atlas's batched purge) have them; the
    store writes one SINGLE entry per purge, refused as Atlas refuses one."""
    entry, _ = _purged(api, "s_one")
    conn = store.db.reader()
    for read in (admin_audit.purge_summary, admin_audit.purge_batches):
        _refused(400, "ATLAS-400-00-01A", f"invalid parameters: Not a purge audit entry: {entry['guid']}",
                 read, conn, entry["guid"])
        _refused(404, "ATLAS-404-00-005", "Given instance guid no-such-entry is invalid/not found",
                 read, conn, "no-such-entry")


def test_audit_entry_routes(api: TestClient) -> None:
    entry, _ = _purged(api, "r_one", "r_two")
    url = f"/api/atlas/admin/audit/{entry['guid']}"
    assert [h["guid"] for h in ok(api.get(f"{url}/details", params={"limit": 1, "offset": 1}))] == [
        entry["result"].split(",")[1]]
    assert len(ok(api.get(f"{url}/details"))) == 2
    error(api.get(f"{url}/details", params={"limit": "many"}), 400, "ATLAS-400-00-01A")
    error(api.get(f"{url}/summary"), 400, "ATLAS-400-00-01A")
    error(api.get(f"{url}/batches"), 400, "ATLAS-400-00-01A")
    error(api.get("/api/atlas/admin/audit/no-such-entry/details"), 404, "ATLAS-404-00-005")
