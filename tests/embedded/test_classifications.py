"""``entity/bulk/headers`` and ``entity/bulk/setClassifications`` (``catalog.embedded.classifications``) through the
official client, and the audited removal of a classification.

Expected behaviour is Atlas's ``ClassificationAssociator``: the Retriever answers the headers (with classifications)
of the entities whose classifications changed since ``tagUpdateStartTime``, found in the audit; the Updater makes each
entity's own classifications those of the header it is sent (found by unique attributes), one store call per change,
and answers a summary line per change, with Atlas's wording (which names the unique attribute, not its value).
"""

from __future__ import annotations

import json
import time

import pytest
import requests
from apache_atlas.client.base_client import AtlasClient
from apache_atlas.model.instance import AtlasClassification, AtlasEntityHeader, AtlasEntityHeaders
from apache_atlas.model.typedef import AtlasClassificationDef, AtlasTypesDef

from tests.conftest import ATLAS_PASSWORD, ATLAS_USER
from tests.embedded.official_client_helpers import create_hive, expect_error, suffix
from tests.embedded.test_wire import assert_golden

AUTH = (ATLAS_USER, ATLAS_PASSWORD)


@pytest.fixture(scope="module")
def tags(client: AtlasClient) -> tuple[str, str, str]:
    uid = suffix()
    names = (f"SetA_{uid}", f"SetB_{uid}", f"SetC_{uid}")
    client.typedef.create_atlas_typedefs(AtlasTypesDef({"classificationDefs": [
        AtlasClassificationDef({"name": n, "attributeDefs": []}) for n in names]}))
    return names


def own(client: AtlasClient, guid: str) -> list[str]:
    return sorted(c.typeName for c in client.entity.get_classifications(guid).list or [])


def test_headers_of_entities_whose_classifications_changed(client: AtlasClient, atlas_url: str,
                                                          tags: tuple[str, ...]) -> None:
    before = int(time.time() * 1000)
    time.sleep(0.01)
    h = create_hive(client, suffix(), ncols=0)
    untouched = create_hive(client, suffix(), ncols=0)
    client.entity.add_classifications_by_guid(h["table"], [AtlasClassification({"typeName": tags[0]})])
    got = client.entity.get_entity_headers(before)
    assert h["table"] in got.guidHeaderMap and untouched["table"] not in got.guidHeaderMap
    header = got.guidHeaderMap[h["table"]]
    assert header.classificationNames == [tags[0]] and header.classifications[0].typeName == tags[0]
    raw = requests.get(f"{atlas_url}/api/atlas/v2/entity/bulk/headers", params={"tagUpdateStartTime": before},
                       auth=AUTH, timeout=30).json()
    assert_golden("entity_headers", {"guidHeaderMap": {h["table"]: raw["guidHeaderMap"][h["table"]]}})
    # a removal is a change too; a window starting after every change is empty
    client.entity.delete_classification(h["table"], tags[0])
    assert h["table"] in client.entity.get_entity_headers(before).guidHeaderMap
    later = int(time.time() * 1000) + 5
    time.sleep(0.01)
    assert not client.entity.get_entity_headers(later).guidHeaderMap


def test_a_start_in_the_future_is_refused(client: AtlasClient) -> None:
    expect_error(400, "ATLAS-400-00-029", client.entity.get_entity_headers, int(time.time() * 1000) + 3_600_000)


def test_set_classifications(client: AtlasClient, tags: tuple[str, str, str]) -> None:
    a, b, c = tags
    h = create_hive(client, suffix(), ncols=0)
    client.entity.add_classifications_by_guid(h["table"], [AtlasClassification({"typeName": a}),
                                                           AtlasClassification({"typeName": b})])
    header = AtlasEntityHeader({"typeName": "hive_table", "attributes": {"qualifiedName": h["table_qn"]},
                                "classifications": [AtlasClassification({"typeName": b}),
                                                    AtlasClassification({"typeName": c})]})
    missing = AtlasEntityHeader({"typeName": "hive_table", "attributes": {"qualifiedName": "no.such@cm"}})
    unknown = AtlasEntityHeader({"typeName": "no_such_type", "attributes": {"qualifiedName": "x"}})
    summary = client.entity.set_classifications(AtlasEntityHeaders({"guidHeaderMap": {
        "1": header, "2": missing, "3": unknown}}))
    g = h["table"]
    assert json.loads(summary) == [  # the client answers the JSON array as a string
        f"Delete:{g}:hive_table:qualifiedName -> {a}:(Done)",
        f"Update:{g}:hive_table:qualifiedName -> {b}:(Done)",
        f"Add:{g}:hive_table:qualifiedName -> {c}:(Done)",
        "Entity:hive_table:qualifiedName:[Not found]:(Skipped)",
        "no_such_type: (Skipped)",
    ]
    assert own(client, g) == sorted([b, c])
    actions = [e["action"] for e in client.entity.get_audit_events(g, None, None, 100)]
    assert actions[:3] == ["CLASSIFICATION_ADD", "CLASSIFICATION_UPDATE", "CLASSIFICATION_DELETE"]


def test_a_failing_change_is_partial_and_the_rest_goes_on(client: AtlasClient, tags: tuple[str, str, str]) -> None:
    h = create_hive(client, suffix(), ncols=0)
    header = AtlasEntityHeader({"typeName": "hive_table", "attributes": {"qualifiedName": h["table_qn"]},
                                "classifications": [AtlasClassification({"typeName": "NoSuchTag"})]})
    summary = json.loads(client.entity.set_classifications(AtlasEntityHeaders({"guidHeaderMap": {"x": header}})))
    assert summary == [f"Add:{h['table']}:hive_table:qualifiedName -> NoSuchTag:(Partial)"]
    assert own(client, h["table"]) == []


def test_malformed_headers_are_refused_whole(client: AtlasClient, tags: tuple[str, str, str]) -> None:
    h = create_hive(client, suffix(), ncols=0)
    good = AtlasEntityHeader({"typeName": "hive_table", "attributes": {"qualifiedName": h["table_qn"]},
                              "classifications": [AtlasClassification({"typeName": tags[0]})]})
    expect_error(400, "ATLAS-400-00-029", client.entity.set_classifications,
                 AtlasEntityHeaders({"guidHeaderMap": {"1": good, "2": "not a header"}}))
    assert own(client, h["table"]) == []
