"""``GET v2/indexrecovery`` and ``POST v2/indexrecovery/start`` (``catalog.embedded.index_recovery``), over the
in-process HTTP client, on a fresh store per test whose derived data is then damaged directly in SQLite.

Expected behaviour: Atlas's IndexRecoveryREST: GET answers ``startTime``, ``prevTime`` and ``customTime`` as
``Instant.toString()`` or "Not applicable"; POST start takes an ISO-8601 instant (none: 400 "Index Recovery
requested without start time"), answers 204 and records it as ``customTime``. The recovery replays what changed
since the start time: here, the derived data of entities updated at or after it is rebuilt, older ones left alone.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from catalog.embedded.db import MIGRATIONS
from catalog.embedded.index_recovery import instant_string, parse_instant
from catalog.embedded.store import EmbeddedStore
from tests.embedded.conftest import embedded_store, in_process_api, ok

INFO = "/api/atlas/v2/indexrecovery"
START = "/api/atlas/v2/indexrecovery/start"
CHECK = "/api/atlas/admin/checkstate"
QN = "Referenceable.qualifiedName"
T2020, T2022 = 1577836800000, 1640995200000  # 2020-01-01 and 2022-01-01, UTC
NOTHING = {"startTime": "Not applicable", "prevTime": "Not applicable", "customTime": "Not applicable"}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EmbeddedStore]:
    yield from embedded_store(tmp_path)


@pytest.fixture
def api(store: EmbeddedStore) -> Iterator[TestClient]:
    yield from in_process_api(store)


@pytest.fixture
def guids(api: TestClient, store: EmbeddedStore) -> dict[str, str]:
    """DataSets old (last updated in 2020) and new (just now), both classified Sensitive."""
    ok(api.post("/api/atlas/v2/types/typedefs", json={"classificationDefs": [{"name": "Sensitive"}]}))
    made = ok(api.post("/api/atlas/v2/entity/bulk", json={"entities": [
        {"typeName": "DataSet", "guid": f"-{i}", "attributes": {"qualifiedName": f"{n}@test", "name": n},
         "classifications": [{"typeName": "Sensitive"}]} for i, n in ((1, "old"), (2, "new"))]}))
    out = {n: made["guidAssignments"][g] for g, n in (("-1", "old"), ("-2", "new"))}
    damage(store, ("UPDATE entity SET update_time = ? WHERE guid = ?", (T2020, out["old"])))
    return out


def damage(store: EmbeddedStore, *statements: tuple[str, tuple[Any, ...]]) -> None:
    with store.db.write() as conn:
        for sql, args in statements:
            conn.execute(sql, args)


def break_derived(store: EmbeddedStore, guid: str) -> None:
    """What a lost index update leaves: no unique-attribute rows, wrong name columns, a propagation from nowhere."""
    damage(store,
           ("DELETE FROM uattr WHERE guid = ?", (guid,)),
           ("UPDATE entity SET qualified_name = 'wrong', name = NULL WHERE guid = ?", (guid,)),
           ("INSERT INTO propagated_classification VALUES (?, 'Sensitive', 'no-such-source')", (guid,)))


def states(api: TestClient, *guids: str) -> dict[str, str]:
    got = ok(api.post(CHECK, json={"entityGuids": list(guids)}))
    return {g: got.get("entities", {}).get(g, {"state": "OK"})["state"] for g in guids}


def by_qualified_name(api: TestClient, qn: str) -> int:
    return api.get("/api/atlas/v2/entity/uniqueAttribute/type/DataSet", params={"attr:qualifiedName": qn}).status_code


def test_nothing_recorded_before_a_recovery(api: TestClient) -> None:
    assert ok(api.get(INFO)) == NOTHING


def test_recovery_rebuilds_entities_updated_since_the_start_time(api: TestClient, store: EmbeddedStore,
                                                                 guids: dict[str, str]) -> None:
    old, new = guids["old"], guids["new"]
    break_derived(store, old)
    break_derived(store, new)
    assert states(api, old, new) == {old: "NOT_FIXED", new: "NOT_FIXED"}
    assert by_qualified_name(api, "new@test") == 404

    before = time.time_ns() // 1_000_000
    assert ok(api.post(START, params={"startTime": "2022-01-01T00:00:00Z"}), 204) is None
    after = time.time_ns() // 1_000_000

    assert states(api, old, new) == {old: "NOT_FIXED", new: "OK"}
    assert ok(api.get("/api/atlas/v2/entity/uniqueAttribute/type/DataSet",
                      params={"attr:qualifiedName": "new@test"}))["entity"]["guid"] == new
    assert by_qualified_name(api, "old@test") == 404
    row = store.db.reader().execute("SELECT qualified_name, name FROM entity WHERE guid = ?", (new,)).fetchone()
    assert row == ("new@test", "new")
    got = ok(api.get(INFO))
    assert got["customTime"] == "2022-01-01T00:00:00Z" and got["prevTime"] == "Not applicable"
    assert before <= parse_instant(got["startTime"]) <= after

    # a recovery from before the old entity's update reaches it too; the last recovery's time becomes prevTime
    ok(api.post(START, params={"startTime": "2019-06-30T12:00:00.250Z"}), 204)
    assert states(api, old, new) == {old: "OK", new: "OK"}
    assert ok(api.get("/api/atlas/v2/entity/uniqueAttribute/type/DataSet",
                      params={"attr:qualifiedName": "old@test"}))["entity"]["guid"] == old
    again = ok(api.get(INFO))
    assert again["customTime"] == "2019-06-30T12:00:00.250Z"
    assert again["prevTime"] == got["startTime"]
    assert parse_instant(again["startTime"]) >= parse_instant(got["startTime"])


def test_the_start_time_is_inclusive(api: TestClient, store: EmbeddedStore, guids: dict[str, str]) -> None:
    old = guids["old"]
    break_derived(store, old)
    ok(api.post(START, params={"startTime": instant_string(T2020 + 1)}), 204)
    assert states(api, old) == {old: "NOT_FIXED"}
    ok(api.post(START, params={"startTime": instant_string(T2020)}), 204)
    assert states(api, old) == {old: "OK"}


def test_rows_of_purged_entities_go_whatever_the_start_time(api: TestClient, store: EmbeddedStore,
                                                            guids: dict[str, str]) -> None:
    new = guids["new"]
    break_derived(store, new)
    damage(store, ("INSERT INTO uattr(attr, value, guid) VALUES (?, 'ghost@test', 'purged-guid')", (QN,)),
           ("INSERT INTO propagated_classification VALUES ('purged-guid', 'Sensitive', ?)", (new,)))
    # a start time in the future is taken, as Atlas takes it: no entity was updated since
    ok(api.post(START, params={"startTime": "2999-01-01T00:00:00Z"}), 204)
    conn = store.db.reader()
    assert conn.execute("SELECT count(*) FROM uattr WHERE guid = 'purged-guid'").fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM propagated_classification WHERE entity_guid = 'purged-guid'"
                        ).fetchone() == (0,)
    assert states(api, new) == {new: "NOT_FIXED"}
    assert ok(api.get(INFO))["customTime"] == "2999-01-01T00:00:00Z"


@pytest.mark.parametrize("params", [{}, {"startTime": ""}])
def test_no_start_time_is_atlas_bad_request(api: TestClient, params: dict[str, str]) -> None:
    r = api.post(START, params=params)
    assert r.status_code == 400
    assert r.json() == {"errorCode": "ATLAS-400-00-029", "errorMessage": "Index Recovery requested without start time"}
    assert ok(api.get(INFO)) == NOTHING


@pytest.mark.parametrize("value", ["yesterday", "1640995200000", "2022-01-01", "2022-13-01T00:00:00Z",
                                   "2022-01-01T00:00:00", "2022-01-01 00:00:00Z", "2022-02-30T00:00:00Z"])
def test_an_unparsable_start_time_is_refused_before_anything_is_written(api: TestClient, store: EmbeddedStore,
                                                                        guids: dict[str, str], value: str) -> None:
    break_derived(store, guids["new"])
    r = api.post(START, params={"startTime": value})
    assert r.status_code == 400
    body = r.json()
    assert body["errorCode"] == "ATLAS-400-00-029"
    assert value in body["errorMessage"] and "ISO-8601" in body["errorMessage"]
    assert ok(api.get(INFO)) == NOTHING
    assert states(api, guids["new"]) == {guids["new"]: "NOT_FIXED"}


def test_the_recovery_info_survives_a_restart(tmp_path: Path) -> None:
    for store in embedded_store(tmp_path):
        for api in in_process_api(store):
            ok(api.post(START, params={"startTime": "2022-01-01T00:00:00Z"}), 204)
            ok(api.post(START, params={"startTime": "2023-01-01T00:00:00Z"}), 204)
            first = ok(api.get(INFO))
    for store in embedded_store(tmp_path):
        for api in in_process_api(store):
            assert ok(api.get(INFO)) == first
            assert first["customTime"] == "2023-01-01T00:00:00Z" and first["prevTime"] != "Not applicable"


def test_a_store_of_the_previous_schema_gains_the_info_table(tmp_path: Path) -> None:
    for store in embedded_store(tmp_path):
        path = store.db.path
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE store_info")
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) - 1}")
    conn.commit()
    conn.close()
    for store in embedded_store(tmp_path):
        assert store.db.reader().execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)
        for api in in_process_api(store):
            assert ok(api.get(INFO)) == NOTHING
            ok(api.post(START, params={"startTime": "2022-01-01T00:00:00Z"}), 204)
            assert ok(api.get(INFO))["customTime"] == "2022-01-01T00:00:00Z"


@pytest.mark.parametrize(("text", "ms"), [
    ("2022-01-01T00:00:00Z", T2022),
    ("2022-01-01T00:00Z", T2022),
    ("2022-01-01t00:00:00z", T2022),
    ("2022-01-01T00:00:00.123456789Z", T2022 + 123),
    ("2022-01-01T01:30:00+01:30", T2022),
    ("2021-12-31T23:00:00-01:00", T2022),
    ("1969-12-31T23:59:59.999Z", -1),
])
def test_instants_are_read_as_java_reads_them(text: str, ms: int) -> None:
    assert parse_instant(text) == ms


@pytest.mark.parametrize(("ms", "text"), [
    (T2022, "2022-01-01T00:00:00Z"), (T2022 + 5, "2022-01-01T00:00:00.005Z"), (-1, "1969-12-31T23:59:59.999Z"),
])
def test_instants_are_written_as_java_writes_them(ms: int, text: str) -> None:
    assert instant_string(ms) == text
