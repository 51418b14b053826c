"""Atlas's export/import API (``catalog.embedded.impexp_*``): ``admin/export``, ``admin/import``,
``admin/importfile``, ``admin/server/{name}``, ``admin/expimp/audit``.

Expected answers: Atlas's ``AdminResource``, ``ExportService``, ``ImportService``, ``ZipSink``/``ZipSource`` and
``AuditsWriter``.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from catalog.embedded.impexp_model import exclusive
from catalog.embedded.impexp_routes import import_directory
from catalog.embedded.store import EmbeddedStore
from tests.embedded.conftest import in_process_api
from typedefs import load_bundled_typedefs

PII = {"classificationDefs": [{"name": "ImpexpPII", "attributeDefs": [
    {"name": "level", "typeName": "int", "isOptional": True, "cardinality": "SINGLE"}]}]}


served = contextmanager(in_process_api)


def ok(r: Any, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json() if r.content and r.headers.get("content-type") == "application/json" else r.content


def error(r: Any, status: int, code: str) -> None:
    assert (r.status_code, r.json().get("errorCode")) == (status, code), r.text


def qn(name: str) -> str:
    return f"{name}@impexp"


def _entity(type_name: str, guid: str, name: str, **attrs: Any) -> dict[str, Any]:
    return {"typeName": type_name, "guid": guid, "attributes": {"qualifiedName": qn(name), "name": name, **attrs}}


def _process(guid: str, name: str, inputs: list[str], outputs: list[str]) -> dict[str, Any]:
    e = _entity("hive_process", guid, name, startTime=1, endTime=2, userName="u", operationType="CTAS",
                queryText="q", queryPlan="p", queryId=name)
    e["attributes"]["inputs"] = [{"guid": g, "typeName": "hive_table"} for g in inputs]
    e["attributes"]["outputs"] = [{"guid": g, "typeName": "hive_table"} for g in outputs]
    return e


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmbeddedStore, TestClient, dict[str, str]]]:
    """db with tables t1 (two columns, classified), t2 and t3; process p reads t1 and writes t2."""
    store = EmbeddedStore(tmp_path_factory.mktemp("impexp-source"), load_bundled_typedefs())
    with served(store) as api:
        ok(api.post("/api/atlas/v2/types/typedefs", json=PII))
        t1 = _entity("hive_table", "-2", "db.t1", db={"guid": "-1", "typeName": "hive_db"},
                     columns=[{"guid": "-21", "typeName": "hive_column"}, {"guid": "-22", "typeName": "hive_column"}])
        t1["classifications"] = [{"typeName": "ImpexpPII", "attributes": {"level": 3}}]
        body = {"entities": [
            _entity("hive_db", "-1", "db", clusterName="c1"), t1,
            _entity("hive_column", "-21", "db.t1.a", type="int", table={"guid": "-2", "typeName": "hive_table"}),
            _entity("hive_column", "-22", "db.t1.b", type="string", table={"guid": "-2", "typeName": "hive_table"}),
            _entity("hive_table", "-3", "db.t2", db={"guid": "-1", "typeName": "hive_db"}),
            _entity("hive_table", "-4", "db.t3", db={"guid": "-1", "typeName": "hive_db"}),
            _process("-5", "p", ["-2"], ["-3"]),
        ]}
        assigned = ok(api.post("/api/atlas/v2/entity/bulk", json=body))["guidAssignments"]
        names = {"-1": "db", "-2": "t1", "-21": "c1", "-22": "c2", "-3": "t2", "-4": "t3", "-5": "p"}
        yield store, api, {names[k]: v for k, v in assigned.items()}
    store.close()


def export(api: TestClient, items: list[dict[str, Any]], **options: Any) -> zipfile.ZipFile:
    r = api.post("/api/atlas/admin/export", json={"itemsToExport": items, "options": options})
    assert r.status_code == 200, r.text
    return zipfile.ZipFile(io.BytesIO(r.content))


def read(z: zipfile.ZipFile, name: str) -> Any:
    return json.loads(z.read(name + ".json"))


def by_qn(type_name: str, name: str) -> dict[str, Any]:
    return {"typeName": type_name, "uniqueAttributes": {"qualifiedName": qn(name)}}


def test_full_export_writes_atlas_zip(source: tuple[EmbeddedStore, TestClient, dict[str, str]]) -> None:
    _, api, g = source
    z = export(api, [by_qn("hive_table", "db.t1")], fetchType="FULL")
    order = read(z, "atlas-export-order")
    # t1 first, then what it relates to; the process (lineage) only after the entities around it
    assert order[0] == g["t1"]
    assert set(order) == {g["t1"], g["db"], g["t2"], g["t3"], g["p"]}
    assert order.index(g["p"]) > order.index(g["db"])
    assert {n.removesuffix(".json") for n in z.namelist()} == \
        {*order, "atlas-export-order", "atlas-typesdef", "atlas-export-info"}
    t1 = read(z, g["t1"])
    assert t1["entity"]["attributes"]["qualifiedName"] == qn("db.t1")
    assert set(t1["referredEntities"]) == {g["c1"], g["c2"]}  # owned columns travel with their table
    assert [c["typeName"] for c in t1["entity"]["classifications"]] == ["ImpexpPII"]
    info = read(z, "atlas-export-info")
    assert info["operationStatus"] == "SUCCESS"
    assert info["userName"] == "admin"
    assert info["request"]["itemsToExport"] == [by_qn("hive_table", "db.t1")]
    assert info["request"]["fetchTypeOptionValue"] == "FULL"
    assert info["metrics"]["entity:hive_table"] == 3
    assert info["metrics"]["entity:hive_column"] == 2
    assert info["metrics"]["entity:withExtInfo"] == 5
    types = read(z, "atlas-typesdef")
    entity_types = {d["name"] for d in types["entityDefs"]}
    assert {"hive_table", "hive_db", "hive_column", "hive_process", "DataSet", "Process", "Referenceable"} \
        <= entity_types
    assert [d["name"] for d in types["classificationDefs"]] == ["ImpexpPII"]
    assert {"hive_table_db", "hive_table_columns"} <= {d["name"] for d in types["relationshipDefs"]}


def test_skip_lineage_leaves_processes_out(source: tuple[EmbeddedStore, TestClient, dict[str, str]]) -> None:
    _, api, g = source
    order = read(export(api, [by_qn("hive_table", "db.t1")], skipLineage=True), "atlas-export-order")
    assert g["p"] not in order
    assert set(order) == {g["t1"], g["db"], g["t2"], g["t3"]}


def test_connected_export_follows_one_direction(source: tuple[EmbeddedStore, TestClient, dict[str, str]]) -> None:
    _, api, g = source
    connected = read(export(api, [by_qn("hive_table", "db.t1")], fetchType="connected"), "atlas-export-order")
    # t1 -> db outward; db's other tables are inward of db, so t3 stays out; t2 comes in as the process's output
    assert set(connected) == {g["t1"], g["db"], g["p"], g["t2"]}
    by_guid = read(export(api, [{"typeName": "hive_db", "guid": g["db"]}], fetchType="connected"),
                   "atlas-export-order")
    assert by_guid[0] == g["db"]


def test_match_types_pick_the_starting_entities(source: tuple[EmbeddedStore, TestClient, dict[str, str]]) -> None:
    _, api, g = source
    z = export(api, [{"typeName": "hive_table", "uniqueAttributes": {"qualifiedName": "db.t"}}],
               matchType="startsWith", skipLineage=True, fetchType="connected")
    assert {g["t1"], g["t2"], g["t3"]} <= set(read(z, "atlas-export-order"))
    z = export(api, [{"typeName": "hive_db"}], matchType="forType")
    assert read(z, "atlas-export-order")[0] == g["db"]


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"itemsToExport": [{"typeName": "no_such_type", "uniqueAttributes": {"qualifiedName": "x"}}]}, 400,
     "ATLAS-400-00-00A"),
    ({"itemsToExport": [{"typeName": "hive_table", "uniqueAttributes": {"qualifiedName": "nope"}}]}, 404,
     "ATLAS-404-00-009"),
    ({"itemsToExport": [{"typeName": "hive_table", "guid": "00000000-0000-0000-0000-000000000000"}]}, 404,
     "ATLAS-404-00-005"),
    ({"itemsToExport": [by_qn("hive_table", "db.t1")], "options": {"fetchType": "incremental"}}, 400,
     "ATLAS-400-00-01A"),
    ({"itemsToExport": []}, 400, "ATLAS-400-00-01A"),
    ({"itemsToExport": [{"uniqueAttributes": {}}]}, 400, "ATLAS-400-00-01A"),
    ([1, 2], 400, "ATLAS-400-00-029"),
])
def test_export_refuses_bad_requests(source: tuple[EmbeddedStore, TestClient, dict[str, str]], body: Any,
                                     status: int, code: str) -> None:
    _, api, _ = source
    error(api.post("/api/atlas/admin/export", json=body), status, code)


def test_partially_found_export_is_partial_success(source: tuple[EmbeddedStore, TestClient, dict[str, str]]) -> None:
    _, api, g = source
    z = export(api, [by_qn("hive_table", "db.t2"), by_qn("hive_table", "missing")], skipLineage=True)
    assert read(z, "atlas-export-info")["operationStatus"] == "PARTIAL_SUCCESS"
    assert g["t2"] in read(z, "atlas-export-order")


def _upload(api: TestClient, data: bytes, request: dict[str, Any] | None = None) -> Any:
    files: dict[str, Any] = {"data": ("export.zip", data, "application/octet-stream")}
    if request is not None:
        files["request"] = (None, json.dumps(request), "application/json")
    return api.post("/api/atlas/admin/import", files=files)


def _comparable(entity: dict[str, Any]) -> dict[str, Any]:
    rels = {}
    for name, value in (entity.get("relationshipAttributes") or {}).items():
        values = value if isinstance(value, list) else [value] if value else []
        rels[name] = sorted((v["guid"], v["relationshipType"], v["relationshipStatus"]) for v in values)
    return {"guid": entity["guid"], "typeName": entity["typeName"], "attributes": entity["attributes"],
            "status": entity["status"], "createdBy": entity["createdBy"], "createTime": entity["createTime"],
            "classifications": sorted((c["typeName"], json.dumps(c.get("attributes"))) for c in
                                      entity.get("classifications") or []),
            "relationshipAttributes": rels, "labels": entity["labels"]}


def test_round_trip_into_a_fresh_store(source: tuple[EmbeddedStore, TestClient, dict[str, str]],
                                       tmp_path: Path) -> None:
    src, api, g = source
    r = api.post("/api/atlas/admin/export", json={"itemsToExport": [{"typeName": "hive_db", "guid": g["db"]}]})
    data = ok(r)
    target = EmbeddedStore(tmp_path / "target", load_bundled_typedefs())
    try:
        with served(target) as tapi:
            result = ok(_upload(tapi, data))
            assert result["operationStatus"] == "SUCCESS"
            assert set(result["processedEntities"]) == set(g.values())  # columns (referred entities) included
            assert result["metrics"]["entity:hive_table:created"] == 3
            assert result["metrics"]["entity:hive_column:created"] == 2
            assert result["metrics"]["typedef:classification"] == 1  # ImpexpPII did not exist there
            assert result["exportResult"]["operationStatus"] == "SUCCESS"
            assert result["request"] == {"options": {}, "sizeOption": 1}
            for name, guid in g.items():
                want = _comparable(src.get_by_guid(guid)["entity"])
                got = _comparable(target.get_by_guid(guid)["entity"])
                assert got == want, name
            assert ok(tapi.get("/api/atlas/v2/types/classificationdef/name/ImpexpPII"))["name"] == "ImpexpPII"
            again = ok(_upload(tapi, data))  # nothing changed: nothing created or updated
            assert again["processedEntities"] == []
            assert not any(k.startswith("entity:") for k in again["metrics"])
            audit = ok(tapi.get("/api/atlas/admin/expimp/audit", params={"operation": "IMPORT"}))
            assert len(audit) == 2  # one per import whose ZIP had entities, as AuditsWriter.ImportAudits.add
            assert audit[0]["sourceServerName"] == "" and audit[0]["targetServerName"] == "default"
            assert json.loads(audit[0]["resultSummary"])["operationStatus"] == "SUCCESS"
            assert ok(tapi.get("/api/atlas/admin/server/default"))["fullName"] == "default"
            admin = ok(tapi.post("/api/atlas/admin/audits", json={"auditFilters": {
                "attributeName": "operation", "operator": "eq", "attributeValue": "IMPORT"}}))
            assert [a["resultCount"] for a in admin] == [1, 1]  # the one item the export was asked for
    finally:
        target.close()


def test_import_with_update_types_false_skips_missing_types(
        source: tuple[EmbeddedStore, TestClient, dict[str, str]], tmp_path: Path) -> None:
    _, api, g = source
    data = ok(api.post("/api/atlas/admin/export", json={"itemsToExport": [{"typeName": "hive_table",
                                                                             "guid": g["t1"]}]}))
    target = EmbeddedStore(tmp_path / "target", load_bundled_typedefs())
    try:
        with served(target) as tapi:
            r = _upload(tapi, data, {"options": {"updateTypeDefinition": "false"}})
            assert r.status_code == 404, r.text  # t1's classification type is not there
            assert target.search({"typeName": "hive_table", "limit": 10, "offset": 0}).get("entities") is None
    finally:
        target.close()


def _zip(entries: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, value in entries.items():
            z.writestr(name, value if isinstance(value, bytes) else json.dumps(value))
    return buf.getvalue()


def test_import_refuses_bad_zips(source: tuple[EmbeddedStore, TestClient, dict[str, str]]) -> None:
    _, api, _ = source
    empty = ok(_upload(api, _zip({})))
    assert (empty["operationStatus"], empty["processedEntities"]) == ("FAIL", [])  # AdminResource.importData
    error(_upload(api, b"not a zip"), 400, "ATLAS-400-00-029")
    error(_upload(api, _zip({"atlas-export-order.json": ["g1"], "atlas-typesdef.json": {},
                             "atlas-export-info.json": {}})), 400, "ATLAS-400-00-09F")
    error(_upload(api, _zip({"atlas-export-order.json": ["g1"], "atlas-typesdef.json": {},
                             "atlas-export-info.json": {}, "g1.json": b"{"})), 400, "ATLAS-400-00-09F")
    error(_upload(api, _zip({})[:0] + b"x", {"options": {"transforms": "{}"}}), 400, "ATLAS-400-00-01A")
    error(api.post("/api/atlas/admin/import", content=b"{}"), 400, "ATLAS-400-00-029")


def test_importfile_reads_only_the_import_directory(source: tuple[EmbeddedStore, TestClient, dict[str, str]],
                                                    tmp_path: Path) -> None:
    store, api, g = source
    data = ok(api.post("/api/atlas/admin/export", json={"itemsToExport": [{"typeName": "hive_table",
                                                                             "guid": g["t3"]}],
                                                        "options": {"skipLineage": True}}))
    outside = tmp_path / "export.zip"
    outside.write_bytes(data)
    error(api.post("/api/atlas/admin/importfile", json={"options": {"fileName": str(outside)}}), 403,
          "ATLAS-403-00-001")
    error(api.post("/api/atlas/admin/importfile", json={"options": {"fileName": "../../etc/passwd"}}), 403,
          "ATLAS-403-00-001")
    error(api.post("/api/atlas/admin/importfile", json={"options": {}}), 400, "ATLAS-400-00-01A")
    error(api.post("/api/atlas/admin/importfile", json={"options": {"fileName": "absent.zip"}}), 400,
          "ATLAS-400-00-01A")
    directory = import_directory(store)
    directory.mkdir(exist_ok=True)
    (directory / "t3.zip").write_bytes(data)
    result = ok(api.post("/api/atlas/admin/importfile", json={"options": {"fileName": "t3.zip"}}))
    assert result["operationStatus"] == "SUCCESS"
    assert result["processedEntities"] == []  # the same store: t3 is there, unchanged


def test_export_records_servers_and_audits(source: tuple[EmbeddedStore, TestClient, dict[str, str]]) -> None:
    _, api, g = source
    export(api, [by_qn("hive_table", "db.t3")], skipLineage=True, replicatedTo="dc1$backup")
    server = ok(api.get("/api/atlas/admin/server/dc1$backup"))
    assert (server["name"], server["fullName"], server["displayName"]) == ("backup", "dc1$backup", "backup")
    assert g["t3"] in json.loads(server["additionalInfo"]["REPL_DETAILS"])
    assert ok(api.get("/api/atlas/admin/server/default"))["name"] == "default"
    error(api.get("/api/atlas/admin/server/nowhere"), 404, "ATLAS-404-00-009")
    entries = ok(api.get("/api/atlas/admin/expimp/audit", params={"serverName": "backup"}))
    assert [e["operation"] for e in entries] == ["EXPORT"]
    assert (entries[0]["sourceServerName"], entries[0]["targetServerName"]) == ("default", "backup")
    summary = json.loads(entries[0]["resultSummary"])
    assert summary["request"]["options"]["replicatedTo"] == "dc1$backup"
    all_exports = ok(api.get("/api/atlas/admin/expimp/audit", params={"operation": "EXPORT", "limit": 1}))
    assert len(all_exports) == 1
    assert ok(api.get("/api/atlas/admin/expimp/audit", params={"userName": "someone-else"})) == []


def test_an_upload_cut_short_is_refused_whole(source: tuple[EmbeddedStore, TestClient, dict[str, str]],
                                             tmp_path: Path) -> None:
    """The multipart body is read by form_data.form_parts: a body that ends before its closing boundary (a dropped
    upload) imports nothing, though its parts so far hold a whole ZIP."""
    _, api, g = source
    data = ok(api.post("/api/atlas/admin/export", json={"itemsToExport": [{"typeName": "hive_table",
                                                                             "guid": g["t3"]}]}))
    whole = httpx.Request("POST", "http://atlas/", files={"data": ("export.zip", data, "application/zip")}).read()
    boundary = whole[2:whole.index(b"\r\n")].decode()
    cut = whole[:whole.rindex(b"\r\n--" + boundary.encode())]
    target = EmbeddedStore(tmp_path / "target", load_bundled_typedefs())
    try:
        with served(target) as tapi:
            r = tapi.post("/api/atlas/admin/import", content=cut,
                          headers={"content-type": f"multipart/form-data; boundary={boundary}"})
            error(r, 400, "ATLAS-400-00-029")
            assert "ends before its closing boundary" in r.json()["errorMessage"]
            error(tapi.get(f"/api/atlas/v2/entity/guid/{g['t3']}"), 404, "ATLAS-404-00-005")
            error(tapi.post("/api/atlas/admin/import", files={"request": (None, "{}", "application/json")}),
                  400, "ATLAS-400-00-029")  # no 'data' part
            assert ok(tapi.get("/api/atlas/admin/expimp/audit", params={"operation": "IMPORT"})) == []
    finally:
        target.close()


def test_a_second_export_or_import_while_one_runs_is_409(
        source: tuple[EmbeddedStore, TestClient, dict[str, str]]) -> None:
    """AdminResource.acquireExportImportLock: FAILED_TO_OBTAIN_IMPORT_EXPORT_LOCK, whose code says 500 but whose
    HTTP status is 409."""
    _, api, g = source
    with exclusive(True):
        r = api.post("/api/atlas/admin/export", json={"itemsToExport": [{"typeName": "hive_table", "guid": g["t3"]}]})
        error(r, 409, "ATLAS-500-00-006")
        assert r.json()["errorMessage"] == "Another import or export is in progress. Please try again"
        error(_upload(api, _zip({})), 409, "ATLAS-500-00-006")
    assert export(api, [{"typeName": "hive_table", "guid": g["t3"]}]).namelist()  # the lock is free again


def test_registered_app_serves_export(source: tuple[EmbeddedStore, TestClient, dict[str, str]]) -> None:
    store, _, _ = source
    with served(store) as client:
        r = client.post("/api/atlas/admin/export",
                        json={"itemsToExport": [by_qn("hive_table", "db.t2")], "options": {"skipLineage": True}})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    assert "atlas-export-info.json" in zipfile.ZipFile(io.BytesIO(r.content)).namelist()
