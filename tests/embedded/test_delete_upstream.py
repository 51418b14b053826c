"""What a delete or purge takes with it beyond owned entities, as Atlas's DeleteHandlerV1 (ATLAS-4920): a deleted
DataSet takes every Process that wrote it once none of that process's other outputs is ACTIVE, with the process's
column lineages (``addUpstreamProcessEntities``, ``isEligible``, ``getColumnLineageEntities``); a purge takes only
an already DELETED process, and one with several outputs only when it purges them all. Read back through the
in-process ASGI client; the hook's per-entity deletes through the store's consumer.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from catalog.embedded.hook_consumer import APPLIED, HookConsumer
from catalog.embedded.store import EmbeddedStore
from tests.embedded.conftest import InProcessApi, in_process_api
from tests.embedded.hook_helpers import ref, wire


class Api(InProcessApi):
    prefix = "/api/atlas/"

    def status(self, guid: str) -> str:
        r = self.client.get(f"/api/atlas/v2/entity/guid/{guid}")
        return "PURGED" if r.status_code == 404 else str(r.json()["entity"]["status"])

    def delete(self, *guids: str) -> list[str]:
        """Delete (one by guid, several in bulk); the guids of the response's DELETE list."""
        if len(guids) == 1:
            resp = self.call("DELETE", f"v2/entity/guid/{guids[0]}")
        else:
            resp = self.call("DELETE", "v2/entity/bulk", params=[("guid", g) for g in guids])
        return [h["guid"] for h in (resp.get("mutatedEntities") or {}).get("DELETE", [])]

    def purge(self, *guids: str) -> list[str]:
        resp = self.call("PUT", "admin/purge", json=list(guids))
        return [h["guid"] for h in (resp.get("mutatedEntities") or {}).get("PURGE", [])]

    def actions(self, guid: str) -> list[str]:
        """The entity's audit actions, oldest first."""
        return [e["action"] for e in reversed(self.call("GET", f"v2/entity/{guid}/audit"))]


@pytest.fixture(scope="module")
def api(store: EmbeddedStore) -> Iterator[Api]:
    yield from map(Api, in_process_api(store))


def oid(guid: str, type_name: str = "hive_table") -> dict[str, str]:
    return {"guid": guid, "typeName": type_name}


def lineage(api: Api, outputs: int = 1, inputs: int = 1, lineages: int = 1, process_type: str = "hive_process",
            dataset_type: str = "hive_table") -> dict[str, str]:
    """``in0..`` -> hive_process ``p`` -> ``out0..``, with ``lineages`` column lineages (``cl0..``) of the process;
    the tables in one hive_db ``db``. The guids by name (and ``u``, the names' suffix)."""
    u = uuid.uuid4().hex[:10]
    ents: list[dict[str, Any]] = [{"typeName": "hive_db", "guid": "-db", "attributes": {
        "qualifiedName": f"du_{u}@cm", "name": f"du_{u}", "clusterName": "cm"}}]
    names = [f"in{i}" for i in range(inputs)] + [f"out{i}" for i in range(outputs)]
    for n in names:
        ds: dict[str, Any] = {"typeName": dataset_type, "guid": f"-{n}",
                              "attributes": {"qualifiedName": f"du_{u}.{n}@cm", "name": n}}
        if dataset_type == "hive_table":
            ds["relationshipAttributes"] = {"db": oid("-db", "hive_db")}
        ents.append(ds)
    process: dict[str, Any] = {"qualifiedName": f"du_{u}.p", "name": "p",
                               "inputs": [oid(f"-in{i}", dataset_type) for i in range(inputs)],
                               "outputs": [oid(f"-out{i}", dataset_type) for i in range(outputs)]}
    if process_type == "hive_process":
        process.update({"startTime": 1, "endTime": 2, "userName": "u", "operationType": "QUERY",
                        "queryText": "insert", "queryPlan": "", "queryId": f"q_{u}"})
    ents.append({"typeName": process_type, "guid": "-p", "attributes": process})
    ents += [{"typeName": "hive_column_lineage", "guid": f"-cl{i}",
              "attributes": {"qualifiedName": f"du_{u}.p:c{i}", "name": f"c{i}", "depenendencyType": "SIMPLE"},
              "relationshipAttributes": {"query": oid("-p", "hive_process")}} for i in range(lineages)]
    ga = api.call("POST", "v2/entity/bulk", json={"entities": ents})["guidAssignments"]
    return {"u": u, **{k.lstrip("-"): v for k, v in ga.items()}}


def rewrite(api: Api, guid: str, **attrs: Any) -> None:
    """A full update of the entity with these attributes changed."""
    e = api.call("GET", f"v2/entity/guid/{guid}")["entity"]
    api.call("POST", "v2/entity", json={"entity": {"typeName": e["typeName"], "guid": guid,
                                                   "attributes": {**e["attributes"], **attrs}}})


# -- delete -----------------------------------------------------------------------------------------------------------
def test_deleting_a_process_s_only_output_deletes_the_process_and_its_column_lineages(api: Api) -> None:
    h = lineage(api, lineages=2)
    deleted = api.delete(h["out0"])
    assert sorted(deleted) == sorted([h["out0"], h["p"], h["cl0"], h["cl1"]])
    for g in ("out0", "p", "cl0", "cl1"):
        assert api.status(h[g]) == "DELETED", g
        assert api.actions(h[g]) == ["ENTITY_CREATE", "ENTITY_DELETE"], g
    # its input stays, and so does the database the tables belong to
    assert (api.status(h["in0"]), api.status(h["db"])) == ("ACTIVE", "ACTIVE")
    # the response lists the process as Atlas records it: its header, status DELETED
    resp = api.call("GET", f"v2/entity/guid/{h['p']}/header")
    assert (resp["typeName"], resp["status"]) == ("hive_process", "DELETED")


def test_a_process_with_another_active_output_stays_until_that_one_goes(api: Api) -> None:
    h = lineage(api, outputs=2)
    assert api.delete(h["out0"]) == [h["out0"]]
    assert (api.status(h["p"]), api.status(h["cl0"])) == ("ACTIVE", "ACTIVE")
    assert sorted(api.delete(h["out1"])) == sorted([h["out1"], h["p"], h["cl0"]])
    assert (api.status(h["p"]), api.status(h["cl0"])) == ("DELETED", "DELETED")


def test_outputs_deleted_in_one_request_are_still_active_while_atlas_gathers(api: Api) -> None:
    """isEligible reads each output's state before the request deletes anything: deleting all of a process's
    outputs at once leaves it ACTIVE."""
    h = lineage(api, outputs=2)
    assert sorted(api.delete(h["out0"], h["out1"])) == sorted([h["out0"], h["out1"]])
    assert api.status(h["p"]) == "ACTIVE"


def test_the_hook_deletes_entity_by_entity_so_the_last_output_takes_the_process(api: Api,
                                                                                 store: EmbeddedStore) -> None:
    """The hook consumer deletes each entity of an ENTITY_DELETE_V2 on its own (deleteByUniqueAttributes): the
    second output is by then the process's only ACTIVE one."""
    h = lineage(api, outputs=2)
    outcome = HookConsumer(store).consume(wire({"type": "ENTITY_DELETE_V2", "user": "hook", "entities": [
        ref("hive_table", f"du_{h['u']}.out{i}@cm") for i in range(2)]}))
    assert outcome.status == APPLIED, outcome.error
    assert sorted(outcome.deleted) == sorted([h["out0"], h["out1"], h["p"], h["cl0"]])
    assert api.status(h["p"]) == "DELETED"


def test_a_dataset_the_process_only_reads_does_not_take_it(api: Api) -> None:
    h = lineage(api, inputs=2)
    assert api.delete(h["in0"]) == [h["in0"]]
    assert api.status(h["p"]) == "ACTIVE"
    assert api.delete(h["in1"]) == [h["in1"]]
    assert api.status(h["p"]) == "ACTIVE"


def test_deleting_a_process_takes_its_column_lineages_not_its_outputs(api: Api) -> None:
    h = lineage(api, lineages=2)
    assert sorted(api.delete(h["p"])) == sorted([h["p"], h["cl0"], h["cl1"]])
    assert (api.status(h["out0"]), api.status(h["in0"])) == ("ACTIVE", "ACTIVE")


def test_column_lineages_already_deleted_are_listed_again(api: Api) -> None:
    """getColumnLineageEntities records a process's column lineages whatever their state: an output deleted after
    its (deleted) process lists them, and audits them, again; the deleted process itself is left out."""
    h = lineage(api, outputs=1)
    api.delete(h["p"])
    assert sorted(api.delete(h["out0"])) == sorted([h["out0"], h["cl0"]])
    assert api.actions(h["cl0"]) == ["ENTITY_CREATE", "ENTITY_DELETE", "ENTITY_DELETE"]
    assert api.actions(h["p"]) == ["ENTITY_CREATE", "ENTITY_DELETE"]


def test_a_replaced_output_counts_while_it_is_active(api: Api) -> None:
    """isEligible walks every outputs edge of the process, deleted ones too: an output the process no longer
    names keeps it while that dataset is ACTIVE."""
    h = lineage(api, outputs=2)
    rewrite(api, h["p"], outputs=[oid(h["out1"])])
    assert [o["guid"] for o in api.call("GET", f"v2/entity/guid/{h['p']}")["entity"]["relationshipAttributes"]
            ["outputs"] if o["relationshipStatus"] == "ACTIVE"] == [h["out1"]]
    assert api.delete(h["out1"]) == [h["out1"]]
    assert api.status(h["p"]) == "ACTIVE"
    assert sorted(api.delete(h["out0"])) == sorted([h["out0"], h["p"], h["cl0"]])


def test_only_a_type_naming_dataset_among_its_own_supertypes_takes_its_writers(api: Api) -> None:
    """AtlasEntityDef.hasSuperType reads the type's own superTypes: a DataSet instance (its supertype is Asset)
    leaves its writer, a hive_table (superTypes DataSet) takes any Process that wrote it."""
    plain = lineage(api, process_type="Process", dataset_type="DataSet", lineages=0)
    assert api.delete(plain["out0"]) == [plain["out0"]]
    assert api.status(plain["p"]) == "ACTIVE"
    generic = lineage(api, process_type="Process", lineages=0)
    assert sorted(api.delete(generic["out0"])) == sorted([generic["out0"], generic["p"]])


def test_the_process_s_own_classification_goes_as_on_any_delete(api: Api) -> None:
    """The process is deleted as any entity is: its classifications read entityStatus DELETED, and one with
    removePropagationsOnEntityDelete takes its propagations (to what its output feeds) with it."""
    tag = f"DU_{uuid.uuid4().hex[:8]}"
    api.call("POST", "v2/types/typedefs", json={"classificationDefs": [{"name": tag, "attributeDefs": []}]})
    h = lineage(api)
    downstream = lineage(api, inputs=0, lineages=0)
    rewrite(api, downstream["p"], inputs=[oid(h["out0"])])
    api.call("POST", f"v2/entity/guid/{h['p']}/classifications",
             status=204, json=[{"typeName": tag, "propagate": True, "removePropagationsOnEntityDelete": True}])
    far = downstream["out0"]

    def tags(guid: str) -> list[tuple[str, str]]:
        got = api.call("GET", f"v2/entity/guid/{guid}")["entity"].get("classifications") or []
        return [(c["entityGuid"], c["entityStatus"]) for c in got if c["typeName"] == tag]

    assert tags(far) == [(h["p"], "ACTIVE")]
    api.delete(h["out0"])
    assert tags(h["p"]) == [(h["p"], "DELETED")]
    assert tags(far) == []
    assert api.actions(far)[-1] == "PROPAGATED_CLASSIFICATION_DELETE"


# -- purge ------------------------------------------------------------------------------------------------------------
def test_purging_a_deleted_process_s_only_output_purges_the_process(api: Api) -> None:
    h = lineage(api)
    api.delete(h["out0"])
    assert sorted(api.purge(h["out0"])) == sorted([h["out0"], h["p"], h["cl0"]])
    for g in ("out0", "p", "cl0"):
        assert api.status(h[g]) == "PURGED", g
        assert api.actions(h[g])[-1] == "ENTITY_PURGE", g
    assert api.status(h["in0"]) == "ACTIVE"


def test_a_purge_passes_an_active_process_by(api: Api) -> None:
    h = lineage(api, outputs=2)
    api.delete(h["out0"])
    assert api.purge(h["out0"]) == [h["out0"]]
    assert api.status(h["p"]) == "ACTIVE"


def test_a_process_with_several_outputs_is_purged_with_all_of_them(api: Api) -> None:
    both = lineage(api, outputs=2)
    for g in ("out0", "out1"):
        api.delete(both[g])
    assert api.status(both["p"]) == "DELETED"
    assert sorted(api.purge(both["out0"], both["out1"])) == sorted([both["out0"], both["out1"], both["p"],
                                                                   both["cl0"]])
    one = lineage(api, outputs=2)
    for g in ("out0", "out1"):
        api.delete(one[g])
    assert api.purge(one["out0"]) == [one["out0"]]
    assert api.status(one["p"]) == "DELETED"
    # the purged output is gone from the graph: the other is now the process's only one
    assert sorted(api.purge(one["out1"])) == sorted([one["out1"], one["p"], one["cl0"]])


def test_a_purge_takes_the_deleted_entities_an_entity_owns(api: Api) -> None:
    """getOwnedVertices on purge: the DELETED entities along DELETED COMPOSITION relationships."""
    u = uuid.uuid4().hex[:10]
    ents = [{"typeName": "hive_db", "guid": "-db", "attributes": {"qualifiedName": f"do_{u}@cm", "name": "d",
                                                                   "clusterName": "cm"}},
            {"typeName": "hive_table", "guid": "-t", "attributes": {"qualifiedName": f"do_{u}.t@cm", "name": "t"},
             "relationshipAttributes": {"db": oid("-db", "hive_db")}},
            *({"typeName": "hive_column", "guid": f"-c{i}",
               "attributes": {"qualifiedName": f"do_{u}.t.c{i}@cm", "name": f"c{i}", "type": "int"},
               "relationshipAttributes": {"table": oid("-t")}} for i in range(2))]
    ga = api.call("POST", "v2/entity/bulk", json={"entities": ents})["guidAssignments"]
    api.delete(ga["-c0"])  # deleted on its own first: its relationship to the table is DELETED all the same
    api.delete(ga["-t"])
    assert sorted(api.purge(ga["-t"])) == sorted([ga["-t"], ga["-c0"], ga["-c1"]])
    assert api.status(ga["-db"]) == "ACTIVE"
