"""Saved searches (``search/saved``) on a seeded store of its own (``search_helpers``), through the official client
(add, list, get, update, delete, execute by name and by guid) and raw HTTP: BASIC searches run as basic search,
ADVANCED ones as DSL; one user's searches are theirs alone; Atlas's 400/404/409 answers; the searches outlive a
restart (store migration 3); the wire shape.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from apache_atlas.client.base_client import AtlasClient
from apache_atlas.model.discovery import AtlasUserSavedSearch

from tests.conftest import RunningAtlas, start_atlas
from tests.embedded import search_helpers
from tests.embedded.official_client_helpers import expect_error
from tests.embedded.search_helpers import Http, Seeded, guids
from tests.embedded.test_wire import assert_golden

# this module's own seeded Atlas over HTTP (search_helpers' fixtures)
running, http, client, seeded = (search_helpers.running, search_helpers.http, search_helpers.client,
                                 search_helpers.seeded)


def saved(name: str, search_type: str, **params: Any) -> AtlasUserSavedSearch:
    return AtlasUserSavedSearch({"name": name, "searchType": search_type, "searchParameters": params})


def test_a_basic_saved_search_from_creation_to_deletion(client: AtlasClient, seeded: Seeded) -> None:
    d = client.discovery
    name = f"alice_tables_{seeded.uid}"
    alice = {"attributeName": "owner", "operator": "=", "attributeValue": "alice"}
    created = d.add_saved_search(saved(name, "BASIC", typeName="hive_table", query=seeded.uid,
                                       excludeDeletedEntities=True, limit=5, offset=0, entityFilters=alice))
    assert created.guid and not created.guid.startswith("-") and created.ownerName == "admin"
    assert created.searchParameters.typeName == "hive_table" and created.searchParameters.includeSubTypes is True
    assert name in [s["name"] for s in d.get_saved_searches("admin")]
    assert d.get_saved_search("admin", name).guid == created.guid
    by_name = d.execute_saved_search_with_user_name("admin", name)
    assert by_name.queryType == "BASIC" and [e.guid for e in by_name.entities] == [seeded.tables[0],
                                                                                    seeded.tables[2]]
    assert [e.guid for e in d.execute_saved_search_with_search_guid(created.guid).entities] == [
        seeded.tables[0], seeded.tables[2]]
    # update: renamed, another search; the old name is gone
    created.name = f"bob_tables_{seeded.uid}"
    created.searchParameters.entityFilters = {**alice, "attributeValue": "bob"}
    updated = d.update_saved_search(created)
    assert (updated.guid, updated.name) == (created.guid, f"bob_tables_{seeded.uid}")
    assert [e.guid for e in d.execute_saved_search_with_search_guid(created.guid).entities] == [
        seeded.tables[1], seeded.tables[4]]
    expect_error(404, "ATLAS-404-00-009", d.get_saved_search, "admin", name)
    d.delete_saved_search(created.guid)
    expect_error(404, "ATLAS-404-00-005", d.execute_saved_search_with_search_guid, created.guid)
    assert f"bob_tables_{seeded.uid}" not in [s["name"] for s in d.get_saved_searches("admin")]


def test_an_advanced_saved_search_runs_as_dsl(client: AtlasClient, http: Http, seeded: Seeded) -> None:
    d = client.discovery
    d.add_saved_search(saved(f"adv_{seeded.uid}", "ADVANCED", query="hive_table where owner = 'bob'",
                             limit=1, offset=1))
    res = d.execute_saved_search_with_user_name("admin", f"adv_{seeded.uid}")
    assert res.queryType == "DSL" and [e.guid for e in res.entities] == [seeded.tables[4]]
    http.ok("POST", "search/saved", json={"name": f"adv2_{seeded.uid}", "searchType": "ADVANCED",
                                          "searchParameters": {"typeName": "hive_table",
                                                               "classification": seeded.other_tag}})
    res = http.ok("GET", f"search/saved/execute/adv2_{seeded.uid}")
    assert res["queryText"] == f"`hive_table`  isa {seeded.other_tag}"
    assert guids(res) == [seeded.tables[3]]


def _other_users_search(running: RunningAtlas) -> str:
    """A search saved by another user, written as the store keeps it (the API has one user)."""
    guid = str(uuid.uuid4())
    body = {"guid": guid, "ownerName": "someone", "name": "theirs", "searchType": "BASIC"}
    with running.store.db.write() as conn:
        conn.execute("INSERT INTO saved_search(guid, owner_name, name, body, create_time, update_time) "
                     "VALUES (?, 'someone', 'theirs', ?, 0, 0)", (guid, orjson.dumps(body).decode()))
    return guid


def test_a_user_s_searches_are_theirs_alone(http: Http, running: RunningAtlas, seeded: Seeded) -> None:
    theirs = _other_users_search(running)
    assert "theirs" not in [s["name"] for s in http.ok("GET", "search/saved")]
    for method, path, kwargs in (("GET", "search/saved", {"params": {"user": "someone"}}),
                                 ("GET", "search/saved/theirs", {"params": {"user": "someone"}}),
                                 ("GET", "search/saved/execute/theirs", {"params": {"user": "someone"}}),
                                 ("GET", f"search/saved/execute/guid/{theirs}", {}),
                                 ("DELETE", f"search/saved/{theirs}", {}),
                                 ("POST", "search/saved", {"json": {"name": "x", "ownerName": "someone"}}),
                                 ("PUT", "search/saved", {"json": {"guid": theirs, "name": "x",
                                                                   "ownerName": "someone"}})):
        assert http.error(400, "ATLAS-400-00-029", method, path, **kwargs) == "invalid data", (method, path)
    msg = http.error(400, "ATLAS-400-00-056", "PUT", "search/saved", json={"guid": theirs, "name": "mine"})
    assert msg == "saved-search theirs can not be moved from user someone to admin"
    http.error(404, "ATLAS-404-00-009", "GET", "search/saved/theirs")  # admin has none of that name


@pytest.mark.parametrize(("method", "body", "status", "code", "message"), [
    ("POST", {"searchType": "BASIC"}, 400, "ATLAS-400-00-01A",
     "invalid parameters: name of the saved search is required"),
    ("POST", {"name": "x", "searchType": "WEIRD"}, 400, "ATLAS-400-00-029",
     "searchType must be one of BASIC, ADVANCED, BASIC_RELATIONSHIP, not WEIRD"),
    ("POST", {"name": "x", "searchParameters": {"limit": "ten"}}, 400, "ATLAS-400-00-029", None),
    ("POST", {"name": "x", "searchParameters": {"typeName": "t" * 5000}}, 400, "ATLAS-400-00-057", None),
    ("POST", {"name": "n" * 5000}, 400, "ATLAS-400-00-057", "Length of query param name exceeds the limit"),
    ("POST", ["x"], 400, "ATLAS-400-00-029", "body must be an AtlasUserSavedSearch"),
    ("PUT", {"name": "x"}, 400, "ATLAS-400-00-021", "invalid object-id: null"),
    ("PUT", {"name": "x", "guid": "00000000-0000-0000-0000-000000000000"}, 404, "ATLAS-404-00-005", None),
])
def test_a_saved_search_atlas_refuses(http: Http, method: str, body: Any, status: int, code: str,
                                      message: str | None) -> None:
    got = http.error(status, code, method, "search/saved", json=body)
    assert message is None or got == message


def test_names_are_unique_per_user(http: Http, seeded: Seeded) -> None:
    first = http.ok("POST", "search/saved", json={"name": f"one_{seeded.uid}", "searchParameters": {"query": "x"}})
    http.ok("POST", "search/saved", json={"name": f"two_{seeded.uid}"})
    msg = http.error(409, "ATLAS-409-00-006", "POST", "search/saved", json={"name": f"one_{seeded.uid}"})
    assert msg == f"search named one_{seeded.uid} already exists for user admin"
    http.error(409, "ATLAS-409-00-006", "PUT", "search/saved", json={"guid": first["guid"],
                                                                     "name": f"two_{seeded.uid}"})
    http.error(404, "ATLAS-404-00-005", "DELETE", "search/saved/00000000-0000-0000-0000-000000000000")
    r = http.request("DELETE", f"search/saved/{first['guid']}")
    assert (r.status_code, r.content) == (204, b"")


def test_saved_searches_outlive_a_restart(tmp_path: Path) -> None:
    atlas = start_atlas(tmp_path)
    try:
        created = Http(atlas.url).ok("POST", "search/saved", json={"name": "kept", "searchType": "ADVANCED",
                                                                    "searchParameters": {"query": "hive_db"}})
    finally:
        atlas.stop()
    atlas = start_atlas(tmp_path)
    try:
        assert Http(atlas.url).ok("GET", "search/saved") == [created]
    finally:
        atlas.stop()


def test_golden_saved_search(http: Http, seeded: Seeded) -> None:
    body = http.ok("POST", "search/saved", json={
        "name": f"golden_{seeded.uid}", "searchType": "BASIC", "uiParameters": "{}",
        "searchParameters": {"typeName": "hive_table", "limit": 25,
                             "entityFilters": {"attributeName": "owner", "operator": "=", "attributeValue": "x"}}})
    assert_golden("search_saved", body)
    assert http.ok("GET", f"search/saved/golden_{seeded.uid}") == body
