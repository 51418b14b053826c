"""Helpers for ``test_pyapacheatlas``: the embedded store driven by the community client ``pyapacheatlas`` (0.16).

pyapacheatlas is what many Atlas users script with (Excel/dict readers, GuidTracker placeholders, AtlasProcess
lineage). It is built on ``requests`` against ``<host>/api/atlas/v2``, indexes straight into response keys
(``referredEntities``, ``guidAssignments``, ``list``, ``terms``...), sends Python bools as ``True``/``False`` query
values and placeholder guids from ``GuidTracker`` (``"-1001"``, or plain ints in hand-written dicts), and raises
``AtlasException`` (a *BaseException*) with the raw response text when the body has an ``errorCode``.

Tests of a module share its server, so every name carries a fresh suffix (``suffix()``). The library ships no type
information: its objects are ``Any`` here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from pyapacheatlas.core import (  # type: ignore[import-untyped]
    AtlasAttributeDef,
    AtlasEntity,
    AtlasException,
    AtlasProcess,
    ClassificationTypeDef,
    EntityTypeDef,
    RelationshipTypeDef,
)
from pyapacheatlas.core.typedef import (  # type: ignore[import-untyped]
    AtlasRelationshipEndDef,
    Cardinality,
    ChildEndDef,
    ParentEndDef,
)
from pyapacheatlas.core.util import GuidTracker  # type: ignore[import-untyped]

from tests.conftest import ATLAS_PASSWORD, ATLAS_USER
from tests.embedded.official_client_helpers import GUID_RE, suffix

__all__ = ["GUID_RE", "CustomTypes", "Lineage", "Raw", "atlas_error", "custom_types", "suffix", "upload_lineage"]


def atlas_error(code: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Call ``fn``; it must raise pyapacheatlas's AtlasException carrying an Atlas error body with ``code``."""
    with pytest.raises(AtlasException) as info:
        fn(*args, **kwargs)
    body: dict[str, Any] = json.loads(info.value.args[0])  # AtlasException(response.text)
    assert body.get("errorCode") == code, body
    assert isinstance(body.get("errorMessage"), str) and body["errorMessage"], body
    return body


class Raw:
    """Plain HTTP next to the client, to read back what a pyapacheatlas call wrote."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> requests.Response:
        kwargs: dict[str, Any] = {"params": params, "auth": (ATLAS_USER, ATLAS_PASSWORD), "timeout": 30}
        if body is not None:
            kwargs["json"] = body
        return requests.request(method, f"{self.endpoint}/{path}", **kwargs)

    def ok(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        r = self.call(method, path, body, **params)
        assert r.status_code in (200, 204), (method, path, r.status_code, r.text)
        return r.json() if r.status_code == 200 else None


@dataclass(frozen=True)
class CustomTypes:
    """Names of the module's custom types (one upload, fresh suffix)."""

    table: str
    column: str
    job: str
    table_columns: str  # COMPOSITION table.columns <-> column.table
    column_refs: str  # ASSOCIATION table.refColumns <-> column.refTables
    pii: str  # classification with an int attribute

    def typedefs(self) -> dict[str, list[Any]]:
        """The kwargs of ``AtlasClient.upload_typedefs``, built with pyapacheatlas's typedef classes."""
        table = EntityTypeDef(self.table, superTypes=["DataSet"], description="a pyapacheatlas table",
                              attributeDefs=[AtlasAttributeDef("rowCount", typeName="long"),
                                             AtlasAttributeDef("format")])
        column = EntityTypeDef(self.column, superTypes=["DataSet"], attributeDefs=[AtlasAttributeDef("dataType")])
        job = EntityTypeDef(self.job, superTypes=["Process"], attributeDefs=[AtlasAttributeDef("schedule")])
        owns = RelationshipTypeDef(self.table_columns, relationshipCategory="COMPOSITION",
                                   endDef1=ParentEndDef("columns", self.table),
                                   endDef2=ChildEndDef("table", self.column))
        refs = RelationshipTypeDef(self.column_refs, relationshipCategory="ASSOCIATION",
                                   endDef1=AtlasRelationshipEndDef("refColumns", self.table, Cardinality.SET),
                                   endDef2=AtlasRelationshipEndDef("refTables", self.column, Cardinality.SET))
        pii = ClassificationTypeDef(self.pii, attributeDefs=[AtlasAttributeDef("level", typeName="int")])
        return {"entityDefs": [table, column, job], "relationshipDefs": [owns, refs], "classificationDefs": [pii]}


def custom_types() -> CustomTypes:
    uid = suffix()
    return CustomTypes(table=f"pyaa_table_{uid}", column=f"pyaa_column_{uid}", job=f"pyaa_job_{uid}",
                       table_columns=f"pyaa_table_columns_{uid}", column_refs=f"pyaa_column_refs_{uid}",
                       pii=f"PyaaPII_{uid}")


@dataclass
class Lineage:
    """What ``upload_lineage`` sent and what the server answered."""

    response: dict[str, Any]
    source: Any  # AtlasEntity objects, guids still the placeholders
    target: Any
    columns: list[Any]
    job: Any

    def guid(self, entity: Any) -> str:
        assigned: str = self.response["guidAssignments"][str(entity.guid)]
        return assigned


def upload_lineage(client: Any, types: CustomTypes, uid: str, ncols: int = 2) -> Lineage:
    """source table (+ columns) -> job (AtlasProcess) -> target table, one upload_entities with GuidTracker guids,
    the way pyapacheatlas's samples build it."""
    gt = GuidTracker()
    source = AtlasEntity(f"src_{uid}", types.table, f"pyaa://src_{uid}", guid=gt.get_guid(),
                         attributes={"rowCount": 10, "format": "parquet"})
    target = AtlasEntity(f"dst_{uid}", types.table, f"pyaa://dst_{uid}", guid=gt.get_guid())
    columns = []
    for i in range(ncols):
        col = AtlasEntity(f"c{i}", types.column, f"pyaa://src_{uid}#c{i}", guid=gt.get_guid(),
                          attributes={"dataType": "int"})
        col.addRelationship(table=source)
        columns.append(col)
    job = AtlasProcess(f"job_{uid}", types.job, f"pyaa://job_{uid}", inputs=[source], outputs=[target],
                       guid=gt.get_guid(), attributes={"schedule": "daily"})
    response = client.upload_entities([source, target, *columns, job])
    return Lineage(response, source, target, columns, job)
