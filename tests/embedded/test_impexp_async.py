"""Atlas's async import (``catalog.embedded.impexp_async``): ``POST admin/async/import``,
``GET admin/async/import/status[/{importId}]`` and ``DELETE admin/async/import/{importId}``, served by the registered
app. Expected answers: Atlas's ``AdminResource``, ``ImportService``, ``AsyncImportService``,
``AsyncImportTaskExecutor`` and ``ImportTaskListenerImpl``.

The requests whose progress a test watches carry Atlas's own test option ``asyncImportMinDurationInMs`` (honoured
with ``atlas.async.import.min.duration.override.test.automation``, here :data:`impexp_async.MIN_DURATION_OVERRIDE`),
which keeps an import PROCESSING that long.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from catalog.embedded import impexp_async
from catalog.embedded.app import standalone_app
from catalog.embedded.store import EmbeddedStore
from typedefs import load_bundled_typedefs

AUTH = ("admin", "pw")
ASYNC = "/api/atlas/admin/async/import"


@contextmanager
def served(store: EmbeddedStore) -> Iterator[TestClient]:
    with TestClient(standalone_app(store, password="pw"), base_url="http://atlas") as client:
        client.auth = AUTH
        yield client


def ok(r: Any, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json() if r.content else None


def error(r: Any, status: int, code: str) -> dict[str, Any]:
    assert (r.status_code, r.json().get("errorCode")) == (status, code), r.text
    body: dict[str, Any] = r.json()
    return body


def _entity(type_name: str, guid: str, name: str, **attrs: Any) -> dict[str, Any]:
    return {"typeName": type_name, "guid": guid, "attributes": {"qualifiedName": f"{name}@async", "name": name,
                                                                 **attrs}}


@pytest.fixture(scope="module")
def zips(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Two exports of a source store: ``a``, database db1 with tables t1 and t2; ``b``, database db2 alone."""
    store = EmbeddedStore(tmp_path_factory.mktemp("async-source"), load_bundled_typedefs())
    try:
        with served(store) as api:
            db1 = {"guid": "-1", "typeName": "hive_db"}
            body = {"entities": [_entity("hive_db", "-1", "db1", clusterName="c1"),
                                 _entity("hive_table", "-2", "db1.t1", db=db1),
                                 _entity("hive_table", "-3", "db1.t2", db=db1),
                                 _entity("hive_db", "-4", "db2", clusterName="c1")]}
            guids = ok(api.post("/api/atlas/v2/entity/bulk", json=body))["guidAssignments"]
            out: dict[str, Any] = {"guids": guids}
            for key, guid in (("a", guids["-1"]), ("b", guids["-4"])):
                r = api.post("/api/atlas/admin/export", json={"itemsToExport": [{"typeName": "hive_db",
                                                                                  "guid": guid}]})
                out[key] = ok_bytes(r)
            yield out
    finally:
        store.close()


def ok_bytes(r: Any) -> bytes:
    assert r.status_code == 200, r.text
    data: bytes = r.content
    return data


@pytest.fixture
def target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[EmbeddedStore]:
    monkeypatch.setattr(impexp_async, "MIN_DURATION_OVERRIDE", True)
    store = EmbeddedStore(tmp_path / "target", load_bundled_typedefs())
    yield store
    store.close()


def post(api: TestClient, data: bytes, **options: Any) -> Any:
    files: dict[str, Any] = {"data": ("export.zip", data, "application/zip")}
    if options:
        files["request"] = (None, json.dumps({"options": options}), "application/json")
    return api.post(ASYNC, files=files)


def status_of(api: TestClient, import_id: str) -> dict[str, Any]:
    found: dict[str, Any] = ok(api.get(f"{ASYNC}/status/{import_id}"))
    return found


def wait_until(api: TestClient, import_id: str, statuses: set[str], timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        found = status_of(api, import_id)
        if found["status"] in statuses or time.monotonic() > deadline:
            assert found["status"] in statuses, found
            return found
        time.sleep(0.02)


def md5_of_entries(data: bytes) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for info in z.infolist():
            digest.update(z.read(info))
    return digest.hexdigest()


def test_async_import_goes_waiting_processing_successful(zips: dict[str, Any], target: EmbeddedStore) -> None:
    g = zips["guids"]
    with served(target) as api:
        queued = ok(post(api, zips["a"], asyncImportMinDurationInMs="700"))
        import_id = queued["importId"]
        assert import_id == md5_of_entries(zips["a"])  # ZipSource.getMd5Hash
        assert queued["status"] == "WAITING"
        assert queued["importDetails"]["totalEntitiesCount"] == 3
        assert queued["importDetails"]["publishedEntityCount"] == 3
        assert queued["importResult"]["operationStatus"] == "FAIL"  # new AtlasImportResult(...)'s, until it ends
        assert queued["importResult"]["userName"] == "admin"
        assert queued["receivedTime"] > 0 and queued["processingStartTime"] == 0
        assert not queued["guid"].startswith("-")  # saved as a __AtlasAsyncImportRequest entity

        running = wait_until(api, import_id, {"PROCESSING"})
        assert running["processingStartTime"] >= queued["receivedTime"]
        again = ok(post(api, zips["a"]))  # the same ZIP while it runs: that request, not a new one
        assert (again["importId"], again["guid"], again["status"]) == (import_id, queued["guid"], "PROCESSING")

        done = wait_until(api, import_id, {"SUCCESSFUL"})
        details = done["importDetails"]
        assert (details["importedEntitiesCount"], details["failedEntitiesCount"]) == (3, 0)
        assert details["importProgress"] == 100.0 and details["failures"] == {}
        assert done["completedTime"] - done["receivedTime"] >= 700
        assert done["importResult"]["operationStatus"] == "SUCCESS"
        assert set(done["importResult"]["processedEntities"]) == {g["-1"], g["-2"], g["-3"]}
        assert done["importResult"]["metrics"]["entity:hive_table:created"] == 2
        for key in ("-1", "-2", "-3"):
            assert ok(api.get(f"/api/atlas/v2/entity/guid/{g[key]}"))["entity"]["status"] == "ACTIVE"
        audit = ok(api.get("/api/atlas/admin/expimp/audit", params={"operation": "IMPORT"}))
        assert len(audit) == 1 and json.loads(audit[0]["resultSummary"])["operationStatus"] == "SUCCESS"

        page = ok(api.get(f"{ASYNC}/status"))
        assert page["totalCount"] == 1 and (page["startIndex"], page["pageSize"]) == (0, 50)
        (row,) = page["list"]
        assert row["importId"] == import_id and row["status"] == "SUCCESSFUL"
        assert row["importRequestUser"] == "admin"
        assert row["importRequestReceivedTime"].endswith("Z") and "T" in row["importRequestReceivedTime"]

        error(api.delete(f"{ASYNC}/{import_id}"), 500, "ATLAS-500-00-022")  # not WAITING: it can not be aborted
        body = api.delete(f"{ASYNC}/{import_id}").json()
        assert body["errorCause"] == f"Import id {import_id} is currently in state SUCCESSFUL, cannot be aborted"


def test_a_waiting_request_can_be_aborted(zips: dict[str, Any], target: EmbeddedStore) -> None:
    g = zips["guids"]
    with served(target) as api:
        first = ok(post(api, zips["a"], asyncImportMinDurationInMs="1500"))["importId"]
        second = ok(post(api, zips["b"]))["importId"]
        wait_until(api, first, {"PROCESSING"})
        assert status_of(api, second)["status"] == "WAITING"  # one import at a time
        assert ok(api.delete(f"{ASYNC}/{second}"), 204) is None
        assert status_of(api, second)["status"] == "ABORTED"
        wait_until(api, first, {"SUCCESSFUL"})
        time.sleep(0.2)  # the worker has moved past the aborted request
        assert status_of(api, second)["status"] == "ABORTED"
        error(api.get(f"/api/atlas/v2/entity/guid/{g['-4']}"), 404, "ATLAS-404-00-005")  # db2 never imported
        page = ok(api.get(f"{ASYNC}/status", params={"offset": 1, "limit": 1}))
        assert [r["importId"] for r in page["list"]] == [second] and page["totalCount"] == 2
        # an ended request is registered anew when its ZIP comes again
        assert ok(post(api, zips["b"]))["status"] == "WAITING"
        wait_until(api, second, {"SUCCESSFUL"})
        assert ok(api.get(f"/api/atlas/v2/entity/guid/{g['-4']}"))["entity"]["status"] == "ACTIVE"


def test_unknown_import_id(target: EmbeddedStore) -> None:
    with served(target) as api:
        body = error(api.get(f"{ASYNC}/status/nope"), 404, "ATLAS-404-00-017")
        assert body["errorMessage"] == "Import id nope is not found"
        body = error(api.delete(f"{ASYNC}/nope"), 500, "ATLAS-500-00-022")  # abortImport's 404, wrapped
        assert body["errorCause"] == "Import id nope is not found"
        assert ok(api.get(f"{ASYNC}/status")) == {"list": [], "startIndex": 0, "pageSize": 50, "totalCount": 0,
                                                  "sortType": "NONE"}


def _zip(entries: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, value in entries.items():
            z.writestr(name, value if isinstance(value, bytes) else json.dumps(value))
    return buf.getvalue()


def test_bad_uploads_are_refused(target: EmbeddedStore) -> None:
    with served(target) as api:
        error(post(api, b"not a zip"), 400, "ATLAS-400-00-029")
        error(api.post(ASYNC, files={"request": (None, "{}", "application/json")}), 400, "ATLAS-400-00-029")
        error(post(api, _zip({"atlas-export-order.json": ["g1"], "atlas-typesdef.json": {},
                              "atlas-export-info.json": {}})), 400, "ATLAS-400-00-09F")
        error(post(api, _zip({"x.json": {}}), transforms="{}"), 400, "ATLAS-400-00-01A")
        error(api.get(f"{ASYNC}/status", params={"offset": -1}), 400, "ATLAS-400-00-01A")
        empty = ok(post(api, _zip({})))  # AdminResource.importAsync: new AtlasAsyncImportRequest()
        assert empty["guid"].startswith("-") and "importId" not in empty and empty["receivedTime"] == 0
        assert ok(api.get(f"{ASYNC}/status"))["totalCount"] == 0  # nothing was queued


def test_failed_entities_make_a_partial_success(zips: dict[str, Any], target: EmbeddedStore) -> None:
    """ImportService.onImportEntity: an entity that fails is listed and the others go on."""
    data = zips["a"]
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        entries = {i.filename: z.read(i) for i in z.infolist()}
    order = json.loads(entries["atlas-export-order.json"])
    broken = json.loads(entries[order[-1] + ".json"])
    broken["entity"]["attributes"]["createTime"] = "not a date"
    entries[order[-1] + ".json"] = json.dumps(broken).encode()
    with served(target) as api:
        import_id = ok(post(api, _zip(entries)))["importId"]
        done = wait_until(api, import_id, {"PARTIAL_SUCCESS", "SUCCESSFUL", "FAILED"})
        assert done["status"] == "PARTIAL_SUCCESS", done
        details = done["importDetails"]
        assert (details["importedEntitiesCount"], details["failedEntitiesCount"]) == (len(order) - 1, 1)
        assert details["failedEntities"] == [order[-1]] and list(details["failures"]) == [order[-1]]
        assert done["importResult"]["operationStatus"] == "PARTIAL_SUCCESS"


def test_requests_outlive_a_restart(zips: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A request still PROCESSING or WAITING when the store closes is imported once it opens again
    (ImportTaskListenerImpl.populateRequestQueue); an ended one keeps its status."""
    monkeypatch.setattr(impexp_async, "MIN_DURATION_OVERRIDE", True)
    g = zips["guids"]
    store = EmbeddedStore(tmp_path / "target", load_bundled_typedefs())
    try:
        with served(store) as api:
            first = ok(post(api, zips["a"], asyncImportMinDurationInMs="60000"))["importId"]
            second = ok(post(api, zips["b"]))["importId"]
            wait_until(api, first, {"PROCESSING"})
    finally:
        store.close()  # stops the worker inside the first import's wait
    assert not (tmp_path / "target" / "async-import" / f"{first}.zip.part").exists()
    monkeypatch.setattr(impexp_async, "MIN_DURATION_OVERRIDE", False)
    store = EmbeddedStore(tmp_path / "target", load_bundled_typedefs())
    try:
        with served(store) as api:
            assert [r["importId"] for r in ok(api.get(f"{ASYNC}/status"))["list"]] == [first, second]
            wait_until(api, first, {"SUCCESSFUL"})
            wait_until(api, second, {"SUCCESSFUL"})
            for key in ("-1", "-2", "-3", "-4"):
                assert ok(api.get(f"/api/atlas/v2/entity/guid/{g[key]}"))["entity"]["status"] == "ACTIVE"
            assert not list((tmp_path / "target" / "async-import").iterdir())  # the queued ZIPs are gone
    finally:
        store.close()
