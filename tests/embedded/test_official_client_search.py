"""Basic and faceted search through the official ``apache-atlas`` client (``client.discovery``) against the
embedded store: five hive_tables, an ml_project and a deleted hive_table carrying one unique token (the module-scoped
``searchable`` fixture) are found by GET ``search/basic`` by type (subtypes included), query and deleted-entity
handling, with paging and sorting, and by POST ``search/basic`` with nested entity filters and their operators; a
search without parameters is a 400. Setup and shared helpers: ``official_client_helpers`` and this directory's
``conftest.py``.
"""

from __future__ import annotations

from typing import Any

import pytest
from apache_atlas.client.base_client import AtlasClient
from apache_atlas.model.discovery import FilterCriteria, SearchParameters
from apache_atlas.model.instance import AtlasEntityWithExtInfo

from tests.embedded.official_client_helpers import T0, bulk, entity, expect_error, suffix


@pytest.fixture(scope="module")
def searchable(client: AtlasClient) -> dict[str, Any]:
    """Five hive_tables and one ml_project, all carrying the unique token ``uid`` in their description."""
    uid = suffix()
    owners = ["alice", "bob", "alice", "carol", "bob"]
    tables = [entity("hive_table", {"qualifiedName": f"srch_{uid}.t{i}@cm", "name": f"t{i}",
                                    "description": f"training table {uid} number {i}", "owner": owners[i],
                                    "retention": i, "createTime": T0 + i * 1000}) for i in range(5)]
    proj = entity("ml_project", {"qualifiedName": f"srch_{uid}.proj@cm", "name": "proj",
                                 "description": f"project {uid}", "owner": "alice"})
    ga = client.entity.create_entities(bulk(*tables, proj)).guidAssignments
    deleted = entity("hive_table", {"qualifiedName": f"srch_{uid}.gone@cm", "name": "gone",
                                    "description": f"deleted table {uid}", "owner": "dave", "retention": 9})
    gone = client.entity.create_entity(AtlasEntityWithExtInfo({"entity": deleted})).guidAssignments[deleted.guid]
    client.entity.delete_entity_by_guid(gone)
    return {"uid": uid, "t": [ga[t.guid] for t in tables], "proj": ga[proj.guid], "gone": gone,
            "prefix": f"srch_{uid}."}


def guids_of(result: Any) -> list[str]:
    return [e.guid for e in result.entities or []]


def crit(attribute: str, operator: str, value: str) -> FilterCriteria:
    return FilterCriteria({"attributeName": attribute, "operator": operator, "attributeValue": value})


def group(condition: str, *criteria: FilterCriteria) -> FilterCriteria:
    return FilterCriteria({"condition": condition, "criterion": list(criteria)})


def faceted(client: AtlasClient, type_name: str, filters: FilterCriteria | None, **extra: Any) -> Any:
    params = SearchParameters({"typeName": type_name, "excludeDeletedEntities": True, "limit": 100, "offset": 0,
                               **extra})
    params.entityFilters = filters
    return client.discovery.faceted_search(params)


def test_basic_search_get(client: AtlasClient, searchable: dict[str, Any]) -> None:
    uid, t = searchable["uid"], searchable["t"]
    res = client.discovery.basic_search("hive_table", None, uid, True)
    assert res.queryType == "BASIC"
    assert set(guids_of(res)) == set(t)
    for hdr in res.entities:
        assert hdr.typeName == "hive_table" and hdr.status == "ACTIVE"
        assert hdr.attributes["qualifiedName"].startswith(searchable["prefix"]) and hdr.displayText
    # deleted entities are included unless excluded
    res = client.discovery.basic_search("hive_table", None, uid, False)
    assert set(guids_of(res)) == {*t, searchable["gone"]}
    statuses = {e.guid: e.status for e in res.entities}
    assert statuses[searchable["gone"]] == "DELETED"
    # typeName includes subtypes
    res = client.discovery.basic_search("DataSet", None, uid, True)
    assert set(guids_of(res)) == {*t, searchable["proj"]}
    res = client.discovery.basic_search("ml_project", None, uid, True)
    assert guids_of(res) == [searchable["proj"]]
    # no hits: `entities` is absent
    res = client.discovery.basic_search("hive_table", None, f"zz{uid}zz", True)
    assert res.entities is None
    res = client.discovery.basic_search("hive_process", None, uid, True)
    assert res.entities is None


def test_basic_search_paging_and_sorting(client: AtlasClient, searchable: dict[str, Any]) -> None:
    uid, t = searchable["uid"], searchable["t"]
    pages = [guids_of(client.discovery.basic_search("hive_table", None, uid, True, "name", "ASCENDING",
                                                    limit=2, offset=off)) for off in (0, 2, 4, 6)]
    assert pages == [[t[0], t[1]], [t[2], t[3]], [t[4]], []]
    desc = guids_of(client.discovery.basic_search("hive_table", None, uid, True, "name", "DESCENDING",
                                                  limit=3, offset=0))
    assert desc == [t[4], t[3], t[2]]
    # same through POST search/basic
    res = faceted(client, "hive_table", crit("qualifiedName", "startsWith", searchable["prefix"]),
                  sortBy="retention", sortOrder="DESCENDING", limit=2, offset=1)
    assert guids_of(res) == [t[3], t[2]]


def test_faceted_search_filters(client: AtlasClient, searchable: dict[str, Any]) -> None:
    t, prefix = searchable["t"], searchable["prefix"]
    in_prefix = crit("qualifiedName", "startsWith", prefix)

    def run(filters: FilterCriteria, type_name: str = "hive_table") -> set[str]:
        return set(guids_of(faceted(client, type_name, filters)))

    assert run(in_prefix) == set(t)
    assert run(in_prefix, "DataSet") == {*t, searchable["proj"]}
    assert run(group("AND", in_prefix, crit("owner", "=", "alice"))) == {t[0], t[2]}
    assert run(group("AND", in_prefix, crit("owner", "=", "alice")), "DataSet") == {t[0], t[2], searchable["proj"]}
    assert run(group("AND", in_prefix, crit("retention", ">=", "3"))) == {t[3], t[4]}
    assert run(group("AND", in_prefix, crit("retention", "<", "2"))) == {t[0], t[1]}
    assert run(group("AND", in_prefix, crit("owner", "contains", "aro"))) == {t[3]}
    assert run(group("AND", in_prefix, crit("name", "startsWith", "t"), crit("owner", "!=", "bob"))) \
        == {t[0], t[2], t[3]}
    assert run(group("AND", in_prefix, group("OR", crit("name", "=", "t0"), crit("name", "=", "t4"),
                                             crit("owner", "=", "carol")))) == {t[0], t[3], t[4]}
    assert run(group("AND", in_prefix, crit("name", "endsWith", "4"))) == {t[4]}
    assert run(group("AND", in_prefix, crit("owner", "=", "nobody"))) == set()
    # a single criterion at the top level and excludeDeletedEntities=False
    res = faceted(client, "hive_table", crit("qualifiedName", "startsWith", prefix), excludeDeletedEntities=False)
    assert set(guids_of(res)) == {*t, searchable["gone"]}
    # SearchParameters.excludeDeletedEntities is a Java boolean: null/absent means false -> deleted included
    params = SearchParameters({"typeName": "hive_table", "limit": 100, "offset": 0})
    params.entityFilters = crit("qualifiedName", "startsWith", prefix)
    assert params.excludeDeletedEntities is None  # the client sends an explicit null
    assert set(guids_of(client.discovery.faceted_search(params))) == {*t, searchable["gone"]}
    # query + filters together
    res = faceted(client, "hive_table", crit("owner", "=", "bob"), query=searchable["uid"])
    assert set(guids_of(res)) == {t[1], t[4]}


def test_search_without_parameters_is_400_047(client: AtlasClient) -> None:
    expect_error(400, "ATLAS-400-00-047", client.discovery.faceted_search, SearchParameters({}))
    expect_error(400, "ATLAS-400-00-047", client.discovery.basic_search, None, None, None, False)
