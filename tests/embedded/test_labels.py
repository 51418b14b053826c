"""Entity labels (``entity/guid/{guid}/labels`` and the uniqueAttribute variants, ``catalog.embedded.labels``) over
real HTTP: the official client's ``add_labels_by_guid``/``remove_labels_by_guid`` and raw requests where the client
is broken (``set_labels_by_guid`` and the ``*_by_name`` calls fail in the client itself, spec §1c).

Expected behaviour is Atlas's ``AtlasEntityStoreV2.setLabels/addLabels/removeLabels``: a set, bounded by
``atlas.entity.label.max.length`` and Atlas's label characters, shown on the entity and its header, audited
(LABEL_ADD / LABEL_DELETE), and changed only through these endpoints (an entity update leaves labels alone).
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from apache_atlas.client.base_client import AtlasClient

from catalog.embedded.limits import LABEL_MAX_LENGTH
from tests.conftest import ATLAS_PASSWORD, ATLAS_USER
from tests.embedded.official_client_helpers import create_hive, expect_error, suffix

AUTH = (ATLAS_USER, ATLAS_PASSWORD)


def call(atlas_url: str, method: str, path: str, body: Any = None, **params: Any) -> requests.Response:
    kwargs: dict[str, Any] = {"params": params, "auth": AUTH, "timeout": 30}
    if body is not None:
        kwargs["json"] = body
    return requests.request(method, f"{atlas_url}/api/atlas/v2/entity/{path}", **kwargs)


def labels_of(client: AtlasClient, guid: str) -> list[str]:
    return list(client.entity.get_entity_by_guid(guid).entity.labels or [])


def label_events(client: AtlasClient, guid: str) -> list[tuple[str, str]]:
    return [(e["action"], e["details"]) for e in client.entity.get_audit_events(guid, None, None, 100)
            if e["action"].startswith("LABEL_")]


def test_add_and_remove_with_the_client(client: AtlasClient) -> None:
    h = create_hive(client, suffix(), ncols=0)
    client.entity.add_labels_by_guid(h["table"], ["gold", "pii"])
    client.entity.add_labels_by_guid(h["table"], ["pii", "reviewed"])  # a set: pii once
    assert labels_of(client, h["table"]) == ["gold", "pii", "reviewed"]
    assert client.entity.get_entity_header_by_guid(h["table"]).labels == ["gold", "pii", "reviewed"]
    client.entity.remove_labels_by_guid(h["table"], ["gold", "absent"])
    assert labels_of(client, h["table"]) == ["pii", "reviewed"]
    assert label_events(client, h["table"]) == [("LABEL_DELETE", "Deleted labels: gold"),
                                                ("LABEL_ADD", "Added labels: reviewed"),
                                                ("LABEL_ADD", "Added labels: gold pii")]


def test_set_replaces_and_an_empty_body_clears(client: AtlasClient, atlas_url: str) -> None:
    h = create_hive(client, suffix(), ncols=0)
    assert call(atlas_url, "POST", f"guid/{h['table']}/labels", ["a", "b"]).status_code == 204
    assert call(atlas_url, "POST", f"guid/{h['table']}/labels", ["b", "c"]).status_code == 204
    assert labels_of(client, h["table"]) == ["b", "c"]
    assert label_events(client, h["table"])[:2] == [("LABEL_ADD", "Added labels: c"),
                                                    ("LABEL_DELETE", "Deleted labels: a")]
    # no body is Jackson's null set: every label goes
    assert call(atlas_url, "POST", f"guid/{h['table']}/labels").status_code == 204
    assert labels_of(client, h["table"]) == []


def test_by_unique_attribute(client: AtlasClient, atlas_url: str) -> None:
    h = create_hive(client, suffix(), ncols=0)
    path = "uniqueAttribute/type/hive_table/labels"
    q = {"attr:qualifiedName": h["table_qn"]}
    assert call(atlas_url, "POST", path, ["x", "y"], **q).status_code == 204
    assert call(atlas_url, "PUT", path, ["z"], **q).status_code == 204
    assert call(atlas_url, "DELETE", path, ["x"], **q).status_code == 204
    assert labels_of(client, h["table"]) == ["y", "z"]
    r = call(atlas_url, "PUT", path, ["z"], **{"attr:qualifiedName": "no.such@cm"})
    assert (r.status_code, r.json()["errorCode"]) == (404, "ATLAS-404-00-009")
    r = call(atlas_url, "PUT", "uniqueAttribute/type/no_such_type/labels", ["z"], **q)
    assert (r.status_code, r.json()["errorCode"]) == (400, "ATLAS-400-00-014")


def test_labels_on_create_and_not_on_update(client: AtlasClient, atlas_url: str) -> None:
    uid = suffix()
    attrs = {"qualifiedName": f"lab_{uid}@cm", "name": uid, "clusterName": "cm"}
    body: dict[str, Any] = {"entity": {"typeName": "hive_db", "attributes": attrs, "labels": ["one", "one", "two"]}}
    guid = requests.post(f"{atlas_url}/api/atlas/v2/entity", json=body, auth=AUTH, timeout=30).json()[
        "mutatedEntities"]["CREATE"][0]["guid"]
    assert labels_of(client, guid) == ["one", "two"]
    body["entity"]["labels"] = ["three"]
    body["entity"]["attributes"]["description"] = "changed"
    requests.post(f"{atlas_url}/api/atlas/v2/entity", json=body, auth=AUTH, timeout=30).raise_for_status()
    e = client.entity.get_entity_by_guid(guid).entity
    assert e.attributes["description"] == "changed" and e.labels == ["one", "two"]


@pytest.mark.parametrize(("method", "body", "status", "code"), [
    ("PUT", ["x" * (LABEL_MAX_LENGTH + 1)], 400, "ATLAS-400-00-08F"),
    ("POST", ["x" * (LABEL_MAX_LENGTH + 1)], 400, "ATLAS-400-00-08F"),
    ("PUT", ["with space"], 400, "ATLAS-400-00-090"),
    ("DELETE", ["semi;colon"], 400, "ATLAS-400-00-090"),
    ("PUT", [], 400, "ATLAS-400-00-01A"),
    ("DELETE", None, 400, "ATLAS-400-00-01A"),
    ("PUT", [1, 2], 400, "ATLAS-400-00-029"),
    ("POST", {"labels": ["a"]}, 400, "ATLAS-400-00-029"),
])
def test_refused_labels_change_nothing(client: AtlasClient, atlas_url: str, method: str, body: Any, status: int,
                                       code: str) -> None:
    h = create_hive(client, suffix(), ncols=0)
    client.entity.add_labels_by_guid(h["table"], ["kept"])
    r = call(atlas_url, method, f"guid/{h['table']}/labels", body)
    assert (r.status_code, r.json()["errorCode"]) == (status, code), r.text
    assert labels_of(client, h["table"]) == ["kept"]


def test_an_unknown_entity_is_404(client: AtlasClient) -> None:
    expect_error(404, "ATLAS-404-00-005", client.entity.add_labels_by_guid, "no-such-guid", ["a"])


def test_the_longest_label_atlas_allows(client: AtlasClient) -> None:
    h = create_hive(client, suffix(), ncols=0)
    longest = "a-_" * (LABEL_MAX_LENGTH // 3) + "b" * (LABEL_MAX_LENGTH % 3)
    client.entity.add_labels_by_guid(h["table"], [longest, "数据"])
    assert labels_of(client, h["table"]) == [longest, "数据"]
