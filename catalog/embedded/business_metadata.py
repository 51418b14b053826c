"""Business metadata: the rules of its typedefs and the ``businessAttributes`` of entities.

Typedef rules are ``AtlasBusinessMetadataType.resolveReferences`` and ``AtlasBusinessMetadataDefStoreV2``'s:
attributes of primitive or enum types only (arrays/maps of them), a ``maxStrLength`` option on string attributes,
``applicableEntityTypes`` naming entity types, which an update may extend but not shrink. Entity values follow
``AtlasEntityStoreV2.addOrUpdateBusinessAttributes``/``removeBusinessAttributes`` and ``EntityGraphMapper``: values
are checked against the attribute types and lengths, each business metadata whose values change is one
BUSINESS_ATTRIBUTE_UPDATE audit event, written with the change.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

from catalog.embedded import audit
from catalog.embedded.entity_read import EntityRow, require_entity
from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.limits import shown
from catalog.embedded.typesystem import APPLICABLE_ENTITY_TYPES, AttrDef, TypeRef, TypeRegistry
from catalog.embedded.values import InvalidValue, ValueNormalizer

MAX_STR_LENGTH = "maxStrLength"  # AtlasBusinessMetadataDef.ATTR_MAX_STRING_LENGTH
BusinessAttributes = dict[str, dict[str, Any]]


# -- typedefs ----------------------------------------------------------------------------------------------------
def _element(ref: TypeRef) -> TypeRef:
    """The type a business attribute's value is made of: array<X> and map<K,X> are checked as X."""
    if ref.kind in ("array", "map") and ref.elem is not None:
        return ref.elem
    return ref


def _check_attribute(registry: TypeRegistry, bm: str, a: AttrDef) -> None:
    elem = _element(a.type_ref)
    if elem.kind == "named" and registry.category_of(elem.name) != "ENUM":
        raise AtlasError(ErrorCode.BUSINESS_METADATA_DEF_ATTRIBUTE_TYPE_INVALID, bm, a.name)
    if elem.kind == "primitive" and elem.name == "string":
        if MAX_STR_LENGTH not in a.options:
            raise AtlasError(ErrorCode.MISSING_MANDATORY_ATTRIBUTE, a.name, f"options.{MAX_STR_LENGTH}")
        if max_length(a) is None:
            raise AtlasError(ErrorCode.INVALID_TYPE_DEFINITION,
                             f"{bm}.{a.name}: options.{MAX_STR_LENGTH} must be an integer")
    raw = a.options.get(APPLICABLE_ENTITY_TYPES)
    if raw is None:
        return
    try:
        names = json.loads(raw)
    except ValueError:
        names = None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise AtlasError(ErrorCode.INVALID_TYPE_DEFINITION,
                         f"{bm}.{a.name}: options.{APPLICABLE_ENTITY_TYPES} must be a JSON list of type names")
    for name in names:
        if registry.category_of(name) != "ENTITY":
            raise AtlasError(ErrorCode.TYPE_NAME_NOT_FOUND, shown(name))


def check_defs(registry: TypeRegistry, names: Iterable[str]) -> None:
    """The business metadata defs among ``names`` follow Atlas's rules (run on the registry that would result)."""
    for name in names:
        t = registry.get(name)
        if t is not None and t.category == "BUSINESS_METADATA":
            for a in t.attributes.values():
                _check_attribute(registry, name, a)


def check_update(old: dict[str, Any], new: dict[str, Any]) -> None:
    """AtlasBusinessMetadataDefStoreV2.updateVertexPreUpdate: applicableEntityTypes may grow, never shrink."""
    old_attrs = {a.get("name"): a for a in old.get("attributeDefs") or []}
    for a in new.get("attributeDefs") or []:
        before = old_attrs.get(a.get("name"))
        if before is None:
            continue
        had, has = _type_names(before), _type_names(a)
        if had is not None and has is not None and not had <= has:
            raise AtlasError(ErrorCode.APPLICABLE_ENTITY_TYPES_DELETION_NOT_SUPPORTED, a.get("name"), new["name"])


def _type_names(attribute: dict[str, Any]) -> set[str] | None:
    raw = (attribute.get("options") or {}).get(APPLICABLE_ENTITY_TYPES)
    if not raw:
        return None
    try:
        names = json.loads(raw)
    except ValueError:
        return None
    return {n for n in names if isinstance(n, str)} if isinstance(names, list) else None


def has_values(conn: sqlite3.Connection, bm: str) -> bool:
    """Whether an entity holds a value of business metadata ``bm`` (checkBusinessMetadataRef: TYPE_HAS_REFERENCES)."""
    path = '$.businessAttributes."' + bm.replace('"', "") + '"'
    row = conn.execute("SELECT 1 FROM entity WHERE json_extract(body, ?) IS NOT NULL LIMIT 1", (path,)).fetchone()
    return row is not None


# -- values ------------------------------------------------------------------------------------------------------
def max_length(a: AttrDef) -> int | None:
    try:
        return int(a.options.get(MAX_STR_LENGTH, ""))
    except ValueError:
        return None


def _too_long(a: AttrDef, value: Any) -> bool:
    """AtlasBusinessAttribute.isValidLength: strings, and strings in arrays, up to maxStrLength."""
    elem = _element(a.type_ref)
    if not (elem.kind == "primitive" and elem.name == "string"):
        return False
    limit = max_length(a) or 0
    values = value if a.type_ref.kind == "array" and isinstance(value, list) else [value]
    return a.type_ref.kind in ("primitive", "array") and any(len(str(v)) > limit for v in values)


def _normalized(norm: ValueNormalizer, a: AttrDef, value: Any, field: str, messages: list[str]) -> Any:
    try:
        out = norm.normalize(value, a.type_ref, field)
    except InvalidValue as e:
        messages.append(str(e))
        return None
    if _too_long(a, out):
        messages.append(f"{field}:  Business attribute-value exceeds maximum length limit")
    return out


def for_new_entity(registry: TypeRegistry, type_name: str, given: Any, errors: list[str]) -> BusinessAttributes:
    """An entity create's ``businessAttributes``: those of business metadata applicable to the type, normalised
    (EntityGraphMapper maps only applicable attributes and ignores the rest)."""
    out: BusinessAttributes = {}
    if not isinstance(given, dict):
        return out
    norm = ValueNormalizer(registry)
    for bm, attrs in registry.business_attributes(type_name).items():
        values = given.get(bm)
        if not isinstance(values, dict):
            continue
        for name, a in attrs.items():
            if values.get(name) is not None:
                value = _normalized(norm, a, values[name], f"{type_name}.{bm}.{name}", errors)
                if value is not None:
                    out.setdefault(bm, {})[name] = value
    return out


def parse_body(body: Any) -> BusinessAttributes:
    """A ``Map<String, Map<String, Object>>`` as Jackson reads it: null inner maps are empty."""
    if body is None:
        return {}
    if not isinstance(body, dict) or not all(v is None or isinstance(v, dict) for v in body.values()):
        raise AtlasError(ErrorCode.BAD_REQUEST, "body must be an object of business metadata name: {attribute: value}")
    return {str(k): dict(v or {}) for k, v in body.items()}


def _validate(registry: TypeRegistry, e: EntityRow, given: BusinessAttributes, overwrite: bool
              ) -> BusinessAttributes:
    """AtlasEntityStoreV2.validateBusinessAttributes; returns the normalised values."""
    applicable = registry.business_attributes(e.type_name)
    current: BusinessAttributes = e.body.get("businessAttributes") or {}
    norm = ValueNormalizer(registry)
    messages: list[str] = []
    out: BusinessAttributes = {}
    for bm, values in given.items():
        if bm not in applicable:
            messages.append(f"{bm}: invalid business-metadata for entity type {e.type_name}")
            continue
        out[bm] = {}
        for name, a in applicable[bm].items():
            field = f"{e.type_name}.{bm}.{name}"
            if values.get(name) is not None:
                out[bm][name] = _normalized(norm, a, values[name], field, messages)
            elif name in values:
                out[bm][name] = None
            if values.get(name) is None and not a.optional and (overwrite or (current.get(bm) or {}).get(name) is None):
                messages.append(f"{field}: mandatory business-metadata attribute value missing in type {e.type_name}")
    if messages:
        raise AtlasError(ErrorCode.INSTANCE_CRUD_INVALID_PARAMS, "[" + ", ".join(messages) + "]")
    return out


def _changes(registry: TypeRegistry, e: EntityRow, given: BusinessAttributes, overwrite: bool
             ) -> dict[str, dict[str, Any]]:
    """What the request changes, bm -> attribute -> new value (None: removed), as EntityGraphMapper's
    setBusinessAttributes (overwrite) or addOrUpdateBusinessAttributes does it."""
    current: BusinessAttributes = e.body.get("businessAttributes") or {}
    changes: dict[str, dict[str, Any]] = {}
    for bm, attrs in registry.business_attributes(e.type_name).items():
        values = given.get(bm) or {}
        if not overwrite and not values:
            continue
        for name in attrs:
            if not overwrite and name not in values:
                continue
            new, old = values.get(name), (current.get(bm) or {}).get(name)
            if new != old:
                changes.setdefault(bm, {})[name] = new
    return changes


def _write(conn: sqlite3.Connection, e: EntityRow, changes: dict[str, dict[str, Any]], user: str) -> None:
    stored: BusinessAttributes = {bm: dict(v) for bm, v in (e.body.get("businessAttributes") or {}).items()}
    for bm, values in changes.items():
        for name, value in values.items():
            if value is None:
                stored.get(bm, {}).pop(name, None)
            else:
                stored.setdefault(bm, {})[name] = value
    stored = {bm: v for bm, v in stored.items() if v}
    body = dict(e.body)
    if stored:
        body["businessAttributes"] = stored
    else:
        body.pop("businessAttributes", None)
    now = audit.rewrite_body(conn, e.guid, body, user)
    for bm, values in changes.items():
        details = audit.to_json({"typeName": bm, "attributes": values})
        audit.record(conn, e.guid, "BUSINESS_ATTRIBUTE_UPDATE", f"Updated business attributes: {details}", user, now)


def add_or_update(conn: sqlite3.Connection, registry: TypeRegistry, guid: str, given: BusinessAttributes,
                  overwrite: bool, user: str) -> None:
    """POST entity/guid/{guid}/businessmetadata[/{bmName}] (``isOverwrite``: replace all of the entity's values)."""
    if not given:
        raise AtlasError(ErrorCode.INVALID_PARAMETERS, "businessAttributes is null/empty")
    e = require_entity(conn, guid)
    changes = _changes(registry, e, _validate(registry, e, given, overwrite), overwrite)
    if changes:
        _write(conn, e, changes, user)


def remove(conn: sqlite3.Connection, registry: TypeRegistry, guid: str, given: BusinessAttributes, user: str) -> None:
    """DELETE entity/guid/{guid}/businessmetadata[/{bmName}]: the named attributes, or all of a business metadata
    given without attributes. Atlas reports every named attribute as removed, whether it had a value or not."""
    if not given:
        raise AtlasError(ErrorCode.INVALID_PARAMETERS, "businessAttributes is null/empty")
    e = require_entity(conn, guid)
    changes: dict[str, dict[str, Any]] = {}
    for bm, attrs in registry.business_attributes(e.type_name).items():
        if bm in given:
            names = [n for n in attrs if not given[bm] or n in given[bm]]
            if names:
                changes[bm] = dict.fromkeys(names)
    if changes:
        _write(conn, e, changes, user)
