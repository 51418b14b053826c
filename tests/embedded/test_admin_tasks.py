"""``admin/tasks`` and ``admin/activeSearches`` (``catalog.embedded.admin_tasks``), over the in-process HTTP client.

Expected answers: Atlas's ``AdminResource.getTaskStatus/deleteTask`` with ``TaskManagement`` holding no pending task
(the store runs everything in the request), and ``getActiveSearches/terminateActiveSearch`` over ``SearchTracker``:
a running search is listed, terminating it stops it and answers ``true``, an unknown id ``false``.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from typing import Any

import pytest
from starlette.testclient import TestClient

from catalog.embedded.admin_tasks import SearchTerminated, tracker
from catalog.embedded.store import EmbeddedStore
from tests.embedded.conftest import ok

# long enough that it is still running when terminated, bounded in case it is not
SLOW_QUERY = ("WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 2000000000) "
              "SELECT count(*) FROM n")


# -- admin/tasks ----------------------------------------------------------------------------------------------
def test_no_task_is_ever_pending(api: TestClient) -> None:
    assert ok(api.get("/api/atlas/admin/session"))["atlas.tasks.enabled"] is False
    assert ok(api.get("/api/atlas/admin/tasks")) == []
    assert ok(api.get("/api/atlas/admin/tasks", params=[("guids", "a"), ("guids", "b")])) == []


def test_deleting_tasks_answers_no_content(api: TestClient) -> None:
    assert ok(api.delete("/api/atlas/admin/tasks", params={"guids": "nope"}), 204) is None
    assert ok(api.delete("/api/atlas/admin/tasks"), 204) is None
    r = api.put("/api/atlas/admin/tasks")
    assert (r.status_code, r.json()["errorCode"]) == (405, "ATLAS-405-00-001")


# -- admin/activeSearches -------------------------------------------------------------------------------------
class SlowSearch(threading.Thread):
    """A search registered with the store's tracker, running a query that takes long."""

    def __init__(self, store: EmbeddedStore) -> None:
        super().__init__(daemon=True)
        self.store = store
        self.started = threading.Event()
        self.outcome: BaseException | int | None = None

    def run(self) -> None:
        conn = self.store.db.reader()
        try:
            with tracker(self.store).track(conn):
                self.started.set()
                self.outcome = int(conn.execute(SLOW_QUERY).fetchone()[0])
        except (SearchTerminated, sqlite3.Error) as e:
            self.outcome = e


def test_a_running_search_is_listed_and_can_be_terminated(api: TestClient, store: EmbeddedStore) -> None:
    assert ok(api.get("/api/atlas/admin/activeSearches")) == []
    search = SlowSearch(store)
    search.start()
    assert search.started.wait(5)
    time.sleep(0.2)  # the query is running
    [search_id] = ok(api.get("/api/atlas/admin/activeSearches"))
    assert ok(api.delete(f"/api/atlas/admin/activeSearches/{search_id}")) is True
    search.join(10)
    assert not search.is_alive()
    assert isinstance(search.outcome, SearchTerminated)
    assert search.outcome.body() == {"errorCode": "ATLAS-400-00-029",
                                     "errorMessage": f"search {search_id} was terminated (admin/activeSearches)"}
    assert ok(api.get("/api/atlas/admin/activeSearches")) == []
    assert ok(api.delete(f"/api/atlas/admin/activeSearches/{search_id}")) is False  # no longer running


def test_a_search_leaves_the_list_when_it_ends(api: TestClient, store: EmbeddedStore) -> None:
    conn = store.db.reader()
    with tracker(store).track(conn) as search_id:
        assert ok(api.get("/api/atlas/admin/activeSearches")) == [search_id]
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert ok(api.get("/api/atlas/admin/activeSearches")) == []
    assert ok(api.delete("/api/atlas/admin/activeSearches/unknown-id")) is False


def test_a_failing_search_that_was_not_terminated_keeps_its_error(store: EmbeddedStore) -> None:
    conn = store.db.reader()
    with pytest.raises(sqlite3.OperationalError), tracker(store).track(conn):
        conn.execute("SELECT * FROM no_such_table")
    assert tracker(store).active() == []


def test_searches_are_tracked_per_store(tmp_path_factory: pytest.TempPathFactory, store: EmbeddedStore) -> None:
    other = EmbeddedStore(tmp_path_factory.mktemp("other-store"))
    try:
        with tracker(other).track():
            assert tracker(other).active() != [] and tracker(store).active() == []
    finally:
        other.close()


def test_basic_searches_register_while_they_run(api: TestClient, store: EmbeddedStore,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    search = store.search

    def recording(params: Any) -> Any:
        seen.append(tracker(store).active())
        return search(params)

    monkeypatch.setattr(store, "search", recording)
    ok(api.post("/api/atlas/v2/search/basic", json={"typeName": "DataSet"}))
    ok(api.get("/api/atlas/v2/search/basic", params={"typeName": "DataSet"}))
    assert [len(ids) for ids in seen] == [1, 1] and seen[0] != seen[1]
    assert ok(api.get("/api/atlas/admin/activeSearches")) == []
