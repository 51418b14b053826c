"""Writing imported entities as Atlas's ``AtlasEntityStoreV2.createOrUpdateForImport`` does: they keep their guids.

Atlas, importing (``RequestContext.isImportInProgress``), creates an entity whose assigned guid is not in the store
*with that guid* (``EntityGraphMapper.createVertexWithGuid``) where a plain create-or-update refuses the unknown
guid, and sets the entity's system attributes from the imported entity (``EntityGraphMapper.updateSystemAttributes``:
createTime, updateTime, createdBy, updatedBy, version). An entity found by its unique attributes under another guid
is updated and keeps the guid it has (``preCreateOrUpdate``).

:class:`EmbeddedStore` has no import mode yet, so :class:`ImportWriter` adds it to :class:`EntityWriter` for the
import's transaction. It belongs in ``entity_write.py`` (an ``import_mode`` flag on ``EntityWriter``); until then this
subclass is the one place that knows it.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from catalog.embedded.entity_read import EntityRow, find_by_unique
from catalog.embedded.entity_write import EntityWriter, Pending, is_assigned_guid
from catalog.embedded.typesystem import StructType, TypeRegistry


class ImportWriter(EntityWriter):
    """An :class:`EntityWriter` in Atlas's import mode (see the module's docstring)."""

    def __init__(self, conn: sqlite3.Connection, registry: TypeRegistry, user: str) -> None:
        super().__init__(conn, registry, user)
        self.requests: dict[str, dict[str, Any]] = {}  # created guid -> the imported entity

    def _stored_by_unique(self, type_name: str, uniq: dict[str, Any], req_guid: Any) -> EntityRow | None:
        # an assigned guid that matches nothing is a new entity, not an error
        return find_by_unique(self.conn, self.registry, type_name, uniq) if uniq else None

    def _add_pending(self, req: dict[str, Any], t: StructType, req_guid: Any, existing: EntityRow | None,
                     attrs: dict[str, Any]) -> None:
        if existing is not None or not is_assigned_guid(req_guid) or req_guid in self.by_guid:
            super()._add_pending(req, t, req_guid, existing, attrs)
            return
        p = Pending(req=req, type=t, guid=req_guid, request_guid=req_guid, existing=None)
        self.pending.append(p)
        self.by_guid[req_guid] = p
        self.by_request_guid[req_guid] = p
        for key in self._unique_keys(t, {a.name: attrs[a.name] for a in t.unique_attrs
                                         if attrs.get(a.name) is not None}):
            self.by_unique.setdefault(key, []).append(p)
        self.requests[req_guid] = req

    def _insert_entity(self, guid: str, t: StructType, body: dict[str, Any]) -> None:
        super()._insert_entity(guid, t, body)
        req = self.requests.get(guid)
        if req is not None:
            self._system_attributes(guid, req)

    def _system_attributes(self, guid: str, req: dict[str, Any]) -> None:
        """``updateSystemAttributes``: the imported entity's own times, users and version, where it has them."""
        columns = {"create_time": _int(req.get("createTime")), "update_time": _int(req.get("updateTime")),
                   "version": _int(req.get("version")), "created_by": _text(req.get("createdBy")),
                   "updated_by": _text(req.get("updatedBy"))}
        given = {k: v for k, v in columns.items() if v is not None}
        if given:
            assignments = ", ".join(f"{k} = ?" for k in given)
            self.conn.execute(f"UPDATE entity SET {assignments} WHERE guid = ?", (*given.values(), guid))


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
