"""Typedef create / update / delete with Atlas's evolution rules."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import orjson

from catalog.embedded import business_metadata
from catalog.embedded.db import Database
from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.limits import shown
from catalog.embedded.typedef_checks import check_typedef
from catalog.embedded.typesystem import CATEGORY_KEYS, KEY_CATEGORIES, TypeRegistry

BOOKKEEPING = ("guid", "createdBy", "updatedBy", "createTime", "updateTime", "version", "subTypes",
               "relationshipAttributeDefs")


def strip_nulls(value: Any) -> Any:
    """The official client serialises every unset field as null; Atlas treats those as absent."""
    if isinstance(value, dict):
        return {k: strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_nulls(v) for v in value if v is not None]
    return value


def _raw_defs(body: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """(category, def) of every def of an AtlasTypesDef body, each an object with a name."""
    if not isinstance(body, dict):
        raise AtlasError(ErrorCode.BAD_REQUEST, "request body must be an AtlasTypesDef object")
    for key, cat in KEY_CATEGORIES.items():
        defs = body.get(key) or []
        if not isinstance(defs, list):
            raise AtlasError(ErrorCode.BAD_REQUEST, f"{key} must be a list")
        for d in defs:
            if not isinstance(d, dict) or not isinstance(d.get("name"), str) or not d["name"].strip():
                raise AtlasError(ErrorCode.BAD_REQUEST, f"{key}: every def needs a name")
            yield cat, d


def flatten_typesdef(body: Any) -> list[dict[str, Any]]:
    """The defs of an AtlasTypesDef to create or update: checked (:func:`check_typedef`), with Atlas's defaults."""
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for cat, raw in _raw_defs(body):
        d = strip_nulls(raw)
        d["category"] = cat
        check_typedef(d)
        normalize_def(d)
        if d["name"] in seen:
            raise AtlasError(ErrorCode.BAD_REQUEST, f"type {shown(d['name'])} appears twice in the request")
        seen.add(d["name"])
        out.append(d)
    return out


def typedef_names(body: Any) -> list[str]:
    """The names of an AtlasTypesDef's defs (a delete request needs nothing more of them)."""
    return [d["name"] for _, d in _raw_defs(body)]


ATTRIBUTE_DEFAULTS: dict[str, Any] = {
    "cardinality": "SINGLE",
    "isOptional": False,  # Java's AtlasAttributeDef default: an attribute without isOptional is mandatory
    "isUnique": False,
    "isIndexable": False,
    "includeInNotification": False,
    "searchWeight": -1,
}
END_DEFAULTS: dict[str, Any] = {"cardinality": "SINGLE", "isContainer": False, "isLegacyAttribute": False}


def _attribute_defaults(a: dict[str, Any]) -> dict[str, Any]:
    a.setdefault("valuesMinCount", 0 if a["isOptional"] else 1)
    a.setdefault("valuesMaxCount", 1 if a["cardinality"] == "SINGLE" else 2147483647)
    return a


def normalize_def(d: dict[str, Any]) -> dict[str, Any]:
    """Fill Atlas's defaults so stored defs read back as a real Atlas returns them."""
    if "attributeDefs" in d or d["category"] in ("ENTITY", "STRUCT", "CLASSIFICATION", "RELATIONSHIP",
                                                  "BUSINESS_METADATA"):
        d["attributeDefs"] = [_attribute_defaults(ATTRIBUTE_DEFAULTS | a) for a in d.get("attributeDefs") or []]
    if d["category"] in ("ENTITY", "CLASSIFICATION"):
        d.setdefault("superTypes", [])
    if d["category"] == "RELATIONSHIP":
        d.setdefault("relationshipCategory", "ASSOCIATION")
        d.setdefault("propagateTags", "NONE")
        for key in ("endDef1", "endDef2"):
            if isinstance(d.get(key), dict):
                d[key] = END_DEFAULTS | d[key]
    return d


def group_defs(defs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {k: [] for k in CATEGORY_KEYS.values()}
    for d in defs:
        out[CATEGORY_KEYS[d["category"]]].append(d)
    return out


def _semantic(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k not in BOOKKEEPING}


class TypeDefService:
    def __init__(self, db: Database, get_registry: Callable[[], TypeRegistry],
                 set_registry: Callable[[TypeRegistry], None],
                 count_instances: Callable[[str], int]) -> None:
        self.db = db
        self._get = get_registry
        self._set = set_registry
        self._count_instances = count_instances

    @property
    def registry(self) -> TypeRegistry:
        return self._get()

    # -- reads --------------------------------------------------------------------------------------
    def search(self, type_filter: str | None = None, name: str | None = None, supertype: str | None = None,
               notsupertype: str | None = None, servicetype: str | None = None,
               notservicetype: str | None = None, notname: str | None = None) -> list[dict[str, Any]]:
        reg = self.registry
        wanted_cat = None
        if type_filter:
            t = type_filter.upper()
            wanted_cat = {"CLASS": "ENTITY", "TRAIT": "CLASSIFICATION"}.get(t, t)
        out = []
        for n in sorted(reg.defs):
            raw = reg.defs[n]
            if wanted_cat and raw["category"] != wanted_cat:
                continue
            if name and n != name:
                continue
            if notname and n == notname:
                continue
            st = reg.get(n)
            supers = st.all_super_types if st else set()
            if supertype and supertype not in supers:
                continue
            if notsupertype and notsupertype in supers:
                continue
            if servicetype and raw.get("serviceType") != servicetype:
                continue
            if notservicetype and raw.get("serviceType") == notservicetype:
                continue
            out.append(reg.render_def(n))
        return out

    def get_by_name(self, name: str, category: str | None = None) -> dict[str, Any]:
        reg = self.registry
        raw = reg.raw_def(name)
        if raw is None or (category and raw["category"] != category):
            raise AtlasError(ErrorCode.TYPE_NAME_NOT_FOUND, name)
        return reg.render_def(name)

    def get_by_guid(self, guid: str, category: str | None = None) -> dict[str, Any]:
        reg = self.registry
        for n, raw in reg.defs.items():
            if raw.get("guid") == guid and (category is None or raw["category"] == category):
                return reg.render_def(n)
        raise AtlasError(ErrorCode.TYPE_GUID_NOT_FOUND, guid)

    # -- writes -------------------------------------------------------------------------------------
    def create(self, body: Any, user: str) -> list[dict[str, Any]]:
        with self.db.write():  # the registry check and the write happen under the one writer lock
            return self._create(body, user)

    def update(self, body: Any, user: str) -> list[dict[str, Any]]:
        with self.db.write():
            return self._update(body, user)

    def delete(self, body: Any) -> None:
        with self.db.write():
            self._delete_names(typedef_names(body))

    def delete_names(self, names: list[str]) -> None:
        with self.db.write():
            self._delete_names(names)

    def _create(self, body: Any, user: str) -> list[dict[str, Any]]:
        defs = flatten_typesdef(body)
        reg = self.registry
        for d in defs:
            if d["name"] in reg.defs:
                raise AtlasError(ErrorCode.TYPE_ALREADY_EXISTS, d["name"])
        now = int(time.time() * 1000)
        changes: dict[str, dict[str, Any]] = {}
        for d in defs:
            d.update(guid=str(uuid.uuid4()), createdBy=user, updatedBy=user, createTime=now, updateTime=now,
                     version=1)
            d.setdefault("typeVersion", "1.0")
            d.setdefault("description", d["name"])
            changes[d["name"]] = d
        return self._commit(reg, changes)

    def _update(self, body: Any, user: str) -> list[dict[str, Any]]:
        defs = flatten_typesdef(body)
        reg = self.registry
        now = int(time.time() * 1000)
        changes: dict[str, dict[str, Any]] = {}
        for d in defs:
            old = reg.raw_def(d["name"])
            if old is None:
                raise AtlasError(ErrorCode.TYPE_NAME_NOT_FOUND, d["name"])
            if old["category"] != d["category"]:
                raise AtlasError(ErrorCode.TYPE_MATCH_FAILED, d["name"], old["category"])
            self._check_update(old, d)
            merged = dict(d)
            for k in ("guid", "createdBy", "createTime"):
                if k in old:
                    merged[k] = old[k]
            merged.setdefault("typeVersion", old.get("typeVersion", "1.0"))
            merged.setdefault("description", old.get("description", d["name"]))
            if _semantic(merged) == _semantic(old):
                continue
            merged.update(updatedBy=user, updateTime=now, version=int(old.get("version", 1)) + 1)
            changes[d["name"]] = merged
        self._commit(reg, changes)
        return [self.registry.render_def(d["name"]) for d in defs]

    def _check_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        name = old["name"]
        if old["category"] in ("ENTITY", "STRUCT", "CLASSIFICATION", "BUSINESS_METADATA"):
            old_attrs = {a["name"]: a for a in old.get("attributeDefs") or []}
            new_attrs = {a.get("name"): a for a in new.get("attributeDefs") or []}
            for a in old_attrs:
                if a not in new_attrs:
                    raise AtlasError(ErrorCode.ATTRIBUTE_DELETION_NOT_SUPPORTED, name, a)
            for a, ad in new_attrs.items():
                if a not in old_attrs and not ad.get("isOptional"):
                    raise AtlasError(ErrorCode.CANNOT_ADD_MANDATORY_ATTRIBUTE, name, a)
                if a in old_attrs and ad.get("typeName") != old_attrs[a].get("typeName"):
                    raise AtlasError(ErrorCode.BAD_REQUEST,
                                     f"Data type update for attribute is not supported: {name}.{a}")
        if old["category"] == "BUSINESS_METADATA":
            business_metadata.check_update(old, new)
        if old["category"] in ("ENTITY", "CLASSIFICATION"):
            removed = set(old.get("superTypes") or []) - set(new.get("superTypes") or [])
            if removed:
                raise AtlasError(ErrorCode.SUPERTYPE_REMOVAL_NOT_SUPPORTED, name, sorted(removed))
        if old["category"] == "RELATIONSHIP":
            oc = old.get("relationshipCategory") or "ASSOCIATION"
            nc = new.get("relationshipCategory") or "ASSOCIATION"
            if oc != nc:
                raise AtlasError(ErrorCode.RELATIONSHIPDEF_INVALID_CATEGORY_UPDATE, name, oc, nc)
            for key, code in (("endDef1", ErrorCode.RELATIONSHIPDEF_END1_NAME_CHANGE),
                              ("endDef2", ErrorCode.RELATIONSHIPDEF_END2_NAME_CHANGE)):
                old_end, new_end = old.get(key) or {}, new.get(key) or {}
                # AtlasRelationshipDefStoreV2.preUpdateCheck: an end may not change at all.
                for field in ("name", "type", "isContainer", "cardinality"):
                    if old_end.get(field) != new_end.get(field):
                        raise AtlasError(code, name, f"{field}={old_end.get(field)}", f"{field}={new_end.get(field)}")

    def _delete_names(self, names: list[str]) -> None:
        reg = self.registry
        doomed = set(names)
        for n in names:
            raw = reg.raw_def(n)
            if raw is None:
                raise AtlasError(ErrorCode.TYPE_NAME_NOT_FOUND, n)
            st = reg.get(n)
            if st is not None and st.all_sub_types - doomed:
                raise AtlasError(ErrorCode.TYPE_HAS_REFERENCES, n)
            if raw["category"] in ("ENTITY", "CLASSIFICATION") and self._count_instances(n) > 0:
                raise AtlasError(ErrorCode.TYPE_HAS_REFERENCES, n)
            if raw["category"] == "RELATIONSHIP" and self._count_instances(n) > 0:
                raise AtlasError(ErrorCode.TYPE_HAS_REFERENCES, n)
            if raw["category"] == "BUSINESS_METADATA" and business_metadata.has_values(self.db.reader(), n):
                raise AtlasError(ErrorCode.TYPE_HAS_REFERENCES, n)
            if raw["category"] == "ENTITY":
                rels = sorted(
                    r for r, d in reg.defs.items()
                    if d["category"] == "RELATIONSHIP" and r not in doomed
                    and n in ((d.get("endDef1") or {}).get("type"), (d.get("endDef2") or {}).get("type"))
                )
                if rels:
                    raise AtlasError(ErrorCode.TYPE_HAS_RELATIONSHIPS, n, ",".join(rels))
        new_reg = reg.with_defs({}, removed=doomed)  # fails if another type's attribute still uses one
        with self.db.write() as conn:
            conn.executemany("DELETE FROM typedef WHERE name = ?", [(n,) for n in names])
        self._set(new_reg)

    def _commit(self, reg: TypeRegistry, changes: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        if not changes:
            return []
        new_reg = reg.with_defs(changes)  # raises on dangling references before anything is written
        new_reg.check_inherited_attributes(changes)
        business_metadata.check_defs(new_reg, changes)
        with self.db.write() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO typedef(name, guid, category, body) VALUES (?, ?, ?, ?)",
                [(n, d["guid"], d["category"], orjson.dumps(d).decode()) for n, d in changes.items()],
            )
        self._set(new_reg)
        return [new_reg.render_def(n) for n in changes]

    @staticmethod
    def load(db: Database) -> TypeRegistry:
        rows = db.reader().execute("SELECT body FROM typedef").fetchall()
        return TypeRegistry({d["name"]: d for d in (orjson.loads(r[0]) for r in rows)})
