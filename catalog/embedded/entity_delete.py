"""Entity delete and purge, as Atlas's DeleteHandlerV1 decides what one request takes with it.

Everything a request takes is gathered first, from the states the request found
(``accumulateDeletionCandidates``), and only then deleted or purged (``deleteTraitsAndVertices``):

- each requested entity with its COMPOSITION children, recursively (``getOwnedVertices``);
- for a requested entity whose type names ``DataSet`` among its own superTypes, every Process that wrote it
  (``Process.outputs``) once none of that process's other outputs is ACTIVE, with the process's COMPOSITION
  children and column lineages (``addUpstreamProcessEntities``, ``isEligible``; ATLAS-4920). Outputs deleted by the
  same request are still ACTIVE while it gathers, so deleting all of a process's outputs in one request leaves it
  ACTIVE; a later delete of any of them (it is then the only one left) takes it. A purge takes only an already
  DELETED process, and one with several outputs only when the purge takes all of them;
- for a requested entity whose type names ``Process`` among its own superTypes, its column lineages: the entities
  at the other end of its ``columnLineages`` relationship, whatever their state (``getColumnLineageEntities``).

A delete is soft: status DELETED, every ACTIVE relationship of the entity DELETED, its classifications marked and
their propagations handled (:func:`propagation.entity_deleted`). A purge removes entities for good; what it
gathers is DELETED but for column lineages, which Atlas purges whatever their state. Every entity a request takes
is in its mutation result (``RequestContext.recordEntityDelete``) and gets an ENTITY_DELETE or ENTITY_PURGE event.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from catalog.embedded import audit, propagation
from catalog.embedded.entity_read import EntityRow, load_entity
from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.typesystem import TypeRegistry

if TYPE_CHECKING:
    from catalog.embedded.entity_write import MutationResult

PROCESS_OUTPUTS = "__Process.outputs"  # DeleteHandlerV1.PROCESS_OUTPUTS_EDGE: process_dataset_outputs' label
COLUMN_LINEAGES = "columnLineages"  # DeleteHandlerV1.RELATIONSHIP_ATTRIBUTE_KEY_STRING
DATASET = "DataSet"
PROCESS = "Process"


def owned_closure(conn: sqlite3.Connection, registry: TypeRegistry, guids: list[str], purge: bool = False
                  ) -> list[str]:
    """The entities plus every COMPOSITION child, recursively (DeleteHandlerV1.getOwnedVertices): for a delete
    the ACTIVE ones along ACTIVE relationships, for a purge the DELETED ones along DELETED relationships."""
    skip = "ACTIVE" if purge else "DELETED"
    out: list[str] = []
    seen: set[str] = set()
    stack = list(guids)
    while stack:
        g = stack.pop()
        if g in seen:
            continue
        seen.add(g)
        row = conn.execute("SELECT type_name, status FROM entity WHERE guid = ?", (g,)).fetchone()
        if row is None or row[1] == skip:
            continue
        out.append(g)
        t = registry.get(row[0])
        if t is None:
            continue
        for ends in t.rel_attrs.values():
            for end in ends:
                if not (end.is_container and end.category == "COMPOSITION"):
                    continue
                mine, other = ("end1", "end2") if end.side == 1 else ("end2", "end1")
                for (child,) in conn.execute(
                        f"SELECT {other} FROM relationship WHERE {mine} = ? AND type_name = ? AND status != ?",
                        (g, end.rel_type, skip)):
                    stack.append(child)
    return out


class _Candidates:
    """What one delete or purge request takes, in the order Atlas records it (``recorded``)."""

    def __init__(self, conn: sqlite3.Connection, registry: TypeRegistry, purge: bool) -> None:
        self.conn = conn
        self.registry = registry
        self.purge = purge
        self.recorded: dict[str, None] = {}
        # instanceVertexGuids: the requested entities gathered so far, and the processes taken with them
        self.instance_guids: set[str] = set()

    def add_root(self, guid: str) -> None:
        self.instance_guids.add(guid)
        row = self.conn.execute("SELECT status, type_name FROM entity WHERE guid = ?", (guid,)).fetchone()
        if row is None:
            return
        status, type_name = row
        # skipVertexForDelete: a purge passes ACTIVE entities by; a delete DELETED ones and those it already took.
        if status == ("ACTIVE" if self.purge else "DELETED") or (not self.purge and guid in self.recorded):
            return
        self._add_owned(guid)
        t = self.registry.get(type_name)
        # AtlasEntityDef.hasSuperType reads the def's own superTypes: a DataSet's or Process's subtype's
        # subtype is neither here.
        direct = t.super_types if t is not None else []
        if DATASET in direct:
            self._add_upstream_processes(guid)
        if PROCESS in direct:
            self._add_column_lineages(guid)

    def _add_owned(self, guid: str) -> None:
        for g in owned_closure(self.conn, self.registry, [guid], purge=self.purge):
            self.recorded[g] = None

    def _add_upstream_processes(self, dataset: str) -> None:
        # Every relationship row, DELETED ones too: Atlas walks the vertex's edges whatever their state.
        rows = self.conn.execute("SELECT end1 FROM relationship WHERE end2 = ? AND label = ? "
                                 "ORDER BY create_time, guid", (dataset, PROCESS_OUTPUTS)).fetchall()
        for (process,) in rows:
            if process in self.instance_guids or not self._eligible(process, dataset):
                continue
            self.instance_guids.add(process)
            self._add_column_lineages(process)
            self._add_owned(process)

    def _eligible(self, process: str, dataset: str) -> bool:
        """DeleteHandlerV1.isEligible: none of the process's outputs but ``dataset`` is ACTIVE; a purge takes
        only a DELETED process, and of one with several outputs only when it takes them all."""
        row = self.conn.execute("SELECT status FROM entity WHERE guid = ?", (process,)).fetchone()
        if row is None or (self.purge and row[0] == "ACTIVE"):
            return False
        outputs = self.conn.execute(
            "SELECT e.guid, e.status FROM relationship r JOIN entity e ON e.guid = r.end2 "
            "WHERE r.end1 = ? AND r.label = ?", (process, PROCESS_OUTPUTS)).fetchall()
        if any(status == "ACTIVE" and guid != dataset for guid, status in outputs):
            return False
        if self.purge and len(outputs) > 1:
            return all(guid in self.instance_guids for guid, _ in outputs)
        return True

    def _add_column_lineages(self, process: str) -> None:
        row = self.conn.execute("SELECT type_name FROM entity WHERE guid = ?", (process,)).fetchone()
        t = self.registry.get(row[0]) if row is not None else None
        ends = t.rel_attrs.get(COLUMN_LINEAGES) if t is not None else None
        if not ends:
            return
        # The edges into the process with the (first) relationship's label, whatever their or their entity's state.
        for (lineage,) in self.conn.execute(
                "SELECT r.end1 FROM relationship r JOIN entity e ON e.guid = r.end1 WHERE r.end2 = ? AND r.label = ? "
                "ORDER BY r.create_time, r.guid", (process, ends[0].label)).fetchall():
            self.recorded[lineage] = None


def delete_entities(conn: sqlite3.Connection, registry: TypeRegistry, guids: list[str], user: str, now: int,
                    result: MutationResult, strict: bool = True) -> None:
    """Soft-delete the entities and what they take with them (see the module)."""
    for g in guids:
        if strict and conn.execute("SELECT 1 FROM entity WHERE guid = ?", (g,)).fetchone() is None:
            raise AtlasError(ErrorCode.INSTANCE_GUID_NOT_FOUND, g)
    found = _Candidates(conn, registry, purge=False)
    for g in guids:
        found.add_root(g)
    for g in found.recorded:
        row = conn.execute("SELECT status, type_name FROM entity WHERE guid = ?", (g,)).fetchone()
        if row is None:
            continue
        if row[0] == "ACTIVE":
            conn.execute("UPDATE entity SET status = 'DELETED', update_time = ?, updated_by = ?, "
                         "version = version + 1 WHERE guid = ?", (now, user, g))
            conn.execute("UPDATE relationship SET status = 'DELETED', update_time = ?, updated_by = ? "
                         "WHERE (end1 = ? OR end2 = ?) AND status = 'ACTIVE'", (now, user, g, g))
            propagation.entity_deleted(conn, registry, g)
        # A column lineage already DELETED is recorded again, as Atlas does: listed and audited, otherwise unchanged.
        result.deleted.append(g)
        if audit.is_audited(registry, row[1]):
            audit.record(conn, g, "ENTITY_DELETE", "Deleted entity", user, now)


def purge_entities(conn: sqlite3.Connection, registry: TypeRegistry, guids: list[str], result: MutationResult
                   ) -> list[EntityRow]:
    """Remove soft-deleted entities, and what they take with them (see the module), for good; their audit stays,
    ending with ENTITY_PURGE ("Purged: " and the entity as its header shows it)."""
    found = _Candidates(conn, registry, purge=True)
    for g in guids:
        found.add_root(g)
    purged = []
    for g in found.recorded:
        e = load_entity(conn, g)
        if e is None:
            continue
        if audit.is_audited(registry, e.type_name):
            kept = {"typeName": e.type_name, "guid": g, "status": e.status,
                    "attributes": {k: e.attributes[k] for k in ("qualifiedName", "name") if k in e.attributes},
                    "labels": e.body.get("labels") or []}
            audit.record(conn, g, "ENTITY_PURGE", "Purged: " + audit.to_json(audit.header_entity(kept)))
        propagation.entity_purged(conn, registry, g)
        conn.execute("DELETE FROM entity WHERE guid = ?", (g,))
        conn.execute("DELETE FROM uattr WHERE guid = ?", (g,))
        conn.execute("DELETE FROM classification WHERE entity_guid = ?", (g,))
        conn.execute("DELETE FROM relationship WHERE end1 = ? OR end2 = ?", (g, g))
        result.purged.append(g)
        e.status = "PURGED"
        purged.append(e)
    return purged

