"""The glossary (GlossaryREST, ``catalog.embedded.glossary*``) over real HTTP: the official client's GlossaryClient
where it works, raw requests where the client is broken (its AtlasGlossary drops ``terms``; its partial updates and
category updates send the body as query parameters).

Expected behaviour is Atlas's ``GlossaryService``/``GlossaryTermUtils``/``GlossaryCategoryUtils``: glossaries, terms and
categories are entities of Atlas's glossary model (installed with the first glossary), qualifiedNames ``term@glossary``,
``category@glossary`` and ``child.parent@glossary``, Atlas's error codes; a term assigned to an entity shows in the
entity's ``relationshipAttributes.meanings`` and header ``meanings``, and is audited on the entity (TERM_ADD,
TERM_DELETE). The module runs its own server: the first glossary installs the glossary model in that store.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from apache_atlas.client.base_client import AtlasClient
from apache_atlas.model.glossary import AtlasGlossary, AtlasGlossaryCategory, AtlasGlossaryTerm
from apache_atlas.model.instance import AtlasRelatedObjectId

from catalog.embedded import glossary as service
from catalog.embedded import glossary_terms
from catalog.embedded.store import EmbeddedStore
from tests.conftest import ATLAS_PASSWORD, ATLAS_USER, RunningAtlas, start_atlas
from tests.embedded.official_client_helpers import create_hive, expect_error, suffix
from tests.embedded.test_wire import assert_golden
from typedefs import load_bundled_typedefs

AUTH = (ATLAS_USER, ATLAS_PASSWORD)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAtlas]:
    running = start_atlas(tmp_path_factory.mktemp("glossary-store"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def gclient(server: RunningAtlas) -> AtlasClient:
    return AtlasClient(server.url, AUTH)


class Api:
    def __init__(self, url: str) -> None:
        self.url = url

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> requests.Response:
        kwargs: dict[str, Any] = {"params": params, "auth": AUTH, "timeout": 30}
        if body is not None:
            kwargs["json"] = body
        return requests.request(method, f"{self.url}/api/atlas/v2/{path}", **kwargs)

    def ok(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        r = self.call(method, path, body, **params)
        assert r.status_code in (200, 204), (method, path, r.status_code, r.text)
        return r.json() if r.status_code == 200 else None

    def error(self, method: str, path: str, body: Any, status: int, code: str) -> dict[str, Any]:
        r = self.call(method, path, body)
        assert (r.status_code, r.json().get("errorCode")) == (status, code), r.text
        body_json: dict[str, Any] = r.json()
        return body_json


@pytest.fixture(scope="module")
def api(server: RunningAtlas) -> Api:
    return Api(server.url)


def glossary(gclient: AtlasClient, **fields: Any) -> Any:
    return gclient.glossary.create_glossary(AtlasGlossary({"name": f"g_{suffix()}", **fields}))


def term(gclient: AtlasClient, glossary_guid: str, name: str | None = None, **fields: Any) -> Any:
    return gclient.glossary.create_glossary_term(AtlasGlossaryTerm(
        {"name": name or f"t_{suffix()}", "anchor": {"glossaryGuid": glossary_guid}, **fields}))


# -- glossaries ------------------------------------------------------------------------------------------------------
def test_the_first_glossary_installs_the_glossary_model(gclient: AtlasClient, api: Api) -> None:
    assert api.ok("GET", "glossary") == []
    api.error("GET", "types/typedef/name/AtlasGlossary", None, 404, "ATLAS-404-00-001")
    g = glossary(gclient)
    for name in ("AtlasGlossary", "AtlasGlossaryTerm", "AtlasGlossaryCategory", "AtlasGlossarySemanticAssignment",
                 "AtlasGlossaryTermRelationshipStatus", "__internal"):
        assert api.ok("GET", f"types/typedef/name/{name}")["name"] == name
    assert [x["guid"] for x in api.ok("GET", "glossary")] == [g.guid]


def test_glossary_crud(gclient: AtlasClient, api: Api) -> None:
    g = glossary(gclient, shortDescription="short", language="en", additionalAttributes={"k": "v"})
    assert g.qualifiedName == g.name  # Atlas derives it from the name
    got = api.ok("GET", f"glossary/{g.guid}")
    assert (got["shortDescription"], got["language"], got["additionalAttributes"]) == ("short", "en", {"k": "v"})
    # PUT replaces the attributes (an absent one is cleared) and keeps the qualifiedName
    updated = api.ok("PUT", f"glossary/{g.guid}", {"name": "renamed_" + suffix(), "usage": "u"})
    assert updated["qualifiedName"] == g.qualifiedName and updated["usage"] == "u"
    assert "shortDescription" not in updated and "language" not in updated
    partial = api.ok("PUT", f"glossary/{g.guid}/partial", {"longDescription": "long"})
    assert (partial["longDescription"], partial["usage"]) == ("long", "u")
    api.error("PUT", f"glossary/{g.guid}/partial", {"qualifiedName": "x"}, 400, "ATLAS-400-00-074")
    api.error("PUT", f"glossary/{g.guid}/partial", {}, 400, "ATLAS-400-00-029")
    api.error("PUT", f"glossary/{g.guid}", {"name": "a.b"}, 400, "ATLAS-400-00-083")
    gclient.glossary.delete_glossary_by_guid(g.guid)
    expect_error(404, "ATLAS-404-00-005", gclient.glossary.get_glossary_by_guid, g.guid)


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"shortDescription": "no name"}, 400, "ATLAS-400-00-079"),
    ({"name": "a@b"}, 400, "ATLAS-400-00-083"),
    ({"name": "a<b"}, 400, "ATLAS-400-00-083"),
    ({"name": 5}, 400, "ATLAS-400-00-029"),
    ({"qualifiedName": "only_qn"}, 404, "ATLAS-404-00-007"),
])
def test_refused_glossaries(api: Api, body: dict[str, Any], status: int, code: str) -> None:
    api.error("POST", "glossary", body, status, code)


def test_a_duplicate_glossary_is_409(gclient: AtlasClient) -> None:
    g = glossary(gclient)
    expect_error(409, "ATLAS-409-00-007", gclient.glossary.create_glossary, AtlasGlossary({"name": g.name}))


def test_listing_sorts_and_pages(gclient: AtlasClient, api: Api) -> None:
    names = sorted(x["qualifiedName"] for x in api.ok("GET", "glossary"))
    assert [x["qualifiedName"] for x in gclient.glossary.get_all_glossaries()] == names
    assert [x["qualifiedName"] for x in api.ok("GET", "glossary", sort="DESC")] == names[::-1]
    assert [x["qualifiedName"] for x in api.ok("GET", "glossary", limit=1, offset=1)] == names[1:2]
    api.error("GET", "glossary?limit=ten", None, 400, "ATLAS-400-00-01A")


# -- terms -------------------------------------------------------------------------------------------------------------
def test_terms(gclient: AtlasClient, api: Api) -> None:
    g = glossary(gclient)
    t = term(gclient, g.guid, "revenue", shortDescription="money in", examples=["sales"], abbreviation="rev")
    assert t.qualifiedName == f"revenue@{g.qualifiedName}"
    assert t.anchor.glossaryGuid == g.guid and t.anchor.relationGuid
    got = api.ok("GET", f"glossary/term/{t.guid}")
    assert got["glossaryTermHeader"] == {"termGuid": t.guid, "qualifiedName": t.qualifiedName}
    more = gclient.glossary.create_glossary_terms([
        AtlasGlossaryTerm({"name": "cost", "anchor": {"glossaryGuid": g.guid}}),
        AtlasGlossaryTerm({"name": "margin", "anchor": {"glossaryGuid": g.guid}})])
    assert [x["qualifiedName"] for x in more] == [f"cost@{g.qualifiedName}", f"margin@{g.qualifiedName}"]
    heads = gclient.glossary.get_glossary_term_headers(g.guid, "ASC", -1, 0)
    assert [h["displayText"] for h in heads] == ["cost", "margin", "revenue"]
    assert [x["name"] for x in gclient.glossary.get_glossary_terms(g.guid, "DESC", 2, 0)] == ["revenue", "margin"]
    assert {x["termGuid"] for x in api.ok("GET", f"glossary/{g.guid}")["terms"]} == {t.guid} | {
        x["guid"] for x in more}
    # a term is an entity of type AtlasGlossaryTerm, anchored by a relationship
    entity = api.ok("GET", f"entity/guid/{t.guid}")["entity"]
    assert entity["typeName"] == "AtlasGlossaryTerm" and entity["attributes"]["abbreviation"] == "rev"
    assert entity["relationshipAttributes"]["anchor"]["guid"] == g.guid
    assert api.ok("GET", f"entity/{t.guid}/audit") == []  # Atlas's internal types are not audited


@pytest.mark.parametrize(("fields", "status", "code"), [
    ({"name": "no_anchor"}, 400, "ATLAS-400-00-072"),
    ({"name": "a.b", "anchor": "GLOSSARY"}, 400, "ATLAS-400-00-083"),
    ({"anchor": "GLOSSARY"}, 400, "ATLAS-400-00-07A"),
    ({"name": "t", "anchor": {"glossaryGuid": "no-such-glossary"}}, 400, "ATLAS-400-00-079"),
    ({"name": "t", "anchor": "GLOSSARY", "seeAlso": [{"termGuid": "x", "status": "WEIRD"}]}, 400, "ATLAS-400-00-029"),
])
def test_refused_terms(gclient: AtlasClient, api: Api, fields: dict[str, Any], status: int, code: str) -> None:
    g = glossary(gclient)
    body = {k: ({"glossaryGuid": g.guid} if v == "GLOSSARY" else v) for k, v in fields.items()}
    api.error("POST", "glossary/term", body, status, code)
    assert api.ok("GET", f"glossary/{g.guid}/terms") == []


def test_a_duplicate_term_is_409(gclient: AtlasClient) -> None:
    g = glossary(gclient)
    t = term(gclient, g.guid)
    expect_error(409, "ATLAS-409-00-009", term, gclient, g.guid, t.name)


def test_related_terms(gclient: AtlasClient, api: Api) -> None:
    g = glossary(gclient)
    a, b, c = (term(gclient, g.guid, n) for n in ("a", "b", "c"))
    body = api.ok("GET", f"glossary/term/{a.guid}")
    body["seeAlso"] = [{"termGuid": b.guid, "description": "see"}]
    body["preferredTerms"] = [{"termGuid": c.guid, "status": "ACTIVE"}]
    got = api.ok("PUT", f"glossary/term/{a.guid}", body)
    assert got["seeAlso"][0]["termGuid"] == b.guid and got["seeAlso"][0]["description"] == "see"
    assert got["seeAlso"][0]["qualifiedName"] == b.qualifiedName
    # the other ends see the relations from their side
    assert api.ok("GET", f"glossary/term/{b.guid}")["seeAlso"][0]["termGuid"] == a.guid
    assert api.ok("GET", f"glossary/term/{c.guid}")["preferredToTerms"][0]["termGuid"] == a.guid
    assert set(gclient.glossary.get_related_terms(a.guid, "ASC", -1, 0)) == {"seeAlso", "preferredTerms"}
    # an update makes the relations those of the body: seeAlso left out is removed
    del got["seeAlso"]
    assert "seeAlso" not in api.ok("PUT", f"glossary/term/{a.guid}", got)
    assert "seeAlso" not in api.ok("GET", f"glossary/term/{b.guid}")
    got["synonyms"] = [{"termGuid": a.guid}]
    api.error("PUT", f"glossary/term/{a.guid}", got, 400, "ATLAS-400-00-07E")


def test_term_rename_and_move(gclient: AtlasClient, api: Api) -> None:
    g1, g2 = glossary(gclient), glossary(gclient)
    t = term(gclient, g1.guid, "kept")
    body = api.ok("GET", f"glossary/term/{t.guid}")
    body["name"] = "renamed"
    assert api.ok("PUT", f"glossary/term/{t.guid}", body)["qualifiedName"] == f"kept@{g1.qualifiedName}"
    body["anchor"] = {"glossaryGuid": g2.guid}
    moved = api.ok("PUT", f"glossary/term/{t.guid}", body)
    assert moved["qualifiedName"] == f"renamed@{g2.qualifiedName}" and moved["anchor"]["glossaryGuid"] == g2.guid
    assert api.ok("GET", f"glossary/{g1.guid}/terms") == []
    partial = api.ok("PUT", f"glossary/term/{t.guid}/partial", {"usage": "often"})
    assert partial["usage"] == "often" and partial["qualifiedName"] == moved["qualifiedName"]
    api.error("PUT", f"glossary/term/{t.guid}/partial", {"examples": "x"}, 400, "ATLAS-400-00-074")
    del body["anchor"]
    api.error("PUT", f"glossary/term/{t.guid}", body, 400, "ATLAS-400-00-072")


# -- categories --------------------------------------------------------------------------------------------------------
def test_categories(gclient: AtlasClient, api: Api) -> None:
    g = glossary(gclient)
    t = term(gclient, g.guid, "kpi")
    parent = gclient.glossary.create_glossary_category(AtlasGlossaryCategory(
        {"name": "finance", "anchor": {"glossaryGuid": g.guid}, "terms": [{"termGuid": t.guid}]}))
    assert parent.qualifiedName == f"finance@{g.qualifiedName}"
    child = api.ok("POST", "glossary/category", {"name": "tax", "anchor": {"glossaryGuid": g.guid},
                                                 "parentCategory": {"categoryGuid": parent.guid}})
    assert child["qualifiedName"] == f"tax.finance@{g.qualifiedName}"
    got = api.ok("GET", f"glossary/category/{parent.guid}")
    assert got["childrenCategories"][0] == {"categoryGuid": child["guid"], "parentCategoryGuid": parent.guid,
                                            "relationGuid": got["childrenCategories"][0]["relationGuid"],
                                            "displayText": "tax"}
    assert [x["displayText"] for x in gclient.glossary.get_category_terms(parent.guid, "ASC", -1, 0)] == ["kpi"]
    assert api.ok("GET", f"glossary/term/{t.guid}")["categories"][0]["displayText"] == "finance"
    related = gclient.glossary.get_related_categories(child["guid"], "ASC", -1, 0)
    assert related["parent"][0]["categoryGuid"] == parent.guid
    assert [c["displayText"] for c in api.ok("GET", f"glossary/{g.guid}/categories/headers")] == ["finance", "tax"]
    # the child leaves its parent: its name is the glossary's again
    body = api.ok("GET", f"glossary/category/{child['guid']}")
    del body["parentCategory"]
    assert api.ok("PUT", f"glossary/category/{child['guid']}", body)["qualifiedName"] == f"tax@{g.qualifiedName}"
    assert "childrenCategories" not in api.ok("GET", f"glossary/category/{parent.guid}")


def test_refused_categories(gclient: AtlasClient, api: Api) -> None:
    g1, g2 = glossary(gclient), glossary(gclient)
    other = api.ok("POST", "glossary/category", {"name": "elsewhere", "anchor": {"glossaryGuid": g2.guid}})
    api.error("POST", "glossary/category", {"name": "c"}, 400, "ATLAS-400-00-072")
    api.error("POST", "glossary/category", {"name": "c", "anchor": {}}, 400, "ATLAS-400-00-077")
    api.error("POST", "glossary/category", {"name": "c", "anchor": {"glossaryGuid": g1.guid},
                                            "childrenCategories": [{"categoryGuid": other["guid"]}]},
              400, "ATLAS-400-00-07F")
    api.error("POST", "glossary/category", {"name": "c", "anchor": {"glossaryGuid": g1.guid},
                                            "terms": [{"description": "no guid"}]}, 400, "ATLAS-400-00-076")
    api.error("POST", "glossary/category", {"name": "elsewhere", "anchor": {"glossaryGuid": g2.guid}},
              409, "ATLAS-409-00-00A")
    api.error("POST", "glossary/category", {"name": "c", "anchor": {"glossaryGuid": other["guid"]}},
              400, "ATLAS-400-00-00F")
    assert api.ok("GET", f"glossary/{g1.guid}/categories") == []


# -- terms on entities -------------------------------------------------------------------------------------------------
def test_assigning_a_term_to_an_entity(gclient: AtlasClient, api: Api) -> None:
    g = glossary(gclient)
    t = term(gclient, g.guid, "customer")
    h = create_hive(gclient, suffix(), ncols=0)
    gclient.glossary.assign_term_to_entities(t.guid, [AtlasRelatedObjectId({"guid": h["table"]})])
    meanings = api.ok("GET", f"entity/guid/{h['table']}")["entity"]["relationshipAttributes"]["meanings"]
    assert [(m["guid"], m["typeName"], m["displayText"]) for m in meanings] == [(t.guid, "AtlasGlossaryTerm",
                                                                                "customer")]
    header = api.ok("GET", f"entity/guid/{h['table']}/header")
    assert header["meaningNames"] == ["customer"]
    assert_golden("entity_header_meanings", header["meanings"])
    assigned = gclient.glossary.get_entities_assigned_with_term(t.guid, "ASC", -1, 0)
    assert [(a["guid"], a["relationshipGuid"]) for a in assigned] == [(h["table"], meanings[0]["relationshipGuid"])]
    audit = gclient.entity.get_audit_events(h["table"], None, "TERM_ADD", 10)
    assert audit[0]["details"].startswith('Added term: {"guid":"' + t.guid)
    # an assigned term can not go; a dissociation names its relationship
    expect_error(400, "ATLAS-400-00-084", gclient.glossary.delete_glossary_term_by_guid, t.guid)
    api.error("PUT", f"glossary/terms/{t.guid}/assignedEntities", [{"guid": h["table"]}], 400, "ATLAS-400-00-078")
    api.error("PUT", f"glossary/terms/{t.guid}/assignedEntities",
              [{"guid": h["table"], "relationshipGuid": "not-it"}], 400, "ATLAS-400-00-080")
    gclient.glossary.disassociate_term_from_entities(t.guid, [AtlasRelatedObjectId(
        {"guid": h["table"], "relationshipGuid": meanings[0]["relationshipGuid"]})])
    assert api.ok("GET", f"entity/guid/{h['table']}/header")["meanings"] == []
    assert gclient.entity.get_audit_events(h["table"], None, "TERM_DELETE", 10)[0]["details"].startswith(
        "Deleted term: ")
    gclient.glossary.delete_glossary_term_by_guid(t.guid)
    expect_error(404, "ATLAS-404-00-005", gclient.glossary.get_glossary_term, t.guid)


def test_assignment_by_unique_attributes_and_to_unknown_entities(gclient: AtlasClient, api: Api) -> None:
    g = glossary(gclient)
    t = term(gclient, g.guid)
    h = create_hive(gclient, suffix(), ncols=0)
    # the model types status as AtlasGlossaryTermRelationshipStatus, Atlas reads it back as an
    # AtlasTermAssignmentStatus: DEPRECATED is one of the values both enums have
    api.ok("POST", f"glossary/terms/{t.guid}/assignedEntities",
           [{"typeName": "hive_table", "uniqueAttributes": {"qualifiedName": h["table_qn"]},
             "relationshipAttributes": {"typeName": "AtlasGlossarySemanticAssignment",
                                        "attributes": {"confidence": 80, "status": "DEPRECATED"}}}])
    m = api.ok("GET", f"entity/guid/{h['table']}/header")["meanings"][0]
    assert (m["termGuid"], m["confidence"], m["status"]) == (t.guid, 80, "DEPRECATED")
    api.error("POST", f"glossary/terms/{t.guid}/assignedEntities", [{"guid": "no-such-entity"}], 404,
              "ATLAS-404-00-005")
    api.error("POST", "glossary/terms/no-such-term/assignedEntities", [{"guid": h["table"]}], 404, "ATLAS-404-00-005")


# -- wire shapes -----------------------------------------------------------------------------------------------------
def test_wire_shapes(gclient: AtlasClient, api: Api) -> None:
    """AtlasGlossary, AtlasGlossaryTerm and AtlasGlossaryCategory as Atlas serialises them (@AtlasJSON: empty values
    left out), each with every relation filled."""
    g = glossary(gclient, shortDescription="s", longDescription="l", language="en", usage="u",
                 additionalAttributes={"k": "v"})
    other = term(gclient, g.guid, "other")
    parent = api.ok("POST", "glossary/category", {"name": "parent", "anchor": {"glossaryGuid": g.guid}})
    child = api.ok("POST", "glossary/category", {"name": "child", "anchor": {"glossaryGuid": g.guid},
                                                 "parentCategory": {"categoryGuid": parent["guid"]}})
    t = term(gclient, g.guid, "rich", shortDescription="s", longDescription="l", examples=["e"], abbreviation="r",
             usage="u", additionalAttributes={"k": "v"}, categories=[{"categoryGuid": parent["guid"]}],
             seeAlso=[{"termGuid": other.guid, "description": "d"}])
    h = create_hive(gclient, suffix(), ncols=0)
    gclient.glossary.assign_term_to_entities(t.guid, [AtlasRelatedObjectId({"guid": h["table"]})])
    assert_golden("glossary", api.ok("GET", f"glossary/{g.guid}"))
    assert_golden("glossary_term", api.ok("GET", f"glossary/term/{t.guid}"))
    api.ok("PUT", f"glossary/category/{parent['guid']}/partial", {"shortDescription": "s"})
    assert_golden("glossary_category", api.ok("GET", f"glossary/category/{parent['guid']}"))
    assert child["parentCategory"]["categoryGuid"] == parent["guid"]


# -- reads, deletes ---------------------------------------------------------------------------------------------------
def test_detailed_glossary(gclient: AtlasClient, api: Api) -> None:
    g = glossary(gclient)
    t = term(gclient, g.guid)
    c = api.ok("POST", "glossary/category", {"name": "c", "anchor": {"glossaryGuid": g.guid}})
    ext = gclient.glossary.get_glossary_ext_info(g.guid)
    assert set(ext.termInfo) == {t.guid} and set(ext.categoryInfo) == {c["guid"]}
    assert ext.termInfo[t.guid].qualifiedName == t.qualifiedName


def test_objects_of_another_type_and_unknown_guids(gclient: AtlasClient, api: Api) -> None:
    g = glossary(gclient)
    t = term(gclient, g.guid)
    api.error("GET", f"glossary/{t.guid}", None, 400, "ATLAS-400-00-00F")
    api.error("GET", f"glossary/category/{g.guid}", None, 400, "ATLAS-400-00-00F")
    api.error("GET", "glossary/term/no-such-term", None, 404, "ATLAS-404-00-005")
    api.error("DELETE", "glossary/category/no-such-category", None, 404, "ATLAS-404-00-005")


def test_deleting_a_glossary_deletes_its_terms_and_categories(gclient: AtlasClient, api: Api) -> None:
    g = glossary(gclient)
    t = term(gclient, g.guid)
    c = api.ok("POST", "glossary/category", {"name": "c", "anchor": {"glossaryGuid": g.guid}})
    h = create_hive(gclient, suffix(), ncols=0)
    gclient.glossary.assign_term_to_entities(t.guid, [AtlasRelatedObjectId({"guid": h["table"]})])
    expect_error(400, "ATLAS-400-00-084", gclient.glossary.delete_glossary_by_guid, g.guid)
    assert gclient.glossary.get_glossary_term(t.guid).guid == t.guid  # nothing went
    rel = api.ok("GET", f"glossary/terms/{t.guid}/assignedEntities")[0]["relationshipGuid"]
    api.ok("DELETE", f"glossary/terms/{t.guid}/assignedEntities", [{"guid": h["table"], "relationshipGuid": rel}])
    gclient.glossary.delete_glossary_by_guid(g.guid)
    for path in (f"glossary/{g.guid}", f"glossary/term/{t.guid}", f"glossary/category/{c['guid']}",
                 f"entity/guid/{t.guid}"):
        api.error("GET", path, None, 404, "ATLAS-404-00-005")


def test_the_glossary_model_matches_atlas(api: Api) -> None:
    """The installed model is Atlas's 0011-glossary_model.json with patch 004 folded in."""
    atlas = Path(__file__).resolve().parents[3] / "shared" / "atlas-models" / "0000-Area0" / "0011-glossary_model.json"
    if not atlas.is_file():
        pytest.skip("Atlas reference models not found")
    model = json.loads(atlas.read_text(encoding="utf-8"))
    for key in ("entityDefs", "relationshipDefs", "enumDefs"):
        for d in model[key]:
            got = api.ok("GET", f"types/typedef/name/{d['name']}")
            if key == "relationshipDefs":
                for end in ("endDef1", "endDef2"):
                    assert {k: got[end][k] for k in ("type", "name", "cardinality")} == {
                        k: d[end].get(k, "SINGLE") for k in ("type", "name", "cardinality")}
                assert got["relationshipCategory"] == d["relationshipCategory"]
            elif key == "entityDefs":
                assert got["superTypes"] == d["superTypes"]
                assert [a["name"] for a in got["attributeDefs"]] == [a["name"] for a in d["attributeDefs"]]


def test_glossaries_survive_a_restart(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path, load_bundled_typedefs())
    g = service.create(store, {"name": "kept"}, ATLAS_USER)
    t = glossary_terms.create(store, {"name": "term", "anchor": {"glossaryGuid": g["guid"]}}, ATLAS_USER)
    store.close()
    store = EmbeddedStore(tmp_path, load_bundled_typedefs())
    try:
        assert glossary_terms.get(store, t["guid"])["qualifiedName"] == "term@kept"
        assert [x["guid"] for x in service.list_all(store, -1, 0, False)] == [g["guid"]]
    finally:
        store.close()
