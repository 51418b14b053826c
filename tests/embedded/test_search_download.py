"""Downloads of search results (``v2/search/{basic,dsl}/download/create_file``, ``download/status``,
``download/{filename}``: ``catalog.embedded.search_download`` over ``catalog.embedded.downloads``).

Expected answers: Atlas's DiscoveryREST with SearchResultDownloadTask: create_file answers 204 at once and the CSV
appears later in the caller's download list; its rows are the search's own results (checked against the same
search run through ``search/basic`` / ``search/dsl``); a user sees and fetches only their own files; bad input is a
4xx in Atlas's error shape.
"""

from __future__ import annotations

import csv
import io
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from catalog.embedded import downloads
from catalog.embedded.errors import AtlasError
from catalog.embedded.routes import AtlasApi, Reply
from catalog.embedded.search_download import csv_of
from catalog.embedded.store import EmbeddedStore
from tests.embedded.conftest import embedded_store, in_process_api, ok, settled

V2 = "/api/atlas/v2"
TYPES = {
    "classificationDefs": [{"name": "dl_pii", "attributeDefs": []}],
    "entityDefs": [{"name": "dl_table", "superTypes": ["DataSet"], "attributeDefs": [
        {"name": "tier", "typeName": "string", "isOptional": True, "cardinality": "SINGLE"}]}],
}
TABLES = [("orders", "gold", "ann", 'sales "orders", daily'), ("users", "silver", "bob", "people"),
          ("events", "gold", "cid", None)]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStore]:
    yield from embedded_store(tmp_path_factory.mktemp("search-download"))


@pytest.fixture(scope="module")
def api(store: EmbeddedStore) -> Iterator[TestClient]:
    for client in in_process_api(store):
        ok(client.post(V2 + "/types/typedefs", json=TYPES))
        entities = [{"typeName": "dl_table", "attributes": {
            "qualifiedName": f"{name}@dl", "name": name, "tier": tier, "owner": owner, "description": description}}
            for name, tier, owner, description in TABLES]
        created = ok(client.post(V2 + "/entity/bulk", json={"entities": entities}))
        orders = next(h["guid"] for h in created["mutatedEntities"]["CREATE"] if h["attributes"]["name"] == "orders")
        ok(client.post(f"{V2}/entity/guid/{orders}/classifications", json=[{"typeName": "dl_pii"}]), 204)
        yield client


def as_user(store: EmbeddedStore, user: str, method: str, path: str, body: Any = None) -> Reply:
    """A call made by ``user`` (the HTTP app has one user; the dispatch behind it takes any)."""
    return AtlasApi(store).dispatch(method, "/v2" + path, b"", b"" if body is None else orjson.dumps(body), user)



def files(api: TestClient) -> set[str]:
    return {r["fileName"] for r in settled(lambda: ok(api.get(V2 + "/search/download/status")))}


def create_and_fetch(api: TestClient, kind: str, body: dict[str, Any]) -> tuple[str, list[list[str]]]:
    """Queue a download, wait for its file and read it: (file name, CSV rows)."""
    before = files(api)
    assert ok(api.post(f"{V2}/search/{kind}/download/create_file", json=body), 204) is None
    (name,) = files(api) - before
    r = api.get(f"{V2}/search/download/{name}")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-disposition"] == f'attachment; filename="{name}"'
    return name, list(csv.reader(io.StringIO(r.content.decode("utf-8"))))


def expected_rows(entities: list[dict[str, Any]], columns: list[str]) -> list[list[str]]:
    return [[e["typeName"], e["displayText"], ",".join(e["classificationNames"]), ",".join(e["meaningNames"]),
             *(str(e["attributes"].get(c) or "") for c in columns)] for e in entities]


# -- the files ------------------------------------------------------------------------------------------------
def test_a_basic_search_download_holds_the_search_results(api: TestClient) -> None:
    params = {"typeName": "dl_table", "attributes": ["tier"], "sortBy": "name", "limit": 1, "offset": 0}
    name, rows = create_and_fetch(api, "basic", {"searchParameters": params, "attributeLabelMap": {"Tier": "tier"}})
    assert name.startswith("admin_BASIC_") and name.endswith(".csv")
    assert rows[0] == ["Type name", "Name", "Classifications", "Terms", "Tier", "Owner", "Description"]
    # the whole result, not the page the UI showed (the task searches up to atlas.search.maxlimit)
    found = ok(api.post(V2 + "/search/basic", json={**params, "limit": 100}))["entities"]
    assert len(found) == len(TABLES)
    assert rows[1:] == expected_rows(found, ["tier", "owner", "description"])
    assert ["dl_table", "orders", "dl_pii", "", "gold", "ann", 'sales "orders", daily'] in rows


def test_a_dsl_download_holds_the_dsl_results(api: TestClient) -> None:
    query = "where tier = 'gold'"
    _, rows = create_and_fetch(api, "dsl", {"searchParameters": {"query": query, "typeName": "dl_table",
                                                                 "limit": 1, "offset": 0}})
    found = ok(api.get(V2 + "/search/dsl", params={"query": query, "typeName": "dl_table"}))["entities"]
    assert rows[0] == ["Type name", "Name", "Classifications", "Terms", "Owner", "Description"]
    assert sorted(rows[1:]) == sorted(expected_rows(found, ["owner", "description"]))
    assert {r[1] for r in rows[1:]} == {"orders", "events"}


def test_a_dsl_select_download_holds_the_selected_columns(api: TestClient) -> None:
    query = "dl_table select name, tier orderby name"
    _, rows = create_and_fetch(api, "dsl", {"searchParameters": {"query": query}})
    selected = ok(api.get(V2 + "/search/dsl", params={"query": query}))["attributes"]
    assert rows == [selected["name"], *selected["values"]]
    assert rows[1:] == sorted([name, tier] for name, tier, _, _ in TABLES)


def test_a_search_that_finds_nothing_writes_no_file(api: TestClient) -> None:
    before = files(api)
    body = {"searchParameters": {"typeName": "dl_table", "query": "no-such-table-anywhere"}}
    assert ok(api.post(V2 + "/search/basic/download/create_file", json=body), 204) is None
    assert files(api) == before


def test_the_status_lists_the_callers_files(api: TestClient) -> None:
    create_and_fetch(api, "basic", {"searchParameters": {"typeName": "dl_table"}})
    records = settled(lambda: ok(api.get(V2 + "/search/download/status")))
    assert records and all(set(r) == {"status", "fileName", "createdBy", "createdTime"} for r in records)
    assert {(r["status"], r["createdBy"]) for r in records} == {("COMPLETE", "admin")}
    assert all(isinstance(r["createdTime"], int) and r["createdTime"] > 1_600_000_000_000 for r in records)


# -- owners ---------------------------------------------------------------------------------------------------
def test_a_user_sees_and_fetches_only_their_own_files(api: TestClient, store: EmbeddedStore) -> None:
    admin_file, _ = create_and_fetch(api, "basic", {"searchParameters": {"typeName": "dl_table"}})
    assert as_user(store, "bob", "GET", f"/search/download/{admin_file}").status == 204
    created = as_user(store, "bob", "POST", "/search/basic/download/create_file",
                      {"searchParameters": {"typeName": "dl_table", "query": "users"}})
    assert created.status == 204
    bob = settled(lambda: as_user(store, "bob", "GET", "/search/download/status").content)
    assert [(r["createdBy"], r["fileName"].startswith("bob_BASIC_")) for r in bob] == [("bob", True)]
    assert bob[0]["fileName"] not in files(api)
    reply = as_user(store, "bob", "GET", f"/search/download/{bob[0]['fileName']}")
    assert reply.status == 200 and b'"users"' in reply.body()
    assert api.get(f"{V2}/search/download/{bob[0]['fileName']}").status_code == 204


def test_a_user_name_can_not_leave_the_download_directory(store: EmbeddedStore) -> None:
    reply = as_user(store, "../../evil", "POST", "/search/basic/download/create_file",
                    {"searchParameters": {"typeName": "dl_table"}})
    assert reply.status == 204
    (record,) = settled(lambda: as_user(store, "../../evil", "GET", "/search/download/status").content)
    assert "/" not in record["fileName"] and ".." not in record["fileName"]
    root = downloads.of(store).root
    assert root is not None
    made = [p for p in root.rglob("*") if p.is_file() and p.name == record["fileName"]]
    assert len(made) == 1 and made[0].parent.parent == root / "search_result_downloads"
    assert as_user(store, "../../evil", "GET", f"/search/download/{record['fileName']}").status == 200


# -- bad input ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "status"), [
    ("..%2F..%2Fatlas.db", 404),  # a slash is no file name: no route has it
    ("..admin_BASIC_x.csv", 400), ("admin_BASIC_x.txt", 400), ("notes.csv", 400), ("_BASIC_x.csv", 400),
    ("admin_BASIC_..csv", 400), ("admin_GLOSSARY_EXPORT_x.csv", 400),
])
def test_a_file_name_that_is_not_a_download_is_refused(api: TestClient, name: str, status: int) -> None:
    r = api.get(f"{V2}/search/download/{name}")
    assert r.status_code == status
    if status == 400:
        assert r.json() == {"errorCode": "ATLAS-400-00-029", "errorMessage": "Invalid download file name"}


def test_a_download_that_does_not_exist_is_no_content(api: TestClient) -> None:
    assert ok(api.get(V2 + "/search/download/admin_BASIC_2020-01-01_00-00-00.000.csv"), 204) is None


@pytest.mark.parametrize(("kind", "body", "status", "code"), [
    ("basic", None, 400, "ATLAS-400-00-029"),
    ("basic", [], 400, "ATLAS-400-00-029"),
    ("basic", {"attributeLabelMap": {}}, 400, "ATLAS-400-00-029"),
    ("basic", {"searchParameters": {}}, 400, "ATLAS-400-00-047"),
    ("basic", {"searchParameters": {"typeName": "dl_table", "limit": -1}}, 400, "ATLAS-400-00-029"),
    ("basic", {"searchParameters": {"typeName": "no_such_type"}}, 400, "ATLAS-400-00-00A"),
    ("basic", {"searchParameters": {"typeName": "dl_table"}, "attributeLabelMap": {"A": 1}}, 400,
     "ATLAS-400-00-029"),
    ("basic", {"searchParameters": {"typeName": "x" * 5000}}, 400, "ATLAS-400-00-057"),
    ("dsl", {"searchParameters": {"query": "dl_table where ((("}}, 400, "ATLAS-400-00-059"),
    ("dsl", {"searchParameters": {"query": "x" * 5000}}, 400, "ATLAS-400-00-058"),
    ("dsl", {"searchParameters": "dl_table"}, 400, "ATLAS-400-00-029"),
])
def test_bad_input_is_refused_and_queues_nothing(api: TestClient, kind: str, body: Any, status: int,
                                                 code: str) -> None:
    before = files(api)
    r = api.post(f"{V2}/search/{kind}/download/create_file", content=b"" if body is None else orjson.dumps(body),
                 headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    assert r.json()["errorCode"] == code and r.json()["errorMessage"]
    assert files(api) == before


# -- the task queue, expiry, the store's life -----------------------------------------------------------------
def test_pending_tasks_are_listed_then_limited(tmp_path: Path) -> None:
    d = downloads.Downloads(tmp_path, max_pending=1)
    release = threading.Event()

    def work() -> bytes:
        release.wait(10)
        return b"x\n"

    try:
        first = d.queue("k", "ann", "ann_BASIC_1.csv", work)
        second = d.queue("k", "ann", "ann_BASIC_1.csv", work)
        assert (first, second) == ("ann_BASIC_1.csv", "ann_BASIC_1_2.csv")  # the same instant: still two files
        with pytest.raises(AtlasError, match="There are already 2 pending tasks in queue"):
            d.queue("k", "bob", "bob_BASIC_1.csv", work)
        pending = d.status("k", "ann")["searchDownloadRecords"]
        assert [(r["status"], r["fileName"], r["createdBy"]) for r in pending] == [
            ("PENDING", first, "ann"), ("PENDING", second, "ann")]
        assert d.status("k", "bob") == {"searchDownloadRecords": []}
        release.set()
        done = settled(lambda: d.status("k", "ann"))
        assert sorted((r["status"], r["fileName"]) for r in done) == [("COMPLETE", first), ("COMPLETE", second)]
        assert d.file("k", "ann", first) == tmp_path / "k" / "ann" / first
    finally:
        release.set()
        d.close()


def test_a_failed_task_leaves_no_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    d = downloads.Downloads(tmp_path)

    def work() -> bytes:
        raise RuntimeError("search failed")

    try:
        d.queue("k", "ann", "ann_BASIC_1.csv", work)
        assert settled(lambda: d.status("k", "ann")) == []
        assert not [p for p in tmp_path.rglob("*") if p.is_file()]
        assert "search failed" in caplog.text
    finally:
        d.close()


def test_expired_files_are_removed(tmp_path: Path) -> None:
    d = downloads.Downloads(tmp_path, expiry_ms=60_000)
    try:
        directory = d.user_dir("k", "ann")
        directory.mkdir(parents=True)
        old, new = directory / "ann_BASIC_old.csv", directory / "ann_BASIC_new.csv"
        old.write_text("a\n")
        new.write_text("b\n")
        an_hour_ago = time.time() - 3600
        os.utime(old, (an_hour_ago, an_hour_ago))
        assert d.remove_expired() == 1
        assert [r["fileName"] for r in d.status("k", "ann")["searchDownloadRecords"]] == [new.name]
    finally:
        d.close()


def test_a_store_without_a_directory_downloads_into_a_temporary_one() -> None:
    d = downloads.Downloads()
    root = d.root
    assert root is not None and root.is_dir()
    d.queue("k", "ann", "ann_BASIC_1.csv", lambda: b"x\n")
    assert [r["status"] for r in settled(lambda: d.status("k", "ann"))] == ["COMPLETE"]
    d.close()
    assert not root.exists()


def test_closing_the_store_stops_its_downloads(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path)
    d = downloads.of(store)
    assert downloads.of(store) is d
    d.queue("k", "ann", "ann_BASIC_1.csv", lambda: b"x\n")
    store.close()
    with pytest.raises(AtlasError, match="closing"):
        d.queue("k", "ann", "ann_BASIC_2.csv", lambda: b"x\n")
    assert d._cleaner is not None and not d._cleaner.is_alive()


def test_the_csv_is_written_as_opencsv_writes_it() -> None:
    result = {"entities": [{"typeName": "t", "guid": "g1", "classificationNames": ["a", "b"], "meaningNames": [],
                            "attributes": {"ref": {"typeName": "x", "guid": "g2",
                                                   "uniqueAttributes": {"qualifiedName": "q@x"}},
                                           "refs": [{"typeName": "x", "guid": "g3"}, "s"], "n": 3, "b": True}}]}
    text = csv_of(result, {"Ref": "ref", "Refs": "refs", "N": "n", "B": "b"}, "BASIC")
    assert text is not None
    assert text.decode().splitlines() == [
        '"Type name","Name","Classifications","Terms","Ref","Refs","N","B","Owner","Description"',
        '"t","g1","a,b","","q@x","null,s","3","true","",""']
