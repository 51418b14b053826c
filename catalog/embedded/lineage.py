"""Lineage as Atlas's EntityLineageService computes it.

Only ``__Process.inputs`` / ``__Process.outputs`` edges are walked; depth counts
dataset → process → dataset hops and 0 means unlimited; deleted entities and edges are included.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from catalog.embedded.entity_read import header, load_entities, load_entity
from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.typesystem import TypeRegistry

INPUTS = "__Process.inputs"
OUTPUTS = "__Process.outputs"
MAX_RELATIONS = 9000  # atlas.lineage.max.node.count


class _Walk:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.relations: dict[str, dict[str, str]] = {}
        self.nodes: set[str] = set()
        self.visited: set[str] = set()

    def add_edge(self, rel_guid: str, label: str, process: str, dataset: str) -> None:
        if rel_guid in self.relations or len(self.relations) >= MAX_RELATIONS:
            return
        if label == INPUTS:
            self.relations[rel_guid] = {"fromEntityId": dataset, "toEntityId": process, "relationshipId": rel_guid}
        else:
            self.relations[rel_guid] = {"fromEntityId": process, "toEntityId": dataset, "relationshipId": rel_guid}
        self.nodes.add(process)
        self.nodes.add(dataset)

    def process_edges(self, process: str, label: str) -> list[tuple[str, str]]:
        return self.conn.execute(
            "SELECT guid, end2 FROM relationship WHERE end1 = ? AND label = ?", (process, label)
        ).fetchall()

    def traverse(self, dataset: str, is_input: bool, depth: int) -> None:
        if depth == 0 or len(self.relations) >= MAX_RELATIONS:
            return
        self.visited.add(dataset)
        incoming = OUTPUTS if is_input else INPUTS
        outgoing = INPUTS if is_input else OUTPUTS
        for in_rel, process in self.conn.execute(
                "SELECT guid, end1 FROM relationship WHERE end2 = ? AND label = ?", (dataset, incoming)
        ).fetchall():
            for out_rel, other in self.process_edges(process, outgoing):
                self.add_edge(in_rel, incoming, process, dataset)
                self.add_edge(out_rel, outgoing, process, other)
                if other not in self.visited:
                    self.traverse(other, is_input, depth - 1)


def lineage(conn: sqlite3.Connection, registry: TypeRegistry, guid: str, direction: str, depth: int
            ) -> dict[str, Any]:
    base = load_entity(conn, guid)
    if base is None:
        raise AtlasError(ErrorCode.INSTANCE_GUID_NOT_FOUND, guid)
    t = registry.get(base.type_name)
    is_dataset = t is not None and t.is_a("DataSet")
    is_process = t is not None and t.is_a("Process")
    if not (is_dataset or is_process):
        raise AtlasError(ErrorCode.INVALID_LINEAGE_ENTITY_TYPE, guid, base.type_name)
    direction = direction.upper()
    if direction not in ("INPUT", "OUTPUT", "BOTH"):
        raise AtlasError(ErrorCode.INVALID_PARAMETERS, f"direction={direction}")
    walk_depth = -1 if depth == 0 else depth
    walk = _Walk(conn)
    for is_input in ([True] if direction == "INPUT" else [False] if direction == "OUTPUT" else [True, False]):
        walk.visited = set()
        if is_dataset:
            walk.traverse(guid, is_input, walk_depth)
        else:
            label = INPUTS if is_input else OUTPUTS
            for rel, dataset in walk.process_edges(guid, label):
                walk.add_edge(rel, label, guid, dataset)
                walk.traverse(dataset, is_input, walk_depth - 1 if walk_depth > 0 else walk_depth)
    entities = load_entities(conn, sorted(walk.nodes))
    cls_names: dict[str, list[dict[str, Any]]] = {}
    if entities:
        guids = list(entities)
        for i in range(0, len(guids), 500):
            chunk = guids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for g, body in conn.execute(
                    f"SELECT entity_guid, body FROM classification WHERE entity_guid IN ({marks})", chunk):
                cls_names.setdefault(g, []).append(orjson.loads(body))
    return {
        "baseEntityGuid": guid,
        "lineageDirection": direction,
        "lineageDepth": depth,
        "guidEntityMap": {g: header(registry, e, cls_names.get(g)) for g, e in entities.items()},
        "relations": list(walk.relations.values()),
    }
