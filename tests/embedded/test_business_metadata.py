"""Business metadata (``catalog.embedded.business_metadata``) over real HTTP with the official client: the typedefs
(``businessMetadataDefs`` through the typedef endpoints and ``types/businessmetadatadef/...``) with Atlas's rules,
and the entity endpoints ``entity/guid/{guid}/businessmetadata[/{bmName}]`` (``isOverwrite``), ``businessAttributes``
on the entity and ``businessAttributeDefs`` on its type, each change audited (BUSINESS_ATTRIBUTE_UPDATE).

Expected behaviour is Atlas's ``AtlasBusinessMetadataType``, ``AtlasBusinessMetadataDefStoreV2`` and
``AtlasEntityStoreV2.addOrUpdateBusinessAttributes/removeBusinessAttributes``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from apache_atlas.client.base_client import AtlasClient
from apache_atlas.model.typedef import AtlasBusinessMetadataDef, AtlasTypesDef

from tests.conftest import ATLAS_PASSWORD, ATLAS_USER
from tests.embedded.official_client_helpers import create_hive, expect_error, suffix

AUTH = (ATLAS_USER, ATLAS_PASSWORD)


def bm_attr(name: str, type_name: str = "string", types: tuple[str, ...] = ("hive_table",), optional: bool = True,
            **options: str) -> dict[str, Any]:
    opts = {"applicableEntityTypes": json.dumps(list(types)), **options}
    if type_name in ("string", "array<string>") and "maxStrLength" not in opts:
        opts["maxStrLength"] = "12"
    return {"name": name, "typeName": type_name, "isOptional": optional, "options": opts}


def create_bm(client: AtlasClient, *attrs: dict[str, Any]) -> str:
    name = f"bm_{suffix()}"
    client.typedef.create_atlas_typedefs(AtlasTypesDef({"businessMetadataDefs": [AtlasBusinessMetadataDef(
        {"name": name, "attributeDefs": list(attrs)})]}))
    return name


def post_bm(atlas_url: str, bm: dict[str, Any], method: str = "POST", **params: Any) -> requests.Response:
    return requests.request(method, f"{atlas_url}/api/atlas/v2/types/typedefs", json={"businessMetadataDefs": [bm]},
                            params=params, auth=AUTH, timeout=30)


def business(client: AtlasClient, guid: str) -> Any:
    return client.entity.get_entity_by_guid(guid).entity.businessAttributes


@pytest.fixture(scope="module")
def bm(client: AtlasClient) -> str:
    return create_bm(client, bm_attr("owner"), bm_attr("score", "int"), bm_attr("tags", "array<string>"),
                     bm_attr("due", "date", optional=True))


def test_typedef_round_trip_and_entity_type(client: AtlasClient, bm: str) -> None:
    got = client.typedef.get_businessmetadatadef_by_name(bm)
    assert got.category == "BUSINESS_METADATA"
    assert [a.name for a in got.attributeDefs] == ["owner", "score", "tags", "due"]
    assert got.attributeDefs[0].options["maxStrLength"] == "12"
    assert client.typedef.get_businessmetadatadef_by_guid(got.guid).name == bm
    # the entity type shows which business metadata apply to it, subtypes included
    table = client.typedef.get_entitydef_by_name("hive_table")
    assert [a["name"] for a in table.businessAttributeDefs[bm]] == ["owner", "score", "tags", "due"]
    assert bm not in (client.typedef.get_entitydef_by_name("hive_db").businessAttributeDefs or {})


def test_add_update_overwrite_remove(client: AtlasClient, bm: str) -> None:
    h = create_hive(client, suffix(), ncols=0)
    t = h["table"]
    client.entity.add_or_update_business_attributes(t, False, {bm: {"owner": "ann", "score": "7"}})
    assert business(client, t) == {bm: {"owner": "ann", "score": 7}}  # values normalised to their types
    client.entity.add_or_update_business_attributes_bm_name(t, bm, {"tags": ["a", "b"]})
    assert business(client, t) == {bm: {"owner": "ann", "score": 7, "tags": ["a", "b"]}}
    client.entity.add_or_update_business_attributes(t, True, {bm: {"owner": "bob"}})  # overwrite: only owner left
    assert business(client, t) == {bm: {"owner": "bob"}}
    client.entity.remove_business_attributes_bm_name(t, bm, {"owner": None})
    assert business(client, t) is None
    events = [e["details"] for e in client.entity.get_audit_events(t, None, "BUSINESS_ATTRIBUTE_UPDATE", 100)]
    assert json.loads(events[0].split(": ", 1)[1]) == {"typeName": bm, "attributes": {"owner": None}}
    assert json.loads(events[-1].split(": ", 1)[1]) == {"typeName": bm, "attributes": {"owner": "ann", "score": 7}}
    assert len(events) == 4


def test_remove_all_of_one_business_metadata(client: AtlasClient, bm: str) -> None:
    h = create_hive(client, suffix(), ncols=0)
    client.entity.add_or_update_business_attributes(h["table"], False, {bm: {"owner": "ann", "score": 1}})
    client.entity.remove_business_attributes(h["table"], {bm: {}})
    assert business(client, h["table"]) is None


def test_business_attributes_on_create(client: AtlasClient, atlas_url: str, bm: str) -> None:
    uid = suffix()
    attrs = {"qualifiedName": f"bm_{uid}@cm", "name": uid}
    body: dict[str, Any] = {"entity": {"typeName": "hive_table", "attributes": attrs,
                                       "businessAttributes": {bm: {"owner": "cat", "score": 3}}}}
    r = requests.post(f"{atlas_url}/api/atlas/v2/entity", json=body, auth=AUTH, timeout=30)
    guid = r.json()["mutatedEntities"]["CREATE"][0]["guid"]
    assert business(client, guid) == {bm: {"owner": "cat", "score": 3}}
    # an update leaves them alone (Atlas maps business attributes on create only)
    body["entity"]["businessAttributes"] = {bm: {"owner": "dog"}}
    requests.post(f"{atlas_url}/api/atlas/v2/entity", json=body, auth=AUTH, timeout=30).raise_for_status()
    assert business(client, guid) == {bm: {"owner": "cat", "score": 3}}


@pytest.mark.parametrize(("values", "fragment"), [
    ({"owner": "x" * 13}, "exceeds maximum length limit"),
    ({"tags": ["ok", "y" * 13]}, "exceeds maximum length limit"),
    ({"score": "many"}, "score"),
])
def test_refused_values_change_nothing(client: AtlasClient, bm: str, values: dict[str, Any], fragment: str) -> None:
    h = create_hive(client, suffix(), ncols=0)
    client.entity.add_or_update_business_attributes(h["table"], False, {bm: {"owner": "kept"}})
    body = expect_error(404, "ATLAS-404-00-007", client.entity.add_or_update_business_attributes, h["table"], False,
                        {bm: values})
    assert fragment in body["errorMessage"]
    assert business(client, h["table"]) == {bm: {"owner": "kept"}}


def test_business_metadata_that_does_not_apply(client: AtlasClient, bm: str) -> None:
    h = create_hive(client, suffix(), ncols=0)
    body = expect_error(404, "ATLAS-404-00-007", client.entity.add_or_update_business_attributes, h["db"], False,
                        {bm: {"owner": "x"}})
    assert f"{bm}: invalid business-metadata for entity type hive_db" in body["errorMessage"]
    expect_error(400, "ATLAS-400-00-01A", client.entity.add_or_update_business_attributes, h["table"], False, {})
    expect_error(404, "ATLAS-404-00-005", client.entity.add_or_update_business_attributes, "nope", False,
                 {bm: {"owner": "x"}})


def test_mandatory_attributes(client: AtlasClient) -> None:
    name = create_bm(client, bm_attr("must", optional=False), bm_attr("may"))
    h = create_hive(client, suffix(), ncols=0)
    body = expect_error(404, "ATLAS-404-00-007", client.entity.add_or_update_business_attributes, h["table"], False,
                        {name: {"may": "x"}})
    assert "mandatory business-metadata attribute value missing" in body["errorMessage"]
    client.entity.add_or_update_business_attributes(h["table"], False, {name: {"must": "m"}})
    client.entity.add_or_update_business_attributes(h["table"], False, {name: {"may": "x"}})  # must is there now
    assert business(client, h["table"]) == {name: {"must": "m", "may": "x"}}


@pytest.mark.parametrize(("attr", "status", "code"), [
    ({"name": "s", "typeName": "hive_serde", "isOptional": True}, 400, "ATLAS-400-00-094"),
    ({"name": "e", "typeName": "hive_table", "isOptional": True}, 400, "ATLAS-400-00-094"),
    ({"name": "m", "typeName": "array<hive_serde>", "isOptional": True}, 400, "ATLAS-400-00-094"),
    ({"name": "s", "typeName": "string", "isOptional": True}, 400, "ATLAS-400-00-02B"),
    ({"name": "s", "typeName": "string", "isOptional": True, "options": {"maxStrLength": "ten"}}, 400,
     "ATLAS-400-00-011"),
    (bm_attr("s", types=("no_such_type",)), 404, "ATLAS-404-00-001"),
    ({"name": "s", "typeName": "int", "isOptional": True, "options": {"applicableEntityTypes": "hive_table"}}, 400,
     "ATLAS-400-00-011"),
])
def test_typedef_rules(client: AtlasClient, atlas_url: str, attr: dict[str, Any], status: int, code: str) -> None:
    name = f"bm_{suffix()}"
    r = post_bm(atlas_url, {"name": name, "attributeDefs": [attr]})
    assert (r.status_code, r.json()["errorCode"]) == (status, code), r.text
    expect_error(404, "ATLAS-404-00-001", client.typedef.get_businessmetadatadef_by_name, name)


def test_update_may_extend_applicable_types_not_shrink_them(client: AtlasClient, atlas_url: str) -> None:
    name = create_bm(client, bm_attr("a", "int", types=("hive_table",)))
    wider = {"name": name, "attributeDefs": [bm_attr("a", "int", types=("hive_table", "hive_db"))]}
    assert post_bm(atlas_url, wider, "PUT").status_code == 200
    h = create_hive(client, suffix(), ncols=0)
    client.entity.add_or_update_business_attributes(h["db"], False, {name: {"a": 1}})
    narrower = {"name": name, "attributeDefs": [bm_attr("a", "int", types=("hive_db",))]}
    r = post_bm(atlas_url, narrower, "PUT")
    assert (r.status_code, r.json()["errorCode"]) == (400, "ATLAS-400-00-093")


def test_a_business_metadata_in_use_can_not_be_deleted(client: AtlasClient) -> None:
    name = create_bm(client, bm_attr("a", "int"))
    h = create_hive(client, suffix(), ncols=0)
    client.entity.add_or_update_business_attributes(h["table"], False, {name: {"a": 1}})
    expect_error(409, "ATLAS-409-00-002", client.typedef.delete_type_by_name, name)
    client.entity.remove_business_attributes(h["table"], {name: {}})
    client.typedef.delete_type_by_name(name)
    expect_error(404, "ATLAS-404-00-001", client.typedef.get_businessmetadatadef_by_name, name)
