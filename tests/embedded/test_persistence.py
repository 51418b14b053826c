"""Persistence of the embedded store across real process restarts and crashes.

The server runs as a separate OS process (``_server_proc.ServerProcess``), so a restart really re-opens the
SQLite store from disk and SIGKILL really gives the server no chance to clean up.

* ``test_restart_keeps_everything``: types, entities, lineage, a relationship, a classification and a
  soft-deleted entity read back identically (full GET JSON, order of list elements ignored) after a
  graceful stop (SIGTERM) and restart on the same store directory.
* ``test_sigkill_during_bulk_writes_is_atomic``: a thread streams ``POST entity/bulk`` requests of 300
  entities each; the server is SIGKILLed at a random moment while requests are in flight; after a restart
  every request is either fully present or fully absent, and every request acknowledged with 200 is
  fully present.  Done three times (three stores, three kill moments).
"""

from __future__ import annotations

import json
import logging
import random
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import ATLAS_PASSWORD

from ._server_proc import ServerProcess

log = logging.getLogger(__name__)
V2 = "/api/atlas/v2"
TIMEOUT = 30


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def canonical(value: Any) -> Any:
    """JSON value with every list sorted (by canonical JSON text): equality then ignores only ordering."""
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [canonical(v) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    return value


def first_difference(a: Any, b: Any, path: str = "$") -> str | None:
    if type(a) is not type(b):
        return f"{path}: {a!r} != {b!r}"
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{path}.{k}: only in {'before' if k in a else 'after'}: {a.get(k, b.get(k))!r}"
            d = first_difference(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} elements != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            d = first_difference(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    return None if a == b else f"{path}: {a!r} != {b!r}"


def ok(resp: requests.Response, status: int = 200) -> Any:
    assert resp.status_code == status, f"{resp.request.method} {resp.request.url} -> {resp.status_code}: {resp.text}"
    return resp.json() if resp.content else None


class Client:
    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.session = server.session()

    def get(self, path: str, **params: Any) -> Any:
        return ok(self.session.get(self.server.url + V2 + path, params=params or None, timeout=TIMEOUT))

    def send(self, method: str, path: str, body: Any = None, status: int = 200,
             params: dict[str, Any] | None = None) -> Any:
        return ok(self.session.request(method, self.server.url + V2 + path, json=body, params=params,
                                       timeout=TIMEOUT), status)

    def close(self) -> None:
        self.session.close()


# --------------------------------------------------------------------------------------------
# 1. graceful restart
# --------------------------------------------------------------------------------------------

CUSTOM_TYPES: dict[str, Any] = {
    "enumDefs": [{"name": "persist_tier", "serviceType": "persist_test", "typeVersion": "1.0",
                  "elementDefs": [{"value": "BRONZE", "ordinal": 0}, {"value": "SILVER", "ordinal": 1},
                                  {"value": "GOLD", "ordinal": 2}]}],
    "structDefs": [{"name": "persist_quality", "serviceType": "persist_test", "typeVersion": "1.0",
                    "attributeDefs": [
                        {"name": "score", "typeName": "double", "isOptional": False, "cardinality": "SINGLE"},
                        {"name": "checkedAt", "typeName": "date", "isOptional": True, "cardinality": "SINGLE"}]}],
    "classificationDefs": [{"name": "persist_PII", "serviceType": "persist_test", "typeVersion": "1.0",
                            "attributeDefs": [{"name": "level", "typeName": "string", "isOptional": True,
                                               "cardinality": "SINGLE"}]}],
    "entityDefs": [{"name": "persist_feature_set", "superTypes": ["DataSet"], "serviceType": "persist_test",
                    "typeVersion": "1.0", "options": {"displayTextAttribute": "name"},
                    "attributeDefs": [
                        {"name": "tier", "typeName": "persist_tier", "isOptional": True, "cardinality": "SINGLE"},
                        {"name": "quality", "typeName": "persist_quality", "isOptional": True,
                         "cardinality": "SINGLE"},
                        {"name": "features", "typeName": "array<string>", "isOptional": True, "cardinality": "LIST"},
                        {"name": "props", "typeName": "map<string,string>", "isOptional": True,
                         "cardinality": "SINGLE"},
                        {"name": "rowCount", "typeName": "long", "isOptional": True, "cardinality": "SINGLE"},
                        {"name": "refreshedAt", "typeName": "date", "isOptional": True, "cardinality": "SINGLE"}]}],
    "relationshipDefs": [{"name": "persist_feature_set_source", "serviceType": "persist_test", "typeVersion": "1.0",
                          "relationshipCategory": "ASSOCIATION", "propagateTags": "NONE",
                          "endDef1": {"type": "persist_feature_set", "name": "sourceTables", "cardinality": "SET",
                                      "isContainer": False},
                          "endDef2": {"type": "hive_table", "name": "featureSets", "cardinality": "SET",
                                      "isContainer": False}}],
}


def _graph_entities() -> list[dict[str, Any]]:
    ns = "@persist"
    out: list[dict[str, Any]] = [
        {"typeName": "hive_db", "guid": "-1",
         "attributes": {"qualifiedName": f"shop{ns}", "name": "shop", "clusterName": "persist",
                        "parameters": {"owner": "data-eng"}, "ownerType": "USER"}},
    ]
    tables = {"-10": ("orders", 3), "-20": ("orders_clean", 2), "-30": ("scratch", 1)}
    for tg, (tname, ncols) in tables.items():
        out.append({"typeName": "hive_table", "guid": tg,
                    "attributes": {"qualifiedName": f"shop.{tname}{ns}", "name": tname, "owner": "alice",
                                   "tableType": "MANAGED_TABLE", "createTime": 1_700_000_000_000,
                                   "parameters": {"k": "v"}, "aliases": ["a1", "a2"], "temporary": False,
                                   "db": {"guid": "-1"}}})
        for c in range(ncols):
            out.append({"typeName": "hive_column", "guid": f"{tg}{c + 1}",
                        "attributes": {"qualifiedName": f"shop.{tname}.col{c}{ns}", "name": f"col{c}",
                                       "type": "string" if c else "bigint", "position": c,
                                       "table": {"guid": tg}}})
    out.append({"typeName": "hive_storagedesc", "guid": "-40",
                "attributes": {"qualifiedName": f"shop.orders{ns}_storage", "compressed": False,
                               "location": "s3a://bucket/warehouse/orders", "numBuckets": 4,
                               "serdeInfo": {"name": "lazy", "serializationLib": "LazySimpleSerDe",
                                             "parameters": {"field.delim": ","}},
                               "sortCols": [{"col": "col0", "order": 1}],
                               "table": {"guid": "-10"}}})
    out.append({"typeName": "hive_process", "guid": "-50",
                "attributes": {"qualifiedName": f"shop.orders_clean{ns}:1700000000000", "name": "clean orders",
                               "startTime": 1_700_000_000_000, "endTime": "2023-11-14T22:13:21.000Z",
                               "userName": "alice", "operationType": "CREATETABLE_AS_SELECT",
                               "queryText": "create table orders_clean as select * from orders",
                               "queryPlan": "{}", "queryId": "q-1", "recentQueries": ["q1", "q2", "q3"],
                               "inputs": [{"guid": "-10"}], "outputs": [{"guid": "-20"}]}})
    out.append({"typeName": "persist_feature_set", "guid": "-60",
                "attributes": {"qualifiedName": f"features.orders{ns}", "name": "order features",
                               "tier": "GOLD", "quality": {"score": 0.97, "checkedAt": 1_700_000_100_000},
                               "features": ["f_b", "f_a", "f_c"], "props": {"team": "ml", "pii": "no"},
                               "rowCount": 123456789012, "refreshedAt": 1_700_000_200_000,
                               "description": "features for the churn model"}})
    out.append({"typeName": "ml_project", "guid": "-70",
                "attributes": {"qualifiedName": f"churn{ns}", "name": "churn", "metadata": {"crn": "crn:x"}}})
    out.append({"typeName": "ml_model_build", "guid": "-71",
                "attributes": {"qualifiedName": f"churn.build1{ns}", "name": "build1", "version": 1,
                               "project": {"guid": "-70"}}})
    out.append({"typeName": "ml_model_train_build_process", "guid": "-72",
                "attributes": {"qualifiedName": f"churn.train1{ns}", "name": "train1", "userName": "bob",
                               "inputs": [{"guid": "-20"}, {"guid": "-60"}], "outputs": [{"guid": "-71"}]}})
    return out


def snapshot(c: Client, guids: dict[str, str], rel_guids: list[str]) -> dict[str, Any]:
    snap: dict[str, Any] = {
        "typedefs": c.get("/types/typedefs"),
        "typedef_headers": c.get("/types/typedefs/headers"),
        "custom_entitydef": c.get("/types/entitydef/name/persist_feature_set"),
        "entities": {}, "entities_min": {}, "headers": {}, "classifications": {}, "lineage": {},
        "relationships": {},
    }
    for key, g in sorted(guids.items()):
        snap["entities"][key] = c.get(f"/entity/guid/{g}")
        snap["entities_min"][key] = c.get(f"/entity/guid/{g}", minExtInfo="true", ignoreRelationships="true")
        snap["headers"][key] = c.get(f"/entity/guid/{g}/header")
        snap["classifications"][key] = c.get(f"/entity/guid/{g}/classifications")
        type_name = snap["entities"][key]["entity"]["typeName"]
        if type_name not in ("hive_db", "hive_storagedesc"):  # DataSet / Process only
            snap["lineage"][key] = [c.get(f"/lineage/{g}", direction=d, depth=0) for d in ("INPUT", "OUTPUT", "BOTH")]
    for rg in rel_guids:
        snap["relationships"][rg] = c.get(f"/relationship/guid/{rg}", extendedInfo="true")
    snap["by_unique"] = c.get("/entity/uniqueAttribute/type/hive_table",
                              **{"attr:qualifiedName": "shop.orders@persist"})
    snap["search_all"] = c.get("/search/basic", typeName="Asset", excludeDeletedEntities="false", limit=1000)
    snap["search_active"] = c.get("/search/basic", typeName="hive_table", excludeDeletedEntities="true")
    snap["search_pii"] = c.get("/search/basic", classification="persist_PII")
    return snap


def test_restart_keeps_everything(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with ServerProcess(store, ATLAS_PASSWORD, log_path=tmp_path / "server.log") as server:
        server.start()
        c = Client(server)
        created = c.send("POST", "/types/typedefs", CUSTOM_TYPES)
        assert {d["name"] for d in created["entityDefs"]} == {"persist_feature_set"}
        # a typedef update too: new optional attribute
        fs_def = c.get("/types/entitydef/name/persist_feature_set")
        fs_def["attributeDefs"].append({"name": "ownerTeam", "typeName": "string", "isOptional": True,
                                        "cardinality": "SINGLE"})
        c.send("PUT", "/types/typedefs", {"entityDefs": [fs_def]})

        emr = c.send("POST", "/entity/bulk", {"entities": _graph_entities()})
        ga = emr["guidAssignments"]
        names = {"db": "-1", "orders": "-10", "orders_clean": "-20", "scratch": "-30", "orders_col0": "-101",
                 "orders_col2": "-103", "clean_col1": "-202", "scratch_col0": "-301", "sd": "-40", "etl": "-50",
                 "features": "-60", "project": "-70", "build": "-71", "train": "-72"}
        guids = {k: ga[v] for k, v in names.items()}
        assert len(ga) == 16

        rel = c.send("POST", "/relationship", {
            "typeName": "persist_feature_set_source", "end1": {"guid": guids["features"]},
            "end2": {"typeName": "hive_table", "uniqueAttributes": {"qualifiedName": "shop.orders@persist"}},
        })
        c.send("POST", f"/entity/guid/{guids['orders']}/classifications",
               [{"typeName": "persist_PII", "attributes": {"level": "high"}}], status=204)
        c.send("PUT", f"/entity/guid/{guids['features']}", 42, params={"name": "rowCount"})
        c.send("PUT", "/entity/uniqueAttribute/type/persist_feature_set",
               {"entity": {"typeName": "persist_feature_set", "attributes": {"owner": "carol"}}},
               params={"attr:qualifiedName": "features.orders@persist"})
        deleted = c.send("DELETE", f"/entity/guid/{guids['scratch']}")
        assert guids["scratch"] in {h["guid"] for h in deleted["mutatedEntities"]["DELETE"]}

        before = snapshot(c, guids, [rel["guid"]])
        # sanity on what we are about to compare
        assert before["entities"]["scratch"]["entity"]["status"] == "DELETED"
        assert before["entities"]["scratch_col0"]["entity"]["status"] == "DELETED"  # composition cascade
        assert before["entities"]["features"]["entity"]["attributes"]["rowCount"] == 42
        assert before["entities"]["features"]["entity"]["attributes"]["owner"] == "carol"
        assert [x["typeName"] for x in before["entities"]["orders"]["entity"]["classifications"]] == ["persist_PII"]
        assert {(r["fromEntityId"], r["toEntityId"]) for r in before["lineage"]["build"][0]["relations"]} == {
            (guids["orders"], guids["etl"]), (guids["etl"], guids["orders_clean"]),
            (guids["orders_clean"], guids["train"]), (guids["features"], guids["train"]),
            (guids["train"], guids["build"])}
        assert before["relationships"][rel["guid"]]["relationship"]["end2"]["guid"] == guids["orders"]
        c.close()

        t0 = time.monotonic()
        rc = server.stop()
        assert rc in (0, -signal.SIGTERM), f"unexpected exit code {rc}:\n{server.log_tail()}"
        assert time.monotonic() - t0 < 10, "graceful stop took too long (had to SIGKILL?)"
        assert "Traceback" not in server.log_tail(), server.log_tail()

        server.start()
        c = Client(server)
        after = snapshot(c, guids, [rel["guid"]])
        diff = first_difference(canonical(before), canonical(after))
        assert diff is None, f"state changed across restart: {diff}"

        # the restarted store is fully usable: a write on top of the reloaded data works
        emr = c.send("POST", "/entity", {"entity": {
            "typeName": "hive_table",
            "attributes": {"qualifiedName": "shop.orders@persist", "name": "orders", "comment": "after"}}})
        assert [h["guid"] for h in emr["mutatedEntities"]["UPDATE"]] == [guids["orders"]]
        got = c.get(f"/entity/guid/{guids['orders']}")["entity"]
        assert got["attributes"]["comment"] == "after"
        assert got["version"] > before["entities"]["orders"]["entity"]["version"]
        c.close()


# --------------------------------------------------------------------------------------------
# 2. SIGKILL while bulk writes are in flight
# --------------------------------------------------------------------------------------------

N_REQUESTS = 40
TABLES_PER_REQUEST = 23
COLUMNS_PER_TABLE = 12
ENTITIES_PER_REQUEST = 300  # 1 db + 23 tables + 276 columns
COUNTS = {"hive_db": 1, "hive_table": TABLES_PER_REQUEST, "hive_column": ENTITIES_PER_REQUEST - 1 - TABLES_PER_REQUEST}


def req_prefix(i: int) -> str:
    return f"katom-r{i:03d}."  # "katom-r007." is not a substring of any other request's names


def bulk_request(i: int) -> dict[str, Any]:
    p = req_prefix(i)
    entities: list[dict[str, Any]] = [
        {"typeName": "hive_db", "guid": "-1",
         "attributes": {"qualifiedName": f"{p}db@kill", "name": f"db{i}", "clusterName": "kill"}}]
    n = 2
    n_columns = COUNTS["hive_column"]
    for t in range(TABLES_PER_REQUEST):
        tg = f"-{n}"
        n += 1
        entities.append({"typeName": "hive_table", "guid": tg,
                         "attributes": {"qualifiedName": f"{p}t{t}@kill", "name": f"t{t}", "db": {"guid": "-1"}}})
        for col in range(COLUMNS_PER_TABLE):
            if n_columns == 0:
                break
            n_columns -= 1
            entities.append({"typeName": "hive_column", "guid": f"-{n}",
                             "attributes": {"qualifiedName": f"{p}t{t}.c{col}@kill", "name": f"c{col}",
                                            "type": "string", "position": col, "table": {"guid": tg}}})
            n += 1
    assert len(entities) == ENTITIES_PER_REQUEST
    return {"entities": entities}


@dataclass
class Stream:
    url: str
    bodies: list[dict[str, Any]]
    statuses: dict[int, int] = field(default_factory=dict)  # request index -> HTTP status
    in_flight: int | None = None  # request index whose answer never came
    error: str | None = None
    successes: int = 0
    progress: threading.Condition = field(default_factory=threading.Condition)
    done: bool = False

    def run(self) -> None:
        session = requests.Session()
        session.auth = ("admin", ATLAS_PASSWORD)
        try:
            for i, body in enumerate(self.bodies):
                self.in_flight = i
                try:
                    r = session.post(f"{self.url}{V2}/entity/bulk", json=body, timeout=TIMEOUT)
                except requests.RequestException as e:  # the server died under us
                    self.error = f"request {i}: {type(e).__name__}"
                    return
                self.in_flight = None
                with self.progress:
                    self.statuses[i] = r.status_code
                    if r.status_code == 200:
                        self.successes += 1
                    self.progress.notify_all()
        finally:
            session.close()
            with self.progress:
                self.done = True
                self.progress.notify_all()

    def wait_for(self, successes: int, timeout: float) -> None:
        with self.progress:
            ok_ = self.progress.wait_for(lambda: self.successes >= successes or self.done, timeout)
        assert ok_ and self.successes >= successes, (
            f"only {self.successes} successful bulk requests (statuses {self.statuses}, error {self.error})")


def count_by_search(c: Client, type_name: str, prefix: str) -> int:
    result = c.get("/search/basic", typeName=type_name, query=prefix, excludeDeletedEntities="false", limit=1)
    return int(result.get("approximateCount", 0))


def request_presence(c: Client, i: int) -> dict[str, Any]:
    """How much of request i is in the store, through two independent read paths."""
    p = req_prefix(i)
    counts = {t: count_by_search(c, t, p) for t in COUNTS}
    probes = {}
    for t, qn in (("hive_db", f"{p}db@kill"), ("hive_table", f"{p}t{TABLES_PER_REQUEST - 1}@kill"),
                  ("hive_column", f"{p}t0.c0@kill")):
        r = c.session.get(f"{c.server.url}{V2}/entity/uniqueAttribute/type/{t}",
                          params={"attr:qualifiedName": qn}, timeout=TIMEOUT)
        assert r.status_code in (200, 404), r.text
        probes[t] = r.status_code == 200
    return {"counts": counts, "probes": probes}


@pytest.mark.parametrize("kill_after", [2, 9, 21], ids=["early", "middle", "late"])
def test_sigkill_during_bulk_writes_is_atomic(tmp_path: Path, kill_after: int) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    log.info("kill_after=%d seed=%d", kill_after, seed)
    bodies = [bulk_request(i) for i in range(N_REQUESTS)]
    with ServerProcess(tmp_path / "store", ATLAS_PASSWORD, log_path=tmp_path / "server.log") as server:
        server.start()
        stream = Stream(server.url, bodies)
        sender = threading.Thread(target=stream.run, name="bulk-sender", daemon=True)
        sender.start()
        stream.wait_for(kill_after, timeout=30)
        # a random moment within the next ~2 request round-trips: the sender has a request in flight
        time.sleep(rng.uniform(0.0, 0.1))
        rc = server.kill()
        assert rc == -signal.SIGKILL, f"server exited by itself ({rc}) before the kill:\n{server.log_tail()}"
        sender.join(timeout=TIMEOUT)
        assert not sender.is_alive()
        acked = sorted(i for i, s in stream.statuses.items() if s == 200)
        not_ok = {i: s for i, s in stream.statuses.items() if s != 200}
        assert not not_ok, f"bulk requests failed before the kill: {not_ok}"
        assert len(acked) >= 2
        assert len(acked) < N_REQUESTS, "all requests finished before the kill: nothing was in flight"
        log.info("acked=%d in_flight=%s error=%s", len(acked), stream.in_flight, stream.error)

        server.start()
        c = Client(server)
        present: list[int] = []
        problems: list[str] = []
        for i in range(N_REQUESTS):
            got = request_presence(c, i)
            full = got["counts"] == COUNTS and all(got["probes"].values())
            empty = not any(got["counts"].values()) and not any(got["probes"].values())
            if full:
                present.append(i)
            elif not empty:
                problems.append(f"request {i} partially present: {got}")
            if i in acked and not full:
                problems.append(f"request {i} was acknowledged with 200 but is not fully present: {got}")
        assert not problems, (f"kill after {len(acked)} acks (seed {seed}, in flight {stream.in_flight}):\n"
                              + "\n".join(problems))
        # Requests are sent one after the other: the committed ones are exactly a prefix; at most the one in
        # flight may have committed without its answer reaching us.
        assert present == list(range(len(present))), present
        assert acked == list(range(len(acked)))
        assert len(present) in (len(acked), len(acked) + 1), (present, acked, stream.in_flight)
        total = count_by_search(c, "hive_db", "katom-r")
        assert total == len(present)

        # Structure of a committed request survived too (relationships, not only rows).
        last = present[-1]
        table = c.get("/entity/uniqueAttribute/type/hive_table",
                      **{"attr:qualifiedName": f"{req_prefix(last)}t0@kill"})["entity"]
        db = c.get("/entity/uniqueAttribute/type/hive_db", **{"attr:qualifiedName": f"{req_prefix(last)}db@kill"})
        assert table["relationshipAttributes"]["db"]["guid"] == db["entity"]["guid"]
        assert len(table["relationshipAttributes"]["columns"]) == COLUMNS_PER_TABLE

        # The recovered store takes writes: re-send everything that was not committed.
        for i in range(len(present), N_REQUESTS):
            c.send("POST", "/entity/bulk", bodies[i])
        assert count_by_search(c, "hive_db", "katom-r") == N_REQUESTS
        assert count_by_search(c, "hive_column", "katom-r") == N_REQUESTS * COUNTS["hive_column"]
        c.close()
        server.stop()
