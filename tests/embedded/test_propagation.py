"""Classification propagation (``catalog.embedded.propagation``), driven the way Atlas users drive it: the official
client over real HTTP against the session server, plus the store itself for what no REST call reaches (the hook
consumer's default, a fan-out of thousands).

Expected behaviour is Atlas's (EntityGraphMapper, DeleteHandlerV1, EntityGraphRetriever.traverseImpactedVertices,
ClassificationPropagationTest): a classification added without ``propagate`` propagates; it reaches every entity
downstream along relationships whose ``propagateTags`` allows the direction (lineage: table -> process -> what the
process writes), listed among their classifications with the source's ``entityGuid``, named in headers, found by
search and shown in lineage headers; removing it or turning ``propagate`` off takes it back; deleting its entity
takes it back only with ``removePropagationsOnEntityDelete``; a new relationship passes on what its end carries; a
deleted one keeps what it passed on (soft delete); each change is audited on the entities it reaches.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import requests
from apache_atlas.client.base_client import AtlasClient
from apache_atlas.model.glossary import AtlasGlossary, AtlasGlossaryTerm
from apache_atlas.model.instance import AtlasClassification, AtlasRelatedObjectId
from apache_atlas.model.relationship import AtlasRelationship
from apache_atlas.model.typedef import AtlasClassificationDef, AtlasTypesDef

from catalog.embedded import propagation
from catalog.embedded.classifications import remove_classification
from catalog.embedded.store import EmbeddedStore
from tests.conftest import ATLAS_PASSWORD, ATLAS_USER, start_atlas
from tests.embedded.official_client_helpers import T0, bulk, entity, expect_error, ref, suffix
from tests.embedded.test_wire import assert_golden
from typedefs import load_bundled_typedefs

AUTH = (ATLAS_USER, ATLAS_PASSWORD)


@pytest.fixture(scope="module")
def tag(client: AtlasClient) -> dict[str, str]:
    """Classification types of this module: PII, Secret (with an attribute), Restricted (DataSets only)."""
    uid = suffix()
    names = {"PII": f"PII_{uid}", "Secret": f"Secret_{uid}", "Restricted": f"Restricted_{uid}"}
    client.typedef.create_atlas_typedefs(AtlasTypesDef({"classificationDefs": [
        AtlasClassificationDef({"name": names["PII"], "attributeDefs": []}),
        AtlasClassificationDef({"name": names["Secret"], "attributeDefs": [
            {"name": "level", "typeName": "string", "isOptional": True, "cardinality": "SINGLE"}]}),
        AtlasClassificationDef({"name": names["Restricted"], "attributeDefs": [], "entityTypes": ["DataSet"]}),
    ]}))
    return names


def chain(client: AtlasClient) -> dict[str, str]:
    """T1 -> P1 (hive_process) -> T2 -> P2 (train, also reading the project PJ) -> B -> P3 (deploy) -> Y, the tables
    in a database DB (hive_table_db does not propagate)."""
    uid = suffix()
    db = entity("hive_db", {"qualifiedName": f"pg_{uid}@cm", "name": f"pg_{uid}", "clusterName": "cm"})
    t1, t2 = (entity("hive_table", {"qualifiedName": f"pg_{uid}.{n}@cm", "name": n, "createTime": T0},
                     {"db": ref(db.guid)}) for n in ("src", "mid"))
    p1 = entity("hive_process", {"qualifiedName": f"pg_{uid}.mid@cm:{T0}", "name": "insert", "startTime": T0,
                                 "endTime": T0 + 1, "userName": "hive", "operationType": "QUERY",
                                 "queryText": "insert", "queryPlan": "Not Supported", "queryId": f"q{uid}",
                                 "inputs": [ref(t1.guid)], "outputs": [ref(t2.guid)]})
    pj = entity("ml_project", {"qualifiedName": f"crn:pg{uid}:project", "name": "pj"})
    b = entity("ml_model_build", {"qualifiedName": f"crn:pg{uid}:build", "name": "b", "version": 1},
               {"project": ref(pj.guid)})
    p2 = entity("ml_model_train_build_process", {"qualifiedName": f"crn:pg{uid}:build:train", "name": "train",
                                                 "userName": "u", "inputs": [ref(t2.guid), ref(pj.guid)],
                                                 "outputs": [ref(b.guid)]})
    y = entity("ml_model_deployment", {"qualifiedName": f"crn:pg{uid}:dep", "name": "dep", "createTime": T0,
                                       "deployedTime": T0, "status": "deployed", "cpuMillicores": 500},
               {"build": ref(b.guid)})
    p3 = entity("ml_model_deploy_process", {"qualifiedName": f"crn:pg{uid}:dep:deploy", "name": "deploy",
                                            "userName": "u"}, {"inputs": [ref(b.guid)], "outputs": [ref(y.guid)]})
    ga = client.entity.create_entities(bulk(db, t1, t2, p1, pj, b, p2, y, p3)).guidAssignments
    keys = {"DB": db, "T1": t1, "T2": t2, "P1": p1, "PJ": pj, "B": b, "P2": p2, "Y": y, "P3": p3}
    return {k: ga[e.guid] for k, e in keys.items()} | {"uid": uid}


DOWNSTREAM = ("P1", "T2", "P2", "B", "P3", "Y")


def classify(client: AtlasClient, guid: str, name: str, **extra: Any) -> None:
    client.entity.add_classifications_by_guid(guid, [AtlasClassification({"typeName": name, **extra})])


def entity_json(atlas_url: str, guid: str) -> dict[str, Any]:
    r = requests.get(f"{atlas_url}/api/atlas/v2/entity/guid/{guid}", auth=AUTH, timeout=30)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()["entity"]
    return body


def tags(client: AtlasClient, guid: str) -> set[tuple[str, str]]:
    """(type, entityGuid) of every classification the entity carries, own and propagated."""
    found = client.entity.get_entity_by_guid(guid).entity.classifications or []
    return {(c.typeName, c.entityGuid) for c in found}


def audits(client: AtlasClient, guid: str, action: str) -> list[str]:
    return [e["details"] for e in client.entity.get_audit_events(guid, None, action, 100) or []]


# -- adding: where it goes ----------------------------------------------------------------------------------------
def test_a_tag_on_a_table_reaches_everything_downstream(client: AtlasClient, atlas_url: str,
                                                       tag: dict[str, str]) -> None:
    c = chain(client)
    classify(client, c["T1"], tag["PII"])  # no propagate given: Atlas's REST default is true
    for k in DOWNSTREAM:
        assert tags(client, c[k]) == {(tag["PII"], c["T1"])}, k
    # not upstream, not over relationships that do not propagate (the table's db), not to the project
    for k in ("DB", "PJ"):
        assert tags(client, c[k]) == set(), k
    assert tags(client, c["T1"]) == {(tag["PII"], c["T1"])}
    own = client.entity.get_classifications(c["T1"]).list
    assert [(x.typeName, x.propagate, x.removePropagationsOnEntityDelete) for x in own] == [(tag["PII"], True, False)]


def test_a_propagated_classification_on_the_wire(client: AtlasClient, atlas_url: str, tag: dict[str, str]) -> None:
    c = chain(client)
    classify(client, c["T1"], tag["PII"])
    y = entity_json(atlas_url, c["Y"])
    assert y["classifications"] == [{"typeName": tag["PII"], "attributes": {}, "entityGuid": c["T1"],
                                     "entityStatus": "ACTIVE", "propagate": True,
                                     "removePropagationsOnEntityDelete": False, "validityPeriods": []}]
    assert_golden("propagated_classification", y["classifications"][0])
    listed = requests.get(f"{atlas_url}/api/atlas/v2/entity/guid/{c['Y']}/classifications", auth=AUTH,
                          timeout=30).json()
    assert [x["entityGuid"] for x in listed["list"]] == [c["T1"]] and listed["totalCount"] == 1
    header = client.entity.get_entity_header_by_guid(c["Y"])
    assert header.classificationNames == [tag["PII"]]
    assert [x.entityGuid for x in header.classifications] == [c["T1"]]


def test_search_and_lineage_show_propagated_classifications(client: AtlasClient, tag: dict[str, str]) -> None:
    c = chain(client)
    mine = f"pg{c['uid']}"  # full text: this chain's entities only
    found = client.discovery.basic_search("ml_model_deployment", tag["PII"], mine, True)
    assert not found.entities
    classify(client, c["T1"], tag["PII"])
    found = client.discovery.basic_search("ml_model_deployment", tag["PII"], mine, True)
    hits = {e.guid: e for e in found.entities or []}
    assert set(hits) == {c["Y"]}
    assert hits[c["Y"]].classificationNames == [tag["PII"]]
    classified = client.discovery.basic_search("ml_model_build", "_CLASSIFIED", mine, True)
    assert {e.guid for e in classified.entities or []} == {c["B"]}
    unclassified = client.discovery.basic_search("ml_project", "_NOT_CLASSIFIED", mine, True)
    assert {e.guid for e in unclassified.entities or []} == {c["PJ"]}
    lin = client.lineage.get_lineage_info(c["Y"], "INPUT", 0)
    names = {g: h.classificationNames for g, h in lin.guidEntityMap.items()}
    assert names == {c[k]: [tag["PII"]] for k in ("T1", *DOWNSTREAM)} | {c["PJ"]: []}


def test_dsl_quick_and_full_text_search_see_propagated_classifications(client: AtlasClient, atlas_url: str,
                                                                       tag: dict[str, str]) -> None:
    """The classifiedAs edge a propagation makes is what DSL ``isa``/``has`` and the index behind quick and full-text
    search follow, so a propagated tag is found there as a direct one is."""
    c = chain(client)
    classify(client, c["T1"], tag["PII"])
    uid = c["uid"]
    dsl = client.discovery.dsl_search(f'ml_model_deployment isa {tag["PII"]} where qualifiedName = "crn:pg{uid}:dep"')
    assert {e.guid for e in dsl.entities or []} == {c["Y"]}
    untagged = client.discovery.dsl_search(f'ml_project isa {tag["PII"]} where qualifiedName = "crn:pg{uid}:project"')
    assert not untagged.entities
    quick = requests.get(f"{atlas_url}/api/atlas/v2/search/quick", auth=AUTH, timeout=30,
                         params={"query": f"pg{uid}", "typeName": "ml_model_deployment"}).json()
    assert [h["guid"] for h in quick["searchResults"]["entities"]] == [c["Y"]]
    full = requests.get(f"{atlas_url}/api/atlas/v2/search/fulltext", auth=AUTH, timeout=30,
                        params={"query": tag["PII"], "limit": "1000"}).json()
    assert c["Y"] in {r["entity"]["guid"] for r in full["fullTextResult"]}


def test_the_same_tag_from_two_sources_is_listed_twice(client: AtlasClient, tag: dict[str, str]) -> None:
    c = chain(client)
    classify(client, c["T1"], tag["PII"])
    classify(client, c["T2"], tag["PII"])
    assert tags(client, c["Y"]) == {(tag["PII"], c["T1"]), (tag["PII"], c["T2"])}
    assert tags(client, c["T2"]) == {(tag["PII"], c["T1"]), (tag["PII"], c["T2"])}
    assert client.entity.get_entity_header_by_guid(c["Y"]).classificationNames == [tag["PII"]] * 2
    # own first, whatever the names
    assert [x.entityGuid for x in client.entity.get_classifications(c["T2"]).list] == [c["T2"], c["T1"]]
    client.entity.delete_classification(c["T2"], tag["PII"])
    assert tags(client, c["Y"]) == {(tag["PII"], c["T1"])}


def test_propagate_false_stays_on_its_entity(client: AtlasClient, tag: dict[str, str]) -> None:
    c = chain(client)
    classify(client, c["T1"], tag["PII"], propagate=False)
    assert tags(client, c["P1"]) == set() and tags(client, c["Y"]) == set()


def test_propagate_tags_directions(client: AtlasClient, tag: dict[str, str]) -> None:
    """Lineage carries tags downstream only (inputs TWO_TO_ONE, outputs ONE_TO_TWO); a build's tag reaches its
    deployments, not the table it was trained on; hive_table_db (NONE) carries nothing either way."""
    c = chain(client)
    classify(client, c["B"], tag["PII"])
    assert {k for k in c if k != "uid" and tags(client, c[k])} == {"B", "P3", "Y"}
    classify(client, c["DB"], tag["Secret"])
    assert all((tag["Secret"], c["DB"]) not in tags(client, c[k]) for k in ("T1", "T2", "Y"))


def test_a_type_restricted_tag_skips_processes_but_goes_through_them(client: AtlasClient,
                                                                     tag: dict[str, str]) -> None:
    c = chain(client)
    classify(client, c["T1"], tag["Restricted"])
    assert tags(client, c["P1"]) == set() and tags(client, c["P3"]) == set()
    for k in ("T2", "B", "Y"):
        assert tags(client, c[k]) == {(tag["Restricted"], c["T1"])}, k


def test_a_propagated_classification_sent_back_is_ignored(client: AtlasClient, tag: dict[str, str]) -> None:
    c = chain(client)
    classify(client, c["T1"], tag["PII"])
    classify(client, c["Y"], tag["PII"], entityGuid=c["T1"], propagate=True)
    assert tags(client, c["Y"]) == {(tag["PII"], c["T1"])}


# -- taking it back -----------------------------------------------------------------------------------------------
def test_removing_the_tag_removes_its_propagations(client: AtlasClient, tag: dict[str, str]) -> None:
    c = chain(client)
    classify(client, c["T1"], tag["PII"])
    client.entity.delete_classification(c["T1"], tag["PII"])
    for k in ("T1", *DOWNSTREAM):
        assert tags(client, c[k]) == set(), k
    assert audits(client, c["Y"], "PROPAGATED_CLASSIFICATION_DELETE") == [
        f"Deleted propagated classification: {tag['PII']}"]
    assert audits(client, c["T1"], "CLASSIFICATION_DELETE") == [f"Deleted classification: {tag['PII']}"]
    # a propagated classification is not the entity's to remove
    expect_error(404, "ATLAS-404-00-003", client.entity.delete_classification, c["Y"], tag["PII"])


def test_update_turning_propagate_off_and_on(client: AtlasClient, tag: dict[str, str]) -> None:
    c = chain(client)
    classify(client, c["T1"], tag["PII"])
    client.entity.update_classifications(c["T1"], [AtlasClassification({"typeName": tag["PII"], "propagate": False})])
    assert tags(client, c["Y"]) == set() and tags(client, c["T1"]) == {(tag["PII"], c["T1"])}
    # an update without propagate leaves it as it is
    client.entity.update_classifications(c["T1"], [AtlasClassification({"typeName": tag["PII"]})])
    assert tags(client, c["Y"]) == set()
    client.entity.update_classifications(c["T1"], [AtlasClassification({"typeName": tag["PII"], "propagate": True})])
    assert tags(client, c["Y"]) == {(tag["PII"], c["T1"])}
    deleted = audits(client, c["Y"], "PROPAGATED_CLASSIFICATION_DELETE")
    added = audits(client, c["Y"], "PROPAGATED_CLASSIFICATION_ADD")
    assert len(deleted) == 1 and len(added) == 2


def test_updating_the_source_updates_every_propagation(client: AtlasClient, atlas_url: str,
                                                       tag: dict[str, str]) -> None:
    c = chain(client)
    classify(client, c["T1"], tag["Secret"], attributes={"level": "low"})
    client.entity.update_classifications(c["T1"], [AtlasClassification({"typeName": tag["Secret"],
                                                                         "attributes": {"level": "high"}})])
    y = entity_json(atlas_url, c["Y"])
    assert [(x["entityGuid"], x["attributes"]) for x in y["classifications"]] == [(c["T1"], {"level": "high"})]
    updated = audits(client, c["Y"], "PROPAGATED_CLASSIFICATION_UPDATE")
    assert len(updated) == 1 and updated[0].startswith("Updated propagated classification: {")
    assert '"high"' in updated[0]
    added = audits(client, c["P1"], "PROPAGATED_CLASSIFICATION_ADD")
    assert len(added) == 1 and added[0].startswith("Added propagated classification: {")
    assert f'"entityGuid":"{c["T1"]}"' in added[0]


def test_deleting_the_source_keeps_propagations_by_default(client: AtlasClient, atlas_url: str,
                                                           tag: dict[str, str]) -> None:
    """Atlas's default removePropagationsOnEntityDelete is false (atlas.graph.remove.propagations.default): the
    propagations stay and say their entity is DELETED."""
    c = chain(client)
    classify(client, c["T1"], tag["PII"])
    client.entity.delete_entity_by_guid(c["T1"])
    y = entity_json(atlas_url, c["Y"])
    assert [(x["entityGuid"], x["entityStatus"]) for x in y["classifications"]] == [(c["T1"], "DELETED")]
    assert audits(client, c["Y"], "PROPAGATED_CLASSIFICATION_DELETE") == []


def test_deleting_the_source_with_remove_propagations(client: AtlasClient, tag: dict[str, str]) -> None:
    c = chain(client)
    classify(client, c["T1"], tag["PII"], removePropagationsOnEntityDelete=True)
    classify(client, c["T2"], tag["Secret"])
    assert tags(client, c["Y"]) == {(tag["PII"], c["T1"]), (tag["Secret"], c["T2"])}
    client.entity.delete_entity_by_guid(c["T1"])
    assert tags(client, c["Y"]) == {(tag["Secret"], c["T2"])}
    assert tags(client, c["P1"]) == set()
    assert audits(client, c["Y"], "PROPAGATED_CLASSIFICATION_DELETE") == [
        f"Deleted propagated classification: {tag['PII']}"]


def test_deleting_an_entity_in_the_middle_keeps_what_passed_through(client: AtlasClient,
                                                                    tag: dict[str, str]) -> None:
    """ClassificationPropagationTest.addClassification_removePropagationsFalse_DeleteCase: the process deleted, the
    table after it keeps the tag; a tag added afterwards no longer gets through."""
    c = chain(client)
    classify(client, c["T1"], tag["PII"])
    client.entity.delete_entity_by_guid(c["P1"])
    assert tags(client, c["T2"]) == {(tag["PII"], c["T1"])}
    classify(client, c["T1"], tag["Secret"])
    assert tags(client, c["T2"]) == {(tag["PII"], c["T1"])}


def test_purging_the_source_removes_its_propagations(client: AtlasClient, tag: dict[str, str]) -> None:
    c = chain(client)
    classify(client, c["T1"], tag["PII"])
    client.entity.delete_entity_by_guid(c["T1"])
    client.entity.purge_entities_by_guids([c["T1"]])
    assert tags(client, c["Y"]) == set()
    assert audits(client, c["Y"], "PROPAGATED_CLASSIFICATION_DELETE") == [
        f"Deleted propagated classification: {tag['PII']}"]


# -- relationships ------------------------------------------------------------------------------------------------
def test_a_new_lineage_edge_carries_tags_downstream(client: AtlasClient, tag: dict[str, str]) -> None:
    """Entities created later below a tagged table get its tag, as does everything a new relationship leads to."""
    c = chain(client)
    classify(client, c["T1"], tag["PII"])
    # a second deployment of the build: its deploy process and relationships are new
    uid = c["uid"]
    y2 = entity("ml_model_deployment", {"qualifiedName": f"crn:pg{uid}:dep2", "name": "dep2", "createTime": T0,
                                        "deployedTime": T0, "status": "deployed", "cpuMillicores": 500},
                {"build": ref(c["B"])})
    p4 = entity("ml_model_deploy_process", {"qualifiedName": f"crn:pg{uid}:dep2:deploy", "name": "deploy2",
                                            "userName": "u", "inputs": [ref(c["B"])], "outputs": [ref(y2.guid)]})
    ga = client.entity.create_entities(bulk(y2, p4)).guidAssignments
    assert tags(client, ga[y2.guid]) == {(tag["PII"], c["T1"])}
    # a tagged table linked into the lineage by POST relationship: its tag reaches everything downstream
    other = chain(client)
    classify(client, other["T1"], tag["Secret"])
    rel = client.relationship.create_relationship(AtlasRelationship({
        "typeName": "dataset_process_inputs", "end1": {"guid": c["P1"]}, "end2": {"guid": other["T1"]}}))
    assert rel.propagateTags == "TWO_TO_ONE"
    assert [(x.typeName, x.entityGuid) for x in rel.propagatedClassifications] == [(tag["Secret"], other["T1"])]
    for k in DOWNSTREAM:
        assert tags(client, c[k]) == {(tag["PII"], c["T1"]), (tag["Secret"], other["T1"])}, k
    assert tags(client, ga[y2.guid]) == {(tag["PII"], c["T1"]), (tag["Secret"], other["T1"])}
    # deleting it keeps what it passed on (Atlas's soft delete) but it carries nothing new
    client.relationship.delete_relationship_by_guid(rel.guid)
    assert (tag["Secret"], other["T1"]) in tags(client, c["Y"])
    classify(client, other["T1"], tag["PII"])
    assert (tag["PII"], other["T1"]) not in tags(client, c["P1"])


def test_a_relationship_in_the_same_request_as_the_tag(client: AtlasClient, tag: dict[str, str]) -> None:
    """One request creating a tagged table, a process reading it and the table it writes."""
    uid = suffix()
    src = entity("hive_table", {"qualifiedName": f"one_{uid}.src@cm", "name": "src"})
    src.classifications = [AtlasClassification({"typeName": tag["PII"]})]
    dst = entity("hive_table", {"qualifiedName": f"one_{uid}.dst@cm", "name": "dst"})
    proc = entity("hive_process", {"qualifiedName": f"one_{uid}:p", "name": "p", "startTime": T0, "endTime": T0,
                                   "userName": "u", "operationType": "QUERY", "queryText": "q",
                                   "queryPlan": "Not Supported", "queryId": "q", "inputs": [ref(src.guid)],
                                   "outputs": [ref(dst.guid)]})
    ga = client.entity.create_entities(bulk(dst, proc, src)).guidAssignments
    assert tags(client, ga[dst.guid]) == {(tag["PII"], ga[src.guid])}
    assert tags(client, ga[proc.guid]) == {(tag["PII"], ga[src.guid])}


def _put_relationship(atlas_url: str, body: dict[str, Any]) -> requests.Response:
    # the official client's update_relationship sends the body as query parameters (a client bug)
    return requests.put(f"{atlas_url}/api/atlas/v2/relationship", json=body, auth=AUTH, timeout=30)


def test_updating_propagate_tags_of_a_relationship(client: AtlasClient, atlas_url: str,
                                                   tag: dict[str, str]) -> None:
    """ClassificationPropagationTest.updatePropagateTagsValue: NONE stops what went through, the type's value
    brings it back; another value than the type's is refused unless the type's is BOTH."""
    c = chain(client)
    classify(client, c["T1"], tag["PII"])
    classify(client, c["PJ"], tag["Secret"])
    training = next(r for r in entity_json(atlas_url, c["P2"])["relationshipAttributes"]["inputs"]
                    if r["guid"] == c["T2"])["relationshipGuid"]
    r = _put_relationship(atlas_url, {"guid": training, "typeName": "dataset_process_inputs", "propagateTags": "NONE"})
    assert r.status_code == 200, r.text
    assert r.json()["propagateTags"] == "NONE" and r.json()["propagatedClassifications"] == []
    assert tags(client, c["T2"]) == {(tag["PII"], c["T1"])}
    for k in ("P2", "B", "Y"):
        assert tags(client, c[k]) == {(tag["Secret"], c["PJ"])}, k  # the project's still comes the other way
    r = _put_relationship(atlas_url, {"guid": training, "typeName": "dataset_process_inputs",
                                      "propagateTags": "TWO_TO_ONE"})
    assert r.status_code == 200, r.text
    assert tags(client, c["Y"]) == {(tag["PII"], c["T1"]), (tag["Secret"], c["PJ"])}
    r = _put_relationship(atlas_url, {"guid": training, "typeName": "dataset_process_inputs", "propagateTags": "BOTH"})
    assert r.status_code == 400 and "Invalid propagation BOTH" in r.json()["errorMessage"], r.text
    created = requests.post(f"{atlas_url}/api/atlas/v2/relationship", auth=AUTH, timeout=30, json={
        "typeName": "dataset_process_inputs", "end1": {"guid": c["P3"]}, "end2": {"guid": c["T1"]},
        "propagateTags": "ONE_TO_TWO"})
    assert created.status_code == 400, created.text


def test_a_glossary_terms_tag_reaches_the_entities_it_is_assigned_to(tmp_path: Path) -> None:
    """AtlasGlossarySemanticAssignment propagates ONE_TO_TWO, term to entity ("Glossary" in Atlas's
    ClassificationPropagation docs). A server of its own: the first glossary installs the glossary model."""
    server = start_atlas(tmp_path / "glossary")
    try:
        gclient = AtlasClient(server.url, AUTH)
        gclient.typedef.create_atlas_typedefs(AtlasTypesDef({"classificationDefs": [
            AtlasClassificationDef({"name": "Sensitive", "attributeDefs": []})]}))
        c = chain(gclient)
        g = gclient.glossary.create_glossary(AtlasGlossary({"name": f"g_{suffix()}"}))
        t = gclient.glossary.create_glossary_term(AtlasGlossaryTerm({"name": "customer",
                                                                      "anchor": {"glossaryGuid": g.guid}}))
        classify(gclient, t.guid, "Sensitive")
        gclient.glossary.assign_term_to_entities(t.guid, [AtlasRelatedObjectId({"guid": c["T2"]})])
        for k in ("T2", "P2", "B", "Y"):
            assert tags(gclient, c[k]) == {("Sensitive", t.guid)}, k
        assert tags(gclient, c["T1"]) == set()
    finally:
        server.stop()


# -- the store itself -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def store(store: EmbeddedStore) -> EmbeddedStore:
    """conftest's, with a classification type."""
    store.typedefs.create({"classificationDefs": [{"name": "PII", "attributeDefs": []}]}, "admin")
    return store


def _table(qn: str) -> dict[str, Any]:
    return {"typeName": "hive_table", "attributes": {"qualifiedName": qn, "name": qn}}


def _process(qn: str, inputs: list[str], outputs: list[str]) -> dict[str, Any]:
    return {"typeName": "hive_process", "attributes": {
        "qualifiedName": qn, "name": qn, "startTime": T0, "endTime": T0, "userName": "u", "operationType": "QUERY",
        "queryText": "q", "queryPlan": "p", "queryId": qn, "inputs": [{"guid": g} for g in inputs],
        "outputs": [{"guid": g} for g in outputs]}}


def _own_and_propagated(store: EmbeddedStore, guid: str) -> set[tuple[str, str]]:
    return {(c["typeName"], c["entityGuid"]) for c in store.get_classifications(guid)["list"]}


def test_hook_notifications_add_tags_that_do_not_propagate(store: EmbeddedStore) -> None:
    """Atlas's notification consumer (and import) take an absent ``propagate`` as false."""
    uid = suffix()
    t = {**_table(f"hook_{uid}.t@cm"), "guid": "-1", "classifications": [{"typeName": "PII"}]}
    out = {**_table(f"hook_{uid}.o@cm"), "guid": "-2"}
    with propagation.notification_processing():
        ga = store.create_or_update([t, out, {**_process(f"hook_{uid}:p", ["-1"], ["-2"]), "guid": "-3"}], None,
                                    "hook")["guidAssignments"]
    assert [c["propagate"] for c in store.get_classifications(ga["-1"])["list"]] == [False]
    assert _own_and_propagated(store, ga["-2"]) == set()
    assert propagation.default_propagate() is True


def test_thousands_downstream_stay_fast(store: EmbeddedStore) -> None:
    """A table read by 2,000 processes, each writing a table of its own: tagging it, linking one more process
    below it and removing the tag each take one transaction of linear work."""
    uid = suffix()
    n = 2000
    src = store.create_or_update([_table(f"fan_{uid}.src@cm")], None, "u")["mutatedEntities"]["CREATE"][0]["guid"]
    entities: list[dict[str, Any]] = []
    for i in range(n):
        entities.append({**_table(f"fan_{uid}.out{i}@cm"), "guid": f"-{2 * i + 1}"})
        entities.append({**_process(f"fan_{uid}:p{i}", [src], [f"-{2 * i + 1}"]), "guid": f"-{2 * i + 2}"})
    ga = store.create_or_update(entities, None, "u")["guidAssignments"]
    outputs = [ga[f"-{2 * i + 1}"] for i in range(n)]
    started = time.monotonic()
    store.add_classifications(src, [{"typeName": "PII"}], "u")
    tagged = time.monotonic() - started
    conn = store.db.reader()
    assert conn.execute("SELECT COUNT(*) FROM propagated_classification WHERE source_guid = ?",
                        (src,)).fetchone()[0] == 2 * n
    assert _own_and_propagated(store, outputs[-1]) == {("PII", src)}
    started = time.monotonic()
    more = store.create_or_update([{**_table(f"fan_{uid}.late@cm"), "guid": "-1"},
                                   {**_process(f"fan_{uid}:late", [outputs[0]], ["-1"]), "guid": "-2"}], None, "u")
    linked = time.monotonic() - started
    assert _own_and_propagated(store, more["guidAssignments"]["-1"]) == {("PII", src)}
    started = time.monotonic()
    remove_classification(store, src, "PII", "u")
    removed = time.monotonic() - started
    assert conn.execute("SELECT COUNT(*) FROM propagated_classification WHERE source_guid = ?",
                        (src,)).fetchone()[0] == 0
    # generous bounds: a quadratic walk would take minutes here, the linear one well under a second each
    assert tagged < 20 and linked < 2 and removed < 20, (tagged, linked, removed)


def test_a_relationship_removed_for_good(store: EmbeddedStore) -> None:
    """DeleteHandlerV1.removeTagPropagation(edge): what only that relationship carried goes, for classifications
    with removePropagationsOnEntityDelete; the others keep their propagations."""
    uid = suffix()
    ga = store.create_or_update([{**_table(f"gone_{uid}.a@cm"), "guid": "-1"}, {**_table(f"gone_{uid}.b@cm"),
                                                                                "guid": "-2"},
                                 {**_process(f"gone_{uid}:p", ["-1"], ["-2"]), "guid": "-3"}], None, "u")
    a, b, p = (ga["guidAssignments"][k] for k in ("-1", "-2", "-3"))
    store.typedefs.create({"classificationDefs": [{"name": f"Kept_{uid}", "attributeDefs": []}]}, "admin")
    store.add_classifications(a, [{"typeName": "PII", "removePropagationsOnEntityDelete": True},
                                  {"typeName": f"Kept_{uid}"}], "u")
    assert _own_and_propagated(store, b) == {("PII", a), (f"Kept_{uid}", a)}
    rel = store.db.reader().execute("SELECT guid FROM relationship WHERE end1 = ? AND end2 = ?", (p, a)).fetchone()[0]
    with store.db.write() as conn:
        propagation.relationship_purged(conn, store.registry, rel)
        conn.execute("DELETE FROM relationship WHERE guid = ?", (rel,))
    assert _own_and_propagated(store, b) == {(f"Kept_{uid}", a)}
    assert _own_and_propagated(store, p) == {(f"Kept_{uid}", a)}


def test_a_store_written_before_gets_the_propagations_atlas_would_have_made(tmp_path: Path) -> None:
    """Migration 7 on a store of schema 6: every classification with ``propagate`` reaches what it impacts along
    ACTIVE relationships (a type-restricted one only entities of its types), and deleted entities' classifications
    say DELETED."""
    s = EmbeddedStore(tmp_path / "old", load_bundled_typedefs())
    s.typedefs.create({"classificationDefs": [{"name": "PII", "attributeDefs": []},
                                              {"name": "Tables", "attributeDefs": [], "entityTypes": ["DataSet"]}]},
                      "admin")
    ga = s.create_or_update([{**_table("old.a@cm"), "guid": "-1"}, {**_table("old.b@cm"), "guid": "-2"},
                             {**_table("old.c@cm"), "guid": "-3"}, {**_table("old.gone@cm"), "guid": "-5"},
                             {**_process("old:p", ["-1"], ["-2"]), "guid": "-4"},
                             {**_process("old:q", ["-5"], ["-3"]), "guid": "-6"}], None, "u")["guidAssignments"]
    s.add_classifications(ga["-1"], [{"typeName": "PII"}, {"typeName": "Tables"}], "u")
    s.add_classifications(ga["-2"], [{"typeName": "PII", "propagate": False}], "u")
    s.add_classifications(ga["-5"], [{"typeName": "PII"}], "u")
    s.delete([ga["-5"]], "u")
    sql = "SELECT entity_guid, type_name, source_guid FROM propagated_classification ORDER BY 1, 2, 3"
    made = s.db.reader().execute(sql).fetchall()
    assert ((ga["-4"], "Tables", ga["-1"]) not in made and (ga["-2"], "Tables", ga["-1"]) in made
            and (ga["-3"], "PII", ga["-5"]) in made)  # kept through the delete, as Atlas keeps it
    with s.db.write() as conn:  # back to schema 6, as an older mlcatalog left it
        conn.execute("DROP VIEW entity_classification")
        conn.execute("DROP TABLE propagated_classification")
        conn.execute("DROP TABLE IF EXISTS store_info")  # migration 8
        conn.execute("UPDATE classification SET body = json_set(body, '$.entityStatus', 'ACTIVE')")
        conn.execute("PRAGMA user_version = 6")
    s.close()
    s = EmbeddedStore(tmp_path / "old")
    try:
        # the same but what was propagated before the source was deleted (a store of before made none)
        assert s.db.reader().execute(sql).fetchall() == [r for r in made if r[2] != ga["-5"]]
        assert [c["entityStatus"] for c in s.get_classifications(ga["-5"])["list"]] == ["DELETED"]
        assert _own_and_propagated(s, ga["-2"]) == {("PII", ga["-2"]), ("PII", ga["-1"]), ("Tables", ga["-1"])}
    finally:
        s.close()


def test_migration_7_adds_the_table_and_view(tmp_path: Path) -> None:
    s = EmbeddedStore(tmp_path / "fresh")
    try:
        conn = s.db.reader()
        assert conn.execute("PRAGMA user_version").fetchone()[0] >= 7
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
        assert {"propagated_classification", "entity_classification"} <= names
    finally:
        s.close()
