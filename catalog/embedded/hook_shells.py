"""Shell entities: what Atlas's hook consumer makes of a reference to an entity it does not know yet.

With ``atlas.notification.consumer.create.shell.entity.for.non-existing.ref`` (default true) a reference by type and
unique attributes that matches no entity of the message and none of the store becomes a shell
(``UniqAttrBasedEntityResolver`` → ``EntityGraphMapper.createShellEntityVertex``): an ACTIVE entity of the
referenced type holding only those unique attributes, marked ``isIncomplete``, with no audit event. A later full
create or update of that entity (by its unique attributes), from a hook message or the REST API alike, fills it in and
clears the mark (``AtlasEntityStoreV2.createOrUpdate``: "change entity 'isInComplete' to 'false' during full update";
here :class:`EntityWriter`); a partial update leaves it a shell.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import orjson

from catalog.embedded.entity_read import INCOMPLETE, find_by_unique, load_entity, unique_key_value
from catalog.embedded.entity_write import EntityWriter
from catalog.embedded.typesystem import StructType, TypeRegistry
from catalog.embedded.values import InvalidValue, ValueNormalizer


def _object_ids(value: Any) -> Iterator[dict[str, Any]]:
    for v in value if isinstance(value, list) else [value]:
        if isinstance(v, dict):
            yield v


def _refers_to_entities(registry: TypeRegistry, t: StructType, name: str) -> bool:
    """Whether ``t.name`` holds references to entities (a relationship attribute, or an attribute of entity type)."""
    if name in t.rel_attrs:
        return True
    a = t.attributes.get(name)
    named = a.type_ref.named_types() if a is not None else []
    return bool(named) and all(registry.category_of(n) == "ENTITY" for n in named)


def _entity_type(registry: TypeRegistry, entity: Any) -> StructType | None:
    type_name = entity.get("typeName") if isinstance(entity, dict) else None
    t = registry.get(type_name) if isinstance(type_name, str) else None
    return t if t is not None and t.category == "ENTITY" else None


def references(registry: TypeRegistry, entities: list[Any]) -> Iterator[dict[str, Any]]:
    """The object ids in the entities' attributes and relationship attributes (of the entity's type)."""
    for e in entities:
        t = _entity_type(registry, e)
        if t is None:
            continue
        for key in ("attributes", "relationshipAttributes"):
            values = e.get(key)
            if not isinstance(values, dict):
                continue
            for name, value in values.items():
                if value is not None and _refers_to_entities(registry, t, name):
                    yield from _object_ids(value)


class _MessageEntities:
    """The message's own entities by (type, unique attribute, value): a reference to one of them needs no shell."""

    def __init__(self, registry: TypeRegistry, entities: list[Any]) -> None:
        self.keys: set[tuple[str, str, str]] = set()
        for e in entities:
            t = _entity_type(registry, e)
            attrs = e.get("attributes") if t is not None else None
            if t is None or not isinstance(attrs, dict):
                continue
            for a in t.unique_attrs:
                if attrs.get(a.name) is not None:
                    self.keys.add((t.name, a.name, unique_key_value(attrs[a.name])))

    def has(self, t: StructType, uniq: dict[str, Any]) -> bool:
        return any((sub, k, unique_key_value(v)) in self.keys for sub in t.type_and_sub_types for k, v in uniq.items())


def _unique_values(registry: TypeRegistry, ref: dict[str, Any]) -> tuple[StructType, dict[str, Any]] | None:
    """A reference Atlas resolves by unique attributes (no guid): its type and unique attribute values."""
    if ref.get("guid") not in (None, ""):
        return None
    type_name, given = ref.get("typeName"), ref.get("uniqueAttributes")
    t = registry.get(type_name) if isinstance(type_name, str) else None
    if t is None or t.category != "ENTITY" or not isinstance(given, dict):
        return None  # not resolvable at all: the entity write answers with Atlas's error
    uniq = {k: v for k, v in given.items() if v is not None and k in t.attributes and t.attributes[k].unique}
    return (t, uniq) if uniq else None


def create_shells(conn: sqlite3.Connection, registry: TypeRegistry, entities: list[Any], user: str) -> list[str]:
    """Shells, in the caller's transaction, for the references of ``entities`` that nothing resolves; their guids."""
    mine = _MessageEntities(registry, entities)
    norm = ValueNormalizer(registry)
    writer = EntityWriter(conn, registry, user)
    created: list[str] = []
    for ref in references(registry, entities):
        found = _unique_values(registry, ref)
        if found is None:
            continue
        t, uniq = found
        if mine.has(t, uniq) or find_by_unique(conn, registry, t.name, uniq) is not None:
            continue
        try:
            attrs = {k: norm.normalize(v, t.attributes[k].type_ref, f"{t.name}.{k}") for k, v in uniq.items()}
        except InvalidValue:
            continue  # a value the type can not hold: the entity write refuses the reference
        created.append(writer.create_shell(t, attrs))
    return created


def complete_shells(conn: sqlite3.Connection, guids: list[str]) -> list[str]:
    """Those of ``guids`` (entities a full create/update just wrote) that were shells until that write: the writer
    left them marked complete (``isIncomplete: false``); that record is dropped here, so each is reported once."""
    completed = []
    for guid in guids:
        e = load_entity(conn, guid)
        if e is None or INCOMPLETE not in e.body:
            continue
        body = dict(e.body)
        del body[INCOMPLETE]
        conn.execute("UPDATE entity SET body = ? WHERE guid = ?", (orjson.dumps(body).decode(), guid))
        completed.append(guid)
    return completed


def is_shell(conn: sqlite3.Connection, guid: str) -> bool:
    e = load_entity(conn, guid)
    return e is not None and e.is_incomplete
