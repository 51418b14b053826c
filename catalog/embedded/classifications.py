"""Classification endpoints beyond the store's: audited removal, ``entity/bulk/headers`` and
``entity/bulk/setClassifications`` (Atlas's ``ClassificationAssociator`` Retriever and Updater).

Classifications added or updated are audited where they are written (``entity_write.add_classification``); a removal
is audited here, in the transaction of the store's own removal, and takes the classification's propagations with it
(:mod:`propagation`).
"""

from __future__ import annotations

from typing import Any

from catalog.embedded import audit, propagation
from catalog.embedded import entity_read as er
from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.store import EmbeddedStore

STATUS_DONE, STATUS_SKIPPED, STATUS_PARTIAL = "(Done)", "(Skipped)", "(Partial)"


def remove_classification(store: EmbeddedStore, guid: str, name: str, user: str, *, check_type: bool = True) -> None:
    """The store's removal plus its CLASSIFICATION_DELETE event ("Deleted classification: <name>") and the removal of
    its propagations (each audited where it is removed), one transaction."""
    with store.db.write() as conn:
        store.remove_classification(guid, name, user, check_type=check_type)
        e = er.load_entity(conn, guid)
        if e is not None and audit.is_audited(store.registry, e.type_name):
            audit.record(conn, guid, "CLASSIFICATION_DELETE", f"Deleted classification: {name}", user)
        propagation.classification_removed(conn, store.registry, guid, name)


def headers_since(store: EmbeddedStore, start: int) -> dict[str, Any]:
    """GET entity/bulk/headers?tagUpdateStartTime: the headers, with classifications, of the entities whose
    classifications changed since ``start`` (epoch ms), found in the audit."""
    end = audit.now_ms()
    if start > end:
        raise AtlasError(ErrorCode.BAD_REQUEST, "fromTimestamp should be less than toTimestamp")
    conn = store.db.reader()
    out: dict[str, Any] = {}
    for guid in audit.entities_with_tag_changes(conn, start, end + 1):
        e = er.load_entity(conn, guid)
        if e is not None:
            out[guid] = er.header(store.registry, e, er.load_classifications(conn, guid), er.load_meanings(conn, guid))
    return {"guidHeaderMap": out}


def _own(guid: str | None, classifications: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """ListOps.filter: the classifications attached to ``guid`` itself (all, when no guid is known)."""
    return [c for c in classifications if not guid or not c.get("entityGuid") or c.get("entityGuid") == guid]


def _names(items: list[dict[str, Any]]) -> str:
    return ", ".join(str(c.get("typeName")) for c in items)


class _Updater:
    """ClassificationAssociator.Updater: every change is its own store call; a failing one marks the entity
    (Partial) and the rest go on."""

    def __init__(self, store: EmbeddedStore, user: str) -> None:
        self.store = store
        self.user = user
        self.summary: list[str] = []

    def apply(self, incoming: dict[str, Any]) -> None:
        type_name = incoming["typeName"]
        t = self.store.registry.get(type_name)
        if t is None or t.category != "ENTITY":
            self.summary.append(f"{type_name}: {STATUS_SKIPPED}")
            return
        attrs = incoming.get("attributes") or {}
        # Atlas's summary names the unique attribute, not its value
        qn = "qualifiedName" if "qualifiedName" in attrs else (t.unique_attrs[0].name if t.unique_attrs else "")
        uniq = {a.name: attrs[a.name] for a in t.unique_attrs if attrs.get(a.name)}
        conn = self.store.db.reader()
        e = er.find_by_unique(conn, self.store.registry, type_name, uniq) if uniq else None
        if e is None:
            self.summary.append(f"Entity:{type_name}:{qn or '<no unique name>'}:[Not found]:{STATUS_SKIPPED}")
            return
        wanted = _own(incoming.get("guid"), [c for c in incoming.get("classifications") or [] if isinstance(c, dict)])
        present = _own(e.guid, er.load_classifications(conn, e.guid))
        wanted_names = {c.get("typeName") for c in wanted}
        present_names = {c.get("typeName") for c in present}
        self._delete(e.guid, type_name, qn, [c for c in present if c["typeName"] not in wanted_names])
        self._change(e.guid, type_name, qn, [c for c in wanted if c.get("typeName") in present_names], "Update")
        self._change(e.guid, type_name, qn, [c for c in wanted if c.get("typeName") not in present_names], "Add")

    def _summarize(self, op: str, guid: str, type_name: str, qn: str, names: str, status: str) -> None:
        self.summary.append(f"{op}:{guid}:{type_name}:{qn} -> {names}:{status}")

    def _delete(self, guid: str, type_name: str, qn: str, items: list[dict[str, Any]]) -> None:
        if not items:
            return
        status = STATUS_DONE
        for c in items:
            try:
                remove_classification(self.store, guid, c["typeName"], self.user)
            except AtlasError:
                status = STATUS_PARTIAL
        self._summarize("Delete", guid, type_name, qn, _names(items), status)

    def _change(self, guid: str, type_name: str, qn: str, items: list[dict[str, Any]], op: str) -> None:
        if not items:
            return
        status = STATUS_DONE
        try:
            self.store.add_classifications(guid, items, self.user, replace=op == "Update")
        except AtlasError:
            status = STATUS_PARTIAL
        self._summarize(op, guid, type_name, qn, _names(items), status)


def set_classifications(store: EmbeddedStore, body: Any, user: str) -> list[str]:
    """POST entity/bulk/setClassifications (AtlasEntityHeaders): make each entity's own classifications those of
    its header; the answer is Atlas's summary, one line per change."""
    if not isinstance(body, dict):
        raise AtlasError(ErrorCode.BAD_REQUEST, "body must be an AtlasEntityHeaders {guidHeaderMap: {...}}")
    headers = body.get("guidHeaderMap") or {}
    if not isinstance(headers, dict):
        raise AtlasError(ErrorCode.BAD_REQUEST, "guidHeaderMap must be an object of guid: AtlasEntityHeader")
    for h in headers.values():  # Jackson reads the whole body before Atlas changes anything
        if not (isinstance(h, dict) and isinstance(h.get("typeName"), str)
                and isinstance(h.get("attributes") or {}, dict) and isinstance(h.get("classifications") or [], list)):
            raise AtlasError(ErrorCode.BAD_REQUEST, "every guidHeaderMap value must be an AtlasEntityHeader")
    updater = _Updater(store, user)
    for incoming in headers.values():
        updater.apply(incoming)
    return updater.summary
