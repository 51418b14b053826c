"""The catalog's read side: projects, models, builds, deployments, lineage trees, impact, classifications.

Everything is computed from Atlas through the typed client, so it answers the same against the embedded store
and a real Atlas. Classifications are Atlas's own: a deployment's are those attached to it and those Atlas propagated
to it (a tag with ``propagate`` on a table, an S3 directory or a build upstream reaches it along the lineage), as
Atlas's headers name them and its search finds them; a lineage tree's nodes carry their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from pydantic import BaseModel, Field

from catalog.atlas.client import AtlasCatalogClient
from catalog.atlas.models import Classification, EntityHeader, Lineage, ObjectRef
from catalog.backend import DatasetRef
from catalog.errors import InvalidInput, NotFound

BUILD_ATTRS = ["crn", "modelCrn", "modelName", "version", "gitCommit", "lineageFile", "metadata", "createTime",
               "project"]
DEPLOYMENT_ATTRS = ["crn", "modelCrn", "modelName", "status", "modelEndpointURL", "replicas", "cpuMillicores",
                    "memoryMb", "createTime", "deployedTime", "metadata", "build", "driftStatus", "driftColumns"]
PROJECT_ATTRS = ["crn", "gitUrl", "createTime"]
NOT_A_LINEAGE_ENTITY = "ATLAS-404-00-011"  # Atlas's INVALID_LINEAGE_ENTITY_TYPE
S3_SCHEMES = ("s3://", "s3a://", "s3n://")
#: S3 entities that hold others (aws_s3_v2_container_contained): the impact of one is that of all inside it.
S3_CONTAINERS = frozenset({"aws_s3_v2_bucket", "aws_s3_v2_directory"})
TRAIN_PROCESS = "ml_model_train_build_process"


class Project(BaseModel):
    crn: str
    name: str
    git_url: str | None = None
    create_time: int | None = None
    guid: str


class Build(BaseModel):
    crn: str
    name: str
    model_crn: str | None = None
    model_name: str | None = None
    version: int | None = None
    git_commit: str | None = None
    lineage_file: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    project_crn: str | None = None
    create_time: int | None = None
    guid: str


class Model(BaseModel):
    crn: str
    name: str
    project_crn: str | None = None
    latest_version: int
    builds: list[str]


class Deployment(BaseModel):
    crn: str
    name: str
    model_crn: str | None = None
    model_name: str | None = None
    status: str | None = None
    endpoint_url: str | None = None
    replicas: int | None = None
    cpu_millicores: int | None = None
    memory_mb: int | None = None
    create_time: int | None = None
    deployed_time: int | None = None
    build_crn: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    drift_status: str | None = Field(default=None, description="ok, warning, drifting or unknown; None: never checked")
    drift_columns: list[str] = Field(default_factory=list, description="the columns that drifted in the latest window")
    classifications: list[str] = Field(default_factory=list, description="own and propagated from upstream")
    guid: str


class LineageNode(BaseModel):
    guid: str
    type_name: str
    qualified_name: str | None = None
    name: str | None = None
    status: str
    classifications: list[str] = Field(default_factory=list, description="its own (propagated ones are not listed)")
    upstream: list[LineageNode] = Field(default_factory=list)


class DeploymentLineage(BaseModel):
    deployment: Deployment
    tree: LineageNode
    atlas_lineage: dict[str, Any]


class Impact(BaseModel):
    qualified_name: str
    sources: list[str] = Field(description="guids of the entities the name matched")
    deployments: list[Deployment]
    builds: list[Build]


def _ref_qn(v: Any) -> str | None:
    if isinstance(v, dict):
        qn = (v.get("uniqueAttributes") or {}).get("qualifiedName") or v.get("qualifiedName")
        return str(qn) if qn else None
    return None


def _project(h: EntityHeader) -> Project:
    a = h.attributes
    return Project(crn=str(a.get("crn") or h.qualified_name), name=str(a.get("name") or ""),
                   git_url=a.get("gitUrl"), create_time=a.get("createTime") or None, guid=h.guid)


def _build(h: EntityHeader) -> Build:
    a = h.attributes
    return Build(crn=str(a.get("crn") or h.qualified_name), name=str(a.get("name") or ""),
                 model_crn=a.get("modelCrn"), model_name=a.get("modelName"), version=a.get("version"),
                 git_commit=a.get("gitCommit"), lineage_file=a.get("lineageFile"), metadata=a.get("metadata") or {},
                 project_crn=_ref_qn(a.get("project")), create_time=a.get("createTime") or None, guid=h.guid)


def _deployment(h: EntityHeader) -> Deployment:
    a = h.attributes
    return Deployment(crn=str(a.get("crn") or h.qualified_name), name=str(a.get("name") or ""),
                      model_crn=a.get("modelCrn"), model_name=a.get("modelName"), status=a.get("status"),
                      endpoint_url=a.get("modelEndpointURL"), replicas=a.get("replicas"),
                      cpu_millicores=a.get("cpuMillicores"), memory_mb=a.get("memoryMb"),
                      create_time=a.get("createTime") or None, deployed_time=a.get("deployedTime") or None,
                      build_crn=_ref_qn(a.get("build")), metadata=a.get("metadata") or {},
                      drift_status=a.get("driftStatus") or None, drift_columns=list(a.get("driftColumns") or []),
                      classifications=sorted(set(h.classification_names)), guid=h.guid)


class CatalogQueries:
    def __init__(self, client: AtlasCatalogClient) -> None:
        self.client = client

    # -- listings -----------------------------------------------------------------------------------
    def projects(self) -> list[Project]:
        return [_project(h) for h in self.client.search_all(type_name="ml_project", attributes=PROJECT_ATTRS)]

    def project(self, crn: str) -> Project:
        return _project(self._one("ml_project", crn, PROJECT_ATTRS))

    def builds(self, *, project_crn: str | None = None, model_crn: str | None = None) -> list[Build]:
        flt = {"attributeName": "modelCrn", "operator": "=", "attributeValue": model_crn} if model_crn else None
        out = [_build(h) for h in self.client.search_all(type_name="ml_model_build", filters=flt,
                                                         attributes=BUILD_ATTRS)]
        if project_crn:
            out = [b for b in out if b.project_crn == project_crn]
        return sorted(out, key=lambda b: (b.model_name or "", b.version or 0))

    def build(self, crn: str) -> Build:
        return _build(self._one("ml_model_build", crn, BUILD_ATTRS))

    def build_inputs(self, crn: str) -> list[DatasetRef]:
        """What the build was trained on: the inputs of its training process (``ml_model_train_build_process``) in
        the order Atlas lists them, the project (an input too, for lineage) left out. A hive_table carries its
        column names from its hive_column entities, by position, partition keys last (as ``SELECT *`` returns
        them); a table recorded without HiveServer2 has none."""
        b = self.client.find_entity("ml_model_build", crn)
        if b is None or b.status != "ACTIVE":
            raise NotFound(f"no ml_model_build with CRN {crn}")
        processes = [r for r in b.relationships.get("outputFromProcesses", []) if r.type_name == TRAIN_PROCESS]
        if not processes:
            return []  # e.g. a build recorded by another tool, without a training process
        process = next((r for r in processes if r.qualified_name == f"{crn}:train"), processes[0])
        if process.guid is None:
            return []
        refs = [r for r in self.client.get_entity(process.guid).relationships.get("inputs", [])
                if r.type_name != "ml_project" and r.guid]
        names = self._headers_by_guid(refs)
        out: list[DatasetRef] = []
        for r in refs:
            h = names.get(str(r.guid))
            qn = (h.qualified_name if h else None) or r.qualified_name
            if h is None or qn is None:
                continue  # no longer an ACTIVE entity
            out.append(DatasetRef(type_name=h.type_name, qualified_name=qn,
                                  name=str(h.attributes.get("name") or "") or None))
        columns = self._table_columns([d.qualified_name for d in out if d.type_name == "hive_table"])
        return [d.model_copy(update={"columns": columns.get(d.qualified_name, [])}) for d in out]

    def _headers_by_guid(self, refs: list[ObjectRef], type_name: str = "DataSet",
                         attributes: list[str] | None = None) -> dict[str, EntityHeader]:
        """The ACTIVE entities among refs, as headers (with ``attributes``) by guid: found by qualifiedName in one
        search, or read one by one when a ref has none."""
        out: dict[str, EntityHeader] = {}
        names = [str(r.qualified_name) for r in refs if r.qualified_name]
        found = self.client.find_by_qualified_names(type_name, names, attributes or ["name"]) if names else {}
        by_guid = {h.guid: h for h in found.values()}
        for r in refs:
            guid = str(r.guid)
            if guid in by_guid:
                out[guid] = by_guid[guid]
            elif not r.qualified_name:
                e = self.client.get_entity(guid)
                if e.status == "ACTIVE":
                    out[guid] = EntityHeader(guid=e.guid, type_name=e.type_name, status=e.status,
                                             attributes=e.attributes)
        return out

    def _table_columns(self, tables: list[str]) -> dict[str, list[str]]:
        """hive_table qualifiedName -> its column names: columns by position, then partition keys by position."""
        parts: dict[str, tuple[list[ObjectRef], list[ObjectRef]]] = {}
        for qn in tables:
            t = self.client.find_entity("hive_table", qn)
            if t is not None and t.status == "ACTIVE":
                parts[qn] = (t.relationships.get("columns", []), t.relationships.get("partitionKeys", []))
        refs = [r for cols, keys in parts.values() for r in (*cols, *keys) if r.guid]
        headers = self._headers_by_guid(refs, "hive_column", ["name", "position"]) if refs else {}
        return {qn: [*_by_position(cols, headers), *_by_position(keys, headers)]
                for qn, (cols, keys) in parts.items()}

    def models(self, *, project_crn: str | None = None) -> list[Model]:
        grouped: dict[str, list[Build]] = {}
        for b in self.builds(project_crn=project_crn):
            if b.model_crn:
                grouped.setdefault(b.model_crn, []).append(b)
        return [Model(crn=mc, name=bs[-1].model_name or "", project_crn=bs[-1].project_crn,
                      latest_version=max(b.version or 0 for b in bs), builds=[b.crn for b in bs])
                for mc, bs in sorted(grouped.items(), key=lambda kv: kv[1][-1].model_name or "")]

    def model(self, crn: str) -> Model:
        builds = self.builds(model_crn=crn)
        if not builds:
            raise NotFound(f"no model with CRN {crn}")
        return Model(crn=crn, name=builds[-1].model_name or "", project_crn=builds[-1].project_crn,
                     latest_version=max(b.version or 0 for b in builds), builds=[b.crn for b in builds])

    def deployments(self, *, classification: str | None = None, model_crn: str | None = None,
                    status: str | None = None) -> list[Deployment]:
        if classification is not None and not self.client.get_typedefs([classification]):
            return []  # an unknown classification tags nothing (Atlas's search would refuse the name)
        # Atlas's search finds a classification propagated to an entity as it finds its own.
        headers = self.client.search_all(type_name="ml_model_deployment", classification=classification,
                                         attributes=DEPLOYMENT_ATTRS)
        out = [_deployment(h) for h in headers]
        if model_crn:
            out = [d for d in out if d.model_crn == model_crn]
        if status:
            out = [d for d in out if d.status == status]
        return sorted(out, key=lambda d: d.create_time or 0)

    def deployment(self, crn: str) -> Deployment:
        return _deployment(self._one("ml_model_deployment", crn, DEPLOYMENT_ATTRS))

    # -- lineage, impact, classifications ----------------------------------------------------------
    def deployment_lineage(self, crn: str) -> DeploymentLineage:
        h = self._one("ml_model_deployment", crn, DEPLOYMENT_ATTRS)
        lin = self.client.lineage(h.guid, "INPUT", 0)
        tree = lin.model_copy(update={"entities": complete_classifications(self.client, lin.entities)})
        return DeploymentLineage(deployment=_deployment(h), tree=upstream_tree(tree, h.guid, h), atlas_lineage=lin.raw)

    def impact(self, qualified_name: str) -> Impact:
        sources = self._sources(qualified_name)
        if not sources:
            raise NotFound(f"nothing in Atlas is named {qualified_name!r} (a table, S3 prefix, build, ...)")
        deployments: dict[str, EntityHeader] = {}
        builds: dict[str, EntityHeader] = {}
        for s in sources:
            if s.type_name == "ml_model_deployment":
                deployments[s.guid] = s
            lin = self.client.lineage(s.guid, "OUTPUT", 0)
            for g, e in lin.entities.items():
                if e.type_name == "ml_model_deployment":
                    deployments[g] = e
                elif e.type_name == "ml_model_build":
                    builds[g] = e
        dep = [self.deployment(str(e.qualified_name)) for e in deployments.values() if e.status == "ACTIVE"]
        bld = [self.build(str(e.qualified_name)) for e in builds.values() if e.status == "ACTIVE"]
        return Impact(qualified_name=qualified_name, sources=[s.guid for s in sources], deployments=dep, builds=bld)

    def _sources(self, qualified_name: str) -> list[EntityHeader]:
        qn = qualified_name.strip()
        if not qn:
            raise InvalidInput("qualifiedName is required")
        found = list(self.client.find_by_qualified_names("DataSet", [qn]).values())
        if not qn.startswith(S3_SCHEMES) or (found and not any(h.type_name in S3_CONTAINERS for h in found)):
            return found
        # An S3 location: what is read may be anything inside it, so every directory and object at or under it
        # (directories are aws_s3_v2_objects too; their names end in "/" before "@namespace").
        path, namespace = split_s3_namespace(qn)
        base = path.rstrip("/")
        inside = self.client.find_by_prefix("aws_s3_v2_object", base + "/")
        sources = {h.guid: h for h in found}
        sources.update((h.guid, h) for name, h in inside.items()
                       if namespace is None or name.endswith("@" + namespace))
        if namespace is None and not path.endswith("/"):
            # The object itself, under whatever namespace (its name is the path, then "@namespace").
            exact = self.client.find_by_prefix("aws_s3_v2_object", path + "@")
            sources.update((h.guid, h) for name, h in exact.items() if "/" not in name[len(path) + 1 :])
        return list(sources.values())

    def _one(self, type_name: str, crn: str, attrs: list[str]) -> EntityHeader:
        found = self.client.find_by_qualified_names(type_name, [crn], attrs)
        h = found.get(crn)
        if h is None:
            raise NotFound(f"no {type_name} with CRN {crn}")
        return h


def split_s3_namespace(qn: str) -> tuple[str, str | None]:
    """``s3a://b/dir/@cm`` -> (``s3a://b/dir/``, ``cm``); (``qn``, None) when it has no namespace. Keys may hold
    "@" too: only a last "@" with no "/" after it starts a namespace."""
    path, at, namespace = qn.rpartition("@")
    if not at or "/" in namespace or "://" not in path:
        return qn, None
    return path, namespace


def _by_position(refs: list[ObjectRef], headers: dict[str, EntityHeader]) -> list[str]:
    """Names of the columns refs point to, ordered by their ``position`` (then as listed)."""
    found: list[tuple[bool, int, int, str]] = []
    for i, r in enumerate(refs):
        h = headers.get(str(r.guid))
        name = h.attributes.get("name") if h else None
        if not name:
            continue
        pos = h.attributes.get("position") if h else None
        found.append((not isinstance(pos, int), pos if isinstance(pos, int) else 0, i, str(name)))
    return [name for *_, name in sorted(found)]


Mapper = Callable[[Callable[[str], list[Classification]], Iterable[str]], Iterator[list[Classification]]]


def complete_classifications(client: AtlasCatalogClient, headers: dict[str, EntityHeader], mapper: Mapper = map
                             ) -> dict[str, EntityHeader]:
    """``headers`` with the classifications themselves where Atlas named them only: its lineage headers do
    (``classificationNames`` mixes an entity's own with those propagated to it); its classifications each name the
    entity they are attached to. One call per such entity, through ``mapper`` (``map``, or a thread pool's)."""
    missing = [g for g, h in headers.items() if h.classification_names and not h.classifications]
    found = dict(zip(missing, mapper(client.classifications, missing), strict=True))
    return {g: h.model_copy(update={"classifications": found[g]}) if g in found else h for g, h in headers.items()}


def own_classifications(h: EntityHeader) -> list[str]:
    """The classifications attached to the entity itself, by name: Atlas lists those propagated to it too, each with
    the guid of the entity it comes from (an Atlas that sends names only: all taken as its own)."""
    if h.classifications:
        return sorted({c.type_name for c in h.classifications if c.entity_guid in (None, h.guid)})
    return sorted(set(h.classification_names))


def upstream_tree(lin: Lineage, root: str, base: EntityHeader | None = None) -> LineageNode:
    """The INPUT lineage as a tree rooted at ``root`` (shared ancestors appear under each child).

    ``base`` names the root when it has no lineage at all (Atlas then returns an empty guidEntityMap)."""
    if base is not None and root not in lin.entities:
        lin = lin.model_copy(update={"entities": {**lin.entities, root: base}})
    parents: dict[str, list[str]] = {}
    for r in lin.relations:
        parents.setdefault(r.to_guid, []).append(r.from_guid)

    def node(guid: str, seen: frozenset[str]) -> LineageNode:
        e = lin.entities.get(guid)
        n = LineageNode(guid=guid, type_name=e.type_name if e else "?", qualified_name=e.qualified_name if e else None,
                        name=(e.attributes.get("name") if e else None) or None, status=e.status if e else "ACTIVE",
                        classifications=own_classifications(e) if e else [])
        for p in sorted(parents.get(guid, [])):
            if p not in seen:
                n.upstream.append(node(p, seen | {p}))
        return n

    return node(root, frozenset({root}))
