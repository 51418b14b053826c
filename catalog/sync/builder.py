"""Turn a project's lineage (plus what HiveServer2 and S3 said) into the desired Atlas entity graph.

Naming follows Atlas's hooks so our entities meet theirs: ``db@ns``, ``db.table@ns``, ``db.table.col@ns``,
``db.table@ns_storage``, S3 v2 buckets ``s3a://bucket@ns``, one directory per path segment ``s3a://bucket/a/b/@ns``
and objects ``s3a://bucket/a/b/file.csv@ns``. ML entities are named by their CRN.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from catalog.atlas.models import ObjectRef
from catalog.sync.graph import (
    L_BUILD,
    L_DEPLOY,
    L_DEPLOYMENT,
    L_ROOT,
    L_S3_DIR,
    L_TABLE,
    L_TABLE_PARTS,
    L_TABLE_PROCESS,
    L_TRAIN,
    Desired,
    Graph,
)

MANAGED_MARKER = "mlcatalog.source"  # hive_table.parameters key on tables mlcatalog created
# What a sync reads of an existing hive_table: what add_table writes, plus the parts a schema change can orphan.
TABLE_READ_ATTRS = ["name", "parameters", "tableType", "owner", "createTime", "comment", "viewOriginalText", "db",
                    "columns", "partitionKeys", "outputFromProcesses"]


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    comment: str | None = None
    position: int = 0


@dataclass(frozen=True)
class TableFacts:
    """What HiveServer2 reported for a table (None fields: unknown)."""

    columns: tuple[Column, ...] = ()
    partition_keys: tuple[Column, ...] = ()
    table_type: str | None = None
    location: str | None = None
    owner: str | None = None
    create_time_ms: int | None = None
    comment: str | None = None
    input_format: str | None = None
    output_format: str | None = None
    serde: str | None = None
    parameters: tuple[tuple[str, str], ...] = ()
    view_text: str | None = None


@dataclass(frozen=True)
class TableInput:
    db: str
    table: str
    namespace: str
    facts: TableFacts | None  # None: declared only (no HiveServer2, or --allow-unresolved)
    existing_foreign: bool = False  # already in Atlas and not created by mlcatalog: reference only

    @property
    def qualified_name(self) -> str:
        return f"{self.db}.{self.table}@{self.namespace}"


@dataclass(frozen=True)
class ProjectInput:
    crn: str
    name: str
    git_url: str


@dataclass(frozen=True)
class BuildInput:
    crn: str
    model_crn: str
    model_name: str
    version: int
    commit: str
    author: str
    commit_time_ms: int
    lineage_path: str
    lineage_digest: str
    metadata: tuple[tuple[str, str], ...]
    tables: tuple[str, ...]  # table qualified names
    s3_inputs: tuple[str, ...]  # S3 qualified names read: deepest directories (s3_directories) or objects (s3_object)


@dataclass(frozen=True)
class DeploymentInput:
    crn: str
    build_crn: str
    model_crn: str
    model_name: str
    name: str
    status: str
    create_time_ms: int
    deployed_time_ms: int
    cpu_millicores: int
    memory_mb: int | None = None
    gpus: int | None = None
    replicas: int | None = None
    endpoint_url: str | None = None
    user: str = "mlcatalog"
    traffic_role: str | None = None
    traffic_percent: int | None = None
    metadata: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class DriftInput:
    crn: str  # the deployment's
    status: str  # ok | warning | drifting | unknown
    columns: tuple[str, ...]
    checked_time_ms: int
    window_start_ms: int
    window_end_ms: int


#: The classification a deployment carries while its latest monitoring window drifted (typedefs/extensions).
DRIFTING = "DRIFTING"


def drift_attributes(d: DriftInput) -> dict[str, Any]:
    """The deployment's drift attributes (extension attributes of ml_model_deployment)."""
    return {"driftStatus": d.status, "driftColumns": list(d.columns), "driftCheckedTime": d.checked_time_ms,
            "driftWindowStart": d.window_start_ms, "driftWindowEnd": d.window_end_ms}


def _ref(type_name: str, qn: str, relationship_type: str | None = None) -> ObjectRef:
    return ObjectRef(type_name=type_name, qualified_name=qn, relationship_type=relationship_type)


def s3_directories(graph: Graph, scheme: str, bucket: str, key: str, namespace: str) -> str:
    """Add the bucket and one aws_s3_v2_directory per path segment (as Atlas's hook does); returns the deepest
    directory's qualifiedName (the bucket's when the key is empty)."""
    bucket_qn = f"{scheme}://{bucket}@{namespace}"
    graph.add(Desired("aws_s3_v2_bucket", bucket_qn, L_ROOT, attributes={"name": bucket}))
    parent = _ref("aws_s3_v2_bucket", bucket_qn)
    deepest = bucket_qn
    path = ""
    for depth, segment in enumerate(s for s in key.split("/") if s):
        path += segment + "/"
        qn = f"{scheme}://{bucket}/{path}@{namespace}"
        graph.add(Desired("aws_s3_v2_directory", qn, L_S3_DIR + depth,
                          attributes={"name": segment, "objectPrefix": "/" + path},
                          relationships={"container": parent}))
        parent = _ref("aws_s3_v2_directory", qn)
        deepest = qn
    return deepest


def s3_object(graph: Graph, scheme: str, bucket: str, key: str, namespace: str, *, size: int | None = None,
              modified_ms: int | None = None) -> str:
    """Add an aws_s3_v2_object for the object ``key`` (no trailing ``/``), contained in its directory chain (added
    by :func:`s3_directories`); returns its qualifiedName. ``size`` and ``modified_ms``: what S3 said, if asked."""
    directory, _, name = key.rpartition("/")
    parent = s3_directories(graph, scheme, bucket, directory, namespace)
    attrs: dict[str, Any] = {"name": name, "bucketName": bucket}
    # Left out when unknown, so that recording a declared object never erases what an earlier build read from S3.
    if size is not None:
        attrs["size"] = size
    if modified_ms is not None:
        attrs["lastModifiedTime"] = modified_ms
    qn = f"{scheme}://{bucket}/{key}@{namespace}"
    depth = sum(1 for segment in directory.split("/") if segment)  # one layer above its deepest directory
    graph.add(Desired("aws_s3_v2_object", qn, L_S3_DIR + depth, attributes=attrs,
                      relationships={"container": _ref(s3_type(parent), parent)}))
    return qn


#: The last segment of a file's key: a name, then an extension with a letter (wine.csv, part-0.snappy.parquet,
#: model.h5), unlike directory names such as 2020-05-11, v1.2 or .staging.
_FILE_NAME = re.compile(r"[^/]*[^/.]\.[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*")


def looks_like_object(key: str) -> bool:
    """Whether a key S3 was not asked about (or did not know) names an object rather than a prefix: no trailing
    ``/`` and a last segment that looks like a file name. S3's own answer, when there is one, wins."""
    return _FILE_NAME.fullmatch(key.rpartition("/")[2]) is not None


def s3_type(qn: str) -> str:
    """aws_s3_v2_bucket for ``s3a://bucket@ns``, aws_s3_v2_directory for ``s3a://bucket/dir/@ns``,
    aws_s3_v2_object for ``s3a://bucket/dir/file.csv@ns``."""
    path = qn.split("://", 1)[-1].rsplit("@", 1)[0]  # keys may hold "@"; namespaces do not
    if "/" not in path:
        return "aws_s3_v2_bucket"
    return "aws_s3_v2_directory" if path.endswith("/") else "aws_s3_v2_object"


def split_s3(uri: str) -> tuple[str, str, str] | None:
    for scheme in ("s3a", "s3", "s3n"):
        prefix = scheme + "://"
        if uri.startswith(prefix):
            rest = uri[len(prefix):]
            bucket, _, key = rest.partition("/")
            return (scheme, bucket, key) if bucket else None
    return None


def add_table(graph: Graph, t: TableInput) -> None:
    qn = t.qualified_name
    if t.existing_foreign:
        graph.add(Desired("hive_table", qn, L_TABLE, managed=False))
        return
    db_qn = f"{t.db}@{t.namespace}"
    graph.add(Desired("hive_db", db_qn, L_ROOT, attributes={"name": t.db, "clusterName": t.namespace}))
    f = t.facts
    params = dict(f.parameters) if f else {}
    params[MANAGED_MARKER] = "hiveserver2" if f else "declared"
    attrs: dict[str, Any] = {"name": t.table, "parameters": params}
    if f is not None:
        for key, value in (("tableType", f.table_type), ("owner", f.owner), ("createTime", f.create_time_ms),
                           ("comment", f.comment), ("viewOriginalText", f.view_text)):
            if value is not None:
                attrs[key] = value
    graph.add(Desired("hive_table", qn, L_TABLE, attributes=attrs,
                      relationships={"db": _ref("hive_db", db_qn)}))
    if f is None:
        return
    table_ref = _ref("hive_table", qn)
    for cols, rel in ((f.columns, "hive_table_columns"), (f.partition_keys, "hive_table_partitionkeys")):
        for c in cols:
            cattrs: dict[str, Any] = {"name": c.name, "type": c.type, "position": c.position}
            if c.comment:
                cattrs["comment"] = c.comment
            graph.add(Desired("hive_column", f"{t.db}.{t.table}.{c.name.lower()}@{t.namespace}", L_TABLE_PARTS,
                              attributes=cattrs, relationships={"table": _ref("hive_table", qn, rel)}))
    sd: dict[str, Any] = {"compressed": False}
    for key, value in (("location", f.location), ("inputFormat", f.input_format),
                       ("outputFormat", f.output_format)):
        if value is not None:
            sd[key] = value
    if f.serde:
        sd["serdeInfo"] = {"typeName": "hive_serde", "attributes": {"serializationLib": f.serde}}
    graph.add(Desired("hive_storagedesc", f"{qn}_storage", L_TABLE_PARTS, attributes=sd,
                      relationships={"table": table_ref}))
    s3 = split_s3(f.location) if f.location and f.table_type == "EXTERNAL_TABLE" else None
    if s3 is not None:
        # What the Hive hook records for CREATE EXTERNAL TABLE ... LOCATION 's3a://...': path -> table.
        scheme, bucket, key = s3
        dir_qn = s3_directories(graph, scheme, bucket, key, t.namespace)
        created = f.create_time_ms or 0
        pqn = f"{qn}:{created}"
        graph.add(Desired("hive_process", pqn, L_TABLE_PROCESS, attributes={
            "name": pqn, "startTime": created, "endTime": created, "userName": f.owner or "unknown",
            "operationType": "CREATETABLE", "queryText": "", "queryPlan": "Not Supported", "queryId": "",
            "clusterName": t.namespace,
        }, relationships={"inputs": [_ref(s3_type(dir_qn), dir_qn)], "outputs": [table_ref]}))


def add_project(graph: Graph, p: ProjectInput, now_ms: int) -> None:
    graph.add(Desired("ml_project", p.crn, L_ROOT, attributes={"name": p.name, "crn": p.crn, "gitUrl": p.git_url},
                      create_attributes={"createTime": now_ms}))


def add_build(graph: Graph, p: ProjectInput, b: BuildInput) -> None:
    metadata = dict(b.metadata)
    graph.add(Desired("ml_model_build", b.crn, L_BUILD, attributes={
        "name": f"{b.model_name} v{b.version}", "version": b.version, "crn": b.crn, "modelCrn": b.model_crn,
        "modelName": b.model_name, "gitCommit": b.commit, "lineageFile": b.lineage_path,
        "lineageDigest": b.lineage_digest, "createTime": b.commit_time_ms,
    }, create_attributes={"metadata": metadata},  # a build records its inputs as they were: never rewritten
        relationships={"project": _ref("ml_project", p.crn)}))
    inputs = [_ref("ml_project", p.crn)]
    inputs += [_ref("hive_table", qn) for qn in b.tables]
    inputs += [_ref(s3_type(qn), qn) for qn in b.s3_inputs]
    graph.add(Desired("ml_model_train_build_process", f"{b.crn}:train", L_TRAIN, attributes={
        "name": f"train {b.model_name} v{b.version}", "userName": b.author,
    }, relationships={"inputs": inputs, "outputs": [_ref("ml_model_build", b.crn)]}))


def add_deployment(graph: Graph, d: DeploymentInput) -> None:
    attrs: dict[str, Any] = {
        "name": d.name, "crn": d.crn, "modelCrn": d.model_crn, "modelName": d.model_name, "status": d.status,
        "createTime": d.create_time_ms, "deployedTime": d.deployed_time_ms, "cpuMillicores": d.cpu_millicores,
    }
    for key, value in (("memoryMb", d.memory_mb), ("gpus", d.gpus), ("replicas", d.replicas),
                       ("modelEndpointURL", d.endpoint_url), ("trafficRole", d.traffic_role),
                       ("trafficPercent", d.traffic_percent)):
        if value is not None:
            attrs[key] = value
    if d.metadata:
        attrs["metadata"] = dict(d.metadata)
    graph.add(Desired("ml_model_build", d.build_crn, L_BUILD, managed=False))
    graph.add(Desired("ml_model_deployment", d.crn, L_DEPLOYMENT, attributes=attrs,
                      relationships={"build": _ref("ml_model_build", d.build_crn)}))
    graph.add(Desired("ml_model_deploy_process", f"{d.crn}:deploy", L_DEPLOY, attributes={
        "name": f"deploy {d.name}", "userName": d.user,
    }, relationships={"inputs": [_ref("ml_model_build", d.build_crn)],
                      "outputs": [_ref("ml_model_deployment", d.crn)]}))
