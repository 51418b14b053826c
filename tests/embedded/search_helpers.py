"""Shared by the ``test_search*`` modules: an embedded Atlas of their own over real HTTP, seeded with a small
catalog, seen through the official ``apache-atlas`` client and through raw requests. The fixtures are imported
by those modules (each gets its own store); wire shapes are pinned with ``test_wire.assert_golden``.

The seed (:func:`seed`): classifications ``PII_<uid>`` (attribute ``level``), its subtype ``PIIemail_<uid>`` and
``Other_<uid>``; a hive_db; five hive_tables ``t0..t4`` (owners alice/bob/alice/carol/bob, retention 0..4, one day
apart, ``temporary`` on t4) with two columns on t0; a train process from t0 to t1; a deleted table; PII ``high`` on
t1, PIIemail ``low`` on t2, Other on t3. Every name carries the module's ``uid`` so the shapes are the store's own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from apache_atlas.client.base_client import AtlasClient

from tests.conftest import ATLAS_PASSWORD, ATLAS_USER, RunningAtlas, start_atlas
from tests.embedded.official_client_helpers import suffix

AUTH = (ATLAS_USER, ATLAS_PASSWORD)
DAY = 86_400_000
T0 = 1704164645000  # 2024-01-02T03:04:05.000Z
OWNERS = ["alice", "bob", "alice", "carol", "bob"]


@dataclass(frozen=True)
class Seeded:
    uid: str
    tag: str
    subtag: str
    other_tag: str
    db: str
    tables: list[str]
    columns: list[str]
    process: str
    gone: str

    @property
    def db_name(self) -> str:
        return f"db_{self.uid}"

    def qn(self, i: int) -> str:
        return f"db_{self.uid}.t{i}@cm"


class Http:
    """Raw requests to the Atlas API, with Basic auth."""

    def __init__(self, url: str) -> None:
        self.url = url

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(method, f"{self.url}/api/atlas/v2/{path}", auth=AUTH, timeout=30, **kwargs)

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        r = self.request(method, path, **kwargs)
        assert r.status_code == 200, (method, path, r.status_code, r.text[:2000])
        return r.json()

    def error(self, status: int, code: str, method: str, path: str, **kwargs: Any) -> str:
        """The request must fail with this status and Atlas errorCode; its errorMessage is returned."""
        r = self.request(method, path, **kwargs)
        assert r.status_code == status, (r.status_code, r.text[:2000])
        body = r.json()
        assert set(body) == {"errorCode", "errorMessage"} and body["errorCode"] == code, body
        return str(body["errorMessage"])


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAtlas]:
    atlas = start_atlas(tmp_path_factory.mktemp("search-store"))
    yield atlas
    atlas.stop()


@pytest.fixture(scope="module")
def http(running: RunningAtlas) -> Http:
    return Http(running.url)


@pytest.fixture(scope="module")
def client(running: RunningAtlas) -> AtlasClient:
    return AtlasClient(running.url, AUTH)


@pytest.fixture(scope="module")
def seeded(http: Http) -> Seeded:
    return seed(http)


def seed(http: Http) -> Seeded:
    uid = suffix()
    tag, subtag, other = f"PII_{uid}", f"PIIemail_{uid}", f"Other_{uid}"
    level = [{"name": "level", "typeName": "string", "isOptional": True}]
    http.ok("POST", "types/typedefs", json={"classificationDefs": [
        {"name": tag, "attributeDefs": level}, {"name": subtag, "superTypes": [tag], "attributeDefs": []},
        {"name": other, "attributeDefs": []}]})
    db = {"typeName": "hive_db", "guid": "-1",
          "attributes": {"qualifiedName": f"db_{uid}@cm", "name": f"db_{uid}", "clusterName": "cm"}}
    tables = [{"typeName": "hive_table", "guid": f"-{10 + i}", "attributes": {
        "qualifiedName": f"db_{uid}.t{i}@cm", "name": f"t{i}", "owner": OWNERS[i], "retention": i,
        "createTime": T0 + i * DAY, "temporary": i == 4, "description": f"table {uid} number {i}"},
        "relationshipAttributes": {"db": {"guid": "-1"}}} for i in range(5)]
    columns = [{"typeName": "hive_column", "guid": f"-{20 + i}", "attributes": {
        "qualifiedName": f"db_{uid}.t0.c{i}@cm", "name": f"c{i}", "type": "int", "position": 1 - i},
        "relationshipAttributes": {"table": {"guid": "-10", "relationshipType": "hive_table_columns"}}}
        for i in range(2)]
    process = {"typeName": "ml_model_train_build_process", "guid": "-30", "attributes": {
        "qualifiedName": f"train_{uid}@cm", "name": f"train_{uid}", "userName": "alice",
        "inputs": [{"guid": "-10"}], "outputs": [{"guid": "-11"}]}}
    gone = {"typeName": "hive_table", "guid": "-40", "attributes": {
        "qualifiedName": f"db_{uid}.gone@cm", "name": "gone", "owner": "dave", "retention": 9,
        "description": f"table {uid} deleted"}, "relationshipAttributes": {"db": {"guid": "-1"}}}
    ga = http.ok("POST", "entity/bulk", json={"entities": [db, *tables, *columns, process, gone]})["guidAssignments"]
    http.ok("DELETE", f"entity/guid/{ga['-40']}")
    for placeholder, name, attrs in (("-11", tag, {"level": "high"}), ("-12", subtag, {}), ("-13", other, {})):
        r = http.request("POST", f"entity/guid/{ga[placeholder]}/classifications",
                         json=[{"typeName": name, "attributes": attrs, "propagate": False}])
        assert r.status_code == 204, r.text
    return Seeded(uid, tag, subtag, other, ga["-1"], [ga[f"-{10 + i}"] for i in range(5)],
                  [ga["-20"], ga["-21"]], ga["-30"], ga["-40"])


def guids(result: Any) -> list[str]:
    """Entity guids of an AtlasSearchResult (JSON or the client's model), in order."""
    entities = result.get("entities") if isinstance(result, dict) else result.entities
    return [e["guid"] for e in entities or []]

