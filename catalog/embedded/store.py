"""The embedded Atlas-compatible store: the one object the routes talk to.

Every mutating method is one SQLite transaction; every method raises :class:`AtlasError` on bad input.
The store knows Atlas's type system and nothing of ML: its initial model is handed in by the caller.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from catalog.embedded import entity_read as er
from catalog.embedded import lineage as lineage_mod
from catalog.embedded import relationships as rel_mod
from catalog.embedded import search as search_mod
from catalog.embedded.db import Database
from catalog.embedded.entity_delete import delete_entities, purge_entities
from catalog.embedded.entity_write import EntityWriter, MutationResult, add_classification, now_ms
from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.instance_checks import check_classification
from catalog.embedded.typedefs import TypeDefService, flatten_typesdef, group_defs
from catalog.embedded.typesystem import TypeRegistry

log = logging.getLogger(__name__)


def _version(v: Any) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in str(v or "1.0").split("."))
    except ValueError:
        return (0,)


class EmbeddedStore:
    def __init__(self, directory: Path, initial_typedefs: list[dict[str, Any]] | None = None) -> None:
        self.directory = directory
        self.db = Database(directory / "atlas.db")
        self._on_close: list[Callable[[], None]] = []  # what runs beside the store (background downloads) stops first
        self._registry = TypeDefService.load(self.db)
        self.typedefs = TypeDefService(self.db, lambda: self._registry, self._set_registry, self._count_instances)
        for typesdef in initial_typedefs or []:
            self._ensure_types(typesdef)

    # -- type system --------------------------------------------------------------------------------
    @property
    def registry(self) -> TypeRegistry:
        return self._registry

    def _set_registry(self, reg: TypeRegistry) -> None:
        self._registry = reg

    def _count_instances(self, type_name: str) -> int:
        conn = self.db.reader()
        cat = self._registry.category_of(type_name)
        if cat == "CLASSIFICATION":
            row = conn.execute("SELECT COUNT(*) FROM classification WHERE type_name = ?", (type_name,)).fetchone()
        elif cat == "RELATIONSHIP":
            row = conn.execute("SELECT COUNT(*) FROM relationship WHERE type_name = ?", (type_name,)).fetchone()
        else:
            row = conn.execute("SELECT COUNT(*) FROM entity WHERE type_name = ?", (type_name,)).fetchone()
        return int(row[0])

    def _ensure_types(self, typesdef: dict[str, Any]) -> None:
        """Apply one model file as Atlas's AtlasTypeDefStoreInitializer does: create missing types and
        update those whose bundled typeVersion is newer than the stored one."""
        missing: list[dict[str, Any]] = []
        newer: list[dict[str, Any]] = []
        for d in flatten_typesdef(typesdef):
            old = self._registry.raw_def(d["name"])
            if old is None:
                missing.append(d)
            elif _version(d.get("typeVersion")) > _version(old.get("typeVersion")):
                newer.append(d)
        for defs, apply in ((missing, self.typedefs.create), (newer, self.typedefs.update)):
            if not defs:
                continue
            grouped = group_defs(defs)
            for group in grouped.values():
                for d in group:
                    d.pop("category", None)
            apply(grouped, "admin")
            log.info("%s %d bundled types", apply.__name__, len(defs))

    # -- entities -----------------------------------------------------------------------------------
    def _emr(self, w: EntityWriter | None, result: MutationResult, conn: Any,
             extra_headers: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
        reg = self._registry
        muts: dict[str, list[dict[str, Any]]] = {}
        for key, guids in (("CREATE", result.created), ("UPDATE", result.updated),
                           ("PARTIAL_UPDATE", result.partial), ("DELETE", result.deleted)):
            hs = []
            for g in dict.fromkeys(guids):
                if extra_headers and g in extra_headers:
                    hs.append(extra_headers[g])
                    continue
                e = er.load_entity(conn, g)
                if e is not None:
                    hs.append(er.header(reg, e, er.load_classifications(conn, g)))
            if hs:
                muts[key] = hs
        if result.purged and extra_headers:
            muts["PURGE"] = [extra_headers[g] for g in result.purged if g in extra_headers]
        out: dict[str, Any] = {}
        if muts:
            out["mutatedEntities"] = muts
        if result.guid_assignments:
            out["guidAssignments"] = result.guid_assignments
        return out

    def create_or_update(self, entities: list[Any], referred: dict[str, Any] | None, user: str,
                         partial: bool = False) -> dict[str, Any]:
        with self.db.write() as conn:
            w = EntityWriter(conn, self._registry, user)
            w.create_or_update(entities, referred, partial)
            return self._emr(w, w.result, conn)

    def partial_update_attribute(self, guid: str, attr: str, value: Any, user: str) -> dict[str, Any]:
        with self.db.write() as conn:
            e = er.require_entity(conn, guid)
            w = EntityWriter(conn, self._registry, user)
            w.create_or_update([{"typeName": e.type_name, "guid": guid, "attributes": {attr: value}}], None,
                               partial=True)
            return self._emr(w, w.result, conn)

    def partial_update_by_unique(self, type_name: str, uniq: dict[str, Any], body: Any, user: str
                                 ) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("entity"), dict):
            raise AtlasError(ErrorCode.BAD_REQUEST, "body must be an AtlasEntityWithExtInfo")
        with self.db.write() as conn:
            e = self._by_unique(conn, type_name, uniq)
            entity = dict(body["entity"])
            entity["guid"] = e.guid
            entity["typeName"] = e.type_name
            w = EntityWriter(conn, self._registry, user)
            w.create_or_update([entity], body.get("referredEntities"), partial=True)
            return self._emr(w, w.result, conn)

    def _by_unique(self, conn: Any, type_name: str, uniq: dict[str, Any]) -> er.EntityRow:
        t = self._registry.get(type_name)
        if t is None or t.category != "ENTITY":
            raise AtlasError(ErrorCode.TYPE_NAME_NOT_FOUND, type_name)
        if not uniq:
            raise AtlasError(ErrorCode.INVALID_PARAMETERS, "no unique attribute given (attr:<name>=<value>)")
        for k in uniq:
            a = t.attributes.get(k)
            if a is None or not a.unique:
                raise AtlasError(ErrorCode.INVALID_PARAMETERS, f"{k} is not a unique attribute of {type_name}")
        e = er.find_by_unique(conn, self._registry, type_name, uniq, active_only=False)
        if e is None:
            raise AtlasError(ErrorCode.INSTANCE_BY_UNIQUE_ATTRIBUTE_NOT_FOUND, type_name, uniq)
        return e

    def get_by_guid(self, guid: str, min_ext_info: bool = False, ignore_relationships: bool = False
                    ) -> dict[str, Any]:
        conn = self.db.reader()
        e = er.require_entity(conn, guid)
        return er.entity_with_ext_info(conn, self._registry, e, min_ext_info=min_ext_info,
                                       ignore_relationships=ignore_relationships)

    def get_by_unique(self, type_name: str, uniq: dict[str, Any], min_ext_info: bool = False,
                      ignore_relationships: bool = False) -> dict[str, Any]:
        conn = self.db.reader()
        e = self._by_unique(conn, type_name, uniq)
        return er.entity_with_ext_info(conn, self._registry, e, min_ext_info=min_ext_info,
                                       ignore_relationships=ignore_relationships)

    def get_bulk(self, guids: list[str], min_ext_info: bool = False, ignore_relationships: bool = False
                 ) -> dict[str, Any]:
        conn = self.db.reader()
        return er.entities_with_ext_info(conn, self._registry, [er.require_entity(conn, g) for g in guids],
                                         min_ext_info=min_ext_info, ignore_relationships=ignore_relationships)

    def get_bulk_by_unique(self, type_name: str, uniqs: list[dict[str, Any]], min_ext_info: bool = False,
                           ignore_relationships: bool = False) -> dict[str, Any]:
        conn = self.db.reader()
        found: list[er.EntityRow] = []
        for u in uniqs:
            # EntityGraphRetriever.getEntitiesByUniqueAttributes skips the values it cannot find: 200 {} for none
            try:
                found.append(self._by_unique(conn, type_name, u))
            except AtlasError as e:
                if e.code is not ErrorCode.INSTANCE_BY_UNIQUE_ATTRIBUTE_NOT_FOUND:
                    raise
        return er.entities_with_ext_info(conn, self._registry, found, min_ext_info=min_ext_info,
                                         ignore_relationships=ignore_relationships)

    def header_by_guid(self, guid: str) -> dict[str, Any]:
        conn = self.db.reader()
        e = er.require_entity(conn, guid)
        return er.header(self._registry, e, er.load_classifications(conn, guid))

    def header_by_unique(self, type_name: str, uniq: dict[str, Any]) -> dict[str, Any]:
        conn = self.db.reader()
        e = self._by_unique(conn, type_name, uniq)
        return er.header(self._registry, e, er.load_classifications(conn, e.guid))

    def delete(self, guids: list[str], user: str) -> dict[str, Any]:
        if not guids:
            raise AtlasError(ErrorCode.INVALID_PARAMETERS, "guid is required")
        with self.db.write() as conn:
            result = MutationResult()
            # Unknown guids are not an error: AtlasEntityStoreV2.deleteById treats them as already gone.
            delete_entities(conn, self._registry, guids, user, now_ms(), result, strict=False)
            return self._emr(None, result, conn)

    def delete_by_unique(self, type_name: str, uniq: dict[str, Any], user: str) -> dict[str, Any]:
        with self.db.write() as conn:
            try:
                e = self._by_unique(conn, type_name, uniq)
            except AtlasError as err:
                if err.code is not ErrorCode.INSTANCE_BY_UNIQUE_ATTRIBUTE_NOT_FOUND:
                    raise
                return {}  # like deleteById: an entity that is not there is already deleted
            return self.delete([e.guid], user)

    def purge(self, guids: list[str]) -> dict[str, Any]:
        with self.db.write() as conn:
            result = MutationResult()
            purged = purge_entities(conn, self._registry, guids, result)
            headers = {e.guid: er.header(self._registry, e) for e in purged}
            return self._emr(None, result, conn, headers)

    # -- classifications ----------------------------------------------------------------------------
    def _touch(self, conn: Any, guid: str, user: str) -> None:
        conn.execute("UPDATE entity SET update_time = ?, updated_by = ?, version = version + 1 WHERE guid = ?",
                     (now_ms(), user, guid))

    def add_classifications(self, guid: str, classifications: Any, user: str, replace: bool = False) -> None:
        if not isinstance(classifications, list) or not classifications:
            raise AtlasError(ErrorCode.INVALID_PARAMETERS, "a non-empty list of classifications is required")
        with self.db.write() as conn:
            er.require_entity(conn, guid)
            for c in classifications:
                check_classification(c)
                if replace and conn.execute("SELECT 1 FROM classification WHERE entity_guid = ? AND type_name = ?",
                                            (guid, c.get("typeName"))).fetchone() is None:
                    raise AtlasError(ErrorCode.CLASSIFICATION_NOT_FOUND, c.get("typeName"))
                add_classification(conn, self._registry, guid, c, replace=replace)
            self._touch(conn, guid, user)

    def add_classification_bulk(self, body: Any, user: str) -> None:
        if not isinstance(body, dict) or not isinstance(body.get("classification"), dict):
            raise AtlasError(ErrorCode.BAD_REQUEST, "body must be a ClassificationAssociateRequest")
        guids = body.get("entityGuids") or []
        if not isinstance(guids, list) or not all(isinstance(g, str) for g in guids):
            raise AtlasError(ErrorCode.BAD_REQUEST, "entityGuids must be a list of guids")
        with self.db.write():
            for g in guids:
                self.add_classifications(g, [body["classification"]], user)

    def get_classifications(self, guid: str) -> dict[str, Any]:
        conn = self.db.reader()
        er.require_entity(conn, guid)
        items = er.load_classifications(conn, guid)
        return {"list": items, "startIndex": 0, "pageSize": len(items), "totalCount": len(items),
                "sortType": "NONE"}

    def get_classification(self, guid: str, name: str) -> dict[str, Any]:
        for c in self.get_classifications(guid)["list"]:
            if c["typeName"] == name:
                return c  # type: ignore[no-any-return]
        raise AtlasError(ErrorCode.CLASSIFICATION_NOT_FOUND, name)

    def remove_classification(self, guid: str, name: str, user: str, *, check_type: bool = True) -> None:
        """As Atlas's ``EntityREST.deleteClassification`` (``check_type``: the by-guid route checks the name is a
        classification type first; the by-unique-attribute route does not) and ``EntityGraphMapper``: an entity
        with no classification at all is a 404, one without this classification a 400."""
        ct = self._registry.get(name)
        if check_type and (ct is None or ct.category != "CLASSIFICATION"):
            raise AtlasError(ErrorCode.TYPE_NAME_INVALID, "CLASSIFICATION", name)
        with self.db.write() as conn:
            er.require_entity(conn, guid)
            cur = conn.execute("DELETE FROM classification WHERE entity_guid = ? AND type_name = ?", (guid, name))
            if cur.rowcount == 0:
                if conn.execute("SELECT 1 FROM classification WHERE entity_guid = ?", (guid,)).fetchone() is None:
                    raise AtlasError(ErrorCode.NO_CLASSIFICATIONS_FOUND_FOR_ENTITY, guid)
                raise AtlasError(ErrorCode.CLASSIFICATION_NOT_ASSOCIATED_WITH_ENTITY, name)
            self._touch(conn, guid, user)

    def guid_by_unique(self, type_name: str, uniq: dict[str, Any]) -> str:
        return self._by_unique(self.db.reader(), type_name, uniq).guid

    # -- relationships, lineage, search ------------------------------------------------------------
    def create_relationship(self, body: Any, user: str) -> dict[str, Any]:
        with self.db.write() as conn:
            return rel_mod.create_relationship(conn, self._registry, body, user)

    def update_relationship(self, body: Any, user: str) -> dict[str, Any]:
        with self.db.write() as conn:
            return rel_mod.update_relationship(conn, self._registry, body, user)

    def get_relationship(self, guid: str, extended: bool) -> dict[str, Any]:
        return rel_mod.get_relationship(self.db.reader(), self._registry, guid, extended)

    def delete_relationship(self, guid: str, user: str) -> None:
        with self.db.write() as conn:
            rel_mod.delete_relationship(conn, guid, user)

    def lineage(self, guid: str, direction: str, depth: int) -> dict[str, Any]:
        return lineage_mod.lineage(self.db.reader(), self._registry, guid, direction, depth)

    def search(self, params: dict[str, Any]) -> dict[str, Any]:
        return search_mod.basic_search(self.db.reader(), self._registry, params)

    def on_close(self, stop: Callable[[], None]) -> None:
        """Run ``stop`` when the store closes, before its database does (last registered, first run)."""
        self._on_close.append(stop)

    def close(self) -> None:
        while self._on_close:
            self._on_close.pop()()
        self.db.close()
