"""OpenLineage run events for model builds and deployments, built from the catalog's typed records (pure).

* A build of a model is a run of the job ``<project>/<model>/build``: its inputs are the model's Hive tables
  (``hive://<cluster>`` or the configured Hive namespace, ``db.table``, with a schema facet from the columns
  HiveServer2 reported) and S3 locations (``s3://bucket``, the key), its output the build itself (named by its CRN,
  with the ``mlcatalog_build`` facet: commit, CRNs); the job carries the project's git location at the commit.
* A deployment is a run of the job ``<project>/<model>/deployment``: its input is the build it serves, its output
  the deployment (named by its CRN, with the ``mlcatalog_deployment`` facet). ``deploying`` starts the run,
  ``deployed`` is RUNNING, ``stopped`` completes it (FAIL when it never came up), ``stopping`` emits nothing.

Run ids are UUIDs derived from the build's or deployment's CRN: the events of one run share it, and an event sent
twice (an outbox replay) is the same event. :func:`to_dict`/:func:`from_dict` carry an event through the outbox.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    BaseFacet,
    datasource_dataset,
    job_type_job,
    schema_dataset,
    source_code_location_job,
)
from openlineage.client.naming.dataset import S3
from openlineage.client.serde import Serde

from catalog.backend import DeploymentRecord
from catalog.identity import lineage_of
from catalog.lineagefile import HiveTableRef, S3Ref
from catalog.openlineage.facets import BUILD_FACET, DEPLOYMENT_FACET, BuildDatasetFacet, DeploymentDatasetFacet
from catalog.sync.snapshot import ColumnFacts, ResolvedBuild, S3Lookup, TableLookup

__all__ = ["PRODUCER", "Naming", "build_event", "build_events", "deployment_event", "from_dict", "run_id", "to_dict"]

PRODUCER = "urn:mlcatalog:0.1.0"
INTEGRATION = "MLCATALOG"
_RUN_IDS = uuid.UUID("6d4f3b0e-9a57-5c4e-8f0e-6f70656e6c69")  # uuid5 namespace of our run ids (any fixed UUID)
_SCP_LIKE = re.compile(r"^(?P<user>[\w.-]+)@(?P<host>[\w.-]+):(?P<path>(?!//).*)$")


@dataclass(frozen=True)
class Naming:
    """Where events name things. ``namespace``: our jobs and our datasets (builds, deployments); ``hive_namespace``:
    Hive tables (OpenLineage names them ``hive://metastore-host:port``); None: ``hive://<cluster>`` from the
    table's Atlas qualifiedName (``db.table@cluster``)."""

    namespace: str = "mlcatalog"
    producer: str = PRODUCER
    hive_namespace: str | None = None


def run_id(crn: str) -> str:
    return str(uuid.uuid5(_RUN_IDS, crn))


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def _event_time(when: datetime) -> str:
    if when.tzinfo is None:
        raise ValueError("an event time needs a time zone")
    return when.astimezone(UTC).isoformat(timespec="milliseconds")


def git_uri(url: str) -> str:
    """A git remote as a URI (the facet's ``url`` is one): ``user@host:path`` is ``ssh://user@host/path``, a local
    path a ``file://`` URI; a URL stays as it is."""
    if "://" in url:
        return url
    if m := _SCP_LIKE.match(url):
        return f"ssh://{m['user']}@{m['host']}/{m['path'].lstrip('/')}"
    if url.startswith("/"):
        return "file://" + quote(url)
    return url


def _schema(columns: list[ColumnFacts], partition_keys: list[ColumnFacts], producer: str
            ) -> schema_dataset.SchemaDatasetFacet:
    fields = [schema_dataset.SchemaDatasetFacetFields(name=c.name, type=c.type, description=c.comment,
                                                      ordinal_position=i)
              for i, c in enumerate([*sorted(columns, key=lambda c: c.position),
                                     *sorted(partition_keys, key=lambda c: c.position)], start=1)]
    return schema_dataset.SchemaDatasetFacet(fields=fields, producer=producer)


def _hive_input(qualified_name: str, lookup: TableLookup | None, naming: Naming) -> InputDataset:
    ref = HiveTableRef.parse(qualified_name)
    namespace = naming.hive_namespace or f"hive://{ref.namespace}"
    facets: dict[str, Any] = {"dataSource": datasource_dataset.DatasourceDatasetFacet(
        name=namespace, uri=namespace, producer=naming.producer)}
    if lookup is not None and lookup.facts is not None:
        facets["schema"] = _schema(lookup.facts.columns, lookup.facts.partition_keys, naming.producer)
    return InputDataset(namespace=namespace, name=f"{ref.db}.{ref.table}", facets=facets)


def _s3_input(uri: str, lookup: S3Lookup | None, naming: Naming) -> InputDataset:
    ref = S3Ref.parse(uri)
    # s3a:// is Hadoop's client for the same object: OpenLineage names both s3://bucket
    naming_ = S3(bucket_name=ref.bucket, object_key=ref.prefix.rstrip("/") or "/")
    namespace = naming_.get_namespace()
    facets: dict[str, Any] = {"dataSource": datasource_dataset.DatasourceDatasetFacet(
        name=namespace, uri=namespace, producer=naming.producer)}
    return InputDataset(namespace=namespace, name=naming_.get_name(), facets=facets)


def build_event(resolved: ResolvedBuild, model: str, *, event_type: RunState, event_time: datetime,
                naming: Naming, build_crn: str | None = None) -> RunEvent:
    """The event of ``model``'s build in ``resolved``. ``build_crn``: the build actually recorded, when the
    catalog kept an earlier one (its lineage unchanged) instead of the one at this commit."""
    identity = next((m for m in resolved.models if m.name == model), None)
    if identity is None:
        raise ValueError(f"the resolved build has no model {model!r}")
    crn = build_crn or identity.build_crn
    entry = lineage_of(resolved.lineage_text, resolved.lineage_path).models[model]
    inputs = [_hive_input(t.qualified_name, resolved.tables.get(t.qualified_name), naming) for t in entry.hive_tables]
    inputs += [_s3_input(s.uri, resolved.s3.get(s.uri), naming) for s in entry.s3_sources]
    build = BuildDatasetFacet(
        buildCrn=crn, modelCrn=identity.model_crn, modelName=model, projectCrn=resolved.project_crn,
        projectName=resolved.project_name, gitUrl=resolved.git_url, commit=resolved.commit, author=resolved.author,
        commitTime=_iso(resolved.commit_time_ms), lineagePath=resolved.lineage_path, producer=naming.producer)
    git = git_uri(resolved.git_url)
    job_facets: dict[str, Any] = {
        "jobType": job_type_job.JobTypeJobFacet(processingType="BATCH", integration=INTEGRATION,
                                                jobType="MODEL_BUILD", producer=naming.producer),
        "sourceCodeLocation": source_code_location_job.SourceCodeLocationJobFacet(
            type="git", url=git, repoUrl=git, path=str(PurePosixPath(resolved.lineage_path).parent),
            version=resolved.commit, producer=naming.producer)}
    return RunEvent(eventType=event_type, eventTime=_event_time(event_time), producer=naming.producer,
                    run=Run(runId=run_id(crn)),
                    job=Job(namespace=naming.namespace, name=f"{resolved.project_name}/{model}/build",
                            facets=job_facets),
                    inputs=inputs,
                    outputs=[OutputDataset(namespace=naming.namespace, name=crn, facets={BUILD_FACET: build})])


def build_events(resolved: ResolvedBuild, *, event_type: RunState, event_time: datetime, naming: Naming,
                 recorded: Mapping[str, str] | None = None) -> list[RunEvent]:
    """One event per model of ``resolved``, in its order. ``recorded``: model name -> the build CRN the catalog
    recorded (a build result's), when it may differ from the one at the snapshot's commit."""
    return [build_event(resolved, m.name, event_type=event_type, event_time=event_time, naming=naming,
                        build_crn=(recorded or {}).get(m.name)) for m in resolved.models]


def _deployment_state(record: DeploymentRecord) -> RunState | None:
    if record.status == "stopped":
        # deployed_time_ms moves when the replicas come up: a deployment stopped at its creation time never did
        return RunState.FAIL if record.deployed_time_ms == record.create_time_ms else RunState.COMPLETE
    return {"deploying": RunState.START, "deployed": RunState.RUNNING, "unknown": RunState.OTHER}.get(record.status)


def deployment_event(record: DeploymentRecord, project_name: str, *, event_time: datetime, naming: Naming
                     ) -> RunEvent | None:
    """The event of a deployment's status change; None for a status that is no step of the run (stopping)."""
    state = _deployment_state(record)
    if state is None:
        return None
    facet = DeploymentDatasetFacet(
        deploymentCrn=record.crn, buildCrn=record.build_crn, modelCrn=record.model_crn, modelName=record.model_name,
        name=record.name, status=record.status, createTime=_iso(record.create_time_ms),
        deployedTime=_iso(record.deployed_time_ms), cpuMillicores=record.cpu_millicores, memoryMb=record.memory_mb,
        replicas=record.replicas, endpointUrl=record.endpoint_url, producer=naming.producer)
    job_facets: dict[str, Any] = {"jobType": job_type_job.JobTypeJobFacet(
        processingType="STREAMING", integration=INTEGRATION, jobType="MODEL_DEPLOYMENT", producer=naming.producer)}
    return RunEvent(eventType=state, eventTime=_event_time(event_time), producer=naming.producer,
                    run=Run(runId=run_id(record.crn)),
                    job=Job(namespace=naming.namespace, name=f"{project_name}/{record.model_name}/deployment",
                            facets=job_facets),
                    inputs=[InputDataset(namespace=naming.namespace, name=record.build_crn)],
                    outputs=[OutputDataset(namespace=naming.namespace, name=record.crn,
                                           facets={DEPLOYMENT_FACET: facet})])


# -- through the outbox: an event as JSON and back --------------------------------------------------------------
def to_dict(event: RunEvent) -> dict[str, Any]:
    """The event as the transports send it (nulls dropped)."""
    return Serde.to_dict(event)


_FACETS: dict[str, type[BaseFacet]] = {
    "schema": schema_dataset.SchemaDatasetFacet, "dataSource": datasource_dataset.DatasourceDatasetFacet,
    "jobType": job_type_job.JobTypeJobFacet, "sourceCodeLocation": source_code_location_job.SourceCodeLocationJobFacet,
    BUILD_FACET: BuildDatasetFacet, DEPLOYMENT_FACET: DeploymentDatasetFacet,
}


def _schema_fields(items: list[dict[str, Any]]) -> list[schema_dataset.SchemaDatasetFacetFields]:
    return [schema_dataset.SchemaDatasetFacetFields(**{**f, "fields": _schema_fields(f.get("fields", []))})
            for f in items]


def _facet(key: str, data: Mapping[str, Any]) -> BaseFacet:
    cls = _FACETS.get(key)
    if cls is None:
        raise ValueError(f"unknown facet {key!r}")
    fields = {k: v for k, v in data.items() if not k.startswith("_")}
    if key == "schema":
        fields["fields"] = _schema_fields(fields.get("fields", []))
    if key == "jobType" and "emissionPattern" in fields:
        fields["emissionPattern"] = job_type_job.EmissionPattern(**fields["emissionPattern"])
    facet = cls(**fields, producer=data["_producer"])
    facet._schemaURL = data["_schemaURL"]  # the version it was made with, even after a client upgrade
    return facet


def _facets(data: Mapping[str, Any] | None) -> dict[str, Any]:
    return {k: _facet(k, v) for k, v in (data or {}).items()}


def from_dict(data: Mapping[str, Any]) -> RunEvent:
    """A run event from :func:`to_dict`'s JSON (as kept in the outbox); ValueError/KeyError/TypeError for anything
    else."""
    event = RunEvent(
        eventType=RunState(data["eventType"]), eventTime=data["eventTime"], producer=data["producer"],
        run=Run(runId=data["run"]["runId"], facets=_facets(data["run"].get("facets"))),
        job=Job(namespace=data["job"]["namespace"], name=data["job"]["name"],
                facets=_facets(data["job"].get("facets"))),
        inputs=[InputDataset(namespace=d["namespace"], name=d["name"], facets=_facets(d.get("facets")))
                for d in data.get("inputs", [])],
        outputs=[OutputDataset(namespace=d["namespace"], name=d["name"], facets=_facets(d.get("facets")))
                 for d in data.get("outputs", [])])
    event.schemaURL = data["schemaURL"]
    return event
