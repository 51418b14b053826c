"""Entity audit (``GET entity/{guid}/audit``, ``catalog.embedded.audit``) over real HTTP: the official client's
``get_audit_events`` and Atlas's UI call (``sortBy``/``sortOrder``/``offset``/``count``).

One EntityAuditEventV2 per create, update, classification change, label change and delete, with Atlas's ``details``
("Created: {entity}", "Added classification: {classification}", "Deleted entity"...), written in the transaction of
the change (a refused request leaves no event; the events outlive a purge). Expected behaviour is Atlas's
``EntityREST.getAuditEvents``, ``EntityAuditListenerV2`` and ``HBaseBasedAuditRepository``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import requests
from apache_atlas.client.base_client import AtlasClient
from apache_atlas.model.instance import AtlasClassification
from apache_atlas.model.typedef import AtlasClassificationDef, AtlasTypesDef

from catalog.embedded.store import EmbeddedStore
from tests.conftest import ATLAS_PASSWORD, ATLAS_USER
from tests.embedded.official_client_helpers import attr_def, create_hive, expect_error, suffix
from tests.embedded.test_wire import assert_golden
from typedefs import load_bundled_typedefs

AUTH = (ATLAS_USER, ATLAS_PASSWORD)
KEY_RE = re.compile(r"^(?P<guid>[0-9a-f-]{36}):(?P<ts>\d{13}):(?P<idx>\d+):\d{13}$")


def events(client: AtlasClient, guid: str, action: str | None = None, count: int = 100,
           start_key: str | None = None) -> list[dict[str, Any]]:
    got = client.entity.get_audit_events(guid, start_key, action, count)
    return [dict(e) for e in got]


def raw(atlas_url: str, guid: str, **params: Any) -> requests.Response:
    return requests.get(f"{atlas_url}/api/atlas/v2/entity/{guid}/audit", params=params, auth=AUTH, timeout=30)


def payload(event: dict[str, Any], prefix: str) -> Any:
    assert event["details"].startswith(prefix), event["details"]
    return json.loads(event["details"][len(prefix):])


@pytest.fixture(scope="module")
def tag(client: AtlasClient) -> str:
    name = f"AuditTag_{suffix()}"
    client.typedef.create_atlas_typedefs(AtlasTypesDef({"classificationDefs": [AtlasClassificationDef(
        {"name": name, "attributeDefs": [attr_def("level", "int")]})]}))
    return name


def test_a_create_is_one_event_with_the_entity(client: AtlasClient, atlas_url: str) -> None:
    h = create_hive(client, suffix(), ncols=1)
    got = events(client, h["table"])
    assert [e["action"] for e in got] == ["ENTITY_CREATE"]
    e = got[0]
    assert e["entityId"] == h["table"] and e["user"] == ATLAS_USER and e["type"] == "ENTITY_AUDIT_V2"
    assert e["entity"] is None  # Atlas persists no entity definition by default
    m = KEY_RE.match(e["eventKey"])
    assert m and m["guid"] == h["table"] and int(m["ts"]) == e["timestamp"]
    created = payload(e, "Created: ")
    assert (created["guid"], created["typeName"], created["status"]) == (h["table"], "hive_table", "ACTIVE")
    assert created["attributes"]["qualifiedName"] == h["table_qn"]
    assert created["relationshipAttributes"]["db"] == {"guid": h["db"], "typeName": "hive_db"}
    assert_golden("audit_events", raw(atlas_url, h["table"]).json())


def test_updates_are_events_and_unchanged_writes_are_not(client: AtlasClient) -> None:
    h = create_hive(client, suffix(), ncols=0)
    table = client.entity.get_entity_by_guid(h["table"])
    table.entity.attributes["comment"] = "now with a comment"
    client.entity.update_entity(table)
    client.entity.update_entity(table)  # the same again: Atlas skips an unchanged entity
    client.entity.partial_update_entity_by_guid(h["table"], "retention 9", "comment")
    got = events(client, h["table"])
    assert [e["action"] for e in got] == ["ENTITY_UPDATE", "ENTITY_UPDATE", "ENTITY_CREATE"]
    assert payload(got[1], "Updated: ")["attributes"]["comment"] == "now with a comment"
    assert payload(got[0], "Updated: ")["attributes"]["comment"] == "retention 9"


def test_a_change_of_custom_attributes_only(client: AtlasClient) -> None:
    h = create_hive(client, suffix(), ncols=0)
    table = client.entity.get_entity_by_guid(h["table"])
    table.entity.customAttributes = {"team": "data"}
    client.entity.update_entity(table)
    got = events(client, h["table"])
    assert [e["action"] for e in got] == ["CUSTOM_ATTRIBUTE_UPDATE", "ENTITY_CREATE"]
    assert payload(got[0], "Updated custom attribute: ")["customAttributes"] == {"team": "data"}


def test_classification_changes_are_events(client: AtlasClient, tag: str) -> None:
    h = create_hive(client, suffix(), ncols=0)
    client.entity.add_classifications_by_guid(h["table"], [AtlasClassification({"typeName": tag,
                                                                                "attributes": {"level": 1}})])
    client.entity.update_classifications(h["table"], [AtlasClassification({"typeName": tag,
                                                                           "attributes": {"level": 2}})])
    client.entity.delete_classification(h["table"], tag)
    got = events(client, h["table"])
    assert [e["action"] for e in got] == ["CLASSIFICATION_DELETE", "CLASSIFICATION_UPDATE", "CLASSIFICATION_ADD",
                                          "ENTITY_CREATE"]
    assert got[0]["details"] == f"Deleted classification: {tag}"
    updated = payload(got[1], "Updated classification: ")
    assert (updated["typeName"], updated["attributes"], updated["entityGuid"]) == (tag, {"level": 2}, h["table"])
    assert payload(got[2], "Added classification: ")["attributes"] == {"level": 1}
    # only the classification events, by action
    assert [e["action"] for e in events(client, h["table"], "CLASSIFICATION_ADD")] == ["CLASSIFICATION_ADD"]


def test_a_create_with_classifications_and_labels(client: AtlasClient, atlas_url: str, tag: str) -> None:
    uid = suffix()
    attrs = {"qualifiedName": f"audit_{uid}@cm", "name": uid, "clusterName": "cm"}
    body: dict[str, Any] = {"entity": {"typeName": "hive_db", "attributes": attrs,
                                       "classifications": [{"typeName": tag}], "labels": ["red", "blue"]}}
    r = requests.post(f"{atlas_url}/api/atlas/v2/entity", json=body, auth=AUTH, timeout=30)
    guid = r.json()["mutatedEntities"]["CREATE"][0]["guid"]
    got = {e["action"]: e for e in events(client, guid)}
    assert set(got) == {"ENTITY_CREATE", "CLASSIFICATION_ADD", "LABEL_ADD"}
    assert got["LABEL_ADD"]["details"] == "Added labels: red blue"


def test_delete_and_purge_keep_the_audit(client: AtlasClient, atlas_url: str) -> None:
    h = create_hive(client, suffix(), ncols=1)
    client.entity.delete_entity_by_guid(h["db"])  # cascades to nothing: hive_table_db is an aggregation
    got = events(client, h["db"])
    assert [e["action"] for e in got] == ["ENTITY_DELETE", "ENTITY_CREATE"]
    assert got[0]["details"] == "Deleted entity"
    client.entity.purge_entities_by_guids([h["db"]])
    got = events(client, h["db"])  # the entity is gone, its audit is not (EntityREST reads a purged one's audit)
    assert [e["action"] for e in got] == ["ENTITY_PURGE", "ENTITY_DELETE", "ENTITY_CREATE"]
    assert payload(got[0], "Purged: ")["guid"] == h["db"]
    r = raw(atlas_url, "00000000-0000-0000-0000-000000000000")
    assert (r.status_code, r.json()["errorCode"]) == (404, "ATLAS-404-00-005")


def test_a_refused_write_leaves_no_event(client: AtlasClient, atlas_url: str) -> None:
    h = create_hive(client, suffix(), ncols=0)
    bad = {"entities": [{"typeName": "hive_table", "guid": h["table"], "attributes": {"retention": "many"}},
                        {"typeName": "hive_db", "attributes": {"qualifiedName": f"x_{suffix()}@cm", "name": "x",
                                                               "clusterName": "cm"}}]}
    r = requests.post(f"{atlas_url}/api/atlas/v2/entity/bulk", json=bad, auth=AUTH, timeout=30)
    assert r.status_code == 404
    assert [e["action"] for e in events(client, h["table"])] == ["ENTITY_CREATE"]


def test_paging_newest_first_from_a_start_key(client: AtlasClient) -> None:
    h = create_hive(client, suffix(), ncols=0)
    for i in range(4):
        client.entity.partial_update_entity_by_guid(h["table"], f"c{i}", "comment")
    everything = events(client, h["table"])
    assert len(everything) == 5
    assert [e["timestamp"] for e in everything] == sorted((e["timestamp"] for e in everything), reverse=True)
    first = events(client, h["table"], count=2)
    assert first == everything[:2]
    # the next page starts at the last event shown (HBase's startKey is inclusive)
    assert events(client, h["table"], count=3, start_key=first[-1]["eventKey"]) == everything[1:4]


def test_the_ui_call_sorts_and_pages(client: AtlasClient, atlas_url: str) -> None:
    h = create_hive(client, suffix(), ncols=0)
    for i in range(3):
        client.entity.partial_update_entity_by_guid(h["table"], f"c{i}", "comment")
    newest = raw(atlas_url, h["table"], sortBy="timestamp", sortOrder="desc", offset=0, count=2).json()
    assert [e["action"] for e in newest] == ["ENTITY_UPDATE", "ENTITY_UPDATE"]
    oldest = raw(atlas_url, h["table"], sortBy="timestamp", sortOrder="asc", offset=0, count=25).json()
    assert oldest[0]["action"] == "ENTITY_CREATE" and len(oldest) == 4
    assert raw(atlas_url, h["table"], sortBy="timestamp", offset=3, count=25).json() == oldest[3:]
    by_action = raw(atlas_url, h["table"], sortBy="action", offset=0).json()
    assert [e["action"] for e in by_action] == ["ENTITY_CREATE"] + ["ENTITY_UPDATE"] * 3
    only_updates = raw(atlas_url, h["table"], auditAction="ENTITY_UPDATE", sortBy="user", offset=0).json()
    assert [e["action"] for e in only_updates] == ["ENTITY_UPDATE"] * 3


@pytest.mark.parametrize(("params", "code"), [
    ({"auditAction": "SOMETHING"}, "ATLAS-400-00-01A"), ({"count": "40000"}, "ATLAS-400-00-01A"),
    ({"count": "ten"}, "ATLAS-400-00-01A"), ({"offset": "x"}, "ATLAS-400-00-01A"),
    ({"startKey": "not-a-key"}, "ATLAS-400-00-01A"),
])
def test_bad_parameters_are_400(client: AtlasClient, atlas_url: str, params: dict[str, str], code: str) -> None:
    h = create_hive(client, suffix(), ncols=0)
    r = raw(atlas_url, h["table"], **params)
    assert (r.status_code, r.json()["errorCode"]) == (400, code), r.text


def test_v1_action_names_are_read(client: AtlasClient, tag: str) -> None:
    h = create_hive(client, suffix(), ncols=0)
    client.entity.add_classifications_by_guid(h["table"], [AtlasClassification({"typeName": tag})])
    assert [e["action"] for e in events(client, h["table"], "TAG_ADD")] == ["CLASSIFICATION_ADD"]


def test_the_client_reports_an_unknown_entity(client: AtlasClient) -> None:
    expect_error(404, "ATLAS-404-00-005", client.entity.get_audit_events, "no-such-guid", None, None, 10)


def test_the_audit_is_persisted(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path, load_bundled_typedefs())
    store.create_or_update([{"typeName": "hive_db", "attributes": {"qualifiedName": "p@cm", "name": "p",
                                                                   "clusterName": "cm"}}], None, "alice")
    store.close()
    store = EmbeddedStore(tmp_path, load_bundled_typedefs())
    try:
        rows = store.db.reader().execute("SELECT user_name, action FROM entity_audit").fetchall()
        assert rows == [("alice", "ENTITY_CREATE")]
    finally:
        store.close()
