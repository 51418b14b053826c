"""Lineage as a layered graph, for drawing left to right as Atlas's lineage tab does (``GET /api/v1/lineage``).

Computed from Atlas's lineage through the typed client only, so it answers the same against the embedded store
and a real Atlas.

- **Which entity**: a guid; a CRN (an ``ml_project``, ``ml_model_build`` or ``ml_model_deployment``, whose
  qualifiedName is its CRN); or a qualifiedName, of any DataSet or Process unless a type is named. An S3 location
  given without its ``@namespace`` (``s3a://bucket/dir/``) resolves to what is recorded under it, as
  :meth:`catalog.queries.CatalogQueries.impact` resolves one. Deleted entities are found too (an active one wins).
- **Depth** is Atlas's unit: one hop is data set -> process -> data set, so ``depth`` is how many data sets are
  drawn each way along the shortest path from the base, with the processes between them. Depth 3 draws what
  Atlas's lineage tab draws at depth 3 (from a process base, depth 1 is its own inputs and outputs).
  ``more_upstream`` / ``more_downstream`` say something exists beyond that in a direction: beyond ``depth``, or at
  all when the direction was not asked for.
- **Layers**: 0 for the base, negative upstream, positive downstream, by longest path (an upstream node sits just
  left of its leftmost consumer, a downstream one just right of its rightmost producer), so every edge goes from
  a lower layer to a higher one. Lineage alternates data sets and processes, so processes get layers of their
  own. The one exception is a cycle (a process that reads and writes the same table): its closing edge goes back.
- **Classifications**: a node's own, then those Atlas propagated to it (from anything upstream, drawn or not), each
  with the entity it comes from, as Atlas reports them on either backend. Where Atlas's lineage answer names them
  only (``classificationNames`` mixes both kinds), the node's classifications are read (one call per such node).
- **Deleted** entities are part of Atlas's lineage (its UI greys them) and are drawn, with status DELETED.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, TypeGuard

from pydantic import BaseModel, Field

from catalog.atlas.client import SEARCH_CHUNK, AtlasCatalogClient, any_of
from catalog.atlas.connect import is_embedded
from catalog.atlas.errors import AtlasNotFound
from catalog.atlas.models import Classification, Direction, Entity, EntityHeader, Lineage
from catalog.errors import InvalidInput, NotFound
from catalog.queries import (
    NOT_A_LINEAGE_ENTITY,
    S3_SCHEMES,
    complete_classifications,
    own_classifications,
    split_s3_namespace,
)

NodeKind = Literal["s3", "table", "column", "process", "project", "build", "deployment", "dataset", "other"]
Scalar = str | int | float | bool

DEFAULT_DEPTH = 3
MAX_DEPTH = 20
PARALLEL_CALLS = 8  # classification reads in flight at once to an Atlas over the network
#: Atlas's ML types, by the kind they are drawn as; their qualifiedName is their CRN.
ML_KINDS: dict[str, NodeKind] = {"ml_project": "project", "ml_model_build": "build",
                                 "ml_model_deployment": "deployment"}
#: The attributes a person looks for on a node, those an entity has and that are JSON scalars (plus its
#: ``metadata`` map, flattened as ``metadata.<key>``).
DETAIL_ATTRS = ["crn", "modelCrn", "modelName", "version", "gitCommit", "gitUrl", "lineageFile", "status",
                "modelEndpointURL", "replicas", "cpuMillicores", "memoryMb", "gpus", "driftStatus", "owner",
                "description", "createTime", "deployedTime", "modifiedTime", "location", "storageLocation",
                "objectPrefix", "bucketName", "region", "size", "dataType", "tableType", "comment", "type", "position",
                "userName", "operationType", "queryText", "startTime", "endTime", "clusterName", "imageTag",
                "lastModifiedTime", "lastAccessTime", "metadata"]


class LineageEdge(BaseModel):
    from_guid: str
    to_guid: str


class NodeClassification(BaseModel):
    name: str
    propagated: bool = Field(description="Atlas propagated it to the node from an entity upstream of it")
    source_guid: str = Field(description="the entity it is set on: the node itself unless propagated")


class LineageGraphNode(BaseModel):
    guid: str
    type_name: str
    kind: NodeKind
    name: str
    qualified_name: str | None = None
    status: str = Field(description="ACTIVE or DELETED")
    layer: int = Field(description="0: the base; negative upstream, positive downstream")
    classifications: list[NodeClassification] = Field(
        default_factory=list, description="own first (by name), then propagated (by name, then source)")
    details: dict[str, Scalar] = Field(default_factory=dict)
    atlas_url: str | None = Field(default=None, description="the entity's page in the Atlas web UI, if known")


class LineageGraph(BaseModel):
    base_guid: str
    direction: Direction
    depth: int = Field(description="data sets drawn each way from the base (Atlas's lineage depth)")
    nodes: list[LineageGraphNode] = Field(description="by layer, then kind and name")
    edges: list[LineageEdge]
    more_upstream: bool = Field(description="something upstream is not drawn (beyond depth, or not asked for)")
    more_downstream: bool = Field(description="something downstream is not drawn (beyond depth, or not asked for)")


class _Graph:
    """Lineage answers merged: entity headers and the edges both ways."""

    def __init__(self, base: EntityHeader, answers: Iterable[Lineage]) -> None:
        self.headers: dict[str, EntityHeader] = {}
        self.children: dict[str, set[str]] = {}
        self.parents: dict[str, set[str]] = {}
        for lin in answers:
            self.add(lin)
        self.headers.setdefault(base.guid, base)  # as found, when it has no lineage at all

    def add(self, lin: Lineage) -> None:
        for guid, h in lin.entities.items():
            self.headers.setdefault(guid, h)
        for r in lin.relations:
            self.children.setdefault(r.from_guid, set()).add(r.to_guid)
            self.parents.setdefault(r.to_guid, set()).add(r.from_guid)


class LineageGraphs:
    """``atlas_ui_url``: the Atlas web UI that nodes link to (a real Atlas's URL); None: no links."""

    def __init__(self, client: AtlasCatalogClient, atlas_ui_url: str | None = None) -> None:
        self.client = client
        self.atlas_ui_url = atlas_ui_url.rstrip("/") if atlas_ui_url else None
        self._supertypes: dict[str, tuple[str, ...]] = {}
        self._attributes: dict[str, frozenset[str]] = {}  # a type's own attribute names
        self._in_process = is_embedded(client.url)

    def graph(self, *, guid: str | None = None, crn: str | None = None, qualified_name: str | None = None,
              type_name: str | None = None, direction: Direction = "BOTH", depth: int = DEFAULT_DEPTH
              ) -> LineageGraph:
        if direction not in ("INPUT", "OUTPUT", "BOTH"):
            raise InvalidInput(f"direction must be INPUT, OUTPUT or BOTH, not {direction!r}")
        if not 1 <= depth <= MAX_DEPTH:
            raise InvalidInput(f"depth must be 1 to {MAX_DEPTH}, not {depth}")
        base = self._resolve(guid, crn, qualified_name, type_name)
        is_process = "Process" in self._chain(base.type_name)
        up_depth = depth if direction != "OUTPUT" else 0
        down_depth = depth if direction != "INPUT" else 0
        # The whole upstream (depth 0 = unlimited): what is drawn and whether more exists. Downstream one hop
        # further than drawn, to know whether more exists.
        up = self._lineage(base.guid, "INPUT", 0)
        down = self._lineage(base.guid, "OUTPUT", down_depth + 1)
        shape = _Graph(base, [up, down])
        up_dist = _distances(base.guid, shape.parents)
        down_dist = _distances(base.guid, shape.children)
        up_limit, down_limit = _edge_limit(up_depth, is_process), _edge_limit(down_depth, is_process)
        upstream = {g for g, d in up_dist.items() if 0 < d <= up_limit}
        downstream = {g for g, d in down_dist.items() if 0 < d <= down_limit} - upstream
        layers = {base.guid: 0}
        layers.update((g, -d) for g, d in _longest_paths(base.guid, upstream, shape.parents).items())
        layers.update((g, d) for g, d in _longest_paths(base.guid, downstream, shape.children).items())
        drawn = complete_classifications(self.client, {g: shape.headers[g] for g in layers}, self._map)
        nodes = self._nodes(shape, layers, {g: _classifications(h) for g, h in drawn.items()})
        edges = sorted({(a, b) for a in layers for b in shape.children.get(a, ()) if b in layers})
        return LineageGraph(base_guid=base.guid, direction=direction, depth=depth, nodes=nodes,
                            edges=[LineageEdge(from_guid=a, to_guid=b) for a, b in edges],
                            more_upstream=any(d > up_limit for d in up_dist.values()),
                            more_downstream=any(d > down_limit for d in down_dist.values()))

    # -- which entity -------------------------------------------------------------------------------
    def _resolve(self, guid: str | None, crn: str | None, qualified_name: str | None,
                 type_name: str | None) -> EntityHeader:
        given = [name for name, value in (("guid", guid), ("crn", crn), ("qualifiedName", qualified_name))
                 if value is not None]
        if len(given) != 1:
            raise InvalidInput("name exactly one entity: guid, crn or qualifiedName"
                               + (f" (got {' and '.join(given)})" if given else ""))
        if type_name is not None and qualified_name is None:
            raise InvalidInput("typeName goes with qualifiedName")
        if guid is not None:
            return self._by_guid(guid.strip())
        if crn is not None:
            found = [h for h in self._search("DataSet", [crn.strip()]) if h.type_name in ML_KINDS
                     or ML_KINDS.keys() & self._chain(h.type_name)]
            if not found:
                raise NotFound(f"no ml_project, ml_model_build or ml_model_deployment with CRN {crn}")
            return _pick(found, crn)
        assert qualified_name is not None
        return self._by_qualified_name(qualified_name.strip(), type_name.strip() if type_name else None)

    def _by_guid(self, guid: str) -> EntityHeader:
        try:
            e = self.client.get_entity(guid)
        except AtlasNotFound:
            raise NotFound(f"no entity with guid {guid}") from None
        return _header_of(e)

    def _by_qualified_name(self, qn: str, type_name: str | None) -> EntityHeader:
        if not qn:
            raise InvalidInput("qualifiedName must not be empty")
        if type_name is not None:
            try:
                found = self._search(type_name, [qn])
            except AtlasNotFound:
                raise InvalidInput(f"unknown typeName {type_name!r}") from None
        else:
            found = self._search("DataSet", [qn]) or self._search("Process", [qn])
        if not found and qn.startswith(S3_SCHEMES) and split_s3_namespace(qn)[1] is None:
            found = self._s3_location(qn, type_name)
        if not found:
            raise NotFound(f"nothing in Atlas is named {qn!r}" + (f" with type {type_name}" if type_name else ""))
        return _pick(found, qn)

    def _s3_location(self, path: str, type_name: str | None) -> list[EntityHeader]:
        """What is recorded at an S3 location given without its namespace (``s3a://b/dir/`` is recorded as
        ``s3a://b/dir/@ns``); the directory or object, with or without a trailing "/"; a bucket by its name."""
        bare = path.rstrip("/")
        for candidate in dict.fromkeys([path, bare + "/", bare]):
            found = self.client.find_by_prefix(type_name or "DataSet", candidate + "@")
            exact = [h for name, h in found.items() if "/" not in name[len(candidate) + 1:]]
            if len(exact) > 1:
                names = ", ".join(sorted(str(h.qualified_name) for h in exact))
                raise InvalidInput(f"{path} is recorded under several namespaces ({names}): name one")
            if exact:
                return exact
        return []

    def _search(self, type_name: str, qualified_names: list[str], attributes: list[str] | None = None
                ) -> list[EntityHeader]:
        """Entities of ``type_name`` (and subtypes) by qualifiedName, deleted ones included, with ``attributes``
        (which must be ``type_name``'s: Atlas refuses others with ATLAS-400-00-023)."""
        out: list[EntityHeader] = []
        wanted = sorted(set(qualified_names))
        for i in range(0, len(wanted), SEARCH_CHUNK):
            chunk = wanted[i : i + SEARCH_CHUNK]
            members = set(chunk)
            out.extend(h for h in self.client.search_all(type_name=type_name, filters=any_of("qualifiedName", chunk),
                                                         attributes=attributes, exclude_deleted=False)
                       if h.qualified_name in members)
        return out

    # -- Atlas calls ----------------------------------------------------------------------------------
    def _lineage(self, guid: str, direction: Direction, depth: int) -> Lineage:
        try:
            return self.client.lineage(guid, direction, depth)
        except AtlasNotFound as e:
            if e.error_code != NOT_A_LINEAGE_ENTITY:
                raise
            # Neither a DataSet nor a Process (a hive_db, say): it stands alone.
            return Lineage(base_guid=guid, direction=direction, depth=depth, entities={}, relations=[])

    def _map(self, read: Callable[[str], list[Classification]], guids: Iterable[str]
             ) -> Iterator[list[Classification]]:
        """``read`` of each guid. Over the network several calls at a time (each is mostly waiting); in process one
        after another: they are CPU-bound under one GIL, and each new thread would open a connection of its own to
        the store."""
        wanted = list(guids)
        if self._in_process or len(wanted) < 2:
            return map(read, wanted)
        with ThreadPoolExecutor(max_workers=min(PARALLEL_CALLS, len(wanted))) as pool:
            return iter(list(pool.map(read, wanted)))

    def _chain(self, type_name: str) -> frozenset[str]:
        """The type and all its supertypes (typedefs read once per type for the life of this object: Atlas never
        removes a supertype, nor an attribute)."""
        seen: set[str] = set()
        todo = [type_name]
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            if name not in self._supertypes:
                found = self.client.get_typedefs([name]).get(name)
                if found is None:
                    continue  # not cached: a type missing now may be created later
                self._supertypes[name] = tuple(found.super_types)
                self._attributes[name] = frozenset(a.name for a in found.attribute_defs)
            todo.extend(self._supertypes[name])
        return frozenset(seen)

    def _detail_attributes(self, type_name: str) -> list[str]:
        """The :data:`DETAIL_ATTRS` the type has, its supertypes' included."""
        has = frozenset().union(*(self._attributes.get(t, frozenset()) for t in self._chain(type_name)))
        return [a for a in DETAIL_ATTRS if a in has]

    # -- nodes --------------------------------------------------------------------------------------
    def _nodes(self, shape: _Graph, layers: dict[str, int],
               tags: dict[str, list[NodeClassification]]) -> list[LineageGraphNode]:
        headers = {g: shape.headers[g] for g in layers}
        details = self._details(headers)
        nodes = []
        for guid, h in headers.items():
            kind = kind_of(self._chain(h.type_name))
            name = h.attributes.get("name") or h.display_text or h.qualified_name or guid
            nodes.append(LineageGraphNode(
                guid=guid, type_name=h.type_name, kind=kind, name=str(name), qualified_name=h.qualified_name,
                status=h.status, layer=layers[guid], classifications=tags.get(guid, []),
                details=_scalars(details.get(guid, h).attributes),
                atlas_url=f"{self.atlas_ui_url}/index.html#!/detailPage/{guid}" if self.atlas_ui_url else None))
        return sorted(nodes, key=lambda n: (n.layer, n.kind, n.name, n.guid))

    def _details(self, headers: dict[str, EntityHeader]) -> dict[str, EntityHeader]:
        """The drawn entities again, with the :data:`DETAIL_ATTRS` their type has (lineage headers carry only
        name, owner, ...): one search per type drawn that has any, asking for those."""
        by_type: dict[str, list[str]] = {}
        for h in headers.values():
            if h.qualified_name:
                by_type.setdefault(h.type_name, []).append(h.qualified_name)
        out: dict[str, EntityHeader] = {}
        for type_name, names in sorted(by_type.items()):
            attributes = self._detail_attributes(type_name)
            if attributes:
                out.update((h.guid, h) for h in self._search(type_name, names, attributes)
                           if h.guid in headers and h.type_name == type_name)
        return out


def kind_of(chain: frozenset[str]) -> NodeKind:
    """How a type is drawn, from the type and its supertypes."""
    for type_name, kind in ML_KINDS.items():
        if type_name in chain:
            return kind
    if "Process" in chain:
        return "process"
    if any("s3" in t.lower().split("_") for t in chain):
        return "s3"
    if any(t.endswith("_table") for t in chain):
        return "table"
    if any(t.endswith("_column") for t in chain):
        return "column"
    return "dataset" if "DataSet" in chain else "other"


def _header_of(e: Entity) -> EntityHeader:
    return EntityHeader(guid=e.guid, type_name=e.type_name, status=e.status, attributes=e.attributes,
                        classification_names=[c.type_name for c in e.classifications],
                        classifications=e.classifications)


def _pick(found: list[EntityHeader], name: str) -> EntityHeader:
    """The one entity a name means: the active one (else the deleted one); several active ones of different types
    need a typeName."""
    active = [h for h in found if h.status == "ACTIVE"]
    if len({h.guid for h in active}) > 1:
        types = ", ".join(sorted({h.type_name for h in active}))
        raise InvalidInput(f"{name!r} names several entities ({types}): give typeName")
    return (active or sorted(found, key=lambda h: h.guid))[0]


def _edge_limit(depth: int, base_is_process: bool) -> int:
    """How many edges from the base a drawn node may be: data set hop N is 2N edges from a data set base and
    2N-1 from a process base (the processes between are 2N-1 and 2N-2 away)."""
    return max(0, 2 * depth - (1 if base_is_process else 0))


def _distances(base: str, adjacent: dict[str, set[str]]) -> dict[str, int]:
    """Edges on the shortest path from ``base`` to everything reachable along ``adjacent``."""
    dist = {base: 0}
    queue = deque([base])
    while queue:
        g = queue.popleft()
        for n in adjacent.get(g, ()):
            if n not in dist:
                dist[n] = dist[g] + 1
                queue.append(n)
    return dist


def _longest_paths(base: str, nodes: set[str], succ: dict[str, set[str]]) -> dict[str, int]:
    """The longest path from ``base`` to each of ``nodes`` along ``succ`` inside ``nodes`` (edges closing a cycle,
    and edges back into the base, left out); at least 1."""
    nxt = {g: sorted(n for n in succ.get(g, ()) if n in nodes) for g in (base, *nodes)}
    back = _back_edges([base, *sorted(nodes)], nxt)
    indegree = dict.fromkeys(nxt, 0)
    for g, ns in nxt.items():
        for n in ns:
            if (g, n) not in back:
                indegree[n] += 1
    dist = {g: 1 for g in nodes}
    dist[base] = 0
    queue = deque(g for g in (base, *sorted(nodes)) if indegree[g] == 0)
    while queue:
        g = queue.popleft()
        for n in nxt[g]:
            if (g, n) in back:
                continue
            dist[n] = max(dist[n], dist[g] + 1)
            indegree[n] -= 1
            if indegree[n] == 0:
                queue.append(n)
    del dist[base]
    return dist


def _back_edges(starts: list[str], nxt: dict[str, list[str]]) -> set[tuple[str, str]]:
    """Edges that close a cycle, found by depth-first search (without recursion: lineage can be long)."""
    state: dict[str, bool] = {}  # True while on the search path, False once finished
    back: set[tuple[str, str]] = set()
    for start in starts:
        if start in state:
            continue
        state[start] = True
        stack = [(start, iter(nxt[start]))]
        while stack:
            g, it = stack[-1]
            for n in it:
                if state.get(n) is True:
                    back.add((g, n))
                elif n not in state:
                    state[n] = True
                    stack.append((n, iter(nxt[n])))
                    break
            else:
                state[g] = False
                stack.pop()
    return back


def _classifications(h: EntityHeader) -> list[NodeClassification]:
    """The node's own classifications (by name), then those Atlas propagated to it (by name, then source)."""
    propagated = {(c.type_name, c.entity_guid) for c in h.classifications
                  if c.entity_guid is not None and c.entity_guid != h.guid}
    return ([NodeClassification(name=name, propagated=False, source_guid=h.guid) for name in own_classifications(h)]
            + [NodeClassification(name=name, propagated=True, source_guid=source)
               for name, source in sorted(propagated)])


def _scalars(attributes: dict[str, Any]) -> dict[str, Scalar]:
    """The :data:`DETAIL_ATTRS` an entity has, as JSON scalars; ``""`` is how Atlas's headers say "not set"."""
    out: dict[str, Scalar] = {}
    for key in DETAIL_ATTRS:
        value = attributes.get(key)
        if key == "metadata" and isinstance(value, dict):
            out.update((f"metadata.{k}", v) for k, v in sorted(value.items()) if _is_scalar(v))
        elif _is_scalar(value):
            out[key] = value
    return out


def _is_scalar(value: Any) -> TypeGuard[Scalar]:
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, str | int | bool) and value != ""
