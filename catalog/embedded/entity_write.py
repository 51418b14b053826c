"""Entity create-or-update, as Atlas's AtlasEntityStoreV2.createOrUpdate does it.

One call = one request = one transaction. Entities are resolved by guid, else by unique attributes within
the type hierarchy; placeholders (negative guids) get real guids reported in ``guidAssignments``;
references resolve to entities of the same request or of the store; entities whose stored state would not
change are left out of ``mutatedEntities.UPDATE`` and not written. Every create, update and classification written
here is audited (:mod:`audit`) in the same transaction; deletes and purges are :mod:`entity_delete`'s.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson

from catalog.embedded import audit, business_metadata, propagation
from catalog.embedded.entity_delete import delete_entities
from catalog.embedded.entity_read import (
    INCOMPLETE,
    EntityRow,
    RelRow,
    find_by_unique,
    header,
    load_entity,
    relationships_of,
    unique_key_value,
)
from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.instance_checks import check_classification, check_entity
from catalog.embedded.typedefs import strip_nulls
from catalog.embedded.typesystem import AttrDef, RelEnd, StructType, TypeRegistry
from catalog.embedded.values import InvalidValue, ValueNormalizer


def is_assigned_guid(guid: Any) -> bool:
    return isinstance(guid, str) and bool(guid) and not guid.startswith("-")


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Pending:
    req: dict[str, Any]
    type: StructType
    guid: str
    request_guid: str | None
    existing: EntityRow | None
    attrs: dict[str, Any] = field(default_factory=dict)
    # attr name -> list of (target guid, relationship type, relationship attributes)
    rels: dict[str, list[tuple[str, str, dict[str, Any]]]] = field(default_factory=dict)
    business: dict[str, dict[str, Any]] = field(default_factory=dict)  # a new entity's business attributes


@dataclass
class Target:
    guid: str
    type_name: str


class MutationResult:
    def __init__(self) -> None:
        self.created: list[str] = []
        self.updated: list[str] = []
        self.partial: list[str] = []
        self.deleted: list[str] = []
        self.purged: list[str] = []
        self.completed: list[str] = []  # shells a full create/update filled in
        self.guid_assignments: dict[str, str] = {}


class EntityWriter:
    """Applies one mutation request inside the caller's write transaction."""

    def __init__(self, conn: sqlite3.Connection, registry: TypeRegistry, user: str) -> None:
        self.conn = conn
        self.registry = registry
        self.user = user
        self.now = now_ms()
        self.result = MutationResult()
        self.pending: list[Pending] = []
        self.by_request_guid: dict[str, Pending] = {}
        self.by_guid: dict[str, Pending] = {}
        self.by_unique: dict[tuple[str, str], list[Pending]] = {}
        self.errors: list[str] = []
        self.new_relationships: list[str] = []  # propagate classifications over them once all are written
        self.related_in_request: set[str] = set()  # entities given a relationship from their other end so far

    # -- entry points -------------------------------------------------------------------------------
    def create_or_update(self, entities: list[Any], referred: dict[str, Any] | None, partial: bool) -> None:
        if referred is not None and not isinstance(referred, dict):
            raise AtlasError(ErrorCode.BAD_REQUEST, "referredEntities must be an object of guid: entity")
        reqs: list[dict[str, Any]] = []
        for raw in [*entities, *(referred or {}).values()]:
            if not isinstance(raw, dict):
                raise AtlasError(ErrorCode.BAD_REQUEST, "every entity must be a JSON object")
            req = strip_nulls(raw)
            check_entity(req)
            reqs.append(req)
        if not reqs:
            raise AtlasError(ErrorCode.INVALID_PARAMETERS, "no entities to create/update")
        for req in reqs:
            self._resolve_target(req)
        for p in self.pending:
            self._map_attributes(p, partial)
        if self.errors:
            raise AtlasError(ErrorCode.INSTANCE_CRUD_INVALID_PARAMS, ", ".join(self.errors))
        for p in self.pending:
            self._apply(p, partial)
        propagation.relationships_created(self.conn, self.registry, self.new_relationships)

    # -- resolution ---------------------------------------------------------------------------------
    def _resolve_target(self, req: dict[str, Any]) -> None:
        type_name = req.get("typeName")
        if not isinstance(type_name, str):
            raise AtlasError(ErrorCode.INSTANCE_CRUD_INVALID_PARAMS, "typeName is required")
        t = self.registry.entity_type(type_name)
        req_guid = req.get("guid")
        attrs = req.get("attributes") or {}
        if not isinstance(attrs, dict):
            raise AtlasError(ErrorCode.BAD_REQUEST, "attributes must be an object")
        if isinstance(req_guid, str) and req_guid in self.by_request_guid:
            self._merge_into(self.by_request_guid[req_guid], req, req_guid)
            return
        existing: EntityRow | None = None
        if isinstance(req_guid, str) and is_assigned_guid(req_guid):
            existing = load_entity(self.conn, req_guid)
        if existing is None:
            uniq = _unique_values(t, attrs)
            prior = self._pending_by_unique(t, uniq)
            if prior is not None:
                self._merge_into(prior, req, req_guid)
                return
            existing = self._stored_by_unique(type_name, uniq, req_guid)
        if existing is not None and existing.guid in self.by_guid:
            self._merge_into(self.by_guid[existing.guid], req, req_guid)
            return
        if existing is not None and existing.type_name != type_name:
            t = self.registry.entity_type(existing.type_name)
        self._add_pending(req, t, req_guid, existing, attrs)

    def _merge_into(self, prior: Pending, req: dict[str, Any], req_guid: Any) -> None:
        """``req`` names an entity already in this request: fold it into that one's request."""
        prior.req = _merge_requests(prior.req, req)
        if isinstance(req_guid, str):
            self.by_request_guid[req_guid] = prior

    def _pending_by_unique(self, t: StructType, uniq: dict[str, Any]) -> Pending | None:
        """The entity of this request with one of these unique attribute values, if any."""
        for key in self._unique_keys(t, uniq):
            if key in self.by_unique:
                return self.by_unique[key][0]
        return None

    def _stored_by_unique(self, type_name: str, uniq: dict[str, Any], req_guid: Any) -> EntityRow | None:
        """The stored entity with these unique attribute values; an assigned guid that matched nothing fails."""
        existing = find_by_unique(self.conn, self.registry, type_name, uniq) if uniq else None
        if existing is None and is_assigned_guid(req_guid):
            raise AtlasError(ErrorCode.INSTANCE_GUID_NOT_FOUND, req_guid)
        return existing

    def _add_pending(self, req: dict[str, Any], t: StructType, req_guid: Any, existing: EntityRow | None,
                     attrs: dict[str, Any]) -> None:
        guid = existing.guid if existing is not None else str(uuid.uuid4())
        p = Pending(req=req, type=t, guid=guid, request_guid=req_guid if isinstance(req_guid, str) else None,
                    existing=existing)
        self.pending.append(p)
        self.by_guid[guid] = p
        if p.request_guid:
            self.by_request_guid[p.request_guid] = p
            if p.request_guid != guid:
                self.result.guid_assignments[p.request_guid] = guid
        for key in self._unique_keys(t, _unique_values(t, attrs)):
            self.by_unique.setdefault(key, []).append(p)

    def _unique_keys(self, t: StructType, uniq: dict[str, Any]) -> list[tuple[str, str]]:
        out = []
        for name, value in uniq.items():
            a = t.attributes[name]
            # Key on the attribute's defining type so subtypes sharing qualifiedName meet.
            out.append((f"{t.name}|{a.defined_in}.{name}", unique_key_value(value)))
        return out

    def resolve_ref(self, value: Any, expected_type: str, path: str) -> Target:
        if isinstance(value, str):
            value = {"guid": value}
        if not isinstance(value, dict):
            raise InvalidValue(f"{path}: invalid object-id {value!r}")
        guid = value.get("guid")
        if isinstance(guid, int) and not isinstance(guid, bool):
            guid = str(guid)  # Jackson's reading of a number where AtlasObjectId has a string
        type_name = value.get("typeName")
        uniq = value.get("uniqueAttributes")
        if isinstance(guid, str) and guid:
            target = self._target_by_guid(guid)
        elif isinstance(type_name, str) and isinstance(uniq, dict) and uniq:
            target = self._target_by_unique(type_name, uniq)
        else:
            raise AtlasError(ErrorCode.INVALID_OBJECT_ID, f"{path}: {value}")
        tt = self.registry.get(target.type_name)
        if tt is None or not tt.is_a(expected_type):
            raise InvalidValue(
                f"{path}: entity {target.guid} of type {target.type_name} is not a {expected_type}"
            )
        return target

    def _target_by_guid(self, guid: str) -> Target:
        """A reference by guid: a (placeholder or real) guid of this request, else a stored entity."""
        p = self.by_request_guid.get(guid) or self.by_guid.get(guid)
        if p is not None:
            return Target(p.guid, p.type.name)
        if is_assigned_guid(guid):
            row = self.conn.execute("SELECT type_name FROM entity WHERE guid = ?", (guid,)).fetchone()
            if row:
                return Target(guid, row[0])
        raise AtlasError(ErrorCode.REFERENCED_ENTITY_NOT_FOUND, guid)

    def _target_by_unique(self, type_name: str, uniq: dict[str, Any]) -> Target:
        """A reference by unique attributes: an entity of this request (of the type or a subtype), else a stored
        one."""
        ref_type = self.registry.entity_type(type_name)
        for tname in sorted(ref_type.type_and_sub_types):
            sub = self.registry.types[tname]
            p = self._pending_by_unique(sub, {k: v for k, v in uniq.items() if k in sub.attributes
                                              and sub.attributes[k].unique})
            if p is not None:
                return Target(p.guid, p.type.name)
        row = find_by_unique(self.conn, self.registry, type_name, uniq)
        if row is None:
            raise AtlasError(ErrorCode.REFERENCED_ENTITY_NOT_FOUND, f"{type_name}:{uniq}")
        return Target(row.guid, row.type_name)

    # -- attribute mapping --------------------------------------------------------------------------
    def _map_attributes(self, p: Pending, partial: bool) -> None:
        t = p.type
        req_attrs: dict[str, Any] = p.req.get("attributes") or {}
        req_rels = p.req.get("relationshipAttributes") or {}
        if not isinstance(req_rels, dict):
            raise AtlasError(ErrorCode.BAD_REQUEST, "relationshipAttributes must be an object")
        norm = ValueNormalizer(self.registry, self._ref_for_attribute)
        raw_rel_values = self._map_plain_attributes(p, req_attrs, norm)
        for name, value in req_rels.items():
            if name in t.rel_attrs:
                raw_rel_values[name] = value
        for name, value in raw_rel_values.items():
            self._map_relationship_attr(p, name, value)
        if not partial:
            self._check_mandatory_attributes(p, norm)
        if p.existing is None:
            self._check_mandatory_relationships(p)
            p.business = business_metadata.for_new_entity(self.registry, t.name, p.req.get("businessAttributes"),
                                                          self.errors)

    def _map_plain_attributes(self, p: Pending, req_attrs: dict[str, Any], norm: ValueNormalizer
                              ) -> dict[str, Any]:
        """Normalise ``attributes`` into ``p.attrs``; returns the ones that are relationship references."""
        t = p.type
        raw_rel_values: dict[str, Any] = {}
        for name, value in req_attrs.items():
            a = t.attributes.get(name)
            if name in t.rel_attrs and (a is None or self._refers_to_entities(a)):
                raw_rel_values[name] = value
                continue
            if a is None:
                continue  # Atlas drops unknown attributes
            try:
                p.attrs[name] = norm.normalize(value, a.type_ref, f"{t.name}.{name}")
            except InvalidValue as e:
                self.errors.append(str(e))
        return raw_rel_values

    def _refers_to_entities(self, a: AttrDef) -> bool:
        """Whether the attribute's type names only entity types (so a value is a relationship reference)."""
        named = a.type_ref.named_types()
        return bool(named) and all(self.registry.category_of(n) == "ENTITY" for n in named)

    def _check_mandatory_attributes(self, p: Pending, norm: ValueNormalizer) -> None:
        """A full create/update: every mandatory attribute has a value (its default if it has one)."""
        t = p.type
        tname = t.name
        for name, a in t.attributes.items():
            if a.optional or name in t.rel_attrs or p.attrs.get(name) is not None:
                continue
            if a.default is not None:
                try:
                    p.attrs[name] = norm.normalize(a.default, a.type_ref, f"{tname}.{name}")
                    continue
                except InvalidValue:
                    pass
            self.errors.append(f"{tname}.{name}: mandatory attribute value missing in type {tname}")

    def _check_mandatory_relationships(self, p: Pending) -> None:
        """A new entity: every relationship attribute with a mandatory end has a value."""
        tname = p.type.name
        for name, ends in p.type.rel_attrs.items():
            if any(end.mandatory for end in ends) and not p.rels.get(name):
                self.errors.append(f"{tname}.{name}: mandatory attribute value missing in type {tname}")

    def _ref_for_attribute(self, value: Any, expected_type: str, path: str) -> Any:
        target = self.resolve_ref(value, expected_type, path)
        return {"guid": target.guid, "typeName": target.type_name}

    def _map_relationship_attr(self, p: Pending, name: str, value: Any) -> None:
        t = p.type
        values = value if isinstance(value, list) else [value]
        out: list[tuple[str, str, dict[str, Any]]] = []
        for i, v in enumerate(values):
            path = f"{t.name}.{name}" + (f"[{i}]" if isinstance(value, list) else "")
            rel_type = v.get("relationshipType") if isinstance(v, dict) else None
            end = t.rel_end(name, rel_type if isinstance(rel_type, str) else None)
            if end is None:
                self.errors.append(f"{path}: no relationship {rel_type} for attribute {name} of {t.name}")
                continue
            try:
                target = self.resolve_ref(v, end.other_type, path)
            except InvalidValue as e:
                self.errors.append(str(e))
                continue
            rel_attrs: dict[str, Any] = {}
            if isinstance(v, dict) and isinstance(v.get("relationshipAttributes"), dict):
                given = v["relationshipAttributes"].get("attributes") or {}
                if not isinstance(given, dict):
                    self.errors.append(f"{path}: relationshipAttributes.attributes must be an object")
                    continue
                rel_attrs = dict(given)
            out.append((target.guid, end.rel_type, rel_attrs))
        ends = t.rel_attrs[name]
        if not isinstance(value, list) and all(e.cardinality == "SINGLE" for e in ends):
            out = out[:1]
        p.rels[name] = out

    # -- apply --------------------------------------------------------------------------------------
    def _apply(self, p: Pending, partial: bool) -> None:
        if p.existing is None:
            self._apply_create(p)
            self._apply_relationships(p)
            return
        old = p.existing
        body, changed = self._apply_update(p, old, partial)
        rel_changed = self._apply_relationships(p)
        if not (changed or rel_changed):
            return
        if not changed:
            self.conn.execute(
                "UPDATE entity SET update_time = ?, updated_by = ?, version = version + 1 WHERE guid = ?",
                (self.now, self.user, p.guid),
            )
        (self.result.partial if partial else self.result.updated).append(p.guid)
        if rel_changed or body["attributes"] != old.attributes or p.guid in self.result.completed:
            self._audit_entity(p, "ENTITY_UPDATE", "Updated: ")
        else:  # AtlasEntityDiffResult.hasDifferenceOnlyInCustomAttributes
            self._audit_entity(p, "CUSTOM_ATTRIBUTE_UPDATE", "Updated custom attribute: ")

    def _apply_create(self, p: Pending) -> None:
        body: dict[str, Any] = {"attributes": p.attrs}
        # homeId, isProxy and provenanceType are not kept: Atlas writes them only when importing
        # (EntityGraphMapper.updateSystemAttributes).
        if "customAttributes" in p.req:
            body["customAttributes"] = p.req["customAttributes"]
        if p.req.get("labels"):
            body["labels"] = list(dict.fromkeys(p.req["labels"]))
        if p.business:
            body["businessAttributes"] = p.business
        self._insert_entity(p.guid, p.type, body)
        self.result.created.append(p.guid)
        self._audit_create(p, body)
        for c in p.req.get("classifications") or []:
            if isinstance(c, dict) and c.get("typeName"):
                add_classification(self.conn, self.registry, p.guid, c, replace=True)

    def _apply_update(self, p: Pending, old: EntityRow, partial: bool) -> tuple[dict[str, Any], bool]:
        """Write the entity's new attributes (and custom attributes) if they differ; the new body and whether it
        changed."""
        t = p.type
        new_attrs = dict(old.attributes)
        for name, value in p.attrs.items():
            a = t.attributes[name]
            if partial and a.append_on_partial_update and isinstance(value, dict) \
                    and isinstance(new_attrs.get(name), dict):
                merged = dict(new_attrs[name])
                merged.update(value)
                new_attrs[name] = merged
            else:
                new_attrs[name] = value
        body = dict(old.body)
        body["attributes"] = new_attrs
        # An update sets custom attributes only: labels and business attributes have their own endpoints
        # (Atlas maps them on create, and on update only when importing).
        if "customAttributes" in p.req:
            body["customAttributes"] = p.req["customAttributes"]
        if not partial:
            self._complete_shell(p, body)
        changed = _without_mark(body) != _without_mark(old.body) or p.guid in self.result.completed
        if changed:
            self._update_entity(old, t, body)
        elif body != old.body:  # only a stale shell record dropped: nothing Atlas would see changed
            self.conn.execute("UPDATE entity SET body = ? WHERE guid = ?", (orjson.dumps(body).decode(), old.guid))
        return body, changed

    def _complete_shell(self, p: Pending, body: dict[str, Any]) -> None:
        """A full create/update fills a shell in: AtlasEntityStoreV2.createOrUpdate removes its __isIncomplete
        ("change entity 'isInComplete' to 'false' during full update"). The mark is kept as false, so that the hook
        consumer can still tell which shells its message completed (hook_shells.complete_shells drops it); a false
        one left by an earlier write is dropped here."""
        assert p.existing is not None
        if p.existing.is_incomplete:
            body[INCOMPLETE] = False
            self.result.completed.append(p.guid)
        else:
            body.pop(INCOMPLETE, None)

    def create_shell(self, t: StructType, attrs: dict[str, Any]) -> str:
        """A shell entity (EntityGraphMapper.createShellEntityVertex): ACTIVE, of type ``t``, holding only ``attrs``
        (its unique attributes), marked incomplete; not audited, not a mutation. Returns its guid."""
        guid = str(uuid.uuid4())
        self._insert_entity(guid, t, {"attributes": attrs, INCOMPLETE: True})
        return guid

    # -- audit ----------------------------------------------------------------------------------------
    def _audit_create(self, p: Pending, body: dict[str, Any]) -> None:
        if not audit.is_audited(self.registry, p.type.name):
            return
        self._audit_entity(p, "ENTITY_CREATE", "Created: ")
        if body.get("labels"):
            audit.record(self.conn, p.guid, "LABEL_ADD", "Added labels: " + " ".join(body["labels"]), self.user)
        for bm, values in p.business.items():
            details = audit.to_json({"typeName": bm, "attributes": values})
            audit.record(self.conn, p.guid, "BUSINESS_ATTRIBUTE_UPDATE", f"Updated business attributes: {details}",
                         self.user)

    def _audit_entity(self, p: Pending, action: str, prefix: str) -> None:
        row = load_entity(self.conn, p.guid)
        if row is None or not audit.is_audited(self.registry, row.type_name):
            return
        refs: dict[str, Any] = {}
        for name, wanted in p.rels.items():
            ids = [{"guid": g, "typeName": self._type_of(g)} for g, _, _ in wanted]
            if any(end.cardinality in ("SET", "LIST") for end in p.type.rel_attrs[name]):
                refs[name] = ids
            elif ids:
                refs[name] = ids[0]
        entity = audit.entity_json(row, relationship_attributes=refs)
        audit.record(self.conn, p.guid, action, prefix + audit.to_json(entity), self.user, self.now)

    def _type_of(self, guid: str) -> str | None:
        p = self.by_guid.get(guid)
        if p is not None:
            return p.type.name
        row = self.conn.execute("SELECT type_name FROM entity WHERE guid = ?", (guid,)).fetchone()
        return None if row is None else str(row[0])

    def _insert_entity(self, guid: str, t: StructType, body: dict[str, Any]) -> None:
        attrs = body["attributes"]
        self.conn.execute(
            "INSERT INTO entity(guid, type_name, status, qualified_name, name, body, create_time, update_time,"
            " version, created_by, updated_by) VALUES (?, ?, 'ACTIVE', ?, ?, ?, ?, ?, 1, ?, ?)",
            (guid, t.name, _str_or_none(attrs.get("qualifiedName")), _str_or_none(attrs.get("name")),
             orjson.dumps(body).decode(), self.now, self.now, self.user, self.user),
        )
        self._write_unique(guid, t, attrs)

    def _update_entity(self, old: EntityRow, t: StructType, body: dict[str, Any]) -> None:
        attrs = body["attributes"]
        self.conn.execute(
            "UPDATE entity SET qualified_name = ?, name = ?, body = ?, update_time = ?, updated_by = ?,"
            " version = version + 1 WHERE guid = ?",
            (_str_or_none(attrs.get("qualifiedName")), _str_or_none(attrs.get("name")),
             orjson.dumps(body).decode(), self.now, self.user, old.guid),
        )
        if any(attrs.get(a.name) != old.attributes.get(a.name) for a in t.unique_attrs):
            self.conn.execute("DELETE FROM uattr WHERE guid = ?", (old.guid,))
            self._write_unique(old.guid, t, attrs)

    def _write_unique(self, guid: str, t: StructType, attrs: dict[str, Any]) -> None:
        rows = [(f"{a.defined_in}.{a.name}", unique_key_value(attrs[a.name]), guid)
                for a in t.unique_attrs if attrs.get(a.name) is not None]
        if rows:
            self.conn.executemany("INSERT OR IGNORE INTO uattr(attr, value, guid) VALUES (?, ?, ?)", rows)

    def _apply_relationships(self, p: Pending) -> bool:
        if not p.rels:
            return False
        # A new entity has no relationships yet but those this request gave it from the other end (a table's columns
        # naming their table as the table names them): found, they are not made twice.
        existing = relationships_of(self.conn, p.guid) \
            if p.existing is not None or p.guid in self.related_in_request else []
        changed = False
        for name, wanted in p.rels.items():
            ends = p.type.rel_attrs[name]
            current: dict[tuple[str, str], RelRow] = {}
            for r in existing:
                for end in ends:
                    if r.type_name != end.rel_type:
                        continue
                    if end.side == 1 and r.end1 == p.guid:
                        current[(r.end2, r.type_name)] = r
                    elif end.side == 2 and r.end2 == p.guid:
                        current[(r.end1, r.type_name)] = r
            wanted_keys = set()
            for target, rel_type, rel_attrs in wanted:
                key = (target, rel_type)
                wanted_keys.add(key)
                new_end = p.type.rel_end(name, rel_type)
                assert new_end is not None
                if key in current:
                    r = current[key]
                    if rel_attrs and rel_attrs != (r.body.get("attributes") or {}):
                        r.body["attributes"] = rel_attrs
                        self.conn.execute(
                            "UPDATE relationship SET body = ?, update_time = ?, version = version + 1 "
                            "WHERE guid = ?", (orjson.dumps(r.body).decode(), self.now, r.guid))
                        changed = True
                    continue
                self._create_relationship(new_end, p.guid, target, rel_attrs)
                changed = True
            for key, r in current.items():
                if key not in wanted_keys:
                    self._delete_relationship(r)
                    old_end = p.type.rel_end(name, r.type_name)
                    if old_end is not None and old_end.is_container and old_end.category == "COMPOSITION":
                        # Dropping an owned child deletes it (Atlas's owned-ref semantics).
                        delete_entities(self.conn, self.registry, [key[0]], self.user, self.now,
                                        self.result, strict=False)
                    changed = True
        return changed

    def _create_relationship(self, end: RelEnd, me: str, other: str, attrs: dict[str, Any]) -> None:
        end1, end2 = (me, other) if end.side == 1 else (other, me)
        if end.other_cardinality == "SINGLE":
            # The other entity's attribute holds a single value: the new relationship replaces its old one.
            col = "end1" if end.side == 2 else "end2"
            for row in self.conn.execute(
                    f"SELECT guid FROM relationship WHERE {col} = ? AND type_name = ? AND status = 'ACTIVE'",
                    (other, end.rel_type)).fetchall():
                self.conn.execute("UPDATE relationship SET status = 'DELETED', update_time = ? WHERE guid = ?",
                                  (self.now, row[0]))
        body = {"attributes": attrs, "propagateTags": end.propagate_tags, "label": end.label}
        guid = str(uuid.uuid4())
        self.conn.execute(
            "INSERT INTO relationship(guid, type_name, label, end1, end2, status, body, create_time, update_time,"
            " version, created_by, updated_by) VALUES (?, ?, ?, ?, ?, 'ACTIVE', ?, ?, ?, 0, ?, ?)",
            (guid, end.rel_type, end.label, end1, end2, orjson.dumps(body).decode(), self.now,
             self.now, self.user, self.user),
        )
        self.related_in_request.add(other)
        if end.propagate_tags != propagation.NONE:
            self.new_relationships.append(guid)

    def _delete_relationship(self, r: RelRow) -> None:
        self.conn.execute(
            "UPDATE relationship SET status = 'DELETED', update_time = ?, updated_by = ? WHERE guid = ?",
            (self.now, self.user, r.guid),
        )

    def headers(self, guids: list[str]) -> list[dict[str, Any]]:
        out = []
        for g in dict.fromkeys(guids):
            e = load_entity(self.conn, g)
            if e is not None:
                out.append(header(self.registry, e))
        return out


def _without_mark(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != INCOMPLETE}


def _str_or_none(v: Any) -> str | None:
    return None if v is None else str(v)


def _unique_values(t: StructType, attrs: dict[str, Any]) -> dict[str, Any]:
    """The request's values of ``t``'s unique attributes (the ones given)."""
    return {a.name: attrs[a.name] for a in t.unique_attrs if attrs.get(a.name) is not None}


def _merge_requests(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for key in ("attributes", "relationshipAttributes"):
        if key in b:
            merged = dict(a.get(key) or {})
            merged.update(b[key] or {})
            out[key] = merged
    return out


def add_classification(conn: sqlite3.Connection, registry: TypeRegistry, guid: str, c: dict[str, Any],
                       replace: bool) -> None:
    """Add (or, with ``replace``, update) one of the entity's own classifications and move its propagations
    (:mod:`propagation`). An absent ``propagate`` is true on a new one (false while consuming hook notifications) and
    unchanged on an update, as is an absent ``removePropagationsOnEntityDelete`` (false on a new one)."""
    c = strip_nulls(c)
    check_classification(c)
    type_name = c.get("typeName")
    ct = registry.get(type_name) if isinstance(type_name, str) else None
    if ct is None or ct.category != "CLASSIFICATION":
        raise AtlasError(ErrorCode.CLASSIFICATION_NOT_FOUND, type_name)
    row = conn.execute("SELECT type_name FROM entity WHERE guid = ?", (guid,)).fetchone()
    if row is None:
        raise AtlasError(ErrorCode.INSTANCE_GUID_NOT_FOUND, guid)
    entity_types = (ct.raw.get("entityTypes") or [])
    if entity_types:
        et = registry.get(row[0])
        if et is None or not any(et.is_a(x) for x in entity_types):
            raise AtlasError(ErrorCode.INVALID_PARAMETERS,
                             f"classification {type_name} can not be added to entity type {row[0]}")
    attrs = c.get("attributes") or {}
    norm = ValueNormalizer(registry)
    out_attrs: dict[str, Any] = {}
    errors = []
    for name, a in ct.attributes.items():
        v = attrs.get(name)
        if v is None:
            if not a.optional:
                errors.append(f"{type_name}.{name}: mandatory attribute value missing in type {type_name}")
            continue
        try:
            out_attrs[name] = norm.normalize(v, a.type_ref, f"{type_name}.{name}")
        except InvalidValue as e:
            errors.append(str(e))
    if errors:
        raise AtlasError(ErrorCode.INSTANCE_CRUD_INVALID_PARAMS, ", ".join(errors))
    exists = conn.execute("SELECT body FROM classification WHERE entity_guid = ? AND type_name = ?",
                          (guid, type_name)).fetchone()
    if exists and not replace:
        # AtlasEntityStoreV2.validateEntityAssociations reports this as INVALID_PARAMETERS (400).
        raise AtlasError(ErrorCode.INVALID_PARAMETERS,
                         f"entity: {guid}, already associated with classification: {type_name}")
    if not exists and c.get("propagate") is True and c.get("entityGuid") not in (None, guid):
        return  # one propagated to it from elsewhere, sent back: EntityGraphMapper.addClassifications skips it
    old: dict[str, Any] | None = orjson.loads(exists[0]) if exists else None
    body = {
        "typeName": type_name,
        "attributes": out_attrs,
        "entityGuid": guid,
        "entityStatus": "ACTIVE",
        "propagate": _flag(c, old, "propagate", propagation.default_propagate()),
        "removePropagationsOnEntityDelete": _flag(c, old, "removePropagationsOnEntityDelete", False),
        "validityPeriods": c.get("validityPeriods") or [],
    }
    conn.execute("INSERT OR REPLACE INTO classification(entity_guid, type_name, body) VALUES (?, ?, ?)",
                 (guid, type_name, orjson.dumps(body).decode()))
    if audit.is_audited(registry, row[0]):
        action, prefix = ("CLASSIFICATION_UPDATE", "Updated") if exists else ("CLASSIFICATION_ADD", "Added")
        audit.record(conn, guid, action, f"{prefix} classification: {audit.to_json(body)}")
    if old is None:
        propagation.classification_added(conn, registry, guid, str(type_name))
    else:
        propagation.classification_changed(conn, registry, guid, str(type_name), old, body)


def _flag(c: dict[str, Any], old: dict[str, Any] | None, key: str, default: bool) -> bool:
    """A classification's boolean as sent, else as it was (an update leaves an absent one alone), else the
    default."""
    if c.get(key) is not None:
        return bool(c[key])
    return bool(old.get(key, default)) if old is not None else default


def replace_attributes(conn: sqlite3.Connection, registry: TypeRegistry, guid: str, attrs: dict[str, Any],
                       user: str) -> bool:
    """Set an entity's attributes to exactly ``attrs`` (an absent or null one is cleared), as Atlas's full update of
    an object it maps to an entity does (DataAccess.save of a glossary, term or category). Returns whether anything
    changed."""
    old = load_entity(conn, guid)
    if old is None:
        raise AtlasError(ErrorCode.INSTANCE_GUID_NOT_FOUND, guid)
    t = registry.entity_type(old.type_name)
    norm = ValueNormalizer(registry)
    new_attrs: dict[str, Any] = {}
    errors = []
    for name, a in t.attributes.items():
        value = attrs.get(name)
        if name in t.rel_attrs and a.type_ref.named_types():
            if name in old.attributes:
                new_attrs[name] = old.attributes[name]  # references stay as they are
            continue
        try:
            if value is not None:
                new_attrs[name] = norm.normalize(value, a.type_ref, f"{t.name}.{name}")
        except InvalidValue as e:
            errors.append(str(e))
            continue
        if value is None and not a.optional:
            errors.append(f"{t.name}.{name}: mandatory attribute value missing in type {t.name}")
    if errors:
        raise AtlasError(ErrorCode.INSTANCE_CRUD_INVALID_PARAMS, ", ".join(errors))
    if new_attrs == old.attributes:
        return False
    body = dict(old.body)
    body["attributes"] = new_attrs
    w = EntityWriter(conn, registry, user)
    w._update_entity(old, t, body)
    return True
