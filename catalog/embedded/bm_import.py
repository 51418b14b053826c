"""Business metadata import: ``GET v2/entity/businessmetadata/import/template`` and
``POST v2/entity/businessmetadata/import`` (EntityREST, ``AtlasEntityStoreV2.bulkCreateOrUpdateBusinessAttributes``).

Each row of the file sets one business attribute of one entity: the entity's type, the value of one of its unique
attributes (which, ``qualifiedName`` unless the fifth column names another), the attribute as ``bm.attribute`` and
its value (an array attribute's values separated by ``|``). A row that can not be applied is reported
(``Line #n: ...``, counting the header as line 1) and left out; an array value that does not fit its element type
is reported and left out of the array. The rows of one entity are applied together, as one update of its business
metadata (Atlas's ``addOrUpdateBusinessAttributes``, with its checks and audit event); an entity whose update fails
is reported with the reason, the others are applied. Each entity updated is a ``successImportInfoList`` entry: its
guid and, as Java prints a map, its business metadata after the update.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from catalog.embedded import business_metadata as bm
from catalog.embedded import entity_read as er
from catalog.embedded.bulk_import import (
    BulkImportResponse,
    cell,
    java_array,
    java_split,
    read_rows,
    savepoint,
    uploaded_file,
)
from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.raw_content import RawContent
from catalog.embedded.store import EmbeddedStore
from catalog.embedded.typesystem import AttrDef, TypeRegistry
from catalog.embedded.values import InvalidValue, ValueNormalizer

if TYPE_CHECKING:
    from catalog.embedded.routes import AtlasRequest

# FileUtils.getBusinessMetadataHeaders
COLUMNS = ("EntityType", "EntityUniqueAttributeValue", "BusinessAttributeName", "BusinessAttributeValue",
           "EntityUniqueAttributeName[optional]")
TEMPLATE = ",".join(COLUMNS)
TEMPLATE_FILE = "template_business_metadata"
DEFAULT_UNIQUE_ATTRIBUTE = "qualifiedName"


def template(store: EmbeddedStore, req: AtlasRequest) -> RawContent:
    """``GET entity/businessmetadata/import/template``: the header line, as a file download."""
    return RawContent(TEMPLATE.encode(), headers=(("Content-Disposition", f'attachment; filename="{TEMPLATE_FILE}"'),))


def java_string(value: Any) -> str:
    """A value as Java's ``toString`` prints the maps, lists and scalars of an AtlasEntity."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={java_string(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(java_string(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else str(value)


@dataclass
class Target:
    """An entity the file sets business attributes of, with the values to set."""

    guid: str
    values: dict[str, dict[str, Any]] = field(default_factory=dict)


def _entity(conn: sqlite3.Connection, type_name: str, a: AttrDef, value: str) -> str | None:
    """findByTypeAndUniquePropertyName: the ACTIVE entity of exactly this type with this unique value."""
    row = conn.execute("SELECT e.guid FROM uattr u JOIN entity e ON e.guid = u.guid WHERE u.attr = ? AND u.value = ? "
                       "AND e.type_name = ? AND e.status = 'ACTIVE' ORDER BY e.update_time DESC LIMIT 1",
                       (f"{a.defined_in}.{a.name}", er.unique_key_value(value), type_name)).fetchone()
    return None if row is None else str(row[0])


def _array(registry: TypeRegistry, a: AttrDef, value: str, line: int, messages: list[str]) -> list[str]:
    """An array attribute's ``|``-separated values; one that does not fit the element type is reported, left out."""
    elem = a.type_ref.elem
    assert elem is not None
    norm = ValueNormalizer(registry)
    out = []
    for item in java_split(value, "|"):
        try:
            norm.normalize(item, elem, a.name)
        except InvalidValue:
            messages.append(f"Provided value {item} is not of {elem.name} type at line #{line}")
            continue
        out.append(item)
    return out


class BusinessMetadataImport:
    def __init__(self, conn: sqlite3.Connection, registry: TypeRegistry) -> None:
        self.conn, self.registry = conn, registry
        self.targets: dict[str, Target] = {}
        self.messages: list[str] = []

    def read(self, number: int, record: list[str]) -> None:
        """getBusinessMetadataDefList for one row (``number``: its line in the file)."""
        def fail(message: str) -> None:
            self.messages.append(f"Line #{number}: {message}")

        if len(record) < 4 or any(not record[i].strip() for i in range(4)):
            fail(f"missing fields. {java_array(record)}")
            return
        type_name, unique_value, bm_attribute, value = record[:4]
        t = self.registry.get(type_name)
        if t is None or t.category != "ENTITY":
            fail(f"invalid entity-type '{type_name}'")
            return
        unique_name = cell(record, 4) or ""
        if not unique_name.strip():
            unique_name = DEFAULT_UNIQUE_ATTRIBUTE
        unique = t.attributes.get(unique_name)
        if unique is None:
            fail(f"attribute '{unique_name}' not found in entity-type '{type_name}'")
            return
        if not unique.unique:
            fail(f"attribute '{unique_name}' is not an unique attribute in entity-type '{type_name}'")
            return
        guid = _entity(self.conn, type_name, unique, unique_value)
        if guid is None:
            fail(f"no {type_name} entity found with {unique_name}={unique_value}")
            return
        bm_name, _, attr_name = bm_attribute.partition(".")
        a = self.registry.business_attributes(type_name).get(bm_name, {}).get(attr_name) if attr_name else None
        if a is None:
            fail(f"invalid business-metadata '{bm_attribute}' for entity type '{type_name}'")
            return
        given: Any = _array(self.registry, a, value, number, self.messages) if a.type_ref.kind == "array" \
            else value
        self.targets.setdefault(guid, Target(guid)).values.setdefault(bm_name, {})[attr_name] = given

    def apply(self, user: str, response: BulkImportResponse) -> None:
        for target in self.targets.values():
            e = er.require_entity(self.conn, target.guid)
            merged = {k: dict(v) for k, v in (e.body.get("businessAttributes") or {}).items()}
            for name, values in target.values.items():
                merged.setdefault(name, {}).update(values)
            try:
                with savepoint(self.conn):
                    bm.add_or_update(self.conn, self.registry, target.guid, target.values, False, user)
            except AtlasError as err:
                response.fail(target.guid, java_string(merged), err.message)
                continue
            response.succeed(target.guid, java_string(merged), "")


def import_business_metadata(store: EmbeddedStore, file_name: str | None, data: bytes, user: str
                             ) -> dict[str, Any]:
    if not file_name or not file_name.strip():
        raise AtlasError(ErrorCode.FILE_NAME_NOT_FOUND)
    records = read_rows(file_name, data)
    response = BulkImportResponse()
    with store.db.write() as conn:
        run = BusinessMetadataImport(conn, store.registry)
        for index, record in enumerate(records):
            run.read(index + 2, record)
        for message in run.messages:
            response.fail("", "", message)
        run.apply(user, response)
    return response.json()


def import_attributes(store: EmbeddedStore, req: AtlasRequest) -> dict[str, Any]:
    """``POST entity/businessmetadata/import``: a multipart upload, the file in field ``file``."""
    upload = uploaded_file(req.body)
    return import_business_metadata(store, upload.file_name, upload.data, req.user)
