"""Lineage as Atlas's EntityLineageService computes it.

Only ``__Process.inputs`` / ``__Process.outputs`` edges are walked; depth counts
dataset → process → dataset hops and 0 means unlimited; deleted entities and edges are included.

``GET lineage/{guid}`` walks every edge to the depth asked (``getLineageInfoV2``); its answer has an empty
``relationsOnDemand``, as Atlas's always has. ``POST lineage/{guid}`` is the on-demand lineage
(``getLineageInfoOnDemand``): a LineageOnDemandConstraints per guid (direction, depth, and how many input and
output relations of that node to follow), the defaults for a node without any; ``relationsOnDemand`` then names
the nodes that have more relations than were followed, and ``lineageOnDemandPayload`` echoes the constraints.
The embedded store has on-demand lineage on (Atlas's ``atlas.lineage.on.demand.enabled``).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from catalog.embedded.entity_read import header, load_classifications_many, load_entities, load_entity
from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.limits import JAVA_INT, in_range, shown
from catalog.embedded.typesystem import TypeRegistry

INPUTS = "__Process.inputs"
OUTPUTS = "__Process.outputs"
MAX_RELATIONS = 9000  # atlas.lineage.max.node.count
DIRECTIONS = ("INPUT", "OUTPUT", "BOTH")
ON_DEMAND_NODE_COUNT = 3  # atlas.lineage.on.demand.default.node.count
ON_DEMAND_DEPTH = 3  # LineageOnDemandConstraints.LINEAGE_ON_DEMAND_DEFAULT_DEPTH


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

    def dataset_edges(self, dataset: str, label: str) -> list[tuple[str, str]]:
        return self.conn.execute(
            "SELECT guid, end1 FROM relationship WHERE end2 = ? AND label = ?", (dataset, label)
        ).fetchall()

    def traverse(self, dataset: str, is_input: bool, depth: int) -> None:
        if depth == 0 or len(self.relations) >= MAX_RELATIONS:
            return
        self.visited.add(dataset)
        incoming = OUTPUTS if is_input else INPUTS
        outgoing = INPUTS if is_input else OUTPUTS
        for in_rel, process in self.dataset_edges(dataset, incoming):
            for out_rel, other in self.process_edges(process, outgoing):
                self.add_edge(in_rel, incoming, process, dataset)
                self.add_edge(out_rel, outgoing, process, other)
                if other not in self.visited:
                    self.traverse(other, is_input, depth - 1)


def _base(conn: sqlite3.Connection, registry: TypeRegistry, guid: str) -> bool:
    """Whether the lineage's base entity is a DataSet (else a Process; anything else is refused)."""
    base = load_entity(conn, guid)
    if base is None:
        raise AtlasError(ErrorCode.INSTANCE_GUID_NOT_FOUND, guid)
    t = registry.get(base.type_name)
    is_dataset = t is not None and t.is_a("DataSet")
    if not (is_dataset or (t is not None and t.is_a("Process"))):
        raise AtlasError(ErrorCode.INVALID_LINEAGE_ENTITY_TYPE, guid, base.type_name)
    return is_dataset


def _headers(conn: sqlite3.Connection, registry: TypeRegistry, nodes: set[str]) -> dict[str, Any]:
    """The headers of the lineage's entities, with their classifications, own and propagated."""
    entities = load_entities(conn, sorted(nodes))
    classifications = load_classifications_many(conn, list(entities))
    return {g: header(registry, e, classifications.get(g)) for g, e in entities.items()}


def lineage(conn: sqlite3.Connection, registry: TypeRegistry, guid: str, direction: str, depth: int
            ) -> dict[str, Any]:
    is_dataset = _base(conn, registry, guid)
    direction = direction.upper()
    if direction not in DIRECTIONS:
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
    return {
        "baseEntityGuid": guid,
        "lineageDirection": direction,
        "lineageDepth": depth,
        "guidEntityMap": _headers(conn, registry, walk.nodes),
        "relations": list(walk.relations.values()),
        "relationsOnDemand": {},
    }


# -- on demand ------------------------------------------------------------------------------------------------
def constraints_of(body: Any) -> dict[str, dict[str, Any]]:
    """The request body of ``POST lineage/{guid}``: guid -> LineageOnDemandConstraints (null or none: {})."""
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise AtlasError(ErrorCode.BAD_REQUEST, "body must be an object: guid -> LineageOnDemandConstraints")
    out: dict[str, dict[str, Any]] = {}
    for guid, c in body.items():
        if c is None:
            continue  # Jackson reads it as null: that guid has the defaults
        if not isinstance(c, dict):
            raise AtlasError(ErrorCode.BAD_REQUEST, f"constraints of {shown(guid, 60)} must be an object")
        direction = c.get("direction")
        if direction is not None and direction not in DIRECTIONS:
            raise AtlasError(ErrorCode.BAD_REQUEST, f"direction: {shown(direction, 40)} is none of {DIRECTIONS}")
        one: dict[str, Any] = {"direction": direction}
        for key in ("inputRelationsLimit", "outputRelationsLimit", "depth"):
            v = c.get(key, 0)
            if v is None:
                v = 0
            if isinstance(v, bool) or not isinstance(v, int) or not in_range(v, JAVA_INT):
                raise AtlasError(ErrorCode.BAD_REQUEST, f"{key}: not an integer: {shown(v, 40)}")
            one[key] = v
        out[guid] = one
    return out


def _default_constraints() -> dict[str, Any]:
    return {"direction": "BOTH", "inputRelationsLimit": ON_DEMAND_NODE_COUNT,
            "outputRelationsLimit": ON_DEMAND_NODE_COUNT, "depth": ON_DEMAND_DEPTH}


@dataclass
class _NodeInfo:
    """AtlasLineageInfo.LineageInfoOnDemand: how many of a node's relations were followed, whether there are more."""

    input_limit: int
    output_limit: int
    has_more_inputs: bool = False
    has_more_outputs: bool = False
    input_count: int = 0
    output_count: int = 0
    input_reached: bool = False
    output_reached: bool = False

    def count_input(self) -> None:
        if self.has_more_inputs:
            return
        if self.input_reached:
            self.has_more_inputs = True
            return
        self.input_count += 1
        self.input_reached = self.input_count == self.input_limit

    def count_output(self) -> None:
        if self.has_more_outputs:
            return
        if self.output_reached:
            self.has_more_outputs = True
            return
        self.output_count += 1
        self.output_reached = self.output_count == self.output_limit

    def body(self) -> dict[str, Any]:
        return {"hasMoreInputs": self.has_more_inputs, "hasMoreOutputs": self.has_more_outputs,
                "inputRelationsCount": self.input_count, "outputRelationsCount": self.output_count}


class _OnDemandWalk(_Walk):
    def __init__(self, conn: sqlite3.Connection, constraints: dict[str, dict[str, Any]]) -> None:
        super().__init__(conn)
        self.constraints = constraints
        self.on_demand: dict[str, _NodeInfo] = {}
        self.visited_edges: set[tuple[str, str]] = set()  # (from, to): Atlas's "in->out" with on-demand on

    def constraints_for(self, guid: str) -> dict[str, Any]:
        """getAndValidateLineageConstraintsByGuid: a node's constraints, the defaults filled in (in the payload
        too, as Atlas fills them into the map it echoes)."""
        c = self.constraints.get(guid)
        if c is None:
            return _default_constraints()
        for key, value in _default_constraints().items():
            if not c.get(key):
                c[key] = value
        return c

    def info(self, guid: str) -> _NodeInfo:
        existing = self.on_demand.get(guid)
        if existing is not None:
            return existing
        c = self.constraints_for(guid)
        return _NodeInfo(c["inputRelationsLimit"], c["outputRelationsLimit"])

    def limit_reached(self, rel: str, label: str, process: str, dataset: str) -> bool:
        """incrementAndCheckIfRelationsLimitReached: counts the edge on both its ends; True if either had
        followed as many relations as its constraints allow (the edge is then left out)."""
        source, target = (dataset, process) if label == INPUTS else (process, dataset)
        if (source, target) in self.visited_edges:
            return False
        target_info, source_info = self.info(target), self.info(source)
        reached = False
        if target_info.input_reached:
            target_info.has_more_inputs = reached = True
        else:
            target_info.count_input()
        if source_info.output_reached:
            source_info.has_more_outputs = reached = True
        else:
            source_info.count_output()
        if not reached:
            self.on_demand[target] = target_info
            self.on_demand[source] = source_info
        return reached

    def add(self, rel: str, label: str, process: str, dataset: str) -> None:
        """addEdgeToResult: an edge not yet in the result, while the result is under the cap."""
        pair = (dataset, process) if label == INPUTS else (process, dataset)
        if pair in self.visited_edges or len(self.relations) > MAX_RELATIONS:
            return
        self.visited_edges.add(pair)
        self.add_edge(rel, label, process, dataset)

    def traverse_on_demand(self, dataset: str, is_input: bool, depth: int, visited: set[str]) -> None:
        if depth == 0:
            return
        visited.add(dataset)
        incoming = OUTPUTS if is_input else INPUTS
        outgoing = INPUTS if is_input else OUTPUTS
        for in_rel, process in self.dataset_edges(dataset, incoming):
            if self.limit_reached(in_rel, incoming, process, dataset):
                break
            self.add(in_rel, incoming, process, dataset)
            for out_rel, other in self.process_edges(process, outgoing):
                if self.limit_reached(out_rel, outgoing, process, other):
                    break
                self.add(out_rel, outgoing, process, other)
                if other not in visited:
                    self.traverse_on_demand(other, is_input, depth - 1, visited)

    def from_process(self, process: str, is_input: bool, depth: int) -> None:
        label = INPUTS if is_input else OUTPUTS
        for rel, dataset in self.process_edges(process, label):
            if self.limit_reached(rel, label, process, dataset):
                break
            self.add(rel, label, process, dataset)
            self.on_demand.setdefault(dataset, self.info(dataset))
            self.traverse_on_demand(dataset, is_input, depth - 1, set())


def lineage_on_demand(conn: sqlite3.Connection, registry: TypeRegistry, guid: str,
                      constraints: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``POST lineage/{guid}``: Atlas's on-demand lineage of ``guid`` under ``constraints`` (see
    :func:`constraints_of`)."""
    if not constraints:
        constraints = {guid: _default_constraints()}
    is_dataset = _base(conn, registry, guid)
    walk = _OnDemandWalk(conn, constraints)
    base = walk.constraints_for(guid)
    direction, depth = base["direction"], base["depth"]
    walk_depth = -1 if depth == 0 else depth
    if is_dataset:
        walk.on_demand.setdefault(guid, walk.info(guid))
    for is_input in (True, False):
        if direction not in ("INPUT" if is_input else "OUTPUT", "BOTH"):
            continue
        if is_dataset:
            walk.traverse_on_demand(guid, is_input, walk_depth, set())
        else:
            walk.from_process(guid, is_input, walk_depth)
    return {
        "baseEntityGuid": guid,
        "lineageDirection": direction,
        "lineageDepth": depth,
        "guidEntityMap": _headers(conn, registry, walk.nodes),
        "relations": list(walk.relations.values()),
        "relationsOnDemand": {g: info.body() for g, info in walk.on_demand.items()
                              if info.has_more_inputs or info.has_more_outputs},
        "lineageOnDemandPayload": {g: {k: v for k, v in c.items() if v is not None} for g, c in constraints.items()},
    }
