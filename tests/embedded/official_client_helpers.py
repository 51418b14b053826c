"""Helpers shared by the ``test_official_client_*`` modules: the embedded store driven by the official client.

Those tests talk to the session server (``atlas_url`` fixture, real uvicorn over loopback) exactly the way user code
would: ``AtlasClient(url, (user, password))`` (the ``client`` fixture in this directory's ``conftest.py``) and the
client's own model classes, which serialise every unset field as an explicit ``null``.  Expected behaviour is Apache
Atlas 2.x's, as written down in ``shared/reference/atlas-rest-and-models.md`` (sections referenced as "spec §...").
The server is shared by the whole session, so every test uses names with a fresh random suffix (``suffix()``).
"""

from __future__ import annotations

import ast
import re
import uuid
from collections.abc import Callable
from typing import Any, cast

import pytest
from apache_atlas.client.base_client import AtlasClient
from apache_atlas.exceptions import AtlasServiceException
from apache_atlas.model.instance import (
    AtlasEntitiesWithExtInfo,
    AtlasEntity,
    AtlasObjectId,
    AtlasRelatedObjectId,
    EntityMutationResponse,
)
from apache_atlas.model.typedef import AtlasAttributeDef

GUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# AtlasServiceException has no status/errorCode attributes (spec §1c): parse its message.
ERROR_RE = re.compile(r"failed with status (\d+)\. Response body is: (.*)\Z", re.S)

# 2024-01-02T03:04:05.000Z
T0 = 1704164645000


def parse_service_exception(exc: AtlasServiceException) -> tuple[int, Any]:
    """(HTTP status, parsed body) out of the client's exception message."""
    m = ERROR_RE.search(str(exc))
    assert m, f"unexpected AtlasServiceException message: {exc}"
    raw = m.group(2)
    try:
        body: Any = ast.literal_eval(raw)  # the client formats response.json() with str()
    except (ValueError, SyntaxError):
        body = raw
    return int(m.group(1)), body


def expect_error(status: int, error_code: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Call ``fn``; it must raise AtlasServiceException with this HTTP status and Atlas errorCode."""
    with pytest.raises(AtlasServiceException) as info:
        fn(*args, **kwargs)
    got_status, body = parse_service_exception(info.value)
    got_code = body.get("errorCode") if isinstance(body, dict) else None
    assert (got_status, got_code) == (status, error_code), str(info.value)
    assert isinstance(body.get("errorMessage"), str) and body["errorMessage"], body
    return cast(dict[str, Any], body)  # the parsed JSON error body, a dict by the assertions above


def suffix() -> str:
    return uuid.uuid4().hex[:10]


def entity(type_name: str, attributes: dict[str, Any],
           relationship_attributes: dict[str, Any] | None = None) -> AtlasEntity:
    """An AtlasEntity as user code builds it: client model class, negative placeholder guid."""
    e = AtlasEntity({"typeName": type_name})
    e.attributes = attributes
    if relationship_attributes is not None:
        e.relationshipAttributes = relationship_attributes
    assert e.guid.startswith("-")
    return e


def ref(guid: str, relationship_type: str | None = None) -> AtlasObjectId:
    if relationship_type:
        return AtlasRelatedObjectId({"guid": guid, "relationshipType": relationship_type})
    return AtlasObjectId({"guid": guid})


def bulk(*entities: AtlasEntity) -> AtlasEntitiesWithExtInfo:
    return AtlasEntitiesWithExtInfo({"entities": list(entities)})


def mutated(resp: EntityMutationResponse, op: str) -> list[str]:
    return [h.guid for h in (resp.mutatedEntities or {}).get(op) or []]


def rel_guids(value: Any) -> set[str]:
    """Guids of a relationship attribute value (one AtlasRelatedObjectId or a list of them)."""
    if value is None:
        return set()
    if isinstance(value, dict):
        return {value["guid"]}
    return {v["guid"] for v in value}


def attr_def(name: str, type_name: str = "string", optional: bool | None = True, **extra: Any) -> AtlasAttributeDef:
    d = {"name": name, "typeName": type_name, **extra}
    if optional is not None:
        d["isOptional"] = optional
    return AtlasAttributeDef(d)


def create_hive(client: AtlasClient, uid: str, ncols: int = 2, table_attrs: dict[str, Any] | None = None
                ) -> dict[str, Any]:
    """hive_db -> hive_table (db) -> hive_columns (table) in one bulk request with placeholders."""
    db = entity("hive_db", {"qualifiedName": f"db_{uid}@cm", "name": f"db_{uid}", "clusterName": "cm"})
    tbl = entity("hive_table", {"qualifiedName": f"db_{uid}.tbl@cm", "name": "tbl", "createTime": T0,
                                **(table_attrs or {})},
                 {"db": ref(db.guid)})
    cols = [entity("hive_column", {"qualifiedName": f"db_{uid}.tbl.c{i}@cm", "name": f"c{i}", "type": "int",
                                   "position": i},
                   {"table": ref(tbl.guid, "hive_table_columns")}) for i in range(ncols)]
    resp = client.entity.create_entities(bulk(db, tbl, *cols))
    ga = resp.guidAssignments
    return {"resp": resp, "db": ga[db.guid], "table": ga[tbl.guid], "columns": [ga[c.guid] for c in cols],
            "placeholders": [db.guid, tbl.guid, *[c.guid for c in cols]],
            "db_qn": f"db_{uid}@cm", "table_qn": f"db_{uid}.tbl@cm"}
